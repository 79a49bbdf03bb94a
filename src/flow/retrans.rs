//! Linux's retransmission model, as far as a passive observer needs it:
//! the schedule of an endpoint's outstanding SYN, SYN-ACK or FIN copies
//! ([`Backoff`]: when the next one is due, so when silence means the
//! socket gave up) and `tcp_model_timeout` ([`model_timeout`], and the
//! tcp_orphan_retries values a kill is consistent with). The state machine
//! ([`super::state`]) knows nothing of it: the tracker turns an overdue
//! copy into the machine's `GiveUp` event.

/// Linux's retransmission timer bounds (TCP_RTO_MIN, TCP_RTO_MAX) and the
/// initial SYN timeout (TCP_TIMEOUT_INIT).
pub const RTO_MIN_NS: u64 = 200_000_000;
pub const RTO_MAX_NS: u64 = 120_000_000_000;
pub const TIMEOUT_INIT_NS: u64 = 1_000_000_000;

/// A copy this soon after the previous one cannot come from a
/// retransmission timer (Linux's minimum RTO is 200 ms, a tail-loss probe
/// waits at least 10 ms): it is most likely the same packet captured twice.
pub const DUPLICATE_WINDOW_NS: u64 = 1_000_000;

/// The retransmission schedule of an endpoint's outstanding SYN, SYN-ACK
/// or FIN, as seen: when its copies left. The next copy of a live socket is
/// due one doubled interval after the last (exponential backoff, capped at
/// TCP_RTO_MAX); a socket whose next copy is overdue gave up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Backoff {
    /// First copy.
    pub first_ts: u64,
    /// Latest copy (duplicates within [`DUPLICATE_WINDOW_NS`] not counted).
    pub last_ts: u64,
    /// Interval before the latest copy (0: only one copy).
    pub interval: u64,
    /// Interval between the first two copies (0: one copy): the first
    /// retransmission timeout (or tail-loss probe) seen.
    pub first_interval: u64,
    /// Interval between the second and third copies (0: fewer copies).
    pub second_interval: u64,
    /// Copies after the first (retransmissions).
    pub retransmissions: u32,
}

impl Backoff {
    /// Whether the first repeat was a tail-loss probe: its interval equals
    /// the next one (within 10%), where an RTO retransmission would have
    /// doubled it. `None` before the third copy.
    pub fn first_was_probe(&self) -> Option<bool> {
        (self.retransmissions >= 2 && self.second_interval > 0).then(|| {
            self.gap_times(10)
                .is_some_and(|d| d <= self.second_interval)
        })
    }

    /// The difference of the first two intervals times `k`; `None` past
    /// 2^64 (a capture whose clock jumps makes intervals of decades).
    fn gap_times(&self, k: u64) -> Option<u64> {
        self.first_interval
            .abs_diff(self.second_interval)
            .checked_mul(k)
    }

    pub fn start(ts: u64) -> Backoff {
        Backoff {
            first_ts: ts,
            last_ts: ts,
            ..Backoff::default()
        }
    }

    /// Another copy at `ts`; false when it is a duplicate (within 1 ms).
    pub fn copy(&mut self, ts: u64) -> bool {
        let gap = ts.saturating_sub(self.last_ts);
        if gap < DUPLICATE_WINDOW_NS {
            return false;
        }
        match self.retransmissions {
            0 => self.first_interval = gap,
            1 => self.second_interval = gap,
            _ => {}
        }
        self.interval = gap;
        self.last_ts = ts;
        self.retransmissions += 1;
        true
    }

    /// The timeout that follows the latest copy: the last interval doubled,
    /// within [TCP_RTO_MIN, TCP_RTO_MAX] (a copy that came sooner than an RTO,
    /// a fast retransmission or a probe, is followed by at least one), or
    /// `initial` when no retransmission was seen (`None`: unknown, nothing
    /// can be inferred).
    pub fn next_timeout(&self, initial: Option<u64>) -> Option<u64> {
        if self.retransmissions == 0 {
            return initial;
        }
        Some(
            self.interval
                .saturating_mul(2)
                .clamp(RTO_MIN_NS, RTO_MAX_NS),
        )
    }

    /// When the next copy was due, and how long past it the observer must
    /// see nothing before concluding that it will not come (half the
    /// timeout: a timer never fires that late).
    pub fn overdue(&self, initial: Option<u64>) -> Option<(u64, u64)> {
        let rto = self.next_timeout(initial)?;
        Some((self.last_ts.saturating_add(rto), rto / 2 + 20_000_000))
    }
}

