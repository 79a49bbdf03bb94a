//! A connection in compact form: what a closed connection waits in for the
//! TIME-WAIT horizon (60 s by default, most of a busy gateway's table).
//!
//! [`encode`] writes every field of a [`Conn`] but its key (the table's):
//! its first time as 8 bytes, the other integers as prefix varints
//! (`compact_wire.rs`: 7 bits a byte, the length in the first byte's
//! trailing zeros; times as zigzag differences from the first packet, a
//! machine's transitions from the one before), what is usually zero behind
//! a bit mask (an endpoint's FIN retransmission counts and schedule, the
//! evidence's words), flags, states and sides as bits of single bytes
//! (states two to a byte), an ISN as its 4 bytes, other sequence numbers
//! as differences from a data end or ISN (usually small or 0: skipped).
//! A machine's anomaly and correction records, empty on almost every
//! connection, are one bit unless present. About 205 bytes for a gateway
//! connection at its end (most of them times) against the struct's 992;
//! at most [`MAX_LEN`]. [`decode`] gives back an equal connection, so a
//! late segment (a FIN retransmitted into TIME-WAIT, a RST) is processed
//! exactly as if the connection had stayed whole; a damaged or cut form
//! gives `None`. The destructuring below names every field: a new field
//! does not compile until it is encoded.
//!
//! Both ways are on the per-connection path of a busy shard (every closed
//! connection is encoded once and decoded once), so neither branches on a
//! value's length: the writer fills a buffer on the stack 8 bytes at a
//! time and copies it out once, the reader loads 8 bytes at a time, a
//! mask's present words are found by their bits, states, events and rules
//! are their discriminants, and a connection is decoded in place
//! (docs/performance.md, "The compact form's cost").

use super::conn::evidence::{Evidence, NCOUNTS, NTIMES, SEQ_COUNTS};
use super::conn::{Conn, EndpointState, SidesBy};
use super::key::{FlowKey, PerSide, Side};
use super::retrans::Backoff;
use super::state::{
    Anomalies, Correction, Corrections, Event, MAX_CORRECTIONS, MAX_NAMED_ANOMALIES,
    MAX_TRANSITIONS, Machine, TcpState,
};
use crate::decode::seq::SeqNum;

#[path = "compact_wire.rs"]
mod wire;
use wire::{Reader, Writer, seq_diff, seq_of, unzigzag, zigzag};

/// The longest compact form (a varint takes at most 9 bytes, counted as
/// 10): the first time (8 bytes), 9 more values of the connection (10
/// bytes each, 2 of them u32s: 5) and its 2
/// flag bytes; per endpoint its 4-byte header, 16 words and 4 optional
/// times (10 bytes each), 3 sequence numbers (4 + 5 + 5), the machine's
/// byte, 8 transitions (11 bytes) and its records (3 varints of a u32,
/// 2 + 4 + 4 bytes); the evidence's 6-byte mask and 47 words.
pub const MAX_LEN: usize =
    8 + 7 * 10 + 2 * 5 + 2 + 2 * (4 + 20 * 10 + 14 + 1 + 8 * 11 + 3 * 5 + 10) + 6 + 47 * 10;

/// The buffers' size: a value's 8 (or 10) bytes are read or written at
/// once at any position up to [`MAX_LEN`].
const BUF: usize = MAX_LEN + 16;

// A machine's byte holds its state and the transitions' count (4 bits
// each); the transitions' states are 4 bits each in a u32; a state and an
// event (or a rule) share a byte.
const _: () = assert!(
    MAX_TRANSITIONS <= 8
        && TcpState::ALL.len() <= 16
        && Event::ALL.len() <= 16
        && Correction::ALL.len() <= 16
);

/// The evidence's mask is written in 6 bytes.
const EV_MASK_BYTES: usize = 6;
const _: () = assert!(NTIMES + NCOUNTS <= 8 * EV_MASK_BYTES);

/// An endpoint's words behind its presence mask, in order: its times
/// (the FIN's last copy, the last send, the retransmission schedule's
/// first and last copies), then the FIN position (as a difference from its
/// data end), the FIN retransmission counts, RSTs, segments and bytes, the
/// schedule's intervals and count.
const EP_WORDS: usize = 16;

