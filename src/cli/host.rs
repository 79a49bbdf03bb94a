//! `--host`, `--boot-time`, `--at`: the host evidence beside the capture
//! (issue 22; docs/host.md for the inputs, docs/report.md "host" for what
//! the report does with them). Flattened into [`super::AnalysisArgs`].

use crate::host::HostOptions;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Default, Args)]
pub struct HostArgs {
    /// Host evidence beside the capture: a kernel log (dmesg, dmesg -T,
    /// dmesg --time-format iso, journalctl -k), /proc/stat (btime), sysctl
    /// -a, or snapshot logs of ss -tan / ss -s / sockstat / nstat -az each
    /// after a `date +%s.%N` line; a directory reads every such file in it
    /// (the kit's folder). Recognised by content. Repeatable.
    #[arg(help_heading = "Host evidence", long = "host", value_name = "FILE|DIR")]
    pub host: Vec<PathBuf>,
    /// When the host booted (epoch seconds with a fraction, or RFC 3339),
    /// for raw dmesg stamps; overrides /proc/stat's btime.
    #[arg(help_heading = "Host evidence", long, value_name = "TIME", value_parser = parse_host_time, requires = "host")]
    pub boot_time: Option<u64>,
    /// The time of host snapshots that carry none (one `ss -tan` dump
    /// without a time line); default: the file's modification time.
    #[arg(help_heading = "Host evidence", long, value_name = "TIME", value_parser = parse_host_time, requires = "host")]
    pub at: Option<u64>,
}

impl HostArgs {
    pub fn options(&self) -> HostOptions {
        HostOptions {
            at_us: self.at,
            boot_time_us: self.boot_time,
        }
    }
}

/// Epoch seconds (`date +%s.%N`) or RFC 3339 with its offset, as µs.
fn parse_host_time(s: &str) -> Result<u64, String> {
    crate::host::parse_time(s).ok_or_else(|| {
        format!("{s:?}: not a time (epoch seconds like 1796518949.214204, or RFC 3339 like 2026-12-06T01:02:36.229677Z)")
    })
}
