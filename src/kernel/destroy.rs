//! sock_diag destroy notifications, for `--loop`.
//!
//! When a TCP socket is freed the kernel multicasts its final inet_diag record
//! with `tcp_info` and cookie (uid and inode are 0). Listening to them means a
//! connection that closes between two samples, or opens and closes between
//! them, is counted in full. The subscription sees only the network
//! namespace its socket was made in, so there is one feed per namespace.
//!
//! All feeds are read by one poller thread (epoll), whatever their number:
//! a thread per namespace cost 2,005 threads and 4,012 fds at 2,000
//! namespaces. The poller drains the sockets continuously into one queue
//! that each run takes; an 8 MiB receive buffer per feed rides out bursts
//! (the default 208 KiB dropped 96% of a 4,000-connection burst, 8 MiB
//! none).
//!
//! The queue is bounded in total, not per feed: any process may create and
//! close sockets as fast as it likes, in as many namespaces as it likes,
//! without privilege. Records that can end only a socket planet already
//! tracks (no peer: never connected, refused while blocking, reset with
//! SO_LINGER 0) are kept as a bare cookie, 8 bytes, in a queue of their
//! own, so that a flood of them cannot crowd out real connections. What
//! does not fit is dropped and counted, as are the kernel's own drops.
//!
//! A feed's socket holds its namespace alive, so the caller stops the feed
//! of a namespace that no process lives in any more ([`Feeds::forget`]).

use std::collections::{BTreeSet, HashMap};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use netlink_sys::{protocols::NETLINK_SOCK_DIAG, Socket};
use rustix::event::{epoll, eventfd, EventfdFlags};

use super::sockdiag::parse_datagram;
use super::socket::{Protocol, SockRecord};

/// Multicast groups (include/uapi/linux/sock_diag.h); not in the crate.
const SKNLGRP_INET_TCP_DESTROY: u32 = 1;
const SKNLGRP_INET6_TCP_DESTROY: u32 = 3;
const RECEIVE_BUFFER: usize = 8 * 1024 * 1024;
/// Closed connections queued between two runs, all namespaces together:
/// 16 MiB of records (about 110,000). A run takes the queue while the
/// poller fills a new one, so at most twice this is held at once.
pub const MAX_QUEUED_BYTES: usize = 16 << 20;
/// Bare cookies queued between two runs: 1,048,576 (8 MiB).
pub const MAX_QUEUED_COOKIES: usize = 1 << 20;
/// The epoll token of the wake-up eventfd (no namespace has inode 0).
const WAKE: u64 = 0;
/// Datagrams read from one feed before the others get a turn.
const FAIR_SHARE: usize = 64;

fn max_queued_records() -> usize {
    MAX_QUEUED_BYTES / std::mem::size_of::<SockRecord>()
}

/// What closed since the last [`Feeds::take`], in every namespace followed.
#[derive(Debug, Default)]
pub struct Closed {
    /// Closed connections with their final counters.
    pub records: Vec<SockRecord>,
    /// Sockets whose record names no peer: they can only end a socket
    /// already tracked, by its cookie (cookies are unique across
    /// namespaces for the life of the boot).
    pub cookies: Vec<u64>,
}

#[derive(Default)]
struct Shared {
    queue: Mutex<Closed>,
    /// Notifications dropped since the start: by the kernel (each ENOBUFS
    /// stands for at least one) or by the queue's bound.
    lost: AtomicU64,
}

enum Command {
    Follow(u64, Socket),
    Forget(u64),
    Stop,
}

/// The destroy feeds of every namespace followed, and their poller.
pub struct Feeds {
    shared: Arc<Shared>,
    commands: Sender<Command>,
    wake: Arc<OwnedFd>,
    followed: BTreeSet<u64>,
    poller: Option<JoinHandle<()>>,
}

impl Drop for Feeds {
    fn drop(&mut self) {
        self.send(Command::Stop);
        if let Some(poller) = self.poller.take() {
            let _ = poller.join();
        }
    }
}

