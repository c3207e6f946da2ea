//! The HTML graph's SVG read back as geometry (boxes, wires, labels), and
//! the contract a picture keeps: it does not lie. Used by the
//! `graph_picture*.rs` tests.

use std::collections::BTreeMap;

/// A rectangle: its top left corner, width and height.
#[derive(Debug, Clone, Copy)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

/// An edge as drawn: its group's class (`edge`, `edge new`...), the node
/// ids it joins, its colour, its path's points, and its label's rectangle
/// and lines.
#[derive(Debug)]
pub struct Wire {
    pub class: String,
    pub source: String,
    pub target: String,
    pub stroke: String,
    pub points: Vec<(f64, f64)>,
    pub label: Rect,
    pub lines: Vec<String>,
}

/// The graph's SVG read back: boxes by node id, and wires.
pub struct Picture {
    pub boxes: BTreeMap<String, Rect>,
    pub wires: Vec<Wire>,
}

impl Picture {
    /// The wire from `source` to `target` (node ids).
    pub fn wire(&self, source: &str, target: &str) -> &Wire {
        (self.wires.iter())
            .find(|w| w.source == source && w.target == target)
            .unwrap_or_else(|| panic!("no edge {source} -> {target}"))
    }
}

/// Tags in order: name, attributes, and the text up to the next tag.
fn tags(svg: &str) -> Vec<(String, BTreeMap<String, String>, String)> {
    let unescape = |s: &str| {
        (s.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\""))
        .replace("&#39;", "'")
        .replace("&amp;", "&")
    };
    let mut out = Vec::new();
    for chunk in svg.split('<').skip(1) {
        let (tag, text) = chunk.split_once('>').expect("a closed tag");
        let tag = tag.trim_end_matches('/');
        let (name, mut rest) = tag.split_once(' ').unwrap_or((tag, ""));
        let mut attrs = BTreeMap::new();
        while let Some((key, value)) = rest.split_once("=\"") {
            let (value, after) = value.split_once('"').expect("a closed attribute");
            attrs.insert(key.trim().to_string(), unescape(value));
            rest = after;
        }
        out.push((name.to_string(), attrs, unescape(text)));
    }
    out
}

/// The graph's SVG in `page`, read back; each label's text lines must
/// lie inside its rectangle.
fn read(page: &str) -> Picture {
    let start = page.find("<svg id=\"graph\"").expect("the graph's SVG");
    let end = start + page[start..].find("</svg>").unwrap();
    let (mut boxes, mut wires) = (BTreeMap::new(), Vec::<Wire>::new());
    let (mut node, mut class) = (String::new(), String::new());
    let number = |a: &BTreeMap<String, String>, k: &str| a[k].parse::<f64>().unwrap();
    let rect = |a: &BTreeMap<String, String>| Rect {
        x: number(a, "x"),
        y: number(a, "y"),
        w: number(a, "width"),
        h: number(a, "height"),
    };
    for (name, a, text) in tags(&page[start..end]) {
        let has = |k: &str, v: &str| a.get(k).is_some_and(|c| c.split(' ').any(|w| w == v));
        match name.as_str() {
            "g" if has("class", "node") => node = a["data-id"].clone(),
            "g" if has("class", "edge") => class = a["class"].clone(),
            "rect" if has("class", "box") => {
                assert!(boxes.insert(node.clone(), rect(&a)).is_none())
            }
            "path" if has("class", "wire") => {
                let d: Vec<&str> = a["d"].split(' ').collect();
                assert!(
                    d[0] == "M" && d.len().is_multiple_of(3),
                    "a polyline: {d:?}"
                );
                let points = (d.chunks(3))
                    .map(|p| (p[1].parse().unwrap(), p[2].parse().unwrap()))
                    .collect();
                wires.push(Wire {
                    class: class.clone(),
                    source: a["data-source"].clone(),
                    target: a["data-target"].clone(),
                    stroke: a["stroke"].clone(),
                    points,
                    label: Rect {
                        x: 0.0,
                        y: 0.0,
                        w: 0.0,
                        h: 0.0,
                    },
                    lines: Vec::new(),
                });
            }
            "rect" if has("class", "label") => wires.last_mut().unwrap().label = rect(&a),
            "text" if has("class", "label") => {
                let wire = wires.last_mut().unwrap();
                assert_eq!(
                    (a["font-size"].as_str(), a.get("font-family")),
                    ("10", None)
                );
                let (x, y) = (number(&a, "x"), number(&a, "y"));
                let l = wire.label;
                assert!(
                    x > l.x && y - 10.0 > l.y && y + 3.0 < l.y + l.h,
                    "{text} outside {l:?}"
                );
                wire.lines.push(text);
            }
            _ => {}
        }
    }
    Picture { boxes, wires }
}

