//! Stage 3, accounting: from the snapshot's sockets to dependency series
//! with counters that never go backwards.
//!
//! It is the one stage that keeps state between runs (the counter totals,
//! each socket's last counters, the DNS cache), so it is a value of its own
//! that the app holds across `--loop` iterations, not part of the snapshot:
//! [`Accounting::account`] reads a snapshot and returns an [`Accounted`],
//! which collectors read.
//!
//! - [`classify`]: upstream or downstream, the series key, payload bytes;
//! - [`counters`]: per-cookie growth into series totals;
//! - [`fold`]: the `--max-peers` cap;
//! - [`state`]: the locked state file that carries it all between runs.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;
use std::time::Duration;

use ipnet::IpNet;

use crate::error::Error;
use crate::kernel::census::Unread;
use crate::kernel::destroy::{self, Closed, Feeds};
use crate::kernel::{fds, netns, sysctl};
use crate::naming::{Lookups, Namer, Peer};
use crate::snapshot::{self, Snapshot};

pub mod cap;
pub mod classify;
pub mod counters;
pub mod fold;
pub mod payload;
pub mod state;

use classify::{SeriesKey, Side};
use counters::Totals;
use counters::{Closes, Policy};
use state::{State, StateFile, LOCK_WAIT};

/// The most `--max-peers` may be: each peer is a series in the output and
/// in Prometheus, and a name to look up within the DNS budget.
pub const MAX_PEERS: usize = 10_000;
/// The state tracks at most the larger of this and 4 × `--max-peers`
/// series (room for both families and for peers to rise and fall).
pub const MIN_TRACKED_SERIES: usize = 10_000;

/// What the command line decides about the accounting.
#[derive(Debug, Clone)]
pub struct Options {
    /// Drop a series once it has had no connection for this long.
    pub forget_after: Duration,
    /// At most this many peers per family; the rest fold into `other`.
    pub max_peers: usize,
    /// Peers left out altogether.
    pub exclude_peer: Vec<IpNet>,
}

/// The dependency series after one run's accounting, folding and naming:
/// what the dependencies collector writes.
pub struct Accounted {
    /// The series as they will be written (see [`fold::fold`]).
    pub rows: BTreeMap<SeriesKey, Totals>,
    pub names: HashMap<IpAddr, Peer>,
    pub folded: [(Side, usize); 2],
    /// Unless `--no-resolve`: reverse DNS look-ups so far.
    pub dns_lookups: Option<Lookups>,
    /// With `--loop`: destroy notifications dropped since the start.
    pub destroy_lost: Option<u64>,
}

/// The dependency counters, where they persist, and (with `--loop`) the
/// feed of connections closed between runs.
pub struct Accounting {
    options: Options,
    state: State,
    file: Option<StateFile>,
    /// With `--loop`: the feeds of closed connections, one per namespace.
    feeds: Option<Feeds>,
    namer: Namer,
    /// Warnings of this run about namespaces whose closes are not followed.
    pub warnings: Vec<String>,
}

impl Accounting {
    /// Locks and loads the state file (if any) and, for `--loop`, subscribes
    /// to destroy notifications. Returns the warnings worth printing once.
    pub fn start(
        options: Options,
        namer: Namer,
        state_path: Option<&Path>,
        follow_closes: bool,
    ) -> Result<(Accounting, Vec<String>), Error> {
        let mut warnings = Vec::new();
        let mut accounting = Accounting {
            options,
            state: State::default(),
            file: None,
            feeds: None,
            namer,
            warnings: Vec::new(),
        };
        if let Some(path) = state_path {
            let (file, state, warning) = StateFile::open(path, LOCK_WAIT)?;
            warnings.extend(warning);
            accounting.state = state;
            accounting.file = Some(file);
        }
        let boot = sysctl::boot_id();
        let state = &mut accounting.state;
        if state.boot_id.is_some() && state.boot_id != boot {
            // Cookies restart at boot: an old cookie that a new socket
            // happens to reuse would have the old counters subtracted. The
            // totals stay; every socket of this boot counts from zero. (A
            // file without a boot id keeps its table: dropping it would
            // count the open sockets twice.)
            state.counters.cookies.clear();
        }
        state.boot_id = boot;
        if follow_closes {
            let own = netns::own().unwrap_or(0);
            match Feeds::start().and_then(|feeds| Ok((feeds, destroy::subscribe()?))) {
                Ok((mut feeds, socket)) => {
                    feeds.follow(own, socket);
                    accounting.feeds = Some(feeds);
                }
                Err(e) => warnings.push(format!(
                    "sock_diag destroy notifications: {}; connections that close between two runs lose their last bytes",
                    crate::error::os_message(&e)
                )),
            }
        }
        Ok((accounting, warnings))
    }

