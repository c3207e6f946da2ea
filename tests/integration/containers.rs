//! Container hosts seen whole: containers made as runtimes make them (a
//! network namespace on a bridge, a cgroup named as Docker, Kubernetes and
//! containerd name theirs), their listeners, a connection from one to
//! another over the bridge, a loopback connection inside one, and their
//! addresses, checked against `ss` run inside each namespace.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use planet::schema::{self, label};

use crate::testenv::containers::{Bridge, Container, Podman, Runtime};
use crate::testenv::namespaces::NamespaceCounts;
use crate::testenv::*;

/// `bytes_acked` and `bytes_received` of the one connection to `peer` in
/// `ss -tinH` output.
fn ss_bytes(ss: &str, peer: &str) -> (u64, u64) {
    let lines: Vec<&str> = ss.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains(peer))
        .unwrap_or_else(|| panic!("no connection to {peer} in:\n{ss}"));
    let info = lines[at..].join(" ");
    let field = |name: &str| -> u64 {
        info.split_whitespace()
            .find_map(|w| w.strip_prefix(name))
            .map_or(0, |v| v.parse().unwrap())
    };
    (field("bytes_acked:"), field("bytes_received:"))
}

/// A connection from `client` (a container) to `server`'s listener: the
/// client end made inside the client's namespace.
fn connect(client: &Container, listener: &TcpListener, to: &str) -> (TcpStream, TcpStream) {
    let port = port_of(listener.local_addr());
    let stream = client.inside(|| TcpStream::connect((to, port)).unwrap());
    let (accepted, _) = listener.accept().unwrap();
    (stream, accepted)
}

/// Three containers on a bridge, as Docker, Kubernetes and containerd make
/// them: each listener, each connection and each address is labelled with
/// the ID of the container it lives in, exactly as `ss` inside each
/// namespace sees them, and promtool accepts the whole.
#[test]
fn containers_listen_and_talk_each_labelled_by_its_id() {
    in_own_netns(|| {
        let runtimes = [Runtime::Docker, Runtime::Kubernetes, Runtime::Containerd];
        let Some(mut bridge) = Bridge::with(&runtimes) else {
            return;
        };
        serve_and_call(&mut bridge);
        let text = collect_stdout(&[]);
        let [a, b, c] = &bridge.containers[..] else {
            unreachable!()
        };
        listeners_are_labelled_by_container_as_ss_sees_them(&text, [a, b, c]);
        a_call_over_the_bridge_is_upstream_in_b_and_downstream_in_a(&text, a, b);
        a_loopback_call_inside_b_has_both_ends_in_b(&text, b);
        every_container_address_is_listed_and_no_loopback_one(&text, [a, b, c]);
        the_containers_namespaces_are_read(&text);
        assert_promtool_accepts(&text);
    });
}

/// The containers' work: A serves TCP 8080; B calls it over the bridge,
/// and serves itself on loopback 9090, which B also calls; C serves UDP
/// 5353. Named processes of each container hold the sockets.
fn serve_and_call(bridge: &mut Bridge) {
    let [a, b, c] = &mut bridge.containers[..] else {
        unreachable!()
    };
    let web = a.inside(|| TcpListener::bind("0.0.0.0:8080").unwrap());
    let (mut call, mut answer) = connect(b, &web, &a.v4.clone());
    transfer(&mut call, &mut answer, 100_000, 7_000);
    let cache = b.inside(|| TcpListener::bind("127.0.0.1:9090").unwrap());
    let (mut local, mut served) = connect(b, &cache, "127.0.0.1");
    transfer(&mut local, &mut served, 300, 40);
    let dns = c.inside(|| UdpSocket::bind("[::]:5353").unwrap());
    a.hold("web", &[web.as_raw_fd(), answer.as_raw_fd()]);
    b.hold("api", &[call.as_raw_fd(), local.as_raw_fd()]);
    b.hold("cache", &[cache.as_raw_fd(), served.as_raw_fd()]);
    c.hold("dns", &[dns.as_raw_fd()]);
    // The holders are their only owners now.
    drop((web, call, answer, cache, local, served, dns));
}

