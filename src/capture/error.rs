//! Errors of the capture reader. Each names the file and, where it applies,
//! the byte offset and the packet number at which reading stopped.

use std::path::PathBuf;

/// Why reading a capture file failed or stopped early.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The file could not be opened or read. (The I/O error is part of the
    /// message, not a separate source, so it is not printed twice.)
    #[error("{path}: {err}")]
    Io { path: PathBuf, err: std::io::Error },
    /// The file does not start with a pcap or pcapng magic number.
    #[error("{path}: not a pcap or pcapng capture (magic number {magic})")]
    NotACapture { path: PathBuf, magic: String },
    /// A compressed file (recognised by its magic number).
    #[error(
        "{path}: {kind}-compressed data: decompress it first (e.g. `{tool} -dc FILE | finscope analyze -`)"
    )]
    Compressed {
        path: PathBuf,
        kind: &'static str,
        tool: &'static str,
    },
    /// The file ends in the middle of a record (as when tcpdump is killed).
    #[error(
        "{path}: file is truncated: record {packet} at byte offset {offset} needs {needed} bytes, only {available} present"
    )]
    Truncated {
        path: PathBuf,
        offset: u64,
        packet: u64,
        needed: u64,
        available: u64,
    },
    /// A compressed input whose compressed data stops short (the compressor
    /// or the copy was interrupted): a truncation, like `Truncated`.
    #[error(
        "{path}: file is truncated: its {compression} data is cut short; the decompressed capture ends at byte offset {offset} (record {packet})"
    )]
    CutShort {
        path: PathBuf,
        compression: &'static str,
        offset: u64,
        packet: u64,
    },
    /// A capture this reader refuses: a pcapng section of a major version
    /// other than 1 (as libpcap does).
    #[error("{path}: unsupported capture at byte offset {offset}: {reason}")]
    Unsupported {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    /// A record or block whose header cannot be right.
    #[error("{path}: corrupt capture at byte offset {offset} (record {packet}): {reason}")]
    Corrupt {
        path: PathBuf,
        offset: u64,
        packet: u64,
        reason: String,
    },
}

impl CaptureError {
    /// True when what was read before the error is still a valid report
    /// (truncated or corrupt part-way), false when nothing could be read.
    pub fn is_partial(&self) -> bool {
        self.is_truncation()
            || matches!(self, CaptureError::Corrupt { .. })
            || matches!(self, CaptureError::Unsupported { offset, .. } if *offset > 0)
    }

    /// True when the input merely ends early (a warning, not damage).
    pub fn is_truncation(&self) -> bool {
        matches!(
            self,
            CaptureError::Truncated { .. } | CaptureError::CutShort { .. }
        )
    }
}
