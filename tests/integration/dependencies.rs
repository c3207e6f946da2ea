//! `planet_upstream*` / `planet_downstream*`: real connections on loopback
//! moving known bytes, read back exactly from the built binary.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::process::Stdio;
use std::time::Duration;

use planet::schema::{self, label};

use crate::testenv::*;

/// A connection to `listener`, from `from` when given: (client, server).
pub fn connect(listener: &TcpListener, from: Option<&str>) -> (TcpStream, TcpStream) {
    let to = listener.local_addr().unwrap();
    let client = match from {
        None => TcpStream::connect(to).unwrap(),
        Some(ip) => {
            let socket = socket2::Socket::new(
                socket2::Domain::for_address(to),
                socket2::Type::STREAM,
                None,
            )
            .unwrap();
            socket
                .bind(&SocketAddr::new(ip.parse().unwrap(), 0).into())
                .unwrap();
            socket.connect(&to.into()).unwrap();
            socket.into()
        }
    };
    let (server, _) = listener.accept().unwrap();
    (client, server)
}

/// The dependency series on one port, read with planet's parser:
/// "family{labels}" -> value.
pub fn dependency_series(text: &str, port: u16) -> BTreeMap<String, u64> {
    let families = [
        schema::UPSTREAM.name,
        schema::DOWNSTREAM.name,
        schema::UPSTREAM_BYTES.name,
        schema::DOWNSTREAM_BYTES.name,
    ];
    let port = port.to_string();
    parse(text)
        .samples
        .into_iter()
        .filter(|s| families.contains(&s.name.as_str()))
        .filter(|s| {
            s.labels
                .iter()
                .any(|(k, v)| k == label::PORT.name && *v == port)
        })
        .map(|s| {
            let labels: Vec<String> = s
                .labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{v}\""))
                .collect();
            (
                format!("{}{{{}}}", s.name, labels.join(",")),
                s.value as u64,
            )
        })
        .collect()
}

/// Whether a series of [`dependency_series`] is a byte counter.
pub fn is_bytes(series: &str) -> bool {
    let bytes = [schema::UPSTREAM_BYTES.name, schema::DOWNSTREAM_BYTES.name];
    bytes.contains(&family_of(series))
}

fn expected(entries: &[(&str, String, u64)]) -> BTreeMap<String, u64> {
    entries
        .iter()
        .map(|(family, labels, value)| (format!("{family}{{{labels}}}"), *value))
        .collect()
}

