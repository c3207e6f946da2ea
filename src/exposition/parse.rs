//! A parser for the Prometheus text format (0.0.4), for reading other local
//! exporters (and, in tests, planet's own output). Our own: the two crates available mishandle escaped quotes,
//! `}` inside label values and `:` in metric names, all of which real
//! exporters emit.
//!
//! Histograms and summaries pass through as the plain samples they are
//! written as (`x_bucket{le=...}`, `x_sum`, `x_count`); TYPE says what they
//! belong to. Timestamps are read and dropped (the textfile format has none).

use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Exposition {
    pub samples: Vec<Sample>,
    /// Family name -> HELP text (unescaped).
    pub help: HashMap<String, String>,
    /// Family name -> TYPE as written (`gauge`, `histogram`, ...).
    pub types: HashMap<String, String>,
}

/// Parses a whole exposition; an error names the line (1-based) at fault.
pub fn parse(text: &str) -> Result<Exposition, String> {
    let mut exposition = Exposition::default();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_start();
        if line.is_empty() {
            continue;
        }
        let result = if let Some(comment) = line.strip_prefix('#') {
            parse_comment(comment, &mut exposition);
            Ok(())
        } else {
            parse_sample(line).map(|s| exposition.samples.push(s))
        };
        result.map_err(|e| format!("line {}: {e}", i + 1))?;
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

fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(line.len());
    let name = &line[..name_end];
    if !is_metric_name(name) {
        return Err(format!("invalid metric name in {:?}", truncate(line)));
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(after) = rest.strip_prefix('{') {
        rest = parse_labels(after, &mut labels)?;
    }
    let mut fields = rest.split_whitespace();
    let value = fields
        .next()
        .ok_or_else(|| format!("{name}: no value"))
        .and_then(|v| parse_value(v).ok_or_else(|| format!("{name}: invalid value {v:?}")))?;
    if let Some(timestamp) = fields.next() {
        timestamp
            .parse::<i64>()
            .map_err(|_| format!("{name}: invalid timestamp {timestamp:?}"))?;
    }
    if fields.next().is_some() {
        return Err(format!("{name}: text after the timestamp"));
    }
    Ok(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// Parses `a="x",b="y"}` and returns what follows the closing brace.
fn parse_labels<'a>(
    mut text: &'a str,
    labels: &mut Vec<(String, String)>,
) -> Result<&'a str, String> {
    loop {
        text = text.trim_start();
        if let Some(after) = text.strip_prefix('}') {
            return Ok(after);
        }
        let eq = text.find('=').ok_or("label without '='")?;
        let name = text[..eq].trim();
        if !is_label_name(name) {
            return Err(format!("invalid label name {name:?}"));
        }
        let after_eq = text[eq + 1..].trim_start();
        let quoted = after_eq
            .strip_prefix('"')
            .ok_or_else(|| format!("label {name}: value not quoted"))?;
        let mut value = String::new();
        let mut chars = quoted.char_indices();
        let end = loop {
            match chars.next() {
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, other)) => {
                        return Err(format!("label {name}: invalid escape \\{other}"))
                    }
                    None => return Err(format!("label {name}: unterminated value")),
                },
                Some((_, c)) => value.push(c),
                None => return Err(format!("label {name}: unterminated value")),
            }
        };
        if labels.iter().any(|(n, _)| n == name) {
            return Err(format!("label {name} given twice"));
        }
        labels.push((name.to_string(), value));
        text = quoted[end + 1..].trim_start();
        if let Some(after) = text.strip_prefix(',') {
            text = after;
        } else if !text.starts_with('}') {
            return Err(format!("expected ',' or '}}' after label {name}"));
        }
    }
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

fn truncate(line: &str) -> &str {
    match line.char_indices().nth(60) {
        Some((i, _)) => &line[..i],
        None => line,
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
    fn errors_name_the_line() {
        for (text, error) in [
            (
                "ok 1\nbad{a=\"x} 1\n",
                "line 2: label a: unterminated value",
            ),
            ("x{a=\"\\q\"} 1", "line 1: label a: invalid escape \\q"),
            ("x{a=1} 1", "line 1: label a: value not quoted"),
            (
                "x{a=\"1\" b=\"2\"} 1",
                "line 1: expected ',' or '}' after label a",
            ),
            ("x{a=\"1\",a=\"2\"} 1", "line 1: label a given twice"),
            ("x{0a=\"1\"} 1", "line 1: invalid label name \"0a\""),
            ("x 1 2 3", "line 1: x: text after the timestamp"),
            ("x one", "line 1: x: invalid value \"one\""),
            ("x", "line 1: x: no value"),
            ("9x 1", "line 1: invalid metric name in \"9x 1\""),
            ("x 1 soon", "line 1: x: invalid timestamp \"soon\""),
        ] {
            assert_eq!(parse(text).unwrap_err(), error, "{text}");
        }
    }
}
