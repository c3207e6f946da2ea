//! The `planet` binary: parse the command line, run, map the outcome to an
//! exit status. Everything else is in the library.

use std::process::ExitCode;

use planet::{app, cli::Cli};

fn main() -> ExitCode {
    // Usage errors exit 2 inside clap; --help and --version exit 0.
    let cli = Cli::parse_checked();
    match app::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("planet: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
