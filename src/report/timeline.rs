//! The `timeline` report: the local side's socket states per time bucket,
//! their peaks, limit crossings, the orphan-retries what-if, and the
//! diagnosis. Built from the merged [`Timeline`]; rendered as JSON (part of
//! the analyze document, or alone), CSV, or a terminal chart.

use super::diagnosis::Finding;
use crate::metrics::Packets;
use crate::metrics::timeline::{
    C_CLOSES, C_FIN, C_FIN_RTX, C_NEW, C_RST, C_SEGMENTS, NSERIES, S_FW1_LIMITED, S_ORPHANS,
    S_ORPHANS_LIMITED, TcpState, Timeline, series_index,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{self, Write};

/// Most buckets a report holds (a 5.5-hour capture at 1 s): past it the
/// bucket width grows by a whole factor, keeping the JSON to a few MB.
pub const MAX_BUCKETS: u64 = 20_000;

/// What-if limits (`--max-orphans`, `--max-tw-buckets`, `--orphan-retries`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Limits {
    pub max_orphans: Option<u64>,
    pub max_tw_buckets: Option<u64>,
    pub orphan_retries: Option<u32>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TimelineReport {
    /// Bucket width, us (wider than asked when the capture would need more than 20,000 buckets).
    pub bucket_us: u64,
    /// Start of the first bucket, us since the epoch.
    pub start_us: u64,
    pub buckets: Vec<Bucket>,
    /// Per series: the largest bucket-end count and the bucket end when it first occurred.
    pub peaks: BTreeMap<String, Peak>,
    /// Total time connections spent in each state (sum over connections), us.
    pub state_time_us: BTreeMap<String, u64>,
    /// Connections whose first packet was already part of their close.
    pub close_began_before_capture: u64,
    /// Connections still in a non-final state at the capture's end.
    pub open_at_end: u64,
    pub limits: LimitsReport,
    pub diagnosis: Vec<Finding>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Bucket {
    /// Bucket start, us since the epoch. State counts are taken at its end (t_us + bucket_us).
    pub t_us: u64,
    pub established: i64,
    pub fin_wait_1: i64,
    pub fin_wait_2: i64,
    pub closing: i64,
    pub time_wait: i64,
    pub close_wait: i64,
    pub last_ack: i64,
    /// Handshakes in progress: the local side sent a SYN (SYN-SENT) or
    /// answered one with a SYN-ACK (SYN-RECEIVED). Absent in reports
    /// written before they existed.
    #[serde(default)]
    pub syn_sent: i64,
    #[serde(default)]
    pub syn_recv: i64,
    /// FIN-WAIT-1 + CLOSING + LAST-ACK (see docs/timeline.md).
    pub orphans: i64,
    /// Counts within the bucket.
    pub frames: u64,
    pub tcp: u64,
    pub fin: u64,
    pub fin_retransmissions: u64,
    pub rst: u64,
    pub new_connections: u64,
    pub closes: u64,
    /// fin / tcp within the bucket.
    pub fin_ratio: f64,
    /// Only with --orphan-retries: the what-if series.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fin_wait_1_limited: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orphans_limited: Option<i64>,
    /// Only with --max-orphans / --max-tw-buckets: the bucket is over the limit.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub over_max_orphans: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub over_max_tw_buckets: bool,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Peak {
    pub value: i64,
    /// When it occurred: the bucket end, us since the epoch.
    pub t_us: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct LimitsReport {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_orphans: Option<Crossing>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tw_buckets: Option<Crossing>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orphan_retries: Option<RetriesWhatIf>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Crossing {
    pub limit: u64,
    /// Buckets whose end count is above the limit.
    pub buckets_over: u64,
    /// First bucket end above the limit.
    pub first_t_us: Option<u64>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct RetriesWhatIf {
    pub retries: u32,
    /// Orphans whose FIN stayed unACKed long enough to be killed.
    pub orphans_killed: u64,
    pub fin_wait_1_peak: i64,
    pub fin_wait_1_peak_limited: i64,
    pub orphans_peak: i64,
    pub orphans_peak_limited: i64,
}

/// The name of series `s`: a state's key, then the derived series.
fn series_key(s: usize) -> &'static str {
    match TcpState::SERIES.get(s) {
        Some(st) => st.key(),
        None => match s {
            S_ORPHANS => "orphans",
            S_FW1_LIMITED => "fin_wait_1_limited",
            _ => "orphans_limited",
        },
    }
}

/// Builds the timeline report over the capture's time range.
pub fn build(t: &Timeline, p: &Packets, lim: &Limits) -> TimelineReport {
    let w0 = t.cfg.bucket_ns.max(1);
    let (Some(first), Some(last)) = (p.first_ts, p.last_ts) else {
        return empty(w0 / 1_000, lim);
    };
    let (b_first, b_last) = (first / w0, last / w0);
    let k = (b_last - b_first + 1).div_ceil(MAX_BUCKETS).max(1);
    let w = w0.saturating_mul(k);
    let start = (b_first / k) * k;
    let n = ((b_last / k) - (b_first / k) + 1) as usize;
    // Re-bin deltas and counters by k (exact for end-of-bucket counts: a delta
    // at fine bucket i is counted from coarse bucket floor(i/k) on).
    let mut deltas: Vec<[i64; NSERIES]> = vec![[0; NSERIES]; n];
    let mut counts: Vec<[u64; 6]> = vec![[0; 6]; n];
    let mut frames: Vec<u64> = vec![0; n];
    let mut carry = [0i64; NSERIES];
    let mut keys: Vec<&u64> = t.buckets.keys().collect();
    keys.sort_unstable();
    for b in keys {
        let Some(d) = t.buckets.get(b) else { continue };
        let cb = b / k;
        if cb < start / k {
            carry.iter_mut().zip(d.delta).for_each(|(c, x)| *c += x);
            continue;
        }
        let idx = (cb - start / k) as usize;
        if idx >= n {
            continue;
        }
        deltas[idx]
            .iter_mut()
            .zip(d.delta)
            .for_each(|(c, x)| *c += x);
        counts[idx]
            .iter_mut()
            .zip(d.counts)
            .for_each(|(c, x)| *c += x);
    }
    if p.bucket_ns == w0 {
        for (b, c) in &p.frames_by_bucket {
            let cb = b / k;
            if cb >= start / k && ((cb - start / k) as usize) < n {
                frames[(cb - start / k) as usize] += c;
            }
        }
    }
    let mut level = carry;
    let mut buckets = Vec::with_capacity(n);
    let mut peaks = [(0i64, 0u64); NSERIES];
    let mut over_orph = Crossing::default();
    let mut over_tw = Crossing::default();
    for i in 0..n {
        for s in 0..NSERIES {
            level[s] += deltas[i][s];
        }
        let t_ns = (start / k + i as u64).saturating_mul(w);
        let end_us = t_ns.saturating_add(w) / 1_000;
        for s in 0..NSERIES {
            if level[s] > peaks[s].0 {
                peaks[s] = (level[s], end_us);
            }
        }
        let c = counts[i];
        let tcp = c[C_SEGMENTS];
        let st = |s: TcpState| level[series_index(s)];
        let orphans = level[S_ORPHANS];
        let oo = lim.max_orphans.is_some_and(|m| orphans > m as i64);
        let ot = lim
            .max_tw_buckets
            .is_some_and(|m| st(TcpState::TimeWait) > m as i64);
        if oo {
            over_orph.buckets_over += 1;
            over_orph.first_t_us.get_or_insert(end_us);
        }
        if ot {
            over_tw.buckets_over += 1;
            over_tw.first_t_us.get_or_insert(end_us);
        }
        buckets.push(Bucket {
            t_us: t_ns / 1_000,
            established: st(TcpState::Established),
            fin_wait_1: st(TcpState::FinWait1),
            fin_wait_2: st(TcpState::FinWait2),
            closing: st(TcpState::Closing),
            time_wait: st(TcpState::TimeWait),
            close_wait: st(TcpState::CloseWait),
            last_ack: st(TcpState::LastAck),
            syn_sent: st(TcpState::SynSent),
            syn_recv: st(TcpState::SynReceived),
            orphans,
            frames: if p.bucket_ns == w0 { frames[i] } else { tcp },
            tcp,
            fin: c[C_FIN],
            fin_retransmissions: c[C_FIN_RTX],
            rst: c[C_RST],
            new_connections: c[C_NEW],
            closes: c[C_CLOSES],
            fin_ratio: if tcp == 0 {
                0.0
            } else {
                c[C_FIN] as f64 / tcp as f64
            },
            fin_wait_1_limited: lim.orphan_retries.map(|_| level[S_FW1_LIMITED]),
            orphans_limited: lim.orphan_retries.map(|_| level[S_ORPHANS_LIMITED]),
            over_max_orphans: oo,
            over_max_tw_buckets: ot,
        });
    }
    let mut report = empty(w / 1_000, lim);
    report.start_us = start.saturating_mul(w0) / 1_000;
    report.buckets = buckets;
    for (s, (peak, ns)) in peaks.iter().zip(t.state_ns).enumerate() {
        let key = series_key(s);
        let limited = s == S_FW1_LIMITED || s == S_ORPHANS_LIMITED;
        if limited && lim.orphan_retries.is_none() {
            continue;
        }
        report.peaks.insert(
            key.to_string(),
            Peak {
                value: peak.0,
                t_us: peak.1,
            },
        );
        if !limited {
            report.state_time_us.insert(
                key.to_string(),
                u64::try_from(ns / 1_000).unwrap_or(u64::MAX),
            );
        }
    }
    report.close_began_before_capture = t.close_before_capture;
    report.open_at_end = t.open_at_end;
    if let Some(m) = lim.max_orphans {
        over_orph.limit = m;
        report.limits.max_orphans = Some(over_orph);
    }
    if let Some(m) = lim.max_tw_buckets {
        over_tw.limit = m;
        report.limits.max_tw_buckets = Some(over_tw);
    }
    if let Some(r) = lim.orphan_retries {
        report.limits.orphan_retries = Some(RetriesWhatIf {
            retries: r,
            orphans_killed: t.orphans_killed,
            fin_wait_1_peak: peaks[series_index(TcpState::FinWait1)].0,
            fin_wait_1_peak_limited: peaks[S_FW1_LIMITED].0,
            orphans_peak: peaks[S_ORPHANS].0,
            orphans_peak_limited: peaks[S_ORPHANS_LIMITED].0,
        });
    }
    report
}

fn empty(bucket_us: u64, lim: &Limits) -> TimelineReport {
    let _ = lim;
    TimelineReport {
        bucket_us,
        start_us: 0,
        buckets: Vec::new(),
        peaks: BTreeMap::new(),
        state_time_us: BTreeMap::new(),
        close_began_before_capture: 0,
        open_at_end: 0,
        limits: LimitsReport::default(),
        diagnosis: Vec::new(),
    }
}

/// Writes the buckets as CSV (one row per bucket, a header line first).
pub fn write_csv(r: &TimelineReport, w: &mut impl Write) -> io::Result<()> {
    writeln!(
        w,
        "t_us,established,fin_wait_1,fin_wait_2,closing,time_wait,close_wait,last_ack,orphans,frames,tcp,fin,fin_retransmissions,rst,new_connections,closes,syn_sent,syn_recv"
    )?;
    for b in &r.buckets {
        writeln!(
            w,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            b.t_us,
            b.established,
            b.fin_wait_1,
            b.fin_wait_2,
            b.closing,
            b.time_wait,
            b.close_wait,
            b.last_ack,
            b.orphans,
            b.frames,
            b.tcp,
            b.fin,
            b.fin_retransmissions,
            b.rst,
            b.new_connections,
            b.closes,
            b.syn_sent,
            b.syn_recv
        )?;
    }
    Ok(())
}

const GLYPHS: [char; 9] = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
const CHART_WIDTH: usize = 96;

/// A terminal chart: one row per state, time left to right, each column the
/// largest value of the buckets it covers, scaled to the row's peak.
pub fn render_chart(r: &TimelineReport, w: &mut impl Write) -> io::Result<()> {
    if r.buckets.is_empty() {
        return writeln!(w, "  (no packets)");
    }
    let per_col = r.buckets.len().div_ceil(CHART_WIDTH).max(1);
    let cols = r.buckets.len().div_ceil(per_col);
    type Get = fn(&Bucket) -> i64;
    let rows: [(&str, Get); 10] = [
        ("ESTABLISHED", |b| b.established),
        ("FIN-WAIT-1", |b| b.fin_wait_1),
        ("FIN-WAIT-2", |b| b.fin_wait_2),
        ("CLOSING", |b| b.closing),
        ("TIME-WAIT", |b| b.time_wait),
        ("CLOSE-WAIT", |b| b.close_wait),
        ("LAST-ACK", |b| b.last_ack),
        ("orphans", |b| b.orphans),
        ("FIN segs", |b| b.fin as i64),
        ("FIN rtx", |b| b.fin_retransmissions as i64),
    ];
    writeln!(
        w,
        "  {} buckets of {}, {} per column; each row scaled to its own peak",
        r.buckets.len(),
        super::text::dur(r.bucket_us),
        super::text::dur(r.bucket_us * per_col as u64)
    )?;
    for (name, get) in rows {
        let vals: Vec<i64> = r
            .buckets
            .chunks(per_col)
            .map(|c| c.iter().map(get).max().unwrap_or(0))
            .collect();
        let peak = vals.iter().copied().max().unwrap_or(0);
        let line: String = vals
            .iter()
            .map(|v| {
                if peak <= 0 || *v <= 0 {
                    GLYPHS[0]
                } else {
                    GLYPHS[((v * 8 + peak - 1) / peak).clamp(1, 8) as usize]
                }
            })
            .collect();
        writeln!(w, "  {name:<11} |{line:<cols$}| peak {peak}")?;
    }
    let first = r.buckets.first().map_or(0, |b| b.t_us);
    let last = r.buckets.last().map_or(0, |b| b.t_us + r.bucket_us);
    writeln!(
        w,
        "  {:<11}  {} .. {} UTC",
        "",
        super::text::utc(first),
        super::text::utc(last)
    )?;
    Ok(())
}

/// The text of `finscope timeline`: chart, peaks, limits, diagnosis.
pub fn render_text(r: &TimelineReport, w: &mut impl Write) -> io::Result<()> {
    writeln!(
        w,
        "LOCAL SOCKET STATES OVER TIME (reconstructed from the capture)"
    )?;
    render_chart(r, w)?;
    writeln!(w)?;
    render_peaks(r, w)?;
    render_diagnosis(&r.diagnosis, w)
}

/// Peaks, limit crossings and the what-if, as text.
pub fn render_peaks(r: &TimelineReport, w: &mut impl Write) -> io::Result<()> {
    writeln!(
        w,
        "  {:<20} {:>8}  {:<28} {:>12}",
        "state", "peak", "at (UTC)", "total time"
    )?;
    for (key, label) in [
        ("fin_wait_1", "FIN-WAIT-1"),
        ("fin_wait_2", "FIN-WAIT-2"),
        ("closing", "CLOSING"),
        ("time_wait", "TIME-WAIT"),
        ("close_wait", "CLOSE-WAIT"),
        ("last_ack", "LAST-ACK"),
        ("orphans", "orphans (estimate)"),
    ] {
        if let Some(p) = r.peaks.get(key) {
            let total = r.state_time_us.get(key).copied().unwrap_or(0);
            writeln!(
                w,
                "  {:<20} {:>8}  {:<28} {:>12}",
                label,
                super::text::thousands(p.value.max(0) as u64),
                if p.value > 0 {
                    super::text::utc(p.t_us)
                } else {
                    "-".into()
                },
                super::text::dur(total)
            )?;
        }
    }
    if r.close_began_before_capture + r.open_at_end > 0 {
        writeln!(
            w,
            "  flagged: {} connection(s) already closing when the capture began, {} still open at its end",
            r.close_began_before_capture, r.open_at_end
        )?;
    }
    for (name, c) in [
        ("tcp_max_orphans", &r.limits.max_orphans),
        ("tcp_max_tw_buckets", &r.limits.max_tw_buckets),
    ] {
        if let Some(c) = c {
            writeln!(
                w,
                "  {name}={}: {} bucket(s) over{}",
                c.limit,
                c.buckets_over,
                c.first_t_us
                    .map(|t| format!(", first at {} UTC", super::text::utc(t)))
                    .unwrap_or_default()
            )?;
        }
    }
    if let Some(x) = &r.limits.orphan_retries {
        writeln!(
            w,
            "  tcp_orphan_retries={} what-if: {} orphan(s) killed; FIN-WAIT-1 peak {} -> {}, orphans peak {} -> {}",
            x.retries,
            x.orphans_killed,
            x.fin_wait_1_peak,
            x.fin_wait_1_peak_limited,
            x.orphans_peak,
            x.orphans_peak_limited
        )?;
    }
    Ok(())
}

/// The diagnosis as text.
pub fn render_diagnosis(d: &[Finding], w: &mut impl Write) -> io::Result<()> {
    writeln!(w)?;
    writeln!(w, "DIAGNOSIS")?;
    if d.is_empty() {
        return writeln!(
            w,
            "  no finding: nothing in this capture points at a close-state problem"
        );
    }
    for (i, f) in d.iter().enumerate() {
        writeln!(w, "  {}. {}", i + 1, f.finding)?;
        for e in &f.evidence {
            writeln!(w, "     - {e}")?;
        }
        if !f.tunables.is_empty() {
            writeln!(w, "     tunables: {}", f.tunables.join(", "))?;
        }
    }
    Ok(())
}
