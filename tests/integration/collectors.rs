//! The worked example of a collector, `process_sockets`, end to end; and
//! docs/collector.md shows its code as it is.

use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::Path;

use planet::schema::{self, label};

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
    let ours: Vec<&str> = samples(&text, schema::PROCESS_SOCKETS.name)
        .into_iter()
        .filter(|l| has_label(l, label::PROCESS, "sock-counter"))
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
        samples(&text, schema::COLLECTOR_SUCCESS.name),
        ["planet_collector_success{collector=\"process_sockets\"} 1"]
    );
    assert!(samples(&text, schema::SERVING.name).is_empty());
}

/// docs/collector.md shows the worked example as it is, and its
/// registration line.
#[test]
fn the_docs_show_the_example_collector_as_it_is() {
    let root = env!("CARGO_MANIFEST_DIR");
    let page = std::fs::read_to_string(format!("{root}/docs/collector.md")).unwrap();
    let code =
        std::fs::read_to_string(format!("{root}/src/collectors/process_sockets.rs")).unwrap();
    assert!(
        page.contains(&format!("```rust\n{code}```")),
        "docs/collector.md's copy of process_sockets.rs is stale; regenerate with: {}",
        planet::cli::docs::REGENERATE
    );
    let registry = std::fs::read_to_string(format!("{root}/src/collectors/mod.rs")).unwrap();
    let line = "    process_sockets: ProcessSockets,\n";
    assert!(registry.contains(line) && page.contains(line));
}

/// A collector as `docs/collector.md` tells a user to write one: its own
/// flag, and one family declared in its own file.
const HELLO: &str = r#"//! Says hello.

use super::collector::{Collector, Input, Needs};
use crate::error::Error;
use crate::exposition::Family;
use crate::schema::{Declared, Label, Spec};

const GREETING: Label = Label {
    name: "greeting",
    help: "What was said.",
};

static HELLO: Spec<1> = Spec::gauge("planet_hello", "A greeting.", [GREETING]);

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

    fn families(&self) -> Vec<Declared> {
        vec![HELLO.declared()]
    }

    fn collect(&mut self, _: &Input) -> Result<Vec<Family>, Error> {
        Ok(vec![HELLO.one([self.greeting.as_str()], 1.0)])
    }
}
"#;

/// A graph format: one line per edge.
const EDGES: &str = r#"//! One line per edge: source, target, port.

use super::Units;
use crate::graph::model::Graph;

pub fn render(graph: &Graph, _: Units) -> String {
    let lines = graph.edges.iter().map(|e| format!("{} {} {}\n", e.source, e.target, e.port));
    lines.collect()
}
"#;

/// Writes `file` into `dir` of the copy and adds `line` after `after` in
/// `dir/mod.rs`: what a user does to add a collector or a graph format.
fn add(copy: &Path, dir: &str, (name, file): (&str, &str), after: &str, line: &str) {
    let dir = copy.join(dir);
    std::fs::write(dir.join(name), file).unwrap();
    let registry = std::fs::read_to_string(dir.join("mod.rs")).unwrap();
    assert!(registry.contains(after), "the registry's last line moved");
    let registry = registry.replacen(after, &format!("{after}{line}"), 1);
    std::fs::write(dir.join("mod.rs"), registry).unwrap();
}

/// `cargo ARGS` in the copy, with a target directory of its own that
/// outlives the test (later runs rebuild only planet itself); must succeed.
fn cargo_in(copy: &Path, args: &[&str]) -> String {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/extension-check");
    let output = std::process::Command::new(cargo)
        .args(args)
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(copy)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "cargo {args:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The promise of `docs/collector.md`, kept: in a copy of planet, a new
/// collector is its file and one registry line, and a new graph format its
/// file and one line of the format list. Nothing else is edited by hand:
/// the one command the docs test names regenerates the man page, the
/// completions and `docs/metrics.md`, and then the unit tests (the docs
/// test among them) pass and both new things work.
#[test]
fn a_new_collector_and_a_new_graph_format_are_a_file_and_a_line_each() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let copy = copy_of_planet(root);
    let copy = copy.path();
    add(
        copy,
        "src/collectors",
        ("hello.rs", HELLO),
        "    wrap: Wrap,\n",
        "    hello: Hello,\n",
    );
    add(
        copy,
        "src/graph/format",
        ("edges.rs", EDGES),
        "    html: Html,\n",
        "    edges: Edges,\n",
    );
    the_docs_command_regenerates_and_the_unit_tests_pass(copy);
    let planet = root.join("target/extension-check/debug/planet");
    the_new_collector_writes_its_family(&planet);
    the_new_format_draws_the_graph(&planet);
}

/// A copy of planet's sources, docs and generated files, in a temporary
/// directory.
fn copy_of_planet(root: &Path) -> tempfile::TempDir {
    let copy = tempfile::tempdir().unwrap();
    for entry in [
        "Cargo.toml",
        "Cargo.lock",
        "README.md",
        "src",
        "benches",
        "examples",
        "man",
        "completions",
        "docs",
    ] {
        let status = std::process::Command::new("cp")
            .arg("-r")
            .arg(root.join(entry))
            .arg(copy.path())
            .status()
            .unwrap();
        assert!(status.success());
    }
    copy
}

/// Step 1: the command the docs test names regenerates the man page, the
/// completions and `docs/metrics.md` (the new family in it); the unit
/// tests pass, and planet builds.
fn the_docs_command_regenerates_and_the_unit_tests_pass(copy: &Path) {
    let rewrote = cargo_in(
        copy,
        &[
            "run",
            "--offline",
            "--locked",
            "--quiet",
            "--example",
            "regen-docs",
        ],
    );
    for file in ["man/planet.1", "docs/metrics.md", "completions/planet.bash"] {
        assert!(rewrote.contains(file), "{file} not regenerated: {rewrote}");
    }
    let metrics = std::fs::read_to_string(copy.join("docs/metrics.md")).unwrap();
    assert!(metrics.contains("| `planet_hello` | gauge | `greeting` | A greeting. |"));
    cargo_in(copy, &["test", "--offline", "--locked", "--quiet", "--lib"]);
    cargo_in(
        copy,
        &[
            "build",
            "--offline",
            "--locked",
            "--quiet",
            "--bin",
            "planet",
        ],
    );
}

/// Step 2: the new collector runs by its name, takes its own flag, and
/// writes its family, and the runner counts it a success.
fn the_new_collector_writes_its_family(planet: &Path) {
    let output = std::process::Command::new(planet)
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
        samples(&text, schema::COLLECTOR_SUCCESS.name),
        ["planet_collector_success{collector=\"hello\"} 1"]
    );
}

/// Step 3: the new graph format draws a host's file, one line per edge.
fn the_new_format_draws_the_graph(planet: &Path) {
    let page = tempfile::NamedTempFile::new().unwrap();
    let host = "planet_host_info{hostname=\"h\"} 1\n\
        planet_upstream{protocol=\"tcp\",process=\"web\",container=\"\",name=\"192.0.2.9\",domain=\"\",addr=\"192.0.2.9\",port=\"443\"} 1\n";
    std::fs::write(page.path(), host).unwrap();
    let output = std::process::Command::new(planet)
        .args(["graph", "--format", "edges", "--files"])
        .arg(page.path())
        .output()
        .unwrap();
    assert_success(&output);
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "svc:h//web ext:192.0.2.9 443\n"
    );
}
