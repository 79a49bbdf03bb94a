//! Putting the kernel's messages on the capture's clock: the orphan
//! messages fitted to the orphan resets in the packets (issue 22).

use super::*;
use crate::host::{Alignment, HostEvidence, HostOptions, KernelKind, Method};
use crate::metrics::Summary;
use crate::metrics::replay::End;

/// A fitted orphan message lies within this of its reset (µs): the kernel
/// prints it in the same call that sends the RST.
const MATCH_US: u64 = 1_000;
/// Beyond this, a message's distance to the nearest reset counts as this
/// much in the fit's cost (µs).
const COST_CAP_US: u64 = 2_000;
/// Messages used to score one candidate offset.
const FIT_MESSAGES: usize = 400;
/// Candidate offsets tried at most.
const MAX_CANDIDATES: usize = 200_000;
/// When the capture shows the local kernel resetting an orphan (its RST
/// while the FIN was unACKed), µs since the epoch, sorted: the moments a
/// "too many orphaned sockets" message can be printed.
pub(super) fn reset_times_us(s: &Summary) -> Vec<u64> {
    let mut v: Vec<u64> = s
        .lives
        .iter()
        .filter_map(|l| match l.end {
            End::ResetAtClose => Some(l.t0 / 1_000),
            End::ResetLater => Some(l.t0.saturating_add(l.len) / 1_000),
            _ => None,
        })
        .collect();
    v.sort_unstable();
    v
}

/// The alignment of boot stamps: `--boot-time`, or both stamps of the same
/// messages, as the host gives them; else fitted on the packets (orphan
/// messages against orphan resets), from btime's second when there is one,
/// from the first burst otherwise; else btime alone. The note says what
/// was assumed when nothing fitted.
/// The boot stamps of the "too many orphaned sockets" messages that can
/// belong to the capture, sorted: with btime, those it puts within 2 s of
/// the capture's span (a whole boot's log holds older incidents' too);
/// without, all.
pub(super) fn orphan_stamps(ev: &HostEvidence, span: (u64, u64)) -> Vec<u64> {
    let mut v: Vec<u64> = ev
        .kernel_messages
        .iter()
        .filter(|m| m.kind == KernelKind::TooManyOrphans && m.wall_us.is_none())
        .filter_map(|m| m.boot_us)
        .filter(|&b| match ev.btime {
            Some(bt) => {
                let t = bt.saturating_mul(SEC).saturating_add(b);
                t.saturating_add(2 * SEC) >= span.0 && t <= span.1.saturating_add(2 * SEC)
            }
            None => true,
        })
        .collect();
    v.sort_unstable();
    v
}

pub(super) fn align(
    ev: &HostEvidence,
    opts: &HostOptions,
    resets: &[u64],
    msgs: &[u64],
) -> (Option<Alignment>, Option<String>) {
    // btime as dmesg --time-format iso uses it: the boot second's start
    // (the boot lies up to 1 s after it).
    let base = Alignment::from_host(ev, opts).map(|a| match (a.method, ev.btime) {
        (Method::Btime, Some(b)) => Alignment {
            method: Method::Btime,
            offset_us: i64::try_from(b.saturating_mul(SEC)).unwrap_or(i64::MAX),
            uncertainty_us: SEC,
        },
        _ => a,
    });
    if let Some(a) = base
        && matches!(a.method, Method::BootTime | Method::WallClock)
    {
        return (Some(a), None);
    }
    if msgs.is_empty() || resets.is_empty() {
        return (base, None);
    }
    let prior = ev.btime.map(|b| {
        let lo = i64::try_from(b.saturating_mul(SEC)).unwrap_or(i64::MAX / 2);
        // btime is cut down to the second; a little slack for the clocks'
        // drift since boot.
        (
            lo.saturating_sub(50_000),
            lo.saturating_add(SEC as i64 + 50_000),
        )
    });
    if let Some(f) = fit(msgs, resets, prior)
        && (f.matched * 2 >= msgs.len() as u64 && f.matched >= 3.min(msgs.len() as u64))
    {
        return (
            Some(Alignment::packets(f.offset, f.max_residual.max(1))),
            None,
        );
    }
    match base {
        Some(a) => (
            Some(a),
            Some(format!(
                "the {} orphan messages do not fit the capture's orphan resets within {} ms: kernel times placed by btime alone (±0.5 s)",
                msgs.len(),
                MATCH_US / 1_000
            )),
        ),
        None => {
            let offset = (resets[0] as i64).saturating_sub(msgs[0] as i64);
            (
                Some(Alignment::packets(offset, SEC)),
                Some(
                    "no btime and the orphan messages do not fit the capture's resets: the first message placed at the first reset (±1 s)"
                        .into(),
                ),
            )
        }
    }
}

/// A fitted offset (wall = boot + offset).
#[derive(Clone, Copy, Debug)]
pub(super) struct Fit {
    offset: i64,
    matched: u64,
    max_residual: u64,
    cost: u64,
}

