//! The kernel's socket tables, read over netlink sock_diag (inet_diag).
//!
//! One dump request per (address family, protocol). The crate builds the
//! requests and parses the fixed header; the attributes are walked by hand so
//! that a `tcp_info` of any length the kernel sends (104 bytes on old kernels,
//! 280+ on new ones) is read field by field with a length check, and no socket
//! costs an allocation beyond its record.

use std::fmt;
use std::io;

use netlink_packet_core::{
    NetlinkBuffer, NetlinkHeader, NetlinkMessage, NlasIterator, Parseable, NLM_F_DUMP,
    NLM_F_REQUEST,
};
use netlink_packet_sock_diag::{
    constants::{AF_INET, AF_INET6, IPPROTO_TCP, IPPROTO_UDP, SOCK_DIAG_BY_FAMILY},
    inet::{ExtensionFlags, InetRequest, InetResponseHeader, SocketId, StateFlags},
    SockDiagMessage,
};
use netlink_sys::{protocols::NETLINK_SOCK_DIAG, Socket};

use super::netlink;

use super::socket::{normalise, Protocol, SockRecord, TcpInfo};
use crate::error::DumpError;

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const INET_DIAG_INFO: u16 = 2;
/// The legacy TCP dump request (include/uapi/linux/inet_diag.h).
const TCPDIAG_GETSOCK: u16 = 18;
/// Size of `struct inet_diag_msg`, the fixed part of every answer.
const INET_DIAG_MSG_LEN: usize = 72;
/// `tcp_info` offsets (include/uapi/linux/tcp.h), stable since Linux 4.1.
const TCPI_RTT: usize = 68;
const TCPI_TOTAL_RETRANS: usize = 100;
const TCPI_BYTES_ACKED: usize = 120;
const TCPI_BYTES_RECEIVED: usize = 128;
/// Linux 4.6+.
const TCPI_DATA_SEGS_IN: usize = 152;
/// Linux 4.19+.
const TCPI_BYTES_SENT: usize = 200;
const TCPI_BYTES_RETRANS: usize = 208;
/// The kernel sizes a dump datagram from the reader's buffer, up to 32 KiB.
const RECV_BUF: usize = 32 * 1024;

/// Dumps every TCP and UDP socket over IPv4 and IPv6, in all states, of
/// the calling thread's network namespace, whose inode is `netns`.
pub fn dump_all(netns: u64) -> Result<Vec<SockRecord>, DumpError> {
    let mut socket = netlink::connect(NETLINK_SOCK_DIAG).map_err(|e| failed("socket", e))?;
    let mut buf = vec![0u8; RECV_BUF];
    let mut records = Vec::new();
    // TCP in one walk of the kernel's table where it answers that request.
    if dump_tcp_both(&mut socket, &mut buf, &mut records).is_err() {
        records.clear();
        for family in [AF_INET, AF_INET6] {
            dump_one(&mut socket, &mut buf, family, Protocol::Tcp, &mut records)?;
        }
    }
    for family in [AF_INET, AF_INET6] {
        dump_one(&mut socket, &mut buf, family, Protocol::Udp, &mut records)?;
    }
    for record in &mut records {
        record.netns = netns;
    }
    Ok(records)
}

fn dump_one(
    socket: &mut Socket,
    buf: &mut [u8],
    family: u8,
    protocol: Protocol,
    out: &mut Vec<SockRecord>,
) -> Result<(), DumpError> {
    let seq = u32::from(family) << 8 | u32::from(protocol == Protocol::Udp);
    dump(socket, buf, family, protocol, seq, out).map_err(|e| {
        let family = if family == AF_INET { "ipv4" } else { "ipv6" };
        failed(&format!("{}/{family}", protocol.as_str()), e)
    })
}

