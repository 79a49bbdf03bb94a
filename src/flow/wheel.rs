//! A shard's expiry wheel: when each connection may next be dead, bucketed
//! by sweep epoch (capture clock / [`SWEEP_EVERY_NS`]). One live entry per
//! connection (its `Conn::queued_at`); entries left behind by a connection
//! that was requeued, replaced or evicted are stale, skipped by the table's
//! sweep and dropped by [`Wheel::retain`]. The wheel knows keys and times
//! only, and whether an entry was queued while its connection was young
//! (new, and not dead before [`super::table`]'s idle look); which entry is
//! live is the table's to say.

use super::attempt::Key4;
use super::key::FlowKey;
use std::collections::BTreeMap;

/// How often (capture time, ns) a shard sweeps its table for dead connections.
pub const SWEEP_EVERY_NS: u64 = 5 * 1_000_000_000;

/// Emptied buckets kept for reuse, and their capacity.
const SPARE_BUCKETS: usize = 2;
const SPARE_CAPACITY: usize = 512;

/// An expiry wheel entry: (time, key).
pub type Entry = (u64, FlowKey);

/// One epoch's entries: those of IPv4 keys in 24 bytes (`Key4`), the
/// others in 56 (a busy shard's wheel holds hundreds of thousands: 12 MB
/// of a 20M-packet gateway run, 7 MB less so); which IPv4 entries are
/// young in a bit each (a vector of young entries apart, each growing by
/// doubling, took 10 MB more at the peak of 20M at -j2). A young IPv6
/// entry is kept as any other: it is only looked up more.
#[derive(Debug, Default, PartialEq)]
pub struct Bucket {
    v4: Vec<(u64, Key4)>,
    /// Bit `i % 64` of word `i / 64`: `v4[i]` is young.
    young: Vec<u64>,
    other: Vec<Entry>,
}

/// Appends bit `y` for entry `i` (the next) to `bits`.
fn push_bit(bits: &mut Vec<u64>, i: usize, y: bool) {
    if i.is_multiple_of(64) {
        bits.push(0);
    }
    if let Some(w) = bits.last_mut() {
        *w |= u64::from(y) << (i % 64);
    }
}

fn bit(bits: &[u64], i: usize) -> bool {
    bits.get(i / 64).is_some_and(|w| w >> (i % 64) & 1 == 1)
}

impl Bucket {
    fn push(&mut self, t: u64, key: FlowKey, young: bool) {
        match Key4::of(&key) {
            Some(k) => {
                push_bit(&mut self.young, self.v4.len(), young);
                self.v4.push((t, k));
            }
            None => self.other.push((t, key)),
        }
    }

    pub fn len(&self) -> usize {
        self.v4.len() + self.other.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The entries, each with whether it was queued young: the IPv4 keys'
    /// in the order they came, then the others' (the table's sweep does
    /// not depend on the order).
    pub fn iter(&self) -> impl Iterator<Item = (u64, FlowKey, bool)> + '_ {
        let v4 = (self.v4.iter().enumerate()).map(|(i, &(t, k))| (t, k.key(), bit(&self.young, i)));
        v4.chain(self.other.iter().map(|&(t, k)| (t, k, false)))
    }

    fn retain(&mut self, live: &mut impl FnMut(&Entry) -> bool) {
        let bits = std::mem::take(&mut self.young);
        let (mut i, mut kept) = (0, 0);
        let young = &mut self.young;
        self.v4.retain(|&(t, k)| {
            let keep = live(&(t, k.key()));
            if keep {
                push_bit(young, kept, bit(&bits, i));
                kept += 1;
            }
            i += 1;
            keep
        });
        self.other.retain(|e| live(e));
    }
}

#[derive(Default)]
pub struct Wheel {
    /// epoch -> [(time, key)].
    buckets: BTreeMap<u64, Bucket>,
    /// Emptied buckets, reused so that sweeping does not free and re-fault
    /// large vectors every epoch.
    spare: Vec<Bucket>,
    /// Entries, stale ones included.
    len: usize,
}

