//! `--loop` exact and bounded under churn (milestone 3): every connection
//! counted once however its close races a slow sample, and to the byte
//! when planet sampled it after its last data; a flood of closes from
//! several namespaces within one memory bound; a port scan within the
//! series cap. Each test runs in a network namespace of its own; the
//! oracles are what the test itself moved and the kernel's tcp_info.

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::ops::RangeInclusive;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use planet::schema::{self, label};

use crate::load::*;
use crate::testenv::*;

/// A sample line's value.
fn value(line: &str) -> u64 {
    line.rsplit_once(' ')
        .and_then(|(_, v)| v.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("not a sample: {line}")) as u64
}

/// The sum of `family`'s lines on `port` in planet's own namespace, of one
/// `direction` when given: over whatever processes planet split the
/// connections by. 0 when there is none.
fn sum_on_port(text: &str, family: &str, port: u16, direction: Option<&str>) -> u64 {
    samples_on_ports(text, family, &[port])
        .into_iter()
        .filter(|l| direction.is_none_or(|d| has_label(l, label::DIRECTION, d)))
        .map(value)
        .sum()
}

/// Connections and payload on one port, both families: what planet
/// counted, or what the test moved, or what the kernel counted.
#[derive(Debug, Default, PartialEq, Eq, Clone, Copy)]
struct Counted {
    upstream_connections: u64,
    downstream_connections: u64,
    upstream_out: u64,
    upstream_in: u64,
    downstream_in: u64,
    downstream_out: u64,
}

impl Counted {
    /// What planet's output says of `port`.
    fn read(text: &str, port: u16) -> Counted {
        let bytes = |family, direction| sum_on_port(text, family, port, Some(direction));
        Counted {
            upstream_connections: sum_on_port(text, schema::UPSTREAM_CONNECTIONS.name, port, None),
            downstream_connections: sum_on_port(
                text,
                schema::DOWNSTREAM_CONNECTIONS.name,
                port,
                None,
            ),
            upstream_out: bytes(schema::UPSTREAM_BYTES.name, "out"),
            upstream_in: bytes(schema::UPSTREAM_BYTES.name, "in"),
            downstream_in: bytes(schema::DOWNSTREAM_BYTES.name, "in"),
            downstream_out: bytes(schema::DOWNSTREAM_BYTES.name, "out"),
        }
    }

    /// One more connection that moved `out` bytes client -> server and
    /// `back` bytes server -> client.
    fn add(&mut self, out: u64, back: u64) {
        self.upstream_connections += 1;
        self.downstream_connections += 1;
        self.upstream_out += out;
        self.upstream_in += back;
        self.downstream_in += out;
        self.downstream_out += back;
    }

    /// One more connection as the kernel counted its two ends (tcp_info),
    /// less the client's SYN, before either end closed.
    fn add_kernel_view(&mut self, client: &TcpStream, server: &TcpStream) {
        let ((client_acked, client_received), (server_acked, server_received)) =
            (tcp_bytes(client), tcp_bytes(server));
        self.upstream_connections += 1;
        self.downstream_connections += 1;
        self.upstream_out += client_acked - 1;
        self.upstream_in += client_received;
        self.downstream_in += server_received;
        self.downstream_out += server_acked;
    }
}

/// Open connections on `port` now (both gauges).
fn open_on_port(text: &str, port: u16) -> u64 {
    sum_on_port(text, schema::UPSTREAM.name, port, None)
        + sum_on_port(text, schema::DOWNSTREAM.name, port, None)
}

fn connect(listener: &TcpListener) -> (TcpStream, TcpStream) {
    let client = TcpStream::connect(listener.local_addr().expect("bound")).expect("connect");
    (client, listener.accept().expect("accept").0)
}

/// How a connection of the churn ends.
#[derive(Clone, Copy, Debug)]
enum Ending {
    ClientFirst,
    ServerFirst,
    ClientResets,
    ServerResets,
}

