//! What this host depends on (upstream) and who depends on it (downstream):
//! open connections and payload bytes per peer. The run has already brought
//! the counters up to date, folded the smallest peers and named the rest;
//! this collector only writes them.

use super::collector::{Collector, Input, Needs};
use crate::accounting::classify::Side;
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
            "planet_downstream",
            "planet_downstream_bytes_total",
            "planet_peers_folded",
            "planet_dns_lookups_total",
            "planet_destroy_events_lost_total",
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
            let mut gauge = Family::gauge(format!("planet_{}", side.as_str()), gauge_help);
            let mut bytes =
                Family::counter(format!("planet_{}_bytes_total", side.as_str()), bytes_help);
            for (row, totals) in deps.rows.iter().filter(|(row, _)| row.side == side) {
                let (name, domain, addr) = match row.peer {
                    Some(addr) => match deps.names.get(&addr) {
                        Some(peer) => (peer.name.clone(), peer.domain.clone(), addr.to_string()),
                        None => (addr.to_string(), String::new(), addr.to_string()),
                    },
                    None => ("other".to_string(), String::new(), String::new()),
                };
                let port = row.port.to_string();
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
                if row.protocol == Protocol::Tcp {
                    for (direction, value) in
                        [("in", totals.bytes.received), ("out", totals.bytes.sent)]
                    {
                        bytes.push(
                            labels.into_iter().chain([("direction", direction)]),
                            value as f64,
                        );
                    }
                }
            }
            families.extend([gauge, bytes]);
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
                    "planet_destroy_events_lost_total",
                    "Times socket destroy notifications were dropped (each may stand for several closed connections).",
                )
                .with([], lost as f64),
            );
        }
        Ok(families)
    }
}
