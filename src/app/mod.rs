//! Stage 7, the app: wires the stages together for each command. `collect`
//! runs the pipeline once or in a loop ([`collect`], [`pass`]); the other
//! commands print what the command line asks for.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::cli::docs;
use crate::cli::{Cli, Command, WrapCommand};
use crate::collectors::wrap::Wrap;
use crate::error::Error;
use crate::exposition::render;

mod collect;
mod graph;
mod pass;
mod self_metrics;
mod signals;

/// Runs the command the command line names.
pub fn run(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Collect(args) => collect::collect(*args),
        Command::Graph(args) => graph::graph(args),
        Command::Completions { shell } => print(&docs::completions(shell)),
        Command::Man => print(&docs::man_page()),
        Command::Wrap(WrapCommand::Check { file }) => wrap_check(file),
    }
}

/// Writes to stdout. A reader that went away (`planet ... | head`) is not
/// a failure: it had all it wanted.
pub fn print(bytes: &[u8]) -> Result<(), Error> {
    let mut stdout = io::stdout().lock();
    let written = stdout.write_all(bytes).and_then(|()| stdout.flush());
    match written.map_err(|e| Error::io(Path::new("stdout"), e)) {
        Err(e) if e.is_closed_pipe() => Ok(()),
        other => other,
    }
}

/// Checks a rules file, fetches its sources once and prints the families the
/// rules would write; a source that is down is a warning, not a failure.
fn wrap_check(path: PathBuf) -> Result<(), Error> {
    let wrap = Wrap::load(path, &crate::collectors::reserved())?;
    let Some(rules) = wrap.rules() else {
        return Ok(());
    };
    let pages = rules.fetch_all();
    for problem in rules.problems(&pages) {
        eprintln!("planet: warning: {problem}");
    }
    print(render(&mut rules.apply(&pages)).as_bytes())
}
