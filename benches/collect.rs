//! `cargo bench --bench collect [-- N ...]`: wall time and peak RSS of
//! `planet collect --stdout` against `ss -tanpi` and `ss -tanp` over the same
//! N loopback connections, runs alternating, medians reported with ratios.
//! `PLANET_BASELINE=/path/to/planet` adds another build of planet (say, the
//! last release) to the same rounds, to compare a change against it.
//! `PLANET_BENCH_SKIP_LOOP=1` leaves out the minute of `--loop` (which
//! the baseline, if any, runs alongside planet).
//!
//! The connections are held by worker processes (this binary re-executed),
//! each under the per-process open-file limit, talking to several listeners.
//! Traffic stays on loopback.

use std::fmt::Write as _;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

#[path = "common/measure.rs"]
mod measure;
#[path = "common/workers.rs"]
mod workers;

use measure::{measure, median, Measure};

const PLANET: &str = env!("CARGO_BIN_EXE_planet");
/// Connections per worker: both ends live in the worker, so 2 fds each.
const PER_WORKER: usize = 4000;
const ROUNDS: usize = 9;

fn main() {
    if let Ok(spec) = std::env::var("PLANET_BENCH_WORKER") {
        worker(spec.parse().expect("connection count"));
        return;
    }
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![1000, 10_000, 50_000]
    } else {
        sizes
    };
    println!(
        "| connections | command | wall median | wall min | peak RSS median | planet/ss wall |"
    );
    println!("|---:|---|---:|---:|---:|---:|");
    for n in sizes {
        bench(n);
    }
}

/// Holds `n` established loopback connections until stdin closes.
fn worker(n: usize) {
    raise_nofile_limit();
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
    let addr = listener.local_addr().unwrap();
    let mut held = Vec::with_capacity(2 * n);
    for _ in 0..n {
        let client = TcpStream::connect(addr).expect("connect");
        let (server, _) = listener.accept().expect("accept");
        held.push(client);
        held.push(server);
    }
    // Move a few bytes each way so tcp_info counters are non-zero.
    for pair in held.chunks_mut(2) {
        pair[0].write_all(b"ping").unwrap();
        pair[1].write_all(b"pong").unwrap();
    }
    workers::hold_until_stopped();
    drop(held);
}

