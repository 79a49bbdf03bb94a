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
//!
//! The parts: [`Lives`] here (what the capture shows of each local
//! close; `kept` the 32-byte form a list keeps each in), `kernel` (Linux's
//! retransmission-timer firings and kill budget), `sim` (the replay under
//! a [`Setting`]: `demand` rebuilds the demand from the lives, `by_peer`
//! its per-peer lists; the event simulation in `sim` itself, or
//! `intervals` when no limit makes the lives interact; in tests
//! `sim_reference`, the one-heap replay they must agree with) and `limit`
//! (tcp_max_orphans inferred from the kernel's resets).

mod kept;
mod kernel;
mod limit;
mod sim;

pub use kernel::{kill_after, kill_budget_ns};
pub use limit::{LimitEstimate, MIN_RESETS};
pub use sim::{Prediction, Replay, Setting};

use crate::flow::conn::Conn;
use crate::flow::key::Side;
use crate::flow::state::TcpState;
use kept::Kept;
use std::net::IpAddr;

/// Most lives kept for the replay (32 bytes each: 16 MB): past it every
/// other one (by a hash of its peer and time) is dropped and the rest
/// count twice, and so on (`Lives::weight`). `--max-memory` may keep
/// fewer ([`Lives::with_budget`]).
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

impl End {
    /// Every end, in the order declared.
    pub const ALL: [End; 6] = [
        End::Acked,
        End::ResetAtClose,
        End::ResetLater,
        End::Killed,
        End::PeerReset,
        End::Open,
    ];
}

/// One local close.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Life {
    pub peer: IpAddr,
    /// The orphan phase begins, ns: the local FIN's first copy, or for a
    /// FIN queued behind a zero window the stall's start (the timeline's
    /// FIN-WAIT-1 estimate).
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

/// Bytes a kept life costs, about, at the run's end: its 32-byte entry
/// (`kept::Kept`) and side words, the list's growth, the shards' lag behind
/// the shared level, and beside them the replay's 40-byte demand and its
/// sorted indices (`sim::Replay::new`).
pub const LIFE_BYTES: u64 = 128;

/// The lives of a run: mergeable (concatenated), bounded by `cap`
/// ([`MAX_LIVES`], or what `--max-memory` leaves them).
#[derive(Clone, Debug)]
pub struct Lives {
    list: Vec<Kept>,
    /// The kept lives' side words (`kept::Kept`): IPv6 peers, wide times.
    side: Vec<u64>,
    /// log2 of the weight of each kept life (sampling halvings).
    pub halvings: u32,
    /// Most lives kept: past it the list is halved (by the hash).
    pub cap: usize,
    /// The run's lives offered per sampling level, shared by its shards
    /// ([`Levels`]); `None` for a lone list.
    shared: Option<std::sync::Arc<Levels>>,
    /// Lives offered since `halvings` was last compared with the shared
    /// level.
    since_check: u32,
}

impl Default for Lives {
    fn default() -> Lives {
        Lives {
            list: Vec::new(),
            side: Vec::new(),
            halvings: 0,
            cap: MAX_LIVES,
            shared: None,
            since_check: 0,
        }
    }
}

/// The lives a run's shards were offered, by sampling level (the trailing
/// zeros of a life's hash: kept at `halvings` h when at least h). From
/// them every shard knows the level the whole run needs
/// (`Levels::level`), so that the shards together keep about `cap`
/// lives, not `cap` each, and the merged sample is the one a single
/// thread keeps (the same report whatever `-j`).
#[derive(Debug)]
pub struct Levels {
    offered: [std::sync::atomic::AtomicU64; 65],
}

impl Default for Levels {
    fn default() -> Levels {
        Levels {
            offered: std::array::from_fn(|_| std::sync::atomic::AtomicU64::new(0)),
        }
    }
}

impl Levels {
    /// The smallest level at which at most `cap` of the lives offered so
    /// far are kept: what a single list of all of them would have halved
    /// to.
    fn level(&self, cap: usize) -> u32 {
        let mut kept = 0u64;
        for h in (0..self.offered.len()).rev() {
            kept += self.offered[h].load(std::sync::atomic::Ordering::Relaxed);
            if kept > cap as u64 {
                return h as u32 + 1;
            }
        }
        0
    }
}

/// How many lives a shard offers between two looks at the shared level.
const CHECK_EVERY: u32 = 1024;

