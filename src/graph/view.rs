//! What of the joined graph is drawn: what changed against an earlier
//! graph (`--diff`, `--before`), only what moves (`--active`), and one node
//! per host (`--group host`).

use std::collections::{BTreeMap, HashSet};

use super::model::{Change, Edge, Graph, Node, NodeKind, Traffic};

impl Graph {
    /// This graph against an `earlier` one: every node and edge of either,
    /// each marked new (now only), gone (then only, with its numbers then)
    /// or the same (both, with its numbers now).
    pub fn against(self, earlier: Graph) -> Graph {
        let now_nodes: HashSet<String> = self.nodes.iter().map(|n| n.id.clone()).collect();
        let now_edges: HashSet<String> = self.edges.iter().map(|e| e.id.clone()).collect();
        let then_nodes: HashSet<&str> = earlier.nodes.iter().map(|n| n.id.as_str()).collect();
        let then_edges: HashSet<&str> = earlier.edges.iter().map(|e| e.id.as_str()).collect();
        let mut nodes: Vec<Node> = self
            .nodes
            .into_iter()
            .map(|mut node| {
                node.change = Some(match then_nodes.contains(node.id.as_str()) {
                    true => Change::Same,
                    false => Change::New,
                });
                node
            })
            .collect();
        let mut edges: Vec<Edge> = self
            .edges
            .into_iter()
            .map(|mut edge| {
                edge.change = Some(match then_edges.contains(edge.id.as_str()) {
                    true => Change::Same,
                    false => Change::New,
                });
                edge
            })
            .collect();
        nodes.extend(
            (earlier.nodes.into_iter())
                .filter(|n| !now_nodes.contains(&n.id))
                .map(|n| Node {
                    change: Some(Change::Gone),
                    workload: None,
                    ..n
                }),
        );
        edges.extend(
            (earlier.edges.into_iter())
                .filter(|e| !now_edges.contains(&e.id))
                .map(|e| Edge {
                    change: Some(Change::Gone),
                    ..e
                }),
        );
        nodes.sort_by(|a, b| a.id.cmp(&b.id));
        edges.sort_by(|a, b| a.id.cmp(&b.id));
        Graph {
            nodes,
            edges,
            grouped: self.grouped,
        }
    }

    /// Only the edges with an open connection or bytes moved, and the nodes
    /// that still have an edge.
    pub fn active(mut self) -> Graph {
        self.edges.retain(|e| {
            let t = &e.traffic;
            t.open > 0.0 || t.bytes_out > 0.0 || t.bytes_in > 0.0
        });
        let linked: HashSet<&str> = (self.edges.iter())
            .flat_map(|e| [e.source.as_str(), e.target.as_str()])
            .collect();
        let nodes = (self.nodes.into_iter())
            .filter(|n| linked.contains(n.id.as_str()))
            .collect();
        Graph {
            nodes,
            edges: self.edges,
            grouped: self.grouped,
        }
    }

    /// One node per host (external and ambiguous peers stay as they are),
    /// and one edge per pair of nodes, its traffic summed over the edges it
    /// stands for and its port theirs if they share one, else `*`.
    pub fn by_host(self) -> Graph {
        let group = |kind: &NodeKind| match kind.host() {
            Some(host) => NodeKind::Host(host.to_string()),
            None => kind.clone(),
        };
        let mut of: BTreeMap<String, String> = BTreeMap::new();
        let mut nodes: BTreeMap<String, Node> = BTreeMap::new();
        for node in self.nodes {
            let kind = group(&node.kind);
            let id = kind.id();
            of.insert(node.id, id.clone());
            let grouped = nodes.entry(id.clone()).or_insert(Node {
                id,
                kind,
                change: node.change,
                workload: None,
            });
            grouped.change = merged(grouped.change, node.change);
        }
        let mut edges: BTreeMap<(String, String), (String, Traffic, Option<Change>)> =
            BTreeMap::new();
        for edge in self.edges {
            let (Some(source), Some(target)) = (of.get(&edge.source), of.get(&edge.target)) else {
                continue;
            };
            let key = (source.clone(), target.clone());
            let entry =
                edges
                    .entry(key)
                    .or_insert((edge.port.clone(), Traffic::default(), edge.change));
            if entry.0 != edge.port {
                entry.0 = "*".to_string();
            }
            entry.1.add(&edge.traffic, false);
            entry.2 = merged(entry.2, edge.change);
        }
        let mut edges: Vec<Edge> = (edges.into_iter())
            .map(|((source, target), (port, traffic, change))| Edge {
                id: format!("{source}->{target}:{port}"),
                source,
                target,
                port,
                traffic,
                change,
            })
            .collect();
        edges.sort_by(|a, b| a.id.cmp(&b.id));
        Graph {
            nodes: nodes.into_values().collect(),
            edges,
            grouped: true,
        }
    }
}

