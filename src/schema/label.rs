//! The labels, each declared once, with what their values mean: the
//! metrics reference and the man page list them from here.

use super::Label;

pub const PROTOCOL: Label = Label {
    name: "protocol",
    help: "`tcp` or `udp`.",
};
pub const NAME: Label = Label {
    name: "name",
    help: "On `planet_serving*`, the serving process's name (made whole as `process`). On dependency series, the peer's name: from `--inventory`, else the first label of its PTR name, else its address; `other` for folded peers.",
};
pub const PROCESS: Label = Label {
    name: "process",
    help: "The local process's name: its `comm`, made whole from its executable's (or argv[0]'s) file name when the kernel cut it at 15 bytes; `\"\"` when it cannot be seen; `other` in the series the state's cap folds processes into.",
};
pub const CONTAINER: Label = Label {
    name: "container",
    help: "The full container ID from the owner's cgroup path; `\"\"` on the host; `netns:<inode>` for another network namespace without a container; `other` in the series the state's cap folds containers into.",
};
pub const ADDR: Label = Label {
    name: "addr",
    help: "An IP address, without brackets or zone; IPv4-mapped IPv6 written as IPv4; `\"\"` for folded peers.",
};
pub const PORT: Label = Label {
    name: "port",
    help: "On `planet_serving*` and downstream series, the local serving port; on upstream series, the peer's port; `other` for ports folded by the state's cap.",
};
pub const DOMAIN: Label = Label {
    name: "domain",
    help: "The peer's domain (from `--inventory` or its PTR name, without the trailing dot); `\"\"` when unknown.",
};
pub const DIRECTION: Label = Label {
    name: "direction",
    help: "`out`: payload this host sent that the peer acknowledged; `in`: payload it received.",
};
pub const STATE: Label = Label {
    name: "state",
    help: "A TCP state in lower case (`established`, `close_wait`, ...), or for UDP `connected` / `unconnected`.",
};
pub const FAMILY: Label = Label {
    name: "family",
    help: "`upstream` or `downstream`.",
};
pub const RESULT: Label = Label {
    name: "result",
    help: "`hit` (from planet's cache), `answered`, `nxdomain`, `timeout` or `error`.",
};
pub const HOSTNAME: Label = Label {
    name: "hostname",
    help: "The host's name (uname nodename).",
};
pub const REASON: Label = Label {
    name: "reason",
    help: "Why a network namespace was not read: `hidden` (its `/proc/PID/ns/net` could not be seen), `no_privilege` (no CAP_SYS_ADMIN to enter it), `out_of_fds`, `vanished` (its processes exited first) or `failed`.",
};
pub const SOURCE: Label = Label {
    name: "source",
    help: "A `--wrap` source's name, as the rules file gives it.",
};
pub const VERSION: Label = Label {
    name: "version",
    help: "planet's version.",
};
pub const COLLECTOR: Label = Label {
    name: "collector",
    help: "A collector's registered name.",
};
