//! Where the graph's series come from: the `.prom` files of several hosts
//! ([`files`], totals), or any server that answers the Prometheus HTTP API
//! ([`prometheus`]: Prometheus, Thanos, Mimir, VictoriaMetrics), with byte
//! and event counters as rates over a window. Both hand their samples, a
//! page or an answer at a time, to a [`Builder`], which reads them through
//! the schema into typed hosts.

use std::collections::{BTreeMap, HashMap};

use super::model::{Address, Dependency, Fleet, Host, Peer, Serving, Traffic};
use crate::error::Error;
use crate::schema::{self, label};

pub mod files;
pub mod http;
pub mod prometheus;

/// The families the graph reads, and whether each is a counter (read as a
/// rate from Prometheus).
pub fn families() -> [(&'static str, bool); 12] {
    [
        (schema::HOST_INFO.name, false),
        (schema::ADDRESS.name, false),
        (schema::SERVING.name, false),
        (schema::UPSTREAM.name, false),
        (schema::DOWNSTREAM.name, false),
        (schema::UPSTREAM_BYTES.name, true),
        (schema::DOWNSTREAM_BYTES.name, true),
        (schema::UPSTREAM_CONNECT_FAILURES.name, true),
        (schema::UPSTREAM_RETRANSMITS.name, true),
        (schema::DOWNSTREAM_RETRANSMITS.name, true),
        // Other exporters', for the containers' names, if the store has them.
        (KUBE_POD_CONTAINER_INFO, false),
        (CONTAINER_LAST_SEEN, false),
    ]
}

/// kube-state-metrics' family of pod containers, with their IDs.
pub const KUBE_POD_CONTAINER_INFO: &str = "kube_pod_container_info";
/// cAdvisor's family that names every container it knows (by `id`, its
/// cgroup path, and `name`).
pub const CONTAINER_LAST_SEEN: &str = "container_last_seen";

/// The 64-hex container ID in a cAdvisor `id` (a cgroup path such as
/// `/docker/<id>` or `/system.slice/docker-<id>.scope`).
fn container_in_cadvisor_id(id: &str) -> Option<&str> {
    let last = id.rsplit('/').next()?;
    let last = last.strip_suffix(".scope").unwrap_or(last);
    let id = last.rsplit('-').next()?;
    (id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())).then_some(id)
}

/// Names for things (hosts) by what they call themselves, where that is
/// theirs alone; the others keep their `fallback` (a file, an instance).
pub fn unique_names(names: &[(String, String)]) -> Vec<String> {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (name, _) in names {
        *seen.entry(name.as_str()).or_default() += 1;
    }
    names
        .iter()
        .map(|(name, fallback)| match seen.get(name.as_str()) {
            Some(1) if !name.is_empty() => name.clone(),
            _ => fallback.clone(),
        })
        .collect()
}

/// Which side a dependency family is on, and what it counts.
enum Reading {
    Open,
    Bytes,
    Failures,
    Retransmits,
}

fn dependency_family(name: &str) -> Option<(bool, Reading)> {
    let found = [
        (&schema::UPSTREAM, false, Reading::Open),
        (&schema::DOWNSTREAM, true, Reading::Open),
        (&schema::UPSTREAM_CONNECT_FAILURES, false, Reading::Failures),
        (&schema::UPSTREAM_RETRANSMITS, false, Reading::Retransmits),
        (&schema::DOWNSTREAM_RETRANSMITS, true, Reading::Retransmits),
    ]
    .into_iter()
    .find(|(spec, _, _)| spec.name == name)
    .map(|(_, downstream, reading)| (downstream, reading));
    found.or_else(|| match name {
        n if n == schema::UPSTREAM_BYTES.name => Some((false, Reading::Bytes)),
        n if n == schema::DOWNSTREAM_BYTES.name => Some((true, Reading::Bytes)),
        _ => None,
    })
}

/// A dependency series' identity on one host, by its labels: host,
/// side, then protocol, process, container, name, addr, port, each as
/// `<length>:<text>` in one string. Looked up from a reused buffer, a
/// sample of a row already seen costs no allocation (seven strings a
/// sample were a fifth of a 150,000-edge graph's time).
struct RowKey;

impl RowKey {
    const PARTS: usize = 8;

    fn write(key: &mut String, parts: [&str; Self::PARTS]) {
        use std::fmt::Write as _;
        key.clear();
        for part in parts {
            let _ = write!(key, "{}:{part}", part.len());
        }
    }

