//! What this host serves: TCP listeners and UDP servers, one series per
//! (protocol, process name, bind address, port).

use std::collections::BTreeMap;

use super::collector::{Collector, Input};
use crate::error::Error;
use crate::exposition::Family;
use crate::kernel::socket::Protocol;
use crate::schema::{self, Declared};

#[derive(Debug, Default, clap::Args)]
pub struct Serving;

#[derive(Default)]
struct Backlog {
    current: u64,
    max: u64,
}

impl Collector for Serving {
    fn families(&self) -> Vec<Declared> {
        [
            &schema::SERVING,
            &schema::SERVING_BACKLOG,
            &schema::SERVING_BACKLOG_MAX,
        ]
        .map(|spec| spec.declared())
        .to_vec()
    }

    fn collect(&mut self, input: &Input) -> Result<Vec<Family>, Error> {
        let snapshot = input.snapshot;
        // Keyed by the label values, so that forked workers sharing a socket
        // and SO_REUSEPORT groups merge into one series.
        let mut series: BTreeMap<(Protocol, &str, &str, String, u16), Backlog> = BTreeMap::new();
        for socket in snapshot.sockets()? {
            if !snapshot.serves(socket) {
                continue;
            }
            let key = (
                socket.protocol,
                snapshot.processes.name(socket.inode),
                snapshot.container(socket),
                socket.local_addr.to_string(),
                socket.local_port,
            );
            let backlog = series.entry(key).or_default();
            backlog.current = backlog.current.saturating_add(socket.recv_queue.into());
            backlog.max = backlog.max.saturating_add(socket.send_queue.into());
        }

        let mut serving = schema::SERVING.family();
        let mut current = schema::SERVING_BACKLOG.family();
        let mut max = schema::SERVING_BACKLOG_MAX.family();
        for ((protocol, name, container, addr, port), backlog) in &series {
            let port = port.to_string();
            let labels = [protocol.as_str(), name, container, addr.as_str(), port.as_str()];
            serving.push(labels, 1.0);
            if *protocol == Protocol::Tcp {
                current.push(labels, backlog.current as f64);
                max.push(labels, backlog.max as f64);
            }
        }
        Ok(vec![serving.done(), current.done(), max.done()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::render;
    use crate::kernel::socket::{state, SockRecord};
    use crate::snapshot::Snapshot;

    fn socket(
        protocol: Protocol,
        state: u8,
        local: &str,
        port: u16,
        remote_port: u16,
    ) -> SockRecord {
        SockRecord {
            protocol,
            state,
            local_addr: local.parse().unwrap(),
            local_port: port,
            remote_addr: "0.0.0.0".parse().unwrap(),
            remote_port,
            cookie: 0,
            inode: 0,
            uid: 0,
            netns: 0,
            recv_queue: 2,
            send_queue: 128,
            tcp: None,
        }
    }

    #[test]
    fn reuseport_groups_merge_and_clients_are_not_servers() {
        let snapshot = Snapshot::of(vec![
            socket(Protocol::Tcp, state::LISTEN, "::", 80, 0),
            socket(Protocol::Tcp, state::LISTEN, "::", 80, 0),
            socket(Protocol::Tcp, state::ESTABLISHED, "10.0.0.1", 80, 5555),
            socket(Protocol::Udp, state::CLOSE, "127.0.0.1", 53, 0),
            socket(Protocol::Udp, state::CLOSE, "0.0.0.0", 40000, 0),
            socket(Protocol::Udp, state::ESTABLISHED, "0.0.0.0", 54, 53),
        ]);
        let input = Input {
            snapshot: &snapshot,
            accounted: None,
        };
        let mut families = Serving.collect(&input).unwrap();
        assert_eq!(
            render(&mut families),
            "\
# HELP planet_serving A service this host offers: a listening TCP socket or a bound UDP socket outside the ephemeral port range.
# TYPE planet_serving gauge
planet_serving{protocol=\"tcp\",name=\"\",container=\"\",addr=\"::\",port=\"80\"} 1
planet_serving{protocol=\"udp\",name=\"\",container=\"\",addr=\"127.0.0.1\",port=\"53\"} 1
# HELP planet_serving_backlog Connections waiting in the accept queue (ss -lt Recv-Q), summed over the sockets of the series.
# TYPE planet_serving_backlog gauge
planet_serving_backlog{protocol=\"tcp\",name=\"\",container=\"\",addr=\"::\",port=\"80\"} 4
# HELP planet_serving_backlog_max Maximum accept queue (ss -lt Send-Q), summed over the sockets of the series.
# TYPE planet_serving_backlog_max gauge
planet_serving_backlog_max{protocol=\"tcp\",name=\"\",container=\"\",addr=\"::\",port=\"80\"} 256
"
        );
    }
}
