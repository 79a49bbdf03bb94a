//! The report's `timeline` section (docs/timeline.md): buckets, peaks,
//! limits and the series as the report shows them.

use super::Finding;
use crate::metrics::timeline::{Count, Series, TcpState};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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

/// A series of the timeline as the report shows it: its JSON key (bucket
/// field, `peaks`, `state_time_us`) and CSV column, which is its
/// [`Series::name`], its label in the text chart and peaks table, and how
/// to read it from a [`Bucket`].
#[derive(Clone, Copy, Debug)]
pub struct SeriesColumn {
    pub key: &'static str,
    pub label: &'static str,
    /// Listed in the text report's peaks table.
    pub in_peaks_table: bool,
    pub get: fn(&Bucket) -> i64,
}

/// The state series, in CSV and chart order.
pub const STATE_SERIES: [SeriesColumn; 10] = [
    SeriesColumn {
        key: Series::State(TcpState::Established).name(),
        label: "ESTABLISHED",
        in_peaks_table: false,
        get: |b| b.established,
    },
    SeriesColumn {
        key: Series::State(TcpState::FinWait1).name(),
        label: "FIN-WAIT-1",
        in_peaks_table: true,
        get: |b| b.fin_wait_1,
    },
    SeriesColumn {
        key: Series::State(TcpState::FinWait2).name(),
        label: "FIN-WAIT-2",
        in_peaks_table: true,
        get: |b| b.fin_wait_2,
    },
    SeriesColumn {
        key: Series::State(TcpState::Closing).name(),
        label: "CLOSING",
        in_peaks_table: true,
        get: |b| b.closing,
    },
    SeriesColumn {
        key: Series::State(TcpState::TimeWait).name(),
        label: "TIME-WAIT",
        in_peaks_table: true,
        get: |b| b.time_wait,
    },
    SeriesColumn {
        key: Series::State(TcpState::CloseWait).name(),
        label: "CLOSE-WAIT",
        in_peaks_table: true,
        get: |b| b.close_wait,
    },
    SeriesColumn {
        key: Series::State(TcpState::LastAck).name(),
        label: "LAST-ACK",
        in_peaks_table: true,
        get: |b| b.last_ack,
    },
    SeriesColumn {
        key: Series::Orphans.name(),
        label: "orphans (estimate)",
        in_peaks_table: true,
        get: |b| b.orphans,
    },
    SeriesColumn {
        key: Series::State(TcpState::SynSent).name(),
        label: "SYN-SENT",
        in_peaks_table: false,
        get: |b| b.syn_sent,
    },
    SeriesColumn {
        key: Series::State(TcpState::SynReceived).name(),
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
    (Count::Segments.name(), |b| b.tcp),
    (Count::Fin.name(), |b| b.fin),
    (Count::FinRetransmissions.name(), |b| b.fin_retransmissions),
    (Count::Rst.name(), |b| b.rst),
    (Count::NewConnections.name(), |b| b.new_connections),
    (Count::Closes.name(), |b| b.closes),
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

#[cfg(test)]
mod tests {
    use super::*;

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
            frames: 20,
            tcp: 21,
            fin: 22,
            fin_retransmissions: 23,
            rst: 24,
            new_connections: 25,
            closes: 26,
            ..Bucket::default()
        };
        let v = serde_json::to_value(&b).unwrap_or_default();
        for s in STATE_SERIES {
            assert_eq!(v[s.key].as_i64(), Some((s.get)(&b)), "{}", s.key);
        }
        let mut got: Vec<i64> = STATE_SERIES.iter().map(|s| (s.get)(&b)).collect();
        got.sort_unstable();
        assert_eq!(got, (1..=10).collect::<Vec<_>>());
        for x in Series::ALL.into_iter().filter(|x| !x.is_what_if()) {
            assert!(STATE_SERIES.iter().any(|s| s.key == x.name()), "{x:?}");
        }
        for (k, get) in COUNTER_SERIES {
            assert_eq!(v[k].as_u64(), Some(get(&b)), "{k}");
        }
        let mut got: Vec<u64> = COUNTER_SERIES.iter().map(|c| (c.1)(&b)).collect();
        got.sort_unstable();
        assert_eq!(got, (20..=26).collect::<Vec<_>>());
        for k in Count::ALL {
            assert!(COUNTER_SERIES.iter().any(|c| c.0 == k.name()), "{k:?}");
        }
    }
}
