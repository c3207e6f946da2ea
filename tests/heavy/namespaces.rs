//! A host of 2,000 network namespaces: more than planet's soft open-file
//! limit has room for, and as many destroy feeds for `--loop`. Every
//! namespace is read or said skipped, and `--loop` runs on a bounded number
//! of threads.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use planet::schema;

use crate::fleet::Fleet;
use crate::testenv::namespaces::*;
use crate::testenv::*;

/// planet's open-file limits as the test process has them: (soft, hard).
fn open_file_limits() -> (u64, u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes only into `limit`.
    assert_eq!(
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
        0
    );
    (limit.rlim_cur, limit.rlim_max)
}

/// `command` started with its open-file limit at `soft` (and `hard`), as a
/// service manager would start it (systemd's default soft limit is 1,024).
fn limit_open_files(command: &mut Command, soft: u64, hard: u64) -> &mut Command {
    let limit = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: only setrlimit, a plain system call, runs between fork and exec.
    unsafe {
        command.pre_exec(move || match libc::setrlimit(libc::RLIMIT_NOFILE, &limit) {
            0 => Ok(()),
            _ => Err(std::io::Error::last_os_error()),
        })
    }
}

/// A host of 2,000 network namespaces, each with a process living in it:
/// more than planet's soft open-file limit has room for, and as many
/// destroy feeds for `--loop`. Every namespace is read or said skipped, and
/// `--loop` runs on a bounded number of threads. (One fleet for the three
/// steps: making and tearing down thousands of namespaces is the kernel's
/// slowest work, and every other test's planet reads them meanwhile.)
#[test]
fn two_thousand_namespaces_are_read_or_said_skipped_and_loop_on_at_most_16_threads() {
    let _machine = crate::alone();
    let made = Instant::now();
    let Some(fleet) = Fleet::of(2_000) else {
        return;
    };
    let all = fleet.namespaces() as u64 + 1; // and the host's
    println!(
        "{all} network namespaces with the host's, made in {:.1?}",
        made.elapsed()
    );
    every_namespace_is_read_under_a_soft_fd_limit_of_1024(all);
    out_of_fds_under_a_hard_limit_of_1024_is_counted_and_said(all);
    loop_runs_at_most_16_threads_and_reads_every_namespace(all);
}

/// Step 1: started with a soft open-file limit of 1,024 (systemd's default
/// for a service) under a higher hard one, planet raises its soft limit to
/// the hard one and reads all `all` namespaces.
fn every_namespace_is_read_under_a_soft_fd_limit_of_1024(all: u64) {
    let (_, hard) = open_file_limits();
    if hard < 2 * all {
        skip_or_fail::<()>(&format!("the hard open-file limit is only {hard}"));
        return;
    }
    let mut command = planet(["collect", "--stdout", "--no-resolve"]);
    let (code, text, stderr) = collect_once(limit_open_files(&mut command, 1_024, hard));
    assert_eq!(code, Some(0), "{stderr}");
    let counts = NamespaceCounts::of(&text);
    println!("soft 1,024, hard {hard}: {counts:?}");
    assert!(
        counts.read >= all,
        "soft limit 1,024 (hard {hard}): read {} network namespaces, the fleet and the host are {all}; stderr: {stderr}",
        counts.read
    );
    // Other tests' namespaces may vanish meanwhile: said, if so.
    assert_skips_said(&counts, &stderr);
}

/// Step 2: with the hard limit at 1,024 too, planet cannot hold a handle
/// on every namespace: those it had no fd for are counted as `out_of_fds`
/// and said in one warning, every namespace is read or counted, and the
/// run succeeds.
fn out_of_fds_under_a_hard_limit_of_1024_is_counted_and_said(all: u64) {
    let mut command = planet(["collect", "--stdout", "--no-resolve"]);
    let (code, text, stderr) = collect_once(limit_open_files(&mut command, 1_024, 1_024));
    assert_eq!(code, Some(0), "{stderr}");
    let counts = NamespaceCounts::of(&text);
    println!("soft = hard = 1,024: {counts:?}");
    assert!(
        counts.skipped("out_of_fds") > 0,
        "hard limit 1,024 under {all} namespaces: read {}, skipped {:?}; stderr: {stderr}",
        counts.read,
        counts.skipped
    );
    assert_skips_said(&counts, &stderr);
    assert!(
        counts.read + counts.total_skipped() >= all,
        "every namespace is read or counted: {counts:?}, {all} namespaces"
    );
}

/// A `--loop` planet, killed and reaped should the test end before
/// terminating it.
struct Looping(Child);

impl Drop for Looping {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One write of a `--loop` planet, watched from outside: the most threads
/// it ran while taking that sample, its open fds once written, and what
/// the file says (seconds the snapshot took, namespaces read).
#[derive(Debug)]
struct Write {
    threads: usize,
    fds: usize,
    seconds: f64,
    read: u64,
}

/// `Threads:` of /proc/PID/status.
fn threads_of(pid: u32) -> Option<usize> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
}

fn fds_of(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |dir| dir.count())
}

/// Watches a `--loop` planet writing `file` until it has written `writes`
/// times (or `limit` passed), sampling its thread count every 50 ms.
fn watch_writes(pid: u32, file: &Path, writes: usize, limit: Duration) -> Vec<Write> {
    let start = Instant::now();
    let mut seen = Vec::new();
    let mut last = collect_timestamp(file);
    let mut threads = 0;
    while seen.len() < writes && start.elapsed() < limit {
        threads = threads.max(threads_of(pid).unwrap_or(0));
        let now = collect_timestamp(file);
        if now.is_some() && now != last {
            let text = std::fs::read_to_string(file).expect("read the output");
            let seconds = samples(&text, schema::SNAPSHOT_DURATION.name)
                .first()
                .map_or(f64::NAN, |line| value(line));
            seen.push(Write {
                threads,
                fds: fds_of(pid),
                seconds,
                read: NamespaceCounts::of(&text).read,
            });
            (threads, last) = (0, now);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    seen
}

/// Step 3: `--loop --interval 1s` runs a fixed number of threads (at most
/// 16: one poller for every destroy feed, not a thread each), sampled from
/// /proc/PID/status all through three writes, while every write still
/// reads all `all` namespaces. Prints fds and seconds per sample.
fn loop_runs_at_most_16_threads_and_reads_every_namespace(all: u64) {
    let env = TestEnv::new();
    let child = env
        .collect()
        .args(["--loop", "--interval", "1s"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start planet --loop");
    let mut looping = Looping(child);
    let pid = looping.0.id();
    let writes = watch_writes(pid, &env.output_file(), 3, Duration::from_secs(40));
    let (code, stderr) = terminate(&mut looping.0);
    for (i, write) in writes.iter().enumerate() {
        println!(
            "--loop write {}: {} threads at most, {} fds, snapshot {:.2} s, {} namespaces read",
            i + 1,
            write.threads,
            write.fds,
            write.seconds,
            write.read
        );
    }
    assert_eq!(
        writes.len(),
        3,
        "three writes within 40 s: {writes:?}\n{stderr}"
    );
    let most = writes.iter().map(|w| w.threads).max().unwrap_or(0);
    assert!(
        most <= 16,
        "{most} threads over {all} network namespaces (at most 16): {writes:?}"
    );
    for write in &writes {
        assert!(
            write.read >= all,
            "read {} of the {all} namespaces: {writes:?}\n{stderr}",
            write.read
        );
    }
    assert_eq!(code, Some(0), "{stderr}");
}
