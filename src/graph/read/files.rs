//! The `.prom` files of several hosts: totals, each host named by its
//! `planet_host_info{hostname}`.

use std::path::PathBuf;

use super::{fleet, unique_names, HostSample};
use crate::error::Error;
use crate::exposition;
use crate::graph::model::Fleet;
use crate::output::read::read_limited;
use crate::schema::{label, HOST_INFO};

/// A host's page: far below this.
const MAX_FILE: u64 = 64 << 20;

/// Each file is a host, named by its hostname; a hostname two files share
/// (two `localhost`s) falls back to each file's path as given, so no two
/// hosts merge.
pub fn from_files(paths: &[PathBuf]) -> Result<Fleet, Error> {
    let mut pages = Vec::new();
    for path in paths {
        let data = read_limited(path, MAX_FILE)?;
        let text = String::from_utf8(data).map_err(|_| Error::config(path, "not UTF-8 text"))?;
        let page = exposition::parse(&text).map_err(|e| Error::config(path, e))?;
        let hostname = page
            .samples
            .iter()
            .find(|s| s.name == HOST_INFO.name)
            .and_then(|s| s.labels.iter().find(|(k, _)| k == label::HOSTNAME.name))
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        pages.push((hostname, path.display().to_string(), page));
    }
    let names: Vec<(String, String)> = (pages.iter())
        .map(|(hostname, file, _)| (hostname.clone(), file.clone()))
        .collect();
    let mut samples = Vec::new();
    for (host, (_, _, page)) in unique_names(&names).into_iter().zip(pages) {
        for s in page.samples {
            samples.push(HostSample {
                host: host.clone(),
                family: s.name,
                labels: s.labels.into_iter().collect(),
                value: s.value,
            });
        }
    }
    let looked_in: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    fleet(samples, &looked_in.join(", "))
}
