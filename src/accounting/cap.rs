//! The cap on tracked series: a host that talks to 65,000 peers, or is
//! scanned on 40,000 ports, must not carry all of them in memory, in the
//! state file and in the output every run.
//!
//! When there are more series than the cap, the ones with the fewest bytes
//! (ties: the least recently seen) fold into coarser series, coarsening
//! only as far as it takes to fit:
//!
//! 1. their peer into `other` (`name="other"`, as `--max-peers` folds the
//!    output), one series per side, protocol, process, container and port;
//! 2. then also their port into `port="other"`;
//! 3. then also their process and container into `other`, for a tenant
//!    with more process names or namespaces than the cap.
//!
//! Every series counts against the cap, the folded ones included, so the
//! cap holds whatever the input. Counters stay monotonic: what moves, moves
//! whole, and the sockets counted there follow it.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use super::classify::{SeriesKey, Side, OTHER, OTHER_PORT};
use super::counters::{Counters, Totals};

/// How far a series is folded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Fold {
    Peer,
    Port,
    All,
}

/// The series `key` folds into at `fold` (itself, if already as coarse).
fn coarse(key: &SeriesKey, fold: Fold) -> SeriesKey {
    let mut folded = SeriesKey {
        addr: None,
        ..key.clone()
    };
    if fold >= Fold::Port {
        folded.port = OTHER_PORT;
    }
    if fold >= Fold::All {
        folded.process = OTHER.to_string();
        folded.container = OTHER.to_string();
    }
    folded
}

