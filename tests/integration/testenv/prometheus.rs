//! A real Prometheus on loopback, and node_exporters for it to scrape:
//! the store `planet graph --prometheus` reads, as it runs in production.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::holders::free_port;
use super::oracles::{http_get, tool};
use super::{wait_for, write_file, Running};

/// A Prometheus on a loopback port of its own, its configuration (and,
/// unless given blocks, its data) in a temporary directory; killed when
/// dropped.
pub struct Prometheus {
    port: u16,
    _server: Running,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    /// Scraping `targets` (`ADDR:PORT` each, as job `planet`) every second.
    /// None (a skip) when Prometheus is not installed.
    pub fn scraping(targets: &[String]) -> Option<Prometheus> {
        Prometheus::start(&scrape_every_second(targets), None, None)
    }

    /// As [`Prometheus::scraping`], serving as the web configuration file
    /// `web_config` says (TLS, users): reach it at [`Prometheus::port`]
    /// with the scheme and credentials that asks for.
    pub fn scraping_behind(targets: &[String], web_config: &Path) -> Option<Prometheus> {
        Prometheus::start(&scrape_every_second(targets), None, Some(web_config))
    }

    /// Over the blocks in `tsdb` (made by `promtool tsdb
    /// create-blocks-from`, say), with nothing to scrape.
    pub fn over_blocks(tsdb: &Path) -> Option<Prometheus> {
        Prometheus::start("global:\n  scrape_interval: 1m\n", Some(tsdb), None)
    }

    fn start(config: &str, tsdb: Option<&Path>, web_config: Option<&Path>) -> Option<Prometheus> {
        let prometheus = tool("prometheus", "prometheus")?;
        let dir = tempfile::tempdir().unwrap();
        let config = write_file(dir.path(), "prometheus.yml", config.as_bytes());
        let tsdb = tsdb.map_or_else(|| dir.path().join("tsdb"), PathBuf::from);
        let port = free_port();
        let mut command = Command::new(prometheus);
        command
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", tsdb.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"));
        if let Some(web_config) = web_config {
            command.arg(format!("--web.config.file={}", web_config.display()));
        }
        let mut server = Running::default();
        server.start(&mut command);
        Some(Prometheus {
            port,
            _server: server,
            _dir: dir,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT` (without a web configuration).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Whether, within a minute, its answer to the instant query `query`
    /// (headers and JSON; empty while it does not answer) passes `check`.
    pub fn wait_until(&self, query: &str, check: impl Fn(&str) -> bool) -> bool {
        let path = format!("/api/v1/query?query={}", url_encoded(query));
        wait_for(Duration::from_secs(60), || {
            check(&http_get(self.port, &path).unwrap_or_default())
        })
    }

    /// Whether it is ready (`/-/ready` answers 200, its blocks loaded)
    /// within a minute.
    pub fn wait_ready(&self) -> bool {
        wait_for(Duration::from_secs(60), || {
            http_get(self.port, "/-/ready").is_some_and(|page| page.contains(" 200 "))
        })
    }
}

/// A `prometheus.yml` that scrapes `targets` every second.
fn scrape_every_second(targets: &[String]) -> String {
    let quoted: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
    format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: planet\n    static_configs:\n      - targets: [{}]\n",
        quoted.join(", ")
    )
}

/// `text` as a URL's query value: letters, digits, `_` and `:` as they
/// are, every other byte percent-encoded.
fn url_encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b':' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// node_exporter (`program`, found with [`tool`]) serving the `.prom`
/// files in `textfile` and nothing else, on `listen` (`ADDR:PORT`): the
/// command, to start.
pub fn textfile_exporter(program: &Path, textfile: &Path, listen: &str) -> Command {
    let mut command = Command::new(program);
    command
        .args(["--collector.disable-defaults", "--collector.textfile"])
        .arg(format!(
            "--collector.textfile.directory={}",
            textfile.display()
        ))
        .arg(format!("--web.listen-address={listen}"));
    command
}
