//! Free-running shards (two threads or more, nothing streamed to a sink):
//! one thread per shard, no barrier between batches.
//!
//! The lock-step path (`Engine::step`) joins the pool twice per batch:
//! once after the chunks are routed, once after every shard tracked its
//! frames. On 2 cores a thread waiting at those joins (spinning, then
//! sleeping and being woken) cost 15-25% more CPU than -j1 and kept -j2
//! at about 1.5x of -j1. Here each thread owns one shard. When the reader
//! is free, fewer than one batch per shard plus [`EXTRA_IN_FLIGHT`] are in
//! flight, and its shard has nothing ready or fewer than [`READ_AHEAD`]
//! batches ahead, a thread reads the next batch and routes it whole
//! ([`route_chunk`]); otherwise it tracks its shard's frames of the oldest
//! batch it has not tracked yet ([`track`]). Reading is serial (one thread
//! at a time holds the reader); routing and tracking
//! run in parallel. Every shard still sees its frames in capture order with
//! the same capture clock (the running maximum of the timestamps, carried
//! from batch to batch), and the frame counts are added in batch order, so
//! the result is exactly the lock-step path's (the determinism and gencap
//! tests at -j1, -j2 and -j4).
//!
//! A sink (`--flows`, `--interval`) needs the shards brought to a common
//! clock after each batch; that keeps the lock-step path.

use super::Engine;
use super::batch::{Batch, DecodeCtx, Routed, read_batch, route_chunk, track};
use crate::capture::{CaptureReader, Status};
use crate::flow::Shard;
use crate::metrics::{Packets, ShardMetrics};
use std::collections::VecDeque;
use std::io::Read;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// Batches in flight (read, and not yet tracked by every shard) beyond one
/// per shard. 5M gateway packets, -j2, interleaved: 3 or 4 in flight ran
/// alike (0.96-1.09 s); each more costs a buffer (1 MiB) and a batch's
/// segments (about 0.3 MiB).
const EXTRA_IN_FLIGHT: u64 = 1;

/// A thread with work of its own still reads when fewer than this many
/// batches are ahead of its shard. Reading only when idle left one thread
/// reading every batch or none (the two were 0.3-0.9 s idle of 1.7 s);
/// with 2, each reads about half the batches and waits a few ms in all.
const READ_AHEAD: u64 = 2;

/// A batch and its routing.
#[derive(Default)]
struct Slot {
    batch: Batch,
    routed: Routed,
}

impl Slot {
    /// `batch` routed whole to `shards` shards, into `routed` (reused).
    fn routed(batch: Batch, mut routed: Routed, shards: usize, ctx: DecodeCtx) -> Slot {
        route_chunk((&batch.frames, 0, &batch.data), shards, &mut routed, ctx);
        Slot { batch, routed }
    }
}

/// What the threads share, behind one lock (taken a few times per batch,
/// never while reading, routing or tracking).
struct Board<'r, R> {
    /// The reader, when no thread is reading.
    reader: Option<&'r mut CaptureReader<R>>,
    /// Sequence number of `slots[0]`.
    base: u64,
    /// From `base` on: each batch once routed, and the shards yet to track it.
    slots: VecDeque<(Option<Arc<Slot>>, usize)>,
    /// Sequence number of the next batch to read.
    next: u64,
    /// Batches in all, once reading stopped.
    end: Option<u64>,
    /// The status that stopped reading.
    last: Option<Status>,
    /// Per shard: the next batch it tracks.
    consumed: Vec<u64>,
    /// Buffers of tracked batches, for the next reads.
    spares: Vec<Slot>,
    /// A thread panicked: the others stop instead of waiting for it.
    failed: bool,
}

/// How reading is settled and shown, from `read_file`.
pub(super) struct Hooks<'a, R> {
    /// Reading stopped (`status` is not `More`): the decompressor's fault, if any.
    pub(super) settle: &'a (dyn Fn(Status, &CaptureReader<R>) -> Status + Sync),
    /// After each read: the progress bar.
    pub(super) shown: &'a (dyn Fn(&CaptureReader<R>) + Sync),
    /// Whether to stop reading (an interrupt).
    pub(super) stop: &'a (dyn Fn() -> bool + Sync),
}

impl<R> Hooks<'_, R> {
    /// The status a read ended with, a stop settled by `settle`.
    fn settled(&self, status: Status, reader: &CaptureReader<R>) -> Status {
        match status {
            Status::More => Status::More,
            s => (self.settle)(s, reader),
        }
    }
}

/// Marks the board failed when a thread unwinds, so that no other waits
/// for it forever.
struct Failed<'b, 'r, R> {
    board: &'b Mutex<Board<'r, R>>,
    cv: &'b Condvar,
}

impl<R> Drop for Failed<'_, '_, R> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            lock(self.board).failed = true;
            self.cv.notify_all();
        }
    }
}

