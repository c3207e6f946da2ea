//! The proxy for a store, chosen from the environment as curl chooses it,
//! and the way through it: a CONNECT tunnel for `https://` (ureq's), the
//! absolute URL in each request for `http://` (planet's own, below).

use std::net::IpAddr;

use percent_encoding::percent_decode_str;
use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, DefaultConnector, NextTimeout, Transport,
};
use ureq::{Agent, Proxy, ProxyProtocol};

/// The environment variable `name`, unset when empty (as curl reads it).
pub fn env(name: &str) -> Option<String> {
    let value = std::env::var_os(name)?;
    Some(value.to_string_lossy().into_owned()).filter(|v| !v.is_empty())
}

/// The proxy for a request to `host`, and the variable that named it, as
/// curl chooses: none when `no_proxy` (else `NO_PROXY`) covers the host;
/// else for https `https_proxy`, then `HTTPS_PROXY`; for http `http_proxy`
/// only (never `HTTP_PROXY`, which a CGI request can set); then
/// `all_proxy`, then `ALL_PROXY`. An empty variable counts as unset.
pub fn choose_proxy(
    https: bool,
    host: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Option<(&'static str, String)> {
    let no_proxy = env("no_proxy").or_else(|| env("NO_PROXY"));
    if no_proxy.is_some_and(|list| bypasses(host, &list)) {
        return None;
    }
    let names: &[&'static str] = match https {
        true => &["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"],
        false => &["http_proxy", "all_proxy", "ALL_PROXY"],
    };
    names.iter().find_map(|name| Some((*name, env(name)?)))
}

/// Whether the `NO_PROXY` list covers `host`, by curl's rules: `*` alone
/// covers every host; otherwise a comma-separated list (blanks around the
/// entries allowed) of names, each covering itself and its subdomains
/// (`example.com` and `.example.com` both cover `www.example.com`, any
/// case, a trailing dot ignored), and of IP addresses, each covering
/// itself or, with `/bits`, its network. A name never covers an address.
fn bypasses(host: &str, list: &str) -> bool {
    if list == "*" {
        return true;
    }
    let ip: Option<IpAddr> = host.parse().ok();
    let name = host.strip_suffix('.').unwrap_or(host);
    let blank = |c: char| c == ' ' || c == '\t';
    let mut rest = list;
    loop {
        rest = rest.trim_start_matches(blank);
        let end = rest.find(|c| c == ',' || blank(c)).unwrap_or(rest.len());
        let (token, after) = rest.split_at(end);
        let covered = match ip {
            _ if token.is_empty() => false,
            Some(ip) => covers_address(token, ip),
            None => covers_name(token, name),
        };
        if covered {
            return true;
        }
        rest = after.trim_start_matches(blank);
        if !rest.starts_with(',') {
            return false;
        }
        rest = rest.trim_start_matches(',');
    }
}

fn covers_name(token: &str, name: &str) -> bool {
    let token = token.strip_suffix('.').unwrap_or(token);
    let token = token.strip_prefix('.').unwrap_or(token).as_bytes();
    let name = name.as_bytes();
    match token.len().cmp(&name.len()) {
        std::cmp::Ordering::Equal => token.eq_ignore_ascii_case(name),
        std::cmp::Ordering::Less => {
            let tail = name.len() - token.len();
            name[tail - 1] == b'.' && name[tail..].eq_ignore_ascii_case(token)
        }
        std::cmp::Ordering::Greater => false,
    }
}

/// An address, or `address/bits`, against `ip` (the same family only).
/// As curl: no bits (or 0) means the address itself.
fn covers_address(token: &str, ip: IpAddr) -> bool {
    let (address, bits) = match token.split_once('/') {
        Some((address, bits)) => match bits.parse::<u32>() {
            Ok(bits) => (address, bits),
            Err(_) => return false,
        },
        None => (token, 0),
    };
    let (ip, network, width) = match (ip, address.parse::<IpAddr>()) {
        (IpAddr::V4(ip), Ok(IpAddr::V4(net))) => {
            (u32::from(ip) as u128, u32::from(net) as u128, 32)
        }
        (IpAddr::V6(ip), Ok(IpAddr::V6(net))) => (u128::from(ip), u128::from(net), 128),
        _ => return false,
    };
    let bits = match bits {
        0 => width,
        bits if bits > width => return false,
        bits => bits,
    };
    let shift = width - bits;
    (ip >> shift) == (network >> shift)
}

/// A proxy from the environment: `[http://][user[:password]@]host[:port]`,
/// port 1080 when none is given (curl's default).
#[derive(Debug)]
pub struct ProxyUrl {
    /// As written, an IPv6 address in brackets.
    host: String,
    port: u16,
    /// Percent-decoded.
    pub credentials: Option<(Vec<u8>, Vec<u8>)>,
}

impl ProxyUrl {
    pub fn parse(value: &str) -> Result<ProxyUrl, String> {
        let after = match value.split_once("://") {
            Some((scheme, after)) if scheme.eq_ignore_ascii_case("http") => after,
            Some((scheme, _)) => {
                return Err(format!(
                    "a {scheme}:// proxy; planet speaks to http:// proxies only"
                ))
            }
            None => value,
        };
        let authority = after.split('/').next().unwrap_or_default();
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((userinfo, hostport)) => (Some(userinfo), hostport),
            None => (None, authority),
        };
        let host = match hostport.starts_with('[') {
            true => hostport.split_inclusive(']').next().unwrap_or_default(),
            false => hostport.split(':').next().unwrap_or_default(),
        };
        let port = match &hostport[host.len()..] {
            "" => 1080,
            port => (port.strip_prefix(':'))
                .and_then(|p| p.parse().ok())
                .ok_or("not host:port")?,
        };
        if host.is_empty() || host == "[]" {
            return Err("no host in it".into());
        }
        let credentials = userinfo.map(|userinfo| {
            let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
            let decode = |text: &str| percent_decode_str(text).collect::<Vec<u8>>();
            (decode(user), decode(password))
        });
        Ok(ProxyUrl {
            host: host.to_string(),
            port,
            credentials,
        })
    }

    /// ureq's CONNECT proxy for this one, for `https://`.
    pub fn tunnel(&self) -> Result<Proxy, ureq::Error> {
        let mut proxy = Proxy::builder(ProxyProtocol::Http)
            .host(&self.host)
            .port(self.port);
        if let Some((user, password)) = &self.credentials {
            proxy = proxy
                .username(&String::from_utf8_lossy(user))
                .password(&String::from_utf8_lossy(password));
        }
        proxy.build()
    }

    /// An agent that asks this proxy for `http://` URLs, in absolute form.
    pub fn absolute(&self, config: Config) -> Result<Agent, String> {
        let at: Uri = (format!("http://{}:{}", self.host, self.port).parse())
            .map_err(|_| "not host:port".to_string())?;
        let resolver = ThroughProxy {
            at,
            resolver: DefaultResolver::default(),
        };
        Ok(Agent::with_parts(
            config,
            DefaultConnector::new().chain(AbsoluteForm),
            resolver,
        ))
    }
}