fn raise_nofile_limit() {
    // SAFETY: plain syscalls on a local struct.
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

fn start_workers(n: usize) -> Vec<Child> {
    let mut held_by = Vec::new();
    let mut left = n;
    while left > 0 {
        let count = left.min(PER_WORKER);
        left -= count;
        held_by.push(workers::spawn("PLANET_BENCH_WORKER", &count.to_string()));
    }
    held_by
}

fn bench(n: usize) {
    let held_by = start_workers(n);
    let baseline = std::env::var("PLANET_BASELINE").ok();
    let mut commands: Vec<(&str, &str, &[&str])> = vec![
        (
            "planet collect --stdout --no-resolve",
            PLANET,
            &["collect", "--stdout", "--no-resolve"],
        ),
        ("ss -tanpi", "ss", &["-tanpi"]),
        ("ss -tanp", "ss", &["-tanp"]),
    ];
    if let Some(path) = &baseline {
        commands.push((
            "baseline planet collect --stdout --no-resolve",
            path,
            &["collect", "--stdout", "--no-resolve"],
        ));
    }
    let mut results: Vec<Vec<Measure>> = commands.iter().map(|_| Vec::new()).collect();
    for round in 0..=ROUNDS {
        for (i, (_, program, args)) in commands.iter().enumerate() {
            let m = measure(program, args);
            if round > 0 {
                results[i].push(m); // round 0 warms caches
            }
        }
    }
    let medians: Vec<Duration> = results
        .iter()
        .map(|r| median(r.iter().map(|m| m.wall).collect()))
        .collect();
    for (i, (label, _, _)) in commands.iter().enumerate() {
        let min = results[i].iter().map(|m| m.wall).min().unwrap();
        let rss = median(results[i].iter().map(|m| m.max_rss_kib).collect());
        let ratio = if i == 0 {
            let mut ratio = format!(
                "{:.2}x ss -tanpi, {:.2}x ss -tanp",
                medians[0].as_secs_f64() / medians[1].as_secs_f64(),
                medians[0].as_secs_f64() / medians[2].as_secs_f64()
            );
            if let Some(base) = medians.get(3) {
                let _ = write!(
                    ratio,
                    ", {:.3}x baseline",
                    medians[0].as_secs_f64() / base.as_secs_f64()
                );
            }
            ratio
        } else {
            String::new()
        };
        println!(
            "| {n} | `{label}` | {:.1} ms | {:.1} ms | {:.1} MiB | {ratio} |",
            medians[i].as_secs_f64() * 1e3,
            min.as_secs_f64() * 1e3,
            rss as f64 / 1024.0
        );
    }
    bench_state(n);
    if n == 10_000 && std::env::var_os("PLANET_BENCH_SKIP_LOOP").is_none() {
        bench_loop(n);
    }
    workers::stop(held_by);
}

/// `--loop --interval 15s` over a minute: the share of one core it takes,
/// from the kernel's own accounting of its CPU time. With `PLANET_BASELINE`,
/// the baseline build runs the same minute alongside.
fn bench_loop(n: usize) {
    let mut programs = vec![("planet", PLANET.to_string())];
    if let Ok(baseline) = std::env::var("PLANET_BASELINE") {
        programs.push(("baseline planet", baseline));
    }
    let dirs: Vec<_> = programs
        .iter()
        .map(|_| (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()))
        .collect();
    let mut loops: Vec<Child> = programs
        .iter()
        .zip(&dirs)
        .map(|((_, program), (out, state))| {
            Command::new(program)
                .args([
                    "collect",
                    "--no-resolve",
                    "--loop",
                    "--interval",
                    "15s",
                    "--out",
                ])
                .arg(out.path())
                .arg("--state-file")
                .arg(state.path().join("planet.state"))
                .spawn()
                .expect("spawn planet --loop")
        })
        .collect();
    let cpu = |planet: &Child| measure::cpu_seconds(planet.id());
    std::thread::sleep(Duration::from_secs(2)); // past the first run
    let (cpu0, wall0): (Vec<f64>, _) = (loops.iter().map(cpu).collect(), Instant::now());
    std::thread::sleep(Duration::from_secs(60));
    let (cpu1, wall): (Vec<f64>, _) = (loops.iter().map(cpu).collect(), wall0.elapsed());
    for planet in &mut loops {
        // SAFETY: plain kill of our own child.
        unsafe { libc::kill(planet.id() as i32, libc::SIGTERM) };
        let _ = planet.wait();
    }
    let used: Vec<f64> = cpu1.iter().zip(&cpu0).map(|(a, b)| a - b).collect();
    for (i, (name, _)) in programs.iter().enumerate() {
        let ratio = match used.get(1) {
            Some(base) if i == 0 => format!(", {:.3}x baseline", used[0] / base),
            _ => String::new(),
        };
        println!(
            "| {n} | `{name} collect --loop --interval 15s` | {:.2} s CPU in {:.0} s | | | {:.2}% of one core{ratio} |",
            used[i],
            wall.as_secs_f64(),
            100.0 * used[i] / wall.as_secs_f64()
        );
    }
}

/// One-shot runs with a state file: the first (no state yet) and warm ones
/// (the cookie table of every connection to read, update and write back),
/// for planet and, with `PLANET_BASELINE`, the baseline build, alternating.
fn bench_state(n: usize) {
    let mut programs = vec![("planet", PLANET.to_string())];
    if let Ok(baseline) = std::env::var("PLANET_BASELINE") {
        programs.push(("baseline planet", baseline));
    }
    let dir = tempfile::tempdir().unwrap();
    let states: Vec<_> = (0..programs.len())
        .map(|i| dir.path().join(format!("planet-{i}.state")))
        .collect();
    let args = |state: &std::path::Path| {
        ["collect", "--stdout", "--no-resolve", "--state-file"]
            .map(String::from)
            .into_iter()
            .chain([state.display().to_string()])
            .collect::<Vec<_>>()
    };
    let mut cold: Vec<Vec<Measure>> = programs.iter().map(|_| Vec::new()).collect();
    let mut warm: Vec<Vec<Measure>> = programs.iter().map(|_| Vec::new()).collect();
    for _ in 0..5 {
        for (i, (_, program)) in programs.iter().enumerate() {
            let _ = std::fs::remove_file(&states[i]);
            let args = args(&states[i]);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            cold[i].push(measure(program, &args));
            warm[i].push(measure(program, &args));
            warm[i].push(measure(program, &args));
        }
    }
    for (i, (name, _)) in programs.iter().enumerate() {
        let size = std::fs::metadata(&states[i]).map(|m| m.len()).unwrap_or(0);
        for (label, runs) in [
            ("first run, no state", &cold[i]),
            ("warm state file", &warm[i]),
        ] {
            println!(
                "| {n} | `{name} collect --stdout --state-file` ({label}) | {:.1} ms | {:.1} ms | {:.1} MiB | state file {:.2} MiB |",
                median(runs.iter().map(|m| m.wall).collect()).as_secs_f64() * 1e3,
                runs.iter().map(|m| m.wall).min().unwrap().as_secs_f64() * 1e3,
                median(runs.iter().map(|m| m.max_rss_kib).collect()) as f64 / 1024.0,
                size as f64 / (1024.0 * 1024.0)
            );
        }
    }
}
