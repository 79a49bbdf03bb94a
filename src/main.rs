//! finscope binary: parse arguments, run, map the result to an exit code.

use clap::Parser;
use finscope::cli::{AnalyzeArgs, Cli, Command};
use finscope::{pipeline, report};
use std::io::{self, Write};
use std::process::ExitCode;

/// Exit codes (docs/report.md).
const EXIT_USAGE: u8 = 2;
const EXIT_CORRUPT: u8 = 3;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Analyze(a) => analyze(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!("finscope: error: {e:#}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

fn analyze(a: &AnalyzeArgs) -> anyhow::Result<ExitCode> {
    let analysis = pipeline::analyze(&a.files, &a.options())?;
    for e in &analysis.damage {
        let kind = if e.is_partial() && !analysis.corrupt() {
            "warning"
        } else {
            "error"
        };
        eprintln!("finscope: {kind}: {e}; the report covers what was read before it");
    }
    let doc = report::build(&analysis, &a.report_options());
    if let Some(path) = &a.json_out {
        let mut f =
            std::fs::File::create(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        report::json::render(&doc, &mut f)?;
    }
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    if a.json {
        report::json::render(&doc, &mut out)?;
    } else {
        report::text::render(&doc, &mut out)?;
    }
    out.flush()?;
    Ok(
        if analysis.corrupt() || analysis.damage.iter().any(|e| !e.is_partial()) {
            ExitCode::from(EXIT_CORRUPT)
        } else {
            ExitCode::SUCCESS
        },
    )
}
