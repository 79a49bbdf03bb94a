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
//! as one; the remedies' replay of the local closes holds the invariants
//! of common/replay_checks.rs, and the report's remedies do not panic.
#![no_main]

use finscope_testkit::close_model::{from_bytes, one_and_two_shards, shard};
use libfuzzer_sys::fuzz_target;

#[path = "common/replay_checks.rs"]
mod replay_checks;

const SEC: u64 = 1_000_000_000;

fuzz_target!(|data: &[u8]| {
    let Some((cfg, segs)) = from_bytes(data) else {
        return;
    };
    if let Err(e) = one_and_two_shards(&cfg, &segs) {
        panic!("{e}");
    }
    // The remedies' replay of one shard's local closes
    // (common/replay_checks.rs), then the report's remedies as
    // `report::build` runs them.
    let mut one = shard(&cfg);
    let mut clock = 0;
    for s in &segs {
        clock = clock.max(s.ts_ns);
        one.process_at(s, clock);
    }
    one.finish(clock);
    let sum = &mut one.sink.summary;
    let base = finscope::metrics::replay::Setting {
        fin_timeout_ns: 60 * SEC,
        orphan_retries: (data[0] & 0x20 != 0).then_some(u32::from(data[0] & 3)),
        ..Default::default()
    };
    replay_checks::check(
        &sum.lives,
        sum.timeline.cfg.bucket_ns,
        cfg.time_wait_ns,
        clock,
        &base,
        1,
    );
    sum.packets.first_ts = segs.iter().map(|s| s.ts_ns).min();
    sum.packets.last_ts = Some(clock);
    let _ = finscope::report::remedies::remedies(sum, &[], 1);
});
