//! `planet graph`: the fleet's dependency graph, from the series every
//! host's planet wrote, read back from Prometheus or from the files.
//!
//! The join is what makes hosts one graph: a client's upstream `addr` that
//! is some host's (or container's) `planet_address` is an edge to the
//! service that serves that port there; any other address is an external
//! node. A connection both ends report is counted once: the client's view
//! first, the server's downstream view only for clients that run no planet
//! (the rule Kiali uses).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

pub mod input;
pub mod layout;
pub mod render;

/// One row of a dependency family, as read from one host.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dependency {
    pub protocol: String,
    pub process: String,
    pub container: String,
    pub name: String,
    pub addr: String,
    pub port: String,
    pub connections: f64,
    /// Client to server for upstream rows (what this host sent); server
    /// to client read as `in` on downstream rows.
    pub bytes_out: f64,
    pub bytes_in: f64,
    pub connect_failures: f64,
    pub retransmits: f64,
}

/// One host's series, by family.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostData {
    /// (address, container) of `planet_address`.
    pub addresses: Vec<(String, String)>,
    /// (protocol, container, process, port) of `planet_serving`.
    pub serving: Vec<(String, String, String, String)>,
    pub upstream: Vec<Dependency>,
    pub downstream: Vec<Dependency>,
}

