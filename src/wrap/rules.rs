//! The rules file: TOML in, checked [`Rules`] out.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::{Location, Rule, Rules, Selector, Source};
use crate::error::without_quotes;
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
        let file: File = toml::from_str(text).map_err(|e| position(text, &e))?;
        let line_of = |span: std::ops::Range<usize>| {
            text[..span.start.min(text.len())].matches('\n').count() + 1
        };

        let mut sources = Vec::new();
        for spanned in &file.source {
            let def = spanned.get_ref();
            let at = format!("source at line {}", line_of(spanned.span()));
            if def.name.is_empty() || sources.iter().any(|s: &Source| s.name == def.name) {
                return Err(format!("{at}: names must be unique and not empty"));
            }
            let location = match (&def.url, &def.file) {
                (Some(url), None) if url.starts_with("http://") => Location::Url(url.clone()),
                (Some(_), None) => {
                    return Err(format!(
                        "{at}: url must start with http:// (local exporters; no TLS)"
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
                    .ok_or_else(|| format!("{at}: timeout is not a duration above zero"))?,
            };
            sources.push(Source {
                name: def.name.clone(),
                line: line_of(spanned.span()),
                location,
                timeout,
            });
        }

        let known_source = |name: &str| sources.iter().any(|s| s.name == name);
        let mut rules: Vec<Rule> = Vec::new();
        for spanned in &file.rule {
            let def = spanned.get_ref();
            let at = format!("rule at line {}", line_of(spanned.span()));
            let fail = |what: String| format!("{at}: {what}");
            if def.name.is_empty() || rules.iter().any(|r| r.name == def.name) {
                return Err(fail("names must be unique and not empty".into()));
            }
            for source in std::iter::once(&def.source).chain(def.derive.values().map(|d| &d.source))
            {
                if !known_source(source) {
                    return Err(fail("names an unknown source".into()));
                }
            }
            for metric in std::iter::once(&def.select).chain(def.derive.values().map(|d| &d.select))
            {
                if !is_metric_name(metric) {
                    return Err(fail("select is not a metric name".into()));
                }
            }
            if !is_metric_name(&def.metric) {
                return Err(fail("metric is not a metric name".into()));
            }
            if let Some(other) = rules.iter().find(|r| r.metric == def.metric) {
                return Err(fail(format!(
                    "metric is already written by the rule at line {}",
                    other.line
                )));
            }
            let kind = match def.kind.as_deref() {
                None | Some("gauge") => Kind::Gauge,
                Some("counter") => Kind::Counter,
                Some("untyped") => Kind::Untyped,
                Some(_) => return Err(fail("type is not gauge, counter or untyped".into())),
            };
            let mut labels: BTreeMap<String, String> =
                def.keep.iter().map(|l| (l.clone(), l.clone())).collect();
            labels.extend(def.labels.clone());
            let mut outputs = HashSet::new();
            for name in labels.keys().chain(def.set.keys()).chain(def.derive.keys()) {
                if !is_label_name(name) || name.starts_with("__") {
                    return Err(fail("an output label is not a label name".into()));
                }
                if !outputs.insert(name) {
                    return Err(fail("an output label is given more than once".into()));
                }
            }
            for name in labels.values().chain(def.derive.values().map(|d| &d.label)) {
                if !is_label_name(name) {
                    return Err(fail("an input label is not a label name".into()));
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

/// toml's own message shows the offending line under a caret: the file
/// may be one the operator may not read, so only the position and the kind
/// of problem are kept.
fn position(text: &str, error: &toml::de::Error) -> String {
    let what = without_quotes(error.message());
    match error.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
            format!("line {line}, column {column}: {what}")
        }
        None => what,
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
            "rule at line 28: metric is already written by the rule at line 19"
        );
        assert_eq!(
            with(&rule("metric = \"9x\"")),
            "rule at line 28: metric is not a metric name"
        );
        assert_eq!(
            with(&rule("metric = \"planet_x\"\nderive.y = { source = \"nope\", select = \"a\", label = \"b\" }")),
            "rule at line 28: names an unknown source"
        );
        assert_eq!(
            with(&rule("metric = \"planet_x\"\ntype = \"histogram\"")),
            "rule at line 28: type is not gauge, counter or untyped"
        );
        assert_eq!(
            with(&rule(
                "metric = \"planet_x\"\nkeep = [\"a\"]\nset = { a = \"1\" }"
            )),
            "rule at line 28: an output label is given more than once"
        );
        assert_eq!(
            with("\n[[source]]\nname = \"s\"\nurl = \"https://x/\"\n"),
            "source at line 28: url must start with http:// (local exporters; no TLS)"
        );
        assert!(
            with("\n[[rule]]\nname = 1\n").contains("line 29"),
            "{}",
            with("\n[[rule]]\nname = 1\n")
        );
        assert_eq!(
            with(&rule("metric = \"planet_x\"\ncolour = \"secret\"")),
            "line 33, column 1: unknown field"
        );
        // A file that is not TOML at all: its line is never shown.
        assert_eq!(
            Rules::parse("root:$6$salt$hash:19000:0:99999:7:::\n").unwrap_err(),
            "line 1, column 37: key with no value"
        );
    }
}
