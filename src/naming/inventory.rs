//! The operator's inventory: addresses and networks mapped to a domain and a
//! hostgroup, in the formats the original planet-exporter read: a JSON array
//! or NDJSON of `{"ip_address": "10.1.2.3" | "10.3.0.0/16", "domain": "...",
//! "hostgroup": "..."}`.
//!
//! Look-up is by longest prefix: one hash map per prefix length present,
//! probed from the longest down, so 100k entries cost a handful of hash
//! look-ups per address (at most 33 for IPv4, 129 for IPv6).

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;
use serde::Deserialize;

use crate::error::{without_quotes, Error};
use crate::output::read::read_limited;

/// Larger than any real inventory; a bound so that a wrong path (a disk
/// image, /dev/zero) fails cleanly instead of eating memory.
const MAX_SIZE: u64 = 512 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Entry {
    pub domain: String,
    pub hostgroup: String,
}

#[derive(Debug, Default)]
pub struct Inventory {
    /// (prefix length, masked address -> entry), longest prefix first.
    v4: Vec<(u8, HashMap<u32, usize>)>,
    v6: Vec<(u8, HashMap<u128, usize>)>,
    entries: Vec<Entry>,
}

#[derive(Deserialize)]
struct Raw {
    ip_address: String,
    #[serde(default)]
    domain: Option<String>,
    #[serde(default)]
    hostgroup: Option<String>,
}

impl Inventory {
    /// Reads and checks the whole file; an error names the file and the
    /// entry (JSON array) or line (NDJSON) at fault.
    pub fn load(path: &Path) -> Result<Inventory, Error> {
        let data = read_limited(path, MAX_SIZE)?;
        Inventory::parse(&data).map_err(|e| Error::config(path, e))
    }

    pub fn parse(data: &[u8]) -> Result<Inventory, String> {
        let mut inventory = Inventory::default();
        let first = data.iter().find(|b| !b.is_ascii_whitespace());
        if first == Some(&b'[') {
            // Fast path: the whole array at once. Only when that fails is it
            // read again entry by entry, to say which entry is wrong.
            let entries: Vec<Raw> = match serde_json::from_slice(data) {
                Ok(entries) => entries,
                Err(_) => {
                    let values: Vec<serde_json::Value> = serde_json::from_slice(data)
                        .map_err(|e| format!("not a JSON array of entries ({})", json_error(&e)))?;
                    for (i, value) in values.into_iter().enumerate() {
                        serde_json::from_value::<Raw>(value).map_err(|e| {
                            format!("entry {}: {}", i + 1, without_quotes(&e.to_string()))
                        })?;
                    }
                    return Err("not a JSON array of entries".into());
                }
            };
            for (i, raw) in entries.into_iter().enumerate() {
                inventory
                    .add(raw)
                    .map_err(|e| format!("entry {}: {e}", i + 1))?;
            }
        } else {
            for (i, line) in data.split(|&b| b == b'\n').enumerate() {
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let raw: Raw = serde_json::from_slice(line).map_err(|e| {
                    format!("line {}, column {}: {}", i + 1, e.column(), json_what(&e))
                })?;
                inventory
                    .add(raw)
                    .map_err(|e| format!("line {}: {e}", i + 1))?;
            }
        }
        inventory.v4.sort_by_key(|level| std::cmp::Reverse(level.0));
        inventory.v6.sort_by_key(|level| std::cmp::Reverse(level.0));
        Ok(inventory)
    }

    /// Later entries for the same network replace earlier ones.
    fn add(&mut self, raw: Raw) -> Result<(), String> {
        let net = parse_net(raw.ip_address.trim())
            .ok_or("ip_address is not an address or CIDR network")?;
        let index = self.entries.len();
        self.entries.push(Entry {
            domain: raw
                .domain
                .unwrap_or_default()
                .trim_end_matches('.')
                .to_string(),
            hostgroup: raw.hostgroup.unwrap_or_default(),
        });
        match net {
            IpNet::V4(n) => {
                insert(&mut self.v4, n.prefix_len(), u32::from(n.network()), index);
            }
            IpNet::V6(n) => {
                // IPv4-mapped networks are IPv4 peers, as planet writes them.
                match n
                    .network()
                    .to_ipv4_mapped()
                    .filter(|_| n.prefix_len() >= 96)
                {
                    Some(v4) => insert(&mut self.v4, n.prefix_len() - 96, u32::from(v4), index),
                    None => insert(&mut self.v6, n.prefix_len(), u128::from(n.network()), index),
                }
            }
        }
        Ok(())
    }

    /// The entry of the longest prefix containing `addr`.
    pub fn lookup(&self, addr: IpAddr) -> Option<&Entry> {
        let index = match addr {
            IpAddr::V4(a) => {
                let bits = u32::from(a);
                self.v4
                    .iter()
                    .find_map(|(len, map)| map.get(&(bits & mask32(*len))))
            }
            IpAddr::V6(a) => {
                let bits = u128::from(a);
                self.v6
                    .iter()
                    .find_map(|(len, map)| map.get(&(bits & mask128(*len))))
            }
        }?;
        self.entries.get(*index)
    }

