//! The report document: these serde types *are* the JSON schema
//! (docs/report.md documents every field). Built by [`super::build()`], drawn
//! by the renderers in [`super::render`], read back by [`super::load`].

/// The counter groups the report embeds as the metrics define them.
pub use crate::metrics::counts::{
    ByCloser, ByMetric, ByOutcome, BySplit, Connections, FinRetransmissions as FinRtx, PeerCounts,
    UnackedFins,
};
pub use crate::metrics::packets::PacketCounts;
use crate::metrics::peers::RankBy;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub mod fin_delay;
pub mod host;
pub mod mergeable;
mod timeline;
mod tunables;

pub use timeline::*;
pub use tunables::*;

/// Outcome counts (docs/report.md, "Outcomes").
pub type Outcomes = ByOutcome<u64>;

/// The close latencies (docs/report.md, "Latencies"): one block per
/// metric, each split by who closed first.
pub type Latency = ByMetric<LatencySplits>;

/// One latency metric, for every connection and by who closed first.
pub type LatencySplits = BySplit<LatencyStats>;

/// Version of the JSON document. Bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 2;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Report {
    /// Version of this document's schema.
    pub schema_version: u32,
    /// finscope version that wrote it.
    pub finscope_version: String,
    /// True when some input ended in the middle of a record.
    pub truncated: bool,
    pub capture: Capture,
    /// A merged report's inputs (`finscope merge`), one row per analysed
    /// capture; absent in a report of one analysis.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<InputRow>,
    pub packets: PacketCounts,
    /// Frames that gave no TCP segment, by reason.
    pub skipped: BTreeMap<String, u64>,
    pub fin_ratio: FinRatio,
    pub fin_retransmissions: FinRtx,
    pub connections: Connections,
    pub outcomes: Outcomes,
    pub outcomes_by_closer: ByCloser<Outcomes>,
    /// Latency statistics: metric, then who closed first.
    pub latency: Latency,
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
    pub rank_by: RankBy,
    /// Number of distinct remote peers, or peer groups with `--group-by`
    /// (before `--top`).
    pub peers_total: u64,
    /// How peers are grouped (`--group-by`): `prefix:24,64` or `port`;
    /// absent when each remote address is its own peer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_by: Option<String>,
    pub peers: Vec<Peer>,
    /// Peers folded together to stay within `--max-memory`, or past the
    /// 32,768 a report names: their figures summed exactly, so that the
    /// peers and this add up to every connection. Absent when no peer was
    /// folded (docs/report.md, "Peers past the budget").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peers_others: Option<PeersOthers>,
    pub settings: Settings,
    /// The local side's socket states over time (docs/timeline.md).
    pub timeline: TimelineReport,
    /// Findings with evidence and tunables (docs/diagnosis.md).
    pub diagnosis: Vec<Finding>,
    /// The local orphans with no limit (docs/diagnosis.md, "Remedies");
    /// absent when nothing closed locally, and in merged reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub demand: Option<Demand>,
    /// What each remedy would do (docs/diagnosis.md, "Remedies"); empty
    /// when nothing closed locally, and in merged reports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remedies: Vec<Remedy>,
    /// What an exact merge of reports needs beyond the figures above
    /// (`finscope merge`; docs/report.md). Absent in reports written
    /// before it existed: those cannot be merged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mergeable: Option<mergeable::Mergeable>,
    /// Host evidence joined to the capture (`--host`; docs/report.md,
    /// "host"). Absent without `--host`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<host::HostReport>,
}

/// One input of a merged report: the figures of that capture alone.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct InputRow {
    /// `--label` of its analysis, or else the report's file name.
    pub label: String,
    pub frames: u64,
    pub connections: u64,
    /// FIN segments / TCP segments.
    pub fin_ratio: f64,
    pub fin_retransmissions: u64,
    /// FINs never ACKed, both directions.
    pub unacked_fins: u64,
    pub killed: u64,
    pub fin_unacked: u64,
    /// Largest bucket-end orphan estimate of its timeline.
    pub peak_orphans: i64,
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
    /// The inputs hold frames but no TCP segment could be decoded (e.g. a
    /// link type finscope does not decode: see `link_types[].supported`):
    /// nothing was analysed. Absent in reports written before it existed.
    #[serde(default)]
    pub no_tcp: bool,
    /// Reading was stopped by SIGINT or SIGTERM (Ctrl-C): the report covers
    /// what was read before it. Absent in reports written before it existed.
    #[serde(default)]
    pub interrupted: bool,
    /// Connections retired before their end to stay within `--max-memory`
    /// (the ones idle longest): each one's figures end at its eviction, and
    /// a later packet on its ports started a new connection. 0 when the
    /// budget was never reached. Absent in reports written before it existed.
    #[serde(default)]
    pub evicted_early: u64,
    /// What `--filter`, `--since` and `--until` kept of what was read;
    /// absent when none was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection: Option<Selection>,
}

