//! Wrapped exporters: scrape other local exporters (or read files an operator
//! keeps) and reshape chosen metrics into planet's output, e.g.
//! postgres_exporter's version into `planet_postgres_version_update{current,latest}`.
//!
//! The rules file is TOML ([`rules`]); everything that can be checked
//! without fetching is checked at load, and an error names the rule (or
//! source) and its line. Each run [`fetch`]es the sources and [`reshape`]s
//! their samples into families.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::exposition::parse::parse_within;
use crate::exposition::{Exposition, Kind};
use crate::output::read::read_limited;

pub mod fetch;
pub mod reshape;
pub mod rules;

/// What a source may send; an exporter page is rarely over a few MiB.
const MAX_BODY: u64 = 16 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub enum Location {
    Url(String),
    File(PathBuf),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Url(url) => f.write_str(url),
            Location::File(path) => write!(f, "{}", path.display()),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub name: String,
    /// Where the source starts in its file, for messages.
    pub line: usize,
    pub location: Location,
    pub timeout: Duration,
}

/// Picks samples of one metric, optionally by label values.
#[derive(Debug, Clone, PartialEq)]
struct Selector {
    source: String,
    metric: String,
    filter: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub name: String,
    /// Where the rule starts in its file, for messages.
    pub line: usize,
    select: Selector,
    pub metric: String,
    help: String,
    kind: Kind,
    /// Output label <- input label.
    labels: BTreeMap<String, String>,
    set: BTreeMap<String, String>,
    value: Option<f64>,
    /// Output label <- a label of the first sample another selector finds.
    derive: BTreeMap<String, (Selector, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    pub sources: Vec<Source>,
    pub rules: Vec<Rule>,
}

impl Rules {
    pub fn load(path: &Path) -> Result<Rules, Error> {
        let data = read_limited(path, MAX_BODY)?;
        let text = String::from_utf8(data).map_err(|_| Error::config(path, "not UTF-8 text"))?;
        Rules::parse(&text).map_err(|e| Error::config(path, e))
    }

    /// Refuses a rule whose metric another part of planet writes.
    pub fn refuse_reserved(&self, reserved: impl Fn(&str) -> bool) -> Result<(), String> {
        match self.rules.iter().find(|rule| reserved(&rule.metric)) {
            // The name is planet's own: naming it quotes nothing secret.
            Some(rule) => Err(format!(
                "rule at line {}: metric {} is one of planet's own",
                rule.line, rule.metric
            )),
            None => Ok(()),
        }
    }

    /// Fetches every source: the parsed page, or why it failed.
    /// Each source's `timeout` covers its fetch and the parse of its page.
    pub fn fetch_all(&self) -> BTreeMap<String, Result<Exposition, String>> {
        self.sources
            .iter()
            .map(|source| {
                let deadline = Instant::now() + source.timeout;
                let page = fetch::fetch(source).and_then(|text| {
                    parse_within(&text, Some(deadline))
                        .map_err(|e| format!("{}: {e}", source.location))
                });
                (source.name.clone(), page)
            })
            .collect()
    }
}

/// The README's example rules, shared by the tests of the stages.
#[cfg(test)]
pub(crate) const EXAMPLE_RULES: &str = r#"
[[source]]
name = "postgres"
url = "http://127.0.0.1:9187/metrics"

[[source]]
name = "latest"
file = "/etc/planet/postgres-latest.prom"

[[rule]]
name = "postgres_version_update"
source = "postgres"
select = "pg_static"
metric = "planet_postgres_version_update"
labels = { current = "short_version" }
value = 1
derive.latest = { source = "latest", select = "postgres_latest_version", label = "version" }

[[rule]]
name = "connections"
source = "postgres"
select = "pg_stat_database_numbackends"
where = { datname = "app" }
metric = "planet_postgres_app_backends"
keep = ["datname"]
set = { team = "db" }
"#;
