//! Atomic replacement of a file that another process reads at any moment.
//!
//! node_exporter reads `*.prom` whenever it is scraped; a half-written file
//! would be a scrape error or, worse, a partial set of series that looks like
//! an outage. So the data goes to a temporary file in the same directory (same
//! filesystem, so the rename is atomic) whose name does not end in `.prom`, is
//! synced, then renamed over the target, and the directory is synced so the
//! rename itself survives a crash.

use std::fs::{self, File, Permissions};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Prefix and suffix of our temporary files: hidden, and never `*.prom`.
pub const TEMP_PREFIX: &str = ".planet-";
pub const TEMP_SUFFIX: &str = ".tmp";

/// Writes `contents` to `dir/name` atomically with the given mode (umask does
/// not apply). On error the previous file is untouched and no temporary file
/// is left behind. The error names the path at fault.
pub fn write_atomic(dir: &Path, name: &str, contents: &[u8], mode: u32) -> Result<(), String> {
    let target = dir.join(name);
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(format!("{}: not a directory", dir.display())),
        Err(e) => return Err(format!("{}: {}", dir.display(), plain(&e))),
    }
    let fail =
        |what: &str, e: std::io::Error| format!("{}: {what}: {}", target.display(), plain(&e));
    let mut temp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .suffix(TEMP_SUFFIX)
        .tempfile_in(dir)
        .map_err(|e| {
            format!(
                "{}: cannot create a temporary file: {}",
                dir.display(),
                plain(&e)
            )
        })?;
    temp.write_all(contents).map_err(|e| fail("write", e))?;
    temp.as_file()
        .set_permissions(Permissions::from_mode(mode))
        .map_err(|e| fail("chmod", e))?;
    temp.as_file().sync_all().map_err(|e| fail("fsync", e))?;
    // On failure the temporary file is dropped, which removes it.
    temp.persist(&target).map_err(|e| fail("rename", e.error))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| format!("{}: fsync directory: {}", dir.display(), plain(&e)))
}

/// An io::Error without the "(os error N)" tail, for one readable line.
pub fn plain(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn replaces_the_file_with_the_mode_asked() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("x.prom"), "old\n").unwrap();
        write_atomic(dir.path(), "x.prom", b"new\n", 0o644).unwrap();
        let path = dir.path().join("x.prom");
        assert_eq!(fs::read_to_string(&path).unwrap(), "new\n");
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o644);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_missing_directory_is_named() {
        let err = write_atomic(Path::new("/nonexistent/planet"), "x.prom", b"", 0o644).unwrap_err();
        assert_eq!(err, "/nonexistent/planet: No such file or directory");
    }
}
