//! The HTML page's layout, left to right: clients before the servers they
//! call. Our own rather than a crate's: the page must be the same bytes for
//! the same input, it must hold its promises (no edge through a box it does
//! not end at, labels clear of boxes and of each other), and it must stay
//! near-linear at 150,000 edges.
//!
//! Boxes stand on a grid ([`rank`]): a column per layer, and rows shared
//! by every column, so the corridors between columns and the bands between
//! rows hold no box. Every edge is a polyline ([`route`]): out of its
//! source's right side into the corridor beside it, along a lane of a band,
//! down the corridor before its target, into the target's left side (or
//! straight across when the two boxes face each other). A label sits in its
//! edge's lane, in a part of a corridor where no line runs up or down.
//!
//! Text is measured, not guessed: the page draws it in a monospace font of
//! fixed size, so a label's rectangle is its widest line's character cells
//! times [`LABEL_CHAR`], and a test can trust it.

mod lanes;
mod rank;
mod route;

use std::collections::HashMap;

use crate::graph::model::Graph;

/// Label text: monospace, this many pixels high.
pub const LABEL_FONT: f64 = 10.0;
/// What one character cell of label text takes, with room to spare (the
/// usual monospace advance at 10 px is 6.0).
pub const LABEL_CHAR: f64 = 6.2;
/// From one line of label text to the next.
pub const LABEL_LINE: f64 = 12.0;
/// Between a label's text and its rectangle's sides, and top and bottom.
pub const LABEL_PAD_X: f64 = 4.0;
pub const LABEL_PAD_Y: f64 = 3.0;
/// A box's title (bold) and the line under it: font sizes and cells.
pub const TITLE_FONT: f64 = 13.0;
pub const TITLE_CHAR: f64 = 8.0;
pub const SUB_FONT: f64 = 11.0;
pub const SUB_CHAR: f64 = 6.8;
pub const BOX_PAD_X: f64 = 10.0;
/// A box's least height; taller when many edges meet one of its sides.
pub const BOX_H: f64 = 44.0;
const BOX_MIN_W: f64 = 100.0;
/// At most this many character cells of a title, a subtitle or a label
/// line are drawn; the rest is an ellipsis (the whole id is the box's and
/// the edge's tooltip).
pub const TITLE_CELLS: usize = 40;
pub const SUB_CELLS: usize = 48;
pub const LABEL_CELLS: usize = 44;

/// An axis-aligned rectangle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

impl Rect {
    pub fn right(&self) -> f64 {
        self.x + self.w
    }
    pub fn bottom(&self) -> f64 {
        self.y + self.h
    }
    pub fn middle(&self) -> f64 {
        self.y + self.h / 2.0
    }
}

/// An edge as drawn: its polyline, from the source's side to the target's,
/// and its label's rectangle.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub points: Vec<(f64, f64)>,
    pub label: Rect,
}

pub struct Layout {
    /// Every node's box, by the node's index.
    pub boxes: Vec<Rect>,
    /// Every edge's route, by the edge's index; `None` when an end is not
    /// a node of the graph.
    pub routes: Vec<Option<Route>>,
    pub width: f64,
    pub height: f64,
}

/// Character cells of monospace text: East Asian wide characters and
/// emoji take two.
pub fn cells(text: &str) -> usize {
    text.chars().map(|c| 1 + usize::from(wide(c))).sum()
}

fn wide(c: char) -> bool {
    matches!(u32::from(c),
        0x1100..=0x115F | 0x2E80..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6
        | 0x1F000..=0x1FAFF | 0x20000..=0x3FFFD)
}

/// `text` cut to at most `most` cells, an ellipsis marking the cut.
pub fn clipped(text: &str, most: usize) -> String {
    if cells(text) <= most {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = 1 + usize::from(wide(c));
        if used + w > most - 1 {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// A label's width and height, from its lines (already clipped).
pub fn label_size(lines: &[String]) -> (f64, f64) {
    let widest = lines.iter().map(|l| cells(l)).max().unwrap_or(0);
    (
        widest as f64 * LABEL_CHAR + 2.0 * LABEL_PAD_X,
        lines.len() as f64 * LABEL_LINE + 2.0 * LABEL_PAD_Y,
    )
}

/// A box's width, from its title and subtitle (already clipped).
pub fn box_width(title: &str, sub: &str) -> f64 {
    let text = (cells(title) as f64 * TITLE_CHAR).max(cells(sub) as f64 * SUB_CHAR);
    (text + 2.0 * BOX_PAD_X).max(BOX_MIN_W)
}

impl Layout {
    /// Lays out `graph`: `texts[i]` is node i's (title, subtitle) and
    /// `labels[i]` edge i's lines, as the page draws them.
    pub fn of(graph: &Graph, texts: &[(String, String)], labels: &[Vec<String>]) -> Layout {
        let mut index: HashMap<&str, usize> = HashMap::with_capacity(graph.nodes.len());
        for (i, node) in graph.nodes.iter().enumerate() {
            index.entry(node.id.as_str()).or_insert(i);
        }
        let wires: Vec<route::Wire> = (graph.edges.iter().zip(labels).enumerate())
            .filter_map(|(edge, (e, lines))| {
                Some(route::Wire {
                    edge,
                    source: *index.get(e.source.as_str())?,
                    target: *index.get(e.target.as_str())?,
                    label: label_size(lines),
                })
            })
            .collect();
        let links: Vec<(usize, usize)> = (wires.iter())
            .filter(|w| w.source != w.target)
            .map(|w| (w.source, w.target))
            .collect();
        let grid = rank::grid(graph.nodes.len(), &links);
        let widths: Vec<f64> = texts.iter().map(|(t, s)| box_width(t, s)).collect();
        let drawn = route::route(&grid, &widths, &wires);
        let mut routes = vec![None; graph.edges.len()];
        for (wire, r) in wires.iter().zip(drawn.routes) {
            routes[wire.edge] = Some(r);
        }
        Layout {
            boxes: drawn.boxes,
            routes,
            width: drawn.width,
            height: drawn.height,
        }
    }
}

#[cfg(test)]
mod tests;
