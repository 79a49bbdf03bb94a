//! Outputs never destroy data: before anything is read or written, every
//! file output of a run is checked against the run's inputs and against
//! what already lies at its path (docs/report.md, "Outputs never overwrite
//! data").
//!
//! Refused (exit 2, naming both): an output that is one of the inputs (the
//! same file, by device and inode, whatever the spelling), two outputs
//! naming one file, and an output over an existing file that is a capture
//! (pcap, pcapng, or compressed: gzip, zstd, xz, bzip2, lz4) or a finscope
//! output of another kind (`--html` over a JSON report). A file of the
//! output's own kind (a report written again) or of no kind finscope knows
//! is replaced as before.

use std::io::Read;
use std::path::{Path, PathBuf};

/// What a file holds, as far as an overwrite is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A packet capture, or a compressed file (it may be one).
    Capture(&'static str),
    /// `analyze --json` / `--json-out` (also `merge --json`).
    JsonReport,
    /// `--html`.
    Html,
    /// `--flows`, CSV or JSON Lines.
    Flows,
    /// `timeline --csv`.
    TimelineCsv,
}

impl Kind {
    fn describe(self) -> String {
        match self {
            Kind::Capture(what) => format!("a capture ({what})"),
            Kind::JsonReport => "a finscope JSON report".into(),
            Kind::Html => "a finscope HTML report".into(),
            Kind::Flows => "a finscope flows file".into(),
            Kind::TimelineCsv => "a finscope timeline CSV".into(),
        }
    }
}

/// One file output of a run: its flag, its path and the kind it writes.
#[derive(Clone, Debug)]
pub struct Output<'a> {
    pub flag: &'static str,
    pub path: &'a Path,
    pub kind: Kind,
}

/// Why an output was refused.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    #[error(
        "{flag} {}: this is also an input ({}): finscope never writes over its input",
        path.display(),
        input.display()
    )]
    IsInput {
        flag: &'static str,
        path: PathBuf,
        input: PathBuf,
    },
    #[error(
        "{flag} {}: the file there is {what}: finscope never writes over it (remove it first, or choose another name){hint}",
        path.display()
    )]
    Occupied {
        flag: &'static str,
        path: PathBuf,
        what: String,
        hint: &'static str,
    },
    #[error("{first} and {second} both name {}: give each output its own file", path.display())]
    Twice {
        first: &'static str,
        second: &'static str,
        path: PathBuf,
    },
}

/// The hint for an output that names a capture: a shell glob before it
/// gave it the first match.
const GLOB_HINT: &str = "; did the shell expand a glob after the flag (`--html rot/*.pcap` gives the first capture to --html)? Put the output first, or quote the glob";

/// Checks `outputs` against `inputs` (as given: files, directories, globs,
/// `-`) and against the files at their paths. `-` (standard output) is
/// never refused.
pub fn check(inputs: &[PathBuf], outputs: &[Output<'_>]) -> Result<(), GuardError> {
    let outputs: Vec<&Output> = outputs
        .iter()
        .filter(|o| o.path != Path::new("-"))
        .collect();
    if outputs.is_empty() {
        return Ok(());
    }
    for (i, a) in outputs.iter().enumerate() {
        for b in &outputs[i + 1..] {
            if a.path == b.path || same_file(a.path, b.path) {
                return Err(GuardError::Twice {
                    first: a.flag,
                    second: b.flag,
                    path: b.path.to_path_buf(),
                });
            }
        }
    }
    let inputs = input_files(inputs);
    for o in &outputs {
        for input in &inputs {
            if o.path == input.as_path() || same_file(o.path, input) {
                return Err(GuardError::IsInput {
                    flag: o.flag,
                    path: o.path.to_path_buf(),
                    input: input.clone(),
                });
            }
        }
        match sniff(o.path) {
            Some(k @ Kind::Capture(_)) => {
                return Err(GuardError::Occupied {
                    flag: o.flag,
                    path: o.path.to_path_buf(),
                    what: k.describe(),
                    hint: GLOB_HINT,
                });
            }
            Some(k) if k != o.kind => {
                return Err(GuardError::Occupied {
                    flag: o.flag,
                    path: o.path.to_path_buf(),
                    what: k.describe(),
                    hint: "",
                });
            }
            _ => {}
        }
    }
    Ok(())
}

/// `a` and `b` are one file, whatever their spelling: the same device and
/// inode, read with stat(2) (never opened: opening a FIFO blocks until its
/// other end appears).
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::MetadataExt;
                x.dev() == y.dev() && x.ino() == y.ino()
            }
            #[cfg(not(unix))]
            {
                let _ = (x, y);
                matches!((a.canonicalize(), b.canonicalize()), (Ok(p), Ok(q)) if p == q)
            }
        }
        _ => false,
    }
}

