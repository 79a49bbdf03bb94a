//! Arbitrary records behind a valid classic pcap file header.
//!
//! Input: byte 0 picks the header (magic: both byte orders, us/ns, the
//! "modified" variant; link type; snaplen), byte 1 optionally puts a
//! padding record first (bytes 2-3 place the reader's 64 KiB buffer boundary
//! inside the fuzzed records, or make the padding record larger than the
//! buffer), the rest are the records.
//!
//! Checked: every frame lies inside the reader's buffer; the frames and the
//! stop reason are those of a plain reference parser written here (same
//! length rules); the reader gives the same result with a 1 MiB buffer, a
//! 64 KiB buffer and a 64 KiB buffer swapped after every batch (as the
//! pipeline does); every frame decodes without panic.
#![no_main]

use finscope::capture::{CaptureError, CaptureReader, RawFrame, Status};
use finscope::decode;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

const MAGICS: [(u32, bool, bool, usize); 6] = [
    // (magic as written little-endian, big_endian, nanos, extra)
    (0xa1b2_c3d4, false, false, 0),
    (0xa1b2_c3d4, true, false, 0),
    (0xa1b2_3c4d, false, true, 0),
    (0xa1b2_3c4d, true, true, 0),
    (0xa1b2_cd34, false, false, 8),
    (0xa1b2_cd34, true, false, 8),
];
const LINKS: [u32; 8] = [1, 101, 113, 276, 0, 108, 228, 229];
const SNAPLENS: [u32; 4] = [65_535, 262_144, 64, 0x7fff_ffff];
/// finscope::capture's limits (private there; the reference needs them).
const PCAP_MAX_CAPLEN: u32 = 262_144;
const MAX_RECORD: u32 = finscope::capture::MAX_RECORD as u32;
const SMALL: usize = 65_536;

#[derive(Debug, PartialEq)]
enum End {
    Clean,
    /// Truncated at (offset, packet).
    Truncated(u64, u64),
    /// Corrupt at (offset, packet).
    Corrupt(u64, u64),
}

struct Ref<'a> {
    frames: Vec<(u64, u32, u32, &'a [u8])>,
    end: End,
}

fn reference(file: &[u8], be: bool, nanos: bool, extra: usize, snaplen: u32) -> Ref<'_> {
    let rd = |o: usize| {
        let b = [file[o], file[o + 1], file[o + 2], file[o + 3]];
        if be {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    };
    let max_caplen = PCAP_MAX_CAPLEN.max(snaplen.min(MAX_RECORD - 16));
    let mut frames = Vec::new();
    let mut pos = 24;
    let end = loop {
        let rem = file.len() - pos;
        let n = frames.len() as u64 + 1;
        if rem == 0 {
            break End::Clean;
        }
        if rem < 16 {
            break End::Truncated(pos as u64, n);
        }
        let caplen = rd(pos + 8);
        if caplen > max_caplen {
            break End::Corrupt(pos as u64, n);
        }
        let need = 16 + extra + caplen as usize;
        if rem < need {
            break End::Truncated(pos as u64, n);
        }
        let frac = u64::from(rd(pos + 4));
        let ts = u64::from(rd(pos)) * 1_000_000_000 + if nanos { frac } else { frac * 1_000 };
        let data = &file[pos + 16 + extra..pos + need];
        frames.push((ts, caplen, rd(pos + 12), data));
        pos += need;
    };
    Ref { frames, end }
}

fn put(v: &mut Vec<u8>, x: u32, be: bool) {
    v.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() });
}

/// Reads `file` to the end; checks each frame against the reference.
fn read(file: &[u8], buffer: usize, swap: bool, want: &Ref<'_>, link: u16) {
    let mut r = CaptureReader::with_buffer(file, Path::new("fuzz.pcap"), buffer)
        .expect("a valid header is accepted");
    let mut frames: Vec<RawFrame> = Vec::new();
    let mut spare = Vec::new();
    let mut got = 0usize;
    let mut batches = 0;
    let end = loop {
        let st = r.next_batch(&mut frames);
        batches += 1;
        assert!(batches < 100_000, "next_batch does not make progress");
        if swap {
            // As the pipeline: the batch's buffer is handed out, the reader
            // continues in the spare one.
            let next = std::mem::take(&mut spare);
            spare = r.swap_buffer(next);
        }
        let data: &[u8] = if swap { &spare } else { r.data() };
        for f in &frames {
            let end = u64::from(f.off) + u64::from(f.caplen);
            assert!(
                end <= data.len() as u64,
                "frame {} at {}+{} outside the buffer of {}",
                f.number,
                f.off,
                f.caplen,
                data.len()
            );
            let bytes = &data[f.off as usize..end as usize];
            let (ts, caplen, orig, wbytes) = *want
                .frames
                .get(got)
                .unwrap_or_else(|| panic!("frame {} not in the file", f.number));
            got += 1;
            assert_eq!(f.number, got as u64);
            assert_eq!(
                (f.ts_ns, f.caplen, f.orig_len, f.link),
                (ts, caplen, orig, link)
            );
            assert!(bytes == wbytes, "frame {} has other bytes", f.number);
            let _ = decode::decode(f.link, bytes, f.ts_ns, f.number);
        }
        match st {
            Status::More => {}
            Status::End => break End::Clean,
            Status::Stopped(CaptureError::Truncated { offset, packet, .. }) => {
                break End::Truncated(offset, packet);
            }
            Status::Stopped(CaptureError::Corrupt { offset, packet, .. }) => {
                break End::Corrupt(offset, packet);
            }
            Status::Stopped(e) => panic!("unexpected stop: {e}"),
        }
    };
    assert_eq!(got, want.frames.len(), "buffer {buffer}, swap {swap}");
    assert_eq!(end, want.end, "buffer {buffer}, swap {swap}");
    assert_eq!(r.records(), got as u64);
    // Once ended, it stays ended.
    assert!(matches!(r.next_batch(&mut frames), Status::End) && frames.is_empty());
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let sel = data[0];
    let (magic, be, nanos, extra) = MAGICS[usize::from(sel & 7) % MAGICS.len()];
    let link = LINKS[usize::from((sel >> 3) & 7)];
    let snaplen = SNAPLENS[usize::from(sel >> 6)];
    let mut file = Vec::with_capacity(data.len() + 24);
    put(&mut file, magic, be);
    let ver: [u8; 4] = if be { [0, 2, 0, 4] } else { [2, 0, 4, 0] };
    file.extend_from_slice(&ver);
    file.extend_from_slice(&[0; 8]);
    put(&mut file, snaplen, be);
    put(&mut file, link, be);
    let pad = data[1];
    if pad & 1 == 1 {
        // A padding record: the fuzzed records start `k` bytes before the
        // 64 KiB boundary (the first refill), or the padding record alone
        // is larger than the buffer (the buffer grows).
        let k = usize::from(u16::from_le_bytes([data[2], data[3]]) % 4096);
        let mut caplen = (SMALL - 24 - 16 - extra).saturating_sub(k);
        if pad & 2 == 2 {
            caplen += SMALL;
        }
        let caplen = caplen as u32;
        put(&mut file, 7, be);
        put(&mut file, 0, be);
        put(&mut file, caplen, be);
        put(&mut file, caplen, be);
        file.resize(file.len() + extra + caplen as usize, 0x45);
    }
    file.extend_from_slice(&data[4..]);
    let want = reference(&file, be, nanos, extra, snaplen);
    let link = link as u16;
    read(&file, SMALL, false, &want, link);
    read(&file, SMALL, true, &want, link);
    read(&file, finscope::capture::DEFAULT_BUFFER, false, &want, link);
});
