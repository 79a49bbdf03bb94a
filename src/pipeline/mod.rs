//! Wires the stages together: reader -> parallel routing -> sharded decode
//! and flow tracking -> merged metrics.
//!
//! Per buffer-full of records (a batch): frames are routed in parallel
//! chunks, each chunk sorting its frames by shard (a symmetric hash of the
//! flow key read at fixed offsets, `decode::route`, so both directions
//! meet); then every shard, owned by one worker, decodes and consumes its
//! frames chunk by chunk, i.e. in capture order. Shard summaries merge exactly at the end, so the result is
//! the same for any thread count and any batch size.

use crate::capture::FileInfo;
pub use crate::capture::open::{interrupt, interrupted};
use crate::capture::{CaptureError, CaptureReader, Status};
use crate::flow::key::FlowKey;
use crate::flow::{FlowConfig, Shard};
use crate::metrics::peers::REPORT_PEERS_MAX;
use crate::metrics::timeline::TimelineConfig;
use crate::metrics::{Packets, ShardMetrics, share};
use batch::{Batch, DecodeCtx, DecodeState, drain, hand_over, process, read_batch};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use interval::Tick;
use rayon::prelude::*;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

mod batch;
mod flight;
mod interval;
mod results;
pub use results::{Analysis, FlowSink, Interval};

/// Makes SIGINT (Ctrl-C) and SIGTERM stop reading instead of killing the
/// process, so the report of everything read is still printed (as tshark
/// prints its statistics). A second signal exits at once with 130.
pub fn catch_interrupts() {
    // Fails only when a handler is already installed: keep that one.
    let _ = ctrlc::set_handler(|| {
        if interrupt() {
            std::process::exit(130);
        }
        crate::say!(
            "finscope: interrupted: stopping; the report covers what was read (interrupt again to quit at once)"
        );
    });
}

/// Connections each shard retires at once at the capture's end when a sink
/// takes them (`--flows`, `--group-by port`).
const END_PART: usize = 1024;

/// Inputs smaller than this get no progress bar.
const PROGRESS_MIN_BYTES: u64 = 64 * 1024 * 1024;

/// How to run an analysis.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Worker threads (and shards); 0 means all cores.
    pub threads: usize,
    pub flow: FlowConfig,
    /// Local socket-state timeline settings.
    pub timeline: TimelineConfig,
    /// Show a progress bar when stderr is a terminal and the input is large.
    pub progress: bool,
    /// Reader buffer size in bytes; 0: [`crate::capture::DEFAULT_BUFFER`],
    /// or [`crate::capture::ONE_THREAD_BUFFER`] with one thread.
    pub buffer: usize,
    /// Only segments passing this filter are analysed (`--filter`).
    pub filter: Option<crate::decode::filter::Filter>,
    /// Only frames from this time on are analysed (`--since`).
    pub since: Option<TimeBound>,
    /// Only frames before this time are analysed (`--until`).
    pub until: Option<TimeBound>,
    /// Periodic summaries every this many ns of capture time (`--interval`),
    /// handed to the sink.
    pub interval_ns: Option<u64>,
    /// Gather `--group-by port`'s (port, address) pairs in the shards
    /// ([`Analysis::ports`]).
    pub port_groups: bool,
}

/// A bound of the analysed time range (`--since`, `--until`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeBound {
    /// A time, ns since the epoch.
    At(u64),
    /// A duration (ns) after the capture's first packet.
    After(u64),
}

impl TimeBound {
    /// The time it names, given the capture's first packet time.
    pub fn resolve(self, first_ts: u64) -> u64 {
        match self {
            TimeBound::At(t) => t,
            TimeBound::After(d) => first_ts.saturating_add(d),
        }
    }
}

/// Whether an interrupt explains why `path` gave no capture: asked for
/// already, or, for a stream (standard input, a FIFO), within a fifth of a
/// second. Ctrl-C on `sleep 8 | finscope analyze -` reaches both: the
/// pipe's end can be read before the handler has run, and without the
/// wait the run ended with exit 2, "file too short" (7 times in 20).
fn interrupted_soon(path: &Path) -> bool {
    if interrupted() {
        return true;
    }
    let stream = path.as_os_str() == "-" || std::fs::metadata(path).is_ok_and(|m| !m.is_file());
    if stream {
        for _ in 0..20 {
            std::thread::sleep(std::time::Duration::from_millis(10));
            if interrupted() {
                return true;
            }
        }
    }
    false
}

/// An opened input: its bytes, its progress (size on disk and bytes read
/// of it, for a regular file), and its decompressor's fault.
type Opened = (
    Box<dyn Read + Send>,
    Option<Progress>,
    crate::capture::open::Fault,
);

