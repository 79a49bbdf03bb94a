//! finscope binary: parse arguments, run, map the result to an exit code.

use anyhow::Context;
use clap::Parser;
use finscope::cli::{AnalysisArgs, AnalyzeArgs, CheckArgs, Cli, Command, DiffArgs, TimelineArgs};
use finscope::group::PortGroups;
use finscope::pipeline::{Analysis, FlowSink};
use finscope::report::Report;
use finscope::{check, diff, flows, group, input, pipeline, report};
use std::io::{self, Read, Write};
use std::path::Path;
use std::process::ExitCode;

/// Exit codes (docs/report.md, docs/ci.md).
const EXIT_FAILED: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_CORRUPT: u8 = 3;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Analyze(a) => analyze(a),
        Command::Check(c) => check(c),
        Command::Diff(d) => diff(d),
        Command::Timeline(t) => timeline(t),
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

/// An analysis and what was gathered from its connections on the way.
struct Run {
    analysis: Analysis,
    /// With `--group-by port`.
    ports: Option<PortGroups>,
}

/// Where the pipeline streams finished connections: the port groups first
/// (they only look), then the `--flows` writer (which takes them).
struct Sinks<'a, 'b> {
    ports: Option<&'a mut PortGroups>,
    flows: Option<&'b mut dyn FlowSink>,
}

impl FlowSink for Sinks<'_, '_> {
    fn retired(&mut self, retired: &mut Vec<finscope::flow::table::Retired>, watermark: u64) {
        if let Some(p) = self.ports.as_deref_mut() {
            p.retired(retired, watermark);
        }
        if let Some(f) = self.flows.as_deref_mut() {
            f.retired(retired, watermark);
        }
    }
}

/// Expands the inputs, runs the pipeline (streaming finished connections
/// to `flows`, if given) and reports damage on stderr.
fn run_analysis(a: &AnalysisArgs, flows: Option<&mut dyn FlowSink>) -> anyhow::Result<Run> {
    let inputs = input::expand(&a.files).map_err(anyhow::Error::msg)?;
    for s in &inputs.skipped {
        eprintln!("finscope: note: skipped {s}");
    }
    let opts = a.options();
    let mut ports = a.group_by.needs_flows().then(PortGroups::default);
    let mut sinks = Sinks {
        ports: ports.as_mut(),
        flows,
    };
    let sink: Option<&mut dyn FlowSink> = if sinks.ports.is_some() || sinks.flows.is_some() {
        Some(&mut sinks)
    } else {
        None
    };
    let analysis = pipeline::analyze_with(&inputs.paths, &opts, sink)?;
    for e in &analysis.damage {
        let kind = if e.is_partial() && !analysis.corrupt() {
            "warning"
        } else {
            "error"
        };
        eprintln!("finscope: {kind}: {e}; the report covers what was read before it");
    }
    if std::env::var_os("FINSCOPE_STATS").is_some() {
        // Engine figures for docs/performance.md; not part of any report.
        eprintln!(
            "finscope: stats: {} threads, peak tracked connections {} (sum over shards)",
            analysis.threads, analysis.peak_connections
        );
    }
    Ok(Run { analysis, ports })
}

/// The report document, with peer groups and the filter applied.
fn build_report(a: &AnalysisArgs, run: &Run, top: usize) -> Report {
    let mut opts = a.report_options();
    opts.top = top;
    let mut doc = report::build(&run.analysis, &opts);
    if let Some((peers, total)) = group::peers(
        &run.analysis,
        a.group_by,
        a.rank_by,
        top,
        run.ports.as_ref(),
    ) {
        doc.peers = peers;
        doc.peers_total = total;
        doc.group_by = Some(a.group_by.to_string());
    }
    doc.settings.filter = a.filter.as_ref().map(|f| f.to_string());
    doc
}

fn damaged(analysis: &Analysis) -> bool {
    analysis.corrupt() || analysis.damage.iter().any(|e| !e.is_partial())
}

fn analyze(a: &AnalyzeArgs) -> anyhow::Result<ExitCode> {
    // Created before the run, so that a bad path fails at once; the
    // records are written while the capture is read.
    let mut writer = match &a.flows {
        Some(path) => {
            let f = std::fs::File::create(path)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            let w = flows::FlowWriter::new(io::BufWriter::new(f), a.flows_format)
                .with_context(|| format!("{}", path.display()))?;
            Some(w)
        }
        None => None,
    };
    let run = run_analysis(&a.analysis, writer.as_mut().map(|w| w as &mut dyn FlowSink))?;
    if let (Some(w), Some(path)) = (writer, &a.flows) {
        w.finish().with_context(|| format!("{}", path.display()))?;
    }
    let analysis = &run.analysis;
    let doc = build_report(&a.analysis, &run, a.analysis.top);
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
    Ok(if damaged(analysis) {
        ExitCode::from(EXIT_CORRUPT)
    } else {
        ExitCode::SUCCESS
    })
}

