//! Which side of a dependency each connection is on, which series it
//! belongs to, and how many payload bytes it moved.
//!
//! A connection whose local port is one this host serves (same protocol, same
//! address or a wildcard listener, in the same network namespace) is
//! downstream: a peer depends on us, and the series' port is our serving
//! port. Every other connection is upstream: we depend on the peer, and the
//! port is the peer's. A container's loopback connection is both, inside it.

use std::collections::HashMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::payload::{payload, Payload};
use crate::kernel::socket::{state, Protocol, SockRecord};
use crate::snapshot::Snapshot;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// We depend on the peer.
    Upstream,
    /// The peer depends on us.
    Downstream,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Upstream => "upstream",
            Side::Downstream => "downstream",
        }
    }
}

/// The labels of a dependency series, before the peer is named.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SeriesKey {
    pub side: Side,
    pub protocol: Protocol,
    pub process: String,
    /// The `container` label (see `Snapshot::container`); absent in state
    /// files from before planet read other namespaces.
    #[serde(default)]
    pub container: String,
    /// None for the `other` series the state folds its smallest peers into
    /// (see `Counters::cap`).
    pub addr: Option<IpAddr>,
    /// [`OTHER_PORT`] for a series the cap folded ports into.
    pub port: u16,
}

/// The port of a series whose ports the state's cap folded together
/// (`port="other"`): no connection has port 0 at either end.
pub const OTHER_PORT: u16 = 0;
/// The process and container of the series the cap folds everything into
/// when even folded ports exceed it (a tenant with thousands of process
/// names or namespaces).
pub const OTHER: &str = "other";

impl SeriesKey {
    /// The `port` label.
    pub fn port_label(port: u16) -> String {
        match port {
            OTHER_PORT => OTHER.to_string(),
            port => port.to_string(),
        }
    }
}

/// What one socket says about its dependency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    pub key: SeriesKey,
    /// Counts in the open-connections gauge, and is tracked by its cookie.
    /// False for TIME_WAIT, and for the kernel's mini sockets, which only
    /// prove a recent or coming dependency (see [`is_mini_socket`]).
    pub open: bool,
    /// Payload bytes so far, TCP sockets with a `tcp_info` only.
    pub payload: Option<Payload>,
}

/// A service's bound address, process name and container label.
type Listener = (IpAddr, String, String);

/// The host's services, for telling downstream from upstream.
pub struct Classifier {
    /// (namespace, protocol, port) -> its listeners.
    services: HashMap<(u64, Protocol, u16), Vec<Listener>>,
}

impl Classifier {
    pub fn new(snapshot: &Snapshot, sockets: &[SockRecord]) -> Classifier {
        let mut services: HashMap<_, Vec<Listener>> = HashMap::new();
        for socket in sockets {
            if snapshot.serves(socket) {
                let name = snapshot.processes.name(socket.inode).to_string();
                let container = snapshot.container(socket).to_string();
                let bound = services
                    .entry((socket.netns, socket.protocol, socket.local_port))
                    .or_default();
                bound.push((socket.local_addr, name, container));
                // Deterministic choice among several listeners: sorted, first wins.
                bound.sort();
            }
        }
        Classifier { services }
    }

    /// The service a local address and port belong to: its process name
    /// and container label.
    fn service(&self, socket: &SockRecord) -> Option<(&str, &str)> {
        let key = (socket.netns, socket.protocol, socket.local_port);
        let bound = self.services.get(&key)?;
        let addr = socket.local_addr;
        bound
            .iter()
            .find(|(a, _, _)| *a == addr)
            .or_else(|| bound.iter().find(|(a, _, _)| covers(*a, addr)))
            .map(|(_, name, container)| (name.as_str(), container.as_str()))
    }

    /// Classifies a socket with the name and container label of its owner
    /// (`""` and its namespace's label if unknown). None for sockets that
    /// are not connections: listeners, unconnected UDP.
    pub fn observe(
        &self,
        socket: &SockRecord,
        owner: &str,
        container: &str,
    ) -> Option<Observation> {
        if socket.remote_port == 0 || socket.state == state::LISTEN {
            return None;
        }
        let key = match self.service(socket) {
            // A socket no process holds any more still belongs to the service.
            Some((listener, listening)) => SeriesKey {
                side: Side::Downstream,
                protocol: socket.protocol,
                process: if owner.is_empty() { listener } else { owner }.to_string(),
                container: if owner.is_empty() {
                    listening
                } else {
                    container
                }
                .to_string(),
                addr: Some(socket.remote_addr),
                port: socket.local_port,
            },
            None => SeriesKey {
                side: Side::Upstream,
                protocol: socket.protocol,
                process: owner.to_string(),
                container: container.to_string(),
                addr: Some(socket.remote_addr),
                port: socket.remote_port,
            },
        };
        let payload = payload(socket, key.side);
        Some(Observation {
            open: socket.state != state::TIME_WAIT && !is_mini_socket(socket),
            payload,
            key,
        })
    }
}

