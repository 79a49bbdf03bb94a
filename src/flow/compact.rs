//! A connection in compact form: what a closed connection waits in for the
//! TIME-WAIT horizon (60 s by default, most of a busy gateway's table).
//!
//! [`encode`] writes every field of a [`Conn`] but its key (the table's) as
//! variable-length integers, times as differences from its first packet,
//! flags and option presence as bits: about 230 bytes for a short
//! connection with data (50 of them the FIN evidence, its zero words
//! skipped by a bit mask, its sequence numbers as differences from a data
//! end) against the struct's 992. [`decode`] gives back an equal connection, so a late segment (a
//! FIN retransmitted into TIME-WAIT, a RST) is processed exactly as if the
//! connection had stayed whole. The destructuring below names every field:
//! a new field does not compile until it is encoded.

use super::conn::evidence::{Evidence, NCOUNTS, NTIMES, SEQ_COUNTS};
use super::conn::{Conn, EndpointState, SidesBy};
use super::key::{FlowKey, PerSide, Side};
use super::retrans::Backoff;
use super::state::{
    Anomalies, Correction, Corrections, Event, MAX_CORRECTIONS, MAX_NAMED_ANOMALIES,
    MAX_TRANSITIONS, Machine, TcpState, Transitions,
};
use crate::decode::seq::SeqNum;

/// Writes integers as LEB128 varints, times relative to a base.
struct Writer<'a> {
    out: &'a mut Vec<u8>,
    base: u64,
}

impl Writer<'_> {
    fn u(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.out.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.out.push(v as u8);
    }

    /// A time, as a zigzag difference from the base (times may go back).
    fn ts(&mut self, t: u64) {
        let d = t.wrapping_sub(self.base) as i64;
        self.u(((d << 1) ^ (d >> 63)) as u64);
    }

    fn opt_ts(&mut self, t: Option<u64>) {
        if let Some(t) = t {
            self.ts(t);
        }
    }

    fn state(&mut self, s: TcpState) {
        let i = TcpState::ALL.iter().position(|x| *x == s).unwrap_or(0);
        self.u(i as u64);
    }

    fn backoff(&mut self, b: &Backoff) {
        let Backoff {
            first_ts,
            last_ts,
            interval,
            first_interval,
            second_interval,
            retransmissions,
        } = *b;
        self.ts(first_ts);
        self.ts(last_ts);
        self.u(interval);
        self.u(first_interval);
        self.u(second_interval);
        self.u(u64::from(retransmissions));
    }

    fn machine(&mut self, m: &Machine) {
        let Machine {
            state,
            transitions,
            anomalies,
            corrections,
            overflow,
        } = *m;
        self.state(state);
        self.u(transitions.len() as u64);
        for (st, ts) in transitions.iter() {
            self.state(st);
            self.ts(ts);
        }
        self.u(u64::from(anomalies.count()));
        self.u(anomalies.pairs().count() as u64);
        for (st, e) in anomalies.pairs() {
            self.state(st);
            self.u(Event::ALL.iter().position(|x| *x == e).unwrap_or(0) as u64);
        }
        self.u(u64::from(corrections.count()));
        self.u(u64::from(corrections.seen()));
        for (rule, st) in corrections.iter() {
            self.u(Correction::ALL.iter().position(|x| *x == rule).unwrap_or(0) as u64);
            self.state(st);
        }
        self.u(u64::from(overflow));
    }

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
        } = *e;
        let bits = [
            fin_ts.is_some(),
            fin_acked_ts.is_some(),
            isn.is_some(),
            killed_at.is_some(),
            retracted_kill.is_some(),
            sent_ack,
            kill_confirmed,
            bare_rst,
            // Bits 8 and 9 held two facts now in the machine's corrections
            // (`kill_disproved()`, `fin_wait_2_gone()`).
            false,
            false,
            reset_awaiting_ack,
            data_end.is_some(),
            challenge_ack.is_some(),
            data_after_fin,
            abort_on_data,
        ];
        self.u(bits_of(&bits));
        self.opt_ts(fin_ts);
        self.u(u64::from(fin_pos.0));
        self.opt_ts(fin_acked_ts);
        self.u(u64::from(fin_rtx));
        self.u(u64::from(fin_rtx_spurious));
        self.u(u64::from(fin_first_rto_us));
        self.ts(fin_last_ts);
        self.u(u64::from(fin_rtx_fast));
        self.u(u64::from(rsts));
        if let Some(isn) = isn {
            self.u(u64::from(isn.0));
        }
        self.u(segments);
        self.u(bytes);
        self.ts(last_sent_ts);
        self.backoff(&backoff);
        self.opt_ts(killed_at);
        self.opt_ts(retracted_kill);
        for v in [data_end, challenge_ack].into_iter().flatten() {
            self.u(u64::from(v.0));
        }
        self.machine(&machine);
    }
}

fn bits_of(bits: &[bool]) -> u64 {
    bits.iter()
        .enumerate()
        .fold(0, |acc, (i, b)| acc | (u64::from(*b) << i))
}

