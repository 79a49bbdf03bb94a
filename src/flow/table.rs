//! A shard's connection table. One worker owns a shard and feeds it its
//! segments in capture order; no locks.
//!
//! Memory stays bounded by concurrent connections: a connection leaves the
//! table once it is *dead* (its close was final more than the TIME-WAIT
//! horizon ago, or it saw no packet for the idle timeout), its figures folded
//! into the shard's sink ([`ConnSink`]) first. Deadness is a pure function of the
//! connection and a time, and a packet on the key of a dead connection
//! starts a new one whether or not a sweep removed the old one yet; so
//! results do not depend on when sweeps run, on batch boundaries, or on
//! the number of shards.

use super::attempt::{Attempt, Attempts, KeyMap};
use super::compact;
use super::conn::{Conn, Timers};
use super::key::{FlowKey, Side};
use super::spare::SpareBoxes;
use super::wheel::{SWEEP_EVERY_NS, Wheel};
use crate::decode::Segment;
use crate::decode::net::Cidr;
use std::collections::BTreeMap;

/// Settings of the flow tracker.
#[derive(Clone, Debug)]
pub struct FlowConfig {
    /// Prefixes of the local side (`--local`); empty: the client is local.
    pub local: Vec<Cidr>,
    /// A connection without packets for this long (ns) is over.
    pub idle_timeout_ns: u64,
    /// How long (ns) a closed connection's key stays reserved (TIME-WAIT).
    pub time_wait_ns: u64,
    /// Orphaned FIN-WAIT-2 lifetime (ns, tcp_fin_timeout).
    pub fin_timeout_ns: u64,
    /// Memory budget of the connection state, bytes (`--max-memory`; of
    /// this shard, once the engine has split it): past it the connections
    /// idle longest are evicted early ([`Shard::evicted`]).
    pub max_memory: u64,
}

/// The default `--max-memory`: 1 GiB, a laptop's share.
pub const DEFAULT_MAX_MEMORY: u64 = 1 << 30;

/// The default `--idle-timeout`: 300 s without a packet.
pub const DEFAULT_IDLE_TIMEOUT_NS: u64 = 300 * 1_000_000_000;

/// The default `--time-wait`: Linux's TCP_TIMEWAIT_LEN, 60 s.
pub const DEFAULT_TIME_WAIT_NS: u64 = 60 * 1_000_000_000;

/// The default `--fin-timeout`: Linux's tcp_fin_timeout, 60 s.
pub const DEFAULT_FIN_TIMEOUT_NS: u64 = 60 * 1_000_000_000;

/// What a tracked connection costs, for the budget: the boxed [`Conn`] and
/// its allocator header, its hash table slot at the lowest load (half full
/// after the table doubles), and two expiry-wheel entries.
pub const CONN_BYTES: u64 = (size_of::<Conn>()
    + 16
    + 2 * size_of::<(FlowKey, Box<Conn>)>()
    + 2 * size_of::<(u64, FlowKey)>()) as u64;

/// What an attempt costs: its slot at the lowest load, IPv6 keys.
pub const ATTEMPT_BYTES: u64 = (2 * size_of::<(FlowKey, Attempt)>()) as u64;

/// An expiry-wheel entry left behind by a connection that moved on.
const WHEEL_BYTES: u64 = size_of::<(u64, FlowKey)>() as u64;

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            local: Vec::new(),
            idle_timeout_ns: DEFAULT_IDLE_TIMEOUT_NS,
            time_wait_ns: DEFAULT_TIME_WAIT_NS,
            fin_timeout_ns: DEFAULT_FIN_TIMEOUT_NS,
            max_memory: DEFAULT_MAX_MEMORY,
        }
    }
}

impl FlowConfig {
    /// The close model's timers.
    pub fn timers(&self) -> Timers {
        Timers {
            time_wait_ns: self.time_wait_ns,
            fin_timeout_ns: self.fin_timeout_ns,
        }
    }

    /// The local side of a connection.
    pub fn local_side(&self, c: &Conn) -> Side {
        let client = c.client_side().0;
        if self.local.is_empty() {
            return client;
        }
        let is_local = |s: Side| self.local.iter().any(|n| n.contains(c.key.endpoint(s).0));
        match (is_local(Side::A), is_local(Side::B)) {
            (true, false) => Side::A,
            (false, true) => Side::B,
            _ => client,
        }
    }
}

