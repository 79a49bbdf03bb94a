//! The `--flows` writer's waiting records, within its share of
//! `--max-memory` (docs/flows.md, "Memory").
//!
//! Records that a later batch could still precede wait rendered (the bytes
//! of their CSV or JSON line, [`Held`]), each with its sort key
//! ([`Order`]). Past the writer's share they are sorted and written to a
//! temporary file as one sorted run ([`Spill`]); records are then written
//! out by a k-way merge of the runs and what is held, so the file keeps
//! its documented order whatever was spilled. Once every run is written
//! out the temporary file is emptied for the next ones.

use super::{FlowRecord, order};
use crate::flow::key::FlowKey;
use crate::flow::table::Retired;
use crate::report::render::flows::{self as render, FlowsFormat};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

/// A record's place in the documented order: retire clock, first packet
/// time, first frame, flow key (`report::flows::order`).
pub(super) type Order = (u64, u64, u64, FlowKey);

/// One held record: its order and where its bytes are in [`Held::bytes`].
#[derive(Clone, Copy, Debug)]
struct Entry {
    order: Order,
    start: usize,
    end: usize,
}

/// What one held record costs besides its bytes.
pub(super) const ENTRY_BYTES: usize = size_of::<Entry>();

/// Rendered records waiting to be written, in one buffer.
#[derive(Debug, Default)]
pub(super) struct Held {
    bytes: Vec<u8>,
    index: Vec<Entry>,
    /// `index` is sorted.
    sorted: bool,
    /// Bytes in `bytes` of records already written (dropped from `index`).
    dead: usize,
}

impl Held {
    /// Bytes held, what counts against the writer's share.
    pub(super) fn used(&self) -> usize {
        self.bytes.len() - self.dead + self.index.len() * ENTRY_BYTES
    }

    pub(super) fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Renders the records of `rs` in `format` until they hold `share`
    /// bytes (at least one); returns how many were taken.
    pub(super) fn render(
        &mut self,
        rs: &[Retired],
        format: FlowsFormat,
        share: usize,
    ) -> io::Result<usize> {
        let (index, dead) = (&mut self.index, self.dead);
        let mut i = 0;
        let records = rs.iter().map(FlowRecord::new);
        render::append_records(records, format, &mut self.bytes, |start, end| {
            if let Some(r) = rs.get(i) {
                index.push(Entry {
                    order: order(r),
                    start,
                    end,
                });
            }
            i += 1;
            end - dead + index.len() * ENTRY_BYTES < share
        })?;
        self.sorted &= i == 0;
        Ok(i)
    }

    fn sort(&mut self) {
        if !self.sorted {
            self.index.sort_unstable_by_key(|e| e.order);
            self.sorted = true;
        }
    }

    fn line(&self, i: usize) -> &[u8] {
        let e = &self.index[i];
        &self.bytes[e.start..e.end]
    }

    /// Drops the first `n` records (sorted, written); their bytes are
    /// given back once they are half the buffer.
    fn drop_first(&mut self, n: usize) {
        if n == self.index.len() {
            self.clear();
            return;
        }
        self.dead += self.index[..n]
            .iter()
            .map(|e| e.end - e.start)
            .sum::<usize>();
        self.index.drain(..n);
        if self.dead > self.bytes.len() / 2 {
            let mut bytes = Vec::with_capacity(self.bytes.len() - self.dead);
            for e in &mut self.index {
                let start = bytes.len();
                bytes.extend_from_slice(&self.bytes[e.start..e.end]);
                (e.start, e.end) = (start, bytes.len());
            }
            self.bytes = bytes;
            self.dead = 0;
        }
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.index.clear();
        self.dead = 0;
        self.sorted = true;
    }
}

/// A record's header in a run: its order (clock, first packet time, first
/// frame: 8 bytes each; the key: two endpoints of 1 + 16 + 2 bytes and
/// the VLAN ids, 4) and the length of its line (4).
const HEADER: usize = 24 + 2 * 19 + 4 + 4;

fn put_endpoint(out: &mut Vec<u8>, (ip, port): (IpAddr, u16)) {
    match ip {
        IpAddr::V4(a) => {
            out.push(4);
            out.extend_from_slice(&a.octets());
            out.extend_from_slice(&[0; 12]);
        }
        IpAddr::V6(a) => {
            out.push(6);
            out.extend_from_slice(&a.octets());
        }
    }
    out.extend_from_slice(&port.to_le_bytes());
}

