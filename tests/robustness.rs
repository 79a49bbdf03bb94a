//! Bad input never panics: arbitrary bytes through the decoder and the
//! reader, and arbitrary segments through a shard, as property tests.
//! A capture cut anywhere yields exactly the records wholly before the cut.
//!
//! Failing property cases are saved to `tests/proptest-regressions/robustness.txt`
//! (commit that file: proptest replays its seeds first on every run).

use finscope::capture::{CaptureError, CaptureReader, Status};
use finscope::decode::seq::SeqNum;
use finscope::decode::{self, Segment, linktype};
use finscope::flow::{FlowConfig, Shard};
use finscope::metrics::ShardMetrics;
use finscope::metrics::timeline::TimelineConfig;
use finscope_testkit::props;
use proptest::prelude::*;
use std::path::{Path, PathBuf};

const LINKS: [u16; 10] = [
    linktype::NULL,
    linktype::ETHERNET,
    linktype::DLT_RAW_12,
    linktype::RAW,
    linktype::LOOP,
    linktype::LINUX_SLL,
    linktype::IPV4,
    linktype::IPV6,
    linktype::LINUX_SLL2,
    999,
];

/// How reading an input ended.
#[derive(Debug)]
enum End {
    /// The reader refused the file header.
    Header(CaptureError),
    /// The input ended cleanly after its last record.
    Clean,
    /// Reading stopped early (truncation or damage).
    Stopped(CaptureError),
}

/// What reading an input gave.
struct Outcome {
    /// `CaptureReader::records()` at the end.
    records: u64,
    /// Frame numbers of every frame handed out, in order.
    numbers: Vec<u64>,
    end: End,
}

/// Reads everything, decoding every frame, bounded by a guard.
fn read_input(bytes: &[u8]) -> Outcome {
    let mut r = match CaptureReader::with_buffer(bytes, Path::new("fuzz"), 65_536) {
        Ok(r) => r,
        Err(e) => {
            return Outcome {
                records: 0,
                numbers: Vec::new(),
                end: End::Header(e),
            };
        }
    };
    let mut frames = Vec::new();
    let mut numbers = Vec::new();
    for _ in 0..10_000 {
        let st = r.next_batch(&mut frames);
        for f in &frames {
            let d = r
                .data()
                .get(f.off as usize..(f.off + f.caplen) as usize)
                .expect("frame inside the buffer");
            let _ = decode::decode(f.link, d, f.ts_ns, f.number);
            numbers.push(f.number);
        }
        let end = match st {
            Status::More => continue,
            Status::End => End::Clean,
            Status::Stopped(e) => End::Stopped(e),
        };
        return Outcome {
            records: r.records(),
            numbers,
            end,
        };
    }
    panic!("reader did not finish");
}

/// Reads everything; returns the number of records, after checking that
/// the frames handed out are exactly records 1..=n.
fn read_all(bytes: &[u8]) -> u64 {
    let o = read_input(bytes);
    let want: Vec<u64> = (1..=o.records).collect();
    assert_eq!(
        o.numbers, want,
        "frames handed out vs records() = {}",
        o.records
    );
    o.records
}

fn pcap_header(link: u32, be: bool) -> Vec<u8> {
    let w = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
    let mut v = Vec::new();
    v.extend_from_slice(&w(0xa1b2_c3d4));
    v.extend_from_slice(&if be { [0, 2, 0, 4] } else { [2, 0, 4, 0] });
    v.extend_from_slice(&[0; 8]);
    v.extend_from_slice(&w(65535));
    v.extend_from_slice(&w(link));
    v
}

