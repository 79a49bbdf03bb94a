//! Inputs: which files a run reads, in what order, and how their bytes are
//! obtained.
//!
//! - [`expand`] (defined in `expand.rs`) turns what the user typed into a list of inputs: a directory
//!   stands for the capture files in it, a quoted glob (`'trace-*.pcap'`) for
//!   the files it matches, `-` for standard input. Files are then ordered by
//!   the timestamp of their first record, so `tcpdump -C/-G` rotations are
//!   read in capture order whatever their names. Rotations do not overlap;
//!   files that do are read one after the other in that order, not
//!   interleaved packet by packet.
//! - [`open`] opens one input and decompresses it on the fly when its first
//!   bytes are a gzip, zstd or xz magic number (the extension plays no part),
//!   so a compressed capture or a compressed pipe reads like the plain file.
//! - A compressed stream that stops early does not fail the read: the
//!   decompressed bytes up to that point are delivered, then end of input,
//!   and [`Fault`] says why. Compressed data that stops short (the
//!   compressor or the copy was interrupted: the decoder wants more and the
//!   file has no more) is a truncation like a plain file's cut tail; anything
//!   else the decoder rejects (bad checksum, impossible code) is corruption.
//!   Everything decodable before the damage is delivered, as `gzip -dc`,
//!   `zstd -dc` and `xz -dc` deliver it: gzip and xz up to the last
//!   decodable byte, zstd every complete block (a block holds at most
//!   128 KiB), whatever the window size.

use crate::capture::{CaptureError, Status};
use std::fs::File;
use std::io::{self, BufReader, Cursor, Read};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

// Callers name the expansion by its old path; it is defined in `expand`.
pub use super::expand::{ExpandError, Expanded, expand, first_timestamp, is_glob};

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

/// What a file starting with `head` is, when it is a capture or may hold
/// one: `pcap` (any byte order, micro- or nanosecond, the "modified"
/// variant), `pcapng`, or a compressed file (gzip, zstd and xz, which
/// finscope reads; bzip2 and lz4, which it asks to decompress first).
/// Outputs never overwrite one (`commands::guard`), and `diff`/`merge`
/// say to run `analyze` on one.
pub fn capture_kind(head: &[u8]) -> Option<&'static str> {
    const PCAP: [u32; 6] = [
        0xa1b2_c3d4,
        0xd4c3_b2a1,
        0xa1b2_3c4d,
        0x4d3c_b2a1,
        0xa1b2_cd34,
        0x34cd_b2a1,
    ];
    match head {
        [a, b, c, d, ..] if PCAP.contains(&u32::from_le_bytes([*a, *b, *c, *d])) => Some("pcap"),
        [0x0a, 0x0d, 0x0d, 0x0a, ..] => Some("pcapng"),
        [b'B', b'Z', b'h', ..] => Some("bzip2"),
        [0x04, 0x22, 0x4d, 0x18, ..] => Some("lz4"),
        _ => Compression::detect(head).map(Compression::name),
    }
}

/// Bytes needed to recognise every supported magic number.
const MAGIC_LEN: usize = 6;

/// An opened input.
pub struct Input {
    /// The capture bytes, decompressed.
    pub reader: Box<dyn Read + Send>,
    /// Size of the file on disk (for a progress bar, compressed or not);
    /// `None` for standard input, a pipe or a device.
    pub len: Option<u64>,
    /// Bytes read so far from the file as stored (compressed bytes for a
    /// compressed file): the progress bar's position against `len`.
    pub read: Option<Arc<AtomicU64>>,
    pub compression: Option<Compression>,
    /// Set when the decompressor stopped early.
    pub fault: Fault,
}

/// Why a compressed stream stopped before its end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamFault {
    /// The compressed data stops short: the file ended while the decoder
    /// needed more.
    Cut,
    /// The decoder rejected the data (the decoder's message).
    Corrupt(String),
}

/// Shared between an [`Input`]'s reader and its caller: how the
/// decompressor stopped, if it stopped early.
#[derive(Clone, Debug, Default)]
pub struct Fault(Arc<Mutex<Option<(Compression, StreamFault)>>>);

impl Fault {
    fn set(&self, c: Compression, f: StreamFault) {
        if let Ok(mut g) = self.0.lock() {
            g.get_or_insert((c, f));
        }
    }

