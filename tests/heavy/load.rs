//! What the heavy tests share: a `--loop` planet followed write by write,
//! idle connections held by the thousand to make every sample slow, the
//! kernel's own tcp_info counters, processes that flood socket()+close()
//! from network namespaces of their own, and a memory cgroup to run planet
//! in.

use std::ffi::CString;
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::testenv::{bytes_acked, skip_or_fail, tcp_info, terminate, wait_for, Named};

/// A `planet collect --loop` writing one output file, followed write by
/// write. Killed on drop unless the test stopped it.
pub struct Looping {
    child: Child,
    file: PathBuf,
    stopped: bool,
}

impl Looping {
    /// Spawns `command` (a [`super::TestEnv::collect`] with `--loop`) with
    /// its stderr piped, and waits for its first write to `file` (which
    /// only a whole write, renamed into place, makes exist).
    pub fn start(command: &mut Command, file: PathBuf) -> Looping {
        let child = command
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn planet --loop");
        let looping = Looping {
            child,
            file,
            stopped: false,
        };
        assert!(
            wait_for(Duration::from_secs(30), || looping.write_id().is_some()),
            "planet --loop wrote nothing in 30s"
        );
        looping
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// None while it runs; how it ended otherwise.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// The output file as it is now ("" if unreadable).
    pub fn text(&self) -> String {
        std::fs::read_to_string(&self.file).unwrap_or_default()
    }

    /// Which write the output file is now, without reading it: its inode
    /// and modification time (each write renames a new file over it).
    pub fn write_id(&self) -> Option<(u64, i64, i64)> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(&self.file).ok()?;
        Some((meta.ino(), meta.mtime(), meta.mtime_nsec()))
    }