impl Wheel {
    /// Queues `key` to be looked at once the clock passes `t`; `young`:
    /// its connection is new and in the live table, where it stays until
    /// it closes (and is queued again) or the entry comes due.
    pub fn queue(&mut self, t: u64, key: FlowKey, young: bool) {
        let spare = &mut self.spare;
        self.buckets
            .entry(t / SWEEP_EVERY_NS)
            .or_insert_with(|| spare.pop().unwrap_or_default())
            .push(t, key, young);
        self.len += 1;
    }

    /// Removes and returns the first bucket whose epoch is below `epoch`
    /// (every entry due before that epoch's start is in one); hand it back
    /// with [`Wheel::recycle`] once read.
    pub fn pop_due(&mut self, epoch: u64) -> Option<Bucket> {
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
    pub fn recycle(&mut self, mut due: Bucket) {
        if self.spare.len() < SPARE_BUCKETS {
            due.v4.clear();
            due.v4.shrink_to(SPARE_CAPACITY);
            due.young.clear();
            due.young.shrink_to(SPARE_CAPACITY / 64);
            due.other.clear();
            due.other.shrink_to(SPARE_CAPACITY / 8);
            self.spare.push(due);
        }
    }

    /// Keeps only the entries `live` accepts.
    pub fn retain(&mut self, mut live: impl FnMut(&Entry) -> bool) {
        for v in self.buckets.values_mut() {
            v.retain(&mut live);
        }
        self.buckets.retain(|_, v| !v.is_empty());
        self.len = self.buckets.values().map(Bucket::len).sum();
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
        w.queue(2 * s + 1, k(1), false);
        w.queue(1, k(2), false);
        w.queue(3, k(3), false);
        assert_eq!(w.len(), 3);
        // Nothing is due before epoch 0.
        assert_eq!(w.pop_due(0), None);
        let entries = |b: Option<Bucket>| b.map(|b| b.iter().collect::<Vec<_>>());
        assert_eq!(
            entries(w.pop_due(1)),
            Some(vec![(1, k(2), false), (3, k(3), false)])
        );
        assert_eq!(w.len(), 1);
        // Epoch 2's bucket is not due before epoch 2.
        assert_eq!(w.pop_due(2), None);
        w.queue(s, k(4), true);
        w.retain(|e| e.1 != k(4));
        assert_eq!(w.len(), 1);
        assert_eq!(entries(w.pop_due(3)), Some(vec![(2 * s + 1, k(1), false)]));
        assert!(w.is_empty());
        // IPv6 keys beside IPv4 ones: each comes back whole; a young IPv4
        // entry says so, a young IPv6 one is kept as any other.
        let k6 = FlowKey::of(&Segment::between("2001:db8::1", 5, "2001:db8::2", 80)).0;
        w.queue(7, k6, true);
        w.queue(8, k(5), false);
        w.queue(9, k6, false);
        w.queue(6, k(6), true);
        assert_eq!(
            entries(w.pop_due(1)),
            Some(vec![
                (8, k(5), false),
                (6, k(6), true),
                (7, k6, false),
                (9, k6, false)
            ])
        );
    }

    #[test]
    fn young_flags_stay_with_their_entries_through_a_retain() {
        let k = |p: u16| FlowKey::of(&Segment::between("10.0.0.1", p, "10.0.0.2", 80)).0;
        let mut w = Wheel::default();
        // Past two words of flags; every third entry young.
        for p in 0..150u16 {
            w.queue(u64::from(p), k(p), p % 3 == 0);
        }
        // Drop every fifth: the flags of the others shift with them.
        w.retain(|e| e.0 % 5 != 0);
        let due = w.pop_due(1).map(|b| b.iter().collect::<Vec<_>>());
        let want: Vec<_> = (0..150u16)
            .filter(|p| p % 5 != 0)
            .map(|p| (u64::from(p), k(p), p % 3 == 0))
            .collect();
        assert_eq!(due, Some(want));
    }
}
