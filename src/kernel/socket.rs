//! A socket as planet sees it: one record per socket the kernel reports,
//! the same shape whether it came from a dump or a destroy notification,
//! so that every later stage reads one type.

use std::net::IpAddr;

/// TCP states as the kernel numbers them (include/net/tcp_states.h).
pub mod state {
    pub const ESTABLISHED: u8 = 1;
    pub const SYN_SENT: u8 = 2;
    pub const SYN_RECV: u8 = 3;
    pub const FIN_WAIT1: u8 = 4;
    pub const FIN_WAIT2: u8 = 5;
    pub const TIME_WAIT: u8 = 6;
    /// Also the state of every unconnected UDP socket.
    pub const CLOSE: u8 = 7;
    pub const CLOSE_WAIT: u8 = 8;
    pub const LAST_ACK: u8 = 9;
    pub const LISTEN: u8 = 10;
    pub const CLOSING: u8 = 11;
    /// A request socket: a connection half-way through its handshake.
    pub const NEW_SYN_RECV: u8 = 12;

    /// The state's name in lower case, as `planet_process_sockets` writes it.
    pub fn name(state: u8) -> &'static str {
        match state {
            ESTABLISHED => "established",
            SYN_SENT => "syn_sent",
            SYN_RECV => "syn_recv",
            FIN_WAIT1 => "fin_wait1",
            FIN_WAIT2 => "fin_wait2",
            TIME_WAIT => "time_wait",
            CLOSE => "close",
            CLOSE_WAIT => "close_wait",
            LAST_ACK => "last_ack",
            LISTEN => "listen",
            CLOSING => "closing",
            NEW_SYN_RECV => "new_syn_recv",
            _ => "unknown",
        }
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// What planet reads of a socket's `tcp_info`. The byte counters are raw:
/// `acked` and `received` include the control bytes of SYN and FIN;
/// `unique_sent` (bytes sent less retransmissions, Linux 4.19+) counts data
/// only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpInfo {
    pub acked: u64,
    pub received: u64,
    pub unique_sent: Option<u64>,
    /// Segments retransmitted over the socket's life (`tcpi_total_retrans`).
    pub retransmits: u32,
    /// Smoothed round-trip time in microseconds (`tcpi_rtt`).
    pub rtt_us: u32,
    /// Segments received that carried data (`tcpi_data_segs_in`, Linux
    /// 4.6+). A FIN alone does not count, so an unchanged count between two
    /// readings means any growth of `received` was the peer's FIN.
    pub data_segs_in: Option<u32>,
}

/// One socket as the kernel reported it. Addresses are normalised once here:
/// IPv4-mapped IPv6 becomes IPv4, and no scope is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SockRecord {
    pub protocol: Protocol,
    pub state: u8,
    pub local_addr: IpAddr,
    pub local_port: u16,
    pub remote_addr: IpAddr,
    pub remote_port: u16,
    /// The kernel's unique socket id; stable for the life of a socket.
    pub cookie: u64,
    /// 0 for sockets without a file (TIME_WAIT, request sockets).
    pub inode: u32,
    pub uid: u32,
    /// The inode of the network namespace the socket lives in.
    pub netns: u64,
    /// LISTEN: connections waiting to be accepted; otherwise bytes unread.
    pub recv_queue: u32,
    /// LISTEN: the accept queue's maximum; otherwise bytes unsent.
    pub send_queue: u32,
    /// TCP only, and only where the kernel sent a long enough `tcp_info`.
    pub tcp: Option<TcpInfo>,
}

/// IPv4-mapped IPv6 (`::ffff:10.0.0.1`) is the same peer as `10.0.0.1`.
pub fn normalise(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => addr,
        },
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapped_ipv6_folds_to_ipv4() {
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(normalise(mapped), "10.0.0.1".parse::<IpAddr>().unwrap());
        let v6: IpAddr = "::1".parse().unwrap();
        assert_eq!(normalise(v6), v6);
    }
}
