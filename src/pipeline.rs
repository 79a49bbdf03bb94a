//! Wires the stages together: reader -> parallel decode -> sharded flow
//! tracking -> merged metrics.
//!
//! Per buffer-full of records (a batch): frames are decoded in parallel
//! chunks into `Copy` segments, each chunk sorting its segments by shard
//! (a symmetric hash of the flow key, so both directions meet); then every
//! shard, owned by one worker, consumes its segments chunk by chunk, i.e. in
//! capture order. Shard summaries merge exactly at the end, so the result is
//! the same for any thread count and any batch size.

use crate::capture::{CaptureError, CaptureReader, RawFrame, Status};
use crate::decode::{self, Segment};
use crate::flow::key::symmetric_hash;
use crate::flow::{FlowConfig, Shard};
use crate::metrics::{Packets, Summary};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use std::fs::File;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

/// Frames per parallel decode task.
const CHUNK: usize = 8192;
/// Inputs smaller than this get no progress bar.
const PROGRESS_MIN_BYTES: u64 = 64 * 1024 * 1024;

/// How to run an analysis.
#[derive(Clone, Debug)]
pub struct Options {
    /// Worker threads (and shards); 0 means all cores.
    pub threads: usize,
    pub flow: FlowConfig,
    /// Show a progress bar when stderr is a terminal and the input is large.
    pub progress: bool,
    /// Reader buffer size in bytes.
    pub buffer: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            threads: 0,
            flow: FlowConfig::default(),
            progress: false,
            buffer: crate::capture::DEFAULT_BUFFER,
        }
    }
}

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

/// The result of an analysis.
#[derive(Debug)]
pub struct Analysis {
    pub summary: Summary,
    pub files: Vec<FileInfo>,
    /// Damage that stopped reading part-way (the summary covers what came before).
    pub damage: Vec<CaptureError>,
    pub threads: usize,
    /// Most connections tracked at once (sum of the shards' peaks).
    pub peak_connections: usize,
}

impl Analysis {
    /// True when some input ended in the middle of a record.
    pub fn truncated(&self) -> bool {
        self.files.iter().any(|f| f.truncated)
    }

    /// True when some input was corrupt (not merely truncated).
    pub fn corrupt(&self) -> bool {
        self.damage
            .iter()
            .any(|e| matches!(e, CaptureError::Corrupt { .. }))
    }
}

/// Segments of one decode chunk, sorted by shard, and its frame counts.
struct Decoded {
    per_shard: Vec<Vec<Segment>>,
    packets: Packets,
}

fn decode_chunk(frames: &[RawFrame], data: &[u8], shards: usize) -> Decoded {
    let mut per_shard: Vec<Vec<Segment>> = (0..shards)
        .map(|_| Vec::with_capacity(frames.len() / shards + 16))
        .collect();
    let mut packets = Packets::default();
    for f in frames {
        let start = f.off as usize;
        let bytes = data.get(start..start + f.caplen as usize).unwrap_or(&[]);
        let r = decode::decode(f.link, bytes, f.ts_ns, f.number);
        packets.count(f.link, f.ts_ns, &r);
        if let Ok(seg) = r {
            let s = if shards == 1 {
                0
            } else {
                (symmetric_hash(&seg) % shards as u64) as usize
            };
            per_shard[s].push(seg);
        }
    }
    Decoded { per_shard, packets }
}

