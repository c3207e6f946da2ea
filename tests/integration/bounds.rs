//! Never silently partial, and not to be fooled: planet as a user who may
//! not see every network namespace, or without the capability to enter
//! them; container IDs named only by the runtime that made the cgroup; and
//! a shared listener named by the parent of its forked workers even when
//! they all started in the same clock tick. (The fleet of 2,000 namespaces
//! is in the heavy tests.)

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::process::Command;

use planet::schema::{self, label};

use crate::testenv::containers::{Bridge, Runtime};
use crate::testenv::namespaces::*;
use crate::testenv::*;

/// planet as an unprivileged user (nobody, no capabilities) on a host
/// where root runs a listener in a network namespace of its own: root's
/// processes' /proc/PID/ns/net cannot be seen, so that namespace is counted
/// as `hidden` and said in one warning, and the run still succeeds with
/// what it could read.
#[test]
fn as_nobody_the_namespaces_it_cannot_see_are_counted_and_said() {
    let Some(setpriv) = setpriv("running a process nobody may not look into") else {
        return;
    };
    let Some((holder, port)) = in_own_netns(|| {
        let (listener, port) = loopback_listener();
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
    assert!(counts.read >= 1, "its own namespace at least: {counts:?}");
    assert!(
        counts.skipped("hidden") >= 1,
        "as nobody, hidden namespaces counted: {:?}; stderr: {stderr}",
        counts.skipped
    );
    assert_skips_said(&counts, &stderr);
    assert!(!text.lines().any(|l| l == series), "as nobody: {text}");
}

/// planet without CAP_SYS_ADMIN (as a service may be started) cannot enter
/// a container's network namespace: it reads its own, says in one warning
/// that the rest was not read and why, and counts them by reason.
#[test]
fn without_cap_sys_admin_the_own_namespace_is_read_and_the_rest_is_said() {
    let Some(setpriv) = setpriv("dropping CAP_SYS_ADMIN (only root has it to drop)") else {
        return;
    };
    in_own_netns(move || {
        let Some(mut bridge) = Bridge::with(&[Runtime::Docker]) else {
            return;
        };
        let container = &mut bridge.containers[0];
        let web = container.inside(|| TcpListener::bind("0.0.0.0:8080").unwrap());
        container.hold("web", &[web.as_raw_fd()]);
        let host = TcpListener::bind("192.0.2.1:0").unwrap();
        let port = port_of(host.local_addr());
        let output = Command::new(setpriv)
            .args(["--inh-caps=-sys_admin", "--bounding-set=-sys_admin", PLANET])
            .args(["collect", "--stdout", "--no-resolve"])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0));
        let stderr = stderr_of(&output);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with("planet: warning: ")
                && stderr.contains(" network namespaces not read: ")
                && stderr.contains(
                    " no_privilege (entering one needs CAP_SYS_ADMIN); their sockets are missing"
                ),
            "{stderr}"
        );
        let text = String::from_utf8(output.stdout).unwrap();
        // Counted too, by reason: the container's namespace at least.
        let refused = samples(&text, schema::NETWORK_NAMESPACES_SKIPPED.name)
            .into_iter()
            .find_map(|line| {
                line.strip_prefix("planet_network_namespaces_skipped{reason=\"no_privilege\"} ")
            })
            .and_then(|n| n.parse::<u64>().ok());
        assert!(refused.is_some_and(|n| n >= 1), "{text}");
        assert!(of_container(&text, schema::SERVING.name, &bridge.containers[0].id).is_empty());
        assert_eq!(
            samples_on_ports(&text, schema::SERVING.name, &[port]).len(),
            1,
            "the own namespace's series: {text}"
        );
        assert_eq!(
            samples(&text, schema::NETWORK_NAMESPACES.name),
            ["planet_network_namespaces 1"]
        );
    });
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
                let lines = samples(&text, schema::SERVING.name)
                    .into_iter()
                    .filter(|l| has_label(l, label::NAME, name))
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
    let lines = samples_on_ports(&text, schema::SERVING.name, &[port]);
    let [line] = lines.into_iter().collect::<Vec<_>>()[..] else {
        panic!("one series for port {port} in\n{text}\n{stderr}");
    };
    let name = label_value(line, label::NAME).unwrap_or_default();
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
