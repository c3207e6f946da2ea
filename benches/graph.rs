//! `cargo bench --bench graph [-- 5000] [-- 150000]`: `planet graph` over
//! two synthetic fleets, in every format, from the hosts' `.prom` files and
//! from a real Prometheus (Debian `prometheus`) on loopback.
//!
//! - **5,000 edges** (the fleet this bench has always had): 200 hosts, each
//!   serving one port and calling the next 25 hosts; upstream series only.
//! - **150,000 edges**: 1,000 hosts, each with three containers (64-hex IDs,
//!   an address each) and eight serving processes: `nginx`, `sshd` and
//!   `node_exporter` on the host, `java` and `envoy` in one container,
//!   `python3` and `envoy` in another, `postgres` in the third. Five of them
//!   (`nginx`, `java`, both `envoy`s, `python3`) are clients, each with 28
//!   calls to services of other hosts, one to an external API and one from
//!   a load balancer that runs no planet: 30 edges each, 150 a host. Each
//!   connection is in both ends' files (upstream and downstream), with every
//!   family planet writes for it, as `planet collect` writes them: about
//!   1,900 series a host.
//!
//! Prometheus gets the very same series through `promtool tsdb
//! create-blocks-from openmetrics` (each with `instance` and `job` labels,
//! two samples two minutes apart), which is far faster than scraping 1.9
//! million series. The samples do not move, so Prometheus runs with
//! `--query.lookback-delta=12h` and `planet graph` with `--window 12h`: the
//! same series and answers as a live store's at `--window 5m`, valid for as
//! long as the bench runs.
//!
//! Each run is `planet graph ... --format F -o FILE`, timed wall to wall,
//! with its peak RSS and CPU time from `wait4`. It runs as an orphan that
//! this process adopts (`common/adopted.rs` says why). Runs over 120 s are
//! stopped.
//!
//! With `PLANET_BASELINE=/path/to/planet`, that build runs the same inputs
//! in alternating rounds (stopped after 60 s: "did not finish"), and each
//! row has the ratio of the medians.

#[path = "common/adopted.rs"]
mod adopted;
#[path = "common/fleets.rs"]
mod fleets;
#[allow(dead_code)] // the bench uses `median`, `cpu_seconds` and `load`
#[path = "common/measure.rs"]
mod measure;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use adopted::{run, Outcome, Run};
use fleets::{render_page, write_openmetrics, Fleet, FLEETS};
use measure::median;

const PLANET: &str = env!("CARGO_BIN_EXE_planet");
const FORMATS: [&str; 4] = ["json", "dot", "mermaid", "html"];
/// A run of planet is stopped after this; the baseline's after
/// `BASELINE_CAP`.
const CAP: Duration = Duration::from_secs(120);
const BASELINE_CAP: Duration = Duration::from_secs(60);
/// Prometheus' lookback and planet's `--window`: longer than the bench.
const LOOKBACK: &str = "12h";

