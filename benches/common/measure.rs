//! Timing one run of a program as the kernel accounts for it: wall time,
//! and peak RSS from `wait4`, which std's `wait` does not return.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub struct Measure {
    pub wall: Duration,
    pub max_rss_kib: i64,
}

/// Runs a command to completion (output discarded), which must succeed.
// The child is reaped by wait4, which std cannot see, to get its rusage.
#[allow(clippy::zombie_processes)]
pub fn measure(program: &str, args: &[&str]) -> Measure {
    let start = Instant::now();
    let child = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut status = 0;
    // SAFETY: rusage is plain data filled by the kernel; the child is ours.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    assert_eq!(rc, pid, "wait4");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{program} failed"
    );
    Measure {
        wall,
        max_rss_kib: usage.ru_maxrss,
    }
}

pub fn median<T: Copy + Ord>(mut values: Vec<T>) -> T {
    values.sort();
    values[values.len() / 2]
}

/// User and system CPU time of a process so far, from `/proc/PID/stat`
/// (utime and stime, fields 14 and 15: 11 and 12 after the name); 0 once
/// it is gone.
#[allow(dead_code)] // not every bench watches a running process
pub fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // SAFETY: sysconf has no preconditions.
    (field(11) + field(12)) as f64 / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

/// The machine's 1-minute load average: other work shares these cores.
#[allow(dead_code)] // not every bench reports the load
pub fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(String::from))
        .unwrap_or_default()
}

/// A number from `/proc/PID/status` (kB for memory).
#[allow(dead_code)] // not every bench watches a running process
pub fn status_field(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
