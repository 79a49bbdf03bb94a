//! gencap: writes a large, realistic, deterministic capture of a proxy's
//! upstream TCP traffic, and the exact counts finscope must report on it.
//!
//! ```text
//! cargo run --release --example gencap -- --packets 20000000 --out big.pcap
//! ```
//!
//! (the command line is examples/gencap.rs; this is the generator).
//!
//! The capture (classic pcap, Ethernet, microsecond timestamps) is what a
//! proxy's WAN port looks like: a few local addresses (IPv4 and IPv6) open
//! connections to thousands of remote servers (one in ten IPv6), with
//! handshakes, request/response data, closes of every kind (clean close from
//! either side, crossing FINs, resets before and after a FIN, half-closes,
//! connections still open) and DNS over UDP. Connections to a share of
//! *slow* servers see the proxy's FIN retransmitted with exponential backoff
//! (200 ms, doubling) and ACKed after 2-20 s, or never.
//!
//! Next to the capture it writes `<out>.expected.json`: a flat object from
//! a path in finscope's JSON report (`packets.fin`, `outcomes.complete`, ...)
//! to the exact value. The values come from the generator's own script of
//! each connection, not from finscope. A (local address, port) pair is only
//! reused after its previous connection has been idle for longer than
//! finscope's default idle timeout, so every scripted connection is exactly
//! one connection to finscope.
//!
//! Everything is a function of the options and `--seed`: no clocks, integer
//! arithmetic only. The frame count is exactly `--packets` (UDP fills the
//! last few slots). Memory is bounded by the connections in flight.
//!
//! `tests/gencap.rs`, the benches and examples/gencap.rs call [`generate`].

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Generator settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// Exact number of frames to write.
    pub packets: u64,
    /// Seed of the pseudo-random generator.
    pub seed: u64,
    /// Remote servers (at most 100,000).
    pub servers: u32,
    /// New connections per second of capture time.
    pub rate: u64,
    /// Captured bytes per frame at most (65535: whole frames).
    pub snaplen: u32,
    /// Share of new flows that are DNS over UDP, percent.
    pub dns_pct: u64,
}

impl Config {
    /// The busy gateway of the engine benchmarks (docs/performance.md):
    /// 1,500 new connections per second to 5,000 servers (popularity
    /// skewed), one flow in twenty DNS, the rest as by default (one server
    /// in ten IPv6, 1-3 request rounds, slow servers that make the FIN be
    /// retransmitted, some never ACKing it).
    pub fn gateway(packets: u64) -> Config {
        Config {
            packets,
            rate: 1_500,
            servers: 5_000,
            dns_pct: 5,
            ..Config::default()
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            packets: 1_000_000,
            seed: 1,
            servers: 5_000,
            rate: 400,
            snaplen: 65_535,
            dns_pct: 2,
        }
    }
}

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;
/// Pseudo flag of a UDP datagram in a script.
const UDP: u8 = 0x80;

const US: u64 = 1_000;
const MS: u64 = 1_000_000;
const SEC: u64 = 1_000_000_000;
const BASE_NS: u64 = 1_700_000_000 * SEC;
/// A (local address, port) pair is reused only this long after the last
/// packet of its previous connection: past finscope's default idle timeout.
const REUSE_AFTER: u64 = 301 * SEC;
const MSS: u32 = 1448;
const LOCAL4: usize = 4;
const LOCAL6: usize = 2;
const PORTS: u32 = 64_000;

/// Outcome indices, in finscope's order.
const OUTCOMES: [&str; 8] = [
    "complete",
    "simultaneous",
    "reset",
    "reset_after_fin",
    "half_closed",
    "fin_unacked",
    "open",
    "killed",
];
const COMPLETE: usize = 0;
const SIMULTANEOUS: usize = 1;
const RESET: usize = 2;
const RESET_AFTER_FIN: usize = 3;
const HALF_CLOSED: usize = 4;
const FIN_UNACKED: usize = 5;
const OPEN: usize = 6;
const KILLED: usize = 7;

/// splitmix64: small, fast and the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..hi` (`lo` when empty).
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        lo + self.next() % (hi - lo)
    }
    /// True with probability `pct` percent.
    fn pct(&mut self, pct: u64) -> bool {
        self.next() % 100 < pct
    }
}

/// One scripted packet.
#[derive(Clone, Copy, Debug)]
struct Pkt {
    t: u64,
    from_client: bool,
    flags: u8,
    seq: u32,
    ack: u32,
    len: u32,
}

