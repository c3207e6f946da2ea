//! The worked example of a collector, `process_sockets`, end to end; and
//! docs/collector.md shows its code as it is.

use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;

use crate::testenv::*;

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
            "planet_process_sockets{process=\"sock-counter\",container=\"\",protocol=\"tcp\",state=\"established\"} 6",
            "planet_process_sockets{process=\"sock-counter\",container=\"\",protocol=\"tcp\",state=\"listen\"} 1",
            "planet_process_sockets{process=\"sock-counter\",container=\"\",protocol=\"udp\",state=\"unconnected\"} 1",
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
    let readme = std::fs::read_to_string(format!("{root}/docs/collector.md")).unwrap();
    let code =
        std::fs::read_to_string(format!("{root}/src/collectors/process_sockets.rs")).unwrap();
    assert!(
        readme.contains(&format!("```rust\n{code}```")),
        "docs/collector.md's copy of process_sockets.rs is stale (run scripts/regen-docs)"
    );
    let registry = std::fs::read_to_string(format!("{root}/src/collectors/mod.rs")).unwrap();
    let line = "    process_sockets: ProcessSockets,\n";
    assert!(registry.contains(line) && readme.contains(line));
}

/// A collector as the README tells a user to write one: its own flag, one
/// family, declared.
const HELLO: &str = r#"//! Says hello.

use super::collector::{Collector, Input, Needs};
use crate::error::Error;
use crate::exposition::Family;

#[derive(Debug, Default, clap::Args)]
pub struct Hello {
    /// What to say.
    #[arg(long, value_name = "WORD", default_value = "hello")]
    pub greeting: String,
}

impl Collector for Hello {
    fn needs(&self) -> Needs {
        Needs::Nothing
    }

    fn families(&self) -> Vec<String> {
        vec!["planet_hello".into()]
    }

    fn collect(&mut self, _: &Input) -> Result<Vec<Family>, Error> {
        Ok(vec![Family::gauge("planet_hello", "A greeting.")
            .with([("greeting", self.greeting.as_str())], 1.0)])
    }
}
"#;

/// The README's promise, kept: a copy of planet with `src/collectors/hello.rs`
/// and one registry line builds, and the new collector runs with its flag.
#[test]
fn a_new_collector_is_one_file_and_one_registry_line() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let copy = tempfile::tempdir().unwrap();
    for entry in ["Cargo.toml", "Cargo.lock", "README.md", "src", "benches"] {
        let status = std::process::Command::new("cp")
            .arg("-r")
            .arg(root.join(entry))
            .arg(copy.path())
            .status()
            .unwrap();
        assert!(status.success());
    }
    let collectors = copy.path().join("src/collectors");
    std::fs::write(collectors.join("hello.rs"), HELLO).unwrap();
    let registry = std::fs::read_to_string(collectors.join("mod.rs")).unwrap();
    let last = "    wrap: Wrap,\n";
    assert!(registry.contains(last), "the registry's last line moved");
    let registry = registry.replacen(last, &format!("{last}    hello: Hello,\n"), 1);
    std::fs::write(collectors.join("mod.rs"), registry).unwrap();

    // A target directory of its own that outlives the test: later runs
    // rebuild only planet itself.
    let target = root.join("target/extension-check");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let build = std::process::Command::new(cargo)
        .args([
            "build",
            "--offline",
            "--locked",
            "--quiet",
            "--bin",
            "planet",
        ])
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(copy.path())
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let output = std::process::Command::new(target.join("debug/planet"))
        .args([
            "collect",
            "--stdout",
            "--collector",
            "hello",
            "--greeting",
            "hi",
        ])
        .output()
        .unwrap();
    assert_success(&output);
    let text = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        samples(&text, "planet_hello"),
        ["planet_hello{greeting=\"hi\"} 1"]
    );
    assert_eq!(
        samples(&text, "planet_collector_success"),
        ["planet_collector_success{collector=\"hello\"} 1"]
    );
}
