//! The capturing host's socket states over time, reconstructed from packets.
//!
//! For every connection the local side's close states are derived as
//! intervals (see [`intervals`]); each interval adds +1 to its state from the
//! first bucket whose *end* it covers and -1 from the first bucket end past
//! it, so a bucket's count is the number of connections in that state at the
//! bucket's end, like an `ss` snapshot taken then. Deltas and per-bucket
//! counters are kept sparse (keyed by absolute bucket number), so shards
//! merge by addition and memory grows with the capture's duration divided by
//! the bucket width, never with its packet count.
//!
//! Model (docs/timeline.md has the full text and the kernel sources):
//! - local closes first: FIN-WAIT-1 from its FIN until the peer ACKs it;
//!   FIN-WAIT-2 until the peer's FIN (at most `fin_timeout` for an orphan);
//!   if the peer's FIN comes while our FIN is unACKed: CLOSING until the ACK;
//!   then TIME-WAIT for `time_wait` (Linux: 60 s).
//! - remote closes first: CLOSE-WAIT from its FIN until our FIN, then
//!   LAST-ACK until the peer ACKs it.
//! - a RST ends whatever state the connection is in.
//! - orphans (the application has closed, the kernel still holds the socket):
//!   FIN-WAIT-1 + CLOSING + LAST-ACK, plus FIN-WAIT-2 when `fin_timeout` is
//!   above 60 s. Linux turns an orphaned FIN-WAIT-2 socket into a timewait
//!   socket when tcp_fin_timeout <= TCP_TIMEWAIT_LEN, and /proc/net/sockstat
//!   counts it under `tw`, not `orphan` (net/ipv4/tcp.c, tcp_close()).

use crate::flow::conn::Conn;
use crate::flow::key::Side;
use rustc_hash::FxHashMap;

/// Socket states tracked, in series order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TcpState {
    Established,
    FinWait1,
    FinWait2,
    Closing,
    TimeWait,
    CloseWait,
    LastAck,
}

pub const NSTATES: usize = 7;

impl TcpState {
    pub const ALL: [TcpState; NSTATES] = [
        TcpState::Established,
        TcpState::FinWait1,
        TcpState::FinWait2,
        TcpState::Closing,
        TcpState::TimeWait,
        TcpState::CloseWait,
        TcpState::LastAck,
    ];

    /// JSON / CSV name.
    pub fn key(self) -> &'static str {
        match self {
            TcpState::Established => "established",
            TcpState::FinWait1 => "fin_wait_1",
            TcpState::FinWait2 => "fin_wait_2",
            TcpState::Closing => "closing",
            TcpState::TimeWait => "time_wait",
            TcpState::CloseWait => "close_wait",
            TcpState::LastAck => "last_ack",
        }
    }
}

impl std::fmt::Display for TcpState {
    /// The RFC 9293 name.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TcpState::Established => "ESTABLISHED",
            TcpState::FinWait1 => "FIN-WAIT-1",
            TcpState::FinWait2 => "FIN-WAIT-2",
            TcpState::Closing => "CLOSING",
            TcpState::TimeWait => "TIME-WAIT",
            TcpState::CloseWait => "CLOSE-WAIT",
            TcpState::LastAck => "LAST-ACK",
        })
    }
}

/// Timeline settings.
#[derive(Clone, Debug, PartialEq)]
pub struct TimelineConfig {
    /// Bucket width, ns.
    pub bucket_ns: u64,
    /// TIME-WAIT duration, ns (Linux TCP_TIMEWAIT_LEN: 60 s).
    pub time_wait_ns: u64,
    /// Orphaned FIN-WAIT-2 lifetime, ns (tcp_fin_timeout: 60 s).
    pub fin_timeout_ns: u64,
    /// What-if: tcp_orphan_retries. An orphan's unACKed FIN is given up
    /// after this many retransmissions with exponential backoff.
    pub orphan_retries: Option<u32>,
}

impl Default for TimelineConfig {
    fn default() -> Self {
        TimelineConfig {
            bucket_ns: 1_000_000_000,
            time_wait_ns: 60_000_000_000,
            fin_timeout_ns: 60_000_000_000,
            orphan_retries: None,
        }
    }
}

/// Linux's minimum and maximum retransmission timeouts (TCP_RTO_MIN, TCP_RTO_MAX).
const RTO_MIN_NS: u64 = 200_000_000;
const RTO_MAX_NS: u64 = 120_000_000_000;