/// What a selection (`--filter`, `--since`, `--until`) kept. An empty one
/// is said on stderr and in every report, and `check` refuses it (exit 2):
/// a gate that checked nothing has not passed.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Selection {
    /// What selected: `filter`, `time range` or `filter and time range`.
    pub by: String,
    /// Frames (records) read from the inputs.
    pub frames_read: u64,
    /// Frames that passed the selection (`packets.frames`).
    pub frames_selected: u64,
    /// TCP segments that passed it (`packets.tcp`).
    pub tcp_selected: u64,
    /// Connections analysed (`connections.total`).
    pub connections_selected: u64,
    /// No TCP segment passed: the report holds nothing.
    pub empty: bool,
}

impl Selection {
    /// "the filter `host 192.0.2.1` matched 0 of 1,209 frames (0 connections)".
    pub fn sentence(&self, filter: Option<&str>) -> String {
        let what = match (self.by.as_str(), filter) {
            ("filter", Some(f)) => format!("the filter `{f}`"),
            ("filter and time range", Some(f)) => {
                format!("the filter `{f}` and the time range")
            }
            (by, _) => format!("the {by}"),
        };
        format!(
            "{what} matched {} of {} frames ({} TCP segments, {} connections)",
            super::format::thousands(self.frames_selected),
            super::format::thousands(self.frames_read),
            super::format::thousands(self.tcp_selected),
            super::format::thousands(self.connections_selected),
        )
    }
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
pub struct FinRatio {
    pub of_tcp: f64,
    pub of_frames: f64,
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

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Peer {
    pub addr: String,
    /// Connections, closes, FIN retransmissions, unACKed FINs, RSTs (the
    /// metrics' own group, flattened: the JSON is as before).
    #[serde(flatten)]
    pub counts: PeerCounts,
    pub fin_ack_p50_us: Option<u64>,
    pub fin_ack_p99_us: Option<u64>,
    pub fin_ack_max_us: Option<u64>,
    /// Display filter for this peer's worst connection.
    pub wireshark_filter: String,
    /// In a merged report: the input (`inputs[].label`) whose frame
    /// numbers `wireshark_filter` uses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worst_input: Option<String>,
    /// With `--group-by`: distinct remote addresses in the group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members: Option<u64>,
    /// With `--group-by`: up to 5 of those addresses, ranked like peers
    /// (worst first).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub worst_members: Vec<String>,
    /// Who holds the FIN: the verdict and its evidence (docs/report.md).
    /// Absent in reports written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fin_delay: Option<fin_delay::FinDelay>,
}

/// The peers folded together ([`crate::metrics::peers::Others`]).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PeersOthers {
    /// Peer entries folded (a peer folded twice counts twice).
    pub folded: u64,
    /// Their summed counts (the peers' own group, flattened).
    #[serde(flatten)]
    pub counts: PeerCounts,
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
    /// `--since`: frames before this time (us since the epoch) were not
    /// analysed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since_us: Option<u64>,
    /// `--until`: frames from this time (us since the epoch) on were not
    /// analysed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_us: Option<u64>,
    /// `--label`: the capture's name in merged reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Finding {
    /// Stable identifier of the rule.
    pub id: String,
    /// One sentence: what is wrong and what (not) to change.
    pub finding: String,
    /// Figures from the capture behind it.
    pub evidence: Vec<String>,
    /// sysctl names that govern it (may be empty: e.g. an application bug).
    pub tunables: Vec<String>,
}

/// One `--interval` summary as printed (docs/report.md, "Following a
/// capture").
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct IntervalLine {
    pub start_us: u64,
    pub end_us: u64,
    pub frames: u64,
    pub tcp: u64,
    pub syn: u64,
    pub fin: u64,
    pub rst: u64,
    /// fin / tcp within the interval.
    pub fin_ratio: f64,
    pub tracked: u64,
    pub evicted_early: u64,
    pub last: bool,
}