/// Every host resolves to the proxy: an `http://` request goes there.
#[derive(Debug)]
struct ThroughProxy {
    at: Uri,
    resolver: DefaultResolver,
}

impl Resolver for ThroughProxy {
    fn resolve(
        &self,
        _: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        self.resolver.resolve(&self.at, config, timeout)
    }
}

/// A connection to a proxy, on which each request names its target in
/// full (`GET http://host:port/path HTTP/1.1`, RFC 9112's absolute form)
/// rather than by path alone. ureq writes the origin form; this rewrites
/// the request line as it is sent. (ureq's transport API is not under
/// semver: a ureq upgrade that changes it fails the build, not a run.)
#[derive(Debug)]
struct AbsoluteForm;

impl Connector<Box<dyn Transport>> for AbsoluteForm {
    type Out = Absolute;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<Box<dyn Transport>>,
    ) -> Result<Option<Absolute>, ureq::Error> {
        let authority = details.uri.authority().map_or("", |a| a.as_str());
        Ok(chained.map(|inner| Absolute {
            inner,
            target: format!("http://{authority}"),
            request_next: true,
        }))
    }
}

#[derive(Debug)]
struct Absolute {
    inner: Box<dyn Transport>,
    /// `http://host:port`, put before the path.
    target: String,
    /// Whether the next bytes sent begin a request (a GET has no body, so
    /// each request is sent before its answer is read).
    request_next: bool,
}

