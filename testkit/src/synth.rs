//! Synthetic capture writer: test support for building pcap and pcapng files
//! byte by byte, without a network.
//!
//! Three layers, each usable on its own:
//!
//! * **Frames**: [`Tcp`] describes one TCP segment; [`ip_packet`] wraps it in
//!   IPv4 or IPv6 (optionally with an IPv6 extension header, see [`Ip6Ext`])
//!   and [`Link::wrap`] adds a link-layer header for every link type the
//!   analyzer decodes (Ethernet, stacked VLAN, PPPoE, Linux SLL / SLL2, raw
//!   IP, BSD NULL / LOOP). [`udp_packet`], [`icmp4_unreachable`] and
//!   [`arp_frame`] produce non-TCP traffic.
//! * **Conversations**: [`Conv`] scripts one TCP connection so a scenario
//!   reads like a story (`syn`, `syn_ack`, `data_c`, `fin_c`, ...). It tracks
//!   both sides' next sequence numbers, so every tracked segment acknowledges
//!   everything the other side has sent; [`Conv::raw_c`] / [`Conv::raw_s`]
//!   send any segment with explicit numbers (crossing FINs, partial ACKs).
//! * **Writers**: [`write_pcap`] (either byte order, micro- or nanosecond
//!   magic, snaplen truncation) and [`write_pcapng`] (one section, either
//!   byte order, several interfaces with their own link type and
//!   `if_tsresol`, extra Simple Packet and unknown blocks).
//!
//! [`fixtures`] builds every committed file under `testdata/`; the
//! `mkfixtures` example writes them and `tests/scenarios.rs` checks that the
//! committed files have not drifted from it.
//!
//! Invariants: everything is deterministic (no clocks, no randomness beyond a
//! seeded LCG), records are sorted by timestamp before writing, and IPv4
//! header and TCP/UDP/ICMP checksums are correct.

use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Link-layer header type numbers (tcpdump.org `LINKTYPE_*`).
pub mod linktype {
    /// BSD loopback: 4-byte address family in the writer's (here: little-endian) order.
    pub const NULL: u32 = 0;
    /// Ethernet II, including VLAN-tagged and PPPoE frames.
    pub const ETHERNET: u32 = 1;
    /// Raw IP; the version nibble tells IPv4 from IPv6.
    pub const RAW: u32 = 101;
    /// OpenBSD loopback: 4-byte address family, big-endian.
    pub const LOOP: u32 = 108;
    /// Linux cooked capture v1 (16-byte header).
    pub const LINUX_SLL: u32 = 113;
    /// Raw IPv4.
    pub const IPV4: u32 = 228;
    /// Raw IPv6.
    pub const IPV6: u32 = 229;
    /// Linux cooked capture v2 (20-byte header).
    pub const LINUX_SLL2: u32 = 276;
}

/// TCP flag bits.
pub mod flags {
    /// FIN: no more data from sender.
    pub const FIN: u8 = 0x01;
    /// SYN: synchronize sequence numbers.
    pub const SYN: u8 = 0x02;
    /// RST: reset the connection.
    pub const RST: u8 = 0x04;
    /// PSH: push function.
    pub const PSH: u8 = 0x08;
    /// ACK: acknowledgment field is significant.
    pub const ACK: u8 = 0x10;
}

use flags::{ACK, FIN, PSH, RST, SYN};

/// Ethertype of IPv4.
const ETH_IPV4: u16 = 0x0800;
/// Ethertype of IPv6.
const ETH_IPV6: u16 = 0x86dd;
/// Ethertype of ARP.
const ETH_ARP: u16 = 0x0806;
/// Ethertype of 802.1Q customer VLAN tags (innermost tag).
const ETH_VLAN: u16 = 0x8100;
/// Ethertype of 802.1ad service VLAN tags (outer tags when stacked).
const ETH_QINQ: u16 = 0x88a8;
/// Ethertype of PPPoE session frames.
const ETH_PPPOE: u16 = 0x8864;
/// BSD `AF_INET`.
const AF_INET: u32 = 2;
/// BSD `AF_INET6` as written by macOS/FreeBSD.
const AF_INET6: u32 = 30;

/// Nanoseconds per millisecond, for readable timestamps (`t0 + 20 * MS`).
pub const MS: u64 = 1_000_000;
/// Nanoseconds per second.
pub const SEC: u64 = 1_000_000_000;
/// Epoch of every fixture: 2023-11-14T22:13:20Z, in nanoseconds.
pub const BASE_NS: u64 = 1_700_000_000 * SEC;

/// One packet record: capture timestamp, interface and captured bytes.
///
/// The original length of the packet is `data.len()`; writers truncate to
/// their snaplen and keep that original length in the record header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Capture timestamp in nanoseconds since the Unix epoch.
    pub ts_ns: u64,
    /// pcapng interface id (ignored by [`write_pcap`]).
    pub iface: u32,
    /// Full frame bytes, starting at the link-layer header.
    pub data: Vec<u8>,
}

/// An IPv6 extension header inserted between the IPv6 header and TCP.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Ip6Ext {
    /// No extension header.
    #[default]
    None,
    /// A hop-by-hop options header (next header 0) holding one PadN option.
    HopByHop,
    /// A destination options header (next header 60) holding one PadN option.
    DestOpts,
}

/// A link-layer encapsulation, i.e. how an IP packet becomes a frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Link {
    /// Ethernet II (linktype 1).
    Ethernet,
    /// Ethernet with VLAN tags, outermost first. With more than one tag the
    /// outer tags use TPID 0x88a8 and the innermost 0x8100.
    Vlan(Vec<u16>),
    /// PPPoE session over Ethernet (ethertype 0x8864) with this session id;
    /// PPP protocol 0x0021 for IPv4, 0x0057 for IPv6.
    Pppoe(u16),
    /// Linux cooked capture v1 (linktype 113).
    Sll,
    /// Linux cooked capture v2 (linktype 276).
    Sll2,
    /// Raw IP (linktype 101).
    Raw,
    /// Raw IPv4 (linktype 228); same bytes as [`Link::Raw`].
    RawIpv4,
    /// Raw IPv6 (linktype 229); same bytes as [`Link::Raw`].
    RawIpv6,
    /// BSD NULL (linktype 0): address family as a little-endian u32.
    Null,
    /// OpenBSD LOOP (linktype 108): address family as a big-endian u32.
    Loop,
}

impl Link {
    /// The pcap link type number of this encapsulation.
    pub fn linktype(&self) -> u32 {
        match self {
            Link::Ethernet | Link::Vlan(_) | Link::Pppoe(_) => linktype::ETHERNET,
            Link::Sll => linktype::LINUX_SLL,
            Link::Sll2 => linktype::LINUX_SLL2,
            Link::Raw => linktype::RAW,
            Link::RawIpv4 => linktype::IPV4,
            Link::RawIpv6 => linktype::IPV6,
            Link::Null => linktype::NULL,
            Link::Loop => linktype::LOOP,
        }
    }

    /// Wraps an IP packet (IPv4 or IPv6, told by its version nibble) into a
    /// frame. `src_mac` is the sender's hardware address (also used as the
    /// SLL address) and `outgoing` sets the SLL packet type (4 = outgoing,
    /// 0 = to this host).
    pub fn wrap(&self, ip: &[u8], src_mac: [u8; 6], dst_mac: [u8; 6], outgoing: bool) -> Vec<u8> {
        let v6 = ip.first().is_some_and(|b| b >> 4 == 6);
        let ethertype = if v6 { ETH_IPV6 } else { ETH_IPV4 };
        let mut f = Vec::with_capacity(ip.len() + 32);
        match self {
            Link::Ethernet => {
                eth_header(&mut f, dst_mac, src_mac, ethertype);
            }
            Link::Vlan(tags) => {
                f.extend_from_slice(&dst_mac);
                f.extend_from_slice(&src_mac);
                for (i, tag) in tags.iter().enumerate() {
                    let tpid = if i + 1 < tags.len() {
                        ETH_QINQ
                    } else {
                        ETH_VLAN
                    };
                    f.extend_from_slice(&tpid.to_be_bytes());
                    f.extend_from_slice(&(tag & 0x0fff).to_be_bytes());
                }
                f.extend_from_slice(&ethertype.to_be_bytes());
            }
            Link::Pppoe(session) => {
                eth_header(&mut f, dst_mac, src_mac, ETH_PPPOE);
                f.push(0x11); // version 1, type 1
                f.push(0x00); // code: session data
                f.extend_from_slice(&session.to_be_bytes());
                // PPPoE length covers the PPP protocol field and the payload.
                f.extend_from_slice(&len16(ip.len() + 2).to_be_bytes());
                let ppp: u16 = if v6 { 0x0057 } else { 0x0021 };
                f.extend_from_slice(&ppp.to_be_bytes());
            }
            Link::Sll => {
                let pkttype: u16 = if outgoing { 4 } else { 0 };
                f.extend_from_slice(&pkttype.to_be_bytes());
                f.extend_from_slice(&1u16.to_be_bytes()); // ARPHRD_ETHER
                f.extend_from_slice(&6u16.to_be_bytes()); // address length
                f.extend_from_slice(&src_mac);
                f.extend_from_slice(&[0, 0]); // address padding to 8 bytes
                f.extend_from_slice(&ethertype.to_be_bytes());
            }
            Link::Sll2 => {
                f.extend_from_slice(&ethertype.to_be_bytes());
                f.extend_from_slice(&[0, 0]); // reserved
                f.extend_from_slice(&2u32.to_be_bytes()); // interface index
                f.extend_from_slice(&1u16.to_be_bytes()); // ARPHRD_ETHER
                f.push(if outgoing { 4 } else { 0 });
                f.push(6); // address length
                f.extend_from_slice(&src_mac);
                f.extend_from_slice(&[0, 0]);
            }
            Link::Raw | Link::RawIpv4 | Link::RawIpv6 => {}
            Link::Null => {
                let af = if v6 { AF_INET6 } else { AF_INET };
                f.extend_from_slice(&af.to_le_bytes());
            }
            Link::Loop => {
                let af = if v6 { AF_INET6 } else { AF_INET };
                f.extend_from_slice(&af.to_be_bytes());
            }
        }
        f.extend_from_slice(ip);
        f
    }
}

/// Writes an Ethernet II header.
fn eth_header(f: &mut Vec<u8>, dst: [u8; 6], src: [u8; 6], ethertype: u16) {
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
}

/// A locally administered MAC address derived from an IP address, so that
/// each host keeps one MAC across a fixture.
pub fn mac_of(ip: IpAddr) -> [u8; 6] {
    let tail = match ip {
        IpAddr::V4(a) => a.octets(),
        IpAddr::V6(a) => {
            let o = a.octets();
            [o[12], o[13], o[14], o[15]]
        }
    };
    [0x02, 0x00, tail[0], tail[1], tail[2], tail[3]]
}

/// Narrows a length to 16 bits; synthetic packets never exceed 64 KiB.
fn len16(n: usize) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

/// One TCP segment, before IP and link encapsulation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tcp {
    /// Sender address and port.
    pub src: SocketAddr,
    /// Receiver address and port.
    pub dst: SocketAddr,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number (meaningful when the ACK flag is set).
    pub ack: u32,
    /// Flag bits, see [`flags`].
    pub flags: u8,
    /// Receive window.
    pub window: u16,
    /// Raw TCP option bytes, padded with zero (end-of-options) bytes to a
    /// multiple of 4 when serialized.
    pub options: Vec<u8>,
    /// Number of payload bytes (filled with a deterministic pattern).
    pub payload_len: usize,
}

impl Tcp {
    /// A segment with no options, window 64240 and no payload.
    pub fn new(src: SocketAddr, dst: SocketAddr, seq: u32, ack: u32, flags: u8) -> Tcp {
        Tcp {
            src,
            dst,
            seq,
            ack,
            flags,
            window: 64240,
            options: Vec::new(),
            payload_len: 0,
        }
    }

