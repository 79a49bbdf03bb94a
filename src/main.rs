//! finscope binary: parse arguments, run the subcommand, map the result to
//! an exit code (docs/report.md).

use clap::Parser;
use finscope::cli::Cli;
use finscope::commands::{self, EXIT_USAGE};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match commands::run(&cli) {
        Ok(code) => code,
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("finscope: error: {:#}", anyhow::Error::new(e));
            ExitCode::from(EXIT_USAGE)
        }
    }
}
