//! The synthetic fleets of `benches/graph.rs`: each host's page as
//! `planet collect` writes it, and the whole fleet as OpenMetrics for
//! `promtool tsdb create-blocks-from`.

use std::fmt::Write as _;
use std::io::{BufWriter, Write};
use std::path::Path;

/// One sample of a host's page.
pub struct Sample {
    pub family: &'static str,
    /// `name="value",...`, as planet writes them.
    pub labels: String,
    pub value: f64,
}

pub fn sample(family: &'static str, labels: String, value: f64) -> Sample {
    Sample {
        family,
        labels,
        value,
    }
}

/// A fleet: how many hosts, what each one's page holds, how many edges
/// the graph of them has.
pub struct Fleet {
    pub hosts: usize,
    pub edges: usize,
    pub rounds: usize,
    pub page: fn(usize) -> Vec<Sample>,
    pub shape: &'static str,
}

pub const FLEETS: [Fleet; 2] = [
    Fleet {
        hosts: SMALL_HOSTS,
        edges: SMALL_HOSTS * SMALL_CALLS,
        rounds: 5,
        page: small_page,
        shape: "200 hosts × 25 calls, one process each, upstream series only",
    },
    Fleet {
        hosts: BIG_HOSTS,
        edges: BIG_HOSTS * CLIENTS.len() * (INTERNAL + 2),
        rounds: 3,
        page: big_page,
        shape: "1,000 hosts × 3 containers, 8 serving processes, 5 clients × 30 edges; both ends' series",
    },
];

// ---- The 5,000-edge fleet -------------------------------------------

pub const SMALL_HOSTS: usize = 200;
pub const SMALL_CALLS: usize = 25;

/// Host `i`'s page: it serves 8080 and calls the next 25 hosts.
pub fn small_page(i: usize) -> Vec<Sample> {
    let addr = |h: usize| format!("fd00::100:{h:x}");
    let mut out = vec![
        sample("planet_host_info", format!("hostname=\"h{i:03}\""), 1.0),
        sample(
            "planet_address",
            format!("addr=\"{}\",container=\"\"", addr(i)),
            1.0,
        ),
        sample(
            "planet_serving",
            format!("protocol=\"tcp\",name=\"svc{i}\",container=\"\",addr=\"::\",port=\"8080\""),
            1.0,
        ),
    ];
    for k in 1..=SMALL_CALLS {
        let peer = addr((i + k) % SMALL_HOSTS);
        let labels = format!(
            "protocol=\"tcp\",process=\"svc{i}\",container=\"\",name=\"{peer}\",domain=\"\",addr=\"{peer}\",port=\"8080\""
        );
        out.push(sample("planet_upstream", labels.clone(), 2.0));
        out.push(sample(
            "planet_upstream_bytes_total",
            format!("{labels},direction=\"out\""),
            (1000 * k) as f64,
        ));
        out.push(sample(
            "planet_upstream_bytes_total",
            format!("{labels},direction=\"in\""),
            (9000 * k) as f64,
        ));
        out.push(sample(
            "planet_upstream_connect_failures_total",
            labels.clone(),
            0.0,
        ));
        out.push(sample(
            "planet_upstream_retransmits_total",
            labels,
            k as f64,
        ));
    }
    out
}

// ---- The 150,000-edge fleet -----------------------------------------

pub const BIG_HOSTS: usize = 1000;
/// Calls from each client to services of other hosts.
pub const INTERNAL: usize = 28;

/// A serving process: its container (an index, `None` on the host), name
/// and port.
pub type Process = (Option<usize>, &'static str, &'static str);

/// Every host's serving processes; the first five are also clients.
pub const PROCESSES: [Process; 8] = [
    (None, "nginx", "443"),
    (Some(0), "java", "8080"),
    (Some(0), "envoy", "15001"),
    (Some(1), "python3", "8000"),
    (Some(1), "envoy", "15001"),
    (Some(2), "postgres", "5432"),
    (None, "sshd", "22"),
    (None, "node_exporter", "9100"),
];
pub const CLIENTS: &[Process] = PROCESSES.split_at(5).0;
/// What clients call on other hosts.
pub const TARGETS: [Process; 5] = [
    PROCESSES[1],
    PROCESSES[2],
    PROCESSES[3],
    PROCESSES[4],
    PROCESSES[5],
];

