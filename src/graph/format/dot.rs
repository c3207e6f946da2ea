//! Graphviz DOT: `dot -Tsvg` draws it.

use std::fmt::Write as _;

use super::{edge_lines, health_colour, title, Units};
use crate::graph::model::{Graph, NodeKind};

pub fn render(graph: &Graph, units: Units) -> String {
    let mut out = String::from(
        "digraph planet {\n  rankdir=LR;\n  node [shape=box, style=rounded, fontname=\"sans-serif\"];\n  edge [fontname=\"sans-serif\", fontsize=10];\n",
    );
    for node in &graph.nodes {
        let (title, sub) = title(node);
        let shape = match node.kind {
            NodeKind::Service(_) => "",
            NodeKind::External(_) => ", shape=ellipse",
        };
        let label = quoted(&format!("{title}\n{sub}"));
        let _ = writeln!(out, "  {} [label={label}{shape}];", quoted(&node.id));
    }
    for edge in &graph.edges {
        let label = quoted(&edge_lines(edge, units).join("\n"));
        let colour = health_colour(edge).map_or(String::new(), |c| format!(", color=\"{c}\""));
        let _ = writeln!(
            out,
            "  {} -> {} [label={label}{colour}];",
            quoted(&edge.source),
            quoted(&edge.target)
        );
    }
    out.push_str("}\n");
    out
}

fn quoted(text: &str) -> String {
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

#[cfg(test)]
mod tests {
    #[test]
    fn quotes_are_escaped() {
        assert_eq!(super::quoted("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
    }
}
