//! `planet graph` on fleets written by hand, one `.prom` file per host:
//! the join rules where addresses are shared, unknown ends, hosts that
//! share a name, and label values that are hostile. What the flags do to
//! such fleets is in `graph_flags.rs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use planet::schema::{self, label};
use serde_json::Value;

use crate::testenv::*;

/// One host's file: its hostname, addresses (addr, container), services
/// (container, process, port), upstream and downstream series.
#[derive(Default)]
pub struct HostFile<'a> {
    pub hostname: &'a str,
    pub addresses: Vec<(&'a str, &'a str)>,
    pub serving: Vec<(&'a str, &'a str, &'a str)>,
    pub upstream: Vec<Series<'a>>,
    pub downstream: Vec<Series<'a>>,
}

/// A dependency series: (process, container, peer addr, port, open, bytes out).
pub type Series<'a> = (&'a str, &'a str, &'a str, &'a str, f64, f64);

/// A label value as the text format writes it.
fn escaped(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl HostFile<'_> {
    /// The file's text, as planet would write it (the families the graph
    /// reads).
    fn text(&self) -> String {
        let mut out = format!(
            "{}{{{}=\"{}\"}} 1\n",
            schema::HOST_INFO.name,
            label::HOSTNAME.name,
            escaped(self.hostname)
        );
        for (addr, container) in &self.addresses {
            out += &format!(
                "{}{{addr=\"{addr}\",container=\"{container}\"}} 1\n",
                schema::ADDRESS.name
            );
        }
        for (container, process, port) in &self.serving {
            out += &format!(
                "{}{{protocol=\"tcp\",name=\"{}\",container=\"{container}\",addr=\"0.0.0.0\",port=\"{port}\"}} 1\n",
                schema::SERVING.name,
                escaped(process)
            );
        }
        for (spec, bytes, rows) in [
            (&schema::UPSTREAM, &schema::UPSTREAM_BYTES, &self.upstream),
            (
                &schema::DOWNSTREAM,
                &schema::DOWNSTREAM_BYTES,
                &self.downstream,
            ),
        ] {
            for (process, container, addr, port, open, out_bytes) in rows {
                let labels = format!(
                    "protocol=\"tcp\",process=\"{}\",container=\"{container}\",name=\"{addr}\",domain=\"\",addr=\"{addr}\",port=\"{port}\"",
                    escaped(process)
                );
                out += &format!("{}{{{labels}}} {open}\n", spec.name);
                out += &format!("{}{{{labels},direction=\"out\"}} {out_bytes}\n", bytes.name);
                out += &format!("{}{{{labels},direction=\"in\"}} 0\n", bytes.name);
            }
        }
        out
    }
}

/// Writes each host's file into `dir` (as `NAME.prom`, or the path given)
/// and returns the paths.
pub fn write_fleet(dir: &Path, hosts: &[(&str, HostFile)]) -> Vec<PathBuf> {
    hosts
        .iter()
        .map(|(name, host)| {
            let path = dir.join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).unwrap();
            }
            std::fs::write(&path, host.text()).unwrap();
            path
        })
        .collect()
}

/// `planet graph ARGS --files FILES`: its output, which must be silent
/// success.
pub fn draw(files: &[PathBuf], args: &[&str]) -> String {
    stdout_ok(planet(["graph"]).args(args).arg("--files").args(files))
}

/// `planet graph ARGS --files FILES` as JSON.
pub fn json(files: &[PathBuf], args: &[&str]) -> Value {
    serde_json::from_str(&draw(files, args)).unwrap()
}

/// Node id -> its JSON object; edge id -> its JSON object.
pub fn by_id(graph: &Value) -> (BTreeMap<String, Value>, BTreeMap<String, Value>) {
    let index = |key: &str| {
        graph[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| (v["id"].as_str().unwrap().to_string(), v.clone()))
            .collect()
    };
    (index("nodes"), index("edges"))
}

/// 172.17.0.2, Docker's first container address, is on alpha and on beta.
/// beta's app calling it stays on beta; gamma, which has no such address,
/// cannot know which it reached: an ambiguous node naming both. 10.9.9.9
/// is delta's alone: the edge goes there.
#[test]
fn a_shared_address_joins_the_own_host_then_its_single_owner_else_no_host() {
    let dir = tempfile::tempdir().unwrap();
    let docker = |hostname| HostFile {
        hostname,
        addresses: vec![("172.17.0.2", "c-web")],
        serving: vec![("c-web", "nginx", "80")],
        ..HostFile::default()
    };
    let files = write_fleet(
        dir.path(),
        &[
            ("alpha.prom", docker("alpha")),
            (
                "beta.prom",
                HostFile {
                    upstream: vec![("app", "", "172.17.0.2", "80", 2.0, 500.0)],
                    ..docker("beta")
                },
            ),
            (
                "gamma.prom",
                HostFile {
                    hostname: "gamma",
                    upstream: vec![
                        ("app", "", "172.17.0.2", "80", 1.0, 70.0),
                        ("app", "", "10.9.9.9", "6379", 1.0, 9.0),
                    ],
                    ..HostFile::default()
                },
            ),
            (
                "delta.prom",
                HostFile {
                    hostname: "delta",
                    addresses: vec![("10.9.9.9", "")],
                    serving: vec![("", "redis", "6379")],
                    ..HostFile::default()
                },
            ),
        ],
    );
    let (nodes, edges) = by_id(&json(&files, &[]));
    let ids: Vec<&str> = edges.keys().map(String::as_str).collect();
    assert_eq!(
        ids,
        [
            "svc:beta//app->svc:beta/c-web/nginx:80",
            "svc:gamma//app->ext:172.17.0.2:80",
            "svc:gamma//app->svc:delta//redis:6379",
        ]
    );
    let ambiguous = &nodes["ext:172.17.0.2"];
    assert_eq!(ambiguous["detail__kind"], "ambiguous");
    assert_eq!(ambiguous["detail__hosts"], "alpha,beta");
    assert_eq!(
        edges["svc:beta//app->svc:beta/c-web/nginx:80"]["detail__bytes_out"],
        500.0
    );
}

