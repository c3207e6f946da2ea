//! Every process's network namespace and container, read once per run
//! through procfs's `Process` (relative to each process's own `/proc/PID`
//! directory): which namespaces there are to read sockets in, what to call
//! a socket's owner and a namespace in the `container` label, and which
//! namespaces planet could not read, and why.
//!
//! A namespace is identified by a `stat` of `/proc/PID/ns/net`, which
//! costs no file descriptor; only the first process seen in a namespace has
//! the file opened, as the handle `setns` takes. Handles are held for the
//! whole run, one per namespace, so they are rationed against the fd limit:
//! when it runs out, planet must still be able to list /proc and open
//! netlink sockets, and the namespaces past the budget are counted as
//! skipped (out of fds), never silently left out.
//!
//! Without the right to see a process's `ns/net` (planet is not root, or
//! lacks CAP_SYS_PTRACE) its namespace cannot be named, let alone entered.
//! `/proc/PID/net/dev` can still be stat'ed by anyone, and its inode differs
//! between namespaces: that counts the namespaces hidden from planet.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io;
use std::os::fd::OwnedFd;

use procfs::process::Process;
use rustix::fs::{fstat, OFlags};
use rustix::io::Errno;

use super::cgroup;

/// Why a network namespace was not read. Each is a value of the `reason`
/// label of `planet_network_namespaces_skipped`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Unread {
    /// Its processes' `/proc/PID/ns/net` could not be seen: planet is not
    /// root, or lacks CAP_SYS_PTRACE.
    Hidden,
    /// Entering it was refused: planet lacks CAP_SYS_ADMIN.
    NoPrivilege,
    /// planet ran out of file descriptors (RLIMIT_NOFILE).
    OutOfFds,
    /// Its processes exited before it could be opened.
    Vanished,
    /// Reading its sockets failed otherwise.
    Failed,
}

impl Unread {
    pub const ALL: [Unread; 5] = [
        Unread::Hidden,
        Unread::NoPrivilege,
        Unread::OutOfFds,
        Unread::Vanished,
        Unread::Failed,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Unread::Hidden => "hidden",
            Unread::NoPrivilege => "no_privilege",
            Unread::OutOfFds => "out_of_fds",
            Unread::Vanished => "vanished",
            Unread::Failed => "failed",
        }
    }

    /// What an operator can do about it, for the warning.
    pub fn remedy(self) -> &'static str {
        match self {
            Unread::Hidden => "run as root, or with CAP_SYS_PTRACE",
            Unread::NoPrivilege => "entering one needs CAP_SYS_ADMIN",
            Unread::OutOfFds => "raise LimitNOFILE= / ulimit -Hn",
            Unread::Vanished => "their processes exited during the run",
            Unread::Failed => "sock_diag failed there",
        }
    }

    /// The reason an operation on a namespace failed with `e`.
    pub fn of(e: &io::Error) -> Unread {
        match e.raw_os_error().map(Errno::from_raw_os_error) {
            Some(Errno::MFILE | Errno::NFILE) => Unread::OutOfFds,
            Some(Errno::PERM) => Unread::NoPrivilege,
            Some(Errno::ACCESS) => Unread::Hidden,
            Some(Errno::NOENT | Errno::SRCH) => Unread::Vanished,
            _ => Unread::Failed,
        }
    }
}

/// One network namespace some process lives in (see `snapshot::Namespace`
/// for one this run has read).
#[derive(Debug)]
pub struct Occupied {
    /// An open `/proc/PID/ns/net` of one of its processes, to enter it by,
    /// or why none could be opened.
    pub handle: Result<OwnedFd, Unread>,
    /// The containers its processes run in (`None`: a process in none).
    pub containers: BTreeSet<Option<String>>,
    /// A process living there, to tell its `net/dev` identity by.
    pid: u32,
}

#[derive(Debug, Default)]
pub struct Census {
    /// Namespace inode -> what lives there.
    pub namespaces: BTreeMap<u64, Occupied>,
    /// pid -> (namespace inode, container ID if any).
    pub processes: HashMap<u32, (u64, Option<String>)>,
    /// Namespaces other than planet's own whose processes planet may not
    /// see (counted by their `/proc/PID/net/dev` identity).
    pub hidden: usize,
}

