//! planet: what a host serves, what it depends on, and who depends on it,
//! written for node_exporter's textfile collector.
//!
//! The modules follow the data, in the order a run moves it:
//!
//! 1. [`kernel`]: socket records from netlink sock_diag, their owners from
//!    /proc, closes from destroy notifications;
//! 2. [`snapshot`]: one run's read-only view built from them;
//! 3. [`accounting`]: dependency series and counters that persist between
//!    runs, with peers named by [`naming`];
//! 4. [`collectors`]: families from the snapshot and the accounting, and
//!    from other exporters reshaped by [`wrap`];
//! 5. [`exposition`]: families to the Prometheus text format and back;
//! 6. [`output`]: the atomic file node_exporter reads;
//! 7. [`app`]: the commands, wiring the stages; [`cli`] defines them.
//!
//! [`graph`] is the other direction, for `planet graph`: the series of many
//! hosts, read back from Prometheus or files, joined into one graph.
//!
//! [`schema`] declares every metric family once, for the collectors that
//! write them, the graph that reads them, and the docs.
//!
//! Imports point down this list (each stage may use the ones before it,
//! plus the leaves [`error`], [`exposition`], [`schema`] and [`output`]),
//! never up.

pub mod accounting;
pub mod app;
pub mod cli;
pub mod collectors;
pub mod error;
pub mod exposition;
pub mod graph;
pub mod kernel;
pub mod naming;
pub mod output;
pub mod schema;
pub mod snapshot;
pub mod wrap;
