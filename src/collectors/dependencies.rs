//! What this host depends on (upstream) and who depends on it (downstream):
//! open connections and payload bytes per peer, from the counter state the
//! run has just brought up to date.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use super::Collector;
use crate::counters::{Counters, Totals};
use crate::dependencies::{SeriesKey, Side};
use crate::exposition::Family;
use crate::peers::{self, Peer};
use crate::snapshot::Snapshot;

pub struct Dependencies {
    pub max_peers: usize,
}

/// The labels of one rendered series: (protocol, process, name, domain, addr, port).
type Labels = (&'static str, String, String, String, String, String);

#[derive(Default)]
struct Sum {
    open: u64,
    sent: u64,
    received: u64,
    bytes: bool,
}

impl Collector for Dependencies {
    fn name(&self) -> &'static str {
        "dependencies"
    }

    fn collect(&mut self, snapshot: &Snapshot) -> Result<Vec<Family>, String> {
        snapshot.sockets()?;
        let Some(state) = &snapshot.dependencies else {
            return Err("no dependency accounting in this run".into());
        };
        let names = peers::name_all(unique_addrs(state.series.keys()));
        let mut families = Vec::new();
        let mut folded = Family::gauge(
            "planet_peers_folded",
            "Peers beyond --max-peers, folded into the series with name=\"other\".",
        );
        for side in [Side::Upstream, Side::Downstream] {
            let series: Vec<(&SeriesKey, &Totals)> = state
                .series
                .iter()
                .filter(|(k, _)| k.side == side)
                .collect();
            let (sums, n_folded) = self.fold(&series, &names);
            folded.push([("family", side.as_str())], n_folded as f64);
            families.extend(render_side(side, &sums));
        }
        families.push(folded);
        if let Some(lost) = state.destroy_lost {
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

impl Dependencies {
    /// Sums series by their labels, keeping the `max_peers` peers with the
    /// most bytes and folding the rest into one `other` peer.
    fn fold(
        &self,
        series: &[(&SeriesKey, &Totals)],
        names: &HashMap<IpAddr, Peer>,
    ) -> (BTreeMap<Labels, Sum>, usize) {
        let mut by_peer: HashMap<IpAddr, u64> = HashMap::new();
        for (key, totals) in series {
            *by_peer.entry(key.addr).or_default() += totals.bytes.sent + totals.bytes.received;
        }
        let mut ranked: Vec<(IpAddr, u64)> = by_peer.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let kept: HashMap<IpAddr, ()> = ranked
            .iter()
            .take(self.max_peers)
            .map(|(a, _)| (*a, ()))
            .collect();
        let n_folded = ranked.len().saturating_sub(self.max_peers);

        let mut sums: BTreeMap<Labels, Sum> = BTreeMap::new();
        for (key, totals) in series {
            let (name, domain, addr) = if kept.contains_key(&key.addr) {
                let peer = &names[&key.addr];
                (peer.name.clone(), peer.domain.clone(), key.addr.to_string())
            } else {
                ("other".to_string(), String::new(), String::new())
            };
            let labels = (
                key.protocol.as_str(),
                key.process.clone(),
                name,
                domain,
                addr,
                key.port.to_string(),
            );
            let sum = sums.entry(labels).or_default();
            sum.open += totals.open;
            sum.sent += totals.bytes.sent;
            sum.received += totals.bytes.received;
            sum.bytes |= Counters::counts_bytes(key.protocol);
        }
        (sums, n_folded)
    }
}

fn unique_addrs<'a>(keys: impl Iterator<Item = &'a SeriesKey>) -> Vec<IpAddr> {
    let mut addrs: Vec<IpAddr> = keys.map(|k| k.addr).collect();
    addrs.sort();
    addrs.dedup();
    addrs
}

fn render_side(side: Side, sums: &BTreeMap<Labels, Sum>) -> [Family; 2] {
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
    let mut bytes = Family::counter(format!("planet_{}_bytes_total", side.as_str()), bytes_help);
    for ((protocol, process, name, domain, addr, port), sum) in sums {
        let labels = [
            ("protocol", *protocol),
            ("process", process.as_str()),
            ("name", name.as_str()),
            ("domain", domain.as_str()),
            ("addr", addr.as_str()),
            ("port", port.as_str()),
        ];
        gauge.push(labels, sum.open as f64);
        if sum.bytes {
            for (direction, value) in [("in", sum.received), ("out", sum.sent)] {
                bytes.push(
                    labels.into_iter().chain([("direction", direction)]),
                    value as f64,
                );
            }
        }
    }
    [gauge, bytes]
}
