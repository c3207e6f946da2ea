//! One self-contained HTML page: the graph as inline SVG laid out by
//! planet ([`super::layout`]), no script, no font or anything else fetched.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::layout::Layout;
use super::{edge_lines, health_colour, kind, title, Units};
use crate::graph::model::Graph;

fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub fn render(graph: &Graph, units: Units) -> String {
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
        let class = kind(node);
        let _ = writeln!(
            svg,
            "<g class=\"{class}\"><title>{}</title><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"8\"/><text x=\"{}\" y=\"{}\" class=\"title\">{}</text><text x=\"{}\" y=\"{}\" class=\"sub\">{}</text></g>",
            xml(&super::printable(&node.id)),
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
    let hosts: BTreeSet<&str> = (graph.nodes.iter())
        .filter_map(|n| n.kind.host())
        .collect();
    let hosts = hosts.len();
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>planet: the fleet's dependencies</title>\n<style>\nbody {{ font-family: sans-serif; margin: 16px; background: #fff; color: #222; }}\nsvg text {{ font-family: sans-serif; }}\n.service rect {{ fill: #e8f0fe; stroke: #3b6fd8; }}\n.external rect {{ fill: #f4f4f4; stroke: #888; stroke-dasharray: 4 3; }}\n.title {{ font-size: 14px; font-weight: bold; }}\n.sub {{ font-size: 11px; fill: #555; }}\n.edge {{ font-size: 10px; text-anchor: middle; paint-order: stroke; stroke: #fff; stroke-width: 4px; }}\n</style>\n</head>\n<body>\n<h1>The fleet's dependencies</h1>\n<p>{} services and peers on {hosts} hosts, {} edges; client on the left, server on the right; red: failed connects, orange: retransmits.</p>\n{svg}</body>\n</html>\n",
        graph.nodes.len(),
        graph.edges.len()
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn markup_is_escaped() {
        assert_eq!(super::xml("<a & \"b\">"), "&lt;a &amp; &quot;b&quot;&gt;");
    }
}
