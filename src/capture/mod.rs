//! Streaming capture reader: classic pcap (both byte orders, micro- and
//! nanosecond timestamps) and pcapng (several sections, several interfaces with
//! their own link type and `if_tsresol`/`if_tsoffset`, EPB/SPB/OPB packet
//! blocks, every other block skipped).
//!
//! The reader owns one buffer and refills it with large reads; records are
//! parsed with pcap-parser in place and handed out in batches of
//! [`RawFrame`]s that point into the buffer, so nothing is copied per packet.
//! Memory is bounded: a record larger than [`MAX_RECORD`] is reported as
//! corrupt, whatever its header claims.
//!
//! Reading stops cleanly on a truncated tail or a corrupt record: the frames
//! before it are still delivered, and the stop reason names the byte offset and
//! the record number.

pub mod error;
mod expand;
pub mod open;
mod pcap;
mod pcapng;
pub use pcapng::{MAX_IDB_LEN, MAX_INTERFACES};

use pcapng::Iface;

/// What was read from one input file.
#[derive(Clone, Debug)]
pub struct FileInfo {
    pub path: String,
    pub format: String,
    /// Bytes consumed.
    pub bytes: u64,
    pub records: u64,
    /// The file ended in the middle of a record.
    pub truncated: bool,
    /// Why reading stopped early (truncated or corrupt), if it did.
    pub error: Option<String>,
}

pub use error::CaptureError;

use pcap_parser::{
    Block, PcapError, parse_block_be, parse_block_le, parse_pcap_frame, parse_pcap_frame_be,
};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest record (pcap) or block (pcapng) accepted: 16 MiB plus headers.
/// tshark's limit for a packet is 256 KiB; some link types (USB, D-Bus) use
/// larger records, so we are more lenient but still bounded.
pub const MAX_RECORD: usize = 16 * 1024 * 1024 + 1024;
/// Largest accepted packet length for classic pcap unless the snaplen is larger.
const PCAP_MAX_CAPLEN: u32 = 262_144;
/// Default buffer size: one read per refill, small enough (1 MiB) that the
/// record headers and packet bytes are still in cache when parsed right
/// after the read copied them (8 MiB measured 25% slower).
pub const DEFAULT_BUFFER: usize = 1024 * 1024;

/// The buffer when one thread reads and tracks: each packet is parsed,
/// decoded and tracked before the next, the tracking's misses evict the
/// buffer from a 1 MiB L2 meanwhile, and a quarter of it stays (5M
/// gateway packets, -j1, five paired runs: least CPU 1.4% to 8% lower than
/// with 1 MiB; docs/performance.md, "Calls and copies on the per-packet
/// path").
pub const ONE_THREAD_BUFFER: usize = 256 * 1024;

const PCAPNG_SHB: u32 = 0x0A0D_0D0A;
const PCAPNG_BOM: u32 = 0x1A2B_3C4D;
const PCAPNG_OPB: u32 = 0x0000_0002;
const PCAPNG_IDB: u32 = 0x0000_0001;
const PCAPNG_SPB: u32 = 0x0000_0003;
const PCAPNG_EPB: u32 = 0x0000_0006;

/// One packet record in the reader's buffer.
#[derive(Clone, Copy, Debug)]
pub struct RawFrame {
    /// Offset of the packet bytes in [`CaptureReader::data`].
    pub off: u32,
    /// Captured length (bytes present).
    pub caplen: u32,
    /// Length on the wire.
    pub orig_len: u32,
    /// Link type (pcap LINKTYPE_ value, low 16 bits).
    pub link: u16,
    /// Timestamp, nanoseconds since the Unix epoch.
    pub ts_ns: u64,
    /// 1-based record number in the capture (Wireshark's frame number).
    pub number: u64,
}

/// Container format of the file being read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Pcap { big_endian: bool, nanos: bool },
    PcapNg,
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Format::Pcap { big_endian, nanos } => write!(
                f,
                "pcap ({}, {})",
                if *big_endian {
                    "big-endian"
                } else {
                    "little-endian"
                },
                if *nanos { "ns" } else { "us" }
            ),
            Format::PcapNg => write!(f, "pcapng"),
        }
    }
}

