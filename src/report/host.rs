//! The join of host evidence (`--host`: dmesg, ss/sockstat/nstat
//! snapshots, btime) with the capture (issue 22): kernel messages put on
//! the capture's clock, the inferred series against the host's snapshots,
//! the host's counters against finscope's counts, and the limits only the
//! host can show (`tw_limit_hit`; the orphan ceiling in sockstat). Fills
//! the report's `host` object (docs/report.md, "host") and adds findings.

use super::format::{thousands, utc};
use super::schema::host::*;
use super::schema::{Finding, Report, TimelineReport};
use crate::host::alignment::message_wall;
use crate::host::{Alignment, HostEvidence, HostOptions, KernelKind, Method};
use crate::metrics::Summary;
use crate::metrics::replay::End;
use std::collections::BTreeMap;

/// A fitted orphan message lies within this of its reset (µs): the kernel
/// prints it in the same call that sends the RST.
const MATCH_US: u64 = 1_000;
/// Beyond this, a message's distance to the nearest reset counts as this
/// much in the fit's cost (µs).
const COST_CAP_US: u64 = 2_000;
/// Messages used to score one candidate offset.
const FIT_MESSAGES: usize = 400;
/// Candidate offsets tried at most.
const MAX_CANDIDATES: usize = 200_000;
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

/// When the capture shows the local kernel resetting an orphan (its RST
/// while the FIN was unACKed), µs since the epoch, sorted: the moments a
/// "too many orphaned sockets" message can be printed.
fn reset_times_us(s: &Summary) -> Vec<u64> {
    let mut v: Vec<u64> = s
        .lives
        .list
        .iter()
        .filter_map(|l| match l.end {
            End::ResetAtClose => Some(l.t0 / 1_000),
            End::ResetLater => Some(l.t0.saturating_add(l.len) / 1_000),
            _ => None,
        })
        .collect();
    v.sort_unstable();
    v
}

/// The alignment of boot stamps: `--boot-time`, or both stamps of the same
/// messages, as the host gives them; else fitted on the packets (orphan
/// messages against orphan resets), from btime's second when there is one,
/// from the first burst otherwise; else btime alone. The note says what
/// was assumed when nothing fitted.
/// The boot stamps of the "too many orphaned sockets" messages that can
/// belong to the capture, sorted: with btime, those it puts within 2 s of
/// the capture's span (a whole boot's log holds older incidents' too);
/// without, all.
fn orphan_stamps(ev: &HostEvidence, span: (u64, u64)) -> Vec<u64> {
    let mut v: Vec<u64> = ev
        .kernel_messages
        .iter()
        .filter(|m| m.kind == KernelKind::TooManyOrphans && m.wall_us.is_none())
        .filter_map(|m| m.boot_us)
        .filter(|&b| match ev.btime {
            Some(bt) => {
                let t = bt.saturating_mul(SEC).saturating_add(b);
                t.saturating_add(2 * SEC) >= span.0 && t <= span.1.saturating_add(2 * SEC)
            }
            None => true,
        })
        .collect();
    v.sort_unstable();
    v
}

fn align(
    ev: &HostEvidence,
    opts: &HostOptions,
    resets: &[u64],
    msgs: &[u64],
) -> (Option<Alignment>, Option<String>) {
    // btime as dmesg --time-format iso uses it: the boot second's start
    // (the boot lies up to 1 s after it).
    let base = Alignment::from_host(ev, opts).map(|a| match (a.method, ev.btime) {
        (Method::Btime, Some(b)) => Alignment {
            method: Method::Btime,
            offset_us: i64::try_from(b.saturating_mul(SEC)).unwrap_or(i64::MAX),
            uncertainty_us: SEC,
        },
        _ => a,
    });
    if let Some(a) = base
        && matches!(a.method, Method::BootTime | Method::WallClock)
    {
        return (Some(a), None);
    }
    if msgs.is_empty() || resets.is_empty() {
        return (base, None);
    }
    let prior = ev.btime.map(|b| {
        let lo = i64::try_from(b.saturating_mul(SEC)).unwrap_or(i64::MAX / 2);
        // btime is cut down to the second; a little slack for the clocks'
        // drift since boot.
        (
            lo.saturating_sub(50_000),
            lo.saturating_add(SEC as i64 + 50_000),
        )
    });
    if let Some(f) = fit(msgs, resets, prior)
        && (f.matched * 2 >= msgs.len() as u64 && f.matched >= 3.min(msgs.len() as u64))
    {
        return (
            Some(Alignment::packets(f.offset, f.max_residual.max(1))),
            None,
        );
    }
    match base {
        Some(a) => (
            Some(a),
            Some(format!(
                "the {} orphan messages do not fit the capture's orphan resets within {} ms: kernel times placed by btime alone (±0.5 s)",
                msgs.len(),
                MATCH_US / 1_000
            )),
        ),
        None => {
            let offset = (resets[0] as i64).saturating_sub(msgs[0] as i64);
            (
                Some(Alignment::packets(offset, SEC)),
                Some(
                    "no btime and the orphan messages do not fit the capture's resets: the first message placed at the first reset (±1 s)"
                        .into(),
                ),
            )
        }
    }
}

