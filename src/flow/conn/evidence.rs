//! What a connection shows about *why* a FIN waited (issue 25): cheap,
//! fixed-size counters per direction, updated by [`Conn::step`] before the
//! segment moves the state machines, and carried whole by the compact form.
//!
//! Per sender (the side whose segments they count):
//! - data segments and data retransmissions (payload that does not reach
//!   past the furthest payload the side sent before);
//! - duplicate ACKs: pure ACKs repeating the previous ACK number while the
//!   other side has data beyond it;
//! - zero-window advertisements, and window probes (zero-length segments
//!   one below the sender's next sequence number while the other side's
//!   window is zero: Linux's tcp_xmit_probe_skb, which tshark labels a
//!   keep-alive);
//! - data round trips of its data: one segment timed at a time (Karn: a
//!   retransmission cancels the sample), from the segment to the first ACK
//!   that covers it;
//! - its TTL / hop limit: the majority value (Boyer-Moore vote) and the TTL
//!   of the segment that first ACKed the other side's FIN (or its RST
//!   answering that FIN);
//! - a FIN queued behind a zero window: when its FIN followed a stall on
//!   the other side's zero window, the stall's start (close() came
//!   between the stall's start and the FIN: FIN-WAIT-1 from the stall is
//!   an upper bound of its length) and the bytes the socket held
//!   (its data end at the FIN minus what the receiver had ACKed at the
//!   stall).
//!
//! And per connection the handshake times (first SYN, first SYN-ACK, the
//! ACK of the SYN-ACK).

use super::Conn;
use crate::decode::{Segment, flags};
use crate::flow::key::Side;
use crate::flow::state::TcpState;

/// A FIN sent this long after a zero-window stall ended still counts as
/// queued behind it: the window reopened and data + FIN went out together.
pub const ZW_FIN_GAP_NS: u64 = 1_000_000_000;

/// One direction's evidence: what its sender did. Laid out in declaration
/// order (`repr(C)`), what most segments read or write first (the TTL
/// vote, the last ACK, the timed segment, the stall, the data counts: one
/// cache line), the counts and sums that change rarely behind.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DirEvidence {
    // Tracking (not evidence themselves).
    ttl_votes: u32,
    last_ack: u32,
    /// The segment being timed: its end and time (0: none).
    timed_end: u32,
    /// The other side's zero-window stall against this sender: its start,
    /// end (0 while open) and the ACK number at its start.
    stall_ack: u32,
    timed_ts: u64,
    stall_start: u64,
    stall_end: u64,
    /// Segments with payload.
    pub data_segs: u32,
    /// Of them, retransmissions (not past the sender's earlier data end).
    pub data_rtx: u32,
    /// Majority TTL / hop limit of its segments (0: none seen).
    pub ttl_mode: u8,
    has_last_ack: bool,
    /// Its last advertised window was zero.
    win_zero: bool,
    /// TTL of its segment that first ACKed the other side's FIN, or of its
    /// RST answering it (0: none).
    pub fin_ack_ttl: u8,
    /// Duplicate ACKs it sent.
    pub dup_acks: u32,
    /// Zero-window advertisements it sent.
    pub zero_windows: u32,
    /// Window probes it sent into the other side's zero window.
    pub probes: u32,
    /// Data round trips of its data (segment -> covering ACK).
    pub rtt_samples: u32,
    /// Bytes its socket held then (data end at the FIN minus what the
    /// other side had ACKed at the stall's start).
    pub zw_held_bytes: u32,
    pub rtt_sum_us: u64,
    pub rtt_min_us: u64,
    pub rtt_max_us: u64,
    /// Its FIN followed a stall on the other side's zero window: the
    /// stall's start (ns), 0 if not.
    pub zw_fin_since: u64,
}

/// A connection's evidence (`repr(C)`: the handshake times, read by most
/// segments, next to the first direction's hot part).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Evidence {
    /// First SYN, first SYN-ACK, first ACK of that SYN-ACK (ns, 0: none).
    pub syn_ts: u64,
    pub synack_ts: u64,
    pub hs_ack_ts: u64,
    /// By sender side (index 0: A, 1: B).
    pub dir: [DirEvidence; 2],
}