/// What finscope must conclude about one connection.
#[derive(Clone, Copy, Debug, Default)]
struct ConnExp {
    outcome: usize,
    /// 1: local (client) closed first, 2: remote first, 0: no FIN.
    closer: usize,
    rtx_l2r: u64,
    rtx_r2l: u64,
    spurious: u64,
    fin_ack: bool,
    fin_fin: bool,
    close_total: bool,
    /// A FIN never ACKed: (its last copy, the copy before), ns. finscope
    /// infers the socket killed once the next copy is overdue.
    last_copies: Option<(u64, u64)>,
}

/// Builds one connection's script.
struct Plan<'a> {
    v: &'a mut Vec<Pkt>,
    t: u64,
    c_next: u32,
    s_next: u32,
}

impl Plan<'_> {
    fn push(&mut self, dt: u64, from_client: bool, flags: u8, seq: u32, ack: u32, len: u32) {
        self.t += dt;
        self.v.push(Pkt {
            t: self.t,
            from_client,
            flags,
            seq,
            ack,
            len,
        });
    }
    /// A tracked segment from the client (`c`) or server: sent at the next
    /// sequence number, acknowledging all the peer sent when it has ACK.
    fn send(&mut self, dt: u64, from_client: bool, flags: u8, len: u32) {
        let peer = if from_client {
            self.s_next
        } else {
            self.c_next
        };
        let ack = if flags & ACK != 0 { peer } else { 0 };
        self.send_acking(dt, from_client, flags, len, ack);
    }
    fn send_acking(&mut self, dt: u64, from_client: bool, flags: u8, len: u32, ack: u32) {
        let seq = if from_client {
            self.c_next
        } else {
            self.s_next
        };
        let adv = len + u32::from(flags & (SYN | FIN) != 0);
        if from_client {
            self.c_next = seq.wrapping_add(adv);
        } else {
            self.s_next = seq.wrapping_add(adv);
        }
        self.push(dt, from_client, flags, seq, ack, len);
    }
    fn c(&mut self, dt: u64, flags: u8, len: u32) {
        self.send(dt, true, flags, len);
    }
    fn s(&mut self, dt: u64, flags: u8, len: u32) {
        self.send(dt, false, flags, len);
    }
}

/// Handshake plus `rounds` request/response exchanges.
fn open_and_talk(p: &mut Plan, rng: &mut Rng, rtt: u64, rounds: u64) {
    p.c(0, SYN, 0);
    p.s(rtt, SYN | ACK, 0);
    p.c(50 * US, ACK, 0);
    for _ in 0..rounds {
        p.c(
            rng.range(100, 5_000) * US,
            PSH | ACK,
            rng.range(80, 900) as u32,
        );
        let segs = rng.range(0, 5);
        if segs == 0 {
            p.s(rtt, PSH | ACK, rng.range(40, 600) as u32);
        } else {
            p.s(rtt, ACK, 0);
            for i in 0..segs {
                let (f, len) = if i + 1 == segs {
                    (PSH | ACK, rng.range(100, u64::from(MSS)) as u32)
                } else {
                    (ACK, MSS)
                };
                p.s(rng.range(20, 400) * US, f, len);
                if i % 2 == 1 || i + 1 == segs {
                    p.c(rng.range(20, 200) * US, ACK, 0);
                }
            }
        }
    }
}

