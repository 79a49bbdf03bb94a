//! Batching: one buffer-full of records (a [`Batch`]) decoded in parallel
//! chunks into `Copy` segments sorted by shard ([`Decoded`]), then fed to
//! every shard in capture order with the capture clock ([`process`]); and
//! what the shards retired handed on after a batch ([`drain`]). No
//! `--interval` logic: the clock of intervals (`interval.rs`) cuts a batch
//! into pieces and processes each piece here.

use super::FlowSink;
use crate::capture::{CaptureReader, RawFrame, Status};
use crate::decode::{self, Segment};
use crate::flow::Shard;
use crate::flow::key::symmetric_hash;
use crate::flow::table::Retired;
use crate::metrics::{Packets, ShardMetrics};
use rayon::prelude::*;
use std::io::Read;
use std::ops::ControlFlow;

/// Fewest frames per parallel decode task.
pub(super) const MIN_CHUNK: usize = 1024;

/// Segments of one decode chunk, sorted by shard, and its frame counts.
/// Reused from batch to batch, so decoding allocates nothing per packet.
#[derive(Default)]
pub(super) struct Decoded {
    /// Per shard: each segment with the latest timestamp of the chunk's
    /// segments up to it (the chunk-local capture clock).
    per_shard: Vec<Vec<(Segment, u64)>>,
    packets: Packets,
    /// Latest segment timestamp in the chunk.
    pub(super) clock: u64,
}

impl Decoded {
    fn reset(&mut self, shards: usize) {
        self.per_shard.resize_with(shards, Vec::new);
        for v in &mut self.per_shard {
            v.clear();
        }
        self.packets = Packets::default();
        self.clock = 0;
    }
}

/// What every decode task needs besides its frames: `--filter`, and the
/// frames of earlier files (frame numbers continue across files).
#[derive(Clone, Copy)]
pub(super) struct DecodeCtx<'a> {
    pub(super) filter: Option<&'a crate::decode::filter::Filter>,
    pub(super) frame_base: u64,
    /// Timeline bucket width: frames are also counted per bucket.
    pub(super) bucket_ns: u64,
    /// Frames outside [since, until) (ns) are skipped (`--since`,
    /// `--until`); `None`: every frame (timestamps may saturate at u64::MAX).
    pub(super) range: Option<(u64, u64)>,
}

fn decode_chunk(frames: &[RawFrame], data: &[u8], out: &mut Decoded, ctx: DecodeCtx) {
    let shards = out.per_shard.len();
    out.packets.bucket_ns = ctx.bucket_ns;
    for f in frames {
        if let Some((since, until)) = ctx.range
            && (f.ts_ns < since || f.ts_ns >= until)
        {
            continue;
        }
        let start = f.off as usize;
        let bytes = data.get(start..start + f.caplen as usize).unwrap_or(&[]);
        let r = decode::decode(f.link, bytes, f.ts_ns, f.number + ctx.frame_base);
        if let Some(flt) = ctx.filter
            && !r.as_ref().is_ok_and(|s| flt.matches(s))
        {
            continue;
        }
        out.packets.count(f.link, f.ts_ns, &r);
        if let Ok(seg) = r {
            let s = if shards == 1 {
                0
            } else {
                (symmetric_hash(&seg) % shards as u64) as usize
            };
            out.clock = out.clock.max(seg.ts_ns);
            out.per_shard[s].push((seg, out.clock));
        }
    }
}

/// Reused decode output plus the capture clock (see [`Shard::process_at`]).
#[derive(Default)]
pub(super) struct DecodeState {
    pub(super) chunks: Vec<Decoded>,
    /// Capture clock before each chunk of the current batch.
    pub(super) starts: Vec<u64>,
    /// Latest segment timestamp so far.
    pub(super) clock: u64,
}

/// One buffer-full of records: the buffer and the frames pointing into it.
#[derive(Default)]
pub(super) struct Batch {
    pub(super) data: Vec<u8>,
    pub(super) frames: Vec<RawFrame>,
}

impl Batch {
    /// The frames and the bytes they point into.
    pub(super) fn parts(&self) -> (&[RawFrame], &[u8]) {
        (&self.frames, &self.data)
    }
}