impl Feeds {
    /// Starts the poller, with no feed yet.
    pub fn start() -> io::Result<Feeds> {
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
        let wake = Arc::new(eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?);
        epoll::add(
            &epoll,
            wake.as_fd(),
            epoll::EventData::new_u64(WAKE),
            epoll::EventFlags::IN,
        )?;
        let shared = Arc::new(Shared::default());
        let (commands, received) = mpsc::channel();
        let poller = Poller {
            epoll,
            wake: Arc::clone(&wake),
            commands: received,
            shared: Arc::clone(&shared),
            feeds: HashMap::new(),
        };
        let poller = std::thread::Builder::new()
            .name("destroy-feeds".into())
            .spawn(move || poller.run())?;
        Ok(Feeds {
            shared,
            commands,
            wake,
            followed: BTreeSet::new(),
            poller: Some(poller),
        })
    }

    /// Adds the feed of namespace `netns`: a socket from [`subscribe`],
    /// made inside it.
    pub fn follow(&mut self, netns: u64, socket: Socket) {
        if self.followed.insert(netns) {
            self.send(Command::Follow(netns, socket));
        }
    }

    /// Stops the feed of `netns` (what it queued stays queued).
    pub fn forget(&mut self, netns: u64) {
        if self.followed.remove(&netns) {
            self.send(Command::Forget(netns));
        }
    }

    /// Whether `netns` has a feed.
    pub fn follows(&self, netns: u64) -> bool {
        self.followed.contains(&netns)
    }

    pub fn followed(&self) -> impl Iterator<Item = u64> + '_ {
        self.followed.iter().copied()
    }

    /// What closed since the last call.
    pub fn take(&self) -> Closed {
        match self.shared.queue.lock() {
            Ok(mut queue) => std::mem::take(&mut *queue),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        }
    }

    /// Notifications dropped since the start.
    pub fn lost(&self) -> u64 {
        self.shared.lost.load(Ordering::Relaxed)
    }

    fn send(&self, command: Command) {
        // A poller that has gone (it cannot, short of a panic) reads nothing
        // more; the lost counter stops too, and the runs go on without it.
        if self.commands.send(command).is_ok() {
            let _ = rustix::io::write(self.wake.as_fd(), &1u64.to_ne_bytes());
        }
    }
}

/// A socket subscribed to the destroy notifications of the calling
/// thread's network namespace. Joining needs no privilege on Linux 6.x;
/// the large buffer needs CAP_NET_ADMIN (else rmem_max).
pub fn subscribe() -> io::Result<Socket> {
    let mut socket = Socket::new(NETLINK_SOCK_DIAG)?;
    socket.bind_auto()?;
    socket.add_membership(SKNLGRP_INET_TCP_DESTROY)?;
    socket.add_membership(SKNLGRP_INET6_TCP_DESTROY)?;
    set_receive_buffer(&socket);
    socket.set_non_blocking(true)?;
    Ok(socket)
}

/// SO_RCVBUFFORCE passes rmem_max when we have CAP_NET_ADMIN; otherwise take
/// what SO_RCVBUF allows.
fn set_receive_buffer(socket: &Socket) {
    use rustix::net::sockopt;
    if sockopt::set_socket_recv_buffer_size_force(socket, RECEIVE_BUFFER).is_err() {
        let _ = sockopt::set_socket_recv_buffer_size(socket, RECEIVE_BUFFER);
    }
}

/// The poller thread's own: the epoll set and the sockets in it.
struct Poller {
    epoll: OwnedFd,
    wake: Arc<OwnedFd>,
    commands: Receiver<Command>,
    shared: Arc<Shared>,
    feeds: HashMap<u64, Socket>,
}

impl Poller {
    fn run(mut self) {
        let mut events = Vec::with_capacity(256);
        let mut buf = vec![0u8; 64 * 1024];
        let mut records = Vec::new();
        loop {
            events.clear();
            match epoll::wait(
                &self.epoll,
                rustix::buffer::spare_capacity(&mut events),
                None,
            ) {
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => continue,
                // Cannot happen with a valid epoll fd; don't spin if it does.
                Err(_) => return,
            }
            for event in &events {
                let token = event.data.u64();
                if token == WAKE {
                    if !self.obey() {
                        return;
                    }
                } else if let Some(socket) = self.feeds.get(&token) {
                    drain(socket, token, &mut buf, &mut records, &self.shared);
                }
            }
        }
    }

