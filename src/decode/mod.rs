//! Packet decoding: link layer -> IP -> TCP, into a small `Copy` [`Segment`].
//!
//! The link layers are tiny and parsed here (Ethernet with stacked 802.1Q /
//! 802.1ad tags, PPPoE sessions, MPLS, Linux SLL and SLL2, raw IP, BSD
//! NULL/LOOP); IPv4 and IPv6 (with extension headers) are sliced with
//! etherparse's lax slicer, so frames cut by a snaplen are used as far as the
//! TCP header is present. Lengths come from the IP header, not the caplen,
//! so a FIN's sequence position is right even in a truncated frame.
//!
//! What is not a TCP segment is counted by [`Skip`] reason, never an error:
//! one bad frame never stops a run. Non-first IP fragments and TCP headers
//! quoted inside ICMP errors are not segments.

use crate::decode::seq::SeqNum;
use etherparse::{IpNumber, Ipv6ExtensionSlice, LaxIpSlice};
use std::net::IpAddr;

pub mod filter;
pub mod linktype;
pub mod net;
pub mod route;
pub mod seq;

/// TCP flag bits (RFC 9293 section 3.1).
pub mod flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
}

/// One decoded TCP segment: everything the flow tracker needs, nothing borrowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Capture timestamp, ns since the epoch.
    pub ts_ns: u64,
    /// 1-based frame number in the capture.
    pub frame: u64,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    /// VLAN ids (outer << 12 | inner), 0 without tags. Part of the flow key.
    pub vlan: u32,
    pub seq: SeqNum,
    pub ack: SeqNum,
    /// TCP flags byte (CWR ECE URG ACK PSH RST SYN FIN).
    pub flags: u8,
    /// Payload bytes by the IP header's length (not the captured length).
    pub payload_len: u32,
    /// IPv4 TTL or IPv6 hop limit (of the innermost IP header): who sent
    /// it, seen from the capture point (a box in between has another).
    pub ttl: u8,
    /// The TCP window field is 0 (a zero-window advertisement whatever
    /// the scale); false when the header is cut before it.
    pub zero_window: bool,
}

impl Segment {
    pub fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }

    /// A segment between two endpoints with every other field zero (tests).
    #[cfg(test)]
    pub fn between(src: &str, sport: u16, dst: &str, dport: u16) -> Segment {
        Segment {
            ts_ns: 0,
            frame: 0,
            src: src.parse().expect("test address"),
            dst: dst.parse().expect("test address"),
            sport,
            dport,
            vlan: 0,
            seq: SeqNum(0),
            ack: SeqNum(0),
            flags: 0,
            payload_len: 0,
            ttl: 0,
            zero_window: false,
        }
    }
}

/// Why a frame did not yield a TCP segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Skip {
    /// Link type finscope does not decode.
    UnknownLinkType,
    /// Frame shorter than its link-layer header.
    LinkTruncated,
    /// Link payload is not IP (ARP, LLC, ...).
    NotIp,
    /// IP header missing, cut off or invalid.
    IpInvalid,
    /// A non-first IP fragment: no TCP header in it.
    IpFragment,
    /// IP payload is another protocol (UDP, ICMP, ...).
    NotTcp,
    /// TCP header cut off before its flags, or with a data offset below 5.
    /// Still counted as a TCP frame (like tshark), but has no usable flags.
    TcpTruncated,
}

impl Skip {
    pub const ALL: [Skip; 7] = [
        Skip::UnknownLinkType,
        Skip::LinkTruncated,
        Skip::NotIp,
        Skip::IpInvalid,
        Skip::IpFragment,
        Skip::NotTcp,
        Skip::TcpTruncated,
    ];

    /// Stable name, used in the JSON report.
    pub fn name(self) -> &'static str {
        match self {
            Skip::UnknownLinkType => "unknown_link_type",
            Skip::LinkTruncated => "link_truncated",
            Skip::NotIp => "not_ip",
            Skip::IpInvalid => "ip_invalid",
            Skip::IpFragment => "ip_fragment",
            Skip::NotTcp => "not_tcp",
            Skip::TcpTruncated => "tcp_truncated",
        }
    }
}

