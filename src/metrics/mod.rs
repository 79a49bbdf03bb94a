//! Metrics: everything a report shows, as mergeable sums.
//!
//! [`Summary`] implements `AddAssign`, so parallel workers each fill their
//! own and fold them at the end; merging is exact (counts add, histograms
//! add), so a run's result does not depend on how work was split.

pub mod counts;
pub mod fin_delay;
pub mod groups;
pub mod hist;
pub mod kernel;
pub mod packets;
pub mod peers;
pub mod replay;
pub mod timeline;

use crate::decode::{Segment, flags};
use crate::flow::conn::{Conn, Outcome, SidesBy};
use crate::flow::key::Side;
use crate::flow::state::TcpState;
use crate::flow::table::{ConnSink, Retired};
pub use counts::{
    ByCloser, ByMetric, ByOutcome, BySkip, BySplit, Closer, Connections, FinRetransmissions,
    Latencies, Merge, Metric, Split, UnackedFins,
};
pub use hist::Hist;
pub use kernel::{KernelEvidence, MIN_EVIDENCE};
pub use packets::{PacketCounts, Packets};
pub use peers::{PeerStats, Worst};
use rustc_hash::FxHashMap;
use std::net::IpAddr;

/// A counter's type, added saturating ([`add`]).
pub(crate) trait Counter: Copy {
    fn saturating(self, o: Self) -> Self;
}

macro_rules! counter {
    ($($t:ty),*) => {$(
        impl Counter for $t {
            fn saturating(self, o: Self) -> Self {
                self.saturating_add(o)
            }
        }
    )*};
}
counter!(u32, u64, u128, i64);

/// `*a += b`, saturating. Merging adds metrics turned back from saved
/// reports (`finscope merge`), whose counts may be anything: a sum past
/// the type's range stays at its end instead of wrapping (or panicking
/// with overflow checks).
pub(crate) fn add<T: Counter>(a: &mut T, b: impl std::borrow::Borrow<T>) {
    *a = a.saturating(*b.borrow());
}

/// Share of all connections that must be one-sided before the capture as a
/// whole is judged one-sided ([`Summary::is_one_sided`]): most of them.
pub const ONE_SIDED_SHARE: f64 = 0.5;

/// How `--max-memory` is shared (docs/design.md, "Bounded memory"): each
/// part is the budget divided by its divisor, split between the threads'
/// shards (the connection table, peers and `--group-by port` pairs) or
/// held by all of them together (the remedies' lives, [`replay::Levels`]).
/// The eighth left over is for `--flows`' waiting records (a sixteenth,
/// `report::flows::share_of`), the timeline (at most 57,280 buckets per
/// shard), the report and the estimates' error.
pub mod share {
    /// The connection table (live, closed and attempts): half.
    pub const FLOWS: u64 = 2;
    /// Peer figures ([`super::peers::fold`] past it): an eighth.
    pub const PEERS: u64 = 8;
    /// `--group-by port`'s (port, address) pairs: an eighth.
    pub const PORT_PAIRS: u64 = 8;
    /// The remedies' lives ([`super::replay::Lives::with_budget`]): an
    /// eighth.
    pub const LIVES: u64 = 8;
}

/// Everything the reports show, mergeable.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub packets: Packets,
    pub connections: Connections,
    /// Outcome counts.
    pub outcomes: ByOutcome<u64>,
    /// Outcome counts of connections with a FIN, by who sent the first FIN.
    pub outcomes_by_closer: ByCloser<ByOutcome<u64>>,
    pub fin_rtx: FinRetransmissions,
    /// `latency[metric][split]`, microseconds.
    pub latency: Latencies,
    /// Age of FINs never ACKed: until the end of observation, or until
    /// their sender was killed.
    pub unacked_fin_age: Hist,
    pub unacked: UnackedFins,
    pub peers: FxHashMap<IpAddr, PeerStats>,
    /// Peers folded together past the budget ([`peers::fold`]); empty
    /// unless `peers` outgrew it.
    pub peers_others: peers::Others,
    /// Local socket states over time.
    pub timeline: timeline::Timeline,
    /// Connections in which the local side sent a FIN.
    pub local_fins: u64,
    /// What the capture shows of the local kernel's settings.
    pub kernel: KernelEvidence,
    /// The local closes, for the remedies' replay (not in saved reports:
    /// a merged report has none).
    pub lives: replay::Lives,
}

impl Summary {
    /// Only one direction was captured: most connections (more than
    /// [`ONE_SIDED_SHARE`] of them) are one-sided. Fewer are a share the
    /// report warns about, no capture-wide verdict (docs/diagnosis.md).
    pub fn is_one_sided(&self) -> bool {
        let c = &self.connections;
        c.one_sided > 0 && c.one_sided as f64 > ONE_SIDED_SHARE * c.total as f64
    }
}

