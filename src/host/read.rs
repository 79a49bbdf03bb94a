//! Reading `--host` paths: files and directories, each file recognised by
//! its content, read line by line.

use super::kernel;
use super::lines::{Line, Lines};
use super::snapshot::{Said, SnapshotReader};
use super::ss;
use super::{
    FileKind, HostError, HostEvidence, HostFile, HostOptions, HostWarning, KernelFormat,
    KernelKind, KernelMessage, MAX_LINE, MAX_OTHER_MESSAGES, MAX_WARNINGS_PER_FILE,
};
use crate::capture::open;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

/// Lines looked at to recognise a file.
const RECOGNISE_LINES: usize = 64;

/// Reads every `--host` path: a file (an error when it holds no host log),
/// or a directory (each regular file in it, by name; captures skipped
/// quietly, other files that are no host log with a warning). Malformed
/// lines are warnings naming file and line; what was read is kept.
pub fn read(paths: &[PathBuf], opts: &HostOptions) -> Result<HostEvidence, HostError> {
    let mut ev = HostEvidence {
        ss_states: ss::STATES.iter().map(|s| s.to_string()).collect(),
        ..HostEvidence::default()
    };
    let mut last_ss: Option<(u64, usize, ss::SsAcc)> = None;
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| HostError::Io {
            path: p.clone(),
            message: e.to_string(),
        })?;
        if meta.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| HostError::Io {
                    path: p.clone(),
                    message: e.to_string(),
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| std::fs::metadata(f).is_ok_and(|m| m.is_file()))
                .collect();
            entries.sort();
            let before = ev.files.len();
            for f in entries {
                match read_file(&f, opts, &mut ev, &mut last_ss) {
                    Ok(()) => {}
                    Err(HostError::NotRecognised { why, .. }) if why.starts_with("a capture") => {}
                    Err(HostError::NotRecognised { path, why }) => ev.warnings.push(HostWarning {
                        path,
                        line: None,
                        message: format!("skipped: {why}"),
                    }),
                    Err(e) => ev.warnings.push(HostWarning {
                        path: f.clone(),
                        line: None,
                        message: format!("skipped: {e}"),
                    }),
                }
            }
            if ev.files.len() == before {
                return Err(HostError::EmptyDir { path: p.clone() });
            }
        } else {
            read_file(p, opts, &mut ev, &mut last_ss)?;
        }
    }
    if let Some((t, file, acc)) = last_ss {
        ev.ss_last = Some(ss::table(&acc, t, file));
    }
    // Several files: each series by time (stable: a file's order kept).
    ev.ss.sort_by_key(|p| p.t_us);
    ev.ss_summary.sort_by_key(|p| p.t_us);
    ev.sockstat.sort_by_key(|p| p.t_us);
    ev.nstat.points.sort_by_key(|p| p.t_us);
    Ok(ev)
}

fn binary(path: &Path) -> HostError {
    HostError::NotRecognised {
        path: path.to_path_buf(),
        why: "a binary file (NUL bytes), not a host log (docs/host.md lists the formats)".into(),
    }
}

/// Warnings of one file, bounded.
struct Warn<'a> {
    path: &'a Path,
    kept: usize,
    more: u64,
}

impl Warn<'_> {
    fn push(&mut self, ev: &mut HostEvidence, line: Option<u64>, message: String) {
        if self.kept < MAX_WARNINGS_PER_FILE {
            self.kept += 1;
            ev.warnings.push(HostWarning {
                path: self.path.to_path_buf(),
                line,
                message,
            });
        } else {
            self.more += 1;
        }
    }

    fn finish(self, ev: &mut HostEvidence) {
        if self.more > 0 {
            ev.warnings.push(HostWarning {
                path: self.path.to_path_buf(),
                line: None,
                message: format!("{} more warning(s) not shown", self.more),
            });
        }
    }
}

