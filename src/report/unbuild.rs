//! The way back from a report to the run's results it was built from
//! (`finscope merge`): the report's exact figures plus its `mergeable`
//! object (`report::schema::mergeable`; its encoder is in `report::build`).
//! [`analysis`] turns a report into an [`Analysis`] whose [`Summary`] is the
//! one the report was built from (on a possibly coarser timeline grid), so a
//! merge is: every input into metrics, added with the metrics' own
//! `AddAssign`, and one ordinary [`crate::report::build()`].

use crate::capture::FileInfo;
use crate::decode::Skip;
use crate::flow::key::FlowKey;
use crate::flow::state::TcpState;
use crate::metrics::hist::{CompactHist, HistError};
use crate::metrics::timeline::{Count, NSERIES, Series, Timeline, TimelineConfig};
use crate::metrics::{Hist, KernelEvidence, Metric, PeerStats, Split, Summary, Worst};
use crate::pipeline::Analysis;
use crate::report::schema::mergeable::{
    CompactParts, HistParts, MERGEABLE_VERSION, Mergeable, PeerParts,
};
use crate::report::schema::{Bucket, COUNTER_SERIES, Report, STATE_SERIES};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

mod fin_delay;
use std::net::IpAddr;

/// Why a report cannot be turned back into metrics.
#[derive(Debug, thiserror::Error)]
pub enum MergeableError {
    #[error("`mergeable.{field}`: {source}")]
    Hist {
        field: String,
        #[source]
        source: HistError,
    },
    #[error("`mergeable.{field}`: not base64: {source}")]
    Base64 {
        field: String,
        #[source]
        source: base64::DecodeError,
    },
    #[error("`mergeable` version {0} is not one this finscope reads ({MERGEABLE_VERSION})")]
    Version(u32),
    #[error("`{field}`: {message}")]
    Invalid { field: String, message: String },
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> MergeableError {
    MergeableError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}
impl HistParts {
    fn hist(&self, field: &str) -> Result<Hist, MergeableError> {
        let bytes = match &self.hdr_v2 {
            Some(s) => Some(BASE64.decode(s).map_err(|source| MergeableError::Base64 {
                field: field.to_string(),
                source,
            })?),
            None => None,
        };
        let hist_err = |source| MergeableError::Hist {
            field: field.to_string(),
            source,
        };
        match (self.count, self.min_us, self.max_us) {
            (0, _, _) => Hist::from_v2(bytes.as_deref(), 0, 0, 0).map_err(hist_err),
            (n, Some(lo), Some(hi)) => Hist::from_v2(bytes.as_deref(), n, lo, hi).map_err(hist_err),
            _ => Err(invalid(
                format!("mergeable.{field}"),
                "samples without min_us and max_us",
            )),
        }
    }
}

impl CompactParts {
    fn hist(&self, field: &str) -> Result<CompactHist, MergeableError> {
        let (lo, hi) = match (self.count, self.min_us, self.max_us) {
            (0, _, _) => (0, 0),
            (_, Some(lo), Some(hi)) => (lo, hi),
            _ => {
                return Err(invalid(
                    format!("mergeable.{field}"),
                    "samples without min_us and max_us",
                ));
            }
        };
        let buckets = self
            .buckets
            .split_ascii_whitespace()
            .map(|pair| {
                let (i, n) = pair.split_once(':')?;
                Some((i.parse().ok()?, n.parse().ok()?))
            })
            .collect::<Option<Vec<(u16, u32)>>>()
            .ok_or_else(|| {
                invalid(
                    format!("mergeable.{field}.buckets"),
                    "not `index:samples` pairs",
                )
            })?;
        CompactHist::from_parts(buckets, self.count, lo, hi).map_err(|source| {
            MergeableError::Hist {
                field: field.to_string(),
                source,
            }
        })
    }
}

impl PeerParts {
    /// The peer's figures; its worst connection's input index `i` becomes
    /// `inputs[i]` (the index of that input among a merge's).
    fn stats(&self, field: &str, inputs: &[u32]) -> Result<PeerStats, MergeableError> {
        let worst = match &self.worst {
            None => None,
            Some(w) => {
                let input = *inputs.get(w.input as usize).ok_or_else(|| {
                    invalid(
                        format!("mergeable.{field}.worst.input"),
                        format!("{} is not an index of `inputs` ({})", w.input, inputs.len()),
                    )
                })?;
                let l = (w.local.ip(), w.local.port());
                let r = (self.addr, w.remote_port);
                let (key, local) = FlowKey::ordered(l, r, w.vlan);
                Some(Worst {
                    score: w.score,
                    latency_us: w.latency_us,
                    first_ts: w.first_ts_ns,
                    first_frame: w.first_frame,
                    last_frame: w.last_frame,
                    key,
                    local,
                    input,
                })
            }
        };
        Ok(PeerStats {
            counts: self.counts,
            fin_ack: self.fin_ack.hist(&format!("{field}.fin_ack"))?,
            fin_wait_1_ns: self.fin_wait_1_ns,
            worst,
            fin_delay: match &self.fin_delay {
                Some(p) => p.sums(field)?,
                None => Default::default(),
            },
        })
    }
}

impl Mergeable {
    /// The `port_peers` figures: (remote port, remote address, figures),
    /// worst-connection input indices mapped by `inputs` as in [`analysis`].
    pub fn port_pairs(
        &self,
        inputs: &[u32],
    ) -> Result<Vec<(u16, IpAddr, PeerStats)>, MergeableError> {
        self.port_peers
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let field = format!("port_peers[{i}]");
                let port = p
                    .port
                    .ok_or_else(|| invalid(format!("mergeable.{field}.port"), "missing"))?;
                Ok((port, p.addr, p.stats(&field, inputs)?))
            })
            .collect()
    }
}

