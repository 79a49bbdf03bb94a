//! Counterfactual replay: the capture's closes run again through a model of
//! Linux's orphan handling under other settings (docs/diagnosis.md,
//! "Remedies").
//!
//! Each connection the local side closed is kept as a [`Life`]: when its
//! FIN left, how its orphan phase ended in the capture (ACKed, reset by the
//! kernel, killed, still open), the FIN-WAIT-2 that followed, the first
//! retransmission interval and its peer. From those the *demand* is rebuilt:
//! the life each orphan would have had with no limit (a reset or killed one
//! gets a life drawn from its peer's ACKed FINs that lasted at least as long
//! as it was seen alive). The demand is then replayed, in time order, under
//! a [`Setting`]:
//!
//! - `tcp_max_orphans`: at close and at every retransmission-timer firing of
//!   an orphan (`__tcp_close` and `tcp_out_of_resources` -> `tcp_check_oom`
//!   -> `tcp_too_many_orphans`, net/ipv4/tcp.c and tcp_timer.c) the kernel
//!   resets it when the orphan count exceeds the limit; the count it
//!   compares is `tcp_orphan_cache`, refreshed every 100 ms
//!   (`tcp_orphan_update`).
//! - `tcp_orphan_retries` N (0 means 8, `tcp_orphan_retries()`): killed at
//!   the first timer firing at least `(2^(N+1) - 1) x TCP_RTO_MIN` after the
//!   first RTO retransmission (`retransmits_timed_out` with
//!   `tcp_model_timeout`).
//! - `tcp_fin_timeout`: an orphaned FIN-WAIT-2 socket lasts at most this
//!   long; at 60 s or less it is a timewait entry, not an orphan.
//! - `tcp_max_tw_buckets`: a socket entering TIME-WAIT (or the timewait
//!   form of FIN-WAIT-2) while that many entries exist is destroyed
//!   (`inet_twsk_alloc`, TcpExtTCPTimeWaitOverflow).
//! - the worst peers fixed: their FINs ACKed after a delay drawn from the
//!   other peers'.
//!
//! Counts are read at every bucket end of the timeline's grid, as the
//! timeline reads its own.

use crate::flow::conn::Conn;
use crate::flow::key::Side;
use crate::flow::state::{RTO_MAX_NS, RTO_MIN_NS, TcpState};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::net::IpAddr;

/// Most lives kept for the replay (about 80 bytes each: 40 MB): past it
/// every other one (by a hash of its peer and time) is dropped and the rest
/// count twice, and so on (`Lives::weight`).
pub const MAX_LIVES: usize = 500_000;

/// How an orphan's phase ended in the capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// The peer ACKed the FIN (FIN-WAIT-1/CLOSING/LAST-ACK over).
    Acked,
    /// The local kernel reset it while its FIN was unACKed, right after the
    /// FIN (at close).
    ResetAtClose,
    /// ... or later, at a retransmission timer.
    ResetLater,
    /// Killed silently (tcp_orphan_retries), inferred.
    Killed,
    /// The peer reset it.
    PeerReset,
    /// Still waiting when observation ended.
    Open,
}

/// One local close.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Life {
    pub peer: IpAddr,
    /// The local FIN's first copy, ns: the orphan phase begins.
    pub t0: u64,
    /// How long the orphan phase lasted in the capture, ns.
    pub len: u64,
    pub end: End,
    /// Passive close (LAST-ACK), else active (FIN-WAIT-1).
    pub passive: bool,
    /// After the ACK of an active close: time until the peer's FIN, ns
    /// (`None`: it never came while observed).
    pub fw2: Option<u64>,
    /// First retransmission interval of the FIN, ns (0: none seen).
    pub first_rto: u64,
    /// The first retransmission was a tail-loss probe (the next interval
    /// the same), as Linux sends by default.
    pub tlp: bool,
    /// A killed orphan whose peer spoke again later (a late ACK or FIN the
    /// local host answered with a bare RST): when, ns after `t0`.
    pub late: Option<u64>,
}

/// The lives of a run: mergeable (concatenated), bounded by
/// [`MAX_LIVES`].
#[derive(Clone, Debug, Default)]
pub struct Lives {
    pub list: Vec<Life>,
    /// log2 of the weight of each kept life (sampling halvings).
    pub halvings: u32,
}