#[derive(Debug)]
enum State {
    Pcap {
        big_endian: bool,
        nanos: bool,
        link: u16,
        max_caplen: u32,
        /// Bytes after the 16-byte record header: 8 in the "modified"
        /// (Kuznetzov) format of old Red Hat tcpdumps, else 0.
        extra: usize,
    },
    PcapNg {
        big_endian: bool,
        ifaces: Vec<Iface>,
        last_ts: u64,
    },
}

/// What a call to [`CaptureReader::next_batch`] ended with.
#[derive(Debug)]
pub enum Status {
    /// More records may follow.
    More,
    /// The file ended cleanly.
    End,
    /// Reading stopped at damage; the batch still holds the frames before it.
    Stopped(CaptureError),
}

/// Streaming reader over any `Read` (file or standard input).
pub struct CaptureReader<R> {
    /// Return a batch of what has arrived rather than a full buffer.
    eager: bool,
    src: R,
    path: PathBuf,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    /// File offset of `buf[0]`.
    base: u64,
    records: u64,
    state: State,
    format: Format,
    done: bool,
}

impl<R: Read> CaptureReader<R> {
    /// Reads the file header and prepares to stream records.
    pub fn new(src: R, path: &Path) -> Result<Self, CaptureError> {
        Self::with_buffer(src, path, DEFAULT_BUFFER)
    }

    /// As [`CaptureReader::new`] with a chosen buffer size (at least 64 KiB).
    pub fn with_buffer(src: R, path: &Path, buffer: usize) -> Result<Self, CaptureError> {
        Self::with_buffer_eager(src, path, buffer, false)
    }

    /// As [`CaptureReader::with_buffer`]; `eager`: a batch is whatever has
    /// arrived (each refill returns after one successful read, once the
    /// file header is in) instead of a full buffer, so that a slow live
    /// pipe is followed as it comes (`--interval`).
    pub fn with_buffer_eager(
        src: R,
        path: &Path,
        buffer: usize,
        eager: bool,
    ) -> Result<Self, CaptureError> {
        let mut r = CaptureReader {
            eager,
            src,
            path: path.to_path_buf(),
            buf: vec![0; buffer.max(65_536)],
            start: 0,
            end: 0,
            eof: false,
            base: 0,
            records: 0,
            state: State::Pcap {
                big_endian: false,
                nanos: false,
                link: 0,
                max_caplen: 0,
                extra: 0,
            },
            format: Format::PcapNg,
            done: false,
        };
        r.fill()?;
        r.read_header()?;
        Ok(r)
    }

    /// The container format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Bytes of the file consumed so far.
    pub fn offset(&self) -> u64 {
        self.base + self.start as u64
    }

    /// Records delivered so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// The buffer that [`RawFrame::off`] points into.
    pub fn data(&self) -> &[u8] {
        &self.buf
    }

    /// Hands out the buffer the last batch's frames point into and continues
    /// in `spare` (grown to the current size if smaller), into which the
    /// unconsumed tail (a partial record) is copied. Double-buffering: the
    /// caller decodes one buffer while the reader fills the other.
    pub fn swap_buffer(&mut self, mut spare: Vec<u8>) -> Vec<u8> {
        if spare.len() < self.buf.len() {
            spare.resize(self.buf.len(), 0);
        }
        let tail = self.end - self.start;
        spare[..tail].copy_from_slice(&self.buf[self.start..self.end]);
        self.base += self.start as u64;
        self.start = 0;
        self.end = tail;
        std::mem::replace(&mut self.buf, spare)
    }

    fn io_err(&self, err: std::io::Error) -> CaptureError {
        CaptureError::Io {
            path: self.path.clone(),
            err,
        }
    }

    fn corrupt(&self, at: usize, reason: String) -> CaptureError {
        CaptureError::Corrupt {
            path: self.path.clone(),
            offset: self.base + at as u64,
            packet: self.records + 1,
            reason,
        }
    }

