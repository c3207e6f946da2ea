//! Every family planet ships, declared once. `ALL` is the order the docs
//! list them in.

use super::label::*;
use super::{Declared, Label, Spec};

/// The labels of `planet_serving*`.
pub const SERVICE: [Label; 5] = [PROTOCOL, NAME, CONTAINER, ADDR, PORT];
/// The labels of every dependency series.
pub const DEPENDENCY: [Label; 7] = [PROTOCOL, PROCESS, CONTAINER, NAME, DOMAIN, ADDR, PORT];
/// The labels of the byte counters: a dependency's, and a direction.
pub const DEPENDENCY_BYTES: [Label; 8] = [
    PROTOCOL, PROCESS, CONTAINER, NAME, DOMAIN, ADDR, PORT, DIRECTION,
];

pub static SERVING: Spec<5> = Spec::gauge(
    "planet_serving",
    "A service this host offers: a listening TCP socket or a bound UDP socket outside the ephemeral port range.",
    SERVICE,
);
pub static SERVING_BACKLOG: Spec<5> = Spec::gauge(
    "planet_serving_backlog",
    "Connections waiting in the accept queue (ss -lt Recv-Q), summed over the sockets of the series.",
    SERVICE,
);
pub static SERVING_BACKLOG_MAX: Spec<5> = Spec::gauge(
    "planet_serving_backlog_max",
    "Maximum accept queue (ss -lt Send-Q), summed over the sockets of the series.",
    SERVICE,
);

/// One side's dependency families, so that code written once serves both.
pub struct Side {
    pub open: &'static Spec<7>,
    pub bytes: &'static Spec<8>,
    pub opened: &'static Spec<7>,
    pub retransmits: &'static Spec<7>,
    pub rtt: &'static Spec<7>,
    /// Upstream only: connects that failed.
    pub failures: Option<&'static Spec<7>>,
}

pub static UPSTREAM: Spec<7> = Spec::gauge(
    "planet_upstream",
    "Open connections from this host to a peer it depends on (TCP not LISTEN or TIME_WAIT; connected UDP).",
    DEPENDENCY,
);
pub static UPSTREAM_BYTES: Spec<8> = Spec::counter(
    "planet_upstream_bytes_total",
    "Payload bytes to (out) and from (in) a peer this host depends on, over TCP.",
    DEPENDENCY_BYTES,
);
pub static UPSTREAM_CONNECTIONS: Spec<7> = Spec::counter(
    "planet_upstream_connections_total",
    "Connections opened to this peer, each socket counted once when planet first sees it; failed attempts included.",
    DEPENDENCY,
);
pub static UPSTREAM_CONNECT_FAILURES: Spec<7> = Spec::counter(
    "planet_upstream_connect_failures_total",
    "TCP connections to this peer that ended without being established (refused, timed out, closed while connecting); counted under --loop.",
    DEPENDENCY,
);
pub static UPSTREAM_RETRANSMITS: Spec<7> = Spec::counter(
    "planet_upstream_retransmits_total",
    "TCP segments retransmitted over the connections to this peer.",
    DEPENDENCY,
);
pub static UPSTREAM_RTT: Spec<7> = Spec::gauge(
    "planet_upstream_rtt_seconds",
    "Mean smoothed round-trip time of the established TCP connections to this peer now.",
    DEPENDENCY,
);
pub static DOWNSTREAM: Spec<7> = Spec::gauge(
    "planet_downstream",
    "Open connections from a peer that depends on this host, to a port this host serves.",
    DEPENDENCY,
);
pub static DOWNSTREAM_BYTES: Spec<8> = Spec::counter(
    "planet_downstream_bytes_total",
    "Payload bytes from (in) and to (out) a peer that depends on this host, over TCP.",
    DEPENDENCY_BYTES,
);
pub static DOWNSTREAM_CONNECTIONS: Spec<7> = Spec::counter(
    "planet_downstream_connections_total",
    "Connections opened from this peer, each socket counted once when planet first sees it.",
    DEPENDENCY,
);
pub static DOWNSTREAM_RETRANSMITS: Spec<7> = Spec::counter(
    "planet_downstream_retransmits_total",
    "TCP segments retransmitted over the connections from this peer.",
    DEPENDENCY,
);
pub static DOWNSTREAM_RTT: Spec<7> = Spec::gauge(
    "planet_downstream_rtt_seconds",
    "Mean smoothed round-trip time of the established TCP connections from this peer now.",
    DEPENDENCY,
);

pub static UPSTREAM_SIDE: Side = Side {
    open: &UPSTREAM,
    bytes: &UPSTREAM_BYTES,
    opened: &UPSTREAM_CONNECTIONS,
    retransmits: &UPSTREAM_RETRANSMITS,
    rtt: &UPSTREAM_RTT,
    failures: Some(&UPSTREAM_CONNECT_FAILURES),
};
pub static DOWNSTREAM_SIDE: Side = Side {
    open: &DOWNSTREAM,
    bytes: &DOWNSTREAM_BYTES,
    opened: &DOWNSTREAM_CONNECTIONS,
    retransmits: &DOWNSTREAM_RETRANSMITS,
    rtt: &DOWNSTREAM_RTT,
    failures: None,
};

