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
//!
//! The module is split at its seams: this file holds the types (the
//! endpoint, the connection, the outcome and the timers); `track` applies
//! segments and timers ([`Conn::step`], [`Conn::finish`]) and decides when
//! a key's connection is over; `verdict` holds the read-only queries
//! ([`Conn::outcome`], [`Conn::latencies`], [`Conn::intervals`], ...).

use super::key::{FlowKey, PerSide, Side};
pub use super::retrans::DUPLICATE_WINDOW_NS;
use super::retrans::{Backoff, RTO_MAX_NS, RTO_MIN_NS};
use super::state::{Correction, Event, Machine, TcpState};
use crate::decode::Segment;
use crate::decode::seq::SeqNum;

pub mod evidence;
mod track;
mod verdict;

pub use evidence::{DirEvidence, Evidence};

#[cfg(test)]
mod tests;

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
            time_wait_ns: crate::flow::table::DEFAULT_TIME_WAIT_NS,
            fin_timeout_ns: crate::flow::table::DEFAULT_FIN_TIMEOUT_NS,
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
///
/// In declaration order (`repr(C)`), hot first: what every segment reads
/// or writes (FIN and ACK times, counts, sequence numbers, the state
/// machine's state and last transition) in the first three cache lines,
/// what only a SYN, a FIN, a RST or a timer touches (the retransmission
/// schedule, kill evidence, FIN counts) behind it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EndpointState {
    /// Time of the first FIN.
    pub fin_ts: Option<u64>,
    /// Time of the first ACK from the other side that covers the FIN, while
    /// this endpoint's socket was alive.
    pub fin_acked_ts: Option<u64>,
    /// A kill inference that the peer's late ACK of the FIN took back (a
    /// live socket says nothing to that ACK): when it had been inferred. A
    /// bare RST answering that ACK restores it.
    pub retracted_kill: Option<u64>,
    /// Segments and payload bytes sent.
    pub segments: u64,
    pub bytes: u64,
    /// Time of the last segment it sent (RSTs aside).
    pub last_sent_ts: u64,
    /// ISN from this side's SYN.
    pub isn: Option<SeqNum>,
    /// End (seq + length) of the furthest payload it sent: a FIN below it
    /// is not at its sender's highest sequence, and no ACK accepts it.
    pub data_end: Option<SeqNum>,
    /// Position of the FIN (seq + payload length).
    pub fin_pos: SeqNum,
    /// Sent a segment with the ACK flag (so it received something).
    pub sent_ack: bool,
    /// The kill was confirmed: the host later answered the peer with a bare
    /// RST (no socket).
    pub kill_confirmed: bool,
    /// Sent a RST without the ACK flag: the reply of a host that has no
    /// socket for the segment it answers.
    pub bare_rst: bool,
    /// Sent RST|ACK while its FIN was unACKed: the kernel reset the orphan
    /// (tcp_max_orphans / memory pressure) or the application aborted.
    pub reset_awaiting_ack: bool,
    /// The state machine.
    pub machine: Machine,
    /// When its socket was inferred killed.
    pub killed_at: Option<u64>,
    /// Time of the latest copy of the FIN (first or retransmitted).
    pub fin_last_ts: u64,
    /// The copies of its outstanding SYN, SYN-ACK or FIN.
    pub backoff: Backoff,
    /// In SYN-SENT it received an ACK that does not acknowledge its SYN
    /// (a challenge ACK for an older connection): the ACK number, which
    /// its reply RST carries as its sequence number (RFC 9293 3.10.7.3).
    pub challenge_ack: Option<SeqNum>,
    /// FIN retransmissions sent before the FIN was ACKed.
    pub fin_rtx: u32,
    /// FIN retransmissions sent after it was ACKed (spurious).
    pub fin_rtx_spurious: u32,
    /// Time from the first FIN to its first retransmission, us (0: none):
    /// the first RTO, for the backoff model.
    pub fin_first_rto_us: u32,
    /// FIN retransmissions that came less than [`DUPLICATE_WINDOW_NS`] after
    /// the previous copy: faster than any retransmission timer.
    pub fin_rtx_fast: u32,
    /// RST segments sent.
    pub rsts: u32,
    /// The peer sent new data after this endpoint's FIN.
    pub data_after_fin: bool,
    /// It answered that data with a bare RST: a socket closed for reading
    /// (close(), an orphan) aborts on data (Linux TCPAbortOnData), and so
    /// would a host without the socket: the RST shows no timer
    /// (tcp_fin_timeout) and no kill.
    pub abort_on_data: bool,
}

impl EndpointState {
    /// A kill inferred from its silence was disproved
    /// ([`Correction::KillDisproved`] in its history): its schedule does
    /// not follow the model (capture loss, another stack), so silence alone
    /// no longer counts; only a bare RST does.
    pub fn kill_disproved(&self) -> bool {
        self.machine.corrections.has(Correction::KillDisproved)
    }

    /// Its FIN-WAIT-2 socket was gone when the peer's FIN came: it
    /// answered with a bare RST (tcp_fin_timeout had expired;
    /// [`Correction::FinWait2Gone`] in its history).
    pub fn fin_wait_2_gone(&self) -> bool {
        self.machine.corrections.has(Correction::FinWait2Gone)
    }

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
///
/// In declaration order (`repr(C)`), hot first: the times, the close
/// facts every segment checks and both endpoints ([`EndpointState`]: each
/// hot first), then the evidence; what no segment reads (the key, the
/// first packet, the expiry queue time, the anomaly counts) last, so that
/// a segment of a connection out of the cache brings in about 10 of its
/// 15 cache lines.
#[repr(C)]
#[derive(Clone, Debug, PartialEq)]
pub struct Conn {
    pub last_ts: u64,
    pub last_frame: u64,
    /// Time of the RST that ended the connection (a kill's confirming RST
    /// does not count), and who sent it.
    pub rst_ts: Option<u64>,
    /// Side that sent the first FIN.
    pub first_fin: Option<Side>,
    /// Client side (0 or 1), when a handshake decided it.
    pub client: Option<(Side, SidesBy)>,
    /// The second FIN was sent before the first was ACKed.
    pub crossed: bool,
    pub rst_by: Option<Side>,
    /// A FIN came before that RST.
    pub fin_before_rst: bool,
    /// Some endpoint reached ESTABLISHED.
    pub established: bool,
    pub ep: PerSide<EndpointState>,
    /// Why a FIN waited: round trips, retransmissions, windows, TTLs
    /// ([`evidence`]).
    pub ev: Evidence,
    pub first_ts: u64,
    pub first_frame: u64,
    /// Time of this connection's entry in its shard's expiry queue.
    pub queued_at: u64,
    pub key: FlowKey,
    /// FINs that moved past an earlier FIN of the same side (protocol anomaly).
    pub fin_moved: u32,
    /// Kill inferences that a later segment of the same endpoint disproved.
    pub kills_retracted: u32,
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
            ev: Evidence::default(),
        }
    }
}