impl Census {
    /// Lists every process. At most `handles` namespace files are kept
    /// open; the rest of the namespaces are `Err(OutOfFds)`.
    pub fn take(handles: usize) -> Census {
        let mut census = Census::default();
        let Ok(all) = procfs::process::all_processes() else {
            return census;
        };
        let mut opened = 0;
        let mut hidden = HashSet::new();
        for process in all.flatten() {
            let Ok(pid) = u32::try_from(process.pid) else {
                continue;
            };
            let inode = match rustix::fs::stat(format!("/proc/{pid}/ns/net")) {
                Ok(stat) => stat.st_ino,
                Err(Errno::ACCESS | Errno::PERM) => {
                    hidden.extend(net_identity(pid));
                    continue;
                }
                Err(_) => continue, // exited: nothing of it to read
            };
            let container = container_of(&process);
            let namespace = census.namespaces.entry(inode).or_insert(Occupied {
                handle: Err(Unread::Vanished),
                containers: BTreeSet::new(),
                pid,
            });
            if namespace.handle.is_err() {
                namespace.handle = match opened < handles {
                    true => open_namespace(&process, inode),
                    false => Err(Unread::OutOfFds),
                };
                opened += usize::from(namespace.handle.is_ok());
            }
            namespace.containers.insert(container.clone());
            census.processes.insert(pid, (inode, container));
        }
        if !hidden.is_empty() {
            // The hidden identities that are not a namespace already seen.
            let seen = census
                .namespaces
                .values()
                .filter_map(|n| net_identity(n.pid));
            let own = rustix::fs::stat("/proc/self/net/dev").map(|s| s.st_ino);
            for identity in seen.chain(own) {
                hidden.remove(&identity);
            }
            census.hidden = hidden.len();
        }
        census
    }
}

/// The `container` label of a process: its container's ID, else `""` in
/// planet's own namespace (`own`), else `netns:<inode>`, so that two
/// namespaces never merge into one series.
pub fn label(netns: u64, own: u64) -> String {
    match netns == own {
        true => String::new(),
        false => format!("netns:{netns}"),
    }
}

/// The namespace and container of a process the census did not see (it
/// started since).
pub fn identify(process: &Process) -> Option<(u64, Option<String>)> {
    let pid = u32::try_from(process.pid).ok()?;
    let inode = rustix::fs::stat(format!("/proc/{pid}/ns/net")).ok()?.st_ino;
    Some((inode, container_of(process)))
}

/// Opens a process's `ns/net` through its own directory, and checks that it
/// is still the namespace `inode` (the pid may have been reused).
fn open_namespace(process: &Process, inode: u64) -> Result<OwnedFd, Unread> {
    let file = process
        .open_relative_flags("ns/net", OFlags::RDONLY | OFlags::CLOEXEC)
        .map_err(|e| match e {
            procfs::ProcError::PermissionDenied(_) => Unread::Hidden,
            procfs::ProcError::NotFound(_) => Unread::Vanished,
            procfs::ProcError::Io(e, _) => Unread::of(&e),
            _ => Unread::Failed,
        })?;
    let handle = OwnedFd::from(file);
    match fstat(&handle) {
        Ok(stat) if stat.st_ino == inode => Ok(handle),
        _ => Err(Unread::Vanished),
    }
}

/// An identity of a process's network namespace that needs no privilege:
/// the inode of its `net/dev` file, one per namespace.
fn net_identity(pid: u32) -> Option<u64> {
    rustix::fs::stat(format!("/proc/{pid}/net/dev"))
        .ok()
        .map(|s| s.st_ino)
}

/// The container a process runs in, from `/proc/PID/cgroup`.
fn container_of(process: &Process) -> Option<String> {
    let groups = process.cgroups().ok()?;
    let lines = groups.0.iter().map(|g| (g.hierarchy, g.pathname.as_str()));
    cgroup::container_of(lines).map(str::to_string)
}
