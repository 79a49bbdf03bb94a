//! Who holds the FIN: a peer's verdict with its evidence in words
//! ([`FinDelay`]) and its sums for the `mergeable` object
//! ([`FinDelayParts`]), from [`FinDelaySums`].

use super::mergeable::compact_parts;
use crate::metrics::fin_delay::{FIN_SLOW_US, FinDelaySums, FinVerdict};
use crate::report::format::{dur, thousands};
use crate::report::schema::fin_delay::{FinDelay, FinDelayParts};

impl FinDelay {
    /// The verdict on `s` and the figures that name it.
    pub fn of(s: &FinDelaySums) -> FinDelay {
        let v = s.verdict();
        let (data, rtx) = s.data();
        let mut ev = Vec::new();
        let slow = format!(
            "{} of {} local FINs waited {} or more (or were never ACKed, or queued behind a zero window)",
            thousands(s.counts.slow_fins),
            thousands(s.counts.local_fins),
            dur(FIN_SLOW_US)
        );
        let rtt = || {
            s.data_rtt
                .quantile(0.5)
                .map(|p| format!("data round trip p50 {}", dur(p)))
        };
        let hs = || {
            s.handshake
                .quantile(0.5)
                .map(|p| format!("handshake round trip p50 {}", dur(p)))
        };
        let rtx_line = format!(
            "{} data retransmissions of {}",
            thousands(rtx),
            thousands(data)
        );
        let fin_ack = || {
            s.slow_fin_ack
                .quantile(0.5)
                .map(|p| format!("slow FINs ACKed after p50 {}", dur(p)))
        };
        match v {
            FinVerdict::None => ev.push(format!(
                "{} of {} local FINs waited {} or more",
                thousands(s.counts.slow_fins),
                thousands(s.counts.local_fins),
                dur(FIN_SLOW_US)
            )),
            FinVerdict::Unknown => {
                if s.counts.local_fins == 0 {
                    ev.push("no local FIN towards it".to_string());
                } else {
                    ev.push(slow);
                    ev.push(format!(
                        "{} of them retransmitted, {} data segments: no rule names a holder (a dropped FIN needs half of them answered only by a later copy and {} data segments to compare)",
                        thousands(s.counts.slow_fins_retransmitted),
                        thousands(data),
                        crate::metrics::fin_delay::MIN_DATA_SEGS
                    ));
                }
            }
            FinVerdict::PeerZeroWindow => {
                ev.push(slow);
                ev.push(format!(
                    "{} local FINs queued behind the peer's zero window ({} zero-window advertisements, {} window probes)",
                    thousands(s.counts.zw_fins),
                    thousands(s.counts.peer_zero_windows),
                    thousands(s.counts.local_probes)
                ));
                if let (Some(wait), Some(held)) = (
                    s.counts.zw_wait_us.checked_div(s.counts.zw_fins),
                    s.counts.zw_held_bytes.checked_div(s.counts.zw_fins),
                ) {
                    ev.push(format!(
                        "stall to FIN mean {}, {} bytes held per socket on average",
                        dur(wait),
                        thousands(held)
                    ));
                }
            }
            FinVerdict::MiddleboxReply => {
                ev.push(slow);
                let ex = s
                    .ttl_example
                    .map(|(a, p)| format!(" (e.g. TTL {a} against the peer's {p})"))
                    .unwrap_or_default();
                ev.push(format!(
                    "{} of {} slow FINs ACKed (or reset) with another TTL than the peer's own segments{ex}",
                    thousands(s.counts.slow_fin_ttl_other),
                    thousands(s.counts.slow_fin_ttl_known)
                ));
            }
            FinVerdict::PeerSlow => {
                ev.push(slow);
                ev.extend(hs());
                ev.extend(rtt());
                ev.extend(fin_ack());
            }
            FinVerdict::PathLoss => {
                ev.push(slow);
                ev.push(rtx_line);
                ev.push(format!(
                    "{} duplicate ACKs ({} from the peer, {} to it)",
                    thousands(
                        s.counts
                            .peer_dup_acks
                            .saturating_add(s.counts.local_dup_acks)
                    ),
                    thousands(s.counts.peer_dup_acks),
                    thousands(s.counts.local_dup_acks)
                ));
                ev.extend(rtt());
            }
            FinVerdict::FinDropped => {
                ev.push(slow);
                ev.push(format!(
                    "{} of them retransmitted",
                    thousands(s.counts.slow_fins_retransmitted)
                ));
                ev.extend(rtt());
                ev.push(rtx_line);
            }
        }
        let connections = match v {
            FinVerdict::None | FinVerdict::Unknown => s.counts.local_fins,
            _ => s.counts.slow_fins,
        };
        FinDelay {
            verdict: v.name().to_string(),
            evidence: ev,
            connections,
        }
    }
}

impl FinDelayParts {
    /// `s`, exactly.
    pub fn of(s: &FinDelaySums) -> FinDelayParts {
        FinDelayParts {
            counts: s.counts,
            ttl_example: s.ttl_example.map(|(a, b)| [a, b]),
            data_rtt: compact_parts(&s.data_rtt),
            handshake: compact_parts(&s.handshake),
            slow_fin_ack: compact_parts(&s.slow_fin_ack),
        }
    }
}
