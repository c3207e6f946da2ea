//! Open sockets per process, protocol and state: which process holds how
//! many connections, and in what state (a leak of CLOSE_WAIT, say).
//!
//! This is also the worked example of a collector: one file, one line in
//! the registry, a test of its own.

use std::collections::BTreeMap;

use super::collector::{Collector, Input};
use crate::error::Error;
use crate::exposition::Family;
use crate::kernel::socket::{state, Protocol, SockRecord};
use crate::schema::{Declared, PROCESS_SOCKETS};

/// No flags of its own; a field with `#[arg(long)]` here would add one.
#[derive(Debug, Default, clap::Args)]
pub struct ProcessSockets;

impl Collector for ProcessSockets {
    fn families(&self) -> Vec<Declared> {
        vec![PROCESS_SOCKETS.declared()]
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
        let mut family = PROCESS_SOCKETS.family();
        for ((process, container, protocol, state), n) in counts {
            family.push([process, container, protocol.as_str(), state], n as f64);
        }
        Ok(vec![family.done()])
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
    state::name(socket.state)
}
