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

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PLANET: &str = env!("CARGO_BIN_EXE_planet");
const INSIDE: &str = "PLANET_BENCH_IN_NETNS";
const WORKER: &str = "PLANET_BENCH_PEERS_WORKER";
const PER_WORKER: usize = 10_000;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` probing
    }
    if let Ok(spec) = std::env::var(WORKER) {
        return worker(&spec);
    }
    if std::env::var_os(INSIDE).is_none() {
        let status = Command::new("unshare")
            .arg("-n")
            .arg(std::env::current_exe().unwrap())
            .args(std::env::args().skip(1))
            .env(INSIDE, "1")
            .status();
        if !status.is_ok_and(|s| s.success()) {
            println!("SKIPPED: needs a network namespace of its own (root, unshare(1))");
        }
        return;
    }
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(65_537);
    let ready = run("ip", &["link", "set", "lo", "up"])
        && run(
            "ip",
            &["-6", "route", "add", "local", "fd00::/96", "dev", "lo"],
        );
    assert!(ready, "ip(8) could not set up the namespace");
    let workers = start_workers(n);

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
            let (wall, rss) = measure(
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
                wall.as_secs_f64() * 1e3,
                rss as f64 / 1024.0,
                size as f64 / (1024.0 * 1024.0)
            );
        }
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let dns = silent.local_addr().unwrap().to_string();
        let (wall, rss) = measure(
            program,
            &[
                "collect",
                "--stdout",
                "--max-peers",
                max_peers,
                "--dns-server",
                &dns,
                "--dns-timeout",
                "3s",
            ],
        );
        println!(
            "| {label}, silent DNS, 3s budget, --max-peers {max_peers} | {:.0} ms | {:.1} MiB | |",
            wall.as_secs_f64() * 1e3,
            rss as f64 / 1024.0
        );
    }
    for mut worker in workers {
        drop(worker.stdin.take());
        let _ = worker.wait();
    }
}

fn run(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .status()
        .is_ok_and(|s| s.success())
}

/// Holds the connected UDP sockets `from..to` until stdin closes.
fn worker(spec: &str) {
    let (from, to) = spec.split_once('-').unwrap();
    let (from, to): (u32, u32) = (from.parse().unwrap(), to.parse().unwrap());
    let held: Vec<std::net::UdpSocket> = (from..to)
        .map(|i| {
            let socket = std::net::UdpSocket::bind("[::1]:0").unwrap();
            let peer = std::net::Ipv6Addr::from(
                0xfd00_0000_0000_0000_0000_0000_000d_0000u128 + u128::from(i),
            );
            socket.connect((peer, 9)).unwrap();
            socket
        })
        .collect();
    println!("ready {}", held.len());
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
}

fn start_workers(n: usize) -> Vec<Child> {
    (0..n.div_ceil(PER_WORKER))
        .map(|w| {
            let from = w * PER_WORKER + 1;
            let to = (from + PER_WORKER).min(n + 1);
            let mut child = Command::new(std::env::current_exe().unwrap())
                .env(WORKER, format!("{from}-{to}"))
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let mut ready = String::new();
            BufReader::new(child.stdout.as_mut().unwrap())
                .read_line(&mut ready)
                .unwrap();
            assert!(ready.starts_with("ready"), "worker {w}: {ready}");
            child
        })
        .collect()
}

/// Wall time and peak RSS (KiB) of one run, which must succeed.
// The child is reaped by wait4, which std cannot see, to get its rusage.
#[allow(clippy::zombie_processes)]
fn measure(program: &str, args: &[&str]) -> (Duration, i64) {
    let started = Instant::now();
    let child = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut status = 0;
    // SAFETY: rusage is plain data filled by the kernel; the child is ours.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    assert_eq!(unsafe { libc::wait4(pid, &mut status, 0, &mut usage) }, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{program} failed"
    );
    (started.elapsed(), usage.ru_maxrss)
}
