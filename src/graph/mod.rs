//! `planet graph`: the fleet's dependency graph, from the series every
//! host's planet wrote, read back from Prometheus or from the files.
//!
//! The data moves as the module names say: [`read`] turns series into a
//! typed [`model::Fleet`] of hosts, [`join`] makes it one
//! [`model::Graph`], [`view`] keeps what is asked for (what changed, what
//! moves, one node per host), and [`format`] writes that out.

pub mod format;
pub mod join;
pub mod model;
pub mod read;
pub mod view;

pub use model::Graph;
