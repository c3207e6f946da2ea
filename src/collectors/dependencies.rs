//! What this host depends on (upstream) and who depends on it (downstream):
//! open connections, payload bytes and connection health per peer. The run
//! has already brought the counters up to date, folded the smallest peers
//! and named the rest; this collector only writes them.

use super::collector::{Collector, Input, Needs};
use crate::accounting::classify::{SeriesKey, Side};
use crate::error::Error;
use crate::exposition::Family;
use crate::kernel::socket::Protocol;
use crate::schema::{self, Declared};

/// Its flags (`--max-peers`, `--forget-after`, ...) belong to the
/// accounting stage it reads, which the runner sets up.
#[derive(Debug, Default, clap::Args)]
pub struct Dependencies;

impl Collector for Dependencies {
    fn needs(&self) -> Needs {
        Needs::Accounting
    }

    fn families(&self) -> Vec<Declared> {
        [
            &schema::UPSTREAM,
            &schema::UPSTREAM_CONNECTIONS,
            &schema::UPSTREAM_CONNECT_FAILURES,
            &schema::UPSTREAM_RETRANSMITS,
            &schema::UPSTREAM_RTT,
            &schema::DOWNSTREAM,
            &schema::DOWNSTREAM_CONNECTIONS,
            &schema::DOWNSTREAM_RETRANSMITS,
            &schema::DOWNSTREAM_RTT,
        ]
        .map(|spec| spec.declared())
        .into_iter()
        .chain([
            schema::UPSTREAM_BYTES.declared(),
            schema::DOWNSTREAM_BYTES.declared(),
            schema::PEERS_FOLDED.declared(),
            schema::DNS_LOOKUPS.declared(),
            schema::DESTROY_NOTIFICATIONS_LOST.declared(),
        ])
        .collect()
    }

    fn collect(&mut self, input: &Input) -> Result<Vec<Family>, Error> {
        input.snapshot.sockets()?;
        let Some(deps) = input.accounted else {
            return Err(Error::NotAccounted);
        };
        let mut families = Vec::new();
        for (side, specs) in [
            (Side::Upstream, &schema::UPSTREAM_SIDE),
            (Side::Downstream, &schema::DOWNSTREAM_SIDE),
        ] {
            let mut open = specs.open.family();
            let mut bytes = specs.bytes.family();
            let mut opened = specs.opened.family();
            let mut retransmits = specs.retransmits.family();
            let mut rtt = specs.rtt.family();
            let mut failures = specs.failures.map(|spec| spec.family());
            for (row, totals) in deps.rows.iter().filter(|(row, _)| row.side == side) {
                let (name, domain, addr) = match row.addr {
                    Some(addr) => match deps.names.get(&addr) {
                        Some(peer) => (peer.name.clone(), peer.domain.clone(), addr.to_string()),
                        None => (addr.to_string(), String::new(), addr.to_string()),
                    },
                    None => ("other".to_string(), String::new(), String::new()),
                };
                let port = SeriesKey::port_label(row.port);
                let labels = [
                    row.protocol.as_str(),
                    row.process.as_str(),
                    row.container.as_str(),
                    name.as_str(),
                    domain.as_str(),
                    addr.as_str(),
                    port.as_str(),
                ];
                open.push(labels, totals.open as f64);
                opened.push(labels, totals.opened as f64);
                if row.protocol == Protocol::Tcp {
                    let [protocol, process, container, name, domain, addr, port] = labels;
                    for (direction, value) in
                        [("in", totals.bytes.received), ("out", totals.bytes.sent)]
                    {
                        let labels =
                            [protocol, process, container, name, domain, addr, port, direction];
                        bytes.push(labels, value as f64);
                    }
                    retransmits.push(labels, totals.retransmits as f64);
                    if let Some(failures) = &mut failures {
                        failures.push(labels, totals.failures as f64);
                    }
                    if totals.rtt_count > 0 {
                        let mean_us = totals.rtt_sum_us as f64 / totals.rtt_count as f64;
                        rtt.push(labels, mean_us / 1e6);
                    }
                }
            }
            families.extend([open, opened, retransmits, rtt].map(schema::Writer::done));
            families.push(bytes.done());
            families.extend(failures.map(schema::Writer::done));
        }
        let mut folded = schema::PEERS_FOLDED.family();
        for (side, n) in deps.folded {
            folded.push([side.as_str()], n as f64);
        }
        families.push(folded.done());
        if let Some(lookups) = deps.dns_lookups {
            let mut family = schema::DNS_LOOKUPS.family();
            for (result, n) in lookups.by_result() {
                family.push([result], n as f64);
            }
            families.push(family.done());
        }
        if let Some(lost) = deps.destroy_lost {
            families.push(schema::DESTROY_NOTIFICATIONS_LOST.one([], lost as f64));
        }
        Ok(families)
    }
}
