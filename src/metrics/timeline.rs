//! The capturing host's socket states over time, reconstructed from packets.
//!
//! For every connection the local side's close states are derived as
//! intervals (`Conn::intervals`, the close model's transitions); each interval adds +1 to its state from the
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

use super::add;
use crate::flow::conn::Conn;
use crate::flow::key::Side;
pub use crate::flow::state::{NSTATES, TcpState};
use rustc_hash::FxHashMap;

mod series;
pub use series::{Count, NCOUNTERS, NSERIES, Series};

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
            time_wait_ns: crate::flow::table::DEFAULT_TIME_WAIT_NS,
            fin_timeout_ns: crate::flow::table::DEFAULT_FIN_TIMEOUT_NS,
            orphan_retries: None,
        }
    }
}

/// Most buckets a timeline holds while reading. Past it the width doubles
/// (buckets merged pairwise, exactly: see [`Timeline::widen`]), so memory is
/// bounded whatever the capture's span and `--bucket` (about 10 MB at the
/// cap: just under 7/8 of 2^16, the most a hash table of 2^16 slots holds
/// before it doubles, so that half of it fits one of 2^15). A report holds at most 20,000 buckets
/// (`report::timeline::MAX_BUCKETS`) on the same power-of-two ladder, and
/// this cap is more than twice that (plus room for the states that end
/// after the capture): the report shows the width it would have chosen
/// anyway, unless those ends alone fill the cap.
pub const MAX_LIVE_BUCKETS: usize = 57_280;

/// A bucket of width `w` with its times [lo, hi) ns: timestamps that fall
/// in it are placed without a division (segments come in time order). A
/// cache: equal whatever it holds.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct BucketSpan {
    pub b: u64,
    w: u64,
    lo: u64,
    hi: u64,
}

impl BucketSpan {
    /// Bucket `b` of width `w` (saturating: a bucket ending past u64::MAX
    /// holds no time at u64::MAX, which is then placed by division).
    pub fn new(b: u64, w: u64) -> BucketSpan {
        let lo = b.saturating_mul(w);
        BucketSpan {
            b,
            w,
            lo,
            hi: b.saturating_add(1).saturating_mul(w),
        }
    }

    /// `t` is in this bucket on a grid of width `w`.
    #[inline]
    pub fn holds(&self, t: u64, w: u64) -> bool {
        self.w == w && self.lo <= t && t < self.hi
    }
}

impl PartialEq for BucketSpan {
    fn eq(&self, _: &BucketSpan) -> bool {
        true
    }
}

