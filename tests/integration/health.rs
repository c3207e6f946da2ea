//! Connection health per dependency: connections opened, connects that
//! failed, segments retransmitted, round-trip time. Lost segments come from
//! an nftables rule in the test's own network namespace (no netem here),
//! and `ss -tinH` is the oracle. Each test reads only its own namespace
//! (`--netns own`): other tests' peers would fold or name theirs.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use planet::schema;

use crate::testenv::*;

/// The value of each line of `family` on `port` (own namespace), summed:
/// the sum over whatever processes the series were split by.
fn sum_on_port(text: &str, family: &str, port: u16) -> Option<f64> {
    let lines = samples_on_ports(text, family, &[port]);
    (!lines.is_empty()).then(|| {
        lines
            .iter()
            .map(|l| l.rsplit_once(' ').unwrap().1.parse::<f64>().unwrap())
            .sum()
    })
}

/// Drops the packets `rule` matches at netfilter's `hook` (input or
/// output), in the calling thread's network namespace.
fn nft_drop(nft: &Path, hook: &str, rule: &str) {
    let script = format!(
        "table inet test {{\n chain {hook} {{\n type filter hook {hook} priority 0;\n {rule} drop\n }}\n}}\n"
    );
    let status = Command::new(nft)
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child.stdin.take().unwrap().write_all(script.as_bytes())?;
            child.wait()
        });
    assert!(status.unwrap().success(), "nft -f: {script}");
}

/// `retrans:CURRENT/TOTAL` of the connection whose local end is `local`,
/// in `ss -tinH` output: the total.
fn ss_total_retrans(ss: &Path, local: SocketAddr) -> u64 {
    let output = Command::new(ss).arg("-tinH").output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.split_whitespace().nth(3) == Some(&local.to_string()))
        .unwrap_or_else(|| panic!("no socket {local} in\n{text}"));
    let info = lines[at + 1..].first().copied().unwrap_or("");
    info.split_whitespace()
        .find_map(|w| w.strip_prefix("retrans:"))
        .and_then(|r| r.split_once('/'))
        .map_or(0, |(_, total)| total.parse().unwrap())
}

#[test]
fn retransmits_equal_what_ss_counts_and_rtt_is_plausible() {
    let (Some(nft_path), Some(ss)) = (tool("nft", "nftables"), tool("ss", "iproute2")) else {
        return;
    };
    in_own_netns(move || {
        let (listener, port) = loopback_listener();
        // One segment in ten towards the server is lost on arrival (on the
        // way out, TCP would be told and send again uncounted).
        nft_drop(
            &nft_path,
            "input",
            &format!("tcp dport {port} numgen random mod 10 == 0"),
        );
        // Loopback sends super-packets of up to 64 KiB through netfilter:
        // 4 MB is about 64 of them, of which a tenth are lost.
        let client =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        client.set_tcp_mss(1400).unwrap();
        client
            .connect(&SocketAddr::from(([127, 0, 0, 1], port)).into())
            .unwrap();
        let mut client: TcpStream = client.into();
        let (mut server, _) = listener.accept().unwrap();
        let sent = vec![b'r'; 4_000_000];
        let reader = std::thread::spawn(move || {
            let mut got = vec![0u8; 4_000_000];
            server.read_exact(&mut got).unwrap();
            server
        });
        client.write_all(&sent).unwrap();
        let server = reader.join().unwrap();
        assert!(
            wait_for(Duration::from_secs(30), || bytes_acked(&client)
                == 4_000_001),
            "the transfer did not complete"
        );
        let (client_end, server_end) = (client.local_addr().unwrap(), server.local_addr().unwrap());
        let _holders = [
            Named::hold("lossy-client", &[client.as_raw_fd()]),
            Named::hold("lossy-server", &[server.as_raw_fd(), listener.as_raw_fd()]),
        ];
        drop((client, server, listener));

        let text = collect_stdout(&["--netns", "own"]);
        let up = sum_on_port(&text, schema::UPSTREAM_RETRANSMITS.name, port).unwrap();
        let down = sum_on_port(&text, schema::DOWNSTREAM_RETRANSMITS.name, port).unwrap();
        let (ss_up, ss_down) = (
            ss_total_retrans(&ss, client_end),
            ss_total_retrans(&ss, server_end),
        );
        assert!(ss_up > 0, "the rule dropped nothing");
        assert_eq!((up, down), (ss_up as f64, ss_down as f64), "{text}");

        // Loopback: well under a second, and more than nothing.
        let rtt = sum_on_port(&text, schema::UPSTREAM_RTT.name, port).unwrap();
        assert!(rtt > 0.0 && rtt < 1.0, "rtt {rtt}");
        assert_promtool_accepts(&text);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("planet.prom"), &text).unwrap();
        if let Some(page) = node_exporter_page(dir.path()) {
            assert!(page.contains("\nnode_textfile_scrape_error 0\n"), "{page}");
            assert!(
                page.contains("\nplanet_upstream_retransmits_total{"),
                "{page}"
            );
        }
    });
}

