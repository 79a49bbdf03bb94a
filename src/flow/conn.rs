//! One connection as a passive observer sees it: the facts each endpoint
//! was *seen* to send (FIN times and positions, the ACK that covered a FIN,
//! retransmissions, RSTs) and each endpoint's state machine
//! ([`super::state`]), advanced by every segment and by the timers the
//! observer can infer.
//!
//! [`Conn::step`] turns a segment into events for both endpoints;
//! [`Conn::finish`] fires the timers left at the end of observation. The
//! outcome ([`Conn::outcome`]), the close latencies ([`Conn::latencies`]),
//! the unACKed FINs ([`Conn::fin_unacked`]) and the local side's state
//! intervals ([`Conn::intervals`]) are all read from here: nothing
//! downstream derives a state.
//!
//! Definitions (docs/report.md has the full text):
//! - FIN position = seq + payload length: the sequence number the FIN itself
//!   occupies; an ACK covers the FIN when ack >= position + 1 (mod 2^32).
//! - FIN retransmission: a later FIN from the same side whose position does
//!   not advance past the first FIN's; *spurious* when the first FIN had
//!   already been ACKed.
//! - An ACK once seen stays seen; an ACK that reaches an endpoint after its
//!   socket is gone (reset, killed) is not an ACK of its FIN.

use super::key::{FlowKey, PerSide, Side};
pub use super::state::DUPLICATE_WINDOW_NS;
use super::state::{Backoff, Event, Machine, RTO_MAX_NS, RTO_MIN_NS, TIMEOUT_INIT_NS, TcpState};
use crate::decode::seq::SeqNum;
use crate::decode::{Segment, flags};

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

/// Number of outcomes.
pub const NOUTCOMES: usize = 11;

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
    /// An endpoint's FIN retransmissions stopped before the ACK and the next
    /// one was overdue: its kernel dropped the orphan silently (inferred).
    Killed,
    /// The handshake never completed: a SYN without reply, or a SYN-ACK
    /// that was never acknowledged.
    Unanswered,
    /// The SYN was answered by a RST.
    Rejected,
    /// Only one direction was captured: the close cannot be judged.
    OneSided,
}

impl Outcome {
    pub const ALL: [Outcome; NOUTCOMES] = [
        Outcome::Complete,
        Outcome::Simultaneous,
        Outcome::Reset,
        Outcome::ResetAfterFin,
        Outcome::HalfClosed,
        Outcome::FinUnacked,
        Outcome::Open,
        Outcome::Killed,
        Outcome::Unanswered,
        Outcome::Rejected,
        Outcome::OneSided,
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
            Outcome::Killed => "killed",
            Outcome::Unanswered => "unanswered",
            Outcome::Rejected => "rejected",
            Outcome::OneSided => "one_sided",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// The timers of the model (Linux's values by default).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timers {
    /// TIME-WAIT length (TCP_TIMEWAIT_LEN: 60 s).
    pub time_wait_ns: u64,
    /// Orphaned FIN-WAIT-2 lifetime (tcp_fin_timeout: 60 s).
    pub fin_timeout_ns: u64,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            time_wait_ns: 60_000_000_000,
            fin_timeout_ns: 60_000_000_000,
        }
    }
}

/// Time from an orphan's first FIN until it is killed after `retries`
/// retransmissions, for the `--orphan-retries` what-if: the RTO doubles
/// from `first_rto_ns` (the first retransmission interval seen, else
/// TCP_RTO_MIN), capped at TCP_RTO_MAX; the kill comes one RTO after the
/// last retransmission.
pub fn orphan_kill_after(first_rto_ns: Option<u64>, retries: u32) -> u64 {
    let mut rto = first_rto_ns.unwrap_or(RTO_MIN_NS).clamp(1, RTO_MAX_NS);
    let mut t = 0u64;
    for _ in 0..=retries.min(64) {
        t = t.saturating_add(rto);
        rto = (rto.saturating_mul(2)).min(RTO_MAX_NS);
    }
    t
}

/// What one endpoint was seen to send, and its state machine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EndpointState {
    /// Time of the first FIN.
    pub fin_ts: Option<u64>,
    /// Position of the FIN (seq + payload length).
    pub fin_pos: SeqNum,
    /// Time of the first ACK from the other side that covers the FIN, while
    /// this endpoint's socket was alive.
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
    /// Sent a segment with the ACK flag (so it received something).
    pub sent_ack: bool,
    /// Time of the last segment it sent (RSTs aside).
    pub last_sent_ts: u64,
    /// The copies of its outstanding SYN, SYN-ACK or FIN.
    pub backoff: Backoff,
    /// When its socket was inferred killed.
    pub killed_at: Option<u64>,
    /// The kill was confirmed: the host later answered the peer with a bare
    /// RST (no socket).
    pub kill_confirmed: bool,
    /// A kill inference that the peer's late ACK of the FIN took back (a
    /// live socket says nothing to that ACK): when it had been inferred. A
    /// bare RST answering that ACK restores it.
    pub retracted_kill: Option<u64>,
    /// Sent a RST without the ACK flag: the reply of a host that has no
    /// socket for the segment it answers.
    pub bare_rst: bool,
    /// A kill inferred from its silence was disproved: its schedule does
    /// not follow the model (capture loss, another stack), so silence alone
    /// no longer counts; only a bare RST does.
    pub kill_disproved: bool,
    /// Its FIN-WAIT-2 socket was gone when the peer's FIN came: it
    /// answered with a bare RST (tcp_fin_timeout had expired).
    pub fin_wait_2_gone: bool,
    /// Sent RST|ACK while its FIN was unACKed: the kernel reset the orphan
    /// (tcp_max_orphans / memory pressure) or the application aborted.
    pub reset_awaiting_ack: bool,
    /// End (seq + length) of the furthest payload it sent: a FIN below it
    /// is not at its sender's highest sequence, and no ACK accepts it.
    pub data_end: Option<SeqNum>,
    /// In SYN-SENT it received an ACK that does not acknowledge its SYN
    /// (a challenge ACK for an older connection): the ACK number, which
    /// its reply RST carries as its sequence number (RFC 9293 3.10.7.3).
    pub challenge_ack: Option<SeqNum>,
    /// The peer sent new data after this endpoint's FIN.
    pub data_after_fin: bool,
    /// It answered that data with a bare RST: a socket closed for reading
    /// (close(), an orphan) aborts on data (Linux TCPAbortOnData), and so
    /// would a host without the socket: the RST shows no timer
    /// (tcp_fin_timeout) and no kill.
    pub abort_on_data: bool,
    /// The state machine.
    pub machine: Machine,
}

impl EndpointState {
    pub fn fin_retransmissions(&self) -> u32 {
        self.fin_rtx + self.fin_rtx_spurious
    }

    pub fn state(&self) -> TcpState {
        self.machine.state
    }

    /// Sent a FIN that no ACK covered while its socket was alive.
    fn fin_pending(&self) -> bool {
        self.fin_ts.is_some() && self.fin_acked_ts.is_none()
    }

    /// Its FIN is unACKed and an ACK can accept it: the FIN lies at its
    /// highest sequence (not below data it already sent: a receiver that
    /// took that data is past the FIN's sequence number and drops it).
    fn fin_acceptable(&self) -> bool {
        self.fin_pending() && self.data_end.is_none_or(|d| self.fin_pos >= d)
    }

