//! Where the graph's series come from: the `.prom` files of several hosts
//! (totals), or any server that answers the Prometheus HTTP API
//! (Prometheus, Thanos, Mimir, VictoriaMetrics), with byte and event
//! counters as rates over a window.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Dependency, Fleet};
use crate::error::Error;
use crate::exposition;
use crate::output::read::read_limited;

/// A host's page or an API answer: far below this.
const MAX_BODY: u64 = 64 << 20;
/// One query's time, fetch and parse.
const QUERY_TIMEOUT: Duration = Duration::from_secs(30);

/// One sample: which host, which family, its labels, its value.
type Sample = (String, String, BTreeMap<String, String>, f64);
/// An instant query's answer: each series' labels and value.
type Vector = Vec<(BTreeMap<String, String>, f64)>;

/// The files of several hosts. Each host is named by its
/// `planet_host_info{hostname}`; a name two files share falls back to each
/// file's own name, so no two hosts merge.
pub fn from_files(paths: &[PathBuf]) -> Result<Fleet, Error> {
    let mut pages = Vec::new();
    for path in paths {
        let data = read_limited(path, MAX_BODY)?;
        let text = String::from_utf8(data).map_err(|_| Error::config(path, "not UTF-8 text"))?;
        let page = exposition::parse(&text).map_err(|e| Error::config(path, e))?;
        let hostname = page
            .samples
            .iter()
            .find(|s| s.name == "planet_host_info")
            .and_then(|s| label(&s.labels, "hostname"))
            .unwrap_or_default()
            .to_string();
        pages.push((path, hostname, page));
    }
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, hostname, _) in &pages {
        *seen.entry(hostname.as_str()).or_default() += 1;
    }
    let mut samples = Vec::new();
    for (path, hostname, page) in &pages {
        let host = match seen.get(hostname.as_str()) {
            Some(1) if !hostname.is_empty() => hostname.clone(),
            _ => file_name(path),
        };
        for s in &page.samples {
            let labels = s.labels.iter().cloned().collect();
            samples.push((host.clone(), s.name.clone(), labels, s.value));
        }
    }
    fleet(samples, &paths_named(paths))
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

fn paths_named(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn label<'a>(labels: &'a [(String, String)], name: &str) -> Option<&'a str> {
    labels
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The families the graph reads, and how a Prometheus query gets them:
/// gauges as they are, counters as rates over the window.
const QUERIES: [(&str, bool); 10] = [
    ("planet_host_info", false),
    ("planet_address", false),
    ("planet_serving", false),
    ("planet_upstream", false),
    ("planet_downstream", false),
    ("planet_upstream_bytes_total", true),
    ("planet_downstream_bytes_total", true),
    ("planet_upstream_connect_failures_total", true),
    ("planet_upstream_retransmits_total", true),
    ("planet_downstream_retransmits_total", true),
];

/// Every instance's planet series from the Prometheus HTTP API at `url`.
/// A host is an `instance`, shown by its `planet_host_info` hostname.
pub fn from_prometheus(url: &str, window: Duration) -> Result<Fleet, Error> {
    let base = url.trim_end_matches('/');
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(QUERY_TIMEOUT))
        .max_redirects(0)
        .build()
        .into();
    let window = format!("{}s", window.as_secs().max(1));
    let mut samples = Vec::new();
    let mut hostname: BTreeMap<String, String> = BTreeMap::new();
    for (family, rate) in QUERIES {
        let query = match rate {
            true => format!("rate({family}[{window}])"),
            false => family.to_string(),
        };
        for (mut labels, value) in query_vector(&agent, base, &query)? {
            let instance = labels.remove("instance").unwrap_or_default();
            labels.remove("job");
            labels.remove("__name__");
            if family == "planet_host_info" {
                if let Some(name) = labels.get("hostname") {
                    hostname.insert(instance.clone(), name.clone());
                }
            }
            samples.push((instance, family.to_string(), labels, value));
        }
    }
    // Shown by hostname where it is one instance's alone.
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for name in hostname.values() {
        *count.entry(name).or_default() += 1;
    }
    let shown: BTreeMap<String, String> = hostname
        .iter()
        .map(|(instance, name)| match count.get(name.as_str()) {
            Some(1) => (instance.clone(), name.clone()),
            _ => (instance.clone(), instance.clone()),
        })
        .collect();
    for sample in &mut samples {
        if let Some(name) = shown.get(&sample.0) {
            sample.0 = name.clone();
        }
    }
    fleet(samples, base)
}

