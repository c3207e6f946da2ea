//! The `.prom` files of several hosts: totals, each host named by its
//! `planet_host_info{hostname}`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::{unique_names, Builder};
use crate::error::Error;
use crate::exposition;
use crate::graph::model::Fleet;
use crate::output::read::read_limited;
use crate::schema::{label, HOST_INFO};

/// A host's page: far below this.
const MAX_FILE: u64 = 64 << 20;

/// Each file is a host, named by its hostname; a hostname two files share
/// (two `localhost`s) falls back to each file's path as given, so no two
/// hosts merge. Each file is parsed, added and dropped in turn.
pub fn from_files(paths: &[PathBuf]) -> Result<Fleet, Error> {
    let mut builder = Builder::default();
    let mut names = Vec::new();
    for path in paths {
        let data = read_limited(path, MAX_FILE)?;
        let text = String::from_utf8(data).map_err(|_| Error::config(path, "not UTF-8 text"))?;
        let page = exposition::parse(&text).map_err(|e| Error::config(path, e))?;
        let key = path.display().to_string();
        let mut hostname = String::new();
        for s in &page.samples {
            let label = |name: &str| {
                (s.labels.iter())
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.as_str())
            };
            if s.name == HOST_INFO.name && hostname.is_empty() {
                hostname = label(label::HOSTNAME.name).unwrap_or_default().to_string();
            }
            builder.add(&key, &s.name, label, s.value);
        }
        names.push((hostname, key));
    }
    let shown = unique_names(&names);
    let names: BTreeMap<String, String> = (names.into_iter().zip(shown))
        .map(|((_, key), name)| (key, name))
        .collect();
    let looked_in: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    builder.finish(&names, &looked_in.join(", "))
}
