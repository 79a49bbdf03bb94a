//! Builds the `timeline` part of the report: the local side's socket states
//! per time bucket, their peaks, limit crossings and the orphan-retries
//! what-if, from the merged [`Timeline`] (render/timeline.rs draws it).

use super::format::ratio;
use super::schema::{Bucket, Crossing, LimitsReport, Peak, RetriesWhatIf, TimelineReport};
use crate::metrics::timeline::{Count, NCOUNTERS, NSERIES, Series, TcpState, Timeline};
use crate::metrics::{Packets, add};
use std::collections::BTreeMap;

/// Most buckets the `timeline` command's document holds, the full series
/// (a 5.5-hour capture at 1 s): past it the bucket width grows by a power
/// of two, keeping the JSON to a few MB. A power of two, so that the
/// widths of any two reports of the same `--bucket` divide one another and
/// `finscope merge` adds their timelines exactly on the wider one.
pub const MAX_BUCKETS: u64 = 20_000;

/// Most buckets the analyze document holds (`analyze`, `check`, `merge`):
/// a chart's resolution, so that the report of a long capture stays small
/// (about 0.4 MB of buckets); widened by the same power-of-two rule.
pub const REPORT_MAX_BUCKETS: u64 = 1_000;

/// What-if limits (`--max-orphans`, `--max-tw-buckets`, `--orphan-retries`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Limits {
    pub max_orphans: Option<u64>,
    pub max_tw_buckets: Option<u64>,
    pub orphan_retries: Option<u32>,
}

/// The bucket grid of a report: `n` buckets of `w` ns from `start` (in
/// fine buckets of `w0`), `k` fine buckets each.
#[derive(Clone, Copy)]
struct Grid {
    w0: u64,
    k: u64,
    w: u64,
    start: u64,
    n: usize,
}

impl Grid {
    /// The bucket holding time `t` (ns), if on the grid.
    fn index_of_time(&self, t: u64) -> Option<usize> {
        self.index(t / self.w0)
    }

    /// The coarse bucket holding fine bucket `b`, if on the grid.
    fn index(&self, b: u64) -> Option<usize> {
        let cb = b / self.k;
        let first = self.start / self.k;
        (cb >= first)
            .then(|| (cb - first) as usize)
            .filter(|i| *i < self.n)
    }
}

/// The timeline re-binned onto the grid (exact for end-of-bucket counts: a
/// delta at fine bucket i is counted from coarse bucket floor(i/k) on).
struct Rebinned {
    /// Deltas from before the first bucket.
    carry: [i64; NSERIES],
    deltas: Vec<[i64; NSERIES]>,
    counts: Vec<[u64; NCOUNTERS]>,
    /// Frames per bucket, when counted on the same fine grid.
    frames: Option<Vec<u64>>,
}

fn rebin(t: &Timeline, p: &Packets, g: Grid) -> Rebinned {
    let mut r = Rebinned {
        carry: [0; NSERIES],
        deltas: vec![[0; NSERIES]; g.n],
        counts: vec![[0; NCOUNTERS]; g.n],
        frames: (p.bucket_ns > 0 && g.w.is_multiple_of(p.bucket_ns)).then(|| vec![0; g.n]),
    };
    let mut keys: Vec<&u64> = t.buckets.keys().collect();
    keys.sort_unstable();
    for b in keys {
        let Some(d) = t.buckets.get(b) else { continue };
        if b / g.k < g.start / g.k {
            r.carry.iter_mut().zip(d.delta).for_each(|(c, x)| add(c, x));
            continue;
        }
        let Some(idx) = g.index(*b) else { continue };
        r.deltas[idx]
            .iter_mut()
            .zip(d.delta)
            .for_each(|(c, x)| add(c, x));
        r.counts[idx]
            .iter_mut()
            .zip(d.counts)
            .for_each(|(c, x)| add(c, x));
    }
    if let Some(frames) = &mut r.frames {
        for (b, c) in &p.frames_by_bucket {
            if let Some(i) = g.index_of_time(b.saturating_mul(p.bucket_ns)) {
                add(&mut frames[i], c);
            }
        }
    }
    r
}

/// One bucket's row: the series `level` at its end, its counters.
fn bucket_row(
    t_ns: u64,
    level: &[i64; NSERIES],
    c: [u64; NCOUNTERS],
    frames: Option<u64>,
    lim: &Limits,
) -> Bucket {
    let n = |k: Count| c[k.index()];
    let tcp = n(Count::Segments);
    let st = |s: TcpState| level[Series::State(s).index()];
    let orphans = level[Series::Orphans.index()];
    Bucket {
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
        frames: frames.unwrap_or(tcp),
        tcp,
        fin: n(Count::Fin),
        fin_retransmissions: n(Count::FinRetransmissions),
        rst: n(Count::Rst),
        new_connections: n(Count::NewConnections),
        closes: n(Count::Closes),
        fin_ratio: ratio(n(Count::Fin), tcp),
        fin_wait_1_limited: lim
            .orphan_retries
            .map(|_| level[Series::FinWait1Limited.index()]),
        orphans_limited: lim
            .orphan_retries
            .map(|_| level[Series::OrphansLimited.index()]),
        over_max_orphans: lim.max_orphans.is_some_and(|m| orphans > m as i64),
        over_max_tw_buckets: lim
            .max_tw_buckets
            .is_some_and(|m| st(TcpState::TimeWait) > m as i64),
    }
}

