//! The close model's state machine: one endpoint's socket state, as a
//! passive observer can infer it, advanced by one `match (state, event)`.
//!
//! States carry the RFC 9293 names where the observer can know them, plus
//! observer states where it cannot (zeek's model): `Inactive` (nothing seen
//! yet), `Reset` (a RST ended it) and `Killed` (the kernel dropped an
//! orphan silently: inferred from its retransmissions stopping, see
//! [`Backoff`]). Events are what one segment means to each endpoint (it
//! sent it, or its peer did) and the timers the observer can infer.
//!
//! [`next`] is a pure function; [`Machine::apply`] is the only writer of
//! a state (smoltcp's `set_state`) and records every change with its time
//! in [`Transitions`], which everything downstream (outcomes, the timeline,
//! peers, `--flows`) reads instead of re-deriving states.

use std::fmt;

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

/// Most transitions kept per endpoint; past it the oldest is dropped (so
/// the latest states, and taking one back, stay right) and the overflow
/// counted.
pub const MAX_TRANSITIONS: usize = 8;

/// An endpoint's state changes, in time order: state `st[i]` from `ts[i]`
/// until `ts[i + 1]` (or the end of observation).
#[derive(Clone, Copy, Debug, Default, Eq)]
pub struct Transitions {
    ts: [u64; MAX_TRANSITIONS],
    st: [TcpState; MAX_TRANSITIONS],
    len: u8,
}

/// Equal when they list the same entries (what lies past `len` is unused).
impl PartialEq for Transitions {
    fn eq(&self, o: &Transitions) -> bool {
        self.iter().eq(o.iter())
    }
}

impl Transitions {
    /// The list of `entries` (at most [`MAX_TRANSITIONS`]; `None` past it).
    pub fn from_entries(entries: impl IntoIterator<Item = (TcpState, u64)>) -> Option<Transitions> {
        let mut t = Transitions::default();
        for (st, ts) in entries {
            if t.len() == MAX_TRANSITIONS {
                return None;
            }
            t.push(st, ts);
        }
        Some(t)
    }

    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// (state, since) pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (TcpState, u64)> + '_ {
        self.st
            .iter()
            .copied()
            .zip(self.ts.iter().copied())
            .take(self.len())
    }

    /// The last entry.
    pub fn last(&self) -> Option<(TcpState, u64)> {
        let i = self.len().checked_sub(1)?;
        Some((self.st[i], self.ts[i]))
    }

    /// Appends; returns false when the list was full (the oldest dropped).
    fn push(&mut self, st: TcpState, ts: u64) -> bool {
        let i = self.len();
        if i < MAX_TRANSITIONS {
            self.st[i] = st;
            self.ts[i] = ts;
            self.len += 1;
            true
        } else {
            self.st.rotate_left(1);
            self.ts.rotate_left(1);
            self.st[MAX_TRANSITIONS - 1] = st;
            self.ts[MAX_TRANSITIONS - 1] = ts;
            false
        }
    }

    fn pop(&mut self) -> Option<(TcpState, u64)> {
        let last = self.last()?;
        self.len -= 1;
        Some(last)
    }

    /// The state entered at `t` or before (Inactive before the first).
    pub fn state_at(&self, t: u64) -> TcpState {
        self.iter()
            .take_while(|(_, s)| *s <= t)
            .last()
            .map_or(TcpState::Inactive, |(st, _)| st)
    }

    /// When `st` was first entered.
    pub fn entered(&self, st: TcpState) -> Option<u64> {
        self.iter().find(|(s, _)| *s == st).map(|(_, t)| t)
    }
}

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
            self.first_interval.abs_diff(self.second_interval) * 10 <= self.second_interval
        })
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
        && b.first_interval.abs_diff(b.second_interval) * 4 < b.second_interval;
    let first_rto = b.first_ts + b.first_interval + if probe { b.second_interval } else { 0 };
    let alive_for = b.last_ts.saturating_sub(first_rto);
    let dead_after = killed_at.saturating_sub(first_rto);
    let lo = (0..=MAX_ORPHAN_RETRIES).find(|n| model_timeout(*n) > alive_for)?;
    let hi = (0..=MAX_ORPHAN_RETRIES)
        .rev()
        .find(|n| model_timeout(*n) <= dead_after)?;
    (lo <= hi).then_some((lo, hi))
}

/// One endpoint: its state and the transitions that led there.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Machine {
    pub state: TcpState,
    pub transitions: Transitions,
    /// Events that cannot happen in the state they came in.
    pub anomalies: u32,
    /// Transitions that did not fit in [`MAX_TRANSITIONS`].
    pub overflow: u32,
}

impl Machine {
    /// Applies `event` at `ts`: the only place a state changes.
    /// Returns the step taken.
    pub fn apply(&mut self, event: Event, ts: u64) -> Step {
        let step = next(self.state, event);
        match step {
            Step::To(s) if s != self.state => self.set_state(s, ts),
            Step::To(_) | Step::Stay => {}
            Step::Impossible => self.anomalies += 1,
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
    /// wrong); returns the state taken back.
    pub fn retract(&mut self) -> Option<TcpState> {
        let (st, _) = self.transitions.pop()?;
        self.state = self
            .transitions
            .last()
            .map_or(TcpState::Inactive, |(s, _)| s);
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
    /// count of anomalies describe (smoltcp's `sanity!`): compared in one
    /// `assert_eq!`, so no field is forgotten.
    pub(crate) fn machine(path: &[(TcpState, u64)], anomalies: u32) -> Machine {
        let mut m = Machine::default();
        for &(st, ms) in path {
            m.set_state(st, ms * 1_000_000);
        }
        m.anomalies = anomalies;
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
        assert_eq!(m.anomalies, 0);
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
            machine(&[(Established, 0), (FinWait1, 1), (Killed, 4)], 0)
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
        assert_eq!(m.anomalies, 2);
        assert_eq!(m.state, Reset);
        // A retracted inference restores the state before it.
        let mut m = run(&[RecvSeg, SendFin, GiveUp]);
        assert_eq!(m.retract(), Some(Killed));
        assert_eq!(m.state, FinWait1);
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
        m.retract();
        assert_eq!(Some(m.state), before);
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
}
