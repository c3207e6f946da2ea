//! The test environment: one [`TestEnv`] owns a run's output directory and
//! state file, runs the built binary, and reads what it wrote through
//! planet's own exposition parser. Helpers by concern live beside it:
//! [`holders`] (sockets and the processes holding them), [`netns`]
//! (a network namespace of a test's own), [`oracles`] (real tools to
//! compare against), [`prometheus`] (a real Prometheus and the
//! node_exporters it scrapes), [`samples`] (sample lines picked out by the
//! schema's names), [`servers`] (servers on loopback playing other
//! programs), [`svg`] (the HTML graph's geometry, read back).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use planet::exposition::{self, Exposition};
use planet::schema;

pub mod containers;
pub mod holders;
pub mod namespaces;
pub mod netns;
pub mod oracles;
pub mod prometheus;
pub mod samples;
pub mod servers;
pub mod svg;

pub use holders::*;
pub use netns::*;
pub use oracles::*;
pub use prometheus::*;
pub use samples::*;
pub use servers::*;

pub const PLANET: &str = env!("CARGO_BIN_EXE_planet");

/// `planet` with the given arguments.
pub fn planet<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut command = Command::new(PLANET);
    command.args(args).env_remove("PLANET_OUT");
    command
}

/// Where one test's planet writes: an output directory and a state file,
/// temporary unless the test brings its own (a full disk, a read-only one).
/// Its runs never touch the default state path under /var/lib, nor ask a
/// DNS server the test did not start.
pub struct TestEnv {
    out: PathBuf,
    state_dir: PathBuf,
    _temp: Vec<tempfile::TempDir>,
}

impl TestEnv {
    pub fn new() -> TestEnv {
        let (out, state) = (temp_dir(), temp_dir());
        TestEnv {
            out: out.path().to_path_buf(),
            state_dir: state.path().to_path_buf(),
            _temp: vec![out, state],
        }
    }

    /// Writing the output into `out`, a directory the test made.
    pub fn with_out(out: &Path) -> TestEnv {
        let state = temp_dir();
        TestEnv {
            out: out.to_path_buf(),
            state_dir: state.path().to_path_buf(),
            _temp: vec![state],
        }
    }

    /// Keeping the state file in `state_dir`, a directory the test made.
    pub fn with_state_dir(state_dir: &Path) -> TestEnv {
        let out = temp_dir();
        TestEnv {
            out: out.path().to_path_buf(),
            state_dir: state_dir.to_path_buf(),
            _temp: vec![out],
        }
    }

    pub fn out(&self) -> &Path {
        &self.out
    }

    /// `OUT/planet.prom`.
    pub fn output_file(&self) -> PathBuf {
        self.out.join("planet.prom")
    }

    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    pub fn state_file(&self) -> PathBuf {
        self.state_dir.join("planet.state")
    }

    /// `planet collect --no-resolve --out OUT --state-file STATE`, to add
    /// to and run.
    pub fn collect(&self) -> Command {
        let mut command = planet(["collect", "--no-resolve", "--out"]);
        command
            .arg(&self.out)
            .arg("--state-file")
            .arg(self.state_file());
        command
    }

    /// Runs [`TestEnv::collect`] with `extra`, asserts it succeeded
    /// silently, and returns the file it wrote, parsed.
    pub fn collect_ok(&self, extra: &[&str]) -> Exposition {
        assert_success(&self.collect().args(extra).output().expect("run planet"));
        self.written()
    }

    /// The output file as it is now, parsed.
    pub fn written(&self) -> Exposition {
        parse(&std::fs::read_to_string(self.output_file()).expect("read the output"))
    }
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

/// Planet's output, read with planet's own parser (which a round-trip
/// property test holds to the renderer).
pub fn parse(text: &str) -> Exposition {
    exposition::parse(text).unwrap_or_else(|e| panic!("unparseable output: {e}\n{text}"))
}

/// Runs `command` to its end, which must come within `limit` (generous:
/// a bound on hostile input, not a speed test): killed and failed otherwise.
pub fn run_within(command: &mut Command, limit: Duration) -> Output {
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn planet");
    let started = Instant::now();
    let mut done = false;
    while started.elapsed() < limit {
        if child.try_wait().expect("wait").is_some() {
            done = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if !done {
        let _ = child.kill();
    }
    let output = child.wait_with_output().expect("wait");
    assert!(done, "still running after {limit:?}: {output:?}");
    output
}

/// Runs `command` (stdin, stdout and stderr null) to its end: its exit
/// code, its own peak RSS in KiB, and the wall time.
///
/// Not `wait4` on a child of ours: a child forked from this process (many
/// tests on many threads, tens of MiB) shares or copies our memory until it
/// execs, and the kernel carries that high-water mark across exec into the
/// child's `ru_maxrss`. So the command is forked from `sh`, which is small
/// after its own exec and exits at once; this process, made a child
/// subreaper, inherits the command and reaps it with `wait4`.
pub fn run_measured(command: &Command) -> (Option<i32>, u64, Duration) {
    // SAFETY: a flag of this process; orphans of other tests' children
    // come to us too, and stay zombies until the test process ends.
    assert_eq!(
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) },
        0
    );
    let started = Instant::now();
    let mut launcher = Command::new("sh");
    launcher
        .args(["-c", "\"$@\" </dev/null >/dev/null 2>&1 & echo $!", "sh"])
        .arg(command.get_program())
        .args(command.get_args());
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => launcher.env(key, value),
            None => launcher.env_remove(key),
        };
    }
    let output = launcher.output().expect("run sh");
    let pid: libc::pid_t = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .expect("sh printed the command's pid");
    let mut status = 0;
    // SAFETY: rusage is plain data the kernel fills; the process is ours now.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::wait4(pid, &mut status, 0, &mut usage) }, pid);
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    (code, usage.ru_maxrss as u64, started.elapsed())
}

