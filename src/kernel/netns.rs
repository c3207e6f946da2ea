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

/// Runs `work(inode)` inside each of `namespaces`, on at most `threads`
/// threads that each enter namespace after namespace (a thread per
/// namespace would cost a thread's creation each). Returns each result, or
/// why that namespace could not be entered, in no particular order.
pub fn each<T: Send>(
    namespaces: Vec<(u64, BorrowedFd<'_>)>,
    threads: usize,
    work: impl Fn(u64) -> T + Sync,
) -> Vec<(u64, io::Result<T>)> {
    let queue = std::sync::Mutex::new(namespaces.into_iter());
    let next = || match queue.lock() {
        Ok(mut queue) => queue.next(),
        Err(poisoned) => poisoned.into_inner().next(),
    };
    let (queue_ref, work) = (&next, &work);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                scope.spawn(move || {
                    let mut done = Vec::new();
                    while let Some((inode, handle)) = queue_ref() {
                        let entered =
                            move_into_link_name_space(handle, Some(LinkNameSpaceType::Network));
                        done.push((
                            inode,
                            entered.map(|()| work(inode)).map_err(io::Error::from),
                        ));
                    }
                    done
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| worker.join().unwrap_or_default())
            .collect()
    })
}
