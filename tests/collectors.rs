//! The worked example of a collector, `process_sockets`, end to end; and the
//! README shows its code as it is.

mod common;

use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;

use common::*;

#[test]
fn process_sockets_counts_a_named_process_sockets_by_state() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let clients: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(listener.local_addr().unwrap()).unwrap())
        .collect();
    let accepted: Vec<TcpStream> = (0..3).map(|_| listener.accept().unwrap().0).collect();
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut fds: Vec<_> = clients
        .iter()
        .chain(&accepted)
        .map(AsRawFd::as_raw_fd)
        .collect();
    fds.extend([listener.as_raw_fd(), udp.as_raw_fd()]);
    let _holder = Named::hold("sock-counter", &fds);
    drop((clients, accepted, listener, udp));

    let text = collect_stdout(&["--collector", "process_sockets"]);
    let ours: Vec<&str> = samples(&text, "planet_process_sockets")
        .into_iter()
        .filter(|l| l.contains("process=\"sock-counter\""))
        .collect();
    assert_eq!(
        ours,
        [
            "planet_process_sockets{process=\"sock-counter\",protocol=\"tcp\",state=\"established\"} 6",
            "planet_process_sockets{process=\"sock-counter\",protocol=\"tcp\",state=\"listen\"} 1",
            "planet_process_sockets{process=\"sock-counter\",protocol=\"udp\",state=\"unconnected\"} 1",
        ]
    );
    // Only the collector asked for ran.
    assert_eq!(
        samples(&text, "planet_collector_success"),
        ["planet_collector_success{collector=\"process_sockets\"} 1"]
    );
    assert!(samples(&text, "planet_serving").is_empty());
}

#[test]
fn the_readme_shows_the_example_collector_as_it_is() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let code =
        std::fs::read_to_string(format!("{root}/src/collectors/process_sockets.rs")).unwrap();
    assert!(
        readme.contains(&format!("```rust\n{code}```")),
        "README's copy of process_sockets.rs is stale"
    );
    let registry = std::fs::read_to_string(format!("{root}/src/collectors/mod.rs")).unwrap();
    let line = "    (\"process_sockets\", |_| always(ProcessSockets)),\n";
    assert!(registry.contains(line) && readme.contains(line));
}