/// How far a point may be off a line and still be on it, in pixels.
const TOL: f64 = 0.3;

fn inside(p: (f64, f64), b: &Rect) -> bool {
    p.0 > b.x + TOL && p.0 < b.x + b.w - TOL && p.1 > b.y + TOL && p.1 < b.y + b.h - TOL
}

fn on_edge_of(p: (f64, f64), b: &Rect) -> bool {
    let near = |v: f64, lo: f64, hi: f64| v > lo - TOL && v < hi + TOL;
    near(p.0, b.x, b.x + b.w) && near(p.1, b.y, b.y + b.h) && !inside(p, b)
}

fn overlap(a: &Rect, b: &Rect) -> bool {
    a.x < b.x + b.w - TOL && b.x < a.x + a.w - TOL && a.y < b.y + b.h - TOL && b.y < a.y + a.h - TOL
}

/// Every point of a path, a pixel apart at most.
fn along(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut out = vec![points[0]];
    for pair in points.windows(2) {
        let ((x0, y0), (x1, y1)) = (pair[0], pair[1]);
        let steps = ((x1 - x0).abs().max((y1 - y0).abs()).ceil() as usize).max(1) * 2;
        out.extend((1..=steps).map(|i| {
            let t = i as f64 / steps as f64;
            (x0 + t * (x1 - x0), y0 + t * (y1 - y0))
        }));
    }
    out
}

/// The contract, on the page's geometry: no two boxes overlap; every wire
/// starts on its source's edge and ends on its target's, passes through no
/// box, and has a label that holds its text and lies on no box and no
/// other label; a process calling itself is a loop that shows, around its
/// box. The picture, for more.
pub fn assert_does_not_lie(page: &str) -> Picture {
    let picture = read(page);
    assert!(!picture.wires.is_empty() && !picture.boxes.is_empty());
    let boxes: Vec<(&String, &Rect)> = picture.boxes.iter().collect();
    for (i, (a, ra)) in boxes.iter().enumerate() {
        for (b, rb) in &boxes[i + 1..] {
            assert!(!overlap(ra, rb), "boxes {a} and {b} overlap");
        }
    }
    for wire in &picture.wires {
        let (from, to) = (&picture.boxes[&wire.source], &picture.boxes[&wire.target]);
        let (first, last) = (wire.points[0], *wire.points.last().unwrap());
        assert!(
            on_edge_of(first, from),
            "{wire:?} does not start at its source"
        );
        assert!(on_edge_of(last, to), "{wire:?} does not end at its target");
        for p in along(&wire.points) {
            for (id, b) in &boxes {
                assert!(
                    !inside(p, b),
                    "{} -> {} passes through {id} at {p:?}",
                    wire.source,
                    wire.target
                );
            }
        }
        let l = &wire.label;
        let widest = wire.lines.iter().map(|t| t.chars().count()).max().unwrap();
        assert!(
            !wire.lines.is_empty()
                && l.w >= 6.2 * widest as f64
                && l.h >= 12.0 * wire.lines.len() as f64,
            "{wire:?}: the label's rectangle holds its text"
        );
        for (id, b) in &boxes {
            assert!(
                !overlap(l, b),
                "the label of {} -> {} is on {id}",
                wire.source,
                wire.target
            );
        }
    }
    for (i, a) in picture.wires.iter().enumerate() {
        for b in &picture.wires[i + 1..] {
            assert!(
                !overlap(&a.label, &b.label),
                "labels {:?} and {:?} overlap",
                a.lines,
                b.lines
            );
        }
    }
    for wire in picture.wires.iter().filter(|w| w.source == w.target) {
        let b = &picture.boxes[&wire.source];
        let xs = wire.points.iter().map(|p| p.0);
        let ys = wire.points.iter().map(|p| p.1);
        let (left, right) = (
            xs.clone().fold(f64::MAX, f64::min),
            xs.fold(f64::MIN, f64::max),
        );
        let (top, bottom) = (
            ys.clone().fold(f64::MAX, f64::min),
            ys.fold(f64::MIN, f64::max),
        );
        assert!(
            right - left > b.w + 10.0 && bottom - top > 10.0,
            "a loop that shows: {wire:?}"
        );
        assert!(
            left < b.x - 5.0
                && right > b.x + b.w + 5.0
                && (top < b.y - 5.0 || bottom > b.y + b.h + 5.0)
        );
    }
    picture
}