impl Eq for BucketSpan {}

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
    /// The width asked for, when it was doubled while reading to keep at
    /// most [`MAX_LIVE_BUCKETS`] buckets ([`Timeline::widen`]).
    pub widened_from: Option<u64>,
    /// Packet counters of the current bucket, not yet in `buckets`: segments
    /// come in time order, so this saves a map lookup per segment.
    pending: Option<(u64, [u64; NCOUNTERS])>,
    /// The pending bucket's times (`pending`'s bucket when it is there).
    pending_span: BucketSpan,
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
        // Still in the pending bucket's time range: no division.
        let w = self.cfg.bucket_ns.max(1);
        if !(self.pending.is_some() && self.pending_span.holds(t, w)) {
            let b = self.bucket(t);
            if !matches!(self.pending, Some((pb, _)) if pb == b) {
                self.flush();
                // The flush may have doubled the width (`fit`): the
                // bucket on the grid as it is now.
                let b = self.bucket(t);
                self.pending = Some((b, [0; NCOUNTERS]));
            }
            if let Some((b, _)) = self.pending {
                self.pending_span = BucketSpan::new(b, self.cfg.bucket_ns.max(1));
            }
        }
        if let Some((_, c)) = &mut self.pending {
            c[Count::Segments.index()] += 1;
            c[Count::Fin.index()] += u64::from(fin);
            c[Count::Rst.index()] += u64::from(rst);
            c[Count::FinRetransmissions.index()] += u64::from(fin_rtx);
        }
    }

    /// Moves the cached counters into `buckets`.
    pub fn flush(&mut self) {
        if let Some((b, c)) = self.pending.take() {
            let e = self.buckets.entry(b).or_default();
            e.counts.iter_mut().zip(c).for_each(|(x, y)| *x += y);
            self.fit();
        }
    }

    fn count_at(&mut self, t: u64, counter: Count) {
        let b = self.bucket(t);
        self.buckets.entry(b).or_default().counts[counter.index()] += 1;
        self.fit();
    }

    /// Widens while there are more than [`MAX_LIVE_BUCKETS`] buckets.
    fn fit(&mut self) {
        while self.buckets.len() >= MAX_LIVE_BUCKETS && self.cfg.bucket_ns < u64::MAX / 2 {
            self.widen(self.cfg.bucket_ns.max(1) * 2);
        }
    }

    /// Re-buckets to width `w`, a multiple of the current one. Exact: a
    /// counter at time t moves from bucket t/w0 to t/w = (t/w0)/k, and a
    /// state change counted from the first bucket whose end covers it,
    /// ceil(t/w0) - 1, moves to ceil(t/w) - 1 = (ceil(t/w0) - 1)/k; so the
    /// buckets are what a timeline of width `w` would have held.
    pub fn widen(&mut self, w: u64) {
        let w0 = self.cfg.bucket_ns.max(1);
        if w <= w0 || !w.is_multiple_of(w0) {
            return;
        }
        let k = w / w0;
        if let Some((b, _)) = &mut self.pending {
            *b /= k;
        }
        // Sized for the result: a table grown insert by insert could reach
        // the old one's size again before the old one is freed.
        let fewer = FxHashMap::with_capacity_and_hasher(
            self.buckets.len() / k.min(usize::MAX as u64) as usize + 16,
            Default::default(),
        );
        let old = std::mem::replace(&mut self.buckets, fewer);
        for (b, d) in old {
            let e = self.buckets.entry(b / k).or_default();
            e.delta.iter_mut().zip(d.delta).for_each(|(x, y)| *x += y);
            e.counts.iter_mut().zip(d.counts).for_each(|(x, y)| *x += y);
        }
        self.widened_from.get_or_insert(w0);
        self.cfg.bucket_ns = w;
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
            self.fit();
        }
    }

    /// Adds a finished connection's local-side states (read from the close
    /// model, [`Conn::intervals`]) and returns them. A one-sided connection
    /// adds none: its states cannot be known.
    pub fn add_conn(&mut self, c: &Conn, local: Side, end_ts: u64, open: bool) -> ConnStates {
        self.count_at(c.first_ts, Count::NewConnections);
        if let Some(t) = c.close_began() {
            self.count_at(t, Count::Closes);
        }
        let mut cs = ConnStates {
            list: Vec::new(),
            kill_at: u64::MAX,
            what_if_killed: false,
        };
        if c.one_sided() {
            return cs;
        }
        cs.list = c.intervals(local, end_ts, open);
        if c.began_mid_close() {
            self.close_before_capture += 1;
        }
        if c.open_at(local, end_ts, open) {
            self.open_at_end += 1;
        }
        // What-if: an orphan whose FIN is not ACKed within the backoff
        // budget of `retries` retransmissions is killed then.
        let l = &c.ep[local];
        if let (Some(retries), Some(tl)) = (self.cfg.orphan_retries, l.fin_ts) {
            let rto = if l.fin_first_rto_us > 0 {
                u64::from(l.fin_first_rto_us) * 1_000
            } else {
                crate::flow::state::RTO_MIN_NS
            };
            // Linux sends a tail-loss probe first unless the copies show none.
            let tlp = l.backoff.first_was_probe().unwrap_or(true);
            let kill = tl.saturating_add(super::replay::kill_after(rto, tlp, retries));
            let awaited_until = cs
                .list
                .iter()
                .filter(|(st, _, _)| st.is_orphan_state())
                .map(|x| x.2)
                .max();
            if awaited_until.is_some_and(|e| e > kill) {
                cs.kill_at = kill;
                cs.what_if_killed = true;
                self.orphans_killed += 1;
            }
        }
        let orphan_fw2 = self.cfg.fin_timeout_ns > 60_000_000_000;
        for &(state, s, e) in &cs.list {
            self.add_interval(Series::from(state).index(), s, e, end_ts);
            let orphan = state.is_orphan_state() || (orphan_fw2 && state == TcpState::FinWait2);
            if orphan {
                self.add_interval(Series::Orphans.index(), s, e, end_ts);
                let limited = Series::OrphansLimited.index();
                self.add_interval(limited, s, e.min(cs.kill_at), end_ts);
            }
            if state == TcpState::FinWait1 {
                let limited = Series::FinWait1Limited.index();
                self.add_interval(limited, s, e.min(cs.kill_at), end_ts);
            }
        }
        cs
    }
}