/// A TCP row without `tcp_info` is one of the kernel's mini sockets: a
/// time-wait socket (reported in its substate, FIN_WAIT2 or TIME_WAIT) or a
/// request socket (NEW_SYN_RECV). A time-wait socket carries the cookie of
/// the full socket it replaced, which may already have been counted at its
/// close: tracking it as a socket of its own would count that socket again.
/// A request socket becomes, once accepted, a socket with a cookie of its
/// own: counting both would count one connection twice.
pub fn is_mini_socket(socket: &SockRecord) -> bool {
    socket.protocol == Protocol::Tcp && socket.tcp.is_none()
}

/// Whether a listener bound to `bound` accepts connections to `local`.
fn covers(bound: IpAddr, local: IpAddr) -> bool {
    match bound {
        IpAddr::V4(b) => b.is_unspecified() && local.is_ipv4(),
        // `::` also takes IPv4 (as IPv4-mapped, already folded to IPv4).
        IpAddr::V6(b) => b.is_unspecified(),
    }
}

/// An upstream TCP series of process `p` to `addr`, port 80: the tests'
/// series of every shape.
#[cfg(test)]
pub(crate) fn upstream_to(addr: &str) -> SeriesKey {
    SeriesKey {
        side: Side::Upstream,
        protocol: Protocol::Tcp,
        process: "p".into(),
        container: String::new(),
        addr: Some(addr.parse().expect("a test address")),
        port: 80,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::accounting::payload::tests::tcp;

    #[test]
    fn only_connections_to_a_served_address_are_downstream() {
        let listener = |addr: &str| SockRecord {
            state: state::LISTEN,
            local_addr: addr.parse().unwrap(),
            local_port: 80,
            remote_addr: "0.0.0.0".parse().unwrap(),
            remote_port: 0,
            ..tcp(state::LISTEN, 0, 0, None)
        };
        let connection = |local: &str| SockRecord {
            local_addr: local.parse().unwrap(),
            local_port: 80,
            remote_addr: "10.9.9.9".parse().unwrap(),
            remote_port: 5555,
            ..tcp(state::ESTABLISHED, 1, 0, Some(0))
        };
        let sockets = vec![listener("10.0.0.1")];
        let classifier = Classifier::new(&Snapshot::of(sockets.clone()), &sockets);
        let side = |local: &str| classifier.observe(&connection(local), "x", "").unwrap().key;
        // To the served address: downstream, our port.
        assert_eq!(
            (side("10.0.0.1").side, side("10.0.0.1").port),
            (Side::Downstream, 80)
        );
        // From port 80 of another address: upstream, the peer's port.
        assert_eq!(
            (side("10.0.0.2").side, side("10.0.0.2").port),
            (Side::Upstream, 5555)
        );

        let sockets = vec![listener("::")];
        let classifier = Classifier::new(&Snapshot::of(sockets.clone()), &sockets);
        let key = classifier
            .observe(&connection("10.0.0.2"), "", "")
            .unwrap()
            .key;
        assert_eq!(key.side, Side::Downstream, "a :: listener serves IPv4 too");
        assert_eq!(key.process, "", "the listener's owner, unknown here");
    }

    #[test]
    fn mini_sockets_are_not_connections_of_their_own() {
        let sockets = Vec::new();
        let classifier = Classifier::new(&Snapshot::of(sockets.clone()), &sockets);
        let full = tcp(state::FIN_WAIT2, 10, 10, Some(9));
        assert!(classifier.observe(&full, "p", "").unwrap().open);
        // The time-wait socket that replaced it, in its FIN_WAIT2 substate.
        let time_wait = SockRecord {
            tcp: None,
            inode: 0,
            ..full.clone()
        };
        assert!(!classifier.observe(&time_wait, "", "").unwrap().open);
        let request = SockRecord {
            state: state::NEW_SYN_RECV,
            ..time_wait
        };
        assert!(!classifier.observe(&request, "", "").unwrap().open);
    }
}
