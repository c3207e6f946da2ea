//! Stage 1, the kernel: what the kernel says about sockets and processes,
//! read as it is, with no interpretation beyond normalising addresses.
//!
//! - [`sockdiag`] dumps every TCP and UDP socket over netlink into
//!   [`socket::SockRecord`]s;
//! - [`destroy`] listens for sockets the kernel frees between two runs,
//!   in every namespace, on one poller thread;
//! - [`procmap`] maps socket inodes to the processes holding them, and
//!   [`names`] gives each its whole name;
//! - [`sysctl`] reads the settings that change what a socket means;
//! - [`netns`] enters another network namespace to read its sockets there,
//!   [`addresses`] lists a namespace's addresses;
//! - [`census`] finds every namespace a process lives in, and
//!   [`cgroup`] tells which container a process runs in;
//! - [`fds`] rations file descriptors, one per namespace.
//!
//! Nothing here knows about metrics, peers or state.

pub mod addresses;
pub mod census;
pub mod cgroup;
pub mod destroy;
pub mod fds;
pub mod names;
pub mod netlink;
pub mod netns;
pub mod procmap;
pub mod sockdiag;
pub mod socket;
pub mod sysctl;