proptest! {
    #![proptest_config(props::config("robustness", 512))]

    #[test]
    fn decoder_never_panics(link in prop::sample::select(LINKS.to_vec()),
                            bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode::decode(link, &bytes, 0, 1);
    }

    #[test]
    fn reader_never_panics_on_pcap_bodies(link in prop::sample::select(LINKS.to_vec()),
                                          be in any::<bool>(),
                                          body in prop::collection::vec(any::<u8>(), 0..600)) {
        let mut f = pcap_header(u32::from(link), be);
        f.extend_from_slice(&body);
        read_all(&f);
    }

    #[test]
    fn reader_never_panics_on_pcapng_bodies(body in prop::collection::vec(any::<u8>(), 0..600)) {
        // A valid section header, then arbitrary blocks.
        let mut f = vec![0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0];
        f.extend_from_slice(&[0xff; 8]);
        f.extend_from_slice(&[28, 0, 0, 0]);
        f.extend_from_slice(&body);
        read_all(&f);
    }

    #[test]
    fn shard_takes_any_segment_sequence(segs in prop::collection::vec(
        (0u64..2_000_000_000_000, any::<bool>(), any::<u8>(), any::<u32>(), any::<u32>(), 0u32..3000), 0..60)) {
        let mut shard = Shard::new(FlowConfig::default(), ShardMetrics::new(TimelineConfig::default(), true));
        let mut last = 0;
        for (i, (t, dir, flags, seq, ack, len)) in segs.into_iter().enumerate() {
            let (a, b) = ("10.0.0.1".parse().expect("ip"), "192.0.2.9".parse().expect("ip"));
            let (src, dst, sport, dport) = if dir { (a, b, 40000, 80) } else { (b, a, 80, 40000) };
            let s = Segment { ts_ns: t, frame: i as u64 + 1, src, dst, sport, dport, vlan: 0,
                seq: SeqNum(seq), ack: SeqNum(ack), flags, payload_len: len,
                ttl: 64, zero_window: false };
            last = last.max(t);
            shard.process_at(&s, last);
        }
        shard.finish(last);
        let o: u64 = shard.sink.summary.outcomes.iter().map(|(_, n)| n).sum();
        prop_assert_eq!(o, shard.sink.summary.connections.total);
    }
}

/// Byte ranges of a capture, read from its length fields alone
/// (independently of finscope's reader).
struct Layout {
    /// Bytes the reader needs before any record: the pcap file header, or
    /// pcapng's first section header block (a prefix cut inside either is
    /// not a capture: the same rule for both formats).
    header: usize,
    /// `(start, end, is_packet)` of every record (pcap) or block (pcapng),
    /// in file order; `is_packet` for the records that are frames.
    units: Vec<(usize, usize, bool)>,
}

fn u32_at(b: &[u8], off: usize, big_endian: bool) -> u32 {
    let w = [b[off], b[off + 1], b[off + 2], b[off + 3]];
    if big_endian {
        u32::from_be_bytes(w)
    } else {
        u32::from_le_bytes(w)
    }
}

/// A standard pcap file (microsecond or nanosecond magic, either byte
/// order): a 24-byte header, then records of a 16-byte header (caplen at
/// offset 8) and caplen bytes.
fn pcap_layout(b: &[u8]) -> Layout {
    let big_endian = match u32_at(b, 0, false) {
        0xa1b2_c3d4 | 0xa1b2_3c4d => false,
        0xd4c3_b2a1 | 0x4d3c_b2a1 => true,
        m => panic!("not a standard pcap: magic {m:#x}"),
    };
    let mut units = Vec::new();
    let mut off = 24;
    while off < b.len() {
        let end = off + 16 + u32_at(b, off + 8, big_endian) as usize;
        units.push((off, end, true));
        off = end;
    }
    assert_eq!(off, b.len(), "the fixture itself is cut");
    Layout { header: 24, units }
}

