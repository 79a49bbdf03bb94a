//! The run's results and what receives them while it runs: [`Analysis`]
//! (what an analysis returns), [`Interval`] (an `--interval` summary) and
//! the [`FlowSink`] that retired connections and interval summaries are
//! handed to. They belong to the pipeline, which produces them: flow and
//! metrics know nothing of them, report is built from them.

use crate::capture::FileInfo;
use crate::capture::error::CaptureError;
use crate::flow::table::Retired;
use crate::metrics::Summary;
use crate::metrics::groups::PortGroups;
use std::ops::ControlFlow;

/// What happened in one `--interval` of capture time: counts within it
/// and the state at its end (the report's line: `report::IntervalLine`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Interval {
    /// The interval, us since the epoch: [start_us, end_us). The first
    /// starts at the first packet; one summary covers several intervals
    /// when the capture had nothing in between.
    pub start_us: u64,
    pub end_us: u64,
    pub frames: u64,
    pub tcp: u64,
    pub syn: u64,
    pub fin: u64,
    pub rst: u64,
    /// Connections tracked at its end (live, closed in TIME-WAIT, attempts).
    pub tracked: u64,
    /// Connections evicted early so far (`--max-memory`).
    pub evicted_early: u64,
    /// The last summary: the capture ended (or was interrupted) inside it.
    pub last: bool,
}

/// The result of an analysis: the summary, and what was read.
#[derive(Debug)]
pub struct Analysis {
    pub summary: Summary,
    pub files: Vec<FileInfo>,
    /// Damage that stopped reading part-way (the summary covers what came before).
    pub damage: Vec<CaptureError>,
    pub threads: usize,
    /// Most connections tracked at once (sum of the shards' peaks).
    pub peak_connections: usize,
    /// Reading was stopped by SIGINT/SIGTERM: the summary covers what came
    /// before.
    pub interrupted: bool,
    /// Connections evicted early to stay within `--max-memory`.
    pub evicted_early: u64,
    /// The time range analysed (ns, [since, until)), when `--since` or
    /// `--until` restricted it.
    pub time_range: Option<(u64, u64)>,
    /// `--group-by port` ([`super::Options::port_groups`]): the (port,
    /// address) pairs the shards gathered, merged.
    pub ports: Option<PortGroups>,
}

impl Analysis {
    /// True when some input ended in the middle of a record.
    pub fn truncated(&self) -> bool {
        self.files.iter().any(|f| f.truncated)
    }

    /// True when some input was corrupt (not merely truncated).
    pub fn corrupt(&self) -> bool {
        self.damage.iter().any(|e| {
            matches!(
                e,
                CaptureError::Corrupt { .. } | CaptureError::Unsupported { .. }
            )
        })
    }

    /// Some input could not be read at all (missing, not a capture,
    /// refused from its first byte) while others were.
    pub fn unreadable(&self) -> bool {
        self.damage.iter().any(|e| !e.is_partial())
    }
}

/// Receives finished connections while the analysis runs (`--flows`), so
/// that nobody keeps them all to the end.
pub trait FlowSink {
    /// `retired`: the connections retired since the last call, in no
    /// particular order; the sink may take them (the vector is cleared
    /// afterwards). Every connection retired later has a
    /// [`Retired::clock`] of at least `watermark` (`u64::MAX` at the end;
    /// 0 when another shard's connections follow, each shard's are handed
    /// over alone).
    /// `Break`: the sink cannot go on (its file could not be written, a
    /// full disk): the pipeline stops reading, and the analysis covers
    /// what was read so far.
    fn retired(&mut self, retired: &mut Vec<Retired>, watermark: u64) -> ControlFlow<()>;

    /// Whether it wants the retired connections (else only `interval`):
    /// shards then keep them until handed over.
    fn wants_connections(&self) -> bool {
        true
    }

    /// A periodic summary (`--interval`).
    fn interval(&mut self, _summary: &Interval) {}
}
