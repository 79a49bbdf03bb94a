//! Command line: what the user typed ([`Cli`]) and the objects built from it.
//!
//! Exit codes (docs/report.md): 0 success (a truncated tail is a warning);
//! 2 bad usage, unreadable input or not a capture; 3 the capture is corrupt
//! part-way (the report of what was read before the damage is still printed).

use crate::flow::FlowConfig;
use crate::flow::key::Cidr;
use crate::metrics::peers::RankBy;
use crate::pipeline::Options;
use crate::report::ReportOptions;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "finscope",
    version,
    about = "TCP teardown forensics on packet captures: FIN ratio, FIN retransmissions, close latency, slow peers"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Analyse how TCP connections close in one or more captures (pcap or pcapng).
    Analyze(AnalyzeArgs),
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Capture files (pcap or pcapng); `-` reads standard input. Several files
    /// are read in the order given and connections continue across them.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Print the JSON report to stdout instead of the text report.
    #[arg(long)]
    pub json: bool,
    /// Also write the JSON report to FILE.
    #[arg(long, value_name = "FILE")]
    pub json_out: Option<PathBuf>,
    /// Prefixes of the local side, e.g. 10.0.0.0/8,2001:db8::/32.
    /// Default: the client (SYN sender) is local, the server is the remote peer.
    #[arg(long, value_name = "CIDR[,CIDR...]", value_delimiter = ',')]
    pub local: Vec<Cidr>,
    /// Number of worst remote peers to list.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub top: usize,
    /// How to rank remote peers.
    #[arg(long, value_enum, default_value_t = RankBy::Problems)]
    pub rank_by: RankBy,
    /// Worker threads (0: all cores). Results do not depend on it.
    #[arg(short = 'j', long = "threads", default_value_t = 0, value_name = "N")]
    pub threads: usize,
    /// Seconds of capture time without packets after which a connection is over.
    #[arg(long, default_value_t = 300.0, value_name = "SECS")]
    pub idle_timeout: f64,
    /// Seconds a closed connection's ports stay reserved (Linux TIME-WAIT: 60).
    #[arg(long, default_value_t = 60.0, value_name = "SECS")]
    pub time_wait: f64,
    /// No progress bar.
    #[arg(short, long)]
    pub quiet: bool,
}

fn secs_to_ns(s: f64) -> u64 {
    if s.is_finite() && s > 0.0 {
        (s * 1e9).min(u64::MAX as f64) as u64
    } else {
        0
    }
}

impl AnalyzeArgs {
    pub fn options(&self) -> Options {
        Options {
            threads: self.threads,
            flow: FlowConfig {
                local: self.local.clone(),
                idle_timeout_ns: secs_to_ns(self.idle_timeout),
                time_wait_ns: secs_to_ns(self.time_wait),
            },
            progress: !self.quiet,
            ..Options::default()
        }
    }

    pub fn report_options(&self) -> ReportOptions {
        ReportOptions {
            top: self.top,
            rank_by: self.rank_by,
            local: self.local.iter().map(|c| c.to_string()).collect(),
            idle_timeout_s: self.idle_timeout,
            time_wait_s: self.time_wait,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_local_list() {
        let c =
            Cli::try_parse_from(["finscope", "analyze", "--local", "10.0.0.0/8,::1", "x"]).unwrap();
        let Command::Analyze(a) = c.command;
        assert_eq!(a.local.len(), 2);
        assert!(Cli::try_parse_from(["finscope", "analyze", "--local", "bogus", "x"]).is_err());
    }
}
