//! A process's name as operators know it.
//!
//! The kernel keeps `comm` to 15 bytes, so `prometheus-node-exporter` is
//! `prometheus-node` there. When a comm is exactly 15 bytes and is the start
//! of the executable's file name (the `/proc/PID/exe` link's), that file
//! name is the process's name; else the file name of argv[0], if the comm
//! starts it too (a program started through a symlink, or one whose exe is
//! gone). A process that renamed itself (prctl, or a write to its comm) to
//! something that is not the start of either keeps its comm.
//!
//! Of a process, only `comm`, the exe link's file name and argv[0]'s file
//! name are read: `cmdline` is read up to its first NUL, in small pieces,
//! never the arguments after it, and `environ` never (they hold secrets).

use std::io::Read;

use procfs::process::Process;

/// The kernel's limit on `comm`: TASK_COMM_LEN less its NUL.
const COMM_MAX: usize = 15;
/// argv[0] is read this many bytes at a time, up to its NUL...
const PIECE: usize = 64;
/// ...and no further than this.
const ARGV0_MAX: usize = 4096;

/// The whole name of `process`, whose comm is `comm` (as read, without its
/// line feed).
pub fn whole(process: &Process, comm: &[u8]) -> Vec<u8> {
    if comm.len() != COMM_MAX {
        return comm.to_vec();
    }
    let from_exe = exe_name(process).filter(|name| extends(name, comm));
    from_exe
        .or_else(|| argv0_name(process).filter(|name| extends(name, comm)))
        .unwrap_or_else(|| comm.to_vec())
}

/// Whether `name` is a longer name that `comm` was cut from.
fn extends(name: &[u8], comm: &[u8]) -> bool {
    name.len() > comm.len() && name.starts_with(comm)
}

/// The file name of the `/proc/PID/exe` link (" (deleted)" taken off).
fn exe_name(process: &Process) -> Option<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    let target = process.exe().ok()?;
    let name = target.file_name()?.as_bytes();
    Some(name.strip_suffix(b" (deleted)").unwrap_or(name).to_vec())
}

/// The file name of argv[0]: `cmdline` read up to its first NUL.
fn argv0_name(process: &Process) -> Option<Vec<u8>> {
    let mut cmdline = process.open_relative("cmdline").ok()?;
    let mut argv0 = Vec::with_capacity(PIECE);
    let mut piece = [0u8; PIECE];
    while argv0.len() < ARGV0_MAX {
        let n = cmdline.read(&mut piece).ok()?;
        if n == 0 {
            break;
        }
        match piece[..n].iter().position(|&b| b == 0) {
            Some(end) => {
                argv0.extend_from_slice(&piece[..end]);
                break;
            }
            None => argv0.extend_from_slice(&piece[..n]),
        }
    }
    let name = argv0.rsplit(|&b| b == b'/').next()?;
    (!name.is_empty()).then(|| name.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_full_comm_that_starts_the_name_is_extended() {
        assert!(extends(b"prometheus-node-exporter", b"prometheus-node"));
        assert!(!extends(b"prometheus-node", b"prometheus-node"));
        assert!(!extends(b"python3.11", b"my-long-script-"));
    }

    #[test]
    fn our_own_name_is_whole() {
        let me = Process::myself().unwrap();
        let comm = std::fs::read("/proc/self/comm").unwrap();
        let comm = comm.strip_suffix(b"\n").unwrap_or(&comm);
        let exe = std::env::current_exe().unwrap();
        let exe = exe.file_name().unwrap().to_string_lossy().into_owned();
        let whole = String::from_utf8(whole(&me, comm)).unwrap();
        match comm.len() {
            // The test binary's name (with its hash) is over 15 bytes.
            COMM_MAX => assert_eq!(whole, exe),
            _ => assert_eq!(whole.as_bytes(), comm),
        }
    }
}