/// The first this many are times (differences from the first packet).
const EP_TIMES: usize = 4;

/// An endpoint's flag bits (the low 16 of its 32-bit header; the high 16
/// are the presence of its words).
const F_FIN_TS: u32 = 1 << 0;
const F_FIN_ACKED_TS: u32 = 1 << 1;
const F_ISN: u32 = 1 << 2;
const F_KILLED_AT: u32 = 1 << 3;
const F_RETRACTED_KILL: u32 = 1 << 4;
const F_SENT_ACK: u32 = 1 << 5;
const F_KILL_CONFIRMED: u32 = 1 << 6;
const F_BARE_RST: u32 = 1 << 7;
const F_RESET_AWAITING_ACK: u32 = 1 << 8;
const F_DATA_END: u32 = 1 << 9;
const F_CHALLENGE_ACK: u32 = 1 << 10;
const F_DATA_AFTER_FIN: u32 = 1 << 11;
const F_ABORT_ON_DATA: u32 = 1 << 12;
/// The machine has anomaly or correction records, or an overflow.
const F_RECORDS: u32 = 1 << 13;
const F_ALL: u32 = (1 << 14) - 1;

/// The connection's flag byte.
const C_CROSSED: u8 = 1 << 0;
const C_FIN_BEFORE_RST: u8 = 1 << 1;
const C_ESTABLISHED: u8 = 1 << 2;
const C_RST_TS: u8 = 1 << 3;
const C_FIN_MOVED: u8 = 1 << 4;
const C_KILLS_RETRACTED: u8 = 1 << 5;
const C_ALL: u8 = (1 << 6) - 1;

