//! Batching: one buffer-full of records (a [`Batch`]) routed in parallel
//! chunks to shards ([`Routed`]: frame indices, not decoded segments), then
//! every shard decodes and tracks its own frames in capture order with the
//! capture clock ([`process`]); and what the shards retired handed on
//! after a batch ([`drain`]). No `--interval` logic: the clock of
//! intervals (`interval.rs`) cuts a batch into pieces and processes each
//! piece here.

use super::FlowSink;
use crate::capture::{CaptureReader, RawFrame, Status};
use crate::decode::{Segment, route};
use crate::flow::Shard;
use crate::flow::key::{symmetric_hash, symmetric_hash_of};
use crate::metrics::{Packets, ShardMetrics};
use rayon::prelude::*;
use std::io::Read;
use std::ops::ControlFlow;

/// Fewest shards whose frames are routed before they are decoded. With
/// two, each decoded in the chunk (by the fixed offsets where they apply)
/// measured faster: routing parses each header twice (once to route, once
/// on the shard) and moves work from the balanced chunks to the shards,
/// whose loads differ (5M gateway, -j2, 6 interleaved runs: median 1.64 s
/// decoding in the chunks, 1.85 s routing; docs/performance.md, "Engine").
/// The free-running shards (`flight.rs`) measured the same way round:
/// 0.96-1.05 s decoding where the batch is routed, 1.05-1.07 s routing.
const ROUTE_MIN_SHARDS: u64 = 3;

/// Fewest frames per parallel routing task.
pub(super) const MIN_CHUNK: usize = 1024;

/// One frame for a shard: the frame to decode (`at` indexes the piece's
/// frames) or a segment the routing task decoded (`at` indexes the
/// chunk's `decoded`), with the chunk-local capture clock at it.
#[derive(Clone, Copy)]
struct Item {
    clock: u64,
    at: u32,
    decoded: bool,
}

/// A routing chunk's frames sorted by shard, and its frame counts. Reused
/// from batch to batch, so routing allocates nothing per packet.
#[derive(Default)]
pub(super) struct Routed {
    /// Per shard, in capture order.
    per_shard: Vec<Vec<Item>>,
    /// Segments of frames the router could not place by fixed offsets
    /// (tunnels, fragments, extension headers, `--filter`), decoded here.
    decoded: Vec<Segment>,
    pub(super) packets: Packets,
    /// Latest segment timestamp in the chunk.
    pub(super) clock: u64,
}

impl Routed {
    /// Emptied for a chunk routed to `shards` shards, frames counted per
    /// timeline bucket of `bucket_ns`.
    fn reset(&mut self, shards: usize, bucket_ns: u64) {
        self.per_shard.resize_with(shards, Vec::new);
        for v in &mut self.per_shard {
            v.clear();
        }
        self.decoded.clear();
        self.packets = Packets::with_bucket(bucket_ns);
        self.clock = 0;
    }
}

/// What every routing task needs besides its frames: `--filter`, and the
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

impl DecodeCtx<'_> {
    /// Whether `f` is in the analysed time range.
    #[inline]
    fn skips(&self, f: &RawFrame) -> bool {
        self.range
            .is_some_and(|(since, until)| f.ts_ns < since || f.ts_ns >= until)
    }

    /// `f` decoded and counted in `packets`, then its segment, if it
    /// makes one, given to `take`; nothing for a frame `--filter` drops.
    #[inline(always)]
    fn counted(
        &self,
        f: &RawFrame,
        data: &[u8],
        packets: &mut Packets,
        take: impl FnOnce(&Segment),
    ) {
        let r = route::decode(f.link, bytes(f, data), f.ts_ns, f.number + self.frame_base);
        if self
            .filter
            .is_some_and(|flt| !r.as_ref().is_ok_and(|s| flt.matches(s)))
        {
            return;
        }
        packets.count(f.link, f.ts_ns, &r);
        if let Ok(seg) = &r {
            take(seg);
        }
    }
}

/// A frame's captured bytes.
#[inline]
fn bytes<'a>(f: &RawFrame, data: &'a [u8]) -> &'a [u8] {
    let start = f.off as usize;
    data.get(start..start + f.caplen as usize).unwrap_or(&[])
}

/// Routes a chunk of frames (the piece's frames from `first` on) to
/// `shards` shards into `out` (emptied first, its vectors reused): by the
/// addresses and ports at fixed offsets, the hash the
/// decoded segment would get ([`route::route`]); what that cannot place
/// is decoded here, as is every frame under `--filter` (it reads the
/// whole segment). Frames are counted here, in capture order.
pub(super) fn route_chunk(
    (frames, first, data): (&[RawFrame], usize, &[u8]),
    shards: usize,
    out: &mut Routed,
    ctx: DecodeCtx,
) {
    out.reset(shards, ctx.bucket_ns);
    let shards = shards as u64;
    // Below ROUTE_MIN_SHARDS the frame is decoded here: routing measured
    // slower.
    let decode_here = shards < ROUTE_MIN_SHARDS;
    for (i, f) in frames.iter().enumerate() {
        if ctx.skips(f) {
            continue;
        }
        let at = (first + i) as u32;
        if !decode_here
            && ctx.filter.is_none()
            && let Some(r) = route::route(f.link, bytes(f, data))
        {
            out.packets.frame(f.link, f.ts_ns);
            out.packets.tcp(r.flags, r.payload_len);
            let h = symmetric_hash_of((r.src, r.sport), (r.dst, r.dport), r.vlan);
            out.clock = out.clock.max(f.ts_ns);
            out.per_shard[shard_of(h, shards)].push(Item {
                clock: out.clock,
                at,
                decoded: false,
            });
            continue;
        }
        let (clock, per_shard, decoded) = (&mut out.clock, &mut out.per_shard, &mut out.decoded);
        ctx.counted(f, data, &mut out.packets, |seg| {
            *clock = (*clock).max(seg.ts_ns);
            per_shard[shard_of(symmetric_hash(seg), shards)].push(Item {
                clock: *clock,
                at: decoded.len() as u32,
                decoded: true,
            });
            decoded.push(*seg);
        });
    }
}

