//! Peer naming, a helper of the accounting stage: the one place that turns
//! a peer's address into the `name` and `domain` labels of the dependency
//! series. First the inventory (longest prefix), then reverse DNS (cached
//! in the state file), else the address itself.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::Error;

pub mod dns;
pub mod inventory;

use dns::{Answer, Resolver};
use inventory::Inventory;

/// A positive answer is kept at least this long, whatever its TTL, so that
/// cron runs do not query the same peers every minute...
const MIN_POSITIVE_TTL: u64 = 5 * 60;
/// ...and at most a day, so a renamed host is seen within one.
const MAX_POSITIVE_TTL: u64 = 24 * 60 * 60;
/// No name (NXDOMAIN, no PTR): asked again sooner. Timeouts and errors are
/// not cached at all.
const NEGATIVE_TTL: u64 = 2 * 60;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub name: String,
    pub domain: String,
}

impl Peer {
    /// `name` is the first label: up to the first dot that is not escaped
    /// (`dot\.inside.example` is named `dot\.inside`).
    fn from_domain(domain: &str) -> Peer {
        let mut escaped = false;
        let end = domain
            .char_indices()
            .find(|&(_, c)| {
                let split = c == '.' && !escaped;
                escaped = c == '\\' && !escaped;
                split
            })
            .map_or(domain.len(), |(i, _)| i);
        Peer {
            name: domain[..end].to_string(),
            domain: domain.to_string(),
        }
    }

    fn address(addr: IpAddr) -> Peer {
        Peer {
            name: addr.to_string(),
            domain: String::new(),
        }
    }
}

/// Reverse DNS answers kept between runs (in the state file), and what the
/// look-ups came to, for `planet_dns_lookups_total`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DnsCache {
    /// address -> (PTR name or none, expiry in Unix seconds)
    pub entries: HashMap<IpAddr, (Option<String>, u64)>,
    pub lookups: Lookups,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lookups {
    pub hit: u64,
    pub answered: u64,
    pub nxdomain: u64,
    pub timeout: u64,
    pub error: u64,
}

impl Lookups {
    pub fn by_result(&self) -> [(&'static str, u64); 5] {
        [
            ("hit", self.hit),
            ("answered", self.answered),
            ("nxdomain", self.nxdomain),
            ("timeout", self.timeout),
            ("error", self.error),
        ]
    }
}

pub struct Namer {
    inventory: Option<Inventory>,
    /// None with `--no-resolve`.
    resolver: Option<Resolver>,
}

/// Whether and where to ask DNS for peer names.
#[derive(Debug, Clone, Copy)]
pub enum Resolve {
    Off,
    /// The system's resolver, or the one server given, within this budget
    /// for all look-ups of a run.
    With(Option<SocketAddr>, Duration),
}

impl Namer {
    /// Loads the inventory and sets up the resolver. A bad inventory fails
    /// here, before any state is locked or anything is written.
    pub fn new(inventory: Option<&Path>, resolve: Resolve) -> Result<Namer, Error> {
        let inventory = inventory.map(Inventory::load).transpose()?;
        let resolver = match resolve {
            Resolve::Off => None,
            Resolve::With(server, budget) => Some(Resolver::new(server, budget)?),
        };
        Ok(Namer {
            inventory,
            resolver,
        })
    }

    /// Whether DNS is asked at all (not `--no-resolve`).
    pub fn resolves(&self) -> bool {
        self.resolver.is_some()
    }

    /// Names every address. DNS is asked only for addresses the inventory
    /// does not know and the cache has no live answer for.
    pub fn name_all(
        &self,
        addrs: &[IpAddr],
        cache: &mut DnsCache,
        now: u64,
    ) -> HashMap<IpAddr, Peer> {
        let mut peers = HashMap::with_capacity(addrs.len());
        let mut ask = Vec::new();
        cache.entries.retain(|_, (_, expires)| *expires > now);
        for &addr in addrs {
            if let Some(entry) = self.inventory.as_ref().and_then(|i| i.lookup(addr)) {
                let name = if !entry.hostgroup.is_empty() {
                    entry.hostgroup.clone()
                } else if !entry.domain.is_empty() {
                    Peer::from_domain(&entry.domain).name
                } else {
                    addr.to_string()
                };
                peers.insert(
                    addr,
                    Peer {
                        name,
                        domain: entry.domain.clone(),
                    },
                );
            } else if self.resolver.is_none() {
                peers.insert(addr, Peer::address(addr));
            } else if let Some((name, _)) = cache.entries.get(&addr) {
                cache.lookups.hit += 1;
                peers.insert(
                    addr,
                    name.as_deref()
                        .map_or(Peer::address(addr), Peer::from_domain),
                );
            } else {
                ask.push(addr);
            }
        }
        let Some(resolver) = &self.resolver else {
            return peers;
        };
        for (addr, answer) in resolver.reverse_all(&ask) {
            let peer = match answer {
                Answer::Name(name, ttl) => {
                    cache.lookups.answered += 1;
                    let ttl = ttl.as_secs().clamp(MIN_POSITIVE_TTL, MAX_POSITIVE_TTL);
                    let peer = Peer::from_domain(&name);
                    cache.entries.insert(addr, (Some(name), now + ttl));
                    peer
                }
                Answer::NoName => {
                    cache.lookups.nxdomain += 1;
                    cache.entries.insert(addr, (None, now + NEGATIVE_TTL));
                    Peer::address(addr)
                }
                Answer::Timeout => {
                    cache.lookups.timeout += 1;
                    Peer::address(addr)
                }
                Answer::Error => {
                    cache.lookups.error += 1;
                    Peer::address(addr)
                }
            };
            peers.insert(addr, peer);
        }
        peers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_is_the_first_label_split_on_unescaped_dots_only() {
        for (domain, name) in [
            ("redis-1.dc.example", "redis-1"),
            ("dot\\.inside.example", "dot\\.inside"),
            ("back\\\\.slash.example", "back\\\\"),
            ("single", "single"),
            ("xn--pple-43d.example", "xn--pple-43d"),
        ] {
            assert_eq!(Peer::from_domain(domain).name, name, "{domain}");
        }
    }

    #[test]
    fn inventory_first_then_cache_else_the_address() {
        let inventory = Inventory::parse(
            br#"[{"ip_address": "10.0.0.0/8", "domain": "corp.example", "hostgroup": ""},
                 {"ip_address": "10.1.0.0/16", "domain": "db.corp.example", "hostgroup": "db"}]"#,
        )
        .unwrap();
        let namer = Namer {
            inventory: Some(inventory),
            resolver: None,
        };
        let mut cache = DnsCache::default();
        let addrs: Vec<IpAddr> = ["10.1.2.3", "10.9.9.9", "192.0.2.1"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        let peers = namer.name_all(&addrs, &mut cache, 1000);
        let peer = |a: &str| peers[&a.parse::<IpAddr>().unwrap()].clone();
        assert_eq!(
            peer("10.1.2.3"),
            Peer {
                name: "db".into(),
                domain: "db.corp.example".into()
            }
        );
        assert_eq!(
            peer("10.9.9.9"),
            Peer {
                name: "corp".into(),
                domain: "corp.example".into()
            }
        );
        assert_eq!(
            peer("192.0.2.1"),
            Peer {
                name: "192.0.2.1".into(),
                domain: String::new()
            }
        );
        assert_eq!(
            cache.lookups,
            Lookups::default(),
            "--no-resolve asks nothing"
        );
    }
}
