//! `finscope analyze`: the report (text or JSON), and `--flows`.

use super::{Error, Outputs, build_report, html_to_stdout, run_analysis};
use crate::cli::AnalyzeArgs;
use crate::flow::table::FlowSink;
use crate::report::render::{flows, html, json, text};
use std::io;
use std::path::Path;
use std::process::ExitCode;

/// Runs `analyze`.
pub fn run(a: &AnalyzeArgs) -> Result<ExitCode, Error> {
    if a.json && html_to_stdout(&a.html) {
        return Err(Error::Usage(
            "--json and --html - both write to standard output",
        ));
    }
    let mut outputs = Outputs::default();
    // Created before the run (the records are written while the capture is
    // read); a file that cannot be created is reported, the run goes on.
    let mut writer = a.flows.as_ref().and_then(|path| {
        let w = std::fs::File::create(path)
            .and_then(|f| flows::FlowWriter::new(io::BufWriter::new(f), a.flows_format));
        match w {
            Ok(w) => Some(w),
            Err(source) => {
                outputs.keep(Err(Error::Write {
                    path: path.clone(),
                    source,
                }));
                None
            }
        }
    });
    let run = run_analysis(&a.analysis, writer.as_mut().map(|w| w as &mut dyn FlowSink))?;
    if let (Some(w), Some(path)) = (writer, &a.flows) {
        outputs.keep(w.finish().map(drop).map_err(|source| Error::Write {
            path: path.clone(),
            source,
        }));
    }
    let doc = build_report(&a.analysis, &run, a.analysis.top);
    if let Some(path) = &a.json_out {
        outputs.file(path, |mut w| json::render(&doc, &mut w));
    }
    if let Some(path) = &a.html {
        outputs.file(path, |mut w| html::render(&doc, &mut w));
    }
    if !html_to_stdout(&a.html) && outputs.stdout_open() {
        let stdout = Path::new("-");
        if a.json {
            outputs.file(stdout, |mut w| json::render(&doc, &mut w));
        } else {
            outputs.file(stdout, |mut w| text::render(&doc, &mut w));
        }
    }
    Ok(outputs.finish(&run.analysis))
}
