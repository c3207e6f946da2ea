//! One collection, start to finish: snapshot -> collectors -> families ->
//! text -> file (or stdout); and `--loop`, which repeats it until told to stop.

use std::collections::HashSet;
use std::io::{self, Write};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use std::net::IpAddr;
use std::path::PathBuf;

use crate::cli::{CollectArgs, DEFAULT_INTERVAL};
use crate::collectors::{self, Collector};
use crate::counters::Rules;
use crate::dependencies;
use crate::destroy::DestroyFeed;
use crate::dns::Resolver;
use crate::exposition::{render, Family};
use crate::inventory::Inventory;
use crate::peers::Namer;
use crate::procmap::ProcessMap;
use crate::signals::Signals;
use crate::snapshot::{DependencyState, Snapshot};
use crate::state::{State, StateFile, LOCK_WAIT};
use crate::textfile;

const SELF_FAMILIES: [&str; 6] = [
    "planet_build_info",
    "planet_collect_timestamp_seconds",
    "planet_collector_duration_seconds",
    "planet_collector_success",
    "planet_loop_failures_total",
    "planet_snapshot_duration_seconds",
];

/// node_exporter runs as its own user and must be able to read the file.
const OUTPUT_MODE: u32 = 0o644;

pub fn collect(args: CollectArgs) -> Result<(), String> {
    // Blocked before any thread starts, so every thread inherits the mask and
    // the signals wait for `wait_until` instead of interrupting a write.
    let signals = match args.repeat {
        true => Some(Signals::block_term_and_int().map_err(|e| format!("signal mask: {e}"))?),
        false => None,
    };
    // A missing --out directory is an operator's mistake: say so before any
    // state is touched. (Under --loop a directory that vanishes later is
    // logged and retried.)
    if let Some(dir) = args.out.as_ref().filter(|_| !args.stdout) {
        if let Err(e) = std::fs::metadata(dir) {
            return Err(format!("{}: {}", dir.display(), textfile::plain(&e)));
        }
    }
    let collectors = collectors::enabled(&args)?;
    let mut runner = Runner {
        accounting: None,
        collectors,
        args,
        warned: HashSet::new(),
        loop_failures: None,
        processes: None,
    };
    if runner.collectors.iter().any(|c| c.name() == "dependencies") {
        runner.accounting = Some(Accounting::start(&runner.args, &mut runner.warned)?);
    }
    let Some(signals) = signals else {
        return runner.once();
    };
    let interval = runner.args.interval.unwrap_or(DEFAULT_INTERVAL);
    runner.loop_failures = Some(0);
    let mut next = Instant::now();
    loop {
        if let Err(e) = runner.once() {
            eprintln!("planet: {e}");
            runner.loop_failures = runner.loop_failures.map(|n| n + 1);
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

/// The dependency counters, where they persist, and (with `--loop`) the
/// feed of connections closed between runs.
struct Accounting {
    state: State,
    file: Option<StateFile>,
    feed: Option<DestroyFeed>,
    namer: Namer,
}

impl Accounting {
    fn start(args: &CollectArgs, warned: &mut HashSet<String>) -> Result<Accounting, String> {
        // The inventory is checked before the state is locked or anything is
        // written: a bad one fails the run and leaves every file as it was.
        let inventory = args.inventory.as_deref().map(Inventory::load).transpose()?;
        let resolver = match args.no_resolve {
            true => None,
            false => Some(Resolver::new(args.dns_server, args.dns_timeout)?),
        };
        let mut accounting = Accounting {
            state: State::default(),
            file: None,
            feed: None,
            namer: Namer {
                inventory,
                resolver,
            },
        };
        if let Some(path) = state_path(args)? {
            let (file, state, warning) = StateFile::open(&path, LOCK_WAIT)?;
            if let Some(warning) = warning {
                eprintln!("planet: warning: {warning}");
            }
            accounting.state = state;
            accounting.file = Some(file);
        }
        if args.repeat {
            match DestroyFeed::start() {
                Ok(feed) => accounting.feed = Some(feed),
                Err(e) => {
                    let warning = format!(
                        "sock_diag destroy notifications: {}; connections that close between two runs lose their last bytes",
                        textfile::plain(&e)
                    );
                    eprintln!("planet: warning: {warning}");
                    warned.insert(warning);
                }
            }
        }
        Ok(accounting)
    }
}

/// The state file: as given, else systemd's state directory, else the
/// conventional place when writing for node_exporter; `--stdout` alone keeps
/// no state (a shell user's look must not disturb the cron job's counters).
fn state_path(args: &CollectArgs) -> Result<Option<PathBuf>, String> {
    if let Some(path) = &args.state_file {
        return Ok(Some(path.clone()));
    }
    if args.stdout {
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
    std::fs::create_dir_all(&dir)
        .map_err(|e| format!("{}: {}", dir.display(), textfile::plain(&e)))?;
    Ok(Some(dir.join("planet.state")))
}

fn unix_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
}

struct Runner {
    accounting: Option<Accounting>,
    args: CollectArgs,
    collectors: Vec<Box<dyn Collector>>,
    /// Warnings already printed: in `--loop` each is said once, not per run.
    warned: HashSet<String>,
    /// Iterations whose output failed, in `--loop` mode.
    loop_failures: Option<u64>,
    /// `--loop`: the last run's process map, reused while it fits.
    processes: Option<ProcessMap>,
}

impl Runner {
    fn once(&mut self) -> Result<(), String> {
        let mut families = self.families();
        let text = render(&mut families);
        // State first: if it cannot be saved, the previous output stays, so
        // what node_exporter shows never runs ahead of what is persisted.
        if let Some(Accounting {
            state,
            file: Some(file),
            ..
        }) = &self.accounting
        {
            file.save(state)?;
        }
        match &self.args.out {
            Some(dir) if !self.args.stdout => {
                textfile::write_atomic(dir, &self.args.file_name, text.as_bytes(), OUTPUT_MODE)
            }
            _ => write_stdout(text.as_bytes()),
        }
    }

    fn families(&mut self) -> Vec<Family> {
        let started = Instant::now();
        let mut snapshot = if self.collectors.iter().any(|c| c.needs_sockets()) {
            Snapshot::take(self.processes.take())
        } else {
            Snapshot::of(Vec::new())
        };
        if let Some(accounting) = &mut self.accounting {
            account(accounting, &mut snapshot, &self.args);
        }
        let snapshot_seconds = started.elapsed().as_secs_f64();
        for warning in &snapshot.warnings {
            self.warn(warning.clone());
        }

        let mut families = Vec::new();
        // The runner's own families: no collector may write them.
        let mut names: HashSet<String> = SELF_FAMILIES.iter().map(|n| n.to_string()).collect();
        let mut success = Family::gauge(
            "planet_collector_success",
            "1 if the collector's last run succeeded, 0 if it failed (its series are then missing).",
        );
        let mut duration = Family::gauge(
            "planet_collector_duration_seconds",
            "Time the collector took in the last run, not counting the shared socket snapshot.",
        );
        let mut failures = Vec::new();
        for collector in &mut self.collectors {
            let name = collector.name();
            let started = Instant::now();
            let result = collector.collect(&snapshot).and_then(|produced| {
                match produced.iter().find(|f| names.contains(&f.name)) {
                    Some(f) => Err(format!(
                        "family {} is already written by another collector",
                        f.name
                    )),
                    None => Ok(produced),
                }
            });
            let ok = match result {
                Ok(produced) => {
                    names.extend(produced.iter().map(|f| f.name.clone()));
                    families.extend(produced);
                    1.0
                }
                Err(e) => {
                    failures.push(format!("collector {name}: {e}"));
                    0.0
                }
            };
            success.push([("collector", name)], ok);
            duration.push([("collector", name)], started.elapsed().as_secs_f64());
        }
        for failure in failures {
            self.warn(failure);
        }
        if self.args.repeat {
            self.processes = Some(std::mem::take(&mut snapshot.processes));
        }

        let now = unix_now();
        families.extend([
            success,
            duration,
            Family::gauge("planet_build_info", "planet's version; always 1.")
                .with([("version", env!("CARGO_PKG_VERSION"))], 1.0),
            Family::gauge(
                "planet_snapshot_duration_seconds",
                "Time spent reading the kernel's socket tables and mapping sockets to processes.",
            )
            .with([], snapshot_seconds),
            Family::gauge(
                "planet_collect_timestamp_seconds",
                "When this file was produced, in seconds since the Unix epoch.",
            )
            .with([], now.as_secs_f64()),
        ]);
        if let Some(n) = self.loop_failures {
            families.push(
                Family::counter(
                    "planet_loop_failures_total",
                    "Iterations of --loop whose output could not be written since planet started.",
                )
                .with([], n as f64),
            );
        }
        families
    }

    fn warn(&mut self, warning: String) {
        if !self.args.repeat || self.warned.insert(warning.clone()) {
            eprintln!("planet: warning: {warning}");
        }
    }
}

/// Brings the counters up to date with this run's sockets (and the ones
/// destroyed since the last run) and hands the series to the collectors.
fn account(accounting: &mut Accounting, snapshot: &mut Snapshot, args: &CollectArgs) {
    let Ok(sockets) = snapshot.sockets() else {
        return; // the collectors report the dump's failure
    };
    let destroyed = accounting
        .feed
        .as_ref()
        .map(DestroyFeed::take)
        .unwrap_or_default();
    let rules = Rules {
        now: unix_now().as_secs(),
        forget_after: args.forget_after.as_secs(),
        exclude: &args.exclude_peer,
    };
    let state = &mut accounting.state;
    state
        .counters
        .observe(snapshot, sockets, &destroyed, &rules);
    let (rows, folded) = dependencies::fold(&state.counters.series, args.max_peers);
    // Only peers that keep their own series are named: folded ones cost no
    // DNS look-up.
    let mut peers: Vec<IpAddr> = rows.keys().filter_map(|row| row.peer).collect();
    peers.sort_unstable();
    peers.dedup();
    let names = accounting.namer.name_all(&peers, &mut state.dns, rules.now);
    snapshot.dependencies = Some(DependencyState {
        rows,
        names,
        folded,
        dns_lookups: accounting
            .namer
            .resolver
            .as_ref()
            .map(|_| state.dns.lookups),
        destroy_lost: accounting.feed.as_ref().map(DestroyFeed::lost),
    });
}

fn write_stdout(text: &[u8]) -> Result<(), String> {
    let mut stdout = io::stdout().lock();
    match stdout.write_all(text).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(()),
        // `planet collect --stdout | head` is not an error.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(format!("stdout: {}", textfile::plain(&e))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    struct Failing;

    impl Collector for Failing {
        fn name(&self) -> &'static str {
            "failing"
        }
        fn needs_sockets(&self) -> bool {
            false
        }
        fn collect(&mut self, _: &Snapshot) -> Result<Vec<Family>, String> {
            Err("broken on purpose".into())
        }
    }

    struct Fine(&'static str);

    impl Collector for Fine {
        fn name(&self) -> &'static str {
            self.0
        }
        fn needs_sockets(&self) -> bool {
            false
        }
        fn collect(&mut self, _: &Snapshot) -> Result<Vec<Family>, String> {
            Ok(vec![Family::gauge("planet_test_fine", "x").with([], 1.0)])
        }
    }

    #[test]
    fn a_failing_collector_is_reported_and_the_others_still_write() {
        let Command::Collect(args) = Cli::parse_from(["planet", "collect", "--stdout"]).command
        else {
            unreachable!()
        };
        let mut runner = Runner {
            accounting: None,
            collectors: vec![
                Box::new(Failing),
                Box::new(Fine("fine")),
                Box::new(Fine("twin")),
            ],
            args: *args,
            warned: HashSet::new(),
            loop_failures: None,
            processes: None,
        };
        let text = render(&mut runner.families());
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| {
                l.starts_with("planet_collector_success") || l.starts_with("planet_test_fine")
            })
            .collect();
        assert_eq!(
            lines,
            [
                "planet_collector_success{collector=\"failing\"} 0",
                "planet_collector_success{collector=\"fine\"} 1",
                // The second collector to write the same family is refused.
                "planet_collector_success{collector=\"twin\"} 0",
                "planet_test_fine 1",
            ]
        );
    }
}