    /// Carries out the commands sent; false on Stop.
    fn obey(&mut self) -> bool {
        let mut count = [0u8; 8];
        let _ = rustix::io::read(self.wake.as_fd(), &mut count);
        while let Ok(command) = self.commands.try_recv() {
            match command {
                Command::Follow(netns, socket) => {
                    let added = epoll::add(
                        &self.epoll,
                        &socket,
                        epoll::EventData::new_u64(netns),
                        epoll::EventFlags::IN,
                    );
                    if added.is_ok() {
                        self.feeds.insert(netns, socket);
                    }
                }
                Command::Forget(netns) => {
                    if let Some(socket) = self.feeds.remove(&netns) {
                        let _ = epoll::delete(&self.epoll, &socket);
                    }
                }
                Command::Stop => return false,
            }
        }
        true
    }
}

/// Reads what one feed has now, up to its fair share, into the queue.
fn drain(
    socket: &Socket,
    netns: u64,
    buf: &mut [u8],
    records: &mut Vec<SockRecord>,
    shared: &Shared,
) {
    for _ in 0..FAIR_SHARE {
        match socket.recv(&mut &mut buf[..], 0) {
            Ok(len) => {
                records.clear();
                // A malformed notification is skipped, not fatal.
                let _ = parse_datagram(&buf[..len], Protocol::Tcp, records);
                enqueue(records, netns, shared);
            }
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::NOBUFS.raw_os_error()) => {
                shared.lost.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // WouldBlock: read all there was. Anything else cannot happen
            // on a bound netlink socket; it is left for the next wake-up.
            Err(_) => return,
        }
    }
}

fn enqueue(records: &mut Vec<SockRecord>, netns: u64, shared: &Shared) {
    let mut queue = match shared.queue.lock() {
        Ok(queue) => queue,
        Err(poisoned) => poisoned.into_inner(),
    };
    let mut dropped = 0u64;
    for mut record in records.drain(..) {
        if record.remote_port == 0 {
            match queue.cookies.len() < MAX_QUEUED_COOKIES {
                true => queue.cookies.push(record.cookie),
                false => dropped += 1,
            }
        } else if queue.records.len() < max_queued_records() {
            record.netns = netns;
            queue.records.push(record);
        } else {
            dropped += 1;
        }
    }
    if dropped > 0 {
        shared.lost.fetch_add(dropped, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};
    use std::time::{Duration, Instant};

    #[test]
    fn one_poller_reports_a_closed_connection_with_its_cookie() {
        let mut feeds = Feeds::start().unwrap();
        feeds.follow(7, subscribe().unwrap());
        assert!(feeds.follows(7));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let client = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (server, _) = listener.accept().unwrap();
        drop(client);
        drop(server);
        // Other tests close sockets too: look for ours.
        let started = Instant::now();
        let mut seen = Vec::new();
        while started.elapsed() < Duration::from_secs(5) {
            let closed = feeds.take();
            seen.extend(
                closed
                    .records
                    .into_iter()
                    .filter(|r| r.local_port == port || r.remote_port == port),
            );
            if seen.len() == 2 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert!(seen.iter().all(|r| r.netns == 7 && r.cookie != 0));
        feeds.forget(7);
        assert!(!feeds.follows(7));
    }

    #[test]
    fn the_queue_is_bounded_and_counts_what_it_drops() {
        let shared = Shared::default();
        let record = |remote_port| SockRecord {
            protocol: Protocol::Tcp,
            state: crate::kernel::socket::state::CLOSE,
            local_addr: "127.0.0.1".parse().unwrap(),
            local_port: 1,
            remote_addr: "127.0.0.1".parse().unwrap(),
            remote_port,
            cookie: 1,
            inode: 0,
            uid: 0,
            netns: 0,
            recv_queue: 0,
            send_queue: 0,
            tcp: None,
        };
        let cap = max_queued_records();
        let mut batch: Vec<SockRecord> = (0..cap + 5).map(|_| record(80)).collect();
        batch.extend((0..3).map(|_| record(0)));
        enqueue(&mut batch, 9, &shared);
        let queue = shared.queue.lock().unwrap();
        assert_eq!(queue.records.len(), cap);
        assert_eq!(queue.cookies.len(), 3, "peerless records are kept apart");
        assert_eq!(shared.lost.load(Ordering::Relaxed), 5);
        assert!(queue.records.iter().all(|r| r.netns == 9));
    }
}
