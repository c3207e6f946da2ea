//! Trusted as root: what a user who can write the state directory, the
//! inventory's folder or a local exporter's page can do to planet, and what
//! planet does instead (README, Security).

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use planet::schema;

use crate::testenv::*;

/// Generous: each of these runs takes well under a second; the old ones
/// hung forever or for minutes.
const LIMIT: Duration = Duration::from_secs(5);

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success(), "mkfifo {}", path.display());
}

/// One line on stderr, the path and `why`, exit 1.
fn assert_refused(output: &Output, path: &Path, why: &str) {
    assert_eq!(
        assert_error_naming(output, path),
        format!("planet: {}: {why}\n", path.display()),
        "{}",
        path.display()
    );
}

const NOT_REGULAR: &str = "not a regular file (a FIFO, device or directory is never read)";

#[test]
fn fifos_devices_and_directories_are_never_read_as_inventory_or_rules() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    mkfifo(&fifo);
    for flag in ["--inventory", "--wrap"] {
        for path in [fifo.clone(), PathBuf::from("/dev/zero"), dir.path().into()] {
            let mut command = planet(["collect", "--stdout", "--no-resolve", flag]);
            let output = run_within(command.arg(&path), LIMIT);
            assert_refused(&output, &path, NOT_REGULAR);
        }
    }
}

#[test]
fn a_fifo_or_device_as_state_file_or_lock_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo.state");
    mkfifo(&fifo);
    let zero = dir.path().join("zero.state");
    symlink("/dev/zero", &zero).unwrap();
    for state in [&fifo, &zero] {
        let mut command = planet(["collect", "--stdout", "--no-resolve", "--state-file"]);
        let output = run_within(command.arg(state), LIMIT);
        assert_refused(&output, state, NOT_REGULAR);
    }
    // The lock: a FIFO where PATH.lock goes.
    let state = dir.path().join("locked.state");
    let lock = dir.path().join("locked.state.lock");
    mkfifo(&lock);
    let mut command = planet(["collect", "--stdout", "--no-resolve", "--state-file"]);
    let output = run_within(command.arg(&state), LIMIT);
    assert_refused(&output, &lock, NOT_REGULAR);
    assert!(!state.exists());
}

#[test]
fn a_symlinked_lock_is_refused_and_its_target_never_created() {
    let env = TestEnv::new();
    let target = env.state_dir().join("created-by-root");
    let lock = env.state_dir().join("planet.state.lock");
    symlink(&target, &lock).unwrap();
    let output = run_within(&mut env.collect(), LIMIT);
    assert_refused(
        &output,
        &lock,
        "is a symbolic link; refusing to lock through it",
    );
    assert!(!target.exists(), "root created a file through the link");
    assert!(!env.output_file().exists());
}

#[test]
fn a_state_file_over_64_mib_is_set_aside_unread() {
    let env = TestEnv::new();
    let state = env.state_file();
    fs::File::create(&state)
        .unwrap()
        .set_len(65 << 20) // sparse: costs no disk
        .unwrap();
    let output = run_within(&mut env.collect(), LIMIT);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        stderr_of(&output),
        format!(
            "planet: warning: {}: larger than 64 MiB; moved to {}.corrupt and starting fresh\n",
            state.display(),
            state.display()
        )
    );
    assert_eq!(
        fs::metadata(env.state_dir().join("planet.state.corrupt"))
            .unwrap()
            .len(),
        65 << 20
    );
}

/// A rules file whose source is a file: the page `page`, `timeout` 1s.
fn rules_with_file_source(dir: &Path, page: &Path) -> PathBuf {
    let rules = dir.join("wrap.toml");
    let toml = format!(
        "[[source]]\nname = \"page\"\nfile = \"{}\"\ntimeout = \"1s\"\n\n\
         [[rule]]\nname = \"wide\"\nsource = \"page\"\nselect = \"wide\"\nmetric = \"planet_wide\"\n",
        page.display()
    );
    fs::write(&rules, toml).unwrap();
    rules
}