    /// The output file it writes.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Runs `check` once for each new write (and the one there now) until
    /// it holds (true) or `limit` has passed (false): an output of 40 MB is
    /// read once a write, not fifty times a second.
    pub fn await_write_where(&self, limit: Duration, mut check: impl FnMut() -> bool) -> bool {
        let start = Instant::now();
        let mut checked = None;
        loop {
            let id = self.write_id();
            if id.is_some() && id != checked {
                checked = id;
                if check() {
                    return true;
                }
            }
            if start.elapsed() >= limit {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// As [`Looping::await_write_where`], `check` reading the output.
    pub fn await_output(&self, limit: Duration, mut check: impl FnMut(&str) -> bool) -> bool {
        self.await_write_where(limit, || check(&self.text()))
    }

    /// Waits until planet has written `n` more times, for at most `limit`
    /// in all. Two writes after a moment mean a whole sample taken after
    /// it.
    pub fn await_writes(&self, n: usize, limit: Duration) -> bool {
        let (mut last, mut writes) = (self.write_id(), 0);
        wait_for(limit, || {
            let id = self.write_id();
            if id.is_some() && id != last {
                (last, writes) = (id, writes + 1);
            }
            writes >= n
        })
    }

    /// SIGTERM, as [`terminate`]: its exit code and its stderr.
    pub fn stop(&mut self) -> (Option<i32>, String) {
        self.stopped = true;
        terminate(&mut self.child)
    }
}

impl Drop for Looping {
    fn drop(&mut self) {
        if !self.stopped {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Holds `pairs` idle loopback connections, both ends (twice as many
/// sockets), to a listener of their own, in processes named `churn-idle`
/// that hold at most 5,000 sockets each: one process may hold 20,000
/// files, and the tests running beside this one share its limit.
pub fn hold_idle_connections(pairs: usize) -> Vec<Named> {
    const BATCH: usize = 2_500;
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a listener");
    let to = listener.local_addr().expect("its address");
    let mut holders = Vec::new();
    let mut left = pairs;
    while left > 0 {
        let batch = left.min(BATCH);
        let mut sockets = Vec::with_capacity(2 * batch);
        for _ in 0..batch {
            sockets.push(TcpStream::connect(to).expect("connect an idle client"));
            sockets.push(listener.accept().expect("accept an idle client").0);
        }
        let fds: Vec<RawFd> = sockets.iter().map(AsRawFd::as_raw_fd).collect();
        holders.push(Named::hold("churn-idle", &fds));
        left -= batch;
    }
    holders.push(Named::hold("churn-idle", &[listener.as_raw_fd()]));
    holders
}

/// The kernel's raw `tcpi_bytes_received` (the peer's FIN included once
/// it came).
pub fn bytes_received(stream: &TcpStream) -> u64 {
    u64::from_ne_bytes(tcp_info(stream)[128..136].try_into().expect("8 bytes"))
}

/// What the kernel counted on one end: (`tcpi_bytes_acked`,
/// `tcpi_bytes_received`).
pub fn tcp_bytes(stream: &TcpStream) -> (u64, u64) {
    (bytes_acked(stream), bytes_received(stream))
}

/// A small random source (xorshift64*), seeded from the clock; the seed
/// goes to the test's output with the rest of what it saw.
pub struct Rng(u64);

impl Rng {
    pub fn seeded() -> Rng {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        let seed = (nanos ^ u64::from(std::process::id())) | 1;
        eprintln!("random seed {seed}");
        Rng(seed)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }

    /// A duration in `0..max`, to the millisecond.
    pub fn millis_below(&mut self, max: Duration) -> Duration {
        Duration::from_millis(self.below(max.as_millis() as u64))
    }
}

/// A forked child in a network namespace of its own that opens and closes
/// TCP sockets (socket() then close(), never connected) as fast as it can
/// until stopped: a tenant flooding the kernel's destroy notifications.
/// It shares one page with the test: [count, stop, ready].
pub struct Flooder {
    pid: libc::pid_t,
    shared: *const [AtomicU64; 3],
}

impl Flooder {
    /// Forks the flooder and waits until it is in its own namespace.
    /// Needs CAP_SYS_ADMIN (unshare); an error otherwise.
    pub fn start() -> std::io::Result<Flooder> {
        // SAFETY: a fresh shared anonymous page, zeroed, unmapped on drop.
        let page = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if page == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        let shared = page as *const [AtomicU64; 3];
        // SAFETY: the child runs only system calls and atomics (no
        // allocation, no lock) and leaves by _exit: what is safe after
        // fork in a threaded process.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            unsafe { flood(&*shared) }
        }
        let flooder = Flooder { pid, shared };
        if pid < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let ready = || flooder.shared()[2].load(Ordering::Acquire);
        wait_for(Duration::from_secs(10), || ready() != 0);
        match ready() {
            1 => Ok(flooder),
            _ => Err(std::io::Error::other(
                "the flooder could not make a network namespace",
            )),
        }
    }

    fn shared(&self) -> &[AtomicU64; 3] {
        // SAFETY: mapped until drop.
        unsafe { &*self.shared }
    }

    /// Sockets opened and closed so far.
    pub fn count(&self) -> u64 {
        self.shared()[0].load(Ordering::Relaxed)
    }

    /// Stops it, waits for it, and returns how many sockets it opened and
    /// closed.
    pub fn stop(mut self) -> u64 {
        self.end();
        self.count()
    }

    /// Tells it to stop and reaps it (SIGKILL if it ignored the flag),
    /// once: a reaped pid may be another process's by now.
    fn end(&mut self) {
        if self.pid <= 0 {
            return;
        }
        self.shared()[1].store(1, Ordering::Relaxed);
        let mut status = 0;
        // SAFETY: waitpid and kill on our own child, not yet reaped.
        unsafe {
            // Its pid when reaped, -1 if it is not our child (any more): gone.
            let gone = wait_for(Duration::from_secs(5), || {
                libc::waitpid(self.pid, &mut status, libc::WNOHANG) != 0
            });
            if !gone {
                libc::kill(self.pid, libc::SIGKILL);
                libc::waitpid(self.pid, &mut status, 0);
            }
        }
        self.pid = 0;
    }
}

impl Drop for Flooder {
    fn drop(&mut self) {
        self.end();
        // SAFETY: the page mapped in start, no longer used.
        unsafe { libc::munmap(self.shared as *mut libc::c_void, 4096) };
    }
}

/// The flooder's body, in the forked child: system calls only.
unsafe fn flood(shared: &[AtomicU64; 3]) -> ! {
    // Dies with the thread that forked it; holds none of the test's files
    // (another test's sockets must close when that test drops them).
    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
    libc::close_range(3, u32::MAX, 0);
    if libc::unshare(libc::CLONE_NEWNET) != 0 {
        shared[2].store(2, Ordering::Release);
        libc::_exit(2);
    }
    shared[2].store(1, Ordering::Release);
    // At most a minute, whatever happens to the test.
    let mut start = std::mem::zeroed::<libc::timespec>();
    libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut start);
    while shared[1].load(Ordering::Relaxed) == 0 {
        for _ in 0..256 {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
            if fd >= 0 {
                libc::close(fd);
            }
        }
        shared[0].fetch_add(256, Ordering::Relaxed);
        let mut now = std::mem::zeroed::<libc::timespec>();
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now);
        if now.tv_sec - start.tv_sec > 60 {
            break;
        }
    }
    libc::_exit(0)
}

/// `VmHWM` of a process (its peak resident set), in bytes; None once it
/// is gone.
pub fn peak_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// A memory cgroup of the test's own with a limit, to run planet in as
/// systemd's `MemoryMax=` would: cgroup v2's `memory.max` where this
/// process's v2 cgroup hands the memory controller down, else a child of
/// its cgroup v1 memory cgroup with `memory.limit_in_bytes`. Removed on
/// drop (after what ran in it has ended).
pub struct MemoryCage {
    dir: PathBuf,
    procs: CString,
    v2: bool,
}

impl MemoryCage {
    /// None (a skip, or a failure under PLANET_REQUIRE_TOOLS=1) when there
    /// is no memory controller to use.
    pub fn new(limit: u64) -> Option<MemoryCage> {
        let name = format!(
            "planet-churn-{}-{}",
            std::process::id(),
            CAGES.fetch_add(1, Ordering::Relaxed)
        );
        let (parent, v2) = match memory_cgroup() {
            Some(found) => found,
            None => {
                return skip_or_fail("no memory cgroup (v2 memory.max or v1 memory controller)")
            }
        };
        let dir = parent.join(name);
        if let Err(e) = std::fs::create_dir(&dir) {
            return skip_or_fail(&format!("cannot make {}: {e}", dir.display()));
        }
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
        Some(cage)
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

    /// What the kernel says of the cage: its peak usage and OOM kills.
    pub fn report(&self) -> String {
        let read = |name: &str| {
            std::fs::read_to_string(self.dir.join(name))
                .unwrap_or_default()
                .replace('\n', " ")
        };
        match self.v2 {
            true => format!(
                "memory.peak {} memory.events {}",
                read("memory.peak"),
                read("memory.events")
            ),
            false => format!(
                "memory.max_usage_in_bytes {} memory.oom_control {}",
                read("memory.max_usage_in_bytes"),
                read("memory.oom_control")
            ),
        }
    }
}

impl Drop for MemoryCage {
    fn drop(&mut self) {
        // A process just reaped may take a moment to leave.
        wait_for(Duration::from_secs(5), || {
            std::fs::remove_dir(&self.dir).is_ok() || !self.dir.exists()
        });
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
