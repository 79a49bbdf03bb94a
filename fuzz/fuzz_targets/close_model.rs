//! The bytes drive a sequence of TCP segments between two fixed hosts
//! (client 10.0.0.1 ports 40000/40001, server 192.0.2.7:80) through the
//! close model: `finscope::flow::Shard` with `finscope::metrics::ShardMetrics`,
//! as tests/close_model_props.rs does, then `finish`.
//!
//! Input: byte 0 picks the settings (idle timeout, TIME-WAIT length, the
//! first timestamp, among them timestamps near 2^64 that a pcapng file can
//! give, whether `--local` names the server, whether time may go back);
//! then 6 bytes per segment: control (direction, client port, gap class,
//! how seq/ack are chosen), flags, gap, two bytes for seq/ack deltas or raw
//! values, payload length. Sequence numbers follow a conversation model
//! (each side's next sequence number, ACKs of what the peer sent, FIN
//! retransmissions at their first position, ISNs near 2^32) or are raw.
//!
//! Checked, on one shard and on two shards split by the symmetric hash (as
//! the pipeline does, on one capture clock): every retired connection has
//! one outcome and the summary's outcome counts add up to
//! `connections.total` and to the retired connections; outcomes by closer
//! add up to the connections with a FIN; `intervals(side, end, open)` are
//! non-empty, ordered, disjoint states a socket stays in; transitions in
//! time order, at most `MAX_TRANSITIONS`, ending in the state; a killed
//! endpoint sent a FIN that was not ACKed; the shard is empty after
//! `finish`; two shards retire the same connections with the same outcomes
//! as one; the remedies' replay of the local closes holds the invariants
//! of common/replay_checks.rs, and the report's remedies do not panic.
#![no_main]

use finscope::decode::Segment;
use finscope::decode::flags::{ACK, FIN, PSH, RST, SYN};
use finscope::decode::net::Cidr;
use finscope::decode::seq::SeqNum;
use finscope::flow::conn::{NOUTCOMES, Outcome};
use finscope::flow::key::{FlowKey, Side, symmetric_hash};
use finscope::flow::state::{MAX_TRANSITIONS, TcpState};
use finscope::flow::table::Retired;
use finscope::flow::{FlowConfig, Shard};
use finscope::metrics::ShardMetrics;
use finscope::metrics::timeline::TimelineConfig;
use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr};

#[path = "common/replay_checks.rs"]
mod replay_checks;

const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
const SERVER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));
const US: u64 = 1_000;
const MS: u64 = 1_000_000;
const SEC: u64 = 1_000_000_000;

const FLAGS: [u8; 12] = [
    SYN,
    SYN | ACK,
    ACK,
    ACK | PSH,
    FIN | ACK,
    RST,
    RST | ACK,
    FIN,
    SYN | FIN,
    FIN | RST,
    FIN | PSH | ACK,
    ACK,
];

#[derive(Clone, Copy, Default)]
struct SideSim {
    isn: Option<u32>,
    nxt: Option<u32>,
    /// Sequence number of the FIN sent (its first position).
    fin_seq: Option<u32>,
}

