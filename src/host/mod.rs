//! Host evidence read beside the packets (issue 22): kernel logs (`dmesg`,
//! `journalctl -k`), /proc/stat's `btime`, sysctl dumps, and snapshot logs
//! written by a loop (`date +%s.%N; ss -tan; ss -s; cat
//! /proc/net/sockstat; nstat -az`). An input stage beside `capture`: it
//! imports only `capture` (for [`crate::capture::open::open`]'s
//! decompression); the report, cli and commands import it.
//!
//! Everything streams: an `ss -tan` snapshot is reduced to per-state
//! counts as it is read, only the last one's state x address tables are
//! kept, and lines longer than [`MAX_LINE`] are skipped with a warning.
//! Malformed input is a [`HostWarning`] naming the file and line; what was
//! read before it is kept. docs/host.md documents every format.

pub mod alignment;
mod kernel;
mod lines;
mod read;
mod snapshot;
mod ss;

pub use alignment::{Alignment, Method};
pub use read::read;

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

/// Lines longer than this are skipped (with a warning), never buffered.
pub const MAX_LINE: usize = 64 * 1024;
/// Kernel messages of kind `other` kept (the rest are counted in
/// [`HostEvidence::kernel_other_dropped`]).
pub const MAX_OTHER_MESSAGES: usize = 10_000;
/// Warnings kept per file (the rest are counted in one last warning).
pub const MAX_WARNINGS_PER_FILE: usize = 50;
/// Distinct (address, port) rows kept in one snapshot's table; sockets
/// past it are counted in [`SsTable::rows_dropped`].
pub const MAX_TABLE_ROWS: usize = 100_000;

/// How to read host inputs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostOptions {
    /// `--at`: the time (µs since the epoch) of `ss` dumps and other
    /// snapshots that have no time line of their own. Without it, the
    /// file's modification time (and a warning saying so).
    pub at_us: Option<u64>,
    /// `--boot-time`: when the host booted (µs since the epoch), for raw
    /// `dmesg` stamps; overrides /proc/stat's `btime`.
    pub boot_time_us: Option<u64>,
}

/// Everything read from the `--host` inputs. Times are µs: `*_us` since
/// the epoch (wall clock) unless named `boot_us` (since boot).
#[derive(Clone, Debug, Default)]
pub struct HostEvidence {
    /// The files read, in the order read (messages and snapshots refer to
    /// them by index).
    pub files: Vec<HostFile>,
    /// Kernel messages, in file order (each file's in its own order).
    pub kernel_messages: Vec<KernelMessage>,
    /// Messages of kind `other` past [`MAX_OTHER_MESSAGES`], not kept.
    pub kernel_other_dropped: u64,
    /// /proc/stat `btime`: when the host booted, whole seconds since the
    /// epoch.
    pub btime: Option<u64>,
    /// Sysctls read from `sysctl -a`-style lines (`net.ipv4.tcp_max_orphans
    /// = 65536`) or `name value` pairs, by dotted name.
    pub sysctls: BTreeMap<String, String>,
    /// The state names of `ss` (as ss prints them: `ESTAB`, `TIME-WAIT`,
    /// ...), a fixed list: [`SsPoint::counts`] is indexed by them.
    pub ss_states: Vec<String>,
    /// One point per `ss -tan` snapshot, by time.
    pub ss: Vec<SsPoint>,
    /// One per `ss -s` snapshot, by time.
    pub ss_summary: Vec<SsSummary>,
    /// One per /proc/net/sockstat snapshot, by time.
    pub sockstat: Vec<Sockstat>,
    /// The `nstat -az` snapshots.
    pub nstat: NstatSeries,
    /// The last `ss -tan` snapshot (by time) broken down by remote and by
    /// local address.
    pub ss_last: Option<SsTable>,
    /// What was malformed, skipped or assumed, naming file and line.
    pub warnings: Vec<HostWarning>,
}

/// A file read and what it was recognised as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostFile {
    pub path: PathBuf,
    pub kind: FileKind,
    /// `gzip`, `zstd`, `xz` when it was compressed.
    pub compression: Option<&'static str>,
}

/// What a file holds, recognised from its content.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    /// A kernel log in one of [`KernelFormat`].
    KernelLog(KernelFormat),
    /// /proc/stat (its `btime` line), or a file holding `btime N`.
    ProcStat,
    /// `sysctl -a` output (or part of it).
    Sysctl,
    /// Snapshots: `ss -tan`, `ss -s`, sockstat or `nstat` output, each
    /// after a time line or (one) without.
    Snapshots,
}

