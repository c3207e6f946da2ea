//! `planet graph` titles containers by the names their operators know,
//! when the store also holds kube-state-metrics' and cAdvisor's series: a
//! real Prometheus scrapes two node_exporters, whose textfile directories
//! hold each host's planet series and, beside them, series shaped as
//! kube-state-metrics and cAdvisor write them.

use std::collections::BTreeMap;
use std::path::Path;

use planet::schema;
use serde_json::Value;

use crate::graph::graph;
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

/// A node_exporter on a loopback port serving `page` from a textfile
/// directory of its own in `dir`: its address.
fn exporter(program: &Path, dir: &Path, name: &str, page: &str, running: &mut Running) -> String {
    let textfile = dir.join(name);
    std::fs::create_dir(&textfile).unwrap();
    write_file(&textfile, "planet.prom", page.as_bytes());
    let listen = format!("127.0.0.1:{}", free_port());
    running.start(&mut textfile_exporter(program, &textfile, &listen));
    listen
}

/// A container is titled by its workload: kube-state-metrics'
/// `<namespace>/<pod>/<container>` for the ID it lists, else cAdvisor's
/// name (a container kube-state-metrics lists without an ID, and cAdvisor's
/// root cgroup, title nothing); the node id keeps the container ID.
#[test]
fn containers_are_titled_by_their_workloads() {
    let Some(node_exporter) = tool("prometheus-node-exporter", "prometheus-node-exporter") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut exporters = Running::default();
    let a = exporter(&node_exporter, dir.path(), "a", &host_a(), &mut exporters);
    let b = exporter(&node_exporter, dir.path(), "b", &host_b(), &mut exporters);
    let Some(prometheus) = Prometheus::scraping(&[a, b]) else {
        return;
    };
    let scraped = prometheus.wait_until("container_last_seen", |page| page.contains("billing"))
        && prometheus.wait_until(schema::HOST_INFO.name, |page| {
            page.matches("\"hostname\"").count() == 2
        });
    assert!(scraped, "Prometheus did not scrape both hosts");

    let drawn = graph(&["--prometheus", &prometheus.url()]);
    let graph: Value = serde_json::from_slice(&drawn).unwrap();
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
