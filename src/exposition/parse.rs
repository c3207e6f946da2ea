//! A parser for the Prometheus text format (0.0.4), for reading other local
//! exporters (and, in tests, planet's own output). Our own: the two crates available mishandle escaped quotes,
//! `}` inside label values and `:` in metric names, all of which real
//! exporters emit.
//!
//! Histograms and summaries pass through as the plain samples they are
//! written as (`x_bucket{le=...}`, `x_sum`, `x_count`); TYPE says what they
//! belong to. Timestamps are read and dropped (the textfile format has none).

use std::collections::{HashMap, HashSet};
use std::time::Instant;

#[derive(Debug, Clone, PartialEq)]
pub struct NamedSample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Exposition {
    pub samples: Vec<NamedSample>,
    /// Family name -> HELP text (unescaped).
    pub help: HashMap<String, String>,
    /// Family name -> TYPE as written (`gauge`, `histogram`, ...).
    pub types: HashMap<String, String>,
}

/// Parses a whole exposition; an error names the line (1-based) at fault.
pub fn parse(text: &str) -> Result<Exposition, String> {
    parse_within(text, None)
}

/// As [`parse`], giving up at `deadline`: a wrapped source's timeout covers
/// the parse of what it sent, not only the fetch. Parsing is linear in the
/// input, so this is a guard, not the bound.
pub fn parse_within(text: &str, deadline: Option<Instant>) -> Result<Exposition, String> {
    let mut exposition = Exposition::default();
    for (i, full) in text.lines().enumerate() {
        if deadline.is_some_and(|d| i % 256 == 0 && Instant::now() >= d) {
            return Err(format!("line {}: timed out while parsing", i + 1));
        }
        let line = full.trim_start();
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            parse_comment(comment, &mut exposition);
            continue;
        }
        let sample = parse_sample(line).map_err(|bad| {
            // Columns count characters, as an editor does.
            let indent = full.len() - line.len();
            let column = full[..indent + bad.at].chars().count() + 1;
            format!("line {}, column {column}: {}", i + 1, bad.what)
        })?;
        exposition.samples.push(sample);
    }
    Ok(exposition)
}

fn parse_comment(comment: &str, exposition: &mut Exposition) {
    let mut words = comment.trim_start().splitn(3, [' ', '\t']);
    let (keyword, name, rest) = (words.next(), words.next(), words.next().unwrap_or(""));
    match (keyword, name) {
        (Some("HELP"), Some(name)) => {
            exposition
                .help
                .insert(name.to_string(), unescape_help(rest));
        }
        (Some("TYPE"), Some(name)) => {
            exposition
                .types
                .insert(name.to_string(), rest.trim().to_string());
        }
        _ => {} // any other comment
    }
}

