//! Hostile input to the built binary: process names holding every byte,
//! inventory and rules files it must not read, absurd flag values. Each
//! gives a clean file or a one-line error, never a panic. (Its parsers
//! fuzzed one by one are in `hostile.rs`.)

use std::fs;
use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Output;

use planet::schema;

use crate::testenv::*;

/// Sleepers whose `comm` together hold every byte 0x01..=0xff, each owning
/// a listener.
fn hostile_names() -> (Vec<Named>, Vec<u16>) {
    let bytes: Vec<u8> = (1..=255u8).collect();
    let mut holders = Vec::new();
    let mut ports = Vec::new();
    for chunk in bytes.chunks(15) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        ports.push(port_of(listener.local_addr()));
        holders.push(Named::hold_raw(chunk, &[listener.as_raw_fd()]));
    }
    (holders, ports)
}

#[test]
fn every_byte_in_process_names_gives_output_promtool_and_node_exporter_accept() {
    let (_holders, ports) = hostile_names();
    let text = collect_stdout(&[]);
    let ours = samples_on_ports(&text, schema::SERVING.name, &ports);
    assert_eq!(ours.len(), ports.len(), "{text}");
    let all: String = ours.iter().copied().collect();
    for escaped in ["\\n", "\\\"", "\\\\", "/", "\u{fffd}", "\u{7f}"] {
        assert!(all.contains(escaped), "no {escaped:?} in {all}");
    }
    assert_promtool_accepts(&text);
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("planet.prom"), &text).unwrap();
    let Some(metrics) = node_exporter_page(dir.path()) else {
        return;
    };
    assert!(
        metrics.contains("\nnode_textfile_scrape_error 0\n"),
        "{metrics}"
    );
    let served = samples(&metrics, schema::SERVING.name).len();
    assert!(served >= ports.len(), "{metrics}");
}

/// Inventory and rules files planet must not read (huge, truncated,
/// binary, of the wrong types, missing, a directory) each fail the run with
/// one line naming the file and what is wrong, and nothing on stdout.
#[test]
fn hostile_inventory_and_wrap_files_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    for (flag, path, expected) in hostile_files(dir.path()) {
        let output = planet(["collect", "--stdout", "--no-resolve", flag])
            .arg(&path)
            .output()
            .unwrap();
        assert_one_line_error(&output, flag, &path, expected);
    }
}

/// Hostile files made in `dir`, each with the flag that reads it and what
/// its error must say.
fn hostile_files(dir: &Path) -> Vec<(&'static str, PathBuf, &'static str)> {
    let huge = dir.join("huge");
    fs::File::create(&huge)
        .unwrap()
        .set_len(600 * 1024 * 1024)
        .unwrap(); // sparse
    let binary: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    vec![
        ("--inventory", huge.clone(), "larger than 512 MiB"),
        (
            "--inventory",
            write_file(dir, "trunc.json", br#"[{"ip_address": "10.0.0.1", "dom"#),
            "not a JSON array",
        ),
        (
            "--inventory",
            write_file(dir, "bin.json", &binary),
            "line 1, column 1: expected value",
        ),
        (
            "--inventory",
            write_file(dir, "obj.json", br#"{"ip_address": 5}"#),
            "line 1, column 16: invalid type",
        ),
        (
            "--inventory",
            write_file(dir, "arr.json", br#"[1, 2]"#),
            "entry 1: invalid type",
        ),
        (
            "--inventory",
            dir.join("missing.json"),
            "No such file or directory",
        ),
        ("--wrap", huge, "larger than 16 MiB"),
        (
            "--wrap",
            write_file(dir, "trunc.toml", b"[[rule]]\nname = \"a"),
            "line 2, column",
        ),
        (
            "--wrap",
            write_file(dir, "bin.toml", &binary),
            "not UTF-8 text",
        ),
        (
            "--wrap",
            write_file(dir, "type.toml", b"source = 5\n"),
            "invalid type",
        ),
        ("--wrap", dir.to_path_buf(), "not a regular file"),
    ]
}

/// A run given `flag path` failed (exit 1) without a panic, with one line
/// that names the file and says `expected`, and wrote nothing to stdout.
fn assert_one_line_error(output: &Output, flag: &str, path: &Path, expected: &str) {
    assert_no_panic(output);
    let stderr = assert_error_naming(output, path);
    assert!(
        stderr.contains(expected),
        "{flag} {}: {stderr}",
        path.display()
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn absurd_flag_values_never_panic() {
    for (args, status) in [
        (&["--loop", "--interval", "0"][..], 2),
        (&["--loop", "--interval", "99999999999d"][..], 2),
        (&["--max-peers", "0"][..], 0),
        (&["--max-peers", "18446744073709551616"][..], 2),
        (&["--max-peers", "-1"][..], 2),
        (&["--forget-after", "0s"][..], 0),
        (&["--forget-after", "500000000d"][..], 0),
        (&["--dns-timeout", "10000h"][..], 2),
        (&["--exclude-peer", "10.0.0.0/99"][..], 2),
        (&["--exclude-peer", "::/0"][..], 0),
        (&["--file-name", &"x".repeat(5000)][..], 2),
        (&["--dns-server", "999.1.1.1:53"][..], 2),
        (&["--dns-server", "127.0.0.1:99999"][..], 2),
    ] {
        let output = planet(["collect", "--stdout", "--no-resolve"])
            .args(args)
            .output()
            .unwrap();
        assert_no_panic(&output);
        assert_eq!(
            output.status.code(),
            Some(status),
            "{args:?}: {}",
            stderr_of(&output)
        );
    }
}