/// SplitMix64's finaliser: a well-spread hash of `h`, the same on every
/// run and thread count (sampling and the demand's draws use it).
pub(super) fn mix64(mut h: u64) -> u64 {
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// The sampling hash of a life: its time and peer mixed.
fn life_hash(t0: u64, peer: IpAddr) -> u64 {
    let peer = match peer {
        IpAddr::V4(a) => u64::from(u32::from(a)),
        IpAddr::V6(a) => (u128::from(a) as u64) ^ ((u128::from(a) >> 64) as u64),
    };
    mix64(t0 ^ 0x9e37_79b9_7f4a_7c15 ^ peer)
}

impl Lives {
    /// Lives kept as listed, each standing for 2^`halvings` sockets (none
    /// sampled away: tests and fuzzing).
    pub fn of(list: Vec<Life>, halvings: u32) -> Lives {
        let mut side = Vec::new();
        Lives {
            list: list.iter().map(|l| Kept::of(l, &mut side)).collect(),
            side,
            halvings,
            ..Lives::default()
        }
    }

    /// A list of at most about `bytes` / [`LIFE_BYTES`] lives (and never
    /// more than [`MAX_LIVES`]), sampled at the level `shared` says: the
    /// shards of one run share one [`Levels`] and the same budget.
    pub fn with_budget(bytes: u64, shared: std::sync::Arc<Levels>) -> Lives {
        Lives {
            cap: usize::try_from(bytes / LIFE_BYTES)
                .unwrap_or(usize::MAX)
                .clamp(2, MAX_LIVES),
            shared: Some(shared),
            ..Lives::default()
        }
    }

    /// The lives were sampled: each kept one stands for
    /// [`Lives::weight`] local closes.
    pub fn sampled(&self) -> bool {
        self.halvings > 0
    }

    /// How many lives are kept.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The kept lives, in the order they were added.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Life> + Clone + '_ {
        self.list.iter().map(|k| k.life(&self.side))
    }

    /// The `i`th kept life.
    pub(super) fn life_at(&self, i: usize) -> Option<Life> {
        Some(self.list.get(i)?.life(&self.side))
    }

    /// The kept lives' starts, in their order (no side words read).
    pub(super) fn starts(&self) -> impl ExactSizeIterator<Item = u64> + '_ {
        self.list.iter().map(|k| k.t0)
    }

    /// Keeps only the lives of level `h` or more, their side words
    /// compacted.
    fn drop_below(&mut self, h: u32) {
        let old = std::mem::take(&mut self.side);
        let side = &mut self.side;
        self.list.retain_mut(|k| {
            let keep = life_hash(k.t0, k.peer(&old)).trailing_zeros() >= h;
            if keep {
                *k = k.moved(&old, side);
            }
            keep
        });
    }

    /// Adds one life (sampled past `cap`): counted in the shared levels,
    /// then kept if its level is kept.
    pub fn add_life(&mut self, l: Life) {
        let hash = life_hash(l.t0, l.peer);
        if let Some(s) = &self.shared {
            let level = hash.trailing_zeros();
            s.offered[level as usize].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.since_check += 1;
            if self.since_check >= CHECK_EVERY || self.list.len() >= self.cap {
                self.since_check = 0;
                let h = s.level(self.cap);
                if h > self.halvings {
                    self.halvings = h;
                    self.drop_below(h);
                }
            }
        }
        self.keep(hash, |side| Kept::of(&l, side));
    }

    /// Keeps the life of sampling hash `hash` (`make` writes it, its side
    /// words on the list's) if its level is kept, halving past `cap`. The
    /// list grows by half its length at a time, never past `cap` + 1.
    fn keep(&mut self, hash: u64, make: impl FnOnce(&mut Vec<u64>) -> Kept) {
        if self.halvings > 0 && hash.trailing_zeros() < self.halvings {
            return;
        }
        if self.list.len() == self.list.capacity() {
            let room = self.cap.saturating_add(1).saturating_sub(self.list.len());
            self.list
                .reserve_exact((self.list.len() / 2).clamp(64, 1 << 20).min(room).max(1));
        }
        let k = make(&mut self.side);
        self.list.push(k);
        while self.list.len() > self.cap {
            self.halvings += 1;
            self.drop_below(self.halvings);
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
        let Some(fin_ts) = l.fin_ts else {
            return;
        };
        // The orphan states' start and end, and whether one was LAST-ACK
        // (a passive close), in one pass without allocating. A FIN queued
        // behind a zero window is an orphan from the stall, before its
        // first copy (the timeline's estimate, docs/timeline.md).
        let (mut first, mut last, mut passive) = (fin_ts, None, false);
        for &(s, b, e) in states.iter().filter(|x| x.0.is_orphan_state()) {
            first = first.min(b);
            last = last.max(Some(e));
            passive |= s == TcpState::LastAck;
        }
        let t0 = first;
        let Some(last) = last else {
            return;
        };
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
        // Linux sends a tail-loss probe first unless the copies show none.
        let tlp = l.backoff.first_was_probe().unwrap_or(true);
        self.add_life(Life {
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
    /// Adds the lives of another shard (already counted in the shared
    /// levels, if any): the level is the larger of the two, and higher
    /// while more than `cap` are kept.
    fn add_assign(&mut self, o: &Lives) {
        let h = self.halvings.max(o.halvings);
        if h > self.halvings {
            self.halvings = h;
            self.drop_below(h);
        }
        // Room for what comes, no more (doubling would leave up to half
        // the capacity unused), and never past the cap's one over.
        let room = (self.cap + 1).saturating_sub(self.list.len());
        self.list.reserve_exact(o.list.len().min(room));
        for k in &o.list {
            let hash = life_hash(k.t0, k.peer(&o.side));
            self.keep(hash, |side| k.moved(&o.side, side));
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::kernel::firing;
    use super::*;

    const S: u64 = 1_000_000_000;
    const MS: u64 = 1_000_000;

    /// An active close to 192.0.2.1 at `t0_ms`, its orphan phase `len_ms`
    /// long, the peer's FIN with the ACK, a 200 ms first repeat after a
    /// probe (the unit tests' template; report::remedies uses it too).
    pub(crate) fn life(t0_ms: u64, len_ms: u64, end: End) -> Life {
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

    /// A list gives back every life as added, the optional ones absent,
    /// zero and set, IPv6 peers and wide times among them (their side
    /// words: kept.rs), also after a halving and a merge moved them.
    #[test]
    fn kept_lives_are_lossless() {
        let mut a = life(7, 300, End::Killed);
        a.fw2 = None;
        a.late = Some(0);
        a.passive = true;
        a.tlp = false;
        a.peer = "2001:db8::7".parse().unwrap();
        let mut b = life(9, 0, End::Acked);
        b.fw2 = Some(u64::MAX);
        b.late = Some(12 * MS);
        b.first_rto = 3;
        let lives = Lives::of(vec![a, b, life(1, 2, End::Open)], 0);
        assert_eq!(
            lives.iter().collect::<Vec<_>>(),
            [a, b, life(1, 2, End::Open)]
        );
        assert_eq!(lives.life_at(1), Some(b));
        assert_eq!(lives.starts().collect::<Vec<_>>(), [7 * MS, 9 * MS, MS]);
        assert_eq!(lives.life_at(3), None);
        // 2,000 lives, every other one with side words, halved twice by
        // a cap of 600, then merged into a list holding one of its own:
        // exactly the lives of level 2 or more are left, intact, and the
        // side words hold no more than theirs.
        let all: Vec<Life> = (0..2_000u64)
            .map(|i| {
                let mut l = life(i, 10, if i % 2 == 0 { End::Acked } else { End::Killed });
                if i % 2 == 1 {
                    l.peer = std::net::IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, i as u16]);
                    l.fw2 = None;
                    l.late = Some(u64::MAX - i);
                }
                l
            })
            .collect();
        let mut capped = Lives {
            cap: 600,
            ..Lives::default()
        };
        all.iter().for_each(|l| capped.add_life(*l));
        assert_eq!(capped.halvings, 2);
        let kept: Vec<Life> = all
            .iter()
            .filter(|l| life_hash(l.t0, l.peer).trailing_zeros() >= 2)
            .copied()
            .collect();
        assert_eq!(capped.iter().collect::<Vec<_>>(), kept);
        let wide = kept.iter().filter(|l| l.late.is_some()).count();
        assert_eq!(capped.side.len(), 4 * wide);
        let mut merged = Lives::of(vec![b], 0);
        merged += &capped;
        assert_eq!(merged.halvings, 2);
        let mut want = vec![b];
        want.retain(|l| life_hash(l.t0, l.peer).trailing_zeros() >= 2);
        want.extend(kept);
        assert_eq!(merged.iter().collect::<Vec<_>>(), want);
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
        assert!(lives.len() <= MAX_LIVES);
        assert!(lives.weight() >= 4, "{}", lives.weight());
        let stood_for = lives.len() as u64 * lives.weight();
        assert!(stood_for.abs_diff(n) * 50 < n, "{stood_for} for {n}");
        // Merging keeps one weight: the heavier one.
        let mut a = Lives::default();
        a.add_life(life(1, 1, End::Acked));
        a += &lives;
        assert_eq!(a.halvings, lives.halvings);
    }

    /// Under a budget the shards of a run share one level: together they
    /// keep about `cap` lives (not `cap` each), and their merge is the
    /// sample one list of every life keeps, whatever the number of shards
    /// and however unevenly the lives fall on them.
    #[test]
    fn shards_sharing_a_budget_keep_the_single_lists_sample() {
        let bytes = 3_000 * LIFE_BYTES;
        let all: Vec<Life> = (0..50_000u64)
            .map(|i| {
                let mut l = life(i, 1_000, End::Acked);
                l.peer = std::net::IpAddr::from([10, 0, (i % 200) as u8, (i % 7) as u8]);
                l
            })
            .collect();
        let sorted = |l: &Lives| {
            let mut v: Vec<(u64, std::net::IpAddr)> = l.iter().map(|x| (x.t0, x.peer)).collect();
            v.sort_unstable();
            v
        };
        let mut one = Lives::with_budget(bytes, std::sync::Arc::default());
        assert_eq!(one.cap, 3_000);
        all.iter().for_each(|l| one.add_life(*l));
        assert!(one.len() <= 3_000 && one.len() > 1_000);
        assert_eq!(one.halvings, 5); // 50,000 / 2^5 = 1,562 kept
        for shards in [2usize, 3, 8] {
            let shared = std::sync::Arc::new(Levels::default());
            let mut s: Vec<Lives> = (0..shards)
                .map(|_| Lives::with_budget(bytes, shared.clone()))
                .collect();
            // Uneven: shard 0 takes every other life.
            for (i, l) in all.iter().enumerate() {
                let k = if i % 2 == 0 { 0 } else { 1 + i % (shards - 1) };
                s[k].add_life(*l);
            }
            let held: usize = s.iter().map(|x| x.len()).sum();
            assert!(
                held <= 3_000 + shards * CHECK_EVERY as usize,
                "{shards}: {held}"
            );
            let mut merged = s.remove(0);
            s.iter().for_each(|x| merged += x);
            assert_eq!(merged.halvings, one.halvings, "{shards} shards");
            assert_eq!(sorted(&merged), sorted(&one), "{shards} shards");
        }
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
        let lives = Lives::of(vec![life(0, 20_000, End::Acked)], 0);
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

    /// Without tcp_max_orphans only the killing firing is queued: the
    /// replay's kills are the kernel's (retries 1, 2, 4: 0.6, 1.4, 6.2 s
    /// after the first RTO at 0.4 s), and none for an orphan ACKed first.
    #[test]
    fn kills_without_the_limit_come_at_the_kernels_firing() {
        for (retries, at_ms) in [(1, 1_600), (2, 3_200), (4, 12_800)] {
            assert_eq!(kill_after(200 * MS, true, retries), at_ms * MS);
            let list = vec![
                life(0, at_ms + 1, End::Acked),
                life(10, at_ms - 1, End::Acked),
            ];
            let r = Replay::new(&Lives::of(list, 0), 100 * MS, 60 * S, 100 * S);
            let p = r.run(&Setting {
                orphan_retries: Some(retries),
                fin_timeout_ns: 60 * S,
                ..Setting::default()
            });
            assert_eq!((p.orphans_killed, p.time_wait_peak), (1, 1), "{retries}");
        }
    }

    /// Ten closes 10 ms apart, each waiting 5 s: with tcp_max_orphans 4 the
    /// cache (100 ms ticks) lets the first ones in, then resets the rest.
    #[test]
    fn max_orphans_resets_over_the_limit() {
        let list: Vec<Life> = (0..50).map(|i| life(i * 20, 5_000, End::Acked)).collect();
        let lives = Lives::of(list, 0);
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
        let lives = Lives::of(list, 0);
        let r = Replay::new(&lives, 100 * MS, 60 * S, 100 * S);
        let p = r.run(&Setting {
            fin_timeout_ns: 60 * S,
            ..Setting::default()
        });
        // At 2.5 s: lives from 0, 1, 2 s and the rebuilt one from 0.5 s.
        assert_eq!(p.orphans_peak, 4);
    }
}
