//! `planet graph --prometheus`: the graph test's fleet (see `graph.rs`)
//! through a real Prometheus, which scrapes a node_exporter per planet
//! host. The graph is the one the hosts' files give.

use std::path::{Path, PathBuf};

use planet::schema;

use crate::graph::{fleet, graph, host_file, shape};
use crate::testenv::containers::Bridge;
use crate::testenv::*;

/// The same fleet through a real Prometheus: a node_exporter per planet
/// host (in its namespace, on its address) serves the host's file, and a
/// Prometheus on loopback scrapes them every second. The graph has the
/// same nodes and edges, with the same connection counts, as from the
/// files (its byte rates are 0: the files do not change).
#[test]
fn prometheus_gives_the_same_graph_as_the_files() {
    let Some(exporter) = tool("prometheus-node-exporter", "prometheus-node-exporter") else {
        return;
    };
    in_own_netns(move || {
        let Some(bridge) = fleet() else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let mut exporters = Running::default();
        let (files, targets) =
            exporters_of_the_hosts(&bridge, &exporter, dir.path(), &mut exporters);
        let Some(prometheus) = Prometheus::scraping(&targets) else {
            return;
        };
        let url = prometheus.url();
        let scraped = prometheus.wait_until(schema::HOST_INFO.name, |page| {
            page.matches("\"hostname\"").count() == 3
        });
        assert!(scraped, "Prometheus did not scrape the three hosts");

        let from_prometheus = graph(&["--prometheus", &url, "--window", "1m"]);
        let mut args = vec!["--files"];
        args.extend(files.iter().map(|p| p.to_str().unwrap()));
        let from_files = graph(&args);
        let (nodes, edges) = shape(&from_prometheus);
        assert_eq!((nodes.clone(), edges.clone()), shape(&from_files));
        assert_eq!(nodes.len(), 4, "{nodes:?}");
        assert_eq!(
            edges.iter().map(|(_, n)| *n).collect::<Vec<_>>(),
            [1.0, 1.0, 1.0],
            "{edges:?}"
        );
        assert_eq!(
            graph(&["--prometheus", &url, "--window", "1m"]),
            from_prometheus,
            "the same bytes again"
        );
    });
}

/// A node_exporter per planet host, in the host's namespace on its
/// address, port 9100, serving the host's file from a textfile directory
/// of its own under `dir`: the files, and the exporters' addresses.
fn exporters_of_the_hosts(
    bridge: &Bridge,
    exporter: &Path,
    dir: &Path,
    running: &mut Running,
) -> (Vec<PathBuf>, Vec<String>) {
    let mut files = Vec::new();
    let mut targets = Vec::new();
    for (host, name) in bridge.containers.iter().zip(["db", "app", "client"]) {
        let textfile = dir.join(name);
        std::fs::create_dir(&textfile).unwrap();
        let file = textfile.join("planet.prom");
        std::fs::rename(host_file(host, name, &textfile), &file).unwrap();
        files.push(file);
        let listen = format!("{}:9100", host.v4);
        host.inside(|| running.start(&mut textfile_exporter(exporter, &textfile, &listen)));
        targets.push(listen);
    }
    (files, targets)
}