fn unescape_help(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (c, chars.clone().next()) {
            ('\\', Some('\\')) => {
                out.push('\\');
                chars.next();
            }
            ('\\', Some('n')) => {
                out.push('\n');
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

pub fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

pub fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A problem in a line: where (a byte offset into the line) and what. It
/// never quotes the line: the page may be a file the operator may not read.
struct Bad {
    at: usize,
    what: &'static str,
}

/// The offset of `rest`, a tail of `line`, within it.
fn offset(line: &str, rest: &str) -> usize {
    line.len() - rest.len()
}

fn parse_sample(line: &str) -> Result<NamedSample, Bad> {
    let bad = |rest: &str, what| Bad {
        at: offset(line, rest),
        what,
    };
    let name_end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(line.len());
    let name = &line[..name_end];
    if !is_metric_name(name) {
        return Err(bad(line, "invalid metric name"));
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(after) = rest.strip_prefix('{') {
        rest = parse_labels(line, after, &mut labels)?;
    }
    // Value, optional timestamp, nothing else: each field with its place.
    let mut fields = rest
        .split_whitespace()
        .map(|field| (field.as_ptr() as usize - rest.as_ptr() as usize, field));
    let value = fields.next().ok_or_else(|| bad("", "no value"))?;
    let value = parse_value(value.1).ok_or_else(|| bad(&rest[value.0..], "invalid value"))?;
    if let Some((at, timestamp)) = fields.next() {
        if timestamp.parse::<i64>().is_err() {
            return Err(bad(&rest[at..], "invalid timestamp"));
        }
    }
    if let Some((at, _)) = fields.next() {
        return Err(bad(&rest[at..], "text after the timestamp"));
    }
    Ok(NamedSample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// Parses `a="x",b="y"}` (a tail of `line`) and returns what follows the
/// closing brace.
fn parse_labels<'a>(
    line: &str,
    mut text: &'a str,
    labels: &mut Vec<(String, String)>,
) -> Result<&'a str, Bad> {
    let bad = |rest: &str, what| Bad {
        at: offset(line, rest),
        what,
    };
    loop {
        text = text.trim_start();
        if let Some(after) = text.strip_prefix('}') {
            return match duplicate(labels) {
                Some(_) => Err(bad(text, "a label given twice")),
                None => Ok(after),
            };
        }
        let eq = text
            .find('=')
            .ok_or_else(|| bad(text, "label without '='"))?;
        let name = text[..eq].trim();
        if !is_label_name(name) {
            return Err(bad(text, "invalid label name"));
        }
        let after_eq = text[eq + 1..].trim_start();
        let quoted = after_eq
            .strip_prefix('"')
            .ok_or_else(|| bad(after_eq, "label value not quoted"))?;
        let mut value = String::new();
        let mut chars = quoted.char_indices();
        let end = loop {
            match chars.next() {
                Some((i, '"')) => break i,
                Some((i, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    Some(_) => return Err(bad(&quoted[i..], "invalid escape in a label value")),
                    None => return Err(bad(after_eq, "unterminated label value")),
                },
                Some((_, c)) => value.push(c),
                None => return Err(bad(after_eq, "unterminated label value")),
            }
        };
        labels.push((name.to_string(), value));
        text = quoted[end + 1..].trim_start();
        if let Some(after) = text.strip_prefix(',') {
            text = after;
        } else if !text.starts_with('}') {
            return Err(bad(text, "expected ',' or '}' after a label"));
        }
    }
}

/// The first label name given twice, found in linear time: a line of
/// 150,000 labels must not cost 10^10 comparisons.
fn duplicate(labels: &[(String, String)]) -> Option<&str> {
    let mut seen = HashSet::with_capacity(labels.len());
    labels
        .iter()
        .map(|(name, _)| name.as_str())
        .find(|name| !seen.insert(*name))
}

/// Go's ParseFloat forms: decimals, exponents, NaN and infinities.
fn parse_value(text: &str) -> Option<f64> {
    match text.to_ascii_lowercase().as_str() {
        "nan" => Some(f64::NAN),
        "+inf" | "inf" | "+infinity" | "infinity" => Some(f64::INFINITY),
        "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
        _ => text.parse::<f64>().ok().filter(|v| v.is_finite()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_real_exporters_write() {
        let text = r#"
# HELP pg_static Version string as reported by postgres
# TYPE pg_static untyped
pg_static{server="db:5432",short_version="11.5.0",version="PostgreSQL 11.5 \"x\" {on} \\ back"} 1
# some comment
node:cpu:ratio{mode="idle",} 0.25 1700000000000
# TYPE http_duration_seconds histogram
http_duration_seconds_bucket{le="0.1"} 3
http_duration_seconds_bucket{le="+Inf"} 7
http_duration_seconds_sum 1.5e-3
http_duration_seconds_count 7
weird{a="}",b="a\nb"} NaN
up -Inf
"#;
        let exposition = parse(text).unwrap();
        type Seen<'a> = (&'a str, Vec<(&'a str, &'a str)>, String);
        let samples: Vec<Seen> = exposition
            .samples
            .iter()
            .map(|s| {
                (
                    s.name.as_str(),
                    s.labels
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect(),
                    s.value.to_string(),
                )
            })
            .collect();
        assert_eq!(
            samples,
            vec![
                (
                    "pg_static",
                    vec![
                        ("server", "db:5432"),
                        ("short_version", "11.5.0"),
                        ("version", "PostgreSQL 11.5 \"x\" {on} \\ back")
                    ],
                    "1".to_string()
                ),
                ("node:cpu:ratio", vec![("mode", "idle")], "0.25".to_string()),
                (
                    "http_duration_seconds_bucket",
                    vec![("le", "0.1")],
                    "3".to_string()
                ),
                (
                    "http_duration_seconds_bucket",
                    vec![("le", "+Inf")],
                    "7".to_string()
                ),
                ("http_duration_seconds_sum", vec![], "0.0015".to_string()),
                ("http_duration_seconds_count", vec![], "7".to_string()),
                ("weird", vec![("a", "}"), ("b", "a\nb")], "NaN".to_string()),
                ("up", vec![], "-inf".to_string()),
            ]
        );
        assert_eq!(exposition.types["http_duration_seconds"], "histogram");
        assert_eq!(
            exposition.help["pg_static"],
            "Version string as reported by postgres"
        );
    }

    #[test]
    fn a_deadline_already_passed_stops_the_parse() {
        let past = Instant::now();
        assert_eq!(
            parse_within("a 1\n", Some(past)).unwrap_err(),
            "line 1: timed out while parsing"
        );
        assert!(parse_within("a 1\n", None).is_ok());
    }

    #[test]
    fn errors_name_line_and_column_and_quote_nothing() {
        for (text, error) in [
            (
                "ok 1\nbad{a=\"x} 1\n",
                "line 2, column 7: unterminated label value",
            ),
            (
                "x{a=\"\\q\"} 1",
                "line 1, column 6: invalid escape in a label value",
            ),
            ("x{a=1} 1", "line 1, column 5: label value not quoted"),
            (
                "x{a=\"1\" b=\"2\"} 1",
                "line 1, column 9: expected ',' or '}' after a label",
            ),
            (
                "x{a=\"1\",a=\"2\"} 1",
                "line 1, column 14: a label given twice",
            ),
            ("x{0a=\"1\"} 1", "line 1, column 3: invalid label name"),
            ("x 1 2 3", "line 1, column 7: text after the timestamp"),
            ("x one", "line 1, column 3: invalid value"),
            ("x", "line 1, column 2: no value"),
            ("  9x 1", "line 1, column 3: invalid metric name"),
            ("x 1 soon", "line 1, column 5: invalid timestamp"),
            ("é{a=1} 1", "line 1, column 1: invalid metric name"),
        ] {
            assert_eq!(parse(text).unwrap_err(), error, "{text}");
        }
    }

    #[test]
    fn a_line_of_150000_labels_parses_in_linear_time() {
        let mut line = String::from("wide{");
        for i in 0..150_000 {
            line.push_str(&format!("l{i}=\"v\","));
        }
        line.push_str("} 1\n");
        let parsed = parse(&line).unwrap();
        assert_eq!(parsed.samples[0].labels.len(), 150_000);
        // The same line with one name repeated at the end is refused.
        let twice = line.replace("} 1", "l0=\"again\"} 1");
        assert!(parse(&twice).unwrap_err().ends_with("a label given twice"));
    }
}
