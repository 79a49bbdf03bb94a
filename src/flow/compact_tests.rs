//! The compact form's unit tests: its primitives by hand-computed bytes,
//! the smallest connection's length, the longest one's round trip, and
//! damaged forms (every prefix, a byte more, every byte changed).

use super::wire::{Reader, Writer, varint_len};
use super::*;
use crate::decode::Segment;
use crate::flow::history::Transitions;

fn seg(ts_ns: u64) -> Segment {
    Segment {
        ts_ns,
        frame: 7,
        src: "10.0.0.1".parse().unwrap(),
        dst: "192.0.2.7".parse().unwrap(),
        sport: 40000,
        dport: 80,
        vlan: 0,
        seq: SeqNum(1),
        ack: SeqNum(0),
        flags: crate::decode::flags::SYN,
        payload_len: 0,
        ttl: 64,
        zero_window: false,
    }
}

#[test]
fn states_events_and_rules_are_written_as_their_place_in_all() {
    for (i, s) in TcpState::ALL.iter().enumerate() {
        assert_eq!(*s as usize, i);
        assert_eq!(state_of(i as u8), Some(*s));
    }
    assert_eq!(state_of(13), None);
    for (i, e) in Event::ALL.iter().enumerate() {
        assert_eq!(*e as usize, i);
    }
    for (i, c) in Correction::ALL.iter().enumerate() {
        assert_eq!(*c as usize, i);
    }
    // Two to a byte.
    assert!(TcpState::ALL.len() <= 16 && Event::ALL.len() <= 16);
}

