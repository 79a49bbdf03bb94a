//! The report's `mergeable` object: what an exact merge of reports
//! (`finscope merge`) needs beyond the report's own figures. Only its serde
//! types live here, with the report's other types: the encoder from a
//! [`crate::metrics::Summary`] is `report::build` (`build/mergeable.rs`),
//! the decoder back to the run's results is [`crate::report::unbuild`].
//!
//! Nothing is kept twice. What the report holds exactly (packet, outcome,
//! connection and FIN retransmission counts, most of the kernel evidence,
//! the timeline's buckets) is read back from the report itself;
//! `mergeable` holds only what the report rounds (latency histograms, state
//! times), cuts (peers past `--top`, state changes after the last bucket)
//! or leaves out. docs/report.md ("Merging reports") documents every field.

use crate::metrics::{ByMetric, BySplit};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

/// Version of the `mergeable` object's layout (within schema version 2).
pub const MERGEABLE_VERSION: u32 = 1;

/// The `mergeable` object of a report.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Mergeable {
    /// [`MERGEABLE_VERSION`].
    pub version: u32,
    /// Every latency histogram of `latency`, exactly.
    pub latency: LatencyParts,
    pub unacked_fin_age: HistParts,
    /// Connections in which the local side sent a FIN (the diagnosis'
    /// FIN retransmission rate divides by it).
    pub local_fins: u64,
    /// The kernel evidence `inferred_tunables` does not hold exactly.
    pub kernel: KernelParts,
    /// The timeline's parts `timeline` does not hold.
    pub timeline: TimelineParts,
    /// Every remote peer (not only the top N), by address.
    pub peers: Vec<PeerParts>,
    /// With `--group-by port` only: the figures per (remote port, remote
    /// address), by port then address.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub port_peers: Vec<PeerParts>,
    /// The peers folded together past the budget (`peers_others`): their
    /// figures, exactly (`addr` is unspecified, 0.0.0.0; no `worst`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peers_others: Option<PeerParts>,
    /// How many peer entries `peers_others` holds.
    #[serde(default, skip_serializing_if = "is_zero64")]
    pub peers_folded: u64,
    /// With `--group-by port`: (port, address) pairs folded into their
    /// port's others member (address 0.0.0.0 in `port_peers`).
    #[serde(default, skip_serializing_if = "is_zero64")]
    pub port_pairs_folded: u64,
}

/// A latency histogram ([`crate::metrics::Hist`]): its exact count, minimum and maximum,
/// and its HdrHistogram in V2 serialized form, base64.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct HistParts {
    pub count: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_us: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_us: Option<u64>,
    /// HdrHistogram V2 serialization (uncompressed), standard base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hdr_v2: Option<String>,
}

/// One metric's histograms by who closed first.
pub type SplitParts = BySplit<HistParts>;

/// The histograms of `latency`, by metric.
pub type LatencyParts = ByMetric<SplitParts>;

/// A peer's compact FIN->ACK histogram ([`crate::metrics::hist::CompactHist`]), exactly.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct CompactParts {
    pub count: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_us: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_us: Option<u64>,
    /// The buckets holding samples, by index: `index:samples` pairs
    /// separated by spaces (`"573:1 582:2"`; a string, to keep a report
    /// with every peer small).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub buckets: String,
}

/// The kernel evidence `inferred_tunables` rounds or leaves out.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct KernelParts {
    /// `[lowest, highest, killed orphans]`: killed orphans by the range of
    /// tcp_orphan_retries values their schedule is consistent with.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub killed_ranges: Vec<(u32, u32, u64)>,
    /// The longest FIN-WAIT-2 survival in us (exact; `tcp_fin_timeout.at_least_s` is its whole seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fin_wait_2_survived_max_us: Option<u64>,
    /// The shortest FIN-WAIT-2 wait before a bare RST in us (exact; `tcp_fin_timeout.at_most_s` is its whole seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fin_wait_2_gone_min_us: Option<u64>,
    /// First retransmission intervals of local FINs (`rto_min`).
    pub first_rto_us: HistParts,
}

/// The timeline's parts the report's `timeline` does not hold.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct TimelineParts {
    /// `--fin-timeout` of the analysis, ns.
    pub fin_timeout_ns: u64,
    /// `timeline.state_time_us` in ns (exact sums), per series.
    pub state_time_ns: BTreeMap<String, u128>,
    /// State changes in buckets outside `timeline.buckets`: after its
    /// last (states lasting past the capture) and before its first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outside: Vec<OutsideBucket>,
}

/// The state changes in one bucket outside the report's buckets.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct OutsideBucket {
    /// Bucket number on the report's grid: its start is `bucket *
    /// timeline.bucket_us` us since the epoch.
    pub bucket: u64,
    /// Change of each series' count at the bucket's end (non-zero only).
    pub deltas: BTreeMap<String, i64>,
}

/// One remote peer's figures ([`crate::metrics::PeerStats`]), exactly.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PeerParts {
    /// With `--group-by port` (`port_peers`): the remote port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    pub addr: IpAddr,
    #[serde(flatten)]
    pub counts: crate::metrics::counts::PeerCounts,
    pub fin_wait_1_ns: u128,
    pub fin_ack: CompactParts,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worst: Option<WorstParts>,
    /// Who holds the FIN: the evidence sums. Absent in reports written
    /// before it existed (their verdicts are then `unknown`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fin_delay: Option<super::fin_delay::FinDelayParts>,
}

/// A peer's worst connection ([`crate::metrics::Worst`]): what ranks it and what its
/// Wireshark filter shows.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct WorstParts {
    pub score: u64,
    pub latency_us: u64,
    pub first_ts_ns: u64,
    pub first_frame: u64,
    pub last_frame: u64,
    /// The local endpoint (`addr:port`, `[v6]:port`).
    pub local: SocketAddr,
    /// The remote endpoint's port (its address is the peer's).
    pub remote_port: u16,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub vlan: u32,
    /// In a merged report: the index in `inputs` of the input whose frame
    /// numbers these are; absent (0) in a report of one analysis.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub input: u32,
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

fn is_zero64(v: &u64) -> bool {
    *v == 0
}