/// A bucket's count of every series, at its end: the levels the report
/// shows ([`STATE_SERIES`]); the what-if series, shown only with
/// `--orphan-retries`, equal FIN-WAIT-1 and orphans without it.
fn levels(b: &Bucket) -> [i64; NSERIES] {
    let mut l = [0; NSERIES];
    for x in Series::ALL.into_iter().filter(|x| !x.is_what_if()) {
        l[x.index()] = STATE_SERIES
            .iter()
            .find(|s| s.key == x.name())
            .map_or(0, |s| (s.get)(b));
    }
    let [fw1, orphans] = [Series::State(TcpState::FinWait1), Series::Orphans].map(Series::index);
    l[Series::FinWait1Limited.index()] = b.fin_wait_1_limited.unwrap_or(l[fw1]);
    l[Series::OrphansLimited.index()] = b.orphans_limited.unwrap_or(l[orphans]);
    l
}

/// Seconds to ns, as the analysis options do.
fn secs_to_ns(s: f64) -> u64 {
    (s * 1e9).round() as u64
}

/// The analysis `r` was built from: its [`Summary`] (the timeline on the
/// grid of `bucket_us`, a multiple of the report's `timeline.bucket_us`)
/// and its files. `inputs[i]`: the index among a merge's inputs of this
/// report's input `i` (its row in `inputs`, or the report itself as 0):
/// its worst connections' input indices are mapped by it.
pub fn analysis(r: &Report, bucket_us: u64, inputs: &[u32]) -> Result<Analysis, MergeableError> {
    let m = r.mergeable.as_ref().ok_or_else(|| {
        invalid(
            "mergeable",
            "missing (re-run `finscope analyze --json` with this version)",
        )
    })?;
    if m.version != MERGEABLE_VERSION {
        return Err(MergeableError::Version(m.version));
    }
    let mut s = Summary::default();

    // Packets: the report's exact counts.
    let p = &mut s.packets;
    p.counts = r.packets.clone();
    for k in Skip::ALL {
        p.skipped[k] = r.skipped.get(k.name()).copied().unwrap_or(0);
    }
    for l in &r.capture.link_types {
        p.add_link_frames(l.linktype, l.frames);
    }
    p.first_ts = r.capture.first_ts_us.map(|t| t.saturating_mul(1_000));
    p.last_ts = r.capture.last_ts_us.map(|t| t.saturating_mul(1_000));

    // The counter groups: the report holds them as the metrics do.
    s.connections = r.connections.clone();
    s.outcomes = r.outcomes;
    s.outcomes_by_closer = r.outcomes_by_closer;
    s.fin_rtx = r.fin_retransmissions.clone();
    s.unacked = r.unacked_fins.clone();
    s.local_fins = m.local_fins;

    // Histograms: from `mergeable`.
    for metric in Metric::ALL {
        for split in Split::ALL {
            s.latency[metric][split] = m.latency[metric][split].hist(&format!(
                "latency.{}.{}",
                metric.name(),
                split.name()
            ))?;
        }
    }
    s.unacked_fin_age = m.unacked_fin_age.hist("unacked_fin_age")?;
    for (i, p) in m.peers.iter().enumerate() {
        let ps = p.stats(&format!("peers[{i}]"), inputs)?;
        *s.peers.entry(p.addr).or_default() += &ps;
    }
    if let Some(p) = &m.peers_others {
        s.peers_others.stats = p.stats("peers_others", inputs)?;
        s.peers_others.stats.worst = None;
    }
    s.peers_others.folded = m.peers_folded;
    s.kernel = kernel(r, m)?;
    s.timeline = timeline(r, m, bucket_us)?;
    s.packets.bucket_ns = s.timeline.cfg.bucket_ns;
    s.packets.frames_by_bucket = frames_by_bucket(r, bucket_us);

    let files = r
        .capture
        .files
        .iter()
        .map(|f| FileInfo {
            path: f.path.clone(),
            format: f.format.clone(),
            bytes: f.bytes_read,
            records: f.records,
            truncated: f.truncated,
            error: f.error.clone(),
        })
        .collect();
    Ok(Analysis {
        summary: s,
        files,
        damage: Vec::new(),
        threads: 0,
        peak_connections: 0,
        interrupted: r.capture.interrupted,
        evicted_early: r.capture.evicted_early,
        time_range: None,
        ports: None,
    })
}

