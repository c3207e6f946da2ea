//! The graph as text: JSON with the field names of Grafana's Node Graph
//! panel (and `detail__*` numbers for scripts), Graphviz DOT, a Mermaid
//! flowchart, or one self-contained HTML page. Nodes and edges come sorted
//! by id, so the same input gives the same bytes.

use std::fmt::Write as _;

use serde_json::{json, Value};

use super::layout::Layout;
use super::{Edge, Graph, Node, NodeKind};

/// Whether the numbers are per second (from Prometheus) or totals (files).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Units {
    PerSecond,
    Totals,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Json,
    Dot,
    Mermaid,
    Html,
}

pub fn render(graph: &Graph, format: Format, units: Units) -> String {
    match format {
        Format::Json => json(graph, units),
        Format::Dot => dot(graph, units),
        Format::Mermaid => mermaid(graph, units),
        Format::Html => html(graph, units),
    }
}

fn title(node: &Node) -> (String, String) {
    match &node.kind {
        NodeKind::Service {
            host,
            container,
            process,
        } => {
            let process = if process.is_empty() { "?" } else { process };
            let place = match container.as_str() {
                "" => host.clone(),
                c => format!("{host} · {}", short(c)),
            };
            (process.to_string(), place)
        }
        NodeKind::External { name, addr } => {
            let sub = if name == addr {
                "external"
            } else {
                addr.as_str()
            };
            (name.clone(), sub.to_string())
        }
    }
}

/// A container ID as `docker ps` shows it; other labels as they are.
fn short(container: &str) -> &str {
    match container.len() == 64 {
        true => &container[..12],
        false => container,
    }
}