/// A fitted offset (wall = boot + offset).
#[derive(Clone, Copy, Debug)]
struct Fit {
    offset: i64,
    matched: u64,
    max_residual: u64,
    cost: u64,
}

/// The offset that puts the most orphan messages on an orphan reset:
/// candidates are (reset - message) within the prior's range (btime's
/// second), or without one, the first burst of messages against the first
/// resets; each is scored by the messages' distances to their nearest
/// reset (capped).
fn fit(msgs: &[u64], resets: &[u64], prior: Option<(i64, i64)>) -> Option<Fit> {
    let scored = &msgs[..msgs.len().min(FIT_MESSAGES)];
    let mut cands: Vec<i64> = Vec::new();
    match prior {
        Some((lo, hi)) => {
            for &m in scored.iter().take(50) {
                let from = lo.saturating_add(m as i64).max(0) as u64;
                let to = hi.saturating_add(m as i64).max(0) as u64;
                let i = resets.partition_point(|&r| r < from);
                for &r in resets[i..].iter().take_while(|&&r| r <= to) {
                    cands.push((r as i64).saturating_sub(m as i64));
                    if cands.len() >= MAX_CANDIDATES {
                        break;
                    }
                }
            }
        }
        None => {
            for &m in scored.iter().take(10) {
                for &r in resets.iter().take(300) {
                    cands.push((r as i64).saturating_sub(m as i64));
                }
            }
        }
    }
    cands.sort_unstable();
    cands.dedup();
    let mut best: Option<Fit> = None;
    for c in cands {
        let f = score(scored, resets, c);
        if best.is_none_or(|b| f.cost < b.cost) {
            best = Some(f);
        }
    }
    best
}

fn score(msgs: &[u64], resets: &[u64], offset: i64) -> Fit {
    let (mut cost, mut matched, mut max_residual) = (0u64, 0u64, 0u64);
    for &m in msgs {
        let t = (m as i64).saturating_add(offset);
        let d = nearest(resets, t);
        cost += d.min(COST_CAP_US);
        if d <= MATCH_US {
            matched += 1;
            max_residual = max_residual.max(d);
        }
    }
    Fit {
        offset,
        matched,
        max_residual,
        cost,
    }
}

/// Distance from `t` to the nearest of the sorted `v` (µs).
fn nearest(v: &[u64], t: i64) -> u64 {
    let t = t.max(0) as u64;
    let i = v.partition_point(|&r| r < t);
    let after = v.get(i).map(|&r| r - t);
    let before = i.checked_sub(1).and_then(|j| v.get(j)).map(|&r| t - r);
    after.into_iter().chain(before).min().unwrap_or(u64::MAX)
}

