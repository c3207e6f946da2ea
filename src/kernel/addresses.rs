//! The addresses on a namespace's interfaces, over rtnetlink (RTM_GETADDR):
//! how the fleet's graph tells which peer address is which host or
//! container.

use std::io;
use std::net::IpAddr;

use netlink_packet_core::{NetlinkMessage, NetlinkPayload, NLM_F_DUMP, NLM_F_REQUEST};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::protocols::NETLINK_ROUTE;

use super::netlink;

/// A reply datagram is at most a page or two; more is read in turns.
const RECV_BUF: usize = 32 * 1024;

/// Every address on an interface of the calling thread's namespace,
/// except loopback (127.0.0.0/8, ::1) and link-local (169.254.0.0/16,
/// fe80::/10), which name no host from elsewhere. Sorted, no repeats.
pub fn dump() -> io::Result<Vec<IpAddr>> {
    let socket = netlink::connect(NETLINK_ROUTE)?;
    let mut request =
        NetlinkMessage::from(RouteNetlinkMessage::GetAddress(AddressMessage::default()));
    request.header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    request.header.sequence_number = 1;
    netlink::send(&socket, request)?;

    let mut addrs = Vec::new();
    let mut buf = vec![0u8; RECV_BUF];
    loop {
        let len = socket.recv(&mut &mut buf[..], 0)?;
        if len == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "rtnetlink closed the dump",
            ));
        }
        let mut offset = 0;
        while offset < len {
            let message = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&buf[offset..len])
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
            let size = message.header.length as usize;
            match message.payload {
                NetlinkPayload::Done(_) => {
                    addrs.sort_unstable();
                    addrs.dedup();
                    return Ok(addrs);
                }
                NetlinkPayload::Error(e) => return Err(e.to_io()),
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewAddress(message)) => {
                    addrs.extend(address_of(&message).filter(|a| names_a_host(*a)));
                }
                _ => {}
            }
            if size == 0 {
                break; // a malformed length: never loop on it
            }
            offset += (size + 3) & !3;
        }
    }
}

/// IFA_LOCAL is the interface's own address where it differs from
/// IFA_ADDRESS (the peer, on point-to-point links); IPv6 has only the latter.
fn address_of(message: &AddressMessage) -> Option<IpAddr> {
    let local = message.attributes.iter().find_map(|a| match a {
        AddressAttribute::Local(ip) => Some(*ip),
        _ => None,
    });
    local.or_else(|| {
        message.attributes.iter().find_map(|a| match a {
            AddressAttribute::Address(ip) => Some(*ip),
            _ => None,
        })
    })
}

/// Whether an address can name this host or container to a peer elsewhere.
pub fn names_a_host(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(v4) => !v4.is_loopback() && !v4.is_link_local(),
        IpAddr::V6(v6) => !v6.is_loopback() && !v6.is_unicast_link_local(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_and_link_local_name_no_host() {
        for (addr, names) in [
            ("127.0.0.1", false),
            ("127.5.5.5", false),
            ("169.254.1.1", false),
            ("::1", false),
            ("fe80::1", false),
            ("febf::1", false),
            ("192.0.2.1", true),
            ("fd00::1", true),
            ("fec0::1", true),
        ] {
            assert_eq!(names_a_host(addr.parse().unwrap()), names, "{addr}");
        }
    }

    #[test]
    fn this_namespaces_addresses_exclude_loopback() {
        let addrs = dump().unwrap();
        assert!(addrs.iter().all(|a| names_a_host(*a)), "{addrs:?}");
        assert!(addrs.windows(2).all(|w| w[0] < w[1]), "sorted, no repeats");
    }
}
