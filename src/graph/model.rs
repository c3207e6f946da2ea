//! The graph's data, typed: what each host reported ([`Fleet`] of
//! [`Host`]s), and the graph joined from it ([`Graph`] of [`Node`]s and
//! [`Edge`]s).
//!
//! One meaning per word: `open` is connections open now (the gauges),
//! never connections opened (the `*_connections_total` counters, which the
//! graph does not read).

use std::collections::BTreeMap;

/// What the hosts reported, and what other exporters in the same store
/// say of their containers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fleet {
    /// Every host's series, by the host's shown name.
    pub hosts: BTreeMap<String, Host>,
    /// Container ID -> the name its operators know it by: from
    /// kube-state-metrics `<namespace>/<pod>/<container>`, else cAdvisor's
    /// `name`.
    pub workloads: BTreeMap<String, String>,
}

/// One host, as its planet reported it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Host {
    /// `planet_address`: which addresses are this host's, and which of its
    /// containers' (`""`: the host's own).
    pub addresses: Vec<Address>,
    /// `planet_serving`: what it serves, and which process serves it.
    pub serving: Vec<Serving>,
    /// `planet_upstream*`: what it depends on.
    pub upstream: Vec<Dependency>,
    /// `planet_downstream*`: who depends on it.
    pub downstream: Vec<Dependency>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Address {
    pub addr: String,
    pub container: String,
}

/// A port served on a host.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Serving {
    pub protocol: String,
    pub container: String,
    pub process: String,
    pub port: String,
}

/// A peer as a host names it.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Peer {
    /// Its `name` label: an inventory or DNS name, else the address.
    pub name: String,
    pub addr: String,
}

/// One dependency series of a host, upstream or downstream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dependency {
    pub protocol: String,
    pub process: String,
    pub container: String,
    pub peer: Peer,
    /// The server's port: the peer's for upstream, this host's for
    /// downstream.
    pub port: String,
    /// As this host sees it: `bytes_out` is what this host sent.
    pub traffic: Traffic,
}

/// What moved over a dependency or an edge: rates per second with
/// `--prometheus`, totals with `--files`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Traffic {
    /// Connections open now.
    pub open: f64,
    pub bytes_out: f64,
    pub bytes_in: f64,
    pub connect_failures: f64,
    pub retransmits: f64,
}

impl Traffic {
    /// Adds another's counts; `turned` reads them from the other end
    /// (a server's view of a client: its `in` is the client's `out`).
    pub fn add(&mut self, other: &Traffic, turned: bool) {
        let (out, back) = match turned {
            false => (other.bytes_out, other.bytes_in),
            true => (other.bytes_in, other.bytes_out),
        };
        self.open += other.open;
        self.bytes_out += out;
        self.bytes_in += back;
        self.connect_failures += other.connect_failures;
        self.retransmits += other.retransmits;
    }
}

/// A process on a host (in a container, or on the host itself): a node
/// `svc:<host>/<container>/<process>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Service {
    pub host: String,
    pub container: String,
    /// `""` when the host could not see it.
    pub process: String,
}

/// A port a host (or one of its containers) serves, whose process no host
/// reports: a node `port:<host>/<container>/<port>`, shown as `:<port>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Port {
    pub host: String,
    pub container: String,
    pub port: String,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NodeKind {
    Service(Service),
    /// The server end of an edge to a host, where nothing names its
    /// process.
    Port(Port),
    /// A peer that is no address of any host in the data: `ext:<name>`.
    External(Peer),
    /// An address several hosts have, none of them the client's
    /// (`ext:<addr>`): the edge points at no host rather than at an
    /// arbitrary one.
    Ambiguous {
        addr: String,
        hosts: Vec<String>,
    },
    /// A whole host, when the graph is drawn one node per host:
    /// `host:<name>`.
    Host(String),
}

/// With `--diff`: whether a node or edge is in the graph now only, in the
/// earlier one only, or in both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    New,
    Gone,
    Same,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::New => "new",
            Change::Gone => "gone",
            Change::Same => "same",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub id: String,
    pub kind: NodeKind,
    pub change: Option<Change>,
    /// A container's workload name, when the store knows it: the node's
    /// title (its id keeps the container ID).
    pub workload: Option<String>,
}

impl NodeKind {
    /// The node's id, as the spec writes it.
    pub fn id(&self) -> String {
        match self {
            NodeKind::Service(s) => format!("svc:{}/{}/{}", s.host, s.container, s.process),
            NodeKind::Port(p) => format!("port:{}/{}/{}", p.host, p.container, p.port),
            NodeKind::External(peer) => format!("ext:{}", peer.name),
            NodeKind::Ambiguous { addr, .. } => format!("ext:{addr}"),
            NodeKind::Host(name) => format!("host:{name}"),
        }
    }

    /// The host a node is on, if it is on one.
    pub fn host(&self) -> Option<&str> {
        match self {
            NodeKind::Service(s) => Some(&s.host),
            NodeKind::Port(p) => Some(&p.host),
            NodeKind::Host(name) => Some(name),
            NodeKind::External(_) | NodeKind::Ambiguous { .. } => None,
        }
    }
}

/// Client to server, on the server's port.
#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    /// `<source>-><target>:<port>`.
    pub id: String,
    pub source: String,
    pub target: String,
    pub port: String,
    pub traffic: Traffic,
    pub change: Option<Change>,
}

/// Nodes and edges, each sorted by id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    /// Drawn one node per host.
    pub grouped: bool,
}
