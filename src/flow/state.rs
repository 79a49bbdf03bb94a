//! The close model's state machine: one endpoint's socket state, as a
//! passive observer can infer it, advanced by one `match (state, event)`.
//!
//! States carry the RFC 9293 names where the observer can know them, plus
//! observer states where it cannot (zeek's model): `Inactive` (nothing seen
//! yet), `Reset` (a RST ended it) and `Killed` (the kernel dropped an
//! orphan silently: inferred from its retransmissions stopping, see
//! [`super::retrans::Backoff`]). Events are what one segment means to each endpoint (it
//! sent it, or its peer did) and the timers the observer can infer.
//!
//! [`next`] is a pure function; [`Machine::apply`] is the only writer of
//! a state (smoltcp's `set_state`) and records every change with its time
//! in [`Transitions`], which everything downstream (outcomes, the timeline,
//! peers, `--flows`) reads instead of re-deriving states. An inference a
//! later packet proves wrong is taken back by [`Machine::correct`] only,
//! naming the rule ([`Correction`]) in the endpoint's [`Corrections`];
//! events a state cannot take are named by (state, event) in
//! [`Anomalies`]. Those records live in `history`; Linux's retransmission
//! model, which decides when silence means `GiveUp`, in `retrans`.

use std::fmt;

pub use super::history::{
    Anomalies, Correction, Corrections, MAX_CORRECTIONS, MAX_NAMED_ANOMALIES, MAX_TRANSITIONS,
    Transitions,
};

// Callers outside flow (metrics) name the retransmission model by its old
// path; it is defined in `retrans`.
pub use super::retrans::{MAX_ORPHAN_RETRIES, RTO_MAX_NS, RTO_MIN_NS, orphan_retries_range};

/// One endpoint's state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TcpState {
    /// Nothing seen from or for this endpoint yet (zeek INACTIVE).
    #[default]
    Inactive,
    SynSent,
    SynReceived,
    Established,
    FinWait1,
    FinWait2,
    Closing,
    TimeWait,
    CloseWait,
    LastAck,
    /// Closed gracefully (LAST-ACK ACKed, TIME-WAIT over, FIN-WAIT-2 timed
    /// out) or an attempt abandoned (SYN / SYN-ACK retransmissions stopped).
    Closed,
    /// Ended by a RST, sent or received.
    Reset,
    /// An orphan the kernel dropped without sending anything: its FIN
    /// retransmissions stopped before the ACK and the next one is overdue.
    Killed,
}

/// Number of states that are timeline series ([`TcpState::SERIES`]).
pub const NSTATES: usize = 9;

impl TcpState {
    /// Every state, in lifecycle order.
    pub const ALL: [TcpState; 13] = [
        TcpState::Inactive,
        TcpState::SynSent,
        TcpState::SynReceived,
        TcpState::Established,
        TcpState::FinWait1,
        TcpState::FinWait2,
        TcpState::Closing,
        TcpState::TimeWait,
        TcpState::CloseWait,
        TcpState::LastAck,
        TcpState::Closed,
        TcpState::Reset,
        TcpState::Killed,
    ];

    /// The states a socket can be *in* for a while, in timeline series
    /// order (the first seven are the historic order of the JSON).
    pub const SERIES: [TcpState; NSTATES] = [
        TcpState::Established,
        TcpState::FinWait1,
        TcpState::FinWait2,
        TcpState::Closing,
        TcpState::TimeWait,
        TcpState::CloseWait,
        TcpState::LastAck,
        TcpState::SynSent,
        TcpState::SynReceived,
    ];

    /// Index in [`TcpState::SERIES`]; `None` for states that end a socket
    /// (or precede it).
    pub fn series(self) -> Option<usize> {
        TcpState::SERIES.iter().position(|s| *s == self)
    }

