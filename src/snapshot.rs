//! Stage 2, the snapshot: one run's view of the host, built once from the
//! kernel's answers and never changed afterwards. Every later stage reads
//! it; none writes it, so the order in which collectors run cannot matter.
//!
//! The view covers every network namespace some process lives in, not only
//! planet's own: on a container host most sockets are in containers'
//! namespaces. Each is read from a thread that enters it (see
//! [`crate::kernel::netns`]); one /proc walk maps the owners of all of them,
//! since socket inodes are unique across namespaces.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::error::{DumpError, Error};
use crate::kernel::census::{self, Census, Unread};
use crate::kernel::procmap::{Owner, ProcessMap};
use crate::kernel::socket::{state, Protocol, SockRecord};
use crate::kernel::sysctl::{self, DEFAULT_EPHEMERAL, EPHEMERAL_PATH};
use crate::kernel::{addresses, fds, netns, sockdiag};

/// One network namespace as this run saw it.
#[derive(Debug)]
pub struct Namespace {
    /// An open `/proc/PID/ns/net` to enter it by (None for planet's own).
    pub handle: Option<OwnedFd>,
    /// Ports the kernel picks for clients there (a per-namespace setting).
    pub ephemeral: RangeInclusive<u16>,
    /// Its interfaces' addresses, loopback and link-local left out.
    pub addresses: Vec<IpAddr>,
    /// The IDs of the containers whose processes live there.
    pub containers: Vec<String>,
    /// The `container` label of a socket there that no process holds: its
    /// container when exactly one lives there and nothing else, else
    /// `bare`.
    pub label: String,
    /// The label of a socket there whose owner is in no container: `""` in
    /// planet's own namespace, else `netns:<inode>`, so that two namespaces
    /// never merge into one series.
    pub bare: String,
}

/// Which network namespaces a run reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Scope {
    /// Every namespace some process lives in: a container host seen whole.
    #[default]
    All,
    /// planet's own only (a host whose containers are watched otherwise).
    Own,
}

pub struct Snapshot {
    /// The dump, or why it failed (every collector that needs it fails then).
    sockets: Result<Vec<SockRecord>, DumpError>,
    pub processes: ProcessMap,
    /// Every namespace read, by inode.
    pub namespaces: BTreeMap<u64, Namespace>,
    /// planet's own network namespace.
    pub own: u64,
    /// Every namespace some process lives in, read or not (within the
    /// scope): a socket tracked in one of them may still be open.
    pub alive: BTreeSet<u64>,
    /// Namespaces some process lives in that this run could not read, by
    /// reason (every reason present).
    pub skipped: BTreeMap<Unread, usize>,
    /// Problems worth one warning line each (not failures).
    pub warnings: Vec<String>,
}

/// What reading one namespace gave.
struct Reading {
    sockets: Result<Vec<SockRecord>, DumpError>,
    ephemeral: Result<RangeInclusive<u16>, String>,
    addresses: Vec<IpAddr>,
}

/// Reads the calling thread's namespace, whose inode is `inode`.
fn read_namespace(inode: u64) -> Reading {
    Reading {
        sockets: sockdiag::dump_all(inode),
        ephemeral: sysctl::ephemeral_range(),
        // Addresses are for the graph: a namespace whose addresses cannot be
        // listed still has its sockets read.
        addresses: addresses::dump().unwrap_or_default(),
    }
}

/// Threads that read other namespaces: each namespace's dump walks the
/// kernel's socket tables (shared by all namespaces) again, so a host of
/// many namespaces is read about as many times faster as it has cores, up
/// to four.
pub fn reader_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