/// TCP sockets of both families with the legacy request (`struct
/// inet_diag_req`, TCPDIAG_GETSOCK), which the kernel serves as one dump
/// for IPv4 and IPv6 together. A v2 request names one family, and every
/// request walks the kernel's whole established-socket hash table, shared
/// by all namespaces (262,144 buckets on a 24 GiB host): with 100
/// namespaces this and reading them on two threads took a run from
/// 308 ms to 142 ms (one namespace: 80 ms; `cargo bench --bench namespaces`).
fn dump_tcp_both(socket: &mut Socket, buf: &mut [u8], out: &mut Vec<SockRecord>) -> io::Result<()> {
    const REQUEST_LEN: usize = 16 + 60;
    let mut packet = Vec::with_capacity(REQUEST_LEN);
    packet.extend_from_slice(&(REQUEST_LEN as u32).to_ne_bytes());
    packet.extend_from_slice(&TCPDIAG_GETSOCK.to_ne_bytes());
    packet.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    // The sequence number, and the port id: the kernel's.
    packet.extend_from_slice(&1u32.to_ne_bytes());
    packet.extend_from_slice(&0u32.to_ne_bytes());
    // struct inet_diag_req: family (ignored: the kernel dumps both), the
    // source and destination prefix lengths, the extensions wanted...
    packet.extend_from_slice(&[AF_INET, 0, 0, 1 << (INET_DIAG_INFO - 1)]);
    packet.extend_from_slice(&[0; 48]); // ...any socket id...
    packet.extend_from_slice(&u32::MAX.to_ne_bytes()); // ...every state...
    packet.extend_from_slice(&0u32.to_ne_bytes()); // ...and no table filter.
    socket.send(&packet, 0)?;
    receive(socket, buf, Protocol::Tcp, out)
}

fn failed(request: &str, e: io::Error) -> DumpError {
    DumpError::new(request, &e)
}

fn dump(
    socket: &mut Socket,
    buf: &mut [u8],
    family: u8,
    protocol: Protocol,
    seq: u32,
    out: &mut Vec<SockRecord>,
) -> io::Result<()> {
    let (proto, extensions) = match protocol {
        Protocol::Tcp => (IPPROTO_TCP, ExtensionFlags::INFO),
        Protocol::Udp => (IPPROTO_UDP, ExtensionFlags::empty()),
    };
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    header.sequence_number = seq;
    let request = NetlinkMessage::new(
        header,
        SockDiagMessage::InetRequest(InetRequest {
            family,
            protocol: proto,
            extensions,
            // Every state bit: the crate's `all()` stops at CLOSING and would
            // miss NEW_SYN_RECV (12).
            states: StateFlags::from_bits_retain(u32::MAX),
            socket_id: if family == AF_INET {
                SocketId::new_v4()
            } else {
                SocketId::new_v6()
            },
        })
        .into(),
    );
    netlink::send(socket, request)?;
    receive(socket, buf, protocol, out)
}

/// Reads a dump's answer to its end.
fn receive(
    socket: &mut Socket,
    buf: &mut [u8],
    protocol: Protocol,
    out: &mut Vec<SockRecord>,
) -> io::Result<()> {
    loop {
        let len = socket.recv(&mut &mut buf[..], 0)?;
        if len == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "kernel closed the dump",
            ));
        }
        if parse_datagram(&buf[..len], protocol, out)? == Flow::Done {
            return Ok(());
        }
    }
}

#[derive(PartialEq, Eq)]
pub enum Flow {
    More,
    Done,
}

/// Walks the netlink messages of one datagram, appending a record for each
/// socket. Public to the crate so that destroy notifications share it.
pub fn parse_datagram(
    mut data: &[u8],
    protocol: Protocol,
    out: &mut Vec<SockRecord>,
) -> io::Result<Flow> {
    while !data.is_empty() {
        let message = NetlinkBuffer::new_checked(data).map_err(invalid)?;
        let length = message.length() as usize;
        match message.message_type() {
            NLMSG_DONE => {
                let code = read_i32(message.payload()).unwrap_or(0);
                return if code < 0 {
                    Err(io::Error::from_raw_os_error(-code))
                } else {
                    Ok(Flow::Done)
                };
            }
            NLMSG_ERROR => match read_i32(message.payload()) {
                Some(0) => {}
                Some(code) => return Err(io::Error::from_raw_os_error(-code)),
                None => return Err(invalid("short netlink error message")),
            },
            // Answers carry their request's type.
            SOCK_DIAG_BY_FAMILY | TCPDIAG_GETSOCK => {
                out.push(parse_record(message.payload(), protocol)?);
            }
            _ => {}
        }
        // Messages are 4-byte aligned; the last one may lack its padding.
        let step = (length + 3) & !3;
        data = data.get(step..).unwrap_or(&[]);
    }
    Ok(Flow::More)
}