/// One instant query's vector: each sample's labels and value.
fn query_vector(agent: &ureq::Agent, base: &str, query: &str) -> Result<Vector, Error> {
    let url = format!("{base}/api/v1/query");
    let fail = |problem: String| Error::Remote {
        url: base.to_string(),
        problem,
    };
    let mut response = agent
        .get(&url)
        .query("query", query)
        .call()
        .map_err(|e| fail(e.to_string()))?;
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_BODY)
        .read_to_string()
        .map_err(|e| fail(e.to_string()))?;
    #[derive(serde::Deserialize)]
    struct Answer {
        status: String,
        #[serde(default)]
        error: Option<String>,
        #[serde(default)]
        data: Option<Data>,
    }
    #[derive(serde::Deserialize)]
    struct Data {
        #[serde(rename = "resultType")]
        result_type: String,
        result: Vec<Item>,
    }
    #[derive(serde::Deserialize)]
    struct Item {
        metric: BTreeMap<String, String>,
        value: (f64, String),
    }
    let answer: Answer = serde_json::from_str(&body)
        .map_err(|e| fail(format!("not a Prometheus API answer ({})", e)))?;
    if answer.status != "success" {
        let why = answer.error.unwrap_or_else(|| "an error".into());
        return Err(fail(format!("query {query}: {why}")));
    }
    let data = answer
        .data
        .ok_or_else(|| fail("an answer without data".into()))?;
    if data.result_type != "vector" {
        return Err(fail(format!(
            "query {query}: a {} answer",
            data.result_type
        )));
    }
    Ok(data
        .result
        .into_iter()
        .filter_map(|item| Some((item.metric, item.value.1.parse().ok()?)))
        .collect())
}

/// The hosts' data from their samples. `from` names where they came from,
/// for the error when there is no planet series at all.
fn fleet(samples: Vec<Sample>, from: &str) -> Result<Fleet, Error> {
    type Key = (String, String, String, String, String, String);
    let mut hosts: Fleet = BTreeMap::new();
    let mut rows: BTreeMap<(String, bool, Key), Dependency> = BTreeMap::new();
    let mut found = false;
    for (host, family, labels, value) in samples {
        let get = |name: &str| labels.get(name).cloned().unwrap_or_default();
        let data = hosts.entry(host.clone()).or_default();
        let side = match family.as_str() {
            "planet_host_info" => {
                found = true;
                continue;
            }
            "planet_address" => {
                data.addresses.push((get("addr"), get("container")));
                continue;
            }
            "planet_serving" => {
                let serving = (get("protocol"), get("container"), get("name"), get("port"));
                data.serving.push(serving);
                continue;
            }
            f if f.starts_with("planet_upstream") => false,
            f if f.starts_with("planet_downstream") => true,
            _ => continue,
        };
        found = true;
        let key = (
            get("protocol"),
            get("process"),
            get("container"),
            get("name"),
            get("addr"),
            get("port"),
        );
        let row = rows
            .entry((host, side, key.clone()))
            .or_insert_with(|| Dependency {
                protocol: key.0.clone(),
                process: key.1.clone(),
                container: key.2.clone(),
                name: key.3.clone(),
                addr: key.4.clone(),
                port: key.5.clone(),
                ..Dependency::default()
            });
        match family
            .trim_start_matches("planet_upstream")
            .trim_start_matches("planet_downstream")
        {
            "" => row.connections = value,
            "_bytes_total" => match get("direction").as_str() {
                "out" => row.bytes_out = value,
                _ => row.bytes_in = value,
            },
            "_connect_failures_total" => row.connect_failures = value,
            "_retransmits_total" => row.retransmits = value,
            _ => {}
        }
    }
    if !found {
        return Err(Error::Remote {
            url: from.to_string(),
            problem: "no planet series found".into(),
        });
    }
    for ((host, downstream, _), row) in rows {
        let data = hosts.entry(host).or_default();
        match downstream {
            false => data.upstream.push(row),
            true => data.downstream.push(row),
        }
    }
    for data in hosts.values_mut() {
        data.addresses.sort();
        data.addresses.dedup();
        data.serving.sort();
        data.serving.dedup();
    }
    Ok(hosts)
}
