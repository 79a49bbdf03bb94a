//! `finscope analyze`: the report (text or JSON), and `--flows`.

use super::guard::{self, Kind, Output};
use super::{Error, Outputs, build_report, is_stdout, run_analysis, stdout_taker};
use crate::cli::AnalyzeArgs;
use crate::pipeline::FlowSink;
use crate::report::flows;
use crate::report::render::flows::FlowsFormat;
use crate::report::render::{TextStyle, html, json, text};
use crate::report::timeline::REPORT_MAX_BUCKETS;
use std::io;
use std::path::Path;
use std::process::ExitCode;

/// Runs `analyze`.
pub fn run(a: &AnalyzeArgs, style: &TextStyle) -> Result<ExitCode, Error> {
    let taker = stdout_taker(&[
        ("--json", a.json),
        ("--json-out -", is_stdout(&a.json_out)),
        ("--html -", is_stdout(&a.html)),
        ("--flows -", is_stdout(&a.flows)),
    ])?;
    let mut file_outputs = Vec::new();
    let outs = [
        ("--json-out", &a.json_out, Kind::JsonReport),
        ("--html", &a.html, Kind::Html),
        ("--flows", &a.flows, Kind::Flows),
    ];
    for (flag, path, kind) in outs {
        if let Some(path) = path {
            file_outputs.push(Output { flag, path, kind });
        }
    }
    guard::check(&a.analysis.files, &file_outputs)?;
    let mut outputs = Outputs::default();
    // Before --flows is opened: a FIFO waits for its reader there.
    crate::pipeline::catch_interrupts();
    let flows_format = match &a.flows {
        Some(path) => Some(flows_format(path, a.flows_format)?),
        None => None,
    };
    let flows_to_stdout = is_stdout(&a.flows);
    // Created before the run (the records are written while the capture is
    // read); a file that cannot be created is reported, the run goes on.
    let mut writer = a
        .flows
        .as_ref()
        .zip(flows_format)
        .and_then(|(path, format)| {
            let out: io::Result<Box<dyn io::Write>> = if flows_to_stdout {
                super::stdout().map(|s| Box::new(s) as Box<dyn io::Write>)
            } else {
                crate::capture::open::create_output(path).map(|f| Box::new(f) as Box<dyn io::Write>)
            };
            let w = out.and_then(|o| flows::FlowWriter::new(io::BufWriter::new(o), format));
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
                        path: path.clone(),
                        source,
                    }));
                    None
                }
            }
        });
    let run = run_analysis(
        &a.analysis,
        writer.as_mut().map(|w| w as &mut dyn FlowSink),
        a.json,
    )?;
    if let (Some(w), Some(path)) = (writer, &a.flows) {
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
    let doc = build_report(&a.analysis, &run, a.analysis.top, REPORT_MAX_BUCKETS);
    super::timeline::bucket_note(&a.analysis, &doc.timeline, REPORT_MAX_BUCKETS);
    if let Some(path) = &a.json_out {
        outputs.file(path, |mut w| json::render(&doc, &mut w));
    }
    if let Some(path) = &a.html {
        outputs.file(path, |mut w| html::render(&doc, &mut w));
    }
    // The report goes to standard output unless another output took it.
    if matches!(taker, None | Some("--json")) {
        let stdout = Path::new("-");
        if a.json {
            outputs.file(stdout, |mut w| json::render(&doc, &mut w));
        } else {
            outputs.file(stdout, |w| {
                style.fitted(w, |b| text::render(&doc, style, b))
            });
        }
    }
    Ok(outputs.finish(super::input_exit(&run.analysis)))
}

/// The `--flows` format: `--flows-format` when given, else from the file's
/// extension (`.csv`: CSV; otherwise JSON Lines); a contradiction between
/// the two is an error.
fn flows_format(path: &Path, given: Option<FlowsFormat>) -> Result<FlowsFormat, Error> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    let by_ext = match ext.as_deref() {
        Some("csv") => Some(FlowsFormat::Csv),
        Some("jsonl" | "ndjson" | "json") => Some(FlowsFormat::Jsonl),
        _ => None,
    };
    match (given, by_ext) {
        (Some(g), Some(e)) if g != e => Err(Error::FlowsFormat {
            path: path.to_path_buf(),
            ext: ext.unwrap_or_default(),
            format: match g {
                FlowsFormat::Csv => "csv",
                FlowsFormat::Jsonl => "jsonl",
            },
        }),
        (Some(g), _) => Ok(g),
        (None, e) => Ok(e.unwrap_or_default()),
    }
}
