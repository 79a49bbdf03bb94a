//! What an endpoint's machine remembers besides its state: the
//! transitions in time order ([`Transitions`]), the corrections a later
//! packet forced ([`Corrections`], each by a named [`Correction`] rule) and
//! the anomalies by (state, event) ([`Anomalies`], zeek's weirds). All of
//! fixed size: nothing is allocated per connection. Only
//! [`super::state::Machine`] writes them.

use super::state::{Event, TcpState};

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
    pub(super) fn push(&mut self, st: TcpState, ts: u64) -> bool {
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

    pub(super) fn pop(&mut self) -> Option<(TcpState, u64)> {
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

/// Most distinct (state, event) anomalies named per endpoint; past it they
/// are only counted.
pub const MAX_NAMED_ANOMALIES: usize = 4;

/// The events that could not happen in the state they came in (zeek's
/// "weirds"): the count of all of them, and the first
/// [`MAX_NAMED_ANOMALIES`] distinct (state, event) pairs by name. Fixed
/// size: nothing is allocated per connection.
#[derive(Clone, Copy, Debug, Eq)]
pub struct Anomalies {
    count: u32,
    pairs: [(TcpState, Event); MAX_NAMED_ANOMALIES],
    named: u8,
}

impl Default for Anomalies {
    fn default() -> Anomalies {
        Anomalies {
            count: 0,
            pairs: [(TcpState::Inactive, Event::SendSyn); MAX_NAMED_ANOMALIES],
            named: 0,
        }
    }
}

/// Equal when they count the same and name the same pairs.
impl PartialEq for Anomalies {
    fn eq(&self, o: &Anomalies) -> bool {
        self.count == o.count && self.pairs().eq(o.pairs())
    }
}

impl Anomalies {
    /// `count` anomalies, of which `pairs` named (at most
    /// [`MAX_NAMED_ANOMALIES`] distinct pairs, and no more than counted;
    /// `None` otherwise).
    pub fn from_parts(
        count: u32,
        pairs: impl IntoIterator<Item = (TcpState, Event)>,
    ) -> Option<Anomalies> {
        let mut a = Anomalies::default();
        for (s, e) in pairs {
            if a.named() == MAX_NAMED_ANOMALIES || a.pairs().any(|p| p == (s, e)) {
                return None;
            }
            a.pairs[a.named()] = (s, e);
            a.named += 1;
        }
        (a.named() as u64 <= u64::from(count)).then_some(Anomalies { count, ..a })
    }

    /// How many anomalies (every one, named or not).
    pub fn count(&self) -> u32 {
        self.count
    }

    fn named(&self) -> usize {
        usize::from(self.named)
    }

    /// The distinct (state, event) pairs named, in the order first seen.
    pub fn pairs(&self) -> impl Iterator<Item = (TcpState, Event)> + '_ {
        self.pairs[..self.named()].iter().copied()
    }

    pub(super) fn record(&mut self, s: TcpState, e: Event) {
        self.count = self.count.saturating_add(1);
        if self.named() < MAX_NAMED_ANOMALIES && !self.pairs().any(|p| p == (s, e)) {
            self.pairs[self.named()] = (s, e);
            self.named += 1;
        }
    }
}

/// A later packet proved an inferred transition wrong: which rule took it
/// back. Each is applied by [`Machine::correct`](super::state::Machine::correct) and kept in the
/// endpoint's [`Corrections`], so the history says what was corrected and
/// why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Correction {
    /// KILLED taken back: the endpoint sent again, or the peer ACKed the
    /// FIN it was thought to have abandoned (a slower timer than modelled,
    /// or copies the capture missed).
    KillDisproved,
    /// The FIN-WAIT-2 that a late ACK revived taken back: a bare RST
    /// answered that ACK, so the socket was gone after all (killed when
    /// first inferred).
    RevivalDisproved,
    /// A handshake's give-up (SYN-SENT or SYN-RECEIVED -> CLOSED) taken
    /// back: the endpoint sent, or the ACK of its SYN (SYN-ACK) reached it.
    HandshakeAlive,
    /// CLOSE-WAIT taken back: its own FIN crossed the peer's (it does not
    /// ACK it), so it went FIN-WAIT-1 -> CLOSING instead.
    FinsCrossed,
    /// The TIME-WAIT (CLOSING) that the peer's FIN implied taken back: a
    /// bare RST shows the data that came with that FIN reset the socket
    /// first (Linux's TCPAbortOnData).
    AbortOnData,
    /// TIME-WAIT taken back: a bare RST answered the peer's FIN, so the
    /// FIN-WAIT-2 socket had already timed out (tcp_fin_timeout).
    FinWait2Gone,
}

