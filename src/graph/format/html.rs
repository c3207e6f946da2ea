//! One self-contained HTML page: the graph as inline SVG laid out by
//! planet ([`super::layout`]), no script, no font or anything else fetched.
//!
//! The SVG says what it draws, for people and for tests: every box is a
//! `rect.box` in a `g.node` with `data-id`; every edge a `path.wire` (an
//! `M x y L x y ...` polyline) with `data-source` and `data-target`, and a
//! `rect.label` behind its text, sized from the text in a monospace font of
//! fixed size.

use std::collections::BTreeSet;
use std::fmt::{self, Display, Write as _};

use super::layout::{
    clipped, Layout, Rect, LABEL_CELLS, LABEL_FONT, LABEL_LINE, LABEL_PAD_X, LABEL_PAD_Y,
    SUB_CELLS, SUB_FONT, TITLE_CELLS, TITLE_FONT,
};
use super::{counted, edge_lines, health_colour, kind, printable, title, Units};
use crate::graph::model::{Change, Edge, Graph, NodeKind};

/// Text made safe in XML content and in a double- or single-quoted
/// attribute.
struct Xml<'a>(&'a str);

impl Display for Xml<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..at])?;
            f.write_str(match rest.as_bytes()[at] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[at + 1..];
        }
        f.write_str(rest)
    }
}

/// A coordinate, to a tenth of a pixel.
struct Px(f64);

impl Display for Px {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tenths = (self.0 * 10.0).round() as i64;
        let sign = if tenths < 0 { "-" } else { "" };
        let tenths = tenths.unsigned_abs();
        match tenths % 10 {
            0 => write!(f, "{sign}{}", tenths / 10),
            d => write!(f, "{sign}{}.{d}", tenths / 10),
        }
    }
}

const PLAIN: &str = "#555";
const NEW: &str = "#2ca02c";
const GONE: &str = "#999";

/// An edge's colour and its arrow's marker: gone is grey (and dashed),
/// else failed connects red and retransmits orange, else new is green.
fn colour(edge: &Edge) -> (&'static str, &'static str) {
    let colour = match (edge.change, health_colour(edge)) {
        (Some(Change::Gone), _) => GONE,
        (_, Some(health)) => health,
        (Some(Change::New), None) => NEW,
        _ => PLAIN,
    };
    let marker = match colour {
        GONE => "arrow-gone",
        NEW => "arrow-new",
        PLAIN => "arrow",
        "#d62728" => "arrow-red",
        _ => "arrow-orange",
    };
    (colour, marker)
}

fn change_class(change: Option<Change>) -> &'static str {
    match change {
        Some(Change::New) => " new",
        Some(Change::Gone) => " gone",
        _ => "",
    }
}

