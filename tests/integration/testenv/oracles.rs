//! Real tools to compare planet against (ss, promtool, node_exporter,
//! Graphviz, Chromium and ImageMagick), and the rule for a missing one:
//! skip with a reason, or fail under `PLANET_REQUIRE_TOOLS=1` (CI).

use std::collections::BTreeSet;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use super::holders::free_port;
use super::prometheus::textfile_exporter;
use super::{run_within, wait_for, Running};

/// A program on PATH, or in the sbin directories a non-root PATH may lack.
pub fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(tool))
        .find(|p| p.is_file())
}

/// Whether CI asked for every tool: then a missing one fails the test.
pub fn tools_required() -> bool {
    std::env::var_os("PLANET_REQUIRE_TOOLS").is_some_and(|v| v == "1")
}

/// Skips (returns None, printing why) or, under PLANET_REQUIRE_TOOLS=1, fails.
pub fn skip_or_fail<T>(reason: &str) -> Option<T> {
    if tools_required() {
        panic!("PLANET_REQUIRE_TOOLS=1 but {reason}");
    }
    eprintln!("SKIPPED: {reason}");
    None
}

/// Root, or a skip saying what needs it (a failure under
/// PLANET_REQUIRE_TOOLS=1).
pub fn need_root(what: &str) -> Option<()> {
    // SAFETY: geteuid cannot fail.
    match unsafe { libc::geteuid() } {
        0 => Some(()),
        _ => skip_or_fail(&format!("{what} needs root")),
    }
}

/// setpriv(1), to run planet with less than root's privileges: a skip
/// without root, saying what needs it, or without setpriv.
pub fn setpriv(what: &str) -> Option<PathBuf> {
    need_root(what)?;
    tool("setpriv", "util-linux")
}

/// A tool from PATH, or a skip with the Debian package that provides it.
pub fn tool(name: &str, package: &str) -> Option<PathBuf> {
    match which(name) {
        Some(path) => Some(path),
        None => skip_or_fail(&format!(
            "{name} is not installed (Debian package {package})"
        )),
    }
}

/// The sockets `ss -Htuln` lists (`-Htulnp`: with their owners' names):
/// protocol, local address (unbracketed, `*` as `::`), port, owners.
pub fn ss_listening(text: &str) -> BTreeSet<(String, String, String, Vec<String>)> {
    text.lines()
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (addr, port) = fields[4].rsplit_once(':').unwrap();
            let addr = addr.trim_start_matches('[').trim_end_matches(']');
            let addr = if addr == "*" { "::" } else { addr }.to_string();
            // users:(("name",pid=1,fd=3),("other",pid=2,fd=3))
            let names = line
                .split("(\"")
                .skip(1)
                .filter_map(|s| s.split_once("\",pid=").map(|(name, _)| name.to_string()))
                .collect();
            (fields[0].to_string(), addr, port.to_string(), names)
        })
        .collect()
}

/// Asserts that `promtool check metrics` accepts `text` without a word (a
/// lint complaint fails too); skips when promtool is missing.
pub fn assert_promtool_accepts(text: &str) {
    let Some(promtool) = tool("promtool", "prometheus") else {
        return;
    };
    let result = fed(
        Command::new(promtool).args(["check", "metrics"]),
        text.as_bytes(),
    );
    assert!(
        result.status.success() && result.stdout.is_empty() && result.stderr.is_empty(),
        "promtool: {}{}\n{text}",
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr)
    );
}

/// Asserts that Graphviz (`dot -Tsvg`) draws `dot` into an SVG without a
/// word of complaint; skips when Graphviz is missing.
pub fn assert_graphviz_draws(dot: &[u8]) {
    let Some(graphviz) = tool("dot", "graphviz") else {
        return;
    };
    let svg = fed(Command::new(graphviz).arg("-Tsvg"), dot);
    assert!(
        svg.status.success() && svg.stderr.is_empty(),
        "dot: {}",
        String::from_utf8_lossy(&svg.stderr)
    );
    assert!(String::from_utf8_lossy(&svg.stdout).contains("<svg"));
}

/// Runs `command` with `input` on its stdin: all it wrote.
fn fed(command: &mut Command, input: &[u8]) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {command:?}: {e}"));
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), input).unwrap();
    child.wait_with_output().unwrap()
}

/// Headless Chromium (`program`, found with [`tool`]), its profile in
/// `profile` (a directory the caller keeps while it runs), with no
/// sandbox, GPU, first-run page or fetching in the background.
pub fn headless_chromium(program: &Path, profile: &Path) -> Command {
    let mut command = Command::new(program);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()));
    command
}

/// Headless Chromium draws the page file `page` to `png` in a window of
/// (width, height) pixels, and the picture is more than a blank canvas
/// (ImageMagick counts its colours). None (a skip) when either tool is
/// missing.
pub fn assert_renders_non_blank(
    page: &Path,
    png: &Path,
    (width, height): (u32, u32),
) -> Option<()> {
    let chromium = tool("chromium", "chromium")?;
    let identify = tool("identify", "imagemagick")?;
    let profile = tempfile::tempdir().unwrap();
    let output = run_within(
        headless_chromium(&chromium, profile.path())
            .arg(format!("--screenshot={}", png.display()))
            .arg(format!("--window-size={width},{height}"))
            .arg(format!("file://{}", page.display())),
        Duration::from_secs(120),
    );
    assert!(
        output.status.success() && png.exists(),
        "chromium made no screenshot"
    );
    let colours = Command::new(identify)
        .args(["-format", "%k"])
        .arg(png)
        .output()
        .unwrap();
    let colours: u64 = String::from_utf8_lossy(&colours.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    assert!(colours > 20, "a blank page: {colours} colours");
    Some(())
}

/// A real node_exporter reading `dir` as its textfile directory, scraped
/// once on a loopback port: its /metrics page. None (a skip) when it is not
/// installed.
pub fn node_exporter_page(dir: &Path) -> Option<String> {
    let node_exporter = tool("prometheus-node-exporter", "prometheus-node-exporter")?;
    let web = free_port();
    let mut exporter = Running::default();
    exporter.start(&mut textfile_exporter(
        &node_exporter,
        dir,
        &format!("127.0.0.1:{web}"),
    ));
    let mut page = String::new();
    let up = wait_for(Duration::from_secs(20), || {
        page = http_get(web, "/metrics").unwrap_or_default();
        page.contains("node_textfile_scrape_error")
    });
    drop(exporter);
    assert!(up, "node_exporter did not answer: {page}");
    Some(page)
}

/// A GET on a loopback port: the whole answer, headers and body.
pub fn http_get(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut body = String::new();
    stream.read_to_string(&mut body).ok()?;
    Some(body)
}
