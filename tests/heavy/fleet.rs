//! A fleet of network namespaces, each with a process living in it: what a
//! host of a thousand containers looks like to planet's census (one
//! `/proc/PID/ns/net` each), without a container runtime.
//!
//! The fleet lives in a pid namespace of its own (`unshare --pid --fork
//! --kill-child`), whose first process starts every `unshare --net sleep`:
//! a small shell forks them faster than a big test process could, and its
//! end takes every sleeper with it, when the fleet is dropped (even by a
//! panicking test) or when the test process dies.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::testenv::{need_root, tool, wait_for};

/// The fleet's first process: `$1` sleepers, each in a network namespace
/// of its own, then waits for them (`sleep 600`: the bound should the
/// fleet's end be missed).
const START: &str = r#"
    i=0
    while [ "$i" -lt "$1" ]; do
        unshare --net sleep 600 &
        i=$((i + 1))
    done
    wait
"#;

pub struct Fleet {
    /// `unshare`, whose child is the pid namespace's first process.
    unshare: Child,
    /// That first process's pid, as this test sees it.
    first: Option<u32>,
    namespaces: usize,
}

impl Fleet {
    /// `n` network namespaces of their own, each with a `sleep` living in
    /// it, all started once this returns. None (a skip, or a failure under
    /// PLANET_REQUIRE_TOOLS=1) without root or unshare(1).
    pub fn of(n: usize) -> Option<Fleet> {
        need_root("making network namespaces")?;
        let unshare = tool("unshare", "util-linux")?;
        let child = Command::new(unshare)
            .args(["--pid", "--fork", "--kill-child", "sh", "-c", START, "sh"])
            .arg(n.to_string())
            .stdin(Stdio::null())
            // Its last words, when killed: "sigprocmask unblock failed".
            .stderr(Stdio::null())
            .spawn()
            .expect("start the fleet");
        let mut fleet = Fleet {
            unshare: child,
            first: None,
            namespaces: n,
        };
        let unshare = fleet.unshare.id();
        let found = wait_for(Duration::from_secs(10), || {
            fleet.first = children(unshare).first().copied();
            fleet.first.is_some()
        });
        assert!(found, "unshare started no process");
        let first = fleet.first.unwrap();
        let mut sleeping = 0;
        let started = wait_for(Duration::from_secs(60), || {
            let sleepers = children(first);
            sleeping = sleepers.iter().filter(|&&pid| is_sleep(pid)).count();
            sleeping == n
        });
        assert!(started, "{sleeping} of {n} namespaces made in 60 s");
        Some(fleet)
    }

    /// How many namespaces the fleet has (one process in each).
    pub fn namespaces(&self) -> usize {
        self.namespaces
    }
}

/// The children of a single-threaded process.
fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Whether the process has exec'd `sleep`: after `unshare --net`, so in a
/// network namespace of its own.
fn is_sleep(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|comm| comm == "sleep\n")
}

impl Drop for Fleet {
    fn drop(&mut self) {
        // The first process's end kills every process of its pid namespace,
        // and it ends only once they have; unshare ends after it.
        match self.first {
            // SAFETY: a signal to the fleet's own first process, which is
            // still there: unshare has not reaped it.
            Some(first) => unsafe {
                libc::kill(first as i32, libc::SIGKILL);
            },
            // --kill-child: unshare's end kills it.
            None => {
                let _ = self.unshare.kill();
            }
        }
        let _ = self.unshare.wait();
    }
}
