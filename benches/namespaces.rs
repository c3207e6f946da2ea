//! `cargo bench --bench namespaces`: what reading many network namespaces
//! costs. The same 10,000 established loopback connections, first held in
//! one namespace, then spread over 100 namespaces of 100 connections each;
//! `planet collect --stdout --no-resolve` is timed over each layout in turn
//! (wall median of 9 after a warm-up, peak RSS), then the first layout once
//! more to show the machine's drift. Target: at most 1.5x.
//! `PLANET_BASELINE=/path/to/planet` adds another build of planet (main
//! before a change) to the same alternating rounds, with the ratio to it.
//!
//! Every sock_diag dump walks the kernel's established-socket hash table,
//! which all namespaces share, so the 100-namespace layout costs 100 walks
//! of every socket on the host. Linux 6.1+ can give each new namespace a
//! table of its own (`net.ipv4.tcp_child_ehash_entries`, set before the
//! namespaces are made): the last layout measures that.
//!
//! Runs in a network namespace of its own (it re-executes itself under
//! `unshare -n`; root needed). Connections are held by worker processes
//! (this binary again), each of which may first move into a namespace of
//! its own. Traffic stays on loopback.

#[path = "common/measure.rs"]
mod measure;
#[path = "common/netns.rs"]
mod netns;
#[path = "common/workers.rs"]
mod workers;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::process::Child;
use std::time::Duration;

use measure::{measure, median, Measure};
use netns::{in_own_netns, run};

const PLANET: &str = env!("CARGO_BIN_EXE_planet");
const WORKER: &str = "PLANET_BENCH_NS_WORKER";
const CONNECTIONS: usize = 10_000;
const ROUNDS: usize = 9;

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
    let mut builds = vec![("planet", PLANET.to_string())];
    if let Ok(baseline) = std::env::var("PLANET_BASELINE") {
        builds.push(("baseline planet", baseline));
    }
    println!("| layout | build | wall median | wall min | peak RSS median | vs baseline |");
    println!("|---|---|---:|---:|---:|---:|");
    let one = layout("10,000 connections in 1 namespace", 3, false, &builds);
    let many = layout("10,000 connections in 100 namespaces", 100, true, &builds);
    let again = layout(
        "10,000 connections in 1 namespace, again",
        3,
        false,
        &builds,
    );
    let own_tables = std::fs::write("/proc/sys/net/ipv4/tcp_child_ehash_entries", "1024").is_ok();
    let separate = own_tables.then(|| {
        layout(
            "10,000 connections in 100 namespaces, each with a TCP table of its own",
            100,
            true,
            &builds,
        )
    });
    for (i, (name, _)) in builds.iter().enumerate() {
        let base = (one[i].as_secs_f64() + again[i].as_secs_f64()) / 2.0;
        println!(
            "\n{name}: 100 namespaces / 1 namespace: {:.2}x (target at most 1.5x)",
            many[i].as_secs_f64() / base
        );
        if let Some(separate) = &separate {
            println!(
                "{name}: with net.ipv4.tcp_child_ehash_entries=1024: {:.2}x",
                separate[i].as_secs_f64() / base
            );
        }
    }
}

/// Sets up `workers` processes holding CONNECTIONS in all, each in a
/// namespace of its own if `apart`, times each build over them in
/// alternating rounds, tears down. Returns each build's wall median.
fn layout(label: &str, workers: usize, apart: bool, builds: &[(&str, String)]) -> Vec<Duration> {
    let held = start_workers(workers, apart);
    let args = ["collect", "--stdout", "--no-resolve"];
    for (_, program) in builds {
        let _warm = measure(program, &args);
    }
    let mut runs: Vec<Vec<Measure>> = builds.iter().map(|_| Vec::new()).collect();
    for _ in 0..ROUNDS {
        for (i, (_, program)) in builds.iter().enumerate() {
            runs[i].push(measure(program, &args));
        }
    }
    let walls: Vec<Duration> = runs
        .iter()
        .map(|r| median(r.iter().map(|m| m.wall).collect()))
        .collect();
    for (i, (name, _)) in builds.iter().enumerate() {
        let ratio = match walls.get(1) {
            Some(base) if i == 0 => format!("{:.3}x", walls[0].as_secs_f64() / base.as_secs_f64()),
            _ => String::new(),
        };
        println!(
            "| {label} | {name} | {:.1} ms | {:.1} ms | {:.1} MiB | {ratio} |",
            walls[i].as_secs_f64() * 1e3,
            runs[i].iter().map(|m| m.wall).min().unwrap().as_secs_f64() * 1e3,
            median(runs[i].iter().map(|m| m.max_rss_kib).collect()) as f64 / 1024.0
        );
    }
    workers::stop(held);
    walls
}

fn start_workers(count: usize, apart: bool) -> Vec<Child> {
    (0..count)
        .map(|w| {
            let held = CONNECTIONS / count + usize::from(w < CONNECTIONS % count);
            workers::spawn(WORKER, &format!("{held}:{}", u8::from(apart)))
        })
        .collect()
}

/// Holds `count` loopback connections (in a namespace of its own if asked)
/// until stdin closes.
fn worker(spec: &str) {
    let (count, apart) = spec.split_once(':').unwrap();
    let count: usize = count.parse().unwrap();
    if apart == "1" {
        // Single-threaded here: the whole process moves, and `ip` with it.
        // SAFETY: only the network namespace changes; no file descriptor or
        // memory the process relies on is affected.
        unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNET) }
            .expect("unshare");
        assert!(run("ip", &["link", "set", "lo", "up"]));
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut held = Vec::with_capacity(2 * count);
    for _ in 0..count {
        let mut client = TcpStream::connect(addr).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        client.write_all(b"ping").unwrap();
        server.write_all(b"pong").unwrap();
        held.push(client);
        held.push(server);
    }
    workers::hold_until_stopped();
    drop(held);
}
