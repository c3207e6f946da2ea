//! Runs a program as an orphan this process adopts, for its own peak RSS.
//!
//! A child forked or vforked from this process would carry this process's
//! high-water RSS across `exec` into its `ru_maxrss` (the kernel keeps the
//! larger of the old and new address spaces' marks), and a bench holds its
//! inputs in memory. So `sh` starts the program in the background and
//! exits; this process, a child subreaper, adopts it and reaps it with
//! `wait4`.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::measure::cpu_seconds;

/// Makes this process the reaper of its orphaned descendants.
pub fn become_subreaper() {
    // SAFETY: a flag of this process.
    assert_eq!(
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) },
        0
    );
}

/// One run: wall time, and the kernel's account of the process.
#[derive(Clone, Copy)]
pub struct Run {
    pub wall: Duration,
    pub max_rss_kib: i64,
    pub cpu: Duration,
    /// The store's CPU time over the run, for `--prometheus`.
    pub store_cpu: f64,
}

pub enum Outcome {
    Done(Run),
    Failed(String),
    TimedOut,
}

/// Runs `program args` to completion, or kills it after `cap`, as an orphan
/// of `sh` that this process (a child subreaper) adopts and reaps: its peak
/// RSS is then its own (see the top of this file). `store` is a process
/// whose CPU time over the run is wanted too.
// The process is reaped by wait4, which std cannot see, to get its rusage.
#[allow(clippy::zombie_processes)]
pub fn run(
    program: &str,
    args: &[String],
    cap: Duration,
    err: &Path,
    store: Option<u32>,
) -> Outcome {
    let store_before = store.map_or(0.0, cpu_seconds);
    let started = Instant::now();
    let output = Command::new("sh")
        .args([
            "-c",
            "err=$1; shift; \"$@\" </dev/null >/dev/null 2>\"$err\" & echo $!",
            "sh",
        ])
        .arg(err)
        .arg(program)
        .args(args)
        .output()
        .expect("run sh");
    let pid: libc::pid_t = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .expect("sh printed the pid");
    // SAFETY: a pidfd for a process that is ours to reap: it cannot go
    // (nor its pid be reused) until we wait for it.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as libc::c_int;
    assert!(pidfd >= 0, "pidfd_open");
    let mut timed_out = false;
    loop {
        let left = cap.saturating_sub(started.elapsed());
        let mut poll = libc::pollfd {
            fd: pidfd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut poll, 1, left.as_millis() as libc::c_int) };
        if n > 0 {
            break;
        }
        if n == 0 {
            // SAFETY: our unreaped child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            timed_out = true;
            break;
        }
    }
    let mut status = 0;
    // SAFETY: rusage is plain data the kernel fills; the process is ours.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::wait4(pid, &mut status, 0, &mut usage) }, pid);
    let wall = started.elapsed();
    // SAFETY: our fd.
    unsafe { libc::close(pidfd) };
    if timed_out {
        return Outcome::TimedOut;
    }
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        let why = std::fs::read_to_string(err).unwrap_or_default();
        let code = match libc::WIFEXITED(status) {
            true => format!("exit {}", libc::WEXITSTATUS(status)),
            false => format!("signal {}", libc::WTERMSIG(status)),
        };
        return Outcome::Failed(format!("{code}: {}", why.trim()));
    }
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    Outcome::Done(Run {
        wall,
        max_rss_kib: usage.ru_maxrss,
        cpu: time(usage.ru_utime) + time(usage.ru_stime),
        store_cpu: store.map_or(0.0, cpu_seconds) - store_before,
    })
}
