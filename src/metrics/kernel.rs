//! Evidence of the capturing host's kernel settings (tcp_orphan_retries,
//! tcp_fin_timeout, rto_min, orphans reset), mergeable.

use super::{Hist, add};
use crate::flow::conn::Conn;
use crate::flow::key::Side;
use crate::flow::state::TcpState;
use std::collections::BTreeMap;

/// The fewest supporting connections for a tunable to be inferred or a
/// finding raised (docs/diagnosis.md, "Evidence thresholds").
pub const MIN_EVIDENCE: u64 = 3;

/// Evidence of the capturing host's kernel settings, mergeable.
#[derive(Clone, Debug, Default)]
pub struct KernelEvidence {
    /// Local orphans inferred killed, by the FIN retransmissions seen
    /// before the silence (timer-spaced: duplicates within 1 ms excluded).
    pub killed_by_rtx: BTreeMap<u32, u64>,
    /// Killed local orphans by the range of tcp_orphan_retries values
    /// their retransmission schedule is consistent with
    /// ([`crate::flow::state::orphan_retries_range`]).
    pub killed_ranges: BTreeMap<(u32, u32), u64>,
    /// Of those, with the first retransmission at the same interval as the
    /// second (a tail-loss probe before the RTO retransmissions).
    pub killed_with_probe: u64,
    /// Of those, confirmed by a later bare RST from the local host.
    pub kills_confirmed: u64,
    /// Killed local sockets by the state they were in.
    pub killed_in: BTreeMap<&'static str, u64>,
    /// Most FIN retransmissions of a local FIN that was ACKed in the end.
    pub survivor_max_rtx: u32,
    /// Local FIN-WAIT-2 sockets that ACKed the peer's FIN normally after
    /// this long (us): tcp_fin_timeout is at least this (orphans only).
    pub fin_wait_2_survived_max_us: Option<u64>,
    /// Local FIN-WAIT-2 sockets gone (the peer's FIN answered with a bare
    /// RST) after this long (us): tcp_fin_timeout is at most this.
    pub fin_wait_2_gone_min_us: Option<u64>,
    pub fin_wait_2_gone: u64,
    pub fin_wait_2_survived: u64,
    /// First retransmission intervals of local FINs, us.
    pub first_rto_us: Hist,
    /// Local orphans reset while their FIN was unACKed (RST|ACK: the
    /// kernel's tcp_max_orphans / memory pressure, or an abort).
    pub orphans_reset: u64,
}

impl std::ops::AddAssign<&KernelEvidence> for KernelEvidence {
    fn add_assign(&mut self, o: &KernelEvidence) {
        // Every field, no `..`: a new one does not compile until merged.
        let KernelEvidence {
            killed_by_rtx,
            killed_ranges,
            killed_with_probe,
            kills_confirmed,
            killed_in,
            survivor_max_rtx,
            fin_wait_2_survived_max_us,
            fin_wait_2_gone_min_us,
            fin_wait_2_gone,
            fin_wait_2_survived,
            first_rto_us,
            orphans_reset,
        } = o;
        for (k, v) in killed_by_rtx {
            add(self.killed_by_rtx.entry(*k).or_default(), v);
        }
        for (k, v) in killed_ranges {
            add(self.killed_ranges.entry(*k).or_default(), v);
        }
        for (k, v) in killed_in {
            add(self.killed_in.entry(k).or_default(), v);
        }
        add(&mut self.killed_with_probe, killed_with_probe);
        add(&mut self.kills_confirmed, kills_confirmed);
        self.survivor_max_rtx = self.survivor_max_rtx.max(*survivor_max_rtx);
        self.fin_wait_2_survived_max_us = self
            .fin_wait_2_survived_max_us
            .max(*fin_wait_2_survived_max_us);
        self.fin_wait_2_gone_min_us = match (self.fin_wait_2_gone_min_us, *fin_wait_2_gone_min_us) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        add(&mut self.fin_wait_2_gone, fin_wait_2_gone);
        add(&mut self.fin_wait_2_survived, fin_wait_2_survived);
        self.first_rto_us += first_rto_us;
        add(&mut self.orphans_reset, orphans_reset);
    }
}

impl KernelEvidence {
    /// The tcp_orphan_retries value most killed orphans are consistent
    /// with, and how many are; `None` when fewer than [`MIN_EVIDENCE`] are.
    /// Only values the sysctl can take effect with: 0 means 8 for an orphan
    /// that is alive (net/ipv4/tcp_timer.c, `tcp_orphan_retries()`; an
    /// orphan gives up at once only after an ICMP error), so a schedule
    /// that fits 0 retries alone names no setting.
    pub fn orphan_retries(&self) -> Option<(u32, u64)> {
        (1..=crate::flow::state::MAX_ORPHAN_RETRIES)
            .map(|n| {
                let k: u64 = self
                    .killed_ranges
                    .iter()
                    .filter(|((lo, hi), _)| *lo <= n && n <= *hi)
                    .map(|(_, c)| c)
                    .sum();
                (n, k)
            })
            .filter(|(_, k)| *k >= MIN_EVIDENCE)
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
    }