fn timeline(t: &TimelineArgs) -> anyhow::Result<ExitCode> {
    let run = run_analysis(&t.analysis, None)?;
    let analysis = &run.analysis;
    let doc = build_report(&t.analysis, &run, t.analysis.top);
    if let Some(path) = &t.csv {
        let f =
            std::fs::File::create(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let mut w = io::BufWriter::new(f);
        report::timeline::write_csv(&doc.timeline, &mut w)
            .and_then(|()| w.flush())
            .with_context(|| format!("{}", path.display()))?;
    }
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    if t.json {
        serde_json::to_writer_pretty(&mut out, &doc.timeline)?;
        writeln!(out)?;
    } else {
        report::timeline::render_text(&doc.timeline, &mut out)?;
    }
    out.flush()?;
    Ok(if damaged(analysis) {
        ExitCode::from(EXIT_CORRUPT)
    } else {
        ExitCode::SUCCESS
    })
}

/// True when `path` holds a JSON document (a saved `analyze --json` report)
/// rather than a capture.
fn is_json_report(path: &Path) -> bool {
    if path.as_os_str() == "-" || !path.is_file() {
        return false;
    }
    let mut head = [0u8; 64];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    head[..n]
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{')
}

fn check(c: &CheckArgs) -> anyhow::Result<ExitCode> {
    let mut bounds = c.bounds();
    if let Some(path) = &c.config {
        bounds = check::Bounds::from_file(path)
            .map_err(anyhow::Error::msg)?
            .overridden_by(&bounds);
    }
    if bounds.is_empty() {
        anyhow::bail!(
            "check: no bound given (--max-fin-ratio, --max-fin-retrans, --max-unacked-fins, --max-p99-fin-ack, --max-rst-ratio, or --config FILE)"
        );
    }
    let files = &c.analysis.files;
    let inputs: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    let (doc, corrupt) = if files.iter().any(|p| is_json_report(p)) {
        if files.len() != 1 {
            anyhow::bail!("check: give either one JSON report or capture files, not both");
        }
        (diff::load(&files[0]).map_err(anyhow::Error::msg)?, false)
    } else {
        let run = run_analysis(&c.analysis, None)?;
        // Every peer, so that the worst ones behind a bound can be named.
        let doc = build_report(&c.analysis, &run, usize::MAX);
        (doc, damaged(&run.analysis))
    };
    let verdict = check::evaluate(&doc, &bounds, inputs);
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    if c.json {
        serde_json::to_writer_pretty(&mut out, &verdict)?;
        writeln!(out)?;
    } else if verdict.ok {
        writeln!(
            out,
            "ok: all {} bound(s) hold ({})",
            verdict.checks.len(),
            verdict
                .checks
                .iter()
                .map(|o| o.bound)
                .collect::<Vec<_>>()
                .join(", ")
        )?;
    } else {
        for o in verdict.checks.iter().filter(|o| !o.ok) {
            writeln!(out, "{}", o.line())?;
        }
    }
    out.flush()?;
    if !verdict.ok {
        eprintln!(
            "finscope: check: {} of {} bound(s) violated",
            verdict.violated,
            verdict.checks.len()
        );
        return Ok(ExitCode::from(EXIT_FAILED));
    }
    Ok(if corrupt {
        ExitCode::from(EXIT_CORRUPT)
    } else {
        ExitCode::SUCCESS
    })
}

fn diff(d: &DiffArgs) -> anyhow::Result<ExitCode> {
    let tol = diff::Tolerances::parse(&d.tolerance).map_err(anyhow::Error::msg)?;
    let base = diff::load(&d.base).map_err(anyhow::Error::msg)?;
    let new = diff::load(&d.new).map_err(anyhow::Error::msg)?;
    let result = diff::compare(
        &base,
        &new,
        &tol,
        (d.base.display().to_string(), d.new.display().to_string()),
    );
    for n in &result.notes {
        eprintln!("finscope: note: {n}");
    }
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    if d.json {
        serde_json::to_writer_pretty(&mut out, &result)?;
        writeln!(out)?;
    } else {
        for l in result.lines() {
            writeln!(out, "{l}")?;
        }
    }
    out.flush()?;
    Ok(if result.regression {
        ExitCode::from(EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}
