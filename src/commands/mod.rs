//! One module per subcommand, and what they share: running an analysis
//! over the inputs (streaming finished connections to sinks), building the
//! report document from it, and the exit codes. Only this module and
//! [`crate::pipeline`] wire stages together.

pub mod analyze;
pub mod check;
pub mod diff;
pub mod guard;
pub mod man;
pub mod merge;
pub mod plan;
pub mod ss;
pub mod timeline;

use crate::capture::error::CaptureError;
use crate::capture::open::{self, ExpandError};
use crate::cli::options::ConfigError;
use crate::cli::{Cli, Command};
use crate::commands::diff::ToleranceError;
use crate::flow::table::Retired;
use crate::metrics::groups::{self, PortGroups};
use crate::pipeline;
use crate::pipeline::{Analysis, FlowSink, Interval};
use crate::report::load::LoadError;
use crate::report::render::{self, TextStyle};
use crate::report::{self, Report};
use plan::AnalysisPlan;
use std::io::{self, IsTerminal, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

/// Exit codes (docs/report.md, docs/ci.md).
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_CORRUPT: u8 = 3;
/// Reading was interrupted (SIGINT/SIGTERM); the report of what was read
/// was printed. 128 + SIGINT, what a shell shows for Ctrl-C.
pub const EXIT_INTERRUPTED: u8 = 130;

/// Why a subcommand could not do its work (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An input could not be read at all.
    #[error(transparent)]
    Capture(#[from] CaptureError),
    /// A saved report could not be read.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// A `--host` input (or `finscope ss` file) could not be read.
    #[error(transparent)]
    Host(#[from] crate::host::HostError),
    /// An output file could not be written.
    #[error("{}: {source}", if path == Path::new("-") { "standard output".into() } else { path.display().to_string() })]
    Write { path: PathBuf, source: io::Error },
    /// Standard output could not be written.
    #[error("standard output: {0}")]
    Stdout(#[from] io::Error),
    /// The inputs given name no capture file.
    #[error(transparent)]
    Inputs(#[from] ExpandError),
    /// A `--config` file cannot be used.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A `--tolerance` cannot be used.
    #[error(transparent)]
    Tolerance(#[from] ToleranceError),
    /// Reports that cannot be merged (`finscope merge`).
    #[error(transparent)]
    Merge(#[from] merge::MergeError),
    /// `--flows FILE` whose extension says another format than `--flows-format`.
    #[error("--flows {}: the extension says {ext}, --flows-format says {format}", path.display())]
    FlowsFormat {
        path: PathBuf,
        ext: String,
        format: &'static str,
    },
    /// `check` on inputs without any TCP segment: every bound would hold.
    #[error("check: no TCP segment could be decoded from the input(s): no bound can be checked")]
    NothingToCheck,
    /// `check` on a selection that kept nothing: a gate that checked
    /// nothing has not passed.
    #[error("check: {what}: no bound can be checked (a gate that checked nothing has not passed)")]
    EmptySelection { what: String },
    /// Options that mean nothing to a saved report (`check REPORT.json`).
    #[error(
        "check: {flags} {verb} to captures, not to a saved report; re-run `finscope analyze --json` with {them}",
        verb = if flags.contains(", ") { "apply" } else { "applies" },
        them = if flags.contains(", ") { "them" } else { "it" }
    )]
    FlagsForReport { flags: String },
    /// An output that would destroy data (an input, a capture, a report of
    /// another kind): refused before anything is read.
    #[error(transparent)]
    Guard(#[from] guard::GuardError),
    /// Two outputs asked for standard output.
    #[error("{flags} both write to standard output: give one of them a file")]
    StdoutTwice { flags: String },
    /// `finscope man NAME` of no subcommand.
    #[error(transparent)]
    Man(#[from] man::NoSuchPage),
    /// What the user asked for cannot be done (the message says why).
    #[error("{0}")]
    Usage(&'static str),
}

impl Error {
    /// The exit code of a run that ended with this error: 4 when an output
    /// could not be written, else 2 (docs/report.md).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Stdout(_) | Error::Write { .. } => EXIT_OUTPUT,
            _ => EXIT_USAGE,
        }
    }

    /// The reader of our output went away (`finscope ... | head`): not an
    /// error.
    pub fn is_broken_pipe(&self) -> bool {
        let io = match self {
            Error::Stdout(e) | Error::Write { source: e, .. } => e,
            _ => return false,
        };
        // Also when wrapped: an io::Error made of a csv::Error made of the
        // writer's io::Error (csv's errors name no `source`).
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(io);
        while let Some(e) = cause {
            cause = if let Some(io) = e.downcast_ref::<io::Error>() {
                if io.kind() == io::ErrorKind::BrokenPipe {
                    return true;
                }
                io.get_ref()
                    .map(|inner| inner as &(dyn std::error::Error + 'static))
            } else if let Some(csv::ErrorKind::Io(io)) =
                e.downcast_ref::<csv::Error>().map(|c| c.kind())
            {
                Some(io)
            } else {
                e.source()
            };
        }
        false
    }
}

/// Runs the subcommand the user typed.
pub fn run(cli: &Cli) -> Result<ExitCode, Error> {
    // Text on a terminal (or with $COLUMNS set) fits its width; the
    // style is decided once and handed to every text renderer.
    let style = &TextStyle::new(render::terminal_width(), cli.color.enabled());
    match &cli.command {
        Command::Analyze(a) => analyze::run(a, style),
        Command::Check(c) => check::run(c, style),
        Command::Diff(d) => diff::run(d, style),
        Command::Timeline(t) => timeline::run(t, style),
        Command::Merge(m) => merge::run(m, style),
        Command::Ss(s) => ss::run(s),
        Command::Completions { shell } => {
            // Into a buffer first: clap_complete panics when its writer
            // fails (`>/dev/full`, `| true`); written like every output.
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut buf = Vec::new();
            clap_complete::generate(*shell, &mut cmd, "finscope", &mut buf);
            print_all(&buf)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Man { subcommand, dir } => man::run(subcommand.as_deref(), dir.as_deref()),
    }
}

/// Writes `bytes` to standard output and flushes it (a closed pipe is
/// [`Error::is_broken_pipe`], a full disk exit 4).
pub(crate) fn print_all(bytes: &[u8]) -> Result<(), Error> {
    let out = stdout()?;
    let mut out = out.lock();
    out.write_all(bytes)?;
    out.flush()?;
    Ok(())
}

/// Writes a value as pretty JSON and a newline.
pub(crate) fn write_json<T: serde::Serialize>(
    out: &mut impl io::Write,
    v: &T,
) -> Result<(), Error> {
    crate::report::render::json::to_writer_pretty(&mut *out, v).map_err(Error::Stdout)?;
    writeln!(out)?;
    Ok(())
}

/// An analysis and what was gathered from its connections on the way.
pub(crate) struct Run {
    pub(crate) analysis: Analysis,
    /// With `--group-by port`.
    pub(crate) ports: Option<PortGroups>,
    /// With `--host`: the host evidence (joined in [`build_report`]).
    pub(crate) host: Option<crate::host::HostEvidence>,
}

/// Where the pipeline streams finished connections (the `--flows`
/// writer) and `--interval` summaries. `--group-by port`'s pairs are
/// gathered in the shards ([`pipeline::Options::port_groups`]).
struct Sinks<'b> {
    flows: Option<&'b mut dyn FlowSink>,
    /// `--interval`: print summaries on stderr, as JSON lines when true.
    intervals: Option<bool>,
}

impl FlowSink for Sinks<'_> {
    fn wants_connections(&self) -> bool {
        self.flows.is_some()
    }

    fn interval(&mut self, i: &Interval) {
        let s = &report::build::interval_line(i);
        match self.intervals {
            Some(true) => {
                if let Ok(line) = serde_json::to_string(s) {
                    crate::say!("{line}");
                }
            }
            Some(false) => crate::say!("finscope: {}", report::render::text::interval_line(s)),
            None => {}
        }
    }

    fn retired(&mut self, retired: &mut Vec<Retired>, watermark: u64) -> ControlFlow<()> {
        if let Some(f) = self.flows.as_deref_mut() {
            f.retired(retired, watermark)?;
        }
        ControlFlow::Continue(())
    }
}

/// Expands the inputs, runs the pipeline (streaming finished connections
/// to `flows`, if given) and reports damage on stderr.
pub(crate) fn run_analysis(
    a: &AnalysisPlan,
    flows: Option<&mut dyn FlowSink>,
    json: bool,
) -> Result<Run, Error> {
    // Host inputs first: one that cannot be read is refused before the
    // capture is.
    let host = read_host(a)?;
    let inputs = open::expand(&a.files)?;
    for s in &inputs.skipped {
        crate::say!("finscope: note: skipped {s}");
    }
    let opts = &a.pipeline;
    let mut sinks = Sinks {
        flows,
        intervals: a.interval.then_some(json),
    };
    let sink: Option<&mut dyn FlowSink> = if sinks.flows.is_some() || sinks.intervals.is_some() {
        Some(&mut sinks)
    } else {
        None
    };
    if inputs.paths.iter().any(|p| p.as_os_str() == "-") && io::stdin().is_terminal() {
        crate::say!(
            "finscope: waiting for a capture on standard input (e.g. `tcpdump -U -w - | finscope analyze -`); Ctrl-D ends it, Ctrl-C stops"
        );
    }
    pipeline::catch_interrupts();
    let mut analysis = pipeline::analyze_with(&inputs.paths, opts, sink)?;
    // The shards' tables are gone: their pages back before the report.
    if let Some(release) = RELEASE_MEMORY.get() {
        release();
    }
    let mut ports = analysis.ports.take();
    empty_range_warning(a, &analysis);
    if analysis.interrupted {
        crate::say!(
            "finscope: warning: interrupted after {} frame(s); the report covers what was read before it",
            analysis.summary.packets.counts.frames
        );
    }
    if analysis.evicted_early > 0 {
        crate::say!(
            "finscope: warning: {} connection(s) evicted early to stay within --max-memory {}: their figures end at the eviction (capture.evicted_early)",
            analysis.evicted_early,
            bytesize::ByteSize(opts.flow.max_memory).display().iec()
        );
    }
    let others = &analysis.summary.peers_others;
    if others.folded > 0 {
        crate::say!(
            "finscope: warning: {} peer(s) with the fewest problems folded into one \"others\" row ({} connection(s)) to stay within --max-memory {} or the report's {} named peers: totals still add up (peers_others)",
            others.folded,
            others.stats.counts.connections,
            bytesize::ByteSize(opts.flow.max_memory).display().iec(),
            crate::metrics::peers::REPORT_PEERS_MAX
        );
    }
    let lives = &analysis.summary.lives;
    if lives.sampled() {
        crate::say!(
            "finscope: warning: the remedies replay a sample of the local closes: {} kept, each standing for {} (at most {} kept within --max-memory {}): their figures are estimates (demand.sampled)",
            lives.len(),
            lives.weight(),
            lives.cap,
            bytesize::ByteSize(opts.flow.max_memory).display().iec()
        );
    }
    for e in &analysis.damage {
        let kind = if e.is_truncation() {
            "warning"
        } else {
            "error"
        };
        crate::say!("finscope: {kind}: {e}; the report covers what was read before it");
    }
    let p = &analysis.summary.packets;
    if let Some(sel) = selection(a, &analysis)
        && sel.empty
        && !analysis.interrupted
    {
        crate::say!(
            "finscope: warning: {}: the report is empty",
            sel.sentence(a.report.filter.as_deref())
        );
    } else if p.counts.frames > 0 && p.counts.tcp == 0 {
        crate::say!(
            "finscope: warning: {} frame(s) but no TCP segment could be decoded (see the link types in the report): nothing was analysed",
            p.counts.frames
        );
    }
    if std::env::var_os("FINSCOPE_STATS").is_some() {
        // Engine figures for docs/performance.md; not part of any report.
        crate::say!(
            "finscope: stats: {} threads, peak tracked connections {} (sum over shards)",
            analysis.threads,
            analysis.peak_connections
        );
    }
    if let Some(p) = ports.as_mut() {
        // A report holds at most REPORT_PAIRS_MAX pairs.
        p.fold(crate::metrics::peers::REPORT_PAIRS_MAX);
        if p.pairs_folded > 0 {
            crate::say!(
                "finscope: warning: {} (remote port, address) pair(s) with the fewest problems folded into their port's \"others\" member to stay within --max-memory {} or the report's {} pairs: every port's figures stay exact (mergeable.port_pairs_folded)",
                p.pairs_folded,
                bytesize::ByteSize(opts.flow.max_memory).display().iec(),
                crate::metrics::peers::REPORT_PAIRS_MAX
            );
        }
    }
    Ok(Run {
        analysis,
        ports,
        host,
    })
}

/// Reads the `--host` inputs, their warnings on stderr.
fn read_host(a: &AnalysisPlan) -> Result<Option<crate::host::HostEvidence>, Error> {
    if a.host.is_empty() {
        return Ok(None);
    }
    let ev = crate::host::read(&a.host, &a.host_options)?;
    for w in &ev.warnings {
        crate::say!("finscope: warning: {w}");
    }
    Ok(Some(ev))
}

/// The report document of the plan (its settings, filter, time range and
/// label are the build's input), with peer groups and what the selection
/// kept.
pub(crate) fn build_report(a: &AnalysisPlan, run: &Run) -> Report {
    let top = a.report.top;
    // With several threads, on a pool of them: the remedies' replays use it
    // (rayon's global pool has every core), and its threads take up the
    // heaps the engine's threads freed. With one, here: this thread's heap
    // is the one the capture freed (measured: 20M gateway -j1 peak RSS 150
    // MiB on a pool's thread, 131 here).
    let threads = run.analysis.threads.max(1);
    let build = || report::build(&run.analysis, &a.report);
    let pool = (threads > 1)
        .then(|| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .ok()
        })
        .flatten();
    let mut doc = match pool {
        Some(p) => p.install(build),
        None => build(),
    };
    if let Some((peers, total)) = groups::peers(
        &run.analysis.summary,
        a.group_by,
        a.rank_by,
        top,
        run.ports.as_ref(),
    ) {
        doc.peers = report::build::group_peers(peers);
        doc.peers_total = total;
        doc.group_by = Some(a.group_by.to_string());
    }
    doc.capture.selection = selection(a, &run.analysis);
    if let (Some(m), Some(p)) = (doc.mergeable.as_mut(), run.ports.as_ref()) {
        m.set_port_peers(p.pairs());
        m.port_pairs_folded = p.pairs_folded;
    }
    if let Some(ev) = &run.host {
        report::host::join(&mut doc, &run.analysis.summary, ev, &a.host_options);
        if let (Some(h), Some(ss)) = (doc.host.as_mut(), ss::summary(ev, a.group_by)) {
            h.ss_last = Some(report::schema::host::SsLast {
                t_us: ev.ss.iter().map(|p| p.t_us).max().unwrap_or(0),
                states: ss.states,
                remotes_total: ss.by_remote.len() as u64,
                by_remote: ss
                    .by_remote
                    .into_iter()
                    .take(top)
                    .map(|r| report::schema::host::SsRemote {
                        remote: r.remote,
                        states: r.states,
                    })
                    .collect(),
            });
        }
    }
    doc
}

/// What `--filter`, `--since` and `--until` kept, when one was given.
pub(crate) fn selection(a: &AnalysisPlan, analysis: &Analysis) -> Option<report::Selection> {
    let by = match (
        a.report.filter.is_some(),
        a.since.is_some() || a.until.is_some(),
    ) {
        (false, false) => return None,
        (true, false) => "filter",
        (false, true) => "time range",
        (true, true) => "filter and time range",
    };
    let p = &analysis.summary.packets;
    Some(report::Selection {
        by: by.to_string(),
        frames_read: analysis.files.iter().map(|f| f.records).sum(),
        frames_selected: p.counts.frames,
        tcp_selected: p.counts.tcp,
        connections_selected: analysis.summary.connections.total,
        empty: p.counts.tcp == 0,
    })
}

/// The outputs a run was asked for that write to standard output (`--json`,
/// or a file output given as `-`): at most one may, or they would be mixed
/// into one stream. `None` when none does; the main report then goes there.
pub(crate) fn stdout_taker(takers: &[(&'static str, bool)]) -> Result<Option<&'static str>, Error> {
    let on: Vec<&str> = takers
        .iter()
        .filter(|(_, on)| *on)
        .map(|(f, _)| *f)
        .collect();
    match on.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        more => Err(Error::StdoutTwice {
            flags: more.join(" and "),
        }),
    }
}

/// A file output given as `-` (standard output).
pub(crate) fn is_stdout(path: &Option<PathBuf>) -> bool {
    path.as_deref() == Some(Path::new("-"))
}

/// Standard output was closed when the process started (`>&-`).
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Says that standard output was closed when the process started: Rust's
/// runtime puts /dev/null in its place before `main`, where a closed one
/// can no longer be told from /dev/null passed on purpose (as
/// `subprocess.DEVNULL` and CI runners do), so the binary looks earlier
/// and says so here.
pub fn mark_stdout_closed() {
    STDOUT_CLOSED.store(true, Ordering::Relaxed);
}

/// What gives freed memory back to the system (the binary's allocator:
/// glibc's `malloc_trim`), called once the connection tables are gone.
static RELEASE_MEMORY: std::sync::OnceLock<fn()> = std::sync::OnceLock::new();

/// Sets what gives freed memory back to the system, for the binary: the
/// connection tables' hundreds of thousands of small blocks, freed at the
/// capture's end, leave pages the allocator keeps, on which the report's
/// and the remedies' large vectors would then come in addition (glibc:
/// `malloc_trim(0)` returns them; peak RSS of the 20M gateway run at -j1
/// 107 -> 87 MiB, docs/performance.md).
pub fn set_release_memory(f: fn()) {
    let _ = RELEASE_MEMORY.set(f);
}

/// Standard output, or the error of one closed when the process started:
/// what was meant for it is lost, and the exit code says so.
pub(crate) fn stdout() -> io::Result<io::Stdout> {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        Err(io::Error::other(
            "closed when finscope started (`>&-`): nothing could be printed there",
        ))
    } else {
        Ok(io::stdout())
    }
}

/// Exit code when an output could not be written (the others were).
pub const EXIT_OUTPUT: u8 = 4;

/// The outputs of one run: each is written even when another failed; the
/// failures are reported (naming their file) and decide the exit code.
#[derive(Debug, Default)]
pub(crate) struct Outputs {
    failed: Vec<Error>,
}

impl Outputs {
    /// Writes `path` with `write` (`-`: standard output), keeping a failure.
    pub(crate) fn file(
        &mut self,
        path: &Path,
        write: impl FnOnce(&mut dyn io::Write) -> io::Result<()>,
    ) {
        let r = if path == Path::new("-") {
            stdout().map_err(Error::Stdout).and_then(|stdout| {
                let mut out = io::BufWriter::new(stdout.lock());
                write(&mut out)
                    .and_then(|()| out.flush())
                    .map_err(Error::Stdout)
            })
        } else {
            std::fs::File::create(path)
                .and_then(|f| {
                    let mut w = io::BufWriter::new(f);
                    write(&mut w)?;
                    w.flush()
                })
                .map_err(|source| Error::Write {
                    path: path.to_path_buf(),
                    source,
                })
        };
        self.keep(r);
    }

    /// The report on standard output: its JSON with `json`, else the text
    /// fitted to `style` (what `analyze` and `merge` print by default).
    /// The text shows nothing of `mergeable`: it is dropped first, so that
    /// escaping the report's strings does not copy every peer it holds
    /// (1M peers at `--max-memory 64MiB`: 137 -> 88 MiB).
    pub(crate) fn report_to_stdout(&mut self, mut doc: Report, json: bool, style: &TextStyle) {
        let stdout = Path::new("-");
        if json {
            self.file(stdout, |mut w| render::json::render(&doc, &mut w));
        } else {
            doc.mergeable = None;
            let doc = &doc;
            self.file(stdout, |w| {
                style.fitted(w, |b| render::text::render(doc, style, b))
            });
        }
    }

    /// Keeps a failure (a reader that went away, `| head`, is none).
    pub(crate) fn keep(&mut self, r: Result<(), Error>) {
        if let Err(e) = r
            && !e.is_broken_pipe()
        {
            self.failed.push(e);
        }
    }

    /// Reports the failures on stderr and gives the exit code: 4 when an
    /// output failed, else `inputs`: what the inputs say ([`input_exit`]).
    pub(crate) fn finish(self, inputs: Option<u8>) -> ExitCode {
        for e in &self.failed {
            crate::say!("finscope: error: {e}");
        }
        if !self.failed.is_empty() {
            ExitCode::from(EXIT_OUTPUT)
        } else {
            inputs.map_or(ExitCode::SUCCESS, ExitCode::from)
        }
    }
}

/// The exit code the inputs call for, one rule for every subcommand: 130
/// when reading was interrupted, 2
/// when an input could not be read at all (missing, not a capture) even if
/// others were (their report is still printed), 3 when one is corrupt or
/// refused part-way, none when all were read (a truncated tail is a
/// warning).
pub(crate) fn input_exit(analysis: &Analysis) -> Option<u8> {
    if analysis.interrupted {
        Some(EXIT_INTERRUPTED)
    } else if analysis.unreadable() {
        Some(EXIT_USAGE)
    } else if analysis.corrupt() {
        Some(EXIT_CORRUPT)
    } else {
        None
    }
}

/// A `--since`/`--until` pair that could only be compared once the first
/// packet was read (a time and a duration after it): a warning when it
/// left nothing (those of one kind are refused before reading).
fn empty_range_warning(a: &AnalysisPlan, analysis: &Analysis) {
    use crate::report::format::utc;
    if let (Some(since), Some(until), Some((s, u))) = (a.since, a.until, analysis.time_range)
        && s >= u
    {
        let said = |b: pipeline::TimeBound, ns: u64| match b {
            pipeline::TimeBound::At(_) => utc(ns / 1_000),
            pipeline::TimeBound::After(d) => format!(
                "{} after the first packet, {}",
                crate::report::format::dur(d / 1_000),
                utc(ns / 1_000)
            ),
        };
        crate::say!(
            "finscope: warning: --since ({}) is not before --until ({}): the time range is empty, no frame was analysed",
            said(since, s),
            said(until, u)
        );
    }
}