/// The kernel evidence: `inferred_tunables` plus `mergeable.kernel`.
fn kernel(r: &Report, m: &Mergeable) -> Result<KernelEvidence, MergeableError> {
    let t = &r.inferred_tunables;
    let or = &t.tcp_orphan_retries;
    let mut k = KernelEvidence::default();
    for (n, c) in &or.by_retransmissions {
        let n: u32 = n.parse().map_err(|_| {
            invalid(
                "inferred_tunables.tcp_orphan_retries.by_retransmissions",
                format!("`{n}` is not a number"),
            )
        })?;
        let e = k.killed_by_rtx.entry(n).or_default();
        *e = e.saturating_add(*c);
    }
    for (lo, hi, c) in &m.kernel.killed_ranges {
        let e = k.killed_ranges.entry((*lo, *hi)).or_default();
        *e = e.saturating_add(*c);
    }
    k.killed_with_probe = or.with_probe;
    k.kills_confirmed = or.confirmed;
    for (name, c) in &or.killed_in {
        let st = TcpState::ALL
            .iter()
            .find(|s| s.key() == name)
            .ok_or_else(|| {
                invalid(
                    "inferred_tunables.tcp_orphan_retries.killed_in",
                    format!("`{name}` is not a state"),
                )
            })?;
        let e = k.killed_in.entry(st.key()).or_default();
        *e = e.saturating_add(*c);
    }
    k.survivor_max_rtx = or.survivor_max_retransmissions;
    k.fin_wait_2_survived_max_us = m.kernel.fin_wait_2_survived_max_us;
    k.fin_wait_2_gone_min_us = m.kernel.fin_wait_2_gone_min_us;
    k.fin_wait_2_gone = t.tcp_fin_timeout.gone;
    k.fin_wait_2_survived = t.tcp_fin_timeout.survived;
    k.first_rto_us = m.kernel.first_rto_us.hist("kernel.first_rto_us")?;
    k.orphans_reset = t.orphans_reset_under_pressure.connections;
    Ok(k)
}

/// Bucket `b` of width `from_us` on the grid of width `to_us` (a multiple
/// of it): the bucket holding its start, so its end counts in that
/// bucket's end (docs/timeline.md: counts are taken at bucket ends).
fn regrid(b: u64, from_us: u64, to_us: u64) -> u64 {
    let t = u128::from(b) * u128::from(from_us);
    u64::try_from(t / u128::from(to_us.max(1))).unwrap_or(u64::MAX)
}

/// Frames per bucket of `bucket_us`.
fn frames_by_bucket(r: &Report, bucket_us: u64) -> Vec<(u64, u64)> {
    let w = r.timeline.bucket_us.max(1);
    let mut out: Vec<(u64, u64)> = Vec::new();
    for b in &r.timeline.buckets {
        let j = regrid(b.t_us / w, w, bucket_us);
        match out.last_mut() {
            Some((lb, n)) if *lb == j => *n = n.saturating_add(b.frames),
            _ => out.push((j, b.frames)),
        }
    }
    out
}