/// Every host's series, by the host's shown name.
pub type Fleet = BTreeMap<String, HostData>;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum NodeKind {
    Service {
        host: String,
        container: String,
        process: String,
    },
    External {
        name: String,
        addr: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub id: String,
    pub kind: NodeKind,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct EdgeTotals {
    pub connections: f64,
    pub bytes_out: f64,
    pub bytes_in: f64,
    pub connect_failures: f64,
    pub retransmits: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    pub id: String,
    pub source: String,
    pub target: String,
    pub port: String,
    pub totals: EdgeTotals,
}

/// Nodes and edges, each sorted by id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

fn service(host: &str, container: &str, process: &str) -> (String, NodeKind) {
    (
        format!("svc:{host}/{container}/{process}"),
        NodeKind::Service {
            host: host.into(),
            container: container.into(),
            process: process.into(),
        },
    )
}

fn is_loopback(addr: &str) -> bool {
    addr.parse::<IpAddr>().is_ok_and(|a| a.is_loopback())
}

impl Graph {
    /// Joins the hosts' series into one graph.
    pub fn join(fleet: &Fleet) -> Graph {
        // Which host and container each address is.
        let mut owner: HashMap<&str, (&str, &str)> = HashMap::new();
        for (host, data) in fleet {
            for (addr, container) in &data.addresses {
                owner.entry(addr).or_insert((host, container));
            }
        }
        let mut nodes: BTreeMap<String, NodeKind> = BTreeMap::new();
        let mut edges: BTreeMap<(String, String, String), EdgeTotals> = BTreeMap::new();
        let add = |nodes: &mut BTreeMap<String, NodeKind>, (id, kind): (String, NodeKind)| {
            nodes.entry(id.clone()).or_insert(kind);
            id
        };
        for (host, data) in fleet {
            for (_, container, process, _) in &data.serving {
                add(&mut nodes, service(host, container, process));
            }
        }
        for (host, data) in fleet {
            for up in &data.upstream {
                let client = add(&mut nodes, service(host, &up.container, &up.process));
                let place = match is_loopback(&up.addr) {
                    true => Some((host.as_str(), up.container.as_str())),
                    false => owner.get(up.addr.as_str()).copied(),
                };
                let server = match place {
                    Some((server_host, container)) => {
                        let process = fleet
                            .get(server_host)
                            .and_then(|d| {
                                d.serving.iter().find(|(protocol, c, _, port)| {
                                    *protocol == up.protocol && c == container && *port == up.port
                                })
                            })
                            .map_or("", |(_, _, process, _)| process.as_str());
                        service(server_host, container, process)
                    }
                    None => external(&up.name, &up.addr),
                };
                let server = add(&mut nodes, server);
                let sum = edges.entry((client, server, up.port.clone())).or_default();
                sum.absorb(up, false);
            }
        }
        for (host, data) in fleet {
            for down in &data.downstream {
                // A client that runs planet (or this host itself) already
                // said so from its side.
                if is_loopback(&down.addr) || owner.contains_key(down.addr.as_str()) {
                    continue;
                }
                let server = add(&mut nodes, service(host, &down.container, &down.process));
                let client = add(&mut nodes, external(&down.name, &down.addr));
                let sum = edges
                    .entry((client, server, down.port.clone()))
                    .or_default();
                sum.absorb(down, true);
            }
        }
        Graph {
            nodes: nodes
                .into_iter()
                .map(|(id, kind)| Node { id, kind })
                .collect(),
            edges: edges
                .into_iter()
                .map(|((source, target, port), totals)| Edge {
                    id: format!("{source}->{target}:{port}"),
                    source,
                    target,
                    port,
                    totals,
                })
                .collect(),
        }
        .sorted()
    }

    fn sorted(mut self) -> Graph {
        self.nodes.sort_by(|a, b| a.id.cmp(&b.id));
        self.edges.sort_by(|a, b| a.id.cmp(&b.id));
        self
    }

    /// The hosts (and their containers) that appear, for titles.
    pub fn hosts(&self) -> BTreeSet<&str> {
        self.nodes
            .iter()
            .filter_map(|n| match &n.kind {
                NodeKind::Service { host, .. } => Some(host.as_str()),
                NodeKind::External { .. } => None,
            })
            .collect()
    }
}

/// An external peer, by its `name` label (the address when unnamed).
fn external(name: &str, addr: &str) -> (String, NodeKind) {
    let shown = if name.is_empty() { addr } else { name };
    (
        format!("ext:{shown}"),
        NodeKind::External {
            name: shown.into(),
            addr: addr.into(),
        },
    )
}

impl EdgeTotals {
    /// Adds one row; a downstream row's directions are the server's, so
    /// they swap to read client to server.
    fn absorb(&mut self, row: &Dependency, downstream: bool) {
        let (out, back) = match downstream {
            false => (row.bytes_out, row.bytes_in),
            true => (row.bytes_in, row.bytes_out),
        };
        self.connections += row.connections;
        self.bytes_out += out;
        self.bytes_in += back;
        self.connect_failures += row.connect_failures;
        self.retransmits += row.retransmits;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dep(process: &str, container: &str, addr: &str, port: &str, bytes: f64) -> Dependency {
        Dependency {
            protocol: "tcp".into(),
            process: process.into(),
            container: container.into(),
            name: addr.into(),
            addr: addr.into(),
            port: port.into(),
            connections: 1.0,
            bytes_out: bytes,
            bytes_in: bytes / 10.0,
            ..Dependency::default()
        }
    }

    #[test]
    fn hosts_join_by_address_and_each_connection_counts_once() {
        let mut fleet = Fleet::new();
        // db serves 5432; api (in a container) calls it and a SaaS.
        fleet.insert(
            "db".into(),
            HostData {
                addresses: vec![("192.0.2.1".into(), String::new())],
                serving: vec![(
                    "tcp".into(),
                    String::new(),
                    "postgres".into(),
                    "5432".into(),
                )],
                // api's connection as db sees it, and a client without planet.
                downstream: vec![
                    dep("postgres", "", "198.51.100.7", "5432", 100.0),
                    dep("postgres", "", "192.0.2.2", "5432", 900.0),
                ],
                ..HostData::default()
            },
        );
        fleet.insert(
            "app".into(),
            HostData {
                addresses: vec![("192.0.2.2".into(), "c1".into())],
                upstream: vec![
                    dep("api", "c1", "192.0.2.1", "5432", 1000.0),
                    dep("api", "c1", "203.0.113.9", "443", 50.0),
                ],
                ..HostData::default()
            },
        );
        let graph = Graph::join(&fleet);
        let ids: Vec<&str> = graph.nodes.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "ext:198.51.100.7",
                "ext:203.0.113.9",
                "svc:app/c1/api",
                "svc:db//postgres"
            ]
        );
        let edges: Vec<(&str, f64, f64)> = graph
            .edges
            .iter()
            .map(|e| (e.id.as_str(), e.totals.bytes_out, e.totals.bytes_in))
            .collect();
        assert_eq!(
            edges,
            [
                // The server's view of a client without planet, turned round.
                ("ext:198.51.100.7->svc:db//postgres:5432", 10.0, 100.0),
                ("svc:app/c1/api->ext:203.0.113.9:443", 50.0, 5.0),
                // The client's view only: db's downstream row of it is not added.
                ("svc:app/c1/api->svc:db//postgres:5432", 1000.0, 100.0),
            ]
        );
    }

    #[test]
    fn loopback_joins_within_its_host_and_an_unserved_port_has_no_process() {
        let mut fleet = Fleet::new();
        fleet.insert(
            "h".into(),
            HostData {
                upstream: vec![
                    dep("web", "", "127.0.0.1", "6379", 1.0),
                    dep("web", "", "::1", "9", 1.0),
                ],
                serving: vec![("tcp".into(), String::new(), "redis".into(), "6379".into())],
                ..HostData::default()
            },
        );
        let graph = Graph::join(&fleet);
        let edges: Vec<&str> = graph.edges.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(
            edges,
            ["svc:h//web->svc:h//:9", "svc:h//web->svc:h//redis:6379"]
        );
    }
}
