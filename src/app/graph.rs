//! `planet graph`: read the fleet's series, join them, draw them.

use super::print;
use crate::cli::GraphArgs;
use crate::error::Error;
use crate::graph::format::{render, Units};
use crate::graph::read::{files::from_files, prometheus::from_prometheus};
use crate::graph::Graph;
use crate::output::textfile;

pub fn graph(args: GraphArgs) -> Result<(), Error> {
    let (fleet, units) = match &args.prometheus {
        Some(url) => (from_prometheus(url, args.window)?, Units::PerSecond),
        None => (from_files(&args.files)?, Units::Totals),
    };
    let text = render(&Graph::join(&fleet), args.format, units);
    match &args.output {
        None => print(text.as_bytes()),
        Some(path) => {
            // Someone may be serving or reading the page right now.
            textfile::write_atomic_to(path, text.as_bytes(), 0o644)
        }
    }
}
