//! A layered layout for the HTML page, left to right: clients before the
//! servers they call. Our own rather than a crate's: the graph is a few
//! hundred boxes at most, the rule fits in this file, and the page must be
//! the same bytes for the same input (a layout crate that iterates to
//! convergence need not be).
//!
//! A node's layer is the longest chain of calls that leads to it (cycles
//! are cut by bounding the passes at the number of nodes); within a layer,
//! nodes are ordered by the mean position of their callers, then by id.

use std::collections::HashMap;

use crate::graph::model::Graph;

const BOX_W: f64 = 230.0;
const BOX_H: f64 = 52.0;
/// Room between layers for the edges' labels.
const LAYER_GAP: f64 = 170.0;
const ROW_GAP: f64 = 46.0;
const MARGIN: f64 = 20.0;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Place {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

impl Place {
    pub fn left(&self) -> f64 {
        self.x
    }
    pub fn right(&self) -> f64 {
        self.x + self.w
    }
    pub fn middle(&self) -> f64 {
        self.y + self.h / 2.0
    }
}

pub struct Layout {
    places: HashMap<String, Place>,
    pub width: f64,
    pub height: f64,
}

impl Layout {
    pub fn of(graph: &Graph) -> Layout {
        let index: HashMap<&str, usize> = graph
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.id.as_str(), i))
            .collect();
        let edges: Vec<(usize, usize)> = graph
            .edges
            .iter()
            .filter_map(|e| {
                Some((
                    *index.get(e.source.as_str())?,
                    *index.get(e.target.as_str())?,
                ))
            })
            .filter(|(s, t)| s != t)
            .collect();
        // Longest path from a source, relaxed at most once per node.
        let mut layer = vec![0usize; graph.nodes.len()];
        for _ in 0..graph.nodes.len() {
            let mut changed = false;
            for &(s, t) in &edges {
                if layer[t] < layer[s] + 1 && layer[s] + 1 < graph.nodes.len() {
                    layer[t] = layer[s] + 1;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        let layers = layer.iter().max().map_or(0, |m| m + 1);
        let mut rows: Vec<Vec<usize>> = vec![Vec::new(); layers];
        let mut row_of = vec![0.0f64; graph.nodes.len()];
        for (l, row) in rows.iter_mut().enumerate() {
            let mut members: Vec<(f64, usize)> = (0..graph.nodes.len())
                .filter(|&n| layer[n] == l)
                .map(|n| {
                    let callers: Vec<f64> = edges
                        .iter()
                        .filter(|&&(s, t)| t == n && layer[s] < l)
                        .map(|&(s, _)| row_of[s])
                        .collect();
                    let mean = match callers.is_empty() {
                        true => f64::MAX,
                        false => callers.iter().sum::<f64>() / callers.len() as f64,
                    };
                    (mean, n)
                })
                .collect();
            // By callers' mean position, then by id (the nodes' order).
            members.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            for (i, (_, n)) in members.iter().enumerate() {
                row_of[*n] = i as f64;
            }
            *row = members.into_iter().map(|(_, n)| n).collect();
        }
        let mut places = HashMap::new();
        for (l, row) in rows.iter().enumerate() {
            for (i, &n) in row.iter().enumerate() {
                let place = Place {
                    x: MARGIN + l as f64 * (BOX_W + LAYER_GAP),
                    y: MARGIN + i as f64 * (BOX_H + ROW_GAP),
                    w: BOX_W,
                    h: BOX_H,
                };
                places.insert(graph.nodes[n].id.clone(), place);
            }
        }
        let tallest = rows.iter().map(Vec::len).max().unwrap_or(0) as f64;
        Layout {
            places,
            width: 2.0 * MARGIN
                + layers as f64 * BOX_W
                + layers.saturating_sub(1) as f64 * LAYER_GAP,
            height: 2.0 * MARGIN + tallest * BOX_H + (tallest - 1.0).max(0.0) * ROW_GAP,
        }
    }

    pub fn place(&self, id: &str) -> Option<Place> {
        self.places.get(id).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::model::{Edge, Node, NodeKind, Peer, Traffic};

    fn node(id: &str) -> Node {
        Node {
            id: id.into(),
            kind: NodeKind::External(Peer {
                name: id.into(),
                addr: id.into(),
            }),
            change: None,
        }
    }

    fn edge(source: &str, target: &str) -> Edge {
        Edge {
            id: format!("{source}->{target}:1"),
            source: source.into(),
            target: target.into(),
            port: "1".into(),
            traffic: Traffic::default(),
            change: None,
        }
    }

    #[test]
    fn callers_stand_left_of_what_they_call_and_cycles_end() {
        let graph = Graph {
            grouped: false,
            nodes: ["a", "b", "c", "d"].map(node).to_vec(),
            edges: vec![
                edge("a", "b"),
                edge("b", "c"),
                edge("a", "c"),
                edge("c", "b"),
            ],
        };
        let layout = Layout::of(&graph);
        let x = |id| layout.place(id).unwrap().x;
        assert!(x("a") < x("b"));
        assert_eq!(x("d"), x("a"), "no caller: the first layer");
        assert!(layout.width > 0.0 && layout.height > 0.0);
    }
}
