//! Any server that answers the Prometheus HTTP API's instant queries:
//! gauges as they are, counters as rates over a window. A host is an
//! `instance`, shown by its `planet_host_info` hostname.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::http::Client;
use super::{families, unique_names, Builder};
use crate::error::Error;
use crate::graph::model::Fleet;
use crate::schema::{label, HOST_INFO};

/// An API answer: far below this.
const MAX_BODY: u64 = 64 << 20;
/// One query's time, fetch and parse.
const QUERY_TIMEOUT: Duration = Duration::from_secs(30);

/// An instant query's answer: each series' labels and value.
type Vector = Vec<(BTreeMap<String, String>, f64)>;

/// A store that answers the Prometheus HTTP API, and what it takes to
/// reach it.
#[derive(Debug, Clone, Default)]
pub struct Store {
    /// http:// or https://, a path prefix kept; user:password@ in it
    /// authenticates.
    pub url: String,
    /// More CA certificates (PEM) to trust besides the system's.
    pub ca_file: Option<PathBuf>,
    /// A token for `Authorization: Bearer`.
    pub bearer_token_file: Option<PathBuf>,
    /// `user:password` for HTTP basic authentication.
    pub basic_auth_file: Option<PathBuf>,
    /// Sent with every query.
    pub headers: Vec<(String, String)>,
}

/// Every instance's planet series from the store, rates over `window`,
/// evaluated at `at`.
pub fn from_prometheus(store: &Store, window: Duration, at: SystemTime) -> Result<Fleet, Error> {
    let client = Client::new(store, QUERY_TIMEOUT, MAX_BODY)?;
    let time = at
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
        .to_string();
    let window = format!("{}s", window.as_secs().max(1));
    // Each answer is added as it comes and dropped: 150,000 edges' answers
    // held together, a label map per sample, would take gigabytes.
    let mut builder = Builder::default();
    let mut hostnames: BTreeMap<String, String> = BTreeMap::new();
    for (family, rate) in families() {
        let query = match rate {
            true => format!("rate({family}[{window}])"),
            false => family.to_string(),
        };
        for (labels, value) in query_vector(&client, &query, &time)? {
            let instance = labels.get("instance").cloned().unwrap_or_default();
            if family == HOST_INFO.name {
                if let Some(name) = labels.get(label::HOSTNAME.name) {
                    hostnames.insert(instance.clone(), name.clone());
                }
            }
            builder.add(
                &instance,
                family,
                |l| labels.get(l).map(String::as_str),
                value,
            );
        }
    }
    // Shown by hostname where it is one instance's alone.
    let names: Vec<(String, String)> = (hostnames.iter())
        .map(|(instance, hostname)| (hostname.clone(), instance.clone()))
        .collect();
    let shown: BTreeMap<String, String> = hostnames
        .keys()
        .cloned()
        .zip(unique_names(&names))
        .collect();
    builder.finish(&shown, client.shown())
}

/// One instant query's vector: each sample's labels and value.
fn query_vector(client: &Client, query: &str, time: &str) -> Result<Vector, Error> {
    let fail = |problem: String| client.fail(problem);
    let body = client.get("/api/v1/query", &[("query", query), ("time", time)])?;
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
