//! What the close model's property tests (tests/close_model_props.rs) and
//! its fuzz target (fuzz/fuzz_targets/close_model.rs) share: the endpoints
//! of the generated conversations, the one invariant checker of a finished
//! shard, the fingerprint that compares the connections retired by one
//! shard and by several, and the events of the state machine.

use finscope::decode::Segment;
use finscope::decode::flags::{ACK, FIN, PSH, RST, SYN};
use finscope::decode::net::Cidr;
use finscope::decode::seq::SeqNum;
use finscope::flow::conn::Outcome;
use finscope::flow::key::symmetric_hash;
use finscope::flow::key::{FlowKey, Side};
use finscope::flow::state::{Event, MAX_TRANSITIONS, TcpState};
use finscope::flow::table::Retired;
use finscope::flow::{FlowConfig, Shard};
use finscope::metrics::timeline::TimelineConfig;
use finscope::metrics::{ByOutcome, ShardMetrics};
use std::net::{IpAddr, Ipv4Addr};

/// The client of every generated conversation (ports from [`CLIENT_PORT`]).
pub const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
/// The server, on [`SERVER_PORT`].
pub const SERVER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));
/// The first client port: pair `p` uses `CLIENT_PORT + p`.
pub const CLIENT_PORT: u16 = 40_000;
pub const SERVER_PORT: u16 = 80;

/// Segment number `frame` of a generated conversation at `ts_ns`: on pair
/// `pair` (client port `CLIENT_PORT + pair`), from the client or the
/// server, no VLAN.
#[allow(clippy::too_many_arguments)]
pub fn segment(
    pair: u16,
    from_client: bool,
    ts_ns: u64,
    frame: u64,
    seq: u32,
    ack: u32,
    flags: u8,
    payload_len: u32,
) -> Segment {
    let port = CLIENT_PORT + pair;
    let (src, sport, dst, dport) = if from_client {
        (CLIENT, port, SERVER, SERVER_PORT)
    } else {
        (SERVER, SERVER_PORT, CLIENT, port)
    };
    Segment {
        ts_ns,
        frame,
        src,
        dst,
        sport,
        dport,
        vlan: 0,
        seq: SeqNum(seq),
        ack: SeqNum(ack),
        flags,
        payload_len,
        ttl: 64,
        zero_window: false,
    }
}

/// Every event of the state machine, as the generators draw them:
/// `Event::ALL`, checked complete by this module's tests.
pub const EVENTS: [Event; Event::ALL.len()] = Event::ALL;

/// The connections a shard retired.
pub fn retired(shard: &Shard<ShardMetrics>) -> &[Retired] {
    shard.sink.retired.as_deref().unwrap_or(&[])
}

/// A retired connection, comparable across runs: key, first and last
/// timestamps, end, open, the retire clock when asked, outcome.
pub type Fingerprint = (FlowKey, u64, u64, u64, bool, Option<u64>, Outcome);

/// The sorted fingerprints of what `shards` retired (with the retire clock
/// when `clock`).
pub fn fingerprints<'a>(
    shards: impl IntoIterator<Item = &'a Shard<ShardMetrics>>,
    clock: bool,
) -> Vec<Fingerprint> {
    let mut v: Vec<Fingerprint> = shards
        .into_iter()
        .flat_map(retired)
        .map(|r| {
            (
                r.conn.key,
                r.conn.first_ts,
                r.conn.last_ts,
                r.end_ts,
                r.open,
                clock.then_some(r.clock),
                r.conn.outcome(),
            )
        })
        .collect();
    v.sort();
    v
}

macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

