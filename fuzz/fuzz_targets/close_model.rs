//! The bytes drive a sequence of TCP segments between two fixed hosts
//! (client 10.0.0.1 ports 40000/40001, server 192.0.2.7:80) through the
//! close model: `finscope::flow::Shard` with `finscope::metrics::ShardMetrics`,
//! as tests/close_model_props.rs does, then `finish`.
//!
//! Input: byte 0 picks the settings (idle timeout, TIME-WAIT length, the
//! first timestamp, among them timestamps near 2^64 that a pcapng file can
//! give, whether `--local` names the server, whether time may go back);
//! then 6 bytes per segment: control (direction, client port, gap class,
//! how seq/ack are chosen), flags, gap, two bytes for seq/ack deltas or raw
//! values, payload length. Sequence numbers follow a conversation model
//! (each side's next sequence number, ACKs of what the peer sent, FIN
//! retransmissions at their first position, ISNs near 2^32) or are raw.
//!
//! The generator (`from_bytes`) and the checks (`one_and_two_shards`) are
//! `finscope_testkit::close_model`'s, shared with tests/close_model_props.rs
//! (which also runs them on random bytes). Checked on one shard and on two shards split by the
//! symmetric hash (as the pipeline does, on one capture clock): every retired connection has
//! one outcome and the summary's outcome counts add up to
//! `connections.total` and to the retired connections; outcomes by closer
//! add up to the connections with a FIN; `intervals(side, end, open)` are
//! non-empty, ordered, disjoint states a socket stays in; transitions in
//! time order, at most `MAX_TRANSITIONS`, ending in the state; a killed
//! endpoint sent a FIN that was not ACKed; the shard is empty after
//! `finish`; two shards retire the same connections with the same outcomes
//! as one.
#![no_main]

use finscope_testkit::close_model::{from_bytes, one_and_two_shards};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((cfg, segs)) = from_bytes(data) else {
        return;
    };
    if let Err(e) = one_and_two_shards(&cfg, &segs) {
        panic!("{e}");
    }
});
