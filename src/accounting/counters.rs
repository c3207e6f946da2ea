//! Byte counters that never go backwards.
//!
//! The kernel's counters live and die with a socket; a Prometheus counter must
//! not decrease while its series lives. So every TCP socket is tracked by its
//! inet_diag cookie: each run adds to the socket's series the growth since the
//! cookie's last observation (a new cookie adds its whole count), and a
//! socket that closes keeps what it added. The series totals and the cookie
//! table persist between runs (see `state`).

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::classify::{Classifier, Observation, Payload, SeriesKey, Side};
use crate::kernel::socket::{Protocol, SockRecord};
use crate::snapshot::Snapshot;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Totals {
    /// Open connections in the last run (not persisted meaningfully).
    #[serde(skip)]
    pub open: u64,
    pub bytes: Payload,
    /// Unix seconds of the last run that saw this dependency.
    pub last_seen: u64,
}

/// What a cookie had reached when last seen, and where it was counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tracked {
    pub key: SeriesKey,
    pub seen: Payload,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Counters {
    pub series: BTreeMap<SeriesKey, Totals>,
    pub cookies: HashMap<u64, Tracked>,
}

/// Options of the accounting.
pub struct Rules<'a> {
    pub now: u64,
    pub forget_after: u64,
    pub exclude: &'a [IpNet],
}

impl Counters {
    /// Applies one run: first the sockets destroyed since the last run (their
    /// final counters, `--loop` only), then the current socket table.
    pub fn observe(
        &mut self,
        snapshot: &Snapshot,
        sockets: &[SockRecord],
        destroyed: &[SockRecord],
        rules: &Rules,
    ) {
        let classifier = Classifier::new(snapshot, sockets);
        for totals in self.series.values_mut() {
            totals.open = 0;
        }

        for socket in destroyed {
            let known = self.cookies.remove(&socket.cookie);
            // Opened and closed between two runs: no owner is left to name.
            let Some(seen) = classifier.observe(socket, "") else {
                continue;
            };
            let (key, before) = match known {
                Some(tracked) => (tracked.key, tracked.seen),
                None => (seen.key, Payload::default()),
            };
            if excluded(rules, key.addr) {
                continue;
            }
            if let Some(now) = seen.payload {
                let totals = self.series.entry(key).or_default();
                add_growth(totals, before, now);
                totals.last_seen = rules.now;
            }
        }

        let mut cookies = HashMap::with_capacity(self.cookies.len());
        let mut lingering = Vec::new();
        for socket in sockets {
            let owner = snapshot.processes.name(socket.inode);
            let Some(Observation { key, open, payload }) = classifier.observe(socket, owner) else {
                continue;
            };
            if excluded(rules, key.addr) {
                continue;
            }
            if !open {
                lingering.push(key);
                continue;
            }
            let totals = self.series.entry(key.clone()).or_default();
            totals.open = totals.open.saturating_add(1);
            totals.last_seen = rules.now;
            if let Some(now) = payload {
                let before = self
                    .cookies
                    .get(&socket.cookie)
                    .map_or(Payload::default(), |t| t.seen);
                add_growth(totals, before, now);
                cookies.insert(socket.cookie, Tracked { key, seen: now });
            }
        }

        // TIME_WAIT has no owner and no counters: it only proves a recent
        // dependency. It keeps an existing series of that peer alive, or
        // creates one (gauge 0) if there is none.
        let mut by_peer: HashMap<(Side, Protocol, IpAddr, u16), SeriesKey> = HashMap::new();
        for key in self.series.keys() {
            by_peer
                .entry((key.side, key.protocol, key.addr, key.port))
                .or_insert_with(|| key.clone());
        }
        for key in lingering {
            let key = by_peer
                .get(&(key.side, key.protocol, key.addr, key.port))
                .cloned()
                .unwrap_or(key);
            self.series.entry(key).or_default().last_seen = rules.now;
        }
        // Cookies not seen again are closed; their growth is already counted.
        self.cookies = cookies;

        self.series.retain(|_, totals| {
            totals.open > 0 || rules.now.saturating_sub(totals.last_seen) < rules.forget_after
        });
    }
}

fn excluded(rules: &Rules, addr: IpAddr) -> bool {
    rules.exclude.iter().any(|net| net.contains(&addr))
}

/// Adds what a socket moved since it was last seen. A counter below its last
/// observation (impossible for one socket) is taken as a new baseline.
/// Sums saturate: a counter that wrapped would go backwards.
fn add_growth(totals: &mut Totals, before: Payload, now: Payload) {
    let bytes = &mut totals.bytes;
    bytes.sent = bytes
        .sent
        .saturating_add(now.sent.saturating_sub(before.sent));
    bytes.received = bytes
        .received
        .saturating_add(now.received.saturating_sub(before.received));
}
