//! `planet graph --format html`: a picture that does not lie, checked on
//! the SVG's own geometry. The fleet is shaped like the picture that once
//! lied: one host with many servers that an unknown client (a peer outside
//! the fleet) calls five of, a process calling a port it serves itself, a
//! host with many services, and edges whose labels are long (failures,
//! retransmits). Every path is sampled against every box, every label
//! against every box and every other label (`testenv/svg.rs`); then
//! Chromium draws the page. The same fleet, then and now, shows what
//! changed in `graph_picture_diff.rs`; `graph_picture_hostile.rs` draws
//! hostile labels.

use std::path::{Path, PathBuf};

use crate::testenv::svg::assert_does_not_lie;
use crate::testenv::*;

/// A dependency series: (process, peer addr, port, open, bytes out, bytes
/// in, failed connects, retransmits).
pub type Series<'a> = (&'a str, &'a str, &'a str, u32, u32, u32, u32, u32);

/// One host's `.prom` file, as planet writes the families the graph reads.
pub fn host(
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

pub const STRANGER: &str = "198.51.100.7";
pub const LOCAL: &str = "127.0.0.1";

/// web1 serves six ports; a stranger calls five of them; app calls a
/// port it serves itself.
pub fn web1() -> String {
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
pub fn api(then: bool) -> String {
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

/// client calls web1 and, now (`then` false), api's gateway too, failing
/// once.
pub fn client(then: bool) -> String {
    let mut up = vec![("curl", "192.0.2.10", "80", 1, 500, 20_000, 0, 0)];
    if !then {
        up.push(("curl", "192.0.2.20", "443", 1, 500, 20_000, 1, 2));
    }
    host("client", "192.0.2.30", &[], &up, &[])
}

/// The fleet's files, `web1.prom`, `api.prom` and `client.prom` in `dir`,
/// as it is now or (`then`) as it was: the paths.
pub fn fleet(dir: &Path, then: bool) -> Vec<PathBuf> {
    let files = [
        ("web1.prom", web1()),
        ("api.prom", api(then)),
        ("client.prom", client(then)),
    ];
    write(dir, &files)
}

/// Writes each `(path, text)` under `dir`: the paths.
pub fn write(dir: &Path, files: &[(&str, String)]) -> Vec<PathBuf> {
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
pub fn page(files: &[PathBuf], args: &[&str]) -> String {
    stdout_ok(
        planet(["graph", "--format", "html", "--files"])
            .args(files)
            .args(args),
    )
}

/// The fleet's page: the same bytes twice, its counts said above it,
/// fetching nothing, and a picture that does not lie, in which the
/// stranger calls five servers, a process calling itself is a loop,
/// failures are red and retransmits orange. One host and one edge are said
/// in the singular; `--group host` is said above the picture.
#[test]
fn the_picture_does_not_lie() {
    let dir = tempfile::tempdir().unwrap();
    let now = fleet(dir.path(), false);
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
        picture.wire("svc:web1//app", "svc:web1//app").lines[0],
        ":8080 · 1 conn"
    );
    let failing = picture.wire("svc:api//billing", "svc:web1//postgres");
    assert_eq!(
        (failing.stroke.as_str(), failing.lines[2].as_str()),
        ("#d62728", "1234 failed connects")
    );
    let slow = picture.wire("svc:api//worker", "svc:web1//redis");
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

/// Chromium draws `html` to a PNG that is more than a blank canvas, in a
/// window the size of the graph and then some. With PLANET_PICTURES=DIR
/// set, the pictures stay there to be looked at.
pub fn screenshot(html: &str, dir: &Path, name: &str) {
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