pub static PEERS_FOLDED: Spec<1> = Spec::gauge(
    "planet_peers_folded",
    "Peers beyond --max-peers or the state's series cap, folded into the series with name=\"other\".",
    [FAMILY],
);
pub static DNS_LOOKUPS: Spec<1> = Spec::counter(
    "planet_dns_lookups_total",
    "Reverse DNS look-ups of peers by result (hit: answered from planet's cache); not with --no-resolve.",
    [RESULT],
);
pub static DESTROY_NOTIFICATIONS_LOST: Spec<0> = Spec::counter(
    "planet_destroy_notifications_lost_total",
    "Socket destroy notifications dropped since planet started (--loop), by the kernel (each overflow counts once) or by planet's queue bound.",
    [],
);

pub static PROCESS_SOCKETS: Spec<4> = Spec::gauge(
    "planet_process_sockets",
    "Open TCP and UDP sockets per owning process, its container, protocol and state.",
    [PROCESS, CONTAINER, PROTOCOL, STATE],
);

pub static ADDRESS: Spec<2> = Spec::gauge(
    "planet_address",
    "An address on an interface of this host (container=\"\") or of a container's network namespace; loopback and link-local left out.",
    [ADDR, CONTAINER],
);
pub static HOST_INFO: Spec<1> = Spec::gauge(
    "planet_host_info",
    "This host's name (uname nodename); always 1.",
    [HOSTNAME],
);
pub static NETWORK_NAMESPACES: Spec<0> = Spec::gauge(
    "planet_network_namespaces",
    "Network namespaces whose sockets this run read.",
    [],
);
pub static NETWORK_NAMESPACES_SKIPPED: Spec<1> = Spec::gauge(
    "planet_network_namespaces_skipped",
    "Network namespaces some process lives in whose sockets this run could not read, by reason.",
    [REASON],
);

pub static WRAP_UP: Spec<1> = Spec::gauge(
    "planet_wrap_up",
    "1 if the wrapped source answered with a page planet could parse, else 0.",
    [SOURCE],
);

pub static BUILD_INFO: Spec<1> = Spec::gauge(
    "planet_build_info",
    "planet's version; always 1.",
    [VERSION],
);
pub static COLLECTOR_SUCCESS: Spec<1> = Spec::gauge(
    "planet_collector_success",
    "1 if the collector's last run succeeded, 0 if it failed (its series are then missing).",
    [COLLECTOR],
);
pub static COLLECTOR_DURATION: Spec<1> = Spec::gauge(
    "planet_collector_duration_seconds",
    "Time the collector took in the last run, not counting the shared socket snapshot.",
    [COLLECTOR],
);
pub static SNAPSHOT_DURATION: Spec<0> = Spec::gauge(
    "planet_snapshot_duration_seconds",
    "Time spent reading the kernel's socket tables and mapping sockets to processes.",
    [],
);
pub static COLLECT_TIMESTAMP: Spec<0> = Spec::gauge(
    "planet_collect_timestamp_seconds",
    "When this file was produced, in seconds since the Unix epoch.",
    [],
);
pub static LOOP_FAILURES: Spec<0> = Spec::counter(
    "planet_loop_failures_total",
    "Iterations of --loop whose output could not be written since planet started.",
    [],
);

/// The families the runner writes itself, whatever the collectors.
pub static SELF: [Declared; 6] = [
    BUILD_INFO.declared(),
    COLLECTOR_SUCCESS.declared(),
    COLLECTOR_DURATION.declared(),
    SNAPSHOT_DURATION.declared(),
    COLLECT_TIMESTAMP.declared(),
    LOOP_FAILURES.declared(),
];

/// Every family planet ships, in the order the docs list them.
pub static ALL: [Declared; 29] = [
    SERVING.declared(),
    SERVING_BACKLOG.declared(),
    SERVING_BACKLOG_MAX.declared(),
    UPSTREAM.declared(),
    UPSTREAM_BYTES.declared(),
    UPSTREAM_CONNECTIONS.declared(),
    UPSTREAM_CONNECT_FAILURES.declared(),
    UPSTREAM_RETRANSMITS.declared(),
    UPSTREAM_RTT.declared(),
    DOWNSTREAM.declared(),
    DOWNSTREAM_BYTES.declared(),
    DOWNSTREAM_CONNECTIONS.declared(),
    DOWNSTREAM_RETRANSMITS.declared(),
    DOWNSTREAM_RTT.declared(),
    PEERS_FOLDED.declared(),
    DNS_LOOKUPS.declared(),
    DESTROY_NOTIFICATIONS_LOST.declared(),
    PROCESS_SOCKETS.declared(),
    ADDRESS.declared(),
    HOST_INFO.declared(),
    NETWORK_NAMESPACES.declared(),
    NETWORK_NAMESPACES_SKIPPED.declared(),
    WRAP_UP.declared(),
    BUILD_INFO.declared(),
    COLLECTOR_SUCCESS.declared(),
    COLLECTOR_DURATION.declared(),
    SNAPSHOT_DURATION.declared(),
    COLLECT_TIMESTAMP.declared(),
    LOOP_FAILURES.declared(),
];
