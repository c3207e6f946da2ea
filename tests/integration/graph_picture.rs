//! `planet graph --format html`: a picture that does not lie, checked on
//! the SVG's own geometry. The fleet is shaped like the picture that once
//! lied: one host with many servers that an unknown client (a peer outside
//! the fleet) calls five of, a process calling a port it serves itself, a
//! host with many services, and edges whose labels are long (failures,
//! retransmits). Every path is sampled against every box, every label
//! against every box and every other label; then Chromium draws the page.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::testenv::*;

/// A dependency series: (process, peer addr, port, open, bytes out, bytes
/// in, failed connects, retransmits).
type Series<'a> = (&'a str, &'a str, &'a str, u32, u32, u32, u32, u32);

/// One host's `.prom` file, as planet writes the families the graph reads.
fn host(
    name: &str,
    addr: &str,
    serving: &[(&str, &str)],
    up: &[Series],
    down: &[Series],
) -> String {
    let quoted = |v: &str| v.replace('\\', "\\\\").replace('"', "\\\"");
    let mut out = format!(
        "planet_host_info{{hostname=\"{}\"}} 1\nplanet_address{{addr=\"{addr}\",container=\"\"}} 1\n",
        quoted(name)
    );
    for (process, port) in serving {
        out += &format!(
            "planet_serving{{protocol=\"tcp\",name=\"{}\",container=\"\",addr=\"0.0.0.0\",port=\"{port}\"}} 1\n",
            quoted(process)
        );
    }
    for (family, rows) in [("upstream", up), ("downstream", down)] {
        for &(process, peer, port, open, sent, got, failed, retransmits) in rows {
            let l = format!(
                "protocol=\"tcp\",process=\"{}\",container=\"\",name=\"{peer}\",domain=\"\",addr=\"{peer}\",port=\"{}\"",
                quoted(process),
                quoted(port)
            );
            out += &format!("planet_{family}{{{l}}} {open}\n");
            out += &format!("planet_{family}_bytes_total{{{l},direction=\"out\"}} {sent}\n");
            out += &format!("planet_{family}_bytes_total{{{l},direction=\"in\"}} {got}\n");
            if family == "upstream" {
                out += &format!("planet_upstream_connect_failures_total{{{l}}} {failed}\n");
            }
            out += &format!("planet_{family}_retransmits_total{{{l}}} {retransmits}\n");
        }
    }
    out
}

const STRANGER: &str = "198.51.100.7";
const LOCAL: &str = "127.0.0.1";

/// web1 serves six ports; a stranger calls five of them; app calls a
/// port it serves itself.
fn web1() -> String {
    let servers = [
        ("nginx", "80"),
        ("postgres", "5432"),
        ("redis", "6379"),
        ("node_exporter", "9100"),
        ("memcached", "11211"),
        ("app", "8080"),
    ];
    let up = [
        ("nginx", LOCAL, "8080", 4, 10_000, 900_000, 0, 0),
        ("app", LOCAL, "5432", 2, 5_000, 70_000, 0, 0),
        ("app", LOCAL, "6379", 1, 300, 3_000, 0, 0),
        ("app", LOCAL, "8080", 1, 100, 200, 0, 0),
    ];
    let down: Vec<Series> = (servers[..5].iter())
        .map(|&(process, port)| (process, STRANGER, port, 1, 1_000, 20_000, 0, 0))
        .collect();
    host("web1", "192.0.2.10", &servers, &up, &down)
}

/// api runs seven services that call each other, web1, and the world.
fn api(then: bool) -> String {
    let mut up = vec![
        ("gateway", LOCAL, "9000", 3, 1, 2, 0, 0),
        ("gateway", LOCAL, "9001", 2, 1, 2, 0, 0),
        (
            "billing",
            "192.0.2.10",
            "5432",
            3,
            40_000,
            900_000,
            1_234,
            0,
        ),
        ("worker", "192.0.2.10", "6379", 2, 1_000, 2_000, 0, 57),
        ("scheduler", LOCAL, "7000", 1, 10, 10, 0, 0),
        ("search", "192.0.2.10", "11211", 1, 10, 10, 0, 3),
        ("auth", "192.0.2.10", "5432", 1, 10, 10, 0, 0),
    ];
    match then {
        true => up.push(("scheduler", "198.51.100.200", "53", 1, 10, 10, 0, 0)),
        false => up.extend([
            ("gateway", LOCAL, "9200", 5, 1_000_000, 50_000_000, 0, 0),
            ("mailer", "203.0.113.25", "25", 0, 0, 0, 99, 0),
        ]),
    }
    let servers = [
        ("gateway", "443"),
        ("auth", "9000"),
        ("billing", "9001"),
        ("search", "9200"),
        ("mailer", "2525"),
        ("worker", "7000"),
        ("scheduler", "7001"),
    ];
    host("api", "192.0.2.20", &servers, &up, &[])
}