/// Number of time words and count words in the compact form.
pub const NTIMES: usize = 3 + 2 * 5;
pub const NCOUNTS: usize = 2 * 17;

/// The count words that are sequence numbers, with the side (0: A, 1: B)
/// whose data end they lie near (the compact form stores the difference):
/// each direction's last ACK (the other side's data), timed segment end
/// and stall ACK (its own data).
pub const SEQ_COUNTS: [(usize, usize); 6] = [
    (12, 1),
    (14, 0),
    (15, 0),
    (17 + 12, 0),
    (17 + 14, 1),
    (17 + 15, 1),
];

fn ix(s: Side) -> usize {
    match s {
        Side::A => 0,
        Side::B => 1,
    }
}

impl Evidence {
    pub fn of(&self, s: Side) -> &DirEvidence {
        &self.dir[ix(s)]
    }

    /// SYN -> SYN-ACK (the server's leg seen from the capture point) and
    /// SYN-ACK -> its ACK (the client's leg), us.
    pub fn handshake_us(&self) -> (Option<u64>, Option<u64>) {
        let d = |a: u64, b: u64| (a != 0 && b >= a).then(|| (b - a) / 1000);
        (
            d(self.syn_ts, self.synack_ts),
            d(self.synack_ts, self.hs_ack_ts),
        )
    }

    /// The times, for the compact form.
    pub fn times(&self) -> [u64; NTIMES] {
        let mut t = [0u64; NTIMES];
        t[0] = self.syn_ts;
        t[1] = self.synack_ts;
        t[2] = self.hs_ack_ts;
        for (i, d) in self.dir.iter().enumerate() {
            let o = 3 + i * 5;
            t[o..o + 5].copy_from_slice(&[
                d.zw_fin_since,
                d.timed_ts,
                d.stall_start,
                d.stall_end,
                0,
            ]);
        }
        t
    }

    /// The counts, for the compact form.
    pub fn counts(&self) -> [u64; NCOUNTS] {
        let mut c = [0u64; NCOUNTS];
        for (i, d) in self.dir.iter().enumerate() {
            let o = i * 17;
            c[o..o + 17].copy_from_slice(&[
                u64::from(d.data_segs),
                u64::from(d.data_rtx),
                u64::from(d.dup_acks),
                u64::from(d.zero_windows),
                u64::from(d.probes),
                u64::from(d.rtt_samples),
                d.rtt_sum_us,
                d.rtt_min_us,
                d.rtt_max_us,
                u64::from(d.ttl_mode) | u64::from(d.fin_ack_ttl) << 8,
                u64::from(d.zw_held_bytes),
                u64::from(d.ttl_votes),
                u64::from(d.last_ack),
                u64::from(d.has_last_ack) | u64::from(d.win_zero) << 1,
                u64::from(d.timed_end),
                u64::from(d.stall_ack),
                0,
            ]);
        }
        c
    }

    /// The way back from [`Evidence::times`] and [`Evidence::counts`];
    /// `None` when a count does not fit its field.
    pub fn from_words(t: &[u64; NTIMES], c: &[u64; NCOUNTS]) -> Option<Evidence> {
        let u32_ = |v: u64| u32::try_from(v).ok();
        let mut e = Evidence {
            syn_ts: t[0],
            synack_ts: t[1],
            hs_ack_ts: t[2],
            ..Evidence::default()
        };
        for (i, d) in e.dir.iter_mut().enumerate() {
            let (t, c) = (&t[3 + i * 5..], &c[i * 17..]);
            *d = DirEvidence {
                data_segs: u32_(c[0])?,
                data_rtx: u32_(c[1])?,
                dup_acks: u32_(c[2])?,
                zero_windows: u32_(c[3])?,
                probes: u32_(c[4])?,
                rtt_samples: u32_(c[5])?,
                rtt_sum_us: c[6],
                rtt_min_us: c[7],
                rtt_max_us: c[8],
                ttl_mode: (c[9] & 0xff) as u8,
                fin_ack_ttl: ((c[9] >> 8) & 0xff) as u8,
                zw_fin_since: t[0],
                zw_held_bytes: u32_(c[10])?,
                ttl_votes: u32_(c[11])?,
                last_ack: u32_(c[12])?,
                has_last_ack: c[13] & 1 != 0,
                win_zero: c[13] & 2 != 0,
                timed_end: u32_(c[14])?,
                timed_ts: t[1],
                stall_start: t[2],
                stall_end: t[3],
                stall_ack: u32_(c[15])?,
            };
        }
        Some(e)
    }
}

