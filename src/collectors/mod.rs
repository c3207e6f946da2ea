//! Collectors turn the run's snapshot into metric families.
//!
//! To add one: write `src/collectors/xyz.rs` with a type that implements
//! [`Collector`], then add one line to [`REGISTRY`]. It can then be switched
//! with `--collector xyz` / `--no-collector xyz`, and its success and duration
//! show up in `planet_collector_success` and `planet_collector_duration_seconds`.

use clap::builder::PossibleValuesParser;

use crate::cli::CollectArgs;
use crate::exposition::Family;
use crate::snapshot::Snapshot;

pub mod dependencies;
pub mod serving;

pub trait Collector {
    /// The name used in flags and in the `collector` label.
    fn name(&self) -> &'static str;

    /// Whether this collector reads the socket table; when none of the
    /// enabled collectors does, the run skips the netlink dump and /proc walk.
    fn needs_sockets(&self) -> bool {
        true
    }

    /// Turns the snapshot into families. An error is reported as
    /// `planet_collector_success{collector} 0` and never stops the others.
    /// `&mut self` lets a collector keep state between runs of `--loop`.
    fn collect(&mut self, snapshot: &Snapshot) -> Result<Vec<Family>, String>;
}

type Constructor = fn(&CollectArgs) -> Box<dyn Collector>;

/// Every collector, in the order they run. Register yours here.
pub const REGISTRY: &[(&str, Constructor)] = &[
    ("serving", |_| Box::new(serving::Serving)),
    ("dependencies", |_| Box::new(dependencies::Dependencies)),
];

/// A clap parser accepting exactly the registered names.
pub fn name_parser() -> PossibleValuesParser {
    PossibleValuesParser::new(REGISTRY.iter().map(|(name, _)| *name))
}

/// The collectors the command line leaves on.
pub fn enabled(args: &CollectArgs) -> Vec<Box<dyn Collector>> {
    REGISTRY
        .iter()
        .filter(|(name, _)| args.only.is_empty() || args.only.iter().any(|n| n == name))
        .filter(|(name, _)| !args.disabled.iter().any(|n| n == name))
        .map(|(_, new)| new(args))
        .collect()
}
