//! Metrics: everything a report shows, as mergeable sums.
//!
//! [`Summary`] implements `AddAssign`, so parallel workers each fill their
//! own and fold them at the end; merging is exact (counts add, histograms
//! add), so a run's result does not depend on how work was split.

pub mod fin_delay;
pub mod groups;
pub mod hist;
pub mod peers;
pub mod replay;
pub mod timeline;

use crate::decode::{Segment, Skip, flags};
use crate::flow::conn::{Conn, NOUTCOMES, Outcome, SidesBy};
use crate::flow::key::Side;
use crate::flow::state::TcpState;
use crate::flow::table::{ConnSink, Retired};
pub use hist::Hist;
pub use peers::{PeerStats, Worst};
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Latency metrics (first index of [`Summary::latency`]).
pub const FIN_ACK: usize = 0;
pub const FIN_FIN: usize = 1;
pub const CLOSE_TOTAL: usize = 2;
pub const METRIC_NAMES: [&str; 3] = ["fin_ack", "fin_fin", "close_total"];
/// Splits (second index): every connection, local side closed first, remote first.
pub const ALL: usize = 0;
pub const LOCAL_FIRST: usize = 1;
pub const REMOTE_FIRST: usize = 2;
pub const SPLIT_NAMES: [&str; 3] = ["all", "local_first", "remote_first"];

/// Frame-level counts, filled by the decoder.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Packets {
    /// Packet records read.
    pub frames: u64,
    /// Frames carrying a TCP header (including ones cut before the flags).
    pub tcp: u64,
    pub syn: u64,
    pub fin: u64,
    pub rst: u64,
    /// ACK only, no payload.
    pub pure_ack: u64,
    /// Frames that gave no TCP segment, by reason.
    pub skipped: [u64; 7],
    /// Frames per link type.
    pub link_types: BTreeMap<u16, u64>,
    pub first_ts: Option<u64>,
    pub last_ts: Option<u64>,
    /// Timeline bucket width (ns) for `frames_by_bucket`; 0: not counted.
    pub bucket_ns: u64,
    /// Frames per timeline bucket, run-length: (bucket number, frames).
    pub frames_by_bucket: Vec<(u64, u64)>,
}

impl Packets {
    /// Counters that also count frames per timeline bucket of `bucket_ns`.
    pub fn with_bucket(bucket_ns: u64) -> Packets {
        Packets {
            bucket_ns,
            ..Packets::default()
        }
    }

    /// Counts one frame and what the decoder made of it.
    pub fn count(&mut self, link: u16, ts: u64, r: &Result<Segment, Skip>) {
        self.frames += 1;
        // Consecutive frames nearly always share a link type: a map lookup
        // per frame would dominate, so bump the last entry when it matches.
        match self.link_types.last_entry() {
            Some(mut e) if *e.key() == link => *e.get_mut() += 1,
            _ => *self.link_types.entry(link).or_insert(0) += 1,
        }
        self.first_ts = Some(self.first_ts.map_or(ts, |f| f.min(ts)));
        self.last_ts = Some(self.last_ts.map_or(ts, |l| l.max(ts)));
        if let Some(b) = ts.checked_div(self.bucket_ns) {
            match self.frames_by_bucket.last_mut() {
                Some((lb, n)) if *lb == b => *n += 1,
                _ => self.frames_by_bucket.push((b, 1)),
            }
        }
        match r {
            Ok(s) => {
                self.tcp += 1;
                self.syn += u64::from(s.has(flags::SYN));
                self.fin += u64::from(s.has(flags::FIN));
                self.rst += u64::from(s.has(flags::RST));
                self.pure_ack += u64::from(s.flags & 0x17 == flags::ACK && s.payload_len == 0);
            }
            Err(skip) => {
                if *skip == Skip::TcpTruncated {
                    self.tcp += 1;
                }
                self.skipped[*skip as usize] += 1;
            }
        }
    }
}

