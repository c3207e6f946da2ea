//! `cargo bench --bench peers [-- N]`: what N distinct peers (default
//! 65,537) cost one run: wall time, peak RSS and the state file's size, and
//! the time of a run whose DNS server never answers (`--dns-timeout 3s`,
//! `--max-peers 10000`). With `PLANET_BASELINE=/path/to/planet` another
//! build is measured on the same sockets (given `--max-peers 1000000`
//! where it has no upper bound).
//!
//! Runs in a network namespace of its own (it re-executes itself under
//! `unshare -n`; root needed): each peer is a connected UDP socket to its own
//! address of fd00::/96, made local on `lo`, so nothing is ever sent.
//! Sockets are held by worker processes (this binary again), 10,000 each,
//! each from a local address of its own (one address has too few ports).

use std::process::Child;

#[path = "common/measure.rs"]
mod measure;
#[path = "common/netns.rs"]
mod netns;
#[path = "common/workers.rs"]
mod workers;

use measure::{measure, median, Measure};
use netns::{in_own_netns, run};

const PLANET: &str = env!("CARGO_BIN_EXE_planet");
const WORKER: &str = "PLANET_BENCH_PEERS_WORKER";
const PER_WORKER: usize = 10_000;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` probing
    }
    if let Ok(spec) = std::env::var(WORKER) {
        return worker(&spec);
    }
    if !in_own_netns() {
        return;
    }
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(65_537);
    let ready = run(
        "ip",
        &["-6", "route", "add", "local", "fd00::/96", "dev", "lo"],
    ) && std::fs::write("/proc/sys/net/ipv6/ip_nonlocal_bind", "1").is_ok();
    assert!(ready, "ip(8) could not set up the namespace");
    let held_by = start_workers(n);

    let mut builds = vec![("planet", PLANET.to_string(), "10000")];
    if let Ok(baseline) = std::env::var("PLANET_BASELINE") {
        builds.push(("baseline", baseline, "1000000"));
    }
    println!("| {n} peers | wall | peak RSS | state file |");
    println!("|---|---:|---:|---:|");
    for (label, program, max_peers) in &builds {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("planet.state");
        let state_arg = state.to_str().unwrap();
        for run in ["first run", "second run"] {
            let m = measure(
                program,
                &[
                    "collect",
                    "--stdout",
                    "--no-resolve",
                    "--state-file",
                    state_arg,
                ],
            );
            let size = std::fs::metadata(&state).map_or(0, |m| m.len());
            println!(
                "| {label}, {run} | {:.0} ms | {:.1} MiB | {:.2} MiB |",
                m.wall.as_secs_f64() * 1e3,
                m.max_rss_kib as f64 / 1024.0,
                size as f64 / (1024.0 * 1024.0)
            );
        }
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let dns = silent.local_addr().unwrap().to_string();
        let args = [
            "collect",
            "--stdout",
            "--max-peers",
            max_peers,
            "--dns-server",
            &dns,
            "--dns-timeout",
            "3s",
        ];
        let runs: Vec<_> = (0..3).map(|_| measure(program, &args)).collect();
        let m = Measure {
            wall: median(runs.iter().map(|m| m.wall).collect()),
            max_rss_kib: median(runs.iter().map(|m| m.max_rss_kib).collect()),
        };
        println!(
            "| {label}, silent DNS, 3s budget, --max-peers {max_peers} (median of 3) | {:.0} ms | {:.1} MiB | |",
            m.wall.as_secs_f64() * 1e3,
            m.max_rss_kib as f64 / 1024.0
        );
    }
    workers::stop(held_by);
}

/// Holds the connected UDP sockets `from..to` until stdin closes.
fn worker(spec: &str) {
    let (from, to) = spec.split_once('-').unwrap();
    let (from, to): (u32, u32) = (from.parse().unwrap(), to.parse().unwrap());
    let base = 0xfd00_0000_0000_0000_0000_0000_0000_0000u128;
    // Peers from fd00::1:0 up; this worker's own address above them all:
    // one address has too few ports for 65,537 sockets.
    let local = std::net::Ipv6Addr::from(base + 0xf_0000 + u128::from(from));
    let held: Vec<std::net::UdpSocket> = (from..to)
        .map(|i| {
            let socket = std::net::UdpSocket::bind((local, 0)).unwrap();
            let peer = std::net::Ipv6Addr::from(base + 0x1_0000 + u128::from(i));
            socket.connect((peer, 9)).unwrap();
            socket
        })
        .collect();
    workers::hold_until_stopped();
    drop(held);
}

fn start_workers(n: usize) -> Vec<Child> {
    (0..n.div_ceil(PER_WORKER))
        .map(|w| {
            let from = w * PER_WORKER + 1;
            let to = (from + PER_WORKER).min(n + 1);
            workers::spawn(WORKER, &format!("{from}-{to}"))
        })
        .collect()
}