/// Scripts one connection to a server with round-trip time `rtt` into `v`.
fn script(v: &mut Vec<Pkt>, rng: &mut Rng, t0: u64, rtt: u64, slow: bool) -> ConnExp {
    let mut p = Plan {
        v,
        t: t0,
        c_next: rng.next() as u32,
        s_next: rng.next() as u32,
    };
    let rounds = rng.range(1, 4);
    open_and_talk(&mut p, rng, rtt, rounds);
    p.t += rng.range(1, 3_000) * MS;
    let mut e = ConnExp::default();
    if slow && rng.pct(70) {
        // The proxy closes; the server does not ACK its FIN for a while.
        e.closer = 1;
        p.c(0, FIN | ACK, 0);
        let fin_seq = p.c_next.wrapping_sub(1);
        let fin_t = p.t;
        let acked = rng.pct(75);
        let ack_after = rng.range(2_000, 20_000) * MS;
        let mut rto = 200 * MS;
        let mut at = rto;
        let mut n = 0;
        while (acked && at < ack_after) || (!acked && n < 8) {
            let ack = p.s_next;
            let dt = fin_t + at - p.t;
            p.push(dt, true, FIN | ACK, fin_seq, ack, 0);
            n += 1;
            rto *= 2;
            at += rto;
        }
        e.rtx_l2r = n;
        if acked {
            let dt = fin_t + ack_after - p.t;
            p.s(dt, ACK, 0);
            e.fin_ack = true;
            if rng.pct(20) {
                // The sender's timer fires just after the observer saw the ACK.
                let ack = p.s_next;
                p.push(300 * US, true, FIN | ACK, fin_seq, ack, 0);
                e.rtx_l2r += 1;
                e.spurious = 1;
            }
            p.s(rng.range(1, 50) * MS, FIN | ACK, 0);
            p.c(rtt / 2, ACK, 0);
            e.outcome = COMPLETE;
            e.fin_fin = true;
            e.close_total = true;
        } else {
            e.outcome = FIN_UNACKED;
            let last = fin_t + at - rto;
            e.last_copies = Some((last, last - rto / 2));
        }
        return e;
    }
    match rng.range(0, 100) {
        // Clean close, proxy first; the server often ACKs and FINs at once.
        0..=54 => {
            p.c(0, FIN | ACK, 0);
            if rng.pct(50) {
                p.s(rtt, FIN | ACK, 0);
            } else {
                p.s(rtt, ACK, 0);
                p.s(rng.range(1, 100) * MS, FIN | ACK, 0);
            }
            p.c(rtt / 2, ACK, 0);
            e = ConnExp {
                outcome: COMPLETE,
                closer: 1,
                fin_ack: true,
                fin_fin: true,
                close_total: true,
                ..e
            };
        }
        // Clean close, server first (keep-alive timeout upstream).
        55..=69 => {
            p.s(0, FIN | ACK, 0);
            p.c(rtt / 2, ACK, 0);
            p.c(rng.range(1, 20) * MS, FIN | ACK, 0);
            p.s(rtt, ACK, 0);
            e = ConnExp {
                outcome: COMPLETE,
                closer: 2,
                fin_ack: true,
                fin_fin: true,
                close_total: true,
                ..e
            };
        }
        // Crossing FINs: the server's FIN does not ACK the proxy's.
        70..=72 => {
            let c_before = p.c_next;
            p.c(0, FIN | ACK, 0);
            p.send_acking(rng.range(1, 5) * US * 10, false, FIN | ACK, 0, c_before);
            p.c(rtt / 2, ACK, 0);
            p.s(rtt / 2, ACK, 0);
            e = ConnExp {
                outcome: SIMULTANEOUS,
                closer: 1,
                fin_ack: true,
                fin_fin: true,
                close_total: true,
                ..e
            };
        }
        // Reset without FIN, from either side.
        73..=80 => {
            let from_client = rng.pct(50);
            p.send(0, from_client, RST | ACK, 0);
            e.outcome = RESET;
        }
        // The proxy closes, the server ACKs and then resets.
        81..=83 => {
            p.c(0, FIN | ACK, 0);
            p.s(rtt, ACK, 0);
            p.s(rng.range(1, 500) * MS, RST | ACK, 0);
            e = ConnExp {
                outcome: RESET_AFTER_FIN,
                closer: 1,
                fin_ack: true,
                close_total: true,
                ..e
            };
        }
        // Half-close: the server ACKs the FIN, sends a last segment, never closes.
        84..=87 => {
            p.c(0, FIN | ACK, 0);
            p.s(rtt, ACK, 0);
            p.s(rng.range(1, 200) * MS, PSH | ACK, rng.range(10, 400) as u32);
            p.c(rtt / 2, ACK, 0);
            e = ConnExp {
                outcome: HALF_CLOSED,
                closer: 1,
                fin_ack: true,
                ..e
            };
        }
        // Still open: a keep-alive connection that just goes quiet.
        _ => {
            e.outcome = OPEN;
        }
    }
    e
}

/// A DNS query and its answer, to a local resolver.
fn script_udp(v: &mut Vec<Pkt>, rng: &mut Rng, t0: u64, answer: bool) {
    let q = Pkt {
        t: t0,
        from_client: true,
        flags: UDP,
        seq: 0,
        ack: 0,
        len: rng.range(30, 60) as u32,
    };
    v.push(q);
    if answer {
        v.push(Pkt {
            t: t0 + rng.range(200, 20_000) * US,
            from_client: false,
            len: rng.range(60, 300) as u32,
            ..q
        });
    }
}

