//! Worker processes that hold a bench's sockets: this bench run again with
//! `VAR=SPEC` in its environment, which says what to hold. Each prints
//! `ready` once it holds them and lets go when its stdin closes; spread
//! over several, a bench stays under the per-process open-file limit.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};

/// Starts one worker and waits until it is ready.
pub fn spawn(var: &str, spec: &str) -> Child {
    let mut child = Command::new(std::env::current_exe().expect("the bench's own path"))
        .env(var, spec)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn a worker");
    let mut ready = String::new();
    let stdout = child.stdout.as_mut().expect("the worker's stdout");
    BufReader::new(stdout)
        .read_line(&mut ready)
        .expect("read the worker");
    assert_eq!(ready.trim(), "ready", "worker {spec} failed to set up");
    child
}

/// Tells workers to let go, and waits for them.
pub fn stop(workers: Vec<Child>) {
    for mut worker in workers {
        drop(worker.stdin.take());
        let _ = worker.wait();
    }
}

/// In a worker, once it holds everything: says so, and holds until told.
pub fn hold_until_stopped() {
    println!("ready");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
}
