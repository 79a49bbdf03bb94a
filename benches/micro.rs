//! Micro-benchmarks of the hot path: decoding one frame into a `Segment`
//! (the full decoder, and the fixed-offset path the shards use), routing
//! one frame to its shard before decoding it, and feeding segments to a
//! shard's connection table.

#[allow(dead_code)]
use finscope_testkit::gencap;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use finscope::capture::{CaptureReader, Status};
use finscope::decode::{self, Segment, route};
use finscope::flow::key::symmetric_hash_of;
use finscope::flow::{FlowConfig, Shard};
use finscope::metrics::ShardMetrics;
use finscope::metrics::timeline::TimelineConfig;
use std::path::Path;

/// The frames of a small generated capture, as (link, bytes, ts).
fn frames(n: u64) -> Vec<(u16, Vec<u8>, u64)> {
    let mut pcap = Vec::new();
    let cfg = gencap::Config {
        packets: n,
        ..gencap::Config::default()
    };
    gencap::generate(&cfg, &mut pcap).expect("generate");
    let mut r = CaptureReader::new(&pcap[..], Path::new("bench.pcap")).expect("reader");
    let mut out = Vec::new();
    let mut batch = Vec::new();
    loop {
        let st = r.next_batch(&mut batch);
        for f in &batch {
            let d = &r.data()[f.off as usize..(f.off + f.caplen) as usize];
            out.push((f.link, d.to_vec(), f.ts_ns));
        }
        if !matches!(st, Status::More) {
            return out;
        }
    }
}

fn micro(c: &mut Criterion) {
    let fr = frames(100_000);
    let segs: Vec<Segment> = fr
        .iter()
        .enumerate()
        .filter_map(|(i, (l, d, t))| decode::decode(*l, d, *t, i as u64 + 1).ok())
        .collect();
    let mut g = c.benchmark_group("hot_path");
    g.throughput(Throughput::Elements(fr.len() as u64));
    g.bench_function("decode", |b| {
        b.iter(|| {
            let mut n = 0u64;
            for (i, (l, d, t)) in fr.iter().enumerate() {
                n += u64::from(decode::decode(*l, d, *t, i as u64).is_ok());
            }
            n
        })
    });
    g.bench_function("decode_fast", |b| {
        b.iter(|| {
            let mut n = 0u64;
            for (i, (l, d, t)) in fr.iter().enumerate() {
                n += u64::from(route::decode(*l, d, *t, i as u64).is_ok());
            }
            n
        })
    });
    g.bench_function("route", |b| {
        b.iter(|| {
            let mut n = 0u64;
            for (l, d, _) in &fr {
                if let Some(r) = route::route(*l, d) {
                    n ^= symmetric_hash_of((r.src, r.sport), (r.dst, r.dport), r.vlan);
                }
            }
            n
        })
    });
    g.throughput(Throughput::Elements(segs.len() as u64));
    g.bench_function("flow_update", |b| {
        b.iter(|| {
            let mut sh = Shard::new(
                FlowConfig::default(),
                ShardMetrics::new(TimelineConfig::default(), true),
            );
            for s in &segs {
                sh.process(s);
            }
            sh.live()
        })
    });
    g.finish();
}

criterion_group!(benches, micro);
criterion_main!(benches);
