//! Which process owns a socket: socket inode -> the longest-running process
//! holding it -> its `comm`.
//!
//! Only `/proc/PID/fd` links, `/proc/PID/stat` (for the start time) and
//! `/proc/PID/comm` are read, and for a comm the kernel cut at 15 bytes the
//! file names of the exe link and of argv[0] ([`names`]); never the rest of
//! a process's command line, nor its environment, which hold secrets.
//!
//! Several processes hold a socket when a server forks workers. The one
//! that has run longest names it (the parent), not the lowest pid: pids
//! wrap, and a short-lived child can get a lower one than its parent.
//! Start times are in clock ticks (10 ms), and a parent that forks its
//! workers at once shares its tick with them: then the ancestor wins,
//! found by walking the parent links up from the other holder. Each
//! process is read through its own open `/proc/PID` directory (procfs's
//! `Process`), and its start time and name are read as soon as it is seen
//! to hold a socket: after the walk the pid may be another process, and a
//! process that exits mid-walk is no owner (its name is never read as "").
//!
//! The fd walk itself is ours (readdir + readlinkat into one buffer on the
//! open `fd` directory) rather than procfs's fd iterator: measured on this
//! class of machine with 20k sockets, procfs costs ~140 ms (it stats and
//! opens by path for every fd) against ~50-80 ms for this walk, and the
//! difference alone puts a run past the performance target of a quarter of
//! `ss -tanpi`'s time. `statx` on the link instead of `readlinkat` was
//! measured 6% faster but follows the link to its target: a file on a hung
//! NFS mount would hang us.
//!
//! The walk is most of a run's cost, so `--loop` reuses the previous map
//! while it still answers for every socket (see [`ProcessMap::reuse`]).

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use procfs::process::Process;
use procfs::ProcError;
use rustix::fs::{Dir, OFlags};

use super::census::{self, Census};
use super::names;

/// However well a map still fits, `--loop` walks /proc again after this
/// long, so that a socket handed to another process is seen within it.
const MAX_REUSE_AGE: Duration = Duration::from_secs(60);

/// An owner we could see: its pid, its `comm` made valid UTF-8, when it
/// started (clock ticks since boot), which tells it from a later process
/// that reuses the pid, and the ID of the container it runs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub pid: u32,
    /// Its parent's pid, to tell an ancestor among holders that started in
    /// the same tick.
    pub parent: u32,
    pub name: String,
    pub started: u64,
    pub container: Option<String>,
}

#[derive(Debug)]
pub struct ProcessMap {
    /// inode -> index into `owners`.
    by_inode: HashMap<u32, usize>,
    owners: Vec<Owner>,
    /// Every inode the walk looked for, owned or not.
    looked_for: HashSet<u32>,
    /// Processes whose fd table we were not permitted to read.
    pub denied: usize,
    walked: Instant,
}

impl Default for ProcessMap {
    fn default() -> ProcessMap {
        ProcessMap {
            by_inode: HashMap::new(),
            owners: Vec::new(),
            looked_for: HashSet::new(),
            denied: 0,
            walked: Instant::now(),
        }
    }
}

impl ProcessMap {
    /// Maps the given socket inodes to their owners, with the containers
    /// the census found them in. Processes that vanish during the walk are
    /// skipped; unreadable ones are counted in `denied`.
    pub fn scan(inodes: impl IntoIterator<Item = u32>, census: &Census) -> ProcessMap {
        let looked_for: HashSet<u32> = inodes.into_iter().filter(|&inode| inode != 0).collect();
        let mut map = ProcessMap::default();
        // inode -> index of its best owner so far.
        let mut best: HashMap<u32, usize> = HashMap::new();
        let mut held = Vec::new();
        let mut lineage = Lineage::default();
        let processes = match looked_for.is_empty() {
            true => None,
            false => procfs::process::all_processes().ok(),
        };
        for process in processes.into_iter().flatten().flatten() {
            held.clear();
            match held_sockets(&process, &looked_for, &mut held) {
                Ok(()) => {}
                Err(ProcError::PermissionDenied(_)) => {
                    map.denied += 1;
                    continue;
                }
                Err(_) => continue, // gone, or a zombie without fds
            }
            if held.is_empty() {
                continue;
            }
            let Some(mut owner) = identify(&process) else {
                continue; // exited since: not an owner
            };
            owner.container = match census.processes.get(&owner.pid) {
                Some((_, container)) => container.clone(),
                None => census::identify(&process).and_then(|(_, container)| container),
            };
            map.owners.push(owner);
            let index = map.owners.len() - 1;
            for &inode in &held {
                let current = best.entry(inode).or_insert(index);
                if lineage.outranks(&map.owners[index], &map.owners[*current]) {
                    *current = index;
                }
            }
        }
        // Keep only the owners that won an inode: `reuse` checks each.
        let mut kept: HashMap<usize, usize> = HashMap::new();
        let mut owners = Vec::new();
        for index in best.values_mut() {
            *index = *kept.entry(*index).or_insert_with(|| {
                owners.push(map.owners[*index].clone());
                owners.len() - 1
            });
        }
        map.owners = owners;
        map.by_inode = best;
        map.looked_for = looked_for;
        map
    }