/// Counts the buckets over a limit.
fn crossing(limit: Option<u64>, buckets: &[Bucket], over: fn(&Bucket) -> bool) -> Option<Crossing> {
    let limit = limit?;
    let mut c = Crossing {
        limit,
        ..Crossing::default()
    };
    for b in buckets.iter().filter(|b| over(b)) {
        c.buckets_over += 1;
        c.first_t_us.get_or_insert(b.t_us);
    }
    Some(c)
}

/// The report's grid over the capture's time range, at most `max` buckets;
/// `None` without frames.
fn grid(w0: u64, p: &Packets, max: u64) -> Option<Grid> {
    let max = max.max(1);
    let w0 = w0.max(1);
    // (A merged saved report may say its last packet came first.)
    let (first, last) = (p.first_ts?, p.last_ts?);
    let last = last.max(first);
    let (b_first, b_last) = (first / w0, last / w0);
    let n = |k: u64| (b_last / k - b_first / k).saturating_add(1);
    let mut k = (b_last - b_first)
        .saturating_add(1)
        .div_ceil(max)
        .max(1)
        .checked_next_power_of_two()
        .unwrap_or(1 << 63);
    // Aligned to multiples of the wider bucket, the range may straddle
    // one more: widen until it fits, so that a report never holds more
    // than `max` (and a merge of one report gives it back).
    while n(k) > max && k < 1 << 63 {
        k *= 2;
    }
    Some(Grid {
        w0,
        k,
        w: w0.saturating_mul(k),
        start: (b_first / k) * k,
        n: n(k) as usize,
    })
}

/// The state changes the report's buckets do not hold: those after its
/// last bucket (a TIME-WAIT ending after the capture, a connection still
/// open at its end) and before its first (a state entered at the very
/// first timestamp, when that is a bucket boundary, counts at the end of
/// the bucket before). Per bucket of the report's width (its number since
/// the epoch, `t / bucket_us`), the deltas of every series. With them a
/// merge continues this timeline into another input's time
/// (docs/report.md, `mergeable.timeline.outside`).
pub fn outside(t: &Timeline, p: &Packets, max: u64) -> Vec<(u64, [i64; NSERIES])> {
    let g = grid(t.cfg.bucket_ns, p, max).unwrap_or(Grid {
        w0: t.cfg.bucket_ns.max(1),
        k: 1,
        w: t.cfg.bucket_ns.max(1),
        start: 0,
        n: 0,
    });
    let mut out: BTreeMap<u64, [i64; NSERIES]> = BTreeMap::new();
    for (b, d) in &t.buckets {
        if g.index(*b).is_some() || d.delta == [0; NSERIES] {
            continue;
        }
        let e = out.entry(b / g.k).or_insert([0; NSERIES]);
        e.iter_mut().zip(d.delta).for_each(|(x, y)| add(x, y));
    }
    out.into_iter()
        .filter(|(_, d)| *d != [0; NSERIES])
        .collect()
}

/// Builds the timeline report over the capture's time range, at most
/// `max` buckets ([`MAX_BUCKETS`], [`REPORT_MAX_BUCKETS`]).
pub fn build(t: &Timeline, p: &Packets, lim: &Limits, max: u64) -> TimelineReport {
    let w0 = t.cfg.bucket_ns.max(1);
    let Some(g) = grid(t.cfg.bucket_ns, p, max) else {
        return empty(w0 / 1_000, lim);
    };
    let k = g.k;
    let r = rebin(t, p, g);
    let mut level = r.carry;
    let mut buckets = Vec::with_capacity(g.n);
    let mut peaks = [(0i64, 0u64); NSERIES];
    for i in 0..g.n {
        level
            .iter_mut()
            .zip(r.deltas[i])
            .for_each(|(l, d)| add(l, d));
        let t_ns = (g.start / k + i as u64).saturating_mul(g.w);
        let end_us = t_ns.saturating_add(g.w) / 1_000;
        for (p, l) in peaks.iter_mut().zip(level) {
            if l > p.0 {
                *p = (l, end_us);
            }
        }
        let frames = r.frames.as_ref().map(|f| f[i]);
        buckets.push(bucket_row(t_ns, &level, r.counts[i], frames, lim));
    }
    let mut report = empty(g.w / 1_000, lim);
    report.start_us = g.start.saturating_mul(w0) / 1_000;
    // Widened while reading past the width the report's own rule gives
    // the asked one.
    report.widened_while_reading = t
        .widened_from
        .and_then(|w| grid(w, p, max))
        .is_some_and(|asked| asked.w < g.w);
    for (s, (peak, ns)) in Series::ALL.into_iter().zip(peaks.iter().zip(t.state_ns)) {
        let key = s.name();
        let limited = s.is_what_if();
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
    // Crossings are reported at the bucket end.
    let end = |mut c: Crossing| {
        c.first_t_us = c.first_t_us.map(|t| t + g.w / 1_000);
        c
    };
    report.limits.max_orphans =
        crossing(lim.max_orphans, &buckets, |b| b.over_max_orphans).map(end);
    report.limits.max_tw_buckets =
        crossing(lim.max_tw_buckets, &buckets, |b| b.over_max_tw_buckets).map(end);
    if let Some(r) = lim.orphan_retries {
        report.limits.orphan_retries = Some(RetriesWhatIf {
            retries: r,
            orphans_killed: t.orphans_killed,
            fin_wait_1_peak: peaks[Series::State(TcpState::FinWait1).index()].0,
            fin_wait_1_peak_limited: peaks[Series::FinWait1Limited.index()].0,
            orphans_peak: peaks[Series::Orphans.index()].0,
            orphans_peak_limited: peaks[Series::OrphansLimited.index()].0,
        });
    }
    report.buckets = buckets;
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
        widened_while_reading: false,
    }
}