/// The shard of a flow hash among `shards`: the high half of their
/// product (uniform for a well-mixed hash, without a division per frame).
#[inline]
fn shard_of(h: u64, shards: u64) -> usize {
    ((u128::from(h) * u128::from(shards)) >> 64) as usize
}

/// Reused routing output plus the capture clock (see [`Shard::process_at`]).
#[derive(Default)]
pub(super) struct DecodeState {
    pub(super) chunks: Vec<Routed>,
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

/// [`process`] with one shard and no pool: each frame decoded and tracked
/// at once, while its bytes and its segment are in cache (no routed items,
/// no vector of segments). The same clock and counts as the routed path.
fn one_shard(
    (frames, data): (&[RawFrame], &[u8]),
    sh: &mut Shard<ShardMetrics>,
    state: &mut DecodeState,
    packets: &mut Packets,
    ctx: DecodeCtx,
) {
    if state.chunks.is_empty() {
        state.chunks.push(Routed::default());
    }
    let Some(d) = state.chunks.first_mut() else {
        return;
    };
    d.reset(1, ctx.bucket_ns);
    let start = state.clock;
    let mut clock = 0u64;
    for f in frames {
        if ctx.skips(f) {
            continue;
        }
        ctx.counted(f, data, &mut d.packets, |seg| {
            clock = clock.max(seg.ts_ns);
            sh.process_at(seg, start.max(clock));
        });
    }
    state.clock = state.clock.max(clock);
    *packets += &d.packets;
}

/// Routes a batch (in parallel chunks when `par`) and has every shard
/// decode and track its frames in capture order (one shard per task when
/// `par`). One shard without a pool: [`one_shard`].
pub(super) fn process(
    (frames, data): (&[RawFrame], &[u8]),
    shards: &mut [Shard<ShardMetrics>],
    state: &mut DecodeState,
    packets: &mut Packets,
    par: bool,
    ctx: DecodeCtx,
) {
    let nshards = shards.len();
    if !par && let [sh] = shards {
        one_shard((frames, data), sh, state, packets, ctx);
        return;
    }
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
        chunks: routed,
        starts,
        clock,
    } = state;
    if routed.len() < nchunks {
        routed.resize_with(nchunks, Routed::default);
    }
    let used = &mut routed[..nchunks];
    let place = |(k, (c, d)): (usize, (&[RawFrame], &mut Routed))| {
        route_chunk((c, k * chunk, data), nshards, d, ctx);
    };
    if par {
        frames
            .par_chunks(chunk)
            .zip(used.par_iter_mut())
            .enumerate()
            .for_each(place);
    } else {
        frames
            .chunks(chunk)
            .zip(used.iter_mut())
            .enumerate()
            .for_each(place);
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
            track(i, sh, d, *start, (frames, data), ctx);
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

/// Has shard `i` (`sh`) decode and track its frames of a routed chunk
/// (`d`, routed from `frames`), in capture order: the segment is made
/// where it is tracked. `start`: the capture clock before the chunk.
#[inline]
pub(super) fn track(
    i: usize,
    sh: &mut Shard<ShardMetrics>,
    d: &Routed,
    start: u64,
    (frames, data): (&[RawFrame], &[u8]),
    ctx: DecodeCtx,
) {
    let Some(items) = d.per_shard.get(i) else {
        return;
    };
    for it in items {
        let now = start.max(it.clock);
        let at = it.at as usize;
        if it.decoded {
            if let Some(seg) = d.decoded.get(at) {
                sh.process_at(seg, now);
            }
        } else if let Some(f) = frames.get(at) {
            let n = f.number + ctx.frame_base;
            if let Ok(seg) = route::decode(f.link, bytes(f, data), f.ts_ns, n) {
                sh.process_at(&seg, now);
            }
        }
    }
}

/// After a batch (`clock`: the capture clock at its end), or at the end
/// (`None`): hands what the shards retired to `sink`. Shards are first
/// brought to the clock, so that everything dead by its sweep epoch is
/// retired, which makes `clock` a watermark (see [`crate::flow::table::Retired::clock`]).
pub(super) fn drain(
    shards: &mut [Shard<ShardMetrics>],
    clock: Option<u64>,
    sink: &mut dyn FlowSink,
) -> ControlFlow<()> {
    if let Some(c) = clock {
        shards.iter_mut().for_each(|s| s.advance(c));
    }
    hand_over(shards, clock.unwrap_or(u64::MAX), sink)
}

/// Hands what the shards retired to `sink`, every later retirement having
/// a clock of at least `watermark`: each shard's connections in their own
/// vector, with the watermark 0 (another shard's may precede them), then
/// an empty vector with the watermark.
pub(super) fn hand_over(
    shards: &mut [Shard<ShardMetrics>],
    watermark: u64,
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
    sink.retired(&mut Vec::new(), watermark)
}
