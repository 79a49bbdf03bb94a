//! `finscope timeline`: the local socket states over time (chart, JSON, CSV).

use super::{EXIT_CORRUPT, Error, build_report, damaged, run_analysis, write_json};
use crate::cli::TimelineArgs;
use crate::report::TimelineDocument;
use crate::report::render::timeline as render;
use std::io::{self, Write};
use std::process::ExitCode;

/// Runs `timeline`.
pub fn run(t: &TimelineArgs) -> Result<ExitCode, Error> {
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
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    if t.json {
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