/// The kernel log formats read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KernelFormat {
    /// `dmesg`: `[ 2485.040016] TCP: ...`, seconds since boot.
    Dmesg,
    /// `dmesg -T`: `[Sun Dec  6 00:58:11 2026] TCP: ...`, local time to
    /// the second (read as UTC, said in a warning).
    DmesgCtime,
    /// `dmesg --time-format iso`: `2026-12-06T00:58:11,123456+00:00 TCP: ...`.
    DmesgIso,
    /// `journalctl -k -o short-iso`: `2026-12-06T00:58:11+0000 host kernel: ...`.
    JournalShortIso,
    /// `journalctl -k -o short-precise`: `Dec 06 00:58:11.123456 host kernel: ...`.
    JournalShortPrecise,
    /// `journalctl -k -o json`: one object per line.
    JournalJson,
}

impl FileKind {
    /// The name docs/host.md and messages use (`dmesg`, `journal-json`,
    /// `proc-stat`, `snapshots`, ...).
    pub fn name(self) -> &'static str {
        match self {
            FileKind::KernelLog(KernelFormat::Dmesg) => "dmesg",
            FileKind::KernelLog(KernelFormat::DmesgCtime) => "dmesg -T",
            FileKind::KernelLog(KernelFormat::DmesgIso) => "dmesg --time-format iso",
            FileKind::KernelLog(KernelFormat::JournalShortIso) => "journalctl -o short-iso",
            FileKind::KernelLog(KernelFormat::JournalShortPrecise) => "journalctl -o short-precise",
            FileKind::KernelLog(KernelFormat::JournalJson) => "journalctl -o json",
            FileKind::ProcStat => "/proc/stat",
            FileKind::Sysctl => "sysctl",
            FileKind::Snapshots => "snapshots",
        }
    }
}

/// What a kernel message says (JSON `host.kernel_messages[].kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KernelKind {
    /// `TCP: too many orphaned sockets` (tcp_out_of_resources).
    TooManyOrphans,
    /// `TCP: time wait bucket table overflow` (inet_twsk_alloc).
    TwBucketOverflow,
    /// `Out of socket memory` (kernels before 3.x).
    OutOfSocketMemory,
    /// `TCP: out of memory -- consider tuning tcp_mem`.
    TcpMem,
    /// `TCP: request_sock_TCP: Possible SYN flooding on port ...`.
    SynFlood,
    /// Anything else, kept verbatim.
    Other,
}

impl KernelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            KernelKind::TooManyOrphans => "too_many_orphans",
            KernelKind::TwBucketOverflow => "tw_bucket_overflow",
            KernelKind::OutOfSocketMemory => "out_of_socket_memory",
            KernelKind::TcpMem => "tcp_mem",
            KernelKind::SynFlood => "syn_flood",
            KernelKind::Other => "other",
        }
    }
}

/// One kernel message. At least one of `wall_us` and `boot_us` is set:
/// `dmesg` gives the time since boot, `dmesg -T`/`--time-format iso` and
/// `journalctl` short formats the wall clock, `journalctl -o json` both
/// (`__REALTIME_TIMESTAMP`, when journald received it, and
/// `_SOURCE_MONOTONIC_TIMESTAMP`, the kernel's stamp).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelMessage {
    pub wall_us: Option<u64>,
    pub boot_us: Option<u64>,
    pub kind: KernelKind,
    /// How many times the kernel said it: 1, plus N of a following
    /// `...: N callbacks suppressed` line (net_ratelimit's; attributed to
    /// the last TCP message before it, docs/host.md).
    pub count: u64,
    /// The message as logged, without its time stamp (nor journalctl's
    /// host and `kernel:`).
    pub text: String,
    /// Index into [`HostEvidence::files`], and the 1-based line.
    pub file: usize,
    pub line: u64,
}

/// Per-state socket counts of one `ss -tan` snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SsPoint {
    pub t_us: u64,
    /// Sockets per state, indexed like [`HostEvidence::ss_states`] (may be
    /// shorter: states first seen later count 0 here).
    pub counts: Vec<u64>,
    /// Sockets in this snapshot (the sum of `counts`).
    pub sockets: u64,
    /// Index into [`HostEvidence::files`].
    pub file: usize,
}

/// One `ss -s` snapshot: its `Total:` line and its `TCP:` line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SsSummary {
    pub t_us: u64,
    pub total: Option<u64>,
    pub tcp: Option<u64>,
    pub estab: Option<u64>,
    pub closed: Option<u64>,
    pub orphaned: Option<u64>,
    /// Older ss only (`synrecv N`).
    pub synrecv: Option<u64>,
    pub timewait: Option<u64>,
    pub file: usize,
}

