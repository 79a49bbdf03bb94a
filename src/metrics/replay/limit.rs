//! tcp_max_orphans inferred from the kernel's resets (docs/diagnosis.md,
//! "The orphan limit").

use super::kernel::firing;
use super::{End, Life, Lives};
use crate::flow::state::RTO_MIN_NS;

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
        let resets: Vec<Life> = self
            .iter()
            .filter(|l| matches!(l.end, End::ResetAtClose | End::ResetLater))
            .collect();
        if (resets.len() as u64) * w < MIN_RESETS {
            return None;
        }
        // (time, kind): +1 orphan start, -1 orphan end, 0 a check that
        // passed, 2 a check that reset. Ends before checks before starts
        // at one time.
        let mut ev: Vec<(u64, u8, i8)> = Vec::with_capacity(self.len() * 4);
        for l in self.iter() {
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