const ETH_IPV4: u16 = 0x0800;
const ETH_IPV6: u16 = 0x86DD;
const ETH_VLAN: u16 = 0x8100;
const ETH_QINQ: u16 = 0x88A8;
const ETH_QINQ_OLD: u16 = 0x9100;
const ETH_PPPOE_SESSION: u16 = 0x8864;
const ETH_MPLS: u16 = 0x8847;
const ETH_MPLS_MC: u16 = 0x8848;
/// Bound on stacked tags / labels: a frame is never walked forever.
const MAX_STACK: usize = 8;

/// Decodes one frame of link type `link`.
pub fn decode(link: u16, data: &[u8], ts_ns: u64, frame: u64) -> Result<Segment, Skip> {
    let mut vlan = 0u32;
    let ip = link_payload(link, data, &mut vlan)?;
    let mut seg = decode_ip_in(ip, 0, &mut vlan)?;
    seg.ts_ns = ts_ns;
    seg.frame = frame;
    seg.vlan = vlan;
    Ok(seg)
}

/// Strips the link layer; returns the IP packet.
fn link_payload<'a>(link: u16, d: &'a [u8], vlan: &mut u32) -> Result<&'a [u8], Skip> {
    use linktype as lt;
    match link {
        lt::ETHERNET => {
            let et = be16(d, 12).ok_or(Skip::LinkTruncated)?;
            ethertype_payload(et, d.get(14..).ok_or(Skip::LinkTruncated)?, vlan)
        }
        lt::LINUX_SLL => {
            let et = be16(d, 14).ok_or(Skip::LinkTruncated)?;
            ethertype_payload(et, d.get(16..).ok_or(Skip::LinkTruncated)?, vlan)
        }
        lt::LINUX_SLL2 => {
            let et = be16(d, 0).ok_or(Skip::LinkTruncated)?;
            ethertype_payload(et, d.get(20..).ok_or(Skip::LinkTruncated)?, vlan)
        }
        lt::RAW | lt::DLT_RAW_12 | lt::DLT_RAW_14 | lt::IPV4 | lt::IPV6 => Ok(d),
        lt::NULL | lt::LOOP => {
            let b = d.get(0..4).ok_or(Skip::LinkTruncated)?;
            // The address family is in the capturing host's byte order (NULL)
            // or network order (LOOP); accept either.
            let le = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            let be = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
            let af = if le <= 0xFFFF { le } else { be };
            match af {
                // AF_INET everywhere; AF_INET6 on Linux, *BSD, FreeBSD, macOS.
                2 | 10 | 24 | 28 | 30 => Ok(&d[4..]),
                _ => Err(Skip::NotIp),
            }
        }
        lt::C_HDLC => {
            // Address, control, then the protocol as an ethertype.
            let et = be16(d, 2).ok_or(Skip::LinkTruncated)?;
            ethertype_payload(et, d.get(4..).ok_or(Skip::LinkTruncated)?, vlan)
        }
        lt::NFLOG => nflog_payload(d),
        _ => Err(Skip::UnknownLinkType),
    }
}

