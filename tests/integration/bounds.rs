//! Never silently partial, and bounded, on a real fleet: planet on a host of
//! more network namespaces than its open-file limit, in `--loop` over 2,000
//! of them on a fixed number of threads, as a user who may not see them all;
//! container IDs named only by the runtime that made the cgroup; and a
//! shared listener named by the parent of its forked workers even when they
//! all started in the same clock tick.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::testenv::containers::{Bridge, Runtime};
use crate::testenv::fleet::Fleet;
use crate::testenv::*;

/// Why planet may skip a network namespace: one
/// `planet_network_namespaces_skipped{reason}` series each, always present.
const REASONS: [&str; 5] = ["failed", "hidden", "no_privilege", "out_of_fds", "vanished"];

/// A run's budget: generous, as many namespaces are read on a busy machine.
const RUN_LIMIT: Duration = Duration::from_secs(30);

/// A sample's value, the last field of its line.
fn value(line: &str) -> f64 {
    let (_, value) = line.rsplit_once(' ').expect("a sample line");
    value
        .parse()
        .unwrap_or_else(|_| panic!("not a number: {line}"))
}

/// What one run says about network namespaces: how many it read
/// (`planet_network_namespaces`), and how many it skipped, by reason
/// (`planet_network_namespaces_skipped`).
#[derive(Debug)]
struct NamespaceCounts {
    read: u64,
    skipped: BTreeMap<String, u64>,
}

impl NamespaceCounts {
    fn of(text: &str) -> NamespaceCounts {
        let read = samples(text, "planet_network_namespaces")
            .first()
            .map(|line| value(line) as u64)
            .unwrap_or_else(|| panic!("no planet_network_namespaces in\n{text}"));
        let skipped = samples(text, "planet_network_namespaces_skipped")
            .into_iter()
            .map(|line| {
                let reason = line
                    .split_once("reason=\"")
                    .and_then(|(_, rest)| rest.split_once('"'))
                    .map_or("", |(reason, _)| reason);
                (reason.to_string(), value(line) as u64)
            })
            .collect();
        NamespaceCounts { read, skipped }
    }

    fn total_skipped(&self) -> u64 {
        self.skipped.values().sum()
    }

    fn skipped(&self, reason: &str) -> u64 {
        self.skipped.get(reason).copied().unwrap_or(0)
    }
}

/// Asserts that a run said all it skipped: a
/// `planet_network_namespaces_skipped` series for every reason (0 when
/// none), and exactly one warning line about network namespaces,
/// `planet: warning: N network namespaces not read ...`, naming their total
/// and each reason that has some; no such line when it skipped none.
fn assert_skips_said(counts: &NamespaceCounts, stderr: &str) {
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

/// Everything a pipe gives until it closes, read on a thread of its own.
fn drain(mut pipe: impl std::io::Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        bytes
    })
}

/// Runs `command` to its end within [`RUN_LIMIT`] (killed and failed
/// otherwise, naming what it said on stderr): its exit code, its output as
/// text, and what it said on stderr.
fn collect_once(command: &mut Command) -> (Option<i32>, String, String) {
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

/// A host of 2,000 network namespaces, each with a process living in it:
/// more than planet's soft open-file limit has room for, and as many
/// destroy feeds for `--loop`. Every namespace is read or said skipped, and
/// `--loop` runs on a bounded number of threads. (One fleet for the three
/// steps: making and tearing down thousands of namespaces is the kernel's
/// slowest work, and every other test's planet reads them meanwhile.)
#[test]
fn two_thousand_namespaces_are_read_or_said_skipped_and_loop_on_at_most_16_threads() {
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
            let seconds = samples(&text, "planet_snapshot_duration_seconds")
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

/// planet as an unprivileged user (nobody, no capabilities) on a host
/// where root runs a listener in a network namespace of its own: root's
/// processes' /proc/PID/ns/net cannot be seen, so that namespace is counted
/// as `hidden` and said in one warning, and the run still succeeds with
/// what it could read.
#[test]
fn as_nobody_the_namespaces_it_cannot_see_are_counted_and_said() {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        skip_or_fail::<()>("needs root, to run a process nobody may not look into");
        return;
    }
    let Some(setpriv) = tool("setpriv", "util-linux") else {
        return;
    };
    let Some((holder, port)) = in_own_netns(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = port_of(listener.local_addr());
        (Named::hold("root-server", &[listener.as_raw_fd()]), port)
    }) else {
        return;
    };
    let inode = std::fs::metadata(format!("/proc/{}/ns/net", holder.pid()))
        .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
        .expect("stat the holder's namespace");
    let series = format!(
        r#"planet_serving{{protocol="tcp",name="root-server",container="netns:{inode}",addr="127.0.0.1",port="{port}"}} 1"#
    );

    // Step 1, the oracle: root reads that namespace.
    let (code, text, stderr) = collect_once(&mut planet(["collect", "--stdout", "--no-resolve"]));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        text.lines().any(|l| l == series),
        "as root: {series} in\n{text}"
    );

    // Step 2: nobody cannot, and says so.
    let mut as_nobody = Command::new(setpriv);
    as_nobody
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(PLANET)
        .args(["collect", "--stdout", "--no-resolve"]);
    let (code, text, stderr) = collect_once(&mut as_nobody);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("planet: warning: ") && l.contains("network namespace")),
        "as nobody, no warning about the network namespaces it skipped: {stderr}"
    );
    let counts = NamespaceCounts::of(&text);
    println!("as nobody: {counts:?}");
    assert!(
        counts.skipped("hidden") >= 1,
        "as nobody, hidden namespaces counted: {:?}; stderr: {stderr}",
        counts.skipped
    );
    assert_skips_said(&counts, &stderr);
    assert!(!text.lines().any(|l| l == series), "as nobody: {text}");
}

