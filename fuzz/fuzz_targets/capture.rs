//! Arbitrary bytes as a capture file: the reader, the decoder and the flow
//! tracker must never panic, hang or allocate without bound.
#![no_main]

use finscope::capture::{CaptureReader, Status};
use finscope::decode;
use finscope::flow::{FlowConfig, Shard};
use finscope::metrics::ShardMetrics;
use finscope::metrics::timeline::TimelineConfig;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(mut r) = CaptureReader::with_buffer(data, Path::new("fuzz"), 65_536) else {
        return;
    };
    let mut shard = Shard::new(
        FlowConfig::default(),
        ShardMetrics::new(TimelineConfig::default(), true),
    );
    let mut frames = Vec::new();
    let mut clock = 0;
    for _ in 0..10_000 {
        let st = r.next_batch(&mut frames);
        for f in &frames {
            let Some(bytes) = r.data().get(f.off as usize..(f.off + f.caplen) as usize) else {
                panic!("frame outside the buffer");
            };
            if let Ok(seg) = decode::decode(f.link, bytes, f.ts_ns, f.number) {
                clock = clock.max(seg.ts_ns);
                shard.process_at(&seg, clock);
            }
        }
        if !matches!(st, Status::More) {
            break;
        }
    }
    shard.finish(clock);
});
