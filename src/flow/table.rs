//! A shard's connection table. One worker owns a shard and feeds it its
//! segments in capture order; no locks.
//!
//! Memory stays bounded by concurrent connections: a connection leaves the
//! table once it is *dead* (its close was final more than the TIME-WAIT
//! horizon ago, or it saw no packet for the idle timeout), its figures folded
//! into the shard's [`Summary`] first. Deadness is a pure function of the
//! connection and a time, and a packet on the key of a dead connection
//! starts a new one whether or not a sweep removed the old one yet; so
//! results do not depend on when sweeps run, on batch boundaries, or on
//! the number of shards.

use super::conn::Conn;
use super::key::{Cidr, FlowKey, Side};
use crate::decode::Segment;
use crate::metrics::Summary;
use crate::metrics::timeline::{self, TimelineConfig};
use rustc_hash::FxHashMap;

/// Settings of the flow tracker.
#[derive(Clone, Debug)]
pub struct FlowConfig {
    /// Prefixes of the local side (`--local`); empty: the client is local.
    pub local: Vec<Cidr>,
    /// A connection without packets for this long (ns) is over.
    pub idle_timeout_ns: u64,
    /// How long (ns) a closed connection's key stays reserved (TIME-WAIT).
    pub time_wait_ns: u64,
    /// Local socket-state timeline settings.
    pub timeline: TimelineConfig,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            local: Vec::new(),
            idle_timeout_ns: 300 * 1_000_000_000,
            time_wait_ns: 60 * 1_000_000_000,
            timeline: TimelineConfig::default(),
        }
    }
}

impl FlowConfig {
    /// The local side of a connection.
    pub fn local_side(&self, c: &Conn) -> Side {
        let client = c.client_side().0;
        if self.local.is_empty() {
            return client;
        }
        let is_local = |s: Side| self.local.iter().any(|n| n.contains(c.key.endpoint(s).0));
        match (is_local(0), is_local(1)) {
            (true, false) => 0,
            (false, true) => 1,
            _ => client,
        }
    }
}

/// How often (capture time, ns) a shard sweeps its table for dead connections.
const SWEEP_EVERY_NS: u64 = 5 * 1_000_000_000;

/// A connection as it left the table, with its local side and the end of
/// its observation (what [`Summary::add_conn`] was given).
#[derive(Clone, Debug)]
pub struct Retired {
    pub conn: Conn,
    pub local: Side,
    pub end_ts: u64,
    /// Still live at the capture's end.
    pub open: bool,
}

/// One shard: a connection table and the metrics of what left it.
pub struct Shard {
    cfg: FlowConfig,
    table: FxHashMap<FlowKey, Conn>,
    pub summary: Summary,
    /// Sweep epoch (capture clock / [`SWEEP_EVERY_NS`]) of the last sweep.
    epoch: u64,
    /// Most connections in the table at once.
    pub peak_table: usize,
    /// When `Some`, every retired connection is also kept here (`--flows`).
    pub retired: Option<Vec<Retired>>,
}

impl Shard {
    pub fn new(cfg: FlowConfig) -> Shard {
        let timeline = timeline::Timeline::new(cfg.timeline.clone());
        Shard {
            cfg,
            table: FxHashMap::default(),
            summary: Summary {
                timeline,
                ..Summary::default()
            },
            epoch: 0,
            peak_table: 0,
            retired: None,
        }
    }

    /// `open`: the connection was still live at the capture's end.
    fn retire(&mut self, c: &Conn, end_ts: u64, open: bool) {
        let local = self.cfg.local_side(c);
        self.summary.add_conn(c, local, end_ts, open);
        if let Some(v) = &mut self.retired {
            v.push(Retired {
                conn: c.clone(),
                local,
                end_ts,
                open,
            });
        }
    }

    /// Feeds one segment (segments of a flow must come in capture order),
    /// when this shard sees every segment: the capture clock is the latest
    /// timestamp so far.
    pub fn process(&mut self, seg: &Segment) {
        let now = (self.epoch * SWEEP_EVERY_NS).max(seg.ts_ns);
        self.process_at(seg, now);
    }

    /// Feeds one segment; `now` is the capture clock: the latest timestamp
    /// of all segments up to this one in capture order, *across all shards*.
    ///
    /// Sweeps run when the clock enters a new [`SWEEP_EVERY_NS`] epoch and
    /// retire what was dead at the epoch's start. That depends only on the
    /// clock, so a shard that sees a subset of the segments sweeps exactly
    /// as a lone shard would (later, but a sweep changes nothing until the
    /// shard's next segment): results stay independent of the shard count
    /// even when timestamps go backwards (tcpdump-kday4.pcap).
    pub fn process_at(&mut self, seg: &Segment, now: u64) {
        let epoch = now / SWEEP_EVERY_NS;
        if epoch > self.epoch {
            self.epoch = epoch;
            self.sweep(epoch * SWEEP_EVERY_NS);
        }
        let (key, side) = FlowKey::of(seg);
        let (idle, tw) = (self.cfg.idle_timeout_ns, self.cfg.time_wait_ns);
        if let Some(c) = self.table.get_mut(&key) {
            let dead_at = c.dead_at(idle, tw);
            if seg.ts_ns > dead_at || c.is_reuse(seg, side) {
                let end = if seg.ts_ns > dead_at {
                    dead_at
                } else {
                    seg.ts_ns
                };
                let old = std::mem::replace(c, Conn::new(key, seg));
                self.retire(&old, end, false);
            }
        } else {
            self.table.insert(key, Conn::new(key, seg));
            self.peak_table = self.peak_table.max(self.table.len());
        }
        if let Some(c) = self.table.get_mut(&key) {
            let fin_rtx = c.step(seg, side);
            let tl = &mut self.summary.timeline;
            tl.count(seg.ts_ns, timeline::C_SEGMENTS, 1);
            if seg.has(crate::decode::flags::FIN) {
                tl.count(seg.ts_ns, timeline::C_FIN, 1);
            }
            if seg.has(crate::decode::flags::RST) {
                tl.count(seg.ts_ns, timeline::C_RST, 1);
            }
            if fin_rtx {
                tl.count(seg.ts_ns, timeline::C_FIN_RTX, 1);
            }
        }
    }

    /// Retires every connection that was dead before `now`.
    fn sweep(&mut self, now: u64) {
        let (idle, tw) = (self.cfg.idle_timeout_ns, self.cfg.time_wait_ns);
        let mut dead: Vec<(FlowKey, u64)> = self
            .table
            .iter()
            .filter_map(|(k, c)| {
                let d = c.dead_at(idle, tw);
                (d < now).then_some((*k, d))
            })
            .collect();
        dead.sort_unstable_by_key(|(k, _)| *k);
        for (k, d) in dead {
            if let Some(c) = self.table.remove(&k) {
                self.retire(&c, d, false);
            }
        }
    }

    /// Connections currently tracked.
    pub fn live(&self) -> usize {
        self.table.len()
    }

    /// Retires everything at the end of the capture (`end` = last timestamp).
    pub fn finish(&mut self, end: u64) {
        let (idle, tw) = (self.cfg.idle_timeout_ns, self.cfg.time_wait_ns);
        let mut all: Vec<(FlowKey, Conn)> = self.table.drain().collect();
        all.sort_unstable_by_key(|(k, _)| *k);
        for (_, c) in all {
            let d = c.dead_at(idle, tw);
            self.retire(&c, d.min(end), d > end);
        }
    }
}
