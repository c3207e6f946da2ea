//! The graph as text, one file per format: each has a `render(graph,
//! units)`, and [`formats!`] lists them once, for `--format`'s values, the
//! man page and the dispatch. A new format is a file here and one line in
//! that list.
//!
//! What every format shows of a node and an edge is decided here, once.

use std::fmt::Write as _;

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

/// A node's title and the line under it, made printable.
pub fn title(node: &Node) -> (String, String) {
    let place = |host: &str, container: &str| match container {
        "" => host.to_string(),
        container => format!("{host} · {}", short(container)),
    };
    let (title, sub) = match &node.kind {
        NodeKind::Service(service) => {
            let process = match service.process.as_str() {
                "" => "?",
                process => process,
            };
            match &node.workload {
                // Known by its workload's name: that, and what runs where.
                Some(workload) => (workload.clone(), format!("{process} on {}", service.host)),
                None => (
                    process.to_string(),
                    place(&service.host, &service.container),
                ),
            }
        }
        NodeKind::Port(port) => (
            format!(":{}", port.port),
            place(&port.host, &port.container),
        ),
        NodeKind::External(peer) => {
            let sub = match peer.name == peer.addr {
                true => "external",
                false => peer.addr.as_str(),
            };
            (peer.name.clone(), sub.to_string())
        }
        NodeKind::Ambiguous { addr, hosts } => {
            (addr.clone(), format!("on {}: which?", hosts.join(", ")))
        }
        NodeKind::Host(host) => (host.clone(), "host".to_string()),
    };
    (printable(&title), printable(&sub))
}

/// What kind of node, as `detail__kind` and the pictures' classes say it.
pub fn kind(node: &Node) -> &'static str {
    match node.kind {
        NodeKind::Service(_) => "service",
        NodeKind::Port(_) => "port",
        NodeKind::External(_) => "external",
        NodeKind::Ambiguous { .. } => "ambiguous",
        NodeKind::Host(_) => "host",
    }
}

/// Label values are data: a control character (a NUL, an escape, a line
/// feed) in one is shown as `\xNN`, never passed to a format that would
/// act on it or reject the file.
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c.is_control() {
            true => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            false => out.push(c),
        }
    }
    out
}

/// `n` and the word, singular or plural: "1 host", "2 hosts".
pub fn counted(n: usize, one: &str, many: &str) -> String {
    match n {
        1 => format!("1 {one}"),
        n => format!("{n} {many}"),
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
    let open = match t.open == 1.0 {
        true => "1 conn".to_string(),
        false => format!("{:.0} conns", t.open),
    };
    let mut lines = vec![
        format!(":{} · {open}", printable(&edge.port)),
        format!(
            "→ {} ← {}",
            human(t.bytes_out, units),
            human(t.bytes_in, units)
        ),
    ];
    if t.connect_failures > 0.0 {
        let word = match units == Units::Totals && t.connect_failures == 1.0 {
            true => "failed connect",
            false => "failed connects",
        };
        lines.push(format!("{} {word}", count(t.connect_failures, units)));
    }
    if t.retransmits > 0.0 {
        let word = match units == Units::Totals && t.retransmits == 1.0 {
            true => "retransmit",
            false => "retransmits",
        };
        lines.push(format!("{} {word}", count(t.retransmits, units)));
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
        assert_eq!(printable("a\0b\u{1b}[2J\n"), "a\\x00b\\x1b[2J\\x0a");
        assert_eq!(counted(1, "host", "hosts"), "1 host");
        assert_eq!(counted(0, "host", "hosts"), "0 hosts");
    }
}