fn side_code(s: Option<Side>) -> u64 {
    match s {
        None => 0,
        Some(Side::A) => 1,
        Some(Side::B) => 2,
    }
}

fn side_of(code: u64) -> Option<Option<Side>> {
    match code {
        0 => Some(None),
        1 => Some(Some(Side::A)),
        2 => Some(Some(Side::B)),
        _ => None,
    }
}

const SIDES_BY: [SidesBy; 3] = [SidesBy::Syn, SidesBy::SynAck, SidesBy::Port];

/// Appends `c`'s compact form (its key aside) to `out`.
pub fn encode(c: &Conn, out: &mut Vec<u8>) {
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
    let mut w = Writer { out, base: 0 };
    w.u(*first_ts);
    w.base = *first_ts;
    w.ts(*last_ts);
    w.u(*first_frame);
    let d = last_frame.wrapping_sub(*first_frame) as i64;
    w.u(((d << 1) ^ (d >> 63)) as u64);
    let client_code = match client {
        None => 0,
        Some((side, by)) => {
            let b = SIDES_BY.iter().position(|x| x == by).unwrap_or(0) as u64;
            1 + side_code(Some(*side)) * 3 + b
        }
    };
    w.u(client_code);
    w.u(side_code(*first_fin) | side_code(*rst_by) << 2);
    w.u(bits_of(&[
        *crossed,
        *fin_before_rst,
        *established,
        rst_ts.is_some(),
    ]));
    w.opt_ts(*rst_ts);
    w.u(u64::from(*fin_moved));
    w.u(u64::from(*kills_retracted));
    w.ts(*queued_at);
    for e in ep {
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
    let words = times.iter().chain(counts.iter());
    // (No allocation: the mask is folded from the words.)
    let mask = words
        .clone()
        .enumerate()
        .fold(0u64, |acc, (i, &v)| acc | (u64::from(v != 0) << i));
    w.u(mask);
    for &t in times.iter().filter(|&&t| t != 0) {
        w.ts(t);
    }
    for &c in counts.iter().filter(|&&c| c != 0) {
        w.u(c);
    }
}

/// An endpoint's data end (0 without data): the base of its evidence's
/// sequence numbers.
fn data_end(ep: &PerSide<EndpointState>, side: usize) -> u32 {
    ep.0[side].data_end.map_or(0, |d| d.0)
}

/// A sequence number as the zigzag of its difference from `base`.
fn seq_diff(v: u64, base: u32) -> u64 {
    let d = (v as u32).wrapping_sub(base) as i32;
    u64::from(((d << 1) ^ (d >> 31)) as u32)
}

/// The way back from [`seq_diff`]; `None` when it does not fit.
fn seq_of(z: u64, base: u32) -> Option<u64> {
    let z = u32::try_from(z).ok()?;
    let d = ((z >> 1) as i32) ^ -((z & 1) as i32);
    Some(u64::from(base.wrapping_add(d as u32)))
}

/// Reads varints written by [`Writer`]; `None` on malformed input.
struct Reader<'a> {
    b: &'a [u8],
    base: u64,
}

