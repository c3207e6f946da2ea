//! The graph as text, one file per format: each has a `render(graph,
//! units)`, and [`formats!`] lists them once, for `--format`'s values, the
//! man page and the dispatch. A new format is a file here and one line in
//! that list.
//!
//! What every format shows of a node and an edge is decided here, once.

use super::model::{Edge, Graph, Node, NodeKind};

pub mod layout;

/// Declares the format modules and the `Format` enum `--format` takes.
macro_rules! formats {
    ($($module:ident: $variant:ident,)*) => {
        $(pub mod $module;)*

        #[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
        pub enum Format {
            $($variant,)*
        }

        /// The graph in `format`.
        pub fn render(graph: &Graph, format: Format, units: Units) -> String {
            match format {
                $(Format::$variant => $module::render(graph, units),)*
            }
        }
    };
}

// Every format. Add yours here: `name: Variant,` for `src/graph/format/name.rs`.
formats! {
    json: Json,
    dot: Dot,
    mermaid: Mermaid,
    html: Html,
}

/// Whether the numbers are per second (from Prometheus) or totals (files).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Units {
    PerSecond,
    Totals,
}

/// A node's title and the line under it.
pub fn title(node: &Node) -> (String, String) {
    match &node.kind {
        NodeKind::Service(service) => {
            let process = match service.process.as_str() {
                "" => "?",
                process => process,
            };
            let place = match service.container.as_str() {
                "" => service.host.clone(),
                container => format!("{} · {}", service.host, short(container)),
            };
            (process.to_string(), place)
        }
        NodeKind::External(peer) => {
            let sub = match peer.name == peer.addr {
                true => "external",
                false => peer.addr.as_str(),
            };
            (peer.name.clone(), sub.to_string())
        }
    }
}

/// A container ID as `docker ps` shows it; other labels as they are.
pub fn short(container: &str) -> &str {
    match container.len() == 64 {
        true => &container[..12],
        false => container,
    }
}

/// Bytes as people read them.
pub fn human(value: f64, units: Units) -> String {
    let suffix = match units {
        Units::PerSecond => "/s",
        Units::Totals => "",
    };
    let steps = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = value;
    let mut step = 0;
    while v >= 1024.0 && step + 1 < steps.len() {
        v /= 1024.0;
        step += 1;
    }
    match step {
        0 => format!("{v:.0} B{suffix}"),
        _ => format!("{v:.1} {}{suffix}", steps[step]),
    }
}

fn count(value: f64, units: Units) -> String {
    match units {
        Units::PerSecond => format!("{value:.2}/s"),
        Units::Totals => format!("{value:.0}"),
    }
}

/// An edge's display lines: port, open connections, bytes each way, and
/// failures and retransmits where there are any.
pub fn edge_lines(edge: &Edge, units: Units) -> Vec<String> {
    let t = &edge.traffic;
    let mut lines = vec![
        format!(
            ":{} · {:.0} conn{}",
            edge.port,
            t.open,
            if t.open == 1.0 { "" } else { "s" }
        ),
        format!(
            "→ {} ← {}",
            human(t.bytes_out, units),
            human(t.bytes_in, units)
        ),
    ];
    if t.connect_failures > 0.0 {
        lines.push(format!(
            "{} failed connects",
            count(t.connect_failures, units)
        ));
    }
    if t.retransmits > 0.0 {
        lines.push(format!("{} retransmits", count(t.retransmits, units)));
    }
    lines
}

/// Red for failed connects, orange for retransmits: the edges to look at.
pub fn health_colour(edge: &Edge) -> Option<&'static str> {
    match (
        edge.traffic.connect_failures > 0.0,
        edge.traffic.retransmits > 0.0,
    ) {
        (true, _) => Some("#d62728"),
        (false, true) => Some("#ff7f0e"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_read_them() {
        assert_eq!(human(0.0, Units::Totals), "0 B");
        assert_eq!(human(1536.0, Units::Totals), "1.5 KiB");
        assert_eq!(human(3.0 * 1024.0 * 1024.0, Units::PerSecond), "3.0 MiB/s");
        assert_eq!(short(&"a".repeat(64)), "aaaaaaaaaaaa");
        assert_eq!(short("netns:4026531840"), "netns:4026531840");
    }
}
