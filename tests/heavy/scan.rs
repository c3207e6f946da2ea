//! `--loop` bounded under port scans (milestone 3): 40,000 ports, refused
//! and answered, within the state's series cap, every connection and
//! every failure still counted. Each test runs in a network namespace of
//! its own.

use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::ops::RangeInclusive;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use planet::schema::{self, label};

use crate::load::*;
use crate::testenv::*;

/// Linux's IP_BIND_ADDRESS_NO_PORT (not in the libc crate): bind the
/// address now, choose the port at connect, shared by every destination.
const IP_BIND_ADDRESS_NO_PORT: libc::c_int = 24;

/// A non-blocking connect from 127.0.0.2 (never the destination itself:
/// no self-connect) to `port` of 127.0.0.1, left to end.
fn connect_from_127_0_0_2(port: u16) -> socket2::Socket {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("a socket");
    let on: libc::c_int = 1;
    // SAFETY: setsockopt reads one int.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            IP_BIND_ADDRESS_NO_PORT,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "IP_BIND_ADDRESS_NO_PORT");
    socket
        .bind(&SocketAddr::from(([127, 0, 0, 2], 0)).into())
        .expect("bind 127.0.0.2");
    socket.set_nonblocking(true).expect("non-blocking");
    match socket.connect(&SocketAddr::from(([127, 0, 0, 1], port)).into()) {
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => socket,
        other => panic!("connect to port {port}: {other:?}"),
    }
}

/// How the connects of a scan ended.
#[derive(Debug, Default, PartialEq, Eq)]
struct Scanned {
    refused: u64,
    answered: u64,
}

/// Connects to each of `ports` of 127.0.0.1, 500 at a time with a pause
/// between (several seconds in all: planet samples during the scan). A
/// refused socket is closed at once; an answered one once the server has
/// closed its end, so that the TIME_WAITs are the server's (one series)
/// and not 40,000 of the client's (every other test's planet that reads
/// all namespaces would track them).
fn scan(ports: RangeInclusive<u16>) -> Scanned {
    let ports: Vec<u16> = ports.collect();
    let mut scanned = Scanned::default();
    for wave in ports.chunks(500) {
        let mut pending: Vec<socket2::Socket> =
            wave.iter().map(|&p| connect_from_127_0_0_2(p)).collect();
        let ended = wait_for(Duration::from_secs(10), || {
            pending.retain(|socket| match ended(socket) {
                Some(Ok(())) => {
                    scanned.answered += 1;
                    false
                }
                Some(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    scanned.refused += 1;
                    false
                }
                Some(Err(e)) => panic!("connect: {e}"),
                None => true,
            });
            pending.is_empty()
        });
        assert!(ended, "{} connects still pending after 10 s", pending.len());
        std::thread::sleep(Duration::from_millis(30));
    }
    scanned
}

/// How a scanning socket ended: answered and closed by the server
/// (Ok), or with an error (refused); None while it has not.
fn ended(socket: &socket2::Socket) -> Option<std::io::Result<()>> {
    match socket.take_error() {
        Ok(None) => {}
        Ok(Some(e)) | Err(e) => return Some(Err(e)),
    }
    socket.peer_addr().ok()?;
    let mut socket = socket;
    match socket.read(&mut [0u8; 16]) {
        Ok(0) => Some(Ok(())),
        Ok(n) => panic!("the server sent {n} bytes"),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => None,
        Err(e) => Some(Err(e)),
    }
}

/// What a scan left in planet's output (its own namespace), read one line
/// at a time: the output may hold 300,000 lines, and the test process must
/// stay small, as other tests measure their children's peak RSS, which
/// starts from this process's.
#[derive(Debug, Default)]
struct Tally {
    /// planet_upstream and planet_downstream lines: one per series.
    series: usize,
    /// Upstream series with `port="other"`.
    other_port: usize,
    upstream_connections: u64,
    downstream_connections: u64,
    connect_failures: u64,
    /// planet_peers_folded and the lost notifications, as written.
    notes: Vec<String>,
}

impl Tally {
    fn read(file: &Path) -> Tally {
        let mut tally = Tally::default();
        for_each_line(file, |line| tally.add(line));
        tally
    }

    fn add(&mut self, line: String) {
        let family = family_of(&line);
        let is = |spec: &str| family == spec;
        if is(schema::PEERS_FOLDED.name) || is(schema::DESTROY_NOTIFICATIONS_LOST.name) {
            self.notes.push(line);
            return;
        }
        if !is_own(&line) {
            return;
        }
        if is(schema::UPSTREAM.name) || is(schema::DOWNSTREAM.name) {
            self.series += 1;
            self.other_port += usize::from(has_label(&line, label::PORT, "other"));
        } else if is(schema::UPSTREAM_CONNECTIONS.name) {
            self.upstream_connections += value(&line);
        } else if is(schema::DOWNSTREAM_CONNECTIONS.name) {
            self.downstream_connections += value(&line);
        } else if is(schema::UPSTREAM_CONNECT_FAILURES.name) {
            self.connect_failures += value(&line);
        }
    }

    /// Asserts the series cap held over a scan: at most max(10,000, 4 ×
    /// 1,000) dependency series, the ports beyond it folded into
    /// `port="other"`.
    fn assert_within_the_cap(&self) {
        assert!(
            self.series <= 10_000,
            "{} dependency series, over the cap of 10,000: {self:?}",
            self.series
        );
        assert!(self.other_port > 0, "no port=\"other\" series: {self:?}");
    }
}

