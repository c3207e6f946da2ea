//! The state file: counter totals and the cookie table between one-shot runs.
//!
//! Written like the output (temporary file, fsync, rename), versioned, and
//! guarded by a lock on `PATH.lock` so that overlapping cron runs take turns
//! instead of losing each other's counts.

use std::collections::HashMap;
use std::fs::{self, File};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::classify::SeriesKey;
use super::counters::{Counters, Totals, Tracked};
use super::payload::Payload;
use crate::error::Error;
use crate::naming::{DnsCache, Lookups};
use crate::output::lock;
use crate::output::read::{read_bounded, Refused};
use crate::output::textfile;

const FORMAT: &str = "planet-state";
/// 2 added the health counters and each cookie's retransmits; 3 each
/// cookie's data segments received, namespace, and since when it has been
/// missing. Older files are read as they are (nothing of those seen yet).
const VERSION: u32 = 3;
const READS: [u32; 3] = [1, 2, 3];
/// How long a run waits for an overlapping run to finish.
pub const LOCK_WAIT: Duration = Duration::from_secs(5);
/// The state holds peers and process names: for root's eyes only.
const STATE_MODE: u32 = 0o600;
/// Far above any real state (10k connections: 0.3 MiB); a larger file is
/// set aside like a corrupt one rather than read into memory.
pub const MAX_STATE: u64 = 64 << 20;

#[derive(Debug, Default, Clone, PartialEq)]
pub struct State {
    pub counters: Counters,
    pub dns: DnsCache,
    /// The boot the cookie table belongs to: socket cookies restart at boot,
    /// so a table from another boot must not meet this boot's sockets.
    pub boot_id: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct OnDisk {
    format: String,
    version: u32,
    series: Vec<(SeriesKey, Totals)>,
    /// [cookie, index into `series`, bytes sent, bytes received,
    /// retransmits, data segments received + 1 (0: unknown), index into
    /// `netns`, missing since (0: not missing)] as last seen: compact, as
    /// there is one per open socket, and trailing zeros left out. Version 1
    /// rows end after bytes received, version 2 rows after retransmits.
    cookies: Vec<Vec<u64>>,
    /// The network namespaces of the sockets in `cookies` (version 3).
    #[serde(default)]
    netns: Vec<u64>,
    /// Reverse DNS answers: (address, PTR name or none, expiry).
    #[serde(default)]
    dns: Vec<(IpAddr, Option<String>, u64)>,
    #[serde(default)]
    dns_lookups: Lookups,
    /// Absent in files from before planet recorded it.
    #[serde(default)]
    boot_id: Option<String>,
}

/// An open, locked state file. The lock lasts as long as this value.
pub struct StateFile {
    path: PathBuf,
    _lock: File,
}

impl StateFile {
    /// Locks `path` (waiting up to `wait`) and loads it. A missing file is a
    /// fresh start; an unreadable or foreign one is renamed aside with a
    /// warning (returned) and the run starts fresh.
    pub fn open(path: &Path, wait: Duration) -> Result<(StateFile, State, Option<String>), Error> {
        let lock = lock::lock(&lock::with_suffix(path, ".lock"), STATE_MODE, wait)?;
        let file = StateFile {
            path: path.to_path_buf(),
            _lock: lock,
        };
        let decoded = match read_bounded(path, MAX_STATE) {
            Ok(data) => decode(&data),
            Err(refused) if refused.is_not_found() => return Ok((file, State::default(), None)),
            Err(Refused::TooLarge { .. }) => Err(format!("larger than {} MiB", MAX_STATE >> 20)),
            Err(refused) => return Err(refused.at(path)),
        };
        match decoded {
            Ok(state) => Ok((file, state, None)),
            Err(why) => {
                let aside = lock::with_suffix(path, ".corrupt");
                let warning = match fs::rename(path, &aside) {
                    Ok(()) => format!(
                        "{}: {why}; moved to {} and starting fresh",
                        path.display(),
                        aside.display()
                    ),
                    Err(e) => {
                        return Err(Error::config(
                            path,
                            format!(
                                "{why}; cannot move it aside: {}",
                                crate::error::os_message(&e)
                            ),
                        ))
                    }
                };
                Ok((file, State::default(), Some(warning)))
            }
        }
    }