    /// JSON / CSV name, also its timeline series' (`metrics::timeline::Series::name`).
    pub const fn key(self) -> &'static str {
        match self {
            TcpState::Inactive => "inactive",
            TcpState::SynSent => "syn_sent",
            TcpState::SynReceived => "syn_recv",
            TcpState::Established => "established",
            TcpState::FinWait1 => "fin_wait_1",
            TcpState::FinWait2 => "fin_wait_2",
            TcpState::Closing => "closing",
            TcpState::TimeWait => "time_wait",
            TcpState::CloseWait => "close_wait",
            TcpState::LastAck => "last_ack",
            TcpState::Closed => "closed",
            TcpState::Reset => "reset",
            TcpState::Killed => "killed",
        }
    }

    /// No socket any more: nothing the endpoint does changes the state.
    pub fn is_final(self) -> bool {
        matches!(self, TcpState::Closed | TcpState::Reset | TcpState::Killed)
    }

    /// Past the handshake and not yet gone: ESTABLISHED or a closing state.
    pub fn is_synchronized(self) -> bool {
        matches!(
            self,
            TcpState::Established
                | TcpState::FinWait1
                | TcpState::FinWait2
                | TcpState::Closing
                | TcpState::TimeWait
                | TcpState::CloseWait
                | TcpState::LastAck
        )
    }

    /// Waiting for the ACK of its own FIN: the states a retransmission
    /// timer (and, for an orphan, tcp_orphan_retries) governs.
    pub fn awaits_fin_ack(self) -> bool {
        matches!(
            self,
            TcpState::FinWait1 | TcpState::Closing | TcpState::LastAck
        )
    }

    /// A timer of the model can move an endpoint on from this state
    /// (`Conn::advance`): TIME-WAIT's and FIN-WAIT-2's ends, the give-up of
    /// a SYN's or SYN-ACK's retransmissions, of a FIN's. In every other
    /// state only a segment does.
    pub fn timer_armed(self) -> bool {
        matches!(
            self,
            TcpState::SynSent | TcpState::SynReceived | TcpState::FinWait2 | TcpState::TimeWait
        ) || self.awaits_fin_ack()
    }

    /// Linux counts the socket as an orphan in these states when the
    /// application has closed it (FIN-WAIT-2 is a timewait entry when
    /// tcp_fin_timeout <= 60 s; docs/timeline.md).
    pub fn is_orphan_state(self) -> bool {
        self.awaits_fin_ack()
    }
}

impl fmt::Display for TcpState {
    /// The RFC 9293 name (zeek's for the observer states).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TcpState::Inactive => "INACTIVE",
            TcpState::SynSent => "SYN-SENT",
            TcpState::SynReceived => "SYN-RECEIVED",
            TcpState::Established => "ESTABLISHED",
            TcpState::FinWait1 => "FIN-WAIT-1",
            TcpState::FinWait2 => "FIN-WAIT-2",
            TcpState::Closing => "CLOSING",
            TcpState::TimeWait => "TIME-WAIT",
            TcpState::CloseWait => "CLOSE-WAIT",
            TcpState::LastAck => "LAST-ACK",
            TcpState::Closed => "CLOSED",
            TcpState::Reset => "RESET",
            TcpState::Killed => "KILLED",
        })
    }
}

/// What a segment or a timer means to one endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// It sent a SYN (first, or a copy).
    SendSyn,
    /// It sent a SYN-ACK (first, or a copy).
    SendSynAck,
    /// It sent a SYN (SYN-ACK) with the ISN of a handshake that a RST ended
    /// before it completed: the handshake is retried.
    SynRetry,
    SynAckRetry,
    /// The peer retried a handshake that a RST ended: this endpoint is
    /// back to where it was before (nothing known, e.g. listening).
    Reopen,
    /// It sent a segment without SYN, FIN or RST (data, pure ACK).
    SendSeg,
    /// It sent a FIN (first, or a copy).
    SendFin,
    /// It sent a RST.
    SendRst,
    /// The peer sent a SYN-ACK.
    RecvSynAck,
    /// The peer sent a segment without SYN, FIN or RST.
    RecvSeg,
    /// The peer sent a FIN.
    RecvFin,
    /// The peer acknowledged this endpoint's FIN.
    RecvFinAck,
    /// The peer sent a RST.
    RecvRst,
    /// Timer: the retransmissions of its SYN, SYN-ACK or FIN stopped and
    /// the next one is overdue: the socket is gone.
    GiveUp,
    /// Timer: TIME-WAIT is over (TCP_TIMEWAIT_LEN).
    TimeWaitEnd,
    /// Timer: an orphaned FIN-WAIT-2 socket timed out (tcp_fin_timeout).
    FinWait2Timeout,
}

