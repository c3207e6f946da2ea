//! `planet_serving`: real listeners on loopback, owned by processes with
//! chosen names, read back from the built binary's output.

use std::collections::BTreeSet;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::Command;

use planet::schema;

use crate::testenv::*;
use socket2::{Domain, Protocol, Socket, Type};

fn reuseport_listener(addr: SocketAddr) -> TcpListener {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP)).unwrap();
    socket.set_reuse_port(true).unwrap();
    socket.bind(&addr.into()).unwrap();
    socket.listen(64).unwrap();
    socket.into()
}

/// Listeners of every kind, each held by a process of its own name: TCP
/// on IPv4, IPv6 and IPv4-mapped IPv6, UDP, one socket shared by a forked
/// pair, a SO_REUSEPORT group, a name that needs escaping, and a UDP client
/// on an ephemeral port (not a server). Each server appears once, named by
/// its owner.
#[test]
fn each_listener_appears_once_with_its_owners_name() {
    let (_holders, ports, pair_name) = listeners_held_by_name();
    let text = collect_stdout(&[]);
    each_server_is_one_series_named_by_its_owner(&text, &ports, pair_name);
    a_reuseport_group_is_one_series_whose_queue_maximum_is_the_sum(&text, ports[4]);
}

/// The listeners, each held by a process of its own name (ours dropped):
/// their holders, their ports (tcp4, tcp6, udp, the forked pair's, the
/// reuseport group's, the escaped name's, the UDP client's, the mapped
/// one's), and which of the forked pair names the shared socket: the one
/// running longest (ties: the lower pid).
fn listeners_held_by_name() -> (Vec<Named>, [u16; 8], &'static str) {
    let tcp4 = TcpListener::bind("127.0.0.1:0").unwrap();
    let tcp6 = TcpListener::bind("[::1]:0").unwrap();
    let udp = udp_server("127.0.0.1");
    let shared = TcpListener::bind("127.0.0.1:0").unwrap();
    let group_a = reuseport_listener("127.0.0.1:0".parse().unwrap());
    let group_b = reuseport_listener(group_a.local_addr().unwrap());
    let weird = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap(); // ephemeral port: a client
    let mapped = TcpListener::bind("[::ffff:127.0.0.1]:0").unwrap(); // IPv4-mapped IPv6

    let ports = [
        port_of(tcp4.local_addr()),
        port_of(tcp6.local_addr()),
        port_of(udp.local_addr()),
        port_of(shared.local_addr()),
        port_of(group_a.local_addr()),
        port_of(weird.local_addr()),
        port_of(client.local_addr()),
        port_of(mapped.local_addr()),
    ];
    let holders = vec![
        Named::hold("srv-tcp4", &[tcp4.as_raw_fd()]),
        Named::hold("srv-tcp6", &[tcp6.as_raw_fd()]),
        Named::hold("srv-udp", &[udp.as_raw_fd()]),
        // A forked pair: both hold the one socket.
        Named::hold("pair-first", &[shared.as_raw_fd()]),
        Named::hold("pair-second", &[shared.as_raw_fd()]),
        Named::hold("reuse-a", &[group_a.as_raw_fd()]),
        Named::hold("reuse-a", &[group_b.as_raw_fd()]),
        Named::hold("we\"ird\\ nm", &[weird.as_raw_fd()]),
        Named::hold("udp-client", &[client.as_raw_fd()]),
        Named::hold("srv-mapped", &[mapped.as_raw_fd()]),
    ];
    let rank = |holder: &Named| (started(holder.pid()), holder.pid());
    let pair_name = if rank(&holders[3]) < rank(&holders[4]) {
        "pair-first"
    } else {
        "pair-second"
    };
    drop((
        tcp4, tcp6, udp, shared, group_a, group_b, weird, client, mapped,
    ));
    (holders, ports, pair_name)
}