impl Ending {
    /// A third each: the client closes first, the server closes first, one
    /// end resets (SO_LINGER 0), the client and the server in turn.
    fn of(i: usize) -> Ending {
        match i % 6 {
            0 | 3 => Ending::ClientFirst,
            1 | 4 => Ending::ServerFirst,
            2 => Ending::ClientResets,
            _ => Ending::ServerResets,
        }
    }
}

/// One connection of the churn, its ends held until each is closed.
struct Churned {
    client: Option<TcpStream>,
    server: Option<TcpStream>,
    ending: Ending,
}

impl Churned {
    /// Closes the end that goes first: with a FIN, or with an RST.
    fn close_first(&mut self) {
        let (end, reset) = match self.ending {
            Ending::ClientFirst => (&mut self.client, false),
            Ending::ServerFirst => (&mut self.server, false),
            Ending::ClientResets => (&mut self.client, true),
            Ending::ServerResets => (&mut self.server, true),
        };
        let stream = end.take().expect("closed once");
        if reset {
            socket2::SockRef::from(&stream)
                .set_linger(Some(Duration::ZERO))
                .expect("SO_LINGER 0");
        }
        drop(stream);
    }

    /// Closes the other end, once it has read the first's FIN (or RST).
    fn close_second(&mut self) {
        let mut stream = self
            .client
            .take()
            .or_else(|| self.server.take())
            .expect("one end still open");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("a read timeout");
        let mut rest = Vec::new();
        // Ok at the FIN, an error at the RST: either way, the end.
        let _ = stream.read_to_end(&mut rest);
        assert!(rest.is_empty(), "{} bytes never read", rest.len());
    }
}

/// Closes every connection, each end at a moment of its own: the first at
/// a random time within `span`, the other 1 to 400 ms later. Samples take
/// most of each interval, so closes land during samples and between a
/// sample and the draining of the destroy queue, and samples catch ends
/// half-closed (FIN_WAIT2, CLOSE_WAIT).
fn close_at_random(mut churned: Vec<Churned>, span: Duration, rng: &mut Rng) {
    let mut moments = Vec::with_capacity(2 * churned.len());
    for i in 0..churned.len() {
        let first = rng.millis_below(span);
        let second =
            first + Duration::from_millis(1) + rng.millis_below(Duration::from_millis(400));
        moments.push((first, i, true));
        moments.push((second, i, false));
    }
    moments.sort();
    let start = Instant::now();
    for (at, i, first) in moments {
        if let Some(wait) = at.checked_sub(start.elapsed()) {
            std::thread::sleep(wait);
        }
        match first {
            true => churned[i].close_first(),
            false => churned[i].close_second(),
        }
    }
}

/// What one phase of the churn test saw.
struct Phase {
    planned: Counted,
    kernel: Counted,
    counted: Counted,
}

/// Waits until planet has counted the `n` connections on `port` and shows
/// none open (at most 30 s), then for two writes more: a notification
/// still on its way is in by then, and a count too high stays too high.
fn settle(planet: &Looping, port: u16, n: u64) -> Counted {
    planet.await_output(Duration::from_secs(30), |text| {
        let counted = Counted::read(text, port);
        counted.upstream_connections >= n
            && counted.downstream_connections >= n
            && open_on_port(text, port) == 0
    });
    assert!(
        planet.await_writes(2, Duration::from_secs(30)),
        "planet stopped writing"
    );
    Counted::read(&planet.text(), port)
}

/// A listener on loopback that planet's output already shows serving.
/// A sample reads the listeners first and the connections after (most of
/// a second here): a listener made in between would show its first
/// connections without it, upstream, which is not what these tests test.
fn listen_seen_by(planet: &Looping) -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = port_of(listener.local_addr());
    assert!(
        planet.await_output(Duration::from_secs(30), |text| {
            !samples_on_ports(text, schema::SERVING.name, &[port]).is_empty()
        }),
        "planet never showed port {port} served"
    );
    (listener, port)
}