    /// Serializes the TCP header and payload, with a correct checksum.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut opts = self.options.clone();
        while !opts.len().is_multiple_of(4) {
            opts.push(0);
        }
        let hlen = 20 + opts.len();
        let mut b = Vec::with_capacity(hlen + self.payload_len);
        b.extend_from_slice(&self.src.port().to_be_bytes());
        b.extend_from_slice(&self.dst.port().to_be_bytes());
        b.extend_from_slice(&self.seq.to_be_bytes());
        b.extend_from_slice(&self.ack.to_be_bytes());
        // Data offset in 32-bit words (at most 15) in the high nibble.
        let words = u8::try_from(hlen / 4).unwrap_or(15).min(15);
        b.push(words << 4);
        b.push(self.flags);
        b.extend_from_slice(&self.window.to_be_bytes());
        b.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
        b.extend_from_slice(&opts);
        b.extend((0..self.payload_len).map(|i| b'a' + (i % 26) as u8));
        let sum = transport_checksum(self.src.ip(), self.dst.ip(), 6, &b);
        b[16..18].copy_from_slice(&sum.to_be_bytes());
        b
    }
}

/// The MSS option (kind 2, length 4) for SYN segments.
pub fn mss_option(mss: u16) -> Vec<u8> {
    let m = mss.to_be_bytes();
    vec![2, 4, m[0], m[1]]
}

/// Internet checksum (RFC 1071) of `data`, continuing from `sum`.
fn ones_sum(mut sum: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    sum
}

/// Folds a one's-complement sum and complements it.
fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// TCP/UDP checksum over the IPv4 or IPv6 pseudo header and `segment`.
fn transport_checksum(src: IpAddr, dst: IpAddr, proto: u8, segment: &[u8]) -> u16 {
    let mut sum = 0;
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            sum = ones_sum(sum, &s.octets());
            sum = ones_sum(sum, &d.octets());
            sum = ones_sum(sum, &[0, proto]);
            sum = ones_sum(sum, &len16(segment.len()).to_be_bytes());
        }
        _ => {
            sum = ones_sum(sum, &v6_octets(src));
            sum = ones_sum(sum, &v6_octets(dst));
            let len = u32::try_from(segment.len()).unwrap_or(u32::MAX);
            sum = ones_sum(sum, &len.to_be_bytes());
            sum = ones_sum(sum, &[0, 0, 0, proto]);
        }
    }
    fold(ones_sum(sum, segment))
}

/// The 16 address bytes of an IPv6 address (IPv4 addresses are mapped).
fn v6_octets(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => a.octets(),
    }
}

/// Wraps a transport payload (`proto` = 6 TCP, 17 UDP, 1 ICMP) in an IP
/// header. IPv4 gets DF, TTL 64, identification `ip_id` and a correct header
/// checksum; IPv6 gets hop limit 64 and the optional extension header `ext`.
///
/// # Panics
///
/// If `src` and `dst` are of different address families (a scripting error).
pub fn ip_wrap(src: IpAddr, dst: IpAddr, proto: u8, ip_id: u16, ext: Ip6Ext, l4: &[u8]) -> Vec<u8> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut p = Vec::with_capacity(20 + l4.len());
            p.push(0x45);
            p.push(0);
            p.extend_from_slice(&len16(20 + l4.len()).to_be_bytes());
            p.extend_from_slice(&ip_id.to_be_bytes());
            p.extend_from_slice(&0x4000u16.to_be_bytes()); // DF, offset 0
            p.push(64);
            p.push(proto);
            p.extend_from_slice(&[0, 0]);
            p.extend_from_slice(&s.octets());
            p.extend_from_slice(&d.octets());
            let sum = fold(ones_sum(0, &p));
            p[10..12].copy_from_slice(&sum.to_be_bytes());
            p.extend_from_slice(l4);
            p
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let ext_bytes: Option<(u8, [u8; 8])> = match ext {
                Ip6Ext::None => None,
                // next header, hdr ext len 0 (8 bytes), PadN option of 4 zero bytes
                Ip6Ext::HopByHop => Some((0, [proto, 0, 1, 4, 0, 0, 0, 0])),
                Ip6Ext::DestOpts => Some((60, [proto, 0, 1, 4, 0, 0, 0, 0])),
            };
            let ext_len = if ext_bytes.is_some() { 8 } else { 0 };
            let mut p = Vec::with_capacity(40 + ext_len + l4.len());
            p.extend_from_slice(&0x6000_0000u32.to_be_bytes());
            p.extend_from_slice(&len16(ext_len + l4.len()).to_be_bytes());
            p.push(ext_bytes.map_or(proto, |(nh, _)| nh));
            p.push(64);
            p.extend_from_slice(&s.octets());
            p.extend_from_slice(&d.octets());
            if let Some((_, e)) = ext_bytes {
                p.extend_from_slice(&e);
            }
            p.extend_from_slice(l4);
            p
        }
        _ => panic!("synth: mixed address families {src} -> {dst}"),
    }
}

/// Rewrites an IP packet's TTL (IPv4, with its header checksum) or hop
/// limit (IPv6).
fn set_ttl(ip: &mut [u8], ttl: u8) {
    match ip.first().map(|b| b >> 4) {
        Some(4) if ip.len() >= 20 => {
            ip[8] = ttl;
            ip[10..12].copy_from_slice(&[0, 0]);
            let sum = fold(ones_sum(0, &ip[..20]));
            ip[10..12].copy_from_slice(&sum.to_be_bytes());
        }
        Some(6) if ip.len() >= 40 => ip[7] = ttl,
        _ => {}
    }
}

/// The IP packet (IPv4 or IPv6 by address family) carrying `tcp`.
pub fn ip_packet(tcp: &Tcp, ip_id: u16, ext: Ip6Ext) -> Vec<u8> {
    ip_wrap(tcp.src.ip(), tcp.dst.ip(), 6, ip_id, ext, &tcp.to_bytes())
}

/// A UDP datagram in IP, with `payload_len` pattern bytes.
pub fn udp_packet(src: SocketAddr, dst: SocketAddr, payload_len: usize, ip_id: u16) -> Vec<u8> {
    let payload: Vec<u8> = (0..payload_len).map(|i| (i % 251) as u8).collect();
    udp_packet_with(src, dst, &payload, ip_id)
}

/// A UDP datagram in IP carrying `payload`.
pub fn udp_packet_with(src: SocketAddr, dst: SocketAddr, payload: &[u8], ip_id: u16) -> Vec<u8> {
    let mut u = Vec::with_capacity(8 + payload.len());
    u.extend_from_slice(&src.port().to_be_bytes());
    u.extend_from_slice(&dst.port().to_be_bytes());
    u.extend_from_slice(&len16(8 + payload.len()).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    let sum = transport_checksum(src.ip(), dst.ip(), 17, &u);
    u[6..8].copy_from_slice(&sum.to_be_bytes());
    ip_wrap(src.ip(), dst.ip(), 17, ip_id, Ip6Ext::None, &u)
}

/// A DNS message for `name` type A: a query, or with `answer` a response
/// carrying that address (TTL 300).
pub fn dns_message(id: u16, name: &str, answer: Option<Ipv4Addr>) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&id.to_be_bytes());
    let flags: u16 = if answer.is_some() { 0x8180 } else { 0x0100 };
    m.extend_from_slice(&flags.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes()); // questions
    m.extend_from_slice(&u16::from(answer.is_some()).to_be_bytes()); // answers
    m.extend_from_slice(&[0, 0, 0, 0]); // authority, additional
    for label in name.split('.').filter(|l| !l.is_empty()) {
        m.push(u8::try_from(label.len()).unwrap_or(63).min(63));
        m.extend(label.bytes().take(63));
    }
    m.push(0);
    m.extend_from_slice(&[0, 1, 0, 1]); // type A, class IN
    if let Some(addr) = answer {
        m.extend_from_slice(&[0xc0, 0x0c]); // pointer to the question name
        m.extend_from_slice(&[0, 1, 0, 1]);
        m.extend_from_slice(&300u32.to_be_bytes());
        m.extend_from_slice(&4u16.to_be_bytes());
        m.extend_from_slice(&addr.octets());
    }
    m
}

/// An ICMPv4 destination-unreachable (type 3, `code`) from `router` to
/// `to`, quoting the whole offending IP packet `quoted` (as RFC 1812 allows).
pub fn icmp4_unreachable(router: Ipv4Addr, to: Ipv4Addr, code: u8, quoted: &[u8]) -> Vec<u8> {
    let mut m = vec![3, code, 0, 0, 0, 0, 0, 0];
    m.extend_from_slice(quoted);
    let sum = fold(ones_sum(0, &m));
    m[2..4].copy_from_slice(&sum.to_be_bytes());
    ip_wrap(router.into(), to.into(), 1, 0, Ip6Ext::None, &m)
}

/// An Ethernet ARP request ("who has `target`? tell `sender`").
pub fn arp_frame(sender: Ipv4Addr, target: Ipv4Addr) -> Vec<u8> {
    let smac = mac_of(sender.into());
    let mut f = Vec::with_capacity(42);
    eth_header(&mut f, [0xff; 6], smac, ETH_ARP);
    f.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]); // Ethernet/IPv4, request
    f.extend_from_slice(&smac);
    f.extend_from_slice(&sender.octets());
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&target.octets());
    f
}

/// Which endpoint of a [`Conv`] sends a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The endpoint that sends the SYN.
    Client,
    /// The endpoint that answers with SYN-ACK.
    Server,
}

/// A scripted TCP connection that appends one [`Record`] per segment.
///
/// Sequence numbers start at the ISNs given to [`Conv::new`]; every tracked
/// method sends at the sender's next sequence number, acknowledges all the
/// other side has sent so far (except [`Conv::syn`]) and advances the
/// sender's next sequence number by the payload length, plus one for SYN and
/// FIN. Sending data without [`Conv::syn`] models a capture that starts
/// mid-stream.
#[derive(Clone, Debug)]
pub struct Conv {
    client: SocketAddr,
    server: SocketAddr,
    link: Link,
    ext: Ip6Ext,
    iface: u32,
    c_next: u32,
    s_next: u32,
    c_fin: Option<u32>,
    s_fin: Option<u32>,
    ip_id: u16,
    /// TTL / hop limit (client, server) of the following segments.
    ttl: [u8; 2],
    /// TCP window (client, server) of the following segments.
    window: [u16; 2],
    /// The segments sent so far, in call order.
    pub records: Vec<Record>,
}

impl Conv {
    /// A connection from `client` to `server` over Ethernet.
    ///
    /// # Panics
    ///
    /// If the two addresses are of different families (a scripting error).
    pub fn new(client: SocketAddr, server: SocketAddr, client_isn: u32, server_isn: u32) -> Conv {
        assert_eq!(
            client.is_ipv4(),
            server.is_ipv4(),
            "synth::Conv: client and server must share an address family"
        );
        Conv {
            client,
            server,
            link: Link::Ethernet,
            ext: Ip6Ext::None,
            iface: 0,
            c_next: client_isn,
            s_next: server_isn,
            c_fin: None,
            s_fin: None,
            ip_id: 1,
            ttl: [64, 64],
            window: [64240, 64240],
            records: Vec::new(),
        }
    }

    /// Sends `side`'s following segments with this IPv4 TTL / IPv6 hop
    /// limit (64 by default): another hop count than the peer's own, as a
    /// box in between would have.
    pub fn set_ttl(&mut self, side: Side, ttl: u8) -> &mut Conv {
        self.ttl[usize::from(side == Side::Server)] = ttl;
        self
    }

    /// Sends `side`'s following segments with this TCP window (64240 by
    /// default; 0 advertises a zero window).
    pub fn set_window(&mut self, side: Side, window: u16) -> &mut Conv {
        self.window[usize::from(side == Side::Server)] = window;
        self
    }

