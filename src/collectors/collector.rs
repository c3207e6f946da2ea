//! What every collector is: a value built from its own command-line
//! options that turns a read-only [`Input`] into metric families.

use std::collections::BTreeSet;

use crate::accounting::Accounted;
use crate::error::Error;
use crate::exposition::Family;
use crate::schema::Declared;
use crate::snapshot::Snapshot;

/// What a collector reads. The run does only the work the enabled
/// collectors need: no netlink dump or /proc walk when none reads sockets,
/// no state file or DNS when none reads the accounting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Needs {
    Nothing,
    Sockets,
    /// The accounting stage's result (which reads the sockets too).
    Accounting,
}

/// One run's read-only input to every collector.
pub struct Input<'a> {
    pub snapshot: &'a Snapshot,
    /// Present when some enabled collector needs it and the dump worked.
    pub accounted: Option<&'a Accounted>,
}

pub trait Collector {
    fn needs(&self) -> Needs {
        Needs::Sockets
    }

    /// Every family this collector may write, as the schema declares them
    /// (`crate::schema`, or consts of the collector's own file). The runner
    /// refuses a family not declared here, `--wrap` rules may not take
    /// these names, and the docs list them.
    fn families(&self) -> Vec<Declared>;

    /// Families named only once the options are loaded (the metrics of a
    /// `--wrap` rules file): the user's, so no docs of planet's list them.
    fn named_at_run_time(&self) -> Vec<String> {
        Vec::new()
    }

    /// Called once, after the command line is parsed and before the first
    /// run: loads what the options name. `reserved` holds the families the
    /// rest of planet writes. Ok(false): nothing to do (the collector is
    /// left out); an error fails the run before anything is written.
    fn prepare(&mut self, reserved: &BTreeSet<String>) -> Result<bool, Error> {
        let _ = reserved;
        Ok(true)
    }

    /// Turns the input into families. An error is reported as
    /// `planet_collector_success{collector} 0` and never stops the others.
    /// `&mut self` lets a collector keep state between runs of `--loop`.
    fn collect(&mut self, input: &Input) -> Result<Vec<Family>, Error>;

    /// What the last `collect` found worth a warning without failing (a
    /// wrapped source that is down). The runner prints each; under `--loop`
    /// each distinct one once.
    fn warnings(&mut self) -> Vec<String> {
        Vec::new()
    }
}
