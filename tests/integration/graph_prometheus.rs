//! `planet graph --prometheus`: the graph test's fleet (see `graph.rs`)
//! through a real Prometheus, which scrapes a node_exporter per planet
//! host. The graph is the one the hosts' files give.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use planet::schema;

use crate::graph::{fleet, graph, host_file};
use crate::testenv::containers::Bridge;
use crate::testenv::*;

/// The node ids and (edge id, connections) of a JSON graph.
fn shape(json: &serde_json::Value) -> (Vec<String>, Vec<(String, f64)>) {
    let nodes = json["nodes"].as_array().unwrap();
    let edges = json["edges"].as_array().unwrap();
    (
        nodes
            .iter()
            .map(|n| n["id"].as_str().unwrap().to_string())
            .collect(),
        edges
            .iter()
            .map(|e| {
                let id = e["id"].as_str().unwrap().to_string();
                (id, e["detail__connections"].as_f64().unwrap())
            })
            .collect(),
    )
}

/// Children killed when the test ends, however it ends.
struct Running(Vec<Child>);

impl Running {
    /// Starts `command`, its output discarded, until the test ends.
    fn start(&mut self, command: &mut Command) {
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.0.push(child);
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The same fleet through a real Prometheus: a node_exporter per planet
/// host (in its namespace, on its address) serves the host's file, and a
/// Prometheus on loopback scrapes them every second. The graph has the
/// same nodes and edges, with the same connection counts, as from the
/// files (its byte rates are 0: the files do not change).
#[test]
fn prometheus_gives_the_same_graph_as_the_files() {
    let (Some(prometheus), Some(exporter)) = (
        tool("prometheus", "prometheus"),
        tool("prometheus-node-exporter", "prometheus-node-exporter"),
    ) else {
        return;
    };
    in_own_netns(move || {
        let Some(bridge) = fleet() else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let mut running = Running(Vec::new());
        let (files, targets) = exporters_of_the_hosts(&bridge, &exporter, dir.path(), &mut running);
        let port = prometheus_scraping(&prometheus, &targets, dir.path(), &mut running);
        let url = format!("http://127.0.0.1:{port}");
        let scraped = wait_for(Duration::from_secs(60), || {
            let query = format!("/api/v1/query?query={}", schema::HOST_INFO.name);
            let page = http_get(port, &query).unwrap_or_default();
            page.matches("\"hostname\"").count() == 3
        });
        assert!(scraped, "Prometheus did not scrape the three hosts");

        let from_prometheus = graph(&["--prometheus", &url, "--window", "1m"]);
        let mut args = vec!["--files"];
        args.extend(files.iter().map(|p| p.to_str().unwrap()));
        let from_files = graph(&args);
        let json = |bytes: &[u8]| serde_json::from_slice::<serde_json::Value>(bytes).unwrap();
        let (nodes, edges) = shape(&json(&from_prometheus));
        assert_eq!((nodes.clone(), edges.clone()), shape(&json(&from_files)));
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
/// of its own under `dir`: the files, and the exporters as Prometheus
/// targets.
fn exporters_of_the_hosts(
    bridge: &Bridge,
    exporter: &Path,
    dir: &Path,
    running: &mut Running,
) -> (Vec<PathBuf>, Vec<String>) {
    let mut files = Vec::new();
    let mut targets = Vec::new();
    for (i, name) in ["db", "app", "client"].iter().enumerate() {
        let host = &bridge.containers[i];
        let textfile = dir.join(name);
        std::fs::create_dir(&textfile).unwrap();
        files.push(host_file(host, name, &textfile));
        std::fs::rename(
            textfile.join(format!("{name}.prom")),
            textfile.join("planet.prom"),
        )
        .unwrap();
        files[i] = textfile.join("planet.prom");
        let listen = format!("{}:9100", host.v4);
        running.start(
            Command::new(which("ip").unwrap())
                .args(["netns", "exec", &host.netns])
                .arg(exporter)
                .args(["--collector.disable-defaults", "--collector.textfile"])
                .arg(format!(
                    "--collector.textfile.directory={}",
                    textfile.display()
                ))
                .arg(format!("--web.listen-address={listen}")),
        );
        targets.push(format!("'{listen}'"));
    }
    (files, targets)
}

/// A Prometheus on loopback scraping `targets` every second, its data
/// under `dir`: its port.
fn prometheus_scraping(
    prometheus: &Path,
    targets: &[String],
    dir: &Path,
    running: &mut Running,
) -> u16 {
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: planet\n    static_configs:\n      - targets: [{}]\n",
            targets.join(", ")
        ),
    )
    .unwrap();
    let port = port_of(TcpListener::bind("127.0.0.1:0").unwrap().local_addr());
    running.start(
        Command::new(prometheus)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}")),
    );
    port
}
