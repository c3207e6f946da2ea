//! The state file that keeps the counters between runs: one run at a
//! time (a lock, waited for, then given up naming it), a corrupt file set
//! aside with one warning, and a file from another boot, whose socket
//! cookies mean nothing now. No counter goes back or counts twice.

use std::fs;
use std::os::fd::AsRawFd;
use std::process::Stdio;

use crate::dependencies::{connect, dependency_series, is_bytes};
use crate::testenv::*;

#[test]
fn an_overlapping_run_waits_for_the_lock_then_gives_up_naming_it() {
    let env = TestEnv::new();
    let (listener, port) = loopback_listener();
    let (mut client, mut server) = connect(&listener, None);
    transfer(&mut client, &mut server, 3000, 40);
    env.collect_ok(&[]);
    let counted = dependency_series(&fs::read_to_string(env.output_file()).unwrap(), port);
    let state_file = env.state_file();
    let before = (
        fs::read(&state_file).unwrap(),
        fs::read(env.output_file()).unwrap(),
    );

    // Another run holds the lock (as a slow run would).
    let lock_file = env.state_dir().join("planet.state.lock");
    let lock = fs::File::open(&lock_file).unwrap();
    assert_eq!(unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) }, 0);
    let output = env.collect().output().unwrap();
    assert_eq!(
        assert_error_naming(&output, &lock_file),
        format!(
            "planet: {}.lock: locked by another planet run; gave up after 5s\n",
            state_file.display()
        )
    );
    let after = (
        fs::read(&state_file).unwrap(),
        fs::read(env.output_file()).unwrap(),
    );
    assert!(before == after, "state or output changed");

    // Two runs at once: the second waits its turn; both succeed.
    drop(lock);
    let runs: Vec<_> = (0..2)
        .map(|_| env.collect().stderr(Stdio::piped()).spawn().unwrap())
        .collect();
    for run in runs {
        assert_success(&run.wait_with_output().unwrap());
    }
    // The state is intact and no counter went back (or counted twice).
    let text = collect_stdout(&["--state-file", state_file.to_str().unwrap()]);
    assert_eq!(dependency_series(&text, port), counted);
    assert!(counted.values().any(|&v| v == 3000), "{counted:?}");
}

#[test]
fn a_corrupt_state_file_is_set_aside_with_one_warning() {
    let env = TestEnv::new();
    let state_file = env.state_file();
    fs::write(&state_file, b"\x00\x01 not json").unwrap();
    let output = env.collect().output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "planet: warning: {}: not a planet state file",
            state_file.display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("planet.state.corrupt"), "{stderr}");
    assert_eq!(
        fs::read(env.state_dir().join("planet.state.corrupt")).unwrap(),
        b"\x00\x01 not json"
    );
    // The fresh state is valid: the next run is silent.
    assert_success(&env.collect().output().unwrap());
}

/// Socket cookies restart at boot; the state file does not. A socket of
/// this boot that reuses a cookie of the last one must count in full, not
/// have the old socket's counters subtracted.
#[test]
fn a_state_from_another_boot_counts_this_boots_sockets_in_full() {
    in_own_netns(|| {
        let env = TestEnv::new();
        let (listener, port) = loopback_listener();
        let (mut client, mut server) = connect(&listener, None);
        env.collect_ok(&[]);

        // Make the state one of another boot, whose socket with this cookie
        // had moved 5,000,000 bytes each way into a series that totals 7.
        let path = env.state_file();
        let mut state: serde_json::Value =
            serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        state["boot_id"] = "00000000-0000-4000-8000-000000000000".into();
        for cookie in state["cookies"].as_array_mut().unwrap() {
            cookie[2] = 5_000_000.into();
            cookie[3] = 5_000_000.into();
        }
        for series in state["series"].as_array_mut().unwrap() {
            series[1]["bytes"]["sent"] = 7.into();
            series[1]["bytes"]["received"] = 7.into();
        }
        fs::write(&path, serde_json::to_vec(&state).unwrap()).unwrap();

        transfer(&mut client, &mut server, 1_000_000, 1_000_000);
        env.collect_ok(&[]);
        let text = fs::read_to_string(env.output_file()).unwrap();
        let bytes: Vec<u64> = dependency_series(&text, port)
            .into_iter()
            .filter(|(series, _)| is_bytes(series))
            .map(|(_, value)| value)
            .collect();
        // Upstream out and in, downstream in and out: the old total plus
        // everything this boot's socket moved.
        assert_eq!(bytes, [1_000_007; 4], "{text}");
    });
}