impl std::ops::AddAssign<&Timeline> for Timeline {
    fn add_assign(&mut self, o: &Timeline) {
        // An empty timeline (a fresh merge target) takes the other's settings;
        // every shard of a run shares one configuration.
        if self.buckets.is_empty() && self.state_ns == [0; NSERIES] && self.pending.is_none() {
            self.cfg = o.cfg.clone();
        }
        self.flush();
        // Shards widen on their own: add on the wider grid (widths of one
        // run are the asked width times powers of two, so they divide).
        self.widen(o.cfg.bucket_ns);
        if let Some(w) = o.widened_from {
            self.widened_from = Some(self.widened_from.map_or(w, |x| x.min(w)));
        }
        let k = (self.cfg.bucket_ns.max(1) / o.cfg.bucket_ns.max(1)).max(1);
        if let Some((b, c)) = o.pending {
            let e = self.buckets.entry(b / k).or_default();
            e.counts.iter_mut().zip(c).for_each(|(x, y)| add(x, y));
        }
        for (b, d) in &o.buckets {
            let x = self.buckets.entry(*b / k).or_default();
            for i in 0..NSERIES {
                add(&mut x.delta[i], d.delta[i]);
            }
            for i in 0..NCOUNTERS {
                add(&mut x.counts[i], d.counts[i]);
            }
        }
        for i in 0..NSERIES {
            add(&mut self.state_ns[i], o.state_ns[i]);
        }
        add(&mut self.close_before_capture, o.close_before_capture);
        add(&mut self.open_at_end, o.open_at_end);
        add(&mut self.orphans_killed, o.orphans_killed);
        self.fit();
    }
}

/// A connection's local states as the timeline took them.
#[derive(Clone, Debug)]
pub struct ConnStates {
    /// (state, from, to), in time order.
    pub list: Vec<(TcpState, u64, u64)>,
    /// When the orphan-retries what-if kills the socket (u64::MAX: never).
    pub kill_at: u64,
    pub what_if_killed: bool,
}

#[cfg(test)]
mod tests {
    //! The local side's states per close pattern, as the timeline takes them
    //! from the close model, and the timeline's accounting of them.
    use super::*;
    use crate::decode::seq::SeqNum;
    use crate::decode::{Segment, flags::*};
    use crate::flow::conn::Timers;
    use crate::flow::key::FlowKey;
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

    /// Runs a handshake then `close`, finishes at the last segment; returns
    /// (conn, client side).
    fn conn(close: &[Segment]) -> (Conn, Side) {
        let mut all = vec![
            seg(true, 0, SYN, 100, 0),
            seg(false, 1, SYN | ACK, 500, 101),
            seg(true, 2, ACK, 101, 501),
        ];
        all.extend_from_slice(close);
        let (k, _) = FlowKey::of(&all[0]);
        let mut c = Conn::new(k, &all[0]);
        let t = Timers::default();
        for s in &all {
            c.step(s, FlowKey::of(s).1, &t);
        }
        let end = all.last().map_or(0, |s| s.ts_ns);
        c.finish(end, &t);
        let client = c.client_side().0;
        (c, client)
    }

    fn states(c: &Conn, local: Side, end_ms: u64, open: bool) -> Vec<(TcpState, u64, u64)> {
        c.intervals(local, end_ms * MS, open)
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
        assert_eq!(
            states(&c, local, 51, true),
            vec![
                (SynSent, 0, 1),
                (Established, 1, 10),
                (FinWait1, 10, 30),
                (FinWait2, 30, 50),
                (TimeWait, 50, 60_050)
            ]
        );
        assert!(!c.open_at(local, 51 * MS, true));
    }

