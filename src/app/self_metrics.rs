//! Families about planet itself: its version, each collector's success and
//! time, when the file was made. They are the runner's, not a collector's,
//! so they are written even when every collector fails.

use std::time::Duration;

use crate::exposition::Family;

/// The runner's own families: no collector or rule may write them.
pub const FAMILIES: [&str; 6] = [
    "planet_build_info",
    "planet_collect_timestamp_seconds",
    "planet_collector_duration_seconds",
    "planet_collector_success",
    "planet_loop_failures_total",
    "planet_snapshot_duration_seconds",
];

/// How one collector fared in this run.
pub struct Outcome {
    pub collector: &'static str,
    pub ok: bool,
    pub seconds: f64,
}

/// The self families of one run. `loop_failures` only under `--loop`.
pub fn families(
    outcomes: &[Outcome],
    snapshot_seconds: f64,
    now: Duration,
    loop_failures: Option<u64>,
) -> Vec<Family> {
    let mut success = Family::gauge(
        "planet_collector_success",
        "1 if the collector's last run succeeded, 0 if it failed (its series are then missing).",
    );
    let mut duration = Family::gauge(
        "planet_collector_duration_seconds",
        "Time the collector took in the last run, not counting the shared socket snapshot.",
    );
    for outcome in outcomes {
        let labels = [("collector", outcome.collector)];
        success.push(labels, f64::from(u8::from(outcome.ok)));
        duration.push(labels, outcome.seconds);
    }
    let mut families = vec![
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
    ];
    if let Some(n) = loop_failures {
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
