//! `planet graph`: read the fleet's series (now, and earlier for a diff),
//! join them, keep what is asked for, draw it.

use std::time::SystemTime;

use super::print;
use crate::cli::{GraphArgs, Group};
use crate::error::Error;
use crate::graph::format::{render, Format, Units};
use crate::graph::model::Fleet;
use crate::graph::read::files::from_files;
use crate::graph::read::prometheus::{from_prometheus, Store};
use crate::graph::Graph;
use crate::output::textfile;

/// Over this many nodes an HTML picture is unreadable: it draws hosts.
pub const HTML_MAX_NODES: usize = 300;

pub fn graph(args: Box<GraphArgs>) -> Result<(), Error> {
    let (now, before, units) = read(&args)?;
    let active = |graph: Graph| match args.active {
        true => graph.active(),
        false => graph,
    };
    let mut graph = active(Graph::join(&now));
    if let Some(before) = before {
        graph = graph.against(active(Graph::join(&before)));
    }
    let group = args.group.unwrap_or(
        match args.format == Format::Html && graph.nodes.len() > HTML_MAX_NODES {
            true => Group::Host,
            false => Group::Service,
        },
    );
    if group == Group::Host {
        graph = graph.by_host();
    }
    let text = render(&graph, args.format, units);
    match &args.output {
        None => print(text.as_bytes()),
        // Someone may be serving or reading the page right now.
        Some(path) => textfile::write_atomic_to(path, text.as_bytes(), 0o644),
    }
}

/// The fleet now, and (for a diff) before, and what their numbers are.
fn read(args: &GraphArgs) -> Result<(Fleet, Option<Fleet>, Units), Error> {
    let Some(url) = &args.prometheus else {
        let before = match args.before.is_empty() {
            true => None,
            false => Some(from_files(&args.before)?),
        };
        return Ok((from_files(&args.files)?, before, Units::Totals));
    };
    let store = Store {
        url: url.clone(),
        ca_file: args.ca_file.clone(),
        bearer_token_file: args.bearer_token_file.clone(),
        basic_auth_file: args.basic_auth_file.clone(),
        headers: args.headers.clone(),
    };
    let at = args.at.unwrap_or_else(SystemTime::now);
    let now = from_prometheus(&store, args.window, at)?;
    let before = match args.diff {
        Some(earlier) => {
            let then = at.checked_sub(earlier).unwrap_or(SystemTime::UNIX_EPOCH);
            Some(from_prometheus(&store, args.window, then)?)
        }
        None => None,
    };
    Ok((now, before, Units::PerSecond))
}
