//! Wrapped exporters: scrape other local exporters (or read files an operator
//! keeps) and reshape chosen metrics into planet's output, e.g.
//! postgres_exporter's version into `planet_postgres_version_update{current,latest}`.
//!
//! The rules file is TOML; everything that can be checked without fetching
//! is checked at load, and an error names the rule (or source) and its line.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::exposition::{Family, Kind};
use crate::textfile::read_limited;
use crate::textparse::{self, is_label_name, is_metric_name, Exposition, Sample};

/// What a source may send; an exporter page is rarely over a few MiB.
const MAX_BODY: u64 = 16 * 1024 * 1024;
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// Names planet writes itself: a rule may not take them.
pub const RESERVED: &[&str] = &[
    "planet_build_info",
    "planet_collect_timestamp_seconds",
    "planet_collector_duration_seconds",
    "planet_collector_success",
    "planet_destroy_events_lost_total",
    "planet_dns_lookups_total",
    "planet_downstream",
    "planet_downstream_bytes_total",
    "planet_loop_failures_total",
    "planet_peers_folded",
    "planet_process_sockets",
    "planet_serving",
    "planet_serving_backlog",
    "planet_serving_backlog_max",
    "planet_snapshot_duration_seconds",
    "planet_upstream",
    "planet_upstream_bytes_total",
    "planet_wrap_up",
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    source: Vec<toml::Spanned<SourceDef>>,
    #[serde(default)]
    rule: Vec<toml::Spanned<RuleDef>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceDef {
    name: String,
    url: Option<String>,
    file: Option<PathBuf>,
    timeout: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleDef {
    name: String,
    source: String,
    select: String,
    #[serde(default, rename = "where")]
    filter: BTreeMap<String, String>,
    metric: String,
    help: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    keep: Vec<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    set: BTreeMap<String, String>,
    value: Option<f64>,
    #[serde(default)]
    derive: BTreeMap<String, DeriveDef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeriveDef {
    source: String,
    select: String,
    #[serde(default, rename = "where")]
    filter: BTreeMap<String, String>,
    label: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Location {
    Url(String),
    File(PathBuf),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub name: String,
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

impl Selector {
    fn matches<'a>(&'a self, exposition: &'a Exposition) -> impl Iterator<Item = &'a Sample> + 'a {
        exposition.samples.iter().filter(move |s| {
            s.name == self.metric
                && self
                    .filter
                    .iter()
                    .all(|(k, v)| s.labels.iter().any(|(lk, lv)| lk == k && lv == v))
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub name: String,
    select: Selector,
    metric: String,
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
    pub fn load(path: &Path) -> Result<Rules, String> {
        let fail = |what: String| format!("{}: {what}", path.display());
        let data = read_limited(path, MAX_BODY)?;
        let text = String::from_utf8(data).map_err(|_| fail("not UTF-8 text".into()))?;
        Rules::parse(&text).map_err(fail)
    }

    pub fn parse(text: &str) -> Result<Rules, String> {
        let file: File = toml::from_str(text).map_err(|e| one_line(&e.to_string()))?;
        let line_of = |span: std::ops::Range<usize>| {
            text[..span.start.min(text.len())].matches('\n').count() + 1
        };

        let mut sources = Vec::new();
        for spanned in &file.source {
            let def = spanned.get_ref();
            let at = format!("source {:?} (line {})", def.name, line_of(spanned.span()));
            if def.name.is_empty() || sources.iter().any(|s: &Source| s.name == def.name) {
                return Err(format!("{at}: names must be unique and not empty"));
            }
            let location = match (&def.url, &def.file) {
                (Some(url), None) if url.starts_with("http://") => Location::Url(url.clone()),
                (Some(url), None) => {
                    return Err(format!(
                        "{at}: url {url:?} must start with http:// (local exporters; no TLS)"
                    ))
                }
                (None, Some(file)) => Location::File(file.clone()),
                _ => return Err(format!("{at}: give exactly one of url and file")),
            };
            let timeout = match &def.timeout {
                None => DEFAULT_TIMEOUT,
                Some(text) => humantime::parse_duration(text)
                    .ok()
                    .filter(|d| !d.is_zero())
                    .ok_or_else(|| {
                        format!("{at}: timeout {text:?} is not a duration above zero")
                    })?,
            };
            sources.push(Source {
                name: def.name.clone(),
                location,
                timeout,
            });
        }

        let known_source = |name: &str| sources.iter().any(|s| s.name == name);
        let mut rules: Vec<Rule> = Vec::new();
        for spanned in &file.rule {
            let def = spanned.get_ref();
            let at = format!("rule {:?} (line {})", def.name, line_of(spanned.span()));
            let fail = |what: String| format!("{at}: {what}");
            if def.name.is_empty() || rules.iter().any(|r| r.name == def.name) {
                return Err(fail("names must be unique and not empty".into()));
            }
            for source in std::iter::once(&def.source).chain(def.derive.values().map(|d| &d.source))
            {
                if !known_source(source) {
                    return Err(fail(format!("unknown source {source:?}")));
                }
            }
            for metric in std::iter::once(&def.select).chain(def.derive.values().map(|d| &d.select))
            {
                if !is_metric_name(metric) {
                    return Err(fail(format!("select {metric:?} is not a metric name")));
                }
            }
            if !is_metric_name(&def.metric) {
                return Err(fail(format!(
                    "metric {:?} is not a metric name",
                    def.metric
                )));
            }
            if RESERVED.contains(&def.metric.as_str()) {
                return Err(fail(format!(
                    "metric {} is one of planet's own",
                    def.metric
                )));
            }
            if let Some(other) = rules.iter().find(|r| r.metric == def.metric) {
                return Err(fail(format!(
                    "metric {} is already written by rule {:?}",
                    def.metric, other.name
                )));
            }
            let kind = match def.kind.as_deref() {
                None | Some("gauge") => Kind::Gauge,
                Some("counter") => Kind::Counter,
                Some("untyped") => Kind::Untyped,
                Some(other) => {
                    return Err(fail(format!(
                        "type {other:?} is not gauge, counter or untyped"
                    )))
                }
            };
            let mut labels: BTreeMap<String, String> =
                def.keep.iter().map(|l| (l.clone(), l.clone())).collect();
            labels.extend(def.labels.clone());
            let mut outputs = HashSet::new();
            for name in labels.keys().chain(def.set.keys()).chain(def.derive.keys()) {
                if !is_label_name(name) || name.starts_with("__") {
                    return Err(fail(format!("{name:?} is not a label name")));
                }
                if !outputs.insert(name) {
                    return Err(fail(format!("label {name} is given more than once")));
                }
            }
            for name in labels.values().chain(def.derive.values().map(|d| &d.label)) {
                if !is_label_name(name) {
                    return Err(fail(format!("{name:?} is not a label name")));
                }
            }
            let selector =
                |source: &str, metric: &str, filter: &BTreeMap<String, String>| Selector {
                    source: source.to_string(),
                    metric: metric.to_string(),
                    filter: filter.clone(),
                };
            rules.push(Rule {
                name: def.name.clone(),
                select: selector(&def.source, &def.select, &def.filter),
                metric: def.metric.clone(),
                help: def.help.clone().unwrap_or_else(|| {
                    format!(
                        "{} from source {}, by rule {}.",
                        def.select, def.source, def.name
                    )
                }),
                kind,
                labels,
                set: def.set.clone(),
                value: def.value,
                derive: def
                    .derive
                    .iter()
                    .map(|(out, d)| {
                        (
                            out.clone(),
                            (selector(&d.source, &d.select, &d.filter), d.label.clone()),
                        )
                    })
                    .collect(),
            });
        }
        Ok(Rules { sources, rules })
    }

    /// Fetches every source: the parsed page, or why it failed.
    pub fn fetch_all(&self) -> BTreeMap<String, Result<Exposition, String>> {
        self.sources
            .iter()
            .map(|source| {
                (
                    source.name.clone(),
                    fetch(source).and_then(|text| textparse::parse(&text)),
                )
            })
            .collect()
    }

    /// `planet_wrap_up` and every rule's family whose sources answered.
    pub fn apply(&self, pages: &BTreeMap<String, Result<Exposition, String>>) -> Vec<Family> {
        let mut up = Family::gauge(
            "planet_wrap_up",
            "1 if the wrapped source answered with a page planet could parse, else 0.",
        );
        for source in &self.sources {
            let ok = matches!(pages.get(&source.name), Some(Ok(_)));
            up.push([("source", source.name.as_str())], f64::from(u8::from(ok)));
        }
        let mut families = vec![up];
        families.extend(self.rules.iter().filter_map(|rule| rule.apply(pages)));
        families
    }
}

impl Rule {
    /// The rule's family; None when a source it reads is down.
    fn apply(&self, pages: &BTreeMap<String, Result<Exposition, String>>) -> Option<Family> {
        let page = |name: &str| pages.get(name).and_then(|p| p.as_ref().ok());
        let main = page(&self.select.source)?;
        let mut derived: Vec<(&str, String)> = Vec::new();
        for (out, (selector, label)) in &self.derive {
            let value = selector
                .matches(page(&selector.source)?)
                .find_map(|s| {
                    s.labels
                        .iter()
                        .find(|(k, _)| k == label)
                        .map(|(_, v)| v.clone())
                })
                .unwrap_or_default();
            derived.push((out, value));
        }
        let mut family = Family::new(self.metric.clone(), self.kind, self.help.clone());
        let mut seen = HashSet::new();
        for sample in self.select.matches(main) {
            let mut labels: Vec<(&str, String)> = Vec::new();
            for (out, input) in &self.labels {
                let value = sample
                    .labels
                    .iter()
                    .find(|(k, _)| k == input)
                    .map(|(_, v)| v.clone());
                labels.push((out, value.unwrap_or_default()));
            }
            labels.extend(self.set.iter().map(|(k, v)| (k.as_str(), v.clone())));
            labels.extend(derived.iter().cloned());
            labels.sort();
            // Dropping labels can make two samples one: the first is kept.
            if !seen.insert(labels.clone()) {
                continue;
            }
            family.push(
                labels.iter().map(|(k, v)| (*k, v.as_str())),
                self.value.unwrap_or(sample.value),
            );
        }
        Some(family)
    }
}

fn fetch(source: &Source) -> Result<String, String> {
    match &source.location {
        Location::File(path) => {
            let data = read_limited(path, MAX_BODY)?;
            String::from_utf8(data).map_err(|_| format!("{}: not UTF-8 text", path.display()))
        }
        Location::Url(url) => {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .timeout_global(Some(source.timeout))
                .proxy(None) // local exporters: never through a proxy
                .max_redirects(0)
                .build()
                .into();
            let mut response = agent.get(url).call().map_err(|e| format!("{url}: {e}"))?;
            response
                .body_mut()
                .with_config()
                .limit(MAX_BODY)
                .read_to_string()
                .map_err(|e| format!("{url}: {e}"))
        }
    }
}

/// toml's messages span several lines (a caret diagram); keep the first
/// and the line number.
fn one_line(message: &str) -> String {
    let mut lines = message.lines();
    let first = lines.next().unwrap_or("invalid TOML").trim_end_matches(':');
    let detail = message.lines().last().unwrap_or("").trim();
    if detail.is_empty() || detail == first {
        first.to_string()
    } else {
        format!("{first}: {detail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::render;

    const RULES: &str = r#"
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

    fn pages(list: &[(&str, &str)]) -> BTreeMap<String, Result<Exposition, String>> {
        list.iter()
            .map(|(name, text)| (name.to_string(), textparse::parse(text)))
            .collect()
    }

    #[test]
    fn reshapes_the_seed_example() {
        let rules = Rules::parse(RULES).unwrap();
        let mut families = rules.apply(&pages(&[
            (
                "postgres",
                "pg_static{server=\"db:5432\",short_version=\"11.5.0\",version=\"PostgreSQL 11.5\"} 1\n\
                 pg_stat_database_numbackends{datname=\"app\"} 7\n\
                 pg_stat_database_numbackends{datname=\"postgres\"} 1\n",
            ),
            ("latest", "postgres_latest_version{version=\"12.1.0\"} 1\n"),
        ]));
        assert_eq!(
            render(&mut families),
            "\
# HELP planet_postgres_app_backends pg_stat_database_numbackends from source postgres, by rule connections.
# TYPE planet_postgres_app_backends gauge
planet_postgres_app_backends{datname=\"app\",team=\"db\"} 7
# HELP planet_postgres_version_update pg_static from source postgres, by rule postgres_version_update.
# TYPE planet_postgres_version_update gauge
planet_postgres_version_update{current=\"11.5.0\",latest=\"12.1.0\"} 1
# HELP planet_wrap_up 1 if the wrapped source answered with a page planet could parse, else 0.
# TYPE planet_wrap_up gauge
planet_wrap_up{source=\"latest\"} 1
planet_wrap_up{source=\"postgres\"} 1
"
        );
    }

    #[test]
    fn a_source_that_is_down_drops_only_its_rules() {
        let rules = Rules::parse(RULES).unwrap();
        let mut down = pages(&[(
            "postgres",
            "pg_stat_database_numbackends{datname=\"app\"} 7\n",
        )]);
        down.insert("latest".into(), Err("connection refused".into()));
        let names: Vec<String> = rules
            .apply(&down)
            .into_iter()
            .filter(|f| !f.samples.is_empty())
            .map(|f| f.name)
            .collect();
        assert_eq!(names, ["planet_wrap_up", "planet_postgres_app_backends"]);
    }

    #[test]
    fn errors_name_the_rule_and_its_line() {
        let with = |extra: &str| Rules::parse(&format!("{RULES}{extra}")).unwrap_err();
        let rule = |body: &str| {
            format!("\n[[rule]]\nname = \"bad\"\nsource = \"postgres\"\nselect = \"x\"\n{body}\n")
        };
        // RULES has 26 line feeds; the bad rule's header is on line 28.
        assert_eq!(
            with(&rule("metric = \"planet_serving\"")),
            "rule \"bad\" (line 28): metric planet_serving is one of planet's own"
        );
        assert_eq!(
            with(&rule("metric = \"planet_postgres_app_backends\"")),
            "rule \"bad\" (line 28): metric planet_postgres_app_backends is already written by rule \"connections\""
        );
        assert_eq!(
            with(&rule("metric = \"9x\"")),
            "rule \"bad\" (line 28): metric \"9x\" is not a metric name"
        );
        assert_eq!(
            with(&rule("metric = \"planet_x\"\nderive.y = { source = \"nope\", select = \"a\", label = \"b\" }")),
            "rule \"bad\" (line 28): unknown source \"nope\""
        );
        assert_eq!(
            with(&rule("metric = \"planet_x\"\ntype = \"histogram\"")),
            "rule \"bad\" (line 28): type \"histogram\" is not gauge, counter or untyped"
        );
        assert_eq!(
            with(&rule(
                "metric = \"planet_x\"\nkeep = [\"a\"]\nset = { a = \"1\" }"
            )),
            "rule \"bad\" (line 28): label a is given more than once"
        );
        assert_eq!(
            with("\n[[source]]\nname = \"s\"\nurl = \"https://x/\"\n"),
            "source \"s\" (line 28): url \"https://x/\" must start with http:// (local exporters; no TLS)"
        );
        assert!(
            with("\n[[rule]]\nname = 1\n").contains("line 29"),
            "{}",
            with("\n[[rule]]\nname = 1\n")
        );
        assert!(with(&rule("metric = \"planet_x\"\ncolour = 1")).contains("unknown field `colour`"));
    }
}