/// Step 1: each container's listeners, as `ss` inside its namespace sees
/// them, and each a `planet_serving` series with the container's ID.
fn listeners_are_labelled_by_container_as_ss_sees_them(text: &str, [a, b, c]: [&Container; 3]) {
    for (container, expected) in [
        (a, vec![("tcp", "web", "0.0.0.0", "8080")]),
        (b, vec![("tcp", "cache", "127.0.0.1", "9090")]),
        (c, vec![("udp", "dns", "::", "5353")]),
    ] {
        let oracle = ss_listening(&container.ss(&["-Htuln"]));
        let mine: BTreeSet<(String, String, String, Vec<String>)> = expected
            .iter()
            .map(|(p, _, addr, port)| (p.to_string(), addr.to_string(), port.to_string(), vec![]))
            .collect();
        assert_eq!(oracle, mine, "ss in {}", container.netns);
        let lines: BTreeSet<String> = expected
            .iter()
            .map(|(protocol, name, addr, port)| {
                format!(
                    "planet_serving{{protocol=\"{protocol}\",name=\"{name}\",container=\"{}\",addr=\"{addr}\",port=\"{port}\"}} 1",
                    container.id
                )
            })
            .collect();
        let got: BTreeSet<String> = of_container(text, schema::SERVING.name, &container.id)
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(got, lines, "{text}");
    }
}

/// Step 2: the call over the bridge is upstream in B and downstream in A,
/// with exactly the payload the oracle counts (less SYN: ss shows the
/// client's bytes_acked with its SYN).
fn a_call_over_the_bridge_is_upstream_in_b_and_downstream_in_a(
    text: &str,
    a: &Container,
    b: &Container,
) {
    let (acked, received) = ss_bytes(&b.ss(&["-tinH"]), &format!("{}:8080", a.v4));
    assert_eq!((acked, received), (100_001, 7_000), "ss in B");
    let up = format!(
        "protocol=\"tcp\",process=\"api\",container=\"{}\",name=\"{}\",domain=\"\",addr=\"{}\",port=\"8080\"",
        b.id, a.v4, a.v4
    );
    let down = format!(
        "protocol=\"tcp\",process=\"web\",container=\"{}\",name=\"{}\",domain=\"\",addr=\"{}\",port=\"8080\"",
        a.id, b.v4, b.v4
    );
    for line in [
        format!("planet_upstream{{{up}}} 1"),
        format!("planet_upstream_bytes_total{{{up},direction=\"in\"}} {received}"),
        format!(
            "planet_upstream_bytes_total{{{up},direction=\"out\"}} {}",
            acked - 1
        ),
        format!("planet_downstream{{{down}}} 1"),
        format!("planet_downstream_bytes_total{{{down},direction=\"in\"}} 100000"),
        format!("planet_downstream_bytes_total{{{down},direction=\"out\"}} 7000"),
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
    }
}

/// Step 3: a call over loopback inside B has both ends, both in B.
fn a_loopback_call_inside_b_has_both_ends_in_b(text: &str, b: &Container) {
    let loopback: BTreeSet<&str> = of_container(text, schema::UPSTREAM_BYTES.name, &b.id)
        .into_iter()
        .chain(of_container(text, schema::DOWNSTREAM_BYTES.name, &b.id))
        .filter(|l| has_label(l, label::PORT, "9090"))
        .collect();
    let expected: BTreeSet<String> = [
        ("upstream", "api", "in", 40),
        ("upstream", "api", "out", 300),
        ("downstream", "cache", "in", 300),
        ("downstream", "cache", "out", 40),
    ]
    .iter()
    .map(|(side, process, direction, bytes)| {
        format!(
            "planet_{side}_bytes_total{{protocol=\"tcp\",process=\"{process}\",container=\"{}\",name=\"127.0.0.1\",domain=\"\",addr=\"127.0.0.1\",port=\"9090\",direction=\"{direction}\"}} {bytes}",
            b.id
        )
    })
    .collect();
    assert_eq!(
        loopback
            .into_iter()
            .map(String::from)
            .collect::<BTreeSet<_>>(),
        expected
    );
}