    /// The previous map, when it still answers for every socket: no inode it
    /// did not look for, every owner still running (same pid, same start)
    /// under the same name, and walked less than a minute ago. Otherwise a
    /// fresh walk.
    pub fn reuse(
        previous: ProcessMap,
        inodes: impl IntoIterator<Item = u32> + Clone,
        census: &Census,
    ) -> ProcessMap {
        let fits = previous.walked.elapsed() < MAX_REUSE_AGE
            && inodes
                .clone()
                .into_iter()
                .all(|inode| inode == 0 || previous.looked_for.contains(&inode))
            && previous.owners.iter().all(|owner| {
                let now = i32::try_from(owner.pid)
                    .ok()
                    .and_then(|pid| Process::new(pid).ok())
                    .and_then(|process| identify(&process));
                now.is_some_and(|now| {
                    (now.pid, &now.name, now.started) == (owner.pid, &owner.name, owner.started)
                })
            });
        if fits {
            previous
        } else {
            ProcessMap::scan(inodes, census)
        }
    }

    pub fn owner(&self, inode: u32) -> Option<&Owner> {
        self.by_inode.get(&inode).map(|&i| &self.owners[i])
    }

    /// The owner's name, or `""` when it is unknown.
    pub fn name(&self, inode: u32) -> &str {
        self.owner(inode).map_or("", |o| o.name.as_str())
    }
}

/// Who a process is now: pid, start time and name (its `comm`, up to 15
/// bytes of anything but NUL, made whole where the kernel cut it; see
/// [`names`]), read through its open directory. None once it exited.
fn identify(process: &Process) -> Option<Owner> {
    let stat = process.stat().ok()?;
    let mut comm = Vec::with_capacity(16);
    process
        .open_relative("comm")
        .ok()?
        .take(64)
        .read_to_end(&mut comm)
        .ok()?;
    if comm.last() == Some(&b'\n') {
        comm.pop();
    }
    Some(Owner {
        pid: u32::try_from(process.pid).ok()?,
        parent: u32::try_from(stat.ppid).unwrap_or(0),
        name: String::from_utf8_lossy(&names::whole(process, &comm)).into_owned(),
        started: stat.starttime,
        container: None,
    })
}

/// Parent links and start times of the processes above holders, read as
/// needed and kept for one walk.
#[derive(Default)]
struct Lineage {
    /// pid -> (parent pid, start time); None once it could not be read.
    known: HashMap<u32, Option<(u32, u64)>>,
}

/// How far up a chain of parents to look: forked workers are children or
/// grandchildren of their server.
const MAX_GENERATIONS: usize = 32;

impl Lineage {
    /// Whether `a` should name a socket rather than `b`: it has run longer;
    /// in the same tick, it is `b`'s ancestor; else the lower pid, for a
    /// choice that does not depend on the order of the walk.
    fn outranks(&mut self, a: &Owner, b: &Owner) -> bool {
        if a.started != b.started {
            return a.started < b.started;
        }
        if self.is_ancestor(a, b) {
            return true;
        }
        !self.is_ancestor(b, a) && a.pid < b.pid
    }

    fn is_ancestor(&mut self, a: &Owner, b: &Owner) -> bool {
        let mut pid = b.parent;
        for _ in 0..MAX_GENERATIONS {
            if pid == a.pid {
                return true;
            }
            if pid <= 1 {
                return false;
            }
            match self.parent_of(pid) {
                // An ancestor of `b` that started before `a` cannot descend
                // from it: `a` is not above it.
                Some((parent, started)) if started >= a.started => pid = parent,
                _ => return false,
            }
        }
        false
    }