/// A client whose process its host could not see is that host's `?`; a
/// served port whose process no host reports is its own node `:PORT`. A
/// refused connect to an unserved port of the host's own (that once drew a
/// `? -> ?` self-loop) is an edge from the one to the other.
#[test]
fn unknown_clients_and_unknown_servers_are_different_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_fleet(
        dir.path(),
        &[(
            "h.prom",
            HostFile {
                hostname: "h",
                addresses: vec![("192.0.2.10", "")],
                serving: vec![("", "", "9000")],
                upstream: vec![
                    ("", "", "192.0.2.10", "5999", 0.0, 0.0),
                    ("", "", "192.0.2.10", "9000", 1.0, 10.0),
                    ("web", "", "127.0.0.1", "9000", 1.0, 20.0),
                ],
                ..HostFile::default()
            },
        )],
    );
    let (nodes, edges) = by_id(&json(&files, &[]));
    let ids: Vec<&str> = edges.keys().map(String::as_str).collect();
    assert_eq!(
        ids,
        [
            "svc:h//->port:h//5999:5999",
            "svc:h//->port:h//9000:9000",
            "svc:h//web->port:h//9000:9000",
        ]
    );
    assert_eq!(nodes["port:h//5999"]["title"], ":5999");
    assert_eq!(nodes["port:h//5999"]["detail__kind"], "port");
    assert_eq!(nodes["svc:h//"]["title"], "?");
    assert!(
        !edges.values().any(|e| e["source"] == e["target"]),
        "no self-loop"
    );
}

/// Two hosts that both call themselves `localhost`, their files both
/// `planet.prom` in two directories: two hosts, named by their paths.
#[test]
fn hosts_from_files_with_the_same_hostname_never_merge() {
    let dir = tempfile::tempdir().unwrap();
    let host = || HostFile {
        hostname: "localhost",
        upstream: vec![("curl", "", "198.51.100.1", "443", 1.0, 1.0)],
        ..HostFile::default()
    };
    let files = write_fleet(
        dir.path(),
        &[("a/planet.prom", host()), ("b/planet.prom", host())],
    );
    let (nodes, edges) = by_id(&json(&files, &[]));
    let (a, b) = (files[0].display(), files[1].display());
    let clients: Vec<String> = nodes
        .keys()
        .filter(|id| id.starts_with("svc:"))
        .cloned()
        .collect();
    assert_eq!(
        clients,
        [format!("svc:{a}//curl"), format!("svc:{b}//curl")]
    );
    assert_eq!(edges.len(), 2, "one edge each, not one summed: {edges:?}");
}

/// What a tenant may name a process or a host: markup, a Mermaid
/// directive, quotes, a NUL and an escape sequence.
const HOSTILE: &str =
    "<script>alert(1)</script>\"'`%%{init: {\"theme\":\"dark\"}}%%]-->x[\u{0}\u{1b}[2J";

/// Label values are data. `dot` accepts the DOT (a NUL once made it reject
/// the file); the Mermaid has no markup, directive or edge from them; the
/// HTML no element from them; JSON keeps them exactly.
#[test]
fn hostile_label_values_stay_data_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_fleet(
        dir.path(),
        &[(
            "h.prom",
            HostFile {
                hostname: HOSTILE,
                addresses: vec![("192.0.2.10", "")],
                serving: vec![("", HOSTILE, "80")],
                upstream: vec![(HOSTILE, "", "192.0.2.10", "80", 1.0, 5.0)],
                ..HostFile::default()
            },
        )],
    );
    let (nodes, _) = by_id(&json(&files, &[]));
    let service = format!("svc:{HOSTILE}//{HOSTILE}");
    assert_eq!(
        nodes[&service]["detail__process"], HOSTILE,
        "JSON keeps them"
    );

    let dot = draw(&files, &["--format", "dot"]);
    assert!(!dot.contains('\0') && !dot.contains('\u{1b}'), "{dot}");
    assert_graphviz_draws(dot.as_bytes());

    let mermaid = draw(&files, &["--format", "mermaid"]);
    for forbidden in ["<script", "%%", "'", "`", "-->x", "\0", "\u{1b}"] {
        assert!(!mermaid.contains(forbidden), "{forbidden:?} in\n{mermaid}");
    }
    // Quotes only where planet puts them: each label's two.
    for line in mermaid.lines().filter(|l| l.contains("[\"")) {
        assert_eq!(line.matches('"').count(), 2, "{line}");
    }

    let html = draw(&files, &["--format", "html"]);
    for forbidden in ["<script", "\0", "\u{1b}", "\"'`%%"] {
        assert!(!html.contains(forbidden), "{forbidden:?} in the page");
    }
}
