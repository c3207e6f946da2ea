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
pub mod process_sockets;
pub mod serving;
pub mod wrap;

use dependencies::Dependencies;
use process_sockets::ProcessSockets;
use serving::Serving;
use wrap::Wrap;

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

/// Builds a collector from the command line: None when it has nothing to do
/// (wrap without `--wrap`), an error when its configuration is invalid (the
/// run then fails before anything is written).
type Constructor = fn(&CollectArgs) -> Result<Option<Box<dyn Collector>>, String>;

/// Every collector, in the order they run. Register yours here.
pub const REGISTRY: &[(&str, Constructor)] = &[
    ("serving", |_| always(Serving)),
    ("dependencies", |_| always(Dependencies)),
    ("process_sockets", |_| always(ProcessSockets)),
    ("wrap", |args| match &args.wrap {
        Some(path) => always(Wrap {
            rules: crate::wrap::Rules::load(path)?,
        }),
        None => Ok(None),
    }),
];

/// A collector that is on whenever it is not switched off.
fn always(collector: impl Collector + 'static) -> Result<Option<Box<dyn Collector>>, String> {
    Ok(Some(Box::new(collector)))
}

/// A clap parser accepting exactly the registered names.
pub fn name_parser() -> PossibleValuesParser {
    PossibleValuesParser::new(REGISTRY.iter().map(|(name, _)| *name))
}

/// The collectors the command line leaves on.
pub fn enabled(args: &CollectArgs) -> Result<Vec<Box<dyn Collector>>, String> {
    let mut collectors = Vec::new();
    for (name, new) in REGISTRY {
        let on = (args.only.is_empty() || args.only.iter().any(|n| n == name))
            && !args.disabled.iter().any(|n| n == name);
        if on {
            collectors.extend(new(args)?);
        }
    }
    Ok(collectors)
}