fn segments(data: &[u8]) -> (FlowConfig, Vec<Segment>) {
    let cfg_byte = data[0];
    let idle = [300 * SEC, SEC, 30 * SEC, 300 * SEC][usize::from(cfg_byte & 3)];
    let time_wait = [60 * SEC, 0, SEC, 60 * SEC][usize::from((cfg_byte >> 2) & 3)];
    let base = [
        1_700_000_000 * SEC,
        0,
        u64::MAX - 1_000 * SEC,
        u64::MAX / 4 - 10 * SEC,
    ][usize::from((cfg_byte >> 4) & 3)];
    let local = if cfg_byte & 0x40 != 0 {
        vec!["192.0.2.0/24".parse::<Cidr>().expect("a CIDR")]
    } else {
        Vec::new()
    };
    let back_allowed = cfg_byte & 0x80 != 0;
    let cfg = FlowConfig {
        local,
        idle_timeout_ns: idle,
        time_wait_ns: time_wait,
        ..FlowConfig::default()
    };

    let mut sims = [[SideSim::default(); 2]; 2];
    let mut t = base;
    let mut out = Vec::new();
    for (i, op) in data[1..].chunks_exact(6).enumerate() {
        let [c, f, g, d, x, l] = [op[0], op[1], op[2], op[3], op[4], op[5]];
        let from_client = c & 1 == 1;
        let pair = usize::from((c >> 1) & 1);
        let g64 = u64::from(g);
        match (c >> 2) & 7 {
            0 => {}
            1 => t = t.saturating_add(g64 * US),
            2 => t = t.saturating_add(g64 * MS),
            3 => t = t.saturating_add(g64 * 10 * MS),
            4 => t = t.saturating_add(g64 * 100 * MS),
            5 => t = t.saturating_add(g64 * SEC),
            6 => t = t.saturating_add(g64 * 10 * SEC),
            _ if back_allowed => t = t.saturating_sub(g64 * MS),
            _ => t = t.saturating_add(g64 * MS / 4),
        }
        let flags = if f < 0xC0 {
            FLAGS[usize::from(f) % FLAGS.len()]
        } else {
            f
        };
        let len = if l < 128 {
            0
        } else if l == 255 {
            65_495
        } else {
            u32::from(l - 128) * 12
        };
        let me = usize::from(!from_client);
        let peer_nxt = sims[pair][1 - me].nxt;
        let s = &mut sims[pair][me];
        let syn = flags & SYN != 0;
        let fin = u32::from(flags & FIN != 0);
        let (seq, ack) = match c >> 5 {
            6 => (
                u32::from_be_bytes([d, x, l, g]),
                u32::from_be_bytes([x, d, g, l]),
            ),
            mode => {
                let isn = match mode {
                    7 => 0xFFFF_FF00 | u32::from(d),
                    _ => u32::from_be_bytes([d, x, d, 1]),
                };
                let seq = if syn {
                    if mode == 3 || mode == 7 || s.isn.is_none() {
                        s.isn = Some(isn);
                        s.fin_seq = None;
                    }
                    s.isn.unwrap_or(isn)
                } else if let (4, Some(pos)) = (mode, s.fin_seq) {
                    // A retransmission of the FIN (or of what precedes it).
                    pos.wrapping_sub(len)
                } else {
                    let base = s.nxt.unwrap_or(isn);
                    match mode {
                        2 => base.wrapping_sub(u32::from(d)),
                        5 => base.wrapping_add(u32::from(d) << (x & 15)),
                        _ => base,
                    }
                };
                let first = seq.wrapping_add(u32::from(syn));
                if fin == 1 && s.fin_seq.is_none() {
                    s.fin_seq = Some(first.wrapping_add(len));
                }
                let end = first.wrapping_add(len).wrapping_add(fin);
                if s.nxt.is_none_or(|n| SeqNum(end) > SeqNum(n)) {
                    s.nxt = Some(end);
                }
                let lag = if mode == 1 { u32::from(x) } else { 0 };
                (seq, peer_nxt.unwrap_or(0).wrapping_sub(lag))
            }
        };
        let port = 40_000 + pair as u16;
        let (src, sport, dst, dport) = if from_client {
            (CLIENT, port, SERVER, 80)
        } else {
            (SERVER, 80, CLIENT, port)
        };
        out.push(Segment {
            ts_ns: t,
            frame: i as u64 + 1,
            src,
            dst,
            sport,
            dport,
            vlan: 0,
            seq: SeqNum(seq),
            ack: SeqNum(ack),
            flags,
            payload_len: len,
        });
    }
    (cfg, out)
}

fn shard(cfg: &FlowConfig) -> Shard<ShardMetrics> {
    Shard::new(
        cfg.clone(),
        ShardMetrics::new(TimelineConfig::default(), true),
    )
}

fn retired(s: &Shard<ShardMetrics>) -> &[Retired] {
    s.sink.retired.as_deref().unwrap_or(&[])
}

