//! finscope: TCP-teardown forensics on packet captures.
//!
//! Data flows one way: `capture` (pcap/pcapng reader) -> `decode` (link, IP,
//! TCP into a `Copy` [`decode::Segment`]) -> `flow` (per-connection close
//! tracking, sharded) -> `metrics` (mergeable summaries) -> `report` (text,
//! JSON). Only `pipeline` and `cli` wire stages together.

pub mod capture;
pub mod check;
pub mod cli;
pub mod decode;
pub mod diff;
pub mod filter;
pub mod flow;
pub mod flows;
pub mod group;
pub mod input;
pub mod metrics;
pub mod pipeline;
pub mod report;
pub mod synth;