/// A connection without packets for this long (capture time) waits in
/// compact form; its next packet brings it back whole.
const COMPACT_IDLE_NS: u64 = 15 * 1_000_000_000;

/// A connection as it left the table, with its local side and the end of
/// its observation.
#[derive(Clone, Debug)]
pub struct Retired {
    pub conn: Conn,
    pub local: Side,
    pub end_ts: u64,
    /// Still live at the capture's end.
    pub open: bool,
    /// When it was retired, on the capture clock (ns; see
    /// [`Shard::process_at`]): the clock at the segment that replaced it on
    /// its key; for a sweep, the first sweep epoch after `end_ts`; the
    /// capture end for what was left at the end. It depends neither on the
    /// shard count nor on batch boundaries (`--flows` orders by it).
    pub clock: u64,
}

/// A closed or idle connection waiting: its compact form
/// ([`compact::encode`]) and its expiry-queue time (`Conn::queued_at`).
#[derive(Debug)]
struct Closed {
    queued_at: u64,
    blob: Box<[u8]>,
}

/// What a closed connection costs besides its compact form: its slot at
/// the lowest load, the allocator's header, an expiry-wheel entry.
const CLOSED_BYTES: u64 =
    (2 * size_of::<(FlowKey, Closed)>() + 16 + size_of::<(u64, FlowKey)>()) as u64;

/// The stores besides the live table. A key is in at most one of the
/// three (live, closed, attempts).
#[derive(Default)]
struct Stores {
    /// Closed and idle connections in compact form ([`compact`]).
    closed: KeyMap<Closed>,
    /// Bytes of the compact forms in `closed`.
    closed_bytes: u64,
    /// Keys with a lone SYN ([`Attempt`]).
    attempts: Attempts,
}

impl Stores {
    /// Removes the connection parked on `key`, whole again (an attempt
    /// replayed), and whether it was an attempt: the one lookup of the
    /// stores outside the live table (a segment's key, the capture's end).
    /// The attempts first: every handshake's second segment finds its
    /// attempt there, and the closed store is not probed for it.
    fn take(&mut self, key: FlowKey, timers: &Timers) -> Option<(Conn, bool)> {
        if let Some(a) = self.attempts.remove(&key) {
            return Some((a.replay(key, timers), true));
        }
        let z = self.closed.remove(&key)?;
        self.closed_bytes -= z.blob.len() as u64;
        let mut c = compact::decode(key, &z.blob)?;
        c.queued_at = z.queued_at;
        Some((c, false))
    }
}

/// What a shard hands on: every connection that leaves its table, and
/// every segment it processed. The metrics implement it
/// (`metrics::ShardMetrics`); flow knows nothing of them.
pub trait ConnSink {
    /// A connection left the table, its close model finished.
    fn retire(&mut self, r: Retired);
    /// One segment was processed; `fin_rtx`: it retransmitted a FIN.
    fn segment(&mut self, seg: &Segment, fin_rtx: bool);
    /// The capture ended (after the last `segment`, before the last
    /// `retire`s).
    fn flush(&mut self) {}
}

/// One shard: a connection table, and the sink of what left it.
pub struct Shard<S: ConnSink> {
    cfg: FlowConfig,
    /// Boxed: a hash table stores its values inline, and a [`Conn`] is
    /// large; unused slots then cost a pointer, not a connection.
    table: KeyMap<Box<Conn>>,
    /// Boxes of connections that left the table, for the next ones.
    spare: SpareBoxes,
    /// Closed connections and attempts; a key in `table` is in neither.
    parked: Stores,
    /// The compact form's encoding buffer, reused.
    scratch: compact::Scratch,
    /// Segments since the last scan for idle connections.
    since_scan: usize,
    /// Attempts due to die per sweep epoch (a count, not the keys: a sweep
    /// that finds one due scans `attempts`, each scan retiring about one
    /// epoch's worth of the idle timeout's).
    attempts_due: BTreeMap<u64, u32>,
    /// When each connection may next be dead ([`Wheel`]).
    expiry: Wheel,
    /// Where retired connections and processed segments go.
    pub sink: S,
    /// Sweep epoch (capture clock / [`SWEEP_EVERY_NS`]) of the last sweep.
    epoch: u64,
    /// Most connections in the table at once.
    pub peak_table: usize,
    /// Connections and attempts evicted early to stay within the budget.
    pub evicted: u64,
}