    fn apply(&mut self, e: Event, ts: u64) {
        self.machine.apply(e, ts);
    }
}

/// The close latencies of a connection, from its first FIN (us).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Latencies {
    /// First FIN -> the ACK that covers it.
    pub fin_ack: Option<u64>,
    /// First FIN -> the other side's FIN.
    pub fin_fin: Option<u64>,
    /// First FIN -> both FINs ACKed, or the RST that ended it.
    pub close_total: Option<u64>,
}

/// Live state of one connection (one generation of a flow key).
#[derive(Clone, Debug, PartialEq)]
pub struct Conn {
    pub key: FlowKey,
    pub first_ts: u64,
    pub last_ts: u64,
    pub first_frame: u64,
    pub last_frame: u64,
    /// Client side (0 or 1), when a handshake decided it.
    pub client: Option<(Side, SidesBy)>,
    pub ep: PerSide<EndpointState>,
    /// Side that sent the first FIN.
    pub first_fin: Option<Side>,
    /// The second FIN was sent before the first was ACKed.
    pub crossed: bool,
    /// Time of the RST that ended the connection (a kill's confirming RST
    /// does not count), and who sent it.
    pub rst_ts: Option<u64>,
    pub rst_by: Option<Side>,
    /// A FIN came before that RST.
    pub fin_before_rst: bool,
    /// FINs that moved past an earlier FIN of the same side (protocol anomaly).
    pub fin_moved: u32,
    /// Some endpoint reached ESTABLISHED.
    pub established: bool,
    /// Kill inferences that a later segment of the same endpoint disproved.
    pub kills_retracted: u32,
    /// Time of this connection's entry in its shard's expiry queue.
    pub queued_at: u64,
}