#[test]
fn prefix_varints_take_7_bits_a_byte_then_9_bytes() {
    let cases: [(u64, usize); 18] = [
        (0, 1),
        (1, 1),
        (127, 1),
        (128, 2),
        (16_383, 2),
        (16_384, 3),
        ((1 << 21) - 1, 3),
        (1 << 21, 4),
        ((1 << 28) - 1, 4),
        (1 << 28, 5),
        ((1 << 35) - 1, 5),
        (1 << 35, 6),
        (1 << 42, 7),
        ((1 << 49) - 1, 7),
        (1 << 49, 8),
        ((1 << 56) - 1, 8),
        (1 << 56, 9),
        (u64::MAX, 9),
    ];
    for bits in 1..=64usize {
        assert_eq!(varint_len(u64::MAX >> (64 - bits)), bits.div_ceil(7));
    }
    let mut b = [0u8; BUF];
    let mut w = Writer::new(&mut b, 0);
    for &(v, n) in &cases {
        let at = w.pos;
        w.u(v);
        assert_eq!(w.pos - at, n, "{v}");
    }
    let b = w.written().to_vec();
    let mut r = Reader::new(&b);
    for &(v, _) in &cases {
        assert_eq!(r.u(), Some(v));
    }
    assert_eq!(r.pos, b.len());
    // 300 in 2 bytes: 300 << 2 | 0b10 = 0x4b2, little-endian; 2^56 as a
    // zero byte and its 8 bytes.
    let mut b = [0u8; BUF];
    let mut w = Writer::new(&mut b, 0);
    w.u(300);
    w.u(1 << 56);
    assert_eq!(w.written(), &[0xb2, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    // Times from the base as zigzags: -1 -> 1, +1 -> 2, (1 << 1 | 1, 2 << 1 | 1).
    let mut w = Writer::new(&mut b, 1000);
    w.ts(999);
    w.ts(1001);
    assert_eq!(w.written(), &[0x03, 0x05]);
    let mut r = Reader::new(&[0x03, 0x05]);
    r.base = 1000;
    assert_eq!((r.ts(), r.ts(), r.ts()), (Some(999), Some(1001), None));
}

#[test]
fn a_fresh_connection_takes_32_bytes() {
    let (key, _) = FlowKey::of(&seg(1_000_000));
    let c = Conn::new(key, &seg(1_000_000));
    let mut b = Vec::new();
    encode(&c, &mut b);
    // First time 8, last time, frame, frame difference 1 each, sides and
    // flags 1 each, the queue time (0: 10^6 before the first time, zigzag
    // 1,999,999: 21 bits) 3, two endpoints of a 4-byte header and the
    // machine's byte, the evidence's 6-byte mask.
    assert_eq!(b.len(), 8 + 3 + 2 + 3 + 2 * (4 + 1) + 6);
    assert_eq!(b[..8], 1_000_000u64.to_le_bytes());
    assert_eq!(decode(key, &b), Some(c));
    assert_eq!(last_ts(&b), Some(1_000_000));
}

fn full_machine(k: u64) -> Machine {
    let st = TcpState::ALL;
    Machine {
        transitions: Transitions::from_entries(
            (0..MAX_TRANSITIONS).map(|i| (st[12 - i], (i as u64 * k).wrapping_mul(0x9e37_79b9))),
        )
        .unwrap(),
        state: TcpState::Killed,
        overflow: u32::MAX,
        anomalies: Anomalies::from_parts(
            u32::MAX,
            [
                (TcpState::Killed, Event::FinWait2Timeout),
                (TcpState::Inactive, Event::SendSyn),
                (TcpState::Reset, Event::GiveUp),
                (TcpState::TimeWait, Event::RecvRst),
            ],
        )
        .unwrap(),
        corrections: Corrections::from_parts(
            u32::MAX,
            (1 << Correction::ALL.len()) - 1,
            [
                (Correction::FinWait2Gone, TcpState::Killed),
                (Correction::KillDisproved, TcpState::Inactive),
                (Correction::AbortOnData, TcpState::TimeWait),
                (Correction::FinsCrossed, TcpState::CloseWait),
            ],
        )
        .unwrap(),
    }
}

/// A connection with every field set, most at extremes (times before the
/// first packet, values past 2^56, wrapped sequence numbers).
fn full() -> (FlowKey, Conn) {
    let (key, _) = FlowKey::of(&seg(u64::MAX - 5));
    let mut c = Conn::new(key, &seg(u64::MAX - 5));
    c.last_ts = 3;
    c.first_frame = u64::MAX;
    c.last_frame = 0;
    c.client = Some((Side::B, SidesBy::Port));
    (c.first_fin, c.rst_by) = (Some(Side::B), Some(Side::A));
    (c.crossed, c.fin_before_rst, c.established) = (true, true, true);
    c.rst_ts = Some(u64::MAX);
    (c.fin_moved, c.kills_retracted) = (u32::MAX, 1);
    c.queued_at = u64::MAX / 3;
    for (k, e) in c.ep.0.iter_mut().enumerate() {
        *e = EndpointState {
            fin_ts: Some(0),
            fin_acked_ts: Some(u64::MAX),
            retracted_kill: Some(1 << 56),
            segments: u64::MAX,
            bytes: 1 << 56,
            last_sent_ts: u64::MAX,
            isn: Some(SeqNum(u32::MAX)),
            data_end: Some(SeqNum(k as u32)),
            fin_pos: SeqNum(0x8000_0000),
            sent_ack: true,
            kill_confirmed: true,
            bare_rst: true,
            reset_awaiting_ack: true,
            machine: full_machine(k as u64 + 1),
            killed_at: Some(u64::MAX - 1),
            fin_last_ts: 1,
            backoff: Backoff {
                first_ts: u64::MAX,
                last_ts: 0x0123_4567_89ab_cdef,
                interval: u64::MAX,
                first_interval: 1 << 60,
                second_interval: 1,
                retransmissions: u32::MAX,
            },
            challenge_ack: Some(SeqNum(u32::MAX)),
            fin_rtx: u32::MAX,
            fin_rtx_spurious: 1,
            fin_first_rto_us: u32::MAX,
            fin_rtx_fast: 2,
            rsts: u32::MAX,
            data_after_fin: true,
            abort_on_data: true,
        };
    }
    let m32 = u64::from(u32::MAX);
    let dir = [
        m32,
        m32,
        m32,
        m32,
        m32,
        m32,
        u64::MAX,
        u64::MAX,
        1 << 56,
        0xffff,
        m32,
        m32,
        m32,
        3,
        m32,
        m32,
        0,
    ];
    let mut counts = [0u64; NCOUNTS];
    counts[..17].copy_from_slice(&dir);
    counts[17..].copy_from_slice(&dir);
    let mut times = [u64::MAX; NTIMES];
    times[1] = 0;
    c.ev = Evidence::from_words(&times, &counts).unwrap();
    (key, c)
}

#[test]
fn the_fullest_connection_round_trips_within_max_len() {
    let (key, c) = full();
    let mut b = Vec::new();
    encode(&c, &mut b);
    assert!(b.len() <= MAX_LEN, "{} > {MAX_LEN}", b.len());
    assert_eq!(decode(key, &b).as_ref(), Some(&c));
    assert_eq!(last_ts(&b), Some(3));
    // Appended after whatever was there.
    let mut after = vec![9, 9];
    encode(&c, &mut after);
    assert_eq!((&after[..2], &after[2..]), (&[9u8, 9][..], &b[..]));
}

#[test]
fn a_damaged_form_decodes_to_none_or_a_connection_never_a_panic() {
    let (key, c) = full();
    let fresh = Conn::new(key, &seg(1_000_000));
    for c in [c, fresh] {
        let mut b = Vec::new();
        encode(&c, &mut b);
        for n in 0..b.len() {
            assert_eq!(decode(key, &b[..n]), None, "prefix of {n}");
        }
        let mut longer = b.clone();
        longer.push(0);
        assert_eq!(decode(key, &longer), None);
        for i in 0..b.len() {
            for x in [0x00, 0x01, 0x80, 0xff, b[i] ^ 0x10] {
                let mut d = b.clone();
                d[i] = x;
                let _ = decode(key, &d);
                let _ = last_ts(&d);
            }
        }
    }
}
