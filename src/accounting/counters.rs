//! Byte counters that never go backwards.
//!
//! The kernel's counters live and die with a socket; a Prometheus counter must
//! not decrease while its series lives. So every TCP socket is tracked by its
//! inet_diag cookie: each run adds to the socket's series the growth since the
//! cookie's last observation (a new cookie adds its whole count), and a
//! socket that closes keeps what it added. The series totals and the cookie
//! table persist between runs (see `state`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::classify::{Classifier, Observation, Payload, SeriesKey, Side};
use crate::kernel::socket::{state, Protocol, SockRecord};
use crate::snapshot::Snapshot;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Totals {
    /// Open connections in the last run (not persisted meaningfully).
    #[serde(skip)]
    pub open: u64,
    pub bytes: Payload,
    /// Unix seconds of the last run that saw this dependency.
    pub last_seen: u64,
    /// Connections opened, each socket once, failed attempts included.
    /// (The health counters are absent in state files from before them.)
    #[serde(default)]
    pub connections: u64,
    /// Upstream TCP connections that ended without being established.
    #[serde(default)]
    pub failures: u64,
    /// Segments retransmitted.
    #[serde(default)]
    pub retransmits: u64,
    /// This run's established TCP connections' smoothed RTTs: their sum in
    /// microseconds, and how many.
    #[serde(skip)]
    pub rtt_sum_us: u64,
    #[serde(skip)]
    pub rtt_count: u64,
}

impl Totals {
    /// Takes in another series' counts (folding). Sums saturate.
    pub fn absorb(&mut self, other: &Totals) {
        self.open = self.open.saturating_add(other.open);
        add_growth(self, Payload::default(), other.bytes);
        self.last_seen = self.last_seen.max(other.last_seen);
        self.connections = self.connections.saturating_add(other.connections);
        self.failures = self.failures.saturating_add(other.failures);
        self.retransmits = self.retransmits.saturating_add(other.retransmits);
        self.rtt_sum_us = self.rtt_sum_us.saturating_add(other.rtt_sum_us);
        self.rtt_count = self.rtt_count.saturating_add(other.rtt_count);
    }
}

/// What a socket (by cookie) had reached when last seen, and where it was
/// counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracked {
    pub key: SeriesKey,
    pub seen: Payload,
    pub retransmits: u32,
    /// Last sampled while still connecting (SYN_SENT); not persisted, as
    /// only `--loop` sees how a connection ends.
    pub connecting: bool,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Counters {
    pub series: BTreeMap<SeriesKey, Totals>,
    pub cookies: HashMap<u64, Tracked>,
    /// Distinct peers the last run's cap folded, upstream and downstream
    /// (not persisted: peers still talking are folded again each run, so
    /// this counts them).
    pub capped: [usize; 2],
}