/// Container `c` of host `i`: a full 64-hex ID.
pub fn container_id(i: usize, c: usize) -> String {
    let mut x = (i * 8 + c) as u64;
    let mut id = String::new();
    for _ in 0..4 {
        // splitmix64
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        let _ = write!(id, "{:016x}", z ^ (z >> 31));
    }
    id
}

pub fn container(i: usize, c: Option<usize>) -> String {
    c.map(|c| container_id(i, c)).unwrap_or_default()
}

/// Host `i`'s address (`None`), or its container `c`'s (pod addresses:
/// unique in the fleet).
pub fn address(i: usize, c: Option<usize>) -> String {
    let net = c.map_or(1, |c| 2 + c);
    format!("10.{net}.{}.{}", i / 256, i % 256)
}

/// Which host client `s` of host `i` reaches with its call `k`, and which
/// of the `TARGETS` there.
pub fn callee(i: usize, s: usize, k: usize) -> (usize, usize) {
    (
        (i + 1 + s * INTERNAL + k) % BIG_HOSTS,
        (s + k) % TARGETS.len(),
    )
}

/// Every family planet writes for one dependency, with values.
pub fn dependency(out: &mut Vec<Sample>, downstream: bool, labels: &str, n: usize) {
    let (open, bytes, connections, retransmits, rtt) = match downstream {
        false => (
            "planet_upstream",
            "planet_upstream_bytes_total",
            "planet_upstream_connections_total",
            "planet_upstream_retransmits_total",
            "planet_upstream_rtt_seconds",
        ),
        true => (
            "planet_downstream",
            "planet_downstream_bytes_total",
            "planet_downstream_connections_total",
            "planet_downstream_retransmits_total",
            "planet_downstream_rtt_seconds",
        ),
    };
    let l = || labels.to_string();
    out.push(sample(open, l(), (1 + n % 3) as f64));
    for (direction, scale) in [("in", 7_919), ("out", 1_223)] {
        let labels = format!("{labels},direction=\"{direction}\"");
        out.push(sample(bytes, labels, (scale * (n % 1000 + 1)) as f64));
    }
    out.push(sample(connections, l(), (10 + n % 90) as f64));
    if !downstream {
        let failures = n.is_multiple_of(97) as u8;
        out.push(sample(
            "planet_upstream_connect_failures_total",
            l(),
            failures.into(),
        ));
    }
    out.push(sample(retransmits, l(), (n % 7) as f64));
    out.push(sample(rtt, l(), 0.0002 + (n % 50) as f64 * 1e-5));
}

pub fn dependency_labels(
    process: &str,
    container: &str,
    name: &str,
    domain: &str,
    addr: &str,
    port: &str,
) -> String {
    format!("protocol=\"tcp\",process=\"{process}\",container=\"{container}\",name=\"{name}\",domain=\"{domain}\",addr=\"{addr}\",port=\"{port}\"")
}

