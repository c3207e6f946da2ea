//! Faults: a reader racing the writes, a kill mid-write, a full or
//! read-only disk, the output directory deleted, no privileges. planet
//! must never hand node_exporter a bad file, never lose its counters, and
//! never panic. (Hostile input is in `input.rs`.)

use std::ffi::CString;
use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use planet::schema;

use crate::testenv::*;

/// A complete exposition: starts with a HELP line, ends with a line feed,
/// and holds the first and the last self metric.
fn is_complete(text: &str) -> bool {
    text.starts_with("# HELP ")
        && text.ends_with('\n')
        && text.contains(&format!("\n{}{{", schema::BUILD_INFO.name))
        && text.contains(&format!("\n{} ", schema::SNAPSHOT_DURATION.name))
}

#[test]
fn a_reader_never_sees_a_partial_file_and_no_temp_file_outlives_a_kill() {
    let env = TestEnv::new();
    let mut looping = env
        .collect()
        .args(["--loop", "--interval", "50ms"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let file = env.output_file();
    assert!(wait_for(Duration::from_secs(10), || file.exists()));
    let mut stamps = std::collections::HashSet::new();
    for i in 0..10_000 {
        let text = fs::read_to_string(&file).unwrap();
        assert!(is_complete(&text), "read {i} saw a partial file:\n{text}");
        stamps.insert(samples(&text, schema::COLLECT_TIMESTAMP.name)[0].to_string());
        std::thread::sleep(Duration::from_micros(100));
    }
    assert!(
        stamps.len() > 5,
        "only {} rewrites were raced",
        stamps.len()
    );

    // SIGKILL (maybe mid-write); the next run removes whatever it left.
    unsafe { libc::kill(looping.id() as i32, libc::SIGKILL) };
    looping.wait().unwrap();
    assert_success(&env.collect().output().unwrap());
    assert_eq!(list_dir(env.out()), ["planet.prom"]);
    assert_eq!(
        list_dir(env.state_dir()),
        ["planet.state", "planet.state.lock"]
    );
    assert!(is_complete(&fs::read_to_string(&file).unwrap()));
}

/// A small tmpfs at `.0`, unmounted on drop (before its mount point, `.1`,
/// is removed). Needs root; otherwise a skip.
struct Tmpfs(PathBuf, #[allow(dead_code)] tempfile::TempDir);

impl Tmpfs {
    fn mount(kib: u32) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let target = CString::new(dir.path().to_str().unwrap()).unwrap();
        let options = CString::new(format!("size={kib}k,mode=0755")).unwrap();
        // SAFETY: valid NUL-terminated strings; unmounted in Drop.
        let rc = unsafe {
            libc::mount(
                c"tmpfs".as_ptr(),
                target.as_ptr(),
                c"tmpfs".as_ptr(),
                0,
                options.as_ptr().cast(),
            )
        };
        if rc != 0 {
            let e = std::io::Error::last_os_error();
            return skip_or_fail(&format!("cannot mount a tmpfs: {e}"));
        }
        Some(Tmpfs(dir.path().to_path_buf(), dir))
    }

    /// Makes the file system read-only (EROFS for every write).
    fn remount_read_only(&self) {
        let target = CString::new(self.0.to_str().unwrap()).unwrap();
        // SAFETY: as in mount; the flags only change this mount.
        let rc = unsafe {
            libc::mount(
                std::ptr::null(),
                target.as_ptr(),
                std::ptr::null(),
                libc::MS_REMOUNT | libc::MS_RDONLY,
                std::ptr::null(),
            )
        };
        assert_eq!(rc, 0, "{}", std::io::Error::last_os_error());
    }

    /// Takes every free block.
    fn fill(&self) {
        let mut filler = fs::File::create(self.0.join("filler")).unwrap();
        let block = [0u8; 4096];
        while filler.write_all(&block).is_ok() {}
        let _ = filler.sync_all();
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let target = CString::new(self.0.to_str().unwrap()).unwrap();
        unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
    }
}

#[test]
fn a_full_disk_fails_the_run_and_keeps_the_previous_output() {
    let Some(disk) = Tmpfs::mount(64) else { return };
    let env = TestEnv::with_out(&disk.0);
    let previous = "# previous run\nplanet_build_info{version=\"0\"} 1\n";
    fs::write(disk.0.join("planet.prom"), previous).unwrap();
    disk.fill();
    let output = env.collect().output().unwrap();
    assert_no_panic(&output);
    assert_eq!(output.status.code(), Some(1), "{}", stderr_of(&output));
    let stderr = stderr_of(&output);
    assert!(
        stderr.starts_with(&format!("planet: {}", disk.0.display())),
        "{stderr}"
    );
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(
        fs::read_to_string(disk.0.join("planet.prom")).unwrap(),
        previous
    );
    assert_eq!(list_dir(&disk.0), ["filler", "planet.prom"]);
}

#[test]
fn a_read_only_file_system_fails_the_run_and_keeps_the_previous_output() {
    let Some(disk) = Tmpfs::mount(256) else {
        return;
    };
    let env = TestEnv::with_out(&disk.0);
    let previous = "# previous run\n";
    fs::write(disk.0.join("planet.prom"), previous).unwrap();
    disk.remount_read_only();
    let output = env.collect().output().unwrap();
    assert_no_panic(&output);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr_of(&output),
        format!(
            "planet: {}: cannot create a temporary file: Read-only file system\n",
            disk.0.display()
        )
    );
    assert_eq!(
        fs::read_to_string(disk.0.join("planet.prom")).unwrap(),
        previous
    );
    assert_eq!(list_dir(&disk.0), ["planet.prom"]);
}

#[test]
fn a_state_file_on_a_full_disk_fails_the_run_and_keeps_output_and_state() {
    // In a namespace of its own, read alone (--netns own), so the state's
    // size does not depend on the host's socket table or other tests'.
    in_own_netns(|| {
        let Some(disk) = Tmpfs::mount(64) else { return };
        let env = TestEnv::with_state_dir(&disk.0);
        // A first run writes both; remember them.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let _open = queue_connections(&listener, 2);
        assert_success(&env.collect().args(["--netns", "own"]).output().unwrap());
        let state = disk.0.join("planet.state");
        let before = (
            fs::read(&state).unwrap(),
            fs::read(env.output_file()).unwrap(),
        );
        disk.fill();
        let output = env.collect().args(["--netns", "own"]).output().unwrap();
        assert_no_panic(&output);
        assert_eq!(output.status.code(), Some(1), "{}", stderr_of(&output));
        assert!(
            stderr_of(&output).contains("No space left on device"),
            "{}",
            stderr_of(&output)
        );
        let after = (
            fs::read(&state).unwrap(),
            fs::read(env.output_file()).unwrap(),
        );
        assert!(before == after, "state or output changed");
        assert_eq!(
            list_dir(&disk.0),
            ["filler", "planet.state", "planet.state.lock"]
        );
        assert_eq!(list_dir(env.out()), ["planet.prom"]);
    });
}

#[test]
fn a_directory_deleted_under_loop_is_logged_and_retried() {
    let parent = tempfile::tempdir().unwrap();
    let out = parent.path().join("textfile");
    fs::create_dir(&out).unwrap();
    let env = TestEnv::with_out(&out);
    let mut looping = env
        .collect()
        .args(["--loop", "--interval", "100ms"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let file = out.join("planet.prom");
    assert!(wait_for(Duration::from_secs(10), || file.exists()));
    fs::remove_dir_all(&out).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    fs::create_dir(&out).unwrap();
    let recovered = wait_for(Duration::from_secs(10), || {
        fs::read_to_string(&file)
            .is_ok_and(|t| !t.contains("planet_loop_failures_total 0\n") && is_complete(&t))
    });
    let (code, stderr) = terminate(&mut looping);
    assert!(recovered, "{stderr}");
    assert_eq!(code, Some(0));
    assert!(!stderr.is_empty(), "the failures were logged");
    for line in stderr.lines() {
        assert_eq!(
            line,
            format!("planet: {}: No such file or directory", out.display())
        );
    }
}

#[test]
fn without_privileges_other_users_sockets_are_unnamed_with_one_warning() {
    let Some(setpriv) = setpriv("dropping to another user") else {
        return;
    };
    let (listener, port) = loopback_listener();
    let _holder = Named::hold("root-srv", &[listener.as_raw_fd()]);
    drop(listener);
    let line = |name: &str| {
        format!(
            r#"planet_serving{{protocol="tcp",name="{name}",container="",addr="127.0.0.1",port="{port}"}} 1"#
        )
    };

    let output = Command::new(setpriv)
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            PLANET,
            "collect",
            "--stdout",
            "--no-resolve",
        ])
        .output()
        .unwrap();
    assert_no_panic(&output);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let text = String::from_utf8(output.stdout.clone()).unwrap();
    assert_eq!(
        samples_on_ports(&text, schema::SERVING.name, &[port])
            .into_iter()
            .collect::<Vec<_>>(),
        [line("")]
    );
    // One warning about names; another, about network namespaces hidden
    // from it, when other tests' namespaces happen to exist.
    let stderr = stderr_of(&output);
    let about_names: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.contains(" network namespaces not read: "))
        .collect();
    assert_eq!(about_names.len(), 1, "{stderr}");
    assert!(
        about_names[0].starts_with("planet: warning: /proc/PID/fd: permission denied for "),
        "{stderr}"
    );

    let text = collect_stdout(&[]);
    assert_eq!(
        samples_on_ports(&text, schema::SERVING.name, &[port])
            .into_iter()
            .collect::<Vec<_>>(),
        [line("root-srv")]
    );
}
