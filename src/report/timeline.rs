//! Builds the `timeline` part of the report: the local side's socket states
//! per time bucket, their peaks, limit crossings and the orphan-retries
//! what-if, from the merged [`Timeline`] (render/timeline.rs draws it).

use super::schema::{Bucket, Crossing, LimitsReport, Peak, RetriesWhatIf, TimelineReport};
use crate::metrics::Packets;
use crate::metrics::timeline::{
    C_CLOSES, C_FIN, C_FIN_RTX, C_NEW, C_RST, C_SEGMENTS, NSERIES, S_FW1_LIMITED, S_ORPHANS,
    S_ORPHANS_LIMITED, TcpState, Timeline, series_index,
};
use std::collections::BTreeMap;

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
    }
}
