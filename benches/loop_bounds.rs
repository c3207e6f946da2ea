//! `cargo bench --bench loop_bounds [-- flood] [-- namespaces]`: whether
//! `planet collect --loop` keeps its bounds against a hostile host (spec,
//! milestone 3, "Exact and bounded in `--loop`"). `PLANET_BASELINE=/path/to/planet`
//! runs another build (main before a change) in the same alternating rounds.
//!
//! - **Flood.** Two network namespaces, each with a worker that loops
//!   `socket(AF_INET, SOCK_STREAM)` + `close()` as fast as it can for 20 s,
//!   while `--loop --interval 2s` reads every namespace: each close is a
//!   destroy notification that planet must queue or drop. Reported: peak
//!   RSS (`VmHWM` of `/proc/PID/status`, read just before SIGTERM: `wait4`'s
//!   `ru_maxrss` would carry the spawner's own high-water mark), the writes
//!   made during the flood (the `planet_collect_timestamp_seconds` line
//!   changing) and the longest gap between two, the final count of lost
//!   notifications, and the flood's rate as the workers counted it. The
//!   baseline also runs in a memory cgroup capped at 256 MiB, to see whether
//!   it would have been OOM-killed. Target: at most 128 MiB, and writing.
//!   Uncapped runs get a 4 GiB cgroup too, only so that a runaway build
//!   cannot take the shared machine down.
//! - **2,000 namespaces**, each with a process living in it: `--loop
//!   --interval 1s` over 5 samples, with its threads and open fds sampled
//!   every 100 ms (target: at most 16 threads whatever the number of
//!   namespaces) and `planet_snapshot_duration_seconds` per sample; then
//!   one-shot `collect --stdout --no-resolve` wall time over the same
//!   namespaces.
//!
//! Runs in a PID namespace with a `/proc` of its own (`unshare --pid --fork
//! --mount-proc`), then in a network namespace of its own (`unshare -n`);
//! root needed. planet reads every namespace it can see a process in, as by
//! default, but it sees only the bench's processes: with other test suites
//! busy on the machine, a run at 2,000 namespaces once peaked at 80 MiB and
//! took 6 to 18 s a sample, against 7 MiB and 1.5 s with the bench alone.
//! The count of namespaces read is printed. No packet leaves the machine:
//! the flood never connects, and planet runs with `--no-resolve`.

// The heavy tests' memory cage: only its peak and OOM kills are read here.
#[allow(dead_code)]
#[path = "../tests/heavy/cage.rs"]
mod cage;
#[path = "common/looping.rs"]
mod looping;
// Only the wall time of `measure` is used: its peak RSS comes from `wait4`.
#[allow(dead_code)]
#[path = "common/measure.rs"]
mod measure;
#[path = "common/netns.rs"]
mod netns;
#[path = "common/tenants.rs"]
mod tenants;
#[path = "common/workers.rs"]
mod workers;

use std::process::ExitStatus;
use std::time::{Duration, Instant};

use cage::MemoryCage;
use looping::{metric, spawn_loop, stop, Watch};
use measure::{cpu_seconds, load, measure, median, status_field};
use netns::{in_own_netns, in_own_pid_namespace};
use planet::schema;
use tenants::Flood;