/// Phase one: `n` connections each move sizes of their own (out 1000 + 7i,
/// back 100,000 + 13i), planet samples them after their last data, then
/// they close at random moments over 4 s, a third client first, a third
/// server first, a third reset.
fn sampled_then_closed_at_random(planet: &Looping, n: usize, rng: &mut Rng) -> Phase {
    let (listener, port) = listen_seen_by(planet);
    let mut planned = Counted::default();
    let mut churned = Vec::with_capacity(n);
    for i in 0..n {
        let (mut client, mut server) = connect(&listener);
        let (out, back) = (1000 + 7 * i, 100_000 + 13 * i);
        transfer(&mut client, &mut server, out, back);
        planned.add(out as u64, back as u64);
        churned.push(Churned {
            client: Some(client),
            server: Some(server),
            ending: Ending::of(i),
        });
    }
    // Two writes: a whole sample after the last byte.
    assert!(
        planet.await_writes(2, Duration::from_secs(30)),
        "planet stopped writing"
    );
    let mut kernel = Counted::default();
    for pair in &churned {
        let (client, server) = (pair.client.as_ref(), pair.server.as_ref());
        kernel.add_kernel_view(client.expect("open"), server.expect("open"));
    }
    close_at_random(churned, Duration::from_secs(4), rng);
    let counted = settle(planet, port, n as u64);
    Phase {
        planned,
        kernel,
        counted,
    }
}

/// Phase two: `n` connections opened, used and closed one after another,
/// each within milliseconds (out 2000 + 3i, back 50,000 + 11i), a few
/// dozen ms apart: hardly any sample comes after their last data, so the
/// destroy notifications alone know their last bytes. They close gracefully,
/// client first and server first in turn (a resetting end's notification
/// carries no counters: never sampled, it cannot be exact).
fn opened_used_and_closed_between_samples(planet: &Looping, n: usize, rng: &mut Rng) -> Phase {
    let (listener, port) = listen_seen_by(planet);
    let (mut planned, mut kernel) = (Counted::default(), Counted::default());
    for i in 0..n {
        let (mut client, mut server) = connect(&listener);
        let (out, back) = (2000 + 3 * i, 50_000 + 11 * i);
        transfer(&mut client, &mut server, out, back);
        planned.add(out as u64, back as u64);
        kernel.add_kernel_view(&client, &server);
        let mut pair = Churned {
            client: Some(client),
            server: Some(server),
            ending: [Ending::ClientFirst, Ending::ServerFirst][i % 2],
        };
        pair.close_first();
        pair.close_second();
        std::thread::sleep(rng.millis_below(Duration::from_millis(40)));
    }
    let counted = settle(planet, port, n as u64);
    Phase {
        planned,
        kernel,
        counted,
    }
}