/// NFLOG's packet: after the 4-byte header (address family, version,
/// resource id), type-length-value attributes, each padded to 4 bytes, in
/// the capturing host's byte order; the packet is attribute 9
/// (NFULA_PAYLOAD).
fn nflog_payload(d: &[u8]) -> Result<&[u8], Skip> {
    const NFULA_PAYLOAD: u16 = 9;
    match d.first() {
        Some(2 | 10) => {}
        Some(_) => return Err(Skip::NotIp),
        None => return Err(Skip::LinkTruncated),
    }
    // The byte order that makes the first attribute's length fit.
    let first_le = d.get(4..6).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let le = first_le.is_some_and(|l| l >= 4 && usize::from(l) <= d.len() - 4);
    let rd = |o: usize| -> Option<u16> {
        let b = d.get(o..o + 2)?;
        Some(if le {
            u16::from_le_bytes([b[0], b[1]])
        } else {
            u16::from_be_bytes([b[0], b[1]])
        })
    };
    let mut off = 4;
    // Each attribute is at least 4 bytes: bounded by the frame.
    while off + 4 <= d.len() {
        let len = usize::from(rd(off).ok_or(Skip::LinkTruncated)?);
        let ty = rd(off + 2).ok_or(Skip::LinkTruncated)? & 0x7fff;
        if len < 4 {
            return Err(Skip::LinkTruncated);
        }
        if ty == NFULA_PAYLOAD {
            return d.get(off + 4..off + len).ok_or(Skip::LinkTruncated);
        }
        off += len.div_ceil(4) * 4;
    }
    Err(Skip::NotIp)
}

fn ethertype_payload<'a>(mut et: u16, mut p: &'a [u8], vlan: &mut u32) -> Result<&'a [u8], Skip> {
    for _ in 0..MAX_STACK {
        match et {
            ETH_IPV4 | ETH_IPV6 => return Ok(p),
            ETH_VLAN | ETH_QINQ | ETH_QINQ_OLD => {
                let tci = be16(p, 0).ok_or(Skip::LinkTruncated)?;
                *vlan = (*vlan << 12) | u32::from(tci & 0x0FFF);
                et = be16(p, 2).ok_or(Skip::LinkTruncated)?;
                p = &p[4..];
            }
            ETH_PPPOE_SESSION => {
                // 6-byte PPPoE header, then the PPP protocol field.
                let proto = be16(p, 6).ok_or(Skip::LinkTruncated)?;
                p = &p[8..];
                return match proto {
                    0x0021 | 0x0057 => Ok(p),
                    _ => Err(Skip::NotIp),
                };
            }
            ETH_MPLS | ETH_MPLS_MC => {
                for _ in 0..MAX_STACK {
                    let b = p.get(0..4).ok_or(Skip::LinkTruncated)?;
                    p = &p[4..];
                    if b[2] & 0x01 != 0 {
                        // Bottom of stack: guess IP by its version nibble.
                        return match p.first().map(|v| v >> 4) {
                            Some(4) | Some(6) => Ok(p),
                            _ => Err(Skip::NotIp),
                        };
                    }
                }
                return Err(Skip::NotIp);
            }
            _ => return Err(Skip::NotIp),
        }
    }
    Err(Skip::NotIp)
}

const IPPROTO_IPIP: u8 = 4;
const IPPROTO_IPV6: u8 = 41;
const IPPROTO_GRE: u8 = 47;
const IPPROTO_UDP: u8 = 17;
const UDP_VXLAN: u16 = 4789;
const UDP_GENEVE: u16 = 6081;
const UDP_L2TP: u16 = 1701;
const ETH_TEB: u16 = 0x6558;
const ETH_PPP: u16 = 0x880B;

fn is_non_first_fragment(ip: &LaxIpSlice<'_>) -> bool {
    match ip {
        LaxIpSlice::Ipv4(v4) => v4.header().fragments_offset().value() != 0,
        LaxIpSlice::Ipv6(v6) => v6.extensions().clone().into_iter().any(
            |e| matches!(e, Ipv6ExtensionSlice::Fragment(f) if f.fragment_offset().value() != 0),
        ),
    }
}

