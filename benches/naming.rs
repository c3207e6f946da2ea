//! `cargo bench --bench naming`: the cost of naming 1,000 distinct peers,
//! with reverse DNS from a dnsmasq on loopback (cold cache, then warm from the
//! state file) and from a 100,000-entry inventory, against `--no-resolve`.
//!
//! Runs in a network namespace of its own (it re-executes itself under
//! `unshare -n`; root needed): the addresses of fd00::b:0/112 are made
//! local on `lo`, so peers and traffic never leave the namespace.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::process::{Command, Stdio};
use std::time::Duration;

#[path = "common/measure.rs"]
mod measure;
#[path = "common/netns.rs"]
mod netns;

use measure::{measure, median, Measure};
use netns::{in_own_netns, run};

const PLANET: &str = env!("CARGO_BIN_EXE_planet");
const PEERS: u32 = 1000;
const ROUNDS: usize = 7;

fn peer(i: u32) -> Ipv6Addr {
    Ipv6Addr::from(u128::from("fd00::b:10".parse::<Ipv6Addr>().unwrap()) + u128::from(i))
}

fn planet<const N: usize>(args: [&str; N]) -> Command {
    let mut command = Command::new(PLANET);
    command.args(args);
    command
}

/// Medians of wall time and peak RSS over ROUNDS runs.
fn time_run(args: &[&str], before_each: impl Fn()) -> Measure {
    let args: Vec<&str> = ["collect", "--stdout"]
        .into_iter()
        .chain(args.iter().copied())
        .collect();
    let runs: Vec<Measure> = (0..ROUNDS)
        .map(|_| {
            before_each();
            measure(PLANET, &args)
        })
        .collect();
    Measure {
        wall: median(runs.iter().map(|m| m.wall).collect()),
        max_rss_kib: median(runs.iter().map(|m| m.max_rss_kib).collect()),
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` probing
    }
    if !in_own_netns() {
        return;
    }
    let ready = run(
        "ip",
        &["-6", "route", "add", "local", "fd00::b:0/112", "dev", "lo"],
    ) && std::fs::write("/proc/sys/net/ipv6/ip_nonlocal_bind", "1").is_ok();
    if !ready || !run("dnsmasq", &["--version"]) {
        println!("SKIPPED: needs ip (iproute2) and dnsmasq (dnsmasq-base)");
        return;
    }
    {
        let dir = tempfile::tempdir().unwrap();

        // Every peer has a PTR record.
        let mut hosts = String::new();
        for i in 0..PEERS {
            let _ = writeln!(hosts, "{} peer-{i}.bench.example", peer(i));
        }
        let hosts_file = dir.path().join("hosts");
        std::fs::write(&hosts_file, hosts).unwrap();
        let dns_port = std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = Command::new("dnsmasq")
            .args([
                "--keep-in-foreground",
                "--conf-file=/dev/null",
                "--no-resolv",
                "--no-hosts",
                "--user=root",
            ])
            .args([
                "--bind-interfaces",
                "--listen-address=127.0.0.1",
                "--pid-file=",
                "--local=/ip6.arpa/",
            ])
            .arg(format!("--port={dns_port}"))
            .arg(format!("--addn-hosts={}", hosts_file.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(500));

        // 1,000 connections, each from its own peer address.
        let listener = TcpListener::bind("[fd00::b:1]:0").unwrap();
        let to = listener.local_addr().unwrap();
        let mut held = Vec::new();
        for i in 0..PEERS {
            let socket =
                socket2::Socket::new(socket2::Domain::IPV6, socket2::Type::STREAM, None).unwrap();
            socket
                .bind(&SocketAddr::new(IpAddr::V6(peer(i)), 0).into())
                .unwrap();
            socket.connect(&to.into()).unwrap();
            held.push(socket);
            held.push(listener.accept().unwrap().0.into());
        }

        // A 100,000-entry inventory that knows every peer among many others.
        let mut inventory = String::from("[");
        for i in 0..100_000u32 {
            let addr = if i < PEERS {
                peer(i).to_string()
            } else if i % 3 == 0 {
                format!("10.{}.{}.0/24", (i >> 8) & 0xff, i & 0xff)
            } else if i % 3 == 1 {
                format!("fd00:{:x}::{:x}", i >> 16, i & 0xffff)
            } else {
                Ipv4Addr::from(0x0a00_0000 | i).to_string()
            };
            let _ = write!(
                inventory,
                "{}{{\"ip_address\":\"{addr}\",\"domain\":\"h{i}.inv.example\",\"hostgroup\":\"g{}\"}}",
                if i == 0 { "" } else { "," },
                i % 50
            );
        }
        inventory.push(']');
        let inventory_file = dir.path().join("inventory.json");
        std::fs::write(&inventory_file, &inventory).unwrap();

        let state = dir.path().join("planet.state");
        let dns = format!("127.0.0.1:{dns_port}");
        let with_dns = [
            "--dns-server",
            &dns,
            "--dns-timeout",
            "5s",
            "--state-file",
            state.to_str().unwrap(),
        ];
        let baseline = time_run(&["--no-resolve"], || {});
        let cold = time_run(&with_dns, || {
            let _ = std::fs::remove_file(&state);
        });
        let text = String::from_utf8(
            planet(["collect", "--stdout"])
                .args(with_dns)
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap();
        assert!(
            text.contains("name=\"peer-999\",domain=\"peer-999.bench.example\""),
            "DNS answered"
        );
        let warm = time_run(&with_dns, || {});
        let with_inventory = time_run(
            &[
                "--no-resolve",
                "--inventory",
                inventory_file.to_str().unwrap(),
            ],
            || {},
        );

        println!("| 1,000 peers | wall median | peak RSS median |");
        println!("|---|---:|---:|");
        for (label, took) in [
            ("`--no-resolve`", baseline),
            ("reverse DNS, cold cache (1,001 PTR queries)", cold),
            ("reverse DNS, warm cache (state file)", warm),
            (
                "`--inventory` of 100,000 entries, `--no-resolve`",
                with_inventory,
            ),
        ] {
            println!(
                "| {label} | {:.1} ms | {:.1} MiB |",
                took.wall.as_secs_f64() * 1e3,
                took.max_rss_kib as f64 / 1024.0
            );
        }
        println!(
            "inventory file: {:.1} MiB",
            inventory.len() as f64 / (1024.0 * 1024.0)
        );
        let _ = server.kill();
        let _ = server.wait();
    }
}
