//! The shard's unit tests (beside table.rs, which is near the 700-line
//! bound of tests/layers.rs).

use super::*;
use crate::decode::flags::{ACK, SYN};
use crate::decode::seq::SeqNum;

#[derive(Default)]
struct Count {
    retired: u64,
    segments: u64,
}

impl ConnSink for Count {
    fn retire(&mut self, _: Retired) {
        self.retired += 1;
    }
    fn segment(&mut self, _: &Segment, _: bool) {
        self.segments += 1;
    }
}

fn seg(i: u32, from_client: bool, flags: u8, t_ms: u64) -> Segment {
    let client = format!("10.0.{}.{}", i / 250, i % 250 + 1);
    let mut s = if from_client {
        Segment::between(&client, 40000, "192.0.2.7", 443)
    } else {
        Segment::between("192.0.2.7", 443, &client, 40000)
    };
    s.ts_ns = t_ms * 1_000_000;
    s.flags = flags;
    s.seq = SeqNum(if from_client { 100 } else { 500 });
    s.ack = SeqNum(if flags & ACK != 0 { 501 } else { 0 });
    s
}

/// The estimate stays within the budget (plus the entry being added),
/// the idlest go first, and every connection is retired exactly once.
#[test]
fn the_budget_bounds_the_table_and_evicts_the_idlest() {
    let budget = 50 * CONN_BYTES + 100 * ATTEMPT_BYTES;
    let cfg = FlowConfig {
        max_memory: budget,
        ..FlowConfig::default()
    };
    let mut s = Shard::new(cfg, Count::default());
    // Connection 0 keeps talking: it is never the idlest.
    s.process(&seg(0, true, SYN, 0));
    s.process(&seg(0, false, SYN | ACK, 0));
    for i in 1..1_000u32 {
        let t = u64::from(i);
        s.process(&seg(i, true, SYN, t));
        if i % 2 == 0 {
            s.process(&seg(i, false, SYN | ACK, t));
        }
        s.process(&seg(0, true, ACK, t));
        assert!(s.memory() <= budget + CONN_BYTES, "{i}: {}", s.memory());
    }
    assert!(s.evicted > 500, "{}", s.evicted);
    assert!(s.table.get(&FlowKey::of(&seg(0, true, ACK, 0)).0).is_some());
    let live = s.live() as u64;
    s.finish(1_000 * 1_000_000);
    assert_eq!(s.sink.retired, 1_000);
    assert_eq!(s.sink.retired, live + s.evicted);
    assert_eq!(s.sink.segments, 1 + 1 + 999 + 499 + 999);
}
