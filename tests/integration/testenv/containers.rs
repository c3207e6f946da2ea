//! Containers made the way runtimes make them, without a runtime: a named
//! network namespace (`ip netns add`) joined by a veth pair to a bridge in
//! the test's own namespace, addresses from 192.0.2.0/24 and fd00::/8, and
//! processes moved into a cgroup v2 directory named as Docker, Kubernetes
//! or containerd name theirs (or as Docker in Docker, rootless Podman and a
//! user's own directories do: the layouts a label must not be borrowed
//! from). Everything is removed on drop. And a real runtime, [`Podman`].

use std::fs::File;
use std::os::fd::{AsFd, RawFd};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::holders::Named;
use super::oracles::{skip_or_fail, which};

/// How the runtime names the container's cgroup, relative to the root.
#[derive(Clone, Copy)]
pub enum Runtime {
    /// `docker-<id>.scope` (systemd driver).
    Docker,
    /// `kubepods/besteffort/pod<uid>/<id>` (cgroupfs driver).
    Kubernetes,
    /// `cri-containerd-<id>.scope`.
    Containerd,
    /// Docker run inside a Docker container: `docker-<id>.scope/docker-<nested>.scope`.
    /// The outer container (`id`) is the one the process runs in; the
    /// nested ID is one whoever runs inside it chose.
    DockerInDocker,
    /// Rootless Podman, under a user's delegated subtree:
    /// `user.slice/user-1000.slice/user@1000.service/user.slice/libpod-<id>.scope`.
    RootlessPodman,
    /// No container: a directory under a user's delegated subtree that the
    /// user named like an ID,
    /// `user.slice/user-1000.slice/user@1000.service/app.slice/<id>`.
    UserDirectory,
    /// No container: a host of its own on the bridge (its processes stay
    /// in the test's cgroup).
    Host,
}

pub struct Container {
    /// The full 64-hex ID, as the runtime would make it.
    pub id: String,
    /// For [`Runtime::DockerInDocker`], the nested container's ID.
    pub nested: Option<String>,
    /// The name of its network namespace under /run/netns.
    pub netns: String,
    pub v4: String,
    pub v6: String,
    /// None for a host.
    cgroup: Option<PathBuf>,
    handle: File,
    holders: Vec<Named>,
    programs: Vec<std::process::Child>,
}

/// A bridge `br0` in the test's namespace (192.0.2.1, fd00::1: the host
/// side), and the containers on it.
pub struct Bridge {
    pub containers: Vec<Container>,
}

/// The subtree systemd delegates to user 1000's own manager, which the user
/// may fill with whatever directories they like.
const USER_SUBTREE: &str = "user.slice/user-1000.slice/user@1000.service";

/// The cgroup v2 hierarchy's mount point, if there is one.
fn cgroup2_root() -> Option<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mounts.lines().find_map(|line| {
        let (before, after) = line.split_once(" - ")?;
        let point = before.split_whitespace().nth(4)?;
        after.starts_with("cgroup2 ").then(|| PathBuf::from(point))
    })
}

fn ip(args: &[&str]) {
    let status = Command::new(which("ip").expect("ip(8)"))
        .args(args)
        .status()
        .expect("run ip");
    assert!(status.success(), "ip {}", args.join(" "));
}

impl Bridge {
    /// Call from inside the test's own network namespace (`in_own_netns`).
    /// None (a skip, or a failure under PLANET_REQUIRE_TOOLS=1) without ip(8)
    /// or a writable cgroup v2 hierarchy.
    pub fn with(runtimes: &[Runtime]) -> Option<Bridge> {
        which("ip").or_else(|| skip_or_fail("ip is not installed (Debian package iproute2)"))?;
        let root = cgroup2_root().or_else(|| skip_or_fail("no cgroup v2 hierarchy is mounted"))?;
        ip(&["link", "add", "br0", "type", "bridge"]);
        ip(&["addr", "add", "192.0.2.1/24", "dev", "br0"]);
        ip(&["addr", "add", "fd00::1/64", "dev", "br0", "nodad"]);
        ip(&["link", "set", "br0", "up"]);
        let tag = format!("{:08x}", std::process::id() ^ rand_u32());
        let containers = runtimes
            .iter()
            .enumerate()
            .map(|(i, runtime)| Container::create(&root, *runtime, &tag, i))
            .collect();
        Some(Bridge { containers })
    }
}

fn rand_u32() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    nanos.wrapping_mul(2_654_435_761)
}