/// Opens one tunnel: IP-in-IP (4, 41), GRE (47, including PPTP's enhanced
/// GRE), VXLAN (UDP 4789) and Geneve (UDP 6081).
fn tunnel_payload(proto: u8, p: &[u8], depth: u8, vlan: &mut u32) -> Result<Segment, Skip> {
    match proto {
        IPPROTO_IPIP | IPPROTO_IPV6 => decode_ip_in(p, depth, vlan),
        IPPROTO_GRE => {
            let flags = be16(p, 0).ok_or(Skip::LinkTruncated)?;
            let ethertype = be16(p, 2).ok_or(Skip::LinkTruncated)?;
            let mut off = 4;
            match flags & 0x7 {
                0 => {
                    if flags & 0x4000 != 0 {
                        return Err(Skip::NotTcp); // source routing (RFC 1701): not followed
                    }
                    off += 4 * usize::from(flags & 0x8000 != 0)
                        + 4 * usize::from(flags & 0x2000 != 0)
                        + 4 * usize::from(flags & 0x1000 != 0);
                }
                1 => {
                    // Enhanced GRE (RFC 2637): key always, then sequence and ack.
                    off += 4
                        + 4 * usize::from(flags & 0x1000 != 0)
                        + 4 * usize::from(flags & 0x0080 != 0);
                }
                _ => return Err(Skip::NotTcp),
            }
            let inner = p.get(off..).ok_or(Skip::LinkTruncated)?;
            tunnel_ethertype(ethertype, inner, depth, vlan)
        }
        IPPROTO_UDP => {
            let sport = be16(p, 0).ok_or(Skip::LinkTruncated)?;
            let dport = be16(p, 2).ok_or(Skip::LinkTruncated)?;
            let body = p.get(8..).ok_or(Skip::LinkTruncated)?;
            if dport == UDP_L2TP || sport == UDP_L2TP {
                return l2tp_payload(body, depth, vlan);
            }
            match dport {
                UDP_VXLAN => tunnel_ethertype(
                    ETH_TEB,
                    body.get(8..).ok_or(Skip::LinkTruncated)?,
                    depth,
                    vlan,
                ),
                UDP_GENEVE => {
                    let opts = usize::from(body.first().ok_or(Skip::LinkTruncated)? & 0x3f) * 4;
                    let ethertype = be16(body, 2).ok_or(Skip::LinkTruncated)?;
                    let inner = body.get(8 + opts..).ok_or(Skip::LinkTruncated)?;
                    tunnel_ethertype(ethertype, inner, depth, vlan)
                }
                _ => Err(Skip::NotTcp),
            }
        }
        _ => Err(Skip::NotTcp),
    }
}

/// An L2TPv2 data message (RFC 2661): flags and version, the optional
/// length, tunnel and session ids, the optional Ns/Nr and offset, then a
/// PPP frame. Control messages and other versions carry no TCP.
fn l2tp_payload(p: &[u8], depth: u8, vlan: &mut u32) -> Result<Segment, Skip> {
    let flags = be16(p, 0).ok_or(Skip::LinkTruncated)?;
    if flags & 0x8000 != 0 || flags & 0x000f != 2 {
        return Err(Skip::NotTcp);
    }
    let mut off = 2 + 2 * usize::from(flags & 0x4000 != 0) + 4;
    if flags & 0x0800 != 0 {
        off += 4;
    }
    if flags & 0x0200 != 0 {
        let pad = be16(p, off).ok_or(Skip::LinkTruncated)?;
        off += 2 + usize::from(pad);
    }
    let ppp = p.get(off..).ok_or(Skip::LinkTruncated)?;
    tunnel_ethertype(ETH_PPP, ppp, depth, vlan)
}

/// A tunnel's payload by its ethertype: IP, an Ethernet frame, or PPP.
fn tunnel_ethertype(et: u16, p: &[u8], depth: u8, vlan: &mut u32) -> Result<Segment, Skip> {
    match et {
        ETH_IPV4 | ETH_IPV6 => decode_ip_in(p, depth, vlan),
        ETH_TEB => {
            let ip = link_payload(linktype::ETHERNET, p, vlan)?;
            decode_ip_in(ip, depth, vlan)
        }
        ETH_PPP => {
            // Optional address/control (0xff 0x03), then a 1- or 2-byte protocol.
            let p = p.strip_prefix(&[0xff, 0x03]).unwrap_or(p);
            let (proto, rest) = match p.first() {
                Some(b) if b & 1 == 1 => (u16::from(*b), &p[1..]),
                _ => (
                    be16(p, 0).ok_or(Skip::LinkTruncated)?,
                    p.get(2..).unwrap_or(&[]),
                ),
            };
            match proto {
                0x0021 | 0x0057 => decode_ip_in(rest, depth, vlan),
                _ => Err(Skip::NotTcp),
            }
        }
        _ => Err(Skip::NotTcp),
    }
}

