//! Inputs: which files a run reads, in what order, and how their bytes are
//! obtained.
//!
//! - [`expand`] turns what the user typed into a list of inputs: a directory
//!   stands for the capture files in it, a quoted glob (`'trace-*.pcap'`) for
//!   the files it matches, `-` for standard input. Files are then ordered by
//!   the timestamp of their first record, so `tcpdump -C/-G` rotations are
//!   read in capture order whatever their names. Rotations do not overlap;
//!   files that do are read one after the other in that order, not
//!   interleaved packet by packet.
//! - [`open`] opens one input and decompresses it on the fly when its first
//!   bytes are a gzip, zstd or xz magic number (the extension plays no part),
//!   so a compressed capture or a compressed pipe reads like the plain file.

use crate::capture::{CaptureError, CaptureReader, Status};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};

/// A compression format recognised by its magic number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
    Xz,
}

impl Compression {
    /// The format whose magic number starts `head`, if any.
    pub fn detect(head: &[u8]) -> Option<Compression> {
        match head {
            [0x1f, 0x8b, ..] => Some(Compression::Gzip),
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Some(Compression::Zstd),
            [0xfd, b'7', b'z', b'X', b'Z', 0x00, ..] => Some(Compression::Xz),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Xz => "xz",
        }
    }
}

/// Bytes needed to recognise every supported magic number.
const MAGIC_LEN: usize = 6;

/// An opened input.
pub struct Input {
    /// The capture bytes, decompressed.
    pub reader: Box<dyn Read + Send>,
    /// Size of the file on disk when the bytes are read as they are (for a
    /// progress bar); `None` for standard input and compressed files.
    pub len: Option<u64>,
    pub compression: Option<Compression>,
}

/// Opens `path` (`-`: standard input), decompressing gzip, zstd and xz.
pub fn open(path: &Path) -> Result<Input, CaptureError> {
    let io_err = |source| CaptureError::Io {
        path: path.to_path_buf(),
        source,
    };
    let (src, len): (Box<dyn Read + Send>, Option<u64>) = if path.as_os_str() == "-" {
        (Box::new(io::stdin()), None)
    } else {
        let f = File::open(path).map_err(io_err)?;
        let len = f.metadata().ok().map(|m| m.len());
        (Box::new(f), len)
    };
    let (head, rest) = peek(src, MAGIC_LEN).map_err(io_err)?;
    let compression = Compression::detect(&head);
    let src = Cursor::new(head).chain(rest);
    let reader: Box<dyn Read + Send> = match compression {
        None => Box::new(src),
        Some(Compression::Gzip) => Box::new(flate2::read::MultiGzDecoder::new(src)),
        Some(Compression::Zstd) => Box::new(ZstdFrames::new(src)),
        Some(Compression::Xz) => Box::new(lzma_rust2::XzReader::new(src, true)),
    };
    Ok(Input {
        reader,
        len: if compression.is_some() { None } else { len },
        compression,
    })
}

/// Reads up to `n` bytes (fewer only at end of input) and hands back the rest.
fn peek<R: Read>(mut src: R, n: usize) -> io::Result<(Vec<u8>, R)> {
    let mut head = vec![0; n];
    let mut got = 0;
    while got < n {
        match src.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    head.truncate(got);
    Ok((head, src))
}

/// A zstd stream of one or more frames (as `zstd` and `pzstd` write them).
struct ZstdFrames<R: Read> {
    /// The current frame's decoder; `None` between frames.
    frame: Option<ruzstd::decoding::StreamingDecoder<BufReader<R>, ruzstd::decoding::FrameDecoder>>,
    /// The source while no frame is open.
    idle: Option<BufReader<R>>,
}

impl<R: Read> ZstdFrames<R> {
    fn new(src: R) -> Self {
        ZstdFrames {
            frame: None,
            idle: Some(BufReader::new(src)),
        }
    }
}

impl<R: Read> Read for ZstdFrames<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if let Some(d) = &mut self.frame {
                let n = d.read(buf)?;
                if n > 0 {
                    return Ok(n);
                }
                // This frame is done; another may follow.
                self.idle = self.frame.take().map(|d| d.into_inner());
            }
            let Some(mut src) = self.idle.take() else {
                return Ok(0);
            };
            if src.fill_buf()?.is_empty() {
                return Ok(0);
            }
            let d = ruzstd::decoding::StreamingDecoder::new(src)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("zstd: {e}")))?;
            self.frame = Some(d);
        }
    }
}

