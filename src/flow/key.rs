//! Canonical flow keys and directions.
//!
//! A key orders its two endpoints (lower address/port first) so both
//! directions of a connection map to one key; [`Side`] says which endpoint
//! sent a segment. The shard hash is symmetric in the same way, so both
//! directions land in one shard.

use crate::decode::Segment;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;

/// An address and port.
pub type Endpoint = (IpAddr, u16);

/// Both endpoints of a connection (lower first) plus the VLAN ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    pub a: Endpoint,
    pub b: Endpoint,
    pub vlan: u32,
}

/// One endpoint of a [`FlowKey`]: `A` is its lower endpoint `a`, `B` is
/// `b`. Per-endpoint figures live in a [`PerSide`], indexed by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Side {
    A,
    B,
}

impl Side {
    pub const BOTH: [Side; 2] = [Side::A, Side::B];

    /// The other endpoint.
    pub fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }
}

/// One value per endpoint, indexed by [`Side`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PerSide<T>(pub [T; 2]);

impl<T> PerSide<T> {
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.0.iter()
    }

    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, T> {
        self.0.iter_mut()
    }
}

impl<T> std::ops::Index<Side> for PerSide<T> {
    type Output = T;
    fn index(&self, s: Side) -> &T {
        match s {
            Side::A => &self.0[0],
            Side::B => &self.0[1],
        }
    }
}

impl<T> std::ops::IndexMut<Side> for PerSide<T> {
    fn index_mut(&mut self, s: Side) -> &mut T {
        match s {
            Side::A => &mut self.0[0],
            Side::B => &mut self.0[1],
        }
    }
}

impl<'a, T> IntoIterator for &'a PerSide<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<'a, T> IntoIterator for &'a mut PerSide<T> {
    type Item = &'a mut T;
    type IntoIter = std::slice::IterMut<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter_mut()
    }
}

impl FlowKey {
    /// The key of a segment and the side that sent it.
    pub fn of(seg: &Segment) -> (FlowKey, Side) {
        let s = (seg.src, seg.sport);
        let d = (seg.dst, seg.dport);
        if s <= d {
            (
                FlowKey {
                    a: s,
                    b: d,
                    vlan: seg.vlan,
                },
                Side::A,
            )
        } else {
            (
                FlowKey {
                    a: d,
                    b: s,
                    vlan: seg.vlan,
                },
                Side::B,
            )
        }
    }

    pub fn endpoint(&self, side: Side) -> Endpoint {
        match side {
            Side::A => self.a,
            Side::B => self.b,
        }
    }
}

fn endpoint_hash(ep: Endpoint) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    ep.hash(&mut h);
    h.finish()
}

/// A hash equal for both directions of a flow.
pub fn symmetric_hash(seg: &Segment) -> u64 {
    symmetric_hash_of((seg.src, seg.sport), (seg.dst, seg.dport), seg.vlan)
}

/// [`symmetric_hash`] of a segment's endpoints and VLAN ids, for a frame
/// routed before it is decoded (`decode::route`).
#[inline]
pub fn symmetric_hash_of(src: Endpoint, dst: Endpoint, vlan: u32) -> u64 {
    let x = endpoint_hash(src) ^ endpoint_hash(dst);
    // Finalise (splitmix64) so that shard = hash % n uses every bit.
    let mut z = x ^ u64::from(vlan).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(src: &str, sport: u16, dst: &str, dport: u16) -> Segment {
        Segment::between(src, sport, dst, dport)
    }

    #[test]
    fn both_directions_share_key_and_hash() {
        let x = seg("10.0.0.1", 40000, "93.184.216.34", 80);
        let y = seg("93.184.216.34", 80, "10.0.0.1", 40000);
        let (kx, sx) = FlowKey::of(&x);
        let (ky, sy) = FlowKey::of(&y);
        assert_eq!(kx, ky);
        assert_ne!(sx, sy);
        assert_eq!(symmetric_hash(&x), symmetric_hash(&y));
    }
}
