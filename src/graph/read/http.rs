//! How planet reaches a store over HTTP: the URL (its userinfo kept out of
//! every message), TLS against the system's CAs and `--ca-file`'s,
//! credentials and headers, a proxy chosen from the environment as curl
//! chooses it, and answers refused unless 2xx, read up to a cap.
//!
//! Through a proxy, an `https://` store is reached through a CONNECT
//! tunnel and an `http://` one by asking the proxy for the absolute URL
//! (`GET http://host:port/path`), as curl does; ureq tunnels both, and a
//! proxy that allows CONNECT to port 443 only (Squid's default) would
//! refuse a store on port 9090, so the second is done here (see
//! `http/proxy.rs`).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::time::Duration;

use ureq::http::StatusCode;
use ureq::tls::{parse_pem, Certificate, PemItem, RootCerts, TlsConfig};
use ureq::Agent;

use self::proxy::{choose_proxy, env, ProxyUrl};
use self::target::{authorization, basic, shown_raw, Url};
use super::prometheus::Store;
use crate::error::Error;
use crate::output::read::read_limited;

/// A CA file: a bundle of a few hundred certificates fits.
const MAX_CA_FILE: u64 = 4 << 20;
/// What of a refused answer is read, for the API's own reason.
const MAX_REFUSAL: u64 = 64 << 10;
const USER_AGENT: &str = concat!("planet/", env!("CARGO_PKG_VERSION"));

mod proxy;
mod target;

/// Why an answer's body could not be read: the connection (a time-out, an
/// answer over the cap), or what it held.
pub enum BodyError {
    Io(std::io::Error),
    Problem(String),
}

/// A store's HTTP API, ready to ask.
pub struct Client {
    agent: Agent,
    /// The URL without userinfo or a trailing `/`: what is asked.
    base: String,
    /// The URL as messages show it: userinfo as `***`.
    shown: String,
    /// Sent with every request: the credentials, the proxy's, `--header`s.
    headers: Vec<(String, String)>,
    /// The proxy used, by the variable that named it.
    proxy: Option<&'static str>,
    /// What no message may hold: passwords, tokens, and their encodings.
    secrets: Vec<String>,
    timeout: Duration,
    max_body: u64,
}

impl Client {
    /// Reads the credential and CA files and chooses the proxy; each query
    /// then has `timeout`, and its answer may be up to `max_body` bytes.
    pub fn new(store: &Store, timeout: Duration, max_body: u64) -> Result<Client, Error> {
        let url = Url::parse(&store.url).map_err(|problem| Error::Remote {
            url: shown_raw(&store.url),
            problem,
        })?;
        let shown = url.shown();
        let mut secrets = Vec::new();
        let mut headers = Vec::new();
        if let Some(value) = authorization(store, &url, &mut secrets)? {
            headers.push(("Authorization".to_string(), value));
        }
        let chosen = choose_proxy(url.https, &url.host, env);
        let proxy = match &chosen {
            Some((variable, value)) => Some(ProxyUrl::parse(value).map_err(|why| {
                remote(&shown, &secrets, format!("the proxy in {variable}: {why}"))
            })?),
            None => None,
        };
        if let Some(credentials) = proxy.as_ref().and_then(|p| p.credentials.as_ref()) {
            secrets.push(String::from_utf8_lossy(&credentials.1).into_owned());
            let value = basic(credentials, &mut secrets);
            // Through a CONNECT tunnel, ureq sends it to the proxy itself.
            if !url.https {
                headers.push(("Proxy-Authorization".to_string(), value));
            }
        }
        // A --header replaces planet's own of the same name, as curl's -H does.
        headers.retain(|(name, _)| {
            !(store.headers.iter()).any(|(given, _)| given.eq_ignore_ascii_case(name))
        });
        for (name, value) in &store.headers {
            let lower = name.to_ascii_lowercase();
            if lower == "authorization" || lower == "proxy-authorization" {
                secrets.push(value.clone());
            }
            headers.push((name.clone(), value.clone()));
        }
        secrets.retain(|s| !s.is_empty());
        let fail = |problem: String| remote(&shown, &secrets, problem);
        let mut config = Agent::config_builder()
            .timeout_global(Some(timeout))
            .max_redirects(0)
            .http_status_as_error(false)
            .user_agent(USER_AGENT)
            .proxy(None);
        if url.https {
            config = config.tls_config(
                TlsConfig::builder()
                    .root_certs(roots(store.ca_file.as_deref())?)
                    .build(),
            );
        }
        let agent = match (&proxy, url.https) {
            (None, _) => Agent::new_with_config(config.build()),
            (Some(proxy), true) => {
                let tunnel = (proxy.tunnel()).map_err(|e| fail(format!("the proxy: {e}")))?;
                Agent::new_with_config(config.proxy(Some(tunnel)).build())
            }
            (Some(proxy), false) => {
                (proxy.absolute(config.build())).map_err(|e| fail(format!("the proxy: {e}")))?
            }
        };
        Ok(Client {
            agent,
            base: url.base(),
            shown,
            headers,
            proxy: chosen.map(|(variable, _)| variable),
            secrets,
            timeout,
            max_body,
        })
    }