/// The closes race the samples: 30,000 idle sockets make each sample of
/// the test's namespace take longer than the 200 ms interval (its
/// duration is printed), so samples run back to back while 300
/// connections, sampled after their last data, close at random moments,
/// client first, server first or by a reset from either end. Each must be
/// counted once, to the byte: connections_total 300 on each side, bytes
/// exactly what the test moved (and what tcp_info counted before the
/// close). A close between a sample's table read and the draining of the
/// destroy queue used to be counted twice, from the row and from the
/// notification. Then 100 connections that live and close between
/// samples: connections and `out` exact, `in` at most 1 byte low each
/// (their FIN, which tcp_info cannot tell from data), never high.
#[test]
fn loop_counts_each_connection_once_while_closes_race_slow_samples() {
    let _machine = crate::alone();
    const SAMPLED: usize = 300;
    const UNSAMPLED: usize = 100;
    in_own_netns(|| {
        let _idle = hold_idle_connections(15_000);
        let env = TestEnv::new();
        let mut planet = Looping::start(
            env.collect()
                .args(["--loop", "--interval", "200ms", "--netns", "own"]),
            env.output_file(),
        );
        let snapshot = |text: &str| samples(text, schema::SNAPSHOT_DURATION.name).join(" ");
        eprintln!("with 30,000 idle sockets: {}", snapshot(&planet.text()));
        let mut rng = Rng::seeded();
        let sampled = sampled_then_closed_at_random(&planet, SAMPLED, &mut rng);
        let unsampled = opened_used_and_closed_between_samples(&planet, UNSAMPLED, &mut rng);
        eprintln!("at the end: {}", snapshot(&planet.text()));
        let (code, stderr) = planet.stop();

        assert_eq!(
            sampled.kernel, sampled.planned,
            "tcp_info disagrees with the test"
        );
        assert_eq!(
            sampled.counted, sampled.planned,
            "300 connections sampled after their last data, closed during samples: \
             counted (left) against moved (right)"
        );
        assert_eq!(
            unsampled.kernel, unsampled.planned,
            "tcp_info disagrees with the test"
        );
        let (got, want) = (unsampled.counted, unsampled.planned);
        let exact = Counted {
            upstream_in: got.upstream_in,
            downstream_in: got.downstream_in,
            ..want
        };
        assert_eq!(
            got, exact,
            "100 connections never sampled after their last data: connections and out \
             exact; counted (left) against moved (right)"
        );
        for (side, counted, moved) in [
            ("upstream", got.upstream_in, want.upstream_in),
            ("downstream", got.downstream_in, want.downstream_in),
        ] {
            assert!(
                (moved - UNSAMPLED as u64..=moved).contains(&counted),
                "{side} in: {counted}, moved {moved}: at most 1 byte low per connection, never high"
            );
        }
        assert_eq!(code, Some(0), "{stderr}");
    });
}

/// What a `--loop` planet did while the test watched it.
#[derive(Default)]
struct Watched {
    /// Distinct writes seen.
    writes: usize,
    /// The largest VmHWM seen.
    peak: u64,
    /// How it ended, if it did.
    exited: Option<ExitStatus>,
    /// Whether the write watched for came.
    came: bool,
}

