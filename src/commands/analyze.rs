//! `finscope analyze`: the report (text or JSON), and `--flows`.

use super::plan::AnalyzePlan;
use super::{Error, Outputs, build_report, run_analysis};
use crate::cli::AnalyzeArgs;
use crate::pipeline::FlowSink;
use crate::report::flows;
use crate::report::render::{TextStyle, html, json};
use std::io;
use std::path::Path;
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
        let w = out.and_then(|o| flows::FlowWriter::new(io::BufWriter::new(o), *format));
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
    let run = run_analysis(
        &plan.analysis,
        writer.as_mut().map(|w| w as &mut dyn FlowSink),
        plan.json,
    )?;
    if let (Some(w), Some((path, _))) = (writer, &plan.flows) {
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
    let doc = build_report(&plan.analysis, &run);
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
    Ok(outputs.finish(super::input_exit(&run.analysis)))
}