impl Packets {
    /// Adds `o`'s frames per bucket on the wider of the two widths (a
    /// run's widths are one width times powers of two), keeping at most
    /// [`timeline::MAX_LIVE_BUCKETS`] buckets: past it the width doubles,
    /// as the timeline's does.
    fn add_frames_by_bucket(&mut self, o: &Packets) {
        if o.bucket_ns == 0 {
            return;
        }
        if self.bucket_ns == 0 {
            self.bucket_ns = o.bucket_ns;
        }
        self.widen_frames(o.bucket_ns);
        let k = (self.bucket_ns / o.bucket_ns).max(1);
        for &(b, n) in &o.frames_by_bucket {
            match self.frames_by_bucket.last_mut() {
                Some((lb, m)) if *lb == b / k => add(m, n),
                _ => self.frames_by_bucket.push((b / k, n)),
            }
        }
        if self.frames_by_bucket.len() > 2 * timeline::MAX_LIVE_BUCKETS {
            self.compact_frames();
            while self.frames_by_bucket.len() > timeline::MAX_LIVE_BUCKETS
                && self.bucket_ns < u64::MAX / 2
            {
                self.widen_frames(self.bucket_ns * 2);
            }
        }
    }

    /// Re-buckets the frame counts to width `w` (a multiple of the current).
    fn widen_frames(&mut self, w: u64) {
        let w0 = self.bucket_ns;
        if w0 == 0 || w <= w0 || !w.is_multiple_of(w0) {
            return;
        }
        let k = w / w0;
        self.frames_by_bucket.iter_mut().for_each(|(b, _)| *b /= k);
        self.bucket_ns = w;
        self.compact_frames();
    }

    /// One entry per bucket, in bucket order.
    fn compact_frames(&mut self) {
        let v = &mut self.frames_by_bucket;
        v.sort_unstable_by_key(|e| e.0);
        let mut out: Vec<(u64, u64)> = Vec::with_capacity(v.len());
        for &(b, n) in v.iter() {
            match out.last_mut() {
                Some((lb, m)) if *lb == b => *m += n,
                _ => out.push((b, n)),
            }
        }
        *v = out;
    }
}

/// A counter's type, added saturating ([`add`]).
pub(crate) trait Counter: Copy {
    fn saturating(self, o: Self) -> Self;
}

macro_rules! counter {
    ($($t:ty),*) => {$(
        impl Counter for $t {
            fn saturating(self, o: Self) -> Self {
                self.saturating_add(o)
            }
        }
    )*};
}
counter!(u32, u64, u128, i64);

/// `*a += b`, saturating. Merging adds metrics turned back from saved
/// reports (`finscope merge`), whose counts may be anything: a sum past
/// the type's range stays at its end instead of wrapping (or panicking
/// with overflow checks).
pub(crate) fn add<T: Counter>(a: &mut T, b: impl std::borrow::Borrow<T>) {
    *a = a.saturating(*b.borrow());
}

impl std::ops::AddAssign<&Packets> for Packets {
    fn add_assign(&mut self, o: &Packets) {
        add(&mut self.frames, o.frames);
        add(&mut self.tcp, o.tcp);
        add(&mut self.syn, o.syn);
        add(&mut self.fin, o.fin);
        add(&mut self.rst, o.rst);
        add(&mut self.pure_ack, o.pure_ack);
        for (a, b) in self.skipped.iter_mut().zip(o.skipped.iter()) {
            add(a, b);
        }
        for (k, v) in &o.link_types {
            add(self.link_types.entry(*k).or_insert(0), v);
        }
        self.add_frames_by_bucket(o);
        self.first_ts = match (self.first_ts, o.first_ts) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last_ts = match (self.last_ts, o.last_ts) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
}

/// Connection counts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Connections {
    pub total: u64,
    pub handshake_seen: u64,
    /// Sides decided by port because no SYN or SYN-ACK was seen.
    pub sides_by_port: u64,
    /// Sides decided by a SYN-ACK only.
    pub sides_by_synack: u64,
    /// FINs that moved past an earlier FIN of the same side (anomaly).
    pub fin_moved: u64,
    /// Connections of which only one direction was captured.
    pub one_sided: u64,
    /// Connections of which both directions were captured.
    pub two_sided: u64,
    /// Events the state machine found impossible in the state they came in.
    pub anomalies: u64,
    /// Kill inferences a later segment disproved.
    pub kills_retracted: u64,
    /// Connections whose local side answered data that came after its
    /// FIN with a bare RST (Linux TCPAbortOnData).
    pub aborted_on_data: u64,
}

/// FINs never ACKed (docs/report.md: one definition, per direction).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnackedFins {
    /// Local FINs the remote peer never ACKed.
    pub local_to_remote: u64,
    /// Remote FINs the local side never ACKed.
    pub remote_to_local: u64,
}

