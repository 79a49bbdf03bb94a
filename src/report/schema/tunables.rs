//! The report's `inferred_tunables`, `demand` and `remedies` sections
//! (docs/report.md, "Inferred tunables"; docs/diagnosis.md, "Remedies").

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
    /// tcp_max_tw_buckets, when `--host` snapshots show TIME-WAIT held at a
    /// ceiling while TcpExtTCPTimeWaitOverflow counts refusals. Absent
    /// otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_max_tw_buckets: Option<super::host::MaxTwBuckets>,
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
    /// The replay ran on a sample of the local closes (past 500,000, or
    /// fewer under `--max-memory`; docs/diagnosis.md, "Remedies"): its
    /// peaks and counts are estimates. Absent when every close was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampled: Option<LivesSampled>,
}

/// The sample the remedies' replay ran on ([`Demand::sampled`]).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct LivesSampled {
    /// Local closes kept (chosen by a hash of peer and time).
    pub kept: u64,
    /// How many local closes each kept one stands for (a power of two).
    pub weight: u64,
    /// Most closes the budget let the run keep.
    pub cap: u64,
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
