//! The join that makes hosts one graph: a client's upstream `addr` that is
//! some host's (or container's) `planet_address` is an edge to the process
//! that serves that port there; any other address is an external node. A
//! connection both ends report is counted once: the client's view first,
//! the server's downstream view only for clients that run no planet (the
//! rule Kiali uses).
//!
//! Addresses are not unique across a fleet: Docker's 172.17.0.0/16 is on
//! every Docker host, NAT and overlays repeat others, and any namespace can
//! add any address. So the client's own host comes first (an address of its
//! own keeps the edge on it), then the single host that has the address;
//! an address several other hosts have is a node of its own
//! (`ext:<addr>`, the candidates listed), never an arbitrary host.
//!
//! A server whose process no host reports is its port's node
//! (`port:<host>/<container>/<port>`), not a process: unknown servers are
//! as many nodes as ports, and never one node with unknown clients.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use super::model::{Dependency, Edge, Fleet, Graph, Node, NodeKind, Peer, Port, Service, Traffic};

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

/// Where an address is: every host and container that has it.
type Owners<'a> = HashMap<&'a str, Vec<(&'a str, &'a str)>>;

/// Who serves a port: (host, container, protocol, port) -> process.
type Served<'a> = HashMap<(&'a str, &'a str, &'a str, &'a str), &'a str>;

/// The node that serves `port` over `protocol` on `host`, in one of its
/// `containers` that have the address (the one that serves the port, else
/// the first).
fn server(
    served: &Served,
    host: &str,
    containers: &[&str],
    protocol: &str,
    port: &str,
) -> NodeKind {
    let serving = containers
        .iter()
        .find_map(|c| Some((*c, *served.get(&(host, *c, protocol, port))?)));
    match serving {
        Some((container, process)) if !process.is_empty() => service(host, container, process),
        Some((container, _)) => port_node(host, container, port),
        None => port_node(host, containers.first().copied().unwrap_or(""), port),
    }
}

fn port_node(host: &str, container: &str, port: &str) -> NodeKind {
    NodeKind::Port(Port {
        host: host.into(),
        container: container.into(),
        port: port.into(),
    })
}

/// The server end of a host's upstream dependency.
fn target(owners: &Owners, served: &Served, client: &str, up: &Dependency) -> NodeKind {
    let (protocol, port) = (up.protocol.as_str(), up.port.as_str());
    if is_loopback(&up.peer.addr) {
        return server(served, client, &[up.container.as_str()], protocol, port);
    }
    let Some(places) = owners.get(up.peer.addr.as_str()) else {
        return external(&up.peer);
    };
    let on = |host: &str| -> Vec<&str> {
        let mut containers: Vec<&str> = places
            .iter()
            .filter(|(h, _)| *h == host)
            .map(|(_, c)| *c)
            .collect();
        containers.sort_unstable();
        containers
    };
    let own = on(client);
    if !own.is_empty() {
        return server(served, client, &own, protocol, port);
    }
    let mut hosts: Vec<&str> = places.iter().map(|(h, _)| *h).collect();
    hosts.sort_unstable();
    hosts.dedup();
    match hosts.as_slice() {
        [host] => server(served, host, &on(host), protocol, port),
        _ => NodeKind::Ambiguous {
            addr: up.peer.addr.clone(),
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
        },
    }
}

impl Graph {
    /// Joins the hosts' series into one graph.
    pub fn join(fleet: &Fleet) -> Graph {
        let mut owners: Owners = HashMap::new();
        for (name, host) in &fleet.hosts {
            for address in &host.addresses {
                owners
                    .entry(&address.addr)
                    .or_default()
                    .push((name, &address.container));
            }
        }
        let mut served: Served = HashMap::new();
        let mut building = Building::default();
        for (name, host) in &fleet.hosts {
            for s in &host.serving {
                if !s.process.is_empty() {
                    building.node(service(name, &s.container, &s.process));
                }
                served
                    .entry((name.as_str(), s.container.as_str(), &s.protocol, &s.port))
                    .or_insert(&s.process);
            }
        }
        for (name, host) in &fleet.hosts {
            for up in &host.upstream {
                let client = building.node(service(name, &up.container, &up.process));
                let server = building.node(target(&owners, &served, name, up));
                building.edge(client, server, &up.port, &up.traffic, false);
            }
        }
        for (name, host) in &fleet.hosts {
            for down in &host.downstream {
                // A client that runs planet (or this host itself) already
                // said so from its side.
                let addr = down.peer.addr.as_str();
                if is_loopback(addr) || owners.contains_key(addr) {
                    continue;
                }
                let server = building.node(service(name, &down.container, &down.process));
                let client = building.node(external(&down.peer));
                building.edge(client, server, &down.port, &down.traffic, true);
            }
        }
        building.graph(&fleet.workloads)
    }
}

impl Building {
    /// Nodes come sorted by id; an edge's id need not sort as its parts. A
    /// container's service takes its workload's name.
    fn graph(self, workloads: &BTreeMap<String, String>) -> Graph {
        let nodes = (self.nodes.into_iter())
            .map(|(id, kind)| {
                let workload = match &kind {
                    NodeKind::Service(s) => workloads.get(&s.container).cloned(),
                    _ => None,
                };
                Node {
                    id,
                    kind,
                    change: None,
                    workload,
                }
            })
            .collect();
        let mut edges: Vec<Edge> = (self.edges.into_iter())
            .map(|((source, target, port), traffic)| Edge {
                id: format!("{source}->{target}:{port}"),
                source,
                target,
                port,
                traffic,
                change: None,
            })
            .collect();
        edges.sort_by(|a, b| a.id.cmp(&b.id));
        Graph {
            nodes,
            edges,
            grouped: false,
        }
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
        let mut fleet = Fleet::default();
        // db serves 5432; api (in a container) calls it and a SaaS.
        fleet.hosts.insert(
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
        fleet.hosts.insert(
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
    fn loopback_joins_within_its_host_and_an_unserved_port_is_a_port_node() {
        let mut fleet = Fleet::default();
        fleet.hosts.insert(
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
            ["svc:h//web->port:h//9:9", "svc:h//web->svc:h//redis:6379"]
        );
    }
}
