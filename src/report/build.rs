//! Builds the report document from an analysis: every figure the
//! renderers show is computed here (or in [`super::timeline`] and
//! [`super::diagnosis`]), once.

use super::format::ratio;
use super::schema::mergeable::Mergeable;
use super::schema::*;
use super::{diagnosis, timeline};
use crate::decode::linktype;
use crate::metrics::groups::GroupRow;
use crate::metrics::peers::{PeerStats, RankBy, rank};
use crate::metrics::{Hist, KernelEvidence};
use crate::pipeline::Analysis;

/// The encoder of the `mergeable` object (its types are the schema's).
mod fin_delay;
mod mergeable;

/// Report settings.
#[derive(Clone, Debug, Default)]
pub struct ReportOptions {
    pub top: usize,
    pub rank_by: RankBy,
    pub local: Vec<String>,
    pub idle_timeout_s: f64,
    pub time_wait_s: f64,
    /// What-if limits for the timeline.
    pub limits: timeline::Limits,
    /// A merged report's input labels (`finscope merge`), by the input
    /// index of worst connections; empty for one analysis.
    pub inputs: Vec<String>,
    /// Most timeline buckets: [`timeline::REPORT_MAX_BUCKETS`] (also when
    /// 0), or [`timeline::MAX_BUCKETS`] for the `timeline` command.
    pub max_buckets: u64,
    /// Remedies asked for (`--what-if`), beside the standard ones.
    pub what_if: Vec<super::remedies::WhatIf>,
    /// `--filter` as the report shows it (`settings.filter`).
    pub filter: Option<String>,
    /// `--label` (`settings.label`).
    pub label: Option<String>,
}

impl ReportOptions {
    fn max_buckets(&self) -> u64 {
        match self.max_buckets {
            0 => timeline::REPORT_MAX_BUCKETS,
            n => n,
        }
    }
}

/// The peer rows of ranked groups (`--group-by`).
pub fn group_peers(rows: Vec<GroupRow>) -> Vec<Peer> {
    group_peers_in(rows, &[])
}

/// The peer rows of ranked groups of a merged report with these `inputs`.
pub fn group_peers_in(rows: Vec<GroupRow>, inputs: &[String]) -> Vec<Peer> {
    rows.into_iter()
        .map(|g| {
            let mut p = Peer::of(g.label, &g.stats).in_inputs(&g.stats, inputs);
            p.members = Some(g.members);
            p.worst_members = g.worst_members;
            p
        })
        .collect()
}

impl InferredTunables {
    pub(crate) fn of(k: &KernelEvidence) -> InferredTunables {
        let killed: u64 = k.killed_by_rtx.values().sum();
        let best = k.orphan_retries();
        let fin_timeout = k.fin_timeout_bounds();
        let ms = |us: u64| (us as f64 / 1_000.0 * 10.0).round() / 10.0;
        InferredTunables {
            tcp_max_orphans: MaxOrphans::default(),
            tcp_max_tw_buckets: None,
            tcp_orphan_retries: OrphanRetries {
                value: best.map(|b| b.0),
                killed,
                consistent: best.map_or(0, |b| b.1),
                confirmed: k.kills_confirmed,
                by_retransmissions: k
                    .killed_by_rtx
                    .iter()
                    .map(|(n, c)| (n.to_string(), *c))
                    .collect(),
                with_probe: k.killed_with_probe,
                killed_in: k
                    .killed_in
                    .iter()
                    .map(|(n, c)| (n.to_string(), *c))
                    .collect(),
                survivor_max_retransmissions: k.survivor_max_rtx,
            },
            tcp_fin_timeout: FinTimeout {
                at_least_s: fin_timeout.0.map(|v| v as f64),
                at_most_s: fin_timeout.1.map(|v| v as f64),
                survived: k.fin_wait_2_survived,
                gone: k.fin_wait_2_gone,
            },
            rto_min: RtoMin {
                value_ms: k.first_rto_us.min().map(ms),
                p50_ms: k.first_rto_us.quantile(0.5).map(ms),
                connections: k.first_rto_us.count(),
            },
            orphans_reset_under_pressure: PressureResets {
                value: k.orphans_reset > 0,
                connections: k.orphans_reset,
            },
        }
    }
}

