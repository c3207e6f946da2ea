//! Payload bytes: what the applications wrote, from the kernel's counters,
//! which also count the control bytes of SYN and FIN.

use serde::{Deserialize, Serialize};

use super::classify::Side;
use crate::kernel::socket::{state, SockRecord};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Payload {
    pub sent: u64,
    pub received: u64,
}

/// Payload bytes of a TCP socket: what the applications wrote, without the
/// control bytes the kernel counts.
///
/// Measured on Linux 6.x: `bytes_acked` counts our SYN (+1) on the side that
/// opened the connection only (upstream), and our FIN (+1) once acked;
/// `bytes_received` counts the peer's FIN (+1) once received, never its SYN.
/// Sent: acked less the SYN, capped by the data bytes sent less
/// retransmissions (Linux 4.19+), which removes the FIN in every state.
/// Received: less the FIN in the states that follow receiving it; a socket
/// already closed is taken to have received one if it received anything (a
/// connection reset by its peer after sending data reads one byte low).
pub fn payload(socket: &SockRecord, side: Side) -> Option<Payload> {
    let bytes = socket.tcp?;
    let syn = u64::from(side == Side::Upstream && bytes.acked > 0);
    let acked = bytes.acked - syn;
    let sent = match bytes.unique_sent {
        Some(unique) => acked.min(unique),
        None => acked.saturating_sub(u64::from(fin_acked(socket.state))),
    };
    let fin_in = match socket.state {
        state::CLOSE_WAIT | state::LAST_ACK | state::CLOSING | state::TIME_WAIT => true,
        state::CLOSE => bytes.received > 0,
        _ => false,
    };
    Some(Payload {
        sent,
        received: bytes.received.saturating_sub(u64::from(fin_in)),
    })
}

/// Payload bytes of a socket from its destroy notification, given what it
/// had counted when last sampled (`last`: payload and data segments
/// received), if it ever was.
///
/// The record's state is always CLOSE, so it cannot tell whether the
/// peer's FIN is in `bytes_received`: the side that closed first is freed
/// as soon as its own FIN is acknowledged, often before the peer's FIN
/// comes. When no data segment arrived since the last sample, all of the
/// growth was that FIN, and the sample's count is exact. Otherwise
/// [`payload`]'s rule for CLOSE applies: exact for the side that closed
/// second, one byte low at most for the side that closed first or was
/// reset (the README states this bound).
pub fn payload_at_close(
    record: &SockRecord,
    side: Side,
    last: Option<(Payload, Option<u32>)>,
) -> Option<Payload> {
    let mut now = payload(record, side)?;
    if let (Some((seen, Some(before))), Some(tcp)) = (last, record.tcp) {
        if tcp.data_segs_in == Some(before) {
            now.received = seen.received;
        }
    }
    Some(now)
}

/// Without `bytes_sent` (kernels before 4.19): our FIN has been acked in these.
fn fin_acked(socket_state: u8) -> bool {
    matches!(
        socket_state,
        state::FIN_WAIT2 | state::TIME_WAIT | state::CLOSE
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::kernel::socket::{Protocol, TcpInfo};

    /// A TCP socket of 127.0.0.1:40000 to :80 with these counters.
    pub(crate) fn tcp(
        state: u8,
        acked: u64,
        received: u64,
        unique_sent: Option<u64>,
    ) -> SockRecord {
        SockRecord {
            protocol: Protocol::Tcp,
            state,
            local_addr: "127.0.0.1".parse().unwrap(),
            local_port: 40000,
            remote_addr: "127.0.0.1".parse().unwrap(),
            remote_port: 80,
            cookie: 1,
            inode: 1,
            uid: 0,
            netns: 0,
            recv_queue: 0,
            send_queue: 0,
            tcp: Some(TcpInfo {
                acked,
                received,
                unique_sent,
                ..TcpInfo::default()
            }),
        }
    }

    fn sent_received(socket: &SockRecord, side: Side) -> (u64, u64) {
        let p = payload(socket, side).unwrap();
        (p.sent, p.received)
    }

    /// The counter values measured on a real connection: client wrote 1000,
    /// server wrote 70, client shut down first, then the server.
    #[test]
    fn control_bytes_are_taken_off_in_every_state() {
        use Side::*;
        // Established, after the transfers.
        assert_eq!(
            sent_received(&tcp(state::ESTABLISHED, 1001, 70, Some(1000)), Upstream),
            (1000, 70)
        );
        assert_eq!(
            sent_received(&tcp(state::ESTABLISHED, 70, 1000, Some(70)), Downstream),
            (70, 1000)
        );
        // Client's FIN acked (FIN_WAIT2); server received it (CLOSE_WAIT).
        assert_eq!(
            sent_received(&tcp(state::FIN_WAIT2, 1002, 70, Some(1000)), Upstream),
            (1000, 70)
        );
        assert_eq!(
            sent_received(&tcp(state::CLOSE_WAIT, 70, 1001, Some(70)), Downstream),
            (70, 1000)
        );
        // Both closed.
        assert_eq!(
            sent_received(&tcp(state::CLOSE, 1002, 71, Some(1000)), Upstream),
            (1000, 70)
        );
        assert_eq!(
            sent_received(&tcp(state::CLOSE, 71, 1001, Some(70)), Downstream),
            (70, 1000)
        );
        // Old kernels without bytes_sent.
        assert_eq!(
            sent_received(&tcp(state::FIN_WAIT2, 1002, 70, None), Upstream),
            (1000, 70)
        );
        assert_eq!(
            sent_received(&tcp(state::ESTABLISHED, 1001, 70, None), Upstream),
            (1000, 70)
        );
        // A connection that never completed its handshake.
        assert_eq!(
            sent_received(&tcp(state::SYN_SENT, 0, 0, Some(0)), Upstream),
            (0, 0)
        );
    }

    /// Measured: a server wrote 50 and received 99, then closed first; its
    /// record came before the client's FIN (99 received, not 100).
    #[test]
    fn a_record_with_no_data_since_the_sample_keeps_the_samples_count() {
        let with_segs = |mut socket: SockRecord, segs| {
            if let Some(tcp) = &mut socket.tcp {
                tcp.data_segs_in = Some(segs);
            }
            socket
        };
        let sampled = Payload {
            sent: 50,
            received: 99,
        };
        let closed = with_segs(tcp(state::CLOSE, 51, 99, Some(50)), 3);
        let exact = payload_at_close(&closed, Side::Downstream, Some((sampled, Some(3))));
        assert_eq!(exact, Some(sampled), "no FIN came: nothing to take off");
        // The client's record, with the server's FIN: the growth was the FIN.
        let client = with_segs(tcp(state::CLOSE, 101, 51, Some(99)), 2);
        let seen = Payload {
            sent: 99,
            received: 50,
        };
        let exact = payload_at_close(&client, Side::Upstream, Some((seen, Some(2))));
        assert_eq!(exact, Some(seen));
        // Data came after the sample: the rule for CLOSE (a FIN is assumed).
        let late = with_segs(tcp(state::CLOSE, 51, 130, Some(50)), 4);
        let guess = payload_at_close(&late, Side::Downstream, Some((sampled, Some(3))));
        assert_eq!(guess.map(|p| p.received), Some(129));
        // Never sampled: the same rule.
        assert_eq!(
            payload_at_close(&late, Side::Downstream, None).map(|p| p.received),
            Some(129)
        );
    }
}
