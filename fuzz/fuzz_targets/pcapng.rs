//! Arbitrary blocks behind a valid pcapng section header block.
//!
//! Input: byte 0 picks the byte order, whether an interface description
//! block (with a chosen link type and `if_tsresol`) follows the section
//! header, and a padding block; bytes 1-2 place the reader's 64 KiB buffer
//! boundary inside the fuzzed blocks (or make the padding block larger than
//! the buffer); the rest are the blocks.
//!
//! Checked: every frame lies inside the reader's buffer, frame numbers run
//! 1, 2, ..., a frame's captured length fits the block that held it; the
//! reader gives the same frames (bytes included) and the same stop with a
//! 1 MiB buffer, a 64 KiB buffer and a 64 KiB buffer swapped after every
//! batch (as the pipeline does); a clean end consumed the whole file; every
//! frame decodes without panic.
#![no_main]

use finscope::capture::{CaptureError, CaptureReader, RawFrame, Status};
use finscope::decode;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

const LINKS: [u16; 8] = [1, 101, 113, 276, 0, 108, 228, 229];
/// if_tsresol values: none (us), ns, 2^-10, 10^-3, 10^0, 2^-63, absurd.
const TSRESOL: [Option<u8>; 8] = [
    None,
    Some(9),
    Some(0x8a),
    Some(3),
    Some(0),
    Some(0xbf),
    Some(0x7f),
    Some(6),
];
const SMALL: usize = 65_536;

fn put32(v: &mut Vec<u8>, x: u32, be: bool) {
    v.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() });
}

fn put16(v: &mut Vec<u8>, x: u16, be: bool) {
    v.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() });
}

/// A block of `btype` with `body` (padded to 4 bytes).
fn block(v: &mut Vec<u8>, btype: u32, body: &[u8], be: bool) {
    let padded = body.len().div_ceil(4) * 4;
    let len = (12 + padded) as u32;
    put32(v, btype, be);
    put32(v, len, be);
    v.extend_from_slice(body);
    v.resize(v.len() + padded - body.len(), 0);
    put32(v, len, be);
}

#[derive(Debug, PartialEq)]
enum End {
    Clean,
    Truncated(u64, u64),
    Corrupt(u64, u64),
    Unsupported(u64),
}

/// One frame as read: its fields and a hash of its bytes.
#[derive(Debug, PartialEq)]
struct Got {
    ts: u64,
    caplen: u32,
    orig: u32,
    link: u16,
    number: u64,
    hash: u64,
}

fn fnv(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, x| {
        (h ^ u64::from(*x)).wrapping_mul(0x100_0000_01b3)
    })
}

fn read(file: &[u8], buffer: usize, swap: bool) -> (Vec<Got>, End) {
    let mut r = CaptureReader::with_buffer(file, Path::new("fuzz.pcapng"), buffer)
        .expect("a valid section header is accepted");
    let mut frames: Vec<RawFrame> = Vec::new();
    let mut spare = Vec::new();
    let mut out = Vec::new();
    let mut batches = 0;
    let end = loop {
        let st = r.next_batch(&mut frames);
        batches += 1;
        assert!(batches < 100_000, "next_batch does not make progress");
        if swap {
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
            // Every frame comes from a block of the file: no more bytes
            // than the file has after the section header.
            assert!(u64::from(f.caplen) <= file.len() as u64);
            assert_eq!(f.number, out.len() as u64 + 1);
            let bytes = &data[f.off as usize..end as usize];
            let _ = decode::decode(f.link, bytes, f.ts_ns, f.number);
            out.push(Got {
                ts: f.ts_ns,
                caplen: f.caplen,
                orig: f.orig_len,
                link: f.link,
                number: f.number,
                hash: fnv(bytes),
            });
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
            Status::Stopped(CaptureError::Unsupported { offset, .. }) => {
                break End::Unsupported(offset);
            }
            Status::Stopped(e) => panic!("unexpected stop: {e}"),
        }
    };
    assert_eq!(r.records(), out.len() as u64);
    match end {
        End::Clean => assert_eq!(r.offset(), file.len() as u64, "clean end before the end"),
        End::Truncated(o, p) | End::Corrupt(o, p) => {
            assert!(o < file.len() as u64);
            assert_eq!(p, out.len() as u64 + 1);
        }
        End::Unsupported(o) => assert!(o < file.len() as u64),
    }
    assert!(matches!(r.next_batch(&mut frames), Status::End) && frames.is_empty());
    (out, end)
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let sel = data[0];
    let be = sel & 1 == 1;
    let mut file = Vec::with_capacity(data.len() + 64);
    // Section header: byte-order magic, version 1.0, section length -1.
    let mut shb = Vec::new();
    put32(&mut shb, 0x1A2B_3C4D, be);
    put16(&mut shb, 1, be);
    put16(&mut shb, 0, be);
    shb.extend_from_slice(&[0xff; 8]);
    block(&mut file, 0x0A0D_0D0A, &shb, be);
    if sel & 2 == 2 {
        // Interface description: link type, reserved, snaplen, options.
        let mut idb = Vec::new();
        put16(&mut idb, LINKS[usize::from((sel >> 2) & 7)], be);
        put16(&mut idb, 0, be);
        put32(&mut idb, 0, be);
        if let Some(r) = TSRESOL[usize::from((sel >> 5) & 7)] {
            put16(&mut idb, 9, be); // if_tsresol
            put16(&mut idb, 1, be);
            idb.extend_from_slice(&[r, 0, 0, 0]);
            put16(&mut idb, 0, be); // opt_endofopt
            put16(&mut idb, 0, be);
        }
        block(&mut file, 1, &idb, be);
    }
    if data[1] & 1 == 1 {
        // A block of an unknown type that puts the first refill `k` bytes
        // into the fuzzed blocks, or is larger than the buffer.
        let k = usize::from(u16::from_le_bytes([data[1], data[2]]) >> 1) % 4096;
        let mut body = (SMALL - file.len() - 12).saturating_sub(k) / 4 * 4;
        if data[1] & 2 == 2 {
            body += SMALL;
        }
        block(&mut file, 0x0000_0BAD, &vec![0x45; body], be);
    }
    file.extend_from_slice(&data[3..]);
    let a = read(&file, SMALL, false);
    let b = read(&file, SMALL, true);
    assert_eq!(a, b, "64 KiB buffer, swapped or not");
    let c = read(&file, finscope::capture::DEFAULT_BUFFER, false);
    assert_eq!(a, c, "64 KiB and 1 MiB buffers");
});