/// Runs `planet collect --stdout --no-resolve` until two runs in a row agree
/// (timing lines aside), asserts each succeeded silently, and returns the
/// output.
///
/// Why more than once: while any test in this process spawns a child, the
/// child holds a copy of every fd, our sockets too, until it execs; with pids
/// recycled it can be their lowest-pid owner for that instant. A second
/// agreeing run shows the answer is not such an instant. (It also checks
/// that the output is deterministic.)
pub fn collect_stdout(extra: &[&str]) -> String {
    let once = || {
        let output = planet(["collect", "--stdout", "--no-resolve"].iter().chain(extra))
            .output()
            .expect("run planet");
        assert_success(&output);
        String::from_utf8(output.stdout).expect("output is UTF-8")
    };
    let mut previous = once();
    for _ in 0..10 {
        let next = once();
        if own_view(&next) == own_view(&previous) {
            return next;
        }
        previous = next;
    }
    previous
}

/// This test process's name as planet writes it: its `comm`, made whole
/// from its executable's file name when the kernel cut it at 15 bytes (the
/// test binary's name, with its hash, is longer).
pub fn own_process_name() -> String {
    let comm = std::fs::read_to_string("/proc/self/comm").expect("our comm");
    let comm = comm.trim_end_matches('\n');
    let exe = std::env::current_exe().expect("our exe");
    let exe = exe.file_name().expect("a file name").to_string_lossy();
    match comm.len() == 15 && exe.len() > 15 && exe.starts_with(comm) {
        true => exe.into_owned(),
        false => comm.to_string(),
    }
}

/// What a run said on stderr, as text.
pub fn stderr_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Writes `data` to `dir/name` and returns the path.
pub fn write_file(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, data).expect("write a test file");
    path
}

/// Asserts that a run did not panic (whatever else it did).
pub fn assert_no_panic(output: &Output) {
    let stderr = stderr_of(output);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Asserts that a run failed (exit 1) with one line on stderr, which names
/// `path` first (`planet: PATH: ...`): that line.
pub fn assert_error_naming(output: &Output, path: &Path) -> String {
    let stderr = stderr_of(output);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}: {stderr}",
        path.display()
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!("planet: {}: ", path.display())),
        "{stderr}"
    );
    stderr
}

pub fn assert_success(output: &Output) {
    assert!(
        output.status.success() && output.stderr.is_empty(),
        "planet failed or was not silent: {:?}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs `command` (planet, say) to its end, asserts it succeeded silently,
/// and returns what it wrote on stdout, as text.
pub fn stdout_ok(command: &mut Command) -> String {
    let output = command.output().expect("run planet");
    assert_success(&output);
    String::from_utf8(output.stdout).expect("output is UTF-8")
}

/// Waits until `check` holds, for at most `limit`.
pub fn wait_for(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    check()
}

/// The `planet_collect_timestamp_seconds` line of an output file, once it
/// has been written: a new one means a new write.
pub fn collect_timestamp(file: &Path) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    samples(&text, schema::COLLECT_TIMESTAMP.name)
        .first()
        .map(|line| line.to_string())
}

/// Processes killed when the test ends, however it ends.
#[derive(Default)]
pub struct Running(Vec<Child>);

impl Running {
    /// Starts `command`, its output discarded, until this is dropped.
    pub fn start(&mut self, command: &mut Command) {
        let child = command
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {command:?}: {e}"));
        self.0.push(child);
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Sends SIGTERM to a `--loop` planet and waits up to 10s for it to end
/// (then kills it): its exit code (None if it had to be killed) and all it
/// wrote to its piped stderr.
pub fn terminate(child: &mut Child) -> (Option<i32>, String) {
    use std::io::Read;
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let mut exited = None;
    wait_for(Duration::from_secs(10), || {
        exited = child.try_wait().ok().flatten();
        exited.is_some()
    });
    if exited.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        pipe.read_to_string(&mut stderr).unwrap();
    }
    (exited.and_then(|status| status.code()), stderr)
}

/// Every file name in a directory, sorted.
pub fn list_dir(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