#[test]
fn connections_are_counted_once_and_never_decrease_across_runs() {
    in_own_netns(|| {
        let env = TestEnv::new();
        let (listener, port) = loopback_listener();
        let connect = || {
            let client = TcpStream::connect(("127.0.0.1", port)).unwrap();
            (client, listener.accept().unwrap().0)
        };
        let run = || {
            env.collect_ok(&["--netns", "own"]);
            let text = std::fs::read_to_string(env.output_file()).unwrap();
            let count = |family| sum_on_port(&text, family, port).unwrap_or(0.0) as u64;
            (
                count(schema::UPSTREAM_CONNECTIONS.name),
                count(schema::DOWNSTREAM_CONNECTIONS.name),
                count(schema::UPSTREAM.name),
            )
        };
        let mut open: Vec<_> = (0..3).map(|_| connect()).collect();
        assert_eq!(run(), (3, 3, 3));
        assert_eq!(run(), (3, 3, 3), "the same sockets again: nothing new");
        open.extend((0..2).map(|_| connect()));
        drop(open.remove(0));
        assert_eq!(run(), (5, 5, 4), "two opened, one closed: still counted");
        open.clear();
        assert_eq!(run(), (5, 5, 0), "all closed: the counts stay");
    });
}

/// A non-blocking connect to `to` from a new socket, left to fail or
/// succeed; the socket is returned open.
fn connect_nonblocking(to: SocketAddr) -> socket2::Socket {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(to),
        socket2::Type::STREAM,
        None,
    )
    .unwrap();
    socket.set_nonblocking(true).unwrap();
    match socket.connect(&to.into()) {
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        other => panic!("connect: {other:?}"),
    }
    socket
}

#[test]
fn loop_counts_refused_and_timed_out_connects_as_failures_on_their_own_series() {
    let Some(nft_path) = tool("nft", "nftables") else {
        return;
    };
    in_own_netns(move || {
        let healthy = TcpListener::bind("127.0.0.1:0").unwrap();
        let healthy_port = port_of(healthy.local_addr());
        let refused_port = free_port();
        let silent = TcpListener::bind("127.0.0.1:0").unwrap();
        let silent_port = port_of(silent.local_addr());
        // SYNs to `silent` are lost: the client gives up.
        nft_drop(
            &nft_path,
            "output",
            &format!("tcp dport {silent_port} tcp flags syn"),
        );
        let env = TestEnv::new();
        let mut looping = env
            .collect()
            .args(["--netns", "own", "--loop", "--interval", "300ms"])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let file = env.output_file();
        assert!(wait_for(Duration::from_secs(10), || file.exists()));

        let at = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
        let refused: Vec<_> = (0..3)
            .map(|_| connect_nonblocking(at(refused_port)))
            .collect();
        let timed_out: Vec<_> = (0..2)
            .map(|_| connect_nonblocking(at(silent_port)))
            .collect();
        let mut fine = TcpStream::connect(at(healthy_port)).unwrap();
        let (mut served, _) = healthy.accept().unwrap();
        fine.write_all(b"ok").unwrap();
        served.read_exact(&mut [0u8; 2]).unwrap();
        std::thread::sleep(Duration::from_millis(700)); // refused by now; SYNs still lost
        drop(refused);
        drop(timed_out); // giving up while connecting
        drop((fine, served));

        let failures = |text: &str, port| {
            sum_on_port(text, schema::UPSTREAM_CONNECT_FAILURES.name, port).unwrap_or(-1.0)
        };
        let connections = |text: &str, port| {
            sum_on_port(text, schema::UPSTREAM_CONNECTIONS.name, port).unwrap_or(-1.0)
        };
        let mut text = String::new();
        let counted = wait_for(Duration::from_secs(10), || {
            text = std::fs::read_to_string(&file).unwrap_or_default();
            failures(&text, refused_port) == 3.0 && failures(&text, silent_port) == 2.0
        });
        let (code, stderr) = terminate(&mut looping);
        assert!(counted, "{stderr}\n{text}");
        assert_eq!(code, Some(0));
        assert_eq!(connections(&text, refused_port), 3.0);
        assert_eq!(connections(&text, silent_port), 2.0);
        // The healthy series: one connection, no failure.
        assert_eq!(failures(&text, healthy_port), 0.0, "{text}");
        assert_eq!(connections(&text, healthy_port), 1.0, "{text}");
        // A refused connection's series stays, with no connection open.
        assert_eq!(
            sum_on_port(&text, schema::UPSTREAM.name, refused_port),
            Some(0.0)
        );
        drop(silent);
    });
}
