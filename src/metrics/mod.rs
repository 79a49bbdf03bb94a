//! Metrics: everything a report shows, as mergeable sums.
//!
//! [`Summary`] implements `AddAssign`, so parallel workers each fill their
//! own and fold them at the end; merging is exact (counts add, histograms
//! add), so a run's result does not depend on how work was split.

pub mod hist;
pub mod peers;
pub mod timeline;

use crate::decode::{Segment, Skip, flags};
use crate::flow::conn::{Conn, SidesBy};
use crate::flow::key::Side;
pub use hist::Hist;
pub use peers::{PeerStats, Worst};
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Latency metrics (first index of [`Summary::latency`]).
pub const FIN_ACK: usize = 0;
pub const FIN_FIN: usize = 1;
pub const CLOSE_TOTAL: usize = 2;
pub const METRIC_NAMES: [&str; 3] = ["fin_ack", "fin_fin", "close_total"];
/// Splits (second index): every connection, local side closed first, remote first.
pub const ALL: usize = 0;
pub const LOCAL_FIRST: usize = 1;
pub const REMOTE_FIRST: usize = 2;
pub const SPLIT_NAMES: [&str; 3] = ["all", "local_first", "remote_first"];

/// Frame-level counts, filled by the decoder.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Packets {
    /// Packet records read.
    pub frames: u64,
    /// Frames carrying a TCP header (including ones cut before the flags).
    pub tcp: u64,
    pub syn: u64,
    pub fin: u64,
    pub rst: u64,
    /// ACK only, no payload.
    pub pure_ack: u64,
    /// Frames that gave no TCP segment, by reason.
    pub skipped: [u64; 7],
    /// Frames per link type.
    pub link_types: BTreeMap<u16, u64>,
    pub first_ts: Option<u64>,
    pub last_ts: Option<u64>,
    /// Timeline bucket width (ns) for `frames_by_bucket`; 0: not counted.
    pub bucket_ns: u64,
    /// Frames per timeline bucket, run-length: (bucket number, frames).
    pub frames_by_bucket: Vec<(u64, u64)>,
}

impl Packets {
    /// Counters that also count frames per timeline bucket of `bucket_ns`.
    pub fn with_bucket(bucket_ns: u64) -> Packets {
        Packets {
            bucket_ns,
            ..Packets::default()
        }
    }

    /// Counts one frame and what the decoder made of it.
    pub fn count(&mut self, link: u16, ts: u64, r: &Result<Segment, Skip>) {
        self.frames += 1;
        // Consecutive frames nearly always share a link type: a map lookup
        // per frame would dominate, so bump the last entry when it matches.
        match self.link_types.last_entry() {
            Some(mut e) if *e.key() == link => *e.get_mut() += 1,
            _ => *self.link_types.entry(link).or_insert(0) += 1,
        }
        self.first_ts = Some(self.first_ts.map_or(ts, |f| f.min(ts)));
        self.last_ts = Some(self.last_ts.map_or(ts, |l| l.max(ts)));
        if let Some(b) = ts.checked_div(self.bucket_ns) {
            match self.frames_by_bucket.last_mut() {
                Some((lb, n)) if *lb == b => *n += 1,
                _ => self.frames_by_bucket.push((b, 1)),
            }
        }
        match r {
            Ok(s) => {
                self.tcp += 1;
                self.syn += u64::from(s.has(flags::SYN));
                self.fin += u64::from(s.has(flags::FIN));
                self.rst += u64::from(s.has(flags::RST));
                self.pure_ack += u64::from(s.flags & 0x17 == flags::ACK && s.payload_len == 0);
            }
            Err(skip) => {
                if *skip == Skip::TcpTruncated {
                    self.tcp += 1;
                }
                self.skipped[*skip as usize] += 1;
            }
        }
    }
}

