//! Every process's network namespace and container, read once per run
//! through procfs's `Process` (relative to each process's own `/proc/PID`
//! directory): which namespaces there are to read sockets in, and what to
//! call a socket's owner and a namespace in the `container` label.
//!
//! `ns/net` is opened rather than listed with procfs's `namespaces()`, which
//! stats all eight namespace files of every process: one open and one fstat
//! give the inode, and the open file is what `setns` takes.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::os::fd::OwnedFd;

use procfs::process::Process;
use rustix::fs::{fstat, OFlags};

use super::cgroup;

/// One network namespace some process lives in.
#[derive(Debug)]
pub struct Namespace {
    /// An open `/proc/PID/ns/net` of one of its processes, to enter it by.
    pub handle: OwnedFd,
    /// The containers its processes run in (`None`: a process in none).
    pub containers: BTreeSet<Option<String>>,
}

#[derive(Debug, Default)]
pub struct Census {
    /// Namespace inode -> what lives there.
    pub namespaces: BTreeMap<u64, Namespace>,
    /// pid -> (namespace inode, container ID if any).
    pub processes: HashMap<u32, (u64, Option<String>)>,
    /// Processes whose namespace we were not permitted to see.
    pub hidden: usize,
}

impl Census {
    pub fn take() -> Census {
        let mut census = Census::default();
        let Ok(all) = procfs::process::all_processes() else {
            return census;
        };
        for process in all.flatten() {
            let Ok(pid) = u32::try_from(process.pid) else {
                continue;
            };
            let Some((inode, handle)) = network_namespace(&process) else {
                census.hidden += 1;
                continue;
            };
            let container = container_of(&process);
            let namespace = census.namespaces.entry(inode).or_insert(Namespace {
                handle,
                containers: BTreeSet::new(),
            });
            namespace.containers.insert(container.clone());
            census.processes.insert(pid, (inode, container));
        }
        census
    }
}

/// The `container` label of a process: its container's ID, else `""` in
/// planet's own namespace (`own`), else `netns:<inode>`, so that two
/// namespaces never merge into one series.
pub fn label(netns: u64, container: Option<&str>, own: u64) -> String {
    match container {
        Some(id) => id.to_string(),
        None if netns == own => String::new(),
        None => format!("netns:{netns}"),
    }
}

/// The namespace and container of a process the census did not see (it
/// started since).
pub fn identify(process: &Process) -> Option<(u64, Option<String>)> {
    let (inode, _) = network_namespace(process)?;
    Some((inode, container_of(process)))
}

/// The inode of a process's network namespace, and the namespace file open.
fn network_namespace(process: &Process) -> Option<(u64, OwnedFd)> {
    let file = process
        .open_relative_flags("ns/net", OFlags::RDONLY | OFlags::CLOEXEC)
        .ok()?;
    let handle = OwnedFd::from(file);
    let inode = fstat(&handle).ok()?.st_ino;
    Some((inode, handle))
}

/// The container a process runs in, from `/proc/PID/cgroup`.
fn container_of(process: &Process) -> Option<String> {
    let groups = process.cgroups().ok()?;
    let lines = groups.0.iter().map(|g| (g.hierarchy, g.pathname.as_str()));
    cgroup::container_of(lines).map(str::to_string)
}