impl Event {
    /// Every event.
    pub const ALL: [Event; 16] = [
        Event::SendSyn,
        Event::SendSynAck,
        Event::SynRetry,
        Event::SynAckRetry,
        Event::Reopen,
        Event::SendSeg,
        Event::SendFin,
        Event::SendRst,
        Event::RecvSynAck,
        Event::RecvSeg,
        Event::RecvFin,
        Event::RecvFinAck,
        Event::RecvRst,
        Event::GiveUp,
        Event::TimeWaitEnd,
        Event::FinWait2Timeout,
    ];
}

/// What an event does to a state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Move to this state.
    To(TcpState),
    /// Nothing changes (a copy, data, a late packet to a gone socket).
    Stay,
    /// A pair that cannot happen to a real socket: counted as an anomaly.
    Impossible,
}

/// A data or ACK segment sent or received in a synchronized state that
/// it does not change: [`next`] gives `Stay` (the fast path of
/// [`Machine::apply`]).
#[inline(always)]
fn data_stays(state: TcpState, event: Event) -> bool {
    use TcpState::*;
    matches!(event, Event::SendSeg | Event::RecvSeg)
        && matches!(
            state,
            Established | FinWait1 | FinWait2 | Closing | TimeWait | CloseWait | LastAck
        )
}

/// The whole state machine: what `event` does in `state`.
pub fn next(state: TcpState, event: Event) -> Step {
    use Event::*;
    use Step::*;
    use TcpState::*;
    match (state, event) {
        // ---- opening ----
        // Active open.
        (Inactive, SendSyn) => To(SynSent),
        // SYN retransmission (same ISN).
        (SynSent, SendSyn) => Stay,
        // Passive open, or a simultaneous open answering the peer's SYN.
        (Inactive | SynSent, SendSynAck) => To(SynReceived),
        // SYN-ACK retransmission.
        (SynReceived, SendSynAck) => Stay,
        // A handshake that a RST (or a give-up) ended is retried with the same ISN.
        (Reset | Closed, SynRetry) => To(SynSent),
        (Reset | Closed, SynAckRetry) => To(SynReceived),
        (Reset | Closed, Reopen) => To(Inactive),
        (_, Reopen) => Stay,
        // The client receives the SYN-ACK.
        (SynSent, RecvSynAck) => To(Established),
        // The server's SYN-ACK is acknowledged; or the client's ACK / data
        // shows it got a SYN-ACK the capture missed.
        (SynReceived, RecvSeg) | (SynSent | SynReceived, SendSeg) => To(Established),
        // Server data while we wait for the SYN-ACK: the capture missed it.
        (SynSent, RecvSeg) => To(Established),
        // First seen mid-stream: already synchronized (zeek PARTIAL).
        (Inactive, SendSeg | RecvSeg | RecvSynAck) => To(Established),
        // A SYN-ACK again after the handshake (a copy): nothing changes.
        (Established, RecvSynAck) => Stay,

        // ---- data ----
        (
            Established | FinWait1 | FinWait2 | Closing | TimeWait | CloseWait | LastAck,
            SendSeg | RecvSeg,
        ) => Stay,

        // ---- this endpoint closes ----
        // Active close (also straight from SYN-RECEIVED, RFC 9293 3.10.4,
        // or first seen at its FIN).
        (Inactive | SynSent | SynReceived | Established, SendFin) => To(FinWait1),
        // Passive close: the peer closed first.
        (CloseWait, SendFin) => To(LastAck),
        // A copy of its FIN (retransmission, or a FIN flag on a later segment).
        (FinWait1 | FinWait2 | Closing | TimeWait | LastAck, SendFin) => Stay,

        // ---- the peer closes ----
        (Inactive | SynReceived | Established, RecvFin) => To(CloseWait),
        // FINs crossed: ours is not ACKed yet.
        (FinWait1, RecvFin) => To(Closing),
        (FinWait2, RecvFin) => To(TimeWait),
        // The peer's FIN again.
        (CloseWait | Closing | TimeWait | LastAck, RecvFin) => Stay,

        // ---- our FIN is acknowledged ----
        (FinWait1, RecvFinAck) => To(FinWait2),
        (Closing, RecvFinAck) => To(TimeWait),
        (LastAck, RecvFinAck) => To(Closed),

        // ---- resets ----
        (
            Inactive | SynSent | SynReceived | Established | FinWait1 | FinWait2 | Closing
            | TimeWait | CloseWait | LastAck,
            SendRst | RecvRst,
        ) => To(Reset),

        // ---- timers ----
        // connect() / accept() abandoned: no more SYN (SYN-ACK) copies.
        (SynSent | SynReceived, GiveUp) => To(Closed),
        // An orphan's FIN retransmissions stopped before the ACK: killed
        // (tcp_orphan_retries, or tcp_retries2 for a socket still open).
        (FinWait1 | Closing | LastAck, GiveUp) => To(Killed),
        (TimeWait, TimeWaitEnd) => To(Closed),
        (FinWait2, FinWait2Timeout) => To(Closed),

        // ---- after the end ----
        // A late packet to a socket that is gone (the host answers RST).
        (Closed | Reset | Killed, RecvSeg | RecvFin | RecvFinAck | RecvRst | RecvSynAck) => Stay,
        // The host answers for a socket it no longer has.
        (Closed | Reset | Killed, SendRst) => Stay,

        // Everything else: a segment this state cannot send or receive (data
        // after a RST, a FIN from SYN-SENT, ...) or a timer that does not
        // apply. Counted as an anomaly.
        _ => Impossible,
    }
}