impl Writer<'_> {
    /// The machine; its records only with `records`.
    #[inline(always)]
    fn machine(&mut self, m: &Machine, records: bool) {
        let Machine {
            state,
            transitions,
            anomalies,
            corrections,
            overflow,
        } = m;
        // A state fits 4 bits (13), the list's length too (at most 8);
        // the transitions' states two to a byte, then their times.
        let n = transitions.len();
        self.byte(*state as u8 | (n as u8) << 4);
        let mut states = 0u32;
        for (i, (st, _)) in transitions.iter().enumerate() {
            states |= (st as u32) << (4 * i);
        }
        self.low_bytes(states, n.div_ceil(2));
        let mut prev = self.base;
        for (_, ts) in transitions.iter() {
            self.u(zigzag(ts.wrapping_sub(prev)));
            prev = ts;
        }
        if !records {
            return;
        }
        self.u(u64::from(anomalies.count()));
        self.byte(anomalies.pairs().count() as u8);
        for (st, e) in anomalies.pairs() {
            // 13 states, 16 events: 4 bits each.
            self.byte(st as u8 | (e as u8) << 4);
        }
        self.u(u64::from(corrections.count()));
        self.byte(corrections.seen());
        for (rule, st) in corrections.iter() {
            self.byte(rule as u8 | (st as u8) << 4);
        }
        self.u(u64::from(*overflow));
    }

    #[inline(always)]
    fn endpoint(&mut self, e: &EndpointState) {
        let EndpointState {
            fin_ts,
            fin_pos,
            fin_acked_ts,
            fin_rtx,
            fin_rtx_spurious,
            fin_first_rto_us,
            fin_last_ts,
            fin_rtx_fast,
            rsts,
            isn,
            segments,
            bytes,
            sent_ack,
            last_sent_ts,
            backoff,
            killed_at,
            kill_confirmed,
            retracted_kill,
            bare_rst,
            reset_awaiting_ack,
            data_end,
            challenge_ack,
            data_after_fin,
            abort_on_data,
            machine,
        } = e;
        let Backoff {
            first_ts,
            last_ts,
            interval,
            first_interval,
            second_interval,
            retransmissions,
        } = *backoff;
        let records = has_records(machine);
        let flag = |b: bool, f: u32| if b { f } else { 0 };
        let flags = flag(fin_ts.is_some(), F_FIN_TS)
            | flag(fin_acked_ts.is_some(), F_FIN_ACKED_TS)
            | flag(isn.is_some(), F_ISN)
            | flag(killed_at.is_some(), F_KILLED_AT)
            | flag(retracted_kill.is_some(), F_RETRACTED_KILL)
            | flag(*sent_ack, F_SENT_ACK)
            | flag(*kill_confirmed, F_KILL_CONFIRMED)
            | flag(*bare_rst, F_BARE_RST)
            | flag(*reset_awaiting_ack, F_RESET_AWAITING_ACK)
            | flag(data_end.is_some(), F_DATA_END)
            | flag(challenge_ack.is_some(), F_CHALLENGE_ACK)
            | flag(*data_after_fin, F_DATA_AFTER_FIN)
            | flag(*abort_on_data, F_ABORT_ON_DATA)
            | flag(records, F_RECORDS);
        let mut words: [u64; EP_WORDS] = [
            *fin_last_ts,
            *last_sent_ts,
            first_ts,
            last_ts,
            seq_diff(u64::from(fin_pos.0), fin_base(fin_ts, data_end)),
            u64::from(*fin_rtx),
            u64::from(*fin_rtx_spurious),
            u64::from(*fin_first_rto_us),
            u64::from(*fin_rtx_fast),
            u64::from(*rsts),
            *segments,
            *bytes,
            interval,
            first_interval,
            second_interval,
            u64::from(retransmissions),
        ];
        let mut present = 0u32;
        for (i, &v) in words.iter().enumerate() {
            present |= u32::from(v != 0) << i;
        }
        for t in &mut words[..EP_TIMES] {
            *t = zigzag(t.wrapping_sub(self.base));
        }
        self.bytes((flags | present << 16).to_le_bytes());
        let mut m = present;
        while m != 0 {
            let i = m.trailing_zeros() as usize;
            m &= m - 1;
            self.u(words[i]);
        }
        self.opt_ts(*fin_ts);
        self.opt_ts(*fin_acked_ts);
        if let Some(isn) = isn {
            // A random 32-bit number: 4 bytes, not a 5-byte varint.
            self.bytes(isn.0.to_le_bytes());
        }
        self.opt_ts(*killed_at);
        self.opt_ts(*retracted_kill);
        if let Some(d) = data_end {
            self.u(seq_diff(u64::from(d.0), isn.map_or(0, |i| i.0)));
        }
        if let Some(c) = challenge_ack {
            self.u(u64::from(c.0));
        }
        self.machine(machine, records);
    }
}

/// Whether the machine has anything besides its state and transitions.
fn has_records(m: &Machine) -> bool {
    m.anomalies.count() != 0
        || m.anomalies.pairs().next().is_some()
        || m.corrections.count() != 0
        || m.corrections.seen() != 0
        || m.overflow != 0
}

/// The base of an endpoint's FIN position: its data end when it sent a
/// FIN (the FIN usually follows its data), else 0.
fn fin_base(fin_ts: &Option<u64>, data_end: &Option<SeqNum>) -> u32 {
    match (fin_ts, data_end) {
        (Some(_), Some(d)) => d.0,
        _ => 0,
    }
}

/// A side's code in 2 bits.
fn side_code(s: Option<Side>) -> u8 {
    match s {
        None => 0,
        Some(Side::A) => 1,
        Some(Side::B) => 2,
    }
}

fn side_of(code: u8) -> Option<Option<Side>> {
    match code {
        0 => Some(None),
        1 => Some(Some(Side::A)),
        2 => Some(Some(Side::B)),
        _ => None,
    }
}

const SIDES_BY: [SidesBy; 3] = [SidesBy::Syn, SidesBy::SynAck, SidesBy::Port];

/// The client in 3 bits: 0 none, else 1 + 3 * side + how.
fn client_code(c: Option<(Side, SidesBy)>) -> u8 {
    let Some((side, by)) = c else {
        return 0;
    };
    let by = match by {
        SidesBy::Syn => 0,
        SidesBy::SynAck => 1,
        SidesBy::Port => 2,
    };
    1 + 3 * (side_code(Some(side)) - 1) + by
}

