//! `planet graph`: read the fleet's series, join them, draw them.

use std::path::Path;

use super::print;
use crate::cli::GraphArgs;
use crate::error::Error;
use crate::graph::input::{from_files, from_prometheus};
use crate::graph::render::{render, Units};
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
            let dir = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .ok_or_else(|| Error::config(path, "not a file name"))?;
            // Someone may be serving or reading the page right now.
            textfile::write_atomic(dir, name, text.as_bytes(), 0o644)
        }
    }
}
