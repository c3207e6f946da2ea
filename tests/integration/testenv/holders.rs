//! Sockets held by processes with chosen names, and the sockets tests
//! make: what planet will be asked to name and classify.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::os::fd::RawFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::oracles::which;
use super::wait_for;

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

    /// As [`Named::hold`], the holder living in the named network
    /// namespace `netns` (`ip netns exec`), as a container's process does.
    pub fn hold_in_netns(netns: &str, name: impl AsRef<OsStr>, fds: &[RawFd]) -> Named {
        let dir = tempfile::tempdir().expect("tempdir");
        let link = dir.path().join(name.as_ref());
        std::os::unix::fs::symlink(which("sleep").expect("sleep(1) is installed"), &link)
            .expect("symlink");
        let ip = which("ip").expect("ip(8) is installed");
        let mut command = Command::new(ip);
        command
            .args(["netns", "exec", netns])
            .arg(&link)
            .arg("infinity")
            .stdin(Stdio::null());
        inherit(&mut command, fds);
        let child = command.spawn().expect("spawn named holder");
        Named { child, _dir: dir }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// Lets the child keep these fds across exec (all others close at exec).
pub fn inherit(command: &mut Command, fds: &[RawFd]) {
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

/// A TCP listener on 127.0.0.1, on a port the kernel chose, and the port.
pub fn loopback_listener() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen on loopback");
    let port = port_of(listener.local_addr());
    (listener, port)
}

/// A loopback port nothing listens on: one the kernel chose, let go at
/// once (for a server the test starts, or to be refused).
pub fn free_port() -> u16 {
    loopback_listener().1
}

/// Connects `n` clients to a listener without accepting them.
pub fn queue_connections(listener: &TcpListener, n: usize) -> Vec<TcpStream> {
    let addr = listener.local_addr().unwrap();
    (0..n).map(|_| TcpStream::connect(addr).unwrap()).collect()
}

/// A socket's `tcp_info` as the kernel gives it.
pub fn tcp_info(stream: &TcpStream) -> [u8; 256] {
    let mut info = [0u8; 256];
    let mut len = info.len() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `info`.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            info.as_mut_ptr().cast(),
            &mut len,
        )
    };
    assert_eq!(rc, 0, "getsockopt(TCP_INFO)");
    info
}

/// The kernel's raw `tcpi_bytes_acked`, to know when a transfer is complete.
pub fn bytes_acked(stream: &TcpStream) -> u64 {
    u64::from_ne_bytes(tcp_info(stream)[120..128].try_into().unwrap())
}

/// Moves `out` bytes client -> server and `back` bytes server -> client, and
/// waits until both are acknowledged (the client's count includes its SYN).
pub fn transfer(client: &mut TcpStream, server: &mut TcpStream, out: usize, back: usize) {
    let acked_client = bytes_acked(client);
    let acked_server = bytes_acked(server);
    let mut sink = vec![0u8; out.max(back)];
    client.write_all(&vec![b'o'; out]).unwrap();
    server.read_exact(&mut sink[..out]).unwrap();
    server.write_all(&vec![b'b'; back]).unwrap();
    client.read_exact(&mut sink[..back]).unwrap();
    assert!(wait_for(Duration::from_secs(5), || {
        bytes_acked(client) == acked_client + out as u64
            && bytes_acked(server) == acked_server + back as u64
    }));
}