/// Step 4: every container address and the host's, and no loopback or
/// link-local one.
fn every_container_address_is_listed_and_no_loopback_one(text: &str, containers: [&Container; 3]) {
    for container in containers {
        assert_eq!(
            of_container(text, schema::ADDRESS.name, &container.id),
            [
                format!(
                    "planet_address{{addr=\"{}\",container=\"{}\"}} 1",
                    container.v4, container.id
                ),
                format!(
                    "planet_address{{addr=\"{}\",container=\"{}\"}} 1",
                    container.v6, container.id
                ),
            ]
            .iter()
            .map(String::as_str)
            .collect()
        );
    }
    let host = own_samples(text, schema::ADDRESS.name);
    assert!(
        host.contains(&"planet_address{addr=\"192.0.2.1\",container=\"\"} 1"),
        "{host:?}"
    );
    for line in samples(text, schema::ADDRESS.name) {
        for bad in ["addr=\"127.", "addr=\"::1\"", "addr=\"fe80:"] {
            assert!(!line.contains(bad), "{line}");
        }
    }
}

/// Step 5: the three containers' network namespaces are read, and the
/// test's own.
fn the_containers_namespaces_are_read(text: &str) {
    let namespaces = NamespaceCounts::of(text).read;
    assert!(namespaces >= 4, "own and three containers: {namespaces}");
}

/// A connection from B to a real server in A (socat, echoing) that opens
/// and closes between two samples of `--loop`: counted in full from the
/// destroy notifications of both namespaces.
#[test]
fn loop_counts_a_connection_that_opens_and_closes_inside_containers_between_samples() {
    let Some(socat) = tool("socat", "socat") else {
        return;
    };
    in_own_netns(move || {
        let Some(mut bridge) = Bridge::with(&[Runtime::Docker, Runtime::Containerd]) else {
            return;
        };
        let echo = "TCP-LISTEN:8081,reuseaddr,fork";
        bridge.containers[0].run(&socat, &[echo, "PIPE"]);
        // A container always has a process: what makes its namespace seen.
        bridge.containers[1].hold("client", &[]);
        let server = format!("{}:8081", bridge.containers[0].v4);
        let listening = wait_for(Duration::from_secs(10), || {
            bridge.containers[0].ss(&["-Htln"]).contains(":8081")
        });
        assert!(listening, "socat did not listen");
        let env = TestEnv::new();
        let mut looping = env
            .collect()
            .args(["--loop", "--interval", "2s"])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let file = env.output_file();
        assert!(wait_for(Duration::from_secs(10), || file.exists()));
        // Right after a write: the next sample is two seconds away.
        let first = collect_timestamp(&file);
        assert!(wait_for(Duration::from_secs(10), || collect_timestamp(
            &file
        ) != first));
        let second = collect_timestamp(&file);

        // Opened and closed between two samples: no sample ever sees it.
        let (a, b) = (&bridge.containers[0], &bridge.containers[1]);
        b.inside(|| {
            let mut call = TcpStream::connect(&server).unwrap();
            call.write_all(&[b'x'; 5_000]).unwrap();
            let mut back = vec![0u8; 5_000];
            call.read_exact(&mut back).unwrap();
            call.shutdown(std::net::Shutdown::Both).unwrap();
            // Until the server has closed its end too.
            assert_eq!(call.read(&mut back).unwrap(), 0);
        });
        assert_eq!(collect_timestamp(&file), second, "a sample fell in between");
        let side = |side: &str, process: &str, container: &str, peer: &str, direction: &str| {
            format!(
                "planet_{side}_bytes_total{{protocol=\"tcp\",process=\"{process}\",container=\"{container}\",name=\"{peer}\",domain=\"\",addr=\"{peer}\",port=\"8081\",direction=\"{direction}\"}} 5000"
            )
        };
        // The client's socket had no owner any sample saw; the server's
        // side is the serving process's, socat's.
        let expected = [
            side("upstream", "", &b.id, &a.v4, "out"),
            side("upstream", "", &b.id, &a.v4, "in"),
            side("downstream", "socat", &a.id, &b.v4, "in"),
            side("downstream", "socat", &a.id, &b.v4, "out"),
        ];
        let mut text = String::new();
        let counted = wait_for(Duration::from_secs(10), || {
            text = std::fs::read_to_string(&file).unwrap_or_default();
            collect_timestamp(&file) != second
                && expected.iter().all(|line| text.lines().any(|l| l == line))
        });
        let (code, stderr) = terminate(&mut looping);
        assert!(
            counted,
            "missing some of\n{expected:#?}\nin\n{text}\n{stderr}"
        );
        assert_eq!(code, Some(0));
    });
}