/// Container IDs cannot be borrowed: the outermost runtime component of a
/// cgroup path names the container (Docker in Docker is the outer one),
/// and under a user's delegated subtree only rootless Podman's
/// `libpod-<id>.scope` names one; a directory the user named like an ID
/// does not, and its listener takes its namespace's `netns:<inode>`.
#[test]
fn container_ids_come_from_the_runtimes_own_cgroup_not_from_what_nests_inside() {
    in_own_netns(|| {
        let Some(mut bridge) = Bridge::with(&[
            Runtime::DockerInDocker,
            Runtime::UserDirectory,
            Runtime::RootlessPodman,
        ]) else {
            return;
        };
        for (container, name) in
            bridge
                .containers
                .iter_mut()
                .zip(["nested-web", "user-app", "rootless-web"])
        {
            let listener = container.inside(|| TcpListener::bind("0.0.0.0:8080").unwrap());
            container.hold(name, &[listener.as_raw_fd()]);
        }
        let text = collect_stdout(&[]);

        let [docker, user, podman] = &bridge.containers[..] else {
            unreachable!()
        };
        let nested = docker.nested.as_deref().unwrap();
        let user_label = format!("netns:{}", user.netns_inode());
        let expected: BTreeMap<&str, Vec<String>> = [
            ("nested-web", &docker.id),
            ("user-app", &user_label),
            ("rootless-web", &podman.id),
        ]
        .into_iter()
        .map(|(name, container)| {
            let line = format!(
                r#"planet_serving{{protocol="tcp",name="{name}",container="{container}",addr="0.0.0.0",port="8080"}} 1"#
            );
            (name, vec![line])
        })
        .collect();
        let got: BTreeMap<&str, Vec<String>> = expected
            .keys()
            .map(|&name| {
                let lines = samples(&text, "planet_serving")
                    .into_iter()
                    .filter(|l| l.contains(&format!("name=\"{name}\"")))
                    .map(String::from)
                    .collect();
                (name, lines)
            })
            .collect();
        assert_eq!(
            got, expected,
            "outer Docker {}, nested {nested}; user's directory {}; rootless Podman {}",
            docker.id, user.id, podman.id
        );
    });
}

/// The script of one forking server, as pid 1 of a pid namespace of its
/// own: `$1` the directory of names, `$2` planet, the listener on stdin
/// (moved to fd 3). The parent (pid 5001) renames itself `srv-parent`, sets
/// the next pid to 101 and at once forks 8 workers (`srv-worker`, pids
/// 101-108: lower than the parent's, and as a rule in the same clock tick).
/// Once all have exec'd, only they hold the listener; the script prints
/// their /proc/PID/stat lines on stderr and runs planet.
const FORKING_SERVER: &str = r#"
    exec 3<&0 </dev/null
    echo 5000 > /proc/sys/kernel/ns_last_pid
    (
        printf srv-parent > /proc/self/comm
        echo 100 > /proc/sys/kernel/ns_last_pid
        "$1/srv-worker" infinity & "$1/srv-worker" infinity &
        "$1/srv-worker" infinity & "$1/srv-worker" infinity &
        "$1/srv-worker" infinity & "$1/srv-worker" infinity &
        "$1/srv-worker" infinity & "$1/srv-worker" infinity &
        wait
    ) &
    for pid in 101 102 103 104 105 106 107 108; do
        until read comm 2>/dev/null < /proc/$pid/comm && [ "$comm" = srv-worker ]; do :; done
    done
    exec 3>&-
    for pid in 5001 101 102 103 104 105 106 107 108; do
        read stat < /proc/$pid/stat && echo "stat $stat" >&2
    done
    "$2" collect --stdout --no-resolve --collector serving