/// One endpoint: its state and the transitions that led there.
///
/// In declaration order (`repr(C)`): the transitions and the state first
/// (read by every segment), the anomaly and correction records behind.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Machine {
    pub transitions: Transitions,
    pub state: TcpState,
    /// Transitions that did not fit in [`MAX_TRANSITIONS`].
    pub overflow: u32,
    /// Events that cannot happen in the state they came in, named.
    pub anomalies: Anomalies,
    /// Inferred transitions a later packet took back, and by which rule.
    pub corrections: Corrections,
}

impl Machine {
    /// Applies `event` at `ts`: with [`Machine::correct`], the only place a
    /// state changes. Returns the step taken.
    #[inline(always)]
    pub fn apply(&mut self, event: Event, ts: u64) -> Step {
        // Most events: a segment in a state it leaves as it is (`next`'s
        // "data" rule; `data_stays_as_next_says` checks the two agree),
        // decided where the event is made, without a call (two per
        // segment: 54 instructions per packet went to the call).
        if data_stays(self.state, event) {
            return Step::Stay;
        }
        self.transition(event, ts)
    }

    /// [`Machine::apply`] for an event that may move the state.
    #[inline(never)]
    fn transition(&mut self, event: Event, ts: u64) -> Step {
        let step = next(self.state, event);
        match step {
            Step::To(s) if s != self.state => self.set_state(s, ts),
            Step::To(_) | Step::Stay => {}
            Step::Impossible => self.anomalies.record(self.state, event),
        }
        step
    }

    fn set_state(&mut self, s: TcpState, ts: u64) {
        // Transitions stay in time order even when a timer's inferred time
        // precedes the packet that revealed it.
        let ts = self.transitions.last().map_or(ts, |(_, t)| ts.max(t));
        if !self.transitions.push(s, ts) {
            self.overflow += 1;
        }
        self.state = s;
    }