/// The timeline: the report's levels turned back into changes, plus the
/// changes after its last bucket, on the grid of `bucket_us`.
fn timeline(r: &Report, m: &Mergeable, bucket_us: u64) -> Result<Timeline, MergeableError> {
    let t = &r.timeline;
    let w = t.bucket_us.max(1);
    if !bucket_us.is_multiple_of(w) {
        return Err(invalid(
            "timeline.bucket_us",
            format!("{w} does not divide the merge's bucket of {bucket_us} us"),
        ));
    }
    let what_if = t.limits.orphan_retries.as_ref();
    let [fw1, orphans] = [Series::State(TcpState::FinWait1), Series::Orphans].map(Series::index);
    let [fw1_limited, orphans_limited] =
        [Series::FinWait1Limited, Series::OrphansLimited].map(Series::index);
    // The changes outside the buckets, as series deltas by bucket number.
    let mut out: Vec<(u64, [i64; NSERIES])> = Vec::new();
    for (i, ob) in m.timeline.outside.iter().enumerate() {
        let mut d = [0i64; NSERIES];
        for (name, v) in &ob.deltas {
            let s = Series::from_name(name).ok_or_else(|| {
                invalid(
                    format!("mergeable.timeline.outside[{i}]"),
                    format!("`{name}` is not a series"),
                )
            })?;
            d[s.index()] = d[s.index()].saturating_add(*v);
        }
        if what_if.is_none() {
            d[fw1_limited] = d[fw1];
            d[orphans_limited] = d[orphans];
        }
        out.push((ob.bucket, d));
    }
    // The first bucket's counts include the changes before it.
    let first = t.buckets.first().map_or(0, |b| b.t_us / w);
    let mut prev = [0i64; NSERIES];
    for (b, d) in &out {
        if *b < first {
            prev.iter_mut()
                .zip(d)
                .for_each(|(x, y)| *x = x.saturating_add(*y));
        }
    }
    let mut tl = Timeline::new(TimelineConfig {
        bucket_ns: bucket_us.saturating_mul(1_000),
        time_wait_ns: secs_to_ns(r.settings.time_wait_s),
        fin_timeout_ns: m.timeline.fin_timeout_ns,
        orphan_retries: what_if.map(|x| x.retries),
    });
    for (i, b) in t.buckets.iter().enumerate() {
        if !b.t_us.is_multiple_of(w)
            || (i > 0 && Some(b.t_us) != t.buckets[i - 1].t_us.checked_add(w))
        {
            return Err(invalid(
                "timeline.buckets",
                format!("bucket at {} us is off the grid of {w} us", b.t_us),
            ));
        }
        let level = levels(b);
        let e = tl
            .buckets
            .entry(regrid(b.t_us / w, w, bucket_us))
            .or_default();
        for s in 0..NSERIES {
            e.delta[s] = e.delta[s].saturating_add(level[s].saturating_sub(prev[s]));
        }
        for k in Count::ALL {
            let v = COUNTER_SERIES
                .iter()
                .find(|(name, _)| *name == k.name())
                .map_or(0, |(_, get)| get(b));
            e.counts[k.index()] = e.counts[k.index()].saturating_add(v);
        }
        prev = level;
    }
    for (b, d) in out {
        let e = tl.buckets.entry(regrid(b, w, bucket_us)).or_default();
        e.delta
            .iter_mut()
            .zip(d)
            .for_each(|(x, y)| *x = x.saturating_add(y));
    }
    for (name, ns) in &m.timeline.state_time_ns {
        let s = Series::from_name(name).ok_or_else(|| {
            invalid(
                "mergeable.timeline.state_time_ns",
                format!("`{name}` is not a series"),
            )
        })?;
        tl.state_ns[s.index()] = *ns;
    }
    tl.state_ns[fw1_limited] = tl.state_ns[fw1];
    tl.state_ns[orphans_limited] = tl.state_ns[orphans];
    tl.close_before_capture = t.close_began_before_capture;
    tl.open_at_end = t.open_at_end;
    tl.orphans_killed = what_if.map_or(0, |x| x.orphans_killed);
    Ok(tl)
}