    /// The URL as messages show it.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// The run's error for `problem` at this store, one line, no secret.
    pub fn fail(&self, problem: String) -> Error {
        remote(&self.shown, &self.secrets, problem)
    }

    /// GET `path` under the URL with `query`, when the status is 2xx:
    /// `read` takes the answer's body as it arrives (at most `max_body`
    /// bytes, within the query's time), so no answer is held whole.
    pub fn get<T>(
        &self,
        path: &str,
        query: &[(&str, &str)],
        read: impl FnOnce(&mut dyn BufRead) -> Result<T, BodyError>,
    ) -> Result<T, Error> {
        let mut request = self.agent.get(format!("{}{path}", self.base));
        for (name, value) in query {
            request = request.query(*name, *value);
        }
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let mut response = request.call().map_err(|e| self.fail(self.describe(e)))?;
        let status = response.status();
        if status.is_redirection() {
            let to = (response.headers().get("location"))
                .map(|to| shown_raw(&String::from_utf8_lossy(to.as_bytes())));
            return Err(self.fail(self.via(refusal(status, to.as_deref(), None))));
        }
        if !status.is_success() {
            let reason = (response.body_mut().with_config())
                .limit(MAX_REFUSAL)
                .read_to_string()
                .ok()
                .and_then(|body| api_error(&body));
            return Err(self.fail(self.via(refusal(status, None, reason))));
        }
        let body = (response.into_body().into_with_config())
            .limit(self.max_body)
            .reader();
        read(&mut BufReader::with_capacity(64 << 10, body)).map_err(|e| match e {
            BodyError::Io(e) => self.fail(self.describe(ureq::Error::from(e))),
            BodyError::Problem(problem) => self.fail(problem),
        })
    }

    /// What went wrong in ureq's words, said for this store.
    fn describe(&self, error: ureq::Error) -> String {
        let text = match error {
            ureq::Error::Timeout(_) => format!("no answer within {:?}", self.timeout),
            ureq::Error::HostNotFound => "host not found".to_string(),
            ureq::Error::BodyExceedsLimit(max) => format!("an answer larger than {max} bytes"),
            ureq::Error::Io(e) => e.to_string(),
            ureq::Error::Rustls(e) => format!("TLS: {e}"),
            ureq::Error::Tls(e) => format!("TLS: {e}"),
            ureq::Error::ConnectProxyFailed(e) => e,
            other => other.to_string(),
        };
        let text = match (text.contains("certificate"), text.starts_with("TLS")) {
            (true, false) => format!("TLS: {text}"),
            _ => text,
        };
        let text = match text.contains("UnknownIssuer") {
            true => format!("{text} (is the CA that signed it in --ca-file?)"),
            false => text,
        };
        self.via(text)
    }