/// Exact counts finscope must report, by path in its JSON report.
#[derive(Clone, Debug, Default)]
pub struct Expected {
    pub frames: u64,
    pub tcp: u64,
    pub syn: u64,
    pub fin: u64,
    pub rst: u64,
    pub pure_ack: u64,
    pub not_tcp: u64,
    pub connections: u64,
    pub outcomes: [u64; 8],
    /// [local first, remote first].
    pub by_closer: [[u64; 8]; 2],
    /// When finscope concludes the kill of each never-ACKed FIN's socket.
    pub overdue: Vec<u64>,
    pub rtx_l2r: u64,
    pub rtx_r2l: u64,
    pub spurious: u64,
    pub fin_ack: u64,
    pub fin_fin: u64,
    pub close_total: u64,
    pub peers: u64,
    /// Bytes written.
    pub bytes: u64,
}

impl Expected {
    fn add_conn(&mut self, e: &ConnExp) {
        if let Some((last, prev)) = e.last_copies {
            // finscope's rule (src/flow/state.rs, Backoff::overdue) on the
            // microsecond timestamps of the file: the next copy is due one
            // doubled interval (within [200 ms, 120 s]) after the last; it
            // is overdue half a timeout (+ 20 ms) later.
            let (last, prev) = (last / US * US, prev / US * US);
            let next = (2 * (last - prev)).clamp(200 * MS, 120_000 * MS);
            self.overdue.push(last + next + next / 2 + 20 * MS);
        }
        self.connections += 1;
        self.outcomes[e.outcome] += 1;
        if e.closer > 0 {
            self.by_closer[e.closer - 1][e.outcome] += 1;
        }
        self.rtx_l2r += e.rtx_l2r;
        self.rtx_r2l += e.rtx_r2l;
        self.spurious += e.spurious;
        self.fin_ack += u64::from(e.fin_ack);
        self.fin_fin += u64::from(e.fin_fin);
        self.close_total += u64::from(e.close_total);
    }

    fn add_pkt(&mut self, p: &Pkt) {
        self.frames += 1;
        if p.flags & UDP != 0 {
            self.not_tcp += 1;
            return;
        }
        self.tcp += 1;
        self.syn += u64::from(p.flags & SYN != 0);
        self.fin += u64::from(p.flags & FIN != 0);
        self.rst += u64::from(p.flags & RST != 0);
        self.pure_ack += u64::from(p.flags & 0x17 == ACK && p.len == 0);
    }

    /// JSON report path -> value.
    pub fn paths(&self) -> BTreeMap<String, u64> {
        let mut m = BTreeMap::new();
        let mut put = |k: &str, v: u64| {
            m.insert(k.to_string(), v);
        };
        put("packets.frames", self.frames);
        put("packets.tcp", self.tcp);
        put("packets.syn", self.syn);
        put("packets.fin", self.fin);
        put("packets.rst", self.rst);
        put("packets.pure_ack", self.pure_ack);
        put("skipped.not_tcp", self.not_tcp);
        put("connections.total", self.connections);
        put("connections.handshake_seen", self.connections);
        put("fin_retransmissions.total", self.rtx_l2r + self.rtx_r2l);
        put("fin_retransmissions.local_to_remote", self.rtx_l2r);
        put("fin_retransmissions.remote_to_local", self.rtx_r2l);
        put("fin_retransmissions.spurious", self.spurious);
        put("latency.fin_ack.all.count", self.fin_ack);
        put("latency.fin_fin.all.count", self.fin_fin);
        put("latency.close_total.all.count", self.close_total);
        put("peers_total", self.peers);
        for (i, name) in OUTCOMES.iter().enumerate() {
            put(&format!("outcomes.{name}"), self.outcomes[i]);
            put(
                &format!("outcomes_by_closer.local_first.{name}"),
                self.by_closer[0][i],
            );
            put(
                &format!("outcomes_by_closer.remote_first.{name}"),
                self.by_closer[1][i],
            );
        }
        m
    }
}

/// One scripted flow in flight.
struct Active {
    pkts: Vec<Pkt>,
    next: usize,
    local: IpAddr,
    sport: u16,
    remote: IpAddr,
    dport: u16,
    ip_id: u16,
}

