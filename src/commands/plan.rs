//! The resolved plan of a command (ripgrep's low args -> high args): what
//! the user typed (the clap structs of [`crate::cli`]) becomes, once and
//! in one place, the options of every stage, the report settings and the
//! outputs, validated there. Commands run the plan; nothing past this
//! module reads a clap struct.

use super::guard::{self, Kind, Output};
use super::{Error, is_stdout, stdout_taker};
use crate::cli::{AnalysisArgs, AnalyzeArgs, MergeArgs, TimelineArgs};
use crate::metrics::groups::GroupBy;
use crate::metrics::peers::RankBy;
use crate::pipeline::{Options, TimeBound};
use crate::report::ReportOptions;
use crate::report::render::flows::FlowsFormat;
use std::path::{Path, PathBuf};

/// An analysis of captures: the inputs, the pipeline's options and the
/// report's settings.
#[derive(Clone, Debug)]
pub struct AnalysisPlan {
    /// The inputs as given (files, directories, `-`).
    pub files: Vec<PathBuf>,
    /// The pipeline's options (flow, timeline, filter, time range, threads).
    pub pipeline: Options,
    /// The report's options (top, rank, timers, limits, what-ifs, buckets,
    /// the filter and label its settings show).
    pub report: ReportOptions,
    pub group_by: GroupBy,
    pub rank_by: RankBy,
    pub since: Option<TimeBound>,
    pub until: Option<TimeBound>,
    /// `--bucket` as given, us.
    pub bucket_us: u64,
    /// `--interval` given: summaries on stderr.
    pub interval: bool,
    /// `--host` inputs (none: no host evidence) and how to read them
    /// (`--at`, `--boot-time`).
    pub host: Vec<PathBuf>,
    pub host_options: crate::host::HostOptions,
}

impl AnalysisPlan {
    /// The plan of `a`, its peers table `top` long (`usize::MAX`: every
    /// peer), its timeline at most `max_buckets` long. A time range that is
    /// empty whatever the capture is refused here, before anything is read.
    pub fn new(a: &AnalysisArgs, top: usize, max_buckets: u64) -> Result<AnalysisPlan, Error> {
        use TimeBound::{After, At};
        if let (Some(since), Some(until)) = (a.since, a.until)
            && matches!((since, until), (At(s), At(u)) | (After(s), After(u)) if s >= u)
        {
            return Err(Error::Usage(
                "--since is not before --until: the time range is empty",
            ));
        }
        let mut report = a.report_options();
        report.top = top;
        report.max_buckets = max_buckets;
        Ok(AnalysisPlan {
            files: a.files.clone(),
            pipeline: Options {
                port_groups: a.group_by.needs_flows(),
                ..a.options()
            },
            report,
            group_by: a.group_by,
            rank_by: a.rank_by,
            since: a.since,
            until: a.until,
            bucket_us: a.bucket,
            interval: a.interval.is_some(),
            host: a.host.host.clone(),
            host_options: a.host.options(),
        })
    }
}

/// `finscope analyze`: the analysis and its outputs.
#[derive(Clone, Debug)]
pub struct AnalyzePlan {
    pub analysis: AnalysisPlan,
    /// The report as JSON on standard output (`--json`).
    pub json: bool,
    pub json_out: Option<PathBuf>,
    pub html: Option<PathBuf>,
    /// `--flows` and its format (given, or from the extension).
    pub flows: Option<(PathBuf, FlowsFormat)>,
    /// The report goes to standard output (no file output took it).
    pub report_to_stdout: bool,
}

