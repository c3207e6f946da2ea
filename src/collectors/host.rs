//! Who this host is, for joining hosts into a fleet's graph: its name,
//! the network namespaces read, and every address of the host and of each
//! container, so that a peer address in another host's series can be told
//! to be this host, or one of its containers.

use std::collections::BTreeSet;

use super::collector::{Collector, Input};
use crate::error::Error;
use crate::exposition::Family;
use crate::schema::{self, Declared};

#[derive(Debug, Default, clap::Args)]
pub struct Host;

impl Collector for Host {
    fn families(&self) -> Vec<Declared> {
        vec![
            schema::ADDRESS.declared(),
            schema::HOST_INFO.declared(),
            schema::NETWORK_NAMESPACES.declared(),
            schema::NETWORK_NAMESPACES_SKIPPED.declared(),
        ]
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
        let mut address = schema::ADDRESS.family();
        for (addr, container) in &addresses {
            address.push([addr.as_str(), container], 1.0);
        }
        let mut skipped = schema::NETWORK_NAMESPACES_SKIPPED.family();
        for (reason, n) in &snapshot.skipped {
            skipped.push([reason.label()], *n as f64);
        }
        let uname = rustix::system::uname();
        let hostname = String::from_utf8_lossy(uname.nodename().to_bytes()).into_owned();
        Ok(vec![
            address.done(),
            schema::HOST_INFO.one([hostname.as_str()], 1.0),
            schema::NETWORK_NAMESPACES.one([], snapshot.namespaces.len() as f64),
            skipped.done(),
        ])
    }
}
