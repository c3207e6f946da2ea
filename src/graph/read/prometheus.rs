//! Any server that answers the Prometheus HTTP API's instant queries:
//! gauges as they are, counters as rates over a window. A host is an
//! `instance`, shown by its `planet_host_info` hostname.
//!
//! At 150,000 edges the answers are 350 MB of JSON (1.3 million series),
//! and Prometheus spends 8 s writing them one query after another on two
//! cores. So the queries run a few at a time, each answer is parsed as it
//! arrives and handed over a sample at a time (never held whole), and the
//! server's view of a client that runs planet, which the join drops, is
//! left out by the query itself (`unless on (addr) planet_address`): 45% of
//! the bytes.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::http::{BodyError, Client};
use super::{families, unique_names, Builder};
use crate::error::Error;
use crate::graph::model::Fleet;
use crate::schema::{self, label, HOST_INFO};

/// One answer's bytes, read as they come: 4x the largest at 150,000 edges.
const MAX_BODY: u64 = 512 << 20;
/// Samples in all the answers of a run: 1.3 million at 150,000 edges, in
/// about 300 MiB.
const MAX_SAMPLES: usize = 4_000_000;
/// One query's time, fetch and parse.
const QUERY_TIMEOUT: Duration = Duration::from_secs(30);
/// Queries in flight at once, after the first: more did not help on two
/// cores, and a shared store has other users.
const IN_FLIGHT: usize = 4;

/// A sample: its labels and value.
type Sample = (Labels, f64);

/// The labels the graph reads in an answer; the others are passed over.
const READ: [&str; 13] = [
    "instance",
    label::HOSTNAME.name,
    label::PROTOCOL.name,
    label::PROCESS.name,
    label::CONTAINER.name,
    label::NAME.name,
    label::ADDR.name,
    label::PORT.name,
    label::DIRECTION.name,
    // kube-state-metrics' and cAdvisor's, for the containers' names.
    "container_id",
    "namespace",
    "pod",
    "id",
];

/// A sample's labels of [`READ`], their values in one string: one
/// allocation a sample where a map took two a label and more (malloc and
/// free were a third of the run's CPU at 150,000 edges).
#[derive(Default)]
struct Labels {
    text: String,
    /// Where each of [`READ`] is in `text`, if the sample has it (an
    /// answer is far below 4 GiB).
    spans: [Option<(u32, u32)>; READ.len()],
}

impl Labels {
    fn set(&mut self, i: usize, value: &str) {
        let start = self.text.len();
        self.text.push_str(value);
        if let (Ok(start), Ok(end)) = (u32::try_from(start), u32::try_from(self.text.len())) {
            self.spans[i] = Some((start, end));
        }
    }

    fn get(&self, name: &str) -> Option<&str> {
        let i = READ.iter().position(|read| *read == name)?;
        let (start, end) = self.spans[i]?;
        self.text.get(start as usize..end as usize)
    }
}

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