impl Snapshot {
    /// Reads the kernel's socket tables in every namespace and maps their
    /// owners, reusing the previous run's map where it still fits (`--loop`).
    pub fn take(previous: Option<ProcessMap>, scope: Scope) -> Snapshot {
        let mut warnings = Vec::new();
        let own = netns::own().unwrap_or(0);
        let mut census = Census::take(fds::budget());
        let mut skipped: BTreeMap<Unread, usize> = Unread::ALL.iter().map(|&r| (r, 0)).collect();
        if scope == Scope::Own {
            census.namespaces.retain(|&inode, _| inode == own);
        } else if census.hidden > 0 {
            *skipped.entry(Unread::Hidden).or_default() += census.hidden;
        }
        let mut readings: BTreeMap<u64, Reading> = BTreeMap::new();
        readings.insert(own, read_namespace(own));
        let mut others: Vec<(u64, BorrowedFd)> = Vec::new();
        for (&inode, namespace) in census.namespaces.iter().filter(|(&i, _)| i != own) {
            match &namespace.handle {
                Ok(handle) => others.push((inode, handle.as_fd())),
                Err(reason) => *skipped.entry(*reason).or_default() += 1,
            }
        }
        for (inode, reading) in netns::each(others, reader_threads(), read_namespace) {
            match reading {
                Ok(reading) => {
                    readings.insert(inode, reading);
                }
                Err(e) => *skipped.entry(Unread::of(&e)).or_default() += 1,
            }
        }

        let mut sockets = Vec::new();
        let mut failed = None;
        let mut read = BTreeMap::new();
        for (inode, reading) in readings {
            let ephemeral = reading.ephemeral.unwrap_or_else(|e| {
                if inode == own {
                    warnings.push(format!(
                        "{EPHEMERAL_PATH}: {e}; assuming {}-{}",
                        DEFAULT_EPHEMERAL.start(),
                        DEFAULT_EPHEMERAL.end()
                    ));
                }
                DEFAULT_EPHEMERAL
            });
            match reading.sockets {
                Ok(records) => sockets.extend(records),
                // Without our own namespace's table the run has nothing to say.
                Err(e) if inode == own => failed = Some(e),
                Err(e) => {
                    let errno = e.errno.map(std::io::Error::from_raw_os_error);
                    let reason = errno.as_ref().map_or(Unread::Failed, Unread::of);
                    *skipped.entry(reason).or_default() += 1;
                    continue;
                }
            }
            read.insert(inode, (ephemeral, reading.addresses));
        }
        warnings.extend(skipped_warning(&skipped));
        let sockets = match failed {
            Some(e) => Err(e),
            None => Ok(sockets),
        };

        let processes = match &sockets {
            Ok(records) => {
                let inodes = records.iter().map(|r| r.inode);
                match previous {
                    Some(previous) => ProcessMap::reuse(previous, inodes, &census),
                    None => ProcessMap::scan(inodes, &census),
                }
            }
            Err(_) => ProcessMap::default(),
        };

        let mut lives = census.namespaces;
        let mut alive: BTreeSet<u64> = lives.keys().copied().collect();
        alive.insert(own);
        let mut namespaces = BTreeMap::new();
        for (inode, (ephemeral, addresses)) in read {
            let here = lives.remove(&inode);
            let alone = here.as_ref().is_some_and(|n| n.containers.len() == 1);
            let containers: Vec<String> = here
                .as_ref()
                .map(|n| n.containers.iter().flatten().cloned().collect())
                .unwrap_or_default();
            let bare = census::label(inode, own);
            let label = match (alone, containers.as_slice()) {
                (true, [id]) => id.clone(),
                _ => bare.clone(),
            };
            let handle = here.and_then(|n| n.handle.ok()).filter(|_| inode != own);
            namespaces.insert(
                inode,
                Namespace {
                    handle,
                    ephemeral,
                    addresses,
                    containers,
                    label,
                    bare,
                },
            );
        }
        if processes.denied > 0 {
            if let Ok(records) = &sockets {
                let unnamed = records
                    .iter()
                    .filter(|r| r.inode != 0 && processes.owner(r.inode).is_none())
                    .count();
                if unnamed > 0 {
                    warnings.push(format!(
                        "/proc/PID/fd: permission denied for {} processes; {unnamed} sockets get name=\"\" \
                         (run as root, or with CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH, for full names)",
                        processes.denied
                    ));
                }
            }
        }
        Snapshot {
            sockets,
            processes,
            namespaces,
            own,
            alive,
            skipped,
            warnings,
        }
    }

