//! A memory cgroup of one's own with a limit, to run planet in as
//! systemd's `MemoryMax=` would. The heavy tests' flood runs planet in
//! one, and `benches/loop_bounds.rs` includes this file by path for its
//! own: it uses nothing of either.

use std::ffi::CString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A memory cgroup with a limit: cgroup v2's `memory.max` where this
/// process's v2 cgroup hands the memory controller down, else a child of
/// its cgroup v1 memory cgroup with `memory.limit_in_bytes`. Removed on
/// drop (after what ran in it has ended).
pub struct MemoryCage {
    dir: PathBuf,
    procs: CString,
    v2: bool,
}

impl MemoryCage {
    /// A cage named `planet-TAG-PID-N` under this process's own memory
    /// cgroup, or why there is none: no memory controller to use, or the
    /// cage could not be made.
    pub fn new(tag: &str, limit: u64) -> Result<MemoryCage, String> {
        let name = format!(
            "planet-{tag}-{}-{}",
            std::process::id(),
            CAGES.fetch_add(1, Ordering::Relaxed)
        );
        let (parent, v2) =
            memory_cgroup().ok_or("no memory cgroup (v2 memory.max or v1 memory controller)")?;
        let dir = parent.join(name);
        std::fs::create_dir(&dir).map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
        let procs = CString::new(
            dir.join("cgroup.procs")
                .into_os_string()
                .into_encoded_bytes(),
        )
        .expect("a path without NUL");
        let cage = MemoryCage { dir, procs, v2 };
        let knob = if v2 {
            "memory.max"
        } else {
            "memory.limit_in_bytes"
        };
        std::fs::write(cage.dir.join(knob), limit.to_string()).expect("set the memory limit");
        Ok(cage)
    }

    /// Makes `command`'s process join the cage between fork and exec,
    /// before it allocates anything.
    pub fn confine(&self, command: &mut Command) {
        let procs = self.procs.clone();
        // SAFETY: open, write and close are async-signal-safe; the path was
        // made before the fork.
        unsafe {
            command.pre_exec(move || {
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                if fd < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let written = libc::write(fd, b"0".as_ptr().cast(), 1);
                libc::close(fd);
                match written {
                    1 => Ok(()),
                    _ => Err(std::io::Error::last_os_error()),
                }
            });
        }
    }

    /// The files that say the cage's peak charge and its OOM kills.
    fn accounts(&self) -> (&'static str, &'static str) {
        match self.v2 {
            true => ("memory.peak", "memory.events"),
            false => ("memory.max_usage_in_bytes", "memory.oom_control"),
        }
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }

    /// Its highest charge, in bytes (page cache and kernel memory
    /// included).
    pub fn peak(&self) -> u64 {
        self.read(self.accounts().0).trim().parse().unwrap_or(0)
    }

    /// Processes the OOM killer killed in it.
    pub fn oom_kills(&self) -> u64 {
        let events = self.read(self.accounts().1);
        let kills = events.lines().find_map(|l| l.strip_prefix("oom_kill "));
        kills.and_then(|n| n.trim().parse().ok()).unwrap_or(0)
    }

    /// What the kernel says of the cage: its peak usage and OOM kills.
    pub fn report(&self) -> String {
        let (peak, events) = self.accounts();
        format!(
            "{peak} {} ({} OOM kills) {events} {}",
            self.peak(),
            self.oom_kills(),
            self.read(events).replace('\n', " ")
        )
    }
}

impl Drop for MemoryCage {
    fn drop(&mut self) {
        // A process just reaped may take a moment to leave.
        let start = Instant::now();
        while std::fs::remove_dir(&self.dir).is_err()
            && self.dir.exists()
            && start.elapsed() < Duration::from_secs(5)
        {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

static CAGES: AtomicU64 = AtomicU64::new(0);

/// The directory of this process's memory cgroup and whether it is v2:
/// v2 when its cgroup delegates the memory controller to children, else
/// the v1 memory hierarchy.
fn memory_cgroup() -> Option<(PathBuf, bool)> {
    let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    // (mount point, the mount's root in the hierarchy) of the hierarchy
    // whose filesystem type and super options `pick` accepts.
    let mount = |pick: &dyn Fn(&str, &str) -> bool| {
        mounts.lines().find_map(|line| {
            let (before, after) = line.split_once(" - ")?;
            let mut fields = before.split_whitespace();
            let root = fields.nth(3)?;
            let point = fields.next()?;
            let mut after = after.split_whitespace();
            let (fstype, options) = (after.next()?, after.nth(1).unwrap_or(""));
            pick(fstype, options).then(|| (PathBuf::from(point), root.to_string()))
        })
    };
    let under = |(point, root): (PathBuf, String), path: &str| {
        let relative = path.strip_prefix(root.as_str()).unwrap_or(path);
        point.join(relative.trim_start_matches('/'))
    };
    let v2_path = own.lines().find_map(|l| l.strip_prefix("0::"));
    if let (Some(path), Some(found)) = (v2_path, mount(&|t, _| t == "cgroup2")) {
        let dir = under(found, path);
        let delegated = std::fs::read_to_string(dir.join("cgroup.subtree_control"))
            .is_ok_and(|c| c.split_whitespace().any(|c| c == "memory"));
        if delegated {
            return Some((dir, true));
        }
    }
    let v1_path = own.lines().find_map(|l| {
        let mut fields = l.splitn(3, ':');
        let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
        controllers
            .split(',')
            .any(|c| c == "memory")
            .then_some(path)
    })?;
    let found = mount(&|t, o| t == "cgroup" && o.split(',').any(|o| o == "memory"))?;
    let dir = under(found, v1_path);
    Path::new(&dir).is_dir().then_some((dir, false))
}
