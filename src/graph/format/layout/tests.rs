//! The layout's promises on many generated graphs, checked exactly on the
//! geometry: no edge crosses a box it does not end at, labels clear of
//! boxes, of each other and of every other edge, loops that show.

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
        workload: None,
    }
}

fn edge(source: &str, target: &str, port: usize) -> Edge {
    Edge {
        id: format!("{source}->{target}:{port}"),
        source: source.into(),
        target: target.into(),
        port: port.to_string(),
        traffic: Traffic::default(),
        change: None,
    }
}

/// A small deterministic generator (xorshift).
struct Dice(u64);
impl Dice {
    fn roll(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// A graph of `n` nodes and `m` edges between random ends (loops and
/// repeats included), with texts and labels of random sizes.
fn random(dice: &mut Dice, n: usize, m: usize) -> (Graph, Vec<(String, String)>, Vec<Vec<String>>) {
    let nodes: Vec<Node> = (0..n).map(|i| node(&format!("n{i:04}"))).collect();
    let edges: Vec<Edge> = (0..m)
        .map(|p| {
            let (s, t) = (dice.roll(n), dice.roll(n));
            edge(&nodes[s].id, &nodes[t].id, p)
        })
        .collect();
    let texts = (0..n)
        .map(|_| ("t".repeat(1 + dice.roll(30)), "s".repeat(dice.roll(40))))
        .collect();
    let labels = (0..m)
        .map(|_| {
            (0..2 + dice.roll(3))
                .map(|_| "x".repeat(5 + dice.roll(30)))
                .collect()
        })
        .collect();
    (
        Graph {
            nodes,
            edges,
            grouped: false,
        },
        texts,
        labels,
    )
}

const TOL: f64 = 0.01;

/// Whether the open interiors of two rectangles meet.
fn overlap(a: &Rect, b: &Rect) -> bool {
    a.x < b.right() - TOL
        && b.x < a.right() - TOL
        && a.y < b.bottom() - TOL
        && b.y < a.bottom() - TOL
}

/// Whether an axis-parallel segment enters a rectangle's interior.
fn crosses(p: (f64, f64), q: (f64, f64), r: &Rect) -> bool {
    let (x0, x1) = (p.0.min(q.0), p.0.max(q.0));
    let (y0, y1) = (p.1.min(q.1), p.1.max(q.1));
    x0 < r.right() - TOL && x1 > r.x + TOL && y0 < r.bottom() - TOL && y1 > r.y + TOL
}

/// Every promise of the layout, on `graph` laid out.
fn check(graph: &Graph, layout: &Layout) {
    let index: HashMap<&str, usize> = (graph.nodes.iter().enumerate())
        .map(|(i, n)| (n.id.as_str(), i))
        .collect();
    for (i, a) in layout.boxes.iter().enumerate() {
        for b in &layout.boxes[i + 1..] {
            assert!(!overlap(a, b), "boxes {a:?} {b:?}");
        }
    }
    let routes: Vec<(&Edge, &Route)> = (graph.edges.iter().zip(&layout.routes))
        .filter_map(|(e, r)| Some((e, r.as_ref()?)))
        .collect();
    for (e, r) in &routes {
        let (s, t) = (index[e.source.as_str()], index[e.target.as_str()]);
        let (from, to) = (layout.boxes[s], layout.boxes[t]);
        let (first, last) = (r.points[0], *r.points.last().unwrap());
        assert!(
            (first.0 - from.right()).abs() < TOL,
            "{e:?} leaves its source's right side"
        );
        assert!(first.1 > from.y + TOL && first.1 < from.bottom() - TOL);
        assert!(
            (last.0 - to.x).abs() < TOL,
            "{e:?} enters its target's left side"
        );
        assert!(last.1 > to.y + TOL && last.1 < to.bottom() - TOL);
        for pair in r.points.windows(2) {
            let (p, q) = (pair[0], pair[1]);
            assert!(p.0 == q.0 || p.1 == q.1, "{e:?}: not orthogonal");
            for b in &layout.boxes {
                assert!(!crosses(p, q, b), "{e:?} crosses {b:?}");
            }
        }
        for b in &layout.boxes {
            assert!(!overlap(&r.label, b), "{e:?}'s label on {b:?}");
        }
        if s == t {
            let xs = r.points.iter().map(|p| p.0);
            let ys = r.points.iter().map(|p| p.1);
            let (x0, x1) = (
                xs.clone().fold(f64::MAX, f64::min),
                xs.fold(f64::MIN, f64::max),
            );
            let (y0, y1) = (
                ys.clone().fold(f64::MAX, f64::min),
                ys.fold(f64::MIN, f64::max),
            );
            assert!(x0 < from.x - 5.0 && x1 > from.right() + 5.0);
            assert!(
                y0 < from.y - 5.0 || y1 > from.bottom() + 5.0,
                "{e:?}: a loop round its box"
            );
        }
    }
    for (i, (e, r)) in routes.iter().enumerate() {
        for (f, other) in &routes[i + 1..] {
            assert!(
                !overlap(&r.label, &other.label),
                "labels of {e:?} and {f:?}"
            );
        }
        for (f, other) in &routes {
            if std::ptr::eq(*other, *r) {
                continue;
            }
            for pair in other.points.windows(2) {
                assert!(
                    !crosses(pair[0], pair[1], &r.label),
                    "{f:?} under {e:?}'s label"
                );
            }
        }
        // The label is on its own line.
        assert!(
            r.points.windows(2).any(|p| crosses(p[0], p[1], &r.label)),
            "{e:?}'s label is off its line"
        );
    }
}

#[test]
fn promises_hold_on_many_graphs() {
    let mut dice = Dice(0x9e37_79b9_7f4a_7c15);
    for round in 0..400 {
        let n = 1 + dice.roll(25);
        let m = dice.roll(3 * n + 1);
        let (graph, texts, labels) = random(&mut dice, n, m);
        let layout = Layout::of(&graph, &texts, &labels);
        check(&graph, &layout);
        assert!(layout.width > 0.0 && layout.height > 0.0, "round {round}");
        let again = Layout::of(&graph, &texts, &labels);
        assert_eq!((again.boxes, again.routes), (layout.boxes, layout.routes));
    }
}

#[test]
fn callers_stand_left_and_facing_boxes_are_joined_straight() {
    let graph = Graph {
        grouped: false,
        nodes: ["a", "b", "c", "d"].map(node).to_vec(),
        edges: vec![
            edge("a", "b", 1),
            edge("b", "c", 2),
            edge("c", "b", 3),
            edge("c", "c", 4),
        ],
    };
    let texts = vec![("x".to_string(), String::new()); 4];
    let labels = vec![vec![":1 · 1 conn".to_string(), "→ 1 B ← 2 B".to_string()]; 4];
    let layout = Layout::of(&graph, &texts, &labels);
    check(&graph, &layout);
    let x = |i: usize| layout.boxes[i].x;
    assert!(x(0) < x(1) && x(1) < x(2));
    assert_eq!(x(3), x(0), "no caller: the first column");
    let ab = layout.routes[0].as_ref().unwrap();
    assert_eq!(ab.points.len(), 2, "a and b face each other: {ab:?}");
}

#[test]
fn text_is_measured_in_cells_and_clipped() {
    assert_eq!(cells("abc"), 3);
    assert_eq!(cells("日本"), 4);
    assert_eq!(clipped("abcdef", 4), "abc…");
    assert_eq!(clipped("abcd", 4), "abcd");
    assert_eq!(cells(&clipped(&"日".repeat(50), 9)), 9);
    let (w, h) = label_size(&["12345".to_string(), "1".to_string()]);
    assert_eq!((w, h), (5.0 * LABEL_CHAR + 8.0, 2.0 * LABEL_LINE + 6.0));
}
