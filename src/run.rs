//! One collection, start to finish: snapshot -> collectors -> families ->
//! text -> file (or stdout); and `--loop`, which repeats it until told to stop.

use std::collections::HashSet;
use std::io::{self, Write};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::cli::{CollectArgs, DEFAULT_INTERVAL};
use crate::collectors::{self, Collector};
use crate::exposition::{render, Family};
use crate::signals::Signals;
use crate::snapshot::Snapshot;
use crate::textfile;

/// node_exporter runs as its own user and must be able to read the file.
const OUTPUT_MODE: u32 = 0o644;

pub fn collect(args: CollectArgs) -> Result<(), String> {
    let mut runner = Runner {
        collectors: collectors::enabled(&args),
        args,
        warned: HashSet::new(),
        loop_failures: None,
    };
    if !runner.args.repeat {
        return runner.once();
    }

    // Blocked before any thread starts, so every thread inherits the mask and
    // the signals wait for `wait_until` instead of interrupting a write.
    let signals = Signals::block_term_and_int().map_err(|e| format!("signal mask: {e}"))?;
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

struct Runner {
    args: CollectArgs,
    collectors: Vec<Box<dyn Collector>>,
    /// Warnings already printed: in `--loop` each is said once, not per run.
    warned: HashSet<String>,
    /// Iterations whose output failed, in `--loop` mode.
    loop_failures: Option<u64>,
}

impl Runner {
    fn once(&mut self) -> Result<(), String> {
        let mut families = self.families();
        let text = render(&mut families);
        match &self.args.out {
            Some(dir) if !self.args.stdout => {
                textfile::write_atomic(dir, &self.args.file_name, text.as_bytes(), OUTPUT_MODE)
            }
            _ => write_stdout(text.as_bytes()),
        }
    }

    fn families(&mut self) -> Vec<Family> {
        let started = Instant::now();
        let snapshot = if self.collectors.iter().any(|c| c.needs_sockets()) {
            Snapshot::take()
        } else {
            Snapshot::of(Vec::new())
        };
        let snapshot_seconds = started.elapsed().as_secs_f64();
        for warning in &snapshot.warnings {
            self.warn(warning.clone());
        }

        let mut families = Vec::new();
        let mut names = HashSet::new();
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

        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
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

fn write_stdout(text: &[u8]) -> Result<(), String> {
    let mut stdout = io::stdout().lock();
    match stdout.write_all(text).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(()),
        // `planet collect --stdout | head` is not an error.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(format!("stdout: {}", textfile::plain(&e))),
    }
}
