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
        ttl: 64,
        zero_window: false,
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

mod close;
mod handshake;
mod reset;
mod states;

/// The hot/cold layout holds: what every segment touches comes first in
/// each endpoint (before its kill evidence and retransmission schedule)
/// and in the connection (before the key), and ordering the fields by
/// hand cost no padding: 320 and 992 bytes are the sums of the fields'
/// sizes rounded up to the alignment (8), the least any order gives.
#[test]
fn hot_fields_come_first_and_the_connection_did_not_grow() {
    use std::mem::{offset_of, size_of};
    assert_eq!(size_of::<EndpointState>(), 320);
    assert_eq!(size_of::<Conn>(), 992);
    // An endpoint's hot part: the times, counts, sequence numbers and the
    // machine's transitions and state, in 3 cache lines (177 bytes).
    assert_eq!(offset_of!(EndpointState, machine), 96);
    let hot = offset_of!(EndpointState, machine) + offset_of!(Machine, state) + 1;
    assert_eq!(hot, 177);
    assert!(offset_of!(EndpointState, killed_at) >= hot);
    assert!(offset_of!(EndpointState, backoff) > hot);
    assert!(offset_of!(Machine, anomalies) > offset_of!(Machine, state));
    // The connection: the close facts (40 bytes), both endpoints, the
    // evidence, then what no segment reads.
    assert_eq!(offset_of!(Conn, ep), 40);
    assert_eq!(offset_of!(Conn, ev), 40 + 2 * 320);
    assert_eq!(
        offset_of!(Conn, first_ts),
        40 + 2 * 320 + size_of::<Evidence>()
    );
    assert!(offset_of!(Conn, key) > offset_of!(Conn, ev));
}
