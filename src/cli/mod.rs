//! The command line, in one place, so that `--help`, the man page and the shell
//! completions are all generated from the same definition. Collectors bring
//! their own flags ([`collectors::Flags`]), flattened into `planet collect`.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use ipnet::IpNet;

use crate::accounting;
use crate::collectors;
use crate::naming::Resolve;
use crate::snapshot::Scope;

pub mod docs;
mod graph;

pub use graph::{GraphArgs, Group};

#[derive(Debug, Parser)]
#[command(
    name = "planet",
    version,
    about = "What a host serves, what it depends on, and who depends on it, for node_exporter's textfile collector",
    long_about = "planet reads the kernel's socket tables (netlink sock_diag) and per-connection TCP \
counters, maps sockets to processes through /proc, and writes the Prometheus text format \
atomically into node_exporter's textfile directory.",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read the socket tables once (or in a loop) and write the exposition.
    Collect(Box<CollectArgs>),
    /// Draw the fleet's dependency graph from Prometheus, or from the .prom
    /// files of several hosts.
    Graph(Box<GraphArgs>),
    /// Work with a --wrap rules file.
    #[command(subcommand)]
    Wrap(WrapCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), e.g. `planet man | man -l -`.
    Man,
}

#[derive(Debug, Subcommand)]
pub enum WrapCommand {
    /// Check a rules file, fetch its sources once, and print what it would write.
    Check {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

#[derive(Debug, Args)]
#[command(
    override_usage = "planet collect --out DIR [OPTIONS]\n       planet collect --stdout [OPTIONS]"
)]
pub struct CollectArgs {
    /// Write DIR/planet.prom atomically (node_exporter's --collector.textfile.directory).
    #[arg(long, value_name = "DIR", env = "PLANET_OUT")]
    pub out: Option<PathBuf>,

    /// Print the exposition to standard output instead of writing a file.
    #[arg(long)]
    pub stdout: bool,

    /// Which network namespaces to read: every one some process lives in
    /// (containers included), or planet's own only.
    #[arg(long, value_name = "WHICH", value_enum, default_value_t = Scope::All)]
    pub netns: Scope,

    /// Name of the file written in the --out directory; must end in .prom.
    #[arg(long, value_name = "NAME", default_value = "planet.prom", value_parser = parse_file_name)]
    pub file_name: String,

    /// Keep collecting every --interval until SIGTERM or SIGINT.
    #[arg(long = "loop")]
    pub repeat: bool,

    /// Time between two collections with --loop (e.g. 500ms, 15s, 1m; at most 1d) [default: 15s].
    #[arg(long, value_name = "DURATION", value_parser = parse_interval)]
    pub interval: Option<Duration>,

    /// Where counters persist between runs [default: $STATE_DIRECTORY/planet.state
    /// under systemd, else /var/lib/planet/planet.state with --out; none with --stdout].
    #[arg(long, value_name = "PATH")]
    pub state_file: Option<PathBuf>,

    /// Drop a dependency series once it has had no connection for this long.
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = humantime::parse_duration)]
    pub forget_after: Duration,

    /// At most this many peers per family (at most 10000); the rest fold
    /// into name="other".
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = parse_max_peers)]
    pub max_peers: usize,

    /// Leave out peers in this network (repeatable), e.g. 10.0.0.0/8 or ::1.
    #[arg(long = "exclude-peer", value_name = "CIDR", value_parser = parse_cidr)]
    pub exclude_peer: Vec<IpNet>,

    /// Name peers from this inventory first: a JSON array or NDJSON of
    /// {"ip_address": ADDR or CIDR, "domain": ..., "hostgroup": ...}.
    #[arg(long, value_name = "FILE")]
    pub inventory: Option<PathBuf>,

    /// Do not ask DNS for peer names.
    #[arg(long, conflicts_with = "dns_server")]
    pub no_resolve: bool,

    /// Ask this DNS server (port 53 unless given) instead of /etc/resolv.conf's.
    #[arg(long, value_name = "ADDR[:PORT]", value_parser = parse_dns_server)]
    pub dns_server: Option<SocketAddr>,

    /// Time budget for all reverse DNS look-ups of one run (at most 1m).
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_dns_timeout)]
    pub dns_timeout: Duration,

    #[command(flatten)]
    pub collectors: collectors::Flags,
}

impl CollectArgs {
    pub fn accounting(&self) -> accounting::Options {
        accounting::Options {
            forget_after: self.forget_after,
            max_peers: self.max_peers,
            exclude_peer: self.exclude_peer.clone(),
        }
    }