    #[test]
    fn passive_close_is_close_wait_then_last_ack() {
        let (c, local) = conn(&[
            seg(false, 10, FIN | ACK, 501, 101),
            seg(true, 11, ACK, 101, 502),
            seg(true, 40, FIN | ACK, 101, 502),
            seg(false, 45, ACK, 502, 102),
        ]);
        assert_eq!(
            states(&c, local, 45, true),
            vec![
                (SynSent, 0, 1),
                (Established, 1, 10),
                (CloseWait, 10, 40),
                (LastAck, 40, 45)
            ]
        );
    }

    #[test]
    fn crossing_fins_pass_through_closing() {
        let (c, local) = conn(&[
            seg(true, 10, FIN | ACK, 101, 501),
            seg(false, 12, FIN | ACK, 501, 101), // does not ACK our FIN
            seg(false, 20, ACK, 502, 102),
        ]);
        assert_eq!(
            states(&c, local, 20, true),
            vec![
                (SynSent, 0, 1),
                (Established, 1, 10),
                (FinWait1, 10, 12),
                (Closing, 12, 20),
                (TimeWait, 20, 60_020)
            ]
        );
        // Seen from the server, whose FIN left before ours arrived: it never
        // was in CLOSE-WAIT; its own FIN is never ACKed here.
        let server = states(&c, local.other(), 20, true);
        assert_eq!(server[..2], [(SynReceived, 1, 2), (Established, 2, 12)]);
        assert_eq!((server[2].0, server[2].1), (Closing, 12));
        assert_eq!(server.len(), 3);
    }

    #[test]
    fn rst_ends_everything_and_unacked_fin_stays_open() {
        let (c, local) = conn(&[
            seg(true, 10, FIN | ACK, 101, 501),
            seg(false, 500, RST, 501, 0),
        ]);
        assert_eq!(
            states(&c, local, 500, true),
            vec![(SynSent, 0, 1), (Established, 1, 10), (FinWait1, 10, 500)]
        );
        assert!(!c.open_at(local, 500 * MS, true));
        let (c, local) = conn(&[seg(true, 10, FIN | ACK, 101, 501)]);
        assert!(c.open_at(local, 10 * MS, true));
        // Still in FIN-WAIT-1 past the end of the capture.
        let iv = c.intervals(local, 10 * MS, true);
        assert_eq!(iv[2].0, FinWait1);
        assert!(iv[2].2 > 1_000_000 * MS);
    }

    #[test]
    fn orphaned_fin_wait_2_is_bounded_by_fin_timeout() {
        let (c, local) = conn(&[
            seg(true, 10, FIN | ACK, 101, 501),
            seg(false, 20, ACK, 501, 102),
            seg(false, 200_000, FIN | ACK, 501, 102),
        ]);
        assert_eq!(
            states(&c, local, 200_000, true),
            vec![
                (SynSent, 0, 1),
                (Established, 1, 10),
                (FinWait1, 10, 20),
                (FinWait2, 20, 60_020)
            ]
        );
    }

    #[test]
    fn orphan_retries_kill_time() {
        use crate::metrics::replay::kill_after;
        // testdata/kernel/orphan_retries: a probe at 0.2 s, RTOs at 0.4,
        // 0.8, 1.6 s, killed at the firing at 3.2 s (measured 3.31-3.35 s,
        // with the timer wheel's rounding).
        assert_eq!(kill_after(200 * MS, true, 2), 3_200 * MS);
        // The route with rto_min 1 s: probe at 1 s, RTO at 2 s, killed at
        // 4 s after three copies (measured).
        assert_eq!(kill_after(1_000 * MS, true, 2), 4_000 * MS);
        // Without a probe: RTOs at 0.2, 0.6, 1.4, 3.0 s: killed at 3.0 s.
        assert_eq!(kill_after(200 * MS, false, 2), 3_000 * MS);
    }