fn client_of(code: u8) -> Option<Option<(Side, SidesBy)>> {
    if code == 0 {
        return Some(None);
    }
    let (side, by) = ((code - 1) / 3, (code - 1) % 3);
    Some(Some((side_of(side + 1)??, SIDES_BY[usize::from(by)])))
}

/// The encoder's buffer, kept by its user from one connection to the next
/// (a shard's): a form is written in place, without zeroing the longest
/// form's bytes first (a 1,230-byte `memset` per connection).
pub struct Scratch(Box<[u8; BUF]>);

impl Default for Scratch {
    fn default() -> Scratch {
        Scratch(Box::new([0; BUF]))
    }
}

/// Appends `c`'s compact form (its key aside) to `out`.
pub fn encode(c: &Conn, out: &mut Vec<u8>) {
    out.extend_from_slice(encode_in(c, &mut Scratch::default()));
}

/// `c`'s compact form (its key aside), written in `s`.
pub fn encode_in<'s>(c: &Conn, s: &'s mut Scratch) -> &'s [u8] {
    let Conn {
        key: _,
        first_ts,
        last_ts,
        first_frame,
        last_frame,
        client,
        ep,
        first_fin,
        crossed,
        rst_ts,
        rst_by,
        fin_before_rst,
        fin_moved,
        established,
        kills_retracted,
        queued_at,
        ev,
    } = c;
    let mut w = Writer::new(&mut s.0, *first_ts);
    // An absolute time in ns: 8 bytes, not a 9-byte varint.
    w.bytes(first_ts.to_le_bytes());
    w.ts(*last_ts);
    w.u(*first_frame);
    w.u(zigzag(last_frame.wrapping_sub(*first_frame)));
    w.byte(client_code(*client) | side_code(*first_fin) << 3 | side_code(*rst_by) << 5);
    let flag = |b: bool, f: u8| if b { f } else { 0 };
    w.byte(
        flag(*crossed, C_CROSSED)
            | flag(*fin_before_rst, C_FIN_BEFORE_RST)
            | flag(*established, C_ESTABLISHED)
            | flag(rst_ts.is_some(), C_RST_TS)
            | flag(*fin_moved != 0, C_FIN_MOVED)
            | flag(*kills_retracted != 0, C_KILLS_RETRACTED),
    );
    w.opt_ts(*rst_ts);
    for v in [*fin_moved, *kills_retracted] {
        if v != 0 {
            w.u(u64::from(v));
        }
    }
    w.ts(*queued_at);
    for e in &ep.0 {
        w.endpoint(e);
    }
    // The evidence: a bit per word that is not zero, then those words:
    // times relative to the first packet, sequence numbers as differences
    // from an endpoint's data end (usually 0: skipped), counts as they are.
    let times = ev.times();
    let mut counts = ev.counts();
    for &(i, side) in &SEQ_COUNTS {
        counts[i] = seq_diff(counts[i], data_end(ep, side));
    }
    let (mut tmask, mut cmask) = (0u64, 0u64);
    for (i, &t) in times.iter().enumerate() {
        tmask |= u64::from(t != 0) << i;
    }
    for (i, &c) in counts.iter().enumerate() {
        cmask |= u64::from(c != 0) << i;
    }
    w.slice(&(tmask | cmask << NTIMES).to_le_bytes()[..EV_MASK_BYTES]);
    while tmask != 0 {
        let i = tmask.trailing_zeros() as usize;
        tmask &= tmask - 1;
        w.ts(times[i]);
    }
    while cmask != 0 {
        let i = cmask.trailing_zeros() as usize;
        cmask &= cmask - 1;
        w.u(counts[i]);
    }
    debug_assert!(w.pos <= MAX_LEN);
    w.into_written()
}

/// An endpoint's data end (0 without data): the base of its evidence's
/// sequence numbers.
fn data_end(ep: &PerSide<EndpointState>, side: usize) -> u32 {
    ep.0[side].data_end.map_or(0, |d| d.0)
}

/// A state from its discriminant.
fn state_of(i: u8) -> Option<TcpState> {
    TcpState::ALL.get(usize::from(i)).copied()
}