/// The files the inputs name: files as given, the files of a directory,
/// the matches of a glob (as the analysis expands them; nothing is read).
fn input_files(inputs: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for a in inputs {
        if a.as_os_str() == "-" {
            continue;
        } else if a.is_dir() {
            if let Ok(rd) = std::fs::read_dir(a) {
                out.extend(rd.filter_map(|e| e.ok().map(|e| e.path())));
            }
        } else if !a.exists() && crate::capture::open::is_glob(a) {
            if let Ok(g) = glob::glob(&a.to_string_lossy()) {
                out.extend(g.filter_map(Result::ok));
            }
        } else {
            out.push(a.clone());
        }
    }
    out
}

/// What lies at `path`, from its first bytes; `None` for a missing file, a
/// device or FIFO (never read here: reading would consume or block), or
/// content finscope does not write.
pub fn sniff(path: &Path) -> Option<Kind> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() {
        return None;
    }
    let mut head = Vec::with_capacity(4096);
    std::fs::File::open(path)
        .ok()?
        .take(4096)
        .read_to_end(&mut head)
        .ok()?;
    kind_of(&head)
}

/// The kind of a file whose first (up to 4 KiB) bytes are `head`.
pub fn kind_of(head: &[u8]) -> Option<Kind> {
    if let Some(what) = crate::capture::open::capture_kind(head) {
        return Some(Kind::Capture(what));
    }
    let text = String::from_utf8_lossy(head);
    let t = text.trim_start();
    let first_line = t.lines().next().unwrap_or("");
    if t.starts_with('{') && t.contains("\"schema_version\"") && t.contains("\"finscope_version\"")
    {
        Some(Kind::JsonReport)
    } else if t.starts_with("<!DOCTYPE html>") && t.contains("content=\"finscope ") {
        Some(Kind::Html)
    } else if first_line.starts_with("first_ts_us,last_ts_us,end_ts_us,")
        || (first_line.starts_with("{\"first_ts_us\":") && first_line.contains("\"outcome\":"))
    {
        Some(Kind::Flows)
    } else if first_line.starts_with("t_us,end_us,") {
        Some(Kind::TimelineCsv)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_from_first_bytes() {
        assert_eq!(
            kind_of(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0]),
            Some(Kind::Capture("pcap"))
        );
        assert_eq!(
            kind_of(&[0x0a, 0x0d, 0x0d, 0x0a]),
            Some(Kind::Capture("pcapng"))
        );
        assert_eq!(kind_of(&[0x1f, 0x8b, 8]), Some(Kind::Capture("gzip")));
        assert_eq!(
            kind_of(b"{\n  \"schema_version\": 2,\n  \"finscope_version\": \"0.1.0\","),
            Some(Kind::JsonReport)
        );
        assert_eq!(
            kind_of(b"<!DOCTYPE html>\n<html><head><meta name=\"generator\" content=\"finscope 0.1.0\">"),
            Some(Kind::Html)
        );
        assert_eq!(
            kind_of(b"t_us,end_us,established\n1,2,3\n"),
            Some(Kind::TimelineCsv)
        );
        assert_eq!(kind_of(b"hello\n"), None);
        assert_eq!(kind_of(b""), None);
        assert_eq!(kind_of(b"{\"a\": 1}"), None);
    }
}