    /// Brings the counters up to date with this run's sockets (and the ones
    /// destroyed since the last run), folds and names the peers. None when
    /// the snapshot has no sockets (the collectors report the dump's failure).
    pub fn account(&mut self, snapshot: &Snapshot, now: u64) -> Option<Accounted> {
        let sockets = snapshot.sockets().ok()?;
        let closed = self.follow_closes(snapshot);
        let closes = Closes {
            closed: closed.as_ref(),
            followed: self
                .feeds
                .as_ref()
                .map(|feeds| feeds.followed().collect())
                .unwrap_or_default(),
        };
        let policy = Policy {
            now,
            forget_after: self.options.forget_after.as_secs(),
            exclude: &self.options.exclude_peer,
            max_series: MIN_TRACKED_SERIES.max(self.options.max_peers.saturating_mul(4)),
        };
        let state = &mut self.state;
        state.counters.observe(snapshot, sockets, &closes, &policy);
        let (rows, mut folded) = fold::fold(&state.counters.series, self.options.max_peers);
        // Peers the state's cap folded are folded peers too.
        for ((_, n), capped) in folded.iter_mut().zip(state.counters.capped) {
            *n = n.saturating_add(capped);
        }
        // Only peers that keep their own series are named: folded ones cost
        // no DNS look-up.
        let mut peers: Vec<IpAddr> = rows.keys().filter_map(|row| row.addr).collect();
        peers.sort_unstable();
        peers.dedup();
        let names = self.namer.name_all(&peers, &mut state.dns, now);
        Some(Accounted {
            rows,
            names,
            folded,
            dns_lookups: self.namer.resolves().then_some(state.dns.lookups),
            destroy_lost: self.feeds.as_ref().map(Feeds::lost),
        })
    }

    /// The connections closed since the last run in every namespace, and
    /// the feeds kept in step with the namespaces: one started in each new
    /// namespace read, one stopped for each that no process lives in any
    /// more (after taking what it had). None without feeds (one-shot).
    fn follow_closes(&mut self, snapshot: &Snapshot) -> Option<Closed> {
        self.warnings.clear();
        let feeds = self.feeds.as_mut()?;
        let mut new: Vec<(u64, BorrowedFd)> = snapshot
            .namespaces
            .iter()
            .filter(|(inode, _)| !feeds.follows(**inode))
            .filter_map(|(inode, n)| n.handle.as_ref().map(|h| (*inode, h.as_fd())))
            .collect();
        let mut unfollowed: BTreeMap<Unread, usize> = BTreeMap::new();
        // Each feed holds a descriptor for as long as its namespace lives.
        let budget = fds::budget();
        if new.len() > budget {
            *unfollowed.entry(Unread::OutOfFds).or_default() += new.len() - budget;
            new.truncate(budget);
        }
        let threads = snapshot::reader_threads();
        for (inode, socket) in netns::each(new, threads, |_| destroy::subscribe()) {
            match socket.and_then(|s| s) {
                Ok(socket) => feeds.follow(inode, socket),
                Err(e) => *unfollowed.entry(Unread::of(&e)).or_default() += 1,
            }
        }
        if !unfollowed.is_empty() {
            let reasons: Vec<String> = unfollowed
                .iter()
                .map(|(reason, n)| format!("{n} {} ({})", reason.label(), reason.remedy()))
                .collect();
            self.warnings.push(format!(
                "sock_diag destroy notifications not followed in {} network namespaces: {}; connections there that close between two runs lose their last bytes",
                unfollowed.values().sum::<usize>(),
                reasons.join(", ")
            ));
        }
        let closed = feeds.take();
        let gone: BTreeSet<u64> = feeds
            .followed()
            .filter(|inode| *inode != snapshot.own && !snapshot.alive.contains(inode))
            .collect();
        for inode in gone {
            feeds.forget(inode);
        }
        Some(closed)
    }

    /// Persists the counters, if this run keeps a state file.
    pub fn save(&self) -> Result<(), Error> {
        match &self.file {
            Some(file) => file.save(&self.state),
            None => Ok(()),
        }
    }
}
