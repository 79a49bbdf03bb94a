//! Canonical flow keys and directions.
//!
//! A key orders its two endpoints (lower address/port first) so both
//! directions of a connection map to one key; [`Dir`] says which endpoint
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

/// Index of an endpoint in a [`FlowKey`]: 0 is `a`, 1 is `b`.
pub type Side = usize;

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
                0,
            )
        } else {
            (
                FlowKey {
                    a: d,
                    b: s,
                    vlan: seg.vlan,
                },
                1,
            )
        }
    }

    pub fn endpoint(&self, side: Side) -> Endpoint {
        if side == 0 { self.a } else { self.b }
    }
}

fn endpoint_hash(ep: Endpoint) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    ep.hash(&mut h);
    h.finish()
}

/// A hash equal for both directions of a flow.
pub fn symmetric_hash(seg: &Segment) -> u64 {
    let x = endpoint_hash((seg.src, seg.sport)) ^ endpoint_hash((seg.dst, seg.dport));
    // Finalise (splitmix64) so that shard = hash % n uses every bit.
    let mut z = x ^ u64::from(seg.vlan).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// An IPv4 or IPv6 prefix, as given to `--local`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let m = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & m == u32::from(a) & m
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let m = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & m == u128::from(a) & m
            }
            _ => false,
        }
    }
}

impl std::str::FromStr for Cidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Cidr, String> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a
            .trim()
            .parse()
            .map_err(|_| format!("`{s}`: not an IP address or CIDR prefix"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|v| *v <= max)
                .ok_or_else(|| format!("`{s}`: prefix length must be 0..={max}"))?,
            None => max,
        };
        Ok(Cidr { addr, prefix })
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
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

    #[test]
    fn cidr() {
        let c: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(c.contains("10.1.2.3".parse().unwrap()));
        assert!(!c.contains("11.0.0.1".parse().unwrap()));
        let c6: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(c6.contains("2001:db8::1".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("nonsense".parse::<Cidr>().is_err());
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("1.2.3.4".parse().unwrap()));
    }
}
