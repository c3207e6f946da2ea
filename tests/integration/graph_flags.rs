//! `planet graph`'s flags on fleets written by hand (`graph_join.rs`'s
//! `HostFile`): `--before` says what changed, `--active` keeps what moves,
//! `--group host` draws hosts; and flags that do not fit together are
//! usage errors.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::graph_join::{by_id, draw, json, write_fleet, HostFile};
use crate::testenv::*;

/// `--files NOW... --before THEN...`: every node and edge is new, gone or
/// the same, and DOT and Mermaid show a legend.
#[test]
fn before_and_now_files_say_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let then = write_fleet(
        dir.path(),
        &[(
            "then/h.prom",
            HostFile {
                hostname: "h",
                upstream: vec![
                    ("app", "", "198.51.100.1", "443", 1.0, 1.0),
                    ("app", "", "198.51.100.2", "443", 1.0, 1.0),
                ],
                ..HostFile::default()
            },
        )],
    );
    let now = write_fleet(
        dir.path(),
        &[(
            "now/h.prom",
            HostFile {
                hostname: "h",
                upstream: vec![
                    ("app", "", "198.51.100.1", "443", 1.0, 9.0),
                    ("app", "", "198.51.100.3", "443", 1.0, 1.0),
                ],
                ..HostFile::default()
            },
        )],
    );
    let before: Vec<&str> = then.iter().map(|p| p.to_str().unwrap()).collect();
    let mut args = vec!["--before"];
    args.extend(&before);
    let (nodes, edges) = by_id(&json(&now, &args));
    let change = |v: &Value| v["detail__change"].as_str().unwrap().to_string();
    let changes: BTreeMap<&str, String> = nodes
        .iter()
        .chain(&edges)
        .map(|(id, v)| (id.as_str(), change(v)))
        .collect();
    assert_eq!(
        changes,
        BTreeMap::from([
            ("ext:198.51.100.1", "same".to_string()),
            ("ext:198.51.100.2", "gone".to_string()),
            ("ext:198.51.100.3", "new".to_string()),
            ("svc:h//app", "same".to_string()),
            ("svc:h//app->ext:198.51.100.1:443", "same".to_string()),
            ("svc:h//app->ext:198.51.100.2:443", "gone".to_string()),
            ("svc:h//app->ext:198.51.100.3:443", "new".to_string()),
        ])
    );
    assert_eq!(
        edges["svc:h//app->ext:198.51.100.1:443"]["detail__bytes_out"], 9.0,
        "the same edge shows its numbers now"
    );
    let mut with = args.clone();
    with.extend(["--format", "dot"]);
    let dot = draw(&now, &with);
    assert!(
        dot.contains("cluster_legend") && dot.contains("style=dashed"),
        "{dot}"
    );
    let mut with = args.clone();
    with.extend(["--format", "mermaid"]);
    let mermaid = draw(&now, &with);
    assert!(
        mermaid.contains("subgraph legend") && mermaid.contains("-.->"),
        "{mermaid}"
    );
}

/// `--active` keeps only edges that carry something, and the nodes they
/// join; `--group host` draws one node per host, edges summed.
#[test]
fn active_and_group_host_keep_what_moves_by_host() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_fleet(
        dir.path(),
        &[
            (
                "a.prom",
                HostFile {
                    hostname: "a",
                    addresses: vec![("192.0.2.1", "")],
                    upstream: vec![
                        ("web", "", "192.0.2.2", "5432", 1.0, 100.0),
                        ("cron", "", "192.0.2.2", "6379", 2.0, 5.0),
                        ("old", "", "198.51.100.9", "443", 0.0, 0.0),
                    ],
                    ..HostFile::default()
                },
            ),
            (
                "b.prom",
                HostFile {
                    hostname: "b",
                    addresses: vec![("192.0.2.2", "")],
                    serving: vec![("", "postgres", "5432"), ("", "redis", "6379")],
                    ..HostFile::default()
                },
            ),
        ],
    );
    let (nodes, edges) = by_id(&json(&files, &["--active"]));
    assert!(!nodes.contains_key("ext:198.51.100.9") && !nodes.contains_key("svc:a//old"));
    assert_eq!(edges.len(), 2, "{edges:?}");
    let (nodes, edges) = by_id(&json(&files, &["--group", "host"]));
    let ids: Vec<&str> = nodes.keys().map(String::as_str).collect();
    assert_eq!(ids, ["ext:198.51.100.9", "host:a", "host:b"]);
    let summed = &edges["host:a->host:b:*"];
    assert_eq!(
        (
            summed["detail__connections"].as_f64(),
            summed["detail__bytes_out"].as_f64()
        ),
        (Some(3.0), Some(105.0))
    );
}

/// Flags that do not fit together are usage errors (exit 2), each said in
/// one first line that names what to do instead.
#[test]
fn graph_flags_that_do_not_fit_are_usage_errors() {
    for (args, first_line) in [
        (
            vec!["--prometheus", "127.0.0.1:9090"],
            "error: invalid value '127.0.0.1:9090' for '--prometheus <URL>': no scheme; write http://127.0.0.1:9090 or https://127.0.0.1:9090",
        ),
        (
            vec!["--files", "a.prom", "--diff", "1h"],
            "error: --diff goes with --prometheus; with --files, pass --before FILE... (the earlier files)",
        ),
        (
            vec!["--files", "a.prom", "--at", "1796047200"],
            "error: --at goes with --prometheus, not --files",
        ),
        (
            vec!["--prometheus", "http://p:9090", "--before", "a.prom"],
            "error: --before goes with --files; with --prometheus, pass --diff DURATION",
        ),
        (
            vec!["--prometheus", "http://p:9090", "--ca-file", "ca.pem"],
            "error: --ca-file goes with an https:// URL: a plain http:// store has no certificate to check",
        ),
        (
            vec![
                "--prometheus",
                "https://p:9090",
                "--bearer-token-file",
                "t",
                "--basic-auth-file",
                "b",
            ],
            "error: --bearer-token-file cannot be used with --basic-auth-file: pass one of them",
        ),
    ] {
        let output = planet(["graph"]).args(&args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = stderr_of(&output);
        assert_eq!(stderr.lines().next(), Some(first_line), "{args:?}");
    }
}
