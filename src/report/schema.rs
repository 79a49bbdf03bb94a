//! The report document: these serde types *are* the JSON schema
//! (docs/report.md documents every field). Built by [`super::build()`], drawn
//! by the renderers in [`super::render`], read back by [`super::load`].

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
    pub timeline: TimelineReport,
    /// Findings with evidence and tunables (docs/diagnosis.md).
    pub diagnosis: Vec<Finding>,
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
    /// (name, count) in the documented order.
    pub fn rows(&self) -> [(&'static str, u64); 11] {
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
}

/// What `finscope timeline --json` prints: the timeline and the diagnosis
/// (in the analyze document the diagnosis is the top-level `diagnosis`).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct TimelineDocument<'a> {
    #[serde(flatten)]
    pub timeline: &'a TimelineReport,
    pub diagnosis: &'a [Finding],
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
