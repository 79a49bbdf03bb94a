//! Link layers and tunnels added for everyday captures: Cisco HDLC
//! (link type 104), Linux NFLOG (239, both byte orders of its attributes)
//! and L2TPv2 data messages over UDP 1701 (PPP inside; optional length,
//! sequence numbers and offset). Each carries a 4-way close of 7 segments:
//! one complete connection, every segment decoded: tshark 4.0 counts the
//! same on these captures (7 TCP segments, 2 FINs, 1 stream each;
//! `FINSCOPE_LINKS_OUT=dir` keeps them to check again).

use finscope::report::Report;
use finscope_testkit::cli;
use finscope_testkit::synth::{Conv, PcapOpts, Record, udp_packet_with, write_pcap};

/// The IP packets of a 4-way close (Ethernet stripped).
fn close_ip_packets() -> Vec<(u64, Vec<u8>)> {
    let ms = 1_000_000u64;
    let t = 1_700_000_000_000 * ms;
    let mut c = Conv::new(
        "10.0.0.1:40000".parse().expect("addr"),
        "192.0.2.7:443".parse().expect("addr"),
        100,
        500,
    );
    c.syn(t).syn_ack(t + ms).ack_c(t + 2 * ms);
    c.fin_c(t + 10 * ms).ack_s(t + 11 * ms);
    c.fin_s(t + 20 * ms).ack_c(t + 21 * ms);
    c.records
        .iter()
        .map(|r| (r.ts_ns, r.data[14..].to_vec()))
        .collect()
}

fn analyze(linktype: u32, frames: Vec<(u64, Vec<u8>)>) -> Report {
    analyze_with(linktype, frames, &PcapOpts::default())
}

fn analyze_with(linktype: u32, frames: Vec<(u64, Vec<u8>)>, opts: &PcapOpts) -> Report {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("x.pcap");
    let records: Vec<Record> = frames
        .into_iter()
        .map(|(ts_ns, data)| Record {
            ts_ns,
            iface: 0,
            data,
        })
        .collect();
    let mut f = std::fs::File::create(&path).expect("create");
    write_pcap(&mut f, linktype, &records, opts).expect("write");
    drop(f);
    // To cross-check with tshark: FINSCOPE_LINKS_OUT=dir keeps the captures.
    if let Ok(keep) = std::env::var("FINSCOPE_LINKS_OUT") {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("link{linktype}-{n}.pcap");
        std::fs::copy(&path, std::path::Path::new(&keep).join(name)).expect("keep");
    }
    let out = cli::cmd()
        .args(["analyze", "--json", "-q"])
        .arg(&path)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("report")
}

fn assert_one_close(r: &Report, frames: u64, name: &str) {
    assert_eq!(r.packets.frames, frames, "{name}");
    assert_eq!(r.packets.tcp, 7, "{name}");
    assert_eq!(r.packets.fin, 2, "{name}");
    assert_eq!(r.connections.total, 1, "{name}");
    assert_eq!(r.outcomes.complete, 1, "{name}");
    assert!(!r.capture.no_tcp, "{name}");
    let l = &r.capture.link_types[0];
    assert!(l.supported, "{name}");
}

#[test]
fn cisco_hdlc() {
    let frames = close_ip_packets()
        .into_iter()
        .map(|(t, ip)| (t, [&[0x0f, 0x00, 0x08, 0x00][..], &ip].concat()))
        .collect();
    let r = analyze(104, frames);
    assert_one_close(&r, 7, "C_HDLC");
    assert_eq!(r.capture.link_types[0].name, "C_HDLC");
}

/// An NFLOG attribute: length (header included), type, value, padding.
fn tlv(le: bool, ty: u16, value: &[u8]) -> Vec<u8> {
    let len = (4 + value.len()) as u16;
    let mut v = Vec::new();
    if le {
        v.extend_from_slice(&len.to_le_bytes());
        v.extend_from_slice(&ty.to_le_bytes());
    } else {
        v.extend_from_slice(&len.to_be_bytes());
        v.extend_from_slice(&ty.to_be_bytes());
    }
    v.extend_from_slice(value);
    while v.len() % 4 != 0 {
        v.push(0);
    }
    v
}

