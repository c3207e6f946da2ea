//! Real tools to compare planet against (ss, promtool, node_exporter), and
//! the rule for a missing one: skip with a reason, or fail under
//! `PLANET_REQUIRE_TOOLS=1` (CI).

use std::collections::BTreeSet;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::holders::free_port;
use super::prometheus::textfile_exporter;
use super::{wait_for, Running};

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
    let mut check = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut check.stdin.take().unwrap(), text.as_bytes()).unwrap();
    let result = check.wait_with_output().unwrap();
    assert!(
        result.status.success() && result.stdout.is_empty() && result.stderr.is_empty(),
        "promtool: {}{}\n{text}",
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr)
    );
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