const STYLE: &str = "\
body { font-family: sans-serif; margin: 16px; background: #fff; color: #222; }
p.notice { background: #fff4d6; border: 1px solid #e0b84c; padding: 6px 10px; display: inline-block; }
svg text { font-family: monospace; }
.node rect { fill: #e8f0fe; stroke: #3b6fd8; stroke-width: 1.5; }
.node.port rect { fill: #fff8e1; stroke: #b8860b; }
.node.external rect { fill: #f4f4f4; stroke: #777; }
.node.ambiguous rect { fill: #fdecea; stroke: #c0392b; }
.node.host rect { fill: #e8f0fe; stroke: #3b6fd8; stroke-width: 2.5; }
.node.new rect { fill: #e6f4ea; stroke: #2ca02c; stroke-width: 3; }
.node.gone rect { fill: #f5f5f5; stroke: #999; stroke-dasharray: 6 4; }
.node.gone text { fill: #999; }
.title { font-weight: bold; }
.sub { fill: #555; }
.wire { fill: none; stroke-width: 1.5; }
.edge.gone .wire { stroke-dasharray: 6 4; }
rect.label { fill: #fff; stroke: #ddd; stroke-width: 0.5; }
.edge.new rect.label { stroke: #2ca02c; stroke-width: 1; }
.edge.gone rect.label { stroke: #999; stroke-dasharray: 3 2; }
";

pub fn render(graph: &Graph, units: Units) -> String {
    let texts: Vec<(String, String)> = (graph.nodes.iter())
        .map(|node| {
            let (t, s) = title(node);
            (clipped(&t, TITLE_CELLS), clipped(&s, SUB_CELLS))
        })
        .collect();
    let labels: Vec<Vec<String>> = (graph.edges.iter())
        .map(|edge| {
            (edge_lines(edge, units).iter())
                .map(|line| clipped(line, LABEL_CELLS))
                .collect()
        })
        .collect();
    let layout = Layout::of(graph, &texts, &labels);

    let mut page = String::with_capacity(4096 + 700 * graph.edges.len());
    page.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>planet: the fleet's dependencies</title>\n<style>\n");
    page.push_str(STYLE);
    page.push_str("</style>\n</head>\n<body>\n<h1>The fleet's dependencies</h1>\n");
    if graph.grouped {
        page.push_str("<p class=\"notice\" id=\"grouped\">Drawn one node per host (planet does so over 300 nodes, and with --group host): each box is a whole host, and each edge sums every connection between two of them (port * when they are on several ports).</p>\n");
    }
    header(&mut page, graph);
    if (graph.nodes.iter().any(|n| n.change.is_some()))
        || (graph.edges.iter().any(|e| e.change.is_some()))
    {
        legend(&mut page);
    }
    let _ = writeln!(
        page,
        "<svg id=\"graph\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"monospace\">",
        w = Px(layout.width),
        h = Px(layout.height)
    );
    page.push_str("<defs>");
    for (id, fill) in [
        ("arrow", PLAIN),
        ("arrow-red", "#d62728"),
        ("arrow-orange", "#ff7f0e"),
        ("arrow-new", NEW),
        ("arrow-gone", GONE),
    ] {
        let _ = write!(
            page,
            "<marker id=\"{id}\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerUnits=\"userSpaceOnUse\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"{fill}\"/></marker>"
        );
    }
    page.push_str("</defs>\n");
    for (i, (edge, route)) in graph.edges.iter().zip(&layout.routes).enumerate() {
        let Some(route) = route else {
            continue;
        };
        let (colour, marker) = colour(edge);
        let _ = write!(
            page,
            "<g class=\"edge{}\" data-edge=\"{i}\"><title>{}</title><path class=\"wire\" data-source=\"{}\" data-target=\"{}\" stroke=\"{colour}\" marker-end=\"url(#{marker})\" d=\"",
            change_class(edge.change),
            Xml(&printable(&edge.id)),
            Xml(&printable(&edge.source)),
            Xml(&printable(&edge.target)),
        );
        for (k, (x, y)) in route.points.iter().enumerate() {
            let step = if k == 0 { "M" } else { " L" };
            let _ = write!(page, "{step} {} {}", Px(*x), Px(*y));
        }
        page.push_str("\"/>");
        label(&mut page, &route.label, &labels[i], colour);
        page.push_str("</g>\n");
    }
    for (node, (place, (title, sub))) in graph.nodes.iter().zip(layout.boxes.iter().zip(&texts)) {
        let id = printable(&node.id);
        let _ = write!(
            page,
            "<g class=\"node {}{}\" data-id=\"{}\"><title>{}</title>",
            kind(node),
            change_class(node.change),
            Xml(&id),
            Xml(&id)
        );
        let _ = write!(
            page,
            "<rect class=\"box\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"6\"/>",
            Px(place.x),
            Px(place.y),
            Px(place.w),
            Px(place.h)
        );
        let x = Px(place.x + super::layout::BOX_PAD_X);
        let mid = place.middle();
        match sub.is_empty() {
            true => {
                let _ = write!(page, "<text class=\"title\" x=\"{x}\" y=\"{}\" font-size=\"{TITLE_FONT}\">{}</text>", Px(mid + 4.5), Xml(title));
            }
            false => {
                let _ = write!(
                    page,
                    "<text class=\"title\" x=\"{x}\" y=\"{}\" font-size=\"{TITLE_FONT}\">{}</text><text class=\"sub\" x=\"{x}\" y=\"{}\" font-size=\"{SUB_FONT}\">{}</text>",
                    Px(mid - 3.0),
                    Xml(title),
                    Px(mid + 13.0),
                    Xml(sub)
                );
            }
        }
        page.push_str("</g>\n");
    }
    page.push_str("</svg>\n</body>\n</html>\n");
    page
}

/// A label: a white rectangle, its lines on it.
fn label(page: &mut String, rect: &Rect, lines: &[String], colour: &str) {
    let _ = write!(
        page,
        "<rect class=\"label\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/>",
        Px(rect.x),
        Px(rect.y),
        Px(rect.w),
        Px(rect.h)
    );
    let fill = match colour {
        PLAIN => "#333",
        other => other,
    };
    for (k, line) in lines.iter().enumerate() {
        let _ = write!(
            page,
            "<text class=\"label\" x=\"{}\" y=\"{}\" font-size=\"{LABEL_FONT}\" fill=\"{fill}\">{}</text>",
            Px(rect.x + LABEL_PAD_X),
            Px(rect.y + LABEL_PAD_Y + 9.0 + LABEL_LINE * k as f64),
            Xml(line)
        );
    }
}

/// What the picture holds, counted, and how to read it.
fn header(page: &mut String, graph: &Graph) {
    let hosts: BTreeSet<&str> = graph.nodes.iter().filter_map(|n| n.kind.host()).collect();
    let outside = (graph.nodes.iter())
        .filter(|n| matches!(n.kind, NodeKind::External(_) | NodeKind::Ambiguous { .. }))
        .count();
    let outside = match outside {
        0 => String::new(),
        n => format!(" ({} outside the fleet)", counted(n, "peer", "peers")),
    };
    let _ = writeln!(
        page,
        "<p class=\"counts\">{}, {}{outside}, {}.</p>",
        counted(hosts.len(), "host", "hosts"),
        counted(graph.nodes.len(), "node", "nodes"),
        counted(graph.edges.len(), "edge", "edges"),
    );
    page.push_str("<p>Clients stand left of the servers they call (an edge that runs leftwards closes a cycle). Each edge is labelled with its port, its open connections and the bytes each way (→ from the client, ← back); red: failed connects, orange: retransmits.</p>\n");
}

/// What new, gone and the same look like.
fn legend(page: &mut String) {
    page.push_str("<svg class=\"legend\" xmlns=\"http://www.w3.org/2000/svg\" width=\"560\" height=\"34\" viewBox=\"0 0 560 34\" font-family=\"monospace\" font-size=\"12\">");
    for (k, (word, class, stroke, dash)) in [
        ("new", "node new", NEW, ""),
        ("gone", "node gone", GONE, " stroke-dasharray=\"6 4\""),
        ("the same", "node", PLAIN, ""),
    ]
    .into_iter()
    .enumerate()
    {
        let x = 4 + 186 * k;
        let _ = write!(
            page,
            "<g class=\"{class}\"><rect x=\"{x}\" y=\"5\" width=\"36\" height=\"24\" rx=\"4\"/></g><path d=\"M {} 17 L {} 17\" stroke=\"{stroke}\" stroke-width=\"1.5\" fill=\"none\"{dash}/><text x=\"{}\" y=\"21\">{word}</text>",
            x + 42,
            x + 82,
            x + 88
        );
    }
    page.push_str("</svg>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::model::{Node, Peer, Service, Traffic};

    #[test]
    fn markup_is_escaped_and_numbers_are_short() {
        assert_eq!(
            Xml("<a & \"b\" 'c'>").to_string(),
            "&lt;a &amp; &quot;b&quot; &#39;c&#39;&gt;"
        );
        assert_eq!(Px(12.0).to_string(), "12");
        assert_eq!(Px(12.04).to_string(), "12");
        assert_eq!(Px(12.25).to_string(), "12.3");
        assert_eq!(Px(-0.5).to_string(), "-0.5");
    }

    fn service(host: &str, process: &str, change: Option<Change>) -> Node {
        let kind = NodeKind::Service(Service {
            host: host.into(),
            container: String::new(),
            process: process.into(),
        });
        Node {
            id: kind.id(),
            kind,
            change,
            workload: None,
        }
    }

    #[test]
    fn counts_are_grammatical_and_changes_have_a_legend() {
        let none = render(&Graph::default(), Units::Totals);
        assert!(none.contains("<p class=\"counts\">0 hosts, 0 nodes, 0 edges.</p>"));
        let one = Graph {
            nodes: vec![service("h", "a", None)],
            edges: vec![],
            grouped: false,
        };
        let page = render(&one, Units::Totals);
        assert!(page.contains("<p class=\"counts\">1 host, 1 node, 0 edges.</p>"), "{page}");
        assert!(!page.contains("class=\"legend\"") && !page.contains("id=\"grouped\""));

        let (a, b) = (service("h", "a", Some(Change::New)), service("i", "b", Some(Change::Gone)));
        let peer = Node {
            id: "ext:x".into(),
            kind: NodeKind::External(Peer {
                name: "x".into(),
                addr: "x".into(),
            }),
            change: Some(Change::Same),
            workload: None,
        };
        let edge = Edge {
            id: format!("{}->{}:1", a.id, b.id),
            source: a.id.clone(),
            target: b.id.clone(),
            port: "1".into(),
            traffic: Traffic::default(),
            change: Some(Change::Gone),
        };
        let two = Graph {
            nodes: vec![peer, a, b],
            edges: vec![edge],
            grouped: true,
        };
        let page = render(&two, Units::Totals);
        assert!(
            page.contains("2 hosts, 3 nodes (1 peer outside the fleet), 1 edge."),
            "{page}"
        );
        assert!(page.contains("class=\"legend\"") && page.contains("id=\"grouped\""));
        assert!(page.contains("<g class=\"edge gone\""));
        assert!(page.contains("<g class=\"node service new\""));
        assert_eq!(page, render(&two, Units::Totals), "the same bytes");
    }
}