/// A file's size on disk and the bytes read of it so far.
type Progress = (u64, std::sync::Arc<std::sync::atomic::AtomicU64>);

fn open_input(path: &Path) -> Result<Opened, CaptureError> {
    let input = crate::capture::open::open(path)?;
    Ok((input.reader, input.len.zip(input.read), input.fault))
}

/// Runs the analysis over `paths`, read one after another; connections
/// continue across files. Fails only when no input could be read at all.
pub fn analyze(paths: &[PathBuf], opts: &Options) -> Result<Analysis, CaptureError> {
    analyze_with(paths, opts, None)
}

/// The state of one run: the pool, the shards, and what carries over from
/// file to file (frame numbers, frame counters, reused buffers).
struct Engine<'o> {
    opts: &'o Options,
    threads: usize,
    pool: Option<rayon::ThreadPool>,
    /// Reader buffer size.
    buffer: usize,
    shards: Vec<Shard<ShardMetrics>>,
    /// Frame numbers continue across files, as in the concatenated capture.
    frame_base: u64,
    packets: Packets,
    spare: Batch,
    decoded: DecodeState,
    /// The analysed time range, once the first packet fixed it.
    range: Option<(u64, u64)>,
    /// `--interval`: the current interval.
    tick: Option<Tick>,
    /// The sink could not go on (a full disk): reading stops.
    sink_stopped: bool,
}