impl TimelineConfig {
    /// Time from the first FIN until an orphan whose FIN stays unACKed is
    /// killed after `retries` retransmissions: RTO doubles each time, from the
    /// first observed retransmission interval (or TCP_RTO_MIN), capped at
    /// TCP_RTO_MAX; the kill comes one RTO after the last retransmission.
    pub fn orphan_kill_after(&self, first_rto_ns: Option<u64>, retries: u32) -> u64 {
        let mut rto = first_rto_ns.unwrap_or(RTO_MIN_NS).clamp(1, RTO_MAX_NS);
        let mut t = 0u64;
        for _ in 0..=retries.min(64) {
            t = t.saturating_add(rto);
            rto = (rto.saturating_mul(2)).min(RTO_MAX_NS);
        }
        t
    }
}

/// Per-bucket counters of packets.
pub const C_SEGMENTS: usize = 0;
pub const C_FIN: usize = 1;
pub const C_FIN_RTX: usize = 2;
pub const C_RST: usize = 3;
pub const C_NEW: usize = 4;
pub const C_CLOSES: usize = 5;
pub const NCOUNTERS: usize = 6;

/// Series kept per bucket: the states, then orphans and the what-if series.
pub const S_ORPHANS: usize = NSTATES;
pub const S_FW1_LIMITED: usize = NSTATES + 1;
pub const S_ORPHANS_LIMITED: usize = NSTATES + 2;
pub const NSERIES: usize = NSTATES + 3;

/// One bucket's sparse data.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BucketDelta {
    pub delta: [i64; NSERIES],
    pub counts: [u64; NCOUNTERS],
}

/// A mergeable timeline.
#[derive(Clone, Debug, Default)]
pub struct Timeline {
    pub cfg: TimelineConfig,
    pub buckets: FxHashMap<u64, BucketDelta>,
    /// Total time spent in each series, ns (sum over connections).
    pub state_ns: [u128; NSERIES],
    /// Connections whose close began before the capture (first packet seen is a FIN or later).
    pub close_before_capture: u64,
    /// Connections still in a non-final state at the end of observation.
    pub open_at_end: u64,
    /// Orphans the what-if would have killed.
    pub orphans_killed: u64,
    /// Packet counters of the current bucket, not yet in `buckets`: segments
    /// come in time order, so this saves a map lookup per segment.
    pending: Option<(u64, [u64; NCOUNTERS])>,
}

impl Timeline {
    pub fn new(cfg: TimelineConfig) -> Timeline {
        Timeline {
            cfg,
            ..Timeline::default()
        }
    }

    fn bucket(&self, t: u64) -> u64 {
        t / self.cfg.bucket_ns.max(1)
    }

    /// Index of the first bucket whose end is at or after `t` (bucket b ends at (b+1)*w).
    fn first_end_at_or_after(&self, t: u64) -> u64 {
        let w = self.cfg.bucket_ns.max(1);
        t.div_ceil(w).saturating_sub(1)
    }

    /// Counts one TCP segment at time `t`: one bucket lookup for all its
    /// counters, cached per bucket (see [`Timeline::flush`]).
    pub fn count_segment(&mut self, t: u64, fin: bool, rst: bool, fin_rtx: bool) {
        let b = self.bucket(t);
        if !matches!(self.pending, Some((pb, _)) if pb == b) {
            self.flush();
            self.pending = Some((b, [0; NCOUNTERS]));
        }
        if let Some((_, c)) = &mut self.pending {
            c[C_SEGMENTS] += 1;
            c[C_FIN] += u64::from(fin);
            c[C_RST] += u64::from(rst);
            c[C_FIN_RTX] += u64::from(fin_rtx);
        }
    }

    /// Moves the cached counters into `buckets`.
    pub fn flush(&mut self) {
        if let Some((b, c)) = self.pending.take() {
            let e = self.buckets.entry(b).or_default();
            e.counts.iter_mut().zip(c).for_each(|(x, y)| *x += y);
        }
    }

    fn count_at(&mut self, t: u64, counter: usize) {
        let b = self.bucket(t);
        self.buckets.entry(b).or_default().counts[counter] += 1;
    }

    /// Adds the interval [s, e) to series `series`; its time counts in
    /// `state_ns` only up to `observed` (the end of observation).
    pub fn add_interval(&mut self, series: usize, s: u64, e: u64, observed: u64) {
        if e <= s {
            return;
        }
        self.state_ns[series] += u128::from(e.min(observed).saturating_sub(s));
        // Counted at bucket ends T with s <= T < e.
        let b0 = self.first_end_at_or_after(s);
        let b1 = self.first_end_at_or_after(e);
        if b1 > b0 {
            self.buckets.entry(b0).or_default().delta[series] += 1;
            self.buckets.entry(b1).or_default().delta[series] -= 1;
        }
    }

