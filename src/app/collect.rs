//! `planet collect`: set the stages up from the command line, then run the
//! pipeline once, or every `--interval` until SIGTERM or SIGINT.

use std::path::PathBuf;
use std::time::Instant;

use super::pass::{Destination, Runner};
use super::signals::Signals;
use crate::accounting::Accounting;
use crate::cli::{CollectArgs, DEFAULT_INTERVAL};
use crate::collectors::{self, Needs};
use crate::error::Error;
use crate::naming::Namer;

pub fn collect(args: CollectArgs) -> Result<(), Error> {
    // One descriptor per network namespace while reading, one more per
    // namespace for --loop's destroy feeds: the default 1,024 is too few.
    crate::kernel::fds::raise_limit();
    // Blocked before any thread starts, so every thread inherits the mask and
    // the signals wait for `wait_until` instead of interrupting a write.
    let signals = match args.repeat {
        true => Some(Signals::block_term_and_int().map_err(|e| {
            Error::Kernel(format!("signal mask: {}", crate::error::os_message(&e)))
        })?),
        false => None,
    };
    let destination = match (&args.out, args.stdout) {
        (Some(dir), false) => {
            // A missing --out directory is an operator's mistake: say so
            // before any state is touched. (Under --loop a directory that
            // vanishes later is logged and retried.)
            std::fs::metadata(dir).map_err(|e| Error::io(dir, e))?;
            Destination::File {
                dir: dir.clone(),
                name: args.file_name.clone(),
            }
        }
        _ => Destination::Stdout,
    };
    let accounting = args.accounting();
    let resolve = args.resolve();
    let repeat = args.repeat;
    let interval = args.interval.unwrap_or(DEFAULT_INTERVAL);

    let collectors = collectors::enabled(args.collectors)?;
    let mut runner = Runner::new(collectors, args.netns, destination, repeat);
    if runner.needs() >= Needs::Accounting {
        // The inventory is checked before the state is locked or anything
        // is written: a bad one fails the run and leaves every file as it was.
        let namer = Namer::new(args.inventory.as_deref(), resolve)?;
        let default_state = args.state_file.is_none();
        let hint = |e: Error| {
            match default_state {
            true => e.hint_if_denied(
                "planet keeps its state there by default; pass --state-file PATH to keep it elsewhere",
            ),
            false => e,
        }
        };
        let state_path = state_path(args.state_file, args.stdout).map_err(hint)?;
        let (started, warnings) =
            Accounting::start(accounting, namer, state_path.as_deref(), repeat).map_err(hint)?;
        runner.set_accounting(started);
        for warning in warnings {
            runner.warn(warning);
        }
    }
    let Some(signals) = signals else {
        return runner.once();
    };
    let mut next = Instant::now();
    loop {
        if let Err(e) = runner.once() {
            eprintln!("planet: {e}");
            runner.count_loop_failure();
        }
        next += interval;
        let now = Instant::now();
        if next < now {
            // A run longer than the interval: start again now, don't race to catch up.
            next = now;
        }
        if signals.wait_until(next) {
            return Ok(());
        }
    }
}

/// The state file: as given, else systemd's state directory, else the
/// conventional place when writing for node_exporter; `--stdout` alone keeps
/// no state (a shell user's look must not disturb the cron job's counters).
fn state_path(given: Option<PathBuf>, stdout: bool) -> Result<Option<PathBuf>, Error> {
    if given.is_some() {
        return Ok(given);
    }
    if stdout {
        return Ok(None);
    }
    if let Some(dirs) = std::env::var_os("STATE_DIRECTORY") {
        // systemd may list several, separated by ':'; the first is ours.
        if let Some(first) = std::env::split_paths(&dirs)
            .next()
            .filter(|d| !d.as_os_str().is_empty())
        {
            return Ok(Some(first.join("planet.state")));
        }
    }
    let dir = PathBuf::from("/var/lib/planet");
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    Ok(Some(dir.join("planet.state")))
}
