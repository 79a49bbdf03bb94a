//! The replay of a setting without limits (no `tcp_max_orphans`, no
//! `tcp_max_tw_buckets`) as intervals: without a limit the lives do not
//! interact, so each is a fixed set of intervals computed on its own, and
//! a peak is the most intervals holding a bucket end, found with a
//! difference array over the bucket ends (or, when they are too many, by
//! sorting the intervals' ends). `Replay::run` takes this path for such
//! settings, and for a tcp_max_orphans never exceeded, and predicts
//! exactly what its event simulation (`Replay::simulate`) does (the tests
//! here and in `sim_reference.rs`).

use super::{Prediction, Replay, Setting, draw, kill_budget_ns, kill_firing, unit};

/// The counters a life's interval can hold (indices, and bits of
/// [`Peaks::add`]): an orphan (every orphan phase, and FIN-WAIT-2 above
/// 60 s), FIN-WAIT-1 (an active close's orphan phase), TIME-WAIT.
const ORPHANS: usize = 0;
const FIN_WAIT_1: usize = 1;
const TIME_WAIT: usize = 2;

/// The bucket ends the replay reads counts at, as indices `k` (the end at
/// `k * bucket_ns`): from the first after the earliest start to the last
/// at most the end of observation (and below 2^64 - 1: the event
/// simulation never reads one at the end of time).
#[derive(Clone, Copy, Debug)]
struct Grid {
    bucket_ns: u64,
    /// `(2^64 - 1) / bucket_ns`: a quotient by the width as a multiply
    /// (a 64-bit division takes tens of cycles, four a life a setting).
    inverse: u64,
    /// First and last index read (none when `first > last`).
    first: u64,
    last: u64,
}

impl Grid {
    fn new(bucket_ns: u64, min_t0: u64, end_ns: u64) -> Grid {
        let b = bucket_ns.max(1);
        Grid {
            bucket_ns: b,
            inverse: u64::MAX / b,
            // (min_t0 / b + 1) * b may overflow: then it is past `last`
            // (as is 2^64 - 1, a start at the end of time with 1 ns).
            first: (min_t0 / b).saturating_add(1),
            last: end_ns.min(u64::MAX - 1) / b,
        }
    }

    /// `t.div_ceil(bucket_ns)`. The multiply gives the quotient or up to
    /// two less (`inverse` is within 1 of (2^64 - 1) / b, and t < 2^64),
    /// never more: the remainder's steps correct it.
    fn ceil(&self, t: u64) -> u64 {
        let b = self.bucket_ns;
        let mut q = ((u128::from(t) * u128::from(self.inverse)) >> 64) as u64;
        // q <= t / b: q * b <= t.
        let mut r = t - q * b;
        while r >= b {
            q += 1;
            r -= b;
        }
        q + u64::from(r > 0)
    }

    /// The bucket ends an interval [s, e) holds (those T with
    /// s <= T < e), as a range of indices from `first`: `None` if none.
    fn span(&self, s: u64, e: u64) -> Option<(u64, u64)> {
        let a = self.ceil(s).max(self.first);
        let z = self.ceil(e).min(self.last + 1);
        (a < z).then(|| (a - self.first, z - self.first))
    }

    /// Bucket ends read (0 when none).
    fn len(&self) -> u64 {
        (self.last + 1).saturating_sub(self.first)
    }
}

/// The most intervals that hold one bucket end, per counter.
enum Peaks {
    /// A difference array over the bucket ends (wrapping: a count is at
    /// most the number of lives, below 2^32).
    Diff(Vec<[u32; 3]>),
    /// Each counter's interval starts and ends, sorted at the end.
    Ends([(Vec<u64>, Vec<u64>); 3]),
}

impl Peaks {
    /// A difference array when the bucket ends are at most `max_span`,
    /// else sorted ends.
    fn new(grid: &Grid, max_span: u64) -> Peaks {
        match usize::try_from(grid.len()) {
            Ok(n) if grid.len() <= max_span => Peaks::Diff(vec![[0; 3]; n + 1]),
            _ => Peaks::Ends(Default::default()),
        }
    }

