//! Where the graph's series come from: the `.prom` files of several hosts
//! ([`files`], totals), or any server that answers the Prometheus HTTP API
//! ([`prometheus`]: Prometheus, Thanos, Mimir, VictoriaMetrics), with byte
//! and event counters as rates over a window. Both hand their samples to
//! [`fleet`], which reads them through the schema into typed hosts.

use std::collections::BTreeMap;

use super::model::{Address, Dependency, Fleet, Peer, Serving, Traffic};
use crate::error::Error;
use crate::schema::{self, label};

pub mod files;
pub mod http;
pub mod prometheus;

/// One sample of a host: its family, labels and value.
pub struct HostSample {
    pub host: String,
    pub family: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// The families the graph reads, and whether each is a counter (read as a
/// rate from Prometheus).
pub fn families() -> [(&'static str, bool); 10] {
    [
        (schema::HOST_INFO.name, false),
        (schema::ADDRESS.name, false),
        (schema::SERVING.name, false),
        (schema::UPSTREAM.name, false),
        (schema::DOWNSTREAM.name, false),
        (schema::UPSTREAM_BYTES.name, true),
        (schema::DOWNSTREAM_BYTES.name, true),
        (schema::UPSTREAM_CONNECT_FAILURES.name, true),
        (schema::UPSTREAM_RETRANSMITS.name, true),
        (schema::DOWNSTREAM_RETRANSMITS.name, true),
    ]
}

/// Names for things (hosts) by what they call themselves, where that is
/// theirs alone; the others keep their `fallback` (a file, an instance).
pub fn unique_names(names: &[(String, String)]) -> Vec<String> {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (name, _) in names {
        *seen.entry(name.as_str()).or_default() += 1;
    }
    names
        .iter()
        .map(|(name, fallback)| match seen.get(name.as_str()) {
            Some(1) if !name.is_empty() => name.clone(),
            _ => fallback.clone(),
        })
        .collect()
}

/// Which side a dependency family is on, and what it counts.
enum Reading {
    Open,
    Bytes,
    Failures,
    Retransmits,
}

fn dependency_family(name: &str) -> Option<(bool, Reading)> {
    let found = [
        (&schema::UPSTREAM, false, Reading::Open),
        (&schema::DOWNSTREAM, true, Reading::Open),
        (&schema::UPSTREAM_CONNECT_FAILURES, false, Reading::Failures),
        (&schema::UPSTREAM_RETRANSMITS, false, Reading::Retransmits),
        (&schema::DOWNSTREAM_RETRANSMITS, true, Reading::Retransmits),
    ]
    .into_iter()
    .find(|(spec, _, _)| spec.name == name)
    .map(|(_, downstream, reading)| (downstream, reading));
    found.or_else(|| match name {
        n if n == schema::UPSTREAM_BYTES.name => Some((false, Reading::Bytes)),
        n if n == schema::DOWNSTREAM_BYTES.name => Some((true, Reading::Bytes)),
        _ => None,
    })
}

/// The hosts' data from their samples. `looked_in` names where they came
/// from, for the error when there is no planet series at all.
pub fn fleet(samples: Vec<HostSample>, looked_in: &str) -> Result<Fleet, Error> {
    /// A dependency series' identity on one host, by its labels.
    type Key = (String, bool, [String; 6]);
    let mut hosts: Fleet = BTreeMap::new();
    let mut rows: BTreeMap<Key, Dependency> = BTreeMap::new();
    let mut found = false;
    for sample in samples {
        let get = |l: schema::Label| sample.labels.get(l.name).cloned().unwrap_or_default();
        let host = hosts.entry(sample.host.clone()).or_default();
        let family = sample.family.as_str();
        if family == schema::HOST_INFO.name {
            found = true;
            continue;
        }
        if family == schema::ADDRESS.name {
            host.addresses.push(Address {
                addr: get(label::ADDR),
                container: get(label::CONTAINER),
            });
            continue;
        }
        if family == schema::SERVING.name {
            host.serving.push(Serving {
                protocol: get(label::PROTOCOL),
                container: get(label::CONTAINER),
                process: get(label::NAME),
                port: get(label::PORT),
            });
            continue;
        }
        let Some((downstream, reading)) = dependency_family(family) else {
            continue;
        };
        found = true;
        let labels = [
            label::PROTOCOL,
            label::PROCESS,
            label::CONTAINER,
            label::NAME,
            label::ADDR,
            label::PORT,
        ]
        .map(get);
        let row = rows
            .entry((sample.host, downstream, labels.clone()))
            .or_insert_with(|| {
                let [protocol, process, container, name, addr, port] = labels;
                Dependency {
                    protocol,
                    process,
                    container,
                    peer: Peer { name, addr },
                    port,
                    traffic: Traffic::default(),
                }
            });
        let traffic = &mut row.traffic;
        match reading {
            Reading::Open => traffic.open = sample.value,
            Reading::Bytes => match sample.labels.get(label::DIRECTION.name).map(String::as_str) {
                Some("out") => traffic.bytes_out = sample.value,
                _ => traffic.bytes_in = sample.value,
            },
            Reading::Failures => traffic.connect_failures = sample.value,
            Reading::Retransmits => traffic.retransmits = sample.value,
        }
    }
    if !found {
        return Err(Error::NoSeries {
            looked_in: looked_in.to_string(),
        });
    }
    for ((name, downstream, _), row) in rows {
        let host = hosts.entry(name).or_default();
        match downstream {
            false => host.upstream.push(row),
            true => host.downstream.push(row),
        }
    }
    for host in hosts.values_mut() {
        host.addresses.sort();
        host.addresses.dedup();
        host.serving.sort();
        host.serving.dedup();
    }
    Ok(hosts)
}
