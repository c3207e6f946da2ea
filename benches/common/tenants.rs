//! Hostile tenants, played by worker processes (this bench run again, see
//! `workers`): floods of socket()+close() from network namespaces of their
//! own, and network namespaces by the thousand, each with a process living
//! in it.

use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::workers;

const FLOODER: &str = "PLANET_BENCH_FLOODER";
const HOLDER: &str = "PLANET_BENCH_NS_HOLDER";

/// In a worker, plays the tenant its environment names, until told to
/// stop, and returns true; false in the bench itself.
pub fn played() -> bool {
    if std::env::var_os(FLOODER).is_some() {
        flooder();
        return true;
    }
    if let Ok(spec) = std::env::var(HOLDER) {
        holder(spec.parse().expect("namespace count"));
        return true;
    }
    false
}

/// Flooders, each in a network namespace of its own.
pub struct Flood(Vec<Child>);

impl Flood {
    /// `n` flooders, ready to go.
    pub fn ready(n: usize) -> Flood {
        Flood((0..n).map(|_| workers::spawn(FLOODER, "")).collect())
    }

    /// Tells them to go.
    pub fn start(&mut self) {
        for flooder in &mut self.0 {
            flooder.stdin.as_mut().unwrap().write_all(b"go\n").unwrap();
        }
    }

    /// Stops them and waits for them: the sockets they opened and closed
    /// per second, all together, as they counted.
    pub fn stop(mut self) -> f64 {
        let mut rate = 0.0;
        for flooder in &mut self.0 {
            drop(flooder.stdin.take());
            let mut said = String::new();
            flooder
                .stdout
                .as_mut()
                .unwrap()
                .read_to_string(&mut said)
                .unwrap();
            let (count, seconds) = said.trim().split_once(' ').expect("flooder's count");
            rate += count.parse::<f64>().unwrap() / seconds.parse::<f64>().unwrap();
        }
        workers::stop(self.0);
        rate
    }
}

/// A worker holding `count` network namespaces, each with a process
/// living in it, once they are all made; [`workers::stop`] ends them.
pub fn hold_namespaces(count: usize) -> Child {
    workers::spawn(HOLDER, &count.to_string())
}

/// A flood worker: moves into a namespace of its own, says `ready`, waits
/// for `go`, then creates and closes TCP sockets until its stdin closes,
/// and prints how many, and in how many seconds.
fn flooder() {
    // SAFETY: single-threaded here; only the network namespace changes.
    unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNET) }
        .expect("unshare");
    println!("ready");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    let stop = Arc::new(AtomicBool::new(false));
    let told = stop.clone();
    std::thread::spawn(move || {
        let _ = std::io::stdin().read_line(&mut String::new());
        told.store(true, Ordering::Relaxed);
    });
    let start = Instant::now();
    let mut count = 0u64;
    while !stop.load(Ordering::Relaxed) {
        for _ in 0..256 {
            // SAFETY: plain syscalls on a descriptor of our own.
            unsafe {
                let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
                assert!(fd >= 0, "socket");
                libc::close(fd);
            }
        }
        count += 256;
    }
    println!("{count} {}", start.elapsed().as_secs_f64());
}

/// Holds `count` network namespaces, each with a child process living in
/// it, until stdin closes. The children die with this process.
fn holder(count: usize) {
    let own = std::fs::metadata("/proc/self/ns/net").unwrap();
    let mut children = Vec::with_capacity(count);
    for _ in 0..count {
        // SAFETY: single-threaded; the child calls only async-signal-safe
        // functions (prctl, unshare, pause, _exit) before it dies.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork");
        if pid == 0 {
            unsafe {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                if libc::getppid() == 1 || libc::unshare(libc::CLONE_NEWNET) != 0 {
                    libc::_exit(1);
                }
                loop {
                    libc::pause();
                }
            }
        }
        children.push(pid);
    }
    // Ready once every child lives in a namespace of its own.
    let deadline = Instant::now() + Duration::from_secs(300);
    for pid in &children {
        loop {
            match std::fs::metadata(format!("/proc/{pid}/ns/net")) {
                Ok(ns) if ns.ino() != own.ino() => break,
                Ok(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
                other => panic!("namespace holder {pid} did not unshare: {other:?}"),
            }
        }
    }
    workers::hold_until_stopped();
    for pid in &children {
        // SAFETY: our own children, not yet reaped.
        unsafe { libc::kill(*pid, libc::SIGKILL) };
    }
    for pid in &children {
        // SAFETY: as above.
        unsafe { libc::waitpid(*pid, std::ptr::null_mut(), 0) };
    }
}
