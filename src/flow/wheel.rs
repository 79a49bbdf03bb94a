//! A shard's expiry wheel: when each connection may next be dead, bucketed
//! by sweep epoch (capture clock / [`SWEEP_EVERY_NS`]). One live entry per
//! connection (its `Conn::queued_at`); entries left behind by a connection
//! that was requeued, replaced or evicted are stale, skipped by the table's
//! sweep and dropped by [`Wheel::retain`]. The wheel knows keys and times
//! only; which entry is live is the table's to say.

use super::key::FlowKey;
use std::collections::BTreeMap;

/// How often (capture time, ns) a shard sweeps its table for dead connections.
pub const SWEEP_EVERY_NS: u64 = 5 * 1_000_000_000;

/// Emptied buckets kept for reuse, and their capacity.
const SPARE_BUCKETS: usize = 2;
const SPARE_CAPACITY: usize = 512;

/// An expiry wheel entry: (time, key).
pub type Entry = (u64, FlowKey);

#[derive(Default)]
pub struct Wheel {
    /// epoch -> [(time, key)].
    buckets: BTreeMap<u64, Vec<Entry>>,
    /// Emptied buckets, reused so that sweeping does not free and re-fault
    /// large vectors every epoch.
    spare: Vec<Vec<Entry>>,
    /// Entries, stale ones included.
    len: usize,
}

impl Wheel {
    /// Queues `key` to be looked at once the clock passes `t`.
    pub fn queue(&mut self, t: u64, key: FlowKey) {
        let spare = &mut self.spare;
        self.buckets
            .entry(t / SWEEP_EVERY_NS)
            .or_insert_with(|| spare.pop().unwrap_or_default())
            .push((t, key));
        self.len += 1;
    }

    /// Removes and returns the first bucket whose epoch is below `epoch`
    /// (every entry due before that epoch's start is in one); hand it back
    /// with [`Wheel::recycle`] once read.
    pub fn pop_due(&mut self, epoch: u64) -> Option<Vec<Entry>> {
        let entry = self.buckets.first_entry()?;
        if *entry.key() >= epoch {
            return None;
        }
        let due = entry.remove();
        self.len -= due.len();
        Some(due)
    }

    /// Keeps a few emptied buckets for reuse, not all, and not at their
    /// size: a reused bucket may be one far ahead that few entries reach,
    /// and each bucket in flight would keep the largest capacity seen
    /// (35 MB of a 20M-packet gateway run).
    pub fn recycle(&mut self, mut due: Vec<Entry>) {
        if self.spare.len() < SPARE_BUCKETS {
            due.clear();
            due.shrink_to(SPARE_CAPACITY);
            self.spare.push(due);
        }
    }

    /// Keeps only the entries `live` accepts.
    pub fn retain(&mut self, mut live: impl FnMut(&Entry) -> bool) {
        for v in self.buckets.values_mut() {
            v.retain(&mut live);
        }
        self.buckets.retain(|_, v| !v.is_empty());
        self.len = self.buckets.values().map(Vec::len).sum();
    }

    /// Entries, stale ones included.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn clear(&mut self) {
        self.buckets.clear();
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Segment;

    #[test]
    fn due_buckets_come_in_epoch_order_and_stale_entries_go() {
        let k = |p: u16| FlowKey::of(&Segment::between("10.0.0.1", p, "10.0.0.2", 80)).0;
        let s = SWEEP_EVERY_NS;
        let mut w = Wheel::default();
        w.queue(2 * s + 1, k(1));
        w.queue(1, k(2));
        w.queue(3, k(3));
        assert_eq!(w.len(), 3);
        // Nothing is due before epoch 0.
        assert_eq!(w.pop_due(0), None);
        assert_eq!(w.pop_due(1), Some(vec![(1, k(2)), (3, k(3))]));
        assert_eq!(w.len(), 1);
        // Epoch 2's bucket is not due before epoch 2.
        assert_eq!(w.pop_due(2), None);
        w.queue(s, k(4));
        w.retain(|e| e.1 != k(4));
        assert_eq!(w.len(), 1);
        assert_eq!(w.pop_due(3), Some(vec![(2 * s + 1, k(1))]));
        assert!(w.is_empty());
    }
}
