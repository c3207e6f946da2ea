//! `cargo test --release --lib html::scale -- --ignored --nocapture`: the
//! page of a fleet of 200 hosts, 4,000 services and 150,000 edges (and of
//! 5,000 edges), timed, with the process's peak RSS; no assertion on either.

use super::*;
use crate::graph::model::{Node, Service, Traffic};

fn fleet(hosts: usize, calls: usize) -> Graph {
    let svc = |h: usize, p: String| {
        let kind = NodeKind::Service(Service {
            host: format!("h{h:03}"),
            container: String::new(),
            process: p,
        });
        Node {
            id: kind.id(),
            kind,
            change: None,
            workload: None,
        }
    };
    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    for h in 0..hosts {
        for s in 0..10 {
            nodes.push(svc(h, format!("srv{s}")));
            nodes.push(svc(h, format!("cli{s}")));
        }
    }
    for h in 0..hosts {
        for c in 0..10 {
            for j in 0..calls {
                let k = c * calls + j;
                let (t, s) = ((h + 1 + k / 10) % hosts, k % 10);
                let (source, target) = (svc(h, format!("cli{c}")).id, svc(t, format!("srv{s}")).id);
                edges.push(Edge {
                    id: format!("{source}->{target}:{}", 8000 + s),
                    source,
                    target,
                    port: (8000 + s).to_string(),
                    traffic: Traffic {
                        open: 2.0,
                        bytes_out: 1000.0 * j as f64,
                        bytes_in: 9000.0 * j as f64,
                        connect_failures: (j % 7 == 0) as u8 as f64 * 3.0,
                        retransmits: (j % 5) as f64,
                    },
                    change: None,
                });
            }
        }
    }
    nodes.sort_by(|a, b| a.id.cmp(&b.id));
    edges.sort_by(|a, b| a.id.cmp(&b.id));
    Graph {
        nodes,
        edges,
        grouped: false,
    }
}

fn peak_rss_kib() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    (status.lines())
        .find(|l| l.starts_with("VmHWM"))
        .unwrap_or("")
        .to_string()
}

#[test]
#[ignore]
fn scale() {
    for (hosts, calls) in [(50, 10), (200, 75)] {
        let graph = fleet(hosts, calls);
        let before = peak_rss_kib();
        let start = std::time::Instant::now();
        let page = render(&graph, Units::Totals);
        eprintln!(
            "{} nodes, {} edges: {:?}, {} bytes; peak RSS before {before}, after {}",
            graph.nodes.len(),
            graph.edges.len(),
            start.elapsed(),
            page.len(),
            peak_rss_kib()
        );
    }
}
