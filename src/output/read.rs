//! Reading the files an operator names or that live in a shared directory
//! (inventory, rules, wrap file sources, the state file): whole, but only
//! regular files, and capped by the bytes actually read.
//!
//! The size a file claims is no bound: `/dev/zero` claims 0 and never ends,
//! `/proc` files claim 0 and are not empty, and a FIFO blocks the open
//! itself until a writer comes, holding the state lock meanwhile. So the
//! open never blocks (O_NONBLOCK), anything but a regular file is refused
//! before a byte is read, and reading stops one byte past the cap.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use rustix::fs::{fstat, open, FileType, Mode, OFlags};

use crate::error::Error;

/// Why a file was not read.
#[derive(Debug)]
pub enum Refused {
    /// A FIFO, device, socket or directory.
    NotRegular,
    /// More than `max` bytes.
    TooLarge {
        max: u64,
    },
    Io(io::Error),
}

impl Refused {
    /// The one-line error for `path`; names the path, never its contents.
    pub fn at(self, path: &Path) -> Error {
        match self {
            Refused::NotRegular => Error::config(
                path,
                "not a regular file (a FIFO, device or directory is never read)",
            ),
            Refused::TooLarge { max } => Error::config(path, format!("larger than {}", size(max))),
            Refused::Io(e) => Error::io(path, e),
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, Refused::Io(e) if e.kind() == io::ErrorKind::NotFound)
    }
}

/// Reads a whole regular file of at most `max` bytes.
pub fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>, Refused> {
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY;
    let fd = open(path, flags, Mode::empty()).map_err(|e| Refused::Io(e.into()))?;
    let stat = fstat(&fd).map_err(|e| Refused::Io(e.into()))?;
    if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
        return Err(Refused::NotRegular);
    }
    // A file that says it is too large is refused unread; one that says
    // less than it holds (/proc) is stopped by the bytes read below.
    if u64::try_from(stat.st_size).unwrap_or(0) > max {
        return Err(Refused::TooLarge { max });
    }
    let mut data = Vec::new();
    File::from(fd)
        .take(max.saturating_add(1))
        .read_to_end(&mut data)
        .map_err(Refused::Io)?;
    if data.len() as u64 > max {
        return Err(Refused::TooLarge { max });
    }
    Ok(data)
}

/// As [`read_bounded`], with the refusal as the run's error.
pub fn read_limited(path: &Path, max: u64) -> Result<Vec<u8>, Error> {
    read_bounded(path, max).map_err(|refused| refused.at(path))
}

fn size(bytes: u64) -> String {
    match bytes >= 1 << 20 {
        true => format!("{} MiB", bytes >> 20),
        false => format!("{bytes} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_are_read_and_only_up_to_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"12345").unwrap();
        assert_eq!(read_bounded(&file, 5).unwrap(), b"12345");
        assert!(matches!(
            read_bounded(&file, 4),
            Err(Refused::TooLarge { max: 4 })
        ));
        // Claims 0 bytes, never ends: stopped by what was read.
        assert!(matches!(
            read_bounded(Path::new("/dev/zero"), 1 << 20),
            Err(Refused::NotRegular)
        ));
        assert!(matches!(
            read_bounded(dir.path(), 1 << 20),
            Err(Refused::NotRegular)
        ));
        // A /proc file claims 0 bytes and is read whole.
        let stat = read_bounded(Path::new("/proc/self/stat"), 1 << 20).unwrap();
        assert!(!stat.is_empty());
        assert!(read_bounded(&dir.path().join("missing"), 1)
            .unwrap_err()
            .is_not_found());
        assert_eq!(
            Refused::NotRegular.at(Path::new("/x")).to_string(),
            "/x: not a regular file (a FIFO, device or directory is never read)"
        );
    }
}