/// Share of all connections that must be one-sided before the capture as a
/// whole is judged one-sided ([`Summary::is_one_sided`]): most of them.
pub const ONE_SIDED_SHARE: f64 = 0.5;

/// The fewest supporting connections for a tunable to be inferred or a
/// finding raised (docs/diagnosis.md, "Evidence thresholds").
pub const MIN_EVIDENCE: u64 = 3;

/// Evidence of the capturing host's kernel settings, mergeable.
#[derive(Clone, Debug, Default)]
pub struct KernelEvidence {
    /// Local orphans inferred killed, by the FIN retransmissions seen
    /// before the silence (timer-spaced: duplicates within 1 ms excluded).
    pub killed_by_rtx: BTreeMap<u32, u64>,
    /// Killed local orphans by the range of tcp_orphan_retries values
    /// their retransmission schedule is consistent with
    /// ([`crate::flow::state::orphan_retries_range`]).
    pub killed_ranges: BTreeMap<(u32, u32), u64>,
    /// Of those, with the first retransmission at the same interval as the
    /// second (a tail-loss probe before the RTO retransmissions).
    pub killed_with_probe: u64,
    /// Of those, confirmed by a later bare RST from the local host.
    pub kills_confirmed: u64,
    /// Killed local sockets by the state they were in.
    pub killed_in: BTreeMap<&'static str, u64>,
    /// Most FIN retransmissions of a local FIN that was ACKed in the end.
    pub survivor_max_rtx: u32,
    /// Local FIN-WAIT-2 sockets that ACKed the peer's FIN normally after
    /// this long (us): tcp_fin_timeout is at least this (orphans only).
    pub fin_wait_2_survived_max_us: Option<u64>,
    /// Local FIN-WAIT-2 sockets gone (the peer's FIN answered with a bare
    /// RST) after this long (us): tcp_fin_timeout is at most this.
    pub fin_wait_2_gone_min_us: Option<u64>,
    pub fin_wait_2_gone: u64,
    pub fin_wait_2_survived: u64,
    /// First retransmission intervals of local FINs, us.
    pub first_rto_us: Hist,
    /// Local orphans reset while their FIN was unACKed (RST|ACK: the
    /// kernel's tcp_max_orphans / memory pressure, or an abort).
    pub orphans_reset: u64,
}

impl std::ops::AddAssign<&KernelEvidence> for KernelEvidence {
    fn add_assign(&mut self, o: &KernelEvidence) {
        for (k, v) in &o.killed_by_rtx {
            add(self.killed_by_rtx.entry(*k).or_default(), v);
        }
        for (k, v) in &o.killed_ranges {
            add(self.killed_ranges.entry(*k).or_default(), v);
        }
        for (k, v) in &o.killed_in {
            add(self.killed_in.entry(k).or_default(), v);
        }
        add(&mut self.killed_with_probe, o.killed_with_probe);
        add(&mut self.kills_confirmed, o.kills_confirmed);
        self.survivor_max_rtx = self.survivor_max_rtx.max(o.survivor_max_rtx);
        self.fin_wait_2_survived_max_us = self
            .fin_wait_2_survived_max_us
            .max(o.fin_wait_2_survived_max_us);
        self.fin_wait_2_gone_min_us = match (self.fin_wait_2_gone_min_us, o.fin_wait_2_gone_min_us)
        {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        add(&mut self.fin_wait_2_gone, o.fin_wait_2_gone);
        add(&mut self.fin_wait_2_survived, o.fin_wait_2_survived);
        self.first_rto_us += &o.first_rto_us;
        add(&mut self.orphans_reset, o.orphans_reset);
    }
}

impl KernelEvidence {
    /// The tcp_orphan_retries value most killed orphans are consistent
    /// with, and how many are; `None` when fewer than [`MIN_EVIDENCE`] are.
    /// Only values the sysctl can take effect with: 0 means 8 for an orphan
    /// that is alive (net/ipv4/tcp_timer.c, `tcp_orphan_retries()`; an
    /// orphan gives up at once only after an ICMP error), so a schedule
    /// that fits 0 retries alone names no setting.
    pub fn orphan_retries(&self) -> Option<(u32, u64)> {
        (1..=crate::flow::state::MAX_ORPHAN_RETRIES)
            .map(|n| {
                let k: u64 = self
                    .killed_ranges
                    .iter()
                    .filter(|((lo, hi), _)| *lo <= n && n <= *hi)
                    .map(|(_, c)| c)
                    .sum();
                (n, k)
            })
            .filter(|(_, k)| *k >= MIN_EVIDENCE)
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
    }