impl Counters {
    /// Keeps at most `max` series (see the module's documentation).
    pub fn cap(&mut self, max: usize) {
        self.capped = [0, 0];
        if self.series.len() <= max {
            return;
        }
        let mut ranked: Vec<(&SeriesKey, &Totals)> = self.series.iter().collect();
        ranked.sort_by(|a, b| {
            let bytes = |t: &Totals| t.bytes.sent.saturating_add(t.bytes.received);
            bytes(b.1)
                .cmp(&bytes(a.1))
                .then(b.1.last_seen.cmp(&a.1.last_seen))
                .then(a.0.cmp(b.0))
        });
        let ranked: Vec<SeriesKey> = ranked.into_iter().map(|(k, _)| k.clone()).collect();
        let (fold, keep) = [Fold::Peer, Fold::Port, Fold::All]
            .into_iter()
            .find_map(|fold| kept(&ranked, fold, max).map(|keep| (fold, keep)))
            // Fold::All leaves at most four series (side x protocol).
            .unwrap_or((Fold::All, 0));

        let mut moved: HashMap<SeriesKey, SeriesKey> = HashMap::new();
        for key in &ranked[keep..] {
            let target = coarse(key, fold);
            if target == *key {
                continue;
            }
            let Some(totals) = self.series.remove(key) else {
                continue;
            };
            self.series
                .entry(target.clone())
                .or_default()
                .absorb(&totals);
            moved.insert(key.clone(), target);
        }
        for tracked in self.cookies.values_mut() {
            if let Some(target) = moved.get(&tracked.key) {
                tracked.key = target.clone();
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

/// How many of the `ranked` series can keep their own, folding the rest at
/// `fold`, within `max` series in all; None if even folding all of them
/// at `fold` leaves too many.
///
/// Moving one series from the kept to the folded removes it and adds at
/// most one folded series, so the total never grows as fewer are kept: a
/// binary search finds the most that fit, in O(n log n). (Stepping down by
/// the overshoot took minutes when each step freed one place in 40,000.)
fn kept(ranked: &[SeriesKey], fold: Fold, max: usize) -> Option<usize> {
    let total = |keep: usize| series_after(ranked, fold, keep);
    if total(0) > max {
        return None;
    }
    // total(low) fits; total(high + 1) does not, or high is all there is.
    let (mut low, mut high) = (0, max.min(ranked.len()));
    while low < high {
        let middle = low + (high - low).div_ceil(2);
        match total(middle) <= max {
            true => low = middle,
            false => high = middle - 1,
        }
    }
    Some(low)
}

/// How many series there are once the first `keep` of `ranked` keep their
/// own and the rest fold at `fold`.
fn series_after(ranked: &[SeriesKey], fold: Fold, keep: usize) -> usize {
    let head: HashSet<&SeriesKey> = ranked[..keep].iter().collect();
    let tail: HashSet<SeriesKey> = ranked[keep..]
        .iter()
        .map(|k| coarse(k, fold))
        .filter(|k| !head.contains(k))
        .collect();
    keep + tail.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounting::classify::upstream_to as key;
    use crate::accounting::counters::Tracked;
    use crate::accounting::payload::Payload;

    fn totals(sent: u64, last_seen: u64) -> Totals {
        Totals {
            open: 1,
            bytes: Payload { sent, received: 0 },
            last_seen,
            ..Totals::default()
        }
    }

    #[test]
    fn the_cap_folds_the_smallest_peers_and_their_cookies_follow() {
        let mut counters = Counters::default();
        for (i, sent) in [(1, 500u64), (2, 5), (3, 7), (4, u64::MAX)] {
            counters
                .series
                .insert(key(&format!("192.0.2.{i}")), totals(sent, 100 + i));
        }
        counters.cookies.insert(
            9,
            Tracked {
                key: key("192.0.2.2"),
                seen: Payload {
                    sent: 3,
                    received: 0,
                },
                retransmits: 0,
                data_segs_in: None,
                connecting: false,
                netns: 0,
                missing_since: None,
                sampled_in: 0,
            },
        );
        counters.cap(3);
        let other = coarse(&key("192.0.2.1"), Fold::Peer);
        let keys: Vec<&SeriesKey> = counters.series.keys().collect();
        assert_eq!(keys.len(), 3, "{keys:?}");
        assert!(counters.series.contains_key(&key("192.0.2.4")));
        assert!(counters.series.contains_key(&key("192.0.2.1")));
        // 192.0.2.2 and .3 (5 and 7 bytes) are one series now: 12, two open.
        assert_eq!(counters.series[&other].bytes.sent, 12);
        assert_eq!(counters.series[&other].open, 2);
        assert_eq!(counters.series[&other].last_seen, 103);
        assert_eq!(counters.cookies[&9].key, other);
        assert_eq!(counters.capped, [2, 0]);
        // The `other` series counts against the cap.
        counters.cap(2);
        assert_eq!(counters.series.len(), 2);
        assert_eq!(counters.series[&other].bytes.sent, 512);
        assert_eq!(
            counters.series[&key("192.0.2.4")].bytes.sent,
            u64::MAX,
            "saturated, never wrapped"
        );
    }

    /// `kept` finds the most series that can keep their own, as trying
    /// every number would, on layouts of peers, ports and folded series.
    #[test]
    fn the_binary_search_keeps_as_many_as_fit() {
        let mut seed = 7u64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for _ in 0..200 {
            let ranked: Vec<SeriesKey> = (0..next(40) + 1)
                .map(|_| {
                    let peer = next(4);
                    let port = next(6) as u16;
                    let mut key = SeriesKey {
                        port,
                        ..key(&format!("192.0.2.{peer}"))
                    };
                    if peer == 0 {
                        key.addr = None; // already folded
                    }
                    key
                })
                .collect::<HashSet<_>>()
                .into_iter()
                .collect();
            let max = next(ranked.len() as u64 + 2) as usize;
            for fold in [Fold::Peer, Fold::Port, Fold::All] {
                let fits = |keep: usize| series_after(&ranked, fold, keep) <= max;
                let best = (0..=max.min(ranked.len())).rev().find(|&k| fits(k));
                assert_eq!(kept(&ranked, fold, max), best, "{fold:?} {max} {ranked:?}");
            }
        }
    }

    /// A scan of one peer's ports: folding the peer alone leaves a series per
    /// port, so the ports fold too.
    #[test]
    fn a_port_scan_folds_its_ports_into_port_other() {
        let mut counters = Counters::default();
        for port in 1..=1000u16 {
            let scanned = SeriesKey {
                port,
                ..key("192.0.2.9")
            };
            counters.series.insert(scanned, totals(u64::from(port), 7));
        }
        counters.cap(100);
        assert!(counters.series.len() <= 100, "{}", counters.series.len());
        let other = coarse(&key("192.0.2.9"), Fold::Port);
        assert_eq!(other.port, OTHER_PORT);
        let sum: u64 = counters.series.values().map(|t| t.bytes.sent).sum();
        assert_eq!(sum, (1..=1000u64).sum::<u64>(), "nothing lost in folding");
        assert!(counters.series.contains_key(&other));
        // The biggest ports keep their own series.
        let big = SeriesKey {
            port: 1000,
            ..key("192.0.2.9")
        };
        assert!(counters.series.contains_key(&big));
    }

    /// Thousands of processes, each with its own peer and port: only the
    /// last fold fits them.
    #[test]
    fn process_names_beyond_the_cap_fold_into_one_series() {
        let mut counters = Counters::default();
        for i in 0..500u16 {
            let key = SeriesKey {
                process: format!("p{i}"),
                port: 1000 + i,
                ..key("192.0.2.9")
            };
            counters.series.insert(key, totals(1, 7));
        }
        counters.cap(10);
        assert!(counters.series.len() <= 10);
        assert!(counters
            .series
            .keys()
            .any(|k| k.process == OTHER && k.container == OTHER && k.port == OTHER_PORT));
        let open: u64 = counters.series.values().map(|t| t.open).sum();
        assert_eq!(open, 500);
    }
}
