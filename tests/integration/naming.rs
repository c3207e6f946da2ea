//! Peer names: an inventory file and reverse DNS from a dnsmasq the test
//! starts on loopback, in a network namespace of the test's own. No query
//! ever leaves the machine.

use std::fs;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use planet::schema::{self, label};

use crate::testenv::*;

/// A dnsmasq answering only the given PTR records, logging every query.
struct Dnsmasq {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Dnsmasq {
    fn start(dnsmasq: &Path, records: &[(&str, &str)]) -> Dnsmasq {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("queries.log");
        let port = port_of(UdpSocket::bind("127.0.0.1:0").unwrap().local_addr());
        let mut command = Command::new(dnsmasq);
        command
            .args([
                "--keep-in-foreground",
                "--conf-file=/dev/null",
                "--no-resolv",
                "--no-hosts",
            ])
            .args([
                "--bind-interfaces",
                "--listen-address=127.0.0.1",
                "--user=root",
                "--log-queries",
            ])
            .arg(format!("--port={port}"))
            .arg(format!("--log-facility={}", log.display()))
            .arg("--pid-file=")
            // Authoritative for reverse look-ups: unknown names are NXDOMAIN.
            .args(["--local=/in-addr.arpa/", "--local=/ip6.arpa/"]);
        for (addr, name) in records {
            let ptr = reverse_name(addr.parse().unwrap());
            command.arg(format!("--ptr-record={ptr},{name}"));
        }
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = Dnsmasq {
            child,
            port,
            log,
            _dir: dir,
        };
        assert!(
            wait_for(Duration::from_secs(10), || server
                .log_text()
                .contains("started")),
            "dnsmasq did not start"
        );
        server
    }

    fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn ptr_queries(&self) -> usize {
        self.log_text()
            .lines()
            .filter(|l| l.contains("query[PTR]"))
            .count()
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn reverse_name(addr: std::net::IpAddr) -> String {
    match addr {
        std::net::IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        std::net::IpAddr::V6(v6) => {
            let hex: String = v6.octets().iter().map(|b| format!("{b:02x}")).collect();
            let nibbles: Vec<String> = hex.chars().rev().map(String::from).collect();
            format!("{}.ip6.arpa", nibbles.join("."))
        }
    }
}

/// Test hosts on `lo` of the test's own network namespace. Loopback
/// addresses will not do: the resolver names all of 127/8 and ::1 itself.
const SERVER_V4: &str = "192.0.2.1";
const SERVER_V6: &str = "fd00::1";

fn add_addresses(ip: &Path, addrs: &[&str]) {
    for addr in addrs.iter().chain(&[SERVER_V4, SERVER_V6]) {
        let status = Command::new(ip)
            .args(["addr", "add", addr, "dev", "lo"])
            .status()
            .unwrap();
        assert!(status.success(), "ip addr add {addr}");
    }
}

/// Connections from each source address to a listener on the server
/// addresses; the sources become downstream peers, the server upstream ones.
fn peers_from(sources: &[&str]) -> (TcpListener, Vec<(TcpStream, TcpStream)>) {
    let listener = TcpListener::bind("[::]:0").unwrap();
    let port = port_of(listener.local_addr());
    let pairs = sources
        .iter()
        .map(|source| {
            let source: std::net::IpAddr = source.parse().unwrap();
            let server = if source.is_ipv4() {
                SERVER_V4
            } else {
                SERVER_V6
            };
            let to = SocketAddr::new(server.parse().unwrap(), port);
            let socket = socket2::Socket::new(
                socket2::Domain::for_address(to),
                socket2::Type::STREAM,
                None,
            )
            .unwrap();
            socket.bind(&SocketAddr::new(source, 0).into()).unwrap();
            socket.connect(&to.into()).unwrap();
            let (server, _) = listener.accept().unwrap();
            (socket.into(), server)
        })
        .collect();
    (listener, pairs)
}

/// The downstream gauge lines, with `process` and `port` left out.
fn downstream_peers(text: &str) -> Vec<String> {
    samples(text, schema::DOWNSTREAM.name)
        .iter()
        .map(|line| {
            let [name, domain, addr] = [label::NAME, label::DOMAIN, label::ADDR]
                .map(|label| label_value(line, label).expect("a dependency label"));
            format!("{name} {domain} {addr}")
        })
        .collect()
}

/// A run that reads only the test's own namespace: other tests' peers,
/// in theirs, would be looked up too and change what the server is asked.
fn collect_with(args: &[&str]) -> String {
    stdout_ok(planet(["collect", "--stdout", "--netns", "own"]).args(args))
}

#[test]
fn reverse_dns_names_peers_and_a_second_run_asks_nothing() {
    let Some(dnsmasq) = tool("dnsmasq", "dnsmasq-base") else {
        return;
    };
    let Some(ip) = tool("ip", "iproute2") else {
        return;
    };
    in_own_netns(move || {
        add_addresses(&ip, &["192.0.2.2", "192.0.2.3", "fd00::5"]);
        let server = Dnsmasq::start(
            &dnsmasq,
            &[
                ("192.0.2.2", "db-7.dc1.example"),
                ("fd00::5", "api-3.dc1.example"),
            ],
        );
        let (_listener, _pairs) = peers_from(&["192.0.2.2", "fd00::5", "192.0.2.3"]);
        let state = tempfile::tempdir().unwrap();
        let state_file = state.path().join("planet.state");
        let args = [
            "--dns-server",
            &server.addr(),
            "--state-file",
            state_file.to_str().unwrap(),
        ];

        let text = collect_with(&args);
        assert_eq!(
            downstream_peers(&text),
            [
                "192.0.2.3  192.0.2.3",
                "api-3 api-3.dc1.example fd00::5",
                "db-7 db-7.dc1.example 192.0.2.2"
            ],
            "{text}"
        );
        let asked = server.ptr_queries();
        // Three downstream peers and two upstream ones (the server addresses).
        assert!(asked >= 5, "dnsmasq saw {asked} PTR queries");
        assert!(
            text.contains("planet_dns_lookups_total{result=\"answered\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("planet_dns_lookups_total{result=\"nxdomain\"} 3\n"),
            "{text}"
        );

        // Within the TTL the cache in the state file answers.
        let again = collect_with(&args);
        assert_eq!(downstream_peers(&again), downstream_peers(&text));
        assert_eq!(
            server.ptr_queries(),
            asked,
            "the second run asked the server again"
        );
        assert!(
            again.contains("planet_dns_lookups_total{result=\"hit\"} 5\n"),
            "{again}"
        );
    });
}

#[test]
fn an_unanswering_dns_server_costs_no_more_than_the_budget() {
    let Some(ip) = tool("ip", "iproute2") else {
        return;
    };
    in_own_netns(move || {
        add_addresses(&ip, &["192.0.2.2", "192.0.2.3"]);
        // Takes queries and never answers.
        let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
        let server = silent.local_addr().unwrap().to_string();
        let (_listener, _pairs) = peers_from(&["192.0.2.2", "192.0.2.3"]);
        let started = Instant::now();
        let text = collect_with(&["--dns-server", &server, "--dns-timeout", "1s"]);
        let took = started.elapsed();
        // A generous bound: the resolver alone would wait 5s per attempt.
        assert!(took < Duration::from_secs(4), "took {took:?}");
        assert_eq!(
            downstream_peers(&text),
            ["192.0.2.2  192.0.2.2", "192.0.2.3  192.0.2.3"]
        );
        assert!(
            text.contains("planet_dns_lookups_total{result=\"timeout\"} 3\n"),
            "{text}"
        );
    });
}

const INVENTORY: &str = r#"[
  {"ip_address": "192.0.2.0/24", "domain": "test.example", "hostgroup": "testnet"},
  {"ip_address": "192.0.2.2", "domain": "db-7.dc1.example", "hostgroup": "db"},
  {"ip_address": "192.0.2.4/31", "domain": "cache.dc1.example", "hostgroup": "cache"},
  {"ip_address": "fd00::/64", "domain": "v6.example", "hostgroup": "v6net"}
]"#;

#[test]
fn the_inventory_names_peers_in_both_formats() {
    let Some(ip) = tool("ip", "iproute2") else {
        return;
    };
    in_own_netns(move || {
        add_addresses(
            &ip,
            &[
                "192.0.2.2",
                "192.0.2.3",
                "192.0.2.5",
                "198.51.100.1",
                "fd00::9",
            ],
        );
        let (_listener, _pairs) = peers_from(&[
            "192.0.2.2",
            "192.0.2.3",
            "192.0.2.5",
            "198.51.100.1",
            "fd00::9",
        ]);
        let dir = tempfile::tempdir().unwrap();
        let array = dir.path().join("inventory.json");
        fs::write(&array, INVENTORY).unwrap();
        let ndjson = dir.path().join("inventory.ndjson");
        let entries: Vec<serde_json::Value> = serde_json::from_str(INVENTORY).unwrap();
        let lines: Vec<String> = entries.iter().map(|e| e.to_string()).collect();
        fs::write(&ndjson, lines.join("\n")).unwrap();
        for file in [&array, &ndjson] {
            let text = collect_with(&["--no-resolve", "--inventory", file.to_str().unwrap()]);
            assert_eq!(
                downstream_peers(&text),
                [
                    "198.51.100.1  198.51.100.1",
                    "cache cache.dc1.example 192.0.2.5",
                    "db db-7.dc1.example 192.0.2.2",
                    "testnet test.example 192.0.2.3",
                    "v6net v6.example fd00::9",
                ],
                "{}",
                file.display()
            );
        }
    });
}

#[test]
fn a_malformed_inventory_fails_naming_the_entry_and_keeps_the_previous_file() {
    let env = TestEnv::new();
    let previous = "# previous\n";
    fs::write(env.output_file(), previous).unwrap();
    let inventory = env.state_dir().join("inventory.json");
    fs::write(
        &inventory,
        r#"[{"ip_address": "10.0.0.1", "hostgroup": "a"}, {"ip_address": "10.0.0.0/33", "hostgroup": "b"}]"#,
    )
    .unwrap();
    let output = env
        .collect()
        .arg("--inventory")
        .arg(&inventory)
        .output()
        .unwrap();
    assert_eq!(
        assert_error_naming(&output, &inventory),
        format!(
            "planet: {}: entry 2: ip_address is not an address or CIDR network\n",
            inventory.display()
        )
    );
    assert_eq!(fs::read_to_string(env.output_file()).unwrap(), previous);
    assert_eq!(list_dir(env.out()), ["planet.prom"]);
    assert_eq!(
        list_dir(env.state_dir()),
        ["inventory.json"],
        "no state written"
    );
}

#[test]
fn hostile_ptr_answers_stay_ascii_and_split_only_on_unescaped_dots() {
    let Some(ip) = tool("ip", "iproute2") else {
        return;
    };
    in_own_netns(move || {
        add_addresses(&ip, &["192.0.2.10", "192.0.2.11"]);
        let server = RawPtrServer::start(vec![
            // A label with a dot inside it: one label, not two.
            (
                reverse_name("192.0.2.10".parse().unwrap()),
                vec![b"dot.inside", b"example"],
            ),
            // Punycode for a look-alike: shown as sent, never decoded.
            (
                reverse_name("192.0.2.11".parse().unwrap()),
                vec![b"xn--pple-43d", b"example"],
            ),
        ]);
        let (_listener, _pairs) = peers_from(&["192.0.2.10", "192.0.2.11"]);
        let dns = server.addr();
        let text = collect_with(&["--dns-server", &dns, "--dns-timeout", "5s"]);
        assert_eq!(
            downstream_peers(&text),
            [
                r"dot\\.inside dot\\.inside.example 192.0.2.10",
                "xn--pple-43d xn--pple-43d.example 192.0.2.11",
            ]
        );
    });
}
