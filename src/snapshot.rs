//! One run's view of the host, taken once and shared read-only by every
//! collector: the socket table, who owns each socket, and the port range the
//! kernel hands to clients.

use std::ops::RangeInclusive;

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use crate::dependencies::{Row, RowTotals, Side};
use crate::peers::{Lookups, Peer};
use crate::procmap::ProcessMap;
use crate::sockdiag::{self, SockRecord};

/// Linux's default `net.ipv4.ip_local_port_range`.
const DEFAULT_EPHEMERAL: RangeInclusive<u16> = 32768..=60999;
const EPHEMERAL_PATH: &str = "/proc/sys/net/ipv4/ip_local_port_range";

pub struct Snapshot {
    /// The dump, or why it failed (every collector that needs it fails then).
    sockets: Result<Vec<SockRecord>, String>,
    pub processes: ProcessMap,
    /// Ports the kernel picks for clients; a UDP socket bound in it is a client.
    pub ephemeral: RangeInclusive<u16>,
    /// Problems worth one warning line each (not failures).
    pub warnings: Vec<String>,
    /// The dependency series after this run's accounting, when it ran.
    pub dependencies: Option<DependencyState>,
}

/// The dependency series after this run's accounting, folding and naming.
pub struct DependencyState {
    pub rows: BTreeMap<Row, RowTotals>,
    pub names: HashMap<IpAddr, Peer>,
    pub folded: [(Side, usize); 2],
    /// Unless `--no-resolve`: reverse DNS look-ups so far.
    pub dns_lookups: Option<Lookups>,
    /// With `--loop`: times destroy notifications were dropped.
    pub destroy_lost: Option<u64>,
}

impl Snapshot {
    /// Reads the kernel's socket tables and maps their owners, reusing the
    /// previous run's map where it still fits (`--loop`).
    pub fn take(previous: Option<ProcessMap>) -> Snapshot {
        let mut warnings = Vec::new();
        let ephemeral = match read_ephemeral_range() {
            Ok(range) => range,
            Err(e) => {
                warnings.push(format!(
                    "{EPHEMERAL_PATH}: {e}; assuming {}-{}",
                    DEFAULT_EPHEMERAL.start(),
                    DEFAULT_EPHEMERAL.end()
                ));
                DEFAULT_EPHEMERAL
            }
        };
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
            dependencies: None,
        }
    }

    /// A snapshot without reading the kernel: for runs whose collectors do
    /// not need sockets, and for collectors' own tests.
    pub fn of(sockets: Vec<SockRecord>) -> Snapshot {
        Snapshot {
            sockets: Ok(sockets),
            processes: ProcessMap::default(),
            ephemeral: DEFAULT_EPHEMERAL,
            warnings: Vec::new(),
            dependencies: None,
        }
    }

    pub fn sockets(&self) -> Result<&[SockRecord], String> {
        self.sockets.as_deref().map_err(Clone::clone)
    }
}

fn read_ephemeral_range() -> Result<RangeInclusive<u16>, String> {
    let text = std::fs::read_to_string(EPHEMERAL_PATH).map_err(|e| e.to_string())?;
    parse_range(&text).ok_or_else(|| format!("cannot parse {:?}", text.trim()))
}

fn parse_range(text: &str) -> Option<RangeInclusive<u16>> {
    let mut fields = text.split_whitespace().map(|f| f.parse::<u16>());
    match (fields.next(), fields.next(), fields.next()) {
        (Some(Ok(low)), Some(Ok(high)), None) if low <= high => Some(low..=high),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_port_range() {
        assert_eq!(parse_range("32768\t60999\n"), Some(32768..=60999));
        assert_eq!(parse_range("1024 65535"), Some(1024..=65535));
        assert_eq!(parse_range("60999 32768"), None);
        assert_eq!(parse_range("abc"), None);
        assert_eq!(parse_range("1 2 3"), None);
    }
}
