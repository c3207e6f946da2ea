//! A bench that needs a network namespace of its own runs itself again
//! under `unshare -n`, with loopback up: its peers and traffic never leave.
//! One that needs a PID namespace of its own does the same under `unshare
//! --pid`.

use std::process::Command;

/// Set in the bench run again, inside its network namespace.
const INSIDE: &str = "PLANET_BENCH_IN_NETNS";
/// Set in the bench run again, inside its PID namespace.
const INSIDE_PIDS: &str = "PLANET_BENCH_IN_PIDNS";

/// True inside the namespace (go on). Outside: runs this bench again in a
/// new one, waits for it, and returns false (stop).
pub fn in_own_netns() -> bool {
    if std::env::var_os(INSIDE).is_some() {
        return run("ip", &["link", "set", "lo", "up"]);
    }
    again_under(
        &["-n"],
        INSIDE,
        "a network namespace of its own (root, unshare(1), ip(8))",
    );
    false
}

/// True in a PID namespace of its own, with its own `/proc` (go on).
/// Outside: runs this bench again in one, waits, and returns false (stop).
/// planet then sees the bench's processes only, and so reads the bench's
/// namespaces only: not those of whatever else runs on the machine, whose
/// sockets would change what is measured from one run to the next.
#[allow(dead_code)] // not every bench needs one
pub fn in_own_pid_namespace() -> bool {
    if std::env::var_os(INSIDE_PIDS).is_some() || std::env::var_os(INSIDE).is_some() {
        return true;
    }
    again_under(
        &["--pid", "--fork", "--mount-proc"],
        INSIDE_PIDS,
        "a PID namespace of its own (root, unshare(1))",
    );
    false
}

/// Runs this bench again under `unshare ARGS` with `inside` set, and waits
/// for it; says what it `needs` when that failed.
fn again_under(args: &[&str], inside: &str, needs: &str) {
    let status = Command::new("unshare")
        .args(args)
        .arg(std::env::current_exe().expect("the bench's own path"))
        .args(std::env::args().skip(1))
        .env(inside, "1")
        .status();
    if !status.is_ok_and(|s| s.success()) {
        println!("SKIPPED: needs {needs}");
    }
}

/// Runs `program args`; true if it succeeded.
pub fn run(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .status()
        .is_ok_and(|s| s.success())
}