impl Watched {
    /// Watches planet for `span`, or until it ends, or (`until_a_write`)
    /// until its next write: whether it is alive, writing, and the most
    /// memory it held.
    fn watch(planet: &mut Looping, span: Duration, until_a_write: bool) -> Watched {
        let start = Instant::now();
        let first = planet.write_id();
        let mut writes = std::collections::BTreeSet::new();
        let mut watched = Watched::default();
        while start.elapsed() < span && watched.exited.is_none() {
            watched.peak = watched.peak.max(peak_rss(planet.pid()).unwrap_or(0));
            let id = planet.write_id();
            writes.extend(id);
            watched.exited = planet.exited();
            if until_a_write && id != first {
                watched.came = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        watched.writes = writes.len();
        watched
    }
}

const MIB: u64 = 1 << 20;

/// What happened to planet during a flood and right after it.
struct Flood {
    /// Sockets each flooder opened and closed.
    sockets: Vec<u64>,
    during: Watched,
    after: Watched,
}

impl std::fmt::Display for Flood {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        let after = match (&self.after.exited, self.after.came) {
            (Some(status), _) => format!("then it ended: {status}"),
            (None, true) => "then one more write".to_string(),
            (None, false) => "then no write in 10 s".to_string(),
        };
        write!(
            f,
            "flooded {:?} sockets; planet: {} writes in the flood, largest VmHWM seen {} MiB, {}, {after}",
            self.sockets,
            self.during.writes,
            self.during.peak.max(self.after.peak) / MIB,
            self.during.exited.map_or("alive through it".to_string(), |s| format!("ended: {s}")),
        )
    }
}

/// Floods socket()+close() from two network namespaces of their own for
/// `span` while watching planet, then watches it until it writes once
/// more (at most 10 s). None (a skip) when no namespace can be made.
fn flood_from_two_namespaces(planet: &mut Looping, span: Duration) -> Option<Flood> {
    let flooders: Vec<Flooder> = match (0..2).map(|_| Flooder::start()).collect() {
        Ok(flooders) => flooders,
        Err(e) => return skip_or_fail(&format!("cannot flood from a namespace: {e}")),
    };
    let during = Watched::watch(planet, span, false);
    let sockets = flooders.into_iter().map(Flooder::stop).collect();
    let after = Watched::watch(planet, Duration::from_secs(10), true);
    Some(Flood {
        sockets,
        during,
        after,
    })
}

/// A tenant opening and closing sockets as fast as it can, from two
/// network namespaces of its own, floods the kernel's destroy
/// notifications, and planet follows every namespace (the default). The
/// records it queues are capped in total, not per namespace: run under a
/// 256 MiB memory cgroup (planet-loop.service's MemoryMax), `--loop` stays
/// under 128 MiB peak RSS, keeps writing through 12 s of flood, counts the
/// notifications it dropped in `planet_destroy_notifications_lost_total`,
/// and exits 0 on SIGTERM.
#[test]
fn loop_stays_under_128_mib_and_keeps_writing_through_a_flood_of_closes() {
    let _machine = crate::alone();
    in_own_netns(|| {
        let Some(cage) = MemoryCage::new(256 * MIB) else {
            return;
        };
        let env = TestEnv::new();
        let mut command = env.collect();
        command.args(["--loop", "--interval", "2s"]);
        cage.confine(&mut command);
        let mut planet = Looping::start(&mut command, env.output_file());
        let Some(flood) = flood_from_two_namespaces(&mut planet, Duration::from_secs(12)) else {
            return;
        };
        let peak = peak_rss(planet.pid());
        // Every namespace's series: read the one line wanted, not the file.
        let lost = lines_of(planet.file(), |l| l.contains("lost"));
        let (code, stderr) = planet.stop();
        let seen = format!("{flood}; the cgroup: {}", cage.report());
        eprintln!("{seen}");

        assert!(
            flood.during.exited.is_none() && flood.after.exited.is_none(),
            "planet died: {seen}; stderr: {stderr}"
        );
        // The first stamp seen was written before the flood: two more at
        // least in 12 s (both cores are flooding), and one after.
        assert!(
            flood.during.writes >= 3 && flood.after.came,
            "planet stopped writing (2 s interval): {seen}"
        );
        let peak = peak.expect("planet ran until SIGTERM");
        assert!(
            peak <= 128 * MIB,
            "VmHWM {} MiB before SIGTERM, over 128 MiB: {seen}",
            peak / MIB
        );
        let counter: Vec<&String> = lost
            .iter()
            .filter(|l| family_of(l) == schema::DESTROY_NOTIFICATIONS_LOST.name)
            .collect();
        assert!(
            counter.len() == 1 && value(counter[0]) > 0,
            "planet_destroy_notifications_lost_total should count what was dropped; \
             the lines that say lost: {lost:?}"
        );
        assert_eq!(code, Some(0), "{stderr}");
    });
}

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

/// Each line of a file, read one at a time, to `each`.
fn for_each_line(file: &Path, mut each: impl FnMut(String)) {
    use std::io::BufRead;
    if let Ok(file) = std::fs::File::open(file) {
        std::io::BufReader::new(file)
            .lines()
            .map_while(Result::ok)
            .for_each(&mut each);
    }
}

/// The lines of a file that `keep` keeps, read one at a time.
fn lines_of(file: &Path, keep: impl Fn(&str) -> bool) -> Vec<String> {
    let mut kept = Vec::new();
    for_each_line(file, |line| {
        if keep(&line) {
            kept.push(line);
        }
    });
    kept
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
