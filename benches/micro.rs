//! Micro-benchmarks of the hot path: decoding one frame into a `Segment`
//! (the full decoder, and the fixed-offset path the shards use), routing
//! one frame to its shard before decoding it, feeding segments to a
//! shard's connection table, and a connection's round trip through the
//! compact form its closed store keeps it in.

#[allow(dead_code)]
use finscope_testkit::gencap;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use finscope::capture::{CaptureReader, Status};
use finscope::decode::{self, Segment, route};
use finscope::flow::conn::Conn;
use finscope::flow::key::symmetric_hash_of;
use finscope::flow::table::{ConnSink, Retired};
use finscope::flow::{FlowConfig, Shard, compact};
use finscope::metrics::ShardMetrics;
use finscope::metrics::timeline::TimelineConfig;
use std::path::Path;

/// The frames of a small generated capture, as (link, bytes, ts).
fn frames(n: u64) -> Vec<(u16, Vec<u8>, u64)> {
    frames_of(&gencap::Config {
        packets: n,
        ..gencap::Config::default()
    })
}

/// The frames of the capture `cfg` generates, as (link, bytes, ts).
fn frames_of(cfg: &gencap::Config) -> Vec<(u16, Vec<u8>, u64)> {
    let mut pcap = Vec::new();
    gencap::generate(cfg, &mut pcap).expect("generate");
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

/// A sink that keeps the connections a shard retires.
#[derive(Default)]
struct Keep(Vec<Conn>);

impl ConnSink for Keep {
    fn retire(&mut self, r: Retired) {
        self.0.push(r.conn);
    }
    fn segment(&mut self, _: &Segment, _: bool) {}
}

/// The connections of a generated gateway capture (the engine benchmarks'
/// profile), as its shard retires them: what the closed store holds.
fn gateway_conns(packets: u64) -> Vec<Conn> {
    let fr = frames_of(&gencap::Config::gateway(packets));
    let mut sh = Shard::new(FlowConfig::default(), Keep::default());
    let mut end = 0;
    for (i, (l, d, t)) in fr.iter().enumerate() {
        if let Ok(s) = decode::decode(*l, d, *t, i as u64 + 1) {
            sh.process(&s);
            end = *t;
        }
    }
    sh.finish(end);
    std::mem::take(&mut sh.sink.0)
}

/// A closed connection's round trip: `compact::encode` into the closed
/// store's form, `compact::decode` back (ns per connection, both ways and
/// each way; the mean size is printed).
fn compact_form(c: &mut Criterion) {
    let conns = gateway_conns(200_000);
    let mut buf = Vec::new();
    let mut blobs = Vec::new();
    for c in &conns {
        buf.clear();
        compact::encode(c, &mut buf);
        assert_eq!(compact::decode(c.key, &buf).as_ref(), Some(c));
        blobs.push((c.key, buf.clone()));
    }
    let bytes: usize = blobs.iter().map(|(_, b)| b.len()).sum();
    println!(
        "compact: {} gateway connections, {:.1} bytes each",
        conns.len(),
        bytes as f64 / conns.len().max(1) as f64
    );
    let mut g = c.benchmark_group("compact");
    g.throughput(Throughput::Elements(conns.len() as u64));
    g.bench_function("round_trip", |b| {
        b.iter(|| {
            let mut n = 0u64;
            for c in &conns {
                buf.clear();
                compact::encode(c, &mut buf);
                n += compact::decode(c.key, &buf).map_or(0, |c| c.last_ts);
            }
            n
        })
    });
    g.bench_function("encode", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for c in &conns {
                buf.clear();
                compact::encode(c, &mut buf);
                n += buf.len();
            }
            n
        })
    });
    g.bench_function("decode", |b| {
        b.iter(|| {
            let mut n = 0u64;
            for (k, b) in &blobs {
                n += compact::decode(*k, b).map_or(0, |c| c.last_ts);
            }
            n
        })
    });
    g.finish();
}

criterion_group!(benches, micro, compact_form);
criterion_main!(benches);
