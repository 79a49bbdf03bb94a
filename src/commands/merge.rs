//! `finscope merge`: the reduce step over many captures. The `analyze
//! --json` reports of several captures (a fleet's gateways, a CI corpus)
//! become one report, as if the captures had been analysed together, each
//! as an independent capture: every input is turned back into the metrics
//! it was built from ([`unbuild::analysis`]), the metrics are added with
//! their own `AddAssign` (counters add, histograms add exactly, peers
//! merge, timelines add on a common grid), and the sum goes through the
//! ordinary [`report::build()`]. The result is a normal report (text, or
//! `--json` that `check`, `diff` and `merge` itself read), with a row per
//! input in `inputs`.
//!
//! Reports analysed with different options that change the figures
//! (`--local`, `--idle-timeout`, `--time-wait`, `--fin-timeout`,
//! `--filter`, `--group-by`, the what-if limits) do not add up and are
//! refused; different bucket widths are not: the timelines are re-gridded
//! to the least common multiple of the inputs' widths.

use super::plan::MergePlan;
use super::{Error, Outputs};
use crate::cli::MergeArgs;
use crate::metrics::Summary;
use crate::metrics::groups::{self, GroupBy, PortGroups};
use crate::metrics::peers::{REPORT_PEERS_MAX, RankBy};
use crate::pipeline::Analysis;
use crate::report::render::{TextStyle, html};
use crate::report::timeline::Limits;
use crate::report::unbuild::{self, MergeableError};
use crate::report::{self, InputRow, Report, ReportOptions, load::load};
use std::path::Path;
use std::process::ExitCode;

/// One report to merge and the name it goes by in messages.
#[derive(Clone, Debug)]
pub struct Input {
    /// The file it was read from, as given.
    pub path: String,
    pub report: Report,
}

impl Input {
    /// Reads a report file.
    pub fn read(path: &Path) -> Result<Input, Error> {
        Ok(Input {
            path: path.display().to_string(),
            report: load(path)?,
        })
    }

    /// Its label: `settings.label`, or else the file name.
    fn label(&self) -> String {
        self.report.settings.label.clone().unwrap_or_else(|| {
            Path::new(&self.path)
                .file_name()
                .map_or_else(|| self.path.clone(), |n| n.to_string_lossy().into_owned())
        })
    }
}

/// Why reports cannot be merged (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("nothing to merge")]
    NoInputs,
    #[error(
        "{path}: report schema version {version}, but {first} has version {first_version}: \
         reports of different versions are not merged; re-run `finscope analyze --json` on \
         the captures with this finscope"
    )]
    SchemaVersions {
        path: String,
        version: u32,
        first: String,
        first_version: u32,
    },
    #[error(
        "{path}: the report has no `mergeable` object (it was written by an older finscope, \
         or the object was removed), so it cannot be merged exactly; re-run `finscope analyze \
         --json` on its capture with this finscope ({}) and merge the new report",
        env!("CARGO_PKG_VERSION")
    )]
    NotMergeable { path: String },
    #[error(
        "{path}: analysed with {setting} {value}, but {first} with {first_value}: figures \
         of different analysis options do not add up; analyse every capture with the same \
         options"
    )]
    Settings {
        path: String,
        setting: &'static str,
        value: String,
        first: String,
        first_value: String,
    },
    #[error(
        "{first} and {second} {why}: merging them would count {what} twice; pass \
         --allow-duplicates to merge anyway"
    )]
    Duplicate {
        first: String,
        second: String,
        why: String,
        what: String,
    },
    #[error("{path}: timeline buckets of {bucket_us} us and {other_us} us have no common width")]
    Buckets {
        path: String,
        bucket_us: u64,
        other_us: u64,
    },
    #[error("{path}: {source}")]
    Invalid {
        path: String,
        #[source]
        source: MergeableError,
    },
}

