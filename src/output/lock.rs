//! Locks that overlapping runs take turns on (the state file's, under
//! cron), and the names of the files beside a file.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::fs::{flock, fstat, open, FileType, FlockOperation, Mode, OFlags};
use rustix::io::Errno;

use super::read::Refused;
use crate::error::Error;

/// `PATH` with `suffix` added to its name: `planet.state.lock`.
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Takes an exclusive lock on `lock_path` (created with `mode` if missing),
/// waiting up to `wait` for another run to let it go. The lock file lives
/// in a directory other users may write: it is never opened through a
/// symlink (which would let them have root create a file anywhere) and must
/// be a regular file (a FIFO would block or refuse the lock).
pub fn lock(lock_path: &Path, mode: u32, wait: Duration) -> Result<File, Error> {
    let lock_path = lock_path.to_path_buf();
    let flags = OFlags::RDONLY
        | OFlags::CREATE
        | OFlags::NOFOLLOW
        | OFlags::NONBLOCK
        | OFlags::CLOEXEC
        | OFlags::NOCTTY;
    let fd = match open(&lock_path, flags, Mode::from_raw_mode(mode)) {
        Ok(fd) => fd,
        Err(Errno::LOOP) => {
            return Err(Error::config(
                &lock_path,
                "is a symbolic link; refusing to lock through it",
            ))
        }
        Err(e) => return Err(Error::io(&lock_path, e.into())),
    };
    match fstat(&fd) {
        Ok(stat) if FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile => {}
        Ok(_) => return Err(Refused::NotRegular.at(&lock_path)),
        Err(e) => return Err(Error::io(&lock_path, e.into())),
    }
    let file = File::from(fd);
    let started = Instant::now();
    loop {
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => return Ok(file),
            Err(Errno::WOULDBLOCK) => {}
            Err(e) => return Err(Error::io(&lock_path, e.into())),
        }
        if started.elapsed() >= wait {
            return Err(Error::Lock {
                path: lock_path,
                waited: wait,
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
