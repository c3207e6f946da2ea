//! Helpers shared by the integration tests: run the built binary, give
//! sockets to processes with chosen names, and isolate a test in a network
//! namespace of its own.
#![allow(dead_code)] // each test file uses its own subset

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const PLANET: &str = env!("CARGO_BIN_EXE_planet");

/// `planet` with the given arguments.
pub fn planet<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut command = Command::new(PLANET);
    command.args(args).env_remove("PLANET_OUT");
    command
}

/// `planet collect --out OUT --no-resolve` with its state file in
/// `state_dir`: tests never touch the default state path under /var/lib, nor
/// ask a DNS server they did not start.
pub fn collect_into(out: &Path, state_dir: &Path) -> Command {
    let mut command = planet(["collect", "--no-resolve", "--out"]);
    command
        .arg(out)
        .arg("--state-file")
        .arg(state_dir.join("planet.state"));
    command
}

/// Runs `planet collect --stdout --no-resolve` until two runs in a row agree
/// (timing lines aside), asserts each succeeded silently, and returns the
/// output.
///
/// Why more than once: while any test in this process spawns a child, the
/// child holds a copy of every fd, our sockets too, until it execs; with pids
/// recycled it can be their lowest-pid owner for that instant. A second
/// agreeing run shows the answer is not such an instant. (It also checks
/// that the output is deterministic.)
pub fn collect_stdout(extra: &[&str]) -> String {
    let once = || {
        let output = planet(["collect", "--stdout", "--no-resolve"].iter().chain(extra))
            .output()
            .expect("run planet");
        assert_success(&output);
        String::from_utf8(output.stdout).expect("output is UTF-8")
    };
    let mut previous = once();
    for _ in 0..10 {
        let next = once();
        if without_timing(&next) == without_timing(&previous) {
            return next;
        }
        previous = next;
    }
    previous
}

pub fn assert_success(output: &Output) {
    assert!(
        output.status.success() && output.stderr.is_empty(),
        "planet failed or was not silent: {:?}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The sample lines of one family (without HELP/TYPE).
pub fn samples<'a>(text: &'a str, family: &str) -> Vec<&'a str> {
    text.lines()
        .filter(|line| {
            line.strip_prefix(family)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .collect()
}

/// The sample lines of one family that carry `port="P"` for one of `ports`.
pub fn samples_on_ports<'a>(text: &'a str, family: &str, ports: &[u16]) -> BTreeSet<&'a str> {
    samples(text, family)
        .into_iter()
        .filter(|line| {
            ports
                .iter()
                .any(|p| line.contains(&format!("port=\"{p}\"")))
        })
        .collect()
}

