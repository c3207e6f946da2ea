//! What planet hands to node_exporter: a file promtool and node_exporter
//! accept, written atomically, and nothing at all when something is wrong.

use std::ffi::OsStr;
use std::fs;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use planet::schema;

use crate::testenv::*;

/// A listener owned by a process whose name holds a quote, a backslash, a
/// line feed and a byte that is not UTF-8.
fn hostile_listener() -> (Named, u16) {
    let (listener, port) = loopback_listener();
    let name = OsStr::from_bytes(b"q\"b\\n\nx\xffy");
    (Named::hold(name, &[listener.as_raw_fd()]), port)
}

#[test]
fn hostile_process_names_are_escaped_and_made_utf8() {
    let (_holder, port) = hostile_listener();
    let text = collect_stdout(&[]);
    assert_eq!(
        samples_on_ports(&text, schema::SERVING.name, &[port]).into_iter().collect::<Vec<_>>(),
        [format!(
            "planet_serving{{protocol=\"tcp\",name=\"q\\\"b\\\\n\\nx\u{fffd}y\",container=\"\",addr=\"127.0.0.1\",port=\"{port}\"}} 1"
        )]
    );
}

#[test]
fn promtool_accepts_the_output() {
    let (_holder, _) = hostile_listener();
    assert_promtool_accepts(&collect_stdout(&[]));
}

#[test]
fn node_exporter_reads_the_file() {
    let env = TestEnv::new();
    let (_holder, port) = hostile_listener();
    let output = env.collect().output().unwrap();
    assert_success(&output);
    let Some(metrics) = node_exporter_page(env.out()) else {
        return;
    };
    assert!(
        metrics.contains("\nnode_textfile_scrape_error 0\n"),
        "{metrics}"
    );
    // node_exporter sorts labels by name when it re-exposes them.
    let line = format!(
        "\nplanet_serving{{addr=\"127.0.0.1\",container=\"\",name=\"q\\\"b\\\\n\\nx\u{fffd}y\",port=\"{port}\",protocol=\"tcp\"}} 1\n"
    );
    assert!(metrics.contains(&line), "missing {line} in:\n{metrics}");
    assert!(
        metrics.contains("\nplanet_build_info{version=\""),
        "{metrics}"
    );
}

#[test]
fn without_a_destination_it_says_to_pass_one() {
    let output = planet(["collect"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains("--out") && stderr.contains("--stdout"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn out_and_stdout_together_are_a_usage_error() {
    let output = planet(["collect", "--stdout", "--out", "/tmp"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr_of(&output).contains("--stdout"),
        "{}",
        stderr_of(&output)
    );
}

#[test]
fn bad_flag_values_are_usage_errors_naming_the_value() {
    for (args, value) in [
        (
            &["collect", "--stdout", "--loop", "--interval", "5x"][..],
            "5x",
        ),
        (
            &["collect", "--stdout", "--loop", "--interval", "0s"][..],
            "0s",
        ),
        (&["collect", "--stdout", "--interval", "1s"][..], "--loop"),
        (
            &["collect", "--out", "/tmp", "--file-name", "planet.txt"][..],
            "planet.txt",
        ),
        (
            &["collect", "--out", "/tmp", "--file-name", "../x.prom"][..],
            "../x.prom",
        ),
        (
            &["collect", "--stdout", "--no-collector", "nope"][..],
            "nope",
        ),
    ] {
        let output = planet(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let first = stderr_of(&output).lines().next().unwrap_or("").to_string();
        assert!(first.contains(value), "{args:?}: {first}");
    }
}

#[test]
fn a_missing_directory_fails_the_run_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("not-there");
    let env = TestEnv::with_out(&missing);
    let output = env.collect().output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr_of(&output),
        format!("planet: {}: No such file or directory\n", missing.display())
    );
    assert!(!missing.exists());
    assert_eq!(
        list_dir(dir.path()),
        Vec::<String>::new(),
        "nothing touched, not even the state"
    );
}

/// Runs planet unable to write `dir`: as another user when we are root
/// (root ignores permission bits), else with the directory made read-only.
/// The state file goes to `state`, which that user may write.
fn collect_into_unwritable(dir: &Path, state: &Path) -> Option<Output> {
    fs::set_permissions(state, fs::Permissions::from_mode(0o777)).unwrap();
    let is_root = unsafe { libc::geteuid() } == 0;
    let mut command = if is_root {
        let setpriv = tool("setpriv", "util-linux")?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
        let mut c = Command::new(setpriv);
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", PLANET]);
        c
    } else {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o555)).unwrap();
        Command::new(PLANET)
    };
    let output = command
        .args(["collect", "--no-resolve", "--out"])
        .arg(dir)
        .arg("--state-file")
        .arg(state.join("planet.state"))
        .output()
        .unwrap();
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
    Some(output)
}

#[test]
fn an_unwritable_directory_fails_and_leaves_the_previous_file() {
    let parent = tempfile::tempdir().unwrap();
    fs::set_permissions(parent.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let dir = parent.path().join("textfile");
    fs::create_dir(&dir).unwrap();
    let previous = "# previous run\nplanet_build_info{version=\"0\"} 1\n";
    fs::write(dir.join("planet.prom"), previous).unwrap();

    let state = tempfile::tempdir().unwrap();
    let Some(output) = collect_into_unwritable(&dir, state.path()) else {
        return;
    };
    assert_eq!(output.status.code(), Some(1), "{}", stderr_of(&output));
    // As another user it may also warn, once each, that some names and
    // some network namespaces are hidden from it.
    let stderr = stderr_of(&output);
    let error = stderr.lines().last().unwrap_or("");
    assert!(
        error.starts_with(&format!("planet: {}", dir.display())),
        "{stderr}"
    );
    assert!(error.contains("Permission denied"), "{stderr}");
    assert!(stderr.lines().count() <= 3, "{stderr}");
    assert_eq!(
        fs::read_to_string(dir.join("planet.prom")).unwrap(),
        previous
    );
    assert_eq!(list_dir(&dir), ["planet.prom"]);
}

#[test]
fn the_file_is_mode_0644_whatever_the_umask() {
    let env = TestEnv::new();
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "umask 077 && exec '{PLANET}' collect --out '{}' --state-file '{}/planet.state'",
            env.out().display(),
            env.state_dir().display()
        ))
        .output()
        .unwrap();
    assert_success(&output);
    let mode = fs::metadata(env.output_file())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644);
    assert_eq!(list_dir(env.out()), ["planet.prom"]);
}