impl<'o> Engine<'o> {
    /// `keep`: shards keep their retired connections for a sink.
    fn new(opts: &'o Options, keep: bool) -> Engine<'o> {
        let threads = if opts.threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            opts.threads
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .ok();
        // Hidden knob for tests: a tiny buffer makes many small batches,
        // which must not change the result.
        let buffer = std::env::var("FINSCOPE_BUFFER")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(match (opts.buffer, threads) {
                (0, 1) => crate::capture::ONE_THREAD_BUFFER,
                (0, _) => crate::capture::DEFAULT_BUFFER,
                (b, _) => b,
            });
        // One shard per thread, each with its share of the parts of the
        // memory budget (metrics::share); the lives are shared by all.
        let per_shard = opts.flow.max_memory / threads.max(1) as u64;
        let flow = crate::flow::FlowConfig {
            max_memory: per_shard / share::FLOWS,
            ..opts.flow.clone()
        };
        let levels = std::sync::Arc::new(crate::metrics::replay::Levels::default());
        let shards = (0..threads)
            .map(|_| {
                let mut m = ShardMetrics::new(opts.timeline.clone(), keep)
                    .with_peer_budget(per_shard / share::PEERS)
                    .with_life_budget(opts.flow.max_memory / share::LIVES, levels.clone());
                if opts.port_groups {
                    m = m.with_port_groups(per_shard / share::PORT_PAIRS);
                }
                Shard::new(flow.clone(), m)
            })
            .collect();
        Engine {
            opts,
            threads,
            pool,
            buffer,
            shards,
            frame_base: 0,
            packets: Packets::default(),
            spare: Batch::default(),
            decoded: DecodeState::default(),
            range: None,
            tick: None,
            sink_stopped: false,
        }
    }

    /// Decodes and tracks `batch`, and (with a pool) reads the next batch
    /// from `reader` meanwhile when `more`: reading is a task like the
    /// others, so -jN runs exactly N busy threads.
    fn step<R: Read + Send>(
        &mut self,
        batch: &Batch,
        reader: &mut CaptureReader<R>,
        more: bool,
        ctx: DecodeCtx,
    ) -> Option<(Batch, Status)> {
        let spare = &mut self.spare;
        let (shards, decoded, packets) = (&mut self.shards, &mut self.decoded, &mut self.packets);
        if self.threads == 1 {
            process(batch.parts(), shards, decoded, packets, false, ctx);
            return more.then(|| read_batch(reader, std::mem::take(spare)));
        }
        let mut next = None;
        let mut job = || process(batch.parts(), shards, decoded, packets, true, ctx);
        match &self.pool {
            Some(p) => p.scope(|s| {
                s.spawn(|_| {
                    next = more.then(|| read_batch(reader, std::mem::take(spare)));
                });
                job();
            }),
            None => {
                job();
                next = more.then(|| read_batch(reader, std::mem::take(spare)));
            }
        }
        next
    }

    /// Reads one input to its end (or its damage). Returns what was read,
    /// and the damage that stopped it.
    fn read_file(
        &mut self,
        path: &Path,
        reader: &mut CaptureReader<Box<dyn Read + Send>>,
        fault: &crate::capture::open::Fault,
        progress: Option<Progress>,
        mut sink: Option<&mut (dyn FlowSink + '_)>,
    ) -> (FileInfo, Option<CaptureError>) {
        let bar = progress_bar(self.opts.progress, progress.as_ref().map(|p| p.0));
        let _shown = ShownBar::new(&bar);
        let started = std::time::Instant::now();
        let mut info = FileInfo {
            path: path.display().to_string(),
            format: reader.format().to_string(),
            bytes: 0,
            records: 0,
            truncated: false,
            error: None,
        };
        let mut damage = None;
        // Double-buffered: while the pool decodes and tracks batch k, one
        // of its threads reads batch k+1 into the other buffer.
        let (mut batch, mut status) = read_batch(reader, std::mem::take(&mut self.spare));
        // Durations count from the capture's first packet: the first one
        // read (inputs are read in the order of their first packets).
        if self.range.is_none()
            && (self.opts.since.is_some() || self.opts.until.is_some())
            && let Some(first) = batch.frames.first()
        {
            let o = self.opts;
            let since = o.since.map_or(0, |b| b.resolve(first.ts_ns));
            let until = o.until.map_or(u64::MAX, |b| b.resolve(first.ts_ns));
            self.range = Some((since, until));
        }
        let ctx = DecodeCtx {
            filter: self.opts.filter.as_ref(),
            frame_base: self.frame_base,
            bucket_ns: self.opts.timeline.bucket_ns,
            range: self.range,
        };
        if sink.is_none() && self.threads > 1 {
            let shown = |r: &CaptureReader<_>| show(&bar, progress.as_ref(), r, started);
            let settle = |s, r: &CaptureReader<_>| fault.settle(s, path, r.offset(), r.records());
            let hooks = flight::Hooks {
                settle: &settle,
                shown: &shown,
                stop: &interrupted,
            };
            if let Status::Stopped(e) = self.fly((batch, status), reader, ctx, &hooks) {
                damage = stopped(&mut info, e);
            }
            return self.file_read(info, damage, reader, &bar);
        }
        loop {
            let more = matches!(status, Status::More);
            // Following a live input (`--interval`), the next batch is read
            // after this one is reported, not meanwhile: its read may wait
            // for the writer.
            let prefetch = more && self.opts.interval_ns.is_none();
            let next = match sink.as_deref_mut() {
                Some(s) if self.opts.interval_ns.is_some_and(|v| v > 0) => {
                    self.step_by_interval(&batch, ctx, s);
                    None
                }
                _ => self.step(&batch, reader, prefetch, ctx),
            };
            show(&bar, progress.as_ref(), reader, started);
            if let Some(sink) = sink.as_deref_mut() {
                self.sink_stopped |=
                    drain(&mut self.shards, Some(self.decoded.clock), sink).is_break();
            }
            if !more {
                // A decompressor that stopped early explains the end.
                status = fault.settle(status, path, reader.offset(), reader.records());
            }
            match status {
                Status::More => {}
                Status::End => break,
                Status::Stopped(e) => {
                    damage = stopped(&mut info, e);
                    break;
                }
            }
            if interrupted() || self.sink_stopped {
                break;
            }
            let next = match next {
                None if more && !prefetch => {
                    Some(read_batch(reader, std::mem::take(&mut self.spare)))
                }
                n => n,
            };
            let Some((b, st)) = next else { break };
            self.spare = std::mem::replace(&mut batch, b);
            status = st;
        }
        self.spare = batch;
        self.file_read(info, damage, reader, &bar)
    }

    /// A file read to its end: its figures, and frame numbers on.
    fn file_read<R: Read>(
        &mut self,
        mut info: FileInfo,
        damage: Option<CaptureError>,
        reader: &CaptureReader<R>,
        bar: &ProgressBar,
    ) -> (FileInfo, Option<CaptureError>) {
        bar.finish_and_clear();
        info.bytes = reader.offset();
        info.records = reader.records();
        self.frame_base += info.records;
        (info, damage)
    }

    /// Ends the run: retires what is left, hands it to the sink, merges the
    /// shards' summaries.
    fn finish(
        mut self,
        files: Vec<FileInfo>,
        damage: Vec<CaptureError>,
        mut sink: Option<&mut dyn FlowSink>,
    ) -> Analysis {
        if let Some(s) = sink.as_deref_mut() {
            self.interval(s, true, 0);
        }
        let end = self.packets.last_ts.unwrap_or(0);
        let threads = self.threads;
        // What is still tracked is retired in key order, a part at a time
        // when a sink takes the connections: at most `part` whole
        // connections per shard wait at once, not every one still tracked.
        // The vectors kept at an eviction burst's size while reading
        // (`hand_over`) are given back first: the end's parts are smaller.
        for s in &mut self.shards {
            if let Some(v) = &mut s.sink.retired
                && v.capacity() > END_PART
            {
                *v = Vec::new();
            }
        }
        // Each shard's keys sorted, on the pool from -j2.
        let keys: Vec<Vec<FlowKey>> = match &self.pool {
            Some(p) if threads > 1 => {
                p.install(|| self.shards.par_iter_mut().map(|s| s.end_keys()).collect())
            }
            _ => self.shards.iter_mut().map(|s| s.end_keys()).collect(),
        };
        let part = if self.shards.iter().any(|s| s.sink.retired.is_some()) {
            END_PART
        } else {
            usize::MAX
        };
        let parts = keys
            .iter()
            .map(|k| k.len().div_ceil(part))
            .max()
            .unwrap_or(0);
        for i in 0..parts.max(1) {
            let range = |k: &Vec<FlowKey>| {
                let from = i.saturating_mul(part).min(k.len());
                from..from.saturating_add(part).min(k.len())
            };
            let retire = |shards: &mut Vec<Shard<ShardMetrics>>| {
                if threads == 1 {
                    for (s, k) in shards.iter_mut().zip(&keys) {
                        s.finish_keys(&k[range(k)], end);
                    }
                } else {
                    shards
                        .par_iter_mut()
                        .zip(&keys)
                        .for_each(|(s, k)| s.finish_keys(&k[range(k)], end));
                }
            };
            match &self.pool {
                Some(p) if threads > 1 => p.install(|| retire(&mut self.shards)),
                _ => retire(&mut self.shards),
            }
            if let Some(sink) = sink.as_deref_mut() {
                // Every later connection retires at `end`. Stopped or not,
                // the sink is done: what it says is in its own result (the
                // `--flows` writer's error).
                let last = i + 1 >= parts;
                let mark = if last { u64::MAX } else { end };
                let _ = hand_over(&mut self.shards, mark, sink);
            }
        }
        drop(keys);
        // The merge target is moved, not copied: the shard with the largest
        // timeline, so that the merge does not build a second one as large.
        let target = (0..self.shards.len())
            .max_by_key(|&i| {
                (
                    self.shards[i].sink.summary.timeline.buckets.len(),
                    usize::MAX - i,
                )
            })
            .unwrap_or(0);
        let mut summary = self
            .shards
            .get_mut(target)
            .map(|s| std::mem::take(&mut s.sink.summary))
            .unwrap_or_default();
        let mut ports = self
            .shards
            .get_mut(target)
            .and_then(|s| s.sink.ports.take());
        let mut peak_connections = 0;
        let mut evicted_early = 0;
        for (i, s) in self.shards.iter_mut().enumerate() {
            if i != target {
                summary += &s.sink.summary;
                // Given back as soon as merged: not two copies of every
                // shard's figures at once.
                s.sink.summary = crate::metrics::Summary::default();
                if let (Some(p), Some(o)) = (ports.as_mut(), s.sink.ports.take()) {
                    p.absorb(&o);
                }
            }
            peak_connections += s.peak_table;
            evicted_early += s.evicted;
        }
        summary.packets = self.packets;
        // A report names at most REPORT_PEERS_MAX peers.
        let others = &mut summary.peers_others;
        crate::metrics::peers::fold(&mut summary.peers, REPORT_PEERS_MAX, others);
        Analysis {
            summary,
            files,
            damage,
            threads,
            peak_connections,
            interrupted: interrupted(),
            evicted_early,
            time_range: self.range,
            ports,
        }
    }
}

/// Runs the analysis over `paths`, read one after another; connections
/// continue across files. Finished connections are handed to `sink` as
/// they retire. Fails only when no input could be read at all.
pub fn analyze_with(
    paths: &[PathBuf],
    opts: &Options,
    mut sink: Option<&mut dyn FlowSink>,
) -> Result<Analysis, CaptureError> {
    let mut engine = Engine::new(opts, sink.as_ref().is_some_and(|s| s.wants_connections()));
    let mut files = Vec::new();
    let mut damage = Vec::new();
    let mut first_error = None;
    for path in paths {
        if interrupted() || engine.sink_stopped {
            break;
        }
        // An interrupt while waiting for an input (a FIFO no writer
        // opened, a silent pipe that gave no header): nothing was read of
        // it, which is no error; the run ends with the report so far.
        let (src, progress, fault) = match open_input(path) {
            Ok(x) => x,
            Err(_) if interrupted_soon(path) => break,
            Err(e) => {
                first_error.get_or_insert(e);
                continue;
            }
        };
        let mut reader = match CaptureReader::with_buffer_eager(
            src,
            path,
            engine.buffer,
            opts.interval_ns.is_some(),
        ) {
            Ok(r) => r,
            Err(_) if interrupted_soon(path) => break,
            Err(e) => {
                first_error.get_or_insert(fault.explain(e, path));
                continue;
            }
        };
        let (info, d) = engine.read_file(path, &mut reader, &fault, progress, sink.as_deref_mut());
        files.push(info);
        damage.extend(d);
    }
    if files.is_empty() {
        if let Some(e) = first_error {
            return Err(e);
        }
    } else if let Some(e) = first_error {
        damage.push(e);
    }
    Ok(engine.finish(files, damage, sink))
}

/// Reading a file stopped at `e`: recorded in its `info`, and returned as
/// the damage; none when an interrupt cut a stream mid-record (not a cut
/// capture).
fn stopped(info: &mut FileInfo, e: CaptureError) -> Option<CaptureError> {
    if interrupted() && e.is_truncation() {
        return None;
    }
    info.truncated = e.is_truncation();
    info.error = Some(e.to_string());
    Some(e)
}

/// Brings the progress bar to the bytes read (of the file on disk, or of
/// the stream) and shows the packet rate since `started`.
fn show<R: Read>(
    bar: &ProgressBar,
    progress: Option<&Progress>,
    reader: &CaptureReader<R>,
    started: std::time::Instant,
) {
    bar.set_position(match progress {
        Some((_, read)) => read.load(std::sync::atomic::Ordering::Relaxed),
        None => reader.offset(),
    });
    if !bar.is_hidden() {
        let secs = started.elapsed().as_secs_f64().max(1e-3);
        let rate = reader.records() as f64 / secs;
        bar.set_message(format!("{:.1}M packets/s", rate / 1e6));
    }
}

/// The smallest input given a progress bar: [`PROGRESS_MIN_BYTES`], or
/// `FINSCOPE_PROGRESS_MIN_BYTES` (for the tests, which show the bar on a
/// small file).
fn progress_min_bytes() -> u64 {
    std::env::var("FINSCOPE_PROGRESS_MIN_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(PROGRESS_MIN_BYTES)
}

/// A progress bar on stderr when it is a terminal: against the file's size
/// on disk (`len`), or a spinner for a stream. Its bar takes the width
/// left on the line (`wide_bar`), so the line fits the terminal.
fn progress_bar(enabled: bool, len: Option<u64>) -> ProgressBar {
    let show =
        enabled && std::io::stderr().is_terminal() && len.is_none_or(|l| l >= progress_min_bytes());
    if !show {
        return ProgressBar::hidden();
    }
    let (bar, template) = match len {
        Some(l) => (
            ProgressBar::new(l),
            "{spinner} {bytes}/{total_bytes} {binary_bytes_per_sec} {msg} [{wide_bar}] eta {eta}",
        ),
        None => (
            ProgressBar::new_spinner(),
            "{spinner} {bytes} read {binary_bytes_per_sec} {msg}",
        ),
    };
    bar.set_draw_target(ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// The progress bar on screen, if any: [`say`] prints above it.
static SHOWN: std::sync::Mutex<Option<ProgressBar>> = std::sync::Mutex::new(None);

/// Registers a visible bar while it lives; clears it when dropped.
struct ShownBar;

impl ShownBar {
    fn new(bar: &ProgressBar) -> ShownBar {
        if !bar.is_hidden()
            && let Ok(mut s) = SHOWN.lock()
        {
            *s = Some(bar.clone());
        }
        ShownBar
    }
}

impl Drop for ShownBar {
    fn drop(&mut self) {
        if let Ok(mut s) = SHOWN.lock() {
            *s = None;
        }
    }
}

/// Writes a line on stderr (what `say!` does), above the progress bar when
/// one is shown: the bar is taken off the screen, the line written, the
/// bar drawn again below it, so that neither overwrites the other (a
/// Ctrl-C message written across the bar was erased with it).
pub fn say(line: &str) {
    use std::io::Write as _;
    let write = || {
        let _ = writeln!(std::io::stderr(), "{line}");
    };
    let bar = SHOWN.lock().ok().and_then(|s| s.clone());
    match bar {
        Some(b) => b.suspend(write),
        None => write(),
    }
}