    fn read(key: &str) -> Option<[String; Self::PARTS]> {
        let mut parts: [String; Self::PARTS] = Default::default();
        let mut rest = key;
        for part in &mut parts {
            let (len, tail) = rest.split_once(':')?;
            let len: usize = len.parse().ok()?;
            *part = tail.get(..len)?.to_string();
            rest = tail.get(len..)?;
        }
        Some(parts)
    }
}

/// The fleet, built a sample at a time, so that a reader may drop each
/// page or answer as soon as it is added (150,000 edges' pages held at
/// once, with a label map per sample, took a run past 1 GiB).
#[derive(Default)]
pub struct Builder {
    hosts: BTreeMap<String, Host>,
    /// By [`RowKey`].
    rows: HashMap<String, Traffic>,
    key: String,
    found: bool,
    /// Container ID -> `<namespace>/<pod>/<container>`.
    from_kubernetes: BTreeMap<String, String>,
    /// Container ID -> cAdvisor's `name`.
    from_cadvisor: BTreeMap<String, String>,
}

impl Builder {
    /// Adds one sample of `host`'s: its family, a look-up of its labels by
    /// name, its value. Families the graph does not read are passed over.
    pub fn add<'a>(
        &mut self,
        host: &str,
        family: &str,
        label: impl Fn(&str) -> Option<&'a str>,
        value: f64,
    ) {
        let get = |l: schema::Label| label(l.name).unwrap_or_default().to_string();
        if family == KUBE_POD_CONTAINER_INFO {
            let id = label("container_id").and_then(|id| id.split_once("://"));
            let (namespace, pod, container) =
                (label("namespace"), label("pod"), label("container"));
            if let (Some((_, id)), Some(namespace), Some(pod), Some(container)) =
                (id, namespace, pod, container)
            {
                let title = format!("{namespace}/{pod}/{container}");
                self.from_kubernetes.insert(id.to_string(), title);
            }
            return;
        }
        if family == CONTAINER_LAST_SEEN {
            let id = label("id").and_then(container_in_cadvisor_id);
            if let (Some(id), Some(name)) = (id, label("name").filter(|n| !n.is_empty())) {
                self.from_cadvisor.insert(id.to_string(), name.to_string());
            }
            return;
        }
        if family == schema::HOST_INFO.name {
            self.found = true;
            self.hosts.entry(host.to_string()).or_default();
            return;
        }
        if family == schema::ADDRESS.name {
            self.host(host).addresses.push(Address {
                addr: get(label::ADDR),
                container: get(label::CONTAINER),
            });
            return;
        }
        if family == schema::SERVING.name {
            self.host(host).serving.push(Serving {
                protocol: get(label::PROTOCOL),
                container: get(label::CONTAINER),
                process: get(label::NAME),
                port: get(label::PORT),
            });
            return;
        }
        let Some((downstream, reading)) = dependency_family(family) else {
            return;
        };
        self.found = true;
        let get = |l: schema::Label| label(l.name).unwrap_or_default();
        let side = if downstream { "down" } else { "up" };
        let parts = [
            host,
            side,
            get(label::PROTOCOL),
            get(label::PROCESS),
            get(label::CONTAINER),
            get(label::NAME),
            get(label::ADDR),
            get(label::PORT),
        ];
        RowKey::write(&mut self.key, parts);
        if !self.rows.contains_key(&self.key) {
            self.rows.insert(self.key.clone(), Traffic::default());
        }
        let Some(traffic) = self.rows.get_mut(&self.key) else {
            return;
        };
        match reading {
            Reading::Open => traffic.open = value,
            Reading::Bytes => match label(label::DIRECTION.name) {
                Some("out") => traffic.bytes_out = value,
                _ => traffic.bytes_in = value,
            },
            Reading::Failures => traffic.connect_failures = value,
            Reading::Retransmits => traffic.retransmits = value,
        }
    }

    fn host(&mut self, name: &str) -> &mut Host {
        self.hosts.entry(name.to_string()).or_default()
    }

    /// The fleet, each host under its name in `names` (else the one it was
    /// added under); an error naming `looked_in` if no planet series came.
    pub fn finish(self, names: &BTreeMap<String, String>, looked_in: &str) -> Result<Fleet, Error> {
        if !self.found {
            return Err(Error::NoSeries {
                looked_in: looked_in.to_string(),
            });
        }
        let name = |host: String| names.get(&host).cloned().unwrap_or(host);
        let mut hosts: BTreeMap<String, Host> = BTreeMap::new();
        for (host, data) in self.hosts {
            hosts.insert(name(host), data);
        }
        for (key, traffic) in self.rows {
            let Some([host, side, protocol, process, container, peer, addr, port]) =
                RowKey::read(&key)
            else {
                continue;
            };
            let row = Dependency {
                protocol,
                process,
                container,
                peer: Peer { name: peer, addr },
                port,
                traffic,
            };
            let host = hosts.entry(name(host)).or_default();
            match side.as_str() {
                "down" => host.downstream.push(row),
                _ => host.upstream.push(row),
            }
        }
        for host in hosts.values_mut() {
            host.addresses.sort();
            host.addresses.dedup();
            host.serving.sort();
            host.serving.dedup();
            // The map gave them in no order: by their labels, for the same
            // graph every time.
            let order = |d: &Dependency| {
                (
                    d.protocol.clone(),
                    d.process.clone(),
                    d.container.clone(),
                    d.peer.clone(),
                    d.port.clone(),
                )
            };
            host.upstream.sort_by_cached_key(order);
            host.downstream.sort_by_cached_key(order);
        }
        // kube-state-metrics' names first: they say namespace and pod too.
        let mut workloads = self.from_cadvisor;
        workloads.extend(self.from_kubernetes);
        Ok(Fleet { hosts, workloads })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parts that hold the separator, digits or nothing come back as they were.
    #[test]
    fn a_row_key_reads_back_its_parts() {
        let parts = ["h:1", "up", "", "12:3", "::1", "a\u{0}b", "é", "80"];
        let mut key = String::new();
        RowKey::write(&mut key, parts);
        assert_eq!(RowKey::read(&key), Some(parts.map(String::from)));
        assert_eq!(RowKey::read("3:abc"), None);
    }

    #[test]
    fn cadvisor_ids_give_the_container_id() {
        let id = "3f1e4b2a9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f";
        for path in [
            format!("/docker/{id}"),
            format!("/system.slice/docker-{id}.scope"),
            format!("/kubepods.slice/kubepods-pod1.slice/cri-containerd-{id}.scope"),
        ] {
            assert_eq!(container_in_cadvisor_id(&path), Some(id), "{path}");
        }
        for path in [
            "/",
            "/system.slice",
            "/docker",
            "/user.slice/user-1000.slice",
        ] {
            assert_eq!(container_in_cadvisor_id(path), None, "{path}");
        }
    }

    /// kube-state-metrics' name wins over cAdvisor's; a container not
    /// started yet (no ID) names nothing.
    #[test]
    fn workloads_are_named_by_kubernetes_then_cadvisor() {
        let (a, b) = ("a".repeat(64), "b".repeat(64));
        let mut builder = Builder::default();
        let add = |builder: &mut Builder, family: &str, labels: &[(&str, &str)]| {
            let labels: BTreeMap<&str, &str> = labels.iter().copied().collect();
            builder.add("ksm", family, |l| labels.get(l).copied(), 1.0);
        };
        let ksm = format!("containerd://{a}");
        add(
            &mut builder,
            KUBE_POD_CONTAINER_INFO,
            &[
                ("namespace", "shop"),
                ("pod", "cart-7d9f"),
                ("container", "cart"),
                ("container_id", &ksm),
            ],
        );
        add(
            &mut builder,
            KUBE_POD_CONTAINER_INFO,
            &[
                ("namespace", "shop"),
                ("pod", "new-1"),
                ("container", "new"),
                ("container_id", ""),
            ],
        );
        let docker_a = format!("/docker/{a}");
        let docker_b = format!("/docker/{b}");
        add(
            &mut builder,
            CONTAINER_LAST_SEEN,
            &[("id", &docker_a), ("name", "k8s_cart")],
        );
        add(
            &mut builder,
            CONTAINER_LAST_SEEN,
            &[("id", &docker_b), ("name", "billing")],
        );
        add(
            &mut builder,
            CONTAINER_LAST_SEEN,
            &[("id", "/"), ("name", "")],
        );
        add(&mut builder, schema::HOST_INFO.name, &[("hostname", "h")]);
        let fleet = builder.finish(&BTreeMap::new(), "test").unwrap();
        assert_eq!(
            fleet.workloads,
            BTreeMap::from([
                (a, "shop/cart-7d9f/cart".to_string()),
                (b, "billing".to_string())
            ])
        );
    }
}
