//! JSON with the field names of Grafana's Node Graph panel (`id`, `title`,
//! `subTitle`, `mainStat`, `secondaryStat`; edges `source`, `target`), and
//! `detail__*` fields for scripts.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::{edge_lines, kind, title, Units};
use crate::graph::model::{Graph, NodeKind};

pub fn render(graph: &Graph, units: Units) -> String {
    // Open connections into and out of each node, in one pass.
    let mut degree: HashMap<&str, (f64, f64)> = HashMap::new();
    for edge in &graph.edges {
        degree.entry(&edge.target).or_default().0 += edge.traffic.open;
        degree.entry(&edge.source).or_default().1 += edge.traffic.open;
    }
    let nodes = graph.nodes.iter().map(|node| {
            let (title, sub) = title(node);
            let (into, out) = degree.get(node.id.as_str()).copied().unwrap_or_default();
            let mut value = json!({
                "id": node.id,
                "title": title,
                "subTitle": sub,
                "mainStat": format!("{into:.0} conns in"),
                "secondaryStat": format!("{out:.0} conns out"),
            });
            let details = match &node.kind {
                NodeKind::Service(service) => json!({
                    "detail__host": service.host,
                    "detail__container": service.container,
                    "detail__process": service.process,
                }),
                NodeKind::Port(port) => json!({
                    "detail__host": port.host,
                    "detail__container": port.container,
                    "detail__port": port.port.parse::<u64>().ok(),
                }),
                NodeKind::External(peer) => json!({
                    "detail__addr": peer.addr,
                    "detail__name": peer.name,
                }),
                NodeKind::Ambiguous { addr, hosts } => json!({
                    "detail__addr": addr,
                    "detail__hosts": hosts.join(","),
                }),
                NodeKind::Host(host) => json!({ "detail__host": host }),
            };
            merge(&mut value, details);
            merge(&mut value, json!({ "detail__kind": kind(node) }));
            if let Some(change) = node.change {
                merge(&mut value, json!({ "detail__change": change.as_str() }));
            }
            if let Some(workload) = &node.workload {
                merge(&mut value, json!({ "detail__workload": workload }));
            }
            value
        });
    let edges = graph.edges.iter().map(|edge| {
            let lines = edge_lines(edge, units);
            let t = &edge.traffic;
            let mut value = json!({
                "id": edge.id,
                "source": edge.source,
                "target": edge.target,
                "mainStat": lines[0],
                "secondaryStat": lines[1..].join(", "),
                "detail__port": edge.port.parse::<u64>().ok(),
                "detail__connections": t.open,
                "detail__bytes_out": t.bytes_out,
                "detail__bytes_in": t.bytes_in,
                "detail__connect_failures": t.connect_failures,
                "detail__retransmits": t.retransmits,
            });
            if let Some(change) = edge.change {
                merge(&mut value, json!({ "detail__change": change.as_str() }));
            }
            value
        });
    // The same bytes as `to_string_pretty` of the whole document (keys in
    // order: edges, nodes), written an element at a time: the document as
    // one `Value` was most of the peak RSS at 150,000 edges (811 MiB, of
    // which the model is about 300).
    let mut text = String::from("{\n");
    array(&mut text, "edges", edges);
    text.push_str(",\n");
    array(&mut text, "nodes", nodes);
    text.push_str("\n}\n");
    text
}

/// `  "key": [ ... ]` as `to_string_pretty` indents it inside an object.
fn array(text: &mut String, key: &str, items: impl Iterator<Item = Value>) {
    text.push_str(&format!("  \"{key}\": ["));
    let mut empty = true;
    for item in items {
        text.push_str(if empty { "\n" } else { ",\n" });
        empty = false;
        let pretty = serde_json::to_string_pretty(&item).unwrap_or_default();
        for (i, line) in pretty.lines().enumerate() {
            if i > 0 {
                text.push('\n');
            }
            text.push_str("    ");
            text.push_str(line);
        }
    }
    if !empty {
        text.push_str("\n  ");
    }
    text.push(']');
}

fn merge(into: &mut Value, from: Value) {
    if let (Value::Object(into), Value::Object(from)) = (into, from) {
        into.extend(from);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::model::{Change, Edge, Node, Traffic};

    fn host(name: &str) -> Node {
        Node {
            id: format!("host:{name}"),
            kind: NodeKind::Host(name.into()),
            change: Some(Change::New),
            workload: None,
        }
    }

    /// Written an element at a time, the document is still exactly what
    /// `to_string_pretty` makes of it: empty, and with a line break inside
    /// a value.
    #[test]
    fn the_document_is_pretty_json() {
        let edge = Edge {
            id: "host:a->host:b\n:80".into(),
            source: "host:a".into(),
            target: "host:b".into(),
            port: "80".into(),
            traffic: Traffic {
                open: 2.0,
                ..Traffic::default()
            },
            change: None,
        };
        let graphs = [
            Graph::default(),
            Graph {
                nodes: vec![host("a"), host("b")],
                edges: vec![edge.clone(), edge],
                grouped: true,
            },
        ];
        for graph in graphs {
            let text = render(&graph, Units::Totals);
            let value: Value = serde_json::from_str(&text).expect("valid JSON");
            let pretty = serde_json::to_string_pretty(&value).expect("serializes");
            assert_eq!(text, pretty + "\n");
        }
    }
}