const PLANET: &str = env!("CARGO_BIN_EXE_planet");
const FLOODERS: usize = 2;
const FLOOD: Duration = Duration::from_secs(20);
const FLOOD_ROUNDS: usize = 3;
const NAMESPACES: usize = 2000;
/// Writes each `--loop` run at 2,000 namespaces waits for: the first, then
/// the samples reported.
const LOOP_WRITES: usize = 5;
const LOOP_ROUNDS: usize = 3;
const ONE_SHOT_ROUNDS: usize = 5;
const CAP: u64 = 256 << 20;
/// Only so that a runaway build cannot take the machine down.
const GUARD: u64 = 4 << 30;
const MIB: f64 = 1024.0 * 1024.0;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` probing
    }
    if tenants::played() || !in_own_pid_namespace() || !in_own_netns() {
        return;
    }
    let parts: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a == "flood" || a == "namespaces")
        .collect();
    let wants = |part: &str| parts.is_empty() || parts.iter().any(|p| p == part);
    let mut builds = vec![Build {
        name: "planet",
        path: PLANET.to_string(),
    }];
    if let Ok(path) = std::env::var("PLANET_BASELINE") {
        builds.push(Build {
            name: "baseline",
            path,
        });
    }
    if wants("flood") {
        flood(&builds);
    }
    if wants("namespaces") {
        namespaces(&builds);
    }
}

struct Build {
    name: &'static str,
    path: String,
}

// ---------------------------------------------------------------- flood

/// One flood run's outcome.
struct FloodRun {
    hwm_kib: u64,
    writes: usize,
    longest_gap: Duration,
    lost: Option<f64>,
    rate: f64,
    cpu: f64,
    /// Killed by the cgroup's OOM killer.
    oom: bool,
    /// The cgroup's own peak (page cache and kernel memory included).
    cgroup_peak: u64,
}

fn flood(builds: &[Build]) {
    // Every build uncapped, then the baseline at 256 MiB, in each round.
    let mut variants: Vec<(&Build, u64)> = builds.iter().map(|b| (b, GUARD)).collect();
    if let Some(baseline) = builds.get(1) {
        variants.push((baseline, CAP));
    }
    let cap_label = |cap: u64| {
        if cap == GUARD {
            "none".to_string()
        } else {
            format!("{} MiB", cap >> 20)
        }
    };
    println!(
        "Flood: {FLOODERS} namespaces looping socket()+close() for {} s, `--loop --interval 2s` reading every namespace\n",
        FLOOD.as_secs()
    );
    println!("| round | build | memory cap | peak RSS (VmHWM) | cgroup peak | writes in {} s | longest gap | notifications lost | flood rate | CPU | OOM-killed | load |", FLOOD.as_secs());
    println!("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|");
    let mut runs: Vec<Vec<FloodRun>> = variants.iter().map(|_| Vec::new()).collect();
    for round in 1..=FLOOD_ROUNDS {
        for (i, (build, cap)) in variants.iter().enumerate() {
            let run = flood_run(build, *cap);
            println!(
                "| {round} | {} | {} | {:.1} MiB | {:.1} MiB | {} | {:.1} s | {} | {:.0}/s | {:.1} s | {} | {} |",
                build.name,
                cap_label(*cap),
                run.hwm_kib as f64 / 1024.0,
                run.cgroup_peak as f64 / MIB,
                run.writes,
                run.longest_gap.as_secs_f64(),
                run.lost.map_or("absent".into(), |n| format!("{n:.0}")),
                run.rate,
                run.cpu,
                if run.oom { "yes" } else { "no" },
                load(),
            );
            runs[i].push(run);
        }
    }
    println!("\n| build | memory cap | peak RSS median | writes median | notifications lost median | flood rate median | OOM-killed | RSS vs baseline |");
    println!("|---|---|---:|---:|---:|---:|---|---:|");
    let hwm = |i: usize| median(runs[i].iter().map(|r| r.hwm_kib).collect());
    for (i, (build, cap)) in variants.iter().enumerate() {
        let lost: Vec<u64> = runs[i]
            .iter()
            .filter_map(|r| r.lost.map(|n| n as u64))
            .collect();
        let ratio = if i == 0 && variants.len() > 1 {
            format!("{:.3}x", hwm(0) as f64 / hwm(1).max(1) as f64)
        } else {
            String::new()
        };
        println!(
            "| {} | {} | {:.1} MiB | {} | {} | {:.0}/s | {} of {} | {ratio} |",
            build.name,
            cap_label(*cap),
            hwm(i) as f64 / 1024.0,
            median(runs[i].iter().map(|r| r.writes).collect()),
            if lost.is_empty() {
                "absent".into()
            } else {
                median(lost).to_string()
            },
            median(runs[i].iter().map(|r| r.rate as u64).collect()) as f64,
            runs[i].iter().filter(|r| r.oom).count(),
            runs[i].len(),
        );
    }
    println!();
}

fn flood_run(build: &Build, cap: u64) -> FloodRun {
    let mut flood = Flood::ready(FLOODERS);
    let cage = MemoryCage::new("bench", cap)
        .inspect_err(|why| eprintln!("{why}: this run has no memory cap"))
        .ok();
    let dir = tempfile::tempdir().unwrap();
    let mut planet = spawn_loop(&build.path, "2s", dir.path(), cage.as_ref());
    let pid = planet.id();
    let file = dir.path().join("planet.prom");
    let mut watch = Watch::default();
    let mut hwm = 0;
    let mut exited: Option<ExitStatus> = None;
    let first_deadline = Instant::now() + Duration::from_secs(30);
    while watch.writes == 0 && Instant::now() < first_deadline {
        std::thread::sleep(Duration::from_millis(100));
        watch.look(&file);
    }
    flood.start();
    let start = Instant::now();
    let writes_before = watch.writes;
    let mut sample = |watch: &mut Watch, exited: &mut Option<ExitStatus>| {
        std::thread::sleep(Duration::from_millis(100));
        if exited.is_none() {
            hwm = hwm.max(status_field(pid, "VmHWM:").unwrap_or(0));
            *exited = planet.try_wait().unwrap();
        }
        watch.look(&file);
    };
    while start.elapsed() < FLOOD {
        sample(&mut watch, &mut exited);
    }
    let writes = watch.writes - writes_before;
    let mut longest_gap = watch.longest_gap(start);
    let rate = flood.stop();
    // One more write after the flood, for the final count of lost ones.
    let (writes_then, tail) = (watch.writes, Instant::now());
    while watch.writes == writes_then && tail.elapsed() < Duration::from_secs(6) {
        sample(&mut watch, &mut exited);
    }
    if watch.writes == writes_then {
        longest_gap = longest_gap.max(watch.longest_gap(start));
    }
    let mut cpu = 0.0;
    if exited.is_none() {
        cpu = cpu_seconds(pid);
        hwm = hwm.max(status_field(pid, "VmHWM:").unwrap_or(0));
    }
    stop(&mut planet, exited);
    // The older name, for a baseline built before the rename.
    let lost = [
        schema::DESTROY_NOTIFICATIONS_LOST.name,
        "planet_destroy_events_lost_total",
    ];
    let lost = lost.iter().find_map(|name| metric(&watch.last, name));
    FloodRun {
        hwm_kib: hwm,
        writes,
        longest_gap,
        lost,
        rate,
        cpu,
        oom: cage.as_ref().is_some_and(|c| c.oom_kills() > 0),
        cgroup_peak: cage.as_ref().map_or(0, MemoryCage::peak),
    }
}

// ---------------------------------------------------------------- namespaces

/// One `--loop` run at many namespaces.
struct LoopRun {
    threads: u64,
    fds: usize,
    hwm_kib: u64,
    /// planet_snapshot_duration_seconds of each write, the first included.
    samples: Vec<f64>,
    namespaces: Option<f64>,
}

fn namespaces(builds: &[Build]) {
    let setup = Instant::now();
    let holder = tenants::hold_namespaces(NAMESPACES);
    println!(
        "{NAMESPACES} namespaces, a process in each (set up in {:.1} s)\n",
        setup.elapsed().as_secs_f64()
    );
    println!("| round | build | namespaces read | max threads | max open fds | peak RSS (VmHWM) | first sample | median of the next {} | `collect --stdout` wall | load |", LOOP_WRITES - 1);
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let args = ["collect", "--stdout", "--no-resolve"];
    for build in builds {
        let _warm = measure(&build.path, &args);
    }
    let mut loops: Vec<Vec<LoopRun>> = builds.iter().map(|_| Vec::new()).collect();
    let mut walls: Vec<Vec<Duration>> = builds.iter().map(|_| Vec::new()).collect();
    for round in 1..=LOOP_ROUNDS.max(ONE_SHOT_ROUNDS) {
        for (i, build) in builds.iter().enumerate() {
            let wall = (round <= ONE_SHOT_ROUNDS).then(|| measure(&build.path, &args).wall);
            let run = (round <= LOOP_ROUNDS).then(|| loop_run(build));
            println!(
                "| {round} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                build.name,
                run.as_ref()
                    .and_then(|r| r.namespaces)
                    .map_or(String::new(), |n| format!("{n:.0}")),
                run.as_ref()
                    .map_or(String::new(), |r| r.threads.to_string()),
                run.as_ref().map_or(String::new(), |r| r.fds.to_string()),
                run.as_ref().map_or(String::new(), |r| format!(
                    "{:.1} MiB",
                    r.hwm_kib as f64 / 1024.0
                )),
                run.as_ref()
                    .and_then(|r| r.samples.first())
                    .map_or(String::new(), |s| format!("{s:.2} s")),
                run.as_ref()
                    .and_then(|r| later_median(&r.samples))
                    .map_or(String::new(), |s| format!("{s:.2} s")),
                wall.map_or(String::new(), |w| format!("{:.2} s", w.as_secs_f64())),
                load(),
            );
            walls[i].extend(wall);
            loops[i].extend(run);
        }
    }
    workers::stop(vec![holder]);
    println!("\n| build | max threads | max open fds | peak RSS median | seconds per sample, median | `collect --stdout --no-resolve` wall median | vs baseline |");
    println!("|---|---:|---:|---:|---:|---:|---|");
    let per_sample = |i: usize| {
        let all: Vec<u64> = loops[i]
            .iter()
            .flat_map(|r| r.samples.iter().skip(1))
            .map(|s| (s * 1e6) as u64)
            .collect();
        (!all.is_empty()).then(|| median(all) as f64 / 1e6)
    };
    let wall = |i: usize| median(walls[i].clone()).as_secs_f64();
    for (i, build) in builds.iter().enumerate() {
        let ratio = if i == 0 && builds.len() > 1 {
            format!(
                "sample {}, one-shot {:.3}x",
                match (per_sample(0), per_sample(1)) {
                    (Some(a), Some(b)) => format!("{:.3}x", a / b),
                    _ => "n/a".into(),
                },
                wall(0) / wall(1)
            )
        } else {
            String::new()
        };
        println!(
            "| {} | {} | {} | {:.1} MiB | {} | {:.2} s | {ratio} |",
            build.name,
            loops[i].iter().map(|r| r.threads).max().unwrap_or(0),
            loops[i].iter().map(|r| r.fds).max().unwrap_or(0),
            median(loops[i].iter().map(|r| r.hwm_kib).collect()) as f64 / 1024.0,
            per_sample(i).map_or("n/a".into(), |s| format!("{s:.2} s")),
            wall(i),
        );
    }
    println!("\n(seconds per sample: planet_snapshot_duration_seconds of every write but each run's first)");
}

fn later_median(samples: &[f64]) -> Option<f64> {
    let later: Vec<u64> = samples.iter().skip(1).map(|s| (s * 1e6) as u64).collect();
    (!later.is_empty()).then(|| median(later) as f64 / 1e6)
}

fn loop_run(build: &Build) -> LoopRun {
    let dir = tempfile::tempdir().unwrap();
    let mut planet = spawn_loop(&build.path, "1s", dir.path(), None);
    let pid = planet.id();
    let file = dir.path().join("planet.prom");
    let mut watch = Watch::default();
    let mut samples = Vec::new();
    let (mut threads, mut fds, mut hwm) = (0, 0, 0);
    let mut exited = None;
    let deadline = Instant::now() + Duration::from_secs(180);
    while watch.writes < LOOP_WRITES && exited.is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        threads = threads.max(status_field(pid, "Threads:").unwrap_or(0));
        hwm = hwm.max(status_field(pid, "VmHWM:").unwrap_or(0));
        fds = fds.max(
            std::fs::read_dir(format!("/proc/{pid}/fd"))
                .map(|d| d.count())
                .unwrap_or(0),
        );
        if watch.look(&file) {
            samples.extend(metric(&watch.last, schema::SNAPSHOT_DURATION.name));
        }
        exited = planet.try_wait().unwrap();
    }
    assert!(exited.is_none(), "{} --loop exited: {exited:?}", build.path);
    stop(&mut planet, exited);
    LoopRun {
        threads,
        fds,
        hwm_kib: hwm,
        samples,
        namespaces: metric(&watch.last, schema::NETWORK_NAMESPACES.name),
    }
}