impl Transport for Absolute {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        let output = &self.inner.buffers().output()[..amount];
        let method = output.iter().position(|&b| b == b' ').unwrap_or(0);
        let origin_form = std::mem::take(&mut self.request_next)
            && method > 0
            && output[..method].iter().all(u8::is_ascii_uppercase)
            && output.get(method + 1) == Some(&b'/');
        if !origin_form {
            return self.inner.transmit_output(amount, timeout);
        }
        let path = output[method + 1..].to_vec();
        let head = [&output[..=method], self.target.as_bytes()].concat();
        for part in [head, path] {
            self.inner.buffers().output()[..part.len()].copy_from_slice(&part);
            self.inner.transmit_output(part.len(), timeout)?;
        }
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.request_next = true;
        self.inner.await_input(timeout)
    }

    fn is_open(&mut self) -> bool {
        self.inner.is_open()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            (vars.iter())
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
                .filter(|v| !v.is_empty())
        }
    }

    #[test]
    fn the_proxy_is_chosen_by_scheme_as_curl_does() {
        let all = [
            ("http_proxy", "lower-http"),
            ("HTTP_PROXY", "upper-http"),
            ("https_proxy", "lower-https"),
            ("HTTPS_PROXY", "upper-https"),
            ("ALL_PROXY", "upper-all"),
        ];
        let chosen =
            |https: bool, vars: &[(&str, &str)]| choose_proxy(https, "prom.example", with(vars));
        assert_eq!(
            chosen(false, &all),
            Some(("http_proxy", "lower-http".into()))
        );
        assert_eq!(
            chosen(true, &all),
            Some(("https_proxy", "lower-https".into()))
        );
        // HTTP_PROXY is never read; https reads both cases; ALL_PROXY is last.
        let upper = [("HTTP_PROXY", "u"), ("HTTPS_PROXY", "s")];
        assert_eq!(chosen(false, &upper), None);
        assert_eq!(chosen(true, &upper), Some(("HTTPS_PROXY", "s".into())));
        let fallback = [("HTTP_PROXY", "u"), ("ALL_PROXY", "a")];
        assert_eq!(chosen(false, &fallback), Some(("ALL_PROXY", "a".into())));
        // Empty is unset.
        let empty = [("https_proxy", ""), ("HTTPS_PROXY", "s")];
        assert_eq!(chosen(true, &empty), Some(("HTTPS_PROXY", "s".into())));
        // no_proxy before NO_PROXY.
        let bypass = [
            ("http_proxy", "p"),
            ("no_proxy", "other"),
            ("NO_PROXY", "*"),
        ];
        assert_eq!(chosen(false, &bypass), Some(("http_proxy", "p".into())));
        let bypass = [("http_proxy", "p"), ("NO_PROXY", "*")];
        assert_eq!(chosen(false, &bypass), None);
    }

    #[test]
    fn no_proxy_lists_match_as_curls_do() {
        let cases = [
            ("example.com", "example.com", true),
            ("www.example.com", "example.com", true),
            ("www.example.com", ".example.com", true),
            ("example.com", ".example.com", true),
            ("WWW.Example.COM.", "example.com.", true),
            ("nonexample.com", "example.com", false),
            ("example.com", "www.example.com", false),
            ("a.b", "x, a.b", true),
            ("a.b", "x ,a.b", true),
            ("a.b", ",,x,,a.b,", true),
            // Blanks end the list unless a comma follows them, as in curl.
            ("a.b", "x a.b", false),
            ("anything", "*", true),
            ("anything", "x,*", false),
            ("127.0.0.1", "127.0.0.1", true),
            ("127.0.0.1", "127.0.0.2", false),
            ("127.0.0.1", "127.0.0.0/8", true),
            ("128.0.0.1", "127.0.0.0/8", false),
            ("127.0.0.1", "localhost", false),
            ("127.0.0.1", "127.0.0.0/33", false),
            ("::1", "::1", true),
            ("::1", "::/0", false),
            ("2001:db8::5", "2001:db8::/32", true),
            ("2001:db9::5", "2001:db8::/32", false),
            ("127.0.0.1", "::1", false),
        ];
        for (host, list, expected) in cases {
            assert_eq!(bypasses(host, list), expected, "{host} in {list:?}");
        }
    }

    #[test]
    fn proxy_urls_parse_as_curl_reads_them() {
        let proxy = ProxyUrl::parse("proxy.example").unwrap();
        assert_eq!((proxy.host.as_str(), proxy.port), ("proxy.example", 1080));
        let proxy = ProxyUrl::parse("http://u%3Ax:p%40ss@[::1]:3128/").unwrap();
        assert_eq!((proxy.host.as_str(), proxy.port), ("[::1]", 3128));
        assert_eq!(proxy.credentials, Some((b"u:x".to_vec(), b"p@ss".to_vec())));
        assert!(ProxyUrl::parse("socks5://h:1")
            .unwrap_err()
            .contains("http:// proxies only"));
        assert!(ProxyUrl::parse("http://h:port").is_err());
        assert!(ProxyUrl::parse("http://:3128").is_err());
    }
}