fn alignment_row(a: &Alignment, ev: &HostEvidence, resets: &[u64], msgs: &[u64]) -> HostAlignment {
    let method = match a.method {
        Method::WallClock => "wall_clock",
        Method::Btime => "btime",
        Method::BootTime => "boot_time",
        Method::Packets => "packets",
    };
    let mut row = HostAlignment {
        method: method.into(),
        offset_us: a.offset_us,
        uncertainty_us: a.uncertainty_us,
        refined_from: None,
        fit: None,
    };
    if a.method == Method::Packets {
        row.refined_from = Some(
            if ev.btime.is_some() {
                "btime"
            } else {
                "first_burst"
            }
            .into(),
        );
        let f = score(msgs, resets, a.offset_us);
        row.fit = Some(AlignmentFit {
            messages: msgs.len() as u64,
            matched: f.matched,
            max_residual_us: f.max_residual,
        });
    }
    row
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
            .list
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
    let orphan: Vec<(u64, u64)> = ev
        .sockstat
        .iter()
        .filter_map(|s| Some((s.t_us, s.orphan?)))
        .collect();
    if !orphan.is_empty() {
        out.push(HostSeries {
            label: "sockstat orphan".into(),
            beside: "orphans".into(),
            points: orphan,
        });
    }
    let tw: Vec<(u64, u64)> = ev
        .sockstat
        .iter()
        .filter_map(|s| Some((s.t_us, s.tw?)))
        .collect();
    if !tw.is_empty() {
        out.push(HostSeries {
            label: "sockstat tw".into(),
            beside: "time_wait".into(),
            points: tw,
        });
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

/// `tw_limit_hit`: the host held TIME-WAIT at a ceiling (3 or more
/// snapshots at its maximum) while the packets imply more TIME-WAIT than
/// that, and TcpExtTCPTimeWaitOverflow counted refusals.
fn tw_limit_hit(
    doc: &Report,
    ev: &HostEvidence,
    host: &HostReport,
    span: (u64, u64),
) -> Option<(Finding, MaxTwBuckets)> {
    let (points, source) = tw_points(ev);
    let inside: Vec<(u64, u64)> = points
        .into_iter()
        .filter(|(t, _)| *t >= span.0 && *t <= span.1)
        .collect();
    let ceiling = inside.iter().map(|p| p.1).max()?;
    let at: Vec<u64> = inside
        .iter()
        .filter(|p| p.1 == ceiling)
        .map(|p| p.0)
        .collect();
    let refused = host
        .counters
        .get("TcpExtTCPTimeWaitOverflow")
        .and_then(|c| c.host)
        .unwrap_or(0);
    let inferred = doc
        .timeline
        .peaks
        .get("time_wait")
        .map_or(0, |p| p.value.max(0) as u64);
    if at.len() < 3
        || refused == 0
        || inferred <= ceiling.saturating_add(ceiling / 20 + 2)
        || ceiling == 0
    {
        return None;
    }
    let (from, to) = (at[0], at[at.len() - 1]);
    let finding = Finding {
        id: "tw_limit_hit".into(),
        finding: format!(
            "TIME-WAIT is capped at {} on the host (tcp_max_tw_buckets): the kernel refused {} TIME-WAIT entries while the packets imply up to {}; raise net.ipv4.tcp_max_tw_buckets or accept that closed connections skip TIME-WAIT",
            thousands(ceiling),
            thousands(refused),
            thousands(inferred)
        ),
        evidence: vec![
            format!(
                "{source} held at {} in {} snapshots between {} and {} UTC",
                thousands(ceiling),
                at.len(),
                hms(from),
                hms(to)
            ),
            format!(
                "TcpExtTCPTimeWaitOverflow grew by {} over the capture; the inferred TIME-WAIT series peaks at {} (a refused entry leaves no trace in the packets)",
                thousands(refused),
                thousands(inferred)
            ),
            match host.counters.get("TcpExtTW") {
                Some(CounterRow {
                    host: Some(made),
                    capture: Some(seen),
                }) => format!(
                    "the packets show {} active closes ACKed (each a TIME-WAIT entry): the kernel kept {} (TcpExtTW) and refused {}",
                    thousands(*seen),
                    thousands(*made),
                    thousands(refused)
                ),
                _ => "TcpExtTW not in the snapshots: the entries kept are not known".into(),
            },
        ],
        tunables: vec!["net.ipv4.tcp_max_tw_buckets".into()],
    };
    Some((
        finding,
        MaxTwBuckets {
            value: Some(ceiling),
            refused,
            snapshots_at_ceiling: at.len() as u64,
        },
    ))
}

/// Host evidence for the orphan limit: the dmesg messages and sockstat's
/// ceiling, added to `orphan_limit_hit` (or as that finding when the
/// packets alone did not show it).
fn orphan_evidence(doc: &mut Report, ev: &HostEvidence, host: &HostReport, span: (u64, u64)) {
    let msgs: Vec<&KernelMessageRow> = host
        .kernel_messages
        .iter()
        .filter(|m| m.kind == "too_many_orphans")
        // Those of the capture's span (a whole boot's log holds older
        // incidents' too); unplaced ones count as of it.
        .filter(|m| {
            m.t_us
                .is_none_or(|t| t.saturating_add(SEC) >= span.0 && t <= span.1.saturating_add(SEC))
        })
        .collect();
    let mut evidence = Vec::new();
    let placed: Vec<u64> = msgs.iter().filter_map(|m| m.t_us).collect();
    if let (Some(&first), Some(&last)) = (placed.iter().min(), placed.iter().max()) {
        let suppressed = msgs
            .iter()
            .fold(0u64, |a, m| a.saturating_add(m.count.saturating_sub(1)));
        let held: Vec<i64> = doc
            .timeline
            .buckets
            .iter()
            .filter(|b| {
                let end = b.t_us + doc.timeline.bucket_us;
                end >= first && end <= last + doc.timeline.bucket_us
            })
            .map(|b| b.orphans)
            .collect();
        let held = match (held.iter().min(), held.iter().max()) {
            (Some(lo), Some(hi)) if lo == hi => thousands(*hi as u64),
            (Some(lo), Some(hi)) => format!(
                "{}-{}",
                thousands(*lo.max(&0) as u64),
                thousands(*hi as u64)
            ),
            _ => "-".into(),
        };
        evidence.push(format!(
            "dmesg: {} 'too many orphaned sockets'{} between {} and {} UTC while the orphan series held at {}",
            msgs.len(),
            if suppressed > 0 {
                format!(" ({} more suppressed by net_ratelimit)", thousands(suppressed))
            } else {
                String::new()
            },
            hms_range(first, last).0,
            hms_range(first, last).1,
            held
        ));
    }
    let orphan: Vec<u64> = ev
        .sockstat
        .iter()
        .filter(|s| s.t_us >= span.0 && s.t_us <= span.1)
        .filter_map(|s| s.orphan)
        .collect();
    let on_memory = host
        .counters
        .get("TcpExtTCPAbortOnMemory")
        .and_then(|c| c.host)
        .unwrap_or(0);
    if let Some(&peak) = orphan.iter().max()
        && on_memory > 0
    {
        // The plateau: snapshots within 15% of the peak (the kernel checks a
        // count cached every 100 ms, so it overshoots the limit a little).
        let near: Vec<u64> = orphan
            .iter()
            .copied()
            .filter(|&o| u128::from(o) * 100 >= u128::from(peak) * 85)
            .collect();
        if near.len() >= 3 {
            let lo = near.iter().min().copied().unwrap_or(peak);
            evidence.push(format!(
                "sockstat: orphan held at {}-{} in {} snapshots while TcpExtTCPAbortOnMemory grew by {}: the orphan limit (tcp_max_orphans) was hit",
                thousands(lo),
                thousands(peak),
                near.len(),
                thousands(on_memory)
            ));
        }
    }
    if evidence.is_empty() {
        return;
    }
    if let Some(f) = doc
        .diagnosis
        .iter_mut()
        .find(|f| f.id == "orphan_limit_hit")
    {
        f.evidence.extend(evidence);
        return;
    }
    if on_memory == 0 && msgs.is_empty() {
        return;
    }
    doc.diagnosis.insert(
        0,
        Finding {
            id: "orphan_limit_hit".into(),
            finding: "The host reset orphans over its orphan limit (tcp_max_orphans), as its kernel log and counters show; find what holds the FINs unACKed before raising net.ipv4.tcp_max_orphans".into(),
            evidence,
            tunables: vec!["net.ipv4.tcp_max_orphans".into()],
        },
    );
}

/// Counters and series where the host and the capture disagree, with what
/// it implies.
fn disagreements(host: &HostReport, explained: &[&str]) -> Vec<Finding> {
    let mut evidence = Vec::new();
    let mut host_more = false;
    for (name, what) in [
        ("TcpExtTCPAbortOnMemory", "orphans reset over the limit"),
        (
            "TcpExtTCPAbortOnTimeout",
            "orphans killed on retransmission timeout",
        ),
    ] {
        let Some(c) = host.counters.get(name) else {
            continue;
        };
        let (Some(h), Some(p)) = (c.host, c.capture) else {
            continue;
        };
        let tol = (h / 100).max(2);
        if h.abs_diff(p) > tol {
            host_more |= h > p;
            evidence.push(format!(
                "{what}: the host counted {} ({name}), the capture shows {}",
                thousands(h),
                thousands(p)
            ));
        }
    }
    // TIME-WAIT entries: the kernel made TcpExtTW and refused
    // TcpExtTCPTimeWaitOverflow; the packets show both.
    if let Some(CounterRow {
        host: Some(made),
        capture: Some(seen),
    }) = host.counters.get("TcpExtTW")
        && !explained.contains(&"TcpExtTW")
    {
        let refused = host
            .counters
            .get("TcpExtTCPTimeWaitOverflow")
            .and_then(|c| c.host)
            .unwrap_or(0);
        let h = made.saturating_add(refused);
        if h.abs_diff(*seen) > (h / 100).max(2) {
            host_more |= h > *seen;
            evidence.push(format!(
                "TIME-WAIT entries: the host made {} (TcpExtTW) and refused {} (TcpExtTCPTimeWaitOverflow), the capture shows {} active closes ACKed",
                thousands(*made),
                thousands(refused),
                thousands(*seen)
            ));
        }
    }
    for (key, a) in &host.agreement {
        if explained.contains(&key.as_str()) {
            continue;
        }
        let scale = a.host_peak.max(a.inferred_peak.max(0) as u64);
        if a.snapshots >= 3 && a.mean_abs_diff > 5.0 && a.mean_abs_diff * 10.0 > scale as f64 {
            host_more |= a.host_peak > a.inferred_peak.max(0) as u64;
            evidence.push(format!(
                "{key}: the inferred series is off the host's {} by {:.1} on average over {} snapshots (peaks {} inferred, {} on the host)",
                a.source,
                a.mean_abs_diff,
                a.snapshots,
                thousands(a.inferred_peak.max(0) as u64),
                thousands(a.host_peak)
            ));
        }
    }
    if evidence.is_empty() {
        return Vec::new();
    }
    let finding = if host_more {
        "The host saw more than the capture holds: the capture misses traffic (another interface, packets dropped by tcpdump or the kernel, or a capture or --filter filter); figures from the packets are lower bounds"
    } else {
        "The capture shows more than the host counted: the host evidence may come from another host or network namespace, or cover a shorter span than the capture"
    };
    vec![Finding {
        id: "host_capture_disagree".into(),
        finding: finding.into(),
        evidence,
        tunables: Vec::new(),
    }]
}

/// `HH:MM:SS` of a µs timestamp (UTC).
fn hms(us: u64) -> String {
    let u = utc(us);
    u.get(11..19).map_or(u.clone(), str::to_string)
}

/// `HH:MM:SS` of both ends, with milliseconds when they share a second.
fn hms_range(a: u64, b: u64) -> (String, String) {
    if a / SEC == b / SEC {
        let ms = |us: u64| {
            let u = utc(us);
            u.get(11..23).map_or(u.clone(), str::to_string)
        };
        (ms(a), ms(b))
    } else {
        (hms(a), hms(b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_of_nothing_is_far() {
        assert_eq!(nearest(&[], 5), u64::MAX);
        assert_eq!(nearest(&[10, 20], 14), 4);
        assert_eq!(nearest(&[10, 20], 16), 4);
        assert_eq!(nearest(&[10, 20], -3), 10);
    }

    /// Messages printed 3 µs after resets, boot 0.4 s into btime's second:
    /// the fit finds that offset among other resets 5 ms apart; without the
    /// prior, from the first burst.
    #[test]
    fn fit_finds_the_offset_of_the_messages() {
        let boot = 1_000_000_000_400_000i64;
        let resets: Vec<u64> = (0..2_000u64)
            .map(|k| 1_000_000_100_000_000 + k * 5_003)
            .collect();
        let msgs: Vec<u64> = resets
            .iter()
            .step_by(97)
            .map(|&r| (r as i64 + 3 - boot) as u64)
            .collect();
        let prior = Some((boot - 400_000, boot + 600_000));
        for p in [prior, None] {
            let f = fit(&msgs, &resets, p).expect("a fit");
            assert_eq!(f.matched, msgs.len() as u64);
            assert!((f.offset - boot).abs() <= 3, "{f:?}");
        }
    }

    /// Huge or hostile values neither panic nor wrap.
    #[test]
    fn extreme_values_do_not_overflow() {
        let _ = fit(&[u64::MAX], &[u64::MAX], Some((i64::MAX - 1, i64::MAX)));
        let _ = fit(&[u64::MAX, 0], &[0, u64::MAX], None);
        let f = score(&[0, u64::MAX], &[u64::MAX], i64::MIN);
        assert_eq!(f.matched, 0);
    }
}
