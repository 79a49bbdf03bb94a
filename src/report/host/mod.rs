//! The join of host evidence (`--host`: dmesg, ss/sockstat/nstat
//! snapshots, btime) with the capture (issue 22): kernel messages put on
//! the capture's clock, the inferred series against the host's snapshots,
//! the host's counters against finscope's counts, and the limits only the
//! host can show (`tw_limit_hit`; the orphan ceiling in sockstat). Fills
//! the report's `host` object (docs/report.md, "host") and adds findings.

use super::schema::host::*;
use super::schema::{Report, TimelineReport};
use crate::host::alignment::message_wall;
use crate::host::{HostEvidence, HostOptions};
use crate::metrics::Summary;
use crate::metrics::replay::End;
use std::collections::BTreeMap;

mod align;
mod findings;
use align::{align, alignment_row, orphan_stamps, reset_times_us};
use findings::{disagreements, orphan_evidence, tw_limit_hit};

/// µs in a second.
const SEC: u64 = 1_000_000;

/// The series compared with the host: (timeline key, ss state name).
const SS_SERIES: [(&str, &str); 5] = [
    ("fin_wait_1", "FIN-WAIT-1"),
    ("fin_wait_2", "FIN-WAIT-2"),
    ("time_wait", "TIME-WAIT"),
    ("close_wait", "CLOSE-WAIT"),
    ("last_ack", "LAST-ACK"),
];

/// nstat counters reported (those the host's snapshots hold).
const COUNTERS: [&str; 9] = [
    "TcpExtTCPAbortOnMemory",
    "TcpExtTCPAbortOnTimeout",
    "TcpExtTCPAbortOnData",
    "TcpExtTCPAbortOnClose",
    "TcpExtTCPAbortOnLinger",
    "TcpExtTW",
    "TcpExtTCPTimeWaitOverflow",
    "TcpOutRsts",
    "TcpRetransSegs",
];

/// Joins the host evidence to the report: fills `doc.host`, adds the
/// host's findings and `inferred_tunables.tcp_max_tw_buckets`.
pub fn join(doc: &mut Report, s: &Summary, ev: &HostEvidence, opts: &HostOptions) {
    let resets = reset_times_us(s);
    let span = (
        doc.capture.first_ts_us.unwrap_or(0),
        doc.capture.last_ts_us.unwrap_or(0),
    );
    let stamps = orphan_stamps(ev, span);
    let (alignment, fit_note) = align(ev, opts, &resets, &stamps);
    let mut messages: Vec<KernelMessageRow> = ev
        .kernel_messages
        .iter()
        .map(|m| KernelMessageRow {
            t_us: message_wall(m, alignment.as_ref()),
            kind: m.kind.as_str().to_string(),
            count: m.count,
            text: m.text.clone(),
        })
        .collect();
    messages.sort_by_key(|m| (m.t_us.is_none(), m.t_us));
    let agreement = agreement(&doc.timeline, ev, span);
    let counts = CaptureCounts::of(s, resets.len() as u64);
    let counters = counters(doc, ev, span, &counts);
    let c = ev.snapshot_counts();
    let mut warnings: Vec<String> = ev.warnings.iter().map(|w| w.to_string()).collect();
    if let Some(n) = fit_note {
        warnings.push(n);
    }
    let mut host = HostReport {
        files: ev
            .files
            .iter()
            .map(|f| HostFileRow {
                path: f.path.display().to_string(),
                kind: f.kind.name().to_string(),
            })
            .collect(),
        alignment: alignment
            .filter(|_| !ev.kernel_messages.is_empty())
            .map(|a| alignment_row(&a, ev, &resets, &stamps)),
        kernel_messages: messages,
        snapshots: SnapshotCountsRow {
            ss: c.ss,
            ss_summary: c.ss_summary,
            sockstat: c.sockstat,
            nstat: c.nstat,
        },
        agreement,
        counters,
        ss_last: None,
        warnings,
        series: series(ev),
    };
    let mut found = Vec::new();
    if let Some((f, t)) = tw_limit_hit(doc, ev, &host, span) {
        doc.inferred_tunables.tcp_max_tw_buckets = Some(t);
        found.push(f);
    }
    orphan_evidence(doc, ev, &host, span);
    // A TIME-WAIT ceiling explains the TIME-WAIT (and FIN-WAIT-2 entry)
    // the host did not keep: no disagreement for those.
    let explained: &[&str] = if found.iter().any(|f| f.id == "tw_limit_hit") {
        &["time_wait", "fin_wait_2", "TcpExtTW"]
    } else {
        &[]
    };
    found.extend(disagreements(&host, explained));
    // After the lead findings (the orphan limit), before the rest.
    let at = doc
        .diagnosis
        .iter()
        .take_while(|f| f.id == "orphan_limit_hit" || f.id == "orphans_reset_memory_pressure")
        .count();
    for (i, f) in found.into_iter().enumerate() {
        doc.diagnosis.insert(at + i, f);
    }
    host.warnings.dedup();
    doc.host = Some(host);
}