impl<S: ConnSink> Shard<S> {
    pub fn new(cfg: FlowConfig, sink: S) -> Shard<S> {
        Shard {
            cfg,
            table: KeyMap::default(),
            spare: SpareBoxes::default(),
            parked: Stores::default(),
            scratch: compact::Scratch::default(),
            since_scan: 0,
            attempts_due: BTreeMap::new(),
            expiry: Wheel::default(),
            sink,
            epoch: 0,
            peak_table: 0,
            evicted: 0,
        }
    }

    /// `open`: the connection was still live at the capture's end.
    /// `clock`: the retire clock ([`Retired::clock`]).
    fn retire(&mut self, mut c: Conn, end_ts: u64, open: bool, clock: u64) {
        c.finish(end_ts, &self.cfg.timers());
        let local = self.cfg.local_side(&c);
        self.sink.retire(Retired {
            conn: c,
            local,
            end_ts,
            open,
            clock,
        });
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
    /// Sweeps run when the clock enters a new `SWEEP_EVERY_NS` (5 s) epoch and
    /// retire what was dead at the epoch's start. That depends only on the
    /// clock, so a shard that sees a subset of the segments sweeps exactly
    /// as a lone shard would (later, but a sweep changes nothing until the
    /// shard's next segment): results stay independent of the shard count
    /// even when timestamps go backwards (tcpdump-kday4.pcap).
    pub fn process_at(&mut self, seg: &Segment, now: u64) {
        // A new epoch only from its first time on (no division per segment).
        if now >= self.epoch.saturating_add(1).saturating_mul(SWEEP_EVERY_NS) {
            self.advance(now);
        }
        if self.memory() > self.cfg.max_memory {
            self.evict(now);
        }
        self.since_scan += 1;
        let (key, side) = FlowKey::of(seg);
        let (idle, tw) = (self.cfg.idle_timeout_ns, self.cfg.time_wait_ns);
        let timers = self.cfg.timers();
        // The connection on this key is over when the segment comes after
        // its dead time or opens a new one (`ends`: then the end of its
        // observation): it is replaced (and retired). `closed`: its
        // `closed_at`, which the caller keeps. The decision returns a time,
        // not the connection: a closure that returned the whole
        // `Option<(Conn, u64)>` was a call per segment (34 instructions per
        // packet), and returning the flag with it a 1 KB copy (240).
        let ends = |c: &Conn, closed: Option<u64>| {
            let dead_at = c.dead_at_closed(closed, idle, tw);
            (seg.ts_ns > dead_at || c.is_reuse(seg, side)).then(|| dead_at.min(seg.ts_ns))
        };
        let replace = |c: &mut Conn, end: Option<u64>| {
            end.map(|end| (std::mem::replace(c, Conn::new(key, seg)), end))
        };
        let old;
        let fresh;
        let was_closed;
        let mut promoted = false;
        let c = match self.table.entry(key) {
            Ok(c) => {
                let closed = c.closed_at();
                let end = ends(c, closed);
                old = replace(c, end);
                fresh = old.is_some();
                was_closed = !fresh && closed.is_some();
                c
            }
            Err(v) => {
                // A key not in the table may hold a closed connection or an
                // attempt: it is brought back whole, then takes the segment.
                let back = match self.parked.take(key, &timers) {
                    Some((c, attempt)) => {
                        // An attempt was never queued.
                        promoted = attempt;
                        Some(c)
                    }
                    None if Attempt::starts(seg) => {
                        let a = Attempt::new(seg, side);
                        *self
                            .attempts_due
                            .entry(a.dead_at(idle) / SWEEP_EVERY_NS)
                            .or_default() += 1;
                        self.parked.attempts.insert(key, a);
                        self.peak_table = self.peak_table.max(self.live());
                        self.sink.segment(seg, false);
                        return;
                    }
                    None => None,
                };
                match back {
                    Some(mut prev) => {
                        let closed = prev.closed_at();
                        let end = ends(&prev, closed);
                        old = replace(&mut prev, end);
                        fresh = old.is_some();
                        was_closed = !fresh && closed.is_some();
                        v.insert(self.spare.boxed(prev))
                    }
                    None => {
                        (old, was_closed) = (None, false);
                        fresh = true;
                        v.insert(self.spare.boxed(Conn::new(key, seg)))
                    }
                }
            }
        };
        let fin_rtx = c.step(seg, side, &timers);
        let closed = c.closed_at().is_some();
        // (Re)queue when the connection is new or its close just became final.
        // A new one is looked at again once it could be idle (most close
        // sooner, and their first entry is then dropped, not kept for the
        // whole idle timeout).
        let requeue = (fresh || promoted || (!was_closed && closed)).then(|| {
            let soon = if closed {
                u64::MAX
            } else {
                seg.ts_ns.saturating_add(COMPACT_IDLE_NS)
            };
            let dead = c.dead_at(idle, tw);
            c.queued_at = dead.min(soon);
            (c.queued_at, soon < dead)
        });
        if let Some((d, young)) = requeue {
            self.expiry.queue(d, key, young);
        }
        // A closed connection waits for its dead time in compact form.
        if closed {
            self.compact(key);
        }
        if let Some((old, end)) = old {
            self.retire(old, end, false, now);
        }
        self.peak_table = self.peak_table.max(self.live());
        self.sink.segment(seg, fin_rtx);
    }

    /// Moves the connection on `key` from the table to the closed store.
    fn compact(&mut self, key: FlowKey) {
        let Some(c) = self.table.remove(&key) else {
            return;
        };
        let form = compact::encode_in(&c, &mut self.scratch);
        self.parked.closed_bytes += form.len() as u64;
        self.parked.closed.insert(
            key,
            Closed {
                queued_at: c.queued_at,
                blob: form.into(),
            },
        );
        self.spare.keep(c);
    }

    /// Retires every connection that was dead before `now`.
    /// Only queue entries due before `now` are looked at: a connection whose
    /// dead time moved on is queued again at its new time.
    fn sweep(&mut self, now: u64) {
        let (idle, tw) = (self.cfg.idle_timeout_ns, self.cfg.time_wait_ns);
        // Every entry due before `now` is in an epoch bucket below now's.
        let last = now / SWEEP_EVERY_NS;
        while let Some(due) = self.expiry.pop_due(last) {
            for (t, key, young) in due.iter() {
                // The closed store first: most due entries are closed
                // connections' (a key is in one store at most). Not for a
                // young entry (queued when its connection was new, for its
                // idle look): that connection is in the table until it
                // closes, and a close queues it again, so the entry of one
                // that is not there is stale (half of a gateway's due
                // entries; each was a miss in the closed store). Before
                // the entry comes due no idle connection is compacted.
                // A stale young entry may still name a compacted connection
                // by its time: a connection that began at t - 15 s (queued
                // young for t) and was replaced, and the next one on its
                // key closed at t with no TIME-WAIT (queued for t). That one
                // has its own entry, not young, in this bucket (the same
                // time), which retires it (tests/fuzz_regressions.rs, F12).
                debug_assert!(
                    !young
                        || self
                            .parked
                            .closed
                            .get(&key)
                            .is_none_or(|z| z.queued_at != t)
                        || due.iter().any(|e| e == (t, key, false)),
                    "a young entry names a compacted connection that has no entry of its own"
                );
                if !young && self.sweep_closed(t, key, now) {
                    continue;
                }
                let Some(c) = self.table.get_mut(&key) else {
                    continue;
                };
                if c.queued_at != t {
                    continue; // stale: the connection was requeued or replaced
                }
                let d = c.dead_at(idle, tw);
                if d < now {
                    if let Some(b) = self.table.remove(&key) {
                        let c = (*b).clone();
                        self.spare.keep(b);
                        // The retire clock is the first sweep epoch after its
                        // end, where a lone shard retires it: independent of -j.
                        let clock = (d / SWEEP_EVERY_NS + 1) * SWEEP_EVERY_NS;
                        self.retire(c, d, false, clock);
                    }
                } else {
                    c.queued_at = d;
                    self.expiry.queue(d, key, false);
                }
            }
            self.expiry.recycle(due);
        }
        self.sweep_attempts(now);
        self.compact_idle(now);
    }

    /// Moves the connections idle for [`COMPACT_IDLE_NS`] to the compact
    /// store (a gateway's keep-alive and abandoned connections wait there
    /// for the idle timeout). A scan of the table, run when at least a
    /// quarter of its size in segments came since the last one: amortised
    /// constant time per segment, whatever the epochs do.
    fn compact_idle(&mut self, now: u64) {
        if self.since_scan.saturating_mul(4) < self.table.len() {
            return;
        }
        self.since_scan = 0;
        let cut = now.saturating_sub(COMPACT_IDLE_NS);
        let idle: Vec<FlowKey> = self
            .table
            .iter()
            .filter(|(_, c)| c.last_ts < cut)
            .map(|(k, _)| k)
            .collect();
        for k in idle {
            self.compact(k);
        }
    }

    /// The expiry entry (`t`, `key`) of a closed connection, if it is its
    /// live one: retired when dead before `now`, else queued again. False
    /// when no closed connection is on `key`.
    fn sweep_closed(&mut self, t: u64, key: FlowKey, now: u64) -> bool {
        let (idle, tw) = (self.cfg.idle_timeout_ns, self.cfg.time_wait_ns);
        let Some(z) = self.parked.closed.get_mut(&key) else {
            return false;
        };
        if z.queued_at != t {
            return true;
        }
        let Some(mut c) = compact::decode(key, &z.blob) else {
            return true;
        };
        c.queued_at = t;
        let d = c.dead_at(idle, tw);
        if d < now {
            if let Some(z) = self.parked.closed.remove(&key) {
                self.parked.closed_bytes -= z.blob.len() as u64;
            }
            let clock = (d / SWEEP_EVERY_NS + 1) * SWEEP_EVERY_NS;
            self.retire(c, d, false, clock);
        } else {
            z.queued_at = d;
            self.expiry.queue(d, key, false);
        }
        true
    }

    /// Retires the attempts dead before `now`, when some are due.
    fn sweep_attempts(&mut self, now: u64) {
        let last = now / SWEEP_EVERY_NS;
        let mut any = false;
        while let Some(e) = self.attempts_due.first_entry() {
            if *e.key() >= last {
                break;
            }
            e.remove();
            any = true;
        }
        if !any {
            return;
        }
        let idle = self.cfg.idle_timeout_ns;
        let mut dead = self.parked.attempts.take_dead(now, idle);
        // In key order, as `finish` retires: the sinks see one order whatever
        // the hash map's.
        dead.sort_unstable_by_key(|(k, _)| *k);
        let timers = self.cfg.timers();
        for (k, a) in dead {
            let d = a.dead_at(idle);
            let clock = (d / SWEEP_EVERY_NS + 1) * SWEEP_EVERY_NS;
            self.retire(a.replay(k, &timers), d, false, clock);
        }
    }

    /// Brings the shard to the capture clock `now` without a segment: runs
    /// the sweep of a newly entered epoch, as [`Shard::process_at`] would.
    pub fn advance(&mut self, now: u64) {
        let epoch = now / SWEEP_EVERY_NS;
        if epoch > self.epoch {
            self.epoch = epoch;
            self.sweep(epoch * SWEEP_EVERY_NS);
        }
    }

    /// The budgeted memory in use, bytes (estimated from the counts).
    pub fn memory(&self) -> u64 {
        let p = &self.parked;
        self.table.len() as u64 * CONN_BYTES
            + p.closed.len() as u64 * CLOSED_BYTES
            + p.closed_bytes
            + p.attempts.len() as u64 * ATTEMPT_BYTES
            + self
                .expiry
                .len()
                .saturating_sub(2 * self.table.len() + p.closed.len()) as u64
                * WHEEL_BYTES
    }

    /// Over the budget: retires the connections and attempts idle longest
    /// (their last packet oldest) until a tenth of it is free again, and
    /// counts them in [`Shard::evicted`]. Each is retired as if its idle
    /// timeout had ended `now` (the capture clock); a later packet on its
    /// key starts a new connection. One pass costs a scan of the table, so
    /// evicting a tenth at a time keeps it rare.
    fn evict(&mut self, now: u64) {
        // Wheel entries of connections that moved on (requeued, replaced,
        // evicted) wait for their epoch; drop them first.
        if self.expiry.len() > 2 * (self.table.len() + self.parked.closed.len()) + 4096 {
            let (table, closed) = (&self.table, &self.parked.closed);
            self.expiry.retain(|(t, k)| match table.get(k) {
                Some(c) => c.queued_at == *t,
                None => closed.get(k).is_some_and(|z| z.queued_at == *t),
            });
        }
        let budget = self.cfg.max_memory;
        let used = self.memory();
        if used <= budget {
            return;
        }
        let target = budget - budget / 10;
        let mut times: Vec<u64> = self.table.values().map(|c| c.last_ts).collect();
        times.extend(
            self.parked
                .closed
                .iter()
                .filter_map(|(_, z)| compact::last_ts(&z.blob)),
        );
        times.extend(self.parked.attempts.times());
        let n = times.len();
        if n == 0 {
            return;
        }
        // Entries to evict, at the average cost of one.
        let k = ((u128::from(used - target) * n as u128).div_ceil(u128::from(used)) as usize)
            .clamp(1, n);
        let (_, &mut cut, _) = times.select_nth_unstable(k - 1);
        drop(times);
        let mut keys: Vec<FlowKey> = self
            .table
            .iter()
            .filter(|(_, c)| c.last_ts <= cut)
            .map(|(k, _)| k)
            .collect();
        keys.sort_unstable();
        for k in keys {
            if let Some(c) = self.table.remove(&k) {
                self.evicted += 1;
                let end = now.max(c.last_ts);
                self.retire(*c, end, false, now);
            }
        }
        let gone = self
            .parked
            .closed
            .take_if(|z| compact::last_ts(&z.blob).is_none_or(|t| t <= cut));
        for (k, z) in gone {
            self.parked.closed_bytes -= z.blob.len() as u64;
            if let Some(mut c) = compact::decode(k, &z.blob) {
                c.queued_at = z.queued_at;
                self.evicted += 1;
                let end = now.max(c.last_ts);
                self.retire(c, end, false, now);
            }
        }
        let timers = self.cfg.timers();
        for (k, a) in self.parked.attempts.take_idle_since(cut) {
            self.evicted += 1;
            let end = now.max(a.ts_ns);
            self.retire(a.replay(k, &timers), end, false, now);
        }
    }

    /// Connections currently tracked.
    pub fn live(&self) -> usize {
        self.table.len() + self.parked.closed.len() + self.parked.attempts.len()
    }

    /// Retires everything at the end of the capture (`end` = last timestamp).
    pub fn finish(&mut self, end: u64) {
        let keys = self.end_keys();
        self.finish_keys(&keys, end);
    }

    /// The keys still tracked at the capture's end, in key order (one order whatever the maps').
    pub fn end_keys(&mut self) -> Vec<FlowKey> {
        self.expiry.clear();
        self.sink.flush();
        self.attempts_due.clear();
        let mut keys: Vec<FlowKey> = self
            .table
            .keys()
            .chain(self.parked.closed.keys())
            .chain(self.parked.attempts.keys())
            .collect();
        keys.sort_unstable();
        keys
    }

    /// Retires the connections on `keys`, a part of [`Shard::end_keys`], at the capture's end.
    pub fn finish_keys(&mut self, keys: &[FlowKey], end: u64) {
        for &k in keys {
            let Some(c) = self
                .table
                .remove(&k)
                .map(|c| *c)
                .or_else(|| self.parked.take(k, &self.cfg.timers()).map(|p| p.0))
            else {
                continue;
            };
            let d = c.dead_at(self.cfg.idle_timeout_ns, self.cfg.time_wait_ns);
            self.retire(c, d.min(end), d > end, end);
        }
        if self.live() == 0 {
            (self.table, self.parked) = Default::default(); // their memory given back
        }
    }
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