fn human(value: f64, units: Units) -> String {
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

/// An edge's display lines: port, connections, bytes each way, and
/// failures and retransmits where there are any.
fn edge_lines(edge: &Edge, units: Units) -> Vec<String> {
    let t = &edge.totals;
    let mut lines = vec![
        format!(
            ":{} · {:.0} conn{}",
            edge.port,
            t.connections,
            if t.connections == 1.0 { "" } else { "s" }
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

fn json(graph: &Graph, units: Units) -> String {
    let nodes: Vec<Value> = graph
        .nodes
        .iter()
        .map(|node| {
            let (title, sub) = title(node);
            let (into, out) = degree(graph, &node.id);
            let mut value = json!({
                "id": node.id,
                "title": title,
                "subTitle": sub,
                "mainStat": format!("{into:.0} conns in"),
                "secondaryStat": format!("{out:.0} conns out"),
            });
            let details = match &node.kind {
                NodeKind::Service {
                    host,
                    container,
                    process,
                } => json!({
                    "detail__kind": "service",
                    "detail__host": host,
                    "detail__container": container,
                    "detail__process": process,
                }),
                NodeKind::External { name, addr } => json!({
                    "detail__kind": "external",
                    "detail__addr": addr,
                    "detail__name": name,
                }),
            };
            merge(&mut value, details);
            value
        })
        .collect();
    let edges: Vec<Value> = graph
        .edges
        .iter()
        .map(|edge| {
            let lines = edge_lines(edge, units);
            let t = &edge.totals;
            json!({
                "id": edge.id,
                "source": edge.source,
                "target": edge.target,
                "mainStat": lines[0],
                "secondaryStat": lines[1..].join(", "),
                "detail__port": edge.port.parse::<u64>().ok(),
                "detail__connections": t.connections,
                "detail__bytes_out": t.bytes_out,
                "detail__bytes_in": t.bytes_in,
                "detail__connect_failures": t.connect_failures,
                "detail__retransmits": t.retransmits,
            })
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&json!({ "nodes": nodes, "edges": edges }))
        .unwrap_or_default();
    text.push('\n');
    text
}

fn merge(into: &mut Value, from: Value) {
    if let (Value::Object(into), Value::Object(from)) = (into, from) {
        into.extend(from);
    }
}

/// Connections into and out of a node.
fn degree(graph: &Graph, id: &str) -> (f64, f64) {
    graph.edges.iter().fold((0.0, 0.0), |(into, out), e| {
        let into = into
            + if e.target == id {
                e.totals.connections
            } else {
                0.0
            };
        let out = out
            + if e.source == id {
                e.totals.connections
            } else {
                0.0
            };
        (into, out)
    })
}

fn dot_quoted(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn dot(graph: &Graph, units: Units) -> String {
    let mut out = String::from(
        "digraph planet {\n  rankdir=LR;\n  node [shape=box, style=rounded, fontname=\"sans-serif\"];\n  edge [fontname=\"sans-serif\", fontsize=10];\n",
    );
    for node in &graph.nodes {
        let (title, sub) = title(node);
        let shape = match node.kind {
            NodeKind::Service { .. } => "",
            NodeKind::External { .. } => ", shape=ellipse",
        };
        let label = dot_quoted(&format!("{title}\n{sub}"));
        let _ = writeln!(out, "  {} [label={label}{shape}];", dot_quoted(&node.id));
    }
    for edge in &graph.edges {
        let label = dot_quoted(&edge_lines(edge, units).join("\n"));
        let colour = health_colour(edge).map_or(String::new(), |c| format!(", color=\"{c}\""));
        let _ = writeln!(
            out,
            "  {} -> {} [label={label}{colour}];",
            dot_quoted(&edge.source),
            dot_quoted(&edge.target)
        );
    }
    out.push_str("}\n");
    out
}

/// Red for failed connects, orange for retransmits: the edges to look at.
pub fn health_colour(edge: &Edge) -> Option<&'static str> {
    match (
        edge.totals.connect_failures > 0.0,
        edge.totals.retransmits > 0.0,
    ) {
        (true, _) => Some("#d62728"),
        (false, true) => Some("#ff7f0e"),
        _ => None,
    }
}

fn mermaid_text(text: &str) -> String {
    text.replace('"', "#quot;").replace('\n', "<br/>")
}

fn mermaid(graph: &Graph, units: Units) -> String {
    let mut out = String::from("flowchart LR\n");
    let index = |id: &str| graph.nodes.iter().position(|n| n.id == id).unwrap_or(0);
    for (i, node) in graph.nodes.iter().enumerate() {
        let (title, sub) = title(node);
        let text = mermaid_text(&format!("{title}\n{sub}"));
        let _ = match node.kind {
            NodeKind::Service { .. } => writeln!(out, "  n{i}[\"{text}\"]"),
            NodeKind::External { .. } => writeln!(out, "  n{i}([\"{text}\"])"),
        };
    }
    for edge in &graph.edges {
        let text = mermaid_text(&edge_lines(edge, units).join("\n"));
        let _ = writeln!(
            out,
            "  n{} -->|\"{text}\"| n{}",
            index(&edge.source),
            index(&edge.target)
        );
    }
    out
}

fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn html(graph: &Graph, units: Units) -> String {
    let layout = Layout::of(graph);
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">",
        w = layout.width,
        h = layout.height
    );
    svg.push_str("<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#555\"/></marker></defs>\n");
    for edge in &graph.edges {
        let (Some(from), Some(to)) = (layout.place(&edge.source), layout.place(&edge.target))
        else {
            continue;
        };
        let colour = health_colour(edge).unwrap_or("#555");
        let (x1, y1, x2, y2) = (from.right(), from.middle(), to.left(), to.middle());
        let bend = (x2 - x1).abs() / 2.0 + 20.0;
        let _ = writeln!(
            svg,
            "<path d=\"M {x1} {y1} C {} {y1}, {} {y2}, {x2} {y2}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\" marker-end=\"url(#arrow)\"/>",
            x1 + bend,
            x2 - bend
        );
        let (mx, my) = ((x1 + x2) / 2.0, (y1 + y2) / 2.0);
        // Stacked just above the edge's middle, the last line nearest it.
        let lines = edge_lines(edge, units);
        for (i, line) in lines.iter().enumerate() {
            let _ = writeln!(
                svg,
                "<text x=\"{mx}\" y=\"{}\" class=\"edge\" fill=\"{colour}\">{}</text>",
                my - 5.0 - 12.0 * (lines.len() - 1 - i) as f64,
                xml(line)
            );
        }
    }
    for node in &graph.nodes {
        let Some(place) = layout.place(&node.id) else {
            continue;
        };
        let (title, sub) = title(node);
        let class = match node.kind {
            NodeKind::Service { .. } => "service",
            NodeKind::External { .. } => "external",
        };
        let _ = writeln!(
            svg,
            "<g class=\"{class}\"><title>{}</title><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"8\"/><text x=\"{}\" y=\"{}\" class=\"title\">{}</text><text x=\"{}\" y=\"{}\" class=\"sub\">{}</text></g>",
            xml(&node.id),
            place.x,
            place.y,
            place.w,
            place.h,
            place.x + 10.0,
            place.y + 22.0,
            xml(&title),
            place.x + 10.0,
            place.y + 40.0,
            xml(&sub)
        );
    }
    svg.push_str("</svg>\n");
    let hosts = graph.hosts().len();
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>planet: the fleet's dependencies</title>\n<style>\nbody {{ font-family: sans-serif; margin: 16px; background: #fff; color: #222; }}\nsvg text {{ font-family: sans-serif; }}\n.service rect {{ fill: #e8f0fe; stroke: #3b6fd8; }}\n.external rect {{ fill: #f4f4f4; stroke: #888; stroke-dasharray: 4 3; }}\n.title {{ font-size: 14px; font-weight: bold; }}\n.sub {{ font-size: 11px; fill: #555; }}\n.edge {{ font-size: 10px; text-anchor: middle; paint-order: stroke; stroke: #fff; stroke-width: 4px; }}\n</style>\n</head>\n<body>\n<h1>The fleet's dependencies</h1>\n<p>{} services and peers on {hosts} hosts, {} edges; client on the left, server on the right; red: failed connects, orange: retransmits.</p>\n{svg}</body>\n</html>\n",
        graph.nodes.len(),
        graph.edges.len()
    )
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
        assert_eq!(dot_quoted("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
        assert_eq!(xml("<a & \"b\">"), "&lt;a &amp; &quot;b&quot;&gt;");
    }
}