impl std::ops::AddAssign<&Packets> for Packets {
    fn add_assign(&mut self, o: &Packets) {
        self.frames += o.frames;
        self.tcp += o.tcp;
        self.syn += o.syn;
        self.fin += o.fin;
        self.rst += o.rst;
        self.pure_ack += o.pure_ack;
        for (a, b) in self.skipped.iter_mut().zip(o.skipped.iter()) {
            *a += b;
        }
        for (k, v) in &o.link_types {
            *self.link_types.entry(*k).or_insert(0) += v;
        }
        self.bucket_ns = self.bucket_ns.max(o.bucket_ns);
        self.frames_by_bucket.extend_from_slice(&o.frames_by_bucket);
        self.first_ts = match (self.first_ts, o.first_ts) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last_ts = match (self.last_ts, o.last_ts) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
}

/// Connection counts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Connections {
    pub total: u64,
    pub handshake_seen: u64,
    /// Sides decided by port because no SYN or SYN-ACK was seen.
    pub sides_by_port: u64,
    /// Sides decided by a SYN-ACK only.
    pub sides_by_synack: u64,
    /// FINs that moved past an earlier FIN of the same side (anomaly).
    pub fin_moved: u64,
}

/// FIN retransmission counts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FinRetransmissions {
    pub total: u64,
    pub spurious: u64,
    /// Of `total`, copies less than 1 ms after the previous one (likely
    /// the same packet captured twice).
    pub within_1ms: u64,
    pub local_to_remote: u64,
    pub remote_to_local: u64,
}

/// Everything the reports show, mergeable.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub packets: Packets,
    pub connections: Connections,
    /// Outcome counts, indexed by [`Outcome::index`].
    pub outcomes: [u64; 7],
    /// Outcome counts of connections with a FIN, by who sent the first FIN:
    /// [0] local first, [1] remote first.
    pub outcomes_by_closer: [[u64; 7]; 2],
    pub fin_rtx: FinRetransmissions,
    /// `latency[metric][split]`, microseconds.
    pub latency: [[Hist; 3]; 3],
    /// Age at end of observation of FINs never ACKed.
    pub unacked_fin_age: Hist,
    pub peers: FxHashMap<IpAddr, PeerStats>,
    /// Local socket states over time.
    pub timeline: timeline::Timeline,
    /// Connections in which the local side sent a FIN.
    pub local_fins: u64,
}

fn us(from: u64, to: u64) -> u64 {
    to.saturating_sub(from) / 1_000
}

