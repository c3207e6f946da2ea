//! Byte counters that never go backwards.
//!
//! The kernel's counters live and die with a socket; a Prometheus counter must
//! not decrease while its series lives. So every TCP socket is tracked by its
//! inet_diag cookie: each run adds to the socket's series the growth since the
//! cookie's last observation (a new cookie adds its whole count), and a
//! socket that closes keeps what it added. The series totals and the cookie
//! table persist between runs (see `state`).

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::classify::{Classifier, Observation, SeriesKey, Side};
use super::payload::{payload_at_close, Payload};
use crate::kernel::destroy::Closed;
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
    /// Connections opened, each socket once, failed attempts included
    /// (`open` is how many are open now). The health counters are absent
    /// in state files from before them.
    #[serde(default, rename = "connections")]
    pub opened: u64,
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
        self.opened = self.opened.saturating_add(other.opened);
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
    /// Payload counted so far.
    pub seen: Payload,
    pub retransmits: u32,
    /// Data segments received by then (None before Linux 4.6): tells at
    /// close whether the growth since was only the peer's FIN.
    pub data_segs_in: Option<u32>,
    /// Last sampled while still connecting (SYN_SENT); not persisted, as
    /// only `--loop` sees how a connection ends.
    pub connecting: bool,
    /// The network namespace the socket lives in.
    pub netns: u64,
    /// Since when (Unix seconds) the socket has been missing from the
    /// tables while its destroy notification has not come (`--loop`).
    pub missing_since: Option<u64>,
    /// The run that last sampled it (not persisted).
    pub sampled_in: u64,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Counters {
    pub series: BTreeMap<SeriesKey, Totals>,
    pub cookies: HashMap<u64, Tracked>,
    /// Distinct peers the last run's cap folded, upstream and downstream
    /// (not persisted: peers still talking are folded again each run, so
    /// this counts them).
    pub capped: [usize; 2],
    /// Runs so far in this process, to tell this run's samples.
    pub runs: u64,
}

/// One run's accounting policy: the time, and what the command line
/// decides about forgetting, excluding and capping.
pub struct Policy<'a> {
    pub now: u64,
    pub forget_after: u64,
    pub exclude: &'a [IpNet],
    /// At most this many series are tracked (see [`Counters::cap`]).
    pub max_series: usize,
}

/// Where this run's sockets came from, beyond the tables: what closed
/// since the last run, and which namespaces will report closes.
#[derive(Default)]
pub struct Closes<'a> {
    pub closed: Option<&'a Closed>,
    /// Namespaces with a destroy feed: a socket missing from their table
    /// is awaited there, not taken for closed.
    pub followed: BTreeSet<u64>,
}

/// Sockets missing from the tables whose notification has not come are
/// kept at most this many (the oldest go first): a reset connection whose
/// process keeps it open is freed, and notified, only when it closes it.
pub const MAX_MISSING: usize = 65_536;

impl Counters {
    /// Applies one run: the current socket tables first, then what closed
    /// since the last run with its final counters (`--loop` only). In this
    /// order a socket sampled now and closed before the queue was drained
    /// adds only its growth since the sample: each socket is counted once,
    /// whatever the order its rows and its notification came in.
    pub fn observe(
        &mut self,
        snapshot: &Snapshot,
        sockets: &[SockRecord],
        closes: &Closes,
        policy: &Policy,
    ) {
        self.runs += 1;
        let classifier = Classifier::new(snapshot, sockets);
        for totals in self.series.values_mut() {
            totals.open = 0;
            totals.rtt_sum_us = 0;
            totals.rtt_count = 0;
        }
        let lingering = self.sample(snapshot, sockets, &classifier, policy);
        if let Some(closed) = closes.closed {
            self.close(snapshot, closed, &classifier, policy);
        }
        self.expire(snapshot, &closes.followed, policy);

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
            self.series.entry(key).or_default().last_seen = policy.now;
        }

