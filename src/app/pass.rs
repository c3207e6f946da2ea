//! One pass of the pipeline: kernel -> snapshot -> accounting -> collectors
//! -> families -> text -> file (or stdout). The runner holds only what must
//! outlive a pass: the accounting's state, the collectors, and (under
//! `--loop`) the last process map and the warnings already said.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::print;
use super::self_metrics::{self, Outcome};
use crate::accounting::Accounting;
use crate::collectors::{Enabled, Input, Needs};
use crate::error::Error;
use crate::exposition::{render, Family};
use crate::kernel::procmap::ProcessMap;
use crate::output::textfile;
use crate::schema;
use crate::snapshot::{Scope, Snapshot};

/// node_exporter runs as its own user and must be able to read the file.
const OUTPUT_MODE: u32 = 0o644;

pub enum Destination {
    Stdout,
    File { dir: PathBuf, name: String },
}

pub struct Runner {
    collectors: Vec<Enabled>,
    /// Which network namespaces each snapshot reads.
    scope: Scope,
    accounting: Option<Accounting>,
    destination: Destination,
    repeat: bool,
    /// Warnings already printed: in `--loop` each is said once, not per run.
    warned: HashSet<String>,
    /// Iterations whose output failed, in `--loop` mode.
    loop_failures: Option<u64>,
    /// `--loop`: the last run's process map, reused while it fits.
    processes: Option<ProcessMap>,
}

impl Runner {
    pub fn new(
        collectors: Vec<Enabled>,
        scope: Scope,
        destination: Destination,
        repeat: bool,
    ) -> Runner {
        Runner {
            collectors,
            scope,
            accounting: None,
            destination,
            repeat,
            warned: HashSet::new(),
            loop_failures: repeat.then_some(0),
            processes: None,
        }
    }

    /// The most any enabled collector reads.
    pub fn needs(&self) -> Needs {
        let needs = self.collectors.iter().map(|c| c.collector.needs());
        needs.max().unwrap_or(Needs::Nothing)
    }

    pub fn set_accounting(&mut self, accounting: Accounting) {
        self.accounting = Some(accounting);
    }

    pub fn count_loop_failure(&mut self) {
        self.loop_failures = self.loop_failures.map(|n| n.saturating_add(1));
    }

    pub fn once(&mut self) -> Result<(), Error> {
        let mut families = self.families();
        let text = render(&mut families);
        // State first: if it cannot be saved, the previous output stays, so
        // what node_exporter shows never runs ahead of what is persisted.
        if let Some(accounting) = &self.accounting {
            accounting.save()?;
        }
        match &self.destination {
            Destination::File { dir, name } => {
                textfile::write_atomic(dir, name, text.as_bytes(), OUTPUT_MODE)
            }
            Destination::Stdout => print(text.as_bytes()),
        }
    }

    fn families(&mut self) -> Vec<Family> {
        let started = Instant::now();
        let snapshot = match self.needs() >= Needs::Sockets {
            true => Snapshot::take(self.processes.take(), self.scope),
            false => Snapshot::of(Vec::new()),
        };
        let now = unix_now();
        let accounted = self
            .accounting
            .as_mut()
            .and_then(|a| a.account(&snapshot, now.as_secs()));
        let snapshot_seconds = started.elapsed().as_secs_f64();
        let mut warnings = snapshot.warnings.clone();
        if let Some(accounting) = &self.accounting {
            warnings.extend(accounting.warnings.iter().cloned());
        }
        for warning in warnings {
            self.warn(warning);
        }

        let input = Input {
            snapshot: &snapshot,
            accounted: accounted.as_ref(),
        };
        let mut families = Vec::new();
        let mut written: HashSet<String> = schema::SELF.iter().map(|d| d.name.into()).collect();
        let mut outcomes = Vec::new();
        let mut failures = Vec::new();
        for Enabled { name, collector } in &mut self.collectors {
            let started = Instant::now();
            let result = collector.collect(&input).map_err(|e| e.to_string());
            let result = result.and_then(|produced| {
                let declared = collector.families();
                let at_run_time = collector.named_at_run_time();
                let undeclared = produced.iter().find(|f| {
                    !declared.iter().any(|d| d.name == f.name) && !at_run_time.contains(&f.name)
                });
                match undeclared {
                    Some(f) => Err(format!("family {} is not one it declares", f.name)),
                    None => match produced.iter().find(|f| written.contains(&f.name)) {
                        Some(f) => Err(format!(
                            "family {} is already written by another collector",
                            f.name
                        )),
                        None => Ok(produced),
                    },
                }
            });
            let ok = match result {
                Ok(produced) => {
                    written.extend(produced.iter().map(|f| f.name.clone()));
                    families.extend(produced);
                    true
                }
                Err(e) => {
                    failures.push(format!("collector {name}: {e}"));
                    false
                }
            };
            failures.extend(collector.warnings());
            outcomes.push(Outcome {
                collector: name,
                ok,
                seconds: started.elapsed().as_secs_f64(),
            });
        }
        for failure in failures {
            self.warn(failure);
        }
        if self.repeat {
            self.processes = Some(snapshot.into_processes());
        }
        families.extend(self_metrics::families(
            &outcomes,
            snapshot_seconds,
            now,
            self.loop_failures,
        ));
        families
    }

    pub fn warn(&mut self, warning: String) {
        if !self.repeat || self.warned.insert(warning.clone()) {
            eprintln!("planet: warning: {warning}");
        }
    }
}

fn unix_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::Collector;
    use crate::exposition::Kind;
    use crate::schema::Declared;

    /// Writes `planet_test_fine`; declares `declares`.
    struct Fine(&'static str);

    impl Collector for Fine {
        fn needs(&self) -> Needs {
            Needs::Nothing
        }
        fn families(&self) -> Vec<Declared> {
            vec![Declared {
                name: self.0,
                kind: Kind::Gauge,
                help: "x",
                labels: &[],
            }]
        }
        fn collect(&mut self, _: &Input) -> Result<Vec<Family>, Error> {
            Ok(vec![Family::gauge("planet_test_fine", "x").with([], 1.0)])
        }
    }

    struct Failing;

    impl Collector for Failing {
        fn needs(&self) -> Needs {
            Needs::Nothing
        }
        fn families(&self) -> Vec<Declared> {
            Vec::new()
        }
        fn collect(&mut self, _: &Input) -> Result<Vec<Family>, Error> {
            Err(Error::Kernel("broken on purpose".into()))
        }
    }

    #[test]
    fn a_failing_collector_is_reported_and_the_others_still_write() {
        let enabled = |name, collector: Box<dyn Collector>| Enabled { name, collector };
        let mut runner = Runner::new(
            vec![
                enabled("failing", Box::new(Failing)),
                enabled("fine", Box::new(Fine("planet_test_fine"))),
                enabled("twin", Box::new(Fine("planet_test_fine"))),
                // Writes a family it did not declare.
                enabled("sloppy", Box::new(Fine("planet_test_other"))),
            ],
            Scope::All,
            Destination::Stdout,
            false,
        );
        assert_eq!(runner.needs(), Needs::Nothing);
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
                "planet_collector_success{collector=\"sloppy\"} 0",
                // The second collector to write the same family is refused.
                "planet_collector_success{collector=\"twin\"} 0",
                "planet_test_fine 1",
            ]
        );
    }
}
