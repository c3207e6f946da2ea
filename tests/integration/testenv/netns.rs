//! Network namespaces a test makes for itself, so that what it compares
//! is only its own sockets.

use std::net::UdpSocket;
use std::os::fd::AsRawFd;

use super::oracles::skip_or_fail;

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
