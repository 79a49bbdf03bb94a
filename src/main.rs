//! finscope binary: parse arguments, run the subcommand, map the result to
//! an exit code (docs/report.md).

use clap::Parser;
use finscope::cli::Cli;
use finscope::commands::{self, EXIT_USAGE};
use std::error::Error;
use std::process::ExitCode;

/// An error and its causes, each said once: most of finscope's errors
/// already name their cause in their message (`file: No such file ...`),
/// so a cause is appended only when the message so far does not hold it.
fn message(e: &dyn Error) -> String {
    let mut msg = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        cause = c.source();
    }
    msg
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match commands::run(&cli) {
        Ok(code) => code,
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("finscope: error: {}", message(&e));
            ExitCode::from(EXIT_USAGE)
        }
    }
}
