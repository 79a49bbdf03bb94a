//! `finscope analyze`: the report (text or JSON), and `--flows`.

use super::plan::AnalyzePlan;
use super::{Error, Outputs, build_report, run_analysis};
use crate::cli::AnalyzeArgs;
use crate::pipeline::FlowSink;
use crate::report::flows;
use crate::report::render::{TextStyle, html, json};
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Runs `analyze`.
pub fn run(a: &AnalyzeArgs, style: &TextStyle) -> Result<ExitCode, Error> {
    let plan = AnalyzePlan::new(a)?;
    let mut outputs = Outputs::default();
    // Before --flows is opened: a FIFO waits for its reader there.
    crate::pipeline::catch_interrupts();
    // Created before the run (the records are written while the capture is
    // read); a file that cannot be created is reported, the run goes on.
    let mut writer = plan.flows.as_ref().and_then(|(path, format)| {
        let out: io::Result<Box<dyn io::Write>> = if path == Path::new("-") {
            super::stdout().map(|s| Box::new(s) as Box<dyn io::Write>)
        } else {
            crate::capture::open::create_output(path).map(|f| Box::new(f) as Box<dyn io::Write>)
        };
        // Waiting records take a share of --max-memory; past it they are
        // spilled next to the file.
        let share = flows::share_of(plan.analysis.pipeline.flow.max_memory);
        let dir = (path != Path::new("-")).then(|| match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        });
        let w = out
            .and_then(|o| flows::FlowWriter::new(io::BufWriter::new(o), *format))
            .map(|w| w.with_share(share, dir));
        match w {
            Ok(w) => Some(w),
            // Ctrl-C while a FIFO waited for its reader: the run ends
            // as interrupted (130), with the report of nothing read.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                crate::say!(
                    "finscope: warning: --flows {}: {e}: no record written",
                    path.display()
                );
                None
            }
            Err(source) => {
                outputs.keep(Err(Error::Write {
                    path: path.to_path_buf(),
                    source,
                }));
                None
            }
        }
    });
    let started = std::time::Instant::now();
    let run = run_analysis(
        &plan.analysis,
        writer.as_mut().map(|w| w as &mut dyn FlowSink),
        plan.json,
    )?;
    if let (Some(w), Some((path, _))) = (writer, &plan.flows) {
        if let Some(e) = w.spill_error() {
            crate::say!(
                "finscope: warning: --flows {}: no temporary file for the records past --max-memory's share ({e}): they were held in memory",
                path.display()
            );
        }
        if std::env::var_os("FINSCOPE_STATS").is_some() {
            let (runs, bytes) = w.spilled();
            crate::say!("finscope: stats: --flows spilled {runs} sorted run(s), {bytes} bytes");
        }
        if w.failed() {
            crate::say!(
                "finscope: warning: --flows {}: a record could not be written: reading stopped, the report covers what was read before it",
                path.display()
            );
        }
        outputs.keep(w.finish().map(drop).map_err(|source| Error::Write {
            path: path.clone(),
            source,
        }));
    }
    let analysed = std::time::Instant::now();
    let doc = build_report(&plan.analysis, &run);
    let built = std::time::Instant::now();
    super::timeline::bucket_note(&plan.analysis, &doc.timeline);
    if let Some(path) = &plan.json_out {
        outputs.file(path, |mut w| json::render(&doc, &mut w));
    }
    if let Some(path) = &plan.html {
        outputs.file(path, |mut w| html::render(&doc, &mut w));
    }
    // The report goes to standard output unless another output took it.
    if plan.report_to_stdout {
        outputs.report_to_stdout(doc, plan.json, style);
    }
    if std::env::var_os("FINSCOPE_STATS").is_some() {
        // Where the run's wall time went: the serial end (report, output)
        // bounds what more threads can give (docs/performance.md).
        let s = |a: std::time::Instant, b: std::time::Instant| (b - a).as_secs_f64();
        let done = std::time::Instant::now();
        crate::say!(
            "finscope: stats: wall: analysis {:.3}s, report {:.3}s, output {:.3}s",
            s(started, analysed),
            s(analysed, built),
            s(built, done)
        );
    }
    Ok(outputs.finish(super::input_exit(&run.analysis)))
}