impl LatencyStats {
    pub(crate) fn of(h: &Hist, buckets: bool) -> LatencyStats {
        LatencyStats {
            count: h.count(),
            p50_us: h.quantile(0.5),
            p90_us: h.quantile(0.9),
            p99_us: h.quantile(0.99),
            p999_us: h.quantile(0.999),
            max_us: h.max(),
            buckets: if buckets { h.log_buckets() } else { Vec::new() },
        }
    }
}

impl Peer {
    /// The row of one peer (or peer group) named `addr`.
    pub fn of(addr: String, ps: &PeerStats) -> Peer {
        Peer {
            addr,
            counts: ps.counts,
            fin_ack_p50_us: ps.fin_ack.quantile(0.5),
            fin_ack_p99_us: ps.fin_ack.quantile(0.99),
            fin_ack_max_us: ps.fin_ack.max(),
            wireshark_filter: ps.worst.map(|w| w.wireshark_filter()).unwrap_or_default(),
            worst_input: None,
            members: None,
            worst_members: Vec::new(),
            fin_delay: Some(crate::report::schema::fin_delay::FinDelay::of(
                &ps.fin_delay,
            )),
        }
    }

    /// In a merged report with these `inputs`: names the input whose frame
    /// numbers the worst connection's filter uses.
    pub fn in_inputs(mut self, ps: &PeerStats, inputs: &[String]) -> Peer {
        if !inputs.is_empty() {
            self.worst_input = ps.worst.and_then(|w| inputs.get(w.input as usize)).cloned();
        }
        self
    }
}