/// A shard's metrics: the [`ConnSink`] the pipeline gives each shard. It
/// folds every retired connection into its [`Summary`] (and, with
/// `--group-by port`, its [`groups::PortGroups`]) and, with `--flows`,
/// keeps them for the pipeline to hand on.
#[derive(Debug, Default)]
pub struct ShardMetrics {
    pub summary: Summary,
    /// When `Some`, every retired connection is also kept here.
    pub retired: Option<Vec<Retired>>,
    /// Most peers held before the lowest ranked half is folded into
    /// `summary.peers_others` (the shard's share of `--max-memory`).
    pub peer_cap: usize,
    /// `--group-by port`: the shard's (port, address) pairs, folded as
    /// connections retire (no connection is kept for them).
    pub ports: Option<groups::PortGroups>,
}

impl ShardMetrics {
    /// Metrics with a timeline of `cfg`; `keep`: keep retired connections.
    pub fn new(cfg: timeline::TimelineConfig, keep: bool) -> ShardMetrics {
        ShardMetrics {
            summary: Summary {
                timeline: timeline::Timeline::new(cfg),
                ..Summary::default()
            },
            retired: keep.then(Vec::new),
            peer_cap: usize::MAX,
            ports: None,
        }
    }

    /// Holds at most about `bytes` of peer figures: past that, the lowest
    /// ranked peers are folded together ([`peers::fold`]).
    pub fn with_peer_budget(mut self, bytes: u64) -> ShardMetrics {
        self.peer_cap = usize::try_from(bytes / peers::peer_bytes())
            .unwrap_or(usize::MAX)
            .max(2);
        self
    }

    /// Keeps at most about `bytes` of lives for the remedies, with the
    /// other shards of the run (`shared`): past it they are sampled
    /// ([`replay::Lives::with_budget`]).
    pub fn with_life_budget(
        mut self,
        bytes: u64,
        shared: std::sync::Arc<replay::Levels>,
    ) -> ShardMetrics {
        self.summary.lives = replay::Lives::with_budget(bytes, shared);
        self
    }

    /// Gathers `--group-by port`'s pairs, at most about `bytes` of them
    /// ([`groups::PortGroups::with_budget`]).
    pub fn with_port_groups(mut self, bytes: u64) -> ShardMetrics {
        self.ports = Some(groups::PortGroups::with_budget(bytes));
        self
    }
}

impl ConnSink for ShardMetrics {
    fn retire(&mut self, r: Retired) {
        self.summary.add_conn(&r.conn, r.local, r.end_ts, r.open);
        if self.summary.peers.len() > self.peer_cap {
            let s = &mut self.summary;
            peers::fold(&mut s.peers, self.peer_cap / 2, &mut s.peers_others);
        }
        if let Some(p) = &mut self.ports {
            p.add(&r);
        }
        if let Some(v) = &mut self.retired {
            v.push(r);
        }
    }

    fn segment(&mut self, seg: &Segment, fin_rtx: bool) {
        self.summary.timeline.count_segment(
            seg.ts_ns,
            seg.has(flags::FIN),
            seg.has(flags::RST),
            fin_rtx,
        );
    }

    fn flush(&mut self) {
        self.summary.timeline.flush();
    }
}

fn us(from: u64, to: u64) -> u64 {
    to.saturating_sub(from) / 1_000
}