    /// The fault, if the decompressor stopped early.
    pub fn get(&self) -> Option<(Compression, StreamFault)> {
        self.0.lock().ok().and_then(|g| g.clone())
    }

    fn error(&self, path: &Path, offset: u64, packet: u64) -> Option<CaptureError> {
        let path = path.to_path_buf();
        Some(match self.get()? {
            (c, StreamFault::Cut) => CaptureError::CutShort {
                path,
                compression: c.name(),
                offset,
                packet,
            },
            (c, StreamFault::Corrupt(why)) => CaptureError::Corrupt {
                path,
                offset,
                packet,
                reason: format!("{} data is corrupt ({why})", c.name()),
            },
        })
    }

    /// How reading a file ended, given the capture reader's last status and
    /// position: a decompressor that stopped early is the cause of a clean
    /// end or of a record cut off at the end, and is reported instead.
    pub fn settle(&self, status: Status, path: &Path, offset: u64, records: u64) -> Status {
        match status {
            Status::End | Status::Stopped(CaptureError::Truncated { .. }) => {
                match self.error(path, offset, records + 1) {
                    Some(e) => Status::Stopped(e),
                    None => status,
                }
            }
            other => other,
        }
    }

    /// An error opening the capture (its header), explained by a
    /// decompressor that stopped before the header was complete.
    pub fn explain(&self, e: CaptureError, path: &Path) -> CaptureError {
        match e {
            CaptureError::NotACapture { .. } | CaptureError::Truncated { .. } => {
                self.error(path, 0, 0).unwrap_or(e)
            }
            other => other,
        }
    }
}

/// What the compressed source did: ran out, or failed to read.
#[derive(Debug, Default)]
struct SourceState {
    exhausted: AtomicBool,
    failed: AtomicBool,
}

/// The compressed bytes, watched.
struct Source<R> {
    inner: R,
    state: Arc<SourceState>,
}

impl<R: Read> Read for Source<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let r = self.inner.read(buf);
        match &r {
            Ok(0) if !buf.is_empty() => self.state.exhausted.store(true, Ordering::Relaxed),
            Err(e) if e.kind() != io::ErrorKind::Interrupted => {
                self.state.failed.store(true, Ordering::Relaxed);
            }
            _ => {}
        }
        r
    }
}

/// Largest read asked of a decoder at once.
const DECODE_CHUNK: usize = 64 * 1024;

/// A decoder whose errors end the stream and are kept in a [`Fault`];
/// read errors of the source itself pass through unchanged.
struct Decoded<D> {
    inner: D,
    compression: Compression,
    source: Arc<SourceState>,
    fault: Fault,
    stopped: bool,
}

impl<D: Read> Read for Decoded<D> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.stopped {
            return Ok(0);
        }
        // Small reads: a decoder that fails loses what it decoded in that
        // call, so this bounds the loss before the damage.
        let n = buf.len().min(DECODE_CHUNK);
        match self.inner.read(&mut buf[..n]) {
            Err(e)
                if e.kind() != io::ErrorKind::Interrupted
                    && !self.source.failed.load(Ordering::Relaxed) =>
            {
                let cut = self.source.exhausted.load(Ordering::Relaxed) && wants_more(&e);
                let f = if cut {
                    StreamFault::Cut
                } else {
                    StreamFault::Corrupt(reason(self.compression, &e))
                };
                self.fault.set(self.compression, f);
                self.stopped = true;
                Ok(0)
            }
            r => r,
        }
    }
}

/// A decoder's error as the report says it; the memory limits name the
/// command that reads such a file.
fn reason(c: Compression, e: &io::Error) -> String {
    let msg = e.to_string();
    match c {
        Compression::Zstd if msg.contains("too much memory") => format!(
            "{msg}: the frame's window is over the {} MiB limit (written with `zstd --long=28` \
             or more); decompress it with `zstd -d --long=31` first",
            1 << (ZSTD_WINDOW_LOG_MAX - 20)
        ),
        Compression::Xz if msg.contains("limit") || msg.contains("MemLimit") => format!(
            "{msg}: the stream's dictionary is over the {} MiB limit; decompress it with \
             `xz -d` first",
            XZ_MEMLIMIT >> 20
        ),
        _ => msg,
    }
}