/// Host `i`'s page, every family planet writes.
pub fn big_page(i: usize) -> Vec<Sample> {
    let mut out = vec![
        sample("planet_host_info", format!("hostname=\"h{i:04}\""), 1.0),
        sample("planet_build_info", "version=\"0.1.0\"".into(), 1.0),
        sample("planet_collect_timestamp_seconds", String::new(), 1.8e9),
        sample("planet_snapshot_duration_seconds", String::new(), 0.05),
        sample("planet_network_namespaces", String::new(), 4.0),
    ];
    let mut addresses = vec![
        (address(i, None), String::new()),
        (format!("fd00::1:{i:x}"), String::new()),
        // docker0: on every host.
        ("172.17.0.1".to_string(), String::new()),
    ];
    addresses.extend((0..3).map(|c| (address(i, Some(c)), container_id(i, c))));
    for (addr, container) in addresses {
        let labels = format!("addr=\"{addr}\",container=\"{container}\"");
        out.push(sample("planet_address", labels, 1.0));
    }
    for &(c, name, port) in &PROCESSES {
        let bind = if c.is_none() { "::" } else { "0.0.0.0" };
        let labels = format!(
            "protocol=\"tcp\",name=\"{name}\",container=\"{}\",addr=\"{bind}\",port=\"{port}\"",
            container(i, c)
        );
        out.push(sample("planet_serving", labels.clone(), 1.0));
        out.push(sample("planet_serving_backlog", labels.clone(), 0.0));
        out.push(sample("planet_serving_backlog_max", labels, 4096.0));
        for state in ["established", "listen"] {
            let labels = format!(
                "process=\"{name}\",container=\"{}\",protocol=\"tcp\",state=\"{state}\"",
                container(i, c)
            );
            out.push(sample("planet_process_sockets", labels, 30.0));
        }
    }
    for (s, &(c, process, port)) in CLIENTS.iter().enumerate() {
        let own = container(i, c);
        // Upstream: calls to other hosts' services, one to an external API.
        for k in 0..INTERNAL {
            let (j, t) = callee(i, s, k);
            let (tc, _, tport) = TARGETS[t];
            let peer = address(j, tc);
            let labels = dependency_labels(process, &own, &peer, "", &peer, tport);
            dependency(&mut out, false, &labels, i * 151 + s * 31 + k);
        }
        let m = (i + s) % 50;
        let api = format!("203.0.113.{m}");
        let labels = dependency_labels(
            process,
            &own,
            &format!("api-{m}"),
            "example.com",
            &api,
            "443",
        );
        dependency(&mut out, false, &labels, i + s);
        // Downstream: a load balancer that runs no planet.
        let m = (i * 5 + s) % 200;
        let lb = format!("198.51.100.{m}");
        let labels = dependency_labels(process, &own, &format!("lb-{m}"), "example.com", &lb, port);
        dependency(&mut out, true, &labels, i + m);
    }
    // Downstream: the other hosts' calls to this one, seen from here.
    for (s, &(client_container, _, _)) in CLIENTS.iter().enumerate() {
        for k in 0..INTERNAL {
            let from = (i + 2 * BIG_HOSTS - 1 - s * INTERNAL - k) % BIG_HOSTS;
            let (j, t) = callee(from, s, k);
            debug_assert_eq!(j, i);
            let (c, process, port) = TARGETS[t];
            let peer = address(from, client_container);
            let labels = dependency_labels(process, &container(i, c), &peer, "", &peer, port);
            dependency(&mut out, true, &labels, from * 151 + s * 31 + k);
        }
    }
    out
}

// ---- Pages, files and the store -------------------------------------

/// A page in the text format, each family under its HELP and TYPE.
pub fn render_page(samples: &mut [Sample]) -> String {
    samples.sort_by_key(|s| s.family);
    let mut out = String::new();
    let mut last = "";
    for s in samples.iter() {
        if s.family != last {
            let kind = match s.family.ends_with("_total") {
                true => "counter",
                false => "gauge",
            };
            let _ = writeln!(out, "# HELP {} planet's {}.", s.family, s.family);
            let _ = writeln!(out, "# TYPE {} {kind}", s.family);
            last = s.family;
        }
        let _ = writeln!(out, "{}{{{}}} {}", s.family, s.labels, s.value);
    }
    out
}

/// Every host's page as an OpenMetrics file for `promtool`: each series
/// with `instance` and `job`, at `t0` and then at `t1` (counters grew in
/// between).
pub fn write_openmetrics(fleet: &Fleet, path: &Path, t0: u64, t1: u64) {
    let mut out = BufWriter::new(std::fs::File::create(path).unwrap());
    for (t, later) in [(t0, false), (t1, true)] {
        for i in 0..fleet.hosts {
            for s in (fleet.page)(i) {
                let value = match (s.family.ends_with("_total"), later) {
                    (true, false) => (s.value / 2.0).floor(),
                    _ => s.value,
                };
                let sep = if s.labels.is_empty() { "" } else { "," };
                writeln!(
                    out,
                    "{}{{{}{sep}instance=\"10.0.{}.{}:9100\",job=\"node\"}} {value} {t}",
                    s.family,
                    s.labels,
                    i / 256,
                    i % 256
                )
                .unwrap();
            }
        }
    }
    writeln!(out, "# EOF").unwrap();
    out.flush().unwrap();
}