/// Builds the report document from an analysis.
pub fn build(a: &Analysis, o: &ReportOptions) -> Report {
    let s = &a.summary;
    let p = &s.packets;
    let ranked = rank(s.peers.iter(), o.rank_by);
    let peers = ranked
        .iter()
        .take(o.top)
        .map(|(addr, ps)| Peer::of(addr.to_string(), ps).in_inputs(ps, &o.inputs))
        .collect();
    let tl = timeline::build(&s.timeline, p, &o.limits, o.max_buckets());
    let mut findings = diagnosis::diagnose(s, &tl);
    let started = std::time::Instant::now();
    let rem = super::remedies::remedies(s, &o.what_if, a.threads);
    if std::env::var_os("FINSCOPE_STATS").is_some() {
        // Engine figures for docs/performance.md; not part of any report.
        eprintln!(
            "finscope: stats: remedies: {} lives, {} rows, in {:.3}s",
            s.lives.len(),
            rem.rows.len(),
            started.elapsed().as_secs_f64()
        );
    }
    if let Some(f) = super::remedies::orphan_limit_hit(&rem, s) {
        findings.insert(0, f);
    }
    if let Some(f) = super::remedies::orphans_reset_memory_pressure(&rem) {
        findings.insert(0, f);
    }
    if let Some(f) = super::remedies::remedies_ranked(&rem) {
        // After the lead (what holds the FINs), before the rest.
        let at = usize::from(!findings.is_empty());
        findings.insert(at, f);
    }
    if let Some(f) = super::remedies::tw_overflow_suspected(s) {
        let at = findings
            .iter()
            .take_while(|f| f.id == "orphan_limit_hit" || f.id == "orphans_reset_memory_pressure")
            .count();
        findings.insert(at, f);
    }
    let mut tunables = InferredTunables::of(&s.kernel);
    tunables.tcp_max_orphans = super::remedies::max_orphans(&rem);
    Report {
        schema_version: SCHEMA_VERSION,
        finscope_version: env!("CARGO_PKG_VERSION").to_string(),
        truncated: a.truncated(),
        capture: capture_of(a),
        inputs: Vec::new(),
        packets: p.counts.clone(),
        skipped: (p.skipped.iter())
            .map(|(k, n)| (k.name().to_string(), *n))
            .collect(),
        fin_ratio: FinRatio {
            of_tcp: ratio(p.counts.fin, p.counts.tcp),
            of_frames: ratio(p.counts.fin, p.counts.frames),
        },
        fin_retransmissions: s.fin_rtx.clone(),
        connections: s.connections.clone(),
        outcomes: s.outcomes,
        outcomes_by_closer: s.outcomes_by_closer,
        latency: s
            .latency
            .map(|_, h| h.map(|_, h| LatencyStats::of(h, true))),
        unacked_fin_age: LatencyStats::of(&s.unacked_fin_age, false),
        unacked_fins: s.unacked.clone(),
        inferred_tunables: tunables,
        rank_by: o.rank_by,
        peers_total: s.peers.len() as u64 + s.peers_others.folded,
        group_by: None,
        peers,
        peers_others: (s.peers_others.folded > 0).then(|| {
            let o = &s.peers_others.stats;
            PeersOthers {
                folded: s.peers_others.folded,
                counts: o.counts,
            }
        }),
        settings: Settings {
            local: o.local.clone(),
            top: o.top,
            idle_timeout_s: o.idle_timeout_s,
            time_wait_s: o.time_wait_s,
            filter: o.filter.clone(),
            // The range analysed, when --since or --until restricted it.
            since_us: a
                .time_range
                .and_then(|(since, _)| (since > 0).then_some(since / 1_000)),
            until_us: a
                .time_range
                .and_then(|(_, until)| (until < u64::MAX).then_some(until / 1_000)),
            label: o.label.clone(),
        },
        timeline: tl,
        diagnosis: findings,
        demand: rem.demand,
        remedies: rem.rows,
        mergeable: Some(Mergeable::of(
            s,
            o.limits.orphan_retries.is_some(),
            o.max_buckets(),
        )),
        host: None,
    }
}

/// What was read: files, link types, time span.
fn capture_of(a: &Analysis) -> Capture {
    let s = &a.summary;
    let p = &s.packets;
    let first = p.first_ts.map(|t| t / 1_000);
    let last = p.last_ts.map(|t| t / 1_000);
    Capture {
        files: a
            .files
            .iter()
            .map(|f| FileEntry {
                path: f.path.clone(),
                format: f.format.clone(),
                bytes_read: f.bytes,
                records: f.records,
                truncated: f.truncated,
                error: f.error.clone(),
            })
            .collect(),
        link_types: p
            .links()
            .into_iter()
            .map(|(lt, n)| LinkTypeCount {
                linktype: lt,
                name: linktype::name(lt),
                frames: n,
                supported: linktype::is_supported(lt),
            })
            .collect(),
        first_ts_us: first,
        last_ts_us: last,
        duration_us: match (first, last) {
            (Some(f), Some(l)) => l.saturating_sub(f),
            _ => 0,
        },
        truncated: a.truncated(),
        one_sided: s.is_one_sided(),
        no_tcp: p.counts.frames > 0 && p.counts.tcp == 0,
        interrupted: a.interrupted,
        evicted_early: a.evicted_early,
        selection: None,
    }
}

/// The printed form of an `--interval` summary.
pub fn interval_line(i: &crate::pipeline::Interval) -> super::schema::IntervalLine {
    super::schema::IntervalLine {
        start_us: i.start_us,
        end_us: i.end_us,
        frames: i.frames,
        tcp: i.tcp,
        syn: i.syn,
        fin: i.fin,
        rst: i.rst,
        fin_ratio: super::format::ratio(i.fin, i.tcp),
        tracked: i.tracked,
        evicted_early: i.evicted_early,
        last: i.last,
    }
}
