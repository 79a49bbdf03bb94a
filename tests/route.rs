//! Route before decode (docs/performance.md, "Engine"): the router that
//! places a frame on its shard by fixed offsets (`decode::route`) agrees
//! with the full decoder on every frame of the testdata captures and of
//! `../shared/captures` (or `$FINSCOPE_CAPTURES`): it places a frame only
//! when the decoder makes a segment of it, with the segment's shard hash,
//! flags and payload length, and its fast segment is the decoder's.

use finscope::capture::{CaptureReader, Status};
use finscope::decode::route::Route;
use finscope::decode::{self, route};
use finscope::flow::key::{symmetric_hash, symmetric_hash_of};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Per capture: frames, segments, segments routed by fixed offsets.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Tally {
    frames: u64,
    segments: u64,
    routed: u64,
}

/// Checks every frame of `path` (as far as it can be read).
fn check(path: &Path) -> Option<Tally> {
    let file = std::fs::File::open(path).ok()?;
    let mut reader = CaptureReader::new(file, path).ok()?;
    let mut frames = Vec::new();
    let mut t = Tally::default();
    loop {
        let status = reader.next_batch(&mut frames);
        let data = reader.data();
        for f in &frames {
            let start = f.off as usize;
            let b = &data[start..start + f.caplen as usize];
            let full = decode::decode(f.link, b, f.ts_ns, f.number);
            let r = route::route(f.link, b);
            let fast = route::decode_fast(f.link, b, f.ts_ns, f.number);
            let at = format!("{} frame {}", path.display(), f.number);
            t.frames += 1;
            t.segments += u64::from(full.is_ok());
            assert_eq!(route::decode(f.link, b, f.ts_ns, f.number), full, "{at}");
            assert_eq!(r.is_some(), fast.is_some(), "{at}");
            let Some(r) = r else { continue };
            t.routed += 1;
            let s = full.unwrap_or_else(|e| panic!("{at}: routed, but the decoder says {e:?}"));
            assert_eq!(fast, Some(s), "{at}");
            assert_eq!(
                symmetric_hash_of((r.src, r.sport), (r.dst, r.dport), r.vlan),
                symmetric_hash(&s),
                "{at}"
            );
            assert_eq!(r, Route::of(&s), "{at}");
        }
        if !matches!(status, Status::More) {
            return Some(t);
        }
    }
}

fn captures(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.retain(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"));
    v.sort();
    v
}

#[test]
fn router_agrees_with_the_decoder_on_every_capture() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let shared = match std::env::var_os("FINSCOPE_CAPTURES") {
        Some(d) => PathBuf::from(d),
        None => root.join("../shared/captures"),
    };
    let mut tally = BTreeMap::new();
    for p in captures(&root.join("testdata"))
        .into_iter()
        .chain(captures(&shared))
    {
        if let Some(t) = check(&p) {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            tally.insert(name.unwrap_or_default(), t);
        }
    }
    for (name, t) in &tally {
        eprintln!("{name}: {t:?}");
    }
    let get = |n: &str| tally.get(n).copied().unwrap_or_default();
    // The common link types route every segment by fixed offsets.
    for n in [
        "sample.pcap",
        "sll.pcap",
        "sll2.pcap",
        "null.pcap",
        "loop.pcap",
        "raw_ip.pcap",
        "raw_ipv4_228.pcap",
        "raw_ipv6_229.pcap",
        "vlan_qinq.pcap",
        "snaplen_64.pcap",
        "truncated_tail.pcap",
    ] {
        let t = get(n);
        assert!(t.segments > 0, "{n}: {t:?}");
        assert_eq!(t.routed, t.segments, "{n}");
    }
    // PPPoE and IPv6 extension headers go to the full decoder.
    for n in ["pppoe.pcap", "ipv6.pcap"] {
        let t = get(n);
        assert_eq!((t.segments, t.routed), (22, 0), "{n}");
    }
}