fn parse_record(payload: &[u8], protocol: Protocol) -> io::Result<SockRecord> {
    if payload.len() < INET_DIAG_MSG_LEN {
        return Err(invalid("short inet_diag message"));
    }
    let header = InetResponseHeader::parse(&payload[..INET_DIAG_MSG_LEN]).map_err(invalid)?;
    let id = &header.socket_id;
    let mut tcp = None;
    for nla in NlasIterator::new(&payload[INET_DIAG_MSG_LEN..]) {
        let nla = nla.map_err(invalid)?;
        if nla.kind() == INET_DIAG_INFO {
            tcp = tcp_info(nla.value());
        }
    }
    let cookie = &id.cookie;
    Ok(SockRecord {
        protocol,
        state: header.state,
        local_addr: normalise(id.source_address),
        local_port: id.source_port,
        remote_addr: normalise(id.destination_address),
        remote_port: id.destination_port,
        cookie: u64::from(u32::from_ne_bytes([
            cookie[0], cookie[1], cookie[2], cookie[3],
        ])) | u64::from(u32::from_ne_bytes([
            cookie[4], cookie[5], cookie[6], cookie[7],
        ])) << 32,
        inode: header.inode,
        uid: header.uid,
        netns: 0,
        recv_queue: header.recv_queue,
        send_queue: header.send_queue,
        tcp,
    })
}

/// Reads what planet needs of a `tcp_info`, if the kernel sent that far
/// (the byte counters, Linux 4.1+; unique bytes sent, 4.19+).
pub fn tcp_info(info: &[u8]) -> Option<TcpInfo> {
    let sent = read_u64(info, TCPI_BYTES_SENT);
    let retrans = read_u64(info, TCPI_BYTES_RETRANS);
    Some(TcpInfo {
        acked: read_u64(info, TCPI_BYTES_ACKED)?,
        received: read_u64(info, TCPI_BYTES_RECEIVED)?,
        unique_sent: sent.zip(retrans).map(|(s, r)| s.saturating_sub(r)),
        retransmits: read_u32(info, TCPI_TOTAL_RETRANS)?,
        rtt_us: read_u32(info, TCPI_RTT)?,
        data_segs_in: read_u32(info, TCPI_DATA_SEGS_IN),
    })
}

fn read_u64(data: &[u8], at: usize) -> Option<u64> {
    let bytes = data.get(at..at + 8)?;
    Some(u64::from_ne_bytes(bytes.try_into().ok()?))
}

fn read_u32(data: &[u8], at: usize) -> Option<u32> {
    let bytes = data.get(at..at + 4)?;
    Some(u32::from_ne_bytes(bytes.try_into().ok()?))
}

fn read_i32(data: &[u8]) -> Option<i32> {
    Some(i32::from_ne_bytes(data.get(..4)?.try_into().ok()?))
}

fn invalid(e: impl fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_tcp_info_has_no_byte_counters() {
        assert_eq!(tcp_info(&[0u8; 104]), None);
        assert_eq!(tcp_info(&[0u8; 135]), None);
        let mut info = vec![0u8; 136];
        info[120..128].copy_from_slice(&7u64.to_ne_bytes());
        info[128..136].copy_from_slice(&9u64.to_ne_bytes());
        assert_eq!(
            tcp_info(&info),
            Some(TcpInfo {
                acked: 7,
                received: 9,
                unique_sent: None,
                ..TcpInfo::default()
            })
        );
        info[68..72].copy_from_slice(&250u32.to_ne_bytes());
        info[100..104].copy_from_slice(&3u32.to_ne_bytes());
        assert_eq!(
            tcp_info(&info).map(|i| (i.rtt_us, i.retransmits)),
            Some((250, 3))
        );
        info.resize(232, 0);
        info[200..208].copy_from_slice(&10u64.to_ne_bytes());
        info[208..216].copy_from_slice(&4u64.to_ne_bytes());
        assert_eq!(tcp_info(&info).unwrap().unique_sent, Some(6));
    }

    #[test]
    fn garbage_datagrams_are_errors_not_panics() {
        let mut out = Vec::new();
        for len in 0..64 {
            let data = vec![0xffu8; len];
            let _ = parse_datagram(&data, Protocol::Tcp, &mut out);
        }
        // A message that claims a length beyond the datagram.
        let mut data = vec![0u8; 20];
        data[..4].copy_from_slice(&100u32.to_ne_bytes());
        assert!(parse_datagram(&data, Protocol::Tcp, &mut out).is_err());
    }
}