impl Correction {
    /// Its bit in [`Corrections::seen`].
    fn bit(self) -> u8 {
        1 << (self as u8)
    }

    /// Every correction.
    pub const ALL: [Correction; 6] = [
        Correction::KillDisproved,
        Correction::RevivalDisproved,
        Correction::HandshakeAlive,
        Correction::FinsCrossed,
        Correction::AbortOnData,
        Correction::FinWait2Gone,
    ];
}

/// Most corrections kept per endpoint; past it they are only counted.
pub const MAX_CORRECTIONS: usize = 4;

/// An endpoint's corrections in order: which rule took back which state,
/// and how many there were in all.
#[derive(Clone, Copy, Debug, Eq)]
pub struct Corrections {
    count: u32,
    /// The rules applied, one bit each (all of them, listed or not).
    seen: u8,
    list: [(Correction, TcpState); MAX_CORRECTIONS],
}

impl Default for Corrections {
    fn default() -> Corrections {
        Corrections {
            count: 0,
            seen: 0,
            list: [(Correction::KillDisproved, TcpState::Inactive); MAX_CORRECTIONS],
        }
    }
}

/// Equal when they count the same and list the same entries.
impl PartialEq for Corrections {
    fn eq(&self, o: &Corrections) -> bool {
        self.count == o.count && self.seen == o.seen && self.iter().eq(o.iter())
    }
}

impl Corrections {
    /// `count` corrections by the rules in `seen` ([`Corrections::seen`]),
    /// the first of which are `list` (at most [`MAX_CORRECTIONS`], and all
    /// of them when fewer; `None` otherwise).
    pub fn from_parts(
        count: u32,
        seen: u8,
        list: impl IntoIterator<Item = (Correction, TcpState)>,
    ) -> Option<Corrections> {
        let mut c = Corrections::default();
        for (rule, undone) in list {
            c.push(rule, undone);
        }
        let kept = u32::try_from(MAX_CORRECTIONS).unwrap_or(u32::MAX);
        let all = (1u8 << Correction::ALL.len()) - 1;
        (c.count.min(kept) == count.min(kept)
            && c.count <= count
            && c.seen & !seen == 0
            && seen & !all == 0
            && (count > kept || c.seen == seen))
            .then_some(Corrections { count, seen, ..c })
    }

    /// Whether `rule` was ever applied (listed or not).
    pub fn has(&self, rule: Correction) -> bool {
        self.seen & Correction::bit(rule) != 0
    }

    /// The rules applied, one bit each ([`Correction::ALL`] order).
    pub fn seen(&self) -> u8 {
        self.seen
    }

    /// How many corrections (every one, listed or not).
    pub fn count(&self) -> u32 {
        self.count
    }

    /// (rule, state taken back) in order, the first [`MAX_CORRECTIONS`].
    pub fn iter(&self) -> impl Iterator<Item = (Correction, TcpState)> + '_ {
        let n = usize::try_from(self.count).map_or(MAX_CORRECTIONS, |n| n.min(MAX_CORRECTIONS));
        self.list[..n].iter().copied()
    }

    pub(super) fn push(&mut self, rule: Correction, undone: TcpState) {
        if let Some(slot) = usize::try_from(self.count)
            .ok()
            .and_then(|i| self.list.get_mut(i))
        {
            *slot = (rule, undone);
        }
        self.seen |= Correction::bit(rule);
        self.count = self.count.saturating_add(1);
    }
}
