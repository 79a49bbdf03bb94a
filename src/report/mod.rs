//! Reports. [`Report`] is the document both renderers draw from: the serde
//! structs below *are* the JSON schema (docs/report.md documents every
//! field), and the text report renders the same values, so the two never
//! disagree. Renderers only render; nothing here reads the wall clock.

pub mod diagnosis;
pub mod json;
pub mod text;
pub mod timeline;

use crate::decode::{Skip, linktype};
use crate::flow::conn::{NOUTCOMES, Outcome};
use crate::metrics::peers::{PeerStats, RankBy, rank};
use crate::metrics::{Hist, KernelEvidence, METRIC_NAMES, SPLIT_NAMES};
use crate::pipeline::Analysis;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Version of the JSON document. Bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

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
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Report {
    /// Version of this document's schema.
    pub schema_version: u32,
    /// finscope version that wrote it.
    pub finscope_version: String,
    /// True when some input ended in the middle of a record.
    pub truncated: bool,
    pub capture: Capture,
    pub packets: PacketCounts,
    /// Frames that gave no TCP segment, by reason.
    pub skipped: BTreeMap<String, u64>,
    pub fin_ratio: FinRatio,
    pub fin_retransmissions: FinRtx,
    pub connections: Connections,
    pub outcomes: Outcomes,
    pub outcomes_by_closer: ByCloser,
    /// Latency statistics: metric -> split -> stats.
    pub latency: BTreeMap<String, BTreeMap<String, LatencyStats>>,
    /// Age of FINs never ACKed (docs/report.md): until the end of
    /// observation, or until their sender was killed.
    pub unacked_fin_age: LatencyStats,
    /// FINs never ACKed, per direction. Absent in older reports.
    #[serde(default)]
    pub unacked_fins: UnackedFins,
    /// The capturing host's kernel settings, as the capture shows them.
    /// Absent in older reports.
    #[serde(default)]
    pub inferred_tunables: InferredTunables,
    /// How peers are ranked.
    pub rank_by: String,
    /// Number of distinct remote peers, or peer groups with `--group-by`
    /// (before `--top`).
    pub peers_total: u64,
    /// How peers are grouped (`--group-by`): `prefix:24,64` or `port`;
    /// absent when each remote address is its own peer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_by: Option<String>,
    pub peers: Vec<Peer>,
    pub settings: Settings,
    /// The local side's socket states over time (docs/timeline.md).
    pub timeline: timeline::TimelineReport,
    /// Findings with evidence and tunables (docs/diagnosis.md).
    pub diagnosis: Vec<diagnosis::Finding>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Capture {
    pub files: Vec<FileEntry>,
    pub link_types: Vec<LinkTypeCount>,
    pub first_ts_us: Option<u64>,
    pub last_ts_us: Option<u64>,
    pub duration_us: u64,
    pub truncated: bool,
    /// Only one direction of the traffic was captured (most connections
    /// show packets from one side only, that side acknowledging data the
    /// capture does not hold): close states are not judged. Absent in
    /// reports written before it existed.
    #[serde(default)]
    pub one_sided: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FileEntry {
    pub path: String,
    pub format: String,
    pub bytes_read: u64,
    pub records: u64,
    pub truncated: bool,
    pub error: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LinkTypeCount {
    pub linktype: u16,
    pub name: String,
    pub frames: u64,
    pub supported: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PacketCounts {
    pub frames: u64,
    pub tcp: u64,
    pub syn: u64,
    pub fin: u64,
    pub rst: u64,
    pub pure_ack: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FinRatio {
    pub of_tcp: f64,
    pub of_frames: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FinRtx {
    pub total: u64,
    pub spurious: u64,
    /// Of `total`, copies less than 1 ms after the previous copy of the same
    /// FIN: faster than any retransmission timer, most likely duplicates in
    /// the capture. Absent in reports written before it existed.
    #[serde(default)]
    pub within_1ms: u64,
    pub local_to_remote: u64,
    pub remote_to_local: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Connections {
    pub total: u64,
    pub handshake_seen: u64,
    pub sides_by_port: u64,
    pub sides_by_synack: u64,
    pub fin_moved: u64,
    /// Connections of which only one direction was captured. This and the
    /// three below are absent in reports written before they existed.
    #[serde(default)]
    pub one_sided: u64,
    /// Connections of which both directions were captured.
    #[serde(default)]
    pub two_sided: u64,
    /// Events the close model found impossible in the state they came in.
    #[serde(default)]
    pub anomalies: u64,
    /// Silent-kill inferences a later segment of the same socket disproved.
    #[serde(default)]
    pub kills_retracted: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Outcomes {
    pub complete: u64,
    pub simultaneous: u64,
    pub reset: u64,
    pub reset_after_fin: u64,
    pub half_closed: u64,
    pub fin_unacked: u64,
    pub open: u64,
    /// A local orphan the kernel dropped without its FIN being ACKed
    /// (inferred). The four below are absent in version-1 reports written
    /// before they existed.
    #[serde(default)]
    pub killed: u64,
    /// The handshake never completed: a SYN without reply, or a SYN-ACK
    /// never acknowledged.
    #[serde(default)]
    pub unanswered: u64,
    /// The SYN was answered by a RST.
    #[serde(default)]
    pub rejected: u64,
    /// Only one direction was captured: the close cannot be judged.
    #[serde(default)]
    pub one_sided: u64,
}

impl Outcomes {
    fn from_counts(c: &[u64; NOUTCOMES]) -> Outcomes {
        let g = |o: Outcome| c[o.index()];
        Outcomes {
            complete: g(Outcome::Complete),
            simultaneous: g(Outcome::Simultaneous),
            reset: g(Outcome::Reset),
            reset_after_fin: g(Outcome::ResetAfterFin),
            half_closed: g(Outcome::HalfClosed),
            fin_unacked: g(Outcome::FinUnacked),
            open: g(Outcome::Open),
            killed: g(Outcome::Killed),
            unanswered: g(Outcome::Unanswered),
            rejected: g(Outcome::Rejected),
            one_sided: g(Outcome::OneSided),
        }
    }

    /// (name, count) in the documented order.
    pub fn rows(&self) -> [(&'static str, u64); NOUTCOMES] {
        [
            ("complete", self.complete),
            ("simultaneous", self.simultaneous),
            ("reset", self.reset),
            ("reset_after_fin", self.reset_after_fin),
            ("half_closed", self.half_closed),
            ("fin_unacked", self.fin_unacked),
            ("killed", self.killed),
            ("open", self.open),
            ("unanswered", self.unanswered),
            ("rejected", self.rejected),
            ("one_sided", self.one_sided),
        ]
    }
}

/// FINs never ACKed, per direction (docs/report.md).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct UnackedFins {
    /// Local FINs the remote peer never ACKed.
    pub local_to_remote: u64,
    /// Remote FINs the local side never ACKed.
    pub remote_to_local: u64,
}

/// The capturing host's kernel settings, inferred from the capture
/// (docs/report.md, "Inferred tunables").
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct InferredTunables {
    pub tcp_orphan_retries: OrphanRetries,
    pub tcp_fin_timeout: FinTimeout,
    pub rto_min: RtoMin,
    pub orphans_reset_under_pressure: PressureResets,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct OrphanRetries {
    /// The value most killed orphans are consistent with; null without
    /// killed orphans.
    pub value: Option<u32>,
    /// Local orphans inferred killed (FIN retransmissions stopped, the next
    /// one overdue).
    pub killed: u64,
    /// Of those, consistent with `value`.
    pub consistent: u64,
    /// Of those, confirmed by a later bare RST from the local host.
    pub confirmed: u64,
    /// Killed orphans by the FIN retransmissions seen before the silence
    /// (tail-loss probe included).
    pub by_retransmissions: BTreeMap<String, u64>,
    /// Of those, where a tail-loss probe preceded the RTO retransmissions.
    pub with_probe: u64,
    /// Killed orphans by the state they were killed in.
    pub killed_in: BTreeMap<String, u64>,
    /// Most retransmissions of a local FIN that was ACKed in the end.
    pub survivor_max_retransmissions: u32,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct FinTimeout {
    /// An orphaned FIN-WAIT-2 socket still ACKed the peer's FIN this long
    /// after entering FIN-WAIT-2 (s): the value is at least this.
    pub at_least_s: Option<f64>,
    /// A FIN-WAIT-2 socket was gone (the peer's FIN answered by a bare
    /// RST) this long after entering FIN-WAIT-2 (s): at most this.
    pub at_most_s: Option<f64>,
    /// Connections behind the two bounds.
    pub survived: u64,
    pub gone: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct RtoMin {
    /// Smallest first retransmission interval of a local FIN, ms.
    pub value_ms: Option<f64>,
    /// Median of them, ms.
    pub p50_ms: Option<f64>,
    pub connections: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct PressureResets {
    /// Some local orphan was reset (RST|ACK) while its FIN was unACKed:
    /// tcp_max_orphans / memory pressure (or an application abort).
    pub value: bool,
    pub connections: u64,
}

impl InferredTunables {
    fn of(k: &KernelEvidence) -> InferredTunables {
        let killed: u64 = k.killed_by_rtx.values().sum();
        let best = k.orphan_retries();
        let ms = |us: u64| (us as f64 / 1_000.0 * 10.0).round() / 10.0;
        let s = |us: u64| (us as f64 / 1_000.0).round() / 1_000.0;
        InferredTunables {
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
                at_least_s: k.fin_wait_2_survived_max_us.map(s),
                at_most_s: k.fin_wait_2_gone_min_us.map(s),
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

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ByCloser {
    pub local_first: Outcomes,
    pub remote_first: Outcomes,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct LatencyStats {
    pub count: u64,
    pub p50_us: Option<u64>,
    pub p90_us: Option<u64>,
    pub p99_us: Option<u64>,
    pub p999_us: Option<u64>,
    pub max_us: Option<u64>,
    /// Log-scale histogram: (upper bound us, count), half-decade buckets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buckets: Vec<(u64, u64)>,
}

impl LatencyStats {
    fn of(h: &Hist, buckets: bool) -> LatencyStats {
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

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Peer {
    pub addr: String,
    pub connections: u64,
    pub closes: u64,
    pub fin_retransmissions: u64,
    pub unacked_fins: u64,
    pub rsts: u64,
    pub fin_ack_p50_us: Option<u64>,
    pub fin_ack_p99_us: Option<u64>,
    pub fin_ack_max_us: Option<u64>,
    /// Display filter for this peer's worst connection.
    pub wireshark_filter: String,
    /// With `--group-by`: distinct remote addresses in the group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members: Option<u64>,
    /// With `--group-by`: up to 5 of those addresses, ranked like peers
    /// (worst first).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub worst_members: Vec<String>,
}

impl Peer {
    /// The row of one peer (or peer group) named `addr`.
    pub fn of(addr: String, ps: &PeerStats) -> Peer {
        Peer {
            addr,
            connections: ps.connections,
            closes: ps.closes,
            fin_retransmissions: ps.fin_retransmissions,
            unacked_fins: ps.unacked_fins,
            rsts: ps.rsts,
            fin_ack_p50_us: ps.fin_ack.quantile(0.5),
            fin_ack_p99_us: ps.fin_ack.quantile(0.99),
            fin_ack_max_us: ps.fin_ack.max(),
            wireshark_filter: ps.worst.map(|w| w.wireshark_filter()).unwrap_or_default(),
            members: None,
            worst_members: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Settings {
    pub local: Vec<String>,
    pub top: usize,
    pub idle_timeout_s: f64,
    pub time_wait_s: f64,
    /// The `--filter` expression, when one restricted the analysis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// Builds the report document from an analysis.
pub fn build(a: &Analysis, o: &ReportOptions) -> Report {
    let s = &a.summary;
    let p = &s.packets;
    let mut latency = BTreeMap::new();
    for (m, mname) in METRIC_NAMES.iter().enumerate() {
        let mut splits = BTreeMap::new();
        for (i, sname) in SPLIT_NAMES.iter().enumerate() {
            splits.insert(sname.to_string(), LatencyStats::of(&s.latency[m][i], true));
        }
        latency.insert(mname.to_string(), splits);
    }
    let ranked = rank(s.peers.iter(), o.rank_by);
    let peers = ranked
        .iter()
        .take(o.top)
        .map(|(addr, ps)| Peer::of(addr.to_string(), ps))
        .collect();
    let mut tl = timeline::build(&s.timeline, p, &o.limits);
    let findings = diagnosis::diagnose(s, &tl, &o.limits);
    tl.diagnosis = findings.clone();
    let first = p.first_ts.map(|t| t / 1_000);
    let last = p.last_ts.map(|t| t / 1_000);
    Report {
        schema_version: SCHEMA_VERSION,
        finscope_version: env!("CARGO_PKG_VERSION").to_string(),
        truncated: a.truncated(),
        capture: Capture {
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
                .link_types
                .iter()
                .map(|(lt, n)| LinkTypeCount {
                    linktype: *lt,
                    name: linktype::name(*lt),
                    frames: *n,
                    supported: linktype::is_supported(*lt),
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
        },
        packets: PacketCounts {
            frames: p.frames,
            tcp: p.tcp,
            syn: p.syn,
            fin: p.fin,
            rst: p.rst,
            pure_ack: p.pure_ack,
        },
        skipped: Skip::ALL
            .iter()
            .map(|k| (k.name().to_string(), p.skipped[*k as usize]))
            .collect(),
        fin_ratio: FinRatio {
            of_tcp: ratio(p.fin, p.tcp),
            of_frames: ratio(p.fin, p.frames),
        },
        fin_retransmissions: FinRtx {
            total: s.fin_rtx.total,
            spurious: s.fin_rtx.spurious,
            within_1ms: s.fin_rtx.within_1ms,
            local_to_remote: s.fin_rtx.local_to_remote,
            remote_to_local: s.fin_rtx.remote_to_local,
        },
        connections: Connections {
            total: s.connections.total,
            handshake_seen: s.connections.handshake_seen,
            sides_by_port: s.connections.sides_by_port,
            sides_by_synack: s.connections.sides_by_synack,
            fin_moved: s.connections.fin_moved,
            one_sided: s.connections.one_sided,
            two_sided: s.connections.two_sided,
            anomalies: s.connections.anomalies,
            kills_retracted: s.connections.kills_retracted,
        },
        outcomes: Outcomes::from_counts(&s.outcomes),
        outcomes_by_closer: ByCloser {
            local_first: Outcomes::from_counts(&s.outcomes_by_closer[0]),
            remote_first: Outcomes::from_counts(&s.outcomes_by_closer[1]),
        },
        latency,
        unacked_fin_age: LatencyStats::of(&s.unacked_fin_age, false),
        unacked_fins: UnackedFins {
            local_to_remote: s.unacked.local_to_remote,
            remote_to_local: s.unacked.remote_to_local,
        },
        inferred_tunables: InferredTunables::of(&s.kernel),
        rank_by: o.rank_by.name().to_string(),
        peers_total: s.peers.len() as u64,
        group_by: None,
        peers,
        settings: Settings {
            local: o.local.clone(),
            top: o.top,
            idle_timeout_s: o.idle_timeout_s,
            time_wait_s: o.time_wait_s,
            filter: None,
        },
        timeline: tl,
        diagnosis: findings,
    }
}
