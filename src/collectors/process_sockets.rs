//! Open sockets per process, protocol and state: which process holds how
//! many connections, and in what state (a leak of CLOSE_WAIT, say).
//!
//! This is also the worked example of a collector: one file, one line in
//! the registry, a test of its own.

use std::collections::BTreeMap;

use super::collector::{Collector, Input};
use crate::error::Error;
use crate::exposition::Family;
use crate::kernel::socket::{Protocol, SockRecord};

/// No flags of its own; a field with `#[arg(long)]` here would add one.
#[derive(Debug, Default, clap::Args)]
pub struct ProcessSockets;

impl Collector for ProcessSockets {
    fn families(&self) -> Vec<String> {
        vec!["planet_process_sockets".into()]
    }

    fn collect(&mut self, input: &Input) -> Result<Vec<Family>, Error> {
        let snapshot = input.snapshot;
        let mut counts: BTreeMap<(&str, &str, Protocol, &str), u64> = BTreeMap::new();
        for socket in snapshot.sockets()? {
            // Sockets no process holds (TIME_WAIT) or that we may not see.
            let Some(owner) = snapshot.processes.owner(socket.inode) else {
                continue;
            };
            let container = snapshot.container(socket);
            let key = (&*owner.name, container, socket.protocol, state_name(socket));
            *counts.entry(key).or_default() += 1;
        }
        let mut family = Family::gauge(
            "planet_process_sockets",
            "Open TCP and UDP sockets per owning process (comm), its container, protocol and state.",
        );
        for ((process, container, protocol, state), n) in counts {
            family.push(
                [
                    ("process", process),
                    ("container", container),
                    ("protocol", protocol.as_str()),
                    ("state", state),
                ],
                n as f64,
            );
        }
        Ok(vec![family])
    }
}

fn state_name(socket: &SockRecord) -> &'static str {
    if socket.protocol == Protocol::Udp {
        return if socket.remote_port == 0 {
            "unconnected"
        } else {
            "connected"
        };
    }
    match socket.state {
        1 => "established",
        2 => "syn_sent",
        3 => "syn_recv",
        4 => "fin_wait1",
        5 => "fin_wait2",
        6 => "time_wait",
        7 => "close",
        8 => "close_wait",
        9 => "last_ack",
        10 => "listen",
        11 => "closing",
        12 => "new_syn_recv",
        _ => "unknown",
    }
}