    /// tcp_fin_timeout bounds in whole seconds (the sysctl's unit), each
    /// from at least [`MIN_EVIDENCE`] FIN-WAIT-2 sockets: (at least, at
    /// most; a lower bound below 1 s says nothing and is left out). A
    /// socket that outlived another one's "timeout" contradicts it: then
    /// neither bound is inferred.
    pub fn fin_timeout_bounds(&self) -> (Option<u64>, Option<u64>) {
        let at_least = self
            .fin_wait_2_survived_max_us
            .filter(|_| self.fin_wait_2_survived >= MIN_EVIDENCE)
            .map(|us| us / 1_000_000)
            .filter(|s| *s >= 1);
        let at_most = self
            .fin_wait_2_gone_min_us
            .filter(|_| self.fin_wait_2_gone >= MIN_EVIDENCE);
        match (self.fin_wait_2_survived_max_us, at_most) {
            (Some(lived), Some(gone)) if lived > gone => (None, None),
            _ => (at_least, at_most.map(|us| us / 1_000_000)),
        }
    }

    /// Takes what the local side `local` of `c` shows.
    fn add(&mut self, c: &Conn, local: Side) {
        let l = &c.ep[local];
        if l.fin_first_rto_us > 0 && l.fin_rtx_fast == 0 {
            self.first_rto_us.record(u64::from(l.fin_first_rto_us));
        }
        if l.state() == TcpState::Killed {
            let b = &l.backoff;
            *self.killed_by_rtx.entry(b.retransmissions).or_default() += 1;
            if b.first_was_probe() == Some(true) {
                self.killed_with_probe += 1;
            }
            self.kills_confirmed += u64::from(l.kill_confirmed);
            if let Some(r) = l
                .killed_at
                .and_then(|k| crate::flow::state::orphan_retries_range(b, k))
            {
                *self.killed_ranges.entry(r).or_default() += 1;
            }
            let before = l
                .machine
                .transitions
                .iter()
                .filter(|(s, _)| *s != TcpState::Killed)
                .last()
                .map_or(TcpState::Inactive, |x| x.0);
            *self.killed_in.entry(before.key()).or_default() += 1;
        } else if l.fin_acked_ts.is_some() {
            self.survivor_max_rtx = self.survivor_max_rtx.max(l.fin_rtx);
        }
        if l.reset_awaiting_ack {
            self.orphans_reset += 1;
        }
        // FIN-WAIT-2: how long it lasted, and how it ended.
        let tr: Vec<(TcpState, u64)> = l.machine.transitions.iter().collect();
        for w in tr.windows(2) {
            if w[0].0 != TcpState::FinWait2 {
                continue;
            }
            let d = w[1].1.saturating_sub(w[0].1) / 1_000;
            match w[1].0 {
                TcpState::TimeWait => {
                    self.fin_wait_2_survived += 1;
                    self.fin_wait_2_survived_max_us = self.fin_wait_2_survived_max_us.max(Some(d));
                }
                TcpState::Closed if l.fin_wait_2_gone => {
                    self.fin_wait_2_gone += 1;
                    self.fin_wait_2_gone_min_us =
                        Some(self.fin_wait_2_gone_min_us.map_or(d, |m| m.min(d)));
                }
                _ => {}
            }
        }
    }
}

/// FIN retransmission counts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FinRetransmissions {
    pub total: u64,
    pub spurious: u64,
    /// Of `total`, copies less than 1 ms after the previous one (likely
    /// the same packet captured twice).
    pub within_1ms: u64,
    pub local_to_remote: u64,
    pub remote_to_local: u64,
}

