//! `finscope timeline`: the local socket states over time (chart, JSON, CSV).

use super::plan::{AnalysisPlan, TimelinePlan};
use super::{Error, Outputs, build_report, run_analysis};
use crate::cli::TimelineArgs;
use crate::report::TimelineDocument;
use crate::report::render::timeline as render;
use crate::report::render::{TextStyle, html};
use std::path::Path;
use std::process::ExitCode;

/// Runs `timeline`.
pub fn run(t: &TimelineArgs, style: &TextStyle) -> Result<ExitCode, Error> {
    let plan = TimelinePlan::new(t)?;
    let run = run_analysis(&plan.analysis, None, plan.json)?;
    let doc = build_report(&plan.analysis, &run);
    bucket_note(&plan.analysis, &doc.timeline);
    let mut outputs = Outputs::default();
    if let Some(path) = &plan.csv {
        outputs.file(path, |mut w| render::write_csv(&doc.timeline, &mut w));
    }
    if let Some(path) = &plan.html {
        outputs.file(path, |mut w| html::render(&doc, &mut w));
    }
    // The chart (or --json) goes to standard output unless another output
    // took it.
    if plan.chart_to_stdout {
        let d = TimelineDocument {
            timeline: &doc.timeline,
            diagnosis: &doc.diagnosis,
            host: doc.host.as_ref(),
        };
        if plan.json {
            outputs.file(Path::new("-"), |w| {
                crate::report::render::json::to_writer_pretty(&mut *w, &d)?;
                writeln!(w)
            });
        } else {
            outputs.file(Path::new("-"), |w| {
                style.fitted(w, |b| {
                    if doc.host.is_some() {
                        crate::report::render::text_host::render_timeline(&doc, style, b)
                    } else {
                        render::render_text(&doc.timeline, &doc.diagnosis, style, b)
                    }
                })
            });
        }
    }
    Ok(outputs.finish(super::input_exit(&run.analysis)))
}

/// Says on stderr when the `--bucket` given is not the width of the
/// report's buckets: widths double from the one asked until the capture's
/// span fits in `max` buckets (or the buckets in memory, while reading).
pub(crate) fn bucket_note(a: &AnalysisPlan, r: &crate::report::TimelineReport) {
    let max = a.report.max_buckets;
    use crate::report::format::{dur, thousands};
    // 2.048ms is not 2.0ms: a width that dur() would round is said in us.
    let exact = |us: u64| {
        if us < 1_000_000 && !us.is_multiple_of(100) && us >= 1_000 {
            format!("{}us", thousands(us))
        } else {
            dur(us)
        }
    };
    let asked = a.bucket_us;
    // The default (1s) was not typed: its widening is no surprise.
    if asked == crate::cli::DEFAULT_BUCKET_US || r.buckets.is_empty() || r.bucket_us == asked {
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