impl Summary {
    /// Folds one finished connection in. `local` is the local side, `end_ts`
    /// the end of its observation (capture end, or when it went idle).
    /// `open` is true when the connection was still live at the end of the
    /// capture (its open states extend past the end in the timeline).
    /// Everything is read from the close model: outcome, latencies, unACKed
    /// FINs, states.
    pub fn add_conn(&mut self, c: &Conn, local: Side, end_ts: u64, open: bool) {
        let remote = local.other();
        let (_, by) = c.client_side();
        let outcome = c.outcome();
        let one_sided = outcome == Outcome::OneSided;
        self.connections.total += 1;
        self.connections.handshake_seen += u64::from(by == SidesBy::Syn);
        self.connections.sides_by_port += u64::from(by == SidesBy::Port);
        self.connections.sides_by_synack += u64::from(by == SidesBy::SynAck);
        self.connections.fin_moved += u64::from(c.fin_moved);
        self.connections.one_sided += u64::from(one_sided);
        self.connections.two_sided += u64::from(c.two_sided());
        self.connections.anomalies += c.anomalies();
        self.connections.kills_retracted += u64::from(c.kills_retracted);
        self.connections.aborted_on_data += u64::from(c.ep[local].abort_on_data);
        self.outcomes[outcome] += 1;

        let (l, r) = (&c.ep[local], &c.ep[remote]);
        self.fin_rtx.local_to_remote += u64::from(l.fin_retransmissions());
        self.fin_rtx.remote_to_local += u64::from(r.fin_retransmissions());
        self.fin_rtx.total += u64::from(l.fin_retransmissions() + r.fin_retransmissions());
        self.fin_rtx.spurious += u64::from(l.fin_rtx_spurious + r.fin_rtx_spurious);
        self.fin_rtx.within_1ms += u64::from(l.fin_rtx_fast + r.fin_rtx_fast);

        if let Some(f) = c.first_fin {
            let closer = if f == local {
                Closer::Local
            } else {
                Closer::Remote
            };
            self.outcomes_by_closer[closer][outcome] += 1;
            let lat = c.latencies();
            let mut rec = |m: Metric, v: Option<u64>| {
                if let Some(v) = v {
                    self.latency[m][Split::All].record(v);
                    self.latency[m][Split::from(closer)].record(v);
                }
            };
            rec(Metric::FinAck, lat.fin_ack);
            rec(Metric::FinFin, lat.fin_fin);
            rec(Metric::CloseTotal, lat.close_total);
        }
        for (side, n) in [
            (local, &mut self.unacked.local_to_remote),
            (remote, &mut self.unacked.remote_to_local),
        ] {
            if c.fin_unacked(side)
                && let Some(t) = c.ep[side].fin_ts
            {
                *n += 1;
                self.unacked_fin_age
                    .record(us(t, c.fin_unacked_until(side, end_ts)));
            }
        }
        if !one_sided {
            self.kernel.add(c, local);
        }

        let states = self.timeline.add_conn(c, local, end_ts, open);
        if !one_sided {
            self.lives.add(c, local, &states.list, end_ts);
        }
        self.local_fins += u64::from(c.ep[local].fin_ts.is_some());
        self.add_peer(c, local, end_ts, &states);
    }

    /// Folds a connection into its remote peer's figures. A peer answers
    /// for what it did to local FINs only.
    fn add_peer(&mut self, c: &Conn, local: Side, end_ts: u64, states: &timeline::ConnStates) {
        let remote = local.other();
        let (l, r) = (&c.ep[local], &c.ep[remote]);
        let unacked_local = c.fin_unacked(local);
        let peer = self.peers.entry(c.key.endpoint(remote).0).or_default();
        for &(st, s, e) in &states.list {
            if st == TcpState::FinWait1 {
                peer.fin_wait_1_ns += u128::from(e.min(end_ts).saturating_sub(s));
            }
        }
        peer.counts.connections += 1;
        peer.counts.closes += u64::from(c.first_fin.is_some());
        let rtx = u64::from(l.fin_retransmissions());
        peer.counts.fin_retransmissions += rtx;
        peer.counts.unacked_fins += u64::from(unacked_local);
        peer.counts.rsts += u64::from(l.rsts + r.rsts);
        // Until the ACK, or a never-ACKed FIN's age (a lower bound).
        let lat = c.fin_wait_us(local, end_ts);
        if let Some(v) = lat {
            peer.fin_ack.record(v);
        }
        peer.fin_delay.add_conn(c, local, lat);
        let lat = lat.unwrap_or(0);
        let w = Worst {
            score: rtx + u64::from(unacked_local),
            latency_us: lat,
            first_ts: c.first_ts,
            first_frame: c.first_frame,
            last_frame: c.last_frame,
            key: c.key,
            local,
            input: 0,
        };
        peer.offer_worst(w);
    }
}

impl std::ops::AddAssign<&Summary> for Summary {
    fn add_assign(&mut self, o: &Summary) {
        // Every field, no `..`: a new one does not compile until merged.
        let Summary {
            packets,
            connections,
            outcomes,
            outcomes_by_closer,
            fin_rtx,
            latency,
            unacked_fin_age,
            unacked,
            peers,
            peers_others,
            timeline,
            local_fins,
            kernel,
            lives,
        } = o;
        self.packets += packets;
        self.connections.merge(connections);
        self.outcomes.merge(outcomes);
        self.outcomes_by_closer.merge(outcomes_by_closer);
        self.fin_rtx.merge(fin_rtx);
        self.latency.merge(latency);
        self.unacked_fin_age += unacked_fin_age;
        self.unacked.merge(unacked);
        for (k, v) in peers {
            *self.peers.entry(*k).or_default() += v;
        }
        self.peers_others += peers_others;
        self.timeline += timeline;
        add(&mut self.local_fins, local_fins);
        self.kernel += kernel;
        self.lives += lives;
    }
}
