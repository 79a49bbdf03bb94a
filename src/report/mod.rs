//! Reports. [`Report`] is the document both renderers draw from: the serde
//! structs below *are* the JSON schema (docs/report.md documents every
//! field), and the text report renders the same values, so the two never
//! disagree. Renderers only render; nothing here reads the wall clock.

pub mod diagnosis;
pub mod json;
pub mod text;
pub mod timeline;

use crate::decode::{Skip, linktype};
use crate::flow::conn::Outcome;
use crate::metrics::peers::{PeerStats, RankBy, rank};
use crate::metrics::{Hist, METRIC_NAMES, SPLIT_NAMES};
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
    /// Age at end of observation of FINs never ACKed (not counting reset connections).
    pub unacked_fin_age: LatencyStats,
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
}

impl Outcomes {
    fn from_counts(c: &[u64; 7]) -> Outcomes {
        let g = |o: Outcome| c[o.index()];
        Outcomes {
            complete: g(Outcome::Complete),
            simultaneous: g(Outcome::Simultaneous),
            reset: g(Outcome::Reset),
            reset_after_fin: g(Outcome::ResetAfterFin),
            half_closed: g(Outcome::HalfClosed),
            fin_unacked: g(Outcome::FinUnacked),
            open: g(Outcome::Open),
        }
    }

    /// (name, count) in the documented order.
    pub fn rows(&self) -> [(&'static str, u64); 7] {
        [
            ("complete", self.complete),
            ("simultaneous", self.simultaneous),
            ("reset", self.reset),
            ("reset_after_fin", self.reset_after_fin),
            ("half_closed", self.half_closed),
            ("fin_unacked", self.fin_unacked),
            ("open", self.open),
        ]
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
        },
        outcomes: Outcomes::from_counts(&s.outcomes),
        outcomes_by_closer: ByCloser {
            local_first: Outcomes::from_counts(&s.outcomes_by_closer[0]),
            remote_first: Outcomes::from_counts(&s.outcomes_by_closer[1]),
        },
        latency,
        unacked_fin_age: LatencyStats::of(&s.unacked_fin_age, false),
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
