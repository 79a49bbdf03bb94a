//! Per-remote-peer statistics and their ranking.
//!
//! Peer figures are compact (counters and one coarse histogram), so memory
//! grows with the number of distinct peers, not with capture length.

use super::add;
use super::counts::{Merge, PeerCounts};
use super::hist::CompactHist;
use crate::flow::key::{FlowKey, Side};
use std::cmp::{Ordering, Reverse};
use std::net::IpAddr;

/// The connection that best shows a peer's problem.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Worst {
    /// FIN retransmissions + unACKed FINs of the connection.
    pub score: u64,
    /// Local FIN -> remote ACK latency (or age if never ACKed), us.
    pub latency_us: u64,
    pub first_ts: u64,
    pub first_frame: u64,
    pub last_frame: u64,
    pub key: FlowKey,
    pub local: Side,
    /// Which input of a merged report (`finscope merge`) the connection is
    /// in (its frame numbers count in that input); 0 in a single analysis.
    pub input: u32,
}

impl Worst {
    /// Sort key: higher score, then higher latency, then earlier connection
    /// (then the earlier input of a merge).
    fn rank(&self) -> (u64, u64, Reverse<u64>, Reverse<u64>, Reverse<u32>) {
        (
            self.score,
            self.latency_us,
            Reverse(self.first_ts),
            Reverse(self.first_frame),
            Reverse(self.input),
        )
    }

    /// A Wireshark display filter that shows exactly this connection.
    pub fn wireshark_filter(&self) -> String {
        wireshark_filter(&self.key, self.local, self.first_frame, self.last_frame)
    }
}

/// A Wireshark display filter that shows exactly the connection on `key`
/// (local side first) between frames `first` and `last`: its endpoints and
/// the frame range of its generation (a reused port pair is another one).
pub fn wireshark_filter(key: &FlowKey, local: Side, first: u64, last: u64) -> String {
    let (l, r) = (key.endpoint(local), key.endpoint(local.other()));
    let f = if l.0.is_ipv4() {
        "ip.addr"
    } else {
        "ipv6.addr"
    };
    format!(
        "{f}=={} && tcp.port=={} && {f}=={} && tcp.port=={} && frame.number>={first} && frame.number<={last}",
        l.0, l.1, r.0, r.1
    )
}

/// Figures for one remote address.
#[derive(Clone, Debug, Default)]
pub struct PeerStats {
    /// Connections, closes, FIN retransmissions, unACKed FINs, RSTs.
    pub counts: PeerCounts,
    /// Local FIN -> this peer's ACK of it, us.
    pub fin_ack: CompactHist,
    /// Time local sockets spent in FIN-WAIT-1 towards this peer, ns.
    pub fin_wait_1_ns: u128,
    pub worst: Option<Worst>,
    /// Who holds the FIN: the evidence sums ([`super::fin_delay`]).
    pub fin_delay: super::fin_delay::FinDelaySums,
}

impl PeerStats {
    pub fn offer_worst(&mut self, w: Worst) {
        match &self.worst {
            Some(cur) if cur.rank() >= w.rank() => {}
            _ => self.worst = Some(w),
        }
    }
}

impl std::ops::AddAssign<&PeerStats> for PeerStats {
    fn add_assign(&mut self, o: &PeerStats) {
        let PeerStats {
            counts,
            fin_ack,
            fin_wait_1_ns,
            worst,
            fin_delay,
        } = o;
        self.counts.merge(counts);
        self.fin_ack += fin_ack;
        add(&mut self.fin_wait_1_ns, *fin_wait_1_ns);
        if let Some(w) = worst {
            self.offer_worst(*w);
        }
        self.fin_delay += fin_delay;
    }
}

/// How `--rank-by` orders peers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RankBy {
    /// FIN retransmissions + unACKed FINs (default).
    #[default]
    Problems,
    /// p99 of local FIN -> remote ACK latency.
    P99FinAck,
    /// FIN retransmissions.
    Retransmissions,
    /// UnACKed FINs.
    Unacked,
    /// Connections closed.
    Closes,
}