    /// Moves unread bytes to the front and reads until the buffer is full or
    /// the source is exhausted.
    fn fill(&mut self) -> Result<(), CaptureError> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.base += self.start as u64;
            self.end -= self.start;
            self.start = 0;
        }
        while !self.eof && self.end < self.buf.len() {
            match self.src.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    self.end += n;
                    // Past any file header: return what came.
                    if self.eager && self.end >= 64 {
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io_err(e)),
            }
        }
        Ok(())
    }

    fn avail(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    fn read_header(&mut self) -> Result<(), CaptureError> {
        let a = self.avail();
        if a.len() < 4 {
            return Err(CaptureError::NotACapture {
                path: self.path.clone(),
                magic: format!("{} byte(s): file too short", a.len()),
            });
        }
        let m = [a[0], a[1], a[2], a[3]];
        let le = u32::from_le_bytes(m);
        let (big_endian, nanos, extra) = match le {
            0xa1b2_c3d4 => (false, false, 0),
            0xd4c3_b2a1 => (true, false, 0),
            0xa1b2_3c4d => (false, true, 0),
            0x4d3c_b2a1 => (true, true, 0),
            0xa1b2_cd34 => (false, false, 8),
            0x34cd_b2a1 => (true, false, 8),
            PCAPNG_SHB => {
                // Like a pcap file cut in its header: a section header that
                // is not all there is no capture (exit 2), whatever the format.
                self.pcapng_first_section()?;
                self.format = Format::PcapNg;
                self.state = State::PcapNg {
                    big_endian: false,
                    ifaces: Vec::new(),
                    last_ts: 0,
                };
                return Ok(());
            }
            _ => return Err(self.unknown_magic(m)),
        };
        if a.len() < 24 {
            return Err(CaptureError::Truncated {
                path: self.path.clone(),
                offset: 0,
                packet: 0,
                needed: 24,
                available: a.len() as u64,
            });
        }
        let rd = |o: usize| {
            let b = [a[o], a[o + 1], a[o + 2], a[o + 3]];
            if big_endian {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        let snaplen = rd(16);
        // The link-type word keeps FCS information in its upper bits; the
        // link type proper is the low 16 bits (as libpcap and tshark read it).
        let link = (rd(20) & 0xFFFF) as u16;
        let max_caplen = PCAP_MAX_CAPLEN.max(snaplen.min(MAX_RECORD as u32 - 16));
        self.state = State::Pcap {
            big_endian,
            nanos,
            link,
            max_caplen,
            extra,
        };
        self.format = Format::Pcap { big_endian, nanos };
        self.start += 24;
        Ok(())
    }

    /// Checks the first pcapng section header: all there (when the input
    /// has ended) and of major version 1.
    fn pcapng_first_section(&self) -> Result<(), CaptureError> {
        let a = self.avail();
        let truncated = |needed: usize| CaptureError::Truncated {
            path: self.path.clone(),
            offset: 0,
            packet: 0,
            needed: needed as u64,
            available: a.len() as u64,
        };
        if a.len() < 28 {
            return Err(truncated(28));
        }
        let bom = u32::from_le_bytes([a[8], a[9], a[10], a[11]]);
        let be = bom != PCAPNG_BOM;
        let len = if be {
            u32::from_be_bytes([a[4], a[5], a[6], a[7]])
        } else {
            u32::from_le_bytes([a[4], a[5], a[6], a[7]])
        } as usize;
        if self.eof && len <= MAX_RECORD && a.len() < len {
            return Err(truncated(len));
        }
        pcapng::check_version(a, be).map_err(|reason| CaptureError::Unsupported {
            path: self.path.clone(),
            offset: 0,
            reason,
        })
    }

    fn unknown_magic(&self, m: [u8; 4]) -> CaptureError {
        let path = self.path.clone();
        match m {
            [0x1f, 0x8b, _, _] => CaptureError::Compressed {
                path,
                kind: "gzip",
                tool: "gzip",
            },
            [0x28, 0xb5, 0x2f, 0xfd] => CaptureError::Compressed {
                path,
                kind: "zstd",
                tool: "zstd",
            },
            [0xfd, 0x37, 0x7a, 0x58] => CaptureError::Compressed {
                path,
                kind: "xz",
                tool: "xz",
            },
            [0x42, 0x5a, 0x68, _] => CaptureError::Compressed {
                path,
                kind: "bzip2",
                tool: "bzip2",
            },
            _ => CaptureError::NotACapture {
                path,
                magic: format!("0x{:02x}{:02x}{:02x}{:02x}", m[0], m[1], m[2], m[3]),
            },
        }
    }

    /// Parses as many whole records as the buffer holds into `frames`
    /// (cleared first), refilling the buffer first. Returns what ended the batch.
    pub fn next_batch(&mut self, frames: &mut Vec<RawFrame>) -> Status {
        frames.clear();
        if self.done {
            return Status::End;
        }
        loop {
            if let Err(e) = self.fill() {
                self.done = true;
                return Status::Stopped(e);
            }
            let step = match self.state {
                State::Pcap { .. } => self.parse_pcap(frames),
                State::PcapNg { .. } => self.parse_pcapng(frames),
            };
            match step {
                Step::Stop(e) => {
                    self.done = true;
                    return Status::Stopped(e);
                }
                Step::NeedMore(needed) => {
                    if !frames.is_empty() {
                        return Status::More;
                    }
                    let have = self.end - self.start;
                    if self.eof {
                        self.done = true;
                        if have == 0 {
                            return Status::End;
                        }
                        return Status::Stopped(CaptureError::Truncated {
                            path: self.path.clone(),
                            offset: self.offset(),
                            packet: self.records + 1,
                            needed: needed as u64,
                            available: have as u64,
                        });
                    }
                    if needed > self.buf.len() {
                        // Bounded by MAX_RECORD, checked by the parsers.
                        self.buf.resize(needed, 0);
                    }
                }
            }
        }
    }
}

enum Step {
    /// The next record needs this many bytes from the current position.
    NeedMore(usize),
    Stop(CaptureError),
}

fn nom_reason(e: &nom_err::Err<PcapError<&[u8]>>) -> String {
    match e {
        nom_err::Err::Incomplete(_) => "block shorter than its contents claim".into(),
        nom_err::Err::Error(p) | nom_err::Err::Failure(p) => match p {
            PcapError::NomError(_, k) | PcapError::OwnedNomError(_, k) => {
                format!("malformed ({k:?})")
            }
            other => format!("{other:?}"),
        },
    }
}

mod nom_err {
    pub use pcap_parser::nom::Err;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pcap_header(link: u32) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        v.extend_from_slice(&2u16.to_le_bytes());
        v.extend_from_slice(&4u16.to_le_bytes());
        v.extend_from_slice(&[0; 8]);
        v.extend_from_slice(&65535u32.to_le_bytes());
        v.extend_from_slice(&link.to_le_bytes());
        v
    }

    fn record(v: &mut Vec<u8>, sec: u32, usec: u32, data: &[u8]) {
        v.extend_from_slice(&sec.to_le_bytes());
        v.extend_from_slice(&usec.to_le_bytes());
        v.extend_from_slice(&(data.len() as u32).to_le_bytes());
        v.extend_from_slice(&(data.len() as u32).to_le_bytes());
        v.extend_from_slice(data);
    }

    fn read_all(bytes: &[u8], buffer: usize) -> (Vec<(u64, Vec<u8>)>, Status) {
        let mut r = CaptureReader::with_buffer(bytes, Path::new("t.pcap"), buffer).unwrap();
        let mut out = Vec::new();
        let mut frames = Vec::new();
        loop {
            let st = r.next_batch(&mut frames);
            for f in &frames {
                let d = &r.data()[f.off as usize..(f.off + f.caplen) as usize];
                out.push((f.ts_ns, d.to_vec()));
            }
            if !matches!(st, Status::More) {
                return (out, st);
            }
        }
    }

    #[test]
    fn reads_records_across_refills() {
        let mut v = pcap_header(1);
        for i in 0..5000u32 {
            record(&mut v, i, 7, &[i as u8; 60]);
        }
        let (out, st) = read_all(&v, 65_536);
        assert!(matches!(st, Status::End), "{st:?}");
        assert_eq!(out.len(), 5000);
        assert_eq!(out[4999].0, 4999 * 1_000_000_000 + 7_000);
        assert_eq!(out[4999].1, vec![4999u32 as u8; 60]);
    }

    #[test]
    fn truncated_tail_reports_offset_and_keeps_frames() {
        let mut v = pcap_header(1);
        record(&mut v, 1, 0, &[1; 60]);
        record(&mut v, 2, 0, &[2; 60]);
        v.truncate(v.len() - 10);
        let (out, st) = read_all(&v, 65_536);
        assert_eq!(out.len(), 1);
        match st {
            Status::Stopped(CaptureError::Truncated {
                offset,
                packet,
                needed,
                available,
                ..
            }) => {
                assert_eq!(offset, 24 + 76);
                assert_eq!(packet, 2);
                assert_eq!(needed, 76);
                assert_eq!(available, 66);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn absurd_caplen_is_corrupt_not_a_huge_allocation() {
        let mut v = pcap_header(1);
        record(&mut v, 1, 0, &[1; 60]);
        v.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0x7f, 0, 0, 0, 0]);
        let (out, st) = read_all(&v, 65_536);
        assert_eq!(out.len(), 1);
        match st {
            Status::Stopped(CaptureError::Corrupt { offset, packet, .. }) => {
                assert_eq!(offset, 24 + 76);
                assert_eq!(packet, 2);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn modified_pcap_skips_the_extra_header_bytes() {
        let mut v = pcap_header(1);
        v[..4].copy_from_slice(&0xa1b2_cd34u32.to_le_bytes());
        for (i, fill) in [(1u32, 0x11u8), (2, 0x22)] {
            v.extend_from_slice(&i.to_le_bytes());
            v.extend_from_slice(&5u32.to_le_bytes());
            v.extend_from_slice(&40u32.to_le_bytes());
            v.extend_from_slice(&40u32.to_le_bytes());
            v.extend_from_slice(&[0xEE; 8]); // ifindex, protocol, pkt_type, pad
            v.extend_from_slice(&[fill; 40]);
        }
        let (out, st) = read_all(&v, 65_536);
        assert!(matches!(st, Status::End), "{st:?}");
        assert_eq!(out.len(), 2);
        assert_eq!(out[1], (2 * 1_000_000_000 + 5_000, vec![0x22; 40]));
    }

    #[test]
    fn not_a_capture_names_magic() {
        let e = CaptureReader::new(&b"hello world"[..], Path::new("x.txt"))
            .err()
            .unwrap();
        let msg = e.to_string();
        assert!(msg.contains("x.txt") && msg.contains("0x68656c6c"), "{msg}");
        let e = CaptureReader::new(&[0x1f, 0x8b, 8, 0][..], Path::new("x.gz"))
            .err()
            .unwrap();
        assert!(e.to_string().contains("gzip"));
    }

    #[test]
    fn every_prefix_is_handled() {
        let mut v = pcap_header(1);
        record(&mut v, 1, 0, &[1; 40]);
        record(&mut v, 2, 0, &[2; 40]);
        // Records end at 24 + 56 and 24 + 2 x 56 bytes.
        let ends = [24 + 56, 24 + 112];
        for n in 0..v.len() {
            let r = CaptureReader::with_buffer(&v[..n], Path::new("p"), 65_536);
            let Ok(mut r) = r else {
                // Only a cut inside the file header is refused outright.
                assert!(n < 24, "prefix {n} refused");
                continue;
            };
            assert!(n >= 24, "prefix {n} of a 24-byte header accepted");
            let mut frames = Vec::new();
            let mut got = 0;
            let mut guard = 0;
            let end = loop {
                let st = r.next_batch(&mut frames);
                got += frames.len();
                match st {
                    Status::More => {
                        guard += 1;
                        assert!(guard < 10);
                    }
                    other => break other,
                }
            };
            let whole = ends.iter().filter(|e| **e <= n).count();
            assert_eq!(got, whole, "prefix {n}");
            assert_eq!(r.records(), whole as u64, "prefix {n}");
            let clean = n == 24 || ends.contains(&n);
            match end {
                Status::End => assert!(clean, "prefix {n}: cut record not reported"),
                Status::Stopped(e) => {
                    assert!(!clean, "prefix {n}: {e}");
                    assert!(e.is_truncation(), "prefix {n}: {e}");
                }
                Status::More => unreachable!(),
            }
        }
    }
}