fn known_transfer_between_named_processes(ip: &str) {
    let listener = TcpListener::bind(SocketAddr::new(ip.parse().unwrap(), 0)).unwrap();
    let port = port_of(listener.local_addr());
    let mut pairs: Vec<_> = (0..3).map(|_| connect(&listener, None)).collect();
    for (client, server) in &mut pairs {
        transfer(client, server, 100_000, 5_000);
    }
    let clients: Vec<_> = pairs.iter().map(|(c, _)| c.as_raw_fd()).collect();
    let servers: Vec<_> = pairs
        .iter()
        .map(|(_, s)| s.as_raw_fd())
        .chain([listener.as_raw_fd()])
        .collect();
    let _client = Named::hold("dep-client", &clients);
    let _server = Named::hold("dep-server", &servers);
    drop((pairs, listener));

    let text = collect_stdout(&[]);
    let up = format!(
        r#"protocol="tcp",process="dep-client",container="",name="{ip}",domain="",addr="{ip}",port="{port}""#
    );
    let down = format!(
        r#"protocol="tcp",process="dep-server",container="",name="{ip}",domain="",addr="{ip}",port="{port}""#
    );
    assert_eq!(
        dependency_series(&text, port),
        expected(&[
            ("planet_upstream", up.clone(), 3),
            (
                "planet_upstream_bytes_total",
                format!(r#"{up},direction="in""#),
                15_000
            ),
            (
                "planet_upstream_bytes_total",
                format!(r#"{up},direction="out""#),
                300_000
            ),
            ("planet_downstream", down.clone(), 3),
            (
                "planet_downstream_bytes_total",
                format!(r#"{down},direction="in""#),
                300_000
            ),
            (
                "planet_downstream_bytes_total",
                format!(r#"{down},direction="out""#),
                15_000
            ),
        ]),
        "{text}"
    );
}

#[test]
fn known_transfer_between_named_processes_ipv4() {
    known_transfer_between_named_processes("127.0.0.1");
}

#[test]
fn known_transfer_between_named_processes_ipv6() {
    known_transfer_between_named_processes("::1");
}

#[test]
fn counters_never_decrease_over_50_runs_of_churn_and_keep_closed_bytes() {
    let state = tempfile::tempdir().unwrap();
    let state_file = state.path().join("planet.state");
    let state_arg = state_file.to_str().unwrap();
    let (listener, port) = loopback_listener();
    let mut open: Vec<(TcpStream, TcpStream)> = Vec::new();
    let (mut total_out, mut total_back) = (0u64, 0u64);
    let mut previous: BTreeMap<String, u64> = BTreeMap::new();
    for run in 0..50usize {
        // Open one or two connections, move more data on every open one...
        for _ in 0..(1 + run % 2) {
            open.push(connect(&listener, None));
        }
        for (i, (client, server)) in open.iter_mut().enumerate() {
            let (out, back) = (1000 + 37 * run + i, 10 + run);
            transfer(client, server, out, back);
            total_out += out as u64;
            total_back += back as u64;
        }
        let text = collect_stdout(&["--state-file", state_arg]);
        let now: BTreeMap<String, u64> = dependency_series(&text, port)
            .into_iter()
            .filter(|(series, _)| is_bytes(series))
            .collect();
        for (series, before) in &previous {
            let after = now.get(series).copied().unwrap_or(0);
            assert!(
                after >= *before,
                "run {run}: {series} went from {before} to {after}"
            );
        }
        previous = now;
        // ...then close some of them: their bytes must stay counted.
        if run % 3 == 2 {
            open.drain(..open.len() / 2);
        }
    }
    drop(open);
    let text = collect_stdout(&["--state-file", state_arg]);
    let sum = |family: &str, direction: &str| -> u64 {
        samples_on_ports(&text, family, &[port])
            .iter()
            .filter(|l| has_label(l, label::DIRECTION, direction))
            .map(|l| l.rsplit_once(' ').unwrap().1.parse::<u64>().unwrap())
            .sum()
    };
    assert_eq!(sum(schema::UPSTREAM_BYTES.name, "out"), total_out, "{text}");
    assert_eq!(sum(schema::UPSTREAM_BYTES.name, "in"), total_back);
    assert_eq!(sum(schema::DOWNSTREAM_BYTES.name, "in"), total_out);
    assert_eq!(sum(schema::DOWNSTREAM_BYTES.name, "out"), total_back);
}

#[test]
fn loop_counts_connections_that_open_and_close_between_two_samples() {
    let env = TestEnv::new();
    let (listener, port) = loopback_listener();
    let mut planet = env
        .collect()
        .args(["--loop", "--interval", "1s"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let file = env.output_file();
    let stamp = || collect_timestamp(&file);
    assert!(wait_for(Duration::from_secs(10), || stamp().is_some()));
    // Right after a sample: open, use and close two connections entirely.
    let first = stamp();
    assert!(wait_for(Duration::from_secs(10), || stamp() != first));
    for _ in 0..2 {
        let (mut client, mut server) = connect(&listener, None);
        transfer(&mut client, &mut server, 70_000, 3_000);
        drop(client);
        let mut rest = Vec::new();
        server.read_to_end(&mut rest).unwrap(); // the client's FIN
        drop(server);
    }
    let name = own_process_name();
    let up = format!(
        r#"protocol="tcp",process="",container="",name="127.0.0.1",domain="",addr="127.0.0.1",port="{port}""#
    );
    let down = format!(
        r#"protocol="tcp",process="{}",container="",name="127.0.0.1",domain="",addr="127.0.0.1",port="{port}""#,
        name.trim_end()
    );
    let want = expected(&[
        ("planet_upstream", up.clone(), 0),
        (
            "planet_upstream_bytes_total",
            format!(r#"{up},direction="in""#),
            6_000,
        ),
        (
            "planet_upstream_bytes_total",
            format!(r#"{up},direction="out""#),
            140_000,
        ),
        ("planet_downstream", down.clone(), 0),
        (
            "planet_downstream_bytes_total",
            format!(r#"{down},direction="in""#),
            140_000,
        ),
        (
            "planet_downstream_bytes_total",
            format!(r#"{down},direction="out""#),
            6_000,
        ),
    ]);
    let mut got = BTreeMap::new();
    let counted = wait_for(Duration::from_secs(10), || {
        got = dependency_series(&fs::read_to_string(&file).unwrap_or_default(), port);
        got == want
    });
    let (code, stderr) = terminate(&mut planet);
    assert!(counted, "got {got:#?}\nwant {want:#?}\nstderr: {stderr}");
    assert_eq!(code, Some(0));
    assert_eq!(stderr, "");
}

#[test]
fn max_peers_folds_the_smallest_peers_and_exclude_peer_drops_them() {
    in_own_netns(move || {
        let listener = TcpListener::bind("0.0.0.0:0").unwrap();
        let port = port_of(listener.local_addr());
        // Ten peers 127.0.0.2 .. 127.0.0.11; peer k moves k KiB.
        let mut pairs = Vec::new();
        for k in 2..12u8 {
            let (mut client, mut server) = connect(&listener, Some(&format!("127.0.0.{k}")));
            transfer(&mut client, &mut server, 1024 * k as usize, 0);
            pairs.push((client, server));
        }
        // Only this namespace: other tests' peers would be folded too.
        let text = collect_stdout(&[
            "--netns",
            "own",
            "--max-peers",
            "3",
            "--exclude-peer",
            "127.0.0.11",
        ]);
        let downstream: Vec<&str> = samples(&text, schema::DOWNSTREAM_BYTES.name)
            .into_iter()
            .filter(|l| has_label(l, label::DIRECTION, "in"))
            .collect();
        let comm = own_process_name();
        let line = |name: &str, addr: &str, bytes: u64| {
            format!(
                r#"planet_downstream_bytes_total{{protocol="tcp",process="{}",container="",name="{name}",domain="",addr="{addr}",port="{port}",direction="in"}} {bytes}"#,
                comm.trim_end()
            )
        };
        // Kept: the three biggest not excluded (10, 9, 8 KiB); folded: 2..7 KiB.
        assert_eq!(
            downstream,
            [
                line("127.0.0.10", "127.0.0.10", 10 * 1024),
                line("127.0.0.8", "127.0.0.8", 8 * 1024),
                line("127.0.0.9", "127.0.0.9", 9 * 1024),
                line("other", "", (2..8).sum::<u64>() * 1024),
            ],
            "{text}"
        );
        assert_eq!(
            samples(&text, schema::PEERS_FOLDED.name),
            [
                "planet_peers_folded{family=\"downstream\"} 6",
                "planet_peers_folded{family=\"upstream\"} 6"
            ]
        );
        assert_promtool_accepts(&text);
    });
}

#[test]
fn a_series_without_connections_reports_zero_until_forget_after() {
    let state = tempfile::tempdir().unwrap();
    let state_file = state.path().join("planet.state");
    let run = |forget: &str| {
        collect_stdout(&[
            "--state-file",
            state_file.to_str().unwrap(),
            "--forget-after",
            forget,
        ])
    };
    let (listener, port) = loopback_listener();
    let (mut client, mut server) = connect(&listener, None);
    transfer(&mut client, &mut server, 500, 20);
    let gauge = |text: &str| -> Vec<String> {
        samples_on_ports(text, schema::DOWNSTREAM.name, &[port])
            .iter()
            .map(|l| l.rsplit_once(' ').unwrap().1.to_string())
            .collect()
    };
    assert_eq!(gauge(&run("1h")), ["1"]);
    // The client closes first and the server after the client's FIN: only
    // the client's side lingers in TIME_WAIT (a simultaneous close would
    // leave the server's too, which rightly keeps the series alive).
    drop(client);
    let mut rest = Vec::new();
    server.read_to_end(&mut rest).unwrap();
    drop(server);
    let text = run("1h");
    assert_eq!(gauge(&text), ["0"], "closed, still reported");
    assert_eq!(
        samples_on_ports(&text, schema::DOWNSTREAM_BYTES.name, &[port]).len(),
        2
    );
    std::thread::sleep(Duration::from_millis(2100));
    let text = run("1s");
    assert!(
        samples_on_ports(&text, schema::DOWNSTREAM.name, &[port]).is_empty(),
        "{text}"
    );
    assert!(samples_on_ports(&text, schema::DOWNSTREAM_BYTES.name, &[port]).is_empty());
}
