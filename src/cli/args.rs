//! What the user typed: the clap definitions of every subcommand.

use super::values::{
    Limit, non_negative_secs, parse_bucket, parse_count, parse_duration_us, parse_limit,
    parse_memory, parse_ratio, parse_time_bound, positive_secs,
};
use crate::decode::filter::Filter;
use crate::decode::net::Cidr;
use crate::metrics::groups::GroupBy;
use crate::metrics::peers::RankBy;
use crate::pipeline::TimeBound;
use crate::report::render::flows::FlowsFormat;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

// The defaults, each written once: clap shows and applies these, the
// plan compares against them (`check REPORT.json` refuses analysis options
// given), and the stages' own `Default`s hold the same values
// (`flow::table::DEFAULT_*`).

/// `--top`.
pub const DEFAULT_TOP: usize = 10;
/// `--idle-timeout`, seconds.
pub const DEFAULT_IDLE_TIMEOUT_S: f64 = crate::flow::table::DEFAULT_IDLE_TIMEOUT_NS as f64 / 1e9;
/// `--time-wait`, seconds.
pub const DEFAULT_TIME_WAIT_S: f64 = crate::flow::table::DEFAULT_TIME_WAIT_NS as f64 / 1e9;
/// `--fin-timeout`, seconds.
pub const DEFAULT_FIN_TIMEOUT_S: f64 = crate::flow::table::DEFAULT_FIN_TIMEOUT_NS as f64 / 1e9;
/// `--bucket`, as clap shows it, and in microseconds.
pub const DEFAULT_BUCKET: &str = "1s";
pub const DEFAULT_BUCKET_US: u64 = 1_000_000;
/// `--max-memory`, as clap shows it (`flow::table::DEFAULT_MAX_MEMORY`).
pub const DEFAULT_MAX_MEMORY: &str = "1GiB";

#[derive(Debug, Parser)]
#[command(
    name = "finscope",
    version,
    about = "TCP teardown forensics on packet captures: FIN ratio, FIN retransmissions, close latency, slow peers"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Colour in the text output (FAIL, WORSE, warnings, diagnosis
    /// headlines): auto (a terminal, unless NO_COLOR is set), always, never.
    #[arg(long, global = true, value_enum, default_value_t = ColorWhen::Auto, value_name = "WHEN")]
    pub color: ColorWhen,
}

/// When to colour the text output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

