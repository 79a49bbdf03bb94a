//! Invariants of the remedies' counterfactual replay
//! (`finscope::metrics::replay`), shared by the `replay` and `close_model`
//! targets (included with `#[path]`).

use finscope::metrics::replay::{End, Lives, Prediction, Replay, Setting};

/// A pool of two threads, made once, for `Replay::new`'s parallel path.
fn pool() -> &'static rayon::ThreadPool {
    static POOL: std::sync::OnceLock<rayon::ThreadPool> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .expect("a pool of two threads")
    })
}

/// The kernel's orphan-count refresh (`tcp_orphan_update`), ns.
const TICK: u64 = 100_000_000;

/// Most bucket ends the reference count walks (beyond it only the
/// inequalities are checked).
const MAX_GRID: u64 = 20_000;

/// Checks `Replay::new(lives, bucket_ns, time_wait_ns, end_ns)` under
/// `base` and under `base` with `tcp_max_orphans` = `limit`:
///
/// - no panic (overflow checks on), no hang;
/// - built on a pool of two threads (the report's from -j2) it is the
///   replay built on one;
/// - without a limit no orphan is reset; without `orphan_retries` none is
///   killed; without `max_tw_buckets` no TIME-WAIT overflow;
/// - resets + kills, and TIME-WAIT overflows, at most one per life (times
///   the weight);
/// - adding only a limit never raises the FIN-WAIT-1 or orphan peak (each
///   orphan either lives as without it or ends earlier);
/// - under a limit L the orphan peak is at most L plus, per 100 ms tick,
///   the lives that start in it (times the weight): the kernel compares
///   the count of the tick's start, so a tick admits at most its starts
///   past L;
/// - with no limit, no kills and only lives whose length is their own
///   (ACKed, peer reset, open) and no peer fixed, the FIN-WAIT-1 peak is
///   the most active-close lives `[t0, t0 + len)` that hold a bucket end
///   (`(min t0 / bucket + 1) * bucket`, then every bucket, up to `end_ns`),
///   counted here directly.
pub fn check(
    lives: &Lives,
    bucket_ns: u64,
    time_wait_ns: u64,
    end_ns: u64,
    base: &Setting,
    limit: u64,
) {
    let r = Replay::new(lives, bucket_ns, time_wait_ns, end_ns);
    // Rebuilt on a pool (the report's from -j2: sort and peers at once,
    // the demand in parts): the same replay.
    let on_pool = pool().install(|| Replay::new(lives, bucket_ns, time_wait_ns, end_ns));
    assert_eq!(
        format!("{r:?}"),
        format!("{on_pool:?}"),
        "Replay::new on a pool of two threads differs from one thread's"
    );
    let w = lives.weight();
    let n = lives.len() as u64 * w;
    let free = r.run(&Setting {
        max_orphans: None,
        ..base.clone()
    });
    let capped = r.run(&Setting {
        max_orphans: Some(limit),
        ..base.clone()
    });
    let ctx = || {
        format!(
            "lives {:?} bucket {bucket_ns} tw {time_wait_ns} end {end_ns} setting {base:?} limit {limit}",
            lives.iter().collect::<Vec<_>>()
        )
    };
    for (p, name) in [(&free, "no limit"), (&capped, "limit")] {
        let p: &Prediction = p;
        assert!(
            p.orphan_resets.saturating_add(p.orphans_killed) <= n,
            "{name}: more resets and kills than lives: {p:?}\n{}",
            ctx()
        );
        assert!(p.tw_overflows <= n, "{name}: {p:?}\n{}", ctx());
        assert!(
            p.fin_wait_1_peak <= p.orphans_peak,
            "{name}: FIN-WAIT-1 peak above the orphan peak: {p:?}\n{}",
            ctx()
        );
        if base.orphan_retries.is_none() {
            assert_eq!(
                p.orphans_killed,
                0,
                "{name}: kills without orphan_retries\n{}",
                ctx()
            );
        }
        if base.max_tw_buckets.is_none() {
            assert_eq!(
                p.tw_overflows,
                0,
                "{name}: overflows without a bucket limit\n{}",
                ctx()
            );
        }
    }
    assert_eq!(
        free.orphan_resets,
        0,
        "resets without a limit: {free:?}\n{}",
        ctx()
    );
    assert!(
        capped.orphans_peak <= free.orphans_peak && capped.fin_wait_1_peak <= free.fin_wait_1_peak,
        "a limit raised a peak: {capped:?} vs {free:?}\n{}",
        ctx()
    );
    let mut starts: std::collections::BTreeMap<u64, u64> = Default::default();
    for l in lives.iter() {
        *starts.entry(l.t0 / TICK).or_default() += 1;
    }
    let most = starts.values().copied().max().unwrap_or(0);
    assert!(
        capped.orphans_peak <= limit.saturating_add(most.saturating_mul(w)),
        "orphan peak {} above the limit {limit} + {most} starts in a tick (weight {w}): {capped:?}\n{}",
        capped.orphans_peak,
        ctx()
    );

    // The reference count.
    let own = lives
        .iter()
        .all(|l| matches!(l.end, End::Acked | End::PeerReset | End::Open));
    if !own || base.orphan_retries.is_some() || !base.fixed_peers.is_empty() {
        return;
    }
    let Some(first) = lives.iter().map(|l| l.t0).min() else {
        assert_eq!(free, Prediction::default(), "no lives\n{}", ctx());
        return;
    };
    let b = bucket_ns.max(1);
    let Some(start) = (first / b).checked_add(1).and_then(|k| k.checked_mul(b)) else {
        return;
    };
    if start > end_ns || (end_ns - start) / b > MAX_GRID {
        if start > end_ns {
            assert_eq!(
                free.fin_wait_1_peak,
                0,
                "a peak with no bucket end\n{}",
                ctx()
            );
        }
        return;
    }
    let mut peak = 0u64;
    let mut at = start;
    loop {
        let held = lives
            .iter()
            .filter(|l| !l.passive && l.t0 <= at && at < l.t0.saturating_add(l.len))
            .count() as u64;
        peak = peak.max(held * w);
        match at.checked_add(b) {
            Some(next) if next <= end_ns => at = next,
            _ => break,
        }
    }
    assert_eq!(
        free.fin_wait_1_peak,
        peak,
        "FIN-WAIT-1 peak {} but {peak} counted at bucket ends\n{}",
        free.fin_wait_1_peak,
        ctx()
    );
}
