//! Stage 2, the snapshot: one run's view of the host, built once from the
//! kernel's answers and never changed afterwards. Every later stage reads
//! it; none writes it, so the order in which collectors run cannot matter.

use std::ops::RangeInclusive;

use crate::error::Error;
use crate::kernel::procmap::ProcessMap;
use crate::kernel::sockdiag;
use crate::kernel::socket::{state, Protocol, SockRecord};
use crate::kernel::sysctl::{self, DEFAULT_EPHEMERAL, EPHEMERAL_PATH};

pub struct Snapshot {
    /// The dump, or why it failed (every collector that needs it fails then).
    sockets: Result<Vec<SockRecord>, String>,
    pub processes: ProcessMap,
    /// Ports the kernel picks for clients; a UDP socket bound in it is a client.
    pub ephemeral: RangeInclusive<u16>,
    /// Problems worth one warning line each (not failures).
    pub warnings: Vec<String>,
}

impl Snapshot {
    /// Reads the kernel's socket tables and maps their owners, reusing the
    /// previous run's map where it still fits (`--loop`).
    pub fn take(previous: Option<ProcessMap>) -> Snapshot {
        let mut warnings = Vec::new();
        let ephemeral = sysctl::ephemeral_range().unwrap_or_else(|e| {
            warnings.push(format!(
                "{EPHEMERAL_PATH}: {e}; assuming {}-{}",
                DEFAULT_EPHEMERAL.start(),
                DEFAULT_EPHEMERAL.end()
            ));
            DEFAULT_EPHEMERAL
        });
        let sockets = sockdiag::dump_all().map_err(|e| e.to_string());
        let processes = match &sockets {
            Ok(records) => {
                let inodes = records.iter().map(|r| r.inode);
                match previous {
                    Some(previous) => ProcessMap::reuse(previous, inodes),
                    None => ProcessMap::scan(inodes),
                }
            }
            Err(_) => ProcessMap::default(),
        };
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
            ephemeral,
            warnings,
        }
    }

    /// A snapshot of the given sockets, without reading the kernel: for
    /// runs whose collectors do not need sockets, and for collectors' tests.
    pub fn of(sockets: Vec<SockRecord>) -> Snapshot {
        Snapshot {
            sockets: Ok(sockets),
            processes: ProcessMap::default(),
            ephemeral: DEFAULT_EPHEMERAL,
            warnings: Vec::new(),
        }
    }

    pub fn sockets(&self) -> Result<&[SockRecord], Error> {
        self.sockets
            .as_deref()
            .map_err(|e| Error::Kernel(e.clone()))
    }

    /// Whether a socket offers a service. TCP: LISTEN. UDP: bound and
    /// unconnected, outside the ephemeral range (a socket there is a client
    /// awaiting replies).
    pub fn serves(&self, socket: &SockRecord) -> bool {
        match socket.protocol {
            Protocol::Tcp => socket.state == state::LISTEN,
            Protocol::Udp => {
                socket.state == state::CLOSE
                    && socket.remote_port == 0
                    && socket.local_port != 0
                    && !self.ephemeral.contains(&socket.local_port)
            }
        }
    }

    /// The process map, for the next run of `--loop` to reuse once this
    /// snapshot has served.
    pub fn into_processes(self) -> ProcessMap {
        self.processes
    }
}