    /// Uses `link` for the following segments.
    pub fn link(mut self, link: Link) -> Conv {
        self.link = link;
        self
    }

    /// Adds an IPv6 extension header to the following segments.
    pub fn ipv6_ext(mut self, ext: Ip6Ext) -> Conv {
        self.ext = ext;
        self
    }

    /// Records the following segments on pcapng interface `iface`.
    pub fn iface(mut self, iface: u32) -> Conv {
        self.iface = iface;
        self
    }

    /// The client's next sequence number.
    pub fn c_next(&self) -> u32 {
        self.c_next
    }

    /// The server's next sequence number.
    pub fn s_next(&self) -> u32 {
        self.s_next
    }

    /// The client endpoint.
    pub fn client(&self) -> SocketAddr {
        self.client
    }

    /// The server endpoint.
    pub fn server(&self) -> SocketAddr {
        self.server
    }

    /// Builds (without recording) the segment `side` would send with these numbers.
    pub fn segment(&self, side: Side, seq: u32, ack: u32, flags: u8, len: usize) -> Tcp {
        let (src, dst) = match side {
            Side::Client => (self.client, self.server),
            Side::Server => (self.server, self.client),
        };
        let mut t = Tcp::new(src, dst, seq, ack, flags);
        t.payload_len = len;
        t.window = self.window[usize::from(side == Side::Server)];
        if flags & SYN != 0 {
            t.options = mss_option(1460);
        }
        t
    }

    /// Records an arbitrary segment from `side`; the tracked state is untouched.
    pub fn raw(
        &mut self,
        t: u64,
        side: Side,
        seq: u32,
        ack: u32,
        flags: u8,
        len: usize,
    ) -> &mut Conv {
        let seg = self.segment(side, seq, ack, flags, len);
        let mut ip = ip_packet(&seg, self.ip_id, self.ext);
        set_ttl(&mut ip, self.ttl[usize::from(side == Side::Server)]);
        self.ip_id = self.ip_id.wrapping_add(1);
        let frame = self.link.wrap(
            &ip,
            mac_of(seg.src.ip()),
            mac_of(seg.dst.ip()),
            side == Side::Client,
        );
        self.records.push(Record {
            ts_ns: t,
            iface: self.iface,
            data: frame,
        });
        self
    }

    /// Records a raw client segment (see [`Conv::raw`]).
    pub fn raw_c(&mut self, t: u64, seq: u32, ack: u32, flags: u8, len: usize) -> &mut Conv {
        self.raw(t, Side::Client, seq, ack, flags, len)
    }

    /// Records a raw server segment (see [`Conv::raw`]).
    pub fn raw_s(&mut self, t: u64, seq: u32, ack: u32, flags: u8, len: usize) -> &mut Conv {
        self.raw(t, Side::Server, seq, ack, flags, len)
    }

    /// Records a tracked segment: `side` sends at its next sequence number,
    /// acknowledging everything from the other side when `flags` has ACK.
    pub fn send(&mut self, t: u64, side: Side, flags: u8, len: usize) -> &mut Conv {
        let peer_next = match side {
            Side::Client => self.s_next,
            Side::Server => self.c_next,
        };
        let ack = if flags & ACK != 0 { peer_next } else { 0 };
        self.send_acking(t, side, flags, len, ack)
    }

    /// Like [`Conv::send`] (the sequence number is tracked) but with an
    /// explicit acknowledgment number: for partial ACKs and crossing FINs
    /// that do not acknowledge the other side's FIN.
    pub fn send_acking(
        &mut self,
        t: u64,
        side: Side,
        flags: u8,
        len: usize,
        ack: u32,
    ) -> &mut Conv {
        let seq = match side {
            Side::Client => self.c_next,
            Side::Server => self.s_next,
        };
        let mut advance = u32::try_from(len).unwrap_or(u32::MAX);
        if flags & SYN != 0 {
            advance = advance.wrapping_add(1);
        }
        if flags & FIN != 0 {
            // The FIN occupies the sequence number after the payload.
            let fin_pos = seq.wrapping_add(u32::try_from(len).unwrap_or(u32::MAX));
            match side {
                Side::Client => self.c_fin = Some(fin_pos),
                Side::Server => self.s_fin = Some(fin_pos),
            }
            advance = advance.wrapping_add(1);
        }
        match side {
            Side::Client => self.c_next = seq.wrapping_add(advance),
            Side::Server => self.s_next = seq.wrapping_add(advance),
        }
        self.raw(t, side, seq, ack, flags, len)
    }

    /// Client SYN (with an MSS option).
    pub fn syn(&mut self, t: u64) -> &mut Conv {
        self.send(t, Side::Client, SYN, 0)
    }

    /// Server SYN-ACK (with an MSS option).
    pub fn syn_ack(&mut self, t: u64) -> &mut Conv {
        self.send(t, Side::Server, SYN | ACK, 0)
    }

    /// Client pure ACK.
    pub fn ack_c(&mut self, t: u64) -> &mut Conv {
        self.send(t, Side::Client, ACK, 0)
    }

    /// Server pure ACK.
    pub fn ack_s(&mut self, t: u64) -> &mut Conv {
        self.send(t, Side::Server, ACK, 0)
    }

    /// Client data segment (PSH|ACK) of `len` bytes.
    pub fn data_c(&mut self, t: u64, len: usize) -> &mut Conv {
        self.send(t, Side::Client, PSH | ACK, len)
    }

    /// Server data segment (PSH|ACK) of `len` bytes.
    pub fn data_s(&mut self, t: u64, len: usize) -> &mut Conv {
        self.send(t, Side::Server, PSH | ACK, len)
    }

    /// Client FIN|ACK.
    pub fn fin_c(&mut self, t: u64) -> &mut Conv {
        self.send(t, Side::Client, FIN | ACK, 0)
    }

    /// Server FIN|ACK.
    pub fn fin_s(&mut self, t: u64) -> &mut Conv {
        self.send(t, Side::Server, FIN | ACK, 0)
    }

    /// Client FIN|PSH|ACK carrying `len` bytes of data.
    pub fn fin_data_c(&mut self, t: u64, len: usize) -> &mut Conv {
        self.send(t, Side::Client, FIN | PSH | ACK, len)
    }

    /// Retransmits the client's last FIN (no payload, at the FIN's sequence
    /// number, acknowledging all the server has sent). Without an earlier
    /// FIN this is a first FIN.
    pub fn refin_c(&mut self, t: u64) -> &mut Conv {
        match self.c_fin {
            Some(pos) => {
                let ack = self.s_next;
                self.raw(t, Side::Client, pos, ack, FIN | ACK, 0)
            }
            None => self.fin_c(t),
        }
    }

    /// Retransmits the server's last FIN (see [`Conv::refin_c`]).
    pub fn refin_s(&mut self, t: u64) -> &mut Conv {
        match self.s_fin {
            Some(pos) => {
                let ack = self.c_next;
                self.raw(t, Side::Server, pos, ack, FIN | ACK, 0)
            }
            None => self.fin_s(t),
        }
    }

    /// Client RST|ACK.
    pub fn rst_c(&mut self, t: u64) -> &mut Conv {
        self.send(t, Side::Client, RST | ACK, 0)
    }

    /// Server RST|ACK.
    pub fn rst_s(&mut self, t: u64) -> &mut Conv {
        self.send(t, Side::Server, RST | ACK, 0)
    }

    /// Takes the records sent so far, leaving the list empty.
    pub fn take(&mut self) -> Vec<Record> {
        std::mem::take(&mut self.records)
    }
}

/// A little- or big-endian byte sink for the writers.
struct Enc {
    be: bool,
    buf: Vec<u8>,
}

impl Enc {
    fn u16(&mut self, v: u16) {
        let b = if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.buf.extend_from_slice(&b);
    }
    fn u32(&mut self, v: u32) {
        let b = if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.buf.extend_from_slice(&b);
    }
    fn i64(&mut self, v: i64) {
        let b = if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.buf.extend_from_slice(&b);
    }
    fn bytes_padded(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
        while !self.buf.len().is_multiple_of(4) {
            self.buf.push(0);
        }
    }
}

/// Options of a legacy pcap file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PcapOpts {
    /// Write every header field big-endian (magic reads `d4 c3 b2 a1` on a
    /// little-endian host).
    pub big_endian: bool,
    /// Nanosecond timestamps (magic 0xa1b23c4d) instead of microseconds.
    pub nanos: bool,
    /// Records are truncated to this many bytes; the original length is kept.
    pub snaplen: u32,
}

impl Default for PcapOpts {
    fn default() -> PcapOpts {
        PcapOpts {
            big_endian: false,
            nanos: false,
            snaplen: 65535,
        }
    }
}

/// Serializes a pcap file with one global header and `records` in order.
pub fn pcap_bytes(linktype: u32, records: &[Record], opts: &PcapOpts) -> Vec<u8> {
    let mut e = Enc {
        be: opts.big_endian,
        buf: Vec::new(),
    };
    e.u32(if opts.nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 });
    e.u16(2);
    e.u16(4);
    e.u32(0); // thiszone
    e.u32(0); // sigfigs
    e.u32(opts.snaplen);
    e.u32(linktype);
    for r in records {
        let secs = r.ts_ns / SEC;
        let frac = if opts.nanos {
            r.ts_ns % SEC
        } else {
            (r.ts_ns % SEC) / 1000
        };
        let snap = usize::try_from(opts.snaplen).unwrap_or(usize::MAX);
        let cap = r.data.len().min(snap);
        e.u32(u32::try_from(secs).unwrap_or(u32::MAX));
        e.u32(u32::try_from(frac).unwrap_or(u32::MAX));
        e.u32(u32::try_from(cap).unwrap_or(u32::MAX));
        e.u32(u32::try_from(r.data.len()).unwrap_or(u32::MAX));
        e.buf.extend_from_slice(&r.data[..cap]);
    }
    e.buf
}

/// Writes a pcap file (see [`pcap_bytes`]) to `w`.
pub fn write_pcap<W: Write>(
    w: &mut W,
    linktype: u32,
    records: &[Record],
    opts: &PcapOpts,
) -> io::Result<()> {
    w.write_all(&pcap_bytes(linktype, records, opts))
}

/// One pcapng Interface Description Block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interface {
    /// Link type of the interface's packets.
    pub linktype: u16,
    /// Snapshot length; 0 means no limit.
    pub snaplen: u32,
    /// `if_tsresol` as a decimal exponent (6 = microseconds, 9 = nanoseconds);
    /// `None` writes no option, i.e. the default of microseconds.
    pub tsresol: Option<u8>,
}

/// A non-EPB block inserted into a pcapng file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Extra {
    /// A Simple Packet Block (interface 0, no timestamp) with these frame bytes.
    Simple(Vec<u8>),
    /// A block of an unknown type with this body, to test skipping.
    Unknown {
        /// The block type number.
        block_type: u32,
        /// The block body (padded to 32 bits when written).
        body: Vec<u8>,
    },
}

/// Options of a pcapng file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PcapngOpts {
    /// Write the section big-endian.
    pub big_endian: bool,
    /// Interfaces, written right after the Section Header Block; a record's
    /// `iface` indexes this list.
    pub interfaces: Vec<Interface>,
    /// Extra blocks, each written just before the record with that index
    /// (an index past the end writes it after the last record).
    pub extras: Vec<(usize, Extra)>,
}

/// Appends one block: type, total length, body (padded), total length.
fn block(e: &mut Enc, block_type: u32, body: &[u8]) {
    let padded = body.len().div_ceil(4) * 4;
    let total = u32::try_from(12 + padded).unwrap_or(u32::MAX);
    e.u32(block_type);
    e.u32(total);
    e.bytes_padded(body);
    e.u32(total);
}