#[test]
fn loop_rewrites_the_file_and_stops_cleanly_on_sigterm() {
    let env = TestEnv::new();
    let mut child = env
        .collect()
        .args(["--loop", "--interval", "100ms", "--file-name", "x.prom"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let file = env.out().join("x.prom");
    let stamp = || collect_timestamp(&file);
    assert!(
        wait_for(Duration::from_secs(10), || stamp().is_some()),
        "no first write"
    );
    let first = stamp();
    assert!(
        wait_for(Duration::from_secs(10), || stamp() != first),
        "no second write"
    );

    let (code, stderr) = terminate(&mut child);
    assert_eq!(code, Some(0));
    assert_eq!(stderr, "");
    let text = fs::read_to_string(&file).unwrap();
    assert!(
        text.ends_with('\n') && text.contains("planet_loop_failures_total 0\n"),
        "{text}"
    );
    assert_eq!(list_dir(env.out()), ["x.prom"]);
}

/// `planet ... | head -1`: a reader that leaves early is no failure, for
/// any command that prints.
#[test]
fn a_closed_stdout_is_success_for_every_command() {
    for args in [
        &["completions", "bash"][..],
        &["man"],
        &["collect", "--stdout", "--no-resolve"],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader); // every write now fails with EPIPE
        let output = planet(args).stdout(writer).output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{args:?}");
        assert_eq!(stderr_of(&output), "", "{args:?}");
    }
}

/// What a newcomer meets first: each message's first line says what to do.
#[test]
fn usage_messages_name_the_flag_or_variable_to_change() {
    let first_line = |output: &Output| stderr_of(output).lines().next().unwrap_or("").to_string();
    let output = planet(["collect"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        first_line(&output),
        "error: pass --out DIR (or set PLANET_OUT) to write the textfile, or --stdout to print it"
    );
    let output = planet(["collect", "--stdout"])
        .env("PLANET_OUT", "/var/lib/node_exporter/textfile")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        first_line(&output),
        "error: --stdout cannot be used with --out, which PLANET_OUT=/var/lib/node_exporter/textfile sets; unset PLANET_OUT to print"
    );
    // The collect command's usage, not the top level's.
    let output = planet(["collect", "--stdout", "--interval", "5s"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = stderr_of(&output);
    assert_eq!(
        first_line(&output),
        "error: --interval is only used with --loop"
    );
    assert!(
        stderr.contains("Usage: planet collect --out DIR [OPTIONS]"),
        "{stderr}"
    );
}

/// Not root, writing where it may, but with the default state path: the
/// message says how to keep the state elsewhere.
#[test]
fn a_default_state_path_it_may_not_write_points_to_state_file() {
    let Some(setpriv) = setpriv("running planet as nobody") else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    fs::set_permissions(out.path(), fs::Permissions::from_mode(0o777)).unwrap();
    let output = Command::new(setpriv)
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", PLANET])
        .args(["collect", "--no-resolve", "--out"])
        .arg(out.path())
        .env_remove("STATE_DIRECTORY")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = stderr_of(&output);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("planet: /var/lib/planet"), "{stderr}");
    assert!(
        stderr.ends_with(
            ": Permission denied (planet keeps its state there by default; pass --state-file PATH to keep it elsewhere)\n"
        ),
        "{stderr}"
    );
    assert_eq!(list_dir(out.path()), Vec::<String>::new());
}