impl Summary {
    /// Folds one finished connection in. `local` is the local side, `end_ts`
    /// the end of its observation (capture end, or when it went idle).
    /// `open` is true when the connection was still live at the end of the
    /// capture (its open states extend past the end in the timeline).
    pub fn add_conn(&mut self, c: &Conn, local: Side, end_ts: u64, open: bool) {
        let remote = 1 - local;
        let (_, by) = c.client_side();
        let outcome = c.outcome();
        self.connections.total += 1;
        self.connections.handshake_seen += u64::from(by == SidesBy::Syn);
        self.connections.sides_by_port += u64::from(by == SidesBy::Port);
        self.connections.sides_by_synack += u64::from(by == SidesBy::SynAck);
        self.connections.fin_moved += u64::from(c.fin_moved);
        self.outcomes[outcome.index()] += 1;

        let (l, r) = (&c.ep[local], &c.ep[remote]);
        self.fin_rtx.local_to_remote += u64::from(l.fin_retransmissions());
        self.fin_rtx.remote_to_local += u64::from(r.fin_retransmissions());
        self.fin_rtx.total += u64::from(l.fin_retransmissions() + r.fin_retransmissions());
        self.fin_rtx.spurious += u64::from(l.fin_rtx_spurious + r.fin_rtx_spurious);
        self.fin_rtx.within_1ms += u64::from(l.fin_rtx_fast + r.fin_rtx_fast);

        if let Some(f) = c.first_fin {
            let other = 1 - f;
            let split = if f == local {
                LOCAL_FIRST
            } else {
                REMOTE_FIRST
            };
            self.outcomes_by_closer[split - 1][outcome.index()] += 1;
            let (ef, eo) = (&c.ep[f], &c.ep[other]);
            if let Some(t0) = ef.fin_ts {
                let mut rec = |m: usize, v: u64| {
                    self.latency[m][ALL].record(v);
                    self.latency[m][split].record(v);
                };
                if let Some(a) = ef.fin_acked_ts {
                    rec(FIN_ACK, us(t0, a));
                }
                if let Some(t1) = eo.fin_ts {
                    rec(FIN_FIN, us(t0, t1));
                }
                let end = match (ef.fin_acked_ts, eo.fin_acked_ts, eo.fin_ts) {
                    (Some(a), Some(b), Some(_)) => Some(a.max(b)),
                    _ => c.rst_ts.filter(|r| *r >= t0),
                };
                if let Some(e) = end {
                    rec(CLOSE_TOTAL, us(t0, e));
                }
            }
        }
        let mut unacked = 0;
        for e in &c.ep {
            if let (Some(t), None) = (e.fin_ts, e.fin_acked_ts) {
                unacked += 1;
                if c.rst_ts.is_none() {
                    self.unacked_fin_age.record(us(t, end_ts));
                }
            }
        }

        let iv = self.timeline.add_conn(c, local, end_ts, open);
        self.local_fins += u64::from(l.fin_ts.is_some());
        let peer = self.peers.entry(c.key.endpoint(remote).0).or_default();
        for &(st, s, e) in iv.list.iter().take(iv.len) {
            if st == timeline::TcpState::FinWait1 {
                peer.fin_wait_1_ns += u128::from(e.min(end_ts).saturating_sub(s));
            }
        }
        peer.connections += 1;
        peer.closes += u64::from(c.first_fin.is_some());
        let rtx = u64::from(l.fin_retransmissions() + r.fin_retransmissions());
        peer.fin_retransmissions += rtx;
        peer.unacked_fins += unacked;
        peer.rsts += u64::from(l.rsts + r.rsts);
        let mut lat = 0;
        if let (Some(t), Some(a)) = (l.fin_ts, l.fin_acked_ts) {
            lat = us(t, a);
            peer.fin_ack.record(lat);
        } else if let (Some(t), None) = (l.fin_ts, l.fin_acked_ts) {
            lat = us(t, end_ts);
        }
        let w = Worst {
            score: rtx + unacked,
            latency_us: lat,
            first_ts: c.first_ts,
            first_frame: c.first_frame,
            last_frame: c.last_frame,
            key: c.key,
            local,
        };
        peer.offer_worst(w);
    }
}

impl std::ops::AddAssign<&Summary> for Summary {
    fn add_assign(&mut self, o: &Summary) {
        self.packets += &o.packets;
        let (a, b) = (&mut self.connections, &o.connections);
        a.total += b.total;
        a.handshake_seen += b.handshake_seen;
        a.sides_by_port += b.sides_by_port;
        a.sides_by_synack += b.sides_by_synack;
        a.fin_moved += b.fin_moved;
        for i in 0..7 {
            self.outcomes[i] += o.outcomes[i];
            self.outcomes_by_closer[0][i] += o.outcomes_by_closer[0][i];
            self.outcomes_by_closer[1][i] += o.outcomes_by_closer[1][i];
        }
        let (a, b) = (&mut self.fin_rtx, &o.fin_rtx);
        a.total += b.total;
        a.spurious += b.spurious;
        a.within_1ms += b.within_1ms;
        a.local_to_remote += b.local_to_remote;
        a.remote_to_local += b.remote_to_local;
        for m in 0..3 {
            for s in 0..3 {
                self.latency[m][s] += &o.latency[m][s];
            }
        }
        self.unacked_fin_age += &o.unacked_fin_age;
        for (k, v) in &o.peers {
            *self.peers.entry(*k).or_default() += v;
        }
        self.timeline += &o.timeline;
        self.local_fins += o.local_fins;
    }
}
