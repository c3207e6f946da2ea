//! Who this host is, for joining hosts into a fleet's graph: its name,
//! the network namespaces read, and every address of the host and of each
//! container, so that a peer address in another host's series can be told
//! to be this host, or one of its containers.

use std::collections::BTreeSet;

use super::collector::{Collector, Input};
use crate::error::Error;
use crate::exposition::Family;

#[derive(Debug, Default, clap::Args)]
pub struct Host;

impl Collector for Host {
    fn families(&self) -> Vec<String> {
        [
            "planet_address",
            "planet_host_info",
            "planet_network_namespaces",
            "planet_network_namespaces_skipped",
        ]
        .map(String::from)
        .to_vec()
    }

    fn collect(&mut self, input: &Input) -> Result<Vec<Family>, Error> {
        let snapshot = input.snapshot;
        snapshot.sockets()?;
        // The host's own addresses are the host's (container=""), even when
        // a container shares its namespace; another namespace's belong to
        // each container living there, or to the namespace itself.
        let mut addresses = BTreeSet::new();
        for (inode, namespace) in &snapshot.namespaces {
            let owners: Vec<&str> = match (*inode == snapshot.own, namespace.containers.is_empty()) {
                (true, _) => vec![""],
                (false, true) => vec![namespace.label.as_str()],
                (false, false) => namespace.containers.iter().map(String::as_str).collect(),
            };
            for addr in &namespace.addresses {
                for container in &owners {
                    addresses.insert((addr.to_string(), *container));
                }
            }
        }
        let mut address = Family::gauge(
            "planet_address",
            "An address on an interface of this host (container=\"\") or of a container's network namespace; loopback and link-local left out.",
        );
        for (addr, container) in &addresses {
            address.push([("addr", addr.as_str()), ("container", container)], 1.0);
        }
        let mut skipped = Family::gauge(
            "planet_network_namespaces_skipped",
            "Network namespaces some process lives in whose sockets this run could not read, by reason.",
        );
        for (reason, n) in &snapshot.skipped {
            skipped.push([("reason", reason.label())], *n as f64);
        }
        let uname = rustix::system::uname();
        let hostname = String::from_utf8_lossy(uname.nodename().to_bytes()).into_owned();
        Ok(vec![
            address,
            Family::gauge("planet_host_info", "This host's name (uname nodename); always 1.")
                .with([("hostname", hostname.as_str())], 1.0),
            Family::gauge(
                "planet_network_namespaces",
                "Network namespaces whose sockets this run read.",
            )
            .with([], snapshot.namespaces.len() as f64),
            skipped,
        ])
    }
}
