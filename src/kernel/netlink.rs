//! What every netlink conversation of planet's starts with: a socket bound
//! and connected to the kernel, and one request sent whole.

use std::io;

use netlink_packet_core::{NetlinkMessage, NetlinkSerializable};
use netlink_sys::{Socket, SocketAddr};

/// A netlink socket of `protocol` (NETLINK_SOCK_DIAG, NETLINK_ROUTE), in
/// the calling thread's network namespace.
pub fn connect(protocol: isize) -> io::Result<Socket> {
    let mut socket = Socket::new(protocol)?;
    socket.bind_auto()?;
    socket.connect(&SocketAddr::new(0, 0))?;
    Ok(socket)
}

/// Finalizes `request` (lengths) and sends it.
pub fn send<T: NetlinkSerializable>(
    socket: &Socket,
    mut request: NetlinkMessage<T>,
) -> io::Result<()> {
    request.finalize();
    let mut packet = vec![0u8; request.buffer_len()];
    request.serialize(&mut packet);
    socket.send(&packet, 0)?;
    Ok(())
}
