//! The demand rebuilt from the lives (`demand.rs`, its per-peer lists in
//! `by_peer.rs`) and replayed under a [`Setting`] (the module's
//! documentation, one level up, has the model): in time order by the event
//! simulation here, or as intervals (`intervals.rs`) when no limit makes
//! the lives interact.

use super::kernel::{firing, kill_budget_ns};
use crate::flow::state::RTO_MIN_NS;
use by_peer::ByPeer;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::net::IpAddr;

#[path = "by_peer.rs"]
mod by_peer;
#[path = "demand.rs"]
mod demand;
#[path = "intervals.rs"]
mod intervals;
#[cfg(test)]
#[path = "sim_reference.rs"]
mod reference;

/// A kernel configuration to replay under.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Setting {
    /// tcp_max_orphans (`None`: no limit).
    pub max_orphans: Option<u64>,
    /// tcp_orphan_retries as written (0 means 8); `None`: as captured
    /// (orphans end when the peer ACKs, however long that takes).
    pub orphan_retries: Option<u32>,
    /// tcp_fin_timeout, ns.
    pub fin_timeout_ns: u64,
    /// tcp_max_tw_buckets (`None`: no limit).
    pub max_tw_buckets: Option<u64>,
    /// Peers whose FINs are ACKed like the others'.
    pub fixed_peers: Vec<IpAddr>,
}

/// What a replay predicts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Prediction {
    pub fin_wait_1_peak: u64,
    pub orphans_peak: u64,
    pub time_wait_peak: u64,
    /// Orphans reset by tcp_max_orphans (TcpExtTCPAbortOnMemory).
    pub orphan_resets: u64,
    /// Orphans killed by tcp_orphan_retries (TcpExtTCPAbortOnTimeout).
    pub orphans_killed: u64,
    /// Sockets not put in TIME-WAIT (TcpExtTCPTimeWaitOverflow).
    pub tw_overflows: u64,
}

/// One life of the demand, ready to replay (40 bytes: `fw2` without its
/// own tag).
#[derive(Clone, Copy, Debug)]
struct Demand {
    t0: u64,
    /// Orphan phase length without any limit (u64::MAX: never ends).
    len: u64,
    /// FIN-WAIT-2's length, when `has_fw2`.
    fw2: u64,
    d: u64,
    has_fw2: bool,
    passive: bool,
    tlp: bool,
    /// The orphan was still waiting when observation ended, and its
    /// demand is not known past it.
    open: bool,
}

impl Demand {
    fn fw2(&self) -> Option<u64> {
        self.has_fw2.then_some(self.fw2)
    }
}

/// The demand rebuilt from the capture, and what the replay needs to know
/// of the capture's span.
#[derive(Clone, Debug)]
pub struct Replay {
    demand: Vec<Demand>,
    /// Each life's peer, for fixing: an index into `peer_list` (4 bytes
    /// a life instead of an address's 17).
    peers: Vec<u32>,
    /// The distinct peers.
    peer_list: Vec<IpAddr>,
    /// ACKed orphan lengths of the other peers' lives, for fixed peers.
    weight: u64,
    bucket_ns: u64,
    time_wait_ns: u64,
    /// End of observation, ns: counts are read at bucket ends up to here.
    end_ns: u64,
    /// Orphan lengths of ACKed closes by peer index, sorted.
    acked: ByPeer,
    acked_all: Vec<u64>,
    /// The orphan ends of the demand's lives (those that last and whose
    /// end does not saturate), as `run`'s event keys, sorted: the same for
    /// every setting without fixed peers, so sorted once: the lives'
    /// indices, in the order of their keys.
    orphan_ends: Vec<u32>,
}

/// Whether a life's orphan end is in [`Replay::orphan_ends`]: it comes
/// strictly after its start.
fn ends_later(t0: u64, len: u64) -> Option<u64> {
    t0.checked_add(len).filter(|_| len > 0)
}

