//! A bench that needs a network namespace of its own runs itself again
//! under `unshare -n`, with loopback up: its peers and traffic never leave.

use std::process::Command;

/// Set in the bench run again, inside its namespace.
const INSIDE: &str = "PLANET_BENCH_IN_NETNS";

/// True inside the namespace (go on). Outside: runs this bench again in a
/// new one, waits for it, and returns false (stop).
pub fn in_own_netns() -> bool {
    if std::env::var_os(INSIDE).is_some() {
        return run("ip", &["link", "set", "lo", "up"]);
    }
    let status = Command::new("unshare")
        .arg("-n")
        .arg(std::env::current_exe().expect("the bench's own path"))
        .args(std::env::args().skip(1))
        .env(INSIDE, "1")
        .status();
    if !status.is_ok_and(|s| s.success()) {
        println!("SKIPPED: needs a network namespace of its own (root, unshare(1), ip(8))");
    }
    false
}

/// Runs `program args`; true if it succeeded.
pub fn run(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .status()
        .is_ok_and(|s| s.success())
}
