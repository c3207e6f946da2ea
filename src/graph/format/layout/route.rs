//! Edges as orthogonal polylines on the grid, and where their labels go.
//!
//! Across x, a corridor (left of each column, and one after the last) has
//! three parts: the `out` tracks of edges leaving the column on its left,
//! a `zone` for labels, and the `in` tracks of edges entering the column on
//! its right. Down y, a band lies above each row (and one below the last)
//! and holds lanes, one above the other. An edge leaves its source's right
//! side, runs up or down an out track to its lane, along the lane, and down
//! or up an in track into its target's left side. Nothing but lanes runs in
//! a band, and nothing but tracks runs up or down a corridor, so no edge
//! crosses a box. A label stands in its own lane, in a zone (or over its
//! column, for an edge that comes back to its own column), where no track
//! runs; edges that share a lane are kept apart along it, and so are their
//! labels. An edge between facing boxes (next column, same row) is one
//! straight line, its label in the zone between them.
//!
//! Lanes and tracks are handed out by greedy interval partitioning (sort,
//! then a heap of the lanes' ends): the fewest lanes that keep overlapping
//! spans apart, in O(k log k).

use std::collections::{HashMap, HashSet};

use super::lanes::partition;
use super::rank::Grid;
use super::{Rect, Route, BOX_H};

const MARGIN: f64 = 16.0;
/// An empty band between two rows.
const BAND_MIN: f64 = 24.0;
const BAND_PAD: f64 = 6.0;
const LANE_GAP: f64 = 4.0;
/// Around a straight edge's label, within its row.
const ROW_PAD: f64 = 4.0;
/// Between two edges' ends on a box's side.
const SLOT: f64 = 8.0;
/// Between two tracks of a corridor.
const TRACK: f64 = 5.0;
/// From a column's right side to the first out track.
const OUT_PAD: f64 = 10.0;
/// From the last in track to a column's left side: room for the arrow.
const IN_PAD: f64 = 14.0;
/// Around the labels of a zone.
const ZONE_PAD: f64 = 8.0;
/// Between columns, when little runs there.
const CORRIDOR_MIN: f64 = 48.0;
/// Around a label drawn over its column.
const COLUMN_PAD: f64 = 8.0;
/// Between two edges that take turns on one track.
const TRACK_SEP: f64 = 4.0;

/// An edge to draw: node indices and its label's size.
pub struct Wire {
    pub edge: usize,
    pub source: usize,
    pub target: usize,
    pub label: (f64, f64),
}

pub struct Drawn {
    pub boxes: Vec<Rect>,
    /// One per wire, in the wires' order.
    pub routes: Vec<Route>,
    pub width: f64,
    pub height: f64,
}

/// Places along x, in order: corridor k's out part, zone and in part, then
/// column k.
fn out(k: usize) -> usize {
    4 * k
}
fn zone(k: usize) -> usize {
    4 * k + 1
}
fn inn(k: usize) -> usize {
    4 * k + 2
}
fn over(k: usize) -> usize {
    4 * k + 3
}

#[derive(Clone, Copy)]
enum Way {
    /// Facing boxes: one straight line.
    Straight,
    Lane {
        band: usize,
        lane: usize,
    },
}

/// Where each edge meets a box side: spread along it, in the order of the
/// heights they go to, a straight edge at the middle.
fn attach(entries: &mut [(f64, usize, bool)], top: f64, bottom: f64, at: &mut [f64]) {
    entries.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mid = (top + bottom) / 2.0;
    let straight = entries.iter().any(|e| e.2);
    let spread = |list: Vec<usize>, from: f64, to: f64, at: &mut [f64]| {
        let step = (to - from) / (list.len() + 1) as f64;
        for (i, w) in list.into_iter().enumerate() {
            at[w] = from + step * (i + 1) as f64;
        }
    };
    match straight {
        false => spread(entries.iter().map(|e| e.1).collect(), top, bottom, at),
        true => {
            let above = entries.iter().filter(|e| !e.2 && e.0 < mid);
            let below = entries.iter().filter(|e| !e.2 && e.0 > mid);
            spread(above.map(|e| e.1).collect(), top, mid, at);
            spread(below.map(|e| e.1).collect(), mid, bottom, at);
            for e in entries.iter().filter(|e| e.2) {
                at[e.1] = mid;
            }
        }
    }
}

