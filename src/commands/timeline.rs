//! `finscope timeline`: the local socket states over time (chart, JSON, CSV).

use super::guard::{self, Kind, Output};
use super::{Error, Outputs, build_report, is_stdout, run_analysis, stdout_taker};
use crate::cli::TimelineArgs;
use crate::report::TimelineDocument;
use crate::report::render::html;
use crate::report::render::timeline as render;
use crate::report::timeline::MAX_BUCKETS;
use std::io;
use std::path::Path;
use std::process::ExitCode;

/// Runs `timeline`.
pub fn run(t: &TimelineArgs) -> Result<ExitCode, Error> {
    let taker = stdout_taker(&[
        ("--json", t.json),
        ("--csv -", is_stdout(&t.csv)),
        ("--html -", is_stdout(&t.html)),
    ])?;
    let mut file_outputs = Vec::new();
    let outs = [
        ("--csv", &t.csv, Kind::TimelineCsv),
        ("--html", &t.html, Kind::Html),
    ];
    for (flag, path, kind) in outs {
        if let Some(path) = path {
            file_outputs.push(Output { flag, path, kind });
        }
    }
    guard::check(&t.analysis.files, &file_outputs)?;
    let run = run_analysis(&t.analysis, None, t.json)?;
    let doc = build_report(&t.analysis, &run, t.analysis.top, MAX_BUCKETS);
    bucket_note(&t.analysis, &doc.timeline, MAX_BUCKETS);
    let mut outputs = Outputs::default();
    if let Some(path) = &t.csv {
        outputs.file(path, |mut w| render::write_csv(&doc.timeline, &mut w));
    }
    if let Some(path) = &t.html {
        outputs.file(path, |mut w| html::render(&doc, &mut w));
    }
    // The chart (or --json) goes to standard output unless another output
    // took it.
    if matches!(taker, None | Some("--json")) {
        let d = TimelineDocument {
            timeline: &doc.timeline,
            diagnosis: &doc.diagnosis,
            host: doc.host.as_ref(),
        };
        if t.json {
            outputs.file(Path::new("-"), |w| {
                serde_json::to_writer_pretty(&mut *w, &d).map_err(io::Error::from)?;
                writeln!(w)
            });
        } else {
            outputs.file(Path::new("-"), |w| {
                crate::report::render::fitted(w, |b| {
                    if doc.host.is_some() {
                        crate::report::render::text_host::render_timeline(&doc, b)
                    } else {
                        render::render_text(&doc.timeline, &doc.diagnosis, b)
                    }
                })
            });
        }
    }
    Ok(outputs.finish(&run.analysis))
}

/// Says on stderr when the `--bucket` given is not the width of the
/// report's buckets: widths double from the one asked until the capture's
/// span fits in `max` buckets (or the buckets in memory, while reading).
pub(crate) fn bucket_note(
    a: &crate::cli::AnalysisArgs,
    r: &crate::report::TimelineReport,
    max: u64,
) {
    use crate::report::format::{dur, thousands};
    // 2.048ms is not 2.0ms: a width that dur() would round is said in us.
    let exact = |us: u64| {
        if us < 1_000_000 && !us.is_multiple_of(100) && us >= 1_000 {
            format!("{}us", thousands(us))
        } else {
            dur(us)
        }
    };
    let asked = a.bucket;
    // The default (1s) was not typed: its widening is no surprise.
    if asked == 1_000_000 || r.buckets.is_empty() || r.bucket_us == asked {
        return;
    }
    let why = if r.widened_while_reading {
        "more than 57,280 buckets in memory while reading".to_string()
    } else {
        format!(
            "{} buckets of {} would cover it, at most {} are kept",
            thousands(r.buckets.len() as u64 * r.bucket_us.div_ceil(asked.max(1))),
            exact(asked),
            thousands(max)
        )
    };
    crate::say!(
        "finscope: note: --bucket {}: the buckets are {} wide (the capture spans {}: {why})",
        exact(asked),
        exact(r.bucket_us),
        dur(r.buckets.len() as u64 * r.bucket_us),
    );
}