#[test]
fn a_line_of_150000_labels_is_read_within_the_source_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("page.prom");
    let mut line = String::from("wide{");
    for i in 0..150_000 {
        line.push_str(&format!("l{i}=\"v\","));
    }
    line.push_str("} 1\n");
    fs::write(&page, line).unwrap();
    let rules = rules_with_file_source(dir.path(), &page);
    // Before: 11.5 s of CPU in the label parser, whatever the timeout.
    let mut command = planet(["collect", "--stdout", "--collector", "wrap", "--wrap"]);
    let output = run_within(command.arg(&rules), LIMIT);
    assert_success(&output);
    let text = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        samples(&text, schema::WRAP_UP.name),
        ["planet_wrap_up{source=\"page\"} 1"]
    );
    assert_eq!(samples(&text, "planet_wide"), ["planet_wide 1"]);
}

#[test]
fn a_fifo_or_device_as_a_wrap_file_source_is_a_source_that_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo.prom");
    mkfifo(&fifo);
    for page in [fifo.as_path(), Path::new("/dev/zero")] {
        let rules = rules_with_file_source(dir.path(), page);
        let mut command = planet(["collect", "--stdout", "--collector", "wrap", "--wrap"]);
        let output = run_within(command.arg(&rules), LIMIT);
        assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
        let text = String::from_utf8(output.stdout).unwrap();
        assert_eq!(
            samples(&text, schema::WRAP_UP.name),
            ["planet_wrap_up{source=\"page\"} 0"]
        );
    }
}

#[test]
fn a_source_answering_a_redirect_is_down() {
    let port = serve_status("302 Found", "");
    let ok = serve("wide 1\n");
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("wrap.toml");
    fs::write(
        &rules,
        format!(
            "[[source]]\nname = \"moved\"\nurl = \"http://127.0.0.1:{port}/metrics\"\n\n\
             [[source]]\nname = \"fine\"\nurl = \"http://127.0.0.1:{ok}/metrics\"\n"
        ),
    )
    .unwrap();
    let mut command = planet(["collect", "--stdout", "--collector", "wrap", "--wrap"]);
    let output = run_within(command.arg(&rules), LIMIT);
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        samples(&text, schema::WRAP_UP.name),
        [
            "planet_wrap_up{source=\"fine\"} 1",
            "planet_wrap_up{source=\"moved\"} 0"
        ]
    );
}

#[test]
fn no_message_quotes_a_file_planet_was_pointed_at() {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| write_file(dir.path(), name, text.as_bytes());
    let secret = "root:$6$s4lt$very-secret-hash";
    // Shapes of secrets that parse a little way in each format.
    let shadow = file("shadow", &format!("{secret}:19000:0:99999:7:::\n"));
    let as_key = file("key.toml", "root = \"$6$s4lt$very-secret-hash\"\n");
    let as_name = file("name.toml", &format!("[[source]]\nname = \"{secret}\"\n"));
    let as_address = file(
        "inventory.json",
        &format!("[{{\"ip_address\": \"{secret}\"}}]"),
    );
    let as_format = file(
        "planet.state",
        &format!("{{\"format\": \"{secret}\", \"version\": 1}}"),
    );
    let mut runs = Vec::new();
    for rules in [&shadow, &as_key, &as_name] {
        runs.push(planet(["wrap", "check"]).arg(rules).output().unwrap());
        let mut collect = planet(["collect", "--stdout", "--wrap"]);
        runs.push(collect.arg(rules).output().unwrap());
    }
    for inventory in [&shadow, &as_address] {
        let mut collect = planet(["collect", "--stdout", "--no-resolve", "--inventory"]);
        runs.push(collect.arg(inventory).output().unwrap());
    }
    let mut collect = planet(["collect", "--stdout", "--no-resolve", "--state-file"]);
    runs.push(collect.arg(&as_format).output().unwrap());
    for output in runs {
        let stderr = stderr_of(&output);
        assert!(!stderr.is_empty(), "each run has something to say");
        for word in ["root", "s4lt", "secret", "19000"] {
            assert!(!stderr.contains(word), "{word} quoted in: {stderr}");
        }
    }
}