/// A real runtime: Podman (with runc) runs busybox's httpd from an image
/// imported from a tarball, on a network of the test's own (a documentation
/// subnet, in the test's own network namespace), and planet names its
/// listener with the ID Podman gives the container.
#[test]
fn a_podman_containers_listener_is_seen_with_its_id() {
    let (Some(podman), Some(_), Some(busybox)) = (
        tool("podman", "podman"),
        tool("runc", "runc"),
        tool("busybox", "busybox-static"),
    ) else {
        return;
    };
    in_own_netns(move || {
        let podman = Podman::new(podman);
        let tag = format!("planet-{}", std::process::id());
        let image = busybox_image(&podman, &busybox, &tag);
        podman.ok(&["network", "create", "--subnet", "198.51.100.0/24", &tag]);
        let (id, addr) = run_httpd(&podman, &image, &tag);

        let expected = format!(
            "planet_serving{{protocol=\"tcp\",name=\"httpd\",container=\"{id}\",addr=\"::\",port=\"8080\"}} 1"
        );
        let mut text = String::new();
        let seen = wait_for(Duration::from_secs(20), || {
            text = collect_stdout(&[]);
            text.lines().any(|l| l == expected)
        });
        assert!(seen, "missing {expected} in\n{text}");
        assert_eq!(
            of_container(&text, schema::ADDRESS.name, &id),
            BTreeSet::from([
                format!("planet_address{{addr=\"{addr}\",container=\"{id}\"}} 1").as_str()
            ])
        );
    });
}

/// An image of busybox alone, `/bin/busybox` and the applets it needs,
/// imported from a tarball as `localhost/TAG:test`: its name.
fn busybox_image(podman: &Podman, busybox: &Path, tag: &str) -> String {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("bin")).unwrap();
    std::fs::create_dir_all(root.path().join("www")).unwrap();
    std::fs::copy(busybox, root.path().join("bin/busybox")).unwrap();
    for applet in ["sh", "httpd"] {
        std::os::unix::fs::symlink("busybox", root.path().join("bin").join(applet)).unwrap();
    }
    std::fs::write(root.path().join("www/index.html"), "hello\n").unwrap();
    let tarball = root.path().join("image.tar");
    let status = Command::new("tar")
        .args(["-C"])
        .arg(root.path())
        .args(["-cf"])
        .arg(&tarball)
        .args(["bin", "www"])
        .status()
        .unwrap();
    assert!(status.success());
    let image = format!("localhost/{tag}:test");
    podman.ok(&["import", tarball.to_str().unwrap(), &image]);
    image
}

/// busybox's httpd serving 8080 in a container named `tag` on the network
/// `tag`: the container's ID, as Podman gives it, and its address there.
fn run_httpd(podman: &Podman, image: &str, tag: &str) -> (String, String) {
    let id = podman.ok(&[
        "run",
        "-d",
        "--name",
        tag,
        "--network",
        tag,
        "--ulimit",
        "nofile=20000:20000",
        "--ulimit",
        "nproc=5000:5000",
        image,
        "/bin/httpd",
        "-f",
        "-p",
        "8080",
        "-h",
        "/www",
    ]);
    let id = id.trim().to_string();
    assert_eq!(id.len(), 64, "{id}");
    let format = format!("{{{{(index .NetworkSettings.Networks \"{tag}\").IPAddress}}}}");
    let addr = podman
        .ok(&["inspect", "-f", &format, tag])
        .trim()
        .to_string();
    (id, addr)
}
