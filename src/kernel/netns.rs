//! Network namespaces: a socket lives in one, and sock_diag answers only
//! for the namespace the asking socket was made in. So planet opens its
//! netlink sockets from a short-lived thread that has entered the
//! namespace (`setns`, CAP_SYS_ADMIN); the sockets stay bound to it after
//! the thread has gone.

use std::io;
use std::os::fd::BorrowedFd;

use rustix::thread::{move_into_link_name_space, LinkNameSpaceType};

/// The inode of planet's own network namespace (what `/proc/self/ns/net`
/// names, `net:[INODE]`).
pub fn own() -> io::Result<u64> {
    Ok(rustix::fs::stat("/proc/self/ns/net")?.st_ino)
}

/// Runs `work` on a thread inside the namespace `handle` (an open
/// `/proc/PID/ns/net`) and returns what it returned. Fails without the
/// privilege to enter (EPERM), which leaves planet where it was.
pub fn within<T: Send>(handle: BorrowedFd<'_>, work: impl FnOnce() -> T + Send) -> io::Result<T> {
    std::thread::scope(|scope| {
        let thread = scope.spawn(move || -> io::Result<T> {
            move_into_link_name_space(handle, Some(LinkNameSpaceType::Network))?;
            Ok(work())
        });
        thread
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("a namespace thread panicked")))
    })
}