/// A deterministic quantile in [0, 1) for a life.
fn unit(t0: u64, salt: u64) -> f64 {
    let h = super::mix64(t0 ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// A draw from `sorted` among values at least `min`, at quantile `u`.
fn draw(sorted: &[u64], min: u64, u: f64) -> Option<u64> {
    let from = sorted.partition_point(|v| *v < min);
    let tail = &sorted[from..];
    if tail.is_empty() {
        return None;
    }
    let i = ((u * tail.len() as f64) as usize).min(tail.len() - 1);
    Some(tail[i])
}

/// The firing of an orphan's timer that `tcp_orphan_retries` (kill budget
/// `b`) kills it at, and its number: the first from the second on whose
/// time after the first is at least `b`, if it comes before `end` and is
/// at most the 64th (the firings `run` follows one by one).
fn kill_firing(d: &Demand, end: u64, b: u64) -> Option<(u64, u32)> {
    // firing(t0, d, tlp, k), step by step (kernel::firing's sums).
    let f1 =
        d.t0.saturating_add(d.d.saturating_mul(1 + u64::from(d.tlp)));
    if f1 >= end {
        return None;
    }
    let (mut f, mut rto) = (f1, d.d);
    for k in 2..=64u32 {
        rto = rto.saturating_mul(2).min(crate::flow::state::RTO_MAX_NS);
        f = f.saturating_add(rto);
        if f >= end {
            return None;
        }
        if f.saturating_sub(f1) >= b {
            return Some((f, k));
        }
    }
    None
}

/// The median of a sorted list.
fn median(sorted: &[u64]) -> Option<u64> {
    sorted.get(sorted.len() / 2).copied()
}

impl Replay {
    /// Lives rebuilt from kernel resets or kills.
    pub fn lives(&self) -> usize {
        self.demand.len()
    }

    /// Replays the demand under `s`: as intervals without limits (the
    /// lives do not interact) or under a tcp_max_orphans never exceeded,
    /// else by the event simulation.
    pub fn run(&self, s: &Setting) -> Prediction {
        if s.max_orphans.is_none() && s.max_tw_buckets.is_none() {
            self.run_free(s)
        } else if let Some(p) = self.run_under_limit(s) {
            p
        } else {
            self.simulate(s)
        }
    }

    /// The event simulation: the demand replayed in time order.
    fn simulate(&self, s: &Setting) -> Prediction {
        let w = self.weight;
        let orphan_fw2 = s.fin_timeout_ns > 60_000_000_000;
        let budget = s.orphan_retries.map(kill_budget_ns);
        // Events: (time, order, life index, kind). At equal times, ends
        // before starts before checks, so that a bucket end at T counts
        // [s, e) intervals with s <= T < e.
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
        enum Ev {
            OrphanEnd,
            TwEnd,
            Fw2End,
            Start,
            Fire(u32),
            Tw,
        }
        // An event packed in one u128 that orders as (time, kind, firing,
        // life): time in the high 64 bits, then 3 bits of kind (Ev's
        // order), 7 of firing number (at most 64) and 54 of life index.
        const LIFE_BITS: u32 = 54;
        let key = |t: u64, ev: Ev, i: usize| -> u128 {
            let (rank, k) = match ev {
                Ev::OrphanEnd => (0u128, 0u128),
                Ev::TwEnd => (1, 0),
                Ev::Fw2End => (2, 0),
                Ev::Start => (3, 0),
                Ev::Fire(k) => (4, u128::from(k)),
                Ev::Tw => (5, 0),
            };
            (u128::from(t) << 64) | (rank << 61) | (k << LIFE_BITS) | (i as u128)
        };
        let unkey = |x: u128| -> (u64, Ev, usize) {
            let ev = match (x >> 61) & 7 {
                0 => Ev::OrphanEnd,
                1 => Ev::TwEnd,
                2 => Ev::Fw2End,
                3 => Ev::Start,
                4 => Ev::Fire(((x >> LIFE_BITS) & 0x7f) as u32),
                _ => Ev::Tw,
            };
            (
                (x >> 64) as u64,
                ev,
                (x & ((1u128 << LIFE_BITS) - 1)) as usize,
            )
        };
        // The starts come in time order from `demand` (sorted by t0); the
        // heap holds what they set off, except: the events a fixed time
        // after the one being handled (TIME-WAIT ends; FIN-WAIT-2 ends at
        // tcp_fin_timeout), which come nearly in order and wait in a
        // sorted queue each (inserted from the back; the heap takes those
        // whose time saturates, which would come out of order); and
        // TIME-WAIT starts, which come at the time being handled and wait
        // in a small heap of their own. The next event is the least of the
        // five.
        let mut heap: BinaryHeap<Reverse<u128>> =
            BinaryHeap::with_capacity(self.demand.len().min(1 << 20));
        let mut tw_ends: VecDeque<u128> = VecDeque::new();
        let mut fw2_ends: VecDeque<u128> = VecDeque::new();
        let mut tw_now: BinaryHeap<Reverse<u128>> = BinaryHeap::new();
        let queue = |q: &mut VecDeque<u128>, e: u128| {
            let at = q.len() - q.iter().rev().take_while(|x| **x > e).count();
            q.insert(at, e);
        };
        let mut next_start = 0usize;
        // Lengths redrawn for fixed peers (none without: the demand's).
        let len = self.lengths(s);
        // The orphan ends come sorted from `orphan_ends` too when no life's
        // length is redrawn (fixed peers); one whose start reset it is
        // skipped as a heap one would be, and changes nothing.
        let ends_sorted = len.is_empty();
        let mut next_end = 0usize;
        let len_of = |i: usize| len.get(i).copied().unwrap_or(self.demand[i].len);
        // Per life: alive as an orphan, and its state.
        #[derive(Clone, Copy, PartialEq, Eq)]
        enum St {
            Waiting,
            Orphan,
            Fw2,
            Tw,
            Gone,
        }
        let mut st = vec![St::Waiting; self.demand.len()];
        let (mut orphans, mut fw1, mut tw_state, mut tw_entries) = (0u64, 0u64, 0u64, 0u64);
        let mut p = Prediction::default();
        let tick = 100_000_000u64;
        let mut cache = 0u64;
        let mut next_tick = 0u64;
        let mut next_bucket = self
            .demand
            .iter()
            .map(|d| d.t0)
            .min()
            .and_then(|t| {
                (t / self.bucket_ns)
                    .checked_add(1)?
                    .checked_mul(self.bucket_ns)
            })
            .unwrap_or(u64::MAX);
        let sample = |t_next: u64,
                      next_bucket: &mut u64,
                      orphans: u64,
                      fw1: u64,
                      tw_state: u64,
                      p: &mut Prediction| {
            if *next_bucket < t_next && *next_bucket <= self.end_ns {
                // The counts hold until t_next: one sample stands for every
                // bucket end before it (a walk over them could take hours
                // when the capture spans years, or 2^64 ns).
                p.orphans_peak = p.orphans_peak.max(orphans * w);
                p.fin_wait_1_peak = p.fin_wait_1_peak.max(fw1 * w);
                p.time_wait_peak = p.time_wait_peak.max(tw_state * w);
                // The first bucket end at or after t_next.
                *next_bucket = t_next
                    .div_ceil(self.bucket_ns)
                    .saturating_mul(self.bucket_ns);
            }
            if *next_bucket < t_next && *next_bucket > self.end_ns {
                *next_bucket = u64::MAX;
            }
        };
        // The next start and sorted orphan end, kept until taken.
        // u128::MAX: none (no key is: kinds end at 5).
        let start_at = |n: usize| {
            self.demand
                .get(n)
                .map_or(u128::MAX, |d| key(d.t0, Ev::Start, n))
        };
        let orphan_end_at = |n: usize| {
            if !ends_sorted {
                return u128::MAX;
            }
            self.orphan_ends.get(n).map_or(u128::MAX, |&i| {
                let d = &self.demand[i as usize];
                key(d.t0.saturating_add(d.len), Ev::OrphanEnd, i as usize)
            })
        };
        let mut start = start_at(0);
        let mut orphan_end = orphan_end_at(0);
        loop {
            let top = heap.peek().map_or(u128::MAX, |Reverse(x)| *x);
            let tw_end = tw_ends.front().copied().unwrap_or(u128::MAX);
            let fw2_end = fw2_ends.front().copied().unwrap_or(u128::MAX);
            let tw = tw_now.peek().map_or(u128::MAX, |Reverse(x)| *x);
            let least = top
                .min(tw_end)
                .min(fw2_end)
                .min(tw)
                .min(start)
                .min(orphan_end);
            if least == u128::MAX {
                break;
            }
            let x = if least == start {
                next_start += 1;
                start = start_at(next_start);
                least
            } else if least == orphan_end {
                next_end += 1;
                orphan_end = orphan_end_at(next_end);
                least
            } else if least == top {
                heap.pop();
                top
            } else if least == tw_end {
                tw_ends.pop_front();
                tw_end
            } else if least == fw2_end {
                fw2_ends.pop_front();
                fw2_end
            } else {
                tw_now.pop();
                tw
            };
            let (t, ev, i) = unkey(x);
            sample(t, &mut next_bucket, orphans, fw1, tw_state, &mut p);
            // The orphan count the kernel compares, as of the last 100 ms
            // tick at or before t.
            if t >= next_tick {
                // Ticks between: the count did not change in between except
                // through events, which were all processed in order.
                cache = orphans;
                // Saturating: times near 2^64 (pcapng can give them) have
                // no tick after them.
                next_tick = (t / tick + 1).saturating_mul(tick);
            }
            let d = &self.demand[i];
            let over = |cache: u64| s.max_orphans.is_some_and(|m| cache * w > m);
            match ev {
                Ev::Start => {
                    if over(cache) {
                        p.orphan_resets += w;
                        st[i] = St::Gone;
                        continue;
                    }
                    st[i] = St::Orphan;
                    orphans += 1;
                    if !d.passive {
                        fw1 += 1;
                    }
                    let end = d.t0.saturating_add(len_of(i));
                    if !(ends_sorted && ends_later(d.t0, len_of(i)).is_some()) {
                        heap.push(Reverse(key(end, Ev::OrphanEnd, i)));
                    }
                    if s.max_orphans.is_some() {
                        let f = firing(d.t0, d.d, d.tlp, 1);
                        if f < end {
                            heap.push(Reverse(key(f, Ev::Fire(1), i)));
                        }
                    } else if let Some(b) = budget {
                        // Without tcp_max_orphans a firing only matters if
                        // it kills: the first one (of those before the end,
                        // at most 64) at least `b` after the first. Only it
                        // is queued, with the key it would have had.
                        if let Some((f, k)) = kill_firing(d, end, b) {
                            heap.push(Reverse(key(f, Ev::Fire(k), i)));
                        }
                    }
                }
                Ev::Fire(k) => {
                    if st[i] != St::Orphan {
                        continue;
                    }
                    let end = d.t0.saturating_add(len_of(i));
                    let gone = if over(cache) {
                        p.orphan_resets += w;
                        true
                    } else if let Some(b) = budget
                        && k >= 2
                        && t.saturating_sub(firing(d.t0, d.d, d.tlp, 1)) >= b
                    {
                        p.orphans_killed += w;
                        true
                    } else {
                        false
                    };
                    if gone {
                        st[i] = St::Gone;
                        orphans -= 1;
                        if !d.passive {
                            fw1 -= 1;
                        }
                        continue;
                    }
                    let f = firing(d.t0, d.d, d.tlp, k + 1);
                    if f < end && k < 64 {
                        heap.push(Reverse(key(f, Ev::Fire(k + 1), i)));
                    }
                }
                Ev::OrphanEnd => {
                    if st[i] != St::Orphan {
                        continue;
                    }
                    orphans -= 1;
                    if !d.passive {
                        fw1 -= 1;
                    }
                    st[i] = St::Gone;
                    if d.passive || d.open {
                        continue;
                    }
                    // FIN-WAIT-2 (a timewait entry at tcp_fin_timeout <= 60
                    // s, an orphan above), then TIME-WAIT from the peer's FIN.
                    let fw2 = d.fw2();
                    match fw2 {
                        Some(0) => tw_now.push(Reverse(key(t, Ev::Tw, i))),
                        _ => {
                            let lasts = fw2.map_or(s.fin_timeout_ns, |f| f.min(s.fin_timeout_ns));
                            if orphan_fw2 {
                                orphans += 1;
                            } else if s.max_tw_buckets.is_some_and(|m| tw_entries * w >= m) {
                                p.tw_overflows += w;
                                continue;
                            } else {
                                tw_entries += 1;
                            }
                            st[i] = St::Fw2;
                            match t.checked_add(lasts) {
                                Some(e) if lasts == s.fin_timeout_ns => {
                                    queue(&mut fw2_ends, key(e, Ev::Fw2End, i));
                                }
                                _ => {
                                    heap.push(Reverse(key(t.saturating_add(lasts), Ev::Fw2End, i)))
                                }
                            }
                        }
                    }
                }
                Ev::Fw2End => {
                    if st[i] != St::Fw2 {
                        continue;
                    }
                    if orphan_fw2 {
                        orphans -= 1;
                    } else {
                        tw_entries -= 1;
                    }
                    st[i] = St::Gone;
                    // The peer's FIN came in time: TIME-WAIT.
                    if d.fw2().is_some_and(|f| f <= s.fin_timeout_ns) {
                        tw_now.push(Reverse(key(t, Ev::Tw, i)));
                    }
                }
                Ev::Tw => {
                    if s.max_tw_buckets.is_some_and(|m| tw_entries * w >= m) {
                        p.tw_overflows += w;
                        continue;
                    }
                    tw_entries += 1;
                    tw_state += 1;
                    st[i] = St::Tw;
                    match t.checked_add(self.time_wait_ns) {
                        Some(e) => queue(&mut tw_ends, key(e, Ev::TwEnd, i)),
                        None => heap.push(Reverse(key(u64::MAX, Ev::TwEnd, i))),
                    }
                }
                Ev::TwEnd => {
                    if st[i] == St::Tw {
                        tw_entries -= 1;
                        tw_state -= 1;
                        st[i] = St::Gone;
                    }
                }
            }
        }
        sample(u64::MAX, &mut next_bucket, orphans, fw1, tw_state, &mut p);
        p
    }

    /// The peers that hold orphans: most orphan time in the demand first,
    /// those whose median orphan wait is at least 200 ms (TCP_RTO_MIN: a
    /// FIN that needed a retransmission), at most `n`, until they hold 90%
    /// of the orphan time.
    pub fn worst_peers(&self, n: usize) -> Vec<IpAddr> {
        // By peer index (the lives name their peer by its index in
        // `peer_list`): orphan time and lengths.
        let mut by: Vec<(u128, Vec<u64>)> = vec![(0, Vec::new()); self.peer_list.len()];
        for (d, p) in self.demand.iter().zip(&self.peers) {
            if let Some(e) = by.get_mut(*p as usize) {
                e.0 += u128::from(d.len);
                e.1.push(d.len);
            }
        }
        let total: u128 = by.iter().map(|x| x.0).sum::<u128>().max(1);
        let mut v: Vec<(IpAddr, u128, u64)> = by
            .into_iter()
            .zip(&self.peer_list)
            .filter(|((_, l), _)| !l.is_empty())
            .map(|((t, mut l), p)| {
                l.sort_unstable();
                (*p, t, median(&l).unwrap_or(0))
            })
            .filter(|x| x.2 >= RTO_MIN_NS)
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut out = Vec::new();
        let mut held = 0u128;
        for (p, t, _) in v {
            if out.len() >= n || held * 10 >= total * 9 {
                break;
            }
            held += t;
            out.push(p);
        }
        out
    }

    /// The ACKed orphan lengths of all peers, sorted.
    pub fn acked(&self) -> &[u64] {
        &self.acked_all
    }
}