impl Reader<'_> {
    /// Into `m` (a default machine).
    #[inline(always)]
    fn machine(&mut self, m: &mut Machine, records: bool) -> Option<()> {
        let head = self.byte()?;
        m.state = state_of(head & 15)?;
        let n = usize::from(head >> 4);
        if n > MAX_TRANSITIONS {
            return None;
        }
        let states = self.word();
        self.pos += n.div_ceil(2);
        // Pushed in place (at most MAX_TRANSITIONS: none is dropped).
        let mut prev = self.base;
        for i in 0..n {
            let st = state_of((states >> (4 * i) & 15) as u8)?;
            prev = prev.wrapping_add(unzigzag(self.u()?));
            m.transitions.push(st, prev);
        }
        if !records {
            return Some(());
        }
        let count = self.u32()?;
        let named = usize::from(self.byte()?);
        if named > MAX_NAMED_ANOMALIES {
            return None;
        }
        let mut pairs = [(TcpState::Inactive, Event::SendSyn); MAX_NAMED_ANOMALIES];
        for p in &mut pairs[..named] {
            let b = self.byte()?;
            *p = (state_of(b & 15)?, *Event::ALL.get(usize::from(b >> 4))?);
        }
        m.anomalies = Anomalies::from_parts(count, pairs[..named].iter().copied())?;
        let count = self.u32()?;
        let seen = self.byte()?;
        let listed = usize::try_from(count).ok()?.min(MAX_CORRECTIONS);
        let mut list = [(Correction::KillDisproved, TcpState::Inactive); MAX_CORRECTIONS];
        for c in &mut list[..listed] {
            let b = self.byte()?;
            *c = (
                *Correction::ALL.get(usize::from(b & 15))?,
                state_of(b >> 4)?,
            );
        }
        m.corrections = Corrections::from_parts(count, seen, list[..listed].iter().copied())?;
        m.overflow = self.u32()?;
        Some(())
    }

    /// Into `e` (a default endpoint).
    #[inline(always)]
    fn endpoint(&mut self, e: &mut EndpointState) -> Option<()> {
        let head = u32::from_le_bytes(self.bytes()?);
        let flags = head & 0xffff;
        if flags & !F_ALL != 0 {
            return None;
        }
        let bit = |f: u32| flags & f != 0;
        let mut w = [0u64; EP_WORDS];
        let mut m = head >> 16;
        while m != 0 {
            let i = m.trailing_zeros() as usize;
            m &= m - 1;
            w[i] = self.u()?;
        }
        for (i, t) in w[..EP_TIMES].iter_mut().enumerate() {
            let d = self.base.wrapping_add(unzigzag(*t));
            *t = if head >> (16 + i) & 1 != 0 { d } else { 0 };
        }
        let u32_ = |v: u64| u32::try_from(v).ok();
        e.fin_ts = self.opt_ts(bit(F_FIN_TS))?;
        e.fin_acked_ts = self.opt_ts(bit(F_FIN_ACKED_TS))?;
        if bit(F_ISN) {
            e.isn = Some(SeqNum(u32::from_le_bytes(self.bytes()?)));
        }
        e.killed_at = self.opt_ts(bit(F_KILLED_AT))?;
        e.retracted_kill = self.opt_ts(bit(F_RETRACTED_KILL))?;
        if bit(F_DATA_END) {
            let base = e.isn.map_or(0, |i| i.0);
            e.data_end = Some(SeqNum(u32_(seq_of(self.u()?, base)?)?));
        }
        if bit(F_CHALLENGE_ACK) {
            e.challenge_ack = Some(SeqNum(self.u32()?));
        }
        self.machine(&mut e.machine, bit(F_RECORDS))?;
        e.fin_last_ts = w[0];
        e.last_sent_ts = w[1];
        e.fin_pos = SeqNum(u32_(seq_of(w[4], fin_base(&e.fin_ts, &e.data_end))?)?);
        e.fin_rtx = u32_(w[5])?;
        e.fin_rtx_spurious = u32_(w[6])?;
        e.fin_first_rto_us = u32_(w[7])?;
        e.fin_rtx_fast = u32_(w[8])?;
        e.rsts = u32_(w[9])?;
        e.segments = w[10];
        e.bytes = w[11];
        e.backoff = Backoff {
            first_ts: w[2],
            last_ts: w[3],
            interval: w[12],
            first_interval: w[13],
            second_interval: w[14],
            retransmissions: u32_(w[15])?,
        };
        e.sent_ack = bit(F_SENT_ACK);
        e.kill_confirmed = bit(F_KILL_CONFIRMED);
        e.bare_rst = bit(F_BARE_RST);
        e.reset_awaiting_ack = bit(F_RESET_AWAITING_ACK);
        e.data_after_fin = bit(F_DATA_AFTER_FIN);
        e.abort_on_data = bit(F_ABORT_ON_DATA);
        Some(())
    }
}