/// True when a decoder error says the input ended too soon: an
/// `UnexpectedEof` anywhere in its chain (ruzstd nests it).
fn wants_more(e: &io::Error) -> bool {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        return true;
    }
    let mut cur: Option<&(dyn std::error::Error + 'static)> =
        e.get_ref().map(|x| x as &(dyn std::error::Error + 'static));
    while let Some(c) = cur {
        if c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::UnexpectedEof)
        {
            return true;
        }
        cur = c.source();
    }
    false
}

/// Opens `path` (`-`: standard input), decompressing gzip, zstd and xz.
pub fn open(path: &Path) -> Result<Input, CaptureError> {
    let io_err = |err| CaptureError::Io {
        path: path.to_path_buf(),
        err,
    };
    let read = Arc::new(AtomicU64::new(0));
    let (src, len): (Box<dyn Read + Send>, Option<u64>) = if path.as_os_str() == "-" {
        (Box::new(Stream::new(io::stdin())), None)
    } else {
        let f = open_waiting(path, |p| File::open(p)).map_err(io_err)?;
        match f.metadata() {
            Ok(m) if m.is_file() => {
                let counted = Counted {
                    inner: f,
                    read: Arc::clone(&read),
                };
                (Box::new(counted), Some(m.len()))
            }
            // A FIFO or a device: may block, read it where an interrupt
            // can still end it.
            _ => (Box::new(Stream::new(f)), None),
        }
    };
    let (head, rest) = peek(src, MAGIC_LEN).map_err(io_err)?;
    let compression = Compression::detect(&head);
    let src = Cursor::new(head).chain(rest);
    let fault = Fault::default();
    let reader: Box<dyn Read + Send> = match compression {
        None => Box::new(src),
        Some(c) => {
            let state = Arc::new(SourceState::default());
            let src = Source {
                inner: src,
                state: Arc::clone(&state),
            };
            let inner: Box<dyn Read + Send> = match c {
                Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(src)),
                Compression::Zstd => zstd_reader(src).map_err(io_err)?,
                Compression::Xz => xz_reader(src).map_err(io_err)?,
            };
            Box::new(Decoded {
                inner,
                compression: c,
                source: state,
                fault: fault.clone(),
                stopped: false,
            })
        }
    };
    Ok(Input {
        reader,
        read: len.is_some().then_some(read),
        len,
        compression,
        fault,
    })
}

/// A file's bytes, counted as they are read (the progress bar's position:
/// for a compressed file, the decompressed offset says nothing of how
/// far into the file the reading is).
struct Counted<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Set by SIGINT/SIGTERM: reading ends at the next batch, and a stream
/// blocked waiting for data ([`Stream`]) ends at once.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Asks every read to stop (what the signal handler does). Returns true
/// when it had already been asked.
pub fn interrupt() -> bool {
    INTERRUPTED.swap(true, Ordering::SeqCst)
}

/// An interrupt was asked for.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

/// Opens `path` with `open`; when it is not a regular file (a FIFO, whose
/// open(2) blocks until the other end is opened, and which a signal does
/// not end), on a thread of its own, so that an interrupt arriving while
/// it waits ends the wait: an error of kind `Interrupted` (the thread is
/// left blocked; the process ends soon after).
fn open_waiting(
    path: &Path,
    open: impl FnOnce(&Path) -> io::Result<File> + Send + 'static,
) -> io::Result<File> {
    if std::fs::metadata(path).is_ok_and(|m| m.is_file()) || !path.exists() {
        return open(path);
    }
    let before = interrupted();
    let (tx, rx) = std::sync::mpsc::channel();
    let owned = path.to_path_buf();
    std::thread::spawn(move || {
        let _ = tx.send(open(&owned));
    });
    loop {
        match rx.recv_timeout(STREAM_POLL) {
            Ok(r) => return r,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Err(io::Error::other("the opening thread ended"));
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if !before && interrupted() {
                    return Err(io::Error::new(
                        io::ErrorKind::Interrupted,
                        "interrupted while waiting for the other end of the FIFO to be opened",
                    ));
                }
            }
        }
    }
}

