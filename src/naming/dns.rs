//! Reverse DNS under one time budget per run.
//!
//! hickory-resolver is async; the rest of planet is not. A current-thread
//! tokio runtime lives here and nowhere else: all look-ups of a run are
//! started at once, and whatever has not answered when the budget ends is
//! reported as a timeout, so the output file is still written on time.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::TokioResolver;

use crate::error::Error;

/// Look-ups of one run in flight at once: enough to name 1,000 peers from
/// a resolver on the LAN well within the default budget, few enough that
/// 20,000 peers do not mean 20,000 sockets and tasks.
const IN_FLIGHT: usize = 256;

/// What one reverse look-up came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The chosen PTR name (without the trailing dot) and its TTL.
    Name(String, Duration),
    /// NXDOMAIN, or no PTR record.
    NoName,
    Timeout,
    Error,
}

pub struct Resolver {
    runtime: tokio::runtime::Runtime,
    resolver: TokioResolver,
    budget: Duration,
}

impl Resolver {
    /// The system's resolver (`/etc/resolv.conf`, `/etc/hosts`), or the one
    /// server given.
    pub fn new(server: Option<SocketAddr>, budget: Duration) -> Result<Resolver, Error> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Resolver(format!("runtime: {e}")))?;
        let mut builder = match server {
            Some(server) => {
                let mut udp = ConnectionConfig::udp();
                udp.port = server.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = server.port();
                let config = ResolverConfig::from_parts(
                    None,
                    Vec::new(),
                    vec![NameServerConfig::new(server.ip(), true, vec![udp, tcp])],
                );
                TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
            }
            None => TokioResolver::builder_tokio().map_err(|e| {
                Error::config(
                    "/etc/resolv.conf",
                    format!("{e} (use --dns-server or --no-resolve)"),
                )
            })?,
        };
        let options = builder.options_mut();
        // Within the budget, one try per server is all there is time for.
        options.timeout = budget;
        options.attempts = 1;
        // planet keeps its own cache, in the state file.
        options.cache_size = 0;
        let resolver = {
            let _guard = runtime.enter();
            builder
                .build()
                .map_err(|e| Error::Resolver(e.to_string()))?
        };
        Ok(Resolver {
            runtime,
            resolver,
            budget,
        })
    }

    /// Looks every address up, many at once; returns when all have
    /// answered or the budget is spent. At most [`IN_FLIGHT`] look-ups run
    /// at a time and none starts after the deadline, so the work done
    /// within the budget does not grow with the number of peers.
    pub fn reverse_all(&self, addrs: &[IpAddr]) -> HashMap<IpAddr, Answer> {
        let mut answers: HashMap<IpAddr, Answer> = HashMap::with_capacity(addrs.len());
        if addrs.is_empty() {
            return answers;
        }
        self.runtime.block_on(async {
            let deadline = tokio::time::Instant::now() + self.budget;
            let mut lookups = tokio::task::JoinSet::new();
            let mut pending = addrs.iter();
            loop {
                while lookups.len() < IN_FLIGHT && tokio::time::Instant::now() < deadline {
                    let Some(&addr) = pending.next() else {
                        break;
                    };
                    let resolver = self.resolver.clone();
                    lookups.spawn(
                        async move { (addr, classify(resolver.reverse_lookup(addr).await)) },
                    );
                }
                match tokio::time::timeout_at(deadline, lookups.join_next()).await {
                    Ok(Some(Ok((addr, answer)))) => {
                        answers.insert(addr, answer);
                    }
                    Ok(Some(Err(_))) => {} // a look-up that panicked: a timeout below
                    Ok(None) | Err(_) => break, // all done, or out of time
                }
            }
            lookups.abort_all();
        });
        for addr in addrs {
            answers.entry(*addr).or_insert(Answer::Timeout);
        }
        answers
    }
}

fn classify(
    result: Result<hickory_resolver::lookup::Lookup, hickory_resolver::net::NetError>,
) -> Answer {
    match result {
        Ok(lookup) => {
            let names: Vec<String> = lookup
                .answers()
                .iter()
                .filter_map(|record| match &record.data {
                    // ASCII, as sent: punycode stays punycode (a decoded
                    // look-alike would pass for the real name), and a dot
                    // inside a label stays escaped.
                    RData::PTR(ptr) => Some(ptr.0.to_ascii().trim_end_matches('.').to_string()),
                    _ => None,
                })
                .filter(|name| !name.is_empty())
                .collect();
            let ttl = lookup
                .valid_until()
                .saturating_duration_since(std::time::Instant::now());
            match choose(names) {
                Some(name) => Answer::Name(name, ttl),
                None => Answer::NoName,
            }
        }
        Err(e) if e.is_nx_domain() || e.is_no_records_found() => Answer::NoName,
        Err(hickory_resolver::net::NetError::Timeout) => Answer::Timeout,
        Err(_) => Answer::Error,
    }
}

/// Several PTR names (a hosts file lists them in any order): take the most
/// qualified, then the first in byte order, so labels do not flap.
pub fn choose(mut names: Vec<String>) -> Option<String> {
    names.sort_by(|a, b| {
        b.matches('.')
            .count()
            .cmp(&a.matches('.').count())
            .then(a.cmp(b))
    });
    names.into_iter().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_choice_among_several_names_is_stable() {
        let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            choose(names(&["localhost", "ip6-localhost", "ip6-loopback"])),
            Some("ip6-localhost".into())
        );
        assert_eq!(
            choose(names(&["b.example.com", "a", "a.example.com"])),
            Some("a.example.com".into())
        );
        assert_eq!(
            choose(names(&["a.example.com", "b.example.com"])),
            choose(names(&["b.example.com", "a.example.com"]))
        );
        assert_eq!(choose(Vec::new()), None);
    }
}
