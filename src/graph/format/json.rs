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
    let nodes: Vec<Value> = graph
        .nodes
        .iter()
        .map(|node| {
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
        })
        .collect();
    let edges: Vec<Value> = graph
        .edges
        .iter()
        .map(|edge| {
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
