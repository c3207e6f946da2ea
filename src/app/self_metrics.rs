//! Families about planet itself: its version, each collector's success and
//! time, when the file was made. They are the runner's, not a collector's,
//! so they are written even when every collector fails.

use std::time::Duration;

use crate::exposition::Family;
use crate::schema;

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
    let mut success = schema::COLLECTOR_SUCCESS.family();
    let mut duration = schema::COLLECTOR_DURATION.family();
    for outcome in outcomes {
        success.push([outcome.collector], f64::from(u8::from(outcome.ok)));
        duration.push([outcome.collector], outcome.seconds);
    }
    let mut families = vec![
        success.done(),
        duration.done(),
        schema::BUILD_INFO.one([env!("CARGO_PKG_VERSION")], 1.0),
        schema::SNAPSHOT_DURATION.one([], snapshot_seconds),
        schema::COLLECT_TIMESTAMP.one([], now.as_secs_f64()),
    ];
    if let Some(n) = loop_failures {
        families.push(schema::LOOP_FAILURES.one([], n as f64));
    }
    families
}