    /// Takes back the last transition (an inference a later packet proved
    /// wrong, by `rule`) and records the correction; returns the state
    /// taken back (`None`, and nothing recorded, when there was none).
    pub fn correct(&mut self, rule: Correction) -> Option<TcpState> {
        let (st, _) = self.transitions.pop()?;
        self.state = self
            .transitions
            .last()
            .map_or(TcpState::Inactive, |(s, _)| s);
        self.corrections.push(rule, st);
        Some(st)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::Event::*;
    use super::TcpState::*;
    use super::*;

    /// Runs events from `Inactive`, one ms apart; returns the machine.
    fn run(events: &[Event]) -> Machine {
        let mut m = Machine::default();
        for (i, e) in events.iter().enumerate() {
            m.apply(*e, i as u64 * 1_000_000);
        }
        m
    }

    fn path(m: &Machine) -> Vec<TcpState> {
        m.transitions.iter().map(|(s, _)| s).collect()
    }

    /// The whole machine a list of (state, since ms) transitions and a
    /// the anomalies describe (smoltcp's `sanity!`): compared in one
    /// `assert_eq!`, so no field is forgotten.
    pub(crate) fn machine(
        path: &[(TcpState, u64)],
        anomalies: &[(TcpState, Event)],
        corrections: &[(Correction, TcpState)],
    ) -> Machine {
        let mut m = Machine::default();
        for &(st, ms) in path {
            m.set_state(st, ms * 1_000_000);
        }
        for &(s, e) in anomalies {
            m.anomalies.record(s, e);
        }
        for &(rule, st) in corrections {
            m.corrections.push(rule, st);
        }
        m
    }

    // ---- active close ----
    #[test]
    fn active_close_through_time_wait() {
        let m = run(&[
            SendSyn,
            RecvSynAck,
            SendSeg,
            SendFin,
            RecvFinAck,
            RecvFin,
            TimeWaitEnd,
        ]);
        assert_eq!(
            path(&m),
            [SynSent, Established, FinWait1, FinWait2, TimeWait, Closed]
        );
        assert_eq!(m.anomalies.count(), 0);
        assert_eq!(m.transitions.entered(FinWait1), Some(3_000_000));
    }

    // ---- passive close ----
    #[test]
    fn passive_close_through_last_ack() {
        let m = run(&[SendSynAck, RecvSeg, RecvFin, SendFin, RecvFinAck]);
        assert_eq!(
            path(&m),
            [SynReceived, Established, CloseWait, LastAck, Closed]
        );
    }

    // ---- simultaneous close ----
    #[test]
    fn crossing_fins_pass_through_closing() {
        let m = run(&[RecvSeg, SendFin, RecvFin, RecvFinAck, TimeWaitEnd]);
        assert_eq!(path(&m), [Established, FinWait1, Closing, TimeWait, Closed]);
    }

    // ---- FIN-WAIT-1: killed orphan, confirmed by a bare RST ----
    #[test]
    fn killed_orphan_stays_killed() {
        let m = run(&[RecvSeg, SendFin, SendFin, SendFin, GiveUp, RecvFin, SendRst]);
        assert_eq!(
            m,
            machine(&[(Established, 0), (FinWait1, 1), (Killed, 4)], &[], &[])
        );
    }

    // ---- SYN-SENT: a reset handshake retried ----
    #[test]
    fn handshake_reset_then_retried() {
        let m = run(&[SendSyn, SendRst, SynRetry, RecvSynAck]);
        assert_eq!(path(&m), [SynSent, Reset, SynSent, Established]);
        let m = run(&[SendSyn, GiveUp]);
        assert_eq!(path(&m), [SynSent, Closed]);
    }

    // ---- anomalies ----
    #[test]
    fn impossible_pairs_are_counted() {
        let mut m = run(&[RecvSeg, SendRst]);
        assert_eq!(m.apply(SendSeg, 10), Step::Impossible);
        assert_eq!(m.apply(TimeWaitEnd, 11), Step::Impossible);
        assert_eq!(m.apply(SendSeg, 12), Step::Impossible);
        assert_eq!(m.anomalies.count(), 3);
        // Named once per distinct (state, event), in the order seen.
        assert_eq!(
            m.anomalies.pairs().collect::<Vec<_>>(),
            [(Reset, SendSeg), (Reset, TimeWaitEnd)]
        );
        assert_eq!(m.state, Reset);
    }

    #[test]
    fn anomalies_past_the_named_are_counted() {
        let mut m = run(&[RecvSeg, SendRst]);
        for (i, e) in [
            SendSeg,
            SendFin,
            TimeWaitEnd,
            GiveUp,
            FinWait2Timeout,
            SendSeg,
        ]
        .into_iter()
        .enumerate()
        {
            assert_eq!(m.apply(e, 10 + i as u64), Step::Impossible);
        }
        assert_eq!(m.anomalies.count(), 6);
        assert_eq!(
            m.anomalies.pairs().collect::<Vec<_>>(),
            [
                (Reset, SendSeg),
                (Reset, SendFin),
                (Reset, TimeWaitEnd),
                (Reset, GiveUp)
            ]
        );
        assert_eq!(
            Anomalies::from_parts(6, m.anomalies.pairs()),
            Some(m.anomalies)
        );
        // More names than anomalies, or a pair named twice: not a record.
        assert_eq!(Anomalies::from_parts(1, m.anomalies.pairs()), None);
        assert_eq!(
            Anomalies::from_parts(2, [(Reset, SendSeg), (Reset, SendSeg)]),
            None
        );
    }

    #[test]
    fn a_correction_restores_the_state_before_and_is_recorded() {
        let mut m = run(&[RecvSeg, SendFin, GiveUp]);
        assert_eq!(m.correct(Correction::KillDisproved), Some(Killed));
        assert_eq!(m.state, FinWait1);
        assert_eq!(m.transitions.last(), Some((FinWait1, 1_000_000)));
        assert_eq!(
            m.corrections.iter().collect::<Vec<_>>(),
            [(Correction::KillDisproved, Killed)]
        );
        // Nothing to take back: nothing recorded.
        let mut m = Machine::default();
        assert_eq!(m.correct(Correction::HandshakeAlive), None);
        assert_eq!(m.corrections.count(), 0);
        // Past MAX_CORRECTIONS they are counted, the first ones kept.
        let mut m = run(&[RecvSeg, SendFin, SendFin, SendFin, SendFin, SendFin]);
        for _ in 0..MAX_CORRECTIONS + 1 {
            m.apply(GiveUp, 10);
            m.correct(Correction::KillDisproved);
        }
        assert_eq!(m.corrections.count(), 5);
        assert_eq!(m.corrections.iter().count(), MAX_CORRECTIONS);
        assert_eq!(
            Corrections::from_parts(5, m.corrections.seen(), m.corrections.iter()),
            Some(m.corrections)
        );
        assert_eq!(
            Corrections::from_parts(3, m.corrections.seen(), m.corrections.iter()),
            None
        );
        assert!(m.corrections.has(Correction::KillDisproved));
        assert!(!m.corrections.has(Correction::FinWait2Gone));
        // A rule listed but not seen: not a record.
        assert_eq!(Corrections::from_parts(5, 0, m.corrections.iter()), None);
    }

    #[test]
    fn transitions_overflow_keeps_the_final_state() {
        let mut m = Machine::default();
        for i in 0..12u64 {
            m.apply(if i % 2 == 0 { SendSyn } else { SendRst }, i);
            if i % 2 == 1 {
                m.apply(SynRetry, i);
            }
        }
        assert_eq!(m.transitions.len(), MAX_TRANSITIONS);
        assert!(m.overflow > 0);
        assert_eq!(m.transitions.last().map(|l| l.0), Some(m.state));
        // Taking one back still restores the state before the last change.
        let before = m.transitions.iter().nth(MAX_TRANSITIONS - 2).map(|x| x.0);
        m.correct(Correction::KillDisproved);
        assert_eq!(Some(m.state), before);
    }

    /// The fast path says `Stay` only where the table does.
    #[test]
    fn data_stays_as_next_says() {
        let mut fast = 0;
        for s in TcpState::ALL {
            for e in Event::ALL {
                if data_stays(s, e) {
                    assert_eq!(next(s, e), Step::Stay, "{s} {e:?}");
                    fast += 1;
                }
            }
        }
        assert_eq!(fast, 14);
    }

    #[test]
    fn every_pair_is_decided() {
        // `next` is total; final states never come back without a retry.
        for s in TcpState::ALL {
            for e in Event::ALL {
                if let Step::To(n) = next(s, e)
                    && s.is_final()
                {
                    assert!(
                        matches!(e, SynRetry | SynAckRetry | Reopen),
                        "{s} {e:?} -> {n}"
                    );
                }
            }
        }
    }
}