impl Container {
    fn create(root: &Path, runtime: Runtime, tag: &str, i: usize) -> Container {
        let id = format!("{tag}{i:08x}").repeat(4);
        assert_eq!(id.len(), 64);
        let nested = matches!(runtime, Runtime::DockerInDocker)
            .then(|| format!("{tag}{:08x}", i | 0x8000_0000).repeat(4));
        let netns = format!("planet-{tag}-{i}");
        let (v4, v6) = (format!("192.0.2.{}", 10 + i), format!("fd00::{}", 10 + i));
        ip(&["netns", "add", &netns]);
        let (host_end, inside) = (format!("veth{tag}{i}"), format!("eth{i}"));
        ip(&[
            "link", "add", &host_end, "type", "veth", "peer", "name", &inside, "netns", &netns,
        ]);
        ip(&["link", "set", &host_end, "master", "br0", "up"]);
        for args in [
            vec!["link", "set", "lo", "up"],
            vec!["link", "set", &inside, "up"],
            vec!["addr", "add", &format!("{v4}/24"), "dev", &inside],
            vec!["addr", "add", &format!("{v6}/64"), "dev", &inside, "nodad"],
        ] {
            let mut full = vec!["netns", "exec", &netns, "ip"];
            full.extend(args);
            ip(&full);
        }
        let cgroup = match runtime {
            Runtime::Docker => Some(root.join(format!("docker-{id}.scope"))),
            Runtime::Kubernetes => {
                Some(root.join(format!("kubepods/besteffort/pod{tag}-{i}/{id}")))
            }
            Runtime::Containerd => Some(root.join(format!("cri-containerd-{id}.scope"))),
            Runtime::DockerInDocker => Some(root.join(format!(
                "docker-{id}.scope/docker-{}.scope",
                nested.as_deref().unwrap()
            ))),
            Runtime::RootlessPodman => {
                Some(root.join(format!("{USER_SUBTREE}/user.slice/libpod-{id}.scope")))
            }
            Runtime::UserDirectory => Some(root.join(format!("{USER_SUBTREE}/app.slice/{id}"))),
            Runtime::Host => None,
        };
        if let Some(cgroup) = &cgroup {
            std::fs::create_dir_all(cgroup).expect("create the container's cgroup");
        }
        let handle = File::open(format!("/run/netns/{netns}")).expect("open the namespace");
        Container {
            id,
            nested,
            netns,
            v4,
            v6,
            cgroup,
            handle,
            holders: Vec::new(),
            programs: Vec::new(),
        }
    }

    /// Runs `work` inside the container's network namespace: sockets made
    /// there live there.
    pub fn inside<T: Send>(&self, work: impl FnOnce() -> T + Send) -> T {
        planet::kernel::netns::within(self.handle.as_fd(), work).expect("enter the namespace")
    }

    /// A process of this container named `name` (in its namespace and its
    /// cgroup) holding `fds`.
    pub fn hold(&mut self, name: &str, fds: &[RawFd]) {
        let holder = Named::hold_in_netns(&self.netns, name, fds);
        self.join_cgroup(holder.pid());
        self.holders.push(holder);
    }

    /// Runs `program args` as a process of this container (in its namespace
    /// and its cgroup) until the container goes.
    pub fn run(&mut self, program: &Path, args: &[&str]) {
        let child = Command::new(which("ip").expect("ip(8)"))
            .args(["netns", "exec", &self.netns])
            .arg(program)
            .args(args)
            .stdin(std::process::Stdio::null())
            .spawn()
            .expect("start a program in the container");
        self.join_cgroup(child.id());
        self.programs.push(child);
    }

    fn join_cgroup(&self, pid: u32) {
        if let Some(cgroup) = &self.cgroup {
            std::fs::write(cgroup.join("cgroup.procs"), pid.to_string())
                .expect("move the process into the container's cgroup");
        }
    }

    /// The inode of the container's network namespace (what
    /// `stat -L /run/netns/NAME` shows): its `netns:<inode>` label.
    pub fn netns_inode(&self) -> u64 {
        use std::os::unix::fs::MetadataExt;
        self.handle.metadata().expect("stat the namespace").ino()
    }

    /// `ss ARGS` run inside the container's namespace: the oracle's view.
    pub fn ss(&self, args: &[&str]) -> String {
        let output = Command::new(which("ip").expect("ip(8)"))
            .args(["netns", "exec", &self.netns, "ss"])
            .args(args)
            .output()
            .expect("run ss");
        assert!(output.status.success());
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        self.holders.clear(); // kills them, emptying the cgroup
        for mut program in self.programs.drain(..) {
            let _ = program.kill();
            let _ = program.wait();
        }
        // The container's directory, and the parents it made (the pod's
        // for Kubernetes, the outer container's, the user's subtree),
        // innermost first (a parent still in use stays).
        if let Some(mut dir) = self.cgroup.clone() {
            while dir.file_name().is_some() && std::fs::remove_dir(&dir).is_ok() {
                if !dir.pop() {
                    break;
                }
            }
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.netns])
            .status();
    }
}

/// `podman` with the options these machines need (vfs storage, runc, the
/// cgroupfs manager), removing what the test made when it ends.
pub struct Podman {
    program: PathBuf,
    made: std::cell::RefCell<Vec<Vec<String>>>,
}

impl Podman {
    pub fn new(program: PathBuf) -> Podman {
        Podman {
            program,
            made: Default::default(),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.program);
        command
            .args([
                "--storage-driver=vfs",
                "--runtime",
                "runc",
                "--cgroup-manager",
                "cgroupfs",
            ])
            .args(args);
        command
    }

    /// Runs `podman ARGS`, which must succeed; its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let output = self.command(args).output().unwrap();
        assert!(
            output.status.success(),
            "podman {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
        let undo: Option<Vec<&str>> = match args {
            ["import", _, image] => Some(vec!["rmi", "-f", image]),
            ["network", "create", .., name] => Some(vec!["network", "rm", "-f", name]),
            ["run", "-d", "--name", name, ..] => Some(vec!["rm", "-f", "-t", "0", name]),
            _ => None,
        };
        if let Some(undo) = undo {
            self.made
                .borrow_mut()
                .push(undo.into_iter().map(String::from).collect());
        }
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        for undo in self.made.borrow().iter().rev() {
            let args: Vec<&str> = undo.iter().map(String::as_str).collect();
            let _ = self.command(&args).output();
        }
    }
}
