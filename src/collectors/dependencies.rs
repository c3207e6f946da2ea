//! What this host depends on (upstream) and who depends on it (downstream):
//! open connections, payload bytes and connection health per peer. The run
//! has already brought the counters up to date, folded the smallest peers
//! and named the rest; this collector only writes them.

use super::collector::{Collector, Input, Needs};
use crate::accounting::classify::{SeriesKey, Side};
use crate::error::Error;
use crate::exposition::Family;
use crate::kernel::socket::Protocol;

/// Its flags (`--max-peers`, `--forget-after`, ...) belong to the
/// accounting stage it reads, which the runner sets up.
#[derive(Debug, Default, clap::Args)]
pub struct Dependencies;

impl Collector for Dependencies {
    fn needs(&self) -> Needs {
        Needs::Accounting
    }

    fn families(&self) -> Vec<String> {
        [
            "planet_upstream",
            "planet_upstream_bytes_total",
            "planet_upstream_connections_total",
            "planet_upstream_connect_failures_total",
            "planet_upstream_retransmits_total",
            "planet_upstream_rtt_seconds",
            "planet_downstream",
            "planet_downstream_bytes_total",
            "planet_downstream_connections_total",
            "planet_downstream_retransmits_total",
            "planet_downstream_rtt_seconds",
            "planet_peers_folded",
            "planet_dns_lookups_total",
            "planet_destroy_notifications_lost_total",
        ]
        .map(String::from)
        .to_vec()
    }

    fn collect(&mut self, input: &Input) -> Result<Vec<Family>, Error> {
        input.snapshot.sockets()?;
        let Some(deps) = input.accounted else {
            return Err(Error::Kernel("no dependency accounting in this run".into()));
        };
        let mut families = Vec::new();
        for side in [Side::Upstream, Side::Downstream] {
            let (gauge_help, bytes_help) = match side {
                Side::Upstream => (
                    "Open connections from this host to a peer it depends on (TCP not LISTEN or TIME_WAIT; connected UDP).",
                    "Payload bytes to (out) and from (in) a peer this host depends on, over TCP.",
                ),
                Side::Downstream => (
                    "Open connections from a peer that depends on this host, to a port this host serves.",
                    "Payload bytes from (in) and to (out) a peer that depends on this host, over TCP.",
                ),
            };
            let name = |suffix: &str| format!("planet_{}{suffix}", side.as_str());
            let mut gauge = Family::gauge(name(""), gauge_help);
            let mut bytes = Family::counter(name("_bytes_total"), bytes_help);
            let mut connections = Family::counter(
                name("_connections_total"),
                "Connections opened, each socket counted once when planet first sees it; failed attempts included.",
            );
            let mut retransmits = Family::counter(
                name("_retransmits_total"),
                "TCP segments retransmitted over the connections of this dependency.",
            );
            let mut rtt = Family::gauge(
                name("_rtt_seconds"),
                "Mean smoothed round-trip time of this dependency's established TCP connections now.",
            );
            let mut failures = Family::counter(
                "planet_upstream_connect_failures_total",
                "TCP connections to this peer that ended without being established (refused, timed out, closed while connecting); counted under --loop.",
            );
            for (row, totals) in deps.rows.iter().filter(|(row, _)| row.side == side) {
                let (name, domain, addr) = match row.peer {
                    Some(addr) => match deps.names.get(&addr) {
                        Some(peer) => (peer.name.clone(), peer.domain.clone(), addr.to_string()),
                        None => (addr.to_string(), String::new(), addr.to_string()),
                    },
                    None => ("other".to_string(), String::new(), String::new()),
                };
                let port = SeriesKey::port_label(row.port);
                let labels = [
                    ("protocol", row.protocol.as_str()),
                    ("process", row.process.as_str()),
                    ("container", row.container.as_str()),
                    ("name", name.as_str()),
                    ("domain", domain.as_str()),
                    ("addr", addr.as_str()),
                    ("port", port.as_str()),
                ];
                gauge.push(labels, totals.open as f64);
                connections.push(labels, totals.connections as f64);
                if row.protocol == Protocol::Tcp {
                    for (direction, value) in
                        [("in", totals.bytes.received), ("out", totals.bytes.sent)]
                    {
                        bytes.push(
                            labels.into_iter().chain([("direction", direction)]),
                            value as f64,
                        );
                    }
                    retransmits.push(labels, totals.retransmits as f64);
                    if side == Side::Upstream {
                        failures.push(labels, totals.failures as f64);
                    }
                    if totals.rtt_count > 0 {
                        let mean_us = totals.rtt_sum_us as f64 / totals.rtt_count as f64;
                        rtt.push(labels, mean_us / 1e6);
                    }
                }
            }
            families.extend([gauge, bytes, connections, retransmits, rtt]);
            if side == Side::Upstream {
                families.push(failures);
            }
        }
        let mut folded = Family::gauge(
            "planet_peers_folded",
            "Peers beyond --max-peers, folded into the series with name=\"other\".",
        );
        for (side, n) in deps.folded {
            folded.push([("family", side.as_str())], n as f64);
        }
        families.push(folded);
        if let Some(lookups) = deps.dns_lookups {
            let mut family = Family::counter(
                "planet_dns_lookups_total",
                "Reverse DNS look-ups of peers by result (hit: answered from planet's cache).",
            );
            for (result, n) in lookups.by_result() {
                family.push([("result", result)], n as f64);
            }
            families.push(family);
        }
        if let Some(lost) = deps.destroy_lost {
            families.push(
                Family::counter(
                    "planet_destroy_notifications_lost_total",
                    "Times socket destroy notifications were dropped (each may stand for several closed connections).",
                )
                .with([], lost as f64),
            );
        }
        Ok(families)
    }
}