/// (local address, port) pairs of one address family, reused oldest first.
struct Pairs {
    locals: Vec<IpAddr>,
    fresh: u32,
    used: BinaryHeap<Reverse<(u64, u32)>>,
}

impl Pairs {
    fn new(locals: Vec<IpAddr>) -> Pairs {
        Pairs {
            locals,
            fresh: 0,
            used: BinaryHeap::new(),
        }
    }
    /// A pair free at `t`, or the earliest time one is.
    fn take(&mut self, t: u64) -> (u64, u32) {
        if let Some(Reverse((free, id))) = self.used.peek().copied()
            && (free <= t || self.fresh >= PORTS * self.locals.len() as u32)
        {
            self.used.pop();
            return (free.max(t), id);
        }
        self.fresh += 1;
        (t, self.fresh - 1)
    }
    fn endpoint(&self, id: u32) -> (IpAddr, u16) {
        let n = self.locals.len() as u32;
        (self.locals[(id % n) as usize], 1025 + (id / n) as u16)
    }
}

fn server_addr(idx: u32) -> IpAddr {
    if idx % 10 == 3 {
        IpAddr::V6(Ipv6Addr::new(
            0x2001,
            0xdb8,
            0x100,
            0,
            0,
            0,
            (idx >> 16) as u16,
            idx as u16,
        ))
    } else {
        IpAddr::V4(Ipv4Addr::from(0xC612_0000u32 + idx))
    }
}

/// Slow servers: one in twenty-five.
fn is_slow(idx: u32) -> bool {
    idx % 25 == 7
}

fn server_rtt(idx: u32) -> u64 {
    let base = 5 + u64::from(idx.wrapping_mul(2_654_435_761) >> 24) % 150;
    let ms = if is_slow(idx) { base * 2 } else { base };
    ms * MS
}

