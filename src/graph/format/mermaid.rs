//! A Mermaid flowchart.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::{edge_lines, title, Units};
use crate::graph::model::{Graph, NodeKind};

pub fn render(graph: &Graph, units: Units) -> String {
    let mut out = String::from("flowchart LR\n");
    let index: HashMap<&str, usize> = (graph.nodes.iter().enumerate())
        .map(|(i, n)| (n.id.as_str(), i))
        .collect();
    for (i, node) in graph.nodes.iter().enumerate() {
        let (title, sub) = title(node);
        let text = text(&format!("{title}\n{sub}"));
        let _ = match node.kind {
            NodeKind::Service(_) => writeln!(out, "  n{i}[\"{text}\"]"),
            NodeKind::External(_) => writeln!(out, "  n{i}([\"{text}\"])"),
        };
    }
    for edge in &graph.edges {
        let (Some(source), Some(target)) = (
            index.get(edge.source.as_str()),
            index.get(edge.target.as_str()),
        ) else {
            continue;
        };
        let text = text(&edge_lines(edge, units).join("\n"));
        let _ = writeln!(out, "  n{source} -->|\"{text}\"| n{target}");
    }
    out
}

fn text(text: &str) -> String {
    text.replace('"', "#quot;").replace('\n', "<br/>")
}