impl Conn {
    /// Updates the evidence with `seg` from `side`, before the segment is
    /// applied (the sender's data end is still the one before it).
    pub(super) fn observe(&mut self, seg: &Segment, side: Side) {
        let peer = side.other();
        let s = ix(side);
        let ts = seg.ts_ns;
        let rst = seg.has(flags::RST);
        let syn = seg.has(flags::SYN);
        let ack = seg.has(flags::ACK);
        let sender = &self.ep[side];
        let data_end = sender.data_end;
        let first_fin = seg.has(flags::FIN) && sender.fin_ts.is_none();
        let peer_ep = &self.ep[peer];
        let acks_peer_fin = ack
            && peer_ep.fin_ts.is_some()
            && peer_ep.fin_acked_ts.is_none()
            && seg.ack > peer_ep.fin_pos;
        let answers_peer_fin = rst && peer_ep.fin_ts.is_some() && peer_ep.fin_acked_ts.is_none();
        let peer_data_end = peer_ep.data_end;
        let peer_isn = peer_ep.isn;

        // Handshake times.
        if syn && !ack && self.ev.syn_ts == 0 {
            self.ev.syn_ts = ts;
        } else if syn && ack && self.ev.synack_ts == 0 {
            self.ev.synack_ts = ts;
        } else if !syn
            && ack
            && self.ev.synack_ts != 0
            && self.ev.hs_ack_ts == 0
            && peer_isn.is_some_and(|i| seg.ack == i + 1)
        {
            self.ev.hs_ack_ts = ts;
        }

        let (d, o) = if s == 0 {
            let [a, b] = &mut self.ev.dir;
            (a, b)
        } else {
            let [a, b] = &mut self.ev.dir;
            (b, a)
        };

        // TTL majority.
        if seg.ttl != 0 {
            if d.ttl_votes == 0 {
                d.ttl_mode = seg.ttl;
                d.ttl_votes = 1;
            } else if d.ttl_mode == seg.ttl {
                d.ttl_votes = d.ttl_votes.saturating_add(1);
            } else {
                d.ttl_votes -= 1;
            }
        }
        if (acks_peer_fin || answers_peer_fin) && d.fin_ack_ttl == 0 {
            d.fin_ack_ttl = seg.ttl;
        }

        // Data, retransmissions, and the timed segment.
        if seg.payload_len > 0 && !rst {
            d.data_segs = d.data_segs.saturating_add(1);
            let start = if syn { seg.seq + 1 } else { seg.seq };
            let end = start + seg.payload_len;
            let new = data_end.is_none_or(|e| end > e);
            if !new {
                d.data_rtx = d.data_rtx.saturating_add(1);
                // Karn: a retransmission covering the timed segment spoils it.
                if d.timed_ts != 0 && crate::decode::seq::SeqNum(d.timed_end) >= start {
                    d.timed_ts = 0;
                }
            } else if d.timed_ts == 0 {
                d.timed_end = end.0;
                d.timed_ts = ts;
            }
        }

        // The other side's timed data, covered by this ACK.
        if ack && !rst && o.timed_ts != 0 && seg.ack >= crate::decode::seq::SeqNum(o.timed_end) {
            let us = ts.saturating_sub(o.timed_ts) / 1000;
            o.rtt_min_us = if o.rtt_samples == 0 {
                us
            } else {
                o.rtt_min_us.min(us)
            };
            o.rtt_max_us = o.rtt_max_us.max(us);
            o.rtt_sum_us = o.rtt_sum_us.saturating_add(us);
            o.rtt_samples = o.rtt_samples.saturating_add(1);
            o.timed_ts = 0;
        }

        if !syn && !rst && ack {
            // Duplicate ACKs: a pure ACK repeating the last ACK number
            // while the other side has data beyond it.
            let pure = seg.payload_len == 0 && !seg.has(flags::FIN);
            if pure
                && !seg.zero_window
                && d.has_last_ack
                && d.last_ack == seg.ack.0
                && peer_data_end.is_some_and(|e| e > seg.ack)
            {
                d.dup_acks = d.dup_acks.saturating_add(1);
            }
            d.last_ack = seg.ack.0;
            d.has_last_ack = true;
            // Window probes into the other side's zero window.
            if pure && o.win_zero && data_end.is_some_and(|e| seg.seq + 1 == e) {
                d.probes = d.probes.saturating_add(1);
            }
            // Zero windows, and the stall they impose on the other side.
            if seg.zero_window {
                d.zero_windows = d.zero_windows.saturating_add(1);
                let new_stall = o.stall_start == 0
                    || (o.stall_end != 0 && ts.saturating_sub(o.stall_end) > ZW_FIN_GAP_NS);
                if new_stall {
                    o.stall_start = ts;
                    o.stall_ack = seg.ack.0;
                }
                o.stall_end = 0;
                d.win_zero = true;
            } else {
                if d.win_zero && o.stall_start != 0 && o.stall_end == 0 {
                    o.stall_end = ts;
                }
                d.win_zero = false;
            }
        }

        // Its first FIN: queued behind a zero window?
        if first_fin && d.stall_start != 0 {
            let open_or_just = d.stall_end == 0 || ts.saturating_sub(d.stall_end) <= ZW_FIN_GAP_NS;
            if open_or_just && ts >= d.stall_start {
                d.zw_fin_since = d.stall_start;
                let fin_end = seg.seq + seg.payload_len;
                d.zw_held_bytes = fin_end.0.wrapping_sub(d.stall_ack).min(1 << 30);
            }
        }
    }
}