fn lock<'b, 'r, R>(m: &'b Mutex<Board<'r, R>>) -> MutexGuard<'b, Board<'r, R>> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Engine<'_> {
    /// Tracks `first` and every later batch of `reader` with one thread
    /// per shard (see the module's text). Returns the status that ended
    /// reading (`More` when `hooks.stop` stopped it).
    pub(super) fn fly<R: Read + Send>(
        &mut self,
        first: (Batch, Status),
        reader: &mut CaptureReader<R>,
        ctx: DecodeCtx,
        hooks: &Hooks<'_, R>,
    ) -> Status {
        let nshards = self.shards.len();
        let (batch, status) = first;
        let slot = Slot::routed(batch, Routed::default(), nshards, ctx);
        let status = hooks.settled(status, reader);
        let ended = !matches!(status, Status::More);
        let board = Mutex::new(Board {
            reader: Some(reader),
            base: 0,
            slots: VecDeque::from([(Some(Arc::new(slot)), nshards)]),
            next: 1,
            end: ended.then_some(1),
            last: ended.then_some(status),
            consumed: vec![0; nshards],
            spares: vec![Slot {
                batch: std::mem::take(&mut self.spare),
                routed: Routed::default(),
            }],
            failed: false,
        });
        let cv = Condvar::new();
        let limit = nshards as u64 + EXTRA_IN_FLIGHT;
        let start = self.decoded.clock;
        let (board, cv) = (&board, &cv);
        let (clock, packets) = std::thread::scope(|s| {
            let mut shards = self.shards.iter_mut().enumerate();
            let first = shards.next();
            let others: Vec<_> = shards
                .map(|(i, sh)| s.spawn(move || run(i, sh, board, cv, limit, start, ctx, hooks)))
                .collect();
            let mine = first.map(|(i, sh)| run(i, sh, board, cv, limit, start, ctx, hooks));
            for h in others {
                // A thread's panic is the run's (the board was marked
                // failed, so no other waited for it): never a report
                // without that shard's part.
                if let Err(p) = h.join() {
                    std::panic::resume_unwind(p);
                }
            }
            mine
        })
        .unwrap_or((start, Packets::default()));
        self.decoded.clock = clock;
        self.packets += &packets;
        let mut b = lock(board);
        if let Some(s) = b.spares.pop() {
            self.spare = s.batch;
        }
        b.last.take().unwrap_or(Status::More)
    }
}

/// One thread's loop: read and route when it may, else track shard `i`'s
/// frames of its next batch, else wait. Returns the capture clock after
/// the last batch and (shard 0 only) the frames counted, in batch order.
#[allow(clippy::too_many_arguments)]
fn run<R: Read + Send>(
    i: usize,
    sh: &mut Shard<ShardMetrics>,
    board: &Mutex<Board<'_, R>>,
    cv: &Condvar,
    limit: u64,
    mut clock: u64,
    ctx: DecodeCtx,
    hooks: &Hooks<'_, R>,
) -> (u64, Packets) {
    let _failed = Failed { board, cv };
    let mut packets = Packets::default();
    let mut b = lock(board);
    let nshards = b.consumed.len();
    loop {
        if b.failed {
            break;
        }
        let k = b.consumed[i];
        let ready = b.slots.get((k - b.base) as usize).and_then(|e| e.0.clone());
        let may_read = b.end.is_none()
            && b.next - b.base < limit
            && b.reader.is_some()
            && (ready.is_none() || b.next - k < READ_AHEAD);
        if may_read && (hooks.stop)() {
            b.end = Some(b.next);
            cv.notify_all();
            continue;
        }
        if may_read && let Some(reader) = b.reader.take() {
            let seq = b.next;
            b.next += 1;
            b.slots.push_back((None, nshards));
            let spare = b.spares.pop().unwrap_or_default();
            drop(b);
            let (batch, status) = read_batch(reader, spare.batch);
            (hooks.shown)(reader);
            let status = hooks.settled(status, reader);
            b = lock(board);
            b.reader = Some(reader);
            if !matches!(status, Status::More) {
                b.end = Some(seq + 1);
                b.last = Some(status);
            }
            drop(b);
            cv.notify_all();
            let slot = Slot::routed(batch, spare.routed, nshards, ctx);
            b = lock(board);
            let at = (seq - b.base) as usize;
            if let Some(e) = b.slots.get_mut(at) {
                e.0 = Some(Arc::new(slot));
            }
            cv.notify_all();
            continue;
        }
        if let Some(slot) = ready {
            drop(b);
            let before = clock;
            clock = clock.max(slot.routed.clock);
            let frames = (&slot.batch.frames[..], &slot.batch.data[..]);
            track(i, sh, &slot.routed, before, frames, ctx);
            if i == 0 {
                packets += &slot.routed.packets;
            }
            drop(slot);
            b = lock(board);
            b.consumed[i] += 1;
            let at = (k - b.base) as usize;
            if let Some(e) = b.slots.get_mut(at) {
                e.1 -= 1;
            }
            // Every shard tracked the oldest batches: their buffers are
            // read into again.
            let mut freed = false;
            while b.slots.front().is_some_and(|e| e.1 == 0) {
                if let Some((Some(s), _)) = b.slots.pop_front()
                    && let Ok(s) = Arc::try_unwrap(s)
                {
                    b.spares.push(s);
                }
                b.base += 1;
                freed = true;
            }
            if freed {
                cv.notify_all();
            }
            continue;
        }
        if b.end.is_some_and(|e| k >= e) {
            break;
        }
        b = cv.wait(b).unwrap_or_else(|e| e.into_inner());
    }
    (clock, packets)
}