    /// Derives and adds a finished connection's intervals, and returns them.
    pub fn add_conn(&mut self, c: &Conn, local: Side, end_ts: u64, open: bool) -> Intervals {
        self.count_at(c.first_ts, C_NEW);
        let close_ts = match (c.first_fin.and_then(|f| c.ep[f].fin_ts), c.rst_ts) {
            (Some(f), Some(r)) => Some(f.min(r)),
            (a, b) => a.or(b),
        };
        if let Some(t) = close_ts {
            self.count_at(t, C_CLOSES);
        }
        let iv = intervals(c, local, end_ts, open, &self.cfg);
        if iv.mid_close {
            self.close_before_capture += 1;
        }
        if iv.open_at_end {
            self.open_at_end += 1;
        }
        if iv.killed {
            self.orphans_killed += 1;
        }
        let orphan_fw2 = self.cfg.fin_timeout_ns > 60_000_000_000;
        for &(state, s, e) in iv.list.iter().take(iv.len) {
            self.add_interval(state as usize, s, e, end_ts);
            let orphan = matches!(
                state,
                TcpState::FinWait1 | TcpState::Closing | TcpState::LastAck
            ) || (orphan_fw2 && state == TcpState::FinWait2);
            if orphan {
                self.add_interval(S_ORPHANS, s, e, end_ts);
                self.add_interval(S_ORPHANS_LIMITED, s, e.min(iv.kill_at), end_ts);
            }
            if state == TcpState::FinWait1 {
                self.add_interval(S_FW1_LIMITED, s, e.min(iv.kill_at), end_ts);
            }
        }
        iv
    }
}

impl std::ops::AddAssign<&Timeline> for Timeline {
    fn add_assign(&mut self, o: &Timeline) {
        // An empty timeline (a fresh merge target) takes the other's settings;
        // every shard of a run shares one configuration.
        if self.buckets.is_empty() && self.state_ns == [0; NSERIES] {
            self.cfg = o.cfg.clone();
        }
        self.flush();
        if let Some((b, c)) = o.pending {
            let e = self.buckets.entry(b).or_default();
            e.counts.iter_mut().zip(c).for_each(|(x, y)| *x += y);
        }
        for (b, d) in &o.buckets {
            let x = self.buckets.entry(*b).or_default();
            for i in 0..NSERIES {
                x.delta[i] += d.delta[i];
            }
            for i in 0..NCOUNTERS {
                x.counts[i] += d.counts[i];
            }
        }
        for i in 0..NSERIES {
            self.state_ns[i] += o.state_ns[i];
        }
        self.close_before_capture += o.close_before_capture;
        self.open_at_end += o.open_at_end;
        self.orphans_killed += o.orphans_killed;
    }
}

/// A connection's local state intervals.
#[derive(Clone, Copy, Debug)]
pub struct Intervals {
    pub list: [(TcpState, u64, u64); 5],
    pub len: usize,
    /// The first packet seen was already part of the close.
    pub mid_close: bool,
    /// Still in a non-final state at the end of observation.
    pub open_at_end: bool,
    /// When the orphan-retries what-if kills the socket (u64::MAX: never).
    pub kill_at: u64,
    pub killed: bool,
}

impl Intervals {
    fn push(&mut self, st: TcpState, s: u64, e: u64) {
        if self.len < self.list.len() && e > s {
            self.list[self.len] = (st, s, e);
            self.len += 1;
        }
    }
}