/// The invariants of a finished shard, or the first one broken:
///
/// 0. Nothing is left in the table after `finish`.
/// 1. One outcome per connection; the summary's outcome counts add up to
///    `connections.total` and to the retired connections; outcomes by
///    closer to the connections with a FIN.
/// 2. Per connection and side, `intervals(side, end, open)` (both ways of
///    `open`) are non-empty, in order, disjoint, states a socket stays in;
///    transitions in time order, at most `MAX_TRANSITIONS`, ending in the
///    state; the first timestamp is not after the last.
/// 3. A killed endpoint has its time, sent a FIN, and the FIN was never
///    ACKed; a killed outcome has a killed endpoint.
/// 4. An unACKed FIN was sent and not ACKed; an unACKed outcome has one.
pub fn check_shard(shard: &Shard<ShardMetrics>) -> Result<(), String> {
    ensure!(
        shard.live() == 0,
        "{} connections left after finish",
        shard.live()
    );
    let ret = retired(shard);
    let sum = &shard.sink.summary;

    let total: u64 = sum.outcomes.iter().map(|(_, n)| n).sum();
    ensure!(
        total == sum.connections.total,
        "outcomes {:?} add up to {total}, connections.total {}",
        sum.outcomes,
        sum.connections.total
    );
    ensure!(
        total == ret.len() as u64,
        "outcomes add up to {total}, {} connections retired",
        ret.len()
    );
    let mut counted = ByOutcome::<u64>::default();
    for r in ret {
        let o = r.conn.outcome();
        ensure!(
            Outcome::ALL.iter().filter(|x| **x == o).count() == 1,
            "{o:?} not once in Outcome::ALL"
        );
        ensure!(Outcome::ALL[o.index()] == o, "{o:?} at another index");
        counted[o] += 1;
    }
    ensure!(
        counted == sum.outcomes,
        "outcomes counted {counted:?}, summary {:?}",
        sum.outcomes
    );
    let c = &sum.outcomes_by_closer;
    let by_closer: u64 = (c.local_first.iter().chain(c.remote_first.iter()))
        .map(|(_, n)| n)
        .sum();
    let with_fin = ret.iter().filter(|r| r.conn.first_fin.is_some()).count() as u64;
    ensure!(
        by_closer == with_fin,
        "outcomes by closer {by_closer}, connections with a FIN {with_fin}"
    );

    for r in ret {
        let c = &r.conn;
        ensure!(c.first_ts <= c.last_ts, "first_ts after last_ts: {c:?}");
        for side in Side::BOTH {
            for open in [r.open, !r.open] {
                let iv = c.intervals(side, r.end_ts, open);
                let mut prev_end = 0u64;
                for (i, &(st, from, to)) in iv.iter().enumerate() {
                    ensure!(from < to, "empty interval {:?} in {iv:?}", (st, from, to));
                    ensure!(
                        i == 0 || from >= prev_end,
                        "overlap or disorder at {i} in {iv:?}"
                    );
                    ensure!(st.series().is_some(), "non-series state {st} in {iv:?}");
                    prev_end = to;
                }
            }
            let ep = &c.ep[side];
            let tr: Vec<(TcpState, u64)> = ep.machine.transitions.iter().collect();
            ensure!(
                tr.windows(2).all(|w| w[0].1 <= w[1].1),
                "transition times go back: {tr:?}"
            );
            ensure!(tr.len() <= MAX_TRANSITIONS, "{} transitions kept", tr.len());
            ensure!(
                tr.last().map_or(TcpState::Inactive, |l| l.0) == ep.state(),
                "last transition is not the state: {tr:?}"
            );
            if ep.state() == TcpState::Killed {
                ensure!(ep.killed_at.is_some(), "killed without killed_at: {ep:?}");
                ensure!(ep.fin_ts.is_some(), "killed without a FIN: {ep:?}");
                ensure!(ep.fin_acked_ts.is_none(), "killed but ACKed: {ep:?}");
            }
            if c.fin_unacked(side) {
                ensure!(
                    ep.fin_ts.is_some() && ep.fin_acked_ts.is_none(),
                    "FIN unACKed without a FIN, or ACKed: {ep:?}"
                );
            }
        }
        if c.outcome() == Outcome::FinUnacked {
            ensure!(
                c.fin_unacked(Side::A) || c.fin_unacked(Side::B),
                "outcome fin_unacked without an unACKed FIN: {c:?}"
            );
        }
        if c.outcome() == Outcome::Killed {
            ensure!(
                c.ep.iter()
                    .any(|e| e.state() == TcpState::Killed && e.killed_at.is_some()),
                "outcome killed without a killed endpoint: {c:?}"
            );
        }
    }
    Ok(())
}

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

