//! What the heavy tests share: a `--loop` planet followed write by write,
//! idle connections held by the thousand to make every sample slow, the
//! kernel's own tcp_info counters, processes that flood socket()+close()
//! from network namespaces of their own, a process's peak RSS, and an
//! output file read line by line. (The memory cgroup to run planet in is
//! [`crate::cage`].)

use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::testenv::{bytes_acked, tcp_info, terminate, wait_for, Named};

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

/// A sample line's value.
pub fn value(line: &str) -> u64 {
    line.rsplit_once(' ')
        .and_then(|(_, v)| v.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("not a sample: {line}")) as u64
}

/// Each line of a file, read one at a time, to `each`.
pub fn for_each_line(file: &Path, mut each: impl FnMut(String)) {
    use std::io::BufRead;
    if let Ok(file) = std::fs::File::open(file) {
        std::io::BufReader::new(file)
            .lines()
            .map_while(Result::ok)
            .for_each(&mut each);
    }
}

/// The lines of a file that `keep` keeps, read one at a time.
pub fn lines_of(file: &Path, keep: impl Fn(&str) -> bool) -> Vec<String> {
    let mut kept = Vec::new();
    for_each_line(file, |line| {
        if keep(&line) {
            kept.push(line);
        }
    });
    kept
}