/// The connection on `key` that [`encode`] wrote into `b`; `None` when `b`
/// is not such an encoding.
pub fn decode(key: FlowKey, b: &[u8]) -> Option<Conn> {
    let mut r = Reader::new(b);
    let first_ts = u64::from_le_bytes(r.bytes()?);
    r.base = first_ts;
    let last_ts = r.ts()?;
    let first_frame = r.u()?;
    let last_frame = first_frame.wrapping_add(unzigzag(r.u()?));
    let sides = r.byte()?;
    let client = client_of(sides & 7)?;
    let (first_fin, rst_by) = (side_of(sides >> 3 & 3)?, side_of(sides >> 5 & 3)?);
    let bits = r.byte()?;
    if sides >> 7 != 0 || bits & !C_ALL != 0 {
        return None;
    }
    let rst_ts = r.opt_ts(bits & C_RST_TS != 0)?;
    let fin_moved = if bits & C_FIN_MOVED != 0 { r.u32()? } else { 0 };
    let kills_retracted = if bits & C_KILLS_RETRACTED != 0 {
        r.u32()?
    } else {
        0
    };
    let queued_at = r.ts()?;
    let mut c = Conn {
        key,
        first_ts,
        last_ts,
        first_frame,
        last_frame,
        client,
        ep: PerSide::default(),
        first_fin,
        crossed: bits & C_CROSSED != 0,
        rst_ts,
        rst_by,
        fin_before_rst: bits & C_FIN_BEFORE_RST != 0,
        fin_moved,
        established: bits & C_ESTABLISHED != 0,
        kills_retracted,
        queued_at,
        ev: Evidence::default(),
    };
    for e in &mut c.ep.0 {
        r.endpoint(e)?;
    }
    let mut m = [0u8; 8];
    m[..EV_MASK_BYTES].copy_from_slice(&r.bytes::<EV_MASK_BYTES>()?);
    let mask = u64::from_le_bytes(m);
    if mask >> (NTIMES + NCOUNTS) != 0 {
        return None;
    }
    let mut times = [0u64; NTIMES];
    let mut tmask = mask & ((1 << NTIMES) - 1);
    while tmask != 0 {
        let i = tmask.trailing_zeros() as usize;
        tmask &= tmask - 1;
        times[i] = r.ts()?;
    }
    let mut counts = [0u64; NCOUNTS];
    let mut cmask = mask >> NTIMES;
    while cmask != 0 {
        let i = cmask.trailing_zeros() as usize;
        cmask &= cmask - 1;
        counts[i] = r.u()?;
    }
    for &(i, side) in &SEQ_COUNTS {
        counts[i] = seq_of(counts[i], data_end(&c.ep, side))?;
    }
    c.ev = Evidence::from_words(&times, &counts)?;
    (r.pos == b.len()).then_some(c)
}

/// The last packet time of the connection `b` encodes, read without
/// decoding the rest.
pub fn last_ts(b: &[u8]) -> Option<u64> {
    let mut r = Reader::new(b);
    r.base = u64::from_le_bytes(r.bytes()?);
    let t = r.ts()?;
    (r.pos <= b.len()).then_some(t)
}

#[cfg(test)]
#[path = "compact_tests.rs"]
mod tests;
