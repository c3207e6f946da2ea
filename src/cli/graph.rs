//! `planet graph`'s flags: where the series come from (a store that speaks
//! the Prometheus HTTP API, with what it takes to reach it, or hosts'
//! files), when, what to keep, and how to draw it.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::error::ErrorKind;
use clap::Args;

use super::parse_bounded;
use crate::graph::format::Format;

#[derive(Debug, Args)]
#[command(
    override_usage = "planet graph --prometheus URL [--window 5m] [--at TIME] [--diff DURATION] [OPTIONS]\n       planet graph --files FILE... [--before FILE...] [OPTIONS]"
)]
pub struct GraphArgs {
    /// The Prometheus HTTP API to read every host's series from
    /// (Prometheus, Thanos, Mimir, VictoriaMetrics): http:// or https://, a
    /// path prefix kept (e.g. https://mimir.example/prometheus); user:password@
    /// in it authenticates.
    #[arg(long, value_name = "URL", value_parser = parse_url)]
    pub prometheus: Option<String>,

    /// The .prom files of several hosts instead (totals instead of rates).
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub files: Vec<PathBuf>,

    /// With --files: the same fleet's files from an earlier time; draws what
    /// changed since, as --diff does.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub before: Vec<PathBuf>,

    /// The window byte and event rates are taken over, with --prometheus.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_window)]
    pub window: Duration,

    /// Evaluate every query at this time instead of now: RFC 3339
    /// (2026-11-30T14:00:00Z) or Unix seconds.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub at: Option<SystemTime>,

    /// Draw the graph now against the graph DURATION earlier: every node and
    /// edge is new, gone or the same (with --files, pass --before instead).
    #[arg(long, value_name = "DURATION", value_parser = parse_window)]
    pub diff: Option<Duration>,

    /// Only the edges that had an open connection or moved bytes, and the
    /// nodes they join (idle edges stay for Prometheus' staleness window).
    #[arg(long)]
    pub active: bool,

    /// One node per host, edges summed, or one per service (html groups by
    /// host by itself over 300 nodes).
    #[arg(long, value_enum, value_name = "BY")]
    pub group: Option<Group>,

    /// json (Grafana's Node Graph fields), dot (Graphviz), mermaid, or html
    /// (one self-contained page).
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,

    /// Write the graph to this file (atomically) instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// More CA certificates (PEM) to trust for https://, besides the
    /// system's.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,

    /// Send the token in this file as `Authorization: Bearer`.
    #[arg(long, value_name = "FILE")]
    pub bearer_token_file: Option<PathBuf>,

    /// Authenticate with the `user:password` in this file (HTTP basic).
    #[arg(long, value_name = "FILE")]
    pub basic_auth_file: Option<PathBuf>,

    /// Send this header with every query (repeatable), e.g.
    /// 'X-Scope-OrgID: tenant-1' for Mimir or Cortex.
    #[arg(long = "header", value_name = "NAME: VALUE", value_parser = parse_header)]
    pub headers: Vec<(String, String)>,
}

/// What a node stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Group {
    /// One node per host (and per external peer), edges summed.
    Host,
    /// One node per process of a host or container (the default, up to 300
    /// nodes in html).
    Service,
}

type Problem = (ErrorKind, String);

fn conflict(message: &str) -> Problem {
    (ErrorKind::ArgumentConflict, message.to_string())
}

impl GraphArgs {
    /// What clap cannot say well: one source, and the flags that go with it.
    pub(super) fn check(&self) -> Result<(), Problem> {
        match (&self.prometheus, self.files.is_empty()) {
            (None, true) => Err((
                ErrorKind::MissingRequiredArgument,
                "pass --prometheus URL to read from Prometheus, or --files FILE... to read hosts' .prom files".into(),
            )),
            (Some(_), false) => Err(conflict(
                "--prometheus cannot be used with --files: pass one of them",
            )),
            (Some(url), true) => self.check_store(url),
            (None, false) => self.check_files(),
        }
    }