impl Reader<'_> {
    fn u(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self.b.split_first()?;
            self.b = rest;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    fn u32(&mut self) -> Option<u32> {
        u32::try_from(self.u()?).ok()
    }

    fn ts(&mut self) -> Option<u64> {
        let z = self.u()?;
        let d = ((z >> 1) as i64) ^ -((z & 1) as i64);
        Some(self.base.wrapping_add(d as u64))
    }

    fn opt_ts(&mut self, present: bool) -> Option<Option<u64>> {
        if present {
            self.ts().map(Some)
        } else {
            Some(None)
        }
    }

    fn state(&mut self) -> Option<TcpState> {
        TcpState::ALL.get(usize::try_from(self.u()?).ok()?).copied()
    }

    fn backoff(&mut self) -> Option<Backoff> {
        Some(Backoff {
            first_ts: self.ts()?,
            last_ts: self.ts()?,
            interval: self.u()?,
            first_interval: self.u()?,
            second_interval: self.u()?,
            retransmissions: self.u32()?,
        })
    }

    fn machine(&mut self) -> Option<Machine> {
        let state = self.state()?;
        let n = usize::try_from(self.u()?).ok()?;
        if n > MAX_TRANSITIONS {
            return None;
        }
        let mut list = [(TcpState::Inactive, 0); MAX_TRANSITIONS];
        for e in &mut list[..n] {
            *e = (self.state()?, self.ts()?);
        }
        let transitions = Transitions::from_entries(list[..n].iter().copied())?;
        let count = self.u32()?;
        let named = usize::try_from(self.u()?).ok()?;
        if named > MAX_NAMED_ANOMALIES {
            return None;
        }
        let mut pairs = [(TcpState::Inactive, Event::SendSyn); MAX_NAMED_ANOMALIES];
        for p in &mut pairs[..named] {
            let st = self.state()?;
            *p = (st, *Event::ALL.get(usize::try_from(self.u()?).ok()?)?);
        }
        let anomalies = Anomalies::from_parts(count, pairs[..named].iter().copied())?;
        let count = self.u32()?;
        let seen = u8::try_from(self.u()?).ok()?;
        let listed = usize::try_from(count).ok()?.min(MAX_CORRECTIONS);
        let mut list = [(Correction::KillDisproved, TcpState::Inactive); MAX_CORRECTIONS];
        for c in &mut list[..listed] {
            let rule = *Correction::ALL.get(usize::try_from(self.u()?).ok()?)?;
            *c = (rule, self.state()?);
        }
        Some(Machine {
            state,
            transitions,
            anomalies,
            corrections: Corrections::from_parts(count, seen, list[..listed].iter().copied())?,
            overflow: self.u32()?,
        })
    }

    fn endpoint(&mut self) -> Option<EndpointState> {
        let bits = self.u()?;
        let bit = |i: u32| bits & (1 << i) != 0;
        let fin_ts = self.opt_ts(bit(0))?;
        let fin_pos = SeqNum(self.u32()?);
        let fin_acked_ts = self.opt_ts(bit(1))?;
        let fin_rtx = self.u32()?;
        let fin_rtx_spurious = self.u32()?;
        let fin_first_rto_us = self.u32()?;
        let fin_last_ts = self.ts()?;
        let fin_rtx_fast = self.u32()?;
        let rsts = self.u32()?;
        let isn = if bit(2) {
            Some(SeqNum(self.u32()?))
        } else {
            None
        };
        let segments = self.u()?;
        let bytes = self.u()?;
        let last_sent_ts = self.ts()?;
        let backoff = self.backoff()?;
        let killed_at = self.opt_ts(bit(3))?;
        let retracted_kill = self.opt_ts(bit(4))?;
        let data_end = if bit(11) {
            Some(SeqNum(self.u32()?))
        } else {
            None
        };
        let challenge_ack = if bit(12) {
            Some(SeqNum(self.u32()?))
        } else {
            None
        };
        let machine = self.machine()?;
        Some(EndpointState {
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
            sent_ack: bit(5),
            last_sent_ts,
            backoff,
            killed_at,
            kill_confirmed: bit(6),
            retracted_kill,
            bare_rst: bit(7),
            reset_awaiting_ack: bit(10),
            data_end,
            challenge_ack,
            data_after_fin: bit(13),
            abort_on_data: bit(14),
            machine,
        })
    }
}

/// The connection on `key` that [`encode`] wrote into `b`; `None` when `b`
/// is not such an encoding.
pub fn decode(key: FlowKey, b: &[u8]) -> Option<Conn> {
    let mut r = Reader { b, base: 0 };
    let first_ts = r.u()?;
    r.base = first_ts;
    let last_ts = r.ts()?;
    let first_frame = r.u()?;
    let z = r.u()?;
    let d = ((z >> 1) as i64) ^ -((z & 1) as i64);
    let last_frame = first_frame.wrapping_add(d as u64);
    let client = match r.u()? {
        0 => None,
        c => {
            let (side, by) = ((c - 1) / 3, (c - 1) % 3);
            Some((side_of(side)??, SIDES_BY[by as usize]))
        }
    };
    let sides = r.u()?;
    let (first_fin, rst_by) = (side_of(sides & 3)?, side_of(sides >> 2)?);
    let bits = r.u()?;
    let rst_ts = r.opt_ts(bits & 8 != 0)?;
    let fin_moved = r.u32()?;
    let kills_retracted = r.u32()?;
    let queued_at = r.ts()?;
    let ep = PerSide([r.endpoint()?, r.endpoint()?]);
    let mask = r.u()?;
    let set = |i: usize| mask & (1 << i) != 0;
    if mask >> (NTIMES + NCOUNTS) != 0 {
        return None;
    }
    let mut times = [0u64; NTIMES];
    for (i, t) in times.iter_mut().enumerate() {
        if set(i) {
            *t = r.ts()?;
        }
    }
    let mut counts = [0u64; NCOUNTS];
    for (i, c) in counts.iter_mut().enumerate() {
        if set(NTIMES + i) {
            *c = r.u()?;
        }
    }
    for &(i, side) in &SEQ_COUNTS {
        counts[i] = seq_of(counts[i], data_end(&ep, side))?;
    }
    let ev = Evidence::from_words(&times, &counts)?;
    r.b.is_empty().then_some(Conn {
        key,
        first_ts,
        last_ts,
        first_frame,
        last_frame,
        client,
        ep,
        first_fin,
        crossed: bits & 1 != 0,
        rst_ts,
        rst_by,
        fin_before_rst: bits & 2 != 0,
        fin_moved,
        established: bits & 4 != 0,
        kills_retracted,
        queued_at,
        ev,
    })
}

/// The last packet time of the connection `b` encodes, read without
/// decoding the rest.
pub fn last_ts(b: &[u8]) -> Option<u64> {
    let mut r = Reader { b, base: 0 };
    r.base = r.u()?;
    r.ts()
}