/// Writes a capture of exactly `cfg.packets` frames to `out` and returns
/// what finscope must report on it.
pub fn generate<W: Write>(cfg: &Config, out: W) -> io::Result<Expected> {
    let mut w = io::BufWriter::with_capacity(1 << 20, out);
    let mut rng = Rng(cfg.seed);
    let servers = cfg.servers.clamp(1, 100_000);
    let snaplen = cfg.snaplen.clamp(64, 65_535);
    let mut hdr = Vec::with_capacity(24);
    hdr.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    hdr.extend_from_slice(&2u16.to_le_bytes());
    hdr.extend_from_slice(&4u16.to_le_bytes());
    hdr.extend_from_slice(&[0; 8]);
    hdr.extend_from_slice(&snaplen.to_le_bytes());
    hdr.extend_from_slice(&1u32.to_le_bytes());
    w.write_all(&hdr)?;

    let mut exp = Expected {
        bytes: 24,
        ..Expected::default()
    };
    let mut pairs4 = Pairs::new(
        (1..=LOCAL4 as u8)
            .map(|i| IpAddr::V4(Ipv4Addr::new(10, 1, 0, i)))
            .collect(),
    );
    let mut pairs6 = Pairs::new(
        (1..=LOCAL6 as u16)
            .map(|i| IpAddr::V6(Ipv6Addr::new(0xfd00, 1, 0, 0, 0, 0, 0, i)))
            .collect(),
    );
    let resolver = IpAddr::V4(Ipv4Addr::new(10, 1, 255, 53));
    let mut used_server = vec![false; servers as usize];
    let mut slots: Vec<Active> = Vec::new();
    let mut free_slots: Vec<usize> = Vec::new();
    // (time, order, slot); slot usize::MAX is the next arrival.
    let mut heap: BinaryHeap<Reverse<(u64, u64, usize)>> = BinaryHeap::new();
    let mut order = 0u64;
    let mut planned = 0u64;
    let mut scratch: Vec<Pkt> = Vec::new();
    let mut frame = Vec::with_capacity(2048);
    let gap_max_us = (2_000_000 / cfg.rate.max(1)).max(2);
    let mut tcp_done = false;
    let mut last_t = 0u64;
    heap.push(Reverse((BASE_NS, order, usize::MAX)));

    while let Some(Reverse((t, _, slot))) = heap.pop() {
        order += 1;
        if slot == usize::MAX {
            if planned >= cfg.packets {
                continue;
            }
            // A new flow: one in fifty is DNS, the rest TCP to a server.
            scratch.clear();
            let left = cfg.packets - planned;
            let (local, sport, remote, dport, pair, start);
            let mut conn = None;
            if tcp_done || rng.pct(cfg.dns_pct) {
                script_udp(&mut scratch, &mut rng, t, left >= 2);
                local = IpAddr::V4(Ipv4Addr::new(10, 1, 0, 1));
                sport = rng.range(1025, 65_000) as u16;
                remote = resolver;
                dport = 53;
                pair = None;
                start = t;
            } else {
                let u = rng.next() % u64::from(servers);
                // Popular servers get most connections (quadratic skew).
                let idx = (u * u / u64::from(servers)) as u32;
                remote = server_addr(idx);
                dport = if idx.is_multiple_of(7) { 80 } else { 443 };
                let pool = if remote.is_ipv4() {
                    &mut pairs4
                } else {
                    &mut pairs6
                };
                let (s, id) = pool.take(t);
                (local, sport) = pool.endpoint(id);
                start = s;
                let e = script(&mut scratch, &mut rng, s, server_rtt(idx), is_slow(idx));
                if scratch.len() as u64 > left {
                    // Does not fit: give the pair back, fill up with DNS.
                    pool.used.push(Reverse((s, id)));
                    tcp_done = true;
                    heap.push(Reverse((t, order, usize::MAX)));
                    continue;
                }
                pair = Some((remote.is_ipv4(), id));
                conn = Some((e, idx));
            }
            planned += scratch.len() as u64;
            if let Some((e, idx)) = conn {
                exp.add_conn(&e);
                if !used_server[idx as usize] {
                    used_server[idx as usize] = true;
                    exp.peers += 1;
                }
            }
            if let Some((v4, id)) = pair {
                let last = scratch.last().map_or(start, |p| p.t);
                let pool = if v4 { &mut pairs4 } else { &mut pairs6 };
                pool.used.push(Reverse((last + REUSE_AFTER, id)));
            }
            let a = Active {
                pkts: std::mem::take(&mut scratch),
                next: 0,
                local,
                sport,
                remote,
                dport,
                ip_id: rng.next() as u16,
            };
            let first = a.pkts[0].t;
            let s = match free_slots.pop() {
                Some(s) => {
                    scratch = std::mem::replace(&mut slots[s], a).pkts;
                    s
                }
                None => {
                    slots.push(a);
                    slots.len() - 1
                }
            };
            heap.push(Reverse((first, order, s)));
            order += 1;
            heap.push(Reverse((
                t + rng.range(1, gap_max_us) * US,
                order,
                usize::MAX,
            )));
            continue;
        }
        let a = &mut slots[slot];
        let p = a.pkts[a.next];
        last_t = last_t.max(p.t);
        a.next += 1;
        encode(&mut frame, a, &p);
        a.ip_id = a.ip_id.wrapping_add(1);
        exp.add_pkt(&p);
        let caplen = frame.len().min(snaplen as usize);
        let mut rec = [0u8; 16];
        let us = p.t / US;
        rec[0..4].copy_from_slice(&((us / 1_000_000) as u32).to_le_bytes());
        rec[4..8].copy_from_slice(&((us % 1_000_000) as u32).to_le_bytes());
        rec[8..12].copy_from_slice(&(caplen as u32).to_le_bytes());
        rec[12..16].copy_from_slice(&(frame.len() as u32).to_le_bytes());
        w.write_all(&rec)?;
        w.write_all(&frame[..caplen])?;
        exp.bytes += 16 + caplen as u64;
        if let Some(n) = a.pkts.get(a.next) {
            heap.push(Reverse((n.t, order, slot)));
        } else {
            free_slots.push(slot);
        }
    }
    w.flush()?;
    // Never-ACKed FINs whose next copy was overdue before the capture's
    // end are kills (all are local-first closes).
    let end = last_t / US * US;
    let killed = exp.overdue.iter().filter(|&&o| o < end).count() as u64;
    exp.outcomes[FIN_UNACKED] -= killed;
    exp.outcomes[KILLED] += killed;
    exp.by_closer[0][FIN_UNACKED] -= killed;
    exp.by_closer[0][KILLED] += killed;
    exp.overdue = Vec::new();
    Ok(exp)
}

fn mac(ip: IpAddr) -> [u8; 6] {
    let o = match ip {
        IpAddr::V4(a) => a.octets(),
        IpAddr::V6(a) => {
            let o = a.octets();
            [o[12], o[13], o[14], o[15]]
        }
    };
    [0x02, 0, o[0], o[1], o[2], o[3]]
}

