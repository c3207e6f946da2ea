//! What a run says about network namespaces: how many it read, how many it
//! skipped and why, and the one warning line that says so.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::Duration;

use planet::schema::{self, label};

use super::{label_value, samples, wait_for};

/// Why planet may skip a network namespace: one
/// `planet_network_namespaces_skipped{reason}` series each, always present.
pub const REASONS: [&str; 5] = ["failed", "hidden", "no_privilege", "out_of_fds", "vanished"];

/// A run's budget: generous, as many namespaces are read on a busy machine.
pub const RUN_LIMIT: Duration = Duration::from_secs(30);

/// A sample's value, the last field of its line.
pub fn value(line: &str) -> f64 {
    let (_, value) = line.rsplit_once(' ').expect("a sample line");
    value
        .parse()
        .unwrap_or_else(|_| panic!("not a number: {line}"))
}

/// What one run says about network namespaces: how many it read
/// (`planet_network_namespaces`), and how many it skipped, by reason
/// (`planet_network_namespaces_skipped`).
#[derive(Debug)]
pub struct NamespaceCounts {
    pub read: u64,
    pub skipped: BTreeMap<String, u64>,
}

impl NamespaceCounts {
    pub fn of(text: &str) -> NamespaceCounts {
        let family = schema::NETWORK_NAMESPACES.name;
        let read = samples(text, family)
            .first()
            .map(|line| value(line) as u64)
            .unwrap_or_else(|| panic!("no {family} in\n{text}"));
        let skipped = samples(text, schema::NETWORK_NAMESPACES_SKIPPED.name)
            .into_iter()
            .map(|line| {
                let reason = label_value(line, label::REASON).unwrap_or_default();
                (reason.to_string(), value(line) as u64)
            })
            .collect();
        NamespaceCounts { read, skipped }
    }

    pub fn total_skipped(&self) -> u64 {
        self.skipped.values().sum()
    }

    pub fn skipped(&self, reason: &str) -> u64 {
        self.skipped.get(reason).copied().unwrap_or(0)
    }
}

/// Asserts that a run said all it skipped: a
/// `planet_network_namespaces_skipped` series for every reason (0 when
/// none), and exactly one warning line about network namespaces,
/// `planet: warning: N network namespaces not read ...`, naming their total
/// and each reason that has some; no such line when it skipped none.
pub fn assert_skips_said(counts: &NamespaceCounts, stderr: &str) {
    let reasons: Vec<&str> = counts.skipped.keys().map(String::as_str).collect();
    assert_eq!(
        reasons, REASONS,
        "one planet_network_namespaces_skipped series per reason, always; stderr: {stderr}"
    );
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("network namespace"))
        .collect();
    let total = counts.total_skipped();
    if total == 0 {
        assert!(warnings.is_empty(), "nothing skipped, yet: {stderr}");
        return;
    }
    assert_eq!(
        warnings.len(),
        1,
        "one warning line for {total} skipped namespaces ({:?}): {stderr}",
        counts.skipped
    );
    let line = warnings[0];
    assert!(
        line.starts_with(&format!("planet: warning: {total} network namespace"))
            && line.contains(" not read"),
        "the warning names the {total} skipped ({:?}): {line}",
        counts.skipped
    );
    for (reason, _) in counts.skipped.iter().filter(|(_, &n)| n > 0) {
        assert!(
            line.contains(reason.as_str()) || line.contains(&reason.replace('_', " ")),
            "the warning names the reason {reason} ({:?}): {line}",
            counts.skipped
        );
    }
}

/// Everything a pipe gives until it closes, read on a thread of its own.
pub fn drain(mut pipe: impl std::io::Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        bytes
    })
}

/// Runs `command` to its end within [`RUN_LIMIT`] (killed and failed
/// otherwise, naming what it said on stderr): its exit code, its output as
/// text, and what it said on stderr.
pub fn collect_once(command: &mut Command) -> (Option<i32>, String, String) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn planet");
    // Drained meanwhile: a large output must not stall the run.
    let stdout = drain(child.stdout.take().unwrap());
    let stderr = drain(child.stderr.take().unwrap());
    let mut status = None;
    let ended = wait_for(RUN_LIMIT, || {
        status = child.try_wait().expect("wait for planet");
        status.is_some()
    });
    if !ended {
        let _ = child.kill();
        let _ = child.wait();
    }
    let stderr = String::from_utf8_lossy(&stderr.join().unwrap()).into_owned();
    assert!(ended, "still running after {RUN_LIMIT:?}; stderr: {stderr}");
    let text = String::from_utf8(stdout.join().unwrap()).expect("output is UTF-8");
    (status.and_then(|s| s.code()), text, stderr)
}