fn open_input(path: &Path) -> Result<(Box<dyn Read>, Option<u64>), CaptureError> {
    if path.as_os_str() == "-" {
        return Ok((Box::new(std::io::stdin()), None));
    }
    let f = File::open(path).map_err(|source| CaptureError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let len = f.metadata().ok().map(|m| m.len());
    Ok((Box::new(f), len))
}

/// Runs the analysis over `paths`, read one after another; connections
/// continue across files. Fails only when no input could be read at all.
pub fn analyze(paths: &[PathBuf], opts: &Options) -> Result<Analysis, CaptureError> {
    let threads = if opts.threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        opts.threads
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .ok();
    let nshards = threads;
    let mut shards: Vec<Shard> = (0..nshards)
        .map(|_| Shard::new(opts.flow.clone()))
        .collect();
    let mut packets = Packets::default();
    let mut files = Vec::new();
    let mut damage = Vec::new();
    let mut frames: Vec<RawFrame> = Vec::new();
    let mut first_error = None;

    for path in paths {
        let (src, len) = match open_input(path) {
            Ok(x) => x,
            Err(e) => {
                first_error.get_or_insert(e);
                continue;
            }
        };
        let mut reader = match CaptureReader::with_buffer(src, path, opts.buffer) {
            Ok(r) => r,
            Err(e) => {
                first_error.get_or_insert(e);
                continue;
            }
        };
        let bar = progress_bar(opts.progress, len);
        let mut info = FileInfo {
            path: path.display().to_string(),
            format: reader.format().to_string(),
            bytes: 0,
            records: 0,
            truncated: false,
            error: None,
        };
        loop {
            let status = reader.next_batch(&mut frames);
            if !frames.is_empty() {
                let data = reader.data();
                let work = |shards: &mut Vec<Shard>| {
                    let decoded: Vec<Decoded> = if threads == 1 {
                        frames
                            .chunks(CHUNK)
                            .map(|c| decode_chunk(c, data, nshards))
                            .collect()
                    } else {
                        frames
                            .par_chunks(CHUNK)
                            .map(|c| decode_chunk(c, data, nshards))
                            .collect()
                    };
                    let feed = |(i, sh): (usize, &mut Shard)| {
                        for d in &decoded {
                            for seg in &d.per_shard[i] {
                                sh.process(seg);
                            }
                        }
                    };
                    if threads == 1 {
                        shards.iter_mut().enumerate().for_each(feed);
                    } else {
                        shards.par_iter_mut().enumerate().for_each(feed);
                    }
                    decoded
                };
                let decoded = match &pool {
                    Some(p) if threads > 1 => p.install(|| work(&mut shards)),
                    _ => work(&mut shards),
                };
                for d in &decoded {
                    packets += &d.packets;
                }
            }
            bar.set_position(reader.offset());
            match status {
                Status::More => continue,
                Status::End => break,
                Status::Stopped(e) => {
                    info.truncated = matches!(e, CaptureError::Truncated { .. });
                    info.error = Some(e.to_string());
                    damage.push(e);
                    break;
                }
            }
        }
        bar.finish_and_clear();
        info.bytes = reader.offset();
        info.records = reader.records();
        files.push(info);
    }
    if files.is_empty() {
        if let Some(e) = first_error {
            return Err(e);
        }
    } else if let Some(e) = first_error {
        damage.push(e);
    }

    let end = packets.last_ts.unwrap_or(0);
    let finish = |shards: &mut Vec<Shard>| {
        if threads == 1 {
            shards.iter_mut().for_each(|s| s.finish(end));
        } else {
            shards.par_iter_mut().for_each(|s| s.finish(end));
        }
    };
    match &pool {
        Some(p) if threads > 1 => p.install(|| finish(&mut shards)),
        _ => finish(&mut shards),
    }
    let mut summary = Summary::default();
    let mut peak_connections = 0;
    for s in &shards {
        summary += &s.summary;
        peak_connections += s.peak_table;
    }
    summary.packets = packets;
    Ok(Analysis {
        summary,
        files,
        damage,
        threads,
        peak_connections,
    })
}

fn progress_bar(enabled: bool, len: Option<u64>) -> ProgressBar {
    let show =
        enabled && std::io::stderr().is_terminal() && len.is_none_or(|l| l >= PROGRESS_MIN_BYTES);
    if !show {
        return ProgressBar::hidden();
    }
    let bar = match len {
        Some(l) => ProgressBar::new(l),
        None => ProgressBar::new_spinner(),
    };
    bar.set_draw_target(ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} {bytes}/{total_bytes} {binary_bytes_per_sec} [{bar:30}] eta {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}
