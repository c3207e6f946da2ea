//! The rules file: TOML in, checked [`Rules`] out.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::{Location, Rule, Rules, Selector, Source};
use crate::exposition::parse::{is_label_name, is_metric_name};
use crate::exposition::Kind;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

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

impl Rules {
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
                line: line_of(spanned.span()),
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
}

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
    use crate::wrap::EXAMPLE_RULES as RULES;

    #[test]
    fn errors_name_the_rule_and_its_line() {
        let with = |extra: &str| Rules::parse(&format!("{RULES}{extra}")).unwrap_err();
        let rule = |body: &str| {
            format!("\n[[rule]]\nname = \"bad\"\nsource = \"postgres\"\nselect = \"x\"\n{body}\n")
        };
        // RULES has 26 line feeds; the bad rule's header is on line 28.
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
