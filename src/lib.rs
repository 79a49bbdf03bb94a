//! finscope: TCP-teardown forensics on packet captures.
//!
//! Data flows one way: `capture` (pcap/pcapng reader) -> `decode` (link, IP,
//! TCP into a `Copy` [`decode::Segment`]) -> `flow` (per-connection close
//! tracking, sharded) -> `metrics` (mergeable summaries) -> `report` (text,
//! JSON). Only `pipeline` and `cli` wire stages together.

#![forbid(unsafe_code)]

pub mod capture;
pub mod cli;
pub mod commands;
pub mod decode;
pub mod flow;
pub mod metrics;
pub mod pipeline;
pub mod report;