/// The peer side.
fn other(side: Side) -> Side {
    side.other()
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
            ep: PerSide::default(),
            first_fin: None,
            crossed: false,
            rst_ts: None,
            rst_by: None,
            fin_before_rst: false,
            fin_moved: 0,
            established: false,
            kills_retracted: 0,
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
        if let (Some(a), Some(b)) = (self.ep[Side::A].fin_acked_ts, self.ep[Side::B].fin_acked_ts) {
            return Some(a.max(b));
        }
        if self.rst_ts.is_some() {
            return self.rst_ts;
        }
        // Both sockets gone (a kill confirmed by the peer's reset, ...).
        // (No allocation: this runs for every segment.)
        let gone = |e: &EndpointState| {
            let (st, t) = e.machine.transitions.last()?;
            (st == TcpState::Killed || st == TcpState::Reset).then_some(t)
        };
        Some(gone(&self.ep[Side::A])?.max(gone(&self.ep[Side::B])?))
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

    /// Fires the timers of both endpoints that expired before `now`:
    /// TIME-WAIT and FIN-WAIT-2 ends, and retransmissions that stopped (a
    /// give-up needs the observation to pass the overdue copy).
    fn advance(&mut self, now: u64, t: &Timers) {
        for e in &mut self.ep {
            // A state change can arm the next timer (FIN-WAIT-2 -> ...):
            // a few rounds suffice, each either fires or stops.
            for _ in 0..3 {
                let st = e.machine.state;
                let since = e.machine.transitions.last().map_or(0, |l| l.1);
                let (event, at) = match st {
                    TcpState::TimeWait => {
                        (Event::TimeWaitEnd, since.saturating_add(t.time_wait_ns))
                    }
                    TcpState::FinWait2 => (
                        Event::FinWait2Timeout,
                        since.saturating_add(t.fin_timeout_ns),
                    ),
                    TcpState::SynSent | TcpState::SynReceived => {
                        match e.backoff.overdue(Some(TIMEOUT_INIT_NS)) {
                            Some((due, slack)) if due.saturating_add(slack) < now => {
                                (Event::GiveUp, due)
                            }
                            _ => break,
                        }
                    }
                    s if s.awaits_fin_ack()
                        && e.fin_pending()
                        && !e.kill_disproved
                        && e.sent_ack =>
                    {
                        // Dead when its next copy was due, unless it sent
                        // something after that (then the schedule is off).
                        // Only a synchronized stack's FIN: every segment it
                        // sends carries ACK (RFC 9293 3.10.7.4); FINs
                        // without one are crafted (a port scan's).
                        match e.backoff.overdue(None) {
                            Some((due, slack))
                                if due.saturating_add(slack) < now && e.last_sent_ts <= due =>
                            {
                                e.killed_at = Some(due);
                                (Event::GiveUp, due)
                            }
                            _ => break,
                        }
                    }
                    _ => break,
                };
                if at > now {
                    break;
                }
                e.apply(event, at);
            }
        }
    }

    /// Applies one segment sent by `side`, after the timers due before it.
    /// Returns true when the segment is a FIN retransmission.
    pub fn step(&mut self, seg: &Segment, side: Side, timers: &Timers) -> bool {
        let ts = seg.ts_ns;
        self.advance(ts, timers);
        let peer = other(side);
        self.last_ts = self.last_ts.max(ts);
        self.last_frame = seg.frame;
        {
            let ep = &mut self.ep[side];
            ep.segments += 1;
            ep.bytes += u64::from(seg.payload_len);
            ep.sent_ack |= seg.has(flags::ACK) && !seg.has(flags::RST);
            if !seg.has(flags::RST) {
                ep.last_sent_ts = ep.last_sent_ts.max(ts);
            }
        }
        // New data (past any the sender sent before) after the peer's FIN.
        if seg.payload_len > 0 && !seg.has(flags::RST) {
            let start = if seg.has(flags::SYN) {
                seg.seq + 1
            } else {
                seg.seq
            };
            let end = start + seg.payload_len;
            let ep = &mut self.ep[side];
            let new = ep.data_end.is_none_or(|d| end > d);
            if new {
                ep.data_end = Some(end);
                if self.ep[peer].fin_ts.is_some() {
                    self.ep[peer].data_after_fin = true;
                }
            }
        }
        if self.unacceptable_in_syn_sent(seg, peer) {
            // RFC 9293 3.10.7.3: in SYN-SENT an ACK that does not cover
            // the SYN (SEG.ACK =< ISS or > SND.NXT) is answered with a
            // reset <SEQ=SEG.ACK> and the state stays SYN-SENT: typically
            // the challenge ACK of a host that still holds an older
            // connection on these ports (RFC 5961 4). Neither endpoint
            // of this connection moves.
            self.ep[peer].challenge_ack = Some(seg.ack);
            return false;
        }
        if !seg.has(flags::RST) {
            // A handshake given up for silence is alive when its endpoint
            // sends, or when the ACK of its SYN (SYN-ACK) reaches it.
            self.revive_handshake(side);
            if seg.has(flags::ACK) && self.ep[peer].isn.is_some_and(|i| seg.ack == i + 1) {
                self.revive_handshake(peer);
            }
        }

        // An endpoint inferred killed sends again (not a RST): the
        // inference was wrong (a slower timer than modelled, or copies the
        // capture missed); take it back.
        if self.ep[side].state() == TcpState::Killed && !seg.has(flags::RST) {
            self.revive(side, ts);
        }
        if !seg.has(flags::RST) {
            // It speaks: a kill taken back stays taken back.
            self.ep[side].retracted_kill = None;
        }

        if seg.has(flags::SYN) {
            self.on_syn(seg, side);
        }
        // ACK first: a FIN|ACK that acknowledges the peer's FIN did not
        // cross it. An ACK reaching a socket that is gone acknowledges nothing.
        if seg.has(flags::ACK) && self.ep[peer].fin_acceptable() && seg.ack > self.ep[peer].fin_pos
        {
            let p = &mut self.ep[peer];
            if p.state() == TcpState::Killed && !p.kill_confirmed {
                // The peer ACKs a FIN we thought abandoned: unless its host
                // answers with a bare RST, the socket was alive.
                let k = p.killed_at;
                self.revive(peer, ts);
                self.ep[peer].retracted_kill = k;
            }
            let p = &mut self.ep[peer];
            if !p.state().is_final() {
                p.fin_acked_ts = Some(ts);
                p.apply(Event::RecvFinAck, ts);
            }
        }
        let mut fin_rtx = false;
        if seg.has(flags::FIN) {
            fin_rtx = self.on_fin(seg, side);
        }
        if seg.has(flags::RST) {
            self.on_rst(seg, side);
        }
        if seg.flags & (flags::SYN | flags::FIN | flags::RST) == 0 {
            self.ep[side].apply(Event::SendSeg, ts);
            self.ep[peer].apply(Event::RecvSeg, ts);
        }
        // The handshake completed (or the connection was first seen
        // mid-stream): a segment other than a SYN in a synchronized state.
        if !seg.has(flags::SYN) {
            self.established |= self.ep.iter().any(|e| e.state().is_synchronized());
        }
        fin_rtx
    }

    /// `seg` carries an ACK that `receiver`, in SYN-SENT, cannot accept:
    /// not a SYN, no RST, and its ACK number outside (ISS, SND.NXT] (the
    /// SYN and any data it carried). Only a pure ACK (a challenge ACK
    /// carries no data): a data segment means the capture missed the
    /// handshake, as before.
    fn unacceptable_in_syn_sent(&self, seg: &Segment, receiver: Side) -> bool {
        let r = &self.ep[receiver];
        let Some(iss) = r.isn else { return false };
        if r.state() != TcpState::SynSent
            || !seg.has(flags::ACK)
            || seg.payload_len > 0
            || seg.has(flags::SYN)
            || seg.has(flags::RST)
        {
            return false;
        }
        let snd_nxt = iss + 1 + u32::try_from(r.bytes).unwrap_or(u32::MAX);
        seg.ack <= iss || seg.ack > snd_nxt
    }

    /// Takes back the kill inferred for `side` (a segment at `ts` shows it
    /// alive), and replays the peer's FIN if it came after the kill (the
    /// live socket received it). Its retransmission schedule goes on from
    /// `ts`: it was alive then.
    fn revive(&mut self, side: Side, ts: u64) {
        let peer_fin = self.ep[other(side)].fin_ts;
        let e = &mut self.ep[side];
        let Some(k) = e.killed_at.take() else {
            return;
        };
        e.machine.retract();
        e.backoff.last_ts = e.backoff.last_ts.max(ts);
        e.kill_disproved = true;
        self.kills_retracted += 1;
        if let Some(f) = peer_fin.filter(|f| *f >= k) {
            e.apply(Event::RecvFin, f);
        }
    }

    /// A SYN or SYN-ACK from `side`: names the client, and opens (or retries)
    /// the handshake.
    fn on_syn(&mut self, seg: &Segment, side: Side) {
        let ts = seg.ts_ns;
        let synack = seg.has(flags::ACK);
        let retry = !self.established
            && matches!(self.ep[side].state(), TcpState::Reset | TcpState::Closed);
        let ep = &mut self.ep[side];
        let copy = ep.isn == Some(seg.seq);
        if ep.isn.is_none() {
            ep.isn = Some(seg.seq);
        }
        if copy && !retry {
            ep.backoff.copy(ts);
        } else {
            ep.backoff = Backoff::start(ts);
        }
        if seg.has(flags::RST) {
            return;
        }
        if !synack {
            if !matches!(self.client, Some((_, SidesBy::Syn))) {
                self.client = Some((side, SidesBy::Syn));
            }
        } else if self.client.is_none() {
            self.client = Some((other(side), SidesBy::SynAck));
        }
        let event = match (synack, retry) {
            (false, false) => Event::SendSyn,
            (false, true) => Event::SynRetry,
            (true, false) => Event::SendSynAck,
            (true, true) => Event::SynAckRetry,
        };
        if retry && copy {
            // The handshake a RST ended goes on: that RST did not end the connection.
            self.rst_ts = None;
            self.rst_by = None;
            self.fin_before_rst = false;
            // The peer is back where it was before that RST.
            self.ep[other(side)].apply(Event::Reopen, ts);
        }
        self.ep[side].apply(event, ts);
        if synack {
            self.ep[other(side)].apply(Event::RecvSynAck, ts);
        }
    }

    /// Takes back the give-up of `side`'s handshake that silence implied
    /// (SYN-SENT or SYN-RECEIVED -> CLOSED): a segment shows it alive.
    /// Nothing else ends a handshake in CLOSED (a RST ends it in RESET).
    fn revive_handshake(&mut self, side: Side) {
        let m = &mut self.ep[side].machine;
        let tr = &m.transitions;
        let gave_up = m.state == TcpState::Closed
            && tr.len() >= 2
            && tr
                .iter()
                .nth(tr.len() - 2)
                .is_some_and(|x| matches!(x.0, TcpState::SynSent | TcpState::SynReceived));
        if gave_up {
            m.retract();
        }
    }

    /// A RST from `side`.
    fn on_rst(&mut self, seg: &Segment, side: Side) {
        let ts = seg.ts_ns;
        let peer = other(side);
        let peer_fin = self.ep[peer].fin_ts;
        if self.rst_ts.is_none()
            && self
                .ep
                .iter()
                .all(|x| x.fin_acked_ts.is_some_and(|a| a <= ts))
        {
            // Both FINs were ACKed before it: the close was complete, and a
            // later RST (a host answering a stray segment for a socket it
            // no longer has, or from TIME-WAIT) ends nothing.
            self.ep[side].rsts += 1;
            return;
        }
        let e = &mut self.ep[side];
        e.rsts += 1;
        if e.state() == TcpState::SynSent
            && !seg.has(flags::ACK)
            && e.challenge_ack == Some(seg.seq)
        {
            // Its reply to the unacceptable ACK (RFC 9293 3.10.7.3): the
            // socket stays in SYN-SENT and retransmits its SYN.
            return;
        }

        e.bare_rst |= !seg.has(flags::ACK);
        let awaiting = e.state().awaits_fin_ack() && e.fin_pending();
        if e.state() == TcpState::Killed {
            // The host answers the peer's late segment for a socket it no
            // longer has: the kill is confirmed.
            e.kill_confirmed = true;
            e.apply(Event::SendRst, ts);
            self.ep[peer].apply(Event::RecvRst, ts);
            return;
        }
        if let (Some(k), TcpState::FinWait2, false) =
            (e.retracted_kill, e.state(), seg.has(flags::ACK))
        {
            // The bare RST answers the late ACK that revived it: the socket
            // was gone after all. Back to FIN-WAIT-1, killed when inferred.
            e.machine.retract();
            e.fin_acked_ts = None;
            e.retracted_kill = None;
            e.killed_at = Some(k);
            e.kill_confirmed = true;
            e.apply(Event::GiveUp, k);
            e.apply(Event::SendRst, ts);
            self.ep[peer].apply(Event::RecvRst, ts);
            self.kills_retracted = self.kills_retracted.saturating_sub(1);
            return;
        }
        let overdue = e.backoff.overdue(None).map(|o| o.0).filter(|d| *d <= ts);
        if let (true, false, Some(due)) = (awaiting, seg.has(flags::ACK), overdue) {
            // A bare RST (no ACK flag: the reply of a host without the
            // socket) while its FIN was unACKed and after its next copy was
            // due: the orphan was already dead, since that copy. (Sooner, a
            // bare RST is a live orphan aborting on data that came after
            // close(): Linux's TCPAbortOnData, an ordinary reset.) It was
            // alive when it last sent something.
            let due = due.max(e.last_sent_ts).min(ts);
            e.killed_at = Some(due);
            e.kill_confirmed = true;
            e.apply(Event::GiveUp, due);
            e.apply(Event::SendRst, ts);
            self.ep[peer].apply(Event::RecvRst, ts);
            return;
        }
        if !seg.has(flags::ACK) && e.fin_ts.is_some() && e.data_after_fin {
            // A bare RST after the peer sent new data past its FIN: a
            // socket closed for reading aborts on data (Linux
            // tcp_rcv_state_process, TCPAbortOnData; tcp_timewait_state_process
            // for a FIN-WAIT-2 timewait socket), as a host without the
            // socket would: the RST shows neither a kill nor a FIN-WAIT-2
            // timeout, and the peer's FIN that came with the data never
            // moved it (the data reset it first).
            e.abort_on_data = true;
            let tr = &e.machine.transitions;
            if let (Some(pf), Some((st, t))) = (peer_fin, tr.last())
                && t == pf
                && matches!(st, TcpState::TimeWait | TcpState::Closing)
            {
                e.machine.retract();
            }
            e.apply(Event::SendRst, ts);
            self.ep[peer].apply(Event::RecvRst, ts);
            self.set_rst(ts, side);
            return;
        }
        if awaiting {
            e.reset_awaiting_ack = true;
        }
        // A bare RST answering the peer's FIN that took it from FIN-WAIT-2
        // to TIME-WAIT: the FIN-WAIT-2 socket was already gone
        // (tcp_fin_timeout); it never was in TIME-WAIT.
        let tr = &e.machine.transitions;
        let was_fw2 = tr.len() >= 2
            && tr
                .iter()
                .nth(tr.len() - 2)
                .is_some_and(|x| x.0 == TcpState::FinWait2);
        if let (false, TcpState::TimeWait, true, Some(pf)) =
            (seg.has(flags::ACK), e.state(), was_fw2, peer_fin)
            && tr.last().is_some_and(|l| l.1 == pf)
        {
            e.machine.retract();
            e.apply(Event::FinWait2Timeout, pf);
            e.fin_wait_2_gone = true;
        }
        e.apply(Event::SendRst, ts);
        self.ep[peer].apply(Event::RecvRst, ts);
        self.set_rst(ts, side);
    }

    /// The RST at `ts` from `side` ends the connection (unless one did already).
    fn set_rst(&mut self, ts: u64, side: Side) {
        if self.rst_ts.is_none() {
            self.rst_ts = Some(ts);
            self.rst_by = Some(side);
            self.fin_before_rst = self.ep.iter().any(|e| e.fin_ts.is_some_and(|f| f <= ts));
        }
    }

    /// A FIN from `side` (any ACK in it already applied). Returns true when
    /// it is a retransmission of that side's FIN.
    fn on_fin(&mut self, seg: &Segment, side: Side) -> bool {
        let ts = seg.ts_ns;
        let peer = other(side);
        let pos = seg.seq + seg.payload_len;
        let peer_fin_unacked = self.ep[peer].fin_pending();
        let ep = &mut self.ep[side];
        match ep.fin_ts {
            // First FIN of this side.
            None => {
                ep.fin_ts = Some(ts);
                ep.fin_last_ts = ts;
                ep.fin_pos = pos;
                ep.backoff = Backoff::start(ts);
                let mut crossed = false;
                if self.first_fin.is_none() {
                    self.first_fin = Some(side);
                } else if peer_fin_unacked {
                    self.crossed = true;
                    crossed = true;
                }
                let e = &mut self.ep[side];
                if crossed && e.state() == TcpState::CloseWait {
                    // Its FIN does not ACK the peer's: it left before the
                    // peer's FIN arrived. It was never in CLOSE-WAIT: it went
                    // FIN-WAIT-1 -> CLOSING.
                    e.machine.retract();
                    e.apply(Event::SendFin, ts);
                    e.apply(Event::RecvFin, ts);
                } else {
                    e.apply(Event::SendFin, ts);
                }
                self.ep[peer].apply(Event::RecvFin, ts);
                false
            }
            // Same position or earlier: a retransmission of the FIN.
            Some(first) if pos <= ep.fin_pos => {
                if ep.fin_rtx + ep.fin_rtx_spurious == 0 {
                    let rto = ts.saturating_sub(first);
                    ep.fin_first_rto_us = u32::try_from(rto / 1_000).unwrap_or(u32::MAX).max(1);
                }
                if ts.saturating_sub(ep.fin_last_ts) < DUPLICATE_WINDOW_NS {
                    ep.fin_rtx_fast += 1;
                }
                ep.fin_last_ts = ts;
                if ep.fin_acked_ts.is_some() {
                    ep.fin_rtx_spurious += 1;
                } else {
                    ep.fin_rtx += 1;
                    ep.backoff.copy(ts);
                }
                ep.apply(Event::SendFin, ts);
                self.ep[peer].apply(Event::RecvFin, ts);
                true
            }
            // A FIN further on. One right after the first FIN without data
            // (seq = FIN + 1: a FIN flag left on a later ACK) changes nothing;
            // one with data past the FIN moves an unACKed FIN on. Either way
            // an anomaly, and an ACK once seen stays seen.
            Some(_) => {
                self.fin_moved += 1;
                if ep.fin_acked_ts.is_none() && seg.payload_len > 0 {
                    ep.fin_pos = pos;
                }
                ep.apply(Event::SendFin, ts);
                false
            }
        }
    }

    /// Fires what is left at the end of observation (`end`): give-ups the
    /// observation saw overdue, and the certain timers (TIME-WAIT,
    /// FIN-WAIT-2) even past `end`: the timeline clips them.
    pub fn finish(&mut self, end: u64, timers: &Timers) {
        self.advance(end, timers);
        for e in &mut self.ep {
            for _ in 0..2 {
                let since = e.machine.transitions.last().map_or(0, |l| l.1);
                match e.state() {
                    TcpState::TimeWait => e.apply(
                        Event::TimeWaitEnd,
                        since.saturating_add(timers.time_wait_ns),
                    ),
                    TcpState::FinWait2 => e.apply(
                        Event::FinWait2Timeout,
                        since.saturating_add(timers.fin_timeout_ns),
                    ),
                    _ => break,
                }
            }
        }
    }

    /// Client side and how it was decided; by port when no handshake was seen.
    pub fn client_side(&self) -> (Side, SidesBy) {
        if let Some((c, by)) = self.client {
            return (c, by);
        }
        let (pa, pb) = (self.key.a.1, self.key.b.1);
        // The server is the well-known port, else the lower port.
        let server = match (pa < 1024, pb < 1024) {
            (true, false) => Side::A,
            (false, true) => Side::B,
            _ if pa <= pb => Side::A,
            _ => Side::B,
        };
        (server.other(), SidesBy::Port)
    }

    /// Only one direction was captured: one endpoint sent segments with the
    /// ACK flag (so it received something), the other sent nothing.
    pub fn one_sided(&self) -> bool {
        let [a, b] = &self.ep.0;
        (a.segments > 0 && b.segments == 0 && a.sent_ack)
            || (b.segments > 0 && a.segments == 0 && b.sent_ack)
    }

    /// Both directions were captured.
    pub fn two_sided(&self) -> bool {
        self.ep.iter().all(|e| e.segments > 0)
    }

    /// `side` sent a FIN that was never ACKed while it waited: not in a
    /// connection a RST ended, not answered by a RST (the peer's host had
    /// no socket any more), not on a one-sided capture. Its age runs to
    /// [`Conn::fin_unacked_until`].
    pub fn fin_unacked(&self, side: Side) -> bool {
        let e = &self.ep[side];
        e.fin_pending()
            && self.rst_ts.is_none()
            && e.state() != TcpState::Reset
            && !self.one_sided()
    }

    /// Until when `side`'s unACKed FIN waited: its kill, or `end`.
    pub fn fin_unacked_until(&self, side: Side, end: u64) -> u64 {
        self.ep[side].killed_at.map_or(end, |k| k.min(end))
    }

    /// How long `side`'s FIN waited for its ACK (us): until the ACK, or,
    /// never ACKed ([`Conn::fin_unacked`]), its age until `end` or the kill
    /// (a lower bound). `None` without a FIN, or when a RST ended the wait.
    pub fn fin_wait_us(&self, side: Side, end: u64) -> Option<u64> {
        let e = &self.ep[side];
        let t = e.fin_ts?;
        match e.fin_acked_ts {
            Some(a) => Some(a.saturating_sub(t) / 1_000),
            None if self.fin_unacked(side) => {
                Some(self.fin_unacked_until(side, end).saturating_sub(t) / 1_000)
            }
            None => None,
        }
    }

    /// Why the RST that ended the connection was sent, as far as the
    /// capture shows (`--flows` column `rst_cause`; docs/flows.md):
    /// `abort_on_data` (its sender answered data that came after its own
    /// FIN: Linux TCPAbortOnData), `orphan_reset` (RST|ACK while its FIN was
    /// unACKed: tcp_max_orphans / tcp_mem, or an application abort),
    /// `fin_wait_2_gone` (a bare RST to the peer's FIN: the FIN-WAIT-2
    /// socket had timed out), `other`; `None` when no RST ended it.
    pub fn rst_cause(&self) -> Option<&'static str> {
        self.rst_ts?;
        let e = &self.ep[self.rst_by?];
        Some(if e.abort_on_data {
            "abort_on_data"
        } else if e.reset_awaiting_ack {
            "orphan_reset"
        } else if e.fin_wait_2_gone {
            "fin_wait_2_gone"
        } else {
            "other"
        })
    }

    /// When the close began: the first FIN or RST.
    pub fn close_began(&self) -> Option<u64> {
        match (self.first_fin.and_then(|f| self.ep[f].fin_ts), self.rst_ts) {
            (Some(f), Some(r)) => Some(f.min(r)),
            (a, b) => a.or(b),
        }
    }

    /// The outcome, judged at the end of observation.
    pub fn outcome(&self) -> Outcome {
        if self.one_sided() {
            return Outcome::OneSided;
        }
        let (client, by) = self.client_side();
        let server = other(client);
        if by == SidesBy::Syn && !self.established {
            let s = &self.ep[server];
            if self.rst_by == Some(server) && s.isn.is_none() {
                return Outcome::Rejected;
            }
            if self.rst_ts.is_none() && self.ep.iter().all(|e| e.fin_ts.is_none()) {
                return Outcome::Unanswered;
            }
            if s.segments == 0 {
                return Outcome::Unanswered;
            }
        }
        if self.ep.iter().any(|e| e.state() == TcpState::Killed) {
            return Outcome::Killed;
        }
        if self.rst_ts.is_some() {
            return if self.fin_before_rst {
                Outcome::ResetAfterFin
            } else {
                Outcome::Reset
            };
        }
        // An endpoint ended by a RST that did not end the connection (a
        // kill's confirmation, later disproved): reset all the same.
        if self.ep.iter().any(|e| e.state() == TcpState::Reset) {
            return if self.ep.iter().any(|e| e.fin_ts.is_some()) {
                Outcome::ResetAfterFin
            } else {
                Outcome::Reset
            };
        }
        let [a, b] = &self.ep.0;
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

    /// The first closer's latencies (us), as the report's histograms and
    /// `--flows` take them.
    pub fn latencies(&self) -> Latencies {
        let mut l = Latencies::default();
        let Some(f) = self.first_fin else { return l };
        let (ef, eo) = (&self.ep[f], &self.ep[other(f)]);
        let Some(t0) = ef.fin_ts else { return l };
        let us = |t: u64| t.saturating_sub(t0) / 1_000;
        l.fin_ack = ef.fin_acked_ts.map(us);
        l.fin_fin = eo.fin_ts.map(us);
        let end = match (ef.fin_acked_ts, eo.fin_acked_ts, eo.fin_ts) {
            (Some(a), Some(b), Some(_)) => Some(a.max(b)),
            _ => self.rst_ts.filter(|r| *r >= t0),
        };
        l.close_total = end.map(us);
        l
    }

    /// The first packet seen was already part of the close (a FIN or RST,
    /// no handshake).
    pub fn began_mid_close(&self) -> bool {
        let first_close = self
            .ep
            .iter()
            .flat_map(|e| e.fin_ts)
            .chain(self.rst_ts)
            .min();
        first_close == Some(self.first_ts) && self.client.is_none()
    }

    /// `side`'s states as intervals (state, from, to), in time order, up to
    /// `end`; with `open` (still live at the capture's end) the state held
    /// at `end` extends past it. Only the states a socket stays in
    /// ([`TcpState::series`]) are listed.
    pub fn intervals(&self, side: Side, end: u64, open: bool) -> Vec<(TcpState, u64, u64)> {
        let horizon = if open { u64::MAX / 4 } else { end };
        let tr = &self.ep[side].machine.transitions;
        let list: Vec<(TcpState, u64)> = tr.iter().collect();
        let mut out = Vec::with_capacity(list.len());
        for (i, &(st, s)) in list.iter().enumerate() {
            let e = list.get(i + 1).map_or(horizon, |n| n.1);
            let (s, e) = (s.min(horizon), e.min(horizon));
            if st.series().is_some() && e > s {
                out.push((st, s, e));
            }
        }
        out
    }

    /// `side` is still in a non-final state at `end` (other than TIME-WAIT,
    /// which ends by itself), and the connection was live at the capture's end.
    pub fn open_at(&self, side: Side, end: u64, open: bool) -> bool {
        let st = self.ep[side].machine.transitions.state_at(end);
        open && st.series().is_some() && st != TcpState::TimeWait
    }

    /// State-machine anomalies of both endpoints.
    pub fn anomalies(&self) -> u64 {
        self.ep.iter().map(|e| u64::from(e.machine.anomalies)).sum()
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
            c.step(s, side, &Timers::default());
        }
        c
    }

    /// Runs `segs`, then finishes at `end_ms` (the capture's end, still open).
    fn run_to(segs: &[Segment], end_ms: u64) -> Conn {
        let mut c = run(segs);
        c.finish(end_ms * 1_000_000, &Timers::default());
        c
    }

    /// The side's states as (state, from ms, to ms), open states to `end_ms`.
    fn states(c: &Conn, side: Side, end_ms: u64) -> Vec<(TcpState, u64, u64)> {
        c.intervals(side, end_ms * 1_000_000, false)
            .into_iter()
            .map(|(s, a, b)| (s, a / 1_000_000, b / 1_000_000))
            .collect()
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
        // One direction only: nothing can be judged.
        assert_eq!(c.outcome(), Outcome::OneSided);
        let c = run(&[seg(false, 0, ACK, 5, 6, 10), seg(true, 1, ACK, 6, 15, 0)]);
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

    // ---- issue: a stray later FIN must not erase an ACK already seen ----
    #[test]
    fn stray_fin_after_ack_keeps_the_ack() {
        let mut s = established(100, 500);
        s.push(seg(true, 10, FIN | ACK, 101, 501, 0));
        s.push(seg(false, 60, ACK, 501, 102, 0));
        // A FIN flag on the segment after the FIN (seq = FIN + 1), no data.
        s.push(seg(true, 70, FIN | ACK, 102, 501, 0));
        let c = run(&s);
        let cl = c.client_side().0;
        assert_eq!(c.ep[cl].fin_acked_ts, Some(60_000_000));
        assert_eq!(c.fin_moved, 1);
        assert!(!c.fin_unacked(cl));
        assert_eq!(c.outcome(), Outcome::HalfClosed);
        assert_eq!(c.latencies().fin_ack, Some(50_000));
    }

    // ---- issue: a RST during the handshake, then the same SYN again ----
    #[test]
    fn handshake_rst_then_retry_is_one_connection() {
        let s = vec![
            seg(true, 0, SYN, 100, 0, 0),
            seg(true, 18, RST, 101, 0, 0),
            seg(true, 1000, SYN, 100, 0, 0),
            seg(false, 1001, SYN | ACK, 500, 101, 0),
            seg(true, 1002, ACK, 101, 501, 0),
            seg(true, 16_000, FIN | ACK, 101, 501, 0),
            seg(false, 16_001, FIN | ACK, 501, 102, 0),
            seg(true, 16_002, ACK, 102, 502, 0),
        ];
        let c = run_to(&s, 16_002);
        assert_eq!(c.outcome(), Outcome::Complete);
        let cl = c.client_side().0;
        assert_eq!(
            states(&c, cl, 100_000),
            vec![
                (TcpState::SynSent, 0, 18),
                (TcpState::SynSent, 1000, 1001),
                (TcpState::Established, 1001, 16_000),
                (TcpState::FinWait1, 16_000, 16_001),
                (TcpState::TimeWait, 16_001, 76_001),
            ]
        );
    }

    // ---- issue: unanswered SYNs are attempts, not connections ----
    #[test]
    fn unanswered_syn_is_syn_sent_until_it_gives_up() {
        // SYN, retransmitted after 1 s and 2 s more, then silence.
        let s = vec![
            seg(true, 0, SYN, 100, 0, 0),
            seg(true, 1000, SYN, 100, 0, 0),
            seg(true, 3000, SYN, 100, 0, 0),
        ];
        let c = run_to(&s, 20_000);
        assert_eq!(c.outcome(), Outcome::Unanswered);
        let cl = c.client_side().0;
        // Next copy due at 3 + 4 s: gone then.
        assert_eq!(states(&c, cl, 20_000), vec![(TcpState::SynSent, 0, 7000)]);
        assert_eq!(states(&c, cl.other(), 20_000), vec![]);
        // SYN answered by RST.
        let c = run(&[
            seg(true, 0, SYN, 100, 0, 0),
            seg(false, 1, RST | ACK, 0, 101, 0),
        ]);
        assert_eq!(c.outcome(), Outcome::Rejected);
        // SYN-ACK never acknowledged (a flood): the server is in SYN-RECEIVED.
        let c = run_to(
            &[
                seg(true, 0, SYN, 100, 0, 0),
                seg(false, 1, SYN | ACK, 500, 101, 0),
            ],
            10_000,
        );
        assert_eq!(c.outcome(), Outcome::Unanswered);
        assert_eq!(
            states(&c, cl.other(), 10_000),
            vec![(TcpState::SynReceived, 1, 1001)]
        );
    }

    // ---- issue: one-sided captures ----
    #[test]
    fn one_direction_only_is_one_sided() {
        let s = vec![
            seg(true, 0, SYN, 100, 0, 0),
            seg(true, 2, ACK, 101, 501, 0),
            seg(true, 3, ACK | PSH, 101, 501, 10),
            seg(true, 10, FIN | ACK, 111, 601, 0),
        ];
        let c = run_to(&s, 100);
        assert!(c.one_sided());
        assert_eq!(c.outcome(), Outcome::OneSided);
        assert!(!c.fin_unacked(c.client_side().0));
    }

    // ---- issue: silent kill after tcp_orphan_retries ----
    #[test]
    fn orphan_killed_silently_then_confirmed_by_bare_rst() {
        let mut s = established(100, 500);
        s.push(seg(true, 10, FIN | ACK, 101, 501, 0));
        s.push(seg(true, 210, FIN | ACK, 101, 501, 0)); // TLP
        s.push(seg(true, 410, FIN | ACK, 101, 501, 0)); // RTO 1
        s.push(seg(true, 810, FIN | ACK, 101, 501, 0)); // RTO 2
        // Next due at 0.81 + 0.8 s = 1.61 s: nothing. The server closes at 10 s
        // (it never got the FIN); the client host answers with a bare RST.
        s.push(seg(false, 10_000, FIN | ACK, 501, 101, 0));
        s.push(seg(true, 10_001, RST, 101, 0, 0));
        let c = run_to(&s, 20_000);
        let cl = c.client_side().0;
        assert_eq!(c.outcome(), Outcome::Killed);
        // The whole machine of each side: the client killed at 1.61 s, the
        // server (its FIN crossed ours: FIN-WAIT-1 -> CLOSING) reset by the
        // client host's bare RST.
        use crate::flow::state::tests::machine;
        use TcpState::*;
        assert_eq!(
            c.ep[cl].machine,
            machine(
                &[
                    (SynSent, 0),
                    (Established, 1),
                    (FinWait1, 10),
                    (Killed, 1610)
                ],
                0
            )
        );
        assert_eq!(
            c.ep[cl.other()].machine,
            machine(
                &[
                    (SynReceived, 1),
                    (Established, 2),
                    (FinWait1, 10_000),
                    (Closing, 10_000),
                    (Reset, 10_001)
                ],
                0
            )
        );
        assert_eq!(c.ep[cl].killed_at, Some(1_610_000_000));
        assert!(c.ep[cl].kill_confirmed);
        assert!(c.fin_unacked(cl));
        assert_eq!(c.fin_unacked_until(cl, 20_000_000_000), 1_610_000_000);
        assert_eq!(c.rst_ts, None);
        assert_eq!(
            states(&c, cl, 20_000),
            vec![
                (TcpState::SynSent, 0, 1),
                (TcpState::Established, 1, 10),
                (TcpState::FinWait1, 10, 1610)
            ]
        );
        // Without the RST the silence alone decides, once the capture passes
        // the overdue copy (+ half a timeout).
        let c = run_to(&s[..7], 2_100);
        assert_eq!(c.outcome(), Outcome::Killed);
        assert!(!c.ep[cl].kill_confirmed);
        // Too early to tell: still FIN-WAIT-1.
        let c = run_to(&s[..7], 1_900);
        assert_eq!(c.outcome(), Outcome::FinUnacked);
    }

    #[test]
    fn a_later_copy_retracts_a_kill() {
        let mut s = established(100, 500);
        s.push(seg(true, 10, FIN | ACK, 101, 501, 0));
        s.push(seg(true, 210, FIN | ACK, 101, 501, 0));
        s.push(seg(true, 410, FIN | ACK, 101, 501, 0));
        // Overdue from 0.81 + 0.22 s on; a copy at 1.5 s proves it alive.
        s.push(seg(false, 1_200, ACK, 501, 101, 0));
        s.push(seg(true, 1_500, FIN | ACK, 101, 501, 0));
        s.push(seg(false, 1_501, ACK, 501, 102, 0));
        let c = run_to(&s, 5_000);
        assert_eq!(c.kills_retracted, 1);
        assert_eq!(c.outcome(), Outcome::HalfClosed);
    }

    // ---- a late ACK: alive unless a bare RST answers it ----
    #[test]
    fn late_ack_revives_unless_a_bare_rst_answers_it() {
        let mut s = established(100, 500);
        s.push(seg(true, 10, FIN | ACK, 101, 501, 0));
        s.push(seg(true, 210, FIN | ACK, 101, 501, 0));
        s.push(seg(true, 410, FIN | ACK, 101, 501, 0));
        // Due at 0.81 s, overdue from 1.03 s. The ACK comes at 7 s.
        s.push(seg(false, 7_000, ACK, 501, 102, 0));
        let c = run_to(&s, 7_100);
        let cl = c.client_side().0;
        let tr = &c.ep[cl].machine.transitions;
        assert_eq!(tr.state_at(7_100_000_000), TcpState::FinWait2);
        assert_eq!(c.ep[cl].fin_acked_ts, Some(7_000_000_000));
        assert_eq!(c.kills_retracted, 1);
        assert_eq!(c.outcome(), Outcome::HalfClosed);
        // The host has no socket: it answers that ACK with a bare RST.
        s.push(seg(true, 7_001, RST, 102, 0, 0));
        let c = run_to(&s, 7_100);
        assert_eq!(c.outcome(), Outcome::Killed);
        assert_eq!(c.ep[cl].killed_at, Some(810_000_000));
        assert!(c.ep[cl].kill_confirmed);
        assert_eq!(c.ep[cl].fin_acked_ts, None);
        assert_eq!(c.kills_retracted, 0);
        assert_eq!(
            states(&c, cl, 7_100),
            vec![
                (TcpState::SynSent, 0, 1),
                (TcpState::Established, 1, 10),
                (TcpState::FinWait1, 10, 810)
            ]
        );
    }

    // ---- FIN-WAIT-2: gone before the peer's FIN (tcp_fin_timeout) ----
    #[test]
    fn fin_wait_2_gone_answers_the_late_fin_with_a_bare_rst() {
        let mut s = established(100, 500);
        s.push(seg(true, 10, FIN | ACK, 101, 501, 0));
        s.push(seg(false, 20, ACK, 501, 102, 0));
        s.push(seg(false, 5_000, FIN | ACK, 501, 102, 0));
        s.push(seg(true, 5_000, RST, 102, 0, 0));
        let c = run_to(&s, 5_000);
        let cl = c.client_side().0;
        assert!(c.ep[cl].fin_wait_2_gone);
        assert_eq!(
            states(&c, cl, 100_000),
            vec![
                (TcpState::SynSent, 0, 1),
                (TcpState::Established, 1, 10),
                (TcpState::FinWait1, 10, 20),
                (TcpState::FinWait2, 20, 5_000)
            ]
        );
        assert_eq!(c.outcome(), Outcome::ResetAfterFin);
    }

    // ---- issue: a peer's FIN that we reset is not the peer's unACKed FIN ----
    #[test]
    fn fin_answered_by_our_rst_is_not_unacked() {
        let mut s = established(100, 500);
        s.push(seg(false, 10, FIN | ACK, 501, 101, 0));
        s.push(seg(true, 11, RST | ACK, 101, 501, 0));
        let c = run(&s);
        assert_eq!(c.outcome(), Outcome::ResetAfterFin);
        assert!(!c.fin_unacked(Side::A) && !c.fin_unacked(Side::B));
    }

    // ---- issue 21 case 4: a challenge ACK in SYN-SENT ----
    #[test]
    fn challenge_ack_in_syn_sent_keeps_the_handshake() {
        // The server still holds an older connection: it answers the SYN
        // with a bare ACK for that one (ack 7777, not 101). The client
        // answers with RST seq=7777 and stays in SYN-SENT; its SYN again
        // (same ISN) 3 s later opens the connection, which closes FIN/FIN/ACK.
        let s = vec![
            seg(true, 0, SYN, 100, 0, 0),
            seg(false, 1, ACK, 9000, 7777, 0),
            seg(true, 2, RST, 7777, 0, 0),
            seg(true, 3000, SYN, 100, 0, 0),
            seg(false, 3001, SYN | ACK, 500, 101, 0),
            seg(true, 3002, ACK, 101, 501, 0),
            seg(true, 5000, FIN | ACK, 101, 501, 0),
            seg(false, 5010, FIN | ACK, 501, 102, 0),
            seg(true, 5011, ACK, 102, 502, 0),
        ];
        let c = run_to(&s, 5_011);
        assert_eq!(c.outcome(), Outcome::Complete);
        assert_eq!(c.rst_ts, None);
        assert_eq!(c.anomalies(), 0);
        let cl = c.client_side().0;
        assert_eq!(c.ep[cl].challenge_ack, Some(SeqNum(7777)));
        assert_eq!(c.latencies().fin_ack, Some(10_000));
        assert_eq!(c.closed_at(), Some(5_011_000_000));
        use TcpState::*;
        assert_eq!(
            states(&c, cl, 100_000),
            vec![
                (SynSent, 0, 3001),
                (Established, 3001, 5000),
                (FinWait1, 5000, 5010),
                (TimeWait, 5010, 65_010),
            ]
        );
        assert_eq!(
            states(&c, cl.other(), 100_000),
            vec![
                (SynReceived, 3001, 3002),
                (Established, 3002, 5000),
                (CloseWait, 5000, 5010),
                (LastAck, 5010, 5011),
            ]
        );
    }

    // ---- issue 21 case 5a: SYN copies 3 s and 6 s apart ----
    #[test]
    fn slow_syn_copies_are_not_a_give_up() {
        // SYNs at 63, 66, 72 s (a 3 s initial RTO): the next is due at
        // 72 + 12 s, so the SYN-ACK at 78.5 s finds the client in SYN-SENT.
        let s = vec![
            seg(true, 63_000, SYN, 100, 0, 0),
            seg(true, 66_000, SYN, 100, 0, 0),
            seg(true, 72_000, SYN, 100, 0, 0),
            seg(false, 78_500, SYN | ACK, 500, 101, 0),
            seg(true, 78_501, ACK, 101, 501, 0),
            seg(true, 80_000, FIN | ACK, 101, 501, 0),
            seg(false, 80_010, ACK, 501, 102, 0),
            seg(false, 80_020, FIN | ACK, 501, 102, 0),
            seg(true, 80_021, ACK, 102, 502, 0),
        ];
        let c = run_to(&s, 80_021);
        assert_eq!(c.outcome(), Outcome::Complete);
        assert_eq!(c.anomalies(), 0);
        let cl = c.client_side().0;
        assert_eq!(c.latencies().fin_ack, Some(10_000));
        use TcpState::*;
        assert_eq!(
            states(&c, cl, 200_000),
            vec![
                (SynSent, 63_000, 78_500),
                (Established, 78_500, 80_000),
                (FinWait1, 80_000, 80_010),
                (FinWait2, 80_010, 80_020),
                (TimeWait, 80_020, 140_020),
            ]
        );
        // Without the SYN-ACK the attempt still gives up: at 72 + 12 s.
        let c = run_to(&s[..3], 100_000);
        assert_eq!(c.outcome(), Outcome::Unanswered);
        assert_eq!(states(&c, cl, 200_000), vec![(SynSent, 63_000, 84_000)]);
    }

    // ---- issue 21 case 5b: a FIN below data its sender already sent ----
    #[test]
    fn fin_below_sent_data_is_never_acked() {
        // The client sent bytes 101..1101, then a FIN at 601: the server's
        // ACK 1101 covers the data, not that FIN.
        let mut s = established(100, 500);
        s.push(seg(true, 10, ACK | PSH, 101, 501, 1000));
        s.push(seg(true, 20, FIN | ACK, 601, 501, 0));
        s.push(seg(false, 30, ACK, 501, 1101, 0));
        let c = run_to(&s, 100);
        let cl = c.client_side().0;
        assert_eq!(c.ep[cl].fin_acked_ts, None);
        assert_eq!(c.ep[cl].data_end, Some(SeqNum(1101)));
        assert_eq!(c.outcome(), Outcome::FinUnacked);
        assert!(c.fin_unacked(cl));
        // The FIN at the sender's highest sequence is ACKed as before.
        let mut s = established(100, 500);
        s.push(seg(true, 10, ACK | PSH, 101, 501, 1000));
        s.push(seg(true, 20, FIN | ACK, 1101, 501, 0));
        s.push(seg(false, 30, ACK, 501, 1102, 0));
        let c = run_to(&s, 100);
        assert_eq!(c.ep[cl].fin_acked_ts, Some(30_000_000));
        assert_eq!(c.outcome(), Outcome::HalfClosed);
    }

    // ---- issue 21 case 3a: data after the local FIN answered by RST ----
    #[test]
    fn rst_answering_data_after_close_is_an_abort_on_data() {
        // The client closes (FIN ACKed: FIN-WAIT-2); 1.5 ms later the
        // server sends 125 bytes with its FIN; the client's host answers
        // with a bare RST 8 ms later: TCPAbortOnData, not a FIN-WAIT-2
        // timeout.
        let mut s = established(100, 500);
        s.push(seg(true, 10, FIN | ACK, 101, 501, 0));
        s.push(seg(false, 11, ACK, 501, 102, 0));
        s.push(seg(false, 13, FIN | ACK | PSH, 501, 102, 125));
        s.push(seg(true, 21, RST, 102, 0, 0));
        let c = run_to(&s, 1_000);
        let cl = c.client_side().0;
        assert!(c.ep[cl].abort_on_data);
        assert!(!c.ep[cl].fin_wait_2_gone);
        assert!(!c.ep[cl].reset_awaiting_ack);
        assert_eq!(c.outcome(), Outcome::ResetAfterFin);
        assert_eq!(c.rst_ts, Some(21_000_000));
        assert_eq!(c.rst_by, Some(cl));
        use TcpState::*;
        assert_eq!(
            c.ep[cl].machine,
            crate::flow::state::tests::machine(
                &[
                    (SynSent, 0),
                    (Established, 1),
                    (FinWait1, 10),
                    (FinWait2, 11),
                    (Reset, 21)
                ],
                0
            )
        );
        // A bare FIN (no data) 5 s later answered by a bare RST is still
        // a FIN-WAIT-2 socket gone.
        let mut s = established(100, 500);
        s.push(seg(true, 10, FIN | ACK, 101, 501, 0));
        s.push(seg(false, 11, ACK, 501, 102, 0));
        s.push(seg(false, 5_000, FIN | ACK, 501, 102, 0));
        s.push(seg(true, 5_000, RST, 102, 0, 0));
        let c = run_to(&s, 6_000);
        assert!(c.ep[cl].fin_wait_2_gone);
        assert!(!c.ep[cl].abort_on_data);
    }

    // ---- issue 21 case 3b: a port scan's crafted FINs ----
    #[test]
    fn crafted_fins_without_ack_are_never_killed() {
        // Two FINs without ACK, no handshake, no data, 1 s apart, no reply.
        let s = vec![
            seg(true, 0, FIN, 100, 0, 0),
            seg(true, 1_000, FIN, 100, 0, 0),
        ];
        let c = run_to(&s, 30_000);
        let cl = c.client_side().0;
        assert_eq!(c.ep[cl].killed_at, None);
        assert_eq!(c.outcome(), Outcome::FinUnacked);
    }

    // ---- a RST after a complete close ends nothing ----
    #[test]
    fn rst_after_a_complete_close_keeps_it_complete() {
        let mut s = established(100, 500);
        s.push(seg(true, 10, FIN | ACK, 101, 501, 0));
        s.push(seg(false, 20, FIN | ACK, 501, 102, 0));
        s.push(seg(true, 21, ACK, 102, 502, 0));
        // The server host, its LAST-ACK socket gone, resets a stray segment.
        s.push(seg(false, 4_000, RST, 502, 0, 0));
        let c = run_to(&s, 5_000);
        assert_eq!(c.outcome(), Outcome::Complete);
        assert_eq!(c.rst_ts, None);
        assert_eq!(c.rst_cause(), None);
        assert_eq!(c.ep[c.client_side().0.other()].rsts, 1);
        assert_eq!(c.closed_at(), Some(21_000_000));
    }

    // ---- a SYN-RECEIVED give-up taken back by the client's ACK ----
    #[test]
    fn late_ack_of_a_syn_ack_revives_the_server() {
        // One SYN-ACK, then nothing for 5 s: overdue from 1.521 s (its copy
        // was due at 1.001 s), given up; the client's ACK of it shows the
        // server alive (capture loss, or a slower timer).
        let s = vec![
            seg(true, 0, SYN, 100, 0, 0),
            seg(false, 1, SYN | ACK, 500, 101, 0),
            seg(true, 5_000, ACK, 101, 501, 0),
            seg(true, 5_001, FIN | ACK, 101, 501, 0),
            seg(false, 5_002, FIN | ACK, 501, 102, 0),
            seg(true, 5_003, ACK, 102, 502, 0),
        ];
        let c = run_to(&s, 5_003);
        assert_eq!(c.outcome(), Outcome::Complete);
        assert_eq!(c.anomalies(), 0);
        let sv = c.client_side().0.other();
        use TcpState::*;
        assert_eq!(
            states(&c, sv, 100_000),
            vec![
                (SynReceived, 1, 5_000),
                (Established, 5_000, 5_001),
                (CloseWait, 5_001, 5_002),
                (LastAck, 5_002, 5_003),
            ]
        );
    }
}
