//! Test support for finscope, kept out of the shipped library: the one
//! writer of synthetic pcap/pcapng captures and the committed fixtures
//! ([`synth`]), and the large deterministic traffic generator ([`gencap`]).
//! A dev-dependency of finscope's tests, benches, examples and fuzz targets.

pub mod gencap;
pub mod synth;