/// The local side's state intervals of one connection, observed until `end`.
/// With `open`, states still held at `end` (the capture's end) extend past it.
pub fn intervals(c: &Conn, local: Side, end: u64, open: bool, cfg: &TimelineConfig) -> Intervals {
    let remote = 1 - local;
    let (l, r) = (&c.ep[local], &c.ep[remote]);
    let horizon = if open { u64::MAX / 4 } else { end };
    let stop = c.rst_ts.map_or(horizon, |t| t.min(horizon)).max(c.first_ts);
    let mut iv = Intervals {
        list: [(TcpState::Established, 0, 0); 5],
        len: 0,
        mid_close: false,
        open_at_end: false,
        kill_at: u64::MAX,
        killed: false,
    };
    let clip = |t: u64| t.min(stop);
    let first_close = [l.fin_ts, r.fin_ts, c.rst_ts]
        .iter()
        .flatten()
        .copied()
        .min();
    iv.mid_close = first_close == Some(c.first_ts) && c.client.is_none();
    iv.push(
        TcpState::Established,
        c.first_ts,
        clip(first_close.unwrap_or(stop)),
    );
    let local_first = c.first_fin == Some(local);
    match (l.fin_ts, r.fin_ts) {
        (Some(tl), rf) if local_first || (rf.is_some() && c.crossed) => {
            // Active close (or a crossing: our FIN left before we saw theirs).
            let acked = l.fin_acked_ts;
            // What-if: an orphan whose FIN is not ACKed within the backoff
            // budget of `retries` retransmissions is killed then.
            if let Some(retries) = cfg.orphan_retries {
                let rto = (l.fin_first_rto_us > 0).then(|| u64::from(l.fin_first_rto_us) * 1_000);
                let kill = tl.saturating_add(cfg.orphan_kill_after(rto, retries));
                if acked.is_none_or(|a| a > kill) && kill < stop {
                    iv.kill_at = kill;
                    iv.killed = true;
                }
            }
            match (acked, rf) {
                // Peer's FIN before our FIN was ACKed: FIN-WAIT-1 -> CLOSING.
                (a, Some(pf)) if a.is_none_or(|a| pf < a) => {
                    iv.push(TcpState::FinWait1, clip(tl), clip(pf.max(tl)));
                    let done = a.unwrap_or(stop);
                    iv.push(TcpState::Closing, clip(pf.max(tl)), clip(done));
                    if let Some(a) = a {
                        iv.push(
                            TcpState::TimeWait,
                            clip(a),
                            clip(a.saturating_add(cfg.time_wait_ns)),
                        );
                    }
                }
                (Some(a), pf) => {
                    iv.push(TcpState::FinWait1, clip(tl), clip(a));
                    let fw2_end = pf.unwrap_or(a.saturating_add(cfg.fin_timeout_ns));
                    let fw2_end = fw2_end.min(a.saturating_add(cfg.fin_timeout_ns));
                    iv.push(TcpState::FinWait2, clip(a), clip(fw2_end));
                    if let Some(pf) = pf.filter(|p| *p <= a.saturating_add(cfg.fin_timeout_ns)) {
                        let tw = pf.max(a);
                        iv.push(
                            TcpState::TimeWait,
                            clip(tw),
                            clip(tw.saturating_add(cfg.time_wait_ns)),
                        );
                    }
                }
                // Never ACKed (the peer's FIN, if any, was handled above).
                (None, _) => iv.push(TcpState::FinWait1, clip(tl), stop),
            }
        }
        (Some(tl), Some(tr)) => {
            // Passive close: CLOSE-WAIT, then LAST-ACK.
            iv.push(TcpState::CloseWait, clip(tr), clip(tl));
            iv.push(
                TcpState::LastAck,
                clip(tl),
                clip(l.fin_acked_ts.unwrap_or(stop)),
            );
        }
        (None, Some(tr)) => iv.push(TcpState::CloseWait, clip(tr), stop),
        (Some(_), None) | (None, None) => {}
    }
    iv.open_at_end = iv.len > 0 && {
        let (st, _, e) = iv.list[iv.len - 1];
        open && e >= end && c.rst_ts.is_none() && st != TcpState::TimeWait
    };
    iv
}

#[cfg(test)]
mod tests {
    //! The interval model as a pure function: connections built segment by
    //! segment, then their local-side states checked against hand-made lists.
    use super::*;
    use crate::decode::{Segment, flags::*};
    use crate::flow::key::FlowKey;
    use crate::flow::seq::SeqNum;
    use TcpState::*;

    const MS: u64 = 1_000_000;

    /// A segment from the client (10.0.0.1:40000) or the server, at `t` ms.
    fn seg(from_client: bool, t: u64, f: u8, seq: u32, ack: u32) -> Segment {
        let mut s = if from_client {
            Segment::between("10.0.0.1", 40000, "192.0.2.7", 80)
        } else {
            Segment::between("192.0.2.7", 80, "10.0.0.1", 40000)
        };
        s.ts_ns = t * MS;
        s.frame = t;
        s.flags = f;
        s.seq = SeqNum(seq);
        s.ack = SeqNum(ack);
        s
    }

