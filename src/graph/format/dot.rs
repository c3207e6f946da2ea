//! Graphviz DOT: `dot -Tsvg` draws it. Every string is quoted, and label
//! values are data: control characters are shown, not passed on (a NUL
//! made `dot` reject the whole file).

use std::fmt::Write as _;

use super::{edge_lines, health_colour, kind, title, Units};
use crate::graph::model::{Change, Graph};

/// What `--diff` looks like, shared by the nodes, the edges and the legend.
const NEW: &str = "color=\"#2ca02c\", penwidth=2";
const GONE: &str = "color=\"#999999\", fontcolor=\"#999999\", style=dashed";

pub fn render(graph: &Graph, units: Units) -> String {
    let mut out = String::from(
        "digraph planet {\n  rankdir=LR;\n  node [shape=box, style=rounded, fontname=\"sans-serif\"];\n  edge [fontname=\"sans-serif\", fontsize=10];\n",
    );
    for node in &graph.nodes {
        let (title, sub) = title(node);
        let shape = match kind(node) {
            "service" => "",
            "port" => ", style=\"rounded,dashed\"",
            "host" => ", shape=box3d",
            "ambiguous" => ", shape=ellipse, style=dashed",
            _ => ", shape=ellipse",
        };
        let change = match node.change {
            Some(Change::New) => format!(", {NEW}"),
            Some(Change::Gone) => format!(", {GONE}"),
            _ => String::new(),
        };
        let label = quoted(&format!("{title}\n{sub}"));
        let _ = writeln!(
            out,
            "  {} [label={label}{shape}{change}];",
            quoted(&node.id)
        );
    }
    for edge in &graph.edges {
        let label = quoted(&edge_lines(edge, units).join("\n"));
        let style = match edge.change {
            Some(Change::New) => format!(", {NEW}"),
            Some(Change::Gone) => format!(", {GONE}"),
            _ => health_colour(edge).map_or(String::new(), |c| format!(", color=\"{c}\"")),
        };
        let _ = writeln!(
            out,
            "  {} -> {} [label={label}{style}];",
            quoted(&edge.source),
            quoted(&edge.target)
        );
    }
    if graph.nodes.iter().any(|n| n.change.is_some()) {
        let _ = write!(
            out,
            "  subgraph cluster_legend {{\n    label=\"legend\";\n    \"legend:new\" [label=\"new\", {NEW}];\n    \"legend:gone\" [label=\"gone\", {GONE}];\n    \"legend:same\" [label=\"same\"];\n  }}\n"
        );
    }
    out.push_str("}\n");
    out
}

/// A DOT quoted string: quotes and backslashes escaped, line breaks as
/// `\n`, and no control character left (the titles are already printable).
fn quoted(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {
                let _ = write!(out, "\\\\x{:02x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn quotes_backslashes_and_control_characters_are_escaped() {
        assert_eq!(super::quoted("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
        assert_eq!(super::quoted("x\0y"), "\"x\\\\x00y\"");
    }
}
