//! Reading the files an operator names (inventory, rules, file sources):
//! whole, but bounded, so that a wrong path cannot eat the host's memory.

use std::fs;
use std::path::Path;

use crate::error::Error;

/// Reads a whole file, refusing one larger than `max` bytes before reading
/// it (a wrong path to a disk image must not eat memory). The error names
/// the path.
pub fn read_limited(path: &Path, max: u64) -> Result<Vec<u8>, Error> {
    let meta = fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.len() > max {
        return Err(Error::config(
            path,
            format!("larger than {} MiB", max >> 20),
        ));
    }
    fs::read(path).map_err(|e| Error::io(path, e))
}