    /// A timeline of width 1 ms widened to 8 ms holds exactly what one of
    /// width 8 ms holds, whatever the phase of the intervals and segments.
    #[test]
    fn widening_is_exact() {
        let fine = TimelineConfig {
            bucket_ns: MS,
            ..TimelineConfig::default()
        };
        let coarse = TimelineConfig {
            bucket_ns: 8 * MS,
            ..fine.clone()
        };
        let (mut a, mut b) = (Timeline::new(fine), Timeline::new(coarse));
        for start in [0u64, 3, 7, 8, 9, 15, 16, 17, 40] {
            let (c, local) = conn(&[
                seg(true, start + 10, FIN | ACK, 101, 501),
                seg(false, start + 13, ACK, 501, 102),
                seg(false, start + 29, FIN | ACK, 501, 102),
                seg(true, start + 31, ACK, 102, 502),
            ]);
            for t in [&mut a, &mut b] {
                t.add_conn(&c, local, (start + 31) * MS, start % 2 == 0);
                t.count_segment((start + 5) * MS + 1, true, false, start % 3 == 0);
            }
        }
        a.widen(8 * MS);
        a.flush();
        b.flush();
        assert_eq!(a.buckets, b.buckets);
        assert_eq!(a.widened_from, Some(MS));
        assert_eq!(a.cfg, b.cfg);
    }

    /// Segments over more buckets than the cap: the width doubles while
    /// counting, no count is lost.
    #[test]
    fn bucket_count_stays_under_the_cap() {
        let mut t = Timeline::new(TimelineConfig {
            bucket_ns: MS,
            ..TimelineConfig::default()
        });
        let n = 3 * MAX_LIVE_BUCKETS as u64;
        for i in 0..n {
            t.count_segment(i * MS, i % 2 == 0, false, false);
        }
        t.flush();
        assert!(t.buckets.len() < MAX_LIVE_BUCKETS, "{}", t.buckets.len());
        assert_eq!(t.cfg.bucket_ns, 4 * MS);
        assert_eq!(t.widened_from, Some(MS));
        let total: u64 = t
            .buckets
            .values()
            .map(|b| b.counts[Count::Segments.index()])
            .sum();
        let fins: u64 = t
            .buckets
            .values()
            .map(|b| b.counts[Count::Fin.index()])
            .sum();
        assert_eq!((total, fins), (n, n / 2));
        // Each count in its bucket on the final grid: four 1 ms segments
        // per 4 ms bucket, also those counted while the width doubled.
        for (b, d) in &t.buckets {
            assert_eq!(d.counts[Count::Segments.index()], 4, "bucket {b}");
        }
        // Shards that widened differently add on the wider grid.
        let mut other = Timeline::new(TimelineConfig {
            bucket_ns: MS,
            ..TimelineConfig::default()
        });
        other.count_segment(5 * MS, false, false, false);
        t += &other;
        assert_eq!(
            t.buckets.get(&1).map(|b| b.counts[Count::Segments.index()]),
            Some(5)
        );
    }

    #[test]
    fn timeline_counts_states_at_bucket_ends() {
        let (c, local) = conn(&[
            seg(true, 10, FIN | ACK, 101, 501),
            seg(false, 1_500, ACK, 501, 102),
        ]);
        let mut t = Timeline::new(TimelineConfig::default());
        t.add_conn(&c, local, 1_500 * MS, true);
        // FIN-WAIT-1 from 10 ms to 1.5 s: counted at the end of bucket 0 (1 s).
        let fw1 = Series::State(FinWait1).index();
        assert_eq!(t.buckets.get(&0).map(|b| b.delta[fw1]), Some(1));
        assert_eq!(t.buckets.get(&1).map(|b| b.delta[fw1]), Some(-1));
        assert_eq!(t.state_ns[fw1], u128::from(1_490 * MS));
    }

    /// Every series has one name and its index is its place in `ALL`;
    /// a state's series is named by the state.
    #[test]
    fn series_are_named_once() {
        let mut names: Vec<&str> = Series::ALL.iter().map(|s| s.name()).collect();
        for (i, s) in Series::ALL.into_iter().enumerate() {
            assert_eq!(s.index(), i, "{s:?}");
            assert_eq!(Series::from_name(s.name()), Some(s));
        }
        for st in TcpState::SERIES {
            assert_eq!(Series::from(st).name(), st.key());
        }
        assert_eq!(Series::ALL[NSTATES], Series::Orphans);
        for (i, k) in Count::ALL.into_iter().enumerate() {
            assert_eq!(k.index(), i, "{k:?}");
        }
        assert_eq!(Series::from_name("closed"), None);
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), NSERIES);
    }
}
