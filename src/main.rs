//! planet: what a host serves, what it depends on, and who depends on it,
//! written for node_exporter's textfile collector.

use std::process::ExitCode;

mod cli;
mod collectors;
mod counters;
mod dependencies;
mod destroy;
mod dns;
mod docs;
mod exposition;
#[cfg(test)]
mod hostile;
mod inventory;
mod peers;
mod procmap;
mod run;
mod signals;
mod snapshot;
mod sockdiag;
mod state;
mod textfile;
mod textparse;
mod wrap;

fn main() -> ExitCode {
    // Usage errors exit 2 inside clap; --help and --version exit 0.
    let cli = cli::Cli::parse_checked();
    let result = match cli.command {
        cli::Command::Collect(args) => run::collect(*args),
        cli::Command::Completions { shell } => print(&docs::completions(shell)),
        cli::Command::Man => print(&docs::man_page()),
        cli::Command::Wrap(cli::WrapCommand::Check { file }) => wrap_check(&file),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("planet: {e}");
            ExitCode::FAILURE
        }
    }
}

fn print(bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .map_err(|e| format!("stdout: {e}"))
}

/// Checks a rules file, fetches its sources once and prints the families the
/// rules would write; a source that is down is a warning, not a failure.
fn wrap_check(path: &std::path::Path) -> Result<(), String> {
    let rules = wrap::Rules::load(path)?;
    let pages = rules.fetch_all();
    for (source, page) in &pages {
        if let Err(e) = page {
            eprintln!("planet: warning: source {source}: {e}");
        }
    }
    print(exposition::render(&mut rules.apply(&pages)).as_bytes())
}