/// The inferred value of `key` at time `t`: the bucket-end count of the
/// bucket whose end is nearest `t` (the later on a tie).
pub fn inferred_at(tl: &TimelineReport, key: &str, t: u64) -> Option<i64> {
    let series = super::schema::STATE_SERIES.iter().find(|s| s.key == key)?;
    let w = tl.bucket_us.max(1);
    let first_end = tl.start_us.checked_add(w)?;
    let n = tl.buckets.len() as u64;
    if n == 0 {
        return None;
    }
    // Index of the bucket whose end (start + (i+1) w) is nearest t.
    let i = if t <= first_end {
        0
    } else {
        let k = (t - first_end + w / 2) / w;
        k.min(n - 1)
    };
    tl.buckets.get(i as usize).map(series.get)
}

/// The host's (t_us, value) series of one compared series: ss's state
/// column, or sockstat's `orphan` for the orphans.
fn host_points(ev: &HostEvidence, key: &str) -> (Vec<(u64, u64)>, &'static str) {
    if key == "orphans" {
        let p = ev
            .sockstat
            .iter()
            .filter_map(|s| Some((s.t_us, s.orphan?)))
            .collect();
        return (p, "sockstat");
    }
    match SS_SERIES.iter().find(|(k, _)| *k == key) {
        Some((_, st)) if !ev.ss.is_empty() => (ev.ss_series(st).collect(), "ss"),
        _ => (Vec::new(), "ss"),
    }
}

fn agreement(
    tl: &TimelineReport,
    ev: &HostEvidence,
    span: (u64, u64),
) -> BTreeMap<String, Agreement> {
    let mut out = BTreeMap::new();
    let keys = SS_SERIES.iter().map(|(k, _)| *k).chain(["orphans"]);
    for key in keys {
        let (points, source) = host_points(ev, key);
        let mut a = Agreement {
            source: source.into(),
            ..Agreement::default()
        };
        let mut sum = 0u64;
        for (t, h) in points {
            if t < span.0 || t > span.1 {
                continue;
            }
            let Some(v) = inferred_at(tl, key, t) else {
                continue;
            };
            let d =
                u64::try_from((i128::from(v) - i128::from(h)).unsigned_abs()).unwrap_or(u64::MAX);
            a.snapshots += 1;
            a.max_abs_diff = a.max_abs_diff.max(d);
            sum = sum.saturating_add(d);
            a.inferred_peak = a.inferred_peak.max(v);
            a.host_peak = a.host_peak.max(h);
        }
        if a.snapshots > 0 {
            a.mean_abs_diff = (sum as f64 / a.snapshots as f64 * 100.0).round() / 100.0;
            out.insert(key.to_string(), a);
        }
    }
    out
}

/// finscope's counts of events the host's counters count.
struct CaptureCounts {
    /// Orphans the local kernel reset (TcpExtTCPAbortOnMemory).
    resets: u64,
    /// Active closes whose FIN was ACKed: each became a TIME-WAIT entry
    /// (FIN-WAIT-2 or TIME-WAIT), what TcpExtTW counts on this kernel
    /// (testdata/kernel/host/README.md), refused ones included.
    tw_entries: u64,
}