/// Everything the reports show, mergeable.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub packets: Packets,
    pub connections: Connections,
    /// Outcome counts, indexed by [`Outcome::index`].
    pub outcomes: [u64; NOUTCOMES],
    /// Outcome counts of connections with a FIN, by who sent the first FIN:
    /// `[0]` local first, `[1]` remote first.
    pub outcomes_by_closer: [[u64; NOUTCOMES]; 2],
    pub fin_rtx: FinRetransmissions,
    /// `latency[metric][split]`, microseconds.
    pub latency: [[Hist; 3]; 3],
    /// Age of FINs never ACKed: until the end of observation, or until
    /// their sender was killed.
    pub unacked_fin_age: Hist,
    pub unacked: UnackedFins,
    pub peers: FxHashMap<IpAddr, PeerStats>,
    /// Local socket states over time.
    pub timeline: timeline::Timeline,
    /// Connections in which the local side sent a FIN.
    pub local_fins: u64,
    /// What the capture shows of the local kernel's settings.
    pub kernel: KernelEvidence,
    /// The local closes, for the remedies' replay (not in saved reports:
    /// a merged report has none).
    pub lives: replay::Lives,
}

impl Summary {
    /// Only one direction was captured: most connections (more than
    /// [`ONE_SIDED_SHARE`] of them) are one-sided. Fewer are a share the
    /// report warns about, no capture-wide verdict (docs/diagnosis.md).
    pub fn is_one_sided(&self) -> bool {
        let c = &self.connections;
        c.one_sided > 0 && c.one_sided as f64 > ONE_SIDED_SHARE * c.total as f64
    }
}

/// A shard's metrics: the [`ConnSink`] the pipeline gives each shard. It
/// folds every retired connection into its [`Summary`] and, with
/// `--flows` or `--group-by port`, keeps them for the pipeline to hand on.
#[derive(Debug, Default)]
pub struct ShardMetrics {
    pub summary: Summary,
    /// When `Some`, every retired connection is also kept here.
    pub retired: Option<Vec<Retired>>,
}

impl ShardMetrics {
    /// Metrics with a timeline of `cfg`; `keep`: keep retired connections.
    pub fn new(cfg: timeline::TimelineConfig, keep: bool) -> ShardMetrics {
        ShardMetrics {
            summary: Summary {
                timeline: timeline::Timeline::new(cfg),
                ..Summary::default()
            },
            retired: keep.then(Vec::new),
        }
    }
}

impl ConnSink for ShardMetrics {
    fn retire(&mut self, r: Retired) {
        self.summary.add_conn(&r.conn, r.local, r.end_ts, r.open);
        if let Some(v) = &mut self.retired {
            v.push(r);
        }
    }

    fn segment(&mut self, seg: &Segment, fin_rtx: bool) {
        self.summary.timeline.count_segment(
            seg.ts_ns,
            seg.has(flags::FIN),
            seg.has(flags::RST),
            fin_rtx,
        );
    }

    fn flush(&mut self) {
        self.summary.timeline.flush();
    }
}

fn us(from: u64, to: u64) -> u64 {
    to.saturating_sub(from) / 1_000
}

