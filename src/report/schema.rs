//! The report document: these serde types *are* the JSON schema
//! (docs/report.md documents every field). Built by [`super::build()`], drawn
//! by the renderers in [`super::render`], read back by [`super::load`].

use crate::metrics::peers::RankBy;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub mod fin_delay;
pub mod mergeable;

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
    pub outcomes_by_closer: ByCloser,
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
    /// Connections whose local side answered data that came after its FIN
    /// with a bare RST (Linux TCPAbortOnData). Absent in older reports.
    #[serde(default)]
    pub aborted_on_data: u64,
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
    /// tcp_max_orphans, when the capture shows the limit hit. Absent in
    /// reports written before it existed.
    #[serde(default)]
    pub tcp_max_orphans: MaxOrphans,
}

/// tcp_max_orphans as the capture shows it (docs/diagnosis.md, "The orphan
/// limit").
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct MaxOrphans {
    /// Best estimate of the limit; null when no limit was hit.
    pub value: Option<u64>,
    /// The limit lies in [low, high]; null when no limit was hit.
    pub low: Option<u64>,
    pub high: Option<u64>,
    /// Local orphans reset by their own kernel while their FIN was unACKed
    /// (with a limit: its TcpExtTCPAbortOnMemory).
    pub resets: u64,
    /// When the first of them came, us since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_reset_us: Option<u64>,
}

/// The orphans the capture's closes would have made with no limit: peaks
/// at bucket ends of the unconstrained replay.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Demand {
    pub fin_wait_1_peak: u64,
    pub orphans_peak: u64,
    pub time_wait_peak: u64,
}

/// One remedy: a setting and what the replay predicts under it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Remedy {
    /// `tcp_max_orphans`, `tcp_orphan_retries`, `tcp_fin_timeout` (s),
    /// `tcp_max_tw_buckets` or `worst_peers_fixed` (a number of peers).
    pub setting: String,
    pub value: u64,
    /// Asked with `--what-if` (or `--max-orphans`, ...), not a standard row.
    pub asked: bool,
    /// Why the row is there (`as inferred`, `the limit +5%`, ...).
    #[serde(default)]
    pub why: String,
    pub predicted: Predicted,
}

/// What a remedy's replay predicts.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Predicted {
    pub fin_wait_1_peak: u64,
    pub orphans_peak: u64,
    pub time_wait_peak: u64,
    /// Orphans reset by tcp_max_orphans (TcpExtTCPAbortOnMemory).
    pub orphan_resets: u64,
    /// Orphans killed by tcp_orphan_retries (TcpExtTCPAbortOnTimeout).
    pub orphans_killed: u64,
    /// Sockets not put in TIME-WAIT (TcpExtTCPTimeWaitOverflow).
    #[serde(default)]
    pub tw_overflows: u64,
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
    /// Orphaned FIN-WAIT-2 sockets still ACKed the peer's FIN this long
    /// after entering FIN-WAIT-2: the value is at least this (whole
    /// seconds, rounded down; from at least 3 sockets, else null).
    pub at_least_s: Option<f64>,
    /// FIN-WAIT-2 sockets were gone (the peer's FIN answered by a bare RST)
    /// this long after entering FIN-WAIT-2: at most this (whole seconds,
    /// rounded down; from at least 3 sockets, else null). Both null when a
    /// socket outlived the shortest "gone" one (the evidence disagrees).
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

/// The close latencies (docs/report.md, "Latencies"): one block per
/// metric, each split by who closed first. Fields in the JSON's order.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Latency {
    /// First FIN -> ACK of the last FIN (or the RST that ended it).
    pub close_total: LatencySplits,
    /// First FIN -> the ACK that covers it.
    pub fin_ack: LatencySplits,
    /// First FIN -> the other side's FIN.
    pub fin_fin: LatencySplits,
}

impl Latency {
    /// (name, splits) in the JSON's order.
    pub fn metrics(&self) -> [(&'static str, &LatencySplits); 3] {
        [
            ("close_total", &self.close_total),
            ("fin_ack", &self.fin_ack),
            ("fin_fin", &self.fin_fin),
        ]
    }

    /// A metric by its JSON name.
    pub fn get(&self, metric: &str) -> Option<&LatencySplits> {
        self.metrics()
            .into_iter()
            .find(|(n, _)| *n == metric)
            .map(|(_, s)| s)
    }
}

/// One latency metric, for every connection and by who closed first.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct LatencySplits {
    pub all: LatencyStats,
    pub local_first: LatencyStats,
    pub remote_first: LatencyStats,
}