    fn check_store(&self, url: &str) -> Result<(), Problem> {
        if self.ca_file.is_some() && !url.starts_with("https://") {
            return Err(conflict(
                "--ca-file goes with an https:// URL: a plain http:// store has no certificate to check",
            ));
        }
        if !self.before.is_empty() {
            return Err(conflict(
                "--before goes with --files; with --prometheus, pass --diff DURATION",
            ));
        }
        if self.bearer_token_file.is_some() && self.basic_auth_file.is_some() {
            return Err(conflict(
                "--bearer-token-file cannot be used with --basic-auth-file: pass one of them",
            ));
        }
        let userinfo = url
            .split_once("://")
            .and_then(|(_, rest)| rest.split('/').next())
            .is_some_and(|authority| authority.contains('@'));
        if userinfo && (self.bearer_token_file.is_some() || self.basic_auth_file.is_some()) {
            return Err(conflict(
                "the --prometheus URL holds credentials: drop them, or --bearer-token-file / --basic-auth-file",
            ));
        }
        Ok(())
    }

    fn check_files(&self) -> Result<(), Problem> {
        if self.diff.is_some() {
            return Err(conflict(
                "--diff goes with --prometheus; with --files, pass --before FILE... (the earlier files)",
            ));
        }
        let store_only = [
            (self.at.is_some(), "--at"),
            (self.ca_file.is_some(), "--ca-file"),
            (self.bearer_token_file.is_some(), "--bearer-token-file"),
            (self.basic_auth_file.is_some(), "--basic-auth-file"),
            (!self.headers.is_empty(), "--header"),
        ];
        match store_only.iter().find(|(given, _)| *given) {
            Some((_, flag)) => Err(conflict(&format!(
                "{flag} goes with --prometheus, not --files"
            ))),
            None => Ok(()),
        }
    }
}

fn parse_window(text: &str) -> Result<Duration, String> {
    parse_bounded(text, Duration::from_secs(30 * 24 * 3600))
}

/// An http:// or https:// URL: without a scheme, say which to add rather
/// than what the HTTP library makes of it.
fn parse_url(text: &str) -> Result<String, String> {
    match text.split_once("://") {
        Some(("http" | "https", rest)) if !rest.is_empty() => Ok(text.to_string()),
        Some((scheme, _)) => Err(format!(
            "{scheme}:// is not a scheme planet speaks; use http:// or https://"
        )),
        None => Err(format!("no scheme; write http://{text} or https://{text}")),
    }
}

/// RFC 3339 (`2026-11-30T14:00:00Z`) or Unix seconds, fractions allowed.
fn parse_time(text: &str) -> Result<SystemTime, String> {
    if let Ok(seconds) = text.parse::<f64>() {
        return match seconds.is_finite() && seconds >= 0.0 {
            true => Ok(UNIX_EPOCH + Duration::from_secs_f64(seconds)),
            false => Err("must be a time after 1970".into()),
        };
    }
    humantime::parse_rfc3339_weak(text)
        .map_err(|_| "must be RFC 3339 (2026-11-30T14:00:00Z) or Unix seconds".to_string())
}

/// `Name: value`, as curl's -H takes it.
fn parse_header(text: &str) -> Result<(String, String), String> {
    let (name, value) = text.split_once(':').ok_or("must be 'Name: value'")?;
    let name = name.trim();
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !valid {
        return Err("the header name must be a token (letters, digits, -)".into());
    }
    if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err("the header value may not hold a line break".into());
    }
    Ok((name.to_string(), value.trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_need_a_scheme_planet_speaks() {
        assert!(parse_url("http://localhost:9090").is_ok());
        assert!(parse_url("https://mimir.example/prometheus").is_ok());
        assert_eq!(
            parse_url("127.0.0.1:9090").unwrap_err(),
            "no scheme; write http://127.0.0.1:9090 or https://127.0.0.1:9090"
        );
        assert!(parse_url("ftp://x")
            .unwrap_err()
            .contains("use http:// or https://"));
    }

    #[test]
    fn times_and_headers_parse_as_documented() {
        let at = parse_time("2026-11-30T14:00:00Z").unwrap();
        assert_eq!(parse_time("1796047200").unwrap(), at);
        assert!(parse_time("yesterday").is_err());
        assert_eq!(
            parse_header("X-Scope-OrgID: tenant-1").unwrap(),
            ("X-Scope-OrgID".into(), "tenant-1".into())
        );
        assert!(parse_header("no colon").is_err());
        assert!(parse_header("Bad Name: x").is_err());
    }
}
