//! Greedy interval partitioning: spans that overlap go to different
//! lanes (or tracks), and no more lanes are used than the most spans that
//! overlap at one place. A sort, then a heap of each lane's last end:
//! O(k log k) for k spans.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// For each `(start, end, id)`, in `order`, the index of its lane, and how
/// many lanes there are. A lane is reused when `clear(its last end,
/// start)`; ties go to the id, so the same spans give the same lanes.
pub fn partition<T: Copy + PartialOrd>(
    mut spans: Vec<(T, T, usize)>,
    clear: impl Fn(T, T) -> bool,
    order: impl Fn(&T, &T) -> Ordering,
) -> (Vec<(usize, usize)>, usize) {
    spans.sort_by(|a, b| {
        order(&a.0, &b.0)
            .then(order(&a.1, &b.1))
            .then(a.2.cmp(&b.2))
    });
    let mut ends: BinaryHeap<Reverse<(Key<T>, usize)>> = BinaryHeap::new();
    let mut lanes = 0;
    let mut out = Vec::with_capacity(spans.len());
    for (start, end, id) in spans {
        let free = ends
            .peek()
            .is_some_and(|Reverse((Key(last), _))| clear(*last, start));
        let reused = if free { ends.pop() } else { None };
        let lane = match reused {
            Some(Reverse((_, lane))) => lane,
            None => {
                lanes += 1;
                lanes - 1
            }
        };
        ends.push(Reverse((Key(end), lane)));
        out.push((id, lane));
    }
    (out, lanes)
}

/// A float or an index ordered totally, for the heap (no NaN comes here).
#[derive(Clone, Copy)]
struct Key<T>(T);
impl<T: PartialOrd> PartialEq for Key<T> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl<T: PartialOrd> Eq for Key<T> {}
impl<T: PartialOrd> PartialOrd for Key<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T: PartialOrd> Ord for Key<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.partial_cmp(&other.0).unwrap_or(Ordering::Equal)
    }
}
