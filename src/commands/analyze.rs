//! `finscope analyze`: the report (text or JSON), and `--flows`.

use super::{EXIT_CORRUPT, Error, build_report, damaged, html_to_stdout, run_analysis, write_html};
use crate::cli::AnalyzeArgs;
use crate::flow::table::FlowSink;
use crate::report::render::{flows, json, text};
use std::io::{self, Write};
use std::process::ExitCode;

/// Runs `analyze`.
pub fn run(a: &AnalyzeArgs) -> Result<ExitCode, Error> {
    if a.json && html_to_stdout(&a.html) {
        return Err(Error::Usage(
            "--json and --html - both write to standard output",
        ));
    }
    // Created before the run, so that a bad path fails at once; the
    // records are written while the capture is read.
    let mut writer = match &a.flows {
        Some(path) => {
            let f = std::fs::File::create(path).map_err(|source| Error::Write {
                path: path.clone(),
                source,
            })?;
            let w = flows::FlowWriter::new(io::BufWriter::new(f), a.flows_format).map_err(
                |source| Error::Write {
                    path: path.clone(),
                    source,
                },
            )?;
            Some(w)
        }
        None => None,
    };
    let run = run_analysis(&a.analysis, writer.as_mut().map(|w| w as &mut dyn FlowSink))?;
    if let (Some(w), Some(path)) = (writer, &a.flows) {
        w.finish().map_err(|source| Error::Write {
            path: path.clone(),
            source,
        })?;
    }
    let analysis = &run.analysis;
    let doc = build_report(&a.analysis, &run, a.analysis.top);
    if let Some(path) = &a.json_out {
        let mut f = std::fs::File::create(path).map_err(|source| Error::Write {
            path: path.clone(),
            source,
        })?;
        json::render(&doc, &mut f)?;
    }
    if let Some(path) = &a.html {
        write_html(path, &doc)?;
    }
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    if html_to_stdout(&a.html) {
        // The page took standard output.
    } else if a.json {
        json::render(&doc, &mut out)?;
    } else {
        text::render(&doc, &mut out)?;
    }
    out.flush()?;
    Ok(if damaged(analysis) {
        ExitCode::from(EXIT_CORRUPT)
    } else {
        ExitCode::SUCCESS
    })
}