fn get_endpoint(b: &[u8]) -> (IpAddr, u16) {
    let mut o = [0u8; 16];
    o.copy_from_slice(&b[1..17]);
    let ip = if b[0] == 4 {
        IpAddr::V4(Ipv4Addr::new(o[0], o[1], o[2], o[3]))
    } else {
        IpAddr::V6(Ipv6Addr::from(o))
    };
    (ip, u16::from_le_bytes([b[17], b[18]]))
}

fn put_header(out: &mut Vec<u8>, o: &Order, len: u32) {
    out.extend_from_slice(&o.0.to_le_bytes());
    out.extend_from_slice(&o.1.to_le_bytes());
    out.extend_from_slice(&o.2.to_le_bytes());
    put_endpoint(out, o.3.a());
    put_endpoint(out, o.3.b());
    out.extend_from_slice(&o.3.vlan.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
}

/// The order and line length of a header (`h`: [`HEADER`] bytes).
fn get_header(h: &[u8]) -> (Order, usize) {
    let u = |i: usize| {
        let mut a = [0u8; 8];
        a.copy_from_slice(&h[i..i + 8]);
        u64::from_le_bytes(a)
    };
    let w = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
    let key = FlowKey::new(get_endpoint(&h[24..43]), get_endpoint(&h[43..62]), w(62));
    ((u(0), u(8), u(16), key), w(66) as usize)
}

/// One sorted run in the temporary file, read a buffer at a time.
#[derive(Debug)]
struct Run {
    /// The run's bytes not read yet: `pos..end` of the file.
    pos: u64,
    end: u64,
    buf: Vec<u8>,
    /// Where the next record starts in `buf`.
    at: usize,
    /// The run's first record not written yet, its line at
    /// `buf[.1...2]`; `None` once the run is written out (or not read yet).
    head: Option<(Order, usize, usize)>,
    /// `head` was read.
    primed: bool,
}

impl Run {
    fn new(pos: u64, end: u64) -> Run {
        Run {
            pos,
            end,
            buf: Vec::new(),
            at: 0,
            head: None,
            primed: false,
        }
    }

    fn done(&self) -> bool {
        self.primed && self.head.is_none()
    }

    /// Reads the next record into `head`, reading `cap` bytes of the
    /// file at a time.
    fn next(&mut self, file: &mut File, cap: usize) -> io::Result<()> {
        self.primed = true;
        self.head = None;
        if !self.fill(file, HEADER, cap)? {
            return Ok(());
        }
        let (order, len) = get_header(&self.buf[self.at..self.at + HEADER]);
        if !self.fill(file, HEADER + len, cap)? {
            return Err(cut());
        }
        let start = self.at + HEADER;
        self.head = Some((order, start, start + len));
        self.at = start + len;
        Ok(())
    }

    /// Makes `need` bytes available from `at`; false when the run has no
    /// byte left.
    fn fill(&mut self, file: &mut File, need: usize, cap: usize) -> io::Result<bool> {
        let have = self.buf.len() - self.at;
        if have >= need {
            return Ok(true);
        }
        let left = self.end - self.pos;
        if have == 0 && left == 0 {
            return Ok(false);
        }
        let n = ((need.max(cap) - have) as u64).min(left);
        if have as u64 + n < need as u64 {
            return Err(cut());
        }
        self.buf.drain(..self.at);
        self.at = 0;
        self.buf.resize(have + n as usize, 0);
        file.seek(SeekFrom::Start(self.pos))?;
        file.read_exact(&mut self.buf[have..])?;
        self.pos += n;
        Ok(true)
    }
}

fn cut() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "--flows temporary file: a sorted run ends in the middle of a record",
    )
}

/// Sorted runs of records spilled past the writer's share, in one
/// temporary file (deleted when closed, whatever ends the process).
#[derive(Debug, Default)]
pub(super) struct Spill {
    /// Where the temporary file is made (the output's directory); the
    /// system's temporary directory when that fails or is not known.
    pub(super) dir: Option<PathBuf>,
    file: Option<File>,
    /// Bytes in the file: the runs not written out yet end there.
    len: u64,
    runs: Vec<Run>,
    /// Runs spilled in all, and their bytes (`FINSCOPE_STATS`).
    pub(super) made: u64,
    pub(super) bytes: u64,
    /// The temporary file could not be made or written: records then stay
    /// in memory, past the share.
    pub(super) failed: Option<io::Error>,
}