    pub fn save(&self, state: &State) -> Result<(), Error> {
        textfile::write_atomic_to(&self.path, &encode(state), STATE_MODE)
    }
}

fn encode(state: &State) -> Vec<u8> {
    let series = &state.counters.series;
    let index: HashMap<&SeriesKey, usize> =
        series.keys().enumerate().map(|(i, k)| (k, i)).collect();
    let mut netns: Vec<u64> = state.counters.cookies.values().map(|t| t.netns).collect();
    netns.sort_unstable();
    netns.dedup();
    let mut cookies: Vec<Vec<u64>> = state
        .counters
        .cookies
        .iter()
        .filter_map(|(cookie, t)| {
            let i = *index.get(&t.key)? as u64;
            let namespace = netns.binary_search(&t.netns).unwrap_or(0) as u64;
            let mut row = vec![
                *cookie,
                i,
                t.seen.sent,
                t.seen.received,
                t.retransmits.into(),
                t.data_segs_in.map_or(0, |n| u64::from(n) + 1),
                namespace,
                t.missing_since.unwrap_or(0),
            ];
            while row.len() > 4 && row.last() == Some(&0) {
                row.pop();
            }
            Some(row)
        })
        .collect();
    cookies.sort_unstable();
    let on_disk = OnDisk {
        format: FORMAT.into(),
        version: VERSION,
        series: series.iter().map(|(k, t)| (k.clone(), *t)).collect(),
        cookies,
        netns,
        dns: {
            let mut dns: Vec<_> = state
                .dns
                .entries
                .iter()
                .map(|(a, (n, e))| (*a, n.clone(), *e))
                .collect();
            dns.sort();
            dns
        },
        dns_lookups: state.dns.lookups,
        boot_id: state.boot_id.clone(),
    };
    // Serialising plain data to memory cannot fail.
    let mut data = serde_json::to_vec(&on_disk).unwrap_or_default();
    data.push(b'\n');
    data
}

/// Reads a state file's contents; the error says why it is not one of ours
/// (the caller sets the file aside and starts fresh).
pub fn decode(data: &[u8]) -> Result<State, String> {
    if data.iter().all(u8::is_ascii_whitespace) {
        return Err("empty state file".into());
    }
    #[derive(Deserialize)]
    struct Header {
        format: String,
        version: u32,
    }
    let header: Header = serde_json::from_slice(data)
        .map_err(|e| format!("not a planet state file ({})", json_position(&e)))?;
    if header.format != FORMAT {
        return Err("not a planet state file (another format)".into());
    }
    if !READS.contains(&header.version) {
        return Err(format!(
            "state file version {} is not {VERSION}",
            header.version
        ));
    }
    let on_disk: OnDisk = serde_json::from_slice(data)
        .map_err(|e| format!("corrupt state file ({})", json_position(&e)))?;
    let mut state = State::default();
    let mut cookies = HashMap::with_capacity(on_disk.cookies.len());
    // Version 3 rows name their namespace by its place in `netns`.
    let netns = |i: u64| match on_disk.netns.is_empty() {
        true => Ok(0),
        false => usize::try_from(i)
            .ok()
            .and_then(|i| on_disk.netns.get(i).copied())
            .ok_or_else(|| "corrupt state file (a cookie row names no namespace)".to_string()),
    };
    for row in on_disk.cookies {
        let field = |n: usize| row.get(n).copied().unwrap_or(0);
        if row.len() < 4 {
            return Err("corrupt state file (a cookie row is too short)".into());
        }
        let (cookie, i, sent, received) = (field(0), field(1), field(2), field(3));
        let retransmits = u32::try_from(field(4)).unwrap_or(u32::MAX);
        let data_segs_in = field(5).checked_sub(1).and_then(|n| u32::try_from(n).ok());
        let missing_since = Some(field(7)).filter(|&since| since > 0);
        let i = usize::try_from(i).unwrap_or(usize::MAX);
        let (key, _) = on_disk.series.get(i).ok_or_else(|| {
            format!(
                "corrupt state file (cookie refers to series {i} of {})",
                on_disk.series.len()
            )
        })?;
        let seen = Payload { sent, received };
        cookies.insert(
            cookie,
            Tracked {
                key: key.clone(),
                seen,
                retransmits,
                data_segs_in,
                connecting: false,
                netns: netns(field(6))?,
                missing_since,
                sampled_in: 0,
            },
        );
    }
    state.counters.series = on_disk.series.into_iter().collect();
    state.counters.cookies = cookies;
    state.dns.entries = on_disk
        .dns
        .into_iter()
        .map(|(a, n, e)| (a, (n, e)))
        .collect();
    state.dns.lookups = on_disk.dns_lookups;
    state.boot_id = on_disk.boot_id;
    Ok(state)
}

/// Where serde_json stopped, without what it quotes of the file.
fn json_position(e: &serde_json::Error) -> String {
    format!("line {}, column {}", e.line(), e.column())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounting::classify::Side;
    use crate::kernel::socket::Protocol;

    fn sample() -> State {
        let key = SeriesKey {
            side: Side::Upstream,
            protocol: Protocol::Tcp,
            process: "we\"ird\n".into(),
            container: "netns:4026532000".into(),
            addr: Some("::1".parse().unwrap()),
            port: 6379,
        };
        let mut state = State::default();
        state.counters.series.insert(
            key.clone(),
            Totals {
                open: 0,
                bytes: Payload {
                    sent: 2415,
                    received: 321415,
                },
                last_seen: 1_700_000_000,
                opened: 9,
                failures: 2,
                retransmits: 7,
                ..Totals::default()
            },
        );
        state.dns.entries.insert(
            "10.0.0.7".parse().unwrap(),
            (Some("redis-1.dc.example".into()), 99),
        );
        state.dns.entries.insert("::1".parse().unwrap(), (None, 98));
        state.dns.lookups.answered = 3;
        state.boot_id = Some("3f1e4b2a-0000-4000-8000-000000000001".into());
        state.counters.cookies.insert(
            u64::MAX,
            Tracked {
                key,
                retransmits: 4,
                data_segs_in: Some(u32::MAX),
                connecting: false,
                netns: 4026532000,
                missing_since: Some(1_700_000_001),
                sampled_in: 0,
                seen: Payload {
                    sent: 15,
                    received: 1,
                },
            },
        );
        state
    }

    #[test]
    fn round_trips() {
        let state = sample();
        assert_eq!(decode(&encode(&state)).unwrap(), state);
    }

    #[test]
    fn a_version_1_file_is_read_with_no_retransmits_seen() {
        let v1 = br#"{"format":"planet-state","version":1,"series":[[{"side":"upstream","protocol":"tcp","process":"a","addr":"10.0.0.1","port":80},{"bytes":{"sent":1,"received":2},"last_seen":3}]],"cookies":[[7,0,1,2]]}"#;
        let state = decode(v1).unwrap();
        let (key, totals) = state.counters.series.iter().next().unwrap();
        assert_eq!(
            (key.container.as_str(), totals.bytes.sent, totals.opened),
            ("", 1, 0)
        );
        let tracked = &state.counters.cookies[&7];
        assert_eq!((tracked.seen.received, tracked.retransmits), (2, 0));
        // Written back as version 3, and read again the same.
        assert_eq!(decode(&encode(&state)).unwrap(), state);
    }

    #[test]
    fn foreign_and_broken_files_are_refused() {
        assert_eq!(decode(b"").unwrap_err(), "empty state file");
        assert_eq!(
            decode(b"{\"format\":\"other\",\"version\":1}").unwrap_err(),
            "not a planet state file (another format)"
        );
        assert_eq!(
            decode(b"root:$6$salt$hash:19000::").unwrap_err(),
            "not a planet state file (line 1, column 1)"
        );
        assert!(decode(b"{\"format\":\"planet-state\",\"version\":9}")
            .unwrap_err()
            .contains("9"));
        let text = encode(&sample());
        assert!(decode(&text[..text.len() / 2]).is_err());
        assert!(decode(&[0xff, 0x00, 0x13]).is_err());
        let dangling =
            b"{\"format\":\"planet-state\",\"version\":1,\"series\":[],\"cookies\":[[1,0,0,0]]}";
        assert!(decode(dangling).unwrap_err().contains("series 0 of 0"));
    }

    #[test]
    fn a_second_lock_times_out_naming_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("planet.state");
        let (_held, _, _) = StateFile::open(&path, LOCK_WAIT).unwrap();
        let Err(e) = StateFile::open(&path, Duration::from_millis(100)) else {
            panic!("second lock succeeded")
        };
        let e = e.to_string();
        assert!(
            e.contains("planet.state.lock: locked by another planet run"),
            "{e}"
        );
    }
}
