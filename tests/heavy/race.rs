//! `--loop` exact under churn (milestone 3): every connection counted
//! once however its close races a slow sample, and to the byte when
//! planet sampled it after its last data. The test runs in a network
//! namespace of its own; the oracles are what the test itself moved and
//! the kernel's tcp_info.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use planet::schema::{self, label};

use crate::load::*;
use crate::testenv::*;

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
