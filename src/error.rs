//! The one error type of a run, and the one place that turns it into an exit
//! status and a message.
//!
//! cron mails whatever a job prints, and an operator reads the first line of
//! that mail: so every error is one line that starts with the path or value
//! at fault. Usage errors exit 2 and are all clap's (the command line is
//! checked before anything runs); every error here exits 1, and a run that
//! fails leaves the previous output file as it was.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug)]
pub enum Error {
    /// A file the operator gave us (inventory, rules) is not what it must be.
    Config { path: PathBuf, problem: String },
    /// A system call on a path failed; `what` says which step, if not obvious.
    Io {
        path: PathBuf,
        what: &'static str,
        source: io::Error,
    },
    /// The kernel would not tell us something (netlink, signals, threads).
    Kernel(String),
    /// The socket tables could not be read: every collector that needs
    /// them fails with this.
    Sockets(DumpError),
    /// The resolver could not be set up (`--dns-server`, resolv.conf).
    Resolver(String),
    /// A collector that needs the dependency accounting ran without it.
    NotAccounted,
    /// Another planet run holds the state lock.
    Lock { path: PathBuf, waited: Duration },
    /// A server planet asked (Prometheus, for `planet graph`) failed.
    Remote { url: String, problem: String },
    /// `planet graph` found no planet series where it looked (a server's
    /// answers, or the files named).
    NoSeries { looked_in: String },
}

impl Error {
    pub fn io(path: impl AsRef<Path>, source: io::Error) -> Error {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            what: "",
            source,
        }
    }

    /// As [`Error::io`], naming the step that failed (`write`, `fsync`, ...).
    pub fn io_at(path: impl AsRef<Path>, what: &'static str, source: io::Error) -> Error {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            what,
            source,
        }
    }

    pub fn config(path: impl AsRef<Path>, problem: impl Into<String>) -> Error {
        Error::Config {
            path: path.as_ref().to_path_buf(),
            problem: problem.into(),
        }
    }

    /// An I/O error for want of permission, with what the operator can do
    /// about it added to its one line; any other error as it is.
    pub fn hint_if_denied(self, hint: &str) -> Error {
        match self {
            Error::Io { path, what, source }
                if matches!(
                    source.kind(),
                    io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem
                ) =>
            {
                let what = match what {
                    "" => String::new(),
                    what => format!("{what}: "),
                };
                Error::Config {
                    path,
                    problem: format!("{what}{} ({hint})", os_message(&source)),
                }
            }
            other => other,
        }
    }

    /// The process exit status this error ends a run with. (Usage errors,
    /// 2, are clap's and never get this far.)
    pub fn exit_code(&self) -> u8 {
        1
    }

    /// Whether this is a write to a reader that went away (`planet ... | head`),
    /// which is no failure of ours.
    pub fn is_closed_pipe(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == io::ErrorKind::BrokenPipe)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Kernel(message) => f.write_str(message),
            Error::Sockets(dump) => write!(f, "{dump}"),
            Error::Resolver(problem) => write!(f, "DNS resolver: {problem}"),
            Error::NotAccounted => f.write_str("no dependency accounting in this run"),
            Error::NoSeries { looked_in } => write!(f, "{looked_in}: no planet series found"),
            Error::Config { path, problem } => write!(f, "{}: {problem}", path.display()),
            Error::Io { path, what, source } => {
                write!(f, "{}: ", path.display())?;
                if !what.is_empty() {
                    write!(f, "{what}: ")?;
                }
                f.write_str(&os_message(source))
            }
            Error::Remote { url, problem } => write!(f, "{url}: {problem}"),
            Error::Lock { path, waited } => write!(
                f,
                "{}: locked by another planet run; gave up after {}",
                path.display(),
                humantime::format_duration(*waited)
            ),
        }
    }
}

impl std::error::Error for Error {}

/// A socket table the kernel would not dump: which request, and its error
/// number. Kept as a value (not text) in the snapshot, which hands it to
/// every collector that asks for the sockets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpError {
    pub request: String,
    pub errno: Option<i32>,
    message: String,
}

impl DumpError {
    pub fn new(request: &str, e: &io::Error) -> DumpError {
        DumpError {
            request: request.to_string(),
            errno: e.raw_os_error(),
            message: os_message(e),
        }
    }
}

impl fmt::Display for DumpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "netlink sock_diag {}: {}", self.request, self.message)
    }
}

/// An io::Error as one readable clause: the system's own text without std's
/// "(os error N)" tail, which says nothing to an operator.
pub fn os_message(e: &io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// A parser's message (serde, toml, serde_json) without what it quotes of
/// the input: they put values in quotes or backticks ("invalid type:
/// string \"root:$6$...\""), and a file planet reads may be one an operator
/// may not read themselves. What is left says what kind of problem it is;
/// the caller adds the line and column.
pub fn without_quotes(message: &str) -> String {
    // "missing field `name`": the name is planet's, not the file's.
    if message.starts_with("missing field") {
        return message.to_string();
    }
    let end = message.find(['`', '"', '\'', ':']).unwrap_or(message.len());
    let kept = message[..end].trim_end_matches([' ', ',']);
    // "key with no value, expected `=`" loses what was expected.
    let kept = kept.strip_suffix("expected").unwrap_or(kept);
    let kept = kept.trim_end_matches([' ', ',']);
    match kept.is_empty() {
        true => "invalid".to_string(),
        false => kept.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_start_with_the_path_and_map_to_exit_codes() {
        let missing = Error::io(
            "/nonexistent/planet",
            io::Error::from_raw_os_error(rustix::io::Errno::NOENT.raw_os_error()),
        );
        assert_eq!(
            missing.to_string(),
            "/nonexistent/planet: No such file or directory"
        );
        assert_eq!(missing.exit_code(), 1);
        let write = Error::io_at(
            "/d/x.prom",
            "fsync",
            io::Error::from_raw_os_error(rustix::io::Errno::NOSPC.raw_os_error()),
        );
        assert_eq!(
            write.to_string(),
            "/d/x.prom: fsync: No space left on device"
        );
        assert!(Error::io("stdout", io::Error::from(io::ErrorKind::BrokenPipe)).is_closed_pipe());
    }

    #[test]
    fn parser_messages_lose_what_they_quote() {
        for (message, kept) in [
            (
                "invalid type: string \"root:$6$x\", expected u32",
                "invalid type",
            ),
            (
                "unknown field `colour`, expected one of `a`, `b`",
                "unknown field",
            ),
            (
                "invalid value: integer `7`, expected a string",
                "invalid value",
            ),
            ("missing field `ip_address`", "missing field `ip_address`"),
            ("expected `.`, `=`", "invalid"),
            ("key with no value, expected `=`", "key with no value"),
            ("`", "invalid"),
            ("trailing characters", "trailing characters"),
        ] {
            assert_eq!(without_quotes(message), kept, "{message}");
        }
    }
}