    /// `text`, and the proxy it came through, if one.
    fn via(&self, text: String) -> String {
        match self.proxy {
            Some(variable) => format!("{text} (through the proxy in {variable})"),
            None => text,
        }
    }
}

/// A non-2xx answer's line: its status, where a redirect points (never
/// followed), and the Prometheus API's own reason where it gave one.
fn refusal(status: StatusCode, location: Option<&str>, reason: Option<String>) -> String {
    let mut line = format!("HTTP {}", status.as_u16());
    if let Some(phrase) = status.canonical_reason() {
        line = format!("{line} {phrase}");
    }
    if status.is_redirection() {
        let to = location.map_or(String::new(), |to| format!(" to {}", clip(to)));
        line = format!("{line}: a redirect{to}, not followed (give the URL it names)");
    }
    match reason {
        Some(reason) => format!("{line}: {}", clip(&reason)),
        None => line,
    }
}

/// The `error` of a Prometheus API error answer, on one line.
fn api_error(body: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Refusal {
        status: String,
        error: String,
    }
    let refusal: Refusal = serde_json::from_str(body).ok()?;
    (refusal.status == "error").then_some(refusal.error)
}

/// What a server said, cut to 200 characters.
fn clip(text: &str) -> String {
    text.chars().take(200).collect()
}

/// The run's error for `problem` at the store shown as `shown`: one line,
/// no secret in it.
fn remote(shown: &str, secrets: &[String], problem: String) -> Error {
    let line: String = (problem.chars())
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    Error::Remote {
        url: shown.to_string(),
        problem: scrub(line.trim().to_string(), secrets),
    }
}

/// `text` with every secret in it replaced by `***`.
fn scrub(mut text: String, secrets: &[String]) -> String {
    let mut secrets: Vec<&String> = secrets.iter().filter(|s| !s.is_empty()).collect();
    // The longest first: none is left half-replaced by a shorter one.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for secret in secrets {
        text = text.replace(secret.as_str(), "***");
    }
    text
}

/// The system's CA certificates (SSL_CERT_FILE and SSL_CERT_DIR, else the
/// distribution's bundle and directory) and `ca_file`'s.
fn roots(ca_file: Option<&Path>) -> Result<RootCerts, Error> {
    let system = rustls_native_certs::load_native_certs();
    let mut certs: Vec<Certificate<'static>> = (system.certs.iter())
        .map(|der| Certificate::from_der(der.as_ref()).to_owned())
        .collect();
    if let Some(path) = ca_file {
        let pem = read_limited(path, MAX_CA_FILE)?;
        let before = certs.len();
        for item in parse_pem(&pem) {
            match item {
                Ok(PemItem::Certificate(cert)) => certs.push(cert),
                Ok(_) => {}
                Err(e) => return Err(Error::config(path, format!("not PEM: {e}"))),
            }
        }
        if certs.len() == before {
            return Err(Error::config(
                path,
                "no PEM certificate (-----BEGIN CERTIFICATE-----) in it",
            ));
        }
    }
    Ok(RootCerts::Specific(std::sync::Arc::new(certs)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_the_status() {
        assert_eq!(
            refusal(StatusCode::UNAUTHORIZED, None, None),
            "HTTP 401 Unauthorized"
        );
        assert_eq!(
            refusal(StatusCode::from_u16(599).unwrap(), None, None),
            "HTTP 599"
        );
        assert_eq!(
            refusal(StatusCode::FOUND, Some("/elsewhere"), None),
            "HTTP 302 Found: a redirect to /elsewhere, not followed (give the URL it names)"
        );
        let body = r#"{"status":"error","errorType":"timeout","error":"query timed\nout"}"#;
        let error = remote(
            "u",
            &[],
            refusal(StatusCode::SERVICE_UNAVAILABLE, None, api_error(body)),
        );
        assert_eq!(
            error.to_string(),
            "u: HTTP 503 Service Unavailable: query timed out"
        );
    }
}
