//! Fetching a source: a local exporter over plain HTTP, or a file. The
//! source's timeout bounds the HTTP exchange; a file is read without
//! blocking (FIFOs and devices are refused), up to the same size cap.

use super::{Location, Source, MAX_BODY};
use crate::output::read::read_limited;

pub fn fetch(source: &Source) -> Result<String, String> {
    match &source.location {
        Location::File(path) => {
            let data = read_limited(path, MAX_BODY).map_err(|e| e.to_string())?;
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
            // Anything but 2xx, a redirect included, is a source that is down:
            // its body is not the page the rules were written for.
            let status = response.status();
            if !status.is_success() {
                return Err(format!("{url}: HTTP {status}"));
            }
            response
                .body_mut()
                .with_config()
                .limit(MAX_BODY)
                .read_to_string()
                .map_err(|e| format!("{url}: {e}"))
        }
    }
}
