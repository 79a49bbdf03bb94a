//! Test support for finscope, kept out of the shipped library: the one
//! writer of synthetic pcap/pcapng captures and the committed fixtures
//! ([`synth`]), the large deterministic traffic generator ([`gencap`]), and
//! the binary run as a process by the integration tests ([`cli`]), and
//! proptest's configuration with the one regressions folder ([`props`]), and
//! what the close model's property tests and fuzz target share
//! ([`close_model`]).
//! A dev-dependency of finscope's tests, benches, examples and fuzz targets.

pub mod cli;
pub mod close_model;
pub mod gencap;
pub mod props;
pub mod synth;