fn check(s: &Shard<ShardMetrics>) {
    assert_eq!(s.live(), 0, "connections left after finish");
    let ret = retired(s);
    let sum = &s.sink.summary;
    let total: u64 = sum.outcomes.iter().sum();
    assert_eq!(total, sum.connections.total, "outcomes {:?}", sum.outcomes);
    assert_eq!(total, ret.len() as u64, "outcomes vs retired connections");
    let mut counted = [0u64; NOUTCOMES];
    for r in ret {
        let o = r.conn.outcome();
        assert_eq!(Outcome::ALL.iter().filter(|x| **x == o).count(), 1);
        assert_eq!(Outcome::ALL[o.index()], o);
        counted[o.index()] += 1;
    }
    assert_eq!(counted, sum.outcomes, "outcomes counted vs summary");
    let by_closer: u64 = sum.outcomes_by_closer.iter().flatten().sum();
    let with_fin = ret.iter().filter(|r| r.conn.first_fin.is_some()).count() as u64;
    assert_eq!(
        by_closer, with_fin,
        "outcomes by closer vs connections with a FIN"
    );

    for r in ret {
        let c = &r.conn;
        assert!(c.first_ts <= c.last_ts, "first_ts after last_ts: {c:?}");
        for side in Side::BOTH {
            for open in [r.open, !r.open] {
                let iv = c.intervals(side, r.end_ts, open);
                let mut prev_end = 0u64;
                for (i, &(st, from, to)) in iv.iter().enumerate() {
                    assert!(from < to, "empty interval {:?} in {iv:?}", (st, from, to));
                    assert!(
                        i == 0 || from >= prev_end,
                        "overlap or disorder at {i} in {iv:?}"
                    );
                    assert!(st.series().is_some(), "non-series state {st} in {iv:?}");
                    prev_end = to;
                }
            }
            let ep = &c.ep[side];
            let tr: Vec<(TcpState, u64)> = ep.machine.transitions.iter().collect();
            assert!(
                tr.windows(2).all(|w| w[0].1 <= w[1].1),
                "transitions go back: {tr:?}"
            );
            assert!(tr.len() <= MAX_TRANSITIONS);
            assert_eq!(
                tr.last().map_or(TcpState::Inactive, |l| l.0),
                ep.state(),
                "last transition is not the state: {tr:?}"
            );
            if ep.state() == TcpState::Killed {
                assert!(ep.killed_at.is_some(), "killed without killed_at: {ep:?}");
                assert!(ep.fin_ts.is_some(), "killed without a FIN: {ep:?}");
                assert!(ep.fin_acked_ts.is_none(), "killed but ACKed: {ep:?}");
            }
            if c.fin_unacked(side) {
                assert!(ep.fin_ts.is_some() && ep.fin_acked_ts.is_none());
            }
        }
        if c.outcome() == Outcome::FinUnacked {
            assert!(c.fin_unacked(Side::A) || c.fin_unacked(Side::B), "{c:?}");
        }
        if c.outcome() == Outcome::Killed {
            assert!(
                c.ep.iter()
                    .any(|e| e.state() == TcpState::Killed && e.killed_at.is_some()),
                "outcome killed without a killed endpoint: {c:?}"
            );
        }
    }
}

type Print = (FlowKey, u64, u64, u64, bool, u64, Outcome);

fn prints<'a>(shards: impl IntoIterator<Item = &'a Shard<ShardMetrics>>) -> Vec<Print> {
    let mut v: Vec<Print> = shards
        .into_iter()
        .flat_map(retired)
        .map(|r| {
            let c = &r.conn;
            (
                c.key,
                c.first_ts,
                c.last_ts,
                r.end_ts,
                r.open,
                r.clock,
                c.outcome(),
            )
        })
        .collect();
    v.sort();
    v
}

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let (cfg, segs) = segments(data);

    // One shard, on the capture clock (the latest timestamp so far).
    let mut one = shard(&cfg);
    let mut clock = 0;
    for s in &segs {
        clock = clock.max(s.ts_ns);
        one.process_at(s, clock);
    }
    one.finish(clock);
    check(&one);

    // The remedies' replay of the local closes (common/replay_checks.rs),
    // then the report's remedies as `report::build` runs them.
    let sum = &mut one.sink.summary;
    let base = finscope::metrics::replay::Setting {
        fin_timeout_ns: 60 * SEC,
        orphan_retries: (data[0] & 0x20 != 0).then_some(u32::from(data[0] & 3)),
        ..Default::default()
    };
    replay_checks::check(
        &sum.lives,
        sum.timeline.cfg.bucket_ns,
        cfg.time_wait_ns,
        clock,
        &base,
        1,
    );
    sum.packets.first_ts = segs.iter().map(|s| s.ts_ns).min();
    sum.packets.last_ts = Some(clock);
    let _ = finscope::report::remedies::remedies(sum, &[]);

    // Two shards split by the symmetric hash, advanced to the clock before
    // finishing (as pipeline::drain does).
    let mut two = [shard(&cfg), shard(&cfg)];
    let mut now = 0;
    for s in &segs {
        now = now.max(s.ts_ns);
        two[(symmetric_hash(s) % 2) as usize].process_at(s, now);
    }
    for s in &mut two {
        s.advance(now);
        s.finish(now);
        check(s);
    }
    assert_eq!(
        prints(&two),
        prints([&one]),
        "two shards retire other connections"
    );
});