/// NFLOG attributes are in the capturing host's byte order, which the
/// file's header records (libpcap and tshark swap them by it): both orders.
#[test]
fn nflog_both_byte_orders() {
    for le in [true, false] {
        let frames = close_ip_packets()
            .into_iter()
            .map(|(t, ip)| {
                let mut f = vec![2, 0, 0, 1]; // AF_INET, version 0, resource 1
                f.extend(tlv(le, 1, &[0x08, 0x00, 3, 0])); // NFULA_PACKET_HDR
                f.extend(tlv(le, 10, b"fin\0\0")); // NFULA_PREFIX, padded
                f.extend(tlv(le, 9, &ip)); // NFULA_PAYLOAD
                (t, f)
            })
            .collect();
        let opts = PcapOpts {
            big_endian: !le,
            ..PcapOpts::default()
        };
        let r = analyze_with(239, frames, &opts);
        assert_one_close(&r, 7, "NFLOG");
        assert_eq!(r.capture.link_types[0].name, "NFLOG");
    }
}

/// IPv4/UDP from 1701 to 1701 around `payload`.
fn udp_l2tp(payload: &[u8]) -> Vec<u8> {
    udp_packet_with(
        "203.0.113.1:1701".parse().expect("addr"),
        "203.0.113.2:1701".parse().expect("addr"),
        payload,
        1,
    )
}

#[test]
fn l2tpv2_data_messages_with_ppp_inside() {
    let eth = |ip: Vec<u8>| [&[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00][..], &ip].concat();
    let mut frames: Vec<(u64, Vec<u8>)> = close_ip_packets()
        .into_iter()
        .enumerate()
        .map(|(i, (t, ip))| {
            // Alternate the optional fields: plain; length + Ns/Nr; offset.
            let l2tp: Vec<u8> = match i % 3 {
                0 => vec![0x00, 0x02, 0x12, 0x34, 0x56, 0x78],
                1 => {
                    let len = (2 + 2 + 4 + 4 + 4 + ip.len()) as u16;
                    let mut h = vec![0x48, 0x02];
                    h.extend_from_slice(&len.to_be_bytes());
                    h.extend_from_slice(&[0x12, 0x34, 0x56, 0x78, 0, 1, 0, 2]);
                    h
                }
                _ => vec![0x02, 0x02, 0x12, 0x34, 0x56, 0x78, 0x00, 0x02, 0xaa, 0xbb],
            };
            // PPP: address/control, protocol 0x0021 (IPv4).
            let ppp = [&[0xff, 0x03, 0x00, 0x21][..], &ip].concat();
            (t, eth(udp_l2tp(&[l2tp, ppp].concat())))
        })
        .collect();
    // A control message (T bit): not TCP.
    let t = frames[0].0;
    frames.insert(
        0,
        (
            t,
            eth(udp_l2tp(&[0xc8, 0x02, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0])),
        ),
    );
    let r = analyze(1, frames);
    assert_one_close(&r, 8, "L2TPv2");
}

#[test]
fn l2tpv2_over_pppoe() {
    // Ethernet -> PPPoE session (0x8864) -> PPP IPv4 -> UDP 1701 -> L2TPv2
    // -> PPP (protocol field only, address/control left out) -> IPv4 -> TCP.
    let pppoe = |ip: Vec<u8>| {
        let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x88, 0x64];
        f.extend_from_slice(&[0x11, 0x00, 0x00, 0x07]);
        f.extend_from_slice(&((ip.len() + 2) as u16).to_be_bytes());
        f.extend_from_slice(&[0x00, 0x21]);
        f.extend_from_slice(&ip);
        f
    };
    let frames: Vec<(u64, Vec<u8>)> = close_ip_packets()
        .into_iter()
        .map(|(t, ip)| {
            let inner = [&[0x00, 0x02, 0x12, 0x34, 0x56, 0x78, 0x00, 0x21][..], &ip].concat();
            (t, pppoe(udp_l2tp(&inner)))
        })
        .collect();
    let r = analyze(1, frames);
    assert_one_close(&r, 7, "L2TPv2 over PPPoE");
}