    pub fn resolve(&self) -> Resolve {
        match self.no_resolve {
            true => Resolve::Off,
            false => Resolve::With(self.dns_server, self.dns_timeout),
        }
    }
}

impl Cli {
    /// Parses the command line; exits 2 with a usage message on errors,
    /// including combinations clap cannot express with a clear first line.
    pub fn parse_checked() -> Cli {
        let mut command = Cli::command();
        let matches = command.get_matches_mut();
        let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
        let problem = match (&cli.command, matches.subcommand()) {
            (Command::Collect(args), Some(("collect", sub))) => {
                let from_env = sub.value_source("out") == Some(ValueSource::EnvVariable);
                args.check(from_env).err().map(|p| ("collect", p))
            }
            (Command::Graph(args), _) => args.check().err().map(|p| ("graph", p)),
            _ => None,
        };
        if let Some((name, (kind, message))) = problem {
            // The subcommand's own usage, not the top level's.
            command.build();
            match command.find_subcommand_mut(name) {
                Some(sub) => sub.error(kind, message).exit(),
                None => command.error(kind, message).exit(),
            }
        }
        cli
    }
}

impl CollectArgs {
    /// What clap cannot say well: a destination is needed (which one, and
    /// that PLANET_OUT is one), and `--interval` belongs to `--loop`.
    fn check(&self, out_from_env: bool) -> Result<(), (ErrorKind, String)> {
        match (&self.out, self.stdout) {
            (None, false) => {
                return Err((
                    ErrorKind::MissingRequiredArgument,
                    "pass --out DIR (or set PLANET_OUT) to write the textfile, or --stdout to print it".into(),
                ))
            }
            (Some(dir), true) if out_from_env => {
                return Err((
                    ErrorKind::ArgumentConflict,
                    format!(
                        "--stdout cannot be used with --out, which PLANET_OUT={} sets; unset PLANET_OUT to print",
                        dir.display()
                    ),
                ))
            }
            (Some(_), true) => {
                return Err((
                    ErrorKind::ArgumentConflict,
                    "--stdout cannot be used with --out: pass one of them".into(),
                ))
            }
            _ => {}
        }
        if self.interval.is_some() && !self.repeat {
            return Err((
                ErrorKind::ArgumentConflict,
                "--interval is only used with --loop".into(),
            ));
        }
        Ok(())
    }
}

/// Default time between two collections in `--loop` mode: node_exporter's
/// own scrape interval is typically 15s, so fresher data would never be seen.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(15);

fn parse_file_name(name: &str) -> Result<String, String> {
    if name.contains('/') || name.starts_with('.') {
        return Err("must be a plain file name, not a path or a hidden file".into());
    }
    if name.len() <= ".prom".len() || !name.ends_with(".prom") {
        return Err("must end in .prom (node_exporter reads only *.prom files)".into());
    }
    Ok(name.to_string())
}

fn parse_max_peers(text: &str) -> Result<usize, String> {
    let n: usize = text.parse().map_err(|_| "not a whole number".to_string())?;
    match n <= accounting::MAX_PEERS {
        true => Ok(n),
        false => Err(format!("must be at most {}", accounting::MAX_PEERS)),
    }
}

fn parse_interval(text: &str) -> Result<Duration, String> {
    parse_bounded(text, Duration::from_secs(24 * 3600))
}

fn parse_dns_timeout(text: &str) -> Result<Duration, String> {
    parse_bounded(text, Duration::from_secs(60))
}

/// A duration above zero and at most `max`: an interval of a year is a typo,
/// and must not overflow the clock arithmetic that schedules runs.
pub(crate) fn parse_bounded(text: &str, max: Duration) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if duration.is_zero() {
        return Err("must be greater than zero".into());
    }
    if duration > max {
        return Err(format!(
            "must be at most {}",
            humantime::format_duration(max)
        ));
    }
    Ok(duration)
}

/// A network, or a single address as a /32 or /128.
fn parse_cidr(text: &str) -> Result<IpNet, String> {
    if let Ok(net) = text.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    text.parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| "not an address or CIDR network (e.g. 10.0.0.0/8, fd00::/8, ::1)".into())
}

fn parse_dns_server(text: &str) -> Result<SocketAddr, String> {
    text.parse::<SocketAddr>()
        .or_else(|_| text.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
        .map_err(|_| {
            "not an address or address:port (e.g. 10.0.0.53, 127.0.0.1:5353, [::1]:53)".into()
        })
}