/// Serializes a pcapng file: SHB, IDBs, then EPBs (and extras) in order.
///
/// EPB timestamps are expressed in the units of the record's interface
/// (`10^-tsresol` s, `tsresol` at most 9). Records on an unknown interface
/// are written against that id anyway (useful for error tests).
pub fn pcapng_bytes(records: &[Record], opts: &PcapngOpts) -> Vec<u8> {
    let be = opts.big_endian;
    let mut e = Enc {
        be,
        buf: Vec::new(),
    };
    let sub = |f: &dyn Fn(&mut Enc)| {
        let mut s = Enc {
            be,
            buf: Vec::new(),
        };
        f(&mut s);
        s.buf
    };
    // Section Header Block: BOM, version 1.0, unknown section length.
    let shb = sub(&|s| {
        s.u32(0x1a2b_3c4d);
        s.u16(1);
        s.u16(0);
        s.i64(-1);
    });
    block(&mut e, 0x0a0d_0d0a, &shb);
    for iface in &opts.interfaces {
        let idb = sub(&|s| {
            s.u16(iface.linktype);
            s.u16(0);
            s.u32(iface.snaplen);
            if let Some(res) = iface.tsresol {
                s.u16(9); // if_tsresol
                s.u16(1);
                s.bytes_padded(&[res]);
                s.u16(0); // opt_endofopt
                s.u16(0);
            }
        });
        block(&mut e, 1, &idb);
    }
    let write_extra = |e: &mut Enc, x: &Extra| match x {
        Extra::Simple(data) => {
            let body = sub(&|s| {
                s.u32(u32::try_from(data.len()).unwrap_or(u32::MAX));
                s.bytes_padded(data);
            });
            block(e, 3, &body);
        }
        Extra::Unknown { block_type, body } => block(e, *block_type, body),
    };
    for (i, r) in records.iter().enumerate() {
        for (_, x) in opts.extras.iter().filter(|(at, _)| *at == i) {
            write_extra(&mut e, x);
        }
        let iface = usize::try_from(r.iface)
            .ok()
            .and_then(|i| opts.interfaces.get(i))
            .copied()
            .unwrap_or(Interface {
                linktype: 1,
                snaplen: 0,
                tsresol: None,
            });
        let res = u32::from(iface.tsresol.unwrap_or(6).min(9));
        let units = r.ts_ns / 10u64.pow(9 - res);
        let snap = match iface.snaplen {
            0 => usize::MAX,
            n => usize::try_from(n).unwrap_or(usize::MAX),
        };
        let cap = r.data.len().min(snap);
        let body = sub(&|s| {
            s.u32(r.iface);
            s.u32((units >> 32) as u32);
            s.u32(units as u32);
            s.u32(u32::try_from(cap).unwrap_or(u32::MAX));
            s.u32(u32::try_from(r.data.len()).unwrap_or(u32::MAX));
            s.bytes_padded(&r.data[..cap]);
        });
        block(&mut e, 6, &body);
    }
    for (_, x) in opts.extras.iter().filter(|(at, _)| *at >= records.len()) {
        write_extra(&mut e, x);
    }
    e.buf
}

/// Writes a pcapng file (see [`pcapng_bytes`]) to `w`.
pub fn write_pcapng<W: Write>(w: &mut W, records: &[Record], opts: &PcapngOpts) -> io::Result<()> {
    w.write_all(&pcapng_bytes(records, opts))
}

/// Cuts a legacy pcap file in the middle of its last record: keeps the
/// record header and half of its data. Returns the cut file and the byte
/// offset at which the incomplete record starts.
///
/// Assumes a well-formed file as produced by [`pcap_bytes`]; a file with no
/// records is returned unchanged with the offset of its end.
pub fn cut_last_record(pcap: &[u8], big_endian: bool) -> (Vec<u8>, usize) {
    let mut off = 24;
    let mut last = None;
    while let Some(h) = pcap.get(off..off + 16) {
        let raw = [h[8], h[9], h[10], h[11]];
        let caplen = if big_endian {
            u32::from_be_bytes(raw)
        } else {
            u32::from_le_bytes(raw)
        };
        let caplen = usize::try_from(caplen).unwrap_or(usize::MAX);
        last = Some((off, caplen));
        off = off.saturating_add(16).saturating_add(caplen);
    }
    match last {
        Some((start, caplen)) => {
            let keep = (start + 16 + caplen / 2).min(pcap.len());
            (pcap[..keep].to_vec(), start)
        }
        None => (pcap.to_vec(), pcap.len()),
    }
}

/// Sorts records by timestamp, keeping call order for equal timestamps.
pub fn sorted(mut records: Vec<Record>) -> Vec<Record> {
    records.sort_by_key(|r| r.ts_ns);
    records
}

/// Shorthand for a socket address from a literal, for fixtures and tests.
///
/// # Panics
///
/// On a malformed literal (a scripting error).
pub fn sa(s: &str) -> SocketAddr {
    match s.parse() {
        Ok(a) => a,
        Err(e) => panic!("synth::sa: bad socket address {s:?}: {e}"),
    }
}

/// Timestamp `ms` milliseconds after [`BASE_NS`].
pub const fn at(ms: u64) -> u64 {
    BASE_NS + ms * MS
}

/// A seeded linear congruential generator: deterministic jitter for the
/// sample capture.
struct Lcg(u64);

impl Lcg {
    /// A value in `lo..hi` (`lo` when the range is empty).
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        match hi.checked_sub(lo) {
            Some(span) if span > 0 => lo + (self.0 >> 33) % span,
            _ => lo,
        }
    }
}

/// The standard clean close, client first, over whatever link `c` uses,
/// starting `t0` ms after [`BASE_NS`]:
///
/// | ms      | segment                     |
/// |---------|-----------------------------|
/// | +0      | SYN                         |
/// | +10     | SYN-ACK                     |
/// | +20     | ACK (pure)                  |
/// | +30     | client data, 100 bytes      |
/// | +40     | ACK (pure)                  |
/// | +50     | server data, 500 bytes      |
/// | +60     | ACK (pure)                  |
/// | +1000   | client FIN                  |
/// | +1000+fa | server ACK of it (pure)    |
/// | +1000+ff | server FIN                 |
/// | +1000+ct | client ACK of it (pure)    |
///
/// 11 frames: 2 SYN, 2 FIN, 5 pure ACKs; fin_ack = fa ms, fin_fin = ff ms,
/// close_total = ct ms.
fn story_close(c: &mut Conv, t0: u64, fa: u64, ff: u64, ct: u64) {
    c.syn(at(t0))
        .syn_ack(at(t0 + 10))
        .ack_c(at(t0 + 20))
        .data_c(at(t0 + 30), 100)
        .ack_s(at(t0 + 40))
        .data_s(at(t0 + 50), 500)
        .ack_c(at(t0 + 60))
        .fin_c(at(t0 + 1000))
        .ack_s(at(t0 + 1000 + fa))
        .fin_s(at(t0 + 1000 + ff))
        .ack_c(at(t0 + 1000 + ct));
}

/// [`story_close`] with fin_ack 20 ms, fin_fin 50 ms, close_total 60 ms.
fn story_4way(c: &mut Conv, t0: u64) {
    story_close(c, t0, 20, 50, 60);
}

/// The clean close, server first, starting `t0` ms after [`BASE_NS`]:
/// SYN +0, SYN-ACK +10, ACK +20, server data 200 bytes +30, ACK +40,
/// server FIN +2000, client ACK +2030, client FIN +2100, server ACK +2110.
/// 9 frames: 2 SYN, 2 FIN, 4 pure ACKs; fin_ack 30 ms, fin_fin 100 ms,
/// close_total 110 ms.
fn story_remote_first(c: &mut Conv, t0: u64) {
    c.syn(at(t0))
        .syn_ack(at(t0 + 10))
        .ack_c(at(t0 + 20))
        .data_s(at(t0 + 30), 200)
        .ack_c(at(t0 + 40))
        .fin_s(at(t0 + 2000))
        .ack_c(at(t0 + 2030))
        .fin_c(at(t0 + 2100))
        .ack_s(at(t0 + 2110));
}

/// A pcap (little-endian, microseconds, snaplen 65535) of the sorted records.
fn pcap_of(link: &Link, records: Vec<Record>) -> Vec<u8> {
    pcap_bytes(link.linktype(), &sorted(records), &PcapOpts::default())
}

/// One client-first clean close over `link`, IPv4 (and IPv6 too when `v6`).
fn link_fixture(link: Link, port: u16, v6: bool) -> Vec<u8> {
    let mut c = Conv::new(
        SocketAddr::new([10, 0, 0, 2].into(), port),
        sa("203.0.113.60:80"),
        1000,
        5000,
    )
    .link(link.clone());
    story_4way(&mut c, 0);
    let mut recs = c.take();
    if v6 {
        let mut c6 = Conv::new(
            sa(&format!("[2001:db8:1::2]:{}", port + 1)),
            sa("[2001:db8::60]:80"),
            2000,
            6000,
        )
        .link(link.clone());
        story_4way(&mut c6, 2000);
        recs.extend(c6.take());
    }
    pcap_of(&link, recs)
}