/// The byte-driven generator of the fuzz target `close_model` (its input
/// format is documented in fuzz/fuzz_targets/close_model.rs): the settings
/// and the segments `data` stands for; `None` for no bytes.
pub fn from_bytes(data: &[u8]) -> Option<(FlowConfig, Vec<Segment>)> {
    let (&cfg_byte, ops) = data.split_first()?;
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
    for (i, op) in ops.chunks_exact(6).enumerate() {
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
        out.push(segment(
            pair as u16,
            from_client,
            t,
            i as u64 + 1,
            seq,
            ack,
            flags,
            len,
        ));
    }
    Some((cfg, out))
}

/// A shard as the pipeline makes one, keeping its retired connections.
pub fn shard(cfg: &FlowConfig) -> Shard<ShardMetrics> {
    Shard::new(
        cfg.clone(),
        ShardMetrics::new(TimelineConfig::default(), true),
    )
}

/// `segs` through one shard on the capture clock (the latest timestamp so
/// far), and through two split by the symmetric hash, advanced to the clock
/// before finishing (as `pipeline::drain` does): each shard holds
/// [`check_shard`], and the two retire the connections the one does
/// ([`fingerprints`] with the retire clock).
pub fn one_and_two_shards(cfg: &FlowConfig, segs: &[Segment]) -> Result<(), String> {
    // One shard, on the capture clock (the latest timestamp so far).
    let mut one = shard(cfg);
    let mut clock = 0;
    for s in segs {
        clock = clock.max(s.ts_ns);
        one.process_at(s, clock);
    }
    one.finish(clock);
    check_shard(&one)?;

    // Two shards split by the symmetric hash, advanced to the clock before
    // finishing (as pipeline::drain does).
    let mut two = [shard(cfg), shard(cfg)];
    let mut now = 0;
    for s in segs {
        now = now.max(s.ts_ns);
        two[(symmetric_hash(s) % 2) as usize].process_at(s, now);
    }
    for s in &mut two {
        s.advance(now);
        s.finish(now);
        check_shard(s)?;
    }
    let (a, b) = (fingerprints(&two, true), fingerprints([&one], true));
    ensure!(
        a == b,
        "two shards retire other connections: {a:?}, one: {b:?}"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The event after `e` in a cycle through every event. The match is
    /// exhaustive: a new event does not compile until it is placed in the
    /// cycle, and then `event_all_lists_every_event` fails until
    /// `Event::ALL` lists it (and the generators draw it).
    fn following(e: Event) -> Event {
        use Event::*;
        match e {
            SendSyn => SendSynAck,
            SendSynAck => SynRetry,
            SynRetry => SynAckRetry,
            SynAckRetry => Reopen,
            Reopen => SendSeg,
            SendSeg => SendFin,
            SendFin => SendRst,
            SendRst => RecvSynAck,
            RecvSynAck => RecvSeg,
            RecvSeg => RecvFin,
            RecvFin => RecvFinAck,
            RecvFinAck => RecvRst,
            RecvRst => GiveUp,
            GiveUp => TimeWaitEnd,
            TimeWaitEnd => FinWait2Timeout,
            FinWait2Timeout => SendSyn,
        }
    }

    #[test]
    fn event_all_lists_every_event() {
        let mut e = Event::ALL[0];
        for (i, listed) in Event::ALL.iter().enumerate() {
            assert_eq!(e, *listed, "Event::ALL[{i}]");
            e = following(e);
        }
        assert_eq!(e, Event::ALL[0], "an event missing from Event::ALL");
        assert_eq!(EVENTS, Event::ALL);
    }
}
