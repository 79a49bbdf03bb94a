//! The tracker: each segment and each timer the observer can infer turned
//! into events for both endpoints' state machines, and the moment a
//! connection on its key is over.

use super::{Conn, DUPLICATE_WINDOW_NS, EndpointState, SidesBy, Timers, other};
use crate::decode::{Segment, flags};
use crate::flow::key::Side;
use crate::flow::retrans::{Backoff, TIMEOUT_INIT_NS};
use crate::flow::state::{Correction, Event, TcpState};

impl Conn {
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
        self.dead_at_closed(self.closed_at(), idle, time_wait)
    }

    /// [`Conn::dead_at`] given its [`Conn::closed_at`] (`closed`), when the
    /// caller needs that too.
    #[inline]
    pub fn dead_at_closed(&self, closed: Option<u64>, idle: u64, time_wait: u64) -> u64 {
        let idle_end = self.last_ts.saturating_add(idle);
        match closed {
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
                let since = || e.machine.transitions.last().map_or(0, |l| l.1);
                let (event, at) = match st {
                    TcpState::TimeWait => {
                        (Event::TimeWaitEnd, since().saturating_add(t.time_wait_ns))
                    }
                    TcpState::FinWait2 => (
                        Event::FinWait2Timeout,
                        since().saturating_add(t.fin_timeout_ns),
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
                        && !e.kill_disproved()
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
        // Most segments come with both endpoints where no timer runs
        // (ESTABLISHED, CLOSE-WAIT): nothing to fire.
        if self.ep.iter().any(|e| e.machine.state.timer_armed()) {
            self.advance(ts, timers);
        }
        self.observe(seg, side);
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
        e.machine.correct(Correction::KillDisproved);
        e.backoff.last_ts = e.backoff.last_ts.max(ts);
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
            m.correct(Correction::HandshakeAlive);
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
            e.machine.correct(Correction::RevivalDisproved);
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
                e.machine.correct(Correction::AbortOnData);
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
            e.machine.correct(Correction::FinWait2Gone);
            e.apply(Event::FinWait2Timeout, pf);
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
                    e.machine.correct(Correction::FinsCrossed);
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
}

#[cfg(test)]
mod timer_tests {
    use super::*;

    /// `step` skips `advance` when no endpoint's state has a timer: in
    /// every such state, with everything a timer could fire on in place
    /// (a FIN pending, copies overdue, the transition long past),
    /// `advance` changes nothing; in the others it fires something.
    #[test]
    fn advance_fires_only_where_a_timer_is_armed() {
        let seg = Segment::between("10.0.0.1", 40000, "192.0.2.7", 80);
        let (key, _) = crate::flow::key::FlowKey::of(&seg);
        let t = Timers::default();
        let far = 1_000_000_000_000_000;
        for st in TcpState::ALL {
            let mut c = Conn::new(key, &seg);
            for e in &mut c.ep {
                e.machine.state = st;
                e.fin_ts = Some(0);
                e.sent_ack = true;
                e.backoff = Backoff::start(0);
                e.backoff.copy(200_000_000);
                e.backoff.copy(600_000_000);
            }
            let before = c.clone();
            c.advance(far, &t);
            assert_eq!(c != before, st.timer_armed(), "{st:?}");
        }
    }
}