/// Every committed fixture under `testdata/`, as (file name, bytes).
///
/// Deterministic: the same bytes on every run and platform. The expected
/// analysis of each file is documented in `testdata/README.md` and asserted
/// in `tests/scenarios.rs`.
pub fn fixtures() -> Vec<(&'static str, Vec<u8>)> {
    let eth = Link::Ethernet;
    let mut out: Vec<(&'static str, Vec<u8>)> = Vec::new();

    // Clean close, client (local) first.
    let mut c = Conv::new(sa("10.0.0.2:40000"), sa("203.0.113.10:80"), 1000, 5000);
    story_4way(&mut c, 0);
    out.push(("fin_4way.pcap", pcap_of(&eth, c.take())));

    // Clean close, server (remote) first.
    let mut c = Conv::new(sa("10.0.0.2:40001"), sa("203.0.113.11:80"), 1000, 5000);
    story_remote_first(&mut c, 0);
    out.push(("fin_remote_first.pcap", pcap_of(&eth, c.take())));

    // Crossing FINs: the server's FIN does not acknowledge the client's.
    let mut c = Conv::new(sa("10.0.0.2:40002"), sa("203.0.113.12:80"), 1000, 5000);
    c.syn(at(0)).syn_ack(at(10)).ack_c(at(20)).fin_c(at(1000));
    c.send_acking(at(1005), Side::Server, FIN | ACK, 0, 1001);
    c.ack_s(at(1030)).ack_c(at(1040));
    out.push(("fin_simultaneous.pcap", pcap_of(&eth, c.take())));

    // Slow peer: client FIN retransmitted after 200/400/800 ms of backoff,
    // ACKed 14 s after the first FIN; one spurious retransmission after that.
    let mut c = Conv::new(sa("10.0.0.2:40003"), sa("203.0.113.13:80"), 1000, 5000);
    c.syn(at(0))
        .syn_ack(at(10))
        .ack_c(at(20))
        .data_c(at(30), 100)
        .ack_s(at(40))
        .fin_c(at(1000))
        .refin_c(at(1200))
        .refin_c(at(1600))
        .refin_c(at(2400))
        .ack_s(at(15_000))
        .refin_c(at(15_020))
        .fin_s(at(15_100))
        .ack_c(at(15_110));
    out.push(("fin_retransmit.pcap", pcap_of(&eth, c.take())));

    // FIN never ACKed; a router answers it with ICMP host unreachable
    // (quoting the FIN); another connection keeps the capture going 30 s.
    let mut a = Conv::new(sa("10.0.0.2:40004"), sa("203.0.113.20:443"), 1000, 5000);
    a.syn(at(0))
        .syn_ack(at(10))
        .ack_c(at(20))
        .data_c(at(30), 50)
        .ack_s(at(40))
        .fin_c(at(1000));
    let mut recs = a.take();
    let fin_ip = recs
        .last()
        .and_then(|r| r.data.get(14..))
        .map(<[u8]>::to_vec)
        .unwrap_or_default();
    let router = Ipv4Addr::new(192, 0, 2, 1);
    let client = Ipv4Addr::new(10, 0, 0, 2);
    let icmp = icmp4_unreachable(router, client, 1, &fin_ip);
    recs.push(Record {
        ts_ns: at(1500),
        iface: 0,
        data: eth.wrap(&icmp, mac_of(router.into()), mac_of(client.into()), false),
    });
    let mut b = Conv::new(sa("10.0.0.2:40005"), sa("198.51.100.7:80"), 2000, 6000);
    b.syn(at(500))
        .syn_ack(at(510))
        .ack_c(at(520))
        .data_c(at(30_990), 10)
        .ack_s(at(31_000));
    recs.extend(b.take());
    out.push(("fin_unacked.pcap", pcap_of(&eth, recs)));

    // Client closes, server ACKs and keeps sending, never closes.
    let mut c = Conv::new(sa("10.0.0.2:40006"), sa("203.0.113.21:80"), 1000, 5000);
    c.syn(at(0))
        .syn_ack(at(10))
        .ack_c(at(20))
        .data_c(at(30), 100)
        .ack_s(at(40))
        .fin_c(at(1000))
        .ack_s(at(1010))
        .data_s(at(2000), 1000)
        .ack_c(at(2010))
        .data_s(at(3000), 500)
        .ack_c(at(3010));
    out.push(("half_closed.pcap", pcap_of(&eth, c.take())));

    // Server resets the connection after the request; no FIN at all.
    let mut c = Conv::new(sa("10.0.0.2:40007"), sa("203.0.113.22:80"), 1000, 5000);
    c.syn(at(0))
        .syn_ack(at(10))
        .ack_c(at(20))
        .data_c(at(30), 100)
        .rst_s(at(40));
    out.push(("rst_no_fin.pcap", pcap_of(&eth, c.take())));

    // Client closes (ACKed), server sends more data, client resets.
    let mut c = Conv::new(sa("10.0.0.2:40008"), sa("203.0.113.23:80"), 1000, 5000);
    c.syn(at(0))
        .syn_ack(at(10))
        .ack_c(at(20))
        .data_s(at(30), 300)
        .ack_c(at(40))
        .fin_c(at(1000))
        .ack_s(at(1010))
        .data_s(at(1500), 100)
        .rst_c(at(1510));
    out.push(("rst_after_fin.pcap", pcap_of(&eth, c.take())));

    // Handshake and data, never closed.
    let mut c = Conv::new(sa("10.0.0.2:40009"), sa("203.0.113.24:80"), 1000, 5000);
    c.syn(at(0))
        .syn_ack(at(10))
        .ack_c(at(20))
        .data_c(at(30), 100)
        .data_s(at(40), 1000)
        .ack_c(at(50));
    out.push(("open.pcap", pcap_of(&eth, c.take())));

    // Capture starts mid-stream with a server segment; the side with the
    // well-known port (443) is the server, so the client closes first.
    let mut c = Conv::new(sa("10.0.0.2:51000"), sa("203.0.113.30:443"), 3000, 7000);
    c.data_s(at(0), 500)
        .ack_c(at(10))
        .data_c(at(20), 100)
        .ack_s(at(30))
        .fin_c(at(1000))
        .fin_s(at(1020))
        .ack_c(at(1030));
    out.push(("no_handshake.pcap", pcap_of(&eth, c.take())));

    // Sequence numbers wrap: client FIN at 0xffffffff is ACKed with 0,
    // server FIN at 0 is ACKed with 1.
    let mut c = Conv::new(
        sa("10.0.0.2:40010"),
        sa("203.0.113.31:80"),
        0xffff_fff0,
        0xffff_fff8,
    );
    c.syn(at(0))
        .syn_ack(at(10))
        .ack_c(at(20))
        .data_c(at(30), 14)
        .ack_s(at(40))
        .data_s(at(50), 7)
        .ack_c(at(60))
        .fin_c(at(1000))
        .ack_s(at(1025))
        .fin_s(at(1100))
        .ack_c(at(1125));
    out.push(("seq_wrap.pcap", pcap_of(&eth, c.take())));

    // The same 4-tuple twice: a clean close, then a new SYN 1 s later
    // whose connection the server resets.
    let mut c1 = Conv::new(sa("10.0.0.2:40100"), sa("203.0.113.40:80"), 1000, 5000);
    c1.syn(at(0))
        .syn_ack(at(10))
        .ack_c(at(20))
        .data_c(at(30), 100)
        .ack_s(at(40))
        .fin_c(at(1000))
        .fin_s(at(1010))
        .ack_c(at(1020));
    let mut c2 = Conv::new(
        sa("10.0.0.2:40100"),
        sa("203.0.113.40:80"),
        900_000,
        700_000,
    );
    c2.syn(at(2020))
        .syn_ack(at(2030))
        .ack_c(at(2040))
        .data_c(at(2050), 50)
        .rst_s(at(2060));
    let mut recs = c1.take();
    recs.extend(c2.take());
    out.push(("port_reuse.pcap", pcap_of(&eth, recs)));

    // Q-in-Q: two connections with the same 5-tuple in inner VLANs 200 and
    // 201 (outer 100), so they are two connections.
    let mut a = Conv::new(sa("10.0.0.2:40011"), sa("203.0.113.50:80"), 1000, 5000)
        .link(Link::Vlan(vec![100, 200]));
    story_4way(&mut a, 0);
    let mut b = Conv::new(sa("10.0.0.2:40011"), sa("203.0.113.50:80"), 2000, 6000)
        .link(Link::Vlan(vec![100, 201]));
    story_close(&mut b, 5, 40, 80, 90);
    let mut recs = a.take();
    recs.extend(b.take());
    out.push(("vlan_qinq.pcap", pcap_of(&eth, recs)));

    out.push(("sll.pcap", link_fixture(Link::Sll, 40012, false)));
    out.push(("sll2.pcap", link_fixture(Link::Sll2, 40013, false)));
    out.push(("raw_ip.pcap", link_fixture(Link::Raw, 40014, true)));
    out.push((
        "raw_ipv4_228.pcap",
        link_fixture(Link::RawIpv4, 40016, false),
    ));
    // LINKTYPE_IPV6 only carries IPv6: one IPv6 connection.
    let mut c = Conv::new(
        sa("[2001:db8:1::2]:40017"),
        sa("[2001:db8::60]:80"),
        1000,
        5000,
    )
    .link(Link::RawIpv6);
    story_4way(&mut c, 0);
    out.push(("raw_ipv6_229.pcap", pcap_of(&Link::RawIpv6, c.take())));
    out.push(("null.pcap", link_fixture(Link::Null, 40018, true)));
    out.push(("loop.pcap", link_fixture(Link::Loop, 40020, false)));
    out.push(("pppoe.pcap", link_fixture(Link::Pppoe(0x1234), 40021, true)));

    // IPv6 over Ethernet with a hop-by-hop options header on one
    // connection and a destination options header on the other.
    let mut a = Conv::new(
        sa("[2001:db8:1::2]:40030"),
        sa("[2001:db8::10]:443"),
        1000,
        5000,
    )
    .ipv6_ext(Ip6Ext::HopByHop);
    story_4way(&mut a, 0);
    let mut b = Conv::new(
        sa("[2001:db8:1::2]:40031"),
        sa("[2001:db8::20]:80"),
        2000,
        6000,
    )
    .ipv6_ext(Ip6Ext::DestOpts);
    story_close(&mut b, 500, 30, 60, 70);
    let mut recs = a.take();
    recs.extend(b.take());
    out.push(("ipv6.pcap", pcap_of(&eth, recs)));

    // Big-endian pcap with nanosecond timestamps, each 123 ns past the ms.
    let mut c = Conv::new(sa("10.0.0.2:40032"), sa("203.0.113.63:80"), 1000, 5000);
    story_4way(&mut c, 0);
    let mut recs = c.take();
    for r in &mut recs {
        r.ts_ns += 123;
    }
    let opts = PcapOpts {
        big_endian: true,
        nanos: true,
        snaplen: 65535,
    };
    out.push((
        "nanosecond_be.pcap",
        pcap_bytes(linktype::ETHERNET, &sorted(recs), &opts),
    ));

    // pcapng: interface 0 Ethernet in microseconds, interface 1 raw IP in
    // nanoseconds; a Simple Packet Block (ARP) and an unknown block too.
    let mut a = Conv::new(sa("10.0.0.2:40033"), sa("203.0.113.64:80"), 1000, 5000).iface(0);
    story_4way(&mut a, 0);
    let mut b = Conv::new(sa("10.0.0.3:40034"), sa("198.51.100.20:443"), 2000, 6000)
        .link(Link::Raw)
        .iface(1);
    story_remote_first(&mut b, 500);
    let mut recs = a.take();
    recs.extend(b.take());
    let ng = PcapngOpts {
        big_endian: false,
        interfaces: vec![
            Interface {
                linktype: 1,
                snaplen: 65535,
                tsresol: Some(6),
            },
            Interface {
                linktype: 101,
                snaplen: 65535,
                tsresol: Some(9),
            },
        ],
        extras: vec![
            (
                1,
                Extra::Simple(arp_frame(
                    Ipv4Addr::new(10, 0, 0, 2),
                    Ipv4Addr::new(10, 0, 0, 1),
                )),
            ),
            (
                5,
                Extra::Unknown {
                    block_type: 0x8000_0f15,
                    body: b"finscope test block".to_vec(),
                },
            ),
        ],
    };
    out.push(("multi_idb.pcapng", pcapng_bytes(&sorted(recs), &ng)));

    // Snaplen 64: headers survive, payloads are cut. The client's FIN
    // carries 300 bytes; the server ACKs the data but not the FIN, so the
    // client retransmits a bare FIN at the FIN's position.
    let mut c = Conv::new(sa("10.0.0.2:40035"), sa("203.0.113.65:80"), 1000, 5000);
    c.syn(at(0))
        .syn_ack(at(10))
        .ack_c(at(20))
        .data_s(at(30), 1400)
        .ack_c(at(40))
        .fin_data_c(at(1000), 300);
    let partial = c.c_next().wrapping_sub(1);
    c.send_acking(at(1010), Side::Server, ACK, 0, partial);
    c.refin_c(at(1210))
        .ack_s(at(1220))
        .fin_s(at(1300))
        .ack_c(at(1310));
    let opts = PcapOpts {
        snaplen: 64,
        ..PcapOpts::default()
    };
    out.push((
        "snaplen_64.pcap",
        pcap_bytes(linktype::ETHERNET, &sorted(c.take()), &opts),
    ));

    // The clean close with the file cut in the middle of its last record
    // (the client's final ACK).
    let mut c = Conv::new(sa("10.0.0.2:40036"), sa("203.0.113.66:80"), 1000, 5000);
    story_4way(&mut c, 0);
    let (cut, _) = cut_last_record(&pcap_of(&eth, c.take()), false);
    out.push(("truncated_tail.pcap", cut));

    out.push(("sample.pcap", sample()));
    out.extend(close_model_fixtures());
    out
}

/// A connection that keeps the capture going until `end` ms (so that the
/// observer sees the silences of the others): handshake at 0, FIN at `end`.
fn keeper(port: u16, end: u64) -> Vec<Record> {
    let mut k = Conv::new(
        SocketAddr::new([10, 0, 0, 2].into(), port),
        sa("203.0.113.70:80"),
        70_000,
        80_000,
    );
    k.syn(at(0))
        .syn_ack(at(10))
        .ack_c(at(20))
        .fin_c(at(end - 20))
        .ack_s(at(end - 15))
        .fin_s(at(end - 10))
        .ack_c(at(end));
    k.take()
}

/// The fixtures of the close model's real-world cases (docs/report.md;
/// expected values in tests/scenarios.rs).
fn close_model_fixtures() -> Vec<(&'static str, Vec<u8>)> {
    let eth = Link::Ethernet;
    let mut out = Vec::new();

    // A stray FIN after the ACK: the client's FIN (1000) is ACKed at 1050;
    // at 1100 a FIN|ACK at FIN + 1 without data (a FIN flag on a later ACK);
    // then the server closes (2000) and the client ACKs (2010).
    let mut c = Conv::new(sa("10.0.0.2:40200"), sa("203.0.113.80:80"), 1000, 5000);
    c.syn(at(0))
        .syn_ack(at(10))
        .ack_c(at(20))
        .data_c(at(30), 100)
        .ack_s(at(40))
        .fin_c(at(1000))
        .ack_s(at(1050));
    let (next, peer) = (c.c_next(), c.s_next());
    c.raw_c(at(1100), next, peer, FIN | ACK, 0)
        .fin_s(at(2000))
        .ack_c(at(2010));
    out.push(("stray_fin.pcap", pcap_of(&eth, c.take())));

    // A RST during the handshake, then the same SYN again: SYN 0, client
    // RST 18, SYN (same ISN) 1000, SYN-ACK 1010, ACK 1020, data, client FIN
    // 16000, ACK 16020, server FIN 16050, ACK 16060.
    let mut c = Conv::new(sa("10.0.0.2:40201"), sa("203.0.113.81:443"), 7000, 9000);
    c.syn(at(0));
    c.raw_c(at(18), 7001, 0, RST, 0);
    c.raw_c(at(1000), 7000, 0, SYN, 0)
        .syn_ack(at(1010))
        .ack_c(at(1020))
        .data_c(at(1030), 100)
        .ack_s(at(1040))
        .fin_c(at(16_000))
        .ack_s(at(16_020))
        .fin_s(at(16_050))
        .ack_c(at(16_060));
    out.push(("handshake_rst_retry.pcap", pcap_of(&eth, c.take())));

    // Attempts: the local host 10.0.0.2 scans 198.51.100.50 ports 1..=50
    // (one SYN every 10 ms from 0, no reply); 5 more SYNs (ports 101..=105,
    // 600..640 ms) are answered by RST|ACK 1 ms later; 192.0.2.9 sends 5
    // SYNs to the local port 80 at 100 ms, answered by SYN-ACKs at 101 ms,
    // retransmitted at 1101 ms, never ACKed; one real connection until 6 s.
    let mut recs = keeper(40202, 6000);
    for i in 0..50u16 {
        let mut c = Conv::new(
            SocketAddr::new([10, 0, 0, 2].into(), 41000 + i),
            SocketAddr::new([198, 51, 100, 50].into(), 1 + i),
            100_000 + u32::from(i),
            0,
        );
        c.syn(at(10 * u64::from(i)));
        recs.extend(c.take());
    }
    for i in 0..5u16 {
        let mut c = Conv::new(
            SocketAddr::new([10, 0, 0, 2].into(), 41100 + i),
            SocketAddr::new([198, 51, 100, 50].into(), 101 + i),
            200_000 + u32::from(i),
            0,
        );
        let t = 600 + 10 * u64::from(i);
        c.syn(at(t));
        let ack = c.c_next();
        c.raw_s(at(t + 1), 0, ack, RST | ACK, 0);
        recs.extend(c.take());
    }
    for i in 0..5u16 {
        let mut c = Conv::new(
            SocketAddr::new([192, 0, 2, 9].into(), 50000 + i),
            sa("10.0.0.2:80"),
            300_000 + u32::from(i),
            400_000 + u32::from(i),
        );
        c.syn(at(100)).syn_ack(at(101));
        let ack = c.c_next();
        c.raw_s(at(1101), 400_000 + u32::from(i), ack, SYN | ACK, 0);
        recs.extend(c.take());
    }
    out.push(("attempts.pcap", pcap_of(&eth, recs)));

    // One direction only (a tap on one fibre): three client-first closes,
    // only the client's segments kept.
    let mut recs = Vec::new();
    for i in 0..3u16 {
        let client = SocketAddr::new([10, 0, 0, 2].into(), 40210 + i);
        let mut c = Conv::new(client, sa("203.0.113.82:80"), 1000, 5000);
        story_4way(&mut c, 100 * u64::from(i));
        let mac = mac_of(client.ip());
        recs.extend(
            c.take()
                .into_iter()
                .filter(|r| r.data.get(6..12) == Some(&mac[..])),
        );
    }
    out.push(("one_sided.pcap", pcap_of(&eth, recs)));

    // Our own RSTs are not the peer's fault: 203.0.113.84 closes first three
    // times and the local side answers each FIN with RST|ACK (unread data);
    // 203.0.113.83 ACKs a local FIN after one retransmission (200 ms).
    let mut c = Conv::new(sa("10.0.0.2:40220"), sa("203.0.113.83:80"), 1000, 5000);
    c.syn(at(0))
        .syn_ack(at(10))
        .ack_c(at(20))
        .fin_c(at(1000))
        .refin_c(at(1200))
        .ack_s(at(1210))
        .fin_s(at(1300))
        .ack_c(at(1310));
    let mut recs = c.take();
    for i in 0..3u16 {
        let mut c = Conv::new(
            SocketAddr::new([10, 0, 0, 2].into(), 40221 + i),
            sa("203.0.113.84:80"),
            1000,
            5000,
        );
        let t = 100 * u64::from(i);
        c.syn(at(t))
            .syn_ack(at(t + 10))
            .ack_c(at(t + 20))
            .data_s(at(t + 30), 300)
            .fin_s(at(t + 40))
            .rst_c(at(t + 50));
        recs.extend(c.take());
    }
    out.push(("fin_reset_by_local.pcap", pcap_of(&eth, recs)));

    // Orphans killed silently (tcp_orphan_retries=2, Linux 6.x pattern: a
    // tail-loss probe, then RTO retransmissions until the next one is due
    // 2 x the last interval later, when the kernel drops the socket):
    // A (.90): FIN 1000, copies 1200 (probe), 1400, 1800, 2600, killed at
    //   4200; the server closes at 10000 (it never got the FIN) and the
    //   client host answers with a bare RST (seq = the server's ACK).
    // B (.91): the same schedule, nothing afterwards.
    // C (.92): the server closes first (1000), the client ACKs (1010) and
    //   closes at 2000 (LAST-ACK), copies 2200, 2400, 2800, 3600, killed
    //   at 5200.
    // A keeper connection runs to 12 s.
    let mut recs = keeper(40230, 12_000);
    for (port, peer, confirm) in [
        (40231u16, [203, 0, 113, 90], true),
        (40232, [203, 0, 113, 91], false),
    ] {
        let mut c = Conv::new(
            SocketAddr::new([10, 0, 0, 2].into(), port),
            SocketAddr::new(peer.into(), 80),
            1000,
            5000,
        );
        c.syn(at(0))
            .syn_ack(at(10))
            .ack_c(at(20))
            .data_c(at(30), 100)
            .ack_s(at(40));
        c.fin_c(at(1000));
        for t in [1200, 1400, 1800, 2600] {
            c.refin_c(at(t));
        }
        if confirm {
            // The server's FIN acknowledges the data, not the FIN.
            let fin_pos = c.c_next().wrapping_sub(1);
            c.send_acking(at(10_000), Side::Server, FIN | ACK, 0, fin_pos);
            c.raw_c(at(10_000) + 20_000, fin_pos, 0, RST, 0);
        }
        recs.extend(c.take());
    }
    let mut c = Conv::new(sa("10.0.0.2:40233"), sa("203.0.113.92:80"), 1000, 5000);
    c.syn(at(0))
        .syn_ack(at(10))
        .ack_c(at(20))
        .data_s(at(30), 200)
        .ack_c(at(40))
        .fin_s(at(1000))
        .ack_c(at(1010))
        .fin_c(at(2000));
    for t in [2200, 2400, 2800, 3600] {
        c.refin_c(at(t));
    }
    recs.extend(c.take());
    out.push(("orphan_killed.pcap", pcap_of(&eth, recs)));
    out
}

/// Connection kinds of the sample capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Clean close, client first (10 frames).
    Clean,
    /// Clean close, server first (10 frames).
    RemoteFirst,
    /// Client FIN retransmitted twice, ACKed after `ms` (12 frames).
    Slow(u64),
    /// Server RST after the request (5 frames).
    Reset,
    /// Client FIN ACKed, then server data and client RST (10 frames).
    RstAfterFin,
    /// Client FIN retransmitted twice, never ACKed (9 frames).
    Unacked,
    /// Never closed (6 frames).
    Open,
}

