//! Cardinality: at most `--max-peers` peers per family keep a series of
//! their own; the rest fold into one `other` peer, so a port scan or a
//! busy load balancer cannot blow up the output or Prometheus.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;

use super::classify::{SeriesKey, Side};
use super::counters::Totals;

/// Keeps the `max_peers` peers of each side with the most bytes (ties: the
/// lower address) and folds the others into one `other` peer per
/// (protocol, process, container, port): the series as they will be
/// written, a folded peer's `addr` None. Returns them and how many peers
/// each side folded. (Sums saturate: a counter that wrapped would go
/// backwards.)
pub fn fold(
    series: &BTreeMap<SeriesKey, Totals>,
    max_peers: usize,
) -> (BTreeMap<SeriesKey, Totals>, [(Side, usize); 2]) {
    let mut rows: BTreeMap<SeriesKey, Totals> = BTreeMap::new();
    let mut folded = [(Side::Upstream, 0), (Side::Downstream, 0)];
    for (side, n_folded) in &mut folded {
        let mut by_peer: HashMap<IpAddr, u64> = HashMap::new();
        for (key, totals) in series.iter().filter(|(k, _)| k.side == *side) {
            let Some(addr) = key.addr else {
                continue; // already folded by the state's cap
            };
            let bytes = totals.bytes.sent.saturating_add(totals.bytes.received);
            let sum = by_peer.entry(addr).or_default();
            *sum = sum.saturating_add(bytes);
        }
        let mut ranked: Vec<(IpAddr, u64)> = by_peer.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let kept: HashSet<IpAddr> = ranked
            .iter()
            .take(max_peers)
            .map(|(addr, _)| *addr)
            .collect();
        *n_folded = ranked.len() - kept.len();
        for (key, totals) in series.iter().filter(|(k, _)| k.side == *side) {
            let row = SeriesKey {
                addr: key.addr.filter(|addr| kept.contains(addr)),
                ..key.clone()
            };
            rows.entry(row).or_default().absorb(totals);
        }
    }
    (rows, folded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounting::payload::Payload;

    #[test]
    fn folded_sums_saturate_instead_of_wrapping() {
        let key = crate::accounting::classify::upstream_to;
        let totals = |sent| Totals {
            open: 1,
            bytes: Payload { sent, received: 0 },
            last_seen: 0,
            ..Totals::default()
        };
        let series = BTreeMap::from([
            (key("192.0.2.1"), totals(u64::MAX)),
            (key("192.0.2.2"), totals(5)),
            (key("192.0.2.3"), totals(7)),
        ]);
        let (rows, folded) = fold(&series, 1);
        assert_eq!(folded, [(Side::Upstream, 2), (Side::Downstream, 0)]);
        let other = rows.iter().find(|(row, _)| row.addr.is_none()).unwrap().1;
        assert_eq!(other.bytes.sent, 12);
        // Everything folded into one: u64::MAX + 5 + 7 stays u64::MAX.
        let (rows, _) = fold(&series, 0);
        assert_eq!(rows.values().next().unwrap().bytes.sent, u64::MAX);
    }
}
