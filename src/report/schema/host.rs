//! The report's `host` object (issue 22): the host evidence given with
//! `--host` joined to the capture. Present only when `--host` was given,
//! so reports without it are unchanged. docs/report.md documents every
//! field; the join itself is [`crate::report::host`].

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// JSON `host`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct HostReport {
    /// The `--host` files read and what each was recognised as.
    pub files: Vec<HostFileRow>,
    /// How kernel stamps since boot were put on the capture's clock; null
    /// when no kernel message needed it (or none could be placed).
    pub alignment: Option<HostAlignment>,
    /// Kernel messages, by time (those that could not be placed last, with
    /// `t_us` null).
    pub kernel_messages: Vec<KernelMessageRow>,
    /// How many snapshots of each kind were read.
    pub snapshots: SnapshotCountsRow,
    /// Per series (fin_wait_1, fin_wait_2, time_wait, close_wait,
    /// last_ack, orphans): the inferred series against the snapshots taken
    /// within the capture. A series without host snapshots is absent.
    pub agreement: BTreeMap<String, Agreement>,
    /// Per nstat counter: its growth over the capture's span and
    /// finscope's count of the same event.
    pub counters: BTreeMap<String, CounterRow>,
    /// The last `ss -tan` snapshot (the incident's `ss -ant > ss.txt`
    /// step): sockets by state, and by remote grouped like the peers
    /// (`--group-by`), at most `--top` rows. Absent without an ss snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ss_last: Option<SsLast>,
    /// Malformed, skipped or assumed input, naming file and line.
    pub warnings: Vec<String>,
    /// The host's series for the charts (not in the JSON: the snapshots
    /// themselves are the user's files).
    #[serde(skip)]
    pub series: Vec<HostSeries>,
}

/// One `--host` file.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct HostFileRow {
    pub path: String,
    /// `dmesg`, `dmesg --time-format iso`, `journalctl -o json`,
    /// `/proc/stat`, `sysctl`, `snapshots`, ...
    pub kind: String,
}

/// JSON `host.alignment`: a kernel stamp since boot `b` is at wall-clock
/// `b + offset_us`, within `uncertainty_us` either way.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct HostAlignment {
    /// `wall_clock`, `btime`, `boot_time` or `packets`.
    pub method: String,
    pub offset_us: i64,
    pub uncertainty_us: u64,
    /// With `packets`: what the fit started from, `btime` (refined within
    /// its second) or `first_burst` (no btime: the first orphan messages
    /// against the first orphan resets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refined_from: Option<String>,
    /// With `packets`: orphan messages fitted / orphan messages, and the
    /// largest distance of a fitted one from its reset, µs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fit: Option<AlignmentFit>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct AlignmentFit {
    pub messages: u64,
    pub matched: u64,
    pub max_residual_us: u64,
}

/// One kernel message (JSON `host.kernel_messages[]`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct KernelMessageRow {
    /// On the capture's clock, µs since the epoch; null when it could not
    /// be placed.
    pub t_us: Option<u64>,
    /// `too_many_orphans`, `tw_bucket_overflow`, `out_of_socket_memory`,
    /// `tcp_mem`, `syn_flood` or `other`.
    pub kind: String,
    /// 1 plus the callbacks net_ratelimit suppressed right after it.
    pub count: u64,
    /// As logged, without the time stamp.
    pub text: String,
}

/// JSON `host.snapshots`.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct SnapshotCountsRow {
    pub ss: u64,
    pub ss_summary: u64,
    pub sockstat: u64,
    pub nstat: u64,
}

/// JSON `host.agreement.<series>`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Agreement {
    /// Host snapshots within the capture that were compared.
    pub snapshots: u64,
    /// Largest |inferred - host| over them.
    pub max_abs_diff: u64,
    /// Mean |inferred - host|.
    pub mean_abs_diff: f64,
    /// Largest inferred value at those snapshot times.
    pub inferred_peak: i64,
    /// Largest host value among them.
    pub host_peak: u64,
    /// Where the host's figure comes from: `ss` (its state column) or
    /// `sockstat` (`orphan`).
    pub source: String,
}

/// JSON `host.counters.<nstat name>`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct CounterRow {
    /// The counter's growth over the capture's span (null: not in the
    /// nstat snapshots).
    pub host: Option<u64>,
    /// finscope's count of the same event from the packets, or null when
    /// the packets cannot show it.
    pub capture: Option<u64>,
}

/// A host series on the capture's clock, for the text and HTML charts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HostSeries {
    /// `ss FIN-WAIT-1`, `sockstat orphan`, ...
    pub label: String,
    /// The timeline series it sits beside (`fin_wait_1`, `orphans`, ...).
    pub beside: String,
    pub points: Vec<(u64, u64)>,
}

/// tcp_max_tw_buckets as the host shows it (`inferred_tunables`; present
/// only with `--host` evidence of the ceiling).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct MaxTwBuckets {
    /// The ceiling TIME-WAIT was held at.
    pub value: Option<u64>,
    /// TIME-WAIT entries refused over the capture (TcpExtTCPTimeWaitOverflow).
    pub refused: u64,
    /// The host snapshots holding the ceiling.
    pub snapshots_at_ceiling: u64,
}

/// JSON `host.ss_last`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct SsLast {
    /// When it was taken, µs since the epoch.
    pub t_us: u64,
    /// Sockets by state as ss prints it (`ESTAB`, `FIN-WAIT-1`, ...).
    pub states: BTreeMap<String, u64>,
    /// By remote (or remote group), most sockets first.
    pub by_remote: Vec<SsRemote>,
    /// Remotes (groups) in the snapshot, before `--top`.
    pub remotes_total: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct SsRemote {
    pub remote: String,
    pub states: BTreeMap<String, u64>,
}