/// 10,500 peers, each a connected UDP socket to its own address of
/// fd00::c:0/112 (local on `lo` of the test's namespace: nothing is sent),
/// held by processes of 3,500 sockets each.
fn ten_thousand_peers(ip: &Path) -> Vec<Named> {
    let status = Command::new(ip)
        .args(["-6", "route", "add", "local", "fd00::c:0/112", "dev", "lo"])
        .status()
        .unwrap();
    assert!(status.success());
    (0..3)
        .map(|batch| {
            let sockets: Vec<std::net::UdpSocket> = (0..3500)
                .map(|i| {
                    let socket = std::net::UdpSocket::bind("[::1]:0").unwrap();
                    let peer = format!("[fd00::c:{:x}]:9", batch * 3500 + i + 1);
                    socket.connect(peer).unwrap();
                    socket
                })
                .collect();
            let fds: Vec<_> = sockets
                .iter()
                .map(std::os::fd::AsRawFd::as_raw_fd)
                .collect();
            Named::hold("many-peers", &fds)
        })
        .collect()
}

#[test]
fn ten_thousand_peers_cost_bounded_state_memory_and_dns_time() {
    let Some(ip) = tool("ip", "iproute2") else {
        return;
    };
    in_own_netns(move || {
        let _holders = ten_thousand_peers(&ip);
        let env = TestEnv::new();
        // Only this namespace: other tests' peers would count too.
        let (code, rss_kib, _) = run_measured(env.collect().args(["--netns", "own"]));
        assert_eq!(code, Some(0));
        let text = fs::read_to_string(env.output_file()).unwrap();
        let upstream = samples(&text, schema::UPSTREAM.name);
        assert_eq!(upstream.len(), 1001, "1,000 peers and `other`");
        assert!(
            upstream.contains(&"planet_upstream{protocol=\"udp\",process=\"many-peers\",container=\"\",name=\"other\",domain=\"\",addr=\"\",port=\"9\"} 9500"),
            "{upstream:?}"
        );
        assert!(
            text.contains("planet_peers_folded{family=\"upstream\"} 9500\n"),
            "{}",
            samples(&text, schema::PEERS_FOLDED.name).join("\n")
        );
        // The state holds at most 10,000 series; the other 500 peers are
        // one `other` series there. (Before: every peer, 11 MB at 65,537.)
        let state = fs::read_to_string(env.state_file()).unwrap();
        assert_eq!(state.matches("\"side\":\"upstream\"").count(), 10_000);
        // What else it holds is one row per open socket (each is counted
        // once as a connection): bounded by the kernel, not by history.
        assert!(state.len() < 4 << 20, "state of {} bytes", state.len());
        // Generous bounds; the bench measures (before: 81 MB at 65,537).
        assert!(rss_kib < 64 << 10, "peak RSS {rss_kib} KiB");

        // A DNS server that never answers: the budget holds for all peers.
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let dns = silent.local_addr().unwrap().to_string();
        let mut command = planet([
            "collect",
            "--stdout",
            "--netns",
            "own",
            "--max-peers",
            "10000",
        ]);
        command.args(["--dns-server", &dns, "--dns-timeout", "1s"]);
        let (code, _, took) = run_measured(&command);
        assert_eq!(code, Some(0));
        assert!(
            took < Duration::from_secs(4),
            "took {took:?} on a 1s budget"
        );
    });
}

#[test]
fn max_peers_has_an_upper_bound() {
    let output = planet(["collect", "--stdout", "--max-peers", "1000000"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = stderr_of(&output);
    assert!(
        stderr.starts_with(
            "error: invalid value '1000000' for '--max-peers <N>': must be at most 10000"
        ),
        "{stderr}"
    );
}
