//! A `planet collect --loop` a bench runs and watches from outside:
//! started (in a memory cage if asked), its output file looked at again
//! and again, stopped.

use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use planet::schema;

use crate::cage::MemoryCage;

/// `planet collect --loop` writing into `out`, in `cage` if given (joined
/// between fork and exec: nothing allocated outside).
pub fn spawn_loop(planet: &str, interval: &str, out: &Path, cage: Option<&MemoryCage>) -> Child {
    let args = [
        "collect",
        "--loop",
        "--interval",
        interval,
        "--no-resolve",
        "--out",
    ];
    let state = out.join("planet.state");
    let mut command = Command::new(planet);
    if let Some(cage) = cage {
        cage.confine(&mut command);
    }
    command
        .args(args)
        .arg(out)
        .arg("--state-file")
        .arg(state)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn planet --loop")
}

/// SIGTERM, then SIGKILL if it has not gone in 20 s.
pub fn stop(planet: &mut Child, exited: Option<ExitStatus>) {
    if exited.is_some() {
        return;
    }
    // SAFETY: plain kill of our own child.
    unsafe { libc::kill(planet.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(20);
    while planet.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = planet.kill();
            let _ = planet.wait();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The output file, looked at again and again: how many times it was
/// written (its timestamp line changed) and when.
#[derive(Default)]
pub struct Watch {
    stamp: String,
    /// The output as last read.
    pub last: String,
    /// Writes seen.
    pub writes: usize,
    at: Vec<Instant>,
}

impl Watch {
    /// True if the file was written since the last look.
    pub fn look(&mut self, file: &Path) -> bool {
        let Ok(text) = std::fs::read_to_string(file) else {
            return false;
        };
        let Some(stamp) = text.lines().find(|l| {
            l.split_once(' ')
                .is_some_and(|(name, _)| name == schema::COLLECT_TIMESTAMP.name)
        }) else {
            return false;
        };
        if stamp == self.stamp {
            return false;
        }
        self.stamp = stamp.to_string();
        self.last = text;
        self.writes += 1;
        self.at.push(Instant::now());
        true
    }

    /// The longest time without a write from `since` until now.
    pub fn longest_gap(&self, since: Instant) -> Duration {
        let mut marks: Vec<Instant> = vec![since];
        marks.extend(self.at.iter().filter(|t| **t > since));
        marks.push(Instant::now());
        marks.windows(2).map(|w| w[1] - w[0]).max().unwrap()
    }
}

/// The value of an unlabelled sample in an exposition.
pub fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let (n, value) = line.split_once(' ')?;
        (n == name).then(|| value.parse().ok())?
    })
}
