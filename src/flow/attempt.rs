//! Connection attempts: keys on which only a SYN has been seen, kept small
//! (scans and SYN floods are millions of them).

use super::conn::{Conn, Timers};
use super::key::{FlowKey, Side};
use crate::decode::Segment;
use rustc_hash::FxHashMap;
use std::collections::hash_map::{Entry, VacantEntry};
use std::net::IpAddr;

/// A connection attempt: a key on which only one SYN (no ACK, FIN or RST)
/// has been seen. Scans and SYN floods are millions of these; each costs
/// this small entry instead of a [`Conn`] until a second segment proves it
/// a connection. It keeps every field of its segment but the addresses
/// (the key's), so [`Attempt::replay`] rebuilds exactly the connection
/// the segment would have started.
#[derive(Clone, Copy, Debug)]
pub struct Attempt {
    pub ts_ns: u64,
    frame: u64,
    seq: u32,
    ack: u32,
    payload_len: u32,
    flags: u8,
    /// The SYN came from the key's side B.
    from_b: bool,
}

impl Attempt {
    /// Whether `seg` may start an attempt: a SYN alone.
    pub fn starts(seg: &Segment) -> bool {
        use crate::decode::flags::{ACK, FIN, RST, SYN};
        seg.has(SYN) && !seg.has(ACK | FIN | RST)
    }

    pub fn new(seg: &Segment, side: Side) -> Attempt {
        Attempt {
            ts_ns: seg.ts_ns,
            frame: seg.frame,
            seq: seg.seq.0,
            ack: seg.ack.0,
            payload_len: seg.payload_len,
            flags: seg.flags,
            from_b: side == Side::B,
        }
    }

    /// The time after which the attempt is over (its idle timeout).
    pub fn dead_at(&self, idle: u64) -> u64 {
        self.ts_ns.saturating_add(idle)
    }

    /// The connection its SYN started, as if it had been tracked whole.
    pub fn replay(&self, key: FlowKey, timers: &Timers) -> Conn {
        let side = if self.from_b { Side::B } else { Side::A };
        let (src, dst) = (key.endpoint(side), key.endpoint(side.other()));
        let seg = Segment {
            ts_ns: self.ts_ns,
            frame: self.frame,
            src: src.0,
            dst: dst.0,
            sport: src.1,
            dport: dst.1,
            vlan: key.vlan,
            seq: crate::decode::seq::SeqNum(self.seq),
            ack: crate::decode::seq::SeqNum(self.ack),
            flags: self.flags,
            payload_len: self.payload_len,
            ttl: 0,
            zero_window: false,
        };
        let mut c = Conn::new(key, &seg);
        c.step(&seg, side, timers);
        c
    }
}

/// An IPv4 flow key in 16 bytes, against a [`FlowKey`]'s 44: the attempts
/// of a flood are nearly all IPv4, and a hash table's slots are mostly
/// keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Key4 {
    a: u32,
    b: u32,
    ports: u32,
    vlan: u32,
}

impl std::hash::Hash for Key4 {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        h.write_u64((u64::from(self.a) << 32) | u64::from(self.b));
        h.write_u64((u64::from(self.ports) << 32) | u64::from(self.vlan));
    }
}

impl Key4 {
    #[inline]
    pub(super) fn of(k: &FlowKey) -> Option<Key4> {
        let (a, b) = k.v4()?;
        let (pa, pb) = k.ports();
        Some(Key4 {
            a,
            b,
            ports: (u32::from(pa) << 16) | u32::from(pb),
            vlan: k.vlan,
        })
    }

    pub(super) fn key(&self) -> FlowKey {
        FlowKey::new(
            (IpAddr::V4(self.a.into()), (self.ports >> 16) as u16),
            (IpAddr::V4(self.b.into()), self.ports as u16),
            self.vlan,
        )
    }
}

/// A map from flow keys, IPv4 ones stored in 16 bytes: the attempts and
/// the compact store of a busy shard hold hundreds of thousands of keys,
/// and the live table's slots are looked up by every segment (a 24-byte
/// slot against 56: more of the table stays in cache).
#[derive(Debug)]
pub struct KeyMap<V> {
    v4: FxHashMap<Key4, V>,
    other: FxHashMap<FlowKey, V>,
}

impl<V> Default for KeyMap<V> {
    fn default() -> Self {
        KeyMap {
            v4: FxHashMap::default(),
            other: FxHashMap::default(),
        }
    }
}

impl<V> KeyMap<V> {
    pub fn len(&self) -> usize {
        self.v4.len() + self.other.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn insert(&mut self, k: FlowKey, v: V) {
        match Key4::of(&k) {
            Some(k4) => self.v4.insert(k4, v),
            None => self.other.insert(k, v),
        };
    }

    pub fn remove(&mut self, k: &FlowKey) -> Option<V> {
        if self.is_empty() {
            return None;
        }
        match Key4::of(k) {
            Some(k4) => self.v4.remove(&k4),
            None => self.other.remove(k),
        }
    }

    pub fn get(&self, k: &FlowKey) -> Option<&V> {
        match Key4::of(k) {
            Some(k4) => self.v4.get(&k4),
            None => self.other.get(k),
        }
    }

    pub fn get_mut(&mut self, k: &FlowKey) -> Option<&mut V> {
        match Key4::of(k) {
            Some(k4) => self.v4.get_mut(&k4),
            None => self.other.get_mut(k),
        }
    }

    /// Every entry, in no order.
    pub fn iter(&self) -> impl Iterator<Item = (FlowKey, &V)> + '_ {
        self.v4
            .iter()
            .map(|(k, v)| (k.key(), v))
            .chain(self.other.iter().map(|(k, v)| (*k, v)))
    }