    /// tcp_fin_timeout bounds in whole seconds (the sysctl's unit), each
    /// from at least [`MIN_EVIDENCE`] FIN-WAIT-2 sockets: (at least, at
    /// most; a lower bound below 1 s says nothing and is left out). A
    /// socket that outlived another one's "timeout" contradicts it: then
    /// neither bound is inferred.
    pub fn fin_timeout_bounds(&self) -> (Option<u64>, Option<u64>) {
        let at_least = self
            .fin_wait_2_survived_max_us
            .filter(|_| self.fin_wait_2_survived >= MIN_EVIDENCE)
            .map(|us| us / 1_000_000)
            .filter(|s| *s >= 1);
        let at_most = self
            .fin_wait_2_gone_min_us
            .filter(|_| self.fin_wait_2_gone >= MIN_EVIDENCE);
        match (self.fin_wait_2_survived_max_us, at_most) {
            (Some(lived), Some(gone)) if lived > gone => (None, None),
            _ => (at_least, at_most.map(|us| us / 1_000_000)),
        }
    }

    /// Takes what the local side `local` of `c` shows.
    pub(super) fn add(&mut self, c: &Conn, local: Side) {
        let l = &c.ep[local];
        if l.fin_first_rto_us > 0 && l.fin_rtx_fast == 0 {
            self.first_rto_us.record(u64::from(l.fin_first_rto_us));
        }
        if l.state() == TcpState::Killed {
            let b = &l.backoff;
            *self.killed_by_rtx.entry(b.retransmissions).or_default() += 1;
            if b.first_was_probe() == Some(true) {
                self.killed_with_probe += 1;
            }
            self.kills_confirmed += u64::from(l.kill_confirmed);
            if let Some(r) = l
                .killed_at
                .and_then(|k| crate::flow::state::orphan_retries_range(b, k))
            {
                *self.killed_ranges.entry(r).or_default() += 1;
            }
            let before = l
                .machine
                .transitions
                .iter()
                .filter(|(s, _)| *s != TcpState::Killed)
                .last()
                .map_or(TcpState::Inactive, |x| x.0);
            *self.killed_in.entry(before.key()).or_default() += 1;
        } else if l.fin_acked_ts.is_some() {
            self.survivor_max_rtx = self.survivor_max_rtx.max(l.fin_rtx);
        }
        if l.reset_awaiting_ack {
            self.orphans_reset += 1;
        }
        // FIN-WAIT-2: how long it lasted, and how it ended.
        // Each transition with the one before (no list collected: this
        // runs once per retired connection).
        let mut before = None;
        for (next, t_next) in l.machine.transitions.iter() {
            let Some((TcpState::FinWait2, t)) = before.replace((next, t_next)) else {
                continue;
            };
            let d = t_next.saturating_sub(t) / 1_000;
            match next {
                TcpState::TimeWait => {
                    self.fin_wait_2_survived += 1;
                    self.fin_wait_2_survived_max_us = self.fin_wait_2_survived_max_us.max(Some(d));
                }
                TcpState::Closed if l.fin_wait_2_gone() => {
                    self.fin_wait_2_gone += 1;
                    self.fin_wait_2_gone_min_us =
                        Some(self.fin_wait_2_gone_min_us.map_or(d, |m| m.min(d)));
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// tcp_fin_timeout bounds: whole seconds, from 3 sockets, none when
    /// they contradict each other (issue 21: "at least 0.002s, at most 0s").
    #[test]
    fn fin_timeout_bounds_are_whole_seconds_and_agree() {
        let k = KernelEvidence {
            fin_wait_2_survived_max_us: Some(2_000),
            fin_wait_2_survived: 2,
            fin_wait_2_gone_min_us: Some(211),
            fin_wait_2_gone: 27,
            ..KernelEvidence::default()
        };
        // A survivor outlived the shortest "gone": neither bound.
        assert_eq!(k.fin_timeout_bounds(), (None, None));
        let k = KernelEvidence {
            fin_wait_2_survived_max_us: Some(4_900_000),
            fin_wait_2_survived: 3,
            fin_wait_2_gone_min_us: Some(10_600_000),
            fin_wait_2_gone: 3,
            ..KernelEvidence::default()
        };
        assert_eq!(k.fin_timeout_bounds(), (Some(4), Some(10)));
        // Two "gone" sockets are below the evidence minimum.
        let k = KernelEvidence {
            fin_wait_2_gone: 2,
            ..k
        };
        assert_eq!(k.fin_timeout_bounds(), (Some(4), None));
    }

    /// tcp_orphan_retries: never 0 (it means 8), and from 3 kills.
    #[test]
    fn orphan_retries_needs_three_kills_and_is_never_zero() {
        let mut k = KernelEvidence::default();
        k.killed_ranges.insert((0, 2), 5);
        assert_eq!(k.orphan_retries(), Some((1, 5)));
        let mut k = KernelEvidence::default();
        k.killed_ranges.insert((0, 0), 5);
        assert_eq!(k.orphan_retries(), None);
        let mut k = KernelEvidence::default();
        k.killed_ranges.insert((2, 2), 2);
        assert_eq!(k.orphan_retries(), None);
        k.killed_ranges.insert((1, 3), 1);
        assert_eq!(k.orphan_retries(), Some((2, 3)));
    }
}