/// Creates (or truncates) an output file; a FIFO is opened as
/// `open_waiting` does, so that Ctrl-C ends a wait for its reader.
pub fn create_output(path: &Path) -> io::Result<File> {
    open_waiting(path, |p| File::create(p))
}

/// Chunks a [`Stream`]'s thread may read ahead (each up to [`STREAM_CHUNK`]).
const STREAM_AHEAD: usize = 4;
const STREAM_CHUNK: usize = 256 * 1024;
/// How often a reader waiting on a stream looks for an interrupt.
const STREAM_POLL: std::time::Duration = std::time::Duration::from_millis(50);

/// A pipe, FIFO or device read on its own thread, so that an interrupt
/// ends the input even while the writer is silent (a `read` blocked on a
/// pipe is restarted after a signal). Read-ahead is bounded
/// (`STREAM_AHEAD` chunks).
struct Stream {
    rx: std::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    pos: usize,
    done: bool,
}

impl Stream {
    fn new<R: Read + Send + 'static>(mut src: R) -> Stream {
        let (tx, rx) = std::sync::mpsc::sync_channel(STREAM_AHEAD);
        std::thread::spawn(move || {
            loop {
                let mut buf = vec![0; STREAM_CHUNK];
                let r = match src.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        buf.truncate(n);
                        Ok(buf)
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => Err(e),
                };
                let failed = r.is_err();
                if tx.send(r).is_err() || failed {
                    break;
                }
            }
        });
        Stream {
            rx,
            chunk: Vec::new(),
            pos: 0,
            done: false,
        }
    }
}

impl Read for Stream {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        use std::sync::mpsc::RecvTimeoutError;
        while self.pos == self.chunk.len() {
            if self.done {
                return Ok(0);
            }
            match self.rx.recv_timeout(STREAM_POLL) {
                Ok(Ok(c)) => {
                    self.chunk = c;
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(RecvTimeoutError::Disconnected) => self.done = true,
                Err(RecvTimeoutError::Timeout) => {
                    if interrupted() {
                        self.done = true;
                    }
                }
            }
        }
        let n = out.len().min(self.chunk.len() - self.pos);
        out[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
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

/// Largest zstd window accepted: 128 MiB (`windowLog` 27), libzstd's and
/// the `zstd` command's default limit. A frame written with a larger window
/// (`zstd --long=31`) is refused with a clear error instead of reserving
/// up to 2 GiB on the word of a header.
const ZSTD_WINDOW_LOG_MAX: u32 = 27;

/// Largest memory the xz decoder may use (its dictionary, as the stream's
/// header declares it): 512 MiB, 8 times what `xz -9` needs.
const XZ_MEMLIMIT: u64 = 512 * 1024 * 1024;

/// A zstd decoder for a stream of one or more frames (as `zstd` and `pzstd`
/// write them; skippable frames pass).
fn zstd_reader<R: Read + Send + 'static>(src: R) -> io::Result<Box<dyn Read + Send>> {
    let mut d = zstd::stream::read::Decoder::new(src)?;
    d.window_log_max(ZSTD_WINDOW_LOG_MAX)?;
    Ok(Box::new(d))
}

/// An xz decoder for one or more concatenated streams (as `xz -dc` reads
/// them).
fn xz_reader<R: Read + Send + 'static>(src: R) -> io::Result<Box<dyn Read + Send>> {
    let stream =
        liblzma::stream::Stream::new_stream_decoder(XZ_MEMLIMIT, liblzma::stream::CONCATENATED)?;
    Ok(Box::new(liblzma::read::XzDecoder::new_stream(
        BufReader::new(src),
        stream,
    )))
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
        let a = zstd::encode_all(&b"hello "[..], 1).unwrap();
        let b = zstd::encode_all(&b"world"[..], 1).unwrap();
        let mut out = String::new();
        zstd_reader(Cursor::new([a, b].concat()))
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "hello world");
    }

    #[test]
    fn xz_streams_concatenate() {
        let xz = |b: &[u8]| {
            let mut out = Vec::new();
            liblzma::read::XzEncoder::new(b, 1)
                .read_to_end(&mut out)
                .unwrap();
            out
        };
        let mut out = String::new();
        xz_reader(Cursor::new([xz(b"hello "), xz(b"world")].concat()))
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "hello world");
    }
}
