//! A Mermaid flowchart. Label values are data: every character Mermaid
//! or the HTML it renders to could act on is entity-encoded (`#60;` for
//! `<`), so no markup, directive or edge passes through a label.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::{edge_lines, health_colour, kind, title, Units};
use crate::graph::model::{Change, Graph};

pub fn render(graph: &Graph, units: Units) -> String {
    let mut out = String::from("flowchart LR\n");
    let index: HashMap<&str, usize> = (graph.nodes.iter().enumerate())
        .map(|(i, n)| (n.id.as_str(), i))
        .collect();
    for (i, node) in graph.nodes.iter().enumerate() {
        let (title, sub) = title(node);
        let text = format!("{}<br/>{}", text(&title), text(&sub));
        let _ = match kind(node) {
            "service" => writeln!(out, "  n{i}[\"{text}\"]"),
            "port" | "host" => writeln!(out, "  n{i}[[\"{text}\"]]"),
            "ambiguous" => writeln!(out, "  n{i}{{\"{text}\"}}"),
            _ => writeln!(out, "  n{i}([\"{text}\"])"),
        };
        match node.change {
            Some(Change::New) => writeln!(out, "  class n{i} new"),
            Some(Change::Gone) => writeln!(out, "  class n{i} gone"),
            _ => Ok(()),
        }
        .unwrap_or_default();
    }
    let mut styles = Vec::new();
    let mut link = 0;
    for edge in &graph.edges {
        let (Some(source), Some(target)) = (
            index.get(edge.source.as_str()),
            index.get(edge.target.as_str()),
        ) else {
            continue;
        };
        let lines: Vec<String> = edge_lines(edge, units).iter().map(|l| text(l)).collect();
        let arrow = match edge.change {
            Some(Change::Gone) => "-.->",
            _ => "-->",
        };
        let _ = writeln!(out, "  n{source} {arrow}|\"{}\"| n{target}", lines.join("<br/>"));
        let style = match edge.change {
            Some(Change::New) => Some("stroke:#2ca02c,stroke-width:2px".to_string()),
            Some(Change::Gone) => Some("stroke:#999999".to_string()),
            _ => health_colour(edge).map(|c| format!("stroke:{c}")),
        };
        if let Some(style) = style {
            styles.push(format!("  linkStyle {link} {style}"));
        }
        link += 1;
    }
    for style in styles {
        let _ = writeln!(out, "{style}");
    }
    if graph.nodes.iter().any(|n| n.change.is_some()) {
        out.push_str("  subgraph legend[\"legend\"]\n    legend_new[\"new\"]:::new\n    legend_gone[\"gone\"]:::gone\n    legend_same[\"same\"]\n  end\n");
        out.push_str("  classDef new stroke:#2ca02c,stroke-width:2px\n");
        out.push_str("  classDef gone stroke:#999999,stroke-dasharray:5 5,color:#999999\n");
    }
    out
}

/// Text for a label: letters, digits, spaces and plain punctuation as they
/// are; everything else as a Mermaid entity (`#<code>;`), `#` itself too.
fn text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c.is_alphanumeric() || " .,-_/+=@!?·→←*".contains(c) {
            true => out.push(c),
            false => {
                let _ = write!(out, "#{};", u32::from(c));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn markup_directives_and_edges_do_not_pass_through() {
        let hostile = "<img src=x onerror=alert(1)>%%{init: {}}%%\"]-->x['`";
        let encoded = super::text(hostile);
        for c in ['<', '>', '"', '\'', '`', '%', '[', ']', '(', ')', '{', '}', ':', ';'] {
            assert!(!encoded.replace("#", "").contains(c) || c == ';', "{c} in {encoded}");
        }
        assert!(encoded.starts_with("#60;img src=x onerror=alert#40;1#41;#62;#37;#37;"));
    }
}