"#;

/// One forking server's run: who planet named the listener after, and
/// whether a worker started in the parent's clock tick.
struct ForkRun {
    name: String,
    tie: bool,
}

/// Runs [`FORKING_SERVER`] once in a pid namespace of its own.
fn fork_and_collect(unshare: &Path, names: &Path, listener: &TcpListener) -> ForkRun {
    let port = port_of(listener.local_addr());
    let mut command = Command::new(unshare);
    command
        .args([
            "--pid",
            "--fork",
            "--mount-proc",
            "sh",
            "-c",
            FORKING_SERVER,
            "sh",
        ])
        .arg(names)
        .arg(PLANET);
    // On stdin, not through pre_exec: spawned without a fork of this test
    // process, whose every fd a fork would hold for a moment, under the eyes
    // of other tests' planet.
    let handed = OwnedFd::from(listener.try_clone().expect("dup the listener"));
    let output = run_within(command.stdin(handed), RUN_LIMIT);
    let stderr = stderr_of(&output);
    assert!(output.status.success(), "{stderr}");
    // pid -> start time (field 22 of /proc/PID/stat, in clock ticks).
    let started: BTreeMap<u32, u64> = stderr
        .lines()
        .filter_map(|line| line.strip_prefix("stat "))
        .map(|stat| {
            let pid = stat.split_whitespace().next().unwrap().parse().unwrap();
            let after_name = stat.rsplit_once(')').unwrap().1;
            let start = after_name.split_whitespace().nth(19).unwrap();
            (pid, start.parse().unwrap())
        })
        .collect();
    let pids: Vec<u32> = started.keys().copied().collect();
    assert_eq!(
        pids,
        [101, 102, 103, 104, 105, 106, 107, 108, 5001],
        "{stderr}"
    );
    let parent = started[&5001];
    let text = String::from_utf8_lossy(&output.stdout);
    let lines = samples_on_ports(&text, "planet_serving", &[port]);
    let [line] = lines.into_iter().collect::<Vec<_>>()[..] else {
        panic!("one series for port {port} in\n{text}\n{stderr}");
    };
    let name = line
        .split_once("name=\"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map_or("", |(name, _)| name);
    ForkRun {
        name: name.to_string(),
        tie: started.values().filter(|&&t| t == parent).count() > 1,
    }
}

/// A forking server whose 8 workers started in the same clock tick as
/// their parent, with lower pids (pids wrapped): the parent, their
/// ancestor, names the listener, whatever the pids. 200 runs; how many had
/// a tie is printed, and enough must have for the test to mean anything.
#[test]
fn a_listener_shared_with_workers_forked_in_the_same_tick_is_named_by_the_parent() {
    let Some(unshare) = tool("unshare", "util-linux") else {
        return;
    };
    in_own_netns(move || {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let names = tempfile::tempdir().unwrap();
        let sleep = which("sleep").unwrap();
        std::os::unix::fs::symlink(&sleep, names.path().join("srv-worker")).unwrap();
        let runs: Vec<ForkRun> = (0..200)
            .map(|_| fork_and_collect(&unshare, names.path(), &listener))
            .collect();
        let ties = runs.iter().filter(|r| r.tie).count();
        let wrong: Vec<&ForkRun> = runs.iter().filter(|r| r.name != "srv-parent").collect();
        let wrong_in_ties = wrong.iter().filter(|r| r.tie).count();
        println!(
            "{ties} of 200 runs had a worker in the parent's clock tick; {} named the listener otherwise ({wrong_in_ties} of them ties)",
            wrong.len()
        );
        assert!(
            wrong.is_empty(),
            "{} of 200 runs named the listener {:?}, not srv-parent ({wrong_in_ties} of them with a same-tick tie; {ties} ties in all)",
            wrong.len(),
            wrong.iter().map(|r| r.name.as_str()).collect::<std::collections::BTreeSet<_>>()
        );
        assert!(
            ties >= 20,
            "only {ties} of 200 runs had a same-tick tie: the test hardly tried"
        );
    });
}
