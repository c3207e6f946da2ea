//! Peer naming: the one place that turns a peer's address into the `name`
//! and `domain` labels of the dependency series.

use std::collections::HashMap;
use std::net::IpAddr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub name: String,
    pub domain: String,
}

/// Names every address. Until an inventory or DNS says otherwise, a peer is
/// called by its address and has no domain.
pub fn name_all(addrs: impl IntoIterator<Item = IpAddr>) -> HashMap<IpAddr, Peer> {
    addrs
        .into_iter()
        .map(|addr| {
            (
                addr,
                Peer {
                    name: addr.to_string(),
                    domain: String::new(),
                },
            )
        })
        .collect()
}
