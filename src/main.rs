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
mod inventory;
mod peers;
mod procmap;
mod run;
mod signals;
mod snapshot;
mod sockdiag;
mod state;
mod textfile;

fn main() -> ExitCode {
    // Usage errors exit 2 inside clap; --help and --version exit 0.
    let cli = cli::Cli::parse_checked();
    let result = match cli.command {
        cli::Command::Collect(args) => run::collect(*args),
        cli::Command::Completions { shell } => print(&docs::completions(shell)),
        cli::Command::Man => print(&docs::man_page()),
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
