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
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            local: Vec::new(),
            idle_timeout_ns: 300 * 1_000_000_000,
            time_wait_ns: 60 * 1_000_000_000,
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

/// One shard: a connection table and the metrics of what left it.
pub struct Shard {
    cfg: FlowConfig,
    table: FxHashMap<FlowKey, Conn>,
    pub summary: Summary,
    now: u64,
    next_sweep: u64,
    /// Most connections in the table at once.
    pub peak_table: usize,
}

impl Shard {
    pub fn new(cfg: FlowConfig) -> Shard {
        Shard {
            cfg,
            table: FxHashMap::default(),
            summary: Summary::default(),
            now: 0,
            next_sweep: 0,
            peak_table: 0,
        }
    }

    fn retire(&mut self, c: &Conn, end_ts: u64) {
        let local = self.cfg.local_side(c);
        self.summary.add_conn(c, local, end_ts);
    }

    /// Feeds one segment (segments of a flow must come in capture order).
    pub fn process(&mut self, seg: &Segment) {
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
                self.retire(&old, end);
            }
        } else {
            self.table.insert(key, Conn::new(key, seg));
            self.peak_table = self.peak_table.max(self.table.len());
        }
        if let Some(c) = self.table.get_mut(&key) {
            c.step(seg, side);
        }
        if seg.ts_ns > self.now {
            self.now = seg.ts_ns;
            if self.now >= self.next_sweep {
                self.sweep();
                self.next_sweep = self.now.saturating_add(SWEEP_EVERY_NS);
            }
        }
    }

    /// Retires every connection that is dead at `self.now`.
    fn sweep(&mut self) {
        let (idle, tw, now) = (self.cfg.idle_timeout_ns, self.cfg.time_wait_ns, self.now);
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
                self.retire(&c, d);
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
            self.retire(&c, d.min(end));
        }
    }
}