/// Reads the next batch into `into`'s vectors (reused) and returns it with
/// the status that ended it.
pub(super) fn read_batch<R: Read>(
    reader: &mut CaptureReader<R>,
    mut into: Batch,
) -> (Batch, Status) {
    let status = reader.next_batch(&mut into.frames);
    into.data = reader.swap_buffer(std::mem::take(&mut into.data));
    (into, status)
}

/// Decodes a batch (in parallel chunks when `par`) and feeds every shard its
/// segments in capture order (one shard per task when `par`).
pub(super) fn process(
    (frames, data): (&[RawFrame], &[u8]),
    shards: &mut [Shard<ShardMetrics>],
    state: &mut DecodeState,
    packets: &mut Packets,
    par: bool,
    ctx: DecodeCtx,
) {
    let nshards = shards.len();
    // Several chunks per thread, so work-stealing can balance them.
    let chunk = if par {
        frames
            .len()
            .div_ceil(rayon::current_num_threads() * 4)
            .max(MIN_CHUNK)
    } else {
        frames.len().max(1)
    };
    let nchunks = frames.len().div_ceil(chunk);
    let DecodeState {
        chunks: decoded,
        starts,
        clock,
    } = state;
    if decoded.len() < nchunks {
        decoded.resize_with(nchunks, Decoded::default);
    }
    let used = &mut decoded[..nchunks];
    if par {
        frames
            .par_chunks(chunk)
            .zip(used.par_iter_mut())
            .for_each(|(c, d)| {
                d.reset(nshards);
                decode_chunk(c, data, d, ctx);
            });
    } else {
        for (c, d) in frames.chunks(chunk).zip(used.iter_mut()) {
            d.reset(nshards);
            decode_chunk(c, data, d, ctx);
        }
    }
    // The capture clock before each chunk: a prefix maximum over chunks,
    // carried across batches and files, so every shard sees the same clock.
    starts.clear();
    for d in used.iter() {
        starts.push(*clock);
        *clock = (*clock).max(d.clock);
    }
    let (used, starts) = (&*used, &starts[..]);
    let feed = |(i, sh): (usize, &mut Shard<ShardMetrics>)| {
        for (d, start) in used.iter().zip(starts) {
            for (seg, local) in &d.per_shard[i] {
                sh.process_at(seg, (*start).max(*local));
            }
        }
    };
    if par {
        shards.par_iter_mut().enumerate().for_each(feed);
    } else {
        shards.iter_mut().enumerate().for_each(feed);
    }
    for d in used {
        *packets += &d.packets;
    }
}

/// After a batch (`clock`: the capture clock at its end), or at the end
/// (`None`): hands what the shards retired to `sink`. Shards are first
/// brought to the clock, so that everything dead by its sweep epoch is
/// retired, which makes `clock` a watermark (see [`Retired::clock`]).
/// Gives back an emptied vector's memory when it is large (the end's
/// flush, a burst of retirements), so that it is not held for the run.
fn release(v: &mut Vec<Retired>) {
    if v.is_empty() && v.capacity() > 1 << 14 {
        *v = Vec::new();
    }
}

pub(super) fn drain(
    shards: &mut [Shard<ShardMetrics>],
    clock: Option<u64>,
    out: &mut Vec<Retired>,
    sink: &mut dyn FlowSink,
) -> ControlFlow<()> {
    if let Some(c) = clock {
        shards.iter_mut().for_each(|s| s.advance(c));
    }
    hand_over(shards, clock.unwrap_or(u64::MAX), out, sink)
}

/// Hands what the shards retired to `sink`, every later retirement having
/// a clock of at least `watermark`: each shard's connections in their own
/// vector, with the watermark 0 (another shard's may precede them), then
/// `out` (empty) with the watermark.
pub(super) fn hand_over(
    shards: &mut [Shard<ShardMetrics>],
    watermark: u64,
    out: &mut Vec<Retired>,
    sink: &mut dyn FlowSink,
) -> ControlFlow<()> {
    for s in shards.iter_mut() {
        if let Some(v) = &mut s.sink.retired
            && !v.is_empty()
        {
            // Handed over in place and kept at its size for the next
            // burst (an eviction retires thousands at once): a vector of
            // megabytes freed and grown again each time left glibc's heap
            // fragmented (`--flows` at --max-memory 64MiB: RSS swung
            // between 103 and 140 MiB while reading, now flat at 120).
            let r = sink.retired(v, 0);
            v.clear();
            r?;
        }
    }
    let r = sink.retired(out, watermark);
    out.clear();
    release(out);
    r
}