/// What a group's change is: new or gone when all its members are, else
/// the same.
fn merged(a: Option<Change>, b: Option<Change>) -> Option<Change> {
    match (a, b) {
        (Some(a), Some(b)) if a == b => Some(a),
        (Some(_), Some(_)) => Some(Change::Same),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::model::{Peer, Service};

    fn node(id: &str, host: &str) -> Node {
        let kind = match host {
            "" => NodeKind::External(Peer {
                name: id.into(),
                addr: id.into(),
            }),
            host => NodeKind::Service(Service {
                host: host.into(),
                container: String::new(),
                process: id.into(),
            }),
        };
        Node {
            id: kind.id(),
            kind,
            change: None,
            workload: None,
        }
    }

    fn edge(source: &Node, target: &Node, port: &str, open: f64) -> Edge {
        Edge {
            id: format!("{}->{}:{port}", source.id, target.id),
            source: source.id.clone(),
            target: target.id.clone(),
            port: port.into(),
            traffic: Traffic {
                open,
                bytes_out: 10.0 * open,
                ..Traffic::default()
            },
            change: None,
        }
    }

    fn graph(nodes: &[&Node], edges: Vec<Edge>) -> Graph {
        let mut nodes: Vec<Node> = nodes.iter().map(|n| (*n).clone()).collect();
        nodes.sort_by(|a, b| a.id.cmp(&b.id));
        Graph {
            nodes,
            edges,
            grouped: false,
        }
    }

    #[test]
    fn a_diff_marks_new_gone_and_same() {
        let (a, b, c) = (node("a", "h"), node("b", "h"), node("c", "h"));
        let now = graph(
            &[&a, &b, &c],
            vec![edge(&a, &b, "1", 1.0), edge(&a, &c, "2", 1.0)],
        );
        let then = graph(
            &[&a, &b],
            vec![edge(&a, &b, "1", 1.0), edge(&b, &a, "3", 1.0)],
        );
        let diff = now.against(then);
        let changes: Vec<(&str, &str)> = (diff.nodes.iter())
            .map(|n| (n.id.as_str(), n.change.map_or("", Change::as_str)))
            .chain(
                (diff.edges.iter()).map(|e| (e.id.as_str(), e.change.map_or("", Change::as_str))),
            )
            .collect();
        assert_eq!(
            changes,
            [
                ("svc:h//a", "same"),
                ("svc:h//b", "same"),
                ("svc:h//c", "new"),
                ("svc:h//a->svc:h//b:1", "same"),
                ("svc:h//a->svc:h//c:2", "new"),
                ("svc:h//b->svc:h//a:3", "gone"),
            ]
        );
    }

    #[test]
    fn active_drops_idle_edges_and_the_nodes_they_leave_alone() {
        let (a, b, c) = (node("a", "h"), node("b", "h"), node("c", "h"));
        let g = graph(
            &[&a, &b, &c],
            vec![edge(&a, &b, "1", 1.0), edge(&a, &c, "2", 0.0)],
        );
        let g = g.active();
        let ids: Vec<&str> = g.nodes.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, ["svc:h//a", "svc:h//b"]);
        assert_eq!(g.edges.len(), 1);
    }

    #[test]
    fn by_host_sums_edges_between_hosts() {
        let (a, b, c, x) = (
            node("a", "h1"),
            node("b", "h2"),
            node("c", "h2"),
            node("x", ""),
        );
        let g = graph(
            &[&a, &b, &c, &x],
            vec![
                edge(&a, &b, "1", 1.0),
                edge(&a, &c, "2", 2.0),
                edge(&a, &x, "443", 1.0),
            ],
        );
        let g = g.by_host();
        let ids: Vec<&str> = g.nodes.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, ["ext:x", "host:h1", "host:h2"]);
        let edges: Vec<(&str, f64)> = g
            .edges
            .iter()
            .map(|e| (e.id.as_str(), e.traffic.open))
            .collect();
        assert_eq!(
            edges,
            [("host:h1->ext:x:443", 1.0), ("host:h1->host:h2:*", 3.0)]
        );
        assert!(g.grouped);
    }
}