/// One /proc/net/sockstat snapshot (its `sockets:` and `TCP:` lines; `mem`
/// in pages).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sockstat {
    pub t_us: u64,
    pub sockets_used: Option<u64>,
    pub inuse: Option<u64>,
    pub orphan: Option<u64>,
    pub tw: Option<u64>,
    pub alloc: Option<u64>,
    pub mem: Option<u64>,
    pub file: usize,
}

/// The counters of `nstat -az` snapshots (absolute values). The series is
/// kept for the counters of [`NstatSeries::TRACKED`]; for every counter
/// the first and last value seen (by time), so any counter's delta over
/// the whole log is known.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NstatSeries {
    /// How many snapshots were read.
    pub snapshots: u64,
    /// Tracked counter names (the ones seen), indexing [`NstatPoint::values`].
    pub names: Vec<String>,
    /// One per snapshot, by time.
    pub points: Vec<NstatPoint>,
    /// Every counter's first value: (t_us, value).
    pub first: BTreeMap<String, (u64, u64)>,
    /// Every counter's last value: (t_us, value).
    pub last: BTreeMap<String, (u64, u64)>,
}

/// One `nstat` snapshot's tracked counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NstatPoint {
    pub t_us: u64,
    /// Indexed like [`NstatSeries::names`]; `None` when the snapshot did
    /// not list it.
    pub values: Vec<Option<u64>>,
}

impl NstatSeries {
    /// Counters whose every value is kept (the report's reconciliation and
    /// timeline read these).
    pub const TRACKED: &'static [&'static str] = &[
        "TcpActiveOpens",
        "TcpPassiveOpens",
        "TcpAttemptFails",
        "TcpEstabResets",
        "TcpCurrEstab",
        "TcpOutRsts",
        "TcpRetransSegs",
        "TcpExtTW",
        "TcpExtTWRecycled",
        "TcpExtTWKilled",
        "TcpExtTCPTimeWaitOverflow",
        "TcpExtTCPAbortOnData",
        "TcpExtTCPAbortOnClose",
        "TcpExtTCPAbortOnMemory",
        "TcpExtTCPAbortOnTimeout",
        "TcpExtTCPAbortOnLinger",
        "TcpExtTCPAbortFailed",
        "TcpExtTCPMemoryPressures",
        "TcpExtListenOverflows",
        "TcpExtListenDrops",
        "TcpExtSyncookiesSent",
        "TcpExtTCPReqQFullDrop",
        "TcpExtTCPReqQFullDoCookies",
        "TcpExtTCPTimeouts",
        "TcpExtTCPSynRetrans",
        "TcpExtTCPLossProbes",
    ];

    /// The (t_us, value) points of a tracked counter.
    pub fn series<'a>(&'a self, name: &str) -> impl Iterator<Item = (u64, u64)> + 'a {
        let i = self.names.iter().position(|n| n == name);
        self.points
            .iter()
            .filter_map(move |p| Some((p.t_us, (*p.values.get(i?)?)?)))
    }

    /// How much a counter grew from its last value at or before `from_us`
    /// (or its first value, when none is that early) to its last value at
    /// or before `to_us`; `None` when it was never seen in that range. A
    /// counter that went down (a reboot, a wrap) gives its value after the
    /// fall, not a negative delta. Counters outside [`Self::TRACKED`] only
    /// over the whole log (their first and last values).
    pub fn delta(&self, name: &str, from_us: u64, to_us: u64) -> Option<u64> {
        let points: Vec<(u64, u64)> = if self.names.iter().any(|n| n == name) {
            self.series(name).collect()
        } else {
            let (f, l) = (self.first.get(name)?, self.last.get(name)?);
            vec![*f, *l]
        };
        let start = points
            .iter()
            .rev()
            .find(|(t, _)| *t <= from_us)
            .or_else(|| points.first())?;
        let end = points.iter().rev().find(|(t, _)| *t <= to_us)?;
        if end.0 < start.0 {
            return None;
        }
        // Sum the rises: a fall (reboot, reset) starts again from 0.
        let mut sum = 0u64;
        let mut prev = start.1;
        for &(t, v) in points.iter().filter(|(t, _)| *t > start.0 && *t <= end.0) {
            let _ = t;
            sum = sum.saturating_add(if v >= prev { v - prev } else { v });
            prev = v;
        }
        Some(sum)
    }
}

impl HostEvidence {
    /// The count of `state` (as ss prints it) in a snapshot.
    pub fn ss_count(&self, p: &SsPoint, state: &str) -> u64 {
        self.ss_states
            .iter()
            .position(|s| s == state)
            .and_then(|i| p.counts.get(i).copied())
            .unwrap_or(0)
    }