/// Drops lines that differ from run to run by design (times and durations).
pub fn without_timing(text: &str) -> String {
    text.lines()
        .filter(|l| {
            !l.starts_with("planet_collect_timestamp_seconds")
                && !l.starts_with("planet_collector_duration_seconds")
                && !l.starts_with("planet_snapshot_duration_seconds")
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// A process whose `comm` is `name` holding the sockets handed to it: `sleep`
/// started through a symlink of that name, inheriting the sockets' fds. The
/// caller drops its own copies so that this process is their only owner.
pub struct Named {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Named {
    pub fn hold(name: impl AsRef<OsStr>, fds: &[RawFd]) -> Named {
        let dir = tempfile::tempdir().expect("tempdir");
        let link = dir.path().join(name.as_ref());
        std::os::unix::fs::symlink(which("sleep").expect("sleep(1) is installed"), &link)
            .expect("symlink");
        let mut command = Command::new(&link);
        command.arg("infinity").stdin(Stdio::null());
        inherit(&mut command, fds);
        let child = command.spawn().expect("spawn named holder");
        Named { child, _dir: dir }
    }

    /// As [`Named::hold`], for a name given as raw bytes, any but NUL and at
    /// most 15 (even `/`, which no exec path can give): `sh` writes its own
    /// /proc/self/comm (only a process itself may) and waits on stdin.
    pub fn hold_raw(comm: &[u8], fds: &[RawFd]) -> Named {
        use std::os::unix::ffi::OsStrExt;
        let mut command = Command::new("sh");
        command
            .args([
                "-c",
                "printf '%s' \"$1\" > /proc/$$/comm && echo ready && read _",
                "sh",
            ])
            .arg(OsStr::from_bytes(comm))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        inherit(&mut command, fds);
        let mut child = command.spawn().expect("spawn sh");
        let mut ready = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
            &mut ready,
        )
        .unwrap();
        assert_eq!(ready, "ready\n", "sh could not rename itself");
        Named {
            child,
            _dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// Lets the child keep these fds across exec (all others close at exec).
fn inherit(command: &mut Command, fds: &[RawFd]) {
    let fds = fds.to_vec();
    // SAFETY: only fcntl, which is async-signal-safe, runs between fork and exec.
    unsafe {
        command.pre_exec(move || {
            for &fd in &fds {
                if libc::fcntl(fd, libc::F_SETFD, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

impl Drop for Named {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A program on PATH, or in the sbin directories a non-root PATH may lack.
pub fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(tool))
        .find(|p| p.is_file())
}

/// Whether CI asked for every tool: then a missing one fails the test.
pub fn tools_required() -> bool {
    std::env::var_os("PLANET_REQUIRE_TOOLS").is_some_and(|v| v == "1")
}

/// Skips (returns None, printing why) or, under PLANET_REQUIRE_TOOLS=1, fails.
pub fn skip_or_fail<T>(reason: &str) -> Option<T> {
    if tools_required() {
        panic!("PLANET_REQUIRE_TOOLS=1 but {reason}");
    }
    eprintln!("SKIPPED: {reason}");
    None
}

/// A tool from PATH, or a skip with the Debian package that provides it.
pub fn tool(name: &str, package: &str) -> Option<PathBuf> {
    match which(name) {
        Some(path) => Some(path),
        None => skip_or_fail(&format!(
            "{name} is not installed (Debian package {package})"
        )),
    }
}

/// Asserts that `promtool check metrics` accepts `text` without a word (a
/// lint complaint fails too); skips when promtool is missing.
pub fn assert_promtool_accepts(text: &str) {
    let Some(promtool) = tool("promtool", "prometheus") else {
        return;
    };
    let mut check = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut check.stdin.take().unwrap(), text.as_bytes()).unwrap();
    let result = check.wait_with_output().unwrap();
    assert!(
        result.status.success() && result.stdout.is_empty() && result.stderr.is_empty(),
        "promtool: {}{}\n{text}",
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr)
    );
}

/// A real node_exporter reading `dir` as its textfile directory, scraped
/// once on a loopback port: its /metrics page. None (a skip) when it is not
/// installed.
pub fn node_exporter_page(dir: &Path) -> Option<String> {
    let node_exporter = tool("prometheus-node-exporter", "prometheus-node-exporter")?;
    let web = port_of(TcpListener::bind("127.0.0.1:0").unwrap().local_addr());
    let mut exporter = Command::new(node_exporter)
        .args(["--collector.disable-defaults", "--collector.textfile"])
        .arg(format!("--collector.textfile.directory={}", dir.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{web}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut page = String::new();
    let up = wait_for(Duration::from_secs(20), || {
        page = http_get(web, "/metrics").unwrap_or_default();
        page.contains("node_textfile_scrape_error")
    });
    let _ = exporter.kill();
    let _ = exporter.wait();
    assert!(up, "node_exporter did not answer: {page}");
    Some(page)
}

fn http_get(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut body = String::new();
    stream.read_to_string(&mut body).ok()?;
    Some(body)
}

/// Runs `body` on a thread of its own inside a new network namespace with
/// loopback up, so that it sees only its own sockets; processes it spawns
/// inherit the namespace. Needs root (CAP_SYS_ADMIN); otherwise skips.
pub fn in_own_netns<T: Send + 'static>(body: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let joined = std::thread::spawn(move || {
        // SAFETY: plain syscall; affects only this thread.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        set_loopback_up()?;
        Ok(body())
    })
    .join();
    match joined {
        Ok(Ok(value)) => Some(value),
        Ok(Err(e)) => skip_or_fail(&format!("cannot make a network namespace: {e}")),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

fn set_loopback_up() -> std::io::Result<()> {
    let socket = UdpSocket::bind("0.0.0.0:0").or_else(|_| UdpSocket::bind("[::]:0"))?;
    // SAFETY: ifreq is plain data; the ioctls read and write only within it.
    unsafe {
        let mut ifr: libc::ifreq = std::mem::zeroed();
        for (dst, src) in ifr.ifr_name.iter_mut().zip(b"lo\0") {
            *dst = *src as libc::c_char;
        }
        if libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFFLAGS, &mut ifr) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        ifr.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        if libc::ioctl(socket.as_raw_fd(), libc::SIOCSIFFLAGS, &ifr) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// A UDP socket bound on loopback to a port outside the kernel's ephemeral
/// range (a server, not a client). Tries ports until one is free.
pub fn udp_server(ip: &str) -> UdpSocket {
    let (low, _) = ephemeral_range();
    let seed = std::process::id() as u64 ^ Instant::now().elapsed().subsec_nanos() as u64;
    let span = u64::from(low - 10_000);
    for i in 0..2000u64 {
        let port = 10_000 + ((seed.wrapping_mul(2_654_435_761) + i * 7919) % span) as u16;
        if let Ok(socket) = UdpSocket::bind(SocketAddr::new(ip.parse().unwrap(), port)) {
            return socket;
        }
    }
    panic!("no free UDP port below the ephemeral range");
}

pub fn ephemeral_range() -> (u16, u16) {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap();
    let mut fields = text.split_whitespace().map(|f| f.parse::<u16>().unwrap());
    (fields.next().unwrap(), fields.next().unwrap())
}

pub fn port_of(addr: std::io::Result<SocketAddr>) -> u16 {
    addr.expect("local address").port()
}

/// Connects `n` clients to a listener without accepting them.
pub fn queue_connections(listener: &TcpListener, n: usize) -> Vec<TcpStream> {
    let addr = listener.local_addr().unwrap();
    (0..n).map(|_| TcpStream::connect(addr).unwrap()).collect()
}

/// Waits until `check` holds, for at most `limit`.
pub fn wait_for(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    check()
}

/// The `planet_collect_timestamp_seconds` line of an output file, once it
/// has been written: a new one means a new write.
pub fn collect_timestamp(file: &Path) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    samples(&text, "planet_collect_timestamp_seconds")
        .first()
        .map(|line| line.to_string())
}

/// Sends SIGTERM to a `--loop` planet and waits up to 10s for it to end
/// (then kills it): its exit code (None if it had to be killed) and all it
/// wrote to its piped stderr.
pub fn terminate(child: &mut Child) -> (Option<i32>, String) {
    use std::io::Read;
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let mut exited = None;
    wait_for(Duration::from_secs(10), || {
        exited = child.try_wait().ok().flatten();
        exited.is_some()
    });
    if exited.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        pipe.read_to_string(&mut stderr).unwrap();
    }
    (exited.and_then(|status| status.code()), stderr)
}

/// Every file name in a directory, sorted.
pub fn list_dir(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