        self.series.retain(|_, totals| {
            totals.open > 0 || policy.now.saturating_sub(totals.last_seen) < policy.forget_after
        });
        self.cap(policy.max_series);
    }

    /// Counts the growth of every socket in the tables. Returns the series
    /// that only TIME_WAIT sockets speak for.
    fn sample(
        &mut self,
        snapshot: &Snapshot,
        sockets: &[SockRecord],
        classifier: &Classifier,
        policy: &Policy,
    ) -> Vec<SeriesKey> {
        let mut lingering = Vec::new();
        // One growth of the table, not one per doubling (20,000 sockets:
        // 3% of a run's instructions).
        self.cookies
            .reserve(sockets.len().saturating_sub(self.cookies.len()));
        for socket in sockets {
            let owner = snapshot.processes.name(socket.inode);
            let container = snapshot.container(socket);
            let Some(Observation { key, open, payload }) =
                classifier.observe(socket, owner, container)
            else {
                continue;
            };
            if excluded(policy, key.addr) {
                continue;
            }
            if !open {
                lingering.push(key);
                continue;
            }
            let totals = self.series.entry(key.clone()).or_default();
            totals.open = totals.open.saturating_add(1);
            totals.last_seen = policy.now;
            let tracked = self.cookies.entry(socket.cookie);
            let known = match &tracked {
                Entry::Occupied(known) => Some(known.get()),
                Entry::Vacant(_) => None,
            };
            count(totals, known, payload, socket);
            if let Some(tcp) = socket.tcp.filter(|_| socket.state == state::ESTABLISHED) {
                totals.rtt_sum_us = totals.rtt_sum_us.saturating_add(tcp.rtt_us.into());
                totals.rtt_count = totals.rtt_count.saturating_add(1);
            }
            let now = Tracked {
                key,
                seen: payload.unwrap_or_default(),
                retransmits: socket.tcp.map_or(0, |t| t.retransmits),
                data_segs_in: socket.tcp.and_then(|t| t.data_segs_in),
                connecting: socket.state == state::SYN_SENT,
                netns: socket.netns,
                missing_since: None,
                sampled_in: self.runs,
            };
            tracked.insert_entry(now);
        }
        lingering
    }

    /// Adds what each closed socket did since it was last seen (all of it,
    /// if it never was), and stops tracking it.
    fn close(
        &mut self,
        snapshot: &Snapshot,
        closed: &Closed,
        classifier: &Classifier,
        policy: &Policy,
    ) {
        for record in &closed.records {
            let known = self.cookies.remove(&record.cookie);
            let key = match &known {
                Some(tracked) => tracked.key.clone(),
                // Opened and closed between two runs: no owner is left to name.
                None => match classifier.observe(record, "", snapshot.container(record)) {
                    Some(seen) => seen.key,
                    None => continue,
                },
            };
            if excluded(policy, key.addr) {
                continue;
            }
            let last = known.as_ref().map(|t| (t.seen, t.data_segs_in));
            let payload = payload_at_close(record, key.side, last);
            // Never established: an active open whose SYN was never
            // acknowledged (refused, timed out, closed while connecting).
            let failed = is_upstream_tcp(&key)
                && record
                    .tcp
                    .map_or(known.as_ref().is_some_and(|t| t.connecting), |t| {
                        t.acked == 0
                    });
            let totals = self.series.entry(key).or_default();
            count(totals, known.as_ref(), payload, record);
            totals.failures = totals.failures.saturating_add(u64::from(failed));
            totals.last_seen = policy.now;
        }
        // Records without a peer end only a socket already tracked: one
        // still connecting failed (a blocking connect refused); one reset
        // with SO_LINGER 0 carries zeroed counters, and its sample stands.
        for cookie in &closed.cookies {
            let Some(known) = self.cookies.remove(cookie) else {
                continue;
            };
            if known.connecting && is_upstream_tcp(&known.key) {
                let totals = self.series.entry(known.key).or_default();
                totals.failures = totals.failures.saturating_add(1);
                totals.last_seen = policy.now;
            }
        }
    }

    /// Stops tracking the sockets this run did not see. In a namespace not
    /// read this run they are still there; in one with a destroy feed
    /// their notification is still to come (within `--forget-after`, and
    /// [`MAX_MISSING`] of them); elsewhere they closed, and whatever they
    /// did since their last sample is not known (one-shot mode).
    fn expire(&mut self, snapshot: &Snapshot, followed: &BTreeSet<u64>, policy: &Policy) {
        let run = self.runs;
        let mut missing = 0usize;
        self.cookies.retain(|_, tracked| {
            if tracked.sampled_in == run {
                return true;
            }
            if !snapshot.namespaces.contains_key(&tracked.netns) {
                return snapshot.alive.contains(&tracked.netns);
            }
            // UDP has no destroy notifications.
            if !followed.contains(&tracked.netns) || tracked.key.protocol != Protocol::Tcp {
                return false;
            }
            let since = *tracked.missing_since.get_or_insert(policy.now);
            missing += 1;
            policy.now.saturating_sub(since) < policy.forget_after
        });
        if missing > MAX_MISSING {
            let mut oldest: Vec<(u64, u64)> = self
                .cookies
                .iter()
                .filter_map(|(cookie, t)| t.missing_since.map(|since| (since, *cookie)))
                .collect();
            oldest.sort_unstable();
            for (_, cookie) in oldest.iter().take(oldest.len().saturating_sub(MAX_MISSING)) {
                self.cookies.remove(cookie);
            }
        }
    }
}

fn is_upstream_tcp(key: &SeriesKey) -> bool {
    key.side == Side::Upstream && key.protocol == Protocol::Tcp
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
        totals.opened = totals.opened.saturating_add(1);
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

fn excluded(policy: &Policy, addr: Option<IpAddr>) -> bool {
    addr.is_some_and(|addr| policy.exclude.iter().any(|net| net.contains(&addr)))
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