/// The offset that puts the most orphan messages on an orphan reset:
/// candidates are (reset - message) within the prior's range (btime's
/// second), or without one, the first burst of messages against the first
/// resets; each is scored by the messages' distances to their nearest
/// reset (capped).
pub(super) fn fit(msgs: &[u64], resets: &[u64], prior: Option<(i64, i64)>) -> Option<Fit> {
    let scored = &msgs[..msgs.len().min(FIT_MESSAGES)];
    let mut cands: Vec<i64> = Vec::new();
    match prior {
        Some((lo, hi)) => {
            for &m in scored.iter().take(50) {
                let from = lo.saturating_add(m as i64).max(0) as u64;
                let to = hi.saturating_add(m as i64).max(0) as u64;
                let i = resets.partition_point(|&r| r < from);
                for &r in resets[i..].iter().take_while(|&&r| r <= to) {
                    cands.push((r as i64).saturating_sub(m as i64));
                    if cands.len() >= MAX_CANDIDATES {
                        break;
                    }
                }
            }
        }
        None => {
            for &m in scored.iter().take(10) {
                for &r in resets.iter().take(300) {
                    cands.push((r as i64).saturating_sub(m as i64));
                }
            }
        }
    }
    cands.sort_unstable();
    cands.dedup();
    let mut best: Option<Fit> = None;
    for c in cands {
        let f = score(scored, resets, c);
        if best.is_none_or(|b| f.cost < b.cost) {
            best = Some(f);
        }
    }
    best
}

pub(super) fn score(msgs: &[u64], resets: &[u64], offset: i64) -> Fit {
    let (mut cost, mut matched, mut max_residual) = (0u64, 0u64, 0u64);
    for &m in msgs {
        let t = (m as i64).saturating_add(offset);
        let d = nearest(resets, t);
        cost += d.min(COST_CAP_US);
        if d <= MATCH_US {
            matched += 1;
            max_residual = max_residual.max(d);
        }
    }
    Fit {
        offset,
        matched,
        max_residual,
        cost,
    }
}

/// Distance from `t` to the nearest of the sorted `v` (µs).
pub(super) fn nearest(v: &[u64], t: i64) -> u64 {
    let t = t.max(0) as u64;
    let i = v.partition_point(|&r| r < t);
    let after = v.get(i).map(|&r| r - t);
    let before = i.checked_sub(1).and_then(|j| v.get(j)).map(|&r| t - r);
    after.into_iter().chain(before).min().unwrap_or(u64::MAX)
}

pub(super) fn alignment_row(
    a: &Alignment,
    ev: &HostEvidence,
    resets: &[u64],
    msgs: &[u64],
) -> HostAlignment {
    let method = match a.method {
        Method::WallClock => "wall_clock",
        Method::Btime => "btime",
        Method::BootTime => "boot_time",
        Method::Packets => "packets",
    };
    let mut row = HostAlignment {
        method: method.into(),
        offset_us: a.offset_us,
        uncertainty_us: a.uncertainty_us,
        refined_from: None,
        fit: None,
    };
    if a.method == Method::Packets {
        row.refined_from = Some(
            if ev.btime.is_some() {
                "btime"
            } else {
                "first_burst"
            }
            .into(),
        );
        let f = score(msgs, resets, a.offset_us);
        row.fit = Some(AlignmentFit {
            messages: msgs.len() as u64,
            matched: f.matched,
            max_residual_us: f.max_residual,
        });
    }
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_of_nothing_is_far() {
        assert_eq!(nearest(&[], 5), u64::MAX);
        assert_eq!(nearest(&[10, 20], 14), 4);
        assert_eq!(nearest(&[10, 20], 16), 4);
        assert_eq!(nearest(&[10, 20], -3), 10);
    }

    /// Messages printed 3 µs after resets, boot 0.4 s into btime's second:
    /// the fit finds that offset among other resets 5 ms apart; without the
    /// prior, from the first burst.
    #[test]
    fn fit_finds_the_offset_of_the_messages() {
        let boot = 1_000_000_000_400_000i64;
        let resets: Vec<u64> = (0..2_000u64)
            .map(|k| 1_000_000_100_000_000 + k * 5_003)
            .collect();
        let msgs: Vec<u64> = resets
            .iter()
            .step_by(97)
            .map(|&r| (r as i64 + 3 - boot) as u64)
            .collect();
        let prior = Some((boot - 400_000, boot + 600_000));
        for p in [prior, None] {
            let f = fit(&msgs, &resets, p).expect("a fit");
            assert_eq!(f.matched, msgs.len() as u64);
            assert!((f.offset - boot).abs() <= 3, "{f:?}");
        }
    }

    /// Huge or hostile values neither panic nor wrap.
    #[test]
    fn extreme_values_do_not_overflow() {
        let _ = fit(&[u64::MAX], &[u64::MAX], Some((i64::MAX - 1, i64::MAX)));
        let _ = fit(&[u64::MAX, 0], &[0, u64::MAX], None);
        let f = score(&[0, u64::MAX], &[u64::MAX], i64::MIN);
        assert_eq!(f.matched, 0);
    }
}