/// What a line says about the kind of its file.
fn kind_of(line: &[u8]) -> Option<FileKind> {
    let l = line.trim_ascii();
    if let Some(f) = kernel::recognise(l) {
        return Some(FileKind::KernelLog(f));
    }
    if SnapshotReader::looks_like(l) {
        return Some(FileKind::Snapshots);
    }
    if l.starts_with(b"btime ") || l.starts_with(b"cpu ") {
        return Some(FileKind::ProcStat);
    }
    if sysctl(l).is_some() {
        return Some(FileKind::Sysctl);
    }
    None
}

/// `net.ipv4.tcp_max_orphans = 65536` (`sysctl -a`), or `KEY VALUE` with a
/// dotted key.
fn sysctl(l: &[u8]) -> Option<(String, String)> {
    let s = std::str::from_utf8(l).ok()?;
    let (k, v) = s
        .split_once(" = ")
        .or_else(|| s.split_once('='))
        .or_else(|| s.split_once(' '))?;
    let k = k.trim();
    if !k.contains('.')
        || k.starts_with('.')
        || !k
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"._-/".contains(&c))
    {
        return None;
    }
    Some((
        k.replace('/', "."),
        v.split_whitespace().collect::<Vec<_>>().join(" "),
    ))
}

fn read_file(
    path: &Path,
    opts: &HostOptions,
    ev: &mut HostEvidence,
    last_ss: &mut Option<(u64, usize, ss::SsAcc)>,
) -> Result<(), HostError> {
    let input = open::open(path).map_err(|e| HostError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let compression = input.compression.map(|c| c.name());
    let mut reader = BufReader::with_capacity(256 << 10, input.reader);
    let head = reader.fill_buf().map_err(|e| HostError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    if let Some(k) = open::capture_kind(head) {
        return Err(HostError::NotRecognised {
            path: path.to_path_buf(),
            why: format!("a capture ({k}), not a host log: give it as an input, not with --host"),
        });
    }
    if head.iter().take(4096).any(|c| *c == 0) {
        return Err(HostError::NotRecognised {
            path: path.to_path_buf(),
            why: "a binary file (NUL bytes), not a host log (docs/host.md lists the formats)"
                .into(),
        });
    }
    let mut lines = Lines::new(reader);
    // The first lines, kept until one says what the file is.
    let mut first: Vec<(u64, Vec<u8>, bool)> = Vec::new();
    let mut kind = None;
    let mut early_warn: Vec<(u64, String)> = Vec::new();
    let mut read_err = None;
    while kind.is_none() && first.len() < RECOGNISE_LINES {
        match lines.next_line() {
            Ok(None) => break,
            Ok(Some(Line::TooLong(n))) => early_warn.push((
                lines.number,
                format!("a line of {n} bytes (over {MAX_LINE}): skipped"),
            )),
            Ok(Some(Line::Text { bytes, cut, n })) => {
                if bytes.contains(&0) {
                    return Err(binary(path));
                }
                kind = kind_of(bytes);
                if std::str::from_utf8(bytes).is_err() && kind.is_none() {
                    return Err(HostError::NotRecognised {
                        path: path.to_path_buf(),
                        why: format!("line {n} is not UTF-8 text: not a host log"),
                    });
                }
                first.push((n, bytes.to_vec(), cut));
            }
            Err(e) => {
                read_err = Some(e);
                break;
            }
        }
    }
    let Some(kind) = kind else {
        let why = match (
            read_err,
            first.iter().find(|(_, b, _)| !b.trim_ascii().is_empty()),
        ) {
            (Some(e), _) => format!("cannot be read: {e}"),
            (None, None) => "empty: no host log".to_string(),
            (None, Some((n, b, _))) => {
                let s: String = String::from_utf8_lossy(b).chars().take(60).collect();
                format!(
                    "line {n} (`{s}`) is none of dmesg, journalctl -k, /proc/stat, sysctl -a, ss -tan, ss -s, /proc/net/sockstat, nstat (docs/host.md)"
                )
            }
        };
        return Err(HostError::NotRecognised {
            path: path.to_path_buf(),
            why,
        });
    };
    let file = ev.files.len();
    ev.files.push(HostFile {
        path: path.to_path_buf(),
        kind,
        compression,
    });
    let mut warn = Warn {
        path,
        kept: 0,
        more: 0,
    };
    for (l, m) in early_warn {
        warn.push(ev, Some(l), m);
    }
    let mtime_us = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_micros() as u64);
    let mut sink = Sink::new(kind, file, opts, mtime_us);
    for (n, bytes, cut) in &first {
        sink.line(ev, &mut warn, bytes, *n, *cut);
    }
    drop(first);
    if read_err.is_none() {
        loop {
            match lines.next_line() {
                Ok(None) => break,
                Ok(Some(Line::TooLong(n))) => warn.push(
                    ev,
                    Some(lines.number),
                    format!("a line of {n} bytes (over {MAX_LINE}): skipped"),
                ),
                Ok(Some(Line::Text { bytes, cut, n })) => {
                    sink.line(ev, &mut warn, bytes, n, cut);
                }
                Err(e) => {
                    read_err = Some(e);
                    break;
                }
            }
        }
    }
    if let Some(e) = read_err {
        warn.push(
            ev,
            Some(lines.number + 1),
            format!("read error: {e}; what was read before it is kept"),
        );
    }
    sink.finish(ev, &mut warn, last_ss);
    warn.finish(ev);
    Ok(())
}

/// Where the lines of one file go, by its kind.
enum Sink {
    Kernel {
        format: KernelFormat,
        file: usize,
        year: i16,
        /// Lines of another format or none, counted.
        unparsed: u64,
        first_unparsed: Option<u64>,
        /// Index of the last TCP message of this file (for `callbacks
        /// suppressed`).
        last_tcp: Option<usize>,
        warned_zone: bool,
    },
    Stat {
        file: usize,
    },
    Sysctl,
    Snapshots {
        reader: Box<SnapshotReader>,
        at_said: bool,
        mtime: bool,
    },
}

impl Sink {
    fn new(kind: FileKind, file: usize, opts: &HostOptions, mtime_us: Option<u64>) -> Sink {
        match kind {
            FileKind::KernelLog(format) => {
                let year = opts
                    .at_us
                    .or(mtime_us)
                    .and_then(|us| jiff::Timestamp::from_microsecond(us as i64).ok())
                    .map_or(1970, |t| t.to_zoned(jiff::tz::TimeZone::UTC).year());
                Sink::Kernel {
                    format,
                    file,
                    year,
                    unparsed: 0,
                    first_unparsed: None,
                    last_tcp: None,
                    warned_zone: false,
                }
            }
            FileKind::ProcStat => Sink::Stat { file },
            FileKind::Sysctl => Sink::Sysctl,
            FileKind::Snapshots => Sink::Snapshots {
                reader: Box::new(SnapshotReader::new(
                    file,
                    opts.at_us.or(mtime_us).unwrap_or(0),
                )),
                at_said: false,
                mtime: opts.at_us.is_none(),
            },
        }
    }

    fn line(&mut self, ev: &mut HostEvidence, warn: &mut Warn, bytes: &[u8], n: u64, cut: bool) {
        match self {
            Sink::Kernel {
                format,
                file,
                year,
                unparsed,
                first_unparsed,
                last_tcp,
                warned_zone,
            } => {
                let Ok(s) = std::str::from_utf8(bytes) else {
                    warn.push(ev, Some(n), "not UTF-8 text: skipped".into());
                    return;
                };
                // Blank, journalctl's `-- Boot ... --` lines, and the
                // continuation lines of a message (indented): nothing new.
                if s.trim().is_empty() || s.starts_with("-- ") || s.starts_with([' ', '\t']) {
                    return;
                }
                let Some(p) = kernel::parse(*format, s, *year) else {
                    *unparsed += 1;
                    first_unparsed.get_or_insert(n);
                    return;
                };
                if cut {
                    warn.push(
                        ev,
                        Some(n),
                        "the file ends in the middle of this line: read as it is".into(),
                    );
                }
                if !*warned_zone
                    && matches!(
                        format,
                        KernelFormat::DmesgCtime | KernelFormat::JournalShortPrecise
                    )
                {
                    *warned_zone = true;
                    let what = if *format == KernelFormat::DmesgCtime {
                        "dmesg -T prints local time without its offset (and may drift after a suspend): read as UTC; `dmesg --time-format iso` carries the offset".to_string()
                    } else {
                        format!(
                            "journalctl short-precise prints local time without its offset or year: read as UTC in {year} (the file's modification time, or --at); `-o short-iso-precise` or `-o json` carry both"
                        )
                    };
                    warn.push(ev, None, what);
                }
                if let Some(k) = kernel::suppressed(&p.text)
                    && let Some(m) = last_tcp.and_then(|i| ev.kernel_messages.get_mut(i))
                {
                    m.count = m.count.saturating_add(k);
                    return;
                }
                let kind = kernel::classify(&p.text);
                if kind == KernelKind::Other {
                    let kept = ev
                        .kernel_messages
                        .iter()
                        .rev()
                        .take(MAX_OTHER_MESSAGES + 1)
                        .filter(|m| m.kind == KernelKind::Other)
                        .count();
                    if kept >= MAX_OTHER_MESSAGES {
                        ev.kernel_other_dropped += 1;
                        return;
                    }
                } else {
                    *last_tcp = Some(ev.kernel_messages.len());
                }
                ev.kernel_messages.push(KernelMessage {
                    wall_us: p.wall_us,
                    boot_us: p.boot_us,
                    kind,
                    count: 1,
                    text: p.text,
                    file: *file,
                    line: n,
                });
            }
            Sink::Stat { .. } => {
                if let Some(v) = bytes.strip_prefix(b"btime ") {
                    match std::str::from_utf8(v)
                        .ok()
                        .and_then(|v| v.trim().parse().ok())
                    {
                        Some(b) => ev.btime = Some(b),
                        None => warn.push(ev, Some(n), "btime: not a number of seconds".into()),
                    }
                }
            }
            Sink::Sysctl => {
                let l = bytes.trim_ascii();
                if l.is_empty() || l.starts_with(b"#") {
                    return;
                }
                match sysctl(l) {
                    Some((k, v)) => {
                        ev.sysctls.insert(k, v);
                    }
                    None => warn.push(
                        ev,
                        Some(n),
                        "not a `name = value` sysctl line: skipped".into(),
                    ),
                }
            }
            Sink::Snapshots { reader, .. } => {
                if cut {
                    let m = reader.cut();
                    warn.push(ev, Some(n), m);
                    return;
                }
                if let Said::Warn(m) = reader.line(ev, bytes, n) {
                    warn.push(ev, Some(n), m);
                }
            }
        }
    }

    fn finish(
        self,
        ev: &mut HostEvidence,
        warn: &mut Warn,
        last_ss: &mut Option<(u64, usize, ss::SsAcc)>,
    ) {
        match self {
            Sink::Kernel {
                unparsed,
                first_unparsed,
                format,
                ..
            } => {
                if unparsed > 0 {
                    warn.push(
                        ev,
                        first_unparsed,
                        format!(
                            "{unparsed} line(s) not in the file's format ({}) skipped, the first here",
                            FileKind::KernelLog(format).name()
                        ),
                    );
                }
            }
            Sink::Stat { file } => {
                if ev.btime.is_none() {
                    warn.push(ev, None, "no btime line".into());
                }
                let _ = file;
            }
            Sink::Sysctl => {}
            Sink::Snapshots {
                mut reader,
                mut at_said,
                mtime,
            } => {
                if let Said::Warn(m) = reader.finish(ev) {
                    warn.push(ev, None, m);
                }
                if reader.untimed_used && !at_said {
                    at_said = true;
                    let m = if mtime {
                        "no time line before the snapshot: taken at the file's modification time (--at TIME to say when it was taken)"
                    } else {
                        "no time line before the snapshot: taken at --at"
                    };
                    warn.push(ev, None, m.into());
                }
                let _ = at_said;
                if let Some((t, acc)) = reader.last_ss.take()
                    && last_ss.as_ref().is_none_or(|(lt, _, _)| t >= *lt)
                {
                    let file = ev.files.len() - 1;
                    *last_ss = Some((t, file, acc));
                }
            }
        }
    }
}
