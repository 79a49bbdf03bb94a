//! Close tracking for one connection, as a passive observer sees it.
//!
//! The observer cannot know what a host received, so each endpoint keeps
//! what it was *seen* to send (zeek's model): its first FIN (time and the
//! sequence position the peer's ACK must pass), FIN retransmissions, the
//! first ACK from the peer that covers its FIN, RSTs. [`Conn::step`] is the
//! whole state machine: a pure function of the connection and one segment.
//! [`Conn::finish`] derives the outcome when the connection leaves the table.
//!
//! Definitions (docs/report.md has the full text):
//! - FIN position = seq + payload length: the sequence number the FIN itself
//!   occupies; an ACK covers the FIN when ack >= position + 1 (mod 2^32).
//! - FIN retransmission: a later FIN from the same side whose position does
//!   not advance past the first FIN's; *spurious* when the first FIN had
//!   already been ACKed.

use super::key::{FlowKey, Side};
use super::seq::SeqNum;
use crate::decode::{Segment, flags};

/// A FIN copy this soon after the previous one cannot come from a
/// retransmission timer (Linux's minimum RTO is 200 ms, a tail-loss probe
/// waits at least 10 ms): it is most likely the same packet captured twice.
pub const DUPLICATE_WINDOW_NS: u64 = 1_000_000;

/// How the client/server roles were decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SidesBy {
    /// A SYN (without ACK) was seen: its sender is the client.
    Syn,
    /// Only a SYN-ACK was seen: its sender is the server.
    SynAck,
    /// No handshake seen: the lower (well-known first) port is the server.
    Port,
}

/// The close outcome of a connection; every connection has exactly one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    /// Both sides sent FIN, both FINs ACKed, FINs did not cross.
    Complete,
    /// Both FINs ACKed, and the second FIN was sent before the first was ACKed.
    Simultaneous,
    /// RST with no FIN before it.
    Reset,
    /// RST after at least one FIN.
    ResetAfterFin,
    /// One side's FIN ACKed, the other side never closed.
    HalfClosed,
    /// Some FIN not ACKed at the end of observation (FIN-WAIT-1 / LAST-ACK).
    FinUnacked,
    /// No FIN, no RST.
    Open,
}

impl Outcome {
    pub const ALL: [Outcome; 7] = [
        Outcome::Complete,
        Outcome::Simultaneous,
        Outcome::Reset,
        Outcome::ResetAfterFin,
        Outcome::HalfClosed,
        Outcome::FinUnacked,
        Outcome::Open,
    ];

    /// Stable name (JSON key).
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Complete => "complete",
            Outcome::Simultaneous => "simultaneous",
            Outcome::Reset => "reset",
            Outcome::ResetAfterFin => "reset_after_fin",
            Outcome::HalfClosed => "half_closed",
            Outcome::FinUnacked => "fin_unacked",
            Outcome::Open => "open",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// What one endpoint was seen to send.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EndpointState {
    /// Time of the first FIN.
    pub fin_ts: Option<u64>,
    /// Position of the FIN (seq + payload length).
    pub fin_pos: SeqNum,
    /// Time of the first ACK from the other side that covers the FIN.
    pub fin_acked_ts: Option<u64>,
    /// FIN retransmissions sent before the FIN was ACKed.
    pub fin_rtx: u32,
    /// FIN retransmissions sent after it was ACKed (spurious).
    pub fin_rtx_spurious: u32,
    /// Time from the first FIN to its first retransmission, us (0: none):
    /// the first RTO, for the backoff model.
    pub fin_first_rto_us: u32,
    /// Time of the latest copy of the FIN (first or retransmitted).
    pub fin_last_ts: u64,
    /// FIN retransmissions that came less than [`DUPLICATE_WINDOW_NS`] after
    /// the previous copy: faster than any retransmission timer.
    pub fin_rtx_fast: u32,
    /// RST segments sent.
    pub rsts: u32,
    /// ISN from this side's SYN.
    pub isn: Option<SeqNum>,
    /// Segments and payload bytes sent.
    pub segments: u64,
    pub bytes: u64,
}

impl EndpointState {
    pub fn fin_retransmissions(&self) -> u32 {
        self.fin_rtx + self.fin_rtx_spurious
    }
}

/// Live state of one connection (one generation of a flow key).
#[derive(Clone, Debug)]
pub struct Conn {
    pub key: FlowKey,
    pub first_ts: u64,
    pub last_ts: u64,
    pub first_frame: u64,
    pub last_frame: u64,
    /// Client side (0 or 1), when a handshake decided it.
    pub client: Option<(u8, SidesBy)>,
    pub ep: [EndpointState; 2],
    /// Side that sent the first FIN.
    pub first_fin: Option<Side>,
    /// The second FIN was sent before the first was ACKed.
    pub crossed: bool,
    /// Time of the first RST, and whether a FIN came before it.
    pub rst_ts: Option<u64>,
    pub fin_before_rst: bool,
    /// FINs that advanced past an earlier FIN of the same side (protocol anomaly).
    pub fin_moved: u32,
    /// Time of this connection's entry in its shard's expiry queue.
    pub queued_at: u64,
}