/// The analysis options a report's figures depend on, as (option, value):
/// reports merge only when these are equal.
fn options_of(r: &Report) -> Vec<(&'static str, String)> {
    let s = &r.settings;
    let lim = &r.timeline.limits;
    let opt = |v: Option<String>| v.unwrap_or_else(|| "(none)".to_string());
    vec![
        (
            "--local",
            if s.local.is_empty() {
                "(the client)".to_string()
            } else {
                s.local.join(",")
            },
        ),
        ("--idle-timeout", format!("{}s", s.idle_timeout_s)),
        ("--time-wait", format!("{}s", s.time_wait_s)),
        ("--filter", opt(s.filter.clone())),
        (
            "--group-by",
            r.group_by.clone().unwrap_or_else(|| "ip".to_string()),
        ),
        (
            "--fin-timeout",
            r.mergeable.as_ref().map_or(String::new(), |m| {
                format!("{}s", m.timeline.fin_timeout_ns as f64 / 1e9)
            }),
        ),
        (
            "--orphan-retries",
            opt(lim.orphan_retries.as_ref().map(|x| x.retries.to_string())),
        ),
        (
            "--max-orphans",
            opt(lim.max_orphans.as_ref().map(|x| x.limit.to_string())),
        ),
        (
            "--max-tw-buckets",
            opt(lim.max_tw_buckets.as_ref().map(|x| x.limit.to_string())),
        ),
    ]
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// The input's row (a merged report: its rows).
fn rows_of(i: &Input) -> Vec<InputRow> {
    let r = &i.report;
    if !r.inputs.is_empty() {
        return r.inputs.clone();
    }
    vec![InputRow {
        label: i.label(),
        frames: r.packets.frames,
        connections: r.connections.total,
        fin_ratio: r.fin_ratio.of_tcp,
        fin_retransmissions: r.fin_retransmissions.total,
        unacked_fins: r.unacked_fins.local_to_remote + r.unacked_fins.remote_to_local,
        killed: r.outcomes.killed,
        fin_unacked: r.outcomes.fin_unacked,
        peak_orphans: r.timeline.peaks.get("orphans").map_or(0, |p| p.value),
    }]
}

/// The value all inputs agree on, if they do.
fn common<T: PartialEq + Clone>(inputs: &[Input], f: impl Fn(&Report) -> T) -> Option<T> {
    let first = f(&inputs.first()?.report);
    inputs
        .iter()
        .all(|i| f(&i.report) == first)
        .then_some(first)
}

/// Merges `inputs` into one report; `top` and `rank_by` default to the
/// inputs' own when they agree (else 10 and problems).
pub fn merge(
    inputs: &[Input],
    top: Option<usize>,
    rank_by: Option<RankBy>,
) -> Result<Report, MergeError> {
    let first = inputs.first().ok_or(MergeError::NoInputs)?;
    for i in inputs {
        let (v, fv) = (i.report.schema_version, first.report.schema_version);
        if v != fv {
            return Err(MergeError::SchemaVersions {
                path: i.path.clone(),
                version: v,
                first: first.path.clone(),
                first_version: fv,
            });
        }
    }
    for i in inputs {
        if i.report.mergeable.is_none() {
            return Err(MergeError::NotMergeable {
                path: i.path.clone(),
            });
        }
    }
    let first_options = options_of(&first.report);
    for i in &inputs[1..] {
        for ((setting, value), (_, first_value)) in
            options_of(&i.report).into_iter().zip(&first_options)
        {
            if value != *first_value {
                return Err(MergeError::Settings {
                    path: i.path.clone(),
                    setting,
                    value,
                    first: first.path.clone(),
                    first_value: first_value.clone(),
                });
            }
        }
    }
    // The common grid: the least common multiple of the bucket widths.
    let mut bucket_us = 1u64;
    for i in inputs {
        let w = i.report.timeline.bucket_us.max(1);
        bucket_us = (bucket_us / gcd(bucket_us, w))
            .checked_mul(w)
            .ok_or_else(|| MergeError::Buckets {
                path: i.path.clone(),
                bucket_us: w,
                other_us: bucket_us,
            })?;
    }

    let by = match &first.report.group_by {
        None => GroupBy::Ip,
        Some(g) => g
            .parse()
            .map_err(|e: groups::GroupByError| MergeError::Invalid {
                path: first.path.clone(),
                source: MergeableError::Invalid {
                    field: "group_by".to_string(),
                    message: e.to_string(),
                },
            })?,
    };
    // The merged report's rows, by label (so that the order the reports
    // are given in does not matter); `index[i][j]`: where row j of input i
    // went (the input index of worst connections).
    let own: Vec<Vec<InputRow>> = inputs.iter().map(rows_of).collect();
    let mut order: Vec<(usize, usize)> = own
        .iter()
        .enumerate()
        .flat_map(|(i, r)| (0..r.len()).map(move |j| (i, j)))
        .collect();
    order.sort_by(|a, b| own[a.0][a.1].label.cmp(&own[b.0][b.1].label));
    let mut index: Vec<Vec<u32>> = own.iter().map(|r| vec![0; r.len()]).collect();
    for (pos, (i, j)) in order.iter().enumerate() {
        index[*i][*j] = u32::try_from(pos).unwrap_or(u32::MAX);
    }
    let rows: Vec<InputRow> = order.iter().map(|(i, j)| own[*i][*j].clone()).collect();

    let mut total = Analysis {
        summary: Summary::default(),
        files: Vec::new(),
        damage: Vec::new(),
        threads: 0,
        peak_connections: 0,
        interrupted: false,
        evicted_early: 0,
        time_range: None,
        ports: None,
    };
    let mut ports = (by == GroupBy::Port).then(PortGroups::default);
    for (i, index) in inputs.iter().zip(&index) {
        let invalid = |source| MergeError::Invalid {
            path: i.path.clone(),
            source,
        };
        let a = unbuild::analysis(&i.report, bucket_us, index).map_err(invalid)?;
        if let (Some(p), Some(m)) = (ports.as_mut(), i.report.mergeable.as_ref()) {
            for (port, ip, ps) in m.port_pairs(index).map_err(invalid)? {
                p.add_pair(port, ip, &ps);
            }
            p.pairs_folded += m.port_pairs_folded;
        }
        total.summary += &a.summary;
        total.interrupted |= a.interrupted;
        total.evicted_early += a.evicted_early;
        total.files.extend(a.files);
    }
    // A report names at most REPORT_PEERS_MAX peers, a merged one too.
    let s = &mut total.summary;
    crate::metrics::peers::fold(&mut s.peers, REPORT_PEERS_MAX, &mut s.peers_others);
    // Files by path: the order of the inputs does not matter.
    total.files.sort_by(|a, b| a.path.cmp(&b.path));

    let r0 = &first.report;
    let top = top
        .or_else(|| common(inputs, |r| r.settings.top))
        .unwrap_or(crate::cli::DEFAULT_TOP);
    let rank_by = rank_by
        .or_else(|| common(inputs, |r| r.rank_by))
        .unwrap_or_default();
    let labels: Vec<String> = rows.iter().map(|r| r.label.clone()).collect();
    let lim = &r0.timeline.limits;
    let opts = ReportOptions {
        top,
        rank_by,
        local: r0.settings.local.clone(),
        idle_timeout_s: r0.settings.idle_timeout_s,
        time_wait_s: r0.settings.time_wait_s,
        limits: Limits {
            max_orphans: lim.max_orphans.as_ref().map(|c| c.limit),
            max_tw_buckets: lim.max_tw_buckets.as_ref().map(|c| c.limit),
            orphan_retries: lim.orphan_retries.as_ref().map(|x| x.retries),
        },
        inputs: labels.clone(),
        max_buckets: crate::report::timeline::REPORT_MAX_BUCKETS,
        what_if: Vec::new(),
        filter: r0.settings.filter.clone(),
        label: None,
    };
    let mut doc = report::build(&total, &opts);
    if let Some((peers, n)) = groups::peers(&total.summary, by, rank_by, top, ports.as_ref()) {
        doc.peers = report::build::group_peers_in(peers, &labels);
        doc.peers_total = n;
        doc.group_by = r0.group_by.clone();
    }
    if let (Some(m), Some(p)) = (doc.mergeable.as_mut(), ports.as_mut()) {
        p.fold(crate::metrics::peers::REPORT_PAIRS_MAX);
        m.set_port_peers(p.pairs());
        m.port_pairs_folded = p.pairs_folded;
    }
    doc.inputs = rows;
    Ok(doc)
}

/// Two inputs that count the same capture: the same report (equal
/// documents, whatever their file names or formatting), or reports that
/// both hold one capture file (same path, records and bytes) over
/// overlapping time spans (`merge ab.json a.json`).
pub fn duplicates(inputs: &[Input]) -> Result<(), MergeError> {
    for (i, a) in inputs.iter().enumerate() {
        for b in &inputs[i + 1..] {
            let dup = |why: String, what: String| MergeError::Duplicate {
                first: a.path.clone(),
                second: b.path.clone(),
                why,
                what,
            };
            if a.report == b.report {
                return Err(dup(
                    "are the same report (equal content)".into(),
                    "its captures".into(),
                ));
            }
            let (ca, cb) = (&a.report.capture, &b.report.capture);
            let overlap = match (ca.first_ts_us, ca.last_ts_us, cb.first_ts_us, cb.last_ts_us) {
                (Some(f1), Some(l1), Some(f2), Some(l2)) => f1 <= l2 && f2 <= l1,
                _ => false,
            };
            let shared = ca.files.iter().find(|fa| {
                fa.records > 0
                    && cb.files.iter().any(|fb| {
                        fa.path == fb.path
                            && fa.records == fb.records
                            && fa.bytes_read == fb.bytes_read
                    })
            });
            if let (true, Some(f)) = (overlap, shared) {
                return Err(dup(
                    format!(
                        "both count the capture {} ({} records) over the same time",
                        if f.path == "-" {
                            "read from standard input"
                        } else {
                            &f.path
                        },
                        f.records
                    ),
                    "it".into(),
                ));
            }
        }
    }
    Ok(())
}

/// Runs `merge`.
pub fn run(m: &MergeArgs, style: &TextStyle) -> Result<ExitCode, Error> {
    let plan = MergePlan::new(m)?;
    let inputs = plan
        .files
        .iter()
        .map(|p| Input::read(p))
        .collect::<Result<Vec<_>, _>>()?;
    if !plan.allow_duplicates {
        duplicates(&inputs)?;
    }
    let doc = merge(&inputs, plan.top, plan.rank_by)?;
    saturation_warning(&doc);
    // Every output is written even when another failed (exit 4), as in
    // `analyze` and `timeline`.
    let mut outputs = Outputs::default();
    if let Some(path) = &plan.html {
        outputs.file(path, |mut w| html::render(&doc, &mut w));
    }
    if plan.report_to_stdout {
        outputs.report_to_stdout(doc, plan.json, style);
    }
    Ok(outputs.finish(None))
}

/// Says which counts of the merged report stopped at the largest a count
/// holds (18,446,744,073,709,551,615): sums past it saturate, so the
/// figure is a lower bound.
fn saturation_warning(doc: &Report) {
    fn walk(v: &serde_json::Value, path: &str, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    walk(x, &p, out);
                }
            }
            serde_json::Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    walk(x, &format!("{path}[{i}]"), out);
                }
            }
            serde_json::Value::Number(n) if n.as_u64() == Some(u64::MAX) => out.push(path.into()),
            _ => {}
        }
    }
    let Ok(v) = serde_json::to_value(doc) else {
        return;
    };
    let mut full = Vec::new();
    walk(&v, "", &mut full);
    if let Some(first) = full.first() {
        let more = match full.len() {
            1 => String::new(),
            n => format!(" and {} more", n - 1),
        };
        crate::say!(
            "finscope: warning: `{first}`{more} reached {}, the largest count a report holds: the sum stopped there (a lower bound)",
            crate::report::format::thousands(u64::MAX)
        );
    }
}
