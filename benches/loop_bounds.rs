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

// Only the wall time of `measure` is used: its peak RSS comes from `wait4`.
#[allow(dead_code)]
#[path = "common/measure.rs"]
mod measure;
#[path = "common/netns.rs"]
mod netns;
#[path = "common/workers.rs"]
mod workers;

use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use measure::{cpu_seconds, measure, median};
use netns::in_own_netns;
use planet::schema;

const PLANET: &str = env!("CARGO_BIN_EXE_planet");
const FLOODER: &str = "PLANET_BENCH_FLOODER";
const HOLDER: &str = "PLANET_BENCH_NS_HOLDER";
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
    if std::env::var_os(FLOODER).is_some() {
        return flooder();
    }
    if let Ok(spec) = std::env::var(HOLDER) {
        return holder(spec.parse().expect("namespace count"));
    }
    if !in_own_pid_namespace() || !in_own_netns() {
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

/// True in a PID namespace of its own, with its own `/proc` (go on).
/// Outside: runs this bench again in one, waits, and returns false (stop).
/// planet then sees the bench's processes only, and so reads the bench's
/// namespaces only: not those of whatever else runs on the machine, whose
/// sockets would change what is measured from one run to the next.
fn in_own_pid_namespace() -> bool {
    const INSIDE: &str = "PLANET_BENCH_IN_PIDNS";
    if std::env::var_os(INSIDE).is_some() || std::env::var_os("PLANET_BENCH_IN_NETNS").is_some() {
        return true;
    }
    let status = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc"])
        .arg(std::env::current_exe().expect("the bench's own path"))
        .args(std::env::args().skip(1))
        .env(INSIDE, "1")
        .status();
    if !status.is_ok_and(|s| s.success()) {
        println!("SKIPPED: needs a PID namespace of its own (root, unshare(1))");
    }
    false
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
    let flooders: Vec<Child> = (0..FLOODERS).map(|_| workers::spawn(FLOODER, "")).collect();
    let cgroup = Cgroup::new(cap);
    if cgroup.is_none() {
        eprintln!("no v1 memory cgroup: this run has no memory cap");
    }
    let dir = tempfile::tempdir().unwrap();
    let mut planet = spawn_loop(&build.path, "2s", dir.path(), cgroup.as_ref());
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
    let mut flooders: Vec<Child> = flooders
        .into_iter()
        .map(|mut f| {
            f.stdin.as_mut().unwrap().write_all(b"go\n").unwrap();
            f
        })
        .collect();
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
    let mut rate = 0.0;
    for flooder in &mut flooders {
        drop(flooder.stdin.take());
        let mut said = String::new();
        flooder
            .stdout
            .as_mut()
            .unwrap()
            .read_to_string(&mut said)
            .unwrap();
        let (count, seconds) = said.trim().split_once(' ').expect("flooder's count");
        rate += count.parse::<f64>().unwrap() / seconds.parse::<f64>().unwrap();
    }
    workers::stop(flooders);
    // One more write after the flood, for the final count of lost ones.
    let (writes_then, tail) = (watch.writes, Instant::now());
    while watch.writes == writes_then && tail.elapsed() < Duration::from_secs(6) {
        sample(&mut watch, &mut exited);
    }
    if watch.writes == writes_then {
        longest_gap = longest_gap.max(watch.longest_gap(start));
    }
    let cpu = if exited.is_none() {
        cpu_seconds(pid)
    } else {
        0.0
    };
    if exited.is_none() {
        hwm = hwm.max(status_field(pid, "VmHWM:").unwrap_or(0));
    }
    stop(&mut planet, exited);
    let lost = watch.last.lines().find_map(|line| {
        let (name, value) = line.split_once(' ')?;
        // The older name, for a baseline built before the rename.
        let lost = [
            schema::DESTROY_NOTIFICATIONS_LOST.name,
            "planet_destroy_events_lost_total",
        ];
        lost.contains(&name).then(|| value.parse::<f64>().ok())?
    });
    FloodRun {
        hwm_kib: hwm,
        writes,
        longest_gap,
        lost,
        rate,
        cpu,
        oom: cgroup.as_ref().is_some_and(|c| c.oom_kills() > 0),
        cgroup_peak: cgroup.as_ref().map_or(0, Cgroup::peak),
    }
}

/// A flood worker: moves into a namespace of its own, says `ready`, waits
/// for `go`, then creates and closes TCP sockets until its stdin closes,
/// and prints how many, and in how many seconds.
fn flooder() {
    // SAFETY: single-threaded here; only the network namespace changes.
    unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNET) }
        .expect("unshare");
    println!("ready");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    let stop = Arc::new(AtomicBool::new(false));
    let told = stop.clone();
    std::thread::spawn(move || {
        let _ = std::io::stdin().read_line(&mut String::new());
        told.store(true, Ordering::Relaxed);
    });
    let start = Instant::now();
    let mut count = 0u64;
    while !stop.load(Ordering::Relaxed) {
        for _ in 0..256 {
            // SAFETY: plain syscalls on a descriptor of our own.
            unsafe {
                let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
                assert!(fd >= 0, "socket");
                libc::close(fd);
            }
        }
        count += 256;
    }
    println!("{count} {}", start.elapsed().as_secs_f64());
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
    let holder = workers::spawn(HOLDER, &NAMESPACES.to_string());
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

