//! Which files a run reads, and in what order: [`expand`] turns what the
//! user typed into a list of inputs (a directory stands for the capture
//! files in it, a quoted glob for the files it matches, `-` for standard
//! input), ordered by the timestamp of their first record. How one input's
//! bytes are obtained (decompression, streams) is `open.rs`'s.

use super::open::open;
use crate::capture::{CaptureError, CaptureReader, Status};
use std::io;
use std::path::{Path, PathBuf};

/// What [`expand`] made of the command line's inputs.
#[derive(Debug, Default)]
pub struct Expanded {
    /// Inputs in reading order.
    pub paths: Vec<PathBuf>,
    /// Files of a directory that were left out, with the reason.
    pub skipped: Vec<String>,
}

/// Why the inputs given could not be expanded into files.
#[derive(Debug, thiserror::Error)]
pub enum ExpandError {
    #[error("{}: {source}", path.display())]
    Dir { path: PathBuf, source: io::Error },
    #[error("{}: directory holds no capture file", path.display())]
    EmptyDir { path: PathBuf },
    #[error("`{pattern}`: bad glob pattern: {source}")]
    BadGlob {
        pattern: String,
        source: glob::PatternError,
    },
    #[error("`{pattern}`: no file matches")]
    NoMatch { pattern: String },
    #[error("`-` (standard input) can be given only once")]
    StdinTwice,
}

/// Expands directories and globs and orders files by their first record's
/// timestamp (ties and unreadable files keep the order given). With standard
/// input, a pipe or a device among the inputs the order given is kept (they
/// are read once, by the analysis).
pub fn expand(args: &[PathBuf]) -> Result<Expanded, ExpandError> {
    let mut out = Expanded::default();
    let mut stdin = 0;
    for a in args {
        if a.as_os_str() == "-" {
            stdin += 1;
            out.paths.push(a.clone());
        } else if a.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(a)
                .map_err(|source| ExpandError::Dir {
                    path: a.clone(),
                    source,
                })?
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
                return Err(ExpandError::EmptyDir { path: a.clone() });
            }
        } else if !a.exists() && is_glob(a) {
            let pat = a.to_string_lossy();
            let mut hits: Vec<PathBuf> = glob::glob(&pat)
                .map_err(|source| ExpandError::BadGlob {
                    pattern: pat.to_string(),
                    source,
                })?
                .filter_map(Result::ok)
                .filter(|p| p.is_file())
                .collect();
            if hits.is_empty() {
                return Err(ExpandError::NoMatch {
                    pattern: pat.to_string(),
                });
            }
            hits.sort();
            out.paths.append(&mut hits);
        } else {
            out.paths.push(a.clone());
        }
    }
    if stdin > 1 {
        return Err(ExpandError::StdinTwice);
    }
    // Only regular files are sniffed for their first timestamp: a pipe, a
    // FIFO or a device (`<(cat a.pcap)`, `/dev/stdin`) can be read once, and
    // a slowly fed one would block. With any of them the order given is kept.
    let all_regular = out
        .paths
        .iter()
        .all(|p| std::fs::metadata(p).is_ok_and(|m| m.file_type().is_file()) || !p.exists());
    if stdin == 0 && all_regular && out.paths.len() > 1 {
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

pub fn is_glob(p: &Path) -> bool {
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
