//! `cargo bench --bench graph`: `planet graph` over a synthetic fleet of 200
//! hosts and 5,000 edges (each host serves one port and calls the next 25
//! hosts), from the hosts' `.prom` files and from a real Prometheus
//! (Debian `prometheus`) that scrapes them: a small HTTP server in this
//! bench serves each host's page at `/h/N`, and Prometheus has one target
//! per host with its own `instance`. Everything stays on loopback.

#[path = "common/measure.rs"]
mod measure;

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use measure::{measure, median, Measure};

const PLANET: &str = env!("CARGO_BIN_EXE_planet");
const HOSTS: usize = 200;
const CALLS: usize = 25;
const ROUNDS: usize = 5;

/// Host `i`'s page, as its planet would write it.
fn page(i: usize) -> String {
    let addr = |h: usize| format!("fd00::100:{h:x}");
    let mut out = String::new();
    let _ = writeln!(out, "planet_host_info{{hostname=\"h{i:03}\"}} 1");
    let _ = writeln!(
        out,
        "planet_address{{addr=\"{}\",container=\"\"}} 1",
        addr(i)
    );
    let _ = writeln!(
        out,
        "planet_serving{{protocol=\"tcp\",name=\"svc{i}\",container=\"\",addr=\"::\",port=\"8080\"}} 1"
    );
    for k in 1..=CALLS {
        let peer = addr((i + k) % HOSTS);
        let labels = format!(
            "protocol=\"tcp\",process=\"svc{i}\",container=\"\",name=\"{peer}\",domain=\"\",addr=\"{peer}\",port=\"8080\""
        );
        let _ = writeln!(out, "planet_upstream{{{labels}}} 2");
        let _ = writeln!(
            out,
            "planet_upstream_bytes_total{{{labels},direction=\"out\"}} {}",
            1000 * k
        );
        let _ = writeln!(
            out,
            "planet_upstream_bytes_total{{{labels},direction=\"in\"}} {}",
            9000 * k
        );
        let _ = writeln!(out, "planet_upstream_connect_failures_total{{{labels}}} 0");
        let _ = writeln!(out, "planet_upstream_retransmits_total{{{labels}}} {k}");
    }
    out
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` probing
    }
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<String> = (0..HOSTS)
        .map(|i| {
            let path = dir.path().join(format!("h{i:03}.prom"));
            std::fs::write(&path, page(i)).unwrap();
            path.display().to_string()
        })
        .collect();
    let mut args: Vec<&str> = vec!["graph", "--files"];
    args.extend(files.iter().map(String::as_str));
    let out = Command::new(PLANET).args(&args).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.matches("\"detail__port\"").count(),
        HOSTS * CALLS,
        "edges"
    );
    let runs: Vec<Measure> = (0..ROUNDS).map(|_| measure(PLANET, &args)).collect();
    println!(
        "| {HOSTS} hosts, {} edges | wall median | peak RSS |",
        HOSTS * CALLS
    );
    println!("|---|---:|---:|");
    println!(
        "| `planet graph --files` ({HOSTS} files) | {:.1} ms | {:.1} MiB |",
        median(runs.iter().map(|m| m.wall).collect()).as_secs_f64() * 1e3,
        median(runs.iter().map(|m| m.max_rss_kib).collect()) as f64 / 1024.0
    );

    let Ok(prometheus) = which("prometheus") else {
        println!("SKIPPED: Prometheus (Debian package prometheus) is not installed");
        return;
    };
    // Each host's page, at /h/N.
    let pages = TcpListener::bind("127.0.0.1:0").unwrap();
    let pages_port = pages.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in pages.incoming().flatten() {
            let mut reader = BufReader::new(&stream);
            let mut request = String::new();
            let _ = reader.read_line(&mut request);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let host: usize = request
                .split_whitespace()
                .nth(1)
                .and_then(|p| p.strip_prefix("/h/"))
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            let body = page(host);
            let _ = write!(
                &stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let mut config = String::from("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: planet\n    static_configs:\n");
    for i in 0..HOSTS {
        let _ = write!(
            config,
            "      - targets: ['127.0.0.1:{pages_port}']\n        labels: {{instance: 'h{i:03}', __metrics_path__: '/h/{i}'}}\n"
        );
    }
    std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Command::new(prometheus)
        .arg(format!(
            "--config.file={}",
            dir.path().join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let graph = ["graph", "--prometheus", url.as_str(), "--window", "1m"];
    // Until every host's edges are there, then two more scrapes (a rate
    // needs two samples).
    let started = Instant::now();
    let ready: Result<(), usize> = loop {
        let out = Command::new(PLANET).args(graph).output().unwrap();
        let seen = String::from_utf8_lossy(&out.stdout)
            .matches("\"detail__port\"")
            .count();
        if seen == HOSTS * CALLS {
            std::thread::sleep(Duration::from_secs(3));
            break Ok(());
        }
        if started.elapsed() > Duration::from_secs(120) {
            break Err(seen);
        }
        std::thread::sleep(Duration::from_secs(1));
    };
    match ready {
        Ok(()) => {
            let runs: Vec<Measure> = (0..ROUNDS).map(|_| measure(PLANET, &graph)).collect();
            println!(
                "| `planet graph --prometheus` (a real Prometheus, {HOSTS} targets) | {:.1} ms | {:.1} MiB |",
                median(runs.iter().map(|m| m.wall).collect()).as_secs_f64() * 1e3,
                median(runs.iter().map(|m| m.max_rss_kib).collect()) as f64 / 1024.0
            );
        }
        Err(seen) => println!(
            "Prometheus had {seen} of {} edges after 2 minutes",
            HOSTS * CALLS
        ),
    }
    let _ = server.kill();
    let _ = server.wait();
}

fn which(program: &str) -> Result<std::path::PathBuf, ()> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
        .ok_or(())
}