/// The instant query for `family`.
fn query(family: &str, rate: bool, window: &str) -> String {
    let read = match rate {
        true => format!("rate({family}[{window}])"),
        false => family.to_string(),
    };
    let downstream = [
        schema::DOWNSTREAM.name,
        schema::DOWNSTREAM_BYTES.name,
        schema::DOWNSTREAM_RETRANSMITS.name,
    ];
    match downstream.contains(&family) {
        true => format!("{read} unless on (addr) {}", schema::ADDRESS.name),
        false => read,
    }
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
    let queries: Vec<(&str, String)> = (families().into_iter())
        .map(|(family, rate)| (family, query(family, rate, &window)))
        .collect();
    let mut builder = Builder::default();
    let mut hostnames: BTreeMap<String, String> = BTreeMap::new();
    let mut samples = 0;
    let mut add = |family: &str, (labels, value): Sample| -> Result<(), Error> {
        samples += 1;
        if samples > MAX_SAMPLES {
            return Err(client.fail(format!("more than {MAX_SAMPLES} series")));
        }
        let instance = labels.get("instance").unwrap_or_default();
        if family == HOST_INFO.name {
            if let Some(name) = labels.get(label::HOSTNAME.name) {
                hostnames.insert(instance.to_string(), name.to_string());
            }
        }
        builder.add(instance, family, |l| labels.get(l), value);
        Ok(())
    };
    // The first alone: an unreachable store, or one that refuses, is said
    // once, naming it.
    let Some((first, rest)) = queries.split_first() else {
        return builder.finish(&BTreeMap::new(), client.shown());
    };
    let mut failed = None;
    let read = query_each(
        &client,
        &first.1,
        &time,
        &|| false,
        &mut |sample| match add(first.0, sample) {
            Ok(()) => true,
            Err(error) => {
                failed = Some(error);
                false
            }
        },
    );
    if let Some(error) = failed {
        return Err(error);
    }
    read?;
    // The answers are added as they come, in any order: the builder's
    // result does not depend on it.
    match in_flight(&client, rest, &time, |i, sample| add(rest[i].0, sample)) {
        Some(error) => Err(error),
        None => {
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
    }
}

/// What a query thread hands over.
enum Message {
    Sample(usize, Sample),
    Failed(usize, Error),
}

/// Runs `queries`, [`IN_FLIGHT`] at a time, handing each sample to `add`
/// on this thread. The error, if any, is the first query's (in the list)
/// to fail, or `add`'s, whatever the timing; a query after a failed one is
/// stopped.
fn in_flight(
    client: &Client,
    queries: &[(&str, String)],
    time: &str,
    mut add: impl FnMut(usize, Sample) -> Result<(), Error>,
) -> Option<Error> {
    let next = AtomicUsize::new(0);
    // The index of the first failed query; those after it stop.
    let failed_at = AtomicUsize::new(usize::MAX);
    let mut first: Option<(usize, Error)> = None;
    std::thread::scope(|scope| {
        let (sender, receiver) = mpsc::sync_channel::<Message>(4096);
        for _ in 0..IN_FLIGHT.min(queries.len()) {
            let sender = sender.clone();
            let (next, failed_at) = (&next, &failed_at);
            scope.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((_, query)) = queries.get(i) else {
                    break;
                };
                let stopped = || failed_at.load(Ordering::Relaxed) < i;
                let result = query_each(client, query, time, &stopped, &mut |sample| {
                    sender.send(Message::Sample(i, sample)).is_ok()
                });
                if let Err(error) = result {
                    if !stopped() {
                        failed_at.fetch_min(i, Ordering::Relaxed);
                        let _ = sender.send(Message::Failed(i, error));
                    }
                }
            });
        }
        drop(sender);
        let mut keep = |i: usize, error: Error| {
            failed_at.fetch_min(i, Ordering::Relaxed);
            if first.as_ref().is_none_or(|(at, _)| i < *at) {
                first = Some((i, error));
            }
        };
        for message in receiver {
            match message {
                Message::Sample(i, _) if failed_at.load(Ordering::Relaxed) <= i => {}
                Message::Sample(i, sample) => {
                    if let Err(error) = add(i, sample) {
                        // Every query is stopped: the run is over.
                        keep(0, error);
                    }
                }
                Message::Failed(i, error) => keep(i, error),
            }
        }
    });
    first.map(|(_, error)| error)
}

/// One instant query: each sample of its vector to `each` as it is read,
/// until `each` says no more. `stopped` ends it early (an error nobody
/// reads).
fn query_each(
    client: &Client,
    query: &str,
    time: &str,
    stopped: &dyn Fn() -> bool,
    each: &mut dyn FnMut(Sample) -> bool,
) -> Result<(), Error> {
    let fail = |problem: String| client.fail(problem);
    let params = [("query", query), ("time", time)];
    let answer = client.get("/api/v1/query", &params, |body| {
        let mut answer = Answer::default();
        let mut deserializer = serde_json::Deserializer::from_reader(body);
        let sink = Sink {
            answer: &mut answer,
            stopped,
            each,
        };
        match serde::de::DeserializeSeed::deserialize(sink, &mut deserializer) {
            Ok(()) => Ok(answer),
            Err(e) if e.is_io() => Err(BodyError::Io(e.into())),
            Err(e) => Err(BodyError::Problem(format!(
                "not a Prometheus API answer ({e})"
            ))),
        }
    })?;
    if answer.status != "success" {
        let why = answer.error.unwrap_or_else(|| "an error".into());
        return Err(fail(format!("query {query}: {why}")));
    }
    match answer.result_type.as_deref() {
        Some("vector") => Ok(()),
        Some(other) => Err(fail(format!("query {query}: a {other} answer"))),
        None => Err(fail("an answer without data".into())),
    }
}

/// What an answer said besides its samples.
#[derive(Default)]
struct Answer {
    status: String,
    error: Option<String>,
    result_type: Option<String>,
}

/// An answer, read into [`Answer`] and its samples handed to `each`.
struct Sink<'a> {
    answer: &'a mut Answer,
    stopped: &'a dyn Fn() -> bool,
    each: &'a mut dyn FnMut(Sample) -> bool,
}

mod sink;