/// A single-section pcapng file: blocks of (type, total length, body,
/// total length); EPB (6), SPB (3) and the obsolete PB (2) are frames.
fn pcapng_layout(b: &[u8]) -> Layout {
    assert_eq!(u32_at(b, 0, false), 0x0a0d_0d0a, "not pcapng");
    let big_endian = match u32_at(b, 8, false) {
        0x1a2b_3c4d => false,
        0x4d3c_2b1a => true,
        m => panic!("bad byte-order magic {m:#x}"),
    };
    let mut units = Vec::new();
    let header = u32_at(b, 4, big_endian) as usize;
    let mut off = header;
    while off < b.len() {
        let (kind, len) = (u32_at(b, off, big_endian), u32_at(b, off + 4, big_endian));
        assert_eq!(len % 4, 0, "block at {off}");
        assert!(kind != 0x0a0d_0d0a, "a second section at {off}");
        let end = off + len as usize;
        units.push((off, end, matches!(kind, 2 | 3 | 6)));
        off = end;
    }
    assert_eq!(off, b.len(), "the fixture itself is cut");
    Layout { header, units }
}

/// Reads every prefix of `bytes` and checks it gives exactly the frames
/// wholly before the cut: records 1..=k, a clean end when the cut falls
/// between records, a truncation naming the cut record's offset and number
/// otherwise (never damage, never a panic).
fn check_every_prefix(name: &str, bytes: &[u8], layout: &Layout) {
    let total = layout.units.iter().filter(|u| u.2).count() as u64;
    assert!(total > 0, "{name}: no frames");
    for n in 0..=bytes.len() {
        let o = read_input(&bytes[..n]);
        // Frames whose record ends at or before the cut.
        let whole = layout.units.iter().filter(|u| u.2 && u.1 <= n).count() as u64;
        let want: Vec<u64> = (1..=whole).collect();
        assert_eq!(o.records, whole, "{name}: records() of the {n}-byte prefix");
        assert_eq!(o.numbers, want, "{name}: frames of the {n}-byte prefix");
        // The record or block the cut falls inside, if any.
        let cut = layout.units.iter().find(|u| u.0 < n && n < u.1);
        match (&o.end, cut) {
            // Too short for the magic number, or a pcap file header cut short.
            (End::Header(e), _) if n < layout.header.max(4) => {
                assert!(n < 4 || e.is_truncation(), "{name}: {n}-byte prefix: {e}");
            }
            (End::Clean, None) if n >= layout.header.max(4) => {}
            (End::Stopped(e @ CaptureError::Truncated { offset, packet, .. }), _) => {
                // Cut inside the file header (pcapng: its first block) or a record.
                let start = cut.map_or(layout.header, |u| u.0);
                assert!(e.is_truncation());
                assert_eq!(
                    (*offset, *packet),
                    (start as u64, whole + 1),
                    "{name}: truncation of the {n}-byte prefix: {e}"
                );
            }
            (end, _) => panic!("{name}: the {n}-byte prefix ends with {end:?} (cut in {cut:?})"),
        }
    }
    let o = read_input(bytes);
    assert_eq!(o.records, total, "{name}: the whole file");
    assert!(matches!(o.end, End::Clean), "{name}: {:?}", o.end);
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("testdata")
            .join(name),
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn every_prefix_of_a_real_fixture_reads_cleanly() {
    // pcapng: two interfaces, an SPB, a block of unknown type.
    let bytes = fixture("multi_idb.pcapng");
    let layout = pcapng_layout(&bytes);
    assert_eq!(layout.units.iter().filter(|u| u.2).count(), 21);
    check_every_prefix("multi_idb.pcapng", &bytes, &layout);
}

#[test]
fn every_prefix_of_pcap_fixtures_reads_exactly() {
    // Little-endian microseconds; big-endian nanoseconds; records cut by a snaplen.
    for (name, frames) in [
        ("fin_4way.pcap", 11),
        ("nanosecond_be.pcap", 11),
        ("snaplen_64.pcap", 11),
    ] {
        let bytes = fixture(name);
        let layout = pcap_layout(&bytes);
        assert_eq!(layout.units.len(), frames, "{name}");
        check_every_prefix(name, &bytes, &layout);
    }
}
