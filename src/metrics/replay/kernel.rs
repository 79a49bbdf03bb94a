//! Linux's retransmission timer for an orphan's FIN, as the replay uses it
//! (net/ipv4/tcp_timer.c: `tcp_retransmit_timer`, `tcp_write_timeout`,
//! `retransmits_timed_out`, `tcp_model_timeout`).

use crate::flow::state::{RTO_MAX_NS, RTO_MIN_NS};

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
pub(super) fn firing(t0: u64, d: u64, tlp: bool, k: u32) -> u64 {
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
