//! Stage 4, collectors: each turns the run's read-only input (snapshot and
//! accounting) into metric families.
//!
//! To add one, write `src/collectors/xyz.rs` with a type that derives
//! `Default` and `clap::Args` (its fields are its own flags of `planet
//! collect`; none is fine) and implements [`Collector`], then add one line
//! `xyz: Xyz,` to the registry below. It can then be switched with
//! `--collector xyz` / `--no-collector xyz`, and its success and duration
//! show up in `planet_collector_success` and
//! `planet_collector_duration_seconds`.

use std::collections::BTreeSet;

use clap::builder::PossibleValuesParser;

use crate::error::Error;
use crate::schema::{self, Declared};

mod collector;

pub use collector::{Collector, Input, Needs};

/// Declares the collector modules, the `Flags` struct that flattens each
/// collector's flags into `planet collect`, and the list of names.
macro_rules! registry {
    ($($name:ident: $type:ident,)*) => {
        $(pub mod $name;)*

        /// Every collector's own flags, and which collectors are on.
        #[derive(Debug, clap::Args)]
        pub struct Flags {
            $(
                #[command(flatten)]
                pub $name: $name::$type,
            )*

            /// Run only this collector (repeatable); the others are off.
            #[arg(long = "collector", value_name = "NAME", value_parser = name_parser())]
            pub only: Vec<String>,

            /// Switch this collector off (repeatable).
            #[arg(long = "no-collector", value_name = "NAME", value_parser = name_parser())]
            pub disabled: Vec<String>,
        }

        /// Every collector's name, in the order they run.
        pub const NAMES: &[&str] = &[$(stringify!($name)),*];

        impl Flags {
            fn into_all(self) -> Vec<(&'static str, Box<dyn Collector>)> {
                vec![$((stringify!($name), Box::new(self.$name) as Box<dyn Collector>)),*]
            }
        }

        /// The families every collector declares, whatever its options.
        pub fn declared() -> Vec<Declared> {
            let mut declared = Vec::new();
            $(declared.extend($name::$type::default().families());)*
            declared
        }
    };
}

// Every collector, in the order they run. Register yours here.
registry! {
    serving: Serving,
    dependencies: Dependencies,
    process_sockets: ProcessSockets,
    host: Host,
    wrap: Wrap,
}

/// The names no `--wrap` rule may take: every family a collector declares,
/// and the runner's own.
pub fn reserved() -> BTreeSet<String> {
    let declared = declared().into_iter().chain(schema::SELF);
    declared.map(|d| d.name.to_string()).collect()
}

/// A clap parser accepting exactly the registered names.
fn name_parser() -> PossibleValuesParser {
    PossibleValuesParser::new(NAMES)
}

/// A collector that is on for this run, under its registered name.
pub struct Enabled {
    pub name: &'static str,
    pub collector: Box<dyn Collector>,
}

/// The collectors the command line leaves on, prepared.
pub fn enabled(options: Flags) -> Result<Vec<Enabled>, Error> {
    let reserved = reserved();
    let (only, disabled) = (options.only.clone(), options.disabled.clone());
    let mut collectors = Vec::new();
    for (name, mut collector) in options.into_all() {
        let on = (only.is_empty() || only.iter().any(|n| n == name))
            && !disabled.iter().any(|n| n == name);
        if on && collector.prepare(&reserved)? {
            collectors.push(Enabled { name, collector });
        }
    }
    Ok(collectors)
}