impl Spill {
    /// Writes `held` as one sorted run and empties it; on failure keeps
    /// it (and every later record) in memory, [`Spill::failed`] saying why.
    pub(super) fn spill(&mut self, held: &mut Held) {
        if self.failed.is_some() || held.is_empty() {
            return;
        }
        match self.write_run(held) {
            Ok(run) => {
                self.runs.push(run);
                held.clear();
            }
            Err(e) => {
                if let Some(f) = &self.file {
                    let _ = f.set_len(self.len);
                }
                self.failed = Some(e);
            }
        }
    }

    fn write_run(&mut self, held: &mut Held) -> io::Result<Run> {
        let file = match self.file.take() {
            Some(f) => f,
            None => match &self.dir {
                Some(d) => tempfile::tempfile_in(d).or_else(|_| tempfile::tempfile())?,
                None => tempfile::tempfile()?,
            },
        };
        let file = self.file.insert(file);
        held.sort();
        file.seek(SeekFrom::Start(self.len))?;
        let mut w = io::BufWriter::with_capacity(1 << 16, &mut *file);
        let mut head = Vec::with_capacity(HEADER);
        let mut bytes = 0;
        for (i, e) in held.index.iter().enumerate() {
            let line = held.line(i);
            head.clear();
            put_header(
                &mut head,
                &e.order,
                u32::try_from(line.len()).map_err(io::Error::other)?,
            );
            w.write_all(&head)?;
            w.write_all(line)?;
            bytes += (HEADER + line.len()) as u64;
        }
        w.flush()?;
        drop(w);
        let pos = self.len;
        self.len += bytes;
        self.made += 1;
        self.bytes += bytes;
        Ok(Run::new(pos, self.len))
    }

    /// Writes to `out`, in order, every record held or spilled whose retire
    /// clock is below `watermark` (all of them at `u64::MAX`), and returns
    /// how many; reading the runs takes about `share` bytes of buffers.
    pub(super) fn emit(
        &mut self,
        held: &mut Held,
        watermark: u64,
        share: usize,
        out: &mut impl Write,
    ) -> io::Result<u64> {
        if watermark == 0 {
            return Ok(0);
        }
        let ready = |o: &Order| o.0 < watermark || watermark == u64::MAX;
        let file = match &mut self.file {
            Some(f) if !self.runs.is_empty() => f,
            _ => {
                // Most batches leave only records of the latest clock.
                if !held.index.iter().any(|e| ready(&e.order)) {
                    return Ok(0);
                }
                held.sort();
                let n = held.index.partition_point(|e| ready(&e.order));
                for i in 0..n {
                    out.write_all(held.line(i))?;
                }
                held.drop_first(n);
                return Ok(n as u64);
            }
        };
        held.sort();
        const HELD: usize = usize::MAX;
        let cap = (share / self.runs.len()).clamp(4096, 1 << 20);
        let mut heap = BinaryHeap::with_capacity(self.runs.len() + 1);
        for (i, r) in self.runs.iter_mut().enumerate() {
            if !r.primed {
                r.next(file, cap)?;
            }
            if let Some((o, ..)) = r.head {
                heap.push(Reverse((o, i)));
            }
        }
        if let Some(e) = held.index.first() {
            heap.push(Reverse((e.order, HELD)));
        }
        let (mut h, mut n) = (0, 0);
        while let Some(&Reverse((o, src))) = heap.peek() {
            if !ready(&o) {
                break;
            }
            heap.pop();
            if src == HELD {
                out.write_all(held.line(h))?;
                h += 1;
                if let Some(e) = held.index.get(h) {
                    heap.push(Reverse((e.order, HELD)));
                }
            } else {
                let r = &mut self.runs[src];
                if let Some((_, s, e)) = r.head {
                    out.write_all(&r.buf[s..e])?;
                }
                r.next(file, cap)?;
                if let Some((o, ..)) = r.head {
                    heap.push(Reverse((o, src)));
                }
            }
            n += 1;
        }
        held.drop_first(h);
        self.runs.retain(|r| !r.done());
        if self.runs.is_empty() {
            // Every run written out: the file is reused from its start.
            file.set_len(0)?;
            self.len = 0;
            self.runs = Vec::new();
        }
        Ok(n)
    }
}
