//! `planet graph` over a store's history: two hours of one host's series,
//! backfilled into a real Prometheus (`promtool tsdb create-blocks-from
//! openmetrics`), then drawn at a time in the past (`--at`), against an
//! earlier time (`--diff`), and with only what moves (`--active`).
//!
//! In the first hour the host's `app` calls 198.51.100.1 (bytes growing),
//! 198.51.100.2 (open, idle) and 198.51.100.4 (closed, idle); in the
//! second it calls 198.51.100.1 and 198.51.100.3, and the others are gone.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use planet::schema;
use serde_json::Value;

use crate::testenv::*;

const STEP: u64 = 15;
const HOUR: u64 = 3600;

/// The OpenMetrics text of the two hours from `start` (Unix seconds).
fn history(start: u64) -> String {
    // (peer, open, bytes per step, first second, last second)
    let calls = [
        ("198.51.100.1", 1.0, 1500.0, 0, 2 * HOUR),
        ("198.51.100.2", 1.0, 0.0, 0, HOUR),
        ("198.51.100.4", 0.0, 0.0, 0, HOUR),
        ("198.51.100.3", 1.0, 300.0, HOUR, 2 * HOUR),
    ];
    let instance = "instance=\"h:9100\",job=\"planet\"";
    let mut text = String::new();
    let times = |from: u64, to: u64| (from..to).step_by(STEP as usize).map(move |t| start + t);
    let _ = writeln!(text, "# TYPE {} gauge", schema::HOST_INFO.name);
    for t in times(0, 2 * HOUR) {
        let _ = writeln!(
            text,
            "{}{{hostname=\"h\",{instance}}} 1 {t}",
            schema::HOST_INFO.name
        );
    }
    let labels = |peer: &str| {
        format!(
            "protocol=\"tcp\",process=\"app\",container=\"\",name=\"{peer}\",domain=\"\",addr=\"{peer}\",port=\"443\",{instance}"
        )
    };
    let _ = writeln!(text, "# TYPE {} gauge", schema::UPSTREAM.name);
    for (peer, open, _, from, to) in calls {
        for t in times(from, to) {
            let _ = writeln!(
                text,
                "{}{{{}}} {open} {t}",
                schema::UPSTREAM.name,
                labels(peer)
            );
        }
    }
    let bytes = schema::UPSTREAM_BYTES.name;
    let _ = writeln!(text, "# TYPE {} counter", bytes.trim_end_matches("_total"));
    for (peer, _, per_step, from, to) in calls {
        for (i, t) in times(from, to).enumerate() {
            let total = 1000.0 + per_step * i as f64;
            let _ = writeln!(
                text,
                "{bytes}{{{},direction=\"out\"}} {total} {t}",
                labels(peer)
            );
        }
    }
    text.push_str("# EOF\n");
    text
}

/// A Prometheus on loopback over the blocks made from `history`, with
/// nothing to scrape; killed when dropped.
struct Store {
    prometheus: Prometheus,
    _blocks: tempfile::TempDir,
}

impl Store {
    fn with(history: &str) -> Option<Store> {
        let promtool = tool("promtool", "prometheus")?;
        let dir = tempfile::tempdir().unwrap();
        let input = write_file(dir.path(), "history.om", history.as_bytes());
        let tsdb = dir.path().join("tsdb");
        let made = Command::new(promtool)
            .args(["tsdb", "create-blocks-from", "openmetrics", "--quiet"])
            .arg(&input)
            .arg(&tsdb)
            .output()
            .unwrap();
        assert!(made.status.success(), "promtool: {}", stderr_of(&made));
        let prometheus = Prometheus::over_blocks(&tsdb)?;
        assert!(
            prometheus.wait_ready(),
            "Prometheus did not start on its blocks"
        );
        Some(Store {
            prometheus,
            _blocks: dir,
        })
    }

    fn url(&self) -> String {
        self.prometheus.url()
    }
}

/// `planet graph --prometheus URL ARGS` as JSON: edge id -> edge.
fn edges(store: &Store, args: &[&str]) -> BTreeMap<String, Value> {
    let output = planet(["graph", "--prometheus", &store.url(), "--window", "5m"])
        .args(args)
        .output()
        .unwrap();
    assert_success(&output);
    let graph: Value = serde_json::from_slice(&output.stdout).unwrap();
    graph["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["id"].as_str().unwrap().to_string(), e.clone()))
        .collect()
}

fn edge(peer: &str) -> String {
    format!("svc:h//app->ext:{peer}:443")
}

fn at(second: u64) -> String {
    second.to_string()
}

#[test]
fn at_diff_and_active_draw_the_graph_of_another_time() {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // Two hours, ending well before now, on whole steps.
    let start = (now - 3 * HOUR) / STEP * STEP;
    let Some(store) = Store::with(&history(start)) else {
        return;
    };
    let first = at(start + HOUR / 2);
    let second = at(start + 3 * HOUR / 2);
    at_a_time_in_the_first_hour(&store, &first);
    at_a_time_in_the_second_hour(&store, &second);
    a_diff_of_an_hour_says_what_changed(&store, &second);
    active_leaves_out_the_idle(&store, &first);
}

/// `--at` in the first hour: its three peers, and byte rates then
/// (1,500 bytes per 15 s).
fn at_a_time_in_the_first_hour(store: &Store, time: &str) {
    let edges = edges(store, &["--at", time]);
    let ids: Vec<&str> = edges.keys().map(String::as_str).collect();
    let expected = ["198.51.100.1", "198.51.100.2", "198.51.100.4"].map(edge);
    assert_eq!(ids, expected.iter().map(String::as_str).collect::<Vec<_>>());
    let rate = edges[&edge("198.51.100.1")]["detail__bytes_out"]
        .as_f64()
        .unwrap();
    assert!((rate - 100.0).abs() < 1.0, "100 B/s then, not {rate}");
}

/// `--at` in the second hour: the peers of then.
fn at_a_time_in_the_second_hour(store: &Store, time: &str) {
    let edges = edges(store, &["--at", time]);
    let ids: Vec<&str> = edges.keys().map(String::as_str).collect();
    assert_eq!(ids, [edge("198.51.100.1"), edge("198.51.100.3")]);
}

/// `--diff 1h` at a time in the second hour: against the first hour.
fn a_diff_of_an_hour_says_what_changed(store: &Store, time: &str) {
    let edges = edges(store, &["--at", time, "--diff", "1h"]);
    let changes: BTreeMap<&str, &str> = edges
        .iter()
        .map(|(id, e)| (id.as_str(), e["detail__change"].as_str().unwrap()))
        .collect();
    let (one, two, three, four) = (
        edge("198.51.100.1"),
        edge("198.51.100.2"),
        edge("198.51.100.3"),
        edge("198.51.100.4"),
    );
    assert_eq!(
        changes,
        BTreeMap::from([
            (one.as_str(), "same"),
            (two.as_str(), "gone"),
            (three.as_str(), "new"),
            (four.as_str(), "gone"),
        ])
    );
}

/// `--active` in the first hour: the peer with no open connection and no
/// bytes is left out (with its node); the open one stays.
fn active_leaves_out_the_idle(store: &Store, time: &str) {
    let edges = edges(store, &["--at", time, "--active"]);
    let ids: Vec<&str> = edges.keys().map(String::as_str).collect();
    assert_eq!(ids, [edge("198.51.100.1"), edge("198.51.100.2")]);
}