/// Waits until the output's tally satisfies `done` (at most 30 s), then
/// for two writes more (a count too high stays too high), and returns the
/// tally then.
fn await_tally(planet: &Looping, done: impl Fn(&Tally) -> bool) -> Tally {
    planet.await_write_where(Duration::from_secs(30), || {
        done(&Tally::read(planet.file()))
    });
    assert!(
        planet.await_writes(2, Duration::from_secs(30)),
        "planet stopped writing"
    );
    Tally::read(planet.file())
}

/// A `--loop` planet of the calling thread's namespace, started before a
/// scan of ports 1 to 40,000 that must come out as `expected`.
fn scanned_under_loop(env: &TestEnv, expected: Scanned) -> Looping {
    let planet = Looping::start(
        env.collect()
            .args(["--loop", "--interval", "1s", "--netns", "own"]),
        env.output_file(),
    );
    let started = Instant::now();
    let scanned = scan(1..=40_000);
    eprintln!("scanned in {:?}", started.elapsed());
    assert_eq!(scanned, expected);
    planet
}

/// A port scan makes one dependency series per port it touches, so the
/// state's cap must count every series, the folded ones included: under
/// `--loop`, non-blocking connects to 40,000 ports where nothing listens
/// leave at most 10,000 series (the default cap), the ports beyond it
/// folded into `port="other"`, and the counters still add up: 40,000
/// connections, each one a connect failure (refused).
#[test]
fn a_scan_of_40000_refused_ports_stays_under_the_series_cap_and_counts_every_failure() {
    let _machine = crate::alone();
    in_own_netns(|| {
        let env = TestEnv::new();
        let refused = Scanned {
            refused: 40_000,
            answered: 0,
        };
        let mut planet = scanned_under_loop(&env, refused);
        let tally = await_tally(&planet, |t| t.connect_failures >= 40_000);
        let (code, stderr) = planet.stop();
        eprintln!("{tally:?}");

        tally.assert_within_the_cap();
        assert_eq!(
            (tally.connect_failures, tally.upstream_connections),
            (40_000, 40_000),
            "connect failures and connections: {tally:?}"
        );
        assert_eq!(code, Some(0), "{stderr}");
    });
}

/// An nftables rule, in the calling thread's network namespace, that
/// redirects TCP from 127.0.0.2 to any of `ports` to `to` (a listener on
/// 127.0.0.1).
fn redirect(nft: &Path, ports: RangeInclusive<u16>, to: u16) {
    let script = format!(
        "table ip churn {{\n chain output {{\n type nat hook output priority -100;\n \
         ip saddr 127.0.0.2 tcp dport {}-{} redirect to :{to}\n }}\n}}\n",
        ports.start(),
        ports.end()
    );
    let status = Command::new(nft)
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            std::io::Write::write_all(&mut child.stdin.take().expect("piped"), script.as_bytes())?;
            child.wait()
        });
    assert!(status.is_ok_and(|s| s.success()), "nft -f: {script}");
}

/// Accepts and closes connections on `listener` until `n` came or none
/// came for 10 s; returns how many came. The listener itself stays open
/// with the caller: without it, the server ends would be upstream.
fn accept_and_close(listener: &TcpListener, n: u64) -> std::thread::JoinHandle<u64> {
    let listener = listener.try_clone().expect("a second handle");
    std::thread::spawn(move || {
        listener.set_nonblocking(true).expect("non-blocking");
        let (mut accepted, mut last) = (0, Instant::now());
        while accepted < n && last.elapsed() < Duration::from_secs(10) {
            match listener.accept() {
                Ok(_) => {
                    accepted += 1;
                    last = Instant::now();
                }
                Err(_) => std::thread::sleep(Duration::from_millis(1)),
            }
        }
        accepted
    })
}

/// The same scan, every port answering: an nftables rule redirects each
/// to one listener of the test's, so the 40,000 connects succeed; the
/// server closes each at once, then the client. (A sample may catch a
/// handshake half-way, the server's SYN-RECV request socket: it is the
/// same connection as the socket it becomes, not one more.) At most 10,000 series again, `port="other"` among them, and
/// 40,000 connections counted on each side, none failed.
#[test]
fn a_scan_of_40000_answered_ports_stays_under_the_series_cap() {
    let _machine = crate::alone();
    let Some(nft) = tool("nft", "nftables") else {
        return;
    };
    in_own_netns(move || {
        let listener = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
            .expect("a socket");
        listener
            .bind(&SocketAddr::from(([127, 0, 0, 1], 45_000)).into())
            .expect("bind 127.0.0.1:45000");
        listener.listen(4096).expect("listen");
        redirect(&nft, 1..=40_000, 45_000);
        let listener: TcpListener = listener.into();
        let accepting = accept_and_close(&listener, 40_000);
        let env = TestEnv::new();
        let answered = Scanned {
            refused: 0,
            answered: 40_000,
        };
        let mut planet = scanned_under_loop(&env, answered);
        assert_eq!(accepting.join().expect("the accepting thread"), 40_000);
        let tally = await_tally(&planet, |t| {
            t.upstream_connections >= 40_000 && t.downstream_connections >= 40_000
        });
        let (code, stderr) = planet.stop();
        drop(listener);
        eprintln!("{tally:?}");

        tally.assert_within_the_cap();
        assert_eq!(
            (
                tally.upstream_connections,
                tally.downstream_connections,
                tally.connect_failures
            ),
            (40_000, 40_000, 0),
            "connections up and down, connect failures: {tally:?}"
        );
        assert_eq!(code, Some(0), "{stderr}");
    });
}
