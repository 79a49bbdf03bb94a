//! Route before decode: where a frame's TCP segment is, found by fixed
//! offsets for the common link types (Ethernet with stacked VLAN tags,
//! Linux SLL and SLL2, raw IPv4/IPv6, BSD NULL/LOOP) and plain IPv4 (any
//! header length) or IPv6 (no extension header) carrying TCP.
//!
//! [`route`] reads only what places the frame: the two addresses and ports
//! and the VLAN ids (the flow key), plus the flags and payload length its
//! counters need. [`decode_fast`] builds the whole [`Segment`] from the same
//! offsets. Both answer only when [`super::decode`] gives a segment, and
//! then exactly its fields: every other frame (fragments, tunnels, IPv6
//! extension headers, PPPoE, MPLS, other link types, truncation before the
//! TCP flags) gets `None` and goes through the full decoder. The pipeline
//! routes on the reader's side and decodes on the shard that owns the
//! connection, so no decoded segment crosses threads.

use super::linktype as lt;
use super::seq::SeqNum;
use super::{ETH_IPV4, ETH_IPV6, ETH_QINQ, ETH_QINQ_OLD, ETH_VLAN, MAX_STACK, Segment};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What routes a frame: its flow key's parts, and what its counters read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    /// VLAN ids as [`Segment::vlan`].
    pub vlan: u32,
    /// TCP flags byte.
    pub flags: u8,
    /// Payload bytes by the IP header's length, as [`Segment::payload_len`].
    pub payload_len: u32,
}

impl Route {
    /// The routing fields of a decoded segment.
    pub fn of(s: &Segment) -> Route {
        Route {
            src: s.src,
            dst: s.dst,
            sport: s.sport,
            dport: s.dport,
            vlan: s.vlan,
            flags: s.flags,
            payload_len: s.payload_len,
        }
    }

    /// The segment as the frame counters see it: the routed fields, the
    /// rest zero ([`crate::decode::decode`]'s segment has them all).
    #[cfg(test)]
    pub fn counted(&self) -> Segment {
        Segment {
            ts_ns: 0,
            frame: 0,
            src: self.src,
            dst: self.dst,
            sport: self.sport,
            dport: self.dport,
            vlan: self.vlan,
            seq: SeqNum(0),
            ack: SeqNum(0),
            flags: self.flags,
            payload_len: self.payload_len,
            ttl: 0,
            zero_window: false,
        }
    }
}

/// Where a routable frame's headers are.
#[derive(Clone, Copy)]
struct Loc {
    /// Offset of the IP header.
    ip: usize,
    v6: bool,
    /// Offset of the TCP header.
    tcp: usize,
    /// End of the TCP slice the decoder sees (the IP length, or the frame's
    /// end when it is cut or the length is unusable).
    end: usize,
    /// TCP segment length as the IP header states it.
    claimed: usize,
    vlan: u32,
}

