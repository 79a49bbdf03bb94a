//! The replay as it was before its queues (one binary heap of every
//! event), kept for the tests: `Replay::run` must predict the same.

use super::super::kernel::{firing, kill_budget_ns};
use super::{Prediction, Replay, Setting};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

impl Replay {
    /// `run` with every event in one heap of (time, kind, life).
    pub(super) fn run_heap(&self, s: &Setting) -> Prediction {
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
        // Lengths redrawn for fixed peers (`Replay::lengths`, shared).
        let redrawn = self.lengths(s);
        let len: Vec<u64> = (0..self.demand.len())
            .map(|i| redrawn.get(i).copied().unwrap_or(self.demand[i].len))
            .collect();
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
                    let fw2 = d.fw2();
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
                    if d.fw2().is_some_and(|f| f <= s.fin_timeout_ns) {
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
}

#[cfg(test)]
mod tests {
    use super::super::super::{End, Life, Lives, mix64};
    use super::*;
    use proptest::prelude::*;

    const S: u64 = 1_000_000_000;
    const MS: u64 = 1_000_000;

    /// Random lives with ties (times on a 100 ms grid), zero lengths, every
    /// end, FIN-WAIT-2 absent, immediate, short and past tcp_fin_timeout,
    /// from `base` on (near 2^64: times that saturate).
    fn lives(seed: u64, n: u64, base: u64) -> Lives {
        let list = (0..n)
            .map(|j| {
                let r = |k: u64| mix64(seed ^ (j << 8) ^ k);
                let peers = ["192.0.2.1", "192.0.2.2", "198.51.100.7", "2001:db8::1"];
                let t0 = base.saturating_add((r(1) % 200) * 100 * MS);
                let len = match r(2) % 4 {
                    0 => 0,
                    1 => (r(3) % 10) * 100 * MS,
                    _ => r(3) % (30 * S),
                };
                let end = [
                    End::Acked,
                    End::Acked,
                    End::Acked,
                    End::ResetAtClose,
                    End::ResetLater,
                    End::Killed,
                    End::PeerReset,
                    End::Open,
                ][(r(4) % 8) as usize];
                let fw2 = match r(5) % 5 {
                    0 => None,
                    1 => Some(0),
                    2 => Some(r(6) % (5 * S)),
                    3 => Some(70 * S),
                    _ => Some((r(6) % 3) * S),
                };
                Life {
                    peer: peers[(r(7) % 4) as usize].parse().unwrap(),
                    t0,
                    len,
                    end,
                    passive: r(8) % 4 == 0,
                    fw2,
                    first_rto: [0, 100 * MS, 200 * MS, r(9) % (3 * S)][(r(10) % 4) as usize],
                    tlp: r(11) % 2 == 0,
                    late: (r(12) % 3 == 0).then(|| r(13) % (40 * S)),
                }
            })
            .collect();
        Lives::of(list, 0)
    }

    fn settings() -> Vec<Setting> {
        let mut v = Vec::new();
        for max_orphans in [None, Some(3), Some(40)] {
            for orphan_retries in [None, Some(0), Some(1), Some(2), Some(4)] {
                for fin_timeout_ns in [0, S, 60 * S, 120 * S, u64::MAX] {
                    for max_tw_buckets in [None, Some(5)] {
                        v.push(Setting {
                            max_orphans,
                            orphan_retries,
                            fin_timeout_ns,
                            max_tw_buckets,
                            fixed_peers: Vec::new(),
                        });
                    }
                }
            }
        }
        v.push(Setting {
            orphan_retries: Some(2),
            fin_timeout_ns: 60 * S,
            fixed_peers: vec!["192.0.2.1".parse().unwrap()],
            ..Setting::default()
        });
        v
    }

    /// The queued replay predicts what the one-heap replay did, setting by
    /// setting, on random lives, with TIME-WAIT 60 s, 0 and 2^64 - 1 ns,
    /// and near the end of time.
    /// What the replay holds per life: a 40-byte demand, a 4-byte peer
    /// index and a 4-byte orphan end.
    #[test]
    fn the_demand_is_small() {
        assert_eq!(std::mem::size_of::<super::super::Demand>(), 40);
        let r = Replay::new(&lives(4, 300, 0), 100 * MS, 60 * S, 30 * S);
        assert_eq!(r.peers.len(), 300);
        assert_eq!(r.peer_list.len(), 4);
        assert!(r.orphan_ends.len() <= 300 && !r.orphan_ends.is_empty());
    }

    /// Lives that start together are ordered by length, peer, first RTO,
    /// passive, then as added: the same demand whatever order the shards
    /// gave them in (the last one's RTO, none seen, is its peer's median,
    /// 9).
    #[test]
    fn lives_starting_together_are_in_one_order() {
        let l = |len: u64, peer: &str, first_rto: u64, passive: bool| Life {
            peer: peer.parse().unwrap(),
            t0: 7 * S,
            len,
            end: End::Acked,
            passive,
            fw2: None,
            first_rto,
            tlp: false,
            late: None,
        };
        let list = vec![
            l(2, "192.0.2.1", 0, false),
            l(1, "192.0.2.2", 5, true),
            l(1, "192.0.2.2", 5, false),
            l(1, "192.0.2.2", 3, true),
            l(1, "192.0.2.1", 9, true),
        ];
        let mut early = l(9, "192.0.2.9", 0, false);
        early.t0 = 6 * S;
        for list in [
            list.clone(),
            list.iter().rev().copied().chain([early]).collect(),
        ] {
            let r = Replay::new(&Lives::of(list, 0), S, S, 10 * S);
            let got: Vec<(u64, u64, bool)> =
                r.demand.iter().map(|d| (d.len, d.d, d.passive)).collect();
            let want = [
                (1, 9, true),
                (1, 3, true),
                (1, 5, false),
                (1, 5, true),
                (2, 9, false),
            ];
            assert_eq!(got[got.len() - 5..], want);
        }
    }

    #[test]
    fn run_predicts_what_the_one_heap_replay_did() {
        let (mut kills, mut resets, mut overflows) = (0, 0, 0);
        for (seed, base) in [(1, 0), (2, 5 * S), (3, u64::MAX - 10 * S)] {
            let lives = lives(seed, 300, base);
            for tw in [60 * S, 0, u64::MAX] {
                let end = base.saturating_add(25 * S);
                let r = Replay::new(&lives, 100 * MS, tw, end);
                for s in settings() {
                    let p = r.run(&s);
                    assert_eq!(p, r.run_heap(&s), "seed {seed} tw {tw} {s:?}");
                    kills += p.orphans_killed;
                    resets += p.orphan_resets;
                    overflows += p.tw_overflows;
                }
            }
        }
        // The cases were reached.
        assert!(kills > 0 && resets > 0 && overflows > 0);
    }

    /// Times around `base`: on a 100 ms grid (ties), anywhere within 30
    /// s, at the end of time, or anywhere.
    fn near(base: u64) -> impl Strategy<Value = u64> {
        prop_oneof![
            (0u64..300).prop_map(move |k| base.saturating_add(k * 100 * MS)),
            (0u64..30 * S).prop_map(move |k| base.saturating_add(k)),
            (0u64..1_000).prop_map(|k| u64::MAX - k),
            Just(u64::MAX),
            any::<u64>(),
        ]
    }

    /// A length or delay: none, on the 100 ms grid, up to 30 s, 2^64 - 1
    /// or anything.
    fn span() -> impl Strategy<Value = u64> {
        prop_oneof![
            Just(0u64),
            (0u64..50).prop_map(|k| k * 100 * MS),
            0u64..30 * S,
            Just(u64::MAX),
            any::<u64>(),
        ]
    }

    const PEERS: [&str; 4] = ["192.0.2.1", "192.0.2.2", "198.51.100.7", "2001:db8::1"];

    fn life(base: u64) -> impl Strategy<Value = Life> {
        (
            (
                0usize..4,
                near(base),
                span(),
                proptest::sample::select(End::ALL.to_vec()),
            ),
            (any::<bool>(), any::<bool>(), proptest::option::of(span())),
            (
                prop_oneof![Just(0u64), Just(200 * MS), 0u64..3 * S, any::<u64>()],
                proptest::option::of(span()),
            ),
        )
            .prop_map(
                |((peer, t0, len, end), (passive, tlp, fw2), (first_rto, late))| Life {
                    peer: PEERS[peer].parse().unwrap(),
                    t0,
                    len,
                    end,
                    passive,
                    fw2,
                    first_rto,
                    tlp,
                    late,
                },
            )
    }

    /// A setting without limits: retries as captured or any (0 to 10,
    /// 255), tcp_fin_timeout around 60 s or anything, some peers fixed.
    fn free_setting() -> impl Strategy<Value = Setting> {
        (
            proptest::option::of(prop_oneof![0u32..=10, Just(255u32)]),
            prop_oneof![
                proptest::sample::select(vec![0, S, 60 * S, 60 * S + 1, 120 * S, u64::MAX]),
                any::<u64>(),
            ],
            proptest::collection::vec(any::<bool>(), 4),
        )
            .prop_map(|(orphan_retries, fin_timeout_ns, fixed)| Setting {
                orphan_retries,
                fin_timeout_ns,
                fixed_peers: PEERS
                    .iter()
                    .zip(fixed)
                    .filter(|(_, f)| *f)
                    .map(|(p, _)| p.parse().unwrap())
                    .collect(),
                ..Setting::default()
            })
    }

    /// A free setting with a tcp_max_orphans from none to any.
    fn limited_setting() -> impl Strategy<Value = Setting> {
        (
            free_setting(),
            prop_oneof![0u64..4, 4u64..60, Just(u64::MAX), any::<u64>()],
        )
            .prop_map(|(s, m)| Setting {
                max_orphans: Some(m),
                ..s
            })
    }

    #[allow(clippy::type_complexity)]
    fn case() -> impl Strategy<Value = (Vec<Life>, u32, u64, u64, u64, Vec<Setting>, Vec<Setting>)>
    {
        prop_oneof![
            Just(0u64),
            Just(5 * S),
            Just(u64::MAX - 20 * S),
            Just(u64::MAX),
            any::<u64>()
        ]
        .prop_flat_map(|base| {
            (
                // A quarter of the lists: every life starts at `base`.
                (proptest::collection::vec(life(base), 0..40), 0..4).prop_map(
                    move |(mut v, together)| {
                        if together == 0 {
                            v.iter_mut().for_each(|l| l.t0 = base);
                        }
                        v
                    },
                ),
                0u32..3,
                prop_oneof![
                    Just(1u64),
                    Just(100 * MS),
                    Just(S),
                    Just(u64::MAX),
                    any::<u64>()
                ],
                prop_oneof![
                    Just(0u64),
                    Just(S),
                    Just(60 * S),
                    Just(u64::MAX),
                    any::<u64>()
                ],
                prop_oneof![
                    (0u64..40 * S).prop_map(move |k| base.saturating_add(k)),
                    Just(0u64),
                    Just(u64::MAX),
                    any::<u64>(),
                ],
                proptest::collection::vec(free_setting(), 1..4),
                proptest::collection::vec(limited_setting(), 1..3),
            )
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        /// Without limits the intervals (difference array or sorted ends)
        /// predict what the event simulation and the one-heap replay do;
        /// so do they under a tcp_max_orphans never exceeded.
        #[test]
        fn free_settings_replay_as_intervals(
            (list, halvings, bucket, tw, end, settings, limited) in case()
        ) {
            let r = Replay::new(&Lives::of(list, halvings), bucket, tw, end);
            for s in &settings {
                let p = r.run_heap(s);
                prop_assert_eq!(r.simulate(s), p, "{:?}", s);
                prop_assert_eq!(r.run_free_with(s, 1 << 20), p, "difference array {:?}", s);
                prop_assert_eq!(r.run_free_with(s, 0), p, "sorted ends {:?}", s);
                prop_assert_eq!(r.run(s), p, "{:?}", s);
            }
            // Under a tcp_max_orphans never exceeded: the free replay.
            for s in &limited {
                let p = r.run_heap(s);
                prop_assert_eq!(r.simulate(s), p, "{:?}", s);
                if let Some(q) = r.run_under_limit(s) {
                    prop_assert_eq!(q, p, "under the limit {:?}", s);
                }
                prop_assert_eq!(r.run(s), p, "{:?}", s);
            }
        }
    }
}
