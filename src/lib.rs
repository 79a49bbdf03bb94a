//! finscope: TCP-teardown forensics on packet captures.
//!
//! Data flows one way: `capture` (pcap/pcapng reader) -> `decode` (link, IP,
//! TCP into a `Copy` [`decode::Segment`]) -> `flow` (per-connection close
//! tracking, sharded) -> `metrics` (mergeable summaries) -> `report` (text,
//! JSON) -> `commands`. Only `pipeline` and `commands` wire stages
//! together; `cli` turns arguments into their options. docs/design.md has
//! the import matrix, checked by tests/layers.rs.

#![forbid(unsafe_code)]

/// `eprintln!` that does not panic: a standard error that cannot be written
/// (its reader gone, `2>&1 | head`) is no reason to stop, the exit code
/// still says how the run ended. Written above the progress bar when one
/// is shown ([`pipeline::say`]).
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        $crate::pipeline::say(&format!($($arg)*));
    }};
}

pub mod capture;
pub mod cli;
pub mod commands;
pub mod decode;
pub mod flow;
pub mod host;
pub mod metrics;
pub mod pipeline;
pub mod report;