impl LatencySplits {
    /// (name, stats) in the JSON's order.
    pub fn splits(&self) -> [(&'static str, &LatencyStats); 3] {
        [
            ("all", &self.all),
            ("local_first", &self.local_first),
            ("remote_first", &self.remote_first),
        ]
    }

    /// A split by its JSON name.
    pub fn get(&self, split: &str) -> Option<&LatencyStats> {
        self.splits()
            .into_iter()
            .find(|(n, _)| *n == split)
            .map(|(_, s)| s)
    }
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
pub struct TimelineReport {
    /// Bucket width, us (wider than asked when the capture would need more
    /// than 20,000 buckets, 1,000 in the analyze report).
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
    /// The buckets were widened while reading: the asked width needed more
    /// than 57,280 buckets in memory (a long capture, a fine `--bucket`), so
    /// `bucket_us` is wider than the 20,000-bucket rule alone would give.
    /// Absent in reports written before it existed.
    #[serde(default)]
    pub widened_while_reading: bool,
}

/// What `finscope timeline --json` prints: the timeline and the diagnosis
/// (in the analyze document the diagnosis is the top-level `diagnosis`).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct TimelineDocument<'a> {
    #[serde(flatten)]
    pub timeline: &'a TimelineReport,
    pub diagnosis: &'a [Finding],
}

/// A series of the timeline, named once: its JSON key (bucket field,
/// `peaks`, `state_time_us`), its CSV column, its label in the text chart
/// and peaks table, and how to read it from a [`Bucket`].
#[derive(Clone, Copy, Debug)]
pub struct Series {
    pub key: &'static str,
    pub label: &'static str,
    /// Listed in the text report's peaks table.
    pub in_peaks_table: bool,
    pub get: fn(&Bucket) -> i64,
}

/// The state series, in CSV and chart order.
pub const STATE_SERIES: [Series; 10] = [
    Series {
        key: "established",
        label: "ESTABLISHED",
        in_peaks_table: false,
        get: |b| b.established,
    },
    Series {
        key: "fin_wait_1",
        label: "FIN-WAIT-1",
        in_peaks_table: true,
        get: |b| b.fin_wait_1,
    },
    Series {
        key: "fin_wait_2",
        label: "FIN-WAIT-2",
        in_peaks_table: true,
        get: |b| b.fin_wait_2,
    },
    Series {
        key: "closing",
        label: "CLOSING",
        in_peaks_table: true,
        get: |b| b.closing,
    },
    Series {
        key: "time_wait",
        label: "TIME-WAIT",
        in_peaks_table: true,
        get: |b| b.time_wait,
    },
    Series {
        key: "close_wait",
        label: "CLOSE-WAIT",
        in_peaks_table: true,
        get: |b| b.close_wait,
    },
    Series {
        key: "last_ack",
        label: "LAST-ACK",
        in_peaks_table: true,
        get: |b| b.last_ack,
    },
    Series {
        key: "orphans",
        label: "orphans (estimate)",
        in_peaks_table: true,
        get: |b| b.orphans,
    },
    Series {
        key: "syn_sent",
        label: "SYN-SENT",
        in_peaks_table: false,
        get: |b| b.syn_sent,
    },
    Series {
        key: "syn_recv",
        label: "SYN-RECEIVED",
        in_peaks_table: false,
        get: |b| b.syn_recv,
    },
];

/// A per-bucket counter: its JSON key / CSV column and how to read it.
pub type Counter = (&'static str, fn(&Bucket) -> u64);

/// The per-bucket counters, in CSV order.
pub const COUNTER_SERIES: [Counter; 7] = [
    ("frames", |b| b.frames),
    ("tcp", |b| b.tcp),
    ("fin", |b| b.fin),
    ("fin_retransmissions", |b| b.fin_retransmissions),
    ("rst", |b| b.rst),
    ("new_connections", |b| b.new_connections),
    ("closes", |b| b.closes),
];

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::state::TcpState;

    /// The one list of series matches the bucket's JSON fields and the
    /// close model's state names.
    #[test]
    fn series_are_named_once() {
        let b = Bucket {
            established: 1,
            fin_wait_1: 2,
            fin_wait_2: 3,
            closing: 4,
            time_wait: 5,
            close_wait: 6,
            last_ack: 7,
            syn_sent: 8,
            syn_recv: 9,
            orphans: 10,
            ..Bucket::default()
        };
        let v = serde_json::to_value(&b).unwrap_or_default();
        for s in STATE_SERIES {
            assert_eq!(v[s.key].as_i64(), Some((s.get)(&b)), "{}", s.key);
        }
        let mut got: Vec<i64> = STATE_SERIES.iter().map(|s| (s.get)(&b)).collect();
        got.sort_unstable();
        assert_eq!(got, (1..=10).collect::<Vec<_>>());
        for st in TcpState::SERIES {
            assert!(STATE_SERIES.iter().any(|s| s.key == st.key()), "{st}");
        }
        for (k, get) in COUNTER_SERIES {
            assert!(v.get(k).is_some(), "{k}");
            assert_eq!(get(&b), 0);
        }
    }
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