pub fn route(grid: &Grid, widths: &[f64], wires: &[Wire]) -> Drawn {
    let (column, row) = (&grid.column, &grid.row);
    let (columns, rows) = (grid.columns, grid.rows);
    let n = widths.len();

    // Each edge: straight, or the band it runs in; its span along x and
    // where its label stands.
    let mut ways = Vec::with_capacity(wires.len());
    let mut marks = Vec::with_capacity(wires.len());
    let mut facing: HashSet<(usize, usize)> = HashSet::new();
    let mut load: HashMap<(usize, usize), u32> = HashMap::new();
    let mut by_band: Vec<Vec<(usize, usize, usize)>> = vec![Vec::new(); rows + 1];
    for (i, w) in wires.iter().enumerate() {
        let (cs, rs) = (column[w.source], row[w.source]);
        let (ct, rt) = (column[w.target], row[w.target]);
        if w.source != w.target && ct == cs + 1 && rt == rs && facing.insert((ct, rs)) {
            ways.push(Way::Straight);
            marks.push(zone(ct));
            continue;
        }
        let (start, end, mark) = match ct.cmp(&cs) {
            std::cmp::Ordering::Greater => (out(cs + 1), inn(ct), zone(cs + 1)),
            std::cmp::Ordering::Less => (inn(ct), out(cs + 1), zone(cs)),
            std::cmp::Ordering::Equal => (inn(cs), out(cs + 1), over(cs)),
        };
        // Next to the target, or next to the source: the less crowded.
        let choices = match rt.cmp(&rs) {
            std::cmp::Ordering::Greater => [rt, rs + 1],
            std::cmp::Ordering::Less => [rt + 1, rs],
            std::cmp::Ordering::Equal => [rs + 1, rs],
        };
        let crowd = |b: usize| load.get(&(b, mark)).copied().unwrap_or(0);
        let band = match crowd(choices[1]) < crowd(choices[0]) {
            true => choices[1],
            false => choices[0],
        };
        *load.entry((band, mark)).or_default() += 1;
        by_band[band].push((start, end, i));
        ways.push(Way::Lane { band, lane: 0 });
        marks.push(mark);
    }

    // Lanes within each band, and their heights.
    let mut lane_h: Vec<Vec<f64>> = vec![Vec::new(); rows + 1];
    for (band, list) in by_band.into_iter().enumerate() {
        let (lanes, count) = partition(list, |last, start| last < start, usize::cmp);
        lane_h[band] = vec![0.0; count];
        for (i, lane) in lanes {
            ways[i] = Way::Lane { band, lane };
            lane_h[band][lane] = f64::max(lane_h[band][lane], wires[i].label.1 + LANE_GAP);
        }
    }

    // Box heights: room for every edge's end on each side.
    let mut ends = vec![[(0usize, 0usize, false); 2]; n]; // [right, left]: (above, below, straight)
    for (w, way) in wires.iter().zip(&ways) {
        for (side, node) in [(0, w.source), (1, w.target)] {
            let e = &mut ends[node][side];
            match *way {
                Way::Straight => e.2 = true,
                Way::Lane { band, .. } if band <= row[node] => e.0 += 1,
                Way::Lane { .. } => e.1 += 1,
            }
        }
    }
    let heights: Vec<f64> = (ends.iter())
        .map(|sides| {
            let need = |&(a, b, s): &(usize, usize, bool)| match s {
                true => 2.0 * (a.max(b) + 1) as f64 * SLOT,
                false => (a + b + 1) as f64 * SLOT,
            };
            BOX_H.max(need(&sides[0])).max(need(&sides[1]))
        })
        .collect();

    // Rows, bands and lanes down the page.
    let mut row_h = vec![0.0f64; rows];
    for v in 0..n {
        row_h[row[v]] = row_h[row[v]].max(heights[v]);
    }
    for (w, way) in wires.iter().zip(&ways) {
        if let Way::Straight = way {
            let r = row[w.source];
            row_h[r] = row_h[r].max(w.label.1 + 2.0 * ROW_PAD);
        }
    }
    let (mut band_top, mut row_top) = (vec![0.0; rows + 1], vec![0.0; rows]);
    let mut y = MARGIN;
    for b in 0..=rows {
        band_top[b] = y;
        let lanes: f64 = lane_h[b].iter().sum();
        y += match (lanes > 0.0, b > 0 && b < rows) {
            (true, _) => lanes + 2.0 * BAND_PAD,
            (false, true) => BAND_MIN,
            (false, false) => 0.0,
        };
        if b < rows {
            row_top[b] = y;
            y += row_h[b];
        }
    }
    let height = y + MARGIN;
    let lane_y: Vec<Vec<f64>> = (lane_h.iter().enumerate())
        .map(|(b, hs)| {
            let mut top = band_top[b] + BAND_PAD;
            (hs.iter())
                .map(|h| {
                    top += h;
                    top - h / 2.0
                })
                .collect()
        })
        .collect();
    let level = |way: &Way| match *way {
        Way::Lane { band, lane } => Some(lane_y[band][lane]),
        Way::Straight => None,
    };
    let box_y: Vec<f64> = (0..n)
        .map(|v| row_top[row[v]] + (row_h[row[v]] - heights[v]) / 2.0)
        .collect();

    // Where each edge leaves its source and enters its target.
    let mut sides: Vec<[Vec<(f64, usize, bool)>; 2]> = vec![[Vec::new(), Vec::new()]; n];
    for (i, (w, way)) in wires.iter().zip(&ways).enumerate() {
        let mid = box_y[w.source] + heights[w.source] / 2.0;
        let (key, straight) = level(way).map_or((mid, true), |y| (y, false));
        sides[w.source][0].push((key, i, straight));
        sides[w.target][1].push((key, i, straight));
    }
    let (mut exit, mut entry) = (vec![0.0; wires.len()], vec![0.0; wires.len()]);
    for (v, [right, left]) in sides.iter_mut().enumerate() {
        let (top, bottom) = (box_y[v], box_y[v] + heights[v]);
        attach(right, top, bottom, &mut exit);
        attach(left, top, bottom, &mut entry);
    }

    // Tracks up and down each corridor's out and in parts.
    let mut outs: Vec<Vec<(f64, f64, usize)>> = vec![Vec::new(); columns + 1];
    let mut ins: Vec<Vec<(f64, f64, usize)>> = vec![Vec::new(); columns + 1];
    for (i, (w, way)) in wires.iter().zip(&ways).enumerate() {
        let Some(y) = level(way) else {
            continue;
        };
        outs[column[w.source] + 1].push((exit[i].min(y), exit[i].max(y), i));
        ins[column[w.target]].push((entry[i].min(y), entry[i].max(y), i));
    }
    let tracks = |lists: Vec<Vec<(f64, f64, usize)>>| {
        let mut track = vec![0usize; wires.len()];
        let counts: Vec<usize> = (lists.into_iter())
            .map(|list| {
                let (given, count) =
                    partition(list, |last, start| last + TRACK_SEP < start, f64::total_cmp);
                for (i, t) in given {
                    track[i] = t;
                }
                count
            })
            .collect();
        (track, counts)
    };
    let (out_track, out_count) = tracks(outs);
    let (in_track, in_count) = tracks(ins);

    // Widths: corridors from their tracks and labels, columns from their
    // boxes and the labels over them.
    let mut zone_w = vec![2.0 * ZONE_PAD; columns + 1];
    let mut col_w = vec![0.0f64; columns];
    for v in 0..n {
        col_w[column[v]] = col_w[column[v]].max(widths[v]);
    }
    for (w, &mark) in wires.iter().zip(&marks) {
        match mark % 4 {
            1 => zone_w[mark / 4] = zone_w[mark / 4].max(w.label.0 + 2.0 * ZONE_PAD),
            _ => col_w[mark / 4] = col_w[mark / 4].max(w.label.0 + 2.0 * COLUMN_PAD),
        }
    }
    let part = |count: usize, pad: f64| match count {
        0 => 0.0,
        c => pad + (c - 1) as f64 * TRACK,
    };
    let (mut corridor_x, mut zone_x, mut col_x) = (
        vec![0.0; columns + 1],
        vec![0.0; columns + 1],
        vec![0.0; columns],
    );
    let mut corridor_w = vec![0.0; columns + 1];
    let mut x = MARGIN;
    for k in 0..=columns {
        let (o, i) = (part(out_count[k], OUT_PAD), part(in_count[k], IN_PAD));
        if k > 0 && k < columns {
            zone_w[k] = zone_w[k].max(CORRIDOR_MIN - o - i);
        }
        corridor_x[k] = x;
        zone_x[k] = x + o;
        corridor_w[k] = o + zone_w[k] + i;
        x += corridor_w[k];
        if k < columns {
            col_x[k] = x;
            x += col_w[k];
        }
    }
    let width = x + MARGIN;

    let boxes: Vec<Rect> = (0..n)
        .map(|v| Rect {
            x: col_x[column[v]],
            y: box_y[v],
            w: widths[v],
            h: heights[v],
        })
        .collect();
    let routes = (wires.iter().enumerate())
        .map(|(i, w)| {
            let (from, to) = (boxes[w.source], boxes[w.target]);
            let (lw, lh) = w.label;
            let mark = marks[i];
            let label_x = match mark % 4 {
                1 => zone_x[mark / 4] + (zone_w[mark / 4] - lw) / 2.0,
                _ => col_x[mark / 4] + (col_w[mark / 4] - lw) / 2.0,
            };
            match level(&ways[i]) {
                None => Route {
                    points: vec![(from.right(), exit[i]), (to.x, entry[i])],
                    label: Rect {
                        x: label_x,
                        y: exit[i] - lh / 2.0,
                        w: lw,
                        h: lh,
                    },
                },
                Some(y) => {
                    let k = column[w.source] + 1;
                    let xa = corridor_x[k] + OUT_PAD + out_track[i] as f64 * TRACK;
                    let k = column[w.target];
                    let xb = corridor_x[k] + corridor_w[k] - IN_PAD - in_track[i] as f64 * TRACK;
                    Route {
                        points: vec![
                            (from.right(), exit[i]),
                            (xa, exit[i]),
                            (xa, y),
                            (xb, y),
                            (xb, entry[i]),
                            (to.x, entry[i]),
                        ],
                        label: Rect {
                            x: label_x,
                            y: y - lh / 2.0,
                            w: lw,
                            h: lh,
                        },
                    }
                }
            }
        })
        .collect();
    Drawn {
        boxes,
        routes,
        width,
        height,
    }
}