/// Largest tcp_orphan_retries value considered when inferring it.
pub const MAX_ORPHAN_RETRIES: u32 = 15;

/// Linux's `tcp_model_timeout(sk, boundary, TCP_RTO_MIN)`: how long after
/// its first RTO retransmission a socket with `boundary` retries may keep
/// retransmitting (net/ipv4/tcp_timer.c, `retransmits_timed_out`).
pub fn model_timeout(boundary: u32) -> u64 {
    // ilog2(TCP_RTO_MAX / TCP_RTO_MIN) = ilog2(600) = 9.
    const THRESH: u32 = 9;
    if boundary <= THRESH {
        ((2u64 << boundary) - 1) * RTO_MIN_NS
    } else {
        ((2u64 << THRESH) - 1) * RTO_MIN_NS + u64::from(boundary - THRESH) * RTO_MAX_NS
    }
}

/// The tcp_orphan_retries values (lo..=hi) consistent with an orphan whose
/// FIN copies are `b` and that died at `killed_at`. Linux decides at each
/// retransmission timer: it kills the orphan once the time since its first
/// RTO retransmission reaches `model_timeout(retries)`, else retransmits.
/// So the last copy came before that timeout and the kill at or after it.
/// A tail-loss probe may precede the RTO retransmissions: the first two
/// intervals are then equal instead of doubling.
pub fn orphan_retries_range(b: &Backoff, killed_at: u64) -> Option<(u32, u32)> {
    if b.retransmissions == 0 {
        return None;
    }
    let probe = b.retransmissions >= 2
        && b.second_interval > 0
        && b.gap_times(4).is_some_and(|d| d < b.second_interval);
    let first_rto = b.first_ts + b.first_interval + if probe { b.second_interval } else { 0 };
    let alive_for = b.last_ts.saturating_sub(first_rto);
    let dead_after = killed_at.saturating_sub(first_rto);
    let lo = (0..=MAX_ORPHAN_RETRIES).find(|n| model_timeout(*n) > alive_for)?;
    let hi = (0..=MAX_ORPHAN_RETRIES)
        .rev()
        .find(|n| model_timeout(*n) <= dead_after)?;
    (lo <= hi).then_some((lo, hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_due_times() {
        let ms = 1_000_000u64;
        let mut b = Backoff::start(0);
        assert_eq!(b.overdue(None), None);
        assert_eq!(
            b.overdue(Some(TIMEOUT_INIT_NS)),
            Some((1_000 * ms, 520 * ms))
        );
        assert!(b.copy(200 * ms));
        assert!(!b.copy(200 * ms + 500_000)); // a duplicate
        assert!(b.copy(400 * ms));
        assert!(b.copy(800 * ms));
        assert_eq!(b.retransmissions, 3);
        assert_eq!(b.first_interval, 200 * ms);
        // Next copy due at 0.8 + 2 x 0.4 s.
        assert_eq!(b.overdue(None).map(|o| o.0), Some(1_600 * ms));
        let mut b = Backoff::start(0);
        b.copy(100_000 * ms);
        assert_eq!(b.next_timeout(None), Some(RTO_MAX_NS));
    }

    /// Two equal intervals are a tail-loss probe and its RTO (within 10%
    /// for the report, 25% for the retries' range), a doubling is not; nor
    /// is a second interval of decades (a capture whose time jumps), whose
    /// difference times 10 is past 2^64.
    #[test]
    fn probes_by_their_intervals_even_decades_apart() {
        let ms = 1_000_000u64;
        let copies = |ts: &[u64]| {
            let mut b = Backoff::start(ts[0]);
            for &t in &ts[1..] {
                b.copy(t);
            }
            b
        };
        assert_eq!(
            copies(&[0, 200 * ms, 410 * ms]).first_was_probe(),
            Some(true)
        );
        assert_eq!(
            copies(&[0, 200 * ms, 600 * ms]).first_was_probe(),
            Some(false)
        );
        assert_eq!(copies(&[0, 200 * ms]).first_was_probe(), None);
        let years = 83 * 365 * 86_400_000 * ms;
        let far = copies(&[0, 200 * ms, 200 * ms + years]);
        assert_eq!(far.second_interval, years);
        assert_eq!(far.first_was_probe(), Some(false));
        // The retries' range takes the first RTO after the first interval
        // (no probe): alive for 83 years, past every retries count.
        assert_eq!(orphan_retries_range(&far, u64::MAX), None);
    }
}