impl Summary {
    /// Folds one finished connection in. `local` is the local side, `end_ts`
    /// the end of its observation (capture end, or when it went idle).
    /// `open` is true when the connection was still live at the end of the
    /// capture (its open states extend past the end in the timeline).
    /// Everything is read from the close model: outcome, latencies, unACKed
    /// FINs, states.
    pub fn add_conn(&mut self, c: &Conn, local: Side, end_ts: u64, open: bool) {
        let remote = local.other();
        let (_, by) = c.client_side();
        let outcome = c.outcome();
        let one_sided = outcome == Outcome::OneSided;
        self.connections.total += 1;
        self.connections.handshake_seen += u64::from(by == SidesBy::Syn);
        self.connections.sides_by_port += u64::from(by == SidesBy::Port);
        self.connections.sides_by_synack += u64::from(by == SidesBy::SynAck);
        self.connections.fin_moved += u64::from(c.fin_moved);
        self.connections.one_sided += u64::from(one_sided);
        self.connections.two_sided += u64::from(c.two_sided());
        self.connections.anomalies += c.anomalies();
        self.connections.kills_retracted += u64::from(c.kills_retracted);
        self.connections.aborted_on_data += u64::from(c.ep[local].abort_on_data);
        self.outcomes[outcome.index()] += 1;

        let (l, r) = (&c.ep[local], &c.ep[remote]);
        self.fin_rtx.local_to_remote += u64::from(l.fin_retransmissions());
        self.fin_rtx.remote_to_local += u64::from(r.fin_retransmissions());
        self.fin_rtx.total += u64::from(l.fin_retransmissions() + r.fin_retransmissions());
        self.fin_rtx.spurious += u64::from(l.fin_rtx_spurious + r.fin_rtx_spurious);
        self.fin_rtx.within_1ms += u64::from(l.fin_rtx_fast + r.fin_rtx_fast);

        if let Some(f) = c.first_fin {
            let split = if f == local {
                LOCAL_FIRST
            } else {
                REMOTE_FIRST
            };
            self.outcomes_by_closer[split - 1][outcome.index()] += 1;
            let lat = c.latencies();
            let mut rec = |m: usize, v: Option<u64>| {
                if let Some(v) = v {
                    self.latency[m][ALL].record(v);
                    self.latency[m][split].record(v);
                }
            };
            rec(FIN_ACK, lat.fin_ack);
            rec(FIN_FIN, lat.fin_fin);
            rec(CLOSE_TOTAL, lat.close_total);
        }
        for (side, n) in [
            (local, &mut self.unacked.local_to_remote),
            (remote, &mut self.unacked.remote_to_local),
        ] {
            if c.fin_unacked(side)
                && let Some(t) = c.ep[side].fin_ts
            {
                *n += 1;
                self.unacked_fin_age
                    .record(us(t, c.fin_unacked_until(side, end_ts)));
            }
        }
        if !one_sided {
            self.kernel.add(c, local);
        }

        let states = self.timeline.add_conn(c, local, end_ts, open);
        if !one_sided {
            self.lives.add(c, local, &states.list, end_ts);
        }
        self.local_fins += u64::from(c.ep[local].fin_ts.is_some());
        self.add_peer(c, local, end_ts, &states);
    }

    /// Folds a connection into its remote peer's figures. A peer answers
    /// for what it did to local FINs only.
    fn add_peer(&mut self, c: &Conn, local: Side, end_ts: u64, states: &timeline::ConnStates) {
        let remote = local.other();
        let (l, r) = (&c.ep[local], &c.ep[remote]);
        let unacked_local = c.fin_unacked(local);
        let peer = self.peers.entry(c.key.endpoint(remote).0).or_default();
        for &(st, s, e) in &states.list {
            if st == TcpState::FinWait1 {
                peer.fin_wait_1_ns += u128::from(e.min(end_ts).saturating_sub(s));
            }
        }
        peer.connections += 1;
        peer.closes += u64::from(c.first_fin.is_some());
        let rtx = u64::from(l.fin_retransmissions());
        peer.fin_retransmissions += rtx;
        peer.unacked_fins += u64::from(unacked_local);
        peer.rsts += u64::from(l.rsts + r.rsts);
        // Until the ACK, or a never-ACKed FIN's age (a lower bound).
        let lat = c.fin_wait_us(local, end_ts);
        if let Some(v) = lat {
            peer.fin_ack.record(v);
        }
        peer.fin_delay.add_conn(c, local, lat);
        let lat = lat.unwrap_or(0);
        let w = Worst {
            score: rtx + u64::from(unacked_local),
            latency_us: lat,
            first_ts: c.first_ts,
            first_frame: c.first_frame,
            last_frame: c.last_frame,
            key: c.key,
            local,
            input: 0,
        };
        peer.offer_worst(w);
    }
}

