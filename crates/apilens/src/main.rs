//! The `apilens` command line: parses arguments, runs one command, maps the outcome to an exit code.
//!
//! Exit codes: 0 success, 1 findings at or above the requested threshold (commands that judge),
//! 2 error. A closed pipe on standard output counts as success.

mod cli;
mod commands;
mod output;
mod shared;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::parse();
    apilens_model::install_crypto_provider();
    match args.run() {
        Ok(code) => code,
        Err(err) => {
            if output::is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