impl AnalyzePlan {
    /// The plan of `a`, validated: at most one output on standard output,
    /// no output that would destroy an input, `--flows-format` agreeing
    /// with the file's extension, a time range that can hold something.
    pub fn new(a: &AnalyzeArgs) -> Result<AnalyzePlan, Error> {
        let taker = stdout_taker(&[
            ("--json", a.json),
            ("--json-out -", is_stdout(&a.json_out)),
            ("--html -", is_stdout(&a.html)),
            ("--flows -", is_stdout(&a.flows)),
        ])?;
        let outs = [
            ("--json-out", &a.json_out, Kind::JsonReport),
            ("--html", &a.html, Kind::Html),
            ("--flows", &a.flows, Kind::Flows),
        ];
        guard::check(&a.analysis.files, &file_outputs(&outs))?;
        let flows = match &a.flows {
            Some(path) => Some((path.clone(), flows_format(path, a.flows_format)?)),
            None => None,
        };
        Ok(AnalyzePlan {
            analysis: AnalysisPlan::new(
                &a.analysis,
                a.analysis.top,
                crate::report::timeline::REPORT_MAX_BUCKETS,
            )?,
            json: a.json,
            json_out: a.json_out.clone(),
            html: a.html.clone(),
            flows,
            report_to_stdout: matches!(taker, None | Some("--json")),
        })
    }
}

/// `finscope timeline`: the analysis and its outputs.
#[derive(Clone, Debug)]
pub struct TimelinePlan {
    pub analysis: AnalysisPlan,
    /// The chart's document as JSON on standard output (`--json`).
    pub json: bool,
    pub csv: Option<PathBuf>,
    pub html: Option<PathBuf>,
    /// The chart (or `--json`) goes to standard output.
    pub chart_to_stdout: bool,
}

impl TimelinePlan {
    /// The plan of `t`, validated as [`AnalyzePlan::new`].
    pub fn new(t: &TimelineArgs) -> Result<TimelinePlan, Error> {
        let taker = stdout_taker(&[
            ("--json", t.json),
            ("--csv -", is_stdout(&t.csv)),
            ("--html -", is_stdout(&t.html)),
        ])?;
        let outs = [
            ("--csv", &t.csv, Kind::TimelineCsv),
            ("--html", &t.html, Kind::Html),
        ];
        guard::check(&t.analysis.files, &file_outputs(&outs))?;
        Ok(TimelinePlan {
            analysis: AnalysisPlan::new(
                &t.analysis,
                t.analysis.top,
                crate::report::timeline::MAX_BUCKETS,
            )?,
            json: t.json,
            csv: t.csv.clone(),
            html: t.html.clone(),
            chart_to_stdout: matches!(taker, None | Some("--json")),
        })
    }
}

/// `finscope merge`: the reports, how to merge them, and the outputs.
#[derive(Clone, Debug)]
pub struct MergePlan {
    pub files: Vec<PathBuf>,
    /// `--top`, `--rank-by`: else the inputs' own when they agree.
    pub top: Option<usize>,
    pub rank_by: Option<RankBy>,
    pub allow_duplicates: bool,
    /// The merged report as JSON on standard output (`--json`).
    pub json: bool,
    pub html: Option<PathBuf>,
    /// The report goes to standard output (`--html -` did not take it).
    pub report_to_stdout: bool,
}

impl MergePlan {
    /// The plan of `m`, validated as [`AnalyzePlan::new`].
    pub fn new(m: &MergeArgs) -> Result<MergePlan, Error> {
        let taker = stdout_taker(&[("--json", m.json), ("--html -", is_stdout(&m.html))])?;
        guard::check(&m.files, &file_outputs(&[("--html", &m.html, Kind::Html)]))?;
        Ok(MergePlan {
            files: m.files.clone(),
            top: m.top,
            rank_by: m.rank_by,
            allow_duplicates: m.allow_duplicates,
            json: m.json,
            html: m.html.clone(),
            report_to_stdout: taker != Some("--html -"),
        })
    }
}

/// The file outputs given, for the guard.
fn file_outputs<'a>(outs: &[(&'static str, &'a Option<PathBuf>, Kind)]) -> Vec<Output<'a>> {
    outs.iter()
        .filter_map(|(flag, path, kind)| {
            path.as_ref().map(|path| Output {
                flag,
                path,
                kind: *kind,
            })
        })
        .collect()
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
