//! File descriptors: planet holds one per network namespace while it reads
//! them, and one more per namespace for its destroy feeds under `--loop`,
//! so the default soft limit of 1,024 is too few on a host of containers
//! (at 1,200 namespaces it once read 1,017 and skipped the rest unsaid).

use rustix::process::{getrlimit, setrlimit, Resource};

/// Descriptors kept free for everything else a run opens: /proc
/// directories one at a time, netlink sockets on each reader thread, the
/// output and state files, DNS.
const RESERVE: usize = 64;

/// Raises the soft RLIMIT_NOFILE to the hard limit, as systemd advises for
/// programs that use many fds and do not call select(2). Returns the soft
/// limit in force afterwards. A refusal (a seccomp filter without
/// setrlimit) leaves the limit as it was: the units set `LimitNOFILE=`.
pub fn raise_limit() -> Option<u64> {
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        let raised = rustix::process::Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            limit = raised;
        }
    }
    limit.current
}

/// How many more descriptors this process may hold for a while, the
/// reserve kept back: the soft limit less those open now.
pub fn budget() -> usize {
    let limit = getrlimit(Resource::Nofile)
        .current
        .map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
    limit.saturating_sub(open_now()).saturating_sub(RESERVE)
}

/// Descriptors open now (the entries of /proc/self/fd, less the one the
/// listing itself holds).
fn open_now() -> usize {
    let Ok(dir) = rustix::fs::open(
        "/proc/self/fd",
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    ) else {
        return 0;
    };
    let Ok(entries) = rustix::fs::Dir::read_from(&dir) else {
        return 0;
    };
    let names = entries
        .flatten()
        .filter(|e| e.file_name().to_bytes().first() != Some(&b'.'))
        .count();
    names.saturating_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_counts_what_is_open() {
        let limit = getrlimit(Resource::Nofile).current.unwrap() as usize;
        let files: Vec<_> = (0..10)
            .map(|_| std::fs::File::open("/proc/self/stat").unwrap())
            .collect();
        // Other tests open files meanwhile: at least ours are counted.
        assert!(open_now() >= 10);
        assert!(budget() <= limit - RESERVE - 10);
        drop(files);
    }
}
