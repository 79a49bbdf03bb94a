//! Arbitrary bytes as a possibly compressed capture file, through the whole
//! analysis (`pipeline::analyze`: sniffing, gzip/zstd/xz expansion, the
//! reader, decoding, tracking, the report's figures).
//!
//! The first byte picks how the rest is presented: as it is; behind a gzip,
//! zstd or xz magic number (malformed compressed streams, where the
//! decompressors' error paths are); or gzip-compressed (a valid stream of
//! an arbitrary capture, where the reader meets what the decompressor
//! hands it in pieces).
//!
//! Checked: no panic, no hang (the fuzzer's timeout), no unbounded memory
//! (its RSS limit); an analysis that fails names the file.
#![no_main]

use finscope::pipeline::{Options, analyze};
use libfuzzer_sys::fuzz_target;
use std::io::Write;
use std::path::PathBuf;

#[path = "common/scratch.rs"]
mod common;

fn scratch() -> &'static PathBuf {
    common::scratch("decompress")
}

const GZIP: &[u8] = &[0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0, 0x03];
const ZSTD: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
const XZ: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0x00];

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut file = Vec::with_capacity(rest.len() + 16);
    match mode % 5 {
        0 => file.extend_from_slice(rest),
        1 => file.extend_from_slice(&[GZIP, rest].concat()),
        2 => file.extend_from_slice(&[ZSTD, rest].concat()),
        3 => file.extend_from_slice(&[XZ, rest].concat()),
        _ => {
            let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            if z.write_all(rest).is_err() {
                return;
            }
            match z.finish() {
                Ok(v) => file = v,
                Err(_) => return,
            }
        }
    }
    let path = scratch();
    if std::fs::write(path, &file).is_err() {
        return;
    }
    let opts = Options {
        threads: 1,
        buffer: 65_536,
        ..Options::default()
    };
    if let Err(e) = analyze(std::slice::from_ref(path), &opts) {
        let msg = e.to_string();
        assert!(
            msg.contains("finscope-fuzz-decompress"),
            "unnamed error: {msg}"
        );
    }
});