    /// Runs a handshake then `close`, returns (conn, client side).
    fn conn(close: &[Segment]) -> (Conn, Side) {
        let mut all = vec![
            seg(true, 0, SYN, 100, 0),
            seg(false, 1, SYN | ACK, 500, 101),
            seg(true, 2, ACK, 101, 501),
        ];
        all.extend_from_slice(close);
        let (k, _) = FlowKey::of(&all[0]);
        let mut c = Conn::new(k, &all[0]);
        for s in &all {
            c.step(s, FlowKey::of(s).1);
        }
        let client = c.client_side().0;
        (c, client)
    }

    fn states(iv: &Intervals) -> Vec<(TcpState, u64, u64)> {
        iv.list[..iv.len]
            .iter()
            .map(|&(s, a, b)| (s, a / MS, b.min(u64::MAX / 4) / MS))
            .collect()
    }

    #[test]
    fn active_close_goes_through_time_wait() {
        let (c, local) = conn(&[
            seg(true, 10, FIN | ACK, 101, 501),
            seg(false, 30, ACK, 501, 102),
            seg(false, 50, FIN | ACK, 501, 102),
            seg(true, 51, ACK, 102, 502),
        ]);
        let cfg = TimelineConfig::default();
        let iv = intervals(&c, local, 51 * MS, true, &cfg);
        assert_eq!(
            states(&iv),
            vec![
                (Established, 0, 10),
                (FinWait1, 10, 30),
                (FinWait2, 30, 50),
                (TimeWait, 50, 60_050)
            ]
        );
        assert!(!iv.open_at_end);
    }

    #[test]
    fn passive_close_is_close_wait_then_last_ack() {
        let (c, local) = conn(&[
            seg(false, 10, FIN | ACK, 501, 101),
            seg(true, 11, ACK, 101, 502),
            seg(true, 40, FIN | ACK, 101, 502),
            seg(false, 45, ACK, 502, 102),
        ]);
        let iv = intervals(&c, local, 45 * MS, true, &TimelineConfig::default());
        assert_eq!(
            states(&iv),
            vec![(Established, 0, 10), (CloseWait, 10, 40), (LastAck, 40, 45)]
        );
    }

    #[test]
    fn crossing_fins_pass_through_closing() {
        let (c, local) = conn(&[
            seg(true, 10, FIN | ACK, 101, 501),
            seg(false, 12, FIN | ACK, 501, 101), // does not ACK our FIN
            seg(false, 20, ACK, 502, 102),
        ]);
        let iv = intervals(&c, local, 20 * MS, true, &TimelineConfig::default());
        assert_eq!(
            states(&iv),
            vec![
                (Established, 0, 10),
                (FinWait1, 10, 12),
                (Closing, 12, 20),
                (TimeWait, 20, 60_020)
            ]
        );
    }

    #[test]
    fn rst_ends_everything_and_unacked_fin_stays_open() {
        let (c, local) = conn(&[
            seg(true, 10, FIN | ACK, 101, 501),
            seg(false, 500, RST, 501, 0),
        ]);
        let iv = intervals(&c, local, 500 * MS, true, &TimelineConfig::default());
        assert_eq!(states(&iv), vec![(Established, 0, 10), (FinWait1, 10, 500)]);
        assert!(!iv.open_at_end);
        let (c, local) = conn(&[seg(true, 10, FIN | ACK, 101, 501)]);
        let iv = intervals(&c, local, 10 * MS, true, &TimelineConfig::default());
        assert!(iv.open_at_end);
        // Still in FIN-WAIT-1 past the end of the capture.
        assert_eq!(iv.list[1].0, FinWait1);
        assert!(iv.list[1].2 > 1_000_000 * MS);
    }

    #[test]
    fn orphaned_fin_wait_2_is_bounded_by_fin_timeout() {
        let (c, local) = conn(&[
            seg(true, 10, FIN | ACK, 101, 501),
            seg(false, 20, ACK, 501, 102),
            seg(false, 200_000, FIN | ACK, 501, 102),
        ]);
        let iv = intervals(&c, local, 200_000 * MS, true, &TimelineConfig::default());
        assert_eq!(
            states(&iv),
            vec![
                (Established, 0, 10),
                (FinWait1, 10, 20),
                (FinWait2, 20, 60_020)
            ]
        );
    }

    #[test]
    fn orphan_retries_kill_time() {
        let cfg = TimelineConfig::default();
        // 200 ms, 400 ms, 800 ms, then dead one RTO after the 2nd retransmission.
        assert_eq!(cfg.orphan_kill_after(None, 2), 1_400 * MS);
        // Backoff capped at TCP_RTO_MAX (120 s).
        assert_eq!(cfg.orphan_kill_after(Some(100_000 * MS), 1), 220_000 * MS);
    }
}