    /// Every key, in no order.
    pub fn keys(&self) -> impl Iterator<Item = FlowKey> + '_ {
        self.iter().map(|(k, _)| k)
    }

    /// Every value, in no order.
    pub fn values(&self) -> impl Iterator<Item = &V> + '_ {
        self.v4.values().chain(self.other.values())
    }

    /// The value on `k`, or where one goes: the one look-up of a key that
    /// may be absent.
    pub(super) fn entry(&mut self, k: FlowKey) -> Result<&mut V, Vacant<'_, V>> {
        match Key4::of(&k) {
            Some(k4) => match self.v4.entry(k4) {
                Entry::Occupied(o) => Ok(o.into_mut()),
                Entry::Vacant(v) => Err(Vacant::V4(v)),
            },
            None => match self.other.entry(k) {
                Entry::Occupied(o) => Ok(o.into_mut()),
                Entry::Vacant(v) => Err(Vacant::Other(v)),
            },
        }
    }

    /// Removes and returns the entries `pred` picks, in key order.
    pub fn take_if(&mut self, mut pred: impl FnMut(&V) -> bool) -> Vec<(FlowKey, V)> {
        let mut out = Vec::new();
        for (k, v) in self.v4.extract_if(|_, v| pred(v)) {
            out.push((k.key(), v));
        }
        out.extend(self.other.extract_if(|_, v| pred(v)));
        out.sort_unstable_by_key(|(k, _)| *k);
        out
    }

    pub fn shrink_to_fit(&mut self) {
        self.v4.shrink_to_fit();
        self.other.shrink_to_fit();
    }
}

/// Where [`KeyMap::entry`] puts a value for an absent key.
pub(super) enum Vacant<'a, V> {
    V4(VacantEntry<'a, Key4, V>),
    Other(VacantEntry<'a, FlowKey, V>),
}

impl<'a, V> Vacant<'a, V> {
    pub fn insert(self, v: V) -> &'a mut V {
        match self {
            Vacant::V4(e) => e.insert(v),
            Vacant::Other(e) => e.insert(v),
        }
    }
}

/// A shard's attempts.
pub type Attempts = KeyMap<Attempt>;

impl KeyMap<Attempt> {
    /// Removes and returns the attempts dead before `now`, in key order.
    pub fn take_dead(&mut self, now: u64, idle: u64) -> Vec<(FlowKey, Attempt)> {
        self.take_if(|a| a.dead_at(idle) < now)
    }

    /// When each attempt's SYN came, in no order.
    pub fn times(&self) -> impl Iterator<Item = u64> + '_ {
        self.v4.values().chain(self.other.values()).map(|a| a.ts_ns)
    }

    /// Removes and returns the attempts whose SYN came at or before `t`,
    /// in key order.
    pub fn take_idle_since(&mut self, t: u64) -> Vec<(FlowKey, Attempt)> {
        self.take_if(|a| a.ts_ns <= t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_keys_round_trip_and_stay_small() {
        let mut s = Segment::between("10.0.0.1", 40000, "192.0.2.7", 80);
        s.vlan = 5 << 12 | 7;
        let (k, _) = FlowKey::of(&s);
        assert_eq!(Key4::of(&k).map(|k4| k4.key()), Some(k));
        let s6 = Segment::between("2001:db8::1", 40000, "2001:db8::2", 80);
        assert_eq!(Key4::of(&FlowKey::of(&s6).0), None);
        assert_eq!(std::mem::size_of::<(Key4, Attempt)>(), 48);
    }

    #[test]
    fn an_attempt_replays_the_connection_its_syn_started() {
        use crate::decode::flags::SYN;
        const ECE: u8 = 0x40;
        let mut s = Segment::between("192.0.2.7", 80, "10.0.0.1", 40000);
        s.ts_ns = 5_000;
        s.frame = 9;
        s.flags = SYN | ECE;
        s.seq = crate::decode::seq::SeqNum(77);
        s.payload_len = 3;
        let (k, side) = FlowKey::of(&s);
        assert!(Attempt::starts(&s));
        let t = Timers::default();
        let mut direct = Conn::new(k, &s);
        direct.step(&s, side, &t);
        let replayed = Attempt::new(&s, side).replay(k, &t);
        assert_eq!(format!("{replayed:?}"), format!("{direct:?}"));
        let mut att = Attempts::default();
        att.insert(k, Attempt::new(&s, side));
        assert_eq!(att.keys().collect::<Vec<_>>(), vec![k]);
        assert_eq!(att.take_dead(6_000, 1_000).len(), 0);
        assert_eq!(att.take_dead(6_001, 1_000).len(), 1);
        assert!(att.remove(&k).is_none());
    }
}