    /// A snapshot of the given sockets, without reading the kernel: for
    /// runs whose collectors do not need sockets, and for collectors' tests.
    /// The sockets are taken to live in one namespace, planet's own.
    pub fn of(sockets: Vec<SockRecord>) -> Snapshot {
        let own = sockets.first().map_or(0, |s| s.netns);
        let namespace = Namespace {
            handle: None,
            ephemeral: DEFAULT_EPHEMERAL,
            addresses: Vec::new(),
            containers: Vec::new(),
            label: String::new(),
            bare: String::new(),
        };
        Snapshot {
            sockets: Ok(sockets),
            processes: ProcessMap::default(),
            namespaces: BTreeMap::from([(own, namespace)]),
            own,
            alive: BTreeSet::from([own]),
            skipped: Unread::ALL.iter().map(|&r| (r, 0)).collect(),
            warnings: Vec::new(),
        }
    }

    pub fn sockets(&self) -> Result<&[SockRecord], Error> {
        self.sockets
            .as_deref()
            .map_err(|e| Error::Sockets(e.clone()))
    }

    /// The `container` label of a socket: its owner's container; for an
    /// owner in none, the socket's namespace (`""` for planet's own, else
    /// `netns:<inode>`); for a socket no process holds, its namespace's
    /// label. (The socket's namespace, not the owner's: a process may hold
    /// sockets of several.)
    pub fn container(&self, socket: &SockRecord) -> &str {
        let namespace = self.namespaces.get(&socket.netns);
        match self.processes.owner(socket.inode) {
            Some(Owner {
                container: Some(id),
                ..
            }) => id,
            Some(_) => namespace.map_or("", |n| n.bare.as_str()),
            None => namespace.map_or("", |n| n.label.as_str()),
        }
    }

    /// Whether a socket offers a service. TCP: LISTEN. UDP: bound and
    /// unconnected, outside its namespace's ephemeral range (a socket there
    /// is a client awaiting replies).
    pub fn serves(&self, socket: &SockRecord) -> bool {
        match socket.protocol {
            Protocol::Tcp => socket.state == state::LISTEN,
            Protocol::Udp => {
                let ephemeral = self
                    .namespaces
                    .get(&socket.netns)
                    .map_or(DEFAULT_EPHEMERAL, |n| n.ephemeral.clone());
                socket.state == state::CLOSE
                    && socket.remote_port == 0
                    && socket.local_port != 0
                    && !ephemeral.contains(&socket.local_port)
            }
        }
    }

    /// The process map, for the next run of `--loop` to reuse once this
    /// snapshot has served.
    pub fn into_processes(self) -> ProcessMap {
        self.processes
    }
}

/// One line for every namespace left unread, by reason: a run must never
/// be silently partial. Namespaces that vanished alone say nothing: every
/// process seen there exited before planet could open it, which short-lived
/// processes with a namespace of their own do all the time, and nothing was
/// left to read (the gauge still counts them).
fn skipped_warning(skipped: &BTreeMap<Unread, usize>) -> Option<String> {
    let total: usize = skipped.values().sum();
    if total == skipped.get(&Unread::Vanished).copied().unwrap_or(0) {
        return None;
    }
    let reasons: Vec<String> = skipped
        .iter()
        .filter(|(_, &n)| n > 0)
        .map(|(reason, n)| format!("{n} {} ({})", reason.label(), reason.remedy()))
        .collect();
    Some(format!(
        "{total} network namespaces not read: {}; their sockets are missing",
        reasons.join(", ")
    ))
}
