//! Arbitrary bytes as one frame of a link type.
//!
//! Input: byte 0 picks the link type (one finscope decodes, mostly; else
//! bytes 0-1 as a raw 16-bit link type), the rest is the frame.
//!
//! Checked: no panic; decoding is a pure function of its input; a segment's
//! payload length is one the IP header can state (at most 65535 bytes of
//! IP payload, or the captured bytes for an IPv6 jumbogram); the timestamp
//! and frame number are passed through; the same bytes as raw IP, behind
//! an Ethernet header, a VLAN tag or a Linux SLL header decode to the same
//! segment (with the VLAN id).
#![no_main]

use finscope::decode::{self, Skip, linktype as lt};
use libfuzzer_sys::fuzz_target;

const LINKS: [u16; 10] = [
    lt::ETHERNET,
    lt::RAW,
    lt::LINUX_SLL,
    lt::LINUX_SLL2,
    lt::NULL,
    lt::LOOP,
    lt::IPV4,
    lt::IPV6,
    lt::DLT_RAW_12,
    lt::DLT_RAW_14,
];

fn wrapped(header: &[u8], ip: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(header.len() + ip.len());
    v.extend_from_slice(header);
    v.extend_from_slice(ip);
    v
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let (link, frame) = if data[0] < 0xF0 {
        (LINKS[usize::from(data[0]) % LINKS.len()], &data[1..])
    } else {
        (u16::from_be_bytes([data[0] & 0x0f, data[1]]), &data[2..])
    };
    let ts = 1_700_000_000_123_456_789u64 ^ u64::from(data[0]);
    let got = decode::decode(link, frame, ts, 42);
    assert_eq!(
        got,
        decode::decode(link, frame, ts, 42),
        "not deterministic"
    );
    match got {
        Ok(seg) => {
            assert_eq!((seg.ts_ns, seg.frame), (ts, 42));
            let most = 65_535u64.max(frame.len() as u64);
            assert!(
                u64::from(seg.payload_len) <= most,
                "payload {} from a {}-byte frame",
                seg.payload_len,
                frame.len()
            );
            assert!(
                seg.src.is_ipv4() == seg.dst.is_ipv4(),
                "mixed address families"
            );
        }
        Err(Skip::UnknownLinkType) => {
            assert!(!LINKS.contains(&link), "link type {link} not decoded");
        }
        Err(_) => {}
    }

    // Raw IP behind other link layers: the same segment.
    if link == lt::RAW {
        let raw = decode::decode(lt::RAW, frame, ts, 42);
        let eth = wrapped(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00], frame);
        assert_eq!(
            decode::decode(lt::ETHERNET, &eth, ts, 42),
            raw,
            "behind Ethernet"
        );
        let vlan = wrapped(
            &[
                0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x81, 0x00, 0x20, 0x07, 0x86, 0xdd,
            ],
            frame,
        );
        // The tag's id comes first (outer << 12 | inner, for tags inside
        // a tunnel); the rest of the segment is the same.
        let tagged = decode::decode(lt::ETHERNET, &vlan, ts, 42);
        match (&tagged, &raw) {
            (Ok(t), Ok(r)) => {
                if r.vlan == 0 {
                    assert_eq!(t.vlan, 7, "VLAN id");
                }
                assert_eq!(
                    Ok(decode::Segment { vlan: r.vlan, ..*t }),
                    raw,
                    "behind a VLAN tag"
                );
            }
            _ => assert_eq!(tagged, raw, "behind a VLAN tag"),
        }
        let sll = wrapped(
            &[0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00],
            frame,
        );
        assert_eq!(
            decode::decode(lt::LINUX_SLL, &sll, ts, 42),
            raw,
            "behind SLL"
        );
        if let Ok(seg) = raw {
            let mut plain = decode::decode_ip(frame).expect("decode_ip agrees with RAW");
            plain.ts_ns = seg.ts_ns;
            plain.frame = seg.frame;
            // decode_ip has no VLAN ids (not even those inside a tunnel).
            plain.vlan = seg.vlan;
            assert_eq!(plain, seg, "decode_ip");
        }
    }
});