#[inline]
fn be16(d: &[u8], o: usize) -> Option<u16> {
    let b = d.get(o..o + 2)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

#[inline]
fn be32(d: &[u8], o: usize) -> Option<u32> {
    let b = d.get(o..o + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// Offset of the IP header for the common link types, and the VLAN ids.
#[inline(always)]
fn link(link: u16, d: &[u8]) -> Option<(usize, u32)> {
    let (mut et, mut off) = match link {
        lt::ETHERNET => (be16(d, 12)?, 14),
        lt::LINUX_SLL => (be16(d, 14)?, 16),
        lt::LINUX_SLL2 => (be16(d, 0)?, 20),
        lt::RAW | lt::DLT_RAW_12 | lt::DLT_RAW_14 | lt::IPV4 | lt::IPV6 => return Some((0, 0)),
        lt::NULL | lt::LOOP => {
            let b = d.get(0..4)?;
            let le = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            let be = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
            let af = if le <= 0xFFFF { le } else { be };
            return matches!(af, 2 | 10 | 24 | 28 | 30).then_some((4, 0));
        }
        _ => return None,
    };
    let mut vlan = 0u32;
    for _ in 0..MAX_STACK {
        match et {
            ETH_IPV4 | ETH_IPV6 => return (off <= d.len()).then_some((off, vlan)),
            ETH_VLAN | ETH_QINQ | ETH_QINQ_OLD => {
                let tci = be16(d, off)?;
                vlan = (vlan << 12) | u32::from(tci & 0x0FFF);
                et = be16(d, off + 2)?;
                off += 4;
            }
            _ => return None,
        }
    }
    None
}

/// The headers of a frame [`super::decode`] makes a segment of by the
/// plain path (no tunnel, fragment or extension header), or `None`.
#[inline(always)]
fn locate(link_type: u16, d: &[u8]) -> Option<Loc> {
    let (ip, vlan) = link(link_type, d)?;
    let p = d.get(ip..)?;
    let first = *p.first()?;
    let (v6, hl, end, claimed) = match first >> 4 {
        4 => {
            let hl = usize::from(first & 0x0f) * 4;
            // Protocol TCP, fragment offset 0 (more-fragments may be set:
            // a first fragment has the TCP header).
            if hl < 20 || p.len() < hl || p[9] != 6 || be16(p, 6)? & 0x1fff != 0 {
                return None;
            }
            let total = usize::from(be16(p, 2)?);
            if total < hl {
                (false, hl, p.len(), p.len() - hl)
            } else if p.len() < total {
                (false, hl, p.len(), total - hl)
            } else {
                (false, hl, total, total - hl)
            }
        }
        6 => {
            // Next header TCP: no extension header.
            if p.len() < 40 || p[6] != 6 {
                return None;
            }
            let plen = usize::from(be16(p, 4)?);
            let avail = p.len() - 40;
            if plen == 0 && avail > 0 {
                (true, 40, p.len(), avail)
            } else if avail < plen {
                (true, 40, p.len(), plen)
            } else {
                (true, 40, 40 + plen, plen)
            }
        }
        _ => return None,
    };
    // A TCP header to its flags with a data offset of at least 5 words.
    let t = p.get(hl..end)?;
    if t.len() < 14 || t[12] >> 4 < 5 {
        return None;
    }
    Some(Loc {
        ip,
        v6,
        tcp: ip + hl,
        end: ip + end,
        claimed,
        vlan,
    })
}

#[inline]
fn addrs(d: &[u8], l: &Loc) -> Option<(IpAddr, IpAddr)> {
    if l.v6 {
        let s: [u8; 16] = d.get(l.ip + 8..l.ip + 24)?.try_into().ok()?;
        let t: [u8; 16] = d.get(l.ip + 24..l.ip + 40)?.try_into().ok()?;
        Some((Ipv6Addr::from(s).into(), Ipv6Addr::from(t).into()))
    } else {
        let s = be32(d, l.ip + 12)?;
        let t = be32(d, l.ip + 16)?;
        Some((Ipv4Addr::from(s).into(), Ipv4Addr::from(t).into()))
    }
}

/// The payload length [`super::decode`] gives: the stated TCP length less
/// the header's.
#[inline]
fn payload_len(d: &[u8], l: &Loc) -> u32 {
    let doff = usize::from(d[l.tcp + 12] >> 4) * 4;
    l.claimed.saturating_sub(doff) as u32
}

/// The flow key, flags and payload length of a frame of link type `link`,
/// when [`super::decode`] makes a segment of it by the plain path; `None`
/// for every other frame (which may still be a segment: decode it).
#[inline]
pub fn route(link: u16, d: &[u8]) -> Option<Route> {
    let l = locate(link, d)?;
    let (src, dst) = addrs(d, &l)?;
    let t = l.tcp;
    Some(Route {
        src,
        dst,
        sport: be16(d, t)?,
        dport: be16(d, t + 2)?,
        vlan: l.vlan,
        flags: d[t + 13],
        payload_len: payload_len(d, &l),
    })
}

/// [`super::decode`]'s segment of a frame it decodes by the plain path,
/// built from fixed offsets; `None` for every other frame.
#[inline(always)]
pub fn decode_fast(link: u16, d: &[u8], ts_ns: u64, frame: u64) -> Option<Segment> {
    let l = locate(link, d)?;
    let (src, dst) = addrs(d, &l)?;
    let t = l.tcp;
    let tcp = d.get(t..l.end)?;
    Some(Segment {
        ts_ns,
        frame,
        src,
        dst,
        sport: be16(tcp, 0)?,
        dport: be16(tcp, 2)?,
        vlan: l.vlan,
        seq: SeqNum(be32(tcp, 4)?),
        ack: SeqNum(be32(tcp, 8)?),
        flags: tcp[13],
        payload_len: payload_len(d, &l),
        ttl: if l.v6 { d[l.ip + 7] } else { d[l.ip + 8] },
        zero_window: be16(tcp, 14) == Some(0),
    })
}

/// [`super::decode`], by the plain path when it applies.
#[inline]
pub fn decode(link: u16, d: &[u8], ts_ns: u64, frame: u64) -> Result<Segment, super::Skip> {
    match decode_fast(link, d, ts_ns, frame) {
        Some(s) => Ok(s),
        None => super::decode(link, d, ts_ns, frame),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{Skip, flags};

    /// Agreement with the full decoder on one frame: a route only where
    /// it makes a segment, with its fields; the fast segment equal to its.
    fn agree(link: u16, f: &[u8]) -> bool {
        let full = super::super::decode(link, f, 5, 9);
        let r = route(link, f);
        let fast = decode_fast(link, f, 5, 9);
        assert_eq!(r.is_some(), fast.is_some(), "{f:02x?}");
        if let Some(r) = r {
            let s = full.unwrap_or_else(|e| panic!("routed but {e:?}: {f:02x?}"));
            assert_eq!(fast, Some(s), "{f:02x?}");
            assert_eq!(Route::of(&r.counted()), Route::of(&s));
        }
        assert_eq!(decode(link, f, 5, 9), full);
        r.is_some()
    }

    fn ipv4_tcp(ihl: u8, total: u16, frag: u16, payload: usize) -> Vec<u8> {
        let hl = usize::from(ihl) * 4;
        let mut v = vec![0u8; hl];
        v[0] = 0x40 | ihl;
        v[2..4].copy_from_slice(&total.to_be_bytes());
        v[6..8].copy_from_slice(&frag.to_be_bytes());
        v[8] = 61;
        v[9] = 6;
        v[12..16].copy_from_slice(&[10, 0, 0, 1]);
        v[16..20].copy_from_slice(&[10, 0, 0, 2]);
        let mut t = vec![0x9c, 0x40, 0, 80, 0, 0, 3, 232, 0, 0, 7, 208, 0x50];
        t.extend_from_slice(&[flags::FIN | flags::ACK, 0, 0, 0, 0, 0, 0]);
        t.extend(std::iter::repeat_n(0xAA, payload));
        v.extend_from_slice(&t);
        v
    }

    #[test]
    fn ipv4_lengths_as_the_decoder() {
        // Exact, padded (Ethernet trailer), cut by a snaplen, length 0.
        let exact = ipv4_tcp(5, 45, 0, 5);
        assert!(agree(lt::RAW, &exact));
        let r = route(lt::RAW, &exact).unwrap();
        assert_eq!(
            (r.sport, r.dport, r.payload_len, r.flags),
            (40000, 80, 5, 0x11)
        );
        let mut padded = exact.clone();
        padded.extend_from_slice(&[0; 6]);
        assert_eq!(route(lt::RAW, &padded).unwrap().payload_len, 5);
        let cut = ipv4_tcp(5, 1500, 0, 5);
        assert_eq!(route(lt::RAW, &cut).unwrap().payload_len, 1460);
        assert!(agree(lt::RAW, &cut));
        let zero = ipv4_tcp(5, 0, 0, 7);
        assert_eq!(route(lt::RAW, &zero).unwrap().payload_len, 7);
        assert!(agree(lt::RAW, &zero));
        // Options; a first fragment (MF) routes, a later one does not.
        assert!(agree(lt::RAW, &ipv4_tcp(6, 49, 0, 5)));
        assert!(agree(lt::RAW, &ipv4_tcp(5, 45, 0x2000, 5)));
        let later = ipv4_tcp(5, 45, 0x0001, 5);
        assert!(!agree(lt::RAW, &later));
        assert_eq!(
            super::super::decode(lt::RAW, &later, 0, 1),
            Err(Skip::IpFragment)
        );
        // Cut inside the TCP header: before its flags, not routed.
        for n in 0..exact.len() {
            assert_eq!(agree(lt::RAW, &exact[..n]), n >= 20 + 14, "len {n}");
        }
        // Data offset below 5.
        let mut bad = exact.clone();
        bad[32] = 0x40;
        assert!(!agree(lt::RAW, &bad));
    }

    #[test]
    fn link_types_and_vlans() {
        let ip = ipv4_tcp(5, 45, 0, 5);
        // Ethernet with two tags.
        let mut eth = vec![0u8; 12];
        eth.extend_from_slice(&[0x88, 0xa8, 0x00, 0x0a, 0x81, 0x00, 0x00, 0x14, 0x08, 0x00]);
        eth.extend_from_slice(&ip);
        assert!(agree(lt::ETHERNET, &eth));
        assert_eq!(route(lt::ETHERNET, &eth).unwrap().vlan, (10 << 12) | 20);
        // SLL, SLL2, NULL in both byte orders.
        let mut sll = vec![0u8; 14];
        sll.extend_from_slice(&[0x08, 0x00]);
        sll.extend_from_slice(&ip);
        assert!(agree(lt::LINUX_SLL, &sll));
        let mut sll2 = vec![0x08, 0x00];
        sll2.extend_from_slice(&[0; 18]);
        sll2.extend_from_slice(&ip);
        assert!(agree(lt::LINUX_SLL2, &sll2));
        for af in [2u32.to_le_bytes(), 2u32.to_be_bytes()] {
            let mut null = af.to_vec();
            null.extend_from_slice(&ip);
            assert!(agree(lt::NULL, &null));
        }
        // PPPoE and other link types go to the full decoder.
        let mut pppoe = vec![0u8; 12];
        pppoe.extend_from_slice(&[0x88, 0x64, 0x11, 0, 0, 1, 0, 47, 0x00, 0x21]);
        pppoe.extend_from_slice(&ip);
        assert!(!agree(lt::ETHERNET, &pppoe));
        assert!(super::super::decode(lt::ETHERNET, &pppoe, 0, 1).is_ok());
        assert!(!agree(lt::C_HDLC, &ip));
    }

    #[test]
    fn ipv6_plain_only() {
        let mut v6 = vec![0x60, 0, 0, 0, 0, 25, 6, 64];
        v6.extend((1..=32).map(|i| i as u8));
        v6.extend_from_slice(&ipv4_tcp(5, 45, 0, 5)[20..]);
        assert!(agree(lt::RAW, &v6));
        assert_eq!(route(lt::RAW, &v6).unwrap().payload_len, 5);
        // Payload length 0 (jumbogram or TSO), or cut.
        let mut zero = v6.clone();
        zero[4..6].copy_from_slice(&[0, 0]);
        assert!(agree(lt::RAW, &zero));
        let mut long = v6.clone();
        long[4..6].copy_from_slice(&1000u16.to_be_bytes());
        assert_eq!(route(lt::RAW, &long).unwrap().payload_len, 980);
        assert!(agree(lt::RAW, &long));
        // An extension header (hop-by-hop) goes to the full decoder.
        let mut hbh = v6.clone();
        hbh[6] = 0;
        hbh.splice(40..40, [6, 0, 1, 4, 0, 0, 0, 0]);
        hbh[5] += 8;
        assert!(!agree(lt::RAW, &hbh));
        assert!(super::super::decode(lt::RAW, &hbh, 0, 1).is_ok());
    }

    /// Random damage to valid frames never makes the router disagree with
    /// the decoder (xorshift, fixed seed: the same frames every run).
    #[test]
    fn damaged_frames_agree() {
        let mut eth = vec![0u8; 12];
        eth.extend_from_slice(&[0x81, 0x00, 0x00, 0x0a, 0x08, 0x00]);
        eth.extend_from_slice(&ipv4_tcp(6, 49, 0, 9));
        let mut v6 = vec![0u8; 12];
        v6.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0, 0, 29, 6, 64]);
        v6.extend((1..=32).map(|i| i as u8));
        v6.extend_from_slice(&ipv4_tcp(5, 49, 0, 9)[20..]);
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let (mut routed, mut refused) = (0, 0);
        let bases = [
            (lt::ETHERNET, eth.clone()),
            (lt::ETHERNET, v6.clone()),
            (lt::RAW, eth[18..].to_vec()),
            (lt::RAW, v6[14..].to_vec()),
        ];
        for (link, base) in &bases {
            for _ in 0..10_000 {
                let mut f = base.clone();
                // Damage in the headers (the first 80 bytes), then a cut.
                for _ in 0..1 + next() % 3 {
                    let i = (next() % f.len().min(80) as u64) as usize;
                    f[i] = next() as u8;
                }
                let cut = (next() % 24) as usize;
                f.truncate(f.len().saturating_sub(cut.saturating_sub(8)));
                if agree(*link, &f) {
                    routed += 1;
                } else {
                    refused += 1;
                }
            }
        }
        // Both outcomes are exercised.
        assert!(routed > 20_000 && refused > 3_000, "{routed} {refused}");
    }
}
