//! Bad input never panics: arbitrary bytes through the decoder and the
//! reader, and arbitrary segments through a shard, as property tests.

use finscope::capture::{CaptureReader, Status};
use finscope::decode::seq::SeqNum;
use finscope::decode::{self, Segment, linktype};
use finscope::flow::{FlowConfig, Shard};
use finscope::metrics::ShardMetrics;
use finscope::metrics::timeline::TimelineConfig;
use proptest::prelude::*;
use std::path::Path;

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

/// Reads everything; returns the number of records, bounded by a guard.
fn read_all(bytes: &[u8]) -> u64 {
    let Ok(mut r) = CaptureReader::with_buffer(bytes, Path::new("fuzz"), 65_536) else {
        return 0;
    };
    let mut frames = Vec::new();
    for _ in 0..10_000 {
        let st = r.next_batch(&mut frames);
        for f in &frames {
            let d = r
                .data()
                .get(f.off as usize..(f.off + f.caplen) as usize)
                .expect("frame inside the buffer");
            let _ = decode::decode(f.link, d, f.ts_ns, f.number);
        }
        if !matches!(st, Status::More) {
            return r.records();
        }
    }
    panic!("reader did not finish");
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
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

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
                seq: SeqNum(seq), ack: SeqNum(ack), flags, payload_len: len };
            last = last.max(t);
            shard.process_at(&s, last);
        }
        shard.finish(last);
        let o: u64 = shard.sink.summary.outcomes.iter().sum();
        prop_assert_eq!(o, shard.sink.summary.connections.total);
    }
}

#[test]
fn every_prefix_of_a_real_fixture_reads_cleanly() {
    let bytes = std::fs::read(
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/multi_idb.pcapng"),
    )
    .expect("fixture");
    let mut prev = 0;
    for n in 0..=bytes.len() {
        let got = read_all(&bytes[..n]);
        assert!(got >= prev || got == 0, "records went down at prefix {n}");
        prev = prev.max(got);
    }
    assert!(prev > 0);
}