impl ColorWhen {
    /// Whether to colour standard output: `auto` on a terminal unless
    /// NO_COLOR is set to anything non-empty (no-color.org) or TERM is dumb.
    pub fn enabled(self) -> bool {
        use std::io::IsTerminal;
        match self {
            ColorWhen::Always => true,
            ColorWhen::Never => false,
            ColorWhen::Auto => {
                std::io::stdout().is_terminal()
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
            }
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Analyse how TCP connections close in one or more captures (pcap or pcapng).
    #[command(
        alias = "analyse",
        after_help = "Examples:
  finscope analyze capture.pcap
  finscope analyze --local 10.0.0.0/8 --filter 'port 443' 'rotated/*.pcap.gz'
  tcpdump -U -w - | finscope analyze -
  finscope analyze --json-out r.json --html r.html --flows flows.csv capture.pcap"
    )]
    Analyze(AnalyzeArgs),
    /// Analyse captures and check figures against bounds: exit 0 when every
    /// bound holds, 1 when one is violated (one line each), 2 on bad usage or
    /// unreadable input, 3 when a capture is corrupt part-way, 4 when the
    /// verdict cannot be written, 130 when interrupted.
    #[command(after_help = "Examples:
  finscope check --max-fin-retrans 5% --max-unacked-fins 0 trace.pcap
  finscope check --config finscope.toml traces/
  finscope check --max-p99-fin-ack 1s saved-report.json")]
    Check(CheckArgs),
    /// Compare two `analyze --json` reports: exit 0 without regression, 1 on
    /// a regression, 2 on bad usage or an unreadable report, 4 when the
    /// comparison cannot be written.
    #[command(after_help = "Examples:
  finscope diff base.json new.json
  finscope diff --tolerance 5% --tolerance fin_ack_p99_us=20% base.json new.json")]
    Diff(DiffArgs),
    /// The capturing host's socket states over time (FIN-WAIT-1, TIME-WAIT,
    /// orphans, ...) reconstructed from the capture, with a diagnosis.
    #[command(after_help = "Examples:
  finscope timeline --local 10.0.0.1/32 --bucket 500ms capture.pcap
  finscope timeline --max-orphans 65536 --orphan-retries 2 --csv states.csv capture.pcap")]
    Timeline(TimelineArgs),
    /// Merge `analyze --json` reports of many captures into one report, as
    /// if the captures had been analysed together (each on its own):
    /// counts add, histograms add exactly, peers are re-ranked, timelines
    /// summed. Exit 2 when the reports cannot be merged.
    Merge(MergeArgs),
    /// Sockets by state and by remote in `ss -tan` dumps (or snapshot logs
    /// of them), the last snapshot's: the `ss -ant` step of an incident.
    #[command(after_help = "Examples:
  ss -tan > ss.txt; finscope ss ss.txt
  finscope ss --group-by prefix:24 --json ss.log")]
    Ss(SsArgs),
    /// Print a shell completion script: bash, zsh, fish, elvish, powershell
    /// (e.g. `finscope completions bash > /etc/bash_completion.d/finscope`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print a manual page (roff): finscope(1), or a subcommand's own page
    /// with all its options (finscope-analyze(1), ...); `--dir` writes
    /// every page.
    #[command(after_help = "Examples:
  finscope man > finscope.1; man ./finscope.1
  finscope man analyze | man -l -
  finscope man --dir ~/.local/share/man/man1")]
    Man {
        /// The subcommand whose page to print: analyze, check, diff,
        /// timeline, merge, ss, completions or man.
        #[arg(value_name = "SUBCOMMAND", conflicts_with = "dir")]
        subcommand: Option<String>,
        /// Write every page into DIR instead (finscope.1,
        /// finscope-analyze.1, ...), naming each on standard output.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct SsArgs {
    /// `ss -tan` output (also -tanoe, -H), or logs of snapshots each after
    /// a time line (`date +%s.%N`); directories; gzip/zstd/xz.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Print `{snapshots, states, by_remote}` as JSON (docs/host.md).
    #[arg(help_heading = "Output", long)]
    pub json: bool,
    /// Group remotes: ip, prefix:24, prefix:V4,V6, or port (remote port).
    #[arg(long, default_value = "ip", value_name = "ip|prefix:N|port")]
    pub group_by: GroupBy,
    /// Remotes listed in the text table.
    #[arg(help_heading = "Output", long, default_value_t = 20, value_name = "N")]
    pub top: usize,
    /// When a dump without a time line was taken (epoch seconds or RFC
    /// 3339); default: the file's modification time.
    #[arg(long, value_name = "TIME", value_parser = crate::host::parse_time_arg)]
    pub at: Option<u64>,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Reports written by `finscope analyze --json` (or by `merge --json`).
    #[arg(required = true, value_name = "REPORT.json")]
    pub files: Vec<PathBuf>,
    /// Print the merged report as JSON (mergeable again).
    #[arg(help_heading = "Output", long)]
    pub json: bool,
    /// Also write the merged report as one self-contained HTML page to
    /// FILE (`-`: standard output, instead of the text).
    #[arg(help_heading = "Output", long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Number of worst remote peers to list (default: the inputs' `--top`
    /// when they agree, else 10).
    #[arg(help_heading = "Output", long, value_name = "N")]
    pub top: Option<usize>,
    /// How to rank remote peers (default: the inputs' when they agree,
    /// else problems).
    #[arg(help_heading = "Output", long, value_enum)]
    pub rank_by: Option<RankBy>,
    /// Merge reports even when two of them count the same capture (the
    /// same report twice, or reports sharing a capture file over the same
    /// time): by default refused, as the sum would count it twice.
    #[arg(long)]
    pub allow_duplicates: bool,
}

#[derive(Debug, Args)]
pub struct TimelineArgs {
    #[command(flatten)]
    pub analysis: AnalysisArgs,
    /// Print the timeline as JSON (the `timeline` object of `analyze --json`).
    #[arg(help_heading = "Output", long)]
    pub json: bool,
    /// Also write the buckets as CSV to FILE (`-`: standard output, instead
    /// of the chart).
    #[arg(help_heading = "Output", long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Also write the report as one self-contained HTML page with plots to
    /// FILE (`-`: standard output, instead of the text).
    #[arg(help_heading = "Output", long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

/// What to read and how to analyse it (shared by `analyze` and `check`).
#[derive(Debug, Args)]
pub struct AnalysisArgs {
    /// Capture files (pcap or pcapng, plain or gzip/zstd/xz-compressed,
    /// recognised by content), directories, or quoted globs; `-` reads
    /// standard input. Files are read in order of their first packet's
    /// timestamp and connections continue across them.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Analyse only connections matching EXPR, tcpdump's primitives: tcp,
    /// ip, ip6, [src|dst] host ADDR | net NET | port N|NAME | portrange N-M,
    /// vlan N, with and/or/not (&&, ||, !) and parentheses. A connection
    /// passes when EXPR holds in one of its two directions.
    #[arg(help_heading = "Input", long, value_name = "EXPR")]
    pub filter: Option<Filter>,
    /// Analyse only frames from this time on: an RFC 3339 time with its
    /// offset (2026-11-30T10:15:00Z) or a duration after the first packet
    /// (10s: skip the first ten seconds).
    #[arg(help_heading = "Input", long, value_name = "TIME", value_parser = parse_time_bound)]
    pub since: Option<TimeBound>,
    /// Analyse only frames before this time (same forms as --since).
    #[arg(help_heading = "Input", long, value_name = "TIME", value_parser = parse_time_bound)]
    pub until: Option<TimeBound>,
    /// Worker threads (0: all cores; at most 256). Results do not depend on it.
    #[arg(
        help_heading = "Input",
        short = 'j',
        long = "threads",
        default_value_t = 0,
        value_name = "N",
        value_parser = clap::value_parser!(u16).range(0..=256)
    )]
    pub threads: u16,
    /// Prefixes of the local side, e.g. 10.0.0.0/8,2001:db8::/32.
    /// Default: the client (SYN sender) is local, the server is the remote peer.
    #[arg(
        help_heading = "Analysis",
        long,
        value_name = "CIDR[,CIDR...]",
        value_delimiter = ','
    )]
    pub local: Vec<Cidr>,
    /// Number of worst remote peers to list.
    #[arg(help_heading = "Output", long, default_value_t = DEFAULT_TOP, value_name = "N")]
    pub top: usize,
    /// How to rank remote peers.
    #[arg(help_heading = "Output", long, value_enum, default_value_t = RankBy::Problems)]
    pub rank_by: RankBy,
    /// Aggregate remote peers: ip, prefix:24 (IPv4 /24), prefix:64 (IPv6
    /// /64), prefix:V4,V6, or port (remote port).
    #[arg(
        help_heading = "Analysis",
        long,
        default_value = "ip",
        value_name = "ip|prefix:N|port"
    )]
    pub group_by: GroupBy,
    /// Print a summary every DURATION of capture time on stderr while
    /// reading (frames, FIN, RST, tracked connections; a JSON object per
    /// line with --json), e.g. 10s, 1m: for a live pipe or a long file.
    #[arg(help_heading = "Output", long, value_name = "DURATION", value_parser = parse_bucket)]
    pub interval: Option<u64>,
    /// Seconds of capture time without packets after which a connection is over.
    #[arg(help_heading = "Analysis", long, default_value_t = DEFAULT_IDLE_TIMEOUT_S, value_name = "SECS", value_parser = positive_secs)]
    pub idle_timeout: f64,
    /// Memory for everything a run holds, e.g. 1GiB (default), 512MiB: past
    /// their parts the connections idle longest are evicted early
    /// (`capture.evicted_early`), peers folded (`peers_others`), the
    /// remedies replayed from a sample (`demand.sampled`), each warned about.
    #[arg(help_heading = "Analysis", long, default_value = DEFAULT_MAX_MEMORY, value_name = "SIZE", value_parser = parse_memory)]
    pub max_memory: u64,
    /// Seconds a closed connection's ports stay reserved (Linux TIME-WAIT: 60).
    #[arg(help_heading = "Analysis", long, default_value_t = DEFAULT_TIME_WAIT_S, value_name = "SECS", value_parser = non_negative_secs)]
    pub time_wait: f64,
    /// No progress bar.
    #[arg(help_heading = "Output", short, long)]
    pub quiet: bool,
    /// Name of this capture in the report (`settings.label`): its row in
    /// the INPUTS table of `finscope merge`.
    #[arg(help_heading = "Output", long, value_name = "NAME")]
    pub label: Option<String>,
    /// Timeline bucket width, e.g. 1s (default), 500ms, 1m.
    #[arg(help_heading = "Analysis", long, default_value = DEFAULT_BUCKET, value_name = "DURATION", value_parser = parse_bucket)]
    pub bucket: u64,
    /// Lifetime of an orphaned FIN-WAIT-2 socket (tcp_fin_timeout), seconds.
    #[arg(help_heading = "Analysis", long, default_value_t = DEFAULT_FIN_TIMEOUT_S, value_name = "SECS", value_parser = non_negative_secs)]
    pub fin_timeout: f64,
    /// A remedy to predict beside the standard ones (REMEDIES, JSON
    /// `remedies[]`): tcp_max_orphans=N, tcp_orphan_retries=N (0 means 8),
    /// tcp_fin_timeout=SECS, tcp_max_tw_buckets=N, worst_peers_fixed=N.
    /// Repeatable.
    #[arg(help_heading = "Limits (what-if)", long = "what-if", value_name = "KEY=VALUE", value_parser = crate::report::remedies::parse_what_if)]
    pub what_if: Vec<crate::report::remedies::WhatIf>,
    /// Same as --what-if tcp_max_orphans=N; the timeline also marks when the
    /// orphan estimate crosses it.
    #[arg(help_heading = "Limits (what-if)", long, value_name = "N")]
    pub max_orphans: Option<u64>,
    /// Same as --what-if tcp_max_tw_buckets=N; the timeline also marks when
    /// TIME-WAIT crosses it.
    #[arg(help_heading = "Limits (what-if)", long, value_name = "N")]
    pub max_tw_buckets: Option<u64>,
    /// Same as --what-if tcp_orphan_retries=N; the timeline also draws the
    /// states with orphans killed after N retransmissions.
    #[arg(help_heading = "Limits (what-if)", long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=255))]
    pub orphan_retries: Option<u32>,
    #[command(flatten)]
    pub host: super::host::HostArgs,
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    #[command(flatten)]
    pub analysis: AnalysisArgs,
    /// Print the JSON report to stdout instead of the text report.
    #[arg(help_heading = "Output", long)]
    pub json: bool,
    /// Also write the JSON report to FILE (`-`: standard output, instead
    /// of the text report).
    #[arg(help_heading = "Output", long, value_name = "FILE")]
    pub json_out: Option<PathBuf>,
    /// Also write the report as one self-contained HTML page with plots to
    /// FILE (`-`: standard output, instead of the text report).
    #[arg(help_heading = "Output", long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Write one record per connection to FILE (columns: docs/flows.md;
    /// `-`: standard output, instead of the report).
    #[arg(help_heading = "Output", long, value_name = "FILE")]
    pub flows: Option<PathBuf>,
    /// Format of --flows (default: from FILE's extension, `.csv` for CSV,
    /// else JSON Lines).
    #[arg(help_heading = "Output", long, value_enum, requires = "flows")]
    pub flows_format: Option<FlowsFormat>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub analysis: AnalysisArgs,
    /// Bound on FIN segments / TCP segments, e.g. 0.2 or 20%.
    #[arg(help_heading = "Check bounds", long, value_name = "RATIO", value_parser = parse_ratio)]
    pub max_fin_ratio: Option<f64>,
    /// Bound on FIN retransmissions: a count (5) or a rate per FIN segment (0.05 or 5%).
    #[arg(help_heading = "Check bounds", long, value_name = "N|RATE", value_parser = parse_limit)]
    pub max_fin_retrans: Option<Limit>,
    /// Bound on FINs never ACKed (in connections not reset).
    #[arg(help_heading = "Check bounds", long, value_name = "N", value_parser = parse_count)]
    pub max_unacked_fins: Option<u64>,
    /// Bound on the p99 of FIN -> ACK latency, e.g. 1s, 250ms.
    #[arg(help_heading = "Check bounds", long, value_name = "DURATION", value_parser = parse_duration_us)]
    pub max_p99_fin_ack: Option<u64>,
    /// Bound on RST segments / TCP segments, e.g. 0.05 or 5%.
    #[arg(help_heading = "Check bounds", long, value_name = "RATIO", value_parser = parse_ratio)]
    pub max_rst_ratio: Option<f64>,
    /// Read bounds from the `[check]` table of a TOML file; flags given on
    /// the command line take precedence.
    #[arg(help_heading = "Check bounds", long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print the verdict as JSON.
    #[arg(help_heading = "Output", long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The baseline report (`finscope analyze --json`).
    #[arg(value_name = "BASE.json")]
    pub base: PathBuf,
    /// The report to compare with it.
    #[arg(value_name = "NEW.json")]
    pub new: PathBuf,
    /// Allowed change: 10% (relative, the default) or 0.01 (absolute) for
    /// every figure, or FIGURE=VALUE for one; repeatable.
    #[arg(long, value_name = "[FIGURE=]VALUE")]
    pub tolerance: Vec<String>,
    /// Print the comparison as JSON.
    #[arg(help_heading = "Output", long)]
    pub json: bool,
}
