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
///
/// Packed for the table: each address as four big-endian 32-bit words
/// (IPv4 in the last, the others zero), the ports in one word and which
/// endpoints are IPv6 in a byte. Equality and hashing read words, not
/// `IpAddr` enums (an IPv4 key hashes as two 64-bit words); the order is
/// the one of `((IpAddr, u16), (IpAddr, u16), u32)`: IPv4 before IPv6,
/// then the address, the port, the second endpoint, the VLAN ids.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct FlowKey {
    a: [u32; 4],
    b: [u32; 4],
    /// a's port in the high half, b's in the low.
    ports: u32,
    pub vlan: u32,
    /// Bit 0: `a` is IPv6; bit 1: `b` is.
    v6: u8,
}

/// An address as (is IPv6, big-endian words).
#[inline]
fn words(ip: IpAddr) -> (bool, [u32; 4]) {
    match ip {
        IpAddr::V4(a) => (false, [0, 0, 0, u32::from(a)]),
        IpAddr::V6(a) => {
            let x = u128::from(a);
            (
                true,
                [
                    (x >> 96) as u32,
                    (x >> 64) as u32,
                    (x >> 32) as u32,
                    x as u32,
                ],
            )
        }
    }
}

/// An endpoint as (is IPv6, address words, port): ordered as the
/// endpoint is (IPv4 first, then address, then port).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Packed(bool, [u32; 4], u16);

impl Packed {
    #[inline]
    fn of(e: Endpoint) -> Packed {
        let (v6, w) = words(e.0);
        Packed(v6, w, e.1)
    }
}

/// The address of [`words`]' output.
#[inline]
fn addr(v6: bool, w: [u32; 4]) -> IpAddr {
    if v6 {
        let x = (u128::from(w[0]) << 96)
            | (u128::from(w[1]) << 64)
            | (u128::from(w[2]) << 32)
            | u128::from(w[3]);
        IpAddr::V6(x.into())
    } else {
        IpAddr::V4(w[3].into())
    }
}

impl Hash for FlowKey {
    #[inline]
    fn hash<H: Hasher>(&self, h: &mut H) {
        let pair = |x: u32, y: u32| (u64::from(x) << 32) | u64::from(y);
        if self.v6 == 0 {
            // The other address words are zero.
            h.write_u64(pair(self.a[3], self.b[3]));
        } else {
            for i in 0..4 {
                h.write_u64(pair(self.a[i], self.b[i]));
            }
            h.write_u8(self.v6);
        }
        h.write_u64(pair(self.ports, self.vlan));
    }
}

impl Ord for FlowKey {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        let (x, y) = (self.v6, o.v6);
        (
            x & 1,
            self.a,
            self.ports >> 16,
            x & 2,
            self.b,
            self.ports & 0xffff,
            self.vlan,
        )
            .cmp(&(
                y & 1,
                o.a,
                o.ports >> 16,
                y & 2,
                o.b,
                o.ports & 0xffff,
                o.vlan,
            ))
    }
}