fn life_hash(l: &Life) -> u64 {
    // FxHash-like mixing of time and peer: deterministic across runs and
    // thread counts.
    let mut h = l.t0 ^ 0x9e37_79b9_7f4a_7c15;
    match l.peer {
        IpAddr::V4(a) => h ^= u64::from(u32::from(a)),
        IpAddr::V6(a) => h ^= (u128::from(a) as u64) ^ ((u128::from(a) >> 64) as u64),
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

impl Lives {
    fn keeps(&self, l: &Life) -> bool {
        self.halvings == 0 || life_hash(l).trailing_zeros() >= self.halvings
    }

    /// Adds one life (sampled past [`MAX_LIVES`]).
    pub fn add_life(&mut self, l: Life) {
        self.push(l);
    }

    fn push(&mut self, l: Life) {
        if self.keeps(&l) {
            self.list.push(l);
            while self.list.len() > MAX_LIVES {
                self.halvings += 1;
                let h = self.halvings;
                self.list.retain(|l| life_hash(l).trailing_zeros() >= h);
            }
        }
    }

    /// How many sockets each kept life stands for.
    pub fn weight(&self) -> u64 {
        1u64 << self.halvings.min(63)
    }

    /// Takes the local close of a finished connection, from the states the
    /// timeline took (`states`: (state, from, to)).
    pub fn add(&mut self, c: &Conn, local: Side, states: &[(TcpState, u64, u64)], end_ts: u64) {
        let l = &c.ep[local];
        let Some(t0) = l.fin_ts else {
            return;
        };
        let orphan: Vec<&(TcpState, u64, u64)> = states
            .iter()
            .filter(|(s, _, _)| s.is_orphan_state())
            .collect();
        let Some(last) = orphan.iter().map(|x| x.2).max() else {
            return;
        };
        let passive = orphan.iter().any(|x| x.0 == TcpState::LastAck);
        let len = last.min(end_ts).saturating_sub(t0);
        let local_rst = c.rst_by == Some(local) && l.reset_awaiting_ack;
        let end = if l.fin_acked_ts.is_some() {
            End::Acked
        } else if l.state() == TcpState::Killed || l.killed_at.is_some() {
            End::Killed
        } else if local_rst {
            let at = c.rst_ts.unwrap_or(last).saturating_sub(t0);
            if l.fin_rtx == 0 && at < 10_000_000 {
                End::ResetAtClose
            } else {
                End::ResetLater
            }
        } else if c.rst_by == Some(local.other()) && c.rst_ts.is_some_and(|t| t <= last) {
            End::PeerReset
        } else {
            End::Open
        };
        let fw2 = if end == End::Acked && !passive {
            let tw = states
                .iter()
                .find(|(s, _, _)| *s == TcpState::TimeWait)
                .map(|x| x.1);
            tw.map(|t| t.saturating_sub(last))
        } else {
            None
        };
        let b = &l.backoff;
        let tlp = if b.retransmissions >= 2 && b.second_interval > 0 {
            b.first_interval.abs_diff(b.second_interval) * 10 <= b.second_interval
        } else {
            true
        };
        self.push(Life {
            peer: c.key.endpoint(local.other()).0,
            t0,
            len,
            end,
            passive,
            fw2,
            first_rto: u64::from(l.fin_first_rto_us) * 1_000,
            tlp,
            late: (end == End::Killed && l.kill_confirmed).then(|| c.last_ts.saturating_sub(t0)),
        });
    }
}

impl std::ops::AddAssign<&Lives> for Lives {
    fn add_assign(&mut self, o: &Lives) {
        let h = self.halvings.max(o.halvings);
        if h > self.halvings {
            self.halvings = h;
            self.list.retain(|l| life_hash(l).trailing_zeros() >= h);
        }
        for l in &o.list {
            self.push(*l);
        }
    }
}

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

/// Linux's orphan kill budget for `retries` (0 means 8): the time after
/// the first RTO retransmission from which a timer firing kills
/// (`tcp_model_timeout` with TCP_RTO_MIN, net/ipv4/tcp_timer.c).
pub fn kill_budget_ns(retries: u32) -> u64 {
    let n = if retries == 0 { 8 } else { retries.min(255) };
    // linear_backoff_thresh = ilog2(TCP_RTO_MAX / TCP_RTO_MIN) = 9.
    let thresh = (RTO_MAX_NS / RTO_MIN_NS).ilog2();
    if n <= thresh {
        ((2u64 << n) - 1) * RTO_MIN_NS
    } else {
        ((2u64 << thresh) - 1) * RTO_MIN_NS + u64::from(n - thresh) * RTO_MAX_NS
    }
}

/// The retransmission-timer firings of an orphan whose FIN left at `t0`:
/// the first RTO at `t0 + d` (after a tail-loss probe at `t0 + d`: at
/// `t0 + 2d`), then doubling, capped at TCP_RTO_MAX.
fn firing(t0: u64, d: u64, tlp: bool, k: u32) -> u64 {
    // f_1 = t0 + d (1 + tlp); f_{j+1} = f_j + min(d 2^j, RTO_MAX).
    let mut t = t0.saturating_add(d.saturating_mul(1 + u64::from(tlp)));
    let mut rto = d;
    for _ in 1..k {
        rto = rto.saturating_mul(2).min(RTO_MAX_NS);
        t = t.saturating_add(rto);
    }
    t
}

/// Time from an orphan's first FIN until `tcp_orphan_retries` = `retries`
/// kills it: the first retransmission-timer firing at least
/// [`kill_budget_ns`] after the first RTO retransmission (the firings:
/// `firing`, from the first retransmission interval `d` and whether it
/// was a tail-loss probe).
pub fn kill_after(d: u64, tlp: bool, retries: u32) -> u64 {
    let d = d.max(1);
    let f1 = firing(0, d, tlp, 1);
    let budget = kill_budget_ns(retries);
    let mut k = 2;
    loop {
        let f = firing(0, d, tlp, k);
        if f.saturating_sub(f1) >= budget || k >= 64 {
            return f;
        }
        k += 1;
    }
}

/// One life of the demand, ready to replay.
#[derive(Clone, Copy, Debug)]
struct Demand {
    t0: u64,
    /// Orphan phase length without any limit (u64::MAX: never ends).
    len: u64,
    passive: bool,
    fw2: Option<u64>,
    d: u64,
    tlp: bool,
    /// The orphan was still waiting when observation ended, and its
    /// demand is not known past it.
    open: bool,
}

/// The demand rebuilt from the capture, and what the replay needs to know
/// of the capture's span.
#[derive(Clone, Debug)]
pub struct Replay {
    demand: Vec<Demand>,
    /// Peers, for fixing: index into `demand` by peer.
    peers: Vec<IpAddr>,
    /// ACKed orphan lengths of the other peers' lives, for fixed peers.
    weight: u64,
    bucket_ns: u64,
    time_wait_ns: u64,
    /// End of observation, ns: counts are read at bucket ends up to here.
    end_ns: u64,
    /// Orphan lengths of ACKed closes by peer, sorted.
    acked_by_peer: BTreeMap<IpAddr, Vec<u64>>,
    acked_all: Vec<u64>,
}

/// A deterministic quantile in [0, 1) for a life.
fn unit(t0: u64, salt: u64) -> f64 {
    let mut h = t0 ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
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

/// The median of a sorted list.
fn median(sorted: &[u64]) -> Option<u64> {
    sorted.get(sorted.len() / 2).copied()
}

impl Replay {
    /// Rebuilds the demand from the lives: a life the kernel ended (reset,
    /// killed) gets the length of an ACKed close of the same peer that
    /// lasted at least as long as it was seen (else of any peer; else it
    /// stays open to the end of observation).
    pub fn new(lives: &Lives, bucket_ns: u64, time_wait_ns: u64, end_ns: u64) -> Replay {
        // One order whatever the threads that gathered them.
        let mut sorted = lives.list.clone();
        sorted.sort_by(|a, b| {
            (a.t0, a.len, a.peer, a.first_rto)
                .cmp(&(b.t0, b.len, b.peer, b.first_rto))
                .then(a.passive.cmp(&b.passive))
        });
        let lives = &Lives {
            list: sorted,
            halvings: lives.halvings,
        };
        let mut acked_by_peer: BTreeMap<IpAddr, Vec<u64>> = BTreeMap::new();
        let mut fw2_by_peer: BTreeMap<IpAddr, Vec<u64>> = BTreeMap::new();
        let mut rto_by_peer: BTreeMap<IpAddr, Vec<u64>> = BTreeMap::new();
        let mut acked_all = Vec::new();
        let mut rto_all = Vec::new();
        for l in &lives.list {
            if l.end == End::Acked {
                acked_by_peer.entry(l.peer).or_default().push(l.len);
                acked_all.push(l.len);
                if let Some(f) = l.fw2 {
                    fw2_by_peer.entry(l.peer).or_default().push(f);
                }
            }
            if l.first_rto > 0 {
                rto_by_peer.entry(l.peer).or_default().push(l.first_rto);
                rto_all.push(l.first_rto);
            }
        }
        for v in acked_by_peer
            .values_mut()
            .chain(fw2_by_peer.values_mut())
            .chain(rto_by_peer.values_mut())
        {
            v.sort_unstable();
        }
        acked_all.sort_unstable();
        rto_all.sort_unstable();
        let rto_default = median(&rto_all).unwrap_or(RTO_MIN_NS);
        let mut demand = Vec::with_capacity(lives.list.len());
        let mut peers = Vec::with_capacity(lives.list.len());
        for l in &lives.list {
            let d = if l.first_rto > 0 {
                l.first_rto
            } else {
                rto_by_peer
                    .get(&l.peer)
                    .and_then(|v| median(v))
                    .unwrap_or(rto_default)
            };
            let u = unit(l.t0, 1);
            let (len, open, fw2) = match l.end {
                End::Acked => (l.len, false, l.fw2),
                End::PeerReset => (l.len, false, None),
                End::Open => (l.len, true, None),
                End::ResetAtClose | End::ResetLater | End::Killed => {
                    // Its peer's ACKed closes that lasted as long; else the
                    // peer's late reply (an upper bound when it is the
                    // peer's own FIN); else any peer's.
                    let own = acked_by_peer.get(&l.peer).and_then(|v| draw(v, l.len, u));
                    let rebuilt = own
                        .or(l.late.filter(|t| *t >= l.len))
                        .or_else(|| draw(&acked_all, l.len, u));
                    let fw2 = (!l.passive).then(|| {
                        fw2_by_peer
                            .get(&l.peer)
                            .and_then(|v| median(v))
                            .unwrap_or(0)
                    });
                    match rebuilt {
                        Some(len) => (len, false, fw2),
                        None => (end_ns.saturating_sub(l.t0), true, None),
                    }
                }
            };
            demand.push(Demand {
                t0: l.t0,
                len,
                passive: l.passive,
                fw2,
                d: d.max(1),
                tlp: l.tlp,
                open,
            });
            peers.push(l.peer);
        }
        Replay {
            demand,
            peers,
            weight: lives.weight(),
            bucket_ns: bucket_ns.max(1),
            time_wait_ns,
            end_ns,
            acked_by_peer,
            acked_all,
        }
    }

    /// Lives rebuilt from kernel resets or kills.
    pub fn lives(&self) -> usize {
        self.demand.len()
    }

    /// Replays the demand under `s`.
    pub fn run(&self, s: &Setting) -> Prediction {
        // The other peers' ACKed lengths, for fixed peers.
        let others: Vec<u64> = if s.fixed_peers.is_empty() {
            Vec::new()
        } else {
            let mut v: Vec<u64> = self
                .acked_by_peer
                .iter()
                .filter(|(p, _)| !s.fixed_peers.contains(p))
                .flat_map(|(_, v)| v.iter().copied())
                .collect();
            v.sort_unstable();
            v
        };
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
        // The starts come in time order from `demand` (sorted by t0); the
        // heap holds only what they set off.
        let mut heap: BinaryHeap<Reverse<(u64, Ev, usize)>> =
            BinaryHeap::with_capacity(self.demand.len().min(1 << 20));
        let mut next_start = 0usize;
        let mut len = vec![0u64; self.demand.len()];
        for (i, d) in self.demand.iter().enumerate() {
            let mut l = d.len;
            if !others.is_empty() && s.fixed_peers.contains(&self.peers[i]) {
                l = draw(&others, 0, unit(d.t0, 2)).unwrap_or(l);
            }
            len[i] = l;
        }
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
        loop {
            let start = self
                .demand
                .get(next_start)
                .map(|d| (d.t0, Ev::Start, next_start));
            let (t, ev, i) = match (heap.peek(), start) {
                (Some(Reverse(h)), Some(st)) if *h < st => heap.pop().map_or(st, |Reverse(x)| x),
                (_, Some(st)) => {
                    next_start += 1;
                    st
                }
                (Some(_), None) => match heap.pop() {
                    Some(Reverse(x)) => x,
                    None => break,
                },
                (None, None) => break,
            };
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
                    let end = d.t0.saturating_add(len[i]);
                    heap.push(Reverse((end, Ev::OrphanEnd, i)));
                    if s.max_orphans.is_some() || budget.is_some() {
                        let f = firing(d.t0, d.d, d.tlp, 1);
                        if f < end {
                            heap.push(Reverse((f, Ev::Fire(1), i)));
                        }
                    }
                }
                Ev::Fire(k) => {
                    if st[i] != St::Orphan {
                        continue;
                    }
                    let end = d.t0.saturating_add(len[i]);
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
                        heap.push(Reverse((f, Ev::Fire(k + 1), i)));
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
                    let fw2 = d.fw2;
                    match fw2 {
                        Some(0) => heap.push(Reverse((t, Ev::Tw, i))),
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
                            heap.push(Reverse((t.saturating_add(lasts), Ev::Fw2End, i)));
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
                    if d.fw2.is_some_and(|f| f <= s.fin_timeout_ns) {
                        heap.push(Reverse((t, Ev::Tw, i)));
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
                    heap.push(Reverse((t.saturating_add(self.time_wait_ns), Ev::TwEnd, i)));
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
        let mut by: BTreeMap<IpAddr, (u128, Vec<u64>)> = BTreeMap::new();
        for (d, p) in self.demand.iter().zip(&self.peers) {
            let e = by.entry(*p).or_default();
            e.0 += u128::from(d.len);
            e.1.push(d.len);
        }
        let total: u128 = by.values().map(|x| x.0).sum::<u128>().max(1);
        let mut v: Vec<(IpAddr, u128, u64)> = by
            .into_iter()
            .map(|(p, (t, mut l))| {
                l.sort_unstable();
                (p, t, median(&l).unwrap_or(0))
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

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;
    const MS: u64 = 1_000_000;

    fn life(t0_ms: u64, len_ms: u64, end: End) -> Life {
        Life {
            peer: "192.0.2.1".parse().unwrap(),
            t0: t0_ms * MS,
            len: len_ms * MS,
            end,
            passive: false,
            fw2: Some(0),
            first_rto: 200 * MS,
            tlp: true,
            late: None,
        }
    }

    /// Past MAX_LIVES every other life goes and the rest count twice: the
    /// weighted count stays within a few percent of the lives offered.
    #[test]
    fn lives_past_the_cap_are_sampled_with_weights() {
        let mut lives = Lives::default();
        let n = 2 * MAX_LIVES as u64 + 12_345;
        for i in 0..n {
            lives.add_life(life(i, 1_000, End::Acked));
        }
        assert!(lives.list.len() <= MAX_LIVES);
        assert!(lives.weight() >= 4, "{}", lives.weight());
        let stood_for = lives.list.len() as u64 * lives.weight();
        assert!(stood_for.abs_diff(n) * 50 < n, "{stood_for} for {n}");
        // Merging keeps one weight: the heavier one.
        let mut a = Lives::default();
        a.add_life(life(1, 1, End::Acked));
        a += &lives;
        assert_eq!(a.halvings, lives.halvings);
    }

    #[test]
    fn kill_budget_is_the_kernels() {
        // (2^(N+1) - 1) x 200 ms.
        assert_eq!(kill_budget_ns(2), 1_400 * MS);
        assert_eq!(kill_budget_ns(1), 600 * MS);
        assert_eq!(kill_budget_ns(0), kill_budget_ns(8));
        assert_eq!(kill_budget_ns(8), 511 * 200 * MS);
        // Past ilog2(120 s / 200 ms) = 9: linear in TCP_RTO_MAX.
        assert_eq!(kill_budget_ns(10), 1023 * 200 * MS + 120 * S);
    }

    /// The firings of testdata/kernel/orphan_retries (README): TLP at
    /// 0.2 s, RTOs at 0.4, 0.8, 1.6, kill at 3.2 s with retries 2.
    #[test]
    fn kill_comes_at_the_fourth_rto_with_two_retries() {
        let lives = Lives {
            list: vec![life(0, 20_000, End::Acked)],
            halvings: 0,
        };
        let r = Replay::new(&lives, 100 * MS, 60 * S, 100 * S);
        assert_eq!(firing(0, 200 * MS, true, 1), 400 * MS);
        assert_eq!(firing(0, 200 * MS, true, 4), 3_200 * MS);
        let p = r.run(&Setting {
            orphan_retries: Some(2),
            fin_timeout_ns: 60 * S,
            ..Setting::default()
        });
        assert_eq!(p.orphans_killed, 1);
        // Alive at bucket ends 0.1 .. 3.1 s, gone at 3.2: peak 1, and no
        // TIME-WAIT after a kill.
        assert_eq!(p.fin_wait_1_peak, 1);
        assert_eq!(p.time_wait_peak, 0);
        let p = r.run(&Setting {
            fin_timeout_ns: 60 * S,
            ..Setting::default()
        });
        assert_eq!((p.orphans_killed, p.time_wait_peak), (0, 1));
    }

    /// Ten closes 10 ms apart, each waiting 5 s: with tcp_max_orphans 4 the
    /// cache (100 ms ticks) lets the first ones in, then resets the rest.
    #[test]
    fn max_orphans_resets_over_the_limit() {
        let list: Vec<Life> = (0..50).map(|i| life(i * 20, 5_000, End::Acked)).collect();
        let lives = Lives { list, halvings: 0 };
        let r = Replay::new(&lives, 100 * MS, 60 * S, 100 * S);
        let free = r.run(&Setting {
            fin_timeout_ns: 60 * S,
            ..Setting::default()
        });
        assert_eq!(free.orphans_peak, 50);
        assert_eq!(free.orphan_resets, 0);
        let capped = r.run(&Setting {
            max_orphans: Some(4),
            fin_timeout_ns: 60 * S,
            ..Setting::default()
        });
        // Closes at 0..80 ms see cache 0 (5 in); at 100 ms the cache is 5 >
        // 4: every later close is reset, and the first firings (0.4 s) of
        // the five reset them too.
        assert_eq!(capped.orphans_peak, 5);
        assert_eq!(capped.orphan_resets, 50);
    }

    /// A reset orphan gets the life of its peer's ACKed closes that lasted
    /// at least as long as it was seen.
    #[test]
    fn demand_rebuilds_reset_lives() {
        let mut list: Vec<Life> = (0..10).map(|i| life(i * 1000, 3_000, End::Acked)).collect();
        list.push(life(500, 0, End::ResetAtClose));
        let lives = Lives { list, halvings: 0 };
        let r = Replay::new(&lives, 100 * MS, 60 * S, 100 * S);
        let p = r.run(&Setting {
            fin_timeout_ns: 60 * S,
            ..Setting::default()
        });
        // At 2.5 s: lives from 0, 1, 2 s and the rebuilt one from 0.5 s.
        assert_eq!(p.orphans_peak, 4);
    }
}

/// tcp_max_orphans as the capture shows it: the kernel's orphan limit
/// (`tcp_too_many_orphans`) was hit when the local kernel reset orphans
/// while the orphan count sat at a plateau.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitEstimate {
    /// Best estimate of the limit.
    pub value: u64,
    /// The limit lies in [low, high].
    pub low: u64,
    pub high: u64,
    /// Orphans the kernel reset while their FIN was unACKed.
    pub resets: u64,
    /// When the first reset came, ns.
    pub first_reset_ns: u64,
    /// The orphan count (as the kernel's 100 ms cache saw it) at the resets
    /// spread little around its median: a plateau. Resets without one are
    /// memory pressure (tcp_mem) or something else.
    pub plateau: bool,
}

/// Fewest kernel resets from which a limit is inferred.
pub const MIN_RESETS: u64 = 10;

fn quantile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((q * (sorted.len() - 1) as f64).round() as usize).min(sorted.len() - 1);
    sorted[i]
}

/// The threshold T (a check resets iff its count > T) that misclassifies
/// fewest of `passed` and `reset` (both sorted), and the range of those
/// within 2% of all checks of the fewest: (best, low, high).
fn threshold(passed: &[u64], reset: &[u64]) -> (u64, u64, u64) {
    let mut cands: Vec<u64> = passed.iter().chain(reset).copied().collect();
    cands.sort_unstable();
    cands.dedup();
    let errors = |t: u64| {
        // Resets at or below t, passes above it.
        reset.partition_point(|v| *v <= t) + (passed.len() - passed.partition_point(|v| *v <= t))
    };
    let scored: Vec<(u64, usize)> = cands.iter().map(|t| (*t, errors(*t))).collect();
    let best = scored.iter().map(|x| x.1).min().unwrap_or(0);
    let slack = (passed.len() + reset.len()) / 50;
    let at_best: Vec<u64> = scored.iter().filter(|x| x.1 == best).map(|x| x.0).collect();
    let near: Vec<u64> = scored
        .iter()
        .filter(|x| x.1 <= best + slack)
        .map(|x| x.0)
        .collect();
    let value = at_best.get(at_best.len() / 2).copied().unwrap_or(0);
    let low = near.first().copied().unwrap_or(value).min(value);
    let high = near.last().copied().unwrap_or(value).max(value);
    (value, low, high)
}

impl Lives {
    /// Infers tcp_max_orphans from the kernel's resets: at each check the
    /// kernel makes (a close; a retransmission timer of a waiting orphan)
    /// it resets iff its cached orphan count exceeds the limit. The count
    /// is rebuilt from the lives as captured; the limit lies between the
    /// counts at checks that passed and those that reset. `None` below
    /// [`MIN_RESETS`] resets.
    pub fn orphan_limit(&self) -> Option<LimitEstimate> {
        let w = self.weight();
        let resets: Vec<&Life> = self
            .list
            .iter()
            .filter(|l| matches!(l.end, End::ResetAtClose | End::ResetLater))
            .collect();
        if (resets.len() as u64) * w < MIN_RESETS {
            return None;
        }
        // (time, kind): +1 orphan start, -1 orphan end, 0 a check that
        // passed, 2 a check that reset. Ends before checks before starts
        // at one time.
        let mut ev: Vec<(u64, u8, i8)> = Vec::with_capacity(self.list.len() * 4);
        for l in &self.list {
            let end = l.t0.saturating_add(l.len);
            match l.end {
                End::ResetAtClose => {
                    ev.push((l.t0, 1, 2));
                    continue;
                }
                End::ResetLater => ev.push((end, 1, 2)),
                _ => ev.push((l.t0, 1, 0)),
            }
            ev.push((l.t0, 2, 1));
            ev.push((end, 0, -1));
            // The timer firings it lived through passed.
            let d = if l.first_rto > 0 {
                l.first_rto
            } else {
                RTO_MIN_NS
            };
            for k in 1..12 {
                let f = firing(l.t0, d, l.tlp, k);
                if f >= end {
                    break;
                }
                ev.push((f, 1, 0));
            }
        }
        ev.sort_unstable();
        let tick = 100_000_000u64;
        let (mut count, mut cache, mut next_tick) = (0i64, 0i64, 0u64);
        let (mut passed, mut reset) = (Vec::new(), Vec::new());
        for (t, _, k) in ev {
            if t >= next_tick {
                cache = count;
                next_tick = (t / tick + 1) * tick;
            }
            match k {
                1 => count += 1,
                -1 => count -= 1,
                0 => passed.push(cache.max(0) as u64 * w),
                _ => reset.push(cache.max(0) as u64 * w),
            }
        }
        reset.sort_unstable();
        passed.sort_unstable();
        // A reset means cache > limit, a pass cache <= limit; the rebuilt
        // count is off by a few percent (the kernel's 100 ms timer has its
        // own phase; the capture shows FINs, not close() calls), so the
        // limit is the threshold that misclassifies fewest checks, and its
        // range the thresholds within 2% of the checks of that.
        let (value, low, high) = threshold(&passed, &reset);
        let med = quantile(&reset, 0.5).max(1);
        let plateau = quantile(&reset, 0.1) * 10 >= med * 8 && med >= 8;
        let first_reset_ns = self
            .list
            .iter()
            .filter_map(|l| match l.end {
                End::ResetAtClose => Some(l.t0),
                End::ResetLater => Some(l.t0.saturating_add(l.len)),
                _ => None,
            })
            .min()
            .unwrap_or(0);
        Some(LimitEstimate {
            value,
            low,
            high,
            resets: resets.len() as u64 * w,
            first_reset_ns,
            plateau,
        })
    }
}
