//! The join that makes hosts one graph: a client's upstream `addr` that is
//! some host's (or container's) `planet_address` is an edge to the process
//! that serves that port there; any other address is an external node. A
//! connection both ends report is counted once: the client's view first,
//! the server's downstream view only for clients that run no planet (the
//! rule Kiali uses).

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use super::model::{Edge, Fleet, Graph, Node, NodeKind, Peer, Service, Traffic};

fn is_loopback(addr: &str) -> bool {
    addr.parse::<IpAddr>().is_ok_and(|a| a.is_loopback())
}

fn service(host: &str, container: &str, process: &str) -> NodeKind {
    NodeKind::Service(Service {
        host: host.into(),
        container: container.into(),
        process: process.into(),
    })
}

/// An external peer, by its `name` label (the address when unnamed).
fn external(peer: &Peer) -> NodeKind {
    let name = match peer.name.is_empty() {
        true => &peer.addr,
        false => &peer.name,
    };
    NodeKind::External(Peer {
        name: name.clone(),
        addr: peer.addr.clone(),
    })
}

/// Nodes by id, and edges by (source, target, port), as they are found.
#[derive(Default)]
struct Building {
    nodes: BTreeMap<String, NodeKind>,
    edges: BTreeMap<(String, String, String), Traffic>,
}

impl Building {
    fn node(&mut self, kind: NodeKind) -> String {
        let id = kind.id();
        self.nodes.entry(id.clone()).or_insert(kind);
        id
    }

    fn edge(
        &mut self,
        client: String,
        server: String,
        port: &str,
        traffic: &Traffic,
        turned: bool,
    ) {
        let sum = self.edges.entry((client, server, port.into())).or_default();
        sum.add(traffic, turned);
    }
}

impl Graph {
    /// Joins the hosts' series into one graph.
    pub fn join(fleet: &Fleet) -> Graph {
        // Which host and container each address is.
        let mut owner: HashMap<&str, (&str, &str)> = HashMap::new();
        for (name, host) in fleet {
            for address in &host.addresses {
                owner
                    .entry(&address.addr)
                    .or_insert((name, &address.container));
            }
        }
        // Who serves what where: (host, container, protocol, port).
        let mut served: HashMap<(&str, &str, &str, &str), &str> = HashMap::new();
        let mut building = Building::default();
        for (name, host) in fleet {
            for s in &host.serving {
                building.node(service(name, &s.container, &s.process));
                let place = (name.as_str(), s.container.as_str());
                served
                    .entry((place.0, place.1, &s.protocol, &s.port))
                    .or_insert(&s.process);
            }
        }
        for (name, host) in fleet {
            for up in &host.upstream {
                let client = building.node(service(name, &up.container, &up.process));
                let place = match is_loopback(&up.peer.addr) {
                    true => Some((name.as_str(), up.container.as_str())),
                    false => owner.get(up.peer.addr.as_str()).copied(),
                };
                let server = match place {
                    Some((host, container)) => {
                        let key = (host, container, up.protocol.as_str(), up.port.as_str());
                        let process = served.get(&key).copied().unwrap_or("");
                        service(host, container, process)
                    }
                    None => external(&up.peer),
                };
                let server = building.node(server);
                building.edge(client, server, &up.port, &up.traffic, false);
            }
        }
        for (name, host) in fleet {
            for down in &host.downstream {
                // A client that runs planet (or this host itself) already
                // said so from its side.
                let addr = down.peer.addr.as_str();
                if is_loopback(addr) || owner.contains_key(addr) {
                    continue;
                }
                let server = building.node(service(name, &down.container, &down.process));
                let client = building.node(external(&down.peer));
                building.edge(client, server, &down.port, &down.traffic, true);
            }
        }
        let nodes = (building.nodes.into_iter())
            .map(|(id, kind)| Node { id, kind })
            .collect();
        let mut edges: Vec<Edge> = (building.edges.into_iter())
            .map(|((source, target, port), traffic)| Edge {
                id: format!("{source}->{target}:{port}"),
                source,
                target,
                port,
                traffic,
            })
            .collect();
        // Nodes come sorted by id; an edge's id need not sort as its parts.
        edges.sort_by(|a, b| a.id.cmp(&b.id));
        Graph { nodes, edges }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::model::{Address, Dependency, Host, Serving};

    fn dep(process: &str, container: &str, addr: &str, port: &str, bytes: f64) -> Dependency {
        Dependency {
            protocol: "tcp".into(),
            process: process.into(),
            container: container.into(),
            peer: Peer {
                name: addr.into(),
                addr: addr.into(),
            },
            port: port.into(),
            traffic: Traffic {
                open: 1.0,
                bytes_out: bytes,
                bytes_in: bytes / 10.0,
                ..Traffic::default()
            },
        }
    }

    fn address(addr: &str, container: &str) -> Address {
        Address {
            addr: addr.into(),
            container: container.into(),
        }
    }

    fn serving(process: &str, port: &str) -> Serving {
        Serving {
            protocol: "tcp".into(),
            container: String::new(),
            process: process.into(),
            port: port.into(),
        }
    }

    #[test]
    fn hosts_join_by_address_and_each_connection_counts_once() {
        let mut fleet = Fleet::new();
        // db serves 5432; api (in a container) calls it and a SaaS.
        fleet.insert(
            "db".into(),
            Host {
                addresses: vec![address("192.0.2.1", "")],
                serving: vec![serving("postgres", "5432")],
                // api's connection as db sees it, and a client without planet.
                downstream: vec![
                    dep("postgres", "", "198.51.100.7", "5432", 100.0),
                    dep("postgres", "", "192.0.2.2", "5432", 900.0),
                ],
                ..Host::default()
            },
        );
        fleet.insert(
            "app".into(),
            Host {
                addresses: vec![address("192.0.2.2", "c1")],
                upstream: vec![
                    dep("api", "c1", "192.0.2.1", "5432", 1000.0),
                    dep("api", "c1", "203.0.113.9", "443", 50.0),
                ],
                ..Host::default()
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
            .map(|e| (e.id.as_str(), e.traffic.bytes_out, e.traffic.bytes_in))
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
            Host {
                upstream: vec![
                    dep("web", "", "127.0.0.1", "6379", 1.0),
                    dep("web", "", "::1", "9", 1.0),
                ],
                serving: vec![serving("redis", "6379")],
                ..Host::default()
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
