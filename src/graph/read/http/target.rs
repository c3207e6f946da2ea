//! The store as given: its URL's parts, and the credentials its URL or
//! files hold.

use std::path::Path;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use percent_encoding::percent_decode_str;

use super::super::prometheus::Store;
use crate::error::Error;
use crate::output::read::read_limited;

/// A token or `user:password` file: far below this.
const MAX_SECRET: u64 = 64 << 10;

/// The parts of an `http://` or `https://` URL that planet uses.
pub struct Url {
    pub https: bool,
    /// As written, percent-encoded: `user:password`.
    userinfo: Option<String>,
    /// `host[:port]`, as written.
    authority: String,
    /// The host alone, without an IPv6 address' brackets.
    pub host: String,
    /// The path prefix (and anything after it), as written.
    rest: String,
}

impl Url {
    pub fn parse(url: &str) -> Result<Url, String> {
        let (https, after) = match url.split_once("://") {
            Some(("http", after)) => (false, after),
            Some(("https", after)) => (true, after),
            _ => return Err("not an http:// or https:// URL".into()),
        };
        let end = after.find(['/', '?', '#']).unwrap_or(after.len());
        let (authority, rest) = after.split_at(end);
        let (userinfo, authority) = match authority.rsplit_once('@') {
            Some((userinfo, authority)) => (Some(userinfo.to_string()), authority),
            None => (None, authority),
        };
        let host = host_of(authority);
        if host.is_empty() {
            return Err("no host in the URL".into());
        }
        Ok(Url {
            https,
            userinfo,
            authority: authority.to_string(),
            host: host.to_string(),
            rest: rest.to_string(),
        })
    }

    fn scheme(&self) -> &'static str {
        match self.https {
            true => "https",
            false => "http",
        }
    }

    /// What is asked: no userinfo (planet sends the credentials itself).
    pub fn base(&self) -> String {
        let url = format!("{}://{}{}", self.scheme(), self.authority, self.rest);
        url.trim_end_matches('/').to_string()
    }

    pub fn shown(&self) -> String {
        let userinfo = match self.userinfo {
            Some(_) => "***@",
            None => "",
        };
        let url = format!(
            "{}://{userinfo}{}{}",
            self.scheme(),
            self.authority,
            self.rest
        );
        url.trim_end_matches('/').to_string()
    }
}

/// A URL that did not parse, shown with anything before an `@` in its
/// authority as `***`.
pub fn shown_raw(url: &str) -> String {
    let (scheme, after) = url.split_once("://").unwrap_or(("", url));
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    match after[..end].rsplit_once('@') {
        Some((_, authority)) => format!("{scheme}://***@{authority}{}", &after[end..]),
        None => url.to_string(),
    }
}

/// The host of `host[:port]` or `[v6][:port]`.
fn host_of(authority: &str) -> &str {
    match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    }
}

/// The `Authorization` value the store's credentials make, if any; what
/// must stay out of messages goes into `secrets`.
pub fn authorization(
    store: &Store,
    url: &Url,
    secrets: &mut Vec<String>,
) -> Result<Option<String>, Error> {
    if let Some(path) = &store.bearer_token_file {
        let token = read_secret(path)?;
        let token = std::str::from_utf8(&token)
            .ok()
            .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_graphic()))
            .ok_or_else(|| {
                Error::config(path, "not a bearer token (empty, or not printable ASCII)")
            })?;
        secrets.push(token.to_string());
        let value = format!("Bearer {token}");
        secrets.push(value.clone());
        return Ok(Some(value));
    }
    if let Some(path) = &store.basic_auth_file {
        let pair = read_secret(path)?;
        let Some(colon) = pair.iter().position(|&b| b == b':') else {
            return Err(Error::config(path, "not user:password (no colon)"));
        };
        let credentials = (pair[..colon].to_vec(), pair[colon + 1..].to_vec());
        secrets.push(String::from_utf8_lossy(&credentials.1).into_owned());
        return Ok(Some(basic(&credentials, secrets)));
    }
    let Some(userinfo) = &url.userinfo else {
        return Ok(None);
    };
    secrets.push(userinfo.clone());
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let decode = |text: &str| percent_decode_str(text).collect::<Vec<u8>>();
    let credentials = (decode(user), decode(password));
    secrets.push(password.to_string());
    secrets.push(String::from_utf8_lossy(&credentials.1).into_owned());
    Ok(Some(basic(&credentials, secrets)))
}

/// `Basic base64(user:password)`, its encoding a secret too.
pub fn basic(credentials: &(Vec<u8>, Vec<u8>), secrets: &mut Vec<String>) -> String {
    let pair = [&credentials.0[..], b":", &credentials.1[..]].concat();
    let encoded = BASE64.encode(pair);
    secrets.push(encoded.clone());
    format!("Basic {encoded}")
}

/// A credential file's content, whitespace around it trimmed (as
/// Prometheus trims its own `password_file`).
fn read_secret(path: &Path) -> Result<Vec<u8>, Error> {
    let data = read_limited(path, MAX_SECRET)?;
    Ok(data.trim_ascii().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::read::http::scrub;

    #[test]
    fn userinfo_is_shown_as_stars_and_never_asked_with() {
        let url = Url::parse("https://us%40er:p%3Ass@mimir.example:443/prometheus/").unwrap();
        assert_eq!(url.shown(), "https://***@mimir.example:443/prometheus");
        assert_eq!(url.base(), "https://mimir.example:443/prometheus");
        assert_eq!(url.host, "mimir.example");
        let store = Store {
            url: "x".into(),
            ..Store::default()
        };
        let mut secrets = Vec::new();
        let value = authorization(&store, &url, &mut secrets).unwrap().unwrap();
        assert_eq!(value, format!("Basic {}", BASE64.encode("us@er:p:ss")));
        let message = scrub(format!("{value} p:ss p%3Ass us%40er:p%3Ass"), &secrets);
        assert_eq!(message, "Basic *** *** *** ***");
        assert_eq!(Url::parse("http://[::1]:9090").unwrap().host, "::1");
        assert_eq!(shown_raw("http://a:b@"), "http://***@");
    }
}
