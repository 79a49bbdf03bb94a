//! End to end: finscope's whole analysis against the scan baseline (the
//! bare pcap-parser + etherparse loop of `benches/common/scan.rs`), on the
//! same generated capture, in the same process and run. Prints finscope's
//! time as a ratio to the baseline's after criterion's figures.
//!
//! ```text
//! cargo bench --bench end_to_end            # 1M packets (FINSCOPE_BENCH_PACKETS)
//! FINSCOPE_BENCH_PROFILE=gateway cargo bench --bench end_to_end   # the gateway mix
//! ```

#[allow(dead_code)]
use finscope_testkit::gencap;
#[path = "common/scan.rs"]
mod scan;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use finscope::pipeline::{Options, analyze};
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn capture() -> (tempfile::TempDir, PathBuf, u64) {
    let packets = std::env::var("FINSCOPE_BENCH_PACKETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bench.pcap");
    let f = std::fs::File::create(&path).expect("create");
    // FINSCOPE_BENCH_PROFILE=gateway: the busy gateway mix.
    let cfg = match std::env::var("FINSCOPE_BENCH_PROFILE").as_deref() {
        Ok("gateway") => gencap::Config::gateway(packets),
        _ => gencap::Config {
            packets,
            ..gencap::Config::default()
        },
    };
    gencap::generate(&cfg, f).expect("generate");
    (dir, path, packets)
}

fn run(path: &PathBuf, threads: usize) {
    let opts = Options {
        threads,
        ..Options::default()
    };
    let a = analyze(std::slice::from_ref(path), &opts).expect("analyze");
    std::hint::black_box(a.summary.packets.counts.frames);
}

fn end_to_end(c: &mut Criterion) {
    let (_dir, path, packets) = capture();
    let mut g = c.benchmark_group("end_to_end");
    g.throughput(Throughput::Elements(packets));
    g.sample_size(10);
    g.bench_function("scan_baseline", |b| {
        b.iter(|| scan::scan(&path, finscope::capture::DEFAULT_BUFFER).expect("scan"))
    });
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    for j in [1, cores] {
        g.bench_function(format!("finscope_j{j}"), |b| b.iter(|| run(&path, j)));
    }
    g.finish();

    // Interleaved rounds, best of each: the ratio on a noisy machine.
    let time = |f: &dyn Fn()| {
        let t = Instant::now();
        f();
        t.elapsed()
    };
    let mut best = [Duration::MAX; 3];
    for _ in 0..5 {
        best[0] = best[0].min(time(&|| {
            scan::scan(&path, finscope::capture::DEFAULT_BUFFER).expect("scan");
        }));
        best[1] = best[1].min(time(&|| run(&path, 1)));
        best[2] = best[2].min(time(&|| run(&path, cores)));
    }
    let s = best[0].as_secs_f64();
    println!(
        "ratio to scan baseline ({packets} packets, best of 5): -j1 {:.2}x, -j{cores} {:.2}x; -j{cores} vs -j1 speedup {:.2}x",
        best[1].as_secs_f64() / s,
        best[2].as_secs_f64() / s,
        best[1].as_secs_f64() / best[2].as_secs_f64()
    );
}

criterion_group!(benches, end_to_end);
criterion_main!(benches);