/// What [`expand`] made of the command line's inputs.
#[derive(Debug, Default)]
pub struct Expanded {
    /// Inputs in reading order.
    pub paths: Vec<PathBuf>,
    /// Files of a directory that were left out, with the reason.
    pub skipped: Vec<String>,
}

/// Expands directories and globs and orders files by their first record's
/// timestamp (ties and unreadable files keep the order given). With standard
/// input among the inputs the order given is kept.
pub fn expand(args: &[PathBuf]) -> Result<Expanded, String> {
    let mut out = Expanded::default();
    let mut stdin = 0;
    for a in args {
        if a.as_os_str() == "-" {
            stdin += 1;
            out.paths.push(a.clone());
        } else if a.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(a)
                .map_err(|e| format!("{}: {e}", a.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.is_file()
                        && !p
                            .file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                })
                .collect();
            entries.sort();
            let before = out.paths.len();
            for p in entries {
                match first_timestamp(&p) {
                    Err(
                        e @ (CaptureError::NotACapture { .. } | CaptureError::Compressed { .. }),
                    ) => out.skipped.push(e.to_string()),
                    _ => out.paths.push(p),
                }
            }
            if out.paths.len() == before {
                return Err(format!("{}: directory holds no capture file", a.display()));
            }
        } else if !a.exists() && is_glob(a) {
            let pat = a.to_string_lossy();
            let mut hits: Vec<PathBuf> = glob::glob(&pat)
                .map_err(|e| format!("`{pat}`: bad glob pattern: {e}"))?
                .filter_map(Result::ok)
                .filter(|p| p.is_file())
                .collect();
            if hits.is_empty() {
                return Err(format!("`{pat}`: no file matches"));
            }
            hits.sort();
            out.paths.append(&mut hits);
        } else {
            out.paths.push(a.clone());
        }
    }
    if stdin > 1 {
        return Err("`-` (standard input) can be given only once".to_string());
    }
    if stdin == 0 && out.paths.len() > 1 {
        let mut keyed: Vec<(Option<u64>, PathBuf)> = std::mem::take(&mut out.paths)
            .into_iter()
            .map(|p| (first_timestamp(&p).ok().flatten(), p))
            .collect();
        // Stable: files without a readable first record keep their place
        // relative to each other, ahead of the rest (their errors show first).
        keyed.sort_by_key(|(t, _)| *t);
        out.paths = keyed.into_iter().map(|(_, p)| p).collect();
    }
    Ok(out)
}

fn is_glob(p: &Path) -> bool {
    p.to_string_lossy().contains(['*', '?', '['])
}

/// Timestamp (ns) of the first packet record of a capture; `None` when it has
/// none.
pub fn first_timestamp(path: &Path) -> Result<Option<u64>, CaptureError> {
    let input = open(path)?;
    let mut reader = CaptureReader::with_buffer(input.reader, path, 64 * 1024)?;
    let mut frames = Vec::new();
    loop {
        let status = reader.next_batch(&mut frames);
        if let Some(f) = frames.first() {
            return Ok(Some(f.ts_ns));
        }
        match status {
            Status::More => {}
            Status::End | Status::Stopped(_) => return Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_magic_numbers() {
        assert_eq!(
            Compression::detect(&[0x1f, 0x8b, 8, 0]),
            Some(Compression::Gzip)
        );
        assert_eq!(
            Compression::detect(&[0x28, 0xb5, 0x2f, 0xfd, 0, 0]),
            Some(Compression::Zstd)
        );
        assert_eq!(
            Compression::detect(&[0xfd, b'7', b'z', b'X', b'Z', 0]),
            Some(Compression::Xz)
        );
        assert_eq!(Compression::detect(&[0xd4, 0xc3, 0xb2, 0xa1]), None);
        assert_eq!(Compression::detect(&[0x1f]), None);
    }

    #[test]
    fn zstd_frames_concatenate() {
        let a = ruzstd::encoding::compress_to_vec(
            &b"hello "[..],
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        let b = ruzstd::encoding::compress_to_vec(
            &b"world"[..],
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        let mut out = String::new();
        ZstdFrames::new(Cursor::new([a, b].concat()))
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "hello world");
    }
}