fn client(then: bool) -> String {
    let mut up = vec![("curl", "192.0.2.10", "80", 1, 500, 20_000, 0, 0)];
    if !then {
        up.push(("curl", "192.0.2.20", "443", 1, 500, 20_000, 1, 2));
    }
    host("client", "192.0.2.30", &[], &up, &[])
}

fn write(dir: &Path, files: &[(&str, String)]) -> Vec<PathBuf> {
    (files.iter())
        .map(|(name, text)| {
            let path = dir.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
            path
        })
        .collect()
}

/// `planet graph --format html --files FILES ARGS`: the page.
fn page(files: &[PathBuf], args: &[&str]) -> String {
    let output = planet(["graph", "--format", "html", "--files"])
        .args(files)
        .args(args)
        .output()
        .unwrap();
    assert_success(&output);
    String::from_utf8(output.stdout).unwrap()
}

#[derive(Debug, Clone, Copy)]
struct Rect {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

#[derive(Debug)]
struct Wire {
    class: String,
    source: String,
    target: String,
    stroke: String,
    points: Vec<(f64, f64)>,
    label: Rect,
    lines: Vec<String>,
}

/// The graph's SVG read back: boxes by node id, and wires.
struct Picture {
    boxes: BTreeMap<String, Rect>,
    wires: Vec<Wire>,
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

/// Every point of every path, a pixel apart at most.
fn samples(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
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

/// The contract, on the page's geometry.
fn assert_does_not_lie(page: &str) -> Picture {
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
        for p in samples(&wire.points) {
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

fn wire<'a>(picture: &'a Picture, source: &str, target: &str) -> &'a Wire {
    (picture.wires.iter())
        .find(|w| w.source == source && w.target == target)
        .unwrap_or_else(|| panic!("no edge {source} -> {target}"))
}

#[test]
fn the_picture_does_not_lie() {
    let dir = tempfile::tempdir().unwrap();
    let now = write(
        dir.path(),
        &[
            ("web1.prom", web1()),
            ("api.prom", api(false)),
            ("client.prom", client(false)),
        ],
    );
    let html = page(&now, &[]);
    assert_eq!(html, page(&now, &[]), "the same bytes");
    assert!(html.contains(
        "<p class=\"counts\">3 hosts, 16 nodes (2 peers outside the fleet), 20 edges.</p>"
    ));
    assert!(!html.contains("class=\"legend\"") && !html.contains("id=\"grouped\""));
    for fetched in ["<script", "src=", "@import", "url(http", "href="] {
        assert!(!html.contains(fetched), "the page fetches: {fetched}");
    }
    let picture = assert_does_not_lie(&html);
    let stranger = format!("ext:{STRANGER}");
    let called = (picture.wires.iter())
        .filter(|w| w.source == stranger)
        .count();
    assert_eq!(called, 5, "the stranger calls five servers");
    assert_eq!(
        wire(&picture, "svc:web1//app", "svc:web1//app").lines[0],
        ":8080 · 1 conn"
    );
    let failing = wire(&picture, "svc:api//billing", "svc:web1//postgres");
    assert_eq!(
        (failing.stroke.as_str(), failing.lines[2].as_str()),
        ("#d62728", "1234 failed connects")
    );
    let slow = wire(&picture, "svc:api//worker", "svc:web1//redis");
    assert_eq!(
        (slow.stroke.as_str(), slow.lines[2].as_str()),
        ("#ff7f0e", "57 retransmits")
    );
    assert!(picture.wires.iter().all(|w| w.class == "edge"));
    screenshot(&html, dir.path(), "fleet");

    // One host, one edge: singular.
    let solo = write(
        dir.path(),
        &[(
            "solo.prom",
            host(
                "solo",
                "192.0.2.40",
                &[("redis", "6379")],
                &[("app", LOCAL, "6379", 1, 1, 1, 0, 0)],
                &[],
            ),
        )],
    );
    let html = page(&solo, &[]);
    assert!(
        html.contains("<p class=\"counts\">1 host, 2 nodes, 1 edge.</p>"),
        "{html}"
    );
    assert_does_not_lie(&html);

    // One node per host: said at the top.
    let html = page(&now, &["--group", "host"]);
    let notice = html.find("id=\"grouped\"").expect("the grouped notice");
    assert!(notice < html.find("<svg").unwrap() && html[notice..].contains("one node per host"));
    assert!(html.contains("3 hosts, 5 nodes (2 peers outside the fleet), "));
    assert_does_not_lie(&html);
    screenshot(&html, dir.path(), "grouped");
}

/// `--files NOW... --before THEN...`: new is green, gone is grey and
/// dashed, nodes and edges, and a legend says so.
#[test]
fn what_changed_is_styled_with_a_legend() {
    let dir = tempfile::tempdir().unwrap();
    let now = write(
        dir.path(),
        &[
            ("now/web1.prom", web1()),
            ("now/api.prom", api(false)),
            ("now/client.prom", client(false)),
        ],
    );
    let then = write(
        dir.path(),
        &[
            ("then/web1.prom", web1()),
            ("then/api.prom", api(true)),
            ("then/client.prom", client(true)),
        ],
    );
    let mut args: Vec<&str> = vec!["--before"];
    args.extend(then.iter().map(|p| p.to_str().unwrap()));
    let html = page(&now, &args);
    let picture = assert_does_not_lie(&html);
    assert!(html.contains("<svg class=\"legend\""), "a legend");
    for rule in [
        ".node.new rect { fill: #e6f4ea; stroke: #2ca02c;",
        ".node.gone rect { fill: #f5f5f5; stroke: #999; stroke-dasharray: 6 4; }",
        ".edge.gone .wire { stroke-dasharray: 6 4; }",
    ] {
        assert!(html.contains(rule), "{rule}");
    }
    let new = wire(&picture, "svc:api//gateway", "svc:api//search");
    assert_eq!(
        (new.class.as_str(), new.stroke.as_str()),
        ("edge new", "#2ca02c")
    );
    let gone = wire(&picture, "svc:api//scheduler", "ext:198.51.100.200");
    assert_eq!(
        (gone.class.as_str(), gone.stroke.as_str()),
        ("edge gone", "#999")
    );
    // New and failing: red says more than green.
    let failing = wire(&picture, "svc:client//curl", "svc:api//gateway");
    assert_eq!(
        (failing.class.as_str(), failing.stroke.as_str()),
        ("edge new", "#d62728")
    );
    let same = wire(&picture, "svc:client//curl", "svc:web1//nginx");
    assert_eq!(
        (same.class.as_str(), same.stroke.as_str()),
        ("edge", "#555")
    );
    assert!(html.contains("<g class=\"node external gone\" data-id=\"ext:198.51.100.200\">"));
    assert!(html.contains("<g class=\"node external new\" data-id=\"ext:203.0.113.25\">"));
    screenshot(&html, dir.path(), "diff");
}

/// Label values are data: the page runs nothing a label holds.
#[test]
fn hostile_labels_run_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let script = "<script>document.title='pwned'</script>";
    let img = "\"><img src=x onerror=\"document.title='pwned'\">";
    let files = write(
        dir.path(),
        &[(
            "evil.prom",
            host(
                "<b>evil</b>",
                "192.0.2.66",
                &[(script, "80")],
                &[
                    (img, LOCAL, "80", 1, 1, 1, 0, 0),
                    (img, LOCAL, "'><svg onload=alert(1)>", 1, 1, 1, 1, 1),
                ],
                &[],
            ),
        )],
    );
    let html = page(&files, &[]);
    for forbidden in ["<script", "<img", "<b>", "<svg onload"] {
        assert!(!html.contains(forbidden), "{forbidden} in the page");
    }
    assert_does_not_lie(&html);
    let Some(chromium) = tool("chromium", "chromium") else {
        return;
    };
    let path = dir.path().join("evil.html");
    std::fs::write(&path, &html).unwrap();
    let profile = tempfile::tempdir().unwrap();
    let output = run_within(
        headless_chromium(&chromium, profile.path())
            .args(["--virtual-time-budget=3000", "--dump-dom"])
            .arg(format!("file://{}", path.display())),
        Duration::from_secs(120),
    );
    let dom = String::from_utf8_lossy(&output.stdout);
    assert!(
        dom.contains("<title>planet: the fleet's dependencies</title>"),
        "{dom}"
    );
    for injected in ["pwned</title>", "<script", "<img", "<b>", "onload=\""] {
        assert!(!dom.contains(injected), "{injected} in the DOM");
    }
    assert!(dom.contains("evil"), "the page was drawn");
}

/// Chromium draws `html` to a PNG that is more than a blank canvas, in a
/// window the size of the graph and then some. With PLANET_PICTURES=DIR
/// set, the pictures stay there to be looked at.
fn screenshot(html: &str, dir: &Path, name: &str) {
    let page = dir.join(format!("{name}.html"));
    let png = dir.join(format!("{name}.png"));
    std::fs::write(&page, html).unwrap();
    let size = |key: &str| -> f64 {
        let svg = &html[html.find("<svg id=\"graph\"").unwrap()..];
        let at = svg.find(&format!(" {key}=\"")).unwrap() + key.len() + 3;
        svg[at..at + svg[at..].find('"').unwrap()].parse().unwrap()
    };
    let window = (size("width") as u32 + 60, size("height") as u32 + 400);
    if assert_renders_non_blank(&page, &png, window).is_none() {
        return;
    }
    if let Some(keep) = std::env::var_os("PLANET_PICTURES") {
        std::fs::copy(&png, Path::new(&keep).join(format!("{name}.png"))).unwrap();
    }
}