/// The gateway sample: a local proxy (10.0.0.2-5) talking to 36 servers.
///
/// 121 connections: 70 clean IPv4 + 12 clean IPv6 (client first), 10
/// server-first, 12 slow (198.51.100.66 x5 ACKing after 4/5/6/7/9 s,
/// .67 x4 after 3/3.5/4/8 s, .68 x3 after 3/4.5/6.5 s), 5 resets, 4 resets
/// after FIN, 4 unacked (203.0.113.99 x3, 2001:db8:100::bad x1), 4 open;
/// plus 10 DNS query/response pairs over UDP. See `testdata/README.md`.
fn sample() -> Vec<u8> {
    let mut rng = Lcg(0x5eed_f1f0);
    let v4 = |i: u64| IpAddr::from([203, 0, 113, 1 + (i % 30) as u8]);
    let v6 = |i: u64| IpAddr::from([0x2001, 0xdb8, 0x100, 0, 0, 0, 0, 1 + (i % 6) as u16]);
    let mut plan: Vec<(Kind, IpAddr)> = Vec::new();
    for i in 0..70 {
        plan.push((Kind::Clean, v4(i)));
    }
    for i in 0..12 {
        plan.push((Kind::Clean, v6(i)));
    }
    for i in 0..10 {
        plan.push((Kind::RemoteFirst, v4(i * 7)));
    }
    let slow: [(u8, &[u64]); 3] = [
        (66, &[4000, 5000, 6000, 7000, 9000]),
        (67, &[3000, 3500, 4000, 8000]),
        (68, &[3000, 4500, 6500]),
    ];
    for (host, delays) in slow {
        for d in delays {
            plan.push((Kind::Slow(*d), IpAddr::from([198, 51, 100, host])));
        }
    }
    for i in 0..5 {
        plan.push((Kind::Reset, v4(i * 3 + 1)));
    }
    for i in 0..4 {
        plan.push((Kind::RstAfterFin, v4(i * 5 + 2)));
    }
    for _ in 0..3 {
        plan.push((Kind::Unacked, IpAddr::from([203, 0, 113, 99])));
    }
    plan.push((
        Kind::Unacked,
        IpAddr::from([0x2001, 0xdb8, 0x100, 0, 0, 0, 0, 0xbad]),
    ));
    for i in 0..4 {
        plan.push((Kind::Open, v4(i * 11 + 3)));
    }
    // Fisher-Yates with the seeded generator.
    for i in (1..plan.len()).rev() {
        let j = rng.range(0, i as u64 + 1) as usize;
        plan.swap(i, j);
    }

    let us = |t: u64| BASE_NS + t * 1000;
    let mut recs = Vec::new();
    for (i, (kind, server_ip)) in plan.iter().enumerate() {
        let i = i as u64;
        let client_ip: IpAddr = match server_ip {
            IpAddr::V4(_) => IpAddr::from([10, 0, 0, 2 + (i % 4) as u8]),
            IpAddr::V6(_) => IpAddr::from([0x2001, 0xdb8, 1, 0, 0, 0, 0, 2]),
        };
        let port = if server_ip.is_ipv4() && i.is_multiple_of(3) {
            80
        } else {
            443
        };
        let client = SocketAddr::new(client_ip, 40_000 + i as u16);
        let server = SocketAddr::new(*server_ip, port);
        let isn_c = rng.range(0, u64::from(u32::MAX)) as u32;
        let isn_s = rng.range(0, u64::from(u32::MAX)) as u32;
        let mut c = Conv::new(client, server, isn_c, isn_s);
        // All times in microseconds from the epoch of the capture.
        let t0 = i * 200_000 + rng.range(0, 100_000);
        let rtt = rng.range(2_000, 80_000);
        let srv = rng.range(1_000, 50_000);
        let req = rng.range(40, 200) as usize;
        let resp = rng.range(100, 500) as usize;
        c.syn(us(t0))
            .syn_ack(us(t0 + rtt))
            .ack_c(us(t0 + rtt + 100));
        if *kind == Kind::Reset {
            c.data_c(us(t0 + rtt + 200), req)
                .rst_s(us(t0 + 2 * rtt + 200));
            recs.extend(c.take());
            continue;
        }
        let t1 = t0 + 2 * rtt + 200 + srv;
        c.data_c(us(t0 + rtt + 200), req)
            .data_s(us(t1), resp)
            .ack_c(us(t1 + 100));
        let h = t1 + rng.range(100_000, 2_000_000);
        match kind {
            Kind::Clean => {
                let jit = rng.range(0, 5_000);
                c.fin_c(us(h))
                    .ack_s(us(h + rtt))
                    .fin_s(us(h + rtt + jit + 100))
                    .ack_c(us(h + rtt + jit + 200));
            }
            Kind::RemoteFirst => {
                let think = rng.range(1_000, 20_000);
                c.fin_s(us(h))
                    .ack_c(us(h + 100))
                    .fin_c(us(h + think))
                    .ack_s(us(h + think + rtt));
            }
            Kind::Slow(d) => {
                let d = d * 1000;
                c.fin_c(us(h))
                    .refin_c(us(h + 200_000))
                    .refin_c(us(h + 600_000))
                    .ack_s(us(h + d))
                    .fin_s(us(h + d + 10_000))
                    .ack_c(us(h + d + 10_100));
            }
            Kind::RstAfterFin => {
                c.fin_c(us(h))
                    .ack_s(us(h + rtt))
                    .data_s(us(h + rtt + 5_000), 100)
                    .rst_c(us(h + rtt + 5_100));
            }
            Kind::Unacked => {
                c.fin_c(us(h))
                    .refin_c(us(h + 200_000))
                    .refin_c(us(h + 600_000));
            }
            Kind::Open | Kind::Reset => {}
        }
        recs.extend(c.take());
    }
    // DNS lookups by the proxy, every 2.5 s.
    let dns = sa("192.0.2.53:53");
    for i in 0..10u16 {
        let q = SocketAddr::new([10, 0, 0, 2].into(), 5300 + i);
        let t = u64::from(i) * 2_500_000 + 50_000;
        let name = format!("host{i}.example.net");
        let answer = Ipv4Addr::new(203, 0, 113, 1 + i as u8);
        let query = dns_message(0x1000 + i, &name, None);
        let reply = dns_message(0x1000 + i, &name, Some(answer));
        for (ts, src, dst, msg) in [(t, q, dns, query), (t + 8_000, dns, q, reply)] {
            let ip = udp_packet_with(src, dst, &msg, i);
            recs.push(Record {
                ts_ns: us(ts),
                iface: 0,
                data: Link::Ethernet.wrap(&ip, mac_of(src.ip()), mac_of(dst.ip()), false),
            });
        }
    }
    pcap_of(&Link::Ethernet, recs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{LinkExtSlice, NetSlice, SlicedPacket, TransportSlice};
    use pcap_parser::pcapng::Block;
    use pcap_parser::{
        parse_block_be, parse_block_le, parse_pcap_frame, parse_pcap_frame_be, parse_pcap_header,
    };

    fn tcp_of<'a>(p: &'a SlicedPacket<'a>) -> &'a etherparse::TcpSlice<'a> {
        match &p.transport {
            Some(TransportSlice::Tcp(t)) => t,
            other => panic!("expected TCP, got {other:?}"),
        }
    }

    fn conv4() -> Conv {
        Conv::new(sa("10.0.0.2:40000"), sa("203.0.113.10:80"), 1000, 5000)
    }

    // ---- frames ------------------------------------------------------------

    #[test]
    fn ipv4_tcp_fields_and_checksums() {
        let mut seg = Tcp::new(sa("10.0.0.2:40000"), sa("203.0.113.10:80"), 7, 9, SYN);
        seg.options = mss_option(1460);
        seg.payload_len = 5;
        let ip = ip_packet(&seg, 42, Ip6Ext::None);
        let p = SlicedPacket::from_ip(&ip).expect("parse");
        let Some(NetSlice::Ipv4(v4)) = &p.net else {
            panic!("not ipv4")
        };
        let h = v4.header();
        assert_eq!(h.total_len() as usize, ip.len());
        assert_eq!(h.identification(), 42);
        let hdr = h.to_header();
        assert_eq!(hdr.header_checksum, hdr.calc_header_checksum());
        let t = tcp_of(&p);
        assert_eq!((t.source_port(), t.destination_port()), (40000, 80));
        assert_eq!((t.sequence_number(), t.acknowledgment_number()), (7, 9));
        assert!(t.syn() && !t.ack() && !t.fin());
        assert_eq!(t.options(), &[2, 4, 0x05, 0xb4]);
        assert_eq!(t.payload(), b"abcde");
        let want = t
            .calc_checksum_ipv4(h.source(), h.destination())
            .expect("checksum");
        assert_eq!(t.checksum(), want);
    }

    #[test]
    fn ipv6_extension_headers() {
        for (ext, nh) in [
            (Ip6Ext::None, 6u8),
            (Ip6Ext::HopByHop, 0),
            (Ip6Ext::DestOpts, 60),
        ] {
            let mut seg = Tcp::new(
                sa("[2001:db8::1]:1234"),
                sa("[2001:db8::2]:443"),
                1,
                2,
                FIN | ACK,
            );
            seg.payload_len = 3;
            let ip = ip_packet(&seg, 0, ext);
            assert_eq!(ip[6], nh, "{ext:?}");
            let p = SlicedPacket::from_ip(&ip).expect("parse");
            let Some(NetSlice::Ipv6(v6)) = &p.net else {
                panic!("not ipv6")
            };
            assert_eq!(v6.header().payload_length() as usize, ip.len() - 40);
            let t = tcp_of(&p);
            assert!(t.fin() && t.ack());
            assert_eq!(t.payload().len(), 3);
            let want = t
                .calc_checksum_ipv6(v6.header().source(), v6.header().destination())
                .expect("checksum");
            assert_eq!(t.checksum(), want);
        }
    }

    #[test]
    fn ethernet_and_stacked_vlan() {
        let mut c = conv4();
        c.syn(1);
        let f = &c.records[0].data;
        assert_eq!(&f[12..14], &[0x08, 0x00]);
        let p = SlicedPacket::from_ethernet(f).expect("eth");
        assert!(tcp_of(&p).syn());

        let mut c = conv4().link(Link::Vlan(vec![100, 200]));
        c.syn(1);
        let f = &c.records[0].data;
        assert_eq!(&f[12..14], &[0x88, 0xa8]);
        assert_eq!(&f[16..18], &[0x81, 0x00]);
        let p = SlicedPacket::from_ethernet(f).expect("vlan");
        let ids: Vec<u16> = p
            .link_exts
            .iter()
            .filter_map(|e| match e {
                LinkExtSlice::Vlan(v) => Some(v.vlan_identifier().value()),
                _ => None,
            })
            .collect();
        assert_eq!(ids, vec![100, 200]);
        assert_eq!(tcp_of(&p).sequence_number(), 1000);

        let mut c = conv4().link(Link::Vlan(vec![7]));
        c.syn(1);
        assert_eq!(&c.records[0].data[12..14], &[0x81, 0x00]);
    }

    #[test]
    fn pppoe_session() {
        for (server, ppp) in [
            ("203.0.113.10:80", [0x00, 0x21]),
            ("[2001:db8::2]:80", [0x00, 0x57]),
        ] {
            let client = if ppp[1] == 0x21 {
                "10.0.0.2:1"
            } else {
                "[2001:db8::1]:1"
            };
            let mut c = Conv::new(sa(client), sa(server), 1, 2).link(Link::Pppoe(0x1234));
            c.syn(1);
            let f = &c.records[0].data;
            assert_eq!(&f[12..14], &[0x88, 0x64]);
            assert_eq!(&f[14..16], &[0x11, 0x00]);
            assert_eq!(&f[16..18], &[0x12, 0x34]);
            let len = u16::from_be_bytes([f[18], f[19]]) as usize;
            assert_eq!(len, f.len() - 20);
            assert_eq!(&f[20..22], &ppp);
            let p = SlicedPacket::from_ip(&f[22..]).expect("ip");
            assert!(tcp_of(&p).syn());
        }
    }

    #[test]
    fn linux_sll_and_sll2() {
        let mut c = conv4().link(Link::Sll);
        c.syn(1).syn_ack(2);
        let f = &c.records[0].data;
        assert_eq!(&f[0..2], &[0, 4], "client segments are outgoing");
        assert_eq!(&c.records[1].data[0..2], &[0, 0]);
        assert_eq!(&f[14..16], &[0x08, 0x00]);
        let p = SlicedPacket::from_linux_sll(f).expect("sll");
        assert!(tcp_of(&p).syn());

        let mut c = Conv::new(sa("[2001:db8::1]:1"), sa("[2001:db8::2]:2"), 1, 2).link(Link::Sll2);
        c.syn(1);
        let f = &c.records[0].data;
        assert_eq!(&f[0..2], &[0x86, 0xdd]);
        assert_eq!(f[10], 4);
        assert_eq!(f[11], 6);
        let p = SlicedPacket::from_ip(&f[20..]).expect("ip");
        assert!(tcp_of(&p).syn());
    }

    #[test]
    fn raw_null_loop() {
        for link in [Link::Raw, Link::RawIpv4] {
            let mut c = conv4().link(link);
            c.syn(1);
            assert_eq!(c.records[0].data[0], 0x45);
        }
        let mut c = conv4().link(Link::Null);
        c.syn(1);
        assert_eq!(&c.records[0].data[0..4], &[2, 0, 0, 0]);
        let mut c = Conv::new(sa("[2001:db8::1]:1"), sa("[2001:db8::2]:2"), 1, 2).link(Link::Null);
        c.syn(1);
        assert_eq!(&c.records[0].data[0..4], &[30, 0, 0, 0]);
        let mut c = conv4().link(Link::Loop);
        c.syn(1);
        assert_eq!(&c.records[0].data[0..4], &[0, 0, 0, 2]);
        let p = SlicedPacket::from_ip(&c.records[0].data[4..]).expect("ip");
        assert!(tcp_of(&p).syn());
        assert_eq!(Link::Loop.linktype(), 108);
        assert_eq!(Link::Sll2.linktype(), 276);
        assert_eq!(Link::RawIpv6.linktype(), 229);
    }

    #[test]
    fn udp_icmp_arp() {
        let ip = udp_packet(sa("10.0.0.2:5300"), sa("192.0.2.53:53"), 40, 1);
        let p = SlicedPacket::from_ip(&ip).expect("udp");
        assert!(matches!(p.transport, Some(TransportSlice::Udp(_))));
        let icmp = icmp4_unreachable(
            Ipv4Addr::new(192, 0, 2, 1),
            Ipv4Addr::new(10, 0, 0, 2),
            1,
            &ip,
        );
        assert_eq!(icmp[9], 1);
        assert_eq!(fold(ones_sum(0, &icmp[20..])), 0, "ICMP checksum verifies");
        assert_eq!(&icmp[28..], &ip[..]);
        let arp = arp_frame(Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(arp.len(), 42);
        assert_eq!(&arp[12..14], &[0x08, 0x06]);
    }

    // ---- conversations ------------------------------------------------------

    fn parsed(c: &Conv) -> Vec<(u32, u32, u8, usize)> {
        c.records
            .iter()
            .map(|r| {
                let p = SlicedPacket::from_ethernet(&r.data).expect("eth");
                let t = tcp_of(&p);
                (
                    t.sequence_number(),
                    t.acknowledgment_number(),
                    t.slice()[13],
                    t.payload().len(),
                )
            })
            .collect()
    }

    #[test]
    fn conv_tracks_sequence_numbers() {
        let mut c = conv4();
        c.syn(0)
            .syn_ack(1)
            .ack_c(2)
            .data_c(3, 100)
            .ack_s(4)
            .fin_c(5)
            .refin_c(6)
            .ack_s(7)
            .fin_s(8)
            .ack_c(9)
            .rst_c(10);
        let want = vec![
            (1000, 0, SYN, 0),
            (5000, 1001, SYN | ACK, 0),
            (1001, 5001, ACK, 0),
            (1001, 5001, PSH | ACK, 100),
            (5001, 1101, ACK, 0),
            (1101, 5001, FIN | ACK, 0),
            (1101, 5001, FIN | ACK, 0),
            (5001, 1102, ACK, 0),
            (5001, 1102, FIN | ACK, 0),
            (1102, 5002, ACK, 0),
            (1102, 5002, RST | ACK, 0),
        ];
        assert_eq!(parsed(&c), want);
        let ts: Vec<u64> = c.records.iter().map(|r| r.ts_ns).collect();
        assert_eq!(ts, (0..11).collect::<Vec<_>>());
    }

    #[test]
    fn conv_fin_with_data_wraps_and_raw() {
        let mut c = Conv::new(sa("10.0.0.2:1"), sa("10.0.0.3:2"), 0xffff_fff0, 7);
        c.syn(0).fin_data_c(1, 20).refin_c(2);
        c.raw_s(3, 99, 98, RST, 0);
        c.send_acking(4, Side::Server, FIN | ACK, 0, 0xffff_fff1);
        let got = parsed(&c);
        assert_eq!(got[1], (0xffff_fff1, 7, FIN | PSH | ACK, 20));
        // FIN position = 0xfffffff1 + 20 = 0x00000005 (wrapped).
        assert_eq!(got[2], (5, 7, FIN | ACK, 0));
        assert_eq!(got[3], (99, 98, RST, 0));
        assert_eq!(got[4], (7, 0xffff_fff1, FIN | ACK, 0));
        assert_eq!(c.c_next(), 6);
        assert_eq!(c.s_next(), 8);
    }

    // ---- writers -------------------------------------------------------------

    fn records() -> Vec<Record> {
        let mut c = conv4();
        c.syn(BASE_NS + 1_234_567_891)
            .syn_ack(BASE_NS + 2 * SEC)
            .data_c(BASE_NS + 3 * SEC, 200);
        c.take()
    }

    #[test]
    fn pcap_le_micro_roundtrip() {
        let recs = records();
        let mut out = Vec::new();
        write_pcap(&mut out, 1, &recs, &PcapOpts::default()).expect("write");
        let (mut rest, h) = parse_pcap_header(&out).expect("header");
        assert_eq!(h.magic_number, 0xa1b2_c3d4);
        assert!(!h.is_bigendian() && !h.is_nanosecond_precision());
        assert_eq!((h.snaplen, h.network.0), (65535, 1));
        let (r, f) = parse_pcap_frame(rest).expect("frame");
        rest = r;
        assert_eq!(f.ts_sec, 1_700_000_001);
        assert_eq!(f.ts_usec, 234_567);
        assert_eq!(f.data, &recs[0].data[..]);
        let mut n = 1;
        while !rest.is_empty() {
            let (r, _) = parse_pcap_frame(rest).expect("frame");
            rest = r;
            n += 1;
        }
        assert_eq!(n, 3);
    }

    #[test]
    fn pcap_be_nanos_and_snaplen() {
        let recs = records();
        let opts = PcapOpts {
            big_endian: true,
            nanos: true,
            snaplen: 64,
        };
        let out = pcap_bytes(113, &recs, &opts);
        assert_eq!(&out[0..4], &[0xa1, 0xb2, 0x3c, 0x4d]);
        let (mut rest, h) = parse_pcap_header(&out).expect("header");
        assert!(h.is_bigendian() && h.is_nanosecond_precision());
        assert_eq!((h.snaplen, h.network.0), (64, 113));
        let mut frames = Vec::new();
        while !rest.is_empty() {
            let (r, f) = parse_pcap_frame_be(rest).expect("frame");
            rest = r;
            frames.push((f.ts_sec, f.ts_usec, f.caplen, f.origlen));
        }
        assert_eq!(frames[0], (1_700_000_001, 234_567_891, 58, 58));
        let full = recs[2].data.len() as u32;
        assert_eq!(frames[2], (1_700_000_003, 0, 64, full));
    }

    #[test]
    fn truncated_tail() {
        let out = pcap_bytes(1, &records(), &PcapOpts::default());
        let (cut, start) = cut_last_record(&out, false);
        assert!(cut.len() > start + 16 && cut.len() < out.len());
        let (mut rest, _) = parse_pcap_header(&cut).expect("header");
        let mut n = 0;
        loop {
            match parse_pcap_frame(rest) {
                Ok((r, _)) => {
                    rest = r;
                    n += 1;
                }
                Err(pcap_parser::nom::Err::Incomplete(_)) => break,
                Err(e) => panic!("{e:?}"),
            }
        }
        assert_eq!(n, 2);
        assert_eq!(cut.len() - rest.len(), start);
    }

    fn ng_opts(big_endian: bool) -> PcapngOpts {
        PcapngOpts {
            big_endian,
            interfaces: vec![
                Interface {
                    linktype: 1,
                    snaplen: 0,
                    tsresol: None,
                },
                Interface {
                    linktype: 101,
                    snaplen: 60,
                    tsresol: Some(9),
                },
            ],
            extras: vec![
                (
                    1,
                    Extra::Simple(arp_frame(
                        Ipv4Addr::new(1, 2, 3, 4),
                        Ipv4Addr::new(1, 2, 3, 5),
                    )),
                ),
                (
                    9,
                    Extra::Unknown {
                        block_type: 0x8000_0f15,
                        body: vec![1, 2, 3],
                    },
                ),
            ],
        }
    }

    fn ng_records() -> Vec<Record> {
        let mut recs = records();
        let mut c = conv4().link(Link::Raw).iface(1);
        c.syn(BASE_NS + 5 * SEC + 7).data_c(BASE_NS + 6 * SEC, 300);
        recs.extend(c.take());
        recs
    }

    fn check_pcapng(out: &[u8], be: bool) {
        let parse = if be { parse_block_be } else { parse_block_le };
        let mut rest = out;
        let mut kinds = Vec::new();
        while !rest.is_empty() {
            let (r, b) = parse(rest).expect("block");
            rest = r;
            match b {
                Block::SectionHeader(s) => {
                    assert_eq!(s.section_len, -1);
                    kinds.push("shb".to_string());
                }
                Block::InterfaceDescription(i) => {
                    kinds.push(format!("idb{}/{}", i.linktype.0, i.if_tsresol));
                }
                Block::EnhancedPacket(e) => {
                    let ts = (u64::from(e.ts_high) << 32) | u64::from(e.ts_low);
                    kinds.push(format!("epb{}:{}:{}/{}", e.if_id, ts, e.caplen, e.origlen));
                }
                Block::SimplePacket(s) => kinds.push(format!("spb{}", s.origlen)),
                Block::Unknown(u) => {
                    // pcap-parser 0.17 always reads the type of an unknown
                    // block little-endian, so it is byte-swapped in BE sections.
                    let ty = if be {
                        u.block_type.swap_bytes()
                    } else {
                        u.block_type
                    };
                    kinds.push(format!("unknown{ty:#x}"));
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        let r = ng_records();
        let l = |i: usize| r[i].data.len();
        let want = vec![
            "shb".to_string(),
            "idb1/6".to_string(),
            "idb101/9".to_string(),
            format!(
                "epb0:{}:{}/{}",
                (BASE_NS + 1_234_567_891) / 1000,
                l(0),
                l(0)
            ),
            "spb42".to_string(),
            format!("epb0:{}:{}/{}", (BASE_NS + 2 * SEC) / 1000, l(1), l(1)),
            format!("epb0:{}:{}/{}", (BASE_NS + 3 * SEC) / 1000, l(2), l(2)),
            format!("epb1:{}:{}/{}", BASE_NS + 5 * SEC + 7, l(3), l(3)),
            format!("epb1:{}:60/{}", BASE_NS + 6 * SEC, l(4)),
            "unknown0x80000f15".to_string(),
        ];
        assert_eq!(kinds, want);
    }

    #[test]
    fn pcapng_le_and_be() {
        for be in [false, true] {
            let mut out = Vec::new();
            write_pcapng(&mut out, &ng_records(), &ng_opts(be)).expect("write");
            let bom = if be {
                [0x1a, 0x2b, 0x3c, 0x4d]
            } else {
                [0x4d, 0x3c, 0x2b, 0x1a]
            };
            assert_eq!(&out[8..12], &bom);
            check_pcapng(&out, be);
        }
    }

    // ---- fixtures ----------------------------------------------------------

    #[test]
    fn fixtures_are_deterministic_and_parse() {
        let a = fixtures();
        let b = fixtures();
        assert_eq!(a, b);
        let mut names: Vec<_> = a.iter().map(|(n, _)| *n).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), a.len(), "unique names");
        for (name, bytes) in &a {
            if name.ends_with(".pcapng") {
                let mut rest = &bytes[..];
                while !rest.is_empty() {
                    let (r, _) = parse_block_le(rest).unwrap_or_else(|e| panic!("{name}: {e:?}"));
                    rest = r;
                }
                continue;
            }
            let (mut rest, h) =
                parse_pcap_header(bytes).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            let mut last_ts = (0, 0);
            loop {
                let res = if h.is_bigendian() {
                    parse_pcap_frame_be(rest)
                } else {
                    parse_pcap_frame(rest)
                };
                match res {
                    Ok((r, f)) => {
                        assert!((f.ts_sec, f.ts_usec) >= last_ts, "{name}: time order");
                        last_ts = (f.ts_sec, f.ts_usec);
                        rest = r;
                        if rest.is_empty() {
                            break;
                        }
                    }
                    Err(pcap_parser::nom::Err::Incomplete(_)) if *name == "truncated_tail.pcap" => {
                        break;
                    }
                    Err(e) => panic!("{name}: {e:?}"),
                }
            }
            assert!(bytes.len() < 200_000, "{name} is {} bytes", bytes.len());
        }
    }

    #[test]
    fn sample_has_expected_shape() {
        let all = fixtures();
        let sample = all
            .iter()
            .find(|(n, _)| *n == "sample.pcap")
            .map(|(_, b)| b)
            .expect("sample present");
        let (mut rest, _) = parse_pcap_header(sample).expect("header");
        let (mut frames, mut tcp, mut syn, mut fin, mut rst, mut pure) = (0, 0, 0, 0, 0, 0);
        while !rest.is_empty() {
            let (r, f) = parse_pcap_frame(rest).expect("frame");
            rest = r;
            frames += 1;
            let p = SlicedPacket::from_ethernet(f.data).expect("eth");
            if let Some(TransportSlice::Tcp(t)) = &p.transport {
                tcp += 1;
                syn += usize::from(t.syn());
                fin += usize::from(t.fin());
                rst += usize::from(t.rst());
                pure += usize::from(
                    t.ack() && !t.syn() && !t.fin() && !t.rst() && t.payload().is_empty(),
                );
            }
        }
        // Hand-computed in testdata/README.md.
        assert_eq!(
            (frames, tcp, syn, fin, rst, pure),
            (1209, 1189, 242, 248, 9, 449)
        );
    }
}