impl Conn {
    pub fn new(key: FlowKey, seg: &Segment) -> Conn {
        Conn {
            key,
            first_ts: seg.ts_ns,
            last_ts: seg.ts_ns,
            first_frame: seg.frame,
            last_frame: seg.frame,
            client: None,
            ep: [EndpointState::default(); 2],
            first_fin: None,
            crossed: false,
            rst_ts: None,
            fin_before_rst: false,
            fin_moved: 0,
            queued_at: 0,
        }
    }

    /// True when a SYN from `side` must start a new connection on this key:
    /// the previous one closed or reset, and this is not its own SYN again.
    /// A SYN with a new ISN from a side whose earlier ISN is known is a new
    /// attempt even without a seen close (the capture may have missed it).
    pub fn is_reuse(&self, seg: &Segment, side: Side) -> bool {
        if !seg.has(flags::SYN) || seg.has(flags::ACK) {
            return false;
        }
        match self.ep[side].isn {
            Some(isn) => isn != seg.seq,
            None => self.first_fin.is_some() || self.rst_ts.is_some(),
        }
    }

    /// When the close is final (both FINs ACKed, or reset): the time of that.
    pub fn closed_at(&self) -> Option<u64> {
        if let (Some(a), Some(b)) = (self.ep[0].fin_acked_ts, self.ep[1].fin_acked_ts) {
            return Some(a.max(b));
        }
        self.rst_ts
    }

    /// The moment after which this connection is over and any later packet on
    /// its key belongs to a new connection: `time_wait` after a final close,
    /// or `idle` after the last packet.
    pub fn dead_at(&self, idle: u64, time_wait: u64) -> u64 {
        let idle_end = self.last_ts.saturating_add(idle);
        match self.closed_at() {
            Some(c) => idle_end.min(c.saturating_add(time_wait).max(self.last_ts)),
            None => idle_end,
        }
    }

    /// Applies one segment sent by `side`. The whole state machine.
    /// Returns true when the segment is a FIN retransmission.
    pub fn step(&mut self, seg: &Segment, side: Side) -> bool {
        let mut fin_rtx = false;
        let other = 1 - side;
        self.last_ts = self.last_ts.max(seg.ts_ns);
        self.last_frame = seg.frame;
        let ep = &mut self.ep[side];
        ep.segments += 1;
        ep.bytes += u64::from(seg.payload_len);

        // Handshake: a SYN names the client; a SYN-ACK names the server
        // unless a SYN already decided.
        if seg.has(flags::SYN) {
            if !seg.has(flags::ACK) {
                if ep.isn.is_none() {
                    ep.isn = Some(seg.seq);
                }
                if !matches!(self.client, Some((_, SidesBy::Syn))) {
                    self.client = Some((side as u8, SidesBy::Syn));
                }
            } else {
                if ep.isn.is_none() {
                    ep.isn = Some(seg.seq);
                }
                if self.client.is_none() {
                    self.client = Some((other as u8, SidesBy::SynAck));
                }
            }
        }

        // ACK first: a FIN|ACK that acknowledges the peer's FIN did not cross it.
        if seg.has(flags::ACK) {
            let peer = &mut self.ep[other];
            if let Some(_fin) = peer.fin_ts
                && peer.fin_acked_ts.is_none()
                && seg.ack > peer.fin_pos
            {
                peer.fin_acked_ts = Some(seg.ts_ns);
            }
        }

        if seg.has(flags::FIN) {
            let pos = seg.seq + seg.payload_len;
            let peer_fin_unacked =
                self.ep[other].fin_ts.is_some() && self.ep[other].fin_acked_ts.is_none();
            let ep = &mut self.ep[side];
            match ep.fin_ts {
                // First FIN of this side.
                None => {
                    ep.fin_ts = Some(seg.ts_ns);
                    ep.fin_last_ts = seg.ts_ns;
                    ep.fin_pos = pos;
                    if self.first_fin.is_none() {
                        self.first_fin = Some(side);
                    } else if peer_fin_unacked {
                        self.crossed = true;
                    }
                    if self.rst_ts.is_none() {
                        self.fin_before_rst = true;
                    }
                }
                // Same position or earlier: a retransmission of the FIN.
                Some(_) if pos <= ep.fin_pos => {
                    fin_rtx = true;
                    if ep.fin_rtx + ep.fin_rtx_spurious == 0 {
                        let rto = seg.ts_ns.saturating_sub(ep.fin_ts.unwrap_or(seg.ts_ns));
                        ep.fin_first_rto_us = u32::try_from(rto / 1_000).unwrap_or(u32::MAX).max(1);
                    }
                    if seg.ts_ns.saturating_sub(ep.fin_last_ts) < DUPLICATE_WINDOW_NS {
                        ep.fin_rtx_fast += 1;
                    }
                    ep.fin_last_ts = seg.ts_ns;
                    if ep.fin_acked_ts.is_some() {
                        ep.fin_rtx_spurious += 1;
                    } else {
                        ep.fin_rtx += 1;
                    }
                }
                // A FIN further on: the earlier one was not final. Count it as
                // an anomaly and let ACKs be judged against the new position.
                Some(_) => {
                    ep.fin_pos = pos;
                    ep.fin_acked_ts = None;
                    self.fin_moved += 1;
                }
            }
        }

        if seg.has(flags::RST) {
            self.ep[side].rsts += 1;
            if self.rst_ts.is_none() {
                self.rst_ts = Some(seg.ts_ns);
            }
        }
        fin_rtx
    }