    /// Adds the interval of bucket indices [a, z) to the counters in `cs`
    /// (a bit per counter).
    #[inline]
    fn add(&mut self, (a, z): (u64, u64), cs: u8) {
        match self {
            Peaks::Diff(d) => {
                // a < z <= the grid's length: both in the array.
                let on: [u32; 3] = std::array::from_fn(|c| u32::from(cs >> c & 1));
                let start = &mut d[a as usize];
                for (x, on) in start.iter_mut().zip(on) {
                    *x = x.wrapping_add(on);
                }
                let end = &mut d[z as usize];
                for (x, on) in end.iter_mut().zip(on) {
                    *x = x.wrapping_sub(on);
                }
            }
            Peaks::Ends(e) => {
                for (c, e) in e.iter_mut().enumerate() {
                    if cs >> c & 1 == 1 {
                        e.0.push(a);
                        e.1.push(z);
                    }
                }
            }
        }
    }

    /// The peaks, per counter.
    fn peaks(self) -> [u64; 3] {
        let mut peak = [0u64; 3];
        match self {
            Peaks::Diff(d) => {
                let mut now = [0u32; 3];
                for x in d {
                    for c in 0..3 {
                        now[c] = now[c].wrapping_add(x[c]);
                        peak[c] = peak[c].max(u64::from(now[c]));
                    }
                }
            }
            Peaks::Ends(e) => {
                for (c, (starts, ends)) in e.into_iter().enumerate() {
                    peak[c] = most_at_once(starts, ends);
                }
            }
        }
        peak
    }
}

/// The most of the intervals [starts[i], ends[i]) that hold one point
/// (an interval ending where another starts is not held with it).
fn most_at_once(mut starts: Vec<u64>, mut ends: Vec<u64>) -> u64 {
    starts.sort_unstable();
    ends.sort_unstable();
    // At each start, the intervals begun minus those ended at or before
    // it ([a, z) does not hold z).
    let (mut gone, mut most) = (0usize, 0u64);
    for (n, a) in starts.iter().enumerate() {
        while ends.get(gone).is_some_and(|z| z <= a) {
            gone += 1;
        }
        most = most.max((n + 1 - gone) as u64);
    }
    most
}

/// Intervals as their starts and their ends.
type Spans = (Vec<u64>, Vec<u64>);

/// Most bucket ends a replay walks with a difference array: a few per
/// life, and at least the timeline's most (57,280 buckets).
fn max_span(lives: usize) -> u64 {
    (lives as u64).saturating_mul(4).saturating_add(1 << 16)
}

impl Replay {
    /// Each life's orphan length under `s` when some are redrawn (its
    /// fixed peers' lives: a draw from the other peers' ACKed lengths),
    /// else none (the demand's lengths).
    pub(super) fn lengths(&self, s: &Setting) -> Vec<u64> {
        if s.fixed_peers.is_empty() {
            return Vec::new();
        }
        // Whether each peer (by index) is fixed, looked up once; the
        // others' ACKed lengths.
        let fixed: Vec<bool> = self
            .peer_list
            .iter()
            .map(|p| s.fixed_peers.contains(p))
            .collect();
        let mut others: Vec<u64> = (0..fixed.len() as u32)
            .filter(|p| !fixed[*p as usize])
            .flat_map(|p| self.acked.get(p).iter().copied())
            .collect();
        if others.is_empty() {
            return Vec::new();
        }
        others.sort_unstable();
        self.demand
            .iter()
            .zip(&self.peers)
            .map(|(d, p)| {
                if fixed.get(*p as usize).copied().unwrap_or(false) {
                    draw(&others, 0, unit(d.t0, 2)).unwrap_or(d.len)
                } else {
                    d.len
                }
            })
            .collect()
    }

    /// `run` for a setting without limits (`max_orphans` and
    /// `max_tw_buckets` both `None`).
    pub(super) fn run_free(&self, s: &Setting) -> Prediction {
        self.free(s, max_span(self.demand.len()), false).0
    }

    /// `run` for a setting whose only limit is tcp_max_orphans, when the
    /// limit is never exceeded: the orphan count the kernel compares is
    /// the count just before some event (`simulate`'s `cache`), never
    /// above the most orphans at one time without the limit; when that
    /// many, times the weight, are at most the limit, no orphan is reset
    /// and the replay is the one without it (the firings it follows only
    /// kill where `kill_firing` says). `None`: it may be exceeded.
    pub(super) fn run_under_limit(&self, s: &Setting) -> Option<Prediction> {
        let m = s.max_orphans?;
        if s.max_tw_buckets.is_some() {
            return None;
        }
        let free = Setting {
            max_orphans: None,
            ..s.clone()
        };
        let (p, any) = self.free(&free, max_span(self.demand.len()), true);
        // The peak at bucket ends is at most the most at one time: past
        // the limit, no need to sort.
        if p.orphans_peak > m {
            return None;
        }
        let most = any.map_or(0, |(a, z)| most_at_once(a, z));
        most.checked_mul(self.weight)
            .is_some_and(|x| x <= m)
            .then_some(p)
    }

