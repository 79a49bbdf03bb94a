//! The `--interval` clock: the current interval ([`Tick`]), the cut of a
//! batch into pieces that end at interval ends, and the summary handed to
//! the sink when the capture clock passes an interval's end. Each piece is
//! decoded and tracked by batching's [`super::batch::process`], as a whole
//! batch is without `--interval`.

use super::batch::{Batch, DecodeCtx, MIN_CHUNK, drain, process};
use super::{Engine, FlowSink, Interval};

/// The current `--interval`: [start, end) ns, and the frame, TCP, SYN,
/// FIN and RST counts at its start.
#[derive(Clone, Copy, Debug)]
pub(super) struct Tick {
    start: u64,
    end: u64,
    base: [u64; 5],
}

impl Engine<'_> {
    /// With `--interval`: processes a batch in pieces that end at interval
    /// ends, handing the sink each interval's summary before the first
    /// frame past its end, so that a summary counts exactly the frames of
    /// its interval however many intervals one batch spans (a file is read
    /// in batches of up to 1 MiB: minutes of a slow capture).
    pub(super) fn step_by_interval(
        &mut self,
        batch: &Batch,
        ctx: DecodeCtx,
        sink: &mut dyn FlowSink,
    ) {
        let (frames, data) = batch.parts();
        let mut lo = 0;
        while lo < frames.len() {
            let hi = match self.tick.map(|t| t.end) {
                // Until the first analysed frame starts the first interval
                // (frames before it may be filtered out): one at a time.
                None => lo + 1,
                Some(end) => match frames[lo..].iter().position(|f| f.ts_ns >= end) {
                    Some(0) => {
                        let now = frames[lo].ts_ns;
                        self.sink_stopped |=
                            drain(&mut self.shards, Some(self.decoded.clock), sink).is_break();
                        self.interval(sink, false, now);
                        if self.tick.is_some_and(|t| t.end > now) {
                            continue;
                        }
                        // The end of time: no later interval can start.
                        frames.len()
                    }
                    Some(k) => lo + k,
                    None => frames.len(),
                },
            };
            let par = self.threads > 1 && hi - lo > MIN_CHUNK;
            let piece = (&frames[lo..hi], data);
            let (shards, decoded, packets) =
                (&mut self.shards, &mut self.decoded, &mut self.packets);
            let mut job = || process(piece, shards, decoded, packets, par, ctx);
            match &self.pool {
                Some(p) if par => p.install(job),
                _ => job(),
            }
            lo = hi;
            if self.tick.is_none() {
                self.start_tick();
            }
        }
    }

    /// Starts the first `--interval` at the first analysed frame.
    pub(super) fn start_tick(&mut self) {
        if let (Some(iv), Some(first)) = (
            self.opts.interval_ns.filter(|v| *v > 0),
            self.packets.first_ts,
        ) {
            self.tick = Some(Tick {
                start: first,
                end: first.saturating_add(iv),
                base: [0; 5],
            });
        }
    }

    /// `--interval`: hands the sink the summary of the current interval once
    /// the capture clock (or `now`, the time of the next frame) has passed
    /// its end ([`Self::step_by_interval`] calls it before the first frame
    /// past it), and at the end (`last`) the one the capture ended in.
    pub(super) fn interval(&mut self, sink: &mut dyn FlowSink, last: bool, now: u64) {
        let Some(iv) = self.opts.interval_ns.filter(|v| *v > 0) else {
            return;
        };
        let p = &self.packets;
        let counts = [
            p.counts.frames,
            p.counts.tcp,
            p.counts.syn,
            p.counts.fin,
            p.counts.rst,
        ];
        let clock = self.decoded.clock.max(p.last_ts.unwrap_or(0)).max(now);
        let tracked = self.shards.iter().map(|s| s.live() as u64).sum();
        let evicted_early = self.shards.iter().map(|s| s.evicted).sum();
        let Some(tick) = self.tick.as_mut() else {
            return;
        };
        let summary = |start: u64, end: u64, d: [u64; 5], last: bool| Interval {
            start_us: start / 1_000,
            end_us: end / 1_000,
            frames: d[0],
            tcp: d[1],
            syn: d[2],
            fin: d[3],
            rst: d[4],
            tracked,
            evicted_early,
            last,
        };
        let d: [u64; 5] = std::array::from_fn(|i| counts[i].saturating_sub(tick.base[i]));
        if clock < tick.end {
            if last {
                sink.interval(&summary(tick.start, clock, d, true));
            }
            return;
        }
        // The interval that ended, then the whole intervals the clock
        // passed without a frame (one summary for them all), and at the end
        // the interval the capture ended in.
        sink.interval(&summary(tick.start, tick.end, d, false));
        let passed = (clock - tick.end) / iv;
        let to = tick.end.saturating_add(iv.saturating_mul(passed));
        if to > tick.end {
            sink.interval(&summary(tick.end, to, [0; 5], false));
        }
        *tick = Tick {
            start: to,
            end: to.saturating_add(iv),
            base: counts,
        };
        if last {
            let end = clock.max(to);
            sink.interval(&summary(to, end, [0; 5], true));
        }
    }
}