    /// Client side and how it was decided; by port when no handshake was seen.
    pub fn client_side(&self) -> (Side, SidesBy) {
        if let Some((c, by)) = self.client {
            return (usize::from(c), by);
        }
        let (pa, pb) = (self.key.a.1, self.key.b.1);
        // The server is the well-known port, else the lower port.
        let server = match (pa < 1024, pb < 1024) {
            (true, false) => 0,
            (false, true) => 1,
            _ if pa <= pb => 0,
            _ => 1,
        };
        (1 - server, SidesBy::Port)
    }

    /// The outcome, judged at the end of observation.
    pub fn outcome(&self) -> Outcome {
        if self.rst_ts.is_some() {
            return if self.fin_before_rst {
                Outcome::ResetAfterFin
            } else {
                Outcome::Reset
            };
        }
        let [a, b] = &self.ep;
        match (a.fin_ts.is_some(), b.fin_ts.is_some()) {
            (false, false) => Outcome::Open,
            (true, true) => {
                if a.fin_acked_ts.is_some() && b.fin_acked_ts.is_some() {
                    if self.crossed {
                        Outcome::Simultaneous
                    } else {
                        Outcome::Complete
                    }
                } else {
                    Outcome::FinUnacked
                }
            }
            _ => {
                let e = if a.fin_ts.is_some() { a } else { b };
                if e.fin_acked_ts.is_some() {
                    Outcome::HalfClosed
                } else {
                    Outcome::FinUnacked
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! The state machine without pcaps: segments from a template.
    use super::*;
    use crate::decode::flags::*;

    const C: &str = "10.0.0.1";
    const S: &str = "192.0.2.7";

    fn seg(from_client: bool, t_ms: u64, f: u8, seq: u32, ack: u32, len: u32) -> Segment {
        let (src, sport, dst, dport) = if from_client {
            (C, 40000, S, 80)
        } else {
            (S, 80, C, 40000)
        };
        Segment {
            ts_ns: t_ms * 1_000_000,
            frame: t_ms,
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            sport,
            dport,
            vlan: 0,
            seq: SeqNum(seq),
            ack: SeqNum(ack),
            flags: f,
            payload_len: len,
        }
    }

    fn run(segs: &[Segment]) -> Conn {
        let (k, _) = FlowKey::of(&segs[0]);
        let mut c = Conn::new(k, &segs[0]);
        for s in segs {
            let (_, side) = FlowKey::of(s);
            c.step(s, side);
        }
        c
    }

    /// Handshake with client ISN `ci` and server ISN `si`.
    fn established(ci: u32, si: u32) -> Vec<Segment> {
        vec![
            seg(true, 0, SYN, ci, 0, 0),
            seg(false, 1, SYN | ACK, si, ci.wrapping_add(1), 0),
            seg(true, 2, ACK, ci.wrapping_add(1), si.wrapping_add(1), 0),
        ]
    }

    // ---- ESTABLISHED -> complete close ----
    #[test]
    fn four_way_close() {
        let mut s = established(100, 500);
        s.push(seg(true, 10, FIN | ACK, 101, 501, 0));
        s.push(seg(false, 12, ACK, 501, 102, 0));
        s.push(seg(false, 20, FIN | ACK, 501, 102, 0));
        s.push(seg(true, 21, ACK, 102, 502, 0));
        let c = run(&s);
        assert_eq!(c.outcome(), Outcome::Complete);
        let (client, by) = c.client_side();
        assert_eq!(by, SidesBy::Syn);
        assert_eq!(c.first_fin, Some(client));
        assert_eq!(c.ep[client].fin_acked_ts, Some(12_000_000));
        assert_eq!(c.closed_at(), Some(21_000_000));
    }

    // ---- FIN-WAIT-1: retransmissions, then a late ACK, then a spurious one ----
    #[test]
    fn fin_retransmissions_before_and_after_ack() {
        let mut s = established(100, 500);
        s.push(seg(true, 10, FIN | ACK, 101, 501, 0));
        s.push(seg(true, 210, FIN | ACK, 101, 501, 0));
        s.push(seg(true, 610, FIN | ACK, 101, 501, 0));
        s.push(seg(false, 14010, ACK, 501, 102, 0));
        s.push(seg(true, 15000, FIN | ACK, 101, 501, 0));
        let c = run(&s);
        let cl = c.client_side().0;
        assert_eq!(c.ep[cl].fin_rtx, 2);
        assert_eq!(c.ep[cl].fin_rtx_spurious, 1);
        assert_eq!(c.outcome(), Outcome::HalfClosed);
    }

    // ---- Sequence numbers wrapping inside the close ----
    #[test]
    fn fin_ack_across_wrap() {
        let mut s = established(0xFFFF_FFF0, 7);
        // 20 bytes of data take the client's sequence past 2^32.
        s.push(seg(true, 5, ACK | PSH, 0xFFFF_FFF1, 8, 20));
        s.push(seg(true, 10, FIN | ACK, 0x0000_0005, 8, 0));
        // An ACK below the FIN (old) does not cover it.
        s.push(seg(false, 11, ACK, 8, 0x0000_0005, 0));
        s.push(seg(false, 12, ACK, 8, 0x0000_0006, 0));
        let c = run(&s);
        let cl = c.client_side().0;
        assert_eq!(c.ep[cl].fin_acked_ts, Some(12_000_000));
        assert_eq!(c.ep[cl].fin_rtx, 0);
    }

    // ---- Simultaneous close: FINs cross ----
    #[test]
    fn crossing_fins() {
        let mut s = established(100, 500);
        s.push(seg(true, 10, FIN | ACK, 101, 501, 0));
        s.push(seg(false, 10, FIN | ACK, 501, 101, 0));
        s.push(seg(true, 11, ACK, 102, 502, 0));
        s.push(seg(false, 11, ACK, 502, 102, 0));
        let c = run(&s);
        assert!(c.crossed);
        assert_eq!(c.outcome(), Outcome::Simultaneous);
    }

    // ---- Resets ----
    #[test]
    fn resets() {
        let mut s = established(100, 500);
        s.push(seg(false, 10, RST, 501, 0, 0));
        assert_eq!(run(&s).outcome(), Outcome::Reset);
        let mut s = established(100, 500);
        s.push(seg(true, 10, FIN | ACK, 101, 501, 0));
        s.push(seg(false, 11, RST, 501, 0, 0));
        assert_eq!(run(&s).outcome(), Outcome::ResetAfterFin);
    }

    // ---- Port reuse and sides by port ----
    #[test]
    fn reuse_and_port_sides() {
        let mut s = established(100, 500);
        s.push(seg(true, 10, FIN | ACK, 101, 501, 0));
        let c = run(&s);
        let (_, cs) = FlowKey::of(&s[0]);
        assert!(c.is_reuse(&seg(true, 2000, SYN, 9000, 0, 0), cs));
        assert!(!c.is_reuse(&seg(true, 2000, SYN, 100, 0, 0), cs));
        // A new ISN starts a new connection even when the close was not seen.
        let open = run(&established(100, 500));
        assert!(open.is_reuse(&seg(true, 3000, SYN, 7777, 0, 0), cs));
        assert!(!open.is_reuse(&seg(true, 3000, SYN, 100, 0, 0), cs));
        let c = run(&[seg(false, 0, ACK, 5, 6, 10)]);
        let (client, by) = c.client_side();
        assert_eq!(by, SidesBy::Port);
        assert_eq!(c.key.endpoint(client).1, 40000);
        assert_eq!(c.outcome(), Outcome::Open);
    }

    // ---- The same FIN captured twice ----
    #[test]
    fn duplicate_copy_within_1ms() {
        let mut s = established(100, 500);
        s.push(seg(true, 10, FIN | ACK, 101, 501, 0));
        let mut dup = seg(true, 10, FIN | ACK, 101, 501, 0);
        dup.ts_ns += 50_000; // 50 us later
        s.push(dup);
        s.push(seg(true, 210, FIN | ACK, 101, 501, 0)); // a real retransmission
        let c = run(&s);
        let cl = c.client_side().0;
        assert_eq!(c.ep[cl].fin_rtx, 2);
        assert_eq!(c.ep[cl].fin_rtx_fast, 1);
    }

    #[test]
    fn unacked_fin() {
        let mut s = established(100, 500);
        s.push(seg(true, 10, FIN | ACK, 101, 501, 0));
        assert_eq!(run(&s).outcome(), Outcome::FinUnacked);
    }
}