    /// `run_free`, with a difference array when at most `max_span` bucket
    /// ends are read (tests force either way).
    #[cfg(test)]
    pub(super) fn run_free_with(&self, s: &Setting, max_span: u64) -> Prediction {
        self.free(s, max_span, false).0
    }

    /// The replay without limits, and when `at_any` every orphan interval
    /// (starts, ends: [`most_at_once`] finds the most at one time).
    fn free(&self, s: &Setting, max_span: u64, at_any: bool) -> (Prediction, Option<Spans>) {
        debug_assert!(s.max_orphans.is_none() && s.max_tw_buckets.is_none());
        let Some(min_t0) = self.demand.iter().map(|d| d.t0).min() else {
            return (Prediction::default(), None);
        };
        // Every orphan interval, when `at_any`.
        let mut any: Option<Spans> = at_any.then(Default::default);
        let mut orphan = |s: u64, e: u64| {
            if let Some((a, z)) = &mut any
                && s < e
            {
                a.push(s);
                z.push(e);
            }
        };
        let grid = Grid::new(self.bucket_ns, min_t0, self.end_ns);
        let mut peaks = Peaks::new(&grid, max_span);
        let len = self.lengths(s);
        let orphan_fw2 = s.fin_timeout_ns > 60_000_000_000;
        let fin = s.fin_timeout_ns;
        let budget = s.orphan_retries.map(kill_budget_ns);
        let mut kills = 0u64;
        for (i, d) in self.demand.iter().enumerate() {
            let end = d.t0.saturating_add(len.get(i).copied().unwrap_or(d.len));
            let phase = if d.passive {
                1 << ORPHANS
            } else {
                1 << ORPHANS | 1 << FIN_WAIT_1
            };
            // Killed by tcp_orphan_retries at a firing before the end:
            // nothing follows.
            if let Some(b) = budget
                && let Some((f, _)) = kill_firing(d, end, b)
            {
                kills += 1;
                orphan(d.t0, f);
                if let Some(k) = grid.span(d.t0, f) {
                    peaks.add(k, phase);
                }
                continue;
            }
            orphan(d.t0, end);
            if let Some(k) = grid.span(d.t0, end) {
                peaks.add(k, phase);
            }
            if d.passive || d.open {
                continue;
            }
            // FIN-WAIT-2 (an orphan above 60 s), then TIME-WAIT from the
            // peer's FIN if it came within tcp_fin_timeout.
            let tw_from = match d.fw2() {
                Some(0) => end,
                fw2 => {
                    let fw2_end = end.saturating_add(fw2.map_or(fin, |f| f.min(fin)));
                    if orphan_fw2 {
                        orphan(end, fw2_end);
                        if let Some(k) = grid.span(end, fw2_end) {
                            peaks.add(k, 1 << ORPHANS);
                        }
                    }
                    if fw2.is_none_or(|f| f > fin) {
                        continue;
                    }
                    fw2_end
                }
            };
            if let Some(k) = grid.span(tw_from, tw_from.saturating_add(self.time_wait_ns)) {
                peaks.add(k, 1 << TIME_WAIT);
            }
        }
        let peak = peaks.peaks();
        let w = self.weight;
        let p = Prediction {
            fin_wait_1_peak: peak[FIN_WAIT_1] * w,
            orphans_peak: peak[ORPHANS] * w,
            time_wait_peak: peak[TIME_WAIT] * w,
            orphan_resets: 0,
            orphans_killed: kills * w,
            tw_overflows: 0,
        };
        (p, any)
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::{End, Life, Lives};
    use super::*;

    const S: u64 = 1_000_000_000;
    const MS: u64 = 1_000_000;

    /// An active close at `t0_ms` whose orphan phase lasts `len_ms`, the
    /// peer's FIN with its ACK (TIME-WAIT at once), no retransmission.
    fn life(t0_ms: u64, len_ms: u64) -> Life {
        Life {
            peer: "192.0.2.1".parse().unwrap(),
            t0: t0_ms * MS,
            len: len_ms * MS,
            end: End::Acked,
            passive: false,
            fw2: Some(0),
            first_rto: 0,
            tlp: true,
            late: None,
        }
    }

    fn free(fin_timeout_ns: u64) -> Setting {
        Setting {
            fin_timeout_ns,
            ..Setting::default()
        }
    }

    /// Both ways of finding the peaks, and the event simulation: one
    /// prediction.
    fn both(r: &Replay, s: &Setting) -> Prediction {
        let p = r.run_free_with(s, 1 << 20);
        assert_eq!(p, r.run_free_with(s, 0), "sorted ends");
        assert_eq!(p, r.simulate(s), "event simulation");
        p
    }

    /// Bucket ends every 1 s; lives [0.5, 2.5) s and [1.0, 3.0) s (held
    /// at 1 s: it starts there; not at 3 s: it ends there), [2.0, 2.0)
    /// (len 0: never held), a passive [1.5, 3.3) s. At 2 s: three orphans,
    /// two active; at 3 s: the passive one. TIME-WAIT 1.5 s from each
    /// active end: [2.5, 4.0), [3.0, 4.5), [2.0, 3.5): three at 3 s.
    #[test]
    fn peaks_are_the_most_intervals_at_one_bucket_end() {
        let mut passive = life(1_500, 1_800);
        passive.passive = true;
        let list = vec![
            life(500, 2_000),
            life(1_000, 2_000),
            life(2_000, 0),
            passive,
        ];
        let r = Replay::new(&Lives::of(list.clone(), 0), S, 1_500 * MS, 10 * S);
        let p = both(&r, &free(60 * S));
        let peaks = |p: Prediction| (p.orphans_peak, p.fin_wait_1_peak, p.time_wait_peak);
        assert_eq!(peaks(p), (3, 2, 3));
        assert_eq!(p.orphans_killed, 0);
        // Observation ends at 2.9 s: only the ends at 1 and 2 s are read
        // (TIME-WAIT: one at 2 s); weight 2 counts each life twice.
        let r = Replay::new(&Lives::of(list, 1), S, 1_500 * MS, 2_900 * MS);
        assert_eq!(peaks(both(&r, &free(60 * S))), (6, 4, 2));
    }

    /// FIN-WAIT-2 of 5 s under tcp_fin_timeout 90 s is an orphan: [3, 8)
    /// s after the orphan phase [1, 3) s; then TIME-WAIT [8, 9) s. At 60 s
    /// it is not an orphan; at 2 s it is cut at 5 s and no TIME-WAIT
    /// follows.
    #[test]
    fn fin_wait_2_counts_as_an_orphan_above_60_s() {
        let mut a = life(1_000, 2_000);
        a.fw2 = Some(5 * S);
        // Another whose orphan phase holds 4 s: [3.5, 4.5) s.
        let b = life(3_500, 1_000);
        let r = Replay::new(&Lives::of(vec![a, b], 0), S, S, 100 * S);
        let p = both(&r, &free(90 * S));
        assert_eq!((p.orphans_peak, p.fin_wait_1_peak), (2, 1));
        assert_eq!(p.time_wait_peak, 1);
        let p = both(&r, &free(60 * S));
        assert_eq!((p.orphans_peak, p.fin_wait_1_peak), (1, 1));
        // FIN-WAIT-2 [3, 5) s, no TIME-WAIT for a; b's [4.5, 5.5) s.
        let p = both(&r, &free(2 * S));
        assert_eq!((p.orphans_peak, p.time_wait_peak), (1, 1));
    }

    /// tcp_orphan_retries 1 kills an orphan 1.6 s after its FIN (200 ms
    /// RTO after a probe: firings at 0.4, 0.8, 1.6 s): [0, 1.6) s, no
    /// TIME-WAIT; weight 4 counts it four times.
    #[test]
    fn a_killed_orphan_ends_at_the_killing_firing() {
        let mut a = life(0, 5_000);
        a.first_rto = 200 * MS;
        let r = Replay::new(&Lives::of(vec![a], 2), 500 * MS, 60 * S, 100 * S);
        let s = Setting {
            orphan_retries: Some(1),
            ..free(60 * S)
        };
        let p = both(&r, &s);
        assert_eq!(
            (p.orphans_killed, p.orphans_peak, p.time_wait_peak),
            (4, 4, 0)
        );
        // Held at 0.5, 1.0, 1.5 s only: a grid of 1.6 s sees none (its
        // first end is 1.6 s).
        let r = Replay::new(&Lives::of(vec![a], 0), 1_600 * MS, 60 * S, 100 * S);
        let p = both(&r, &s);
        assert_eq!((p.orphans_killed, p.orphans_peak), (1, 0));
    }

    /// Two orphans [0.1, 0.5) s and [0.2, 0.6) s, bucket ends every 1 s:
    /// none at a bucket end, two at once in between. Under
    /// tcp_max_orphans 2 nothing is reset and the replay is the free one;
    /// under 1 the shortcut does not apply (two at once) though nothing is
    /// reset (the count at 0.2 s is 1); under 0 the second is reset at its
    /// close.
    #[test]
    fn a_limit_never_exceeded_replays_as_without_it() {
        let r = Replay::new(
            &Lives::of(vec![life(100, 400), life(200, 400)], 0),
            S,
            60 * S,
            10 * S,
        );
        let limit = |m: u64| Setting {
            max_orphans: Some(m),
            ..free(60 * S)
        };
        let without = both(&r, &free(60 * S));
        assert_eq!((without.orphans_peak, without.time_wait_peak), (0, 2));
        assert_eq!(r.run_under_limit(&limit(2)), Some(without));
        assert_eq!(r.run(&limit(2)), r.simulate(&limit(2)));
        assert_eq!(r.run_under_limit(&limit(1)), None);
        assert_eq!(r.run(&limit(1)), without);
        assert_eq!(r.run_under_limit(&limit(0)), None);
        let p = r.run(&limit(0));
        assert_eq!((p.orphan_resets, p.time_wait_peak), (1, 1));
        // A TIME-WAIT limit: the event simulation.
        let tw = Setting {
            max_tw_buckets: Some(100),
            ..limit(2)
        };
        assert_eq!(r.run_under_limit(&tw), None);
    }

    /// The quotient by multiply is `div_ceil`'s, for widths and times at
    /// both ends of the range.
    #[test]
    fn the_grid_divides_exactly() {
        let edges = |x: u64| {
            [
                0,
                1,
                2,
                3,
                x - 1,
                x,
                x.wrapping_add(1),
                u64::MAX / 2,
                u64::MAX - 1,
                u64::MAX,
            ]
        };
        for b in [
            1,
            2,
            3,
            7,
            1_000_000_000,
            1 << 63,
            (1 << 63) + 1,
            u64::MAX - 1,
            u64::MAX,
        ] {
            let g = Grid::new(b, 0, u64::MAX);
            for k in [1u64, 2, 3, 1 << 20, u64::MAX / b] {
                for t in edges(k.saturating_mul(b).max(2)) {
                    assert_eq!(g.ceil(t), t.div_ceil(b), "{t} / {b}");
                }
            }
        }
        for seed in 0..100_000u64 {
            let (t, b) = (
                super::super::super::mix64(seed),
                super::super::super::mix64(!seed),
            );
            let b = b >> (seed % 64);
            let g = Grid::new(b, 0, 0);
            assert_eq!(g.ceil(t), t.div_ceil(b.max(1)), "{t} / {b}");
        }
    }

    /// Lives at the end of time: an orphan phase that saturates holds
    /// every bucket end after its start; none is read at 2^64 - 1.
    #[test]
    fn times_near_the_end_of_time_saturate() {
        let mut a = life(0, 0);
        a.t0 = u64::MAX - 3;
        a.len = 10;
        let mut b = a;
        b.t0 = u64::MAX - 5;
        let r = Replay::new(&Lives::of(vec![a, b], 0), 1, 7, u64::MAX);
        let p = both(&r, &free(60 * S));
        // Bucket ends 2^64 - 5 .. 2^64 - 2: both hold 2^64 - 4 and on
        // (their ends saturate: TIME-WAIT from 2^64 - 1 is never read).
        assert_eq!((p.orphans_peak, p.time_wait_peak), (2, 0));
        // A start at the end of time, 1 ns buckets: no end after it.
        let mut c = a;
        c.t0 = u64::MAX;
        let r = Replay::new(&Lives::of(vec![c], 0), 1, 7, u64::MAX);
        assert_eq!(both(&r, &free(60 * S)), Prediction::default());
        // One bucket of 2^64 - 1 ns: its only end is the end of time.
        let r = Replay::new(&Lives::of(vec![a, b], 0), u64::MAX, 7, u64::MAX);
        assert_eq!(both(&r, &free(60 * S)), Prediction::default());
    }
}
