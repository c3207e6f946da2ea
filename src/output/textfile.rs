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

use rustix::io::Errno;
use rustix::process::{test_kill_process, Pid};

use crate::error::Error;

/// Our temporary files are `.planet-PID-XXXXXX.tmp`: hidden, never
/// `*.prom`, and named after the process writing them, so that a run can
/// tell a file left by a killed run (its pid is gone) from one being
/// written right now by another.
const TEMP_PREFIX: &str = ".planet-";
const TEMP_SUFFIX: &str = ".tmp";

/// As [`write_atomic`], to a path (`-o FILE`, the state file): its
/// directory, or the current one for a bare name.
pub fn write_atomic_to(path: &Path, contents: &[u8], mode: u32) -> Result<(), Error> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::config(path, "not a file name"))?;
    write_atomic(dir, name, contents, mode)
}

/// Writes `contents` to `dir/name` atomically with the given mode (umask does
/// not apply). On error the previous file is untouched and no temporary file
/// is left behind. The error names the path at fault.
pub fn write_atomic(dir: &Path, name: &str, contents: &[u8], mode: u32) -> Result<(), Error> {
    let target = dir.join(name);
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(Error::config(dir, "not a directory")),
        Err(e) => return Err(Error::io(dir, e)),
    }
    let fail = |what: &'static str, e: std::io::Error| Error::io_at(&target, what, e);
    remove_stale_temp_files(dir);
    let prefix = format!("{TEMP_PREFIX}{}-", std::process::id());
    let mut temp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(TEMP_SUFFIX)
        .tempfile_in(dir)
        .map_err(|e| Error::io_at(dir, "cannot create a temporary file", e))?;
    temp.write_all(contents).map_err(|e| fail("write", e))?;
    temp.as_file()
        .set_permissions(Permissions::from_mode(mode))
        .map_err(|e| fail("chmod", e))?;
    temp.as_file().sync_all().map_err(|e| fail("fsync", e))?;
    // On failure the temporary file is dropped, which removes it.
    temp.persist(&target).map_err(|e| fail("rename", e.error))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io_at(dir, "fsync directory", e))
}

/// Removes temporary files of ours whose writer no longer runs (a run
/// killed mid-write). Best effort: a file that cannot be removed stays.
fn remove_stale_temp_files(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(temp_file_pid) else {
            continue;
        };
        if pid != std::process::id() && !process_exists(pid) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// The writer's pid in a name of the form `.planet-PID-XXXXXX.tmp`.
fn temp_file_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(TEMP_PREFIX)?.strip_suffix(TEMP_SUFFIX)?;
    let (pid, random) = rest.split_once('-')?;
    if random.is_empty() {
        return None;
    }
    pid.parse().ok()
}

fn process_exists(pid: u32) -> bool {
    let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) else {
        return false;
    };
    matches!(test_kill_process(pid), Ok(()) | Err(Errno::PERM))
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
    fn temp_files_of_dead_writers_are_removed_and_others_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let names = [
            format!(".planet-{dead}-AbC123.tmp"), // killed mid-write: removed
            format!(".planet-{}-XyZ789.tmp", std::process::id()), // our own: kept
            ".planet-1-abc.tmp".to_string(),      // pid 1 lives: kept
            ".planet-x-abc.tmp".to_string(),      // not ours: kept
            "other.tmp".to_string(),
        ];
        for name in &names {
            fs::write(dir.path().join(name), "").unwrap();
        }
        write_atomic(dir.path(), "x.prom", b"x\n", 0o644).unwrap();
        let mut left: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        let mut expected: Vec<String> = names[1..].to_vec();
        expected.push("x.prom".into());
        expected.sort();
        assert_eq!(left, expected);
    }

    #[test]
    fn a_missing_directory_is_named() {
        let err = write_atomic(Path::new("/nonexistent/planet"), "x.prom", b"", 0o644).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/nonexistent/planet: No such file or directory"
        );
    }
}