/// Internet checksum accumulation over big-endian 16-bit words.
fn sum16(mut acc: u32, b: &[u8]) -> u32 {
    let mut it = b.chunks_exact(2);
    for c in &mut it {
        acc += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [x] = it.remainder() {
        acc += u32::from(*x) << 8;
    }
    acc
}

fn fold(mut acc: u32) -> u16 {
    while acc > 0xFFFF {
        acc = (acc & 0xFFFF) + (acc >> 16);
    }
    !(acc as u16)
}

/// Encodes one packet of flow `a` as an Ethernet frame into `f`. Payload
/// bytes are zero, so checksums cover the headers only.
fn encode(f: &mut Vec<u8>, a: &Active, p: &Pkt) {
    f.clear();
    let (src, dst, sp, dp) = if p.from_client {
        (a.local, a.remote, a.sport, a.dport)
    } else {
        (a.remote, a.local, a.dport, a.sport)
    };
    f.extend_from_slice(&mac(dst));
    f.extend_from_slice(&mac(src));
    f.extend_from_slice(&if src.is_ipv4() { 0x0800u16 } else { 0x86DD }.to_be_bytes());
    let mut l4 = [0u8; 24];
    let l4_len = if p.flags & UDP != 0 {
        l4[0..2].copy_from_slice(&sp.to_be_bytes());
        l4[2..4].copy_from_slice(&dp.to_be_bytes());
        l4[4..6].copy_from_slice(&((8 + p.len) as u16).to_be_bytes());
        8
    } else {
        let opt = p.flags & SYN != 0;
        let hl = if opt { 24 } else { 20 };
        l4[0..2].copy_from_slice(&sp.to_be_bytes());
        l4[2..4].copy_from_slice(&dp.to_be_bytes());
        l4[4..8].copy_from_slice(&p.seq.to_be_bytes());
        l4[8..12].copy_from_slice(&p.ack.to_be_bytes());
        l4[12] = (hl as u8 / 4) << 4;
        l4[13] = p.flags;
        l4[14..16].copy_from_slice(&64_240u16.to_be_bytes());
        if opt {
            l4[20..24].copy_from_slice(&[2, 4, 0x05, 0xb4]);
        }
        hl
    };
    let proto: u8 = if p.flags & UDP != 0 { 17 } else { 6 };
    let seg_len = l4_len + p.len as usize;
    // Pseudo-header sum.
    let mut acc = u32::from(proto) + seg_len as u32;
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut ip = [0u8; 20];
            ip[0] = 0x45;
            ip[2..4].copy_from_slice(&((20 + seg_len) as u16).to_be_bytes());
            ip[4..6].copy_from_slice(&a.ip_id.to_be_bytes());
            ip[6] = 0x40;
            ip[8] = 64;
            ip[9] = proto;
            ip[12..16].copy_from_slice(&s.octets());
            ip[16..20].copy_from_slice(&d.octets());
            let c = fold(sum16(0, &ip));
            ip[10..12].copy_from_slice(&c.to_be_bytes());
            f.extend_from_slice(&ip);
            acc = sum16(sum16(acc, &s.octets()), &d.octets());
        }
        (s, d) => {
            let (s, d) = (as_v6(s), as_v6(d));
            let mut ip = [0u8; 40];
            ip[0] = 0x60;
            ip[4..6].copy_from_slice(&(seg_len as u16).to_be_bytes());
            ip[6] = proto;
            ip[7] = 64;
            ip[8..24].copy_from_slice(&s.octets());
            ip[24..40].copy_from_slice(&d.octets());
            f.extend_from_slice(&ip);
            acc = sum16(sum16(acc, &s.octets()), &d.octets());
        }
    }
    let c = fold(sum16(acc, &l4[..l4_len]));
    let at = if p.flags & UDP != 0 { 6 } else { 16 };
    l4[at..at + 2].copy_from_slice(&c.to_be_bytes());
    let l4_start = f.len();
    f.extend_from_slice(&l4[..l4_len]);
    f.resize(l4_start + seg_len, 0);
}

/// Flows never mix families; a mapped address keeps this total anyway.
fn as_v6(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(a) => a.to_ipv6_mapped(),
        IpAddr::V6(a) => a,
    }
}