/// A FIN queued behind a zero window since `since` (0: not): the socket
/// was closed (close() queued the FIN behind unsent data) somewhere between
/// the stall's start and the FIN leaving, so the ESTABLISHED (CLOSE-WAIT)
/// interval that ends at the FIN `fin` is FIN-WAIT-1 (LAST-ACK) from the
/// stall on: an estimate, an upper bound of the state's length.
pub fn queued_behind_zero_window(out: &mut Vec<(TcpState, u64, u64)>, since: u64, fin: u64) {
    if since == 0 {
        return;
    }
    let Some(i) = out
        .iter()
        .position(|&(_, s, e)| s < since && since < e && e == fin)
    else {
        return;
    };
    let (st, s, e) = out[i];
    let next = match st {
        TcpState::Established => TcpState::FinWait1,
        TcpState::CloseWait => TcpState::LastAck,
        _ => return,
    };
    out[i] = (st, s, since);
    match out.get_mut(i + 1) {
        Some(n) if n.0 == next && n.1 == e => n.1 = since,
        _ => out.insert(i + 1, (next, since, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TcpState::*;

    /// The ESTABLISHED interval that ends at the FIN becomes FIN-WAIT-1 from
    /// the stall, joined to the FIN-WAIT-1 after it; CLOSE-WAIT likewise
    /// becomes LAST-ACK; a stall outside that interval changes nothing.
    #[test]
    fn a_fin_behind_a_zero_window_moves_the_close_to_the_stall() {
        let mut v = vec![
            (Established, 0, 100),
            (FinWait1, 100, 150),
            (TimeWait, 150, 900),
        ];
        queued_behind_zero_window(&mut v, 40, 100);
        assert_eq!(
            v,
            [
                (Established, 0, 40),
                (FinWait1, 40, 150),
                (TimeWait, 150, 900)
            ]
        );

        let mut v = vec![(CloseWait, 10, 100), (LastAck, 100, 120)];
        queued_behind_zero_window(&mut v, 30, 100);
        assert_eq!(v, [(CloseWait, 10, 30), (LastAck, 30, 120)]);

        // The FIN was the last thing seen: FIN-WAIT-1 is inserted.
        let mut v = vec![(Established, 0, 100)];
        queued_behind_zero_window(&mut v, 60, 100);
        assert_eq!(v, [(Established, 0, 60), (FinWait1, 60, 100)]);

        let orig = vec![(Established, 0, 100), (FinWait1, 100, 150)];
        for (since, fin) in [(0, 100), (100, 100), (120, 100), (40, 90)] {
            let mut v = orig.clone();
            queued_behind_zero_window(&mut v, since, fin);
            assert_eq!(v, orig, "since {since}, fin {fin}");
        }
    }
}