/// Options of the accounting.
pub struct Rules<'a> {
    pub now: u64,
    pub forget_after: u64,
    pub exclude: &'a [IpNet],
    /// At most this many series are tracked (see [`Counters::cap`]).
    pub max_series: usize,
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
            totals.rtt_sum_us = 0;
            totals.rtt_count = 0;
        }

        for socket in destroyed {
            let known = self.cookies.remove(&socket.cookie);
            // Opened and closed between two runs: no owner is left to name.
            let container = snapshot.container(socket);
            let Some(seen) = classifier.observe(socket, "", container) else {
                continue;
            };
            let key = known.as_ref().map_or(seen.key, |t| t.key.clone());
            if excluded(rules, key.addr) {
                continue;
            }
            // Never established: an active open whose SYN was never
            // acknowledged (refused, timed out, closed while connecting).
            let failed = key.side == Side::Upstream
                && key.protocol == Protocol::Tcp
                && socket
                    .tcp
                    .map_or(known.as_ref().is_some_and(|t| t.connecting), |t| {
                        t.acked == 0
                    });
            let totals = self.series.entry(key).or_default();
            count(totals, known.as_ref(), seen.payload, socket);
            totals.failures = totals.failures.saturating_add(u64::from(failed));
            totals.last_seen = rules.now;
        }

        let mut cookies = HashMap::with_capacity(self.cookies.len());
        let mut lingering = Vec::new();
        for socket in sockets {
            let owner = snapshot.processes.name(socket.inode);
            let container = snapshot.container(socket);
            let Some(Observation { key, open, payload }) =
                classifier.observe(socket, owner, container)
            else {
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
            count(totals, self.cookies.get(&socket.cookie), payload, socket);
            if let Some(tcp) = socket.tcp.filter(|_| socket.state == state::ESTABLISHED) {
                totals.rtt_sum_us = totals.rtt_sum_us.saturating_add(tcp.rtt_us.into());
                totals.rtt_count = totals.rtt_count.saturating_add(1);
            }
            let tracked = Tracked {
                key,
                seen: payload.unwrap_or_default(),
                retransmits: socket.tcp.map_or(0, |t| t.retransmits),
                connecting: socket.state == state::SYN_SENT,
            };
            cookies.insert(socket.cookie, tracked);
        }

        // TIME_WAIT has no owner and no counters: it only proves a recent
        // dependency. It keeps an existing series of that peer alive, or
        // creates one (gauge 0) if there is none.
        let peer = |k: &SeriesKey| (k.side, k.protocol, k.container.clone(), k.addr, k.port);
        let mut by_peer: HashMap<_, SeriesKey> = HashMap::new();
        for key in self.series.keys() {
            by_peer.entry(peer(key)).or_insert_with(|| key.clone());
        }
        for key in lingering {
            let key = by_peer.get(&peer(&key)).cloned().unwrap_or(key);
            self.series.entry(key).or_default().last_seen = rules.now;
        }
        // Cookies not seen again are closed; their growth is already counted.
        self.cookies = cookies;

        self.series.retain(|_, totals| {
            totals.open > 0 || rules.now.saturating_sub(totals.last_seen) < rules.forget_after
        });
        self.cap(rules.max_series);
    }

    /// Keeps at most `max` series: a host that talks to 65,000 peers must
    /// not carry all of them in memory and in the state file every run. The
    /// peers with the fewest bytes (ties: the least recently seen) fold into
    /// one `other` series per (side, protocol, process, port), as
    /// `--max-peers` folds the output, and their cookies count there from
    /// now on. Counters stay monotonic: what moves, moves whole.
    fn cap(&mut self, max: usize) {
        self.capped = [0, 0];
        if self.series.len() <= max {
            return;
        }
        let others = self.series.keys().filter(|k| k.addr.is_none()).count();
        let mut ranked: Vec<(&SeriesKey, &Totals)> = self
            .series
            .iter()
            .filter(|(k, _)| k.addr.is_some())
            .collect();
        ranked.sort_by(|a, b| {
            let bytes = |t: &Totals| t.bytes.sent.saturating_add(t.bytes.received);
            bytes(b.1)
                .cmp(&bytes(a.1))
                .then(b.1.last_seen.cmp(&a.1.last_seen))
                .then(a.0.cmp(b.0))
        });
        // Folding makes `other` series of its own: fold more until they fit.
        let group = |k: &SeriesKey| {
            (
                k.side,
                k.protocol,
                k.process.clone(),
                k.container.clone(),
                k.port,
            )
        };
        let existing: HashSet<_> = self
            .series
            .keys()
            .filter(|k| k.addr.is_none())
            .map(group)
            .collect();
        let mut keep = max.saturating_sub(others);
        loop {
            let new_others: HashSet<_> = ranked[keep.min(ranked.len())..]
                .iter()
                .map(|(k, _)| group(k))
                .filter(|g| !existing.contains(g))
                .collect();
            let total = keep + others + new_others.len();
            if total <= max || keep == 0 {
                break;
            }
            keep -= (total - max).min(keep);
        }
        let folded: Vec<SeriesKey> = ranked
            .iter()
            .skip(keep)
            .map(|(k, _)| (*k).clone())
            .collect();
        let mut moved: HashMap<SeriesKey, SeriesKey> = HashMap::with_capacity(folded.len());
        for key in folded {
            let Some(totals) = self.series.remove(&key) else {
                continue;
            };
            let other = SeriesKey {
                addr: None,
                ..key.clone()
            };
            self.series
                .entry(other.clone())
                .or_default()
                .absorb(&totals);
            moved.insert(key, other);
        }
        for tracked in self.cookies.values_mut() {
            if let Some(other) = moved.get(&tracked.key) {
                tracked.key = other.clone();
            }
        }
        for (count, side) in self
            .capped
            .iter_mut()
            .zip([Side::Upstream, Side::Downstream])
        {
            let peers: HashSet<IpAddr> = moved
                .keys()
                .filter(|k| k.side == side)
                .filter_map(|k| k.addr)
                .collect();
            *count = peers.len();
        }
    }
}