impl PartialOrd for FlowKey {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

impl std::fmt::Debug for FlowKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowKey")
            .field("a", &self.a())
            .field("b", &self.b())
            .field("vlan", &self.vlan)
            .finish()
    }
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
    /// The key of endpoints `a` and `b` in that order (`a` should be the
    /// lower; [`FlowKey::ordered`] orders them).
    pub fn new(a: Endpoint, b: Endpoint, vlan: u32) -> FlowKey {
        FlowKey::packed(Packed::of(a), Packed::of(b), vlan)
    }

    /// The key of endpoints already in [`words`] form, `a` first.
    #[inline]
    fn packed(a: Packed, b: Packed, vlan: u32) -> FlowKey {
        FlowKey {
            a: a.1,
            b: b.1,
            ports: (u32::from(a.2) << 16) | u32::from(b.2),
            vlan,
            v6: u8::from(a.0) | (u8::from(b.0) << 1),
        }
    }

    /// The key of a connection between `x` and `y`, and the side `x` is.
    #[inline]
    pub fn ordered(x: Endpoint, y: Endpoint, vlan: u32) -> (FlowKey, Side) {
        let (x, y) = (Packed::of(x), Packed::of(y));
        let x_first = if !x.0 && !y.0 {
            // Both IPv4: the address and port in one word each.
            (u64::from(x.1[3]) << 16 | u64::from(x.2)) <= (u64::from(y.1[3]) << 16 | u64::from(y.2))
        } else {
            x <= y
        };
        if x_first {
            (FlowKey::packed(x, y, vlan), Side::A)
        } else {
            (FlowKey::packed(y, x, vlan), Side::B)
        }
    }

    /// The key of a segment and the side that sent it.
    #[inline]
    pub fn of(seg: &Segment) -> (FlowKey, Side) {
        FlowKey::ordered((seg.src, seg.sport), (seg.dst, seg.dport), seg.vlan)
    }

    /// The lower endpoint.
    pub fn a(&self) -> Endpoint {
        (addr(self.v6 & 1 != 0, self.a), (self.ports >> 16) as u16)
    }

    /// The higher endpoint.
    pub fn b(&self) -> Endpoint {
        (addr(self.v6 & 2 != 0, self.b), self.ports as u16)
    }

    /// Both addresses as IPv4 (a's, b's), when they are.
    pub fn v4(&self) -> Option<(u32, u32)> {
        (self.v6 == 0).then_some((self.a[3], self.b[3]))
    }

    /// The ports (a's, b's).
    pub fn ports(&self) -> (u16, u16) {
        ((self.ports >> 16) as u16, self.ports as u16)
    }

    pub fn endpoint(&self, side: Side) -> Endpoint {
        match side {
            Side::A => self.a(),
            Side::B => self.b(),
        }
    }
}

/// One endpoint's part of [`symmetric_hash_of`]: its address words and
/// port, an IPv4 endpoint in one hash round.
#[inline]
fn endpoint_hash(ep: Endpoint) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    let (v6, w) = words(ep.0);
    if v6 {
        h.write_u64((u64::from(w[0]) << 32) | u64::from(w[1]));
        h.write_u64((u64::from(w[2]) << 32) | u64::from(w[3]));
    }
    h.write_u64((u64::from(w[3]) << 16) | u64::from(ep.1));
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

    /// The packed key gives back its endpoints, orders exactly as the
    /// tuple of its endpoints and VLAN ids did (IPv4 before IPv6, then
    /// address, port), and `ordered` puts the lower endpoint first.
    #[test]
    fn packed_keys_order_as_their_endpoints() {
        let ips = [
            "0.0.0.0",
            "10.0.0.1",
            "10.0.0.2",
            "255.255.255.255",
            "::",
            "::10.0.0.1",
            "::ffff:10.0.0.1",
            "2001:db8::1",
            "ffff::ffff",
        ];
        let eps: Vec<Endpoint> = ips
            .iter()
            .flat_map(|ip| [0u16, 80, 65535].map(|p| (ip.parse().unwrap(), p)))
            .collect();
        let keys: Vec<(Endpoint, Endpoint, u32)> = eps
            .iter()
            .flat_map(|x| eps.iter().map(move |y| (*x, *y)))
            .flat_map(|(x, y)| [(x, y, 0), (x, y, 7)])
            .collect();
        for &(x, y, v) in &keys {
            let k = FlowKey::new(x, y, v);
            assert_eq!((k.a(), k.b(), k.vlan), (x, y, v));
            let (o, side) = FlowKey::ordered(x, y, v);
            let (lo, hi) = if x <= y { (x, y) } else { (y, x) };
            assert_eq!((o.a(), o.b()), (lo, hi));
            assert_eq!(o.endpoint(side), x);
            assert_eq!(o, FlowKey::new(lo, hi, v));
        }
        for &(x, y, v) in keys.iter().step_by(7) {
            for &(p, q, w) in keys.iter().step_by(5) {
                let (k, l) = (FlowKey::new(x, y, v), FlowKey::new(p, q, w));
                assert_eq!(k.cmp(&l), (x, y, v).cmp(&(p, q, w)), "{k:?} {l:?}");
                assert_eq!(k == l, (x, y, v) == (p, q, w));
            }
        }
    }
}
