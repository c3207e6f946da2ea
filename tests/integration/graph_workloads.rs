//! `planet graph` titles containers by the names their operators know,
//! when the store also holds kube-state-metrics' and cAdvisor's series: a
//! real Prometheus scrapes two node_exporters, whose textfile directories
//! hold each host's planet series and, beside them, series shaped as
//! kube-state-metrics and cAdvisor write them.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use planet::schema;
use serde_json::Value;

use crate::testenv::*;

const CART: &str = "c2e76045b1a94e0f8d7c6b5a493827160f4e3d2c1b0a99887766554433221100";
const BILLING: &str = "9a8b7c6d5e4f30211203f4e5d6c7b8a99a8b7c6d5e4f30211203f4e5d6c7b8a9";

/// Host `a`: the cart container calls billing on host `b`; and
/// kube-state-metrics' view of the cluster (one container not started yet,
/// so without an ID).
fn host_a() -> String {
    format!(
        "{host}{{hostname=\"a\"}} 1\n\
         {address}{{addr=\"192.0.2.21\",container=\"{CART}\"}} 1\n\
         {up}{{protocol=\"tcp\",process=\"cart\",container=\"{CART}\",name=\"192.0.2.22\",domain=\"\",addr=\"192.0.2.22\",port=\"8443\"}} 3\n\
         kube_pod_container_info{{namespace=\"shop\",pod=\"cart-7d9f\",container=\"cart\",container_id=\"containerd://{CART}\",image=\"cart:1\"}} 1\n\
         kube_pod_container_info{{namespace=\"shop\",pod=\"late-1\",container=\"late\",container_id=\"\",image=\"late:1\"}} 1\n",
        host = schema::HOST_INFO.name,
        address = schema::ADDRESS.name,
        up = schema::UPSTREAM.name,
    )
}

/// Host `b`: billing serves, in a Docker container cAdvisor names; and the
/// root cgroup, which cAdvisor lists without a name.
fn host_b() -> String {
    format!(
        "{host}{{hostname=\"b\"}} 1\n\
         {address}{{addr=\"192.0.2.22\",container=\"{BILLING}\"}} 1\n\
         {serving}{{protocol=\"tcp\",name=\"billing-api\",container=\"{BILLING}\",addr=\"0.0.0.0\",port=\"8443\"}} 1\n\
         container_last_seen{{id=\"/system.slice/docker-{BILLING}.scope\",name=\"billing\",image=\"billing:2\"}} 1.7e+09\n\
         container_last_seen{{id=\"/\",name=\"\",image=\"\"}} 1.7e+09\n",
        host = schema::HOST_INFO.name,
        address = schema::ADDRESS.name,
        serving = schema::SERVING.name,
    )
}

/// Processes killed when the test ends, however it ends.
struct Running(Vec<Child>);

impl Drop for Running {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> u16 {
    port_of(TcpListener::bind("127.0.0.1:0").unwrap().local_addr())
}

/// A node_exporter serving `page` from a textfile directory of its own in
/// `dir`, on a loopback port: that port.
fn exporter(exporter: &Path, dir: &Path, name: &str, page: &str, running: &mut Running) -> u16 {
    let textfile = dir.join(name);
    std::fs::create_dir(&textfile).unwrap();
    write_file(&textfile, "planet.prom", page.as_bytes());
    let port = free_port();
    let child = Command::new(exporter)
        .args(["--collector.disable-defaults", "--collector.textfile"])
        .arg(format!(
            "--collector.textfile.directory={}",
            textfile.display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    running.0.push(child);
    port
}

#[test]
fn containers_are_titled_by_their_workloads() {
    let (Some(prometheus), Some(node_exporter)) = (
        tool("prometheus", "prometheus"),
        tool("prometheus-node-exporter", "prometheus-node-exporter"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut running = Running(Vec::new());
    let a = exporter(&node_exporter, dir.path(), "a", &host_a(), &mut running);
    let b = exporter(&node_exporter, dir.path(), "b", &host_b(), &mut running);
    let config = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ['127.0.0.1:{a}', '127.0.0.1:{b}']\n"
    );
    let config = write_file(dir.path(), "prometheus.yml", config.as_bytes());
    let port = free_port();
    let server = Command::new(prometheus)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    running.0.push(server);
    let scraped = wait_for(Duration::from_secs(60), || {
        let page = http_get(port, "/api/v1/query?query=container_last_seen").unwrap_or_default();
        let hosts = http_get(port, "/api/v1/query?query=planet_host_info").unwrap_or_default();
        page.contains("billing") && hosts.matches("\"hostname\"").count() == 2
    });
    assert!(scraped, "Prometheus did not scrape both hosts");

    let url = format!("http://127.0.0.1:{port}");
    let output = planet(["graph", "--prometheus", &url]).output().unwrap();
    assert_success(&output);
    let graph: Value = serde_json::from_slice(&output.stdout).unwrap();
    let titles: BTreeMap<&str, (&str, &str)> = graph["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let workload = n["detail__workload"].as_str().unwrap_or("");
            (
                n["id"].as_str().unwrap(),
                (n["title"].as_str().unwrap(), workload),
            )
        })
        .collect();
    let cart = format!("svc:a/{CART}/cart");
    let billing = format!("svc:b/{BILLING}/billing-api");
    assert_eq!(
        titles,
        BTreeMap::from([
            (
                cart.as_str(),
                ("shop/cart-7d9f/cart", "shop/cart-7d9f/cart")
            ),
            (billing.as_str(), ("billing", "billing")),
        ])
    );
    let edge = &graph["edges"][0];
    assert_eq!(edge["id"], format!("{cart}->{billing}:8443"));
    assert_eq!(
        graph["nodes"][0]["detail__container"]
            .as_str()
            .map(str::len),
        Some(64),
        "the id stays"
    );
}