    /// The (t_us, count) series of one ss state.
    pub fn ss_series<'a>(&'a self, state: &str) -> impl Iterator<Item = (u64, u64)> + 'a {
        let i = self.ss_states.iter().position(|s| s == state);
        self.ss.iter().map(move |p| {
            (
                p.t_us,
                i.and_then(|i| p.counts.get(i).copied()).unwrap_or(0),
            )
        })
    }

    /// Per-state counts of one snapshot by name, states with no socket
    /// left out.
    pub fn ss_states_of(&self, p: &SsPoint) -> BTreeMap<String, u64> {
        self.ss_states
            .iter()
            .zip(&p.counts)
            .filter(|(_, c)| **c > 0)
            .map(|(s, c)| (s.clone(), *c))
            .collect()
    }

    /// True when nothing at all was read.
    pub fn is_empty(&self) -> bool {
        self.kernel_messages.is_empty()
            && self.btime.is_none()
            && self.sysctls.is_empty()
            && self.ss.is_empty()
            && self.ss_summary.is_empty()
            && self.sockstat.is_empty()
            && self.nstat.snapshots == 0
    }

    /// How many snapshots of each kind were read (JSON `host.snapshots`).
    pub fn snapshot_counts(&self) -> SnapshotCounts {
        SnapshotCounts {
            ss: self.ss.len() as u64,
            ss_summary: self.ss_summary.len() as u64,
            sockstat: self.sockstat.len() as u64,
            nstat: self.nstat.snapshots,
        }
    }
}

/// JSON `host.snapshots`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SnapshotCounts {
    pub ss: u64,
    pub ss_summary: u64,
    pub sockstat: u64,
    pub nstat: u64,
}

/// One `ss -tan` snapshot broken down by remote and by local endpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SsTable {
    pub t_us: u64,
    /// Index into [`HostEvidence::files`].
    pub file: usize,
    /// Sockets in the snapshot.
    pub sockets: u64,
    /// Per remote (peer) address and port, most sockets first.
    pub by_remote: Vec<SsRow>,
    /// Per local address and port, most sockets first.
    pub by_local: Vec<SsRow>,
    /// Sockets whose endpoint did not fit in [`MAX_TABLE_ROWS`] rows.
    pub rows_dropped: u64,
}

/// Sockets of one endpoint by state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SsRow {
    /// The address (`None` for ss's `*`); IPv4-mapped IPv6 addresses as
    /// IPv4.
    pub addr: Option<IpAddr>,
    /// The port (`None` for ss's `*`).
    pub port: Option<u16>,
    /// Sockets by state (as ss prints it), states with none left out.
    pub states: BTreeMap<String, u64>,
}

impl SsRow {
    pub fn sockets(&self) -> u64 {
        self.states.values().sum()
    }
}

/// Something malformed, skipped or assumed in one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostWarning {
    pub path: PathBuf,
    /// 1-based line, when one line is meant.
    pub line: Option<u64>,
    pub message: String,
}

impl fmt::Display for HostWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}: {}", self.path.display(), self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

/// A `--host` input that could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// Missing, unreadable, or a read error before anything was read.
    #[error("--host {}: {message}", path.display())]
    Io { path: PathBuf, message: String },
    /// A file given by name that holds no host log (a binary file, a
    /// capture, text of another kind).
    #[error("--host {}: {why}", path.display())]
    NotRecognised { path: PathBuf, why: String },
    /// A directory holding no host log.
    #[error("--host {}: no host log in this directory (dmesg, journalctl -k, /proc/stat, sysctl -a, ss/sockstat/nstat snapshots; docs/host.md)", path.display())]
    EmptyDir { path: PathBuf },
}

/// Parses a time as the snapshot logs and `--at`/`--boot-time` write it:
/// epoch seconds with an optional fraction (`date +%s.%N`), or RFC 3339
/// with its offset (`date --rfc-3339=ns`, `date -Ins`, a comma or a dot
/// before the fraction). µs since the epoch.
pub fn parse_time(s: &str) -> Option<u64> {
    snapshot::parse_time_line(s.trim().as_bytes())
}

/// `--at`/`--boot-time` as clap reads them: [`parse_time`] with a message.
pub fn parse_time_arg(s: &str) -> Result<u64, String> {
    parse_time(s).ok_or_else(|| {
        format!(
            "`{s}`: expected epoch seconds (1733446691.5) or an RFC 3339 time with its offset (2026-12-06T00:58:11Z)"
        )
    })
}