    /// How many entries the file had.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// A serde_json error's position and kind, without the input it quotes.
fn json_error(e: &serde_json::Error) -> String {
    format!("line {}, column {}: {}", e.line(), e.column(), json_what(e))
}

/// The kind of a serde_json error, without its quotes or its position
/// (serde_json appends " at line L column C").
fn json_what(e: &serde_json::Error) -> String {
    let what = without_quotes(&e.to_string());
    what.split(" at line ").next().unwrap_or(&what).to_string()
}

fn parse_net(text: &str) -> Option<IpNet> {
    match text.parse::<IpNet>() {
        Ok(net) => Some(net.trunc()),
        Err(_) => text.parse::<IpAddr>().ok().map(IpNet::from),
    }
}

fn insert<K: std::hash::Hash + Eq>(
    levels: &mut Vec<(u8, HashMap<K, usize>)>,
    len: u8,
    key: K,
    index: usize,
) {
    match levels.iter_mut().find(|(l, _)| *l == len) {
        Some((_, map)) => {
            map.insert(key, index);
        }
        None => levels.push((len, HashMap::from([(key, index)]))),
    }
}

fn mask32(len: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0)
}

fn mask128(len: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(inventory: &Inventory, addr: &str) -> Option<(String, String)> {
        inventory
            .lookup(addr.parse().unwrap())
            .map(|e| (e.hostgroup.clone(), e.domain.clone()))
    }

    const ARRAY: &str = r#"[
        {"ip_address": "10.3.0.0/16", "domain": "dc3.example", "hostgroup": "dc3"},
        {"ip_address": "10.3.7.0/24", "domain": "db.dc3.example.", "hostgroup": "db"},
        {"ip_address": "10.3.7.9", "domain": "redis-1.dc3.example", "hostgroup": "redis"},
        {"ip_address": "0.0.0.0/0", "domain": "", "hostgroup": "internet"},
        {"ip_address": "fd00:1::/32", "domain": "v6.example", "hostgroup": "v6net"},
        {"ip_address": "fd00:1:2::7", "domain": "api.v6.example", "hostgroup": "api", "extra": 1}
    ]"#;

    #[test]
    fn longest_prefix_wins_for_ipv4_and_ipv6() {
        let inventory = Inventory::parse(ARRAY.as_bytes()).unwrap();
        let pair = |a: &str, b: &str| Some((a.to_string(), b.to_string()));
        assert_eq!(
            names(&inventory, "10.3.7.9"),
            pair("redis", "redis-1.dc3.example")
        );
        assert_eq!(names(&inventory, "10.3.7.10"), pair("db", "db.dc3.example"));
        assert_eq!(names(&inventory, "10.3.200.1"), pair("dc3", "dc3.example"));
        assert_eq!(names(&inventory, "192.0.2.1"), pair("internet", ""));
        assert_eq!(
            names(&inventory, "fd00:1:2::7"),
            pair("api", "api.v6.example")
        );
        assert_eq!(
            names(&inventory, "fd00:1:ffff::1"),
            pair("v6net", "v6.example")
        );
        assert_eq!(names(&inventory, "fd00:2::1"), None);
    }

    #[test]
    fn ndjson_is_the_same_inventory() {
        let lines: Vec<String> = serde_json::from_str::<Vec<serde_json::Value>>(ARRAY)
            .unwrap()
            .iter()
            .map(|v| v.to_string())
            .collect();
        let ndjson = format!("{}\n\n", lines.join("\n"));
        let inventory = Inventory::parse(ndjson.as_bytes()).unwrap();
        assert_eq!(inventory.len(), 6);
        assert_eq!(
            names(&inventory, "10.3.7.10"),
            Some(("db".into(), "db.dc3.example".into()))
        );
    }

    #[test]
    fn errors_name_the_entry_or_line() {
        let bad_entry = r#"[{"ip_address": "10.0.0.1"}, {"ip_address": "10.0.0.300"}]"#;
        assert_eq!(
            Inventory::parse(bad_entry.as_bytes()).unwrap_err(),
            "entry 2: ip_address is not an address or CIDR network"
        );
        let missing = r#"[{"domain": "x"}]"#;
        assert!(Inventory::parse(missing.as_bytes())
            .unwrap_err()
            .starts_with("entry 1: missing field `ip_address`"));
        let bad_line = "{\"ip_address\": \"10.0.0.1\"}\n{\"ip_address\": 7}\n";
        assert!(Inventory::parse(bad_line.as_bytes())
            .unwrap_err()
            .starts_with("line 2, column 16: invalid type"));
        let truncated = r#"[{"ip_address": "10.0.0.1"}, {"ip_addr"#;
        assert!(Inventory::parse(truncated.as_bytes())
            .unwrap_err()
            .starts_with("not a JSON array of entries"));
        assert_eq!(
            Inventory::parse(b"\xff\xfe\x00garbage").unwrap_err(),
            "line 1, column 1: expected value"
        );
        assert!(Inventory::parse(b"{\"ip_address\": \"10.0.0.1\"} trailing").is_err());
    }

    #[test]
    fn an_empty_file_is_an_empty_inventory() {
        assert_eq!(Inventory::parse(b"").unwrap().len(), 0);
        assert_eq!(Inventory::parse(b"[]").unwrap().len(), 0);
    }
}