/// Step 1: each server is one `planet_serving` series named by its owner
/// (the forked pair's by `pair_name`), with its address as bound (the
/// mapped one as IPv4); the UDP client is none.
fn each_server_is_one_series_named_by_its_owner(text: &str, ports: &[u16; 8], pair_name: &str) {
    let expected: BTreeSet<String> = [
        format!(
            r#"planet_serving{{protocol="tcp",name="srv-tcp4",container="",addr="127.0.0.1",port="{}"}} 1"#,
            ports[0]
        ),
        format!(
            r#"planet_serving{{protocol="tcp",name="srv-tcp6",container="",addr="::1",port="{}"}} 1"#,
            ports[1]
        ),
        format!(
            r#"planet_serving{{protocol="udp",name="srv-udp",container="",addr="127.0.0.1",port="{}"}} 1"#,
            ports[2]
        ),
        format!(
            r#"planet_serving{{protocol="tcp",name="{pair_name}",container="",addr="127.0.0.1",port="{}"}} 1"#,
            ports[3]
        ),
        format!(
            r#"planet_serving{{protocol="tcp",name="reuse-a",container="",addr="127.0.0.1",port="{}"}} 1"#,
            ports[4]
        ),
        format!(
            r#"planet_serving{{protocol="tcp",name="we\"ird\\ nm",container="",addr="127.0.0.1",port="{}"}} 1"#,
            ports[5]
        ),
        format!(
            r#"planet_serving{{protocol="tcp",name="srv-mapped",container="",addr="127.0.0.1",port="{}"}} 1"#,
            ports[7]
        ),
    ]
    .into_iter()
    .collect();
    let got: BTreeSet<String> = samples_on_ports(text, schema::SERVING.name, ports)
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(got, expected, "full output:\n{text}");
}

/// Step 2: the SO_REUSEPORT group on `port` is one series whose queue
/// maximum is the sum of its two sockets'.
fn a_reuseport_group_is_one_series_whose_queue_maximum_is_the_sum(text: &str, port: u16) {
    let max = samples_on_ports(text, schema::SERVING_BACKLOG_MAX.name, &[port]);
    assert_eq!(
        max.into_iter().collect::<Vec<_>>(),
        [format!(
            r#"planet_serving_backlog_max{{protocol="tcp",name="reuse-a",container="",addr="127.0.0.1",port="{port}"}} 128"#
        )]
    );
}

/// When a process started, in clock ticks since boot (/proc/PID/stat).
fn started(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = stat.rsplit_once(')').unwrap().1;
    // Field 22 of stat; the 20th after the name.
    after_name
        .split_whitespace()
        .nth(19)
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn backlog_counts_connections_waiting_to_be_accepted() {
    let (listener, port) = loopback_listener();
    let _waiting = queue_connections(&listener, 3);
    let text = collect_stdout(&[]);
    let name = own_process_name();
    let labels = format!(
        r#"{{protocol="tcp",name="{}",container="",addr="127.0.0.1",port="{port}"}}"#,
        name.trim_end()
    );
    assert_eq!(
        samples_on_ports(&text, schema::SERVING_BACKLOG.name, &[port])
            .into_iter()
            .collect::<Vec<_>>(),
        [format!("planet_serving_backlog{labels} 3")]
    );
    // std listens with a backlog of 128; the kernel reports it as the maximum.
    assert_eq!(
        samples_on_ports(&text, schema::SERVING_BACKLOG_MAX.name, &[port])
            .into_iter()
            .collect::<Vec<_>>(),
        [format!("planet_serving_backlog_max{labels} 128")]
    );
}

#[test]
fn two_runs_over_the_same_sockets_give_identical_bytes() {
    in_own_netns(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let _waiting = queue_connections(&listener, 2);
        let _udp = udp_server("::1");
        let _v6 = TcpListener::bind("[::]:0").unwrap();
        let first = own_view(&collect_stdout(&[]));
        let second = own_view(&collect_stdout(&[]));
        assert_eq!(first, second);
        assert_eq!(
            own_samples(&first, schema::SERVING.name).len(),
            3,
            "{first}"
        );
    });
}

/// One socket as `ss -Htulnp` shows it: protocol, address, port, owner names.
fn ss_serving(ss: &std::path::Path) -> BTreeSet<(String, String, String, Vec<String>)> {
    let output = Command::new(ss).arg("-Htulnp").output().expect("run ss");
    assert!(output.status.success());
    ss_listening(&String::from_utf8_lossy(&output.stdout))
}