/// Adds what a socket did since it was last seen (`known`): the connection
/// itself if it is new, its payload's and retransmits' growth.
fn count(
    totals: &mut Totals,
    known: Option<&Tracked>,
    payload: Option<Payload>,
    socket: &SockRecord,
) {
    if known.is_none() {
        totals.connections = totals.connections.saturating_add(1);
    }
    if let Some(now) = payload {
        add_growth(totals, known.map_or(Payload::default(), |t| t.seen), now);
    }
    if let Some(tcp) = socket.tcp {
        let before = known.map_or(0, |t| t.retransmits);
        let growth = tcp.retransmits.saturating_sub(before);
        totals.retransmits = totals.retransmits.saturating_add(growth.into());
    }
}

fn excluded(rules: &Rules, addr: Option<IpAddr>) -> bool {
    addr.is_some_and(|addr| rules.exclude.iter().any(|net| net.contains(&addr)))
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

#[cfg(test)]
mod tests {
    use super::*;

    use crate::accounting::classify::upstream_to as key;

    #[test]
    fn the_cap_folds_the_smallest_peers_and_their_cookies_follow() {
        let mut counters = Counters::default();
        for (i, sent) in [(1, 500u64), (2, 5), (3, 7), (4, u64::MAX)] {
            let totals = Totals {
                open: 1,
                bytes: Payload { sent, received: 0 },
                last_seen: 100 + i,
                ..Totals::default()
            };
            counters.series.insert(key(&format!("192.0.2.{i}")), totals);
        }
        let seen = Payload {
            sent: 3,
            received: 0,
        };
        counters.cookies.insert(
            9,
            Tracked {
                key: key("192.0.2.2"),
                seen,
                retransmits: 0,
                connecting: false,
            },
        );
        counters.cap(3);
        let other = SeriesKey {
            addr: None,
            ..key("192.0.2.1")
        };
        let keys: Vec<&SeriesKey> = counters.series.keys().collect();
        assert_eq!(keys.len(), 3, "{keys:?}");
        assert!(counters.series.contains_key(&key("192.0.2.4")));
        assert!(counters.series.contains_key(&key("192.0.2.1")));
        // 192.0.2.2 and .3 (5 and 7 bytes) are one series now: 12, two open.
        assert_eq!(counters.series[&other].bytes.sent, 12);
        assert_eq!(counters.series[&other].open, 2);
        assert_eq!(counters.series[&other].last_seen, 103);
        assert_eq!(counters.cookies[&9].key, other);
        // The `other` series counts against the cap but is never folded.
        counters.cap(2);
        assert_eq!(counters.series.len(), 2);
        assert_eq!(counters.series[&other].bytes.sent, 512);
        assert_eq!(
            counters.series[&key("192.0.2.4")].bytes.sent,
            u64::MAX,
            "saturated, never wrapped"
        );
    }
}