/// Holds `count` network namespaces, each with a child process living in
/// it, until stdin closes. The children die with this process.
fn holder(count: usize) {
    let own = std::fs::metadata("/proc/self/ns/net").unwrap();
    let mut children = Vec::with_capacity(count);
    for _ in 0..count {
        // SAFETY: single-threaded; the child calls only async-signal-safe
        // functions (prctl, unshare, pause, _exit) before it dies.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork");
        if pid == 0 {
            unsafe {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                if libc::getppid() == 1 || libc::unshare(libc::CLONE_NEWNET) != 0 {
                    libc::_exit(1);
                }
                loop {
                    libc::pause();
                }
            }
        }
        children.push(pid);
    }
    // Ready once every child lives in a namespace of its own.
    let deadline = Instant::now() + Duration::from_secs(300);
    for pid in &children {
        loop {
            match std::fs::metadata(format!("/proc/{pid}/ns/net")) {
                Ok(ns) if ns.ino() != own.ino() => break,
                Ok(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
                other => panic!("namespace holder {pid} did not unshare: {other:?}"),
            }
        }
    }
    workers::hold_until_stopped();
    for pid in &children {
        // SAFETY: our own children, not yet reaped.
        unsafe { libc::kill(*pid, libc::SIGKILL) };
    }
    for pid in &children {
        // SAFETY: as above.
        unsafe { libc::waitpid(*pid, std::ptr::null_mut(), 0) };
    }
}

// ---------------------------------------------------------------- common

/// `planet collect --loop` writing into `out`, in `cgroup` if given (the
/// shell joins it, then becomes planet: same pid, nothing allocated outside).
fn spawn_loop(planet: &str, interval: &str, out: &Path, cgroup: Option<&Cgroup>) -> Child {
    let args = [
        "collect",
        "--loop",
        "--interval",
        interval,
        "--no-resolve",
        "--out",
    ];
    let state = out.join("planet.state");
    let mut command = match cgroup {
        Some(cgroup) => {
            let mut sh = Command::new("sh");
            sh.args(["-c", "echo $$ > \"$0\"/cgroup.procs && exec \"$@\""])
                .arg(&cgroup.dir)
                .arg(planet);
            sh
        }
        None => Command::new(planet),
    };
    command
        .args(args)
        .arg(out)
        .arg("--state-file")
        .arg(state)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn planet --loop")
}

/// SIGTERM, then SIGKILL if it has not gone in 20 s.
fn stop(planet: &mut Child, exited: Option<ExitStatus>) {
    if exited.is_some() {
        return;
    }
    // SAFETY: plain kill of our own child.
    unsafe { libc::kill(planet.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(20);
    while planet.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = planet.kill();
            let _ = planet.wait();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The output file, looked at again and again: how many times it was
/// written (its timestamp line changed) and when.
#[derive(Default)]
struct Watch {
    stamp: String,
    last: String,
    writes: usize,
    at: Vec<Instant>,
}

impl Watch {
    /// True if the file was written since the last look.
    fn look(&mut self, file: &Path) -> bool {
        let Ok(text) = std::fs::read_to_string(file) else {
            return false;
        };
        let Some(stamp) = text.lines().find(|l| {
            l.split_once(' ')
                .is_some_and(|(name, _)| name == schema::COLLECT_TIMESTAMP.name)
        }) else {
            return false;
        };
        if stamp == self.stamp {
            return false;
        }
        self.stamp = stamp.to_string();
        self.last = text;
        self.writes += 1;
        self.at.push(Instant::now());
        true
    }

    /// The longest time without a write from `since` until now.
    fn longest_gap(&self, since: Instant) -> Duration {
        let mut marks: Vec<Instant> = vec![since];
        marks.extend(self.at.iter().filter(|t| **t > since));
        marks.push(Instant::now());
        marks.windows(2).map(|w| w[1] - w[0]).max().unwrap()
    }
}

/// The value of an unlabelled sample in an exposition.
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let (n, value) = line.split_once(' ')?;
        (n == name).then(|| value.parse().ok())?
    })
}

/// The machine's 1-minute load average: other work shares these cores.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(String::from))
        .unwrap_or_default()
}

/// A number from `/proc/PID/status` (kB for memory).
fn status_field(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// A cgroup v1 memory cgroup, a child of this process's own, removed when
/// dropped. None where there is no v1 memory controller to use.
struct Cgroup {
    dir: PathBuf,
}

impl Cgroup {
    fn new(limit: u64) -> Option<Self> {
        let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
        let path = own.lines().find_map(|l| {
            let mut parts = l.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            controllers
                .split(',')
                .any(|c| c == "memory")
                .then_some(path)
        })?;
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let dir = Path::new("/sys/fs/cgroup/memory")
            .join(path.trim_start_matches('/'))
            .join(format!(
                "planet-bench-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
        std::fs::create_dir(&dir).ok()?;
        let cgroup = Cgroup { dir };
        std::fs::write(cgroup.dir.join("memory.limit_in_bytes"), limit.to_string()).ok()?;
        Some(cgroup)
    }

    /// Processes the OOM killer killed in it.
    fn oom_kills(&self) -> u64 {
        std::fs::read_to_string(self.dir.join("memory.oom_control"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("oom_kill "))
                    .and_then(|n| n.trim().parse().ok())
            })
            .unwrap_or(0)
    }

    /// Its highest charge, in bytes.
    fn peak(&self) -> u64 {
        std::fs::read_to_string(self.dir.join("memory.max_usage_in_bytes"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        for _ in 0..50 {
            if std::fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("could not remove {}", self.dir.display());
    }
}