impl CaptureCounts {
    fn of(s: &Summary, resets: u64) -> CaptureCounts {
        let w = s.lives.weight();
        let tw = s
            .lives
            .iter()
            .filter(|l| l.end == End::Acked && !l.passive)
            .count() as u64;
        CaptureCounts {
            resets: resets.saturating_mul(w),
            tw_entries: tw.saturating_mul(w),
        }
    }
}

fn counters(
    doc: &Report,
    ev: &HostEvidence,
    span: (u64, u64),
    counts: &CaptureCounts,
) -> BTreeMap<String, CounterRow> {
    let mut out = BTreeMap::new();
    if ev.nstat.snapshots == 0 {
        return out;
    }
    for name in COUNTERS {
        let host = ev.nstat.delta(name, span.0, span.1);
        let capture = match name {
            "TcpExtTCPAbortOnMemory" => Some(counts.resets),
            "TcpExtTW" => Some(counts.tw_entries),
            "TcpExtTCPAbortOnTimeout" => Some(doc.inferred_tunables.tcp_orphan_retries.killed),
            _ => None,
        };
        if host.is_some() {
            out.insert(name.to_string(), CounterRow { host, capture });
        }
    }
    out
}

/// The host's series for the charts.
fn series(ev: &HostEvidence) -> Vec<HostSeries> {
    let mut out = Vec::new();
    for (key, st) in SS_SERIES {
        if ev.ss.is_empty() {
            break;
        }
        out.push(HostSeries {
            label: format!("ss {st}"),
            beside: key.into(),
            points: ev.ss_series(st).collect(),
        });
    }
    type Field = fn(&crate::host::Sockstat) -> Option<u64>;
    let sockstat: [(&str, &str, Field); 2] = [
        ("sockstat orphan", "orphans", |s| s.orphan),
        ("sockstat tw", "time_wait", |s| s.tw),
    ];
    for (label, beside, field) in sockstat {
        let points: Vec<(u64, u64)> = ev
            .sockstat
            .iter()
            .filter_map(|s| Some((s.t_us, field(s)?)))
            .collect();
        if !points.is_empty() {
            out.push(HostSeries {
                label: label.into(),
                beside: beside.into(),
                points,
            });
        }
    }
    // The counters' growth between snapshots, at the later one's time.
    for (name, label) in [
        ("TcpExtTCPAbortOnMemory", "+AbortOnMemory"),
        ("TcpExtTCPAbortOnTimeout", "+AbortOnTimeout"),
        ("TcpExtTCPAbortOnData", "+AbortOnData"),
        ("TcpExtTCPAbortOnClose", "+AbortOnClose"),
        ("TcpExtTCPTimeWaitOverflow", "+TWOverflow"),
    ] {
        let mut prev: Option<u64> = None;
        let mut points = Vec::new();
        for (t, v) in ev.nstat.series(name) {
            if let Some(p) = prev {
                points.push((t, if v >= p { v - p } else { v }));
            }
            prev = Some(v);
        }
        if points.iter().any(|p| p.1 > 0) {
            out.push(HostSeries {
                label: label.into(),
                beside: "counter".into(),
                points,
            });
        }
    }
    out
}

/// TIME-WAIT entries as the host counts them against tcp_max_tw_buckets:
/// sockstat's `tw` (FIN-WAIT-2 entries included), else ss's TIME-WAIT.
fn tw_points(ev: &HostEvidence) -> (Vec<(u64, u64)>, &'static str) {
    let tw: Vec<(u64, u64)> = ev
        .sockstat
        .iter()
        .filter_map(|s| Some((s.t_us, s.tw?)))
        .collect();
    if !tw.is_empty() {
        return (tw, "sockstat tw");
    }
    (ev.ss_series("TIME-WAIT").collect(), "ss TIME-WAIT")
}
