//! `finscope timeline`: the local socket states over time (chart, JSON, CSV).

use super::{
    EXIT_CORRUPT, Error, build_report, damaged, html_to_stdout, run_analysis, write_html,
    write_json,
};
use crate::cli::TimelineArgs;
use crate::report::TimelineDocument;
use crate::report::render::timeline as render;
use std::io::{self, Write};
use std::process::ExitCode;

/// Runs `timeline`.
pub fn run(t: &TimelineArgs) -> Result<ExitCode, Error> {
    if t.json && html_to_stdout(&t.html) {
        return Err(Error::Usage(
            "--json and --html - both write to standard output",
        ));
    }
    let run = run_analysis(&t.analysis, None)?;
    let analysis = &run.analysis;
    let doc = build_report(&t.analysis, &run, t.analysis.top);
    if let Some(path) = &t.csv {
        let f = std::fs::File::create(path).map_err(|source| Error::Write {
            path: path.clone(),
            source,
        })?;
        let mut w = io::BufWriter::new(f);
        render::write_csv(&doc.timeline, &mut w)
            .and_then(|()| w.flush())
            .map_err(|source| Error::Write {
                path: path.clone(),
                source,
            })?;
    }
    if let Some(path) = &t.html {
        write_html(path, &doc)?;
    }
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    if html_to_stdout(&t.html) {
        // The page took standard output.
    } else if t.json {
        let d = TimelineDocument {
            timeline: &doc.timeline,
            diagnosis: &doc.diagnosis,
        };
        write_json(&mut out, &d)?;
    } else {
        render::render_text(&doc.timeline, &doc.diagnosis, &mut out)?;
    }
    out.flush()?;
    Ok(if damaged(analysis) {
        ExitCode::from(EXIT_CORRUPT)
    } else {
        ExitCode::SUCCESS
    })
}