fn be16(d: &[u8], o: usize) -> Option<u16> {
    let b = d.get(o..o + 2)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

fn be32(d: &[u8], o: usize) -> Option<u32> {
    let b = d.get(o..o + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// Decodes an IP packet carrying TCP.
pub fn decode_ip(d: &[u8]) -> Result<Segment, Skip> {
    decode_ip_in(d, 0, &mut 0)
}

/// Tunnels are followed at most this deep.
const MAX_TUNNELS: u8 = 3;

/// Decodes an IP packet carrying TCP, directly or inside IP-in-IP, GRE,
/// VXLAN or Geneve (`depth` tunnels already opened; inner VLAN tags go to
/// `vlan`).
fn decode_ip_in(d: &[u8], depth: u8, vlan: &mut u32) -> Result<Segment, Skip> {
    let (ip, _ext_err) = LaxIpSlice::from_slice(d).map_err(|_| Skip::IpInvalid)?;
    let pl = ip.payload();
    if pl.ip_number != IpNumber::TCP {
        let tunnel = depth < MAX_TUNNELS
            && matches!(
                pl.ip_number.0,
                IPPROTO_IPIP | IPPROTO_IPV6 | IPPROTO_GRE | IPPROTO_UDP
            );
        if !tunnel {
            return Err(Skip::NotTcp);
        }
        if is_non_first_fragment(&ip) {
            return Err(Skip::IpFragment);
        }
        return tunnel_payload(pl.ip_number.0, pl.payload, depth + 1, vlan).map_err(|e| match e {
            // What is inside a tunnel but is not TCP is not TCP, whatever broke.
            Skip::TcpTruncated | Skip::IpFragment => e,
            _ => Skip::NotTcp,
        });
    }
    // Length of the TCP segment as the IP header states it.
    let claimed: usize = match &ip {
        LaxIpSlice::Ipv4(v4) => {
            let h = v4.header();
            if h.fragments_offset().value() != 0 {
                return Err(Skip::IpFragment);
            }
            if pl.incomplete {
                usize::from(h.total_len()).saturating_sub(usize::from(h.ihl()) * 4)
            } else {
                pl.payload.len()
            }
        }
        LaxIpSlice::Ipv6(v6) => {
            for ext in v6.extensions().clone().into_iter() {
                if let Ipv6ExtensionSlice::Fragment(f) = ext
                    && f.fragment_offset().value() != 0
                {
                    return Err(Skip::IpFragment);
                }
            }
            let plen = usize::from(v6.header().payload_length());
            if pl.incomplete && plen != 0 {
                plen.saturating_sub(v6.extensions().slice().len())
            } else {
                pl.payload.len()
            }
        }
    };
    let t = pl.payload;
    if t.is_empty() {
        return Err(Skip::IpInvalid);
    }
    if t.len() < 14 {
        return Err(Skip::TcpTruncated);
    }
    let doff = usize::from(t[12] >> 4) * 4;
    if doff < 20 {
        return Err(Skip::TcpTruncated);
    }
    let (Some(sport), Some(dport), Some(seq), Some(ack)) =
        (be16(t, 0), be16(t, 2), be32(t, 4), be32(t, 8))
    else {
        return Err(Skip::TcpTruncated);
    };
    Ok(Segment {
        ts_ns: 0,
        frame: 0,
        src: ip.source_addr(),
        dst: ip.destination_addr(),
        sport,
        dport,
        vlan: 0,
        seq: SeqNum(seq),
        ack: SeqNum(ack),
        flags: t[13],
        payload_len: claimed.saturating_sub(doff) as u32,
        ttl: match &ip {
            LaxIpSlice::Ipv4(v4) => v4.header().ttl(),
            LaxIpSlice::Ipv6(v6) => v6.header().hop_limit(),
        },
        zero_window: be16(t, 14) == Some(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An IPv4 header (no options) from `src` to `dst` for `proto` around `payload`.
    fn ipv4(proto: u8, src: [u8; 4], dst: [u8; 4], payload: &[u8]) -> Vec<u8> {
        let total = 20 + payload.len();
        let mut v = vec![
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            0,
            0x40,
            0,
            64,
            proto,
            0,
            0,
        ];
        v.extend_from_slice(&src);
        v.extend_from_slice(&dst);
        v.extend_from_slice(payload);
        v
    }

    /// 10.0.0.1:40000 -> 10.0.0.2:80, seq 1000, ack 2000, `payload` bytes.
    fn tcp4(flags: u8, payload: usize) -> Vec<u8> {
        let mut t = vec![0x9c, 0x40, 0, 80];
        t.extend_from_slice(&1000u32.to_be_bytes());
        t.extend_from_slice(&2000u32.to_be_bytes());
        t.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        t.extend(std::iter::repeat_n(0xAA, payload));
        ipv4(6, [10, 0, 0, 1], [10, 0, 0, 2], &t)
    }

    /// The segment crosses the pipeline's channels by value: its size is
    /// watched. The TTL and the zero-window bit (issue 25) took it from 72
    /// to 80 bytes (two 17-byte addresses, then 8-byte alignment).
    #[test]
    fn segment_size() {
        assert_eq!(std::mem::size_of::<Segment>(), 80);
    }

    #[test]
    fn raw_ipv4_fin() {
        let s = decode(linktype::RAW, &tcp4(flags::FIN | flags::ACK, 5), 7, 3).unwrap();
        assert_eq!(s.sport, 40000);
        assert_eq!(s.dport, 80);
        assert_eq!(s.seq, SeqNum(1000));
        assert_eq!(s.payload_len, 5);
        assert_eq!((s.ttl, s.zero_window), (64, false));
        let mut p = tcp4(flags::ACK, 0);
        p[8] = 57; // TTL
        p[20 + 14..20 + 16].copy_from_slice(&[0, 0]); // window 0
        let z = decode(linktype::RAW, &p, 0, 1).unwrap();
        assert_eq!((z.ttl, z.zero_window), (57, true));
        // Cut before the window: not a zero window.
        let cut = decode(linktype::RAW, &p[..20 + 14], 0, 1).unwrap();
        assert!(!cut.zero_window);
        assert!(s.has(flags::FIN) && s.has(flags::ACK) && !s.has(flags::SYN));
        assert_eq!((s.ts_ns, s.frame), (7, 3));
    }

    #[test]
    fn snaplen_cut_keeps_ip_length() {
        let p = tcp4(flags::FIN | flags::ACK, 100);
        let s = decode(linktype::RAW, &p[..54], 0, 1).unwrap();
        assert_eq!(s.payload_len, 100);
    }

    #[test]
    fn vlan_stack_and_ethernet() {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x88, 0xa8, 0x00, 0x0a, 0x81, 0x00, 0x00, 0x14, 0x08, 0x00]);
        f.extend_from_slice(&tcp4(flags::SYN, 0));
        let s = decode(linktype::ETHERNET, &f, 0, 1).unwrap();
        assert_eq!(s.vlan, (10 << 12) | 20);
        assert!(s.has(flags::SYN));
    }

    #[test]
    fn every_truncation_is_a_skip_not_a_panic() {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x81, 0x00, 0x00, 0x0a, 0x08, 0x00]);
        f.extend_from_slice(&tcp4(flags::FIN, 10));
        for n in 0..f.len() {
            let r = decode(linktype::ETHERNET, &f[..n], 0, 1);
            if n >= 18 + 20 + 14 {
                assert!(r.is_ok(), "len {n}: {r:?}");
            } else {
                assert!(r.is_err(), "len {n}");
            }
        }
    }

    /// A tunnel's outer IPv4 header (192.0.2.1 -> 192.0.2.2) around `payload`.
    fn outer4(proto: u8, payload: &[u8]) -> Vec<u8> {
        ipv4(proto, [192, 0, 2, 1], [192, 0, 2, 2], payload)
    }

    #[test]
    fn tunnels_are_opened() {
        let inner = tcp4(flags::FIN | flags::ACK, 3);
        // IP in IP.
        let s = decode(linktype::RAW, &outer4(4, &inner), 0, 1).unwrap();
        assert_eq!((s.sport, s.dport, s.payload_len), (40000, 80, 3));
        assert_eq!(s.src, "10.0.0.1".parse::<IpAddr>().unwrap());
        // GRE v0 with a key.
        let mut gre = vec![0x20, 0x00, 0x08, 0x00, 0, 0, 0, 7];
        gre.extend_from_slice(&inner);
        assert!(
            decode(linktype::RAW, &outer4(47, &gre), 0, 1)
                .unwrap()
                .has(flags::FIN)
        );
        // PPTP's enhanced GRE carrying PPP (address/control, protocol 0x0021).
        let mut pptp = vec![
            0x30, 0x01, 0x88, 0x0b, 0, 0, 0, 1, 0, 0, 0, 9, 0xff, 0x03, 0x00, 0x21,
        ];
        pptp.extend_from_slice(&inner);
        assert!(decode(linktype::RAW, &outer4(47, &pptp), 0, 1).is_ok());
        // ...and PPP LCP is not TCP.
        let lcp = vec![
            0x30, 0x01, 0x88, 0x0b, 0, 0, 0, 1, 0, 0, 0, 9, 0xff, 0x03, 0xc0, 0x21, 1,
        ];
        assert_eq!(
            decode(linktype::RAW, &outer4(47, &lcp), 0, 1),
            Err(Skip::NotTcp)
        );
        // VXLAN: UDP to 4789, 8-byte header, an Ethernet frame with a VLAN tag.
        let mut udp = vec![
            0xc0, 0x00, 0x12, 0xb5, 0, 0, 0, 0, 0x08, 0, 0, 0, 0, 0, 1, 0,
        ];
        udp.extend_from_slice(&[0u8; 12]);
        udp.extend_from_slice(&[0x81, 0x00, 0x00, 0x05, 0x08, 0x00]);
        udp.extend_from_slice(&inner);
        let s = decode(linktype::RAW, &outer4(17, &udp), 0, 1).unwrap();
        assert_eq!(s.vlan, 5);
        // Other UDP is not TCP; a tunnel cut short is not TCP either.
        let mut dns = udp.clone();
        dns[2..4].copy_from_slice(&53u16.to_be_bytes());
        assert_eq!(
            decode(linktype::RAW, &outer4(17, &dns), 0, 1),
            Err(Skip::NotTcp)
        );
        assert_eq!(
            decode(linktype::RAW, &outer4(47, &gre[..6]), 0, 1),
            Err(Skip::NotTcp)
        );
        // Nesting is bounded.
        let mut p = inner.clone();
        for _ in 0..5 {
            p = outer4(4, &p);
        }
        assert_eq!(decode(linktype::RAW, &p, 0, 1), Err(Skip::NotTcp));
    }

    #[test]
    fn non_first_fragment_is_not_tcp() {
        let mut p = tcp4(flags::FIN, 0);
        p[6] = 0x00;
        p[7] = 0x10; // offset 16*8
        assert_eq!(decode(linktype::RAW, &p, 0, 1), Err(Skip::IpFragment));
    }
}