impl RankBy {
    pub fn name(self) -> &'static str {
        match self {
            RankBy::Problems => "problems",
            RankBy::P99FinAck => "p99-fin-ack",
            RankBy::Retransmissions => "retransmissions",
            RankBy::Unacked => "unacked",
            RankBy::Closes => "closes",
        }
    }

    fn primary(self, p: &PeerStats) -> u64 {
        match self {
            RankBy::Problems => p.counts.fin_retransmissions + p.counts.unacked_fins,
            RankBy::P99FinAck => p.fin_ack.quantile(0.99).unwrap_or(0),
            RankBy::Retransmissions => p.counts.fin_retransmissions,
            RankBy::Unacked => p.counts.unacked_fins,
            RankBy::Closes => p.counts.closes,
        }
    }
}

/// Peers in rank order: the chosen figure descending, then larger maximum
/// FIN-ACK latency, more connections, and the address ascending.
pub fn rank<'a>(
    peers: impl Iterator<Item = (&'a IpAddr, &'a PeerStats)>,
    by: RankBy,
) -> Vec<(IpAddr, &'a PeerStats)> {
    let mut v: Vec<(IpAddr, &PeerStats)> = peers.map(|(a, p)| (*a, p)).collect();
    v.sort_by(|(aa, a), (ba, b)| {
        by.primary(b)
            .cmp(&by.primary(a))
            .then_with(|| b.fin_ack.max().cmp(&a.fin_ack.max()))
            .then_with(|| b.counts.connections.cmp(&a.counts.connections))
            .then_with(|| aa.cmp(ba))
            .then(Ordering::Equal)
    });
    v
}

/// Peers folded together to stay within the budget (`--max-memory`; and
/// at most [`REPORT_PEERS_MAX`] in a report): their figures, summed
/// exactly, so that named peers and others add up to every connection.
#[derive(Clone, Debug, Default)]
pub struct Others {
    /// Peer entries folded in. A peer folded, seen again and folded once
    /// more (or folded in two shards or two merged inputs) counts each
    /// time.
    pub folded: u64,
    /// Their figures; `worst` is always `None` (no row names them).
    pub stats: PeerStats,
}

impl std::ops::AddAssign<&Others> for Others {
    fn add_assign(&mut self, o: &Others) {
        add(&mut self.folded, o.folded);
        self.stats += &o.stats;
        self.stats.worst = None;
    }
}

/// Most peers a report names (`peers` and `mergeable.peers`): beyond, the
/// lowest ranked are folded into [`Others`]. About 46 MB of (pretty-printed)
/// JSON with `mergeable.peers`, when every peer has one connection.
pub const REPORT_PEERS_MAX: usize = 32_768;

/// Most `--group-by port` (port, address) pairs a report holds
/// (`mergeable.port_peers`): beyond, the lowest ranked fold into their
/// port's others member. A pair takes about 1.4 KB of the (pretty-printed)
/// report, as a peer does: 32,768 peers (46 MB) and 8,192 pairs (12 MB)
/// keep a report below 64 MB.
pub const REPORT_PAIRS_MAX: usize = 8_192;

/// Bytes one peer entry holds in its table, about: the entry, the table's
/// control byte and free slots, the histogram's buckets.
pub fn peer_bytes() -> u64 {
    (std::mem::size_of::<(IpAddr, PeerStats)>() as u64 + 1) * 8 / 7 + 64
}

/// Folds every peer past the first `keep` in [`RankBy::Problems`] order
/// into `others`; the table's memory is given back.
pub fn fold<S: std::hash::BuildHasher>(
    peers: &mut std::collections::HashMap<IpAddr, PeerStats, S>,
    keep: usize,
    others: &mut Others,
) {
    if peers.len() <= keep {
        return;
    }
    let gone: Vec<IpAddr> = rank(peers.iter(), RankBy::Problems)
        .into_iter()
        .skip(keep)
        .map(|(a, _)| a)
        .collect();
    for a in gone {
        if let Some(ps) = peers.remove(&a) {
            others.stats += &ps;
            others.folded += 1;
        }
    }
    others.stats.worst = None;
    peers.shrink_to_fit();
}