/// Prometheus serving the blocks in `tsdb`.
fn start_prometheus(prometheus: &Path, dir: &Path, tsdb: &Path) -> (Child, String) {
    let config = dir.join("prometheus.yml");
    std::fs::write(&config, "global: {}\nscrape_configs: []\n").unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Command::new(prometheus)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", tsdb.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg(format!("--query.lookback-delta={LOOKBACK}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while !http_ok(port, "/-/ready") {
        assert!(server.try_wait().unwrap().is_none(), "Prometheus exited");
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "Prometheus not ready after 5 minutes"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    (server, url)
}

fn http_ok(port: u16, path: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    let mut answer = String::new();
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_to_string(&mut answer).is_ok()
        && answer.split_whitespace().nth(1) == Some("200")
}

/// The edges of a JSON graph.
fn edges_in(path: &Path) -> Option<usize> {
    #[derive(serde::Deserialize)]
    struct Graph {
        edges: Vec<serde::de::IgnoredAny>,
    }
    let text = std::fs::read(path).ok()?;
    let graph: Graph = serde_json::from_slice(&text).ok()?;
    Some(graph.edges.len())
}

/// What one build did over the rounds of one case.
#[derive(Default)]
struct Runs {
    done: Vec<Run>,
    /// Why it stopped: the first failure or time-out.
    stopped: Option<String>,
    output_bytes: u64,
}

impl Runs {
    fn wall(&self) -> Option<Duration> {
        (!self.done.is_empty()).then(|| median(self.done.iter().map(|r| r.wall).collect()))
    }
    fn rss(&self) -> Option<i64> {
        (!self.done.is_empty()).then(|| median(self.done.iter().map(|r| r.max_rss_kib).collect()))
    }
    fn cpu(&self) -> Option<Duration> {
        (!self.done.is_empty()).then(|| median(self.done.iter().map(|r| r.cpu).collect()))
    }
    fn store_cpu(&self) -> f64 {
        let mut v: Vec<f64> = self.done.iter().map(|r| r.store_cpu).collect();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    }
    /// "1.23 s, 456.7 MiB", or why there is none.
    fn summary(&self) -> String {
        match (self.wall(), self.rss()) {
            (Some(wall), Some(rss)) if self.stopped.is_none() => {
                format!("{}, {}", seconds(wall), mib(rss))
            }
            (Some(wall), Some(rss)) => format!(
                "{}, {} ({} of the runs; then {})",
                seconds(wall),
                mib(rss),
                self.done.len(),
                self.stopped.as_deref().unwrap_or_default()
            ),
            _ => self.stopped.clone().unwrap_or_else(|| "not run".into()),
        }
    }
}

fn seconds(d: Duration) -> String {
    match d.as_secs_f64() {
        s if s < 1.0 => format!("{:.0} ms", s * 1e3),
        s => format!("{s:.2} s"),
    }
}

fn mib(kib: i64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A build to run: planet's, or the baseline.
struct Build {
    name: &'static str,
    program: String,
    cap: Duration,
}

/// Every format over one source, planet and the baseline in alternating
/// rounds; prints a table row per format.
fn measure_source(
    fleet: &Fleet,
    builds: &[Build],
    source: &str,
    args: &[String],
    dir: &Path,
    store: Option<u32>,
) {
    // A first run of each build, unmeasured (caches warm), that must give
    // every edge.
    for build in builds {
        let out = dir.join(format!("check-{}.json", build.name));
        let mut all: Vec<String> = args.to_vec();
        all.extend(["-o".into(), out.display().to_string()]);
        let err = dir.join("stderr");
        let _ = std::fs::remove_file(&out);
        let seen = match run(&build.program, &all, build.cap, &err, store) {
            Outcome::Done(r) => match edges_in(&out) {
                Some(n) if n == fleet.edges => format!("{n} edges in {}", seconds(r.wall)),
                Some(n) => format!("WRONG: {n} edges, not {}", fleet.edges),
                None => "unreadable JSON".into(),
            },
            Outcome::Failed(why) => format!("failed: {why}"),
            Outcome::TimedOut => format!("did not finish in {} s", build.cap.as_secs()),
        };
        println!("check: {} {source} json: {seen}", build.name);
    }
    for format in FORMATS {
        let mut runs: Vec<Runs> = builds.iter().map(|_| Runs::default()).collect();
        for round in 0..fleet.rounds {
            for b in 0..builds.len() {
                // Alternating which goes first.
                let b = (b + round) % builds.len();
                let build = &builds[b];
                if runs[b].stopped.is_some() {
                    continue;
                }
                let out = dir.join(format!("out-{}.{format}", build.name));
                let mut all: Vec<String> = args.to_vec();
                all.extend([
                    "--format".into(),
                    format.into(),
                    "-o".into(),
                    out.display().to_string(),
                ]);
                let err = dir.join("stderr");
                match run(&build.program, &all, build.cap, &err, store) {
                    Outcome::Done(r) => {
                        runs[b].done.push(r);
                        runs[b].output_bytes = std::fs::metadata(&out).map_or(0, |m| m.len());
                    }
                    Outcome::Failed(why) => runs[b].stopped = Some(format!("failed: {why}")),
                    Outcome::TimedOut => {
                        runs[b].stopped =
                            Some(format!("did not finish in {} s", build.cap.as_secs()))
                    }
                }
            }
        }
        for (build, r) in builds.iter().zip(&runs) {
            let walls: Vec<String> = r.done.iter().map(|r| seconds(r.wall)).collect();
            println!(
                "runs: {} {source} {format}: {} (load {})",
                build.name,
                walls.join(", "),
                loadavg()
            );
        }
        let planet = &runs[0];
        let ratio = match (runs.get(1).and_then(Runs::wall), planet.wall()) {
            (Some(base), Some(ours)) => {
                let rss = planet.rss().unwrap_or(0) as f64 / runs[1].rss().unwrap_or(1) as f64;
                format!(
                    "{:.2}x time, {rss:.2}x RSS",
                    ours.as_secs_f64() / base.as_secs_f64()
                )
            }
            _ => String::new(),
        };
        let baseline = runs.get(1).map_or(String::new(), Runs::summary);
        match (planet.wall(), planet.rss(), planet.cpu()) {
            (Some(wall), Some(rss), Some(cpu)) => println!(
                "| {} | {source} | {format} | {} | {} | {} | {} | {:.1} MiB | {baseline} | {ratio} |",
                fleet.edges,
                seconds(wall),
                mib(rss),
                seconds(cpu),
                match store {
                    Some(_) => format!("{:.2} s", planet.store_cpu()),
                    None => "".into(),
                },
                planet.output_bytes as f64 / 1048576.0,
            ),
            _ => println!(
                "| {} | {source} | {format} | {} | | | | | {baseline} | |",
                fleet.edges,
                planet.summary()
            ),
        }
        if let (Some(why), Some(_)) = (&planet.stopped, planet.wall()) {
            println!("planet {source} {format}: {why}");
        }
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` probing
    }
    adopted::become_subreaper();
    let asked: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let mut builds = vec![Build {
        name: "planet",
        program: PLANET.into(),
        cap: CAP,
    }];
    if let Some(baseline) = std::env::var_os("PLANET_BASELINE") {
        builds.push(Build {
            name: "baseline",
            program: baseline.to_string_lossy().into_owned(),
            cap: BASELINE_CAP,
        });
    }
    let prometheus = which("prometheus");
    let promtool = which("promtool");
    for fleet in FLEETS
        .iter()
        .filter(|f| asked.is_empty() || asked.contains(&f.edges))
    {
        measure_fleet(fleet, &builds, prometheus.as_deref(), promtool.as_deref());
    }
}

fn measure_fleet(
    fleet: &Fleet,
    builds: &[Build],
    prometheus: Option<&Path>,
    promtool: Option<&Path>,
) {
    println!(
        "\n## {} edges: {} (load {})",
        fleet.edges,
        fleet.shape,
        loadavg()
    );
    // Removed when dropped, unless kept (for profiling by hand).
    let mut temporary = Some(tempfile::tempdir().unwrap());
    let dir = temporary.as_ref().unwrap().path().to_path_buf();
    if std::env::var_os("PLANET_BENCH_KEEP").is_some() {
        let _ = temporary.take().map(tempfile::TempDir::keep);
        println!("keeping the files and the TSDB in {}", dir.display());
    }
    let started = Instant::now();
    let mut bytes = 0;
    let files: Vec<String> = (0..fleet.hosts)
        .map(|i| {
            let path = dir.as_path().join(format!("h{i:04}.prom"));
            let page = render_page(&mut (fleet.page)(i));
            bytes += page.len();
            std::fs::write(&path, page).unwrap();
            path.display().to_string()
        })
        .collect();
    println!(
        "{} files, {:.1} MiB, written in {}",
        fleet.hosts,
        bytes as f64 / 1048576.0,
        seconds(started.elapsed())
    );
    println!(
        "\n| edges | source | format | wall median | peak RSS | CPU | store CPU | output | baseline (wall, peak RSS) | planet / baseline |"
    );
    println!("|---:|---|---|---:|---:|---:|---:|---:|---|---|");
    let mut args: Vec<String> = vec!["graph".into(), "--files".into()];
    args.extend(files);
    measure_source(fleet, builds, "files", &args, dir.as_path(), None);

    let (Some(prometheus), Some(promtool)) = (prometheus, promtool) else {
        println!("SKIPPED: Prometheus (Debian package prometheus) is not installed");
        return;
    };
    let started = Instant::now();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let input = dir.as_path().join("fleet.om");
    write_openmetrics(fleet, &input, now - 180, now - 60);
    let size = std::fs::metadata(&input).map_or(0, |m| m.len());
    let tsdb = dir.as_path().join("tsdb");
    let status = Command::new(promtool)
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&input)
        .arg(&tsdb)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "promtool");
    std::fs::remove_file(&input).unwrap();
    let (mut server, url) = start_prometheus(prometheus, dir.as_path(), &tsdb);
    println!(
        "Prometheus: {:.0} MiB of OpenMetrics backfilled and serving in {} (load {})",
        size as f64 / 1048576.0,
        seconds(started.elapsed()),
        loadavg()
    );
    let args: Vec<String> = ["graph", "--prometheus", &url, "--window", LOOKBACK]
        .iter()
        .map(|s| s.to_string())
        .collect();
    measure_source(
        fleet,
        builds,
        "prometheus",
        &args,
        dir.as_path(),
        Some(server.id()),
    );
    println!(
        "Prometheus peak RSS {} (load {})",
        std::fs::read_to_string(format!("/proc/{}/status", server.id()))
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with("VmHWM"))
            .unwrap_or("VmHWM: ?")
            .trim_start_matches("VmHWM:")
            .trim(),
        loadavg()
    );
    let _ = server.kill();
    let _ = server.wait();
    drop(temporary);
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}