#[test]
fn serving_set_equals_what_ss_reports() {
    let Some(ss) = tool("ss", "iproute2") else {
        return;
    };
    in_own_netns(move || {
        let tcp4 = TcpListener::bind("127.0.0.1:0").unwrap();
        let tcp6 = TcpListener::bind("[::1]:0").unwrap();
        let udp4 = udp_server("127.0.0.1");
        let udp6 = udp_server("::1");
        let group_a = reuseport_listener("127.0.0.1:0".parse().unwrap());
        let group_b = reuseport_listener(group_a.local_addr().unwrap());
        let _holders = [
            Named::hold("ss-tcp4", &[tcp4.as_raw_fd()]),
            Named::hold("ss-tcp6", &[tcp6.as_raw_fd()]),
            Named::hold("ss-udp4", &[udp4.as_raw_fd()]),
            Named::hold("ss-udp6", &[udp6.as_raw_fd()]),
            Named::hold("ss-group", &[group_a.as_raw_fd(), group_b.as_raw_fd()]),
        ];
        drop((tcp4, tcp6, udp4, udp6, group_a, group_b));

        let from_ss: BTreeSet<String> = ss_serving(&ss)
            .into_iter()
            .map(|(proto, addr, port, names)| {
                assert_eq!(names.len(), 1, "one owner per socket here");
                format!(r#"planet_serving{{protocol="{proto}",name="{}",container="",addr="{addr}",port="{port}"}} 1"#, names[0])
            })
            .collect();
        let text = collect_stdout(&[]);
        let from_planet: BTreeSet<String> = own_samples(&text, schema::SERVING.name)
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(from_planet, from_ss);
        assert_eq!(from_planet.len(), 5, "the reuseport pair is one series");
    });
}

#[test]
fn a_udp_client_on_an_ephemeral_port_is_not_a_server() {
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = port_of(client.local_addr());
    let (low, high) = ephemeral_range();
    assert!((low..=high).contains(&port));
    let text = collect_stdout(&[]);
    assert!(
        samples_on_ports(&text, schema::SERVING.name, &[port]).is_empty(),
        "{text}"
    );
}

/// A forking server after pids wrapped: its worker got a lower pid than the
/// parent. The parent, which has run longest, names the socket; the lowest
/// pid would name it after whichever short-lived child has it.
#[test]
fn a_forked_servers_socket_is_named_by_its_parent_whatever_the_pids() {
    let Some(unshare) = tool("unshare", "util-linux") else {
        return;
    };
    let (listener, port) = loopback_listener();
    let names = tempfile::tempdir().unwrap();
    let sleep = which("sleep").unwrap();
    for name in ["srv-parent", "srv-worker"] {
        std::os::unix::fs::symlink(&sleep, names.path().join(name)).unwrap();
    }
    // In a pid namespace of its own (pid 1 is this script; every process in
    // it dies with it), with /proc showing that namespace's pids.
    let script = r#"
        echo 5000 > /proc/sys/kernel/ns_last_pid
        "$1/srv-parent" infinity &
        parent=$!
        sleep 0.2  # a later start, by more than a clock tick
        echo 100 > /proc/sys/kernel/ns_last_pid
        "$1/srv-worker" infinity &
        echo "pids $parent $!" >&2
        exec 3>&-  # only the two hold the socket now
        "$2" collect --stdout --no-resolve --collector serving
    "#;
    let mut command = Command::new(unshare);
    command
        .args(["--pid", "--fork", "--mount-proc", "sh", "-c", script, "sh"])
        .arg(names.path())
        .arg(PLANET);
    // The listener as fd 3 in the script: sh (dash) can name no fd above 9.
    let fd = listener.as_raw_fd();
    // SAFETY: only dup2 and fcntl, async-signal-safe, run between fork and exec.
    unsafe {
        command.pre_exec(move || {
            let moved = if fd == 3 {
                libc::fcntl(3, libc::F_SETFD, 0)
            } else {
                libc::dup2(fd, 3)
            };
            match moved < 0 {
                true => Err(std::io::Error::last_os_error()),
                false => Ok(()),
            }
        });
    }
    let output = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("pids 5001 101"), "{stderr}");
    let text = String::from_utf8(output.stdout).unwrap();
    drop(listener);
    assert_eq!(
        samples_on_ports(&text, schema::SERVING.name, &[port])
            .into_iter()
            .collect::<Vec<_>>(),
        [format!(
            r#"planet_serving{{protocol="tcp",name="srv-parent",container="",addr="127.0.0.1",port="{port}"}} 1"#
        )]
    );
}