impl std::ops::AddAssign<&Summary> for Summary {
    fn add_assign(&mut self, o: &Summary) {
        self.packets += &o.packets;
        let (a, b) = (&mut self.connections, &o.connections);
        add(&mut a.total, b.total);
        add(&mut a.handshake_seen, b.handshake_seen);
        add(&mut a.sides_by_port, b.sides_by_port);
        add(&mut a.sides_by_synack, b.sides_by_synack);
        add(&mut a.fin_moved, b.fin_moved);
        add(&mut a.one_sided, b.one_sided);
        add(&mut a.two_sided, b.two_sided);
        add(&mut a.anomalies, b.anomalies);
        add(&mut a.kills_retracted, b.kills_retracted);
        add(&mut a.aborted_on_data, b.aborted_on_data);
        for i in 0..NOUTCOMES {
            add(&mut self.outcomes[i], o.outcomes[i]);
            add(
                &mut self.outcomes_by_closer[0][i],
                o.outcomes_by_closer[0][i],
            );
            add(
                &mut self.outcomes_by_closer[1][i],
                o.outcomes_by_closer[1][i],
            );
        }
        let (a, b) = (&mut self.fin_rtx, &o.fin_rtx);
        add(&mut a.total, b.total);
        add(&mut a.spurious, b.spurious);
        add(&mut a.within_1ms, b.within_1ms);
        add(&mut a.local_to_remote, b.local_to_remote);
        add(&mut a.remote_to_local, b.remote_to_local);
        for m in 0..3 {
            for s in 0..3 {
                self.latency[m][s] += &o.latency[m][s];
            }
        }
        self.unacked_fin_age += &o.unacked_fin_age;
        add(&mut self.unacked.local_to_remote, o.unacked.local_to_remote);
        add(&mut self.unacked.remote_to_local, o.unacked.remote_to_local);
        self.kernel += &o.kernel;
        for (k, v) in &o.peers {
            *self.peers.entry(*k).or_default() += v;
        }
        self.timeline += &o.timeline;
        add(&mut self.local_fins, o.local_fins);
        self.lives += &o.lives;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// tcp_fin_timeout bounds: whole seconds, from 3 sockets, none when
    /// they contradict each other (issue 21: "at least 0.002s, at most 0s").
    #[test]
    fn fin_timeout_bounds_are_whole_seconds_and_agree() {
        let k = KernelEvidence {
            fin_wait_2_survived_max_us: Some(2_000),
            fin_wait_2_survived: 2,
            fin_wait_2_gone_min_us: Some(211),
            fin_wait_2_gone: 27,
            ..KernelEvidence::default()
        };
        // A survivor outlived the shortest "gone": neither bound.
        assert_eq!(k.fin_timeout_bounds(), (None, None));
        let k = KernelEvidence {
            fin_wait_2_survived_max_us: Some(4_900_000),
            fin_wait_2_survived: 3,
            fin_wait_2_gone_min_us: Some(10_600_000),
            fin_wait_2_gone: 3,
            ..KernelEvidence::default()
        };
        assert_eq!(k.fin_timeout_bounds(), (Some(4), Some(10)));
        // Two "gone" sockets are below the evidence minimum.
        let k = KernelEvidence {
            fin_wait_2_gone: 2,
            ..k
        };
        assert_eq!(k.fin_timeout_bounds(), (Some(4), None));
    }

    /// tcp_orphan_retries: never 0 (it means 8), and from 3 kills.
    #[test]
    fn orphan_retries_needs_three_kills_and_is_never_zero() {
        let mut k = KernelEvidence::default();
        k.killed_ranges.insert((0, 2), 5);
        assert_eq!(k.orphan_retries(), Some((1, 5)));
        let mut k = KernelEvidence::default();
        k.killed_ranges.insert((0, 0), 5);
        assert_eq!(k.orphan_retries(), None);
        let mut k = KernelEvidence::default();
        k.killed_ranges.insert((2, 2), 2);
        assert_eq!(k.orphan_retries(), None);
        k.killed_ranges.insert((1, 3), 1);
        assert_eq!(k.orphan_retries(), Some((2, 3)));
    }

    /// Frames per bucket over more buckets than the cap: the width doubles,
    /// no frame is lost, and a finer chunk adds onto the wider grid.
    #[test]
    fn frames_by_bucket_stay_bounded() {
        let ms = 1_000_000u64;
        let mut total = Packets::with_bucket(ms);
        let chunks = 5 * timeline::MAX_LIVE_BUCKETS as u64 / 1000;
        let n = chunks * 1000;
        for chunk in 0..chunks {
            let mut p = Packets::with_bucket(ms);
            p.frames_by_bucket = (0..1000).map(|i| (chunk * 1000 + i, 2)).collect();
            total += &p;
        }
        assert!(total.frames_by_bucket.len() <= 2 * timeline::MAX_LIVE_BUCKETS);
        assert!(total.bucket_ns > ms);
        let sum: u64 = total.frames_by_bucket.iter().map(|e| e.1).sum();
        assert_eq!(sum, 2 * n);
        let k = total.bucket_ns / ms;
        assert_eq!(total.bucket_ns % ms, 0);
        assert_eq!(total.frames_by_bucket[0], (0, 2 * k));
    }
}