    fn parent_of(&mut self, pid: u32) -> Option<(u32, u64)> {
        *self.known.entry(pid).or_insert_with(|| {
            let stat = Process::new(i32::try_from(pid).ok()?).ok()?.stat().ok()?;
            Some((u32::try_from(stat.ppid).ok()?, stat.starttime))
        })
    }
}

/// The wanted socket inodes among a process's fds, into `held`.
fn held_sockets(
    process: &Process,
    wanted: &HashSet<u32>,
    held: &mut Vec<u32>,
) -> Result<(), ProcError> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let fds = OwnedFd::from(process.open_relative_flags("fd", flags)?);
    let Ok(entries) = Dir::read_from(&fds) else {
        return Ok(());
    };
    let mut link = [0u8; 64];
    // One readlinkat per fd into a buffer of ours: the hot path of a run.
    for entry in entries {
        let Ok(entry) = entry else {
            return Ok(()); // the process exited mid-walk
        };
        let name = entry.file_name();
        if name.to_bytes().first() == Some(&b'.') {
            continue;
        }
        let Ok(len) = rustix::fs::readlinkat_raw(&fds, name, &mut link[..]) else {
            continue; // closed since readdir
        };
        if let Some(inode) = socket_inode(&link[..len]).filter(|i| wanted.contains(i)) {
            held.push(inode);
        }
    }
    Ok(())
}

/// Parses the `socket:[12345]` form of an fd link.
fn socket_inode(link: &[u8]) -> Option<u32> {
    let digits = link.strip_prefix(b"socket:[")?.strip_suffix(b"]")?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::os::fd::AsRawFd;

    #[test]
    fn socket_links_parse() {
        assert_eq!(socket_inode(b"socket:[12345]"), Some(12345));
        assert_eq!(socket_inode(b"socket:[]"), None);
        assert_eq!(socket_inode(b"pipe:[12345]"), None);
        assert_eq!(socket_inode(b"socket:[99999999999]"), None);
        assert_eq!(socket_inode(b"/dev/null"), None);
    }

    #[test]
    fn in_the_same_tick_the_ancestor_wins_whatever_the_pids() {
        let owner = |pid, parent, started| Owner {
            pid,
            parent,
            name: String::new(),
            started,
            container: None,
        };
        // Pids far above any real one, so that no lookup finds a process.
        let parent = owner(3_000_000, 1, 100);
        let worker = owner(2_000_000, 3_000_000, 100);
        let mut lineage = Lineage::default();
        assert!(lineage.outranks(&parent, &worker));
        assert!(!lineage.outranks(&worker, &parent));
        // Unrelated holders of the same tick: the lower pid, either way round.
        let stranger = owner(2_500_000, 1, 100);
        assert!(lineage.outranks(&worker, &stranger));
        assert!(!lineage.outranks(&stranger, &worker));
        // An earlier start wins over any lineage.
        let earlier = owner(4_000_000, 1, 99);
        assert!(lineage.outranks(&earlier, &parent));
    }

    #[test]
    fn finds_our_own_listener() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let link = std::fs::read_link(format!("/proc/self/fd/{}", listener.as_raw_fd())).unwrap();
        let inode = socket_inode(link.to_str().unwrap().as_bytes()).unwrap();
        let census = Census::take(64);
        let map = ProcessMap::scan([inode], &census);
        let owner = map.owner(inode).expect("our own socket has an owner");
        assert_eq!(owner.pid, std::process::id());
        let comm = std::fs::read("/proc/self/comm").unwrap();
        let me = Process::myself().unwrap();
        let whole = names::whole(&me, comm.strip_suffix(b"\n").unwrap());
        assert_eq!(owner.name.as_bytes(), whole);
        assert_eq!(map.name(1), "");

        // Still fits: reused as it is. A new inode: walked again.
        let walked = map.walked;
        let map = ProcessMap::reuse(map, [inode], &census);
        assert_eq!(map.walked, walked);
        let other = TcpListener::bind("127.0.0.1:0").unwrap();
        let link = std::fs::read_link(format!("/proc/self/fd/{}", other.as_raw_fd())).unwrap();
        let new = socket_inode(link.to_str().unwrap().as_bytes()).unwrap();
        let map = ProcessMap::reuse(map, [inode, new], &census);
        assert!(map.walked > walked);
        assert_eq!(map.owner(new).map(|o| o.pid), Some(std::process::id()));
        assert_eq!(map.owner(new).unwrap().container, None, "in no container");
    }
}
