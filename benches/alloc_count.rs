//! Allocations per segment in steady state: the engine's per-packet path
//! must not allocate (docs/performance.md, "Engine"). A counting global
//! allocator around `pipeline::analyze` (-j1) on two gateway-mix captures
//! of different lengths; the difference of their allocation counts over
//! the difference of their TCP segments is what one more segment costs,
//! start-up and the end's flush cancelling out. Connections grow with the
//! capture too, so the figure includes what each connection allocates
//! (its boxed state, its compact form), spread over its segments; one
//! allocation per segment would put it at 1 or more, so it must stay well
//! below (the bench fails at 0.5).
//!
//! ```text
//! cargo bench --bench alloc_count   # FINSCOPE_BENCH_PACKETS=N: the longer capture (default 2M)
//! ```

use finscope::pipeline::{Options, analyze};
use finscope_testkit::gencap;
use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

// Implementing an allocator is unsafe by definition; this one only counts
// and forwards to the system's (the crate denies `unsafe` elsewhere).
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(l.size() as u64, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(l.size() as u64, Ordering::Relaxed);
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(new as u64, Ordering::Relaxed);
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn capture(dir: &Path, packets: u64) -> PathBuf {
    let path = dir.join(format!("gw{packets}.pcap"));
    let f = std::fs::File::create(&path).expect("create");
    gencap::generate(&gencap::Config::gateway(packets), f).expect("generate");
    path
}

/// (allocations, bytes allocated, TCP segments, connections) of one -j1 analysis.
fn count(path: &Path) -> (u64, u64, u64, u64) {
    let opts = Options {
        threads: 1,
        ..Options::default()
    };
    let (a0, b0) = (
        ALLOCS.load(Ordering::Relaxed),
        BYTES.load(Ordering::Relaxed),
    );
    let a = analyze(&[path.to_path_buf()], &opts).expect("analyze");
    let (a1, b1) = (
        ALLOCS.load(Ordering::Relaxed),
        BYTES.load(Ordering::Relaxed),
    );
    let conns = a.summary.connections.total;
    (a1 - a0, b1 - b0, a.summary.packets.counts.tcp, conns)
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` runs it too
    // (then on a small capture).
    let long: u64 = std::env::var("FINSCOPE_BENCH_PACKETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000_000);
    let short = long / 4;
    let dir = tempfile::tempdir().expect("tempdir");
    let (ps, pl) = (capture(dir.path(), short), capture(dir.path(), long));
    let s = count(&ps);
    let l = count(&pl);
    let segs = (l.2 - s.2) as f64;
    let per_seg = (l.0 - s.0) as f64 / segs;
    let bytes_per_seg = (l.1 - s.1) as f64 / segs;
    let per_conn = (l.0 - s.0) as f64 / (l.3 - s.3).max(1) as f64;
    println!("gateway mix -j1, {short} -> {long} packets:");
    println!(
        "  {short}: {} allocations, {} TCP segments, {} connections",
        s.0, s.2, s.3
    );
    println!(
        "  {long}: {} allocations, {} TCP segments, {} connections",
        l.0, l.2, l.3
    );
    println!(
        "steady state: {per_seg:.4} allocations ({bytes_per_seg:.1} bytes) per segment, {per_conn:.2} per connection, {:.1} segments per connection",
        segs / (l.3 - s.3).max(1) as f64
    );
    assert!(
        per_seg < 0.5,
        "{per_seg:.3} allocations per segment: something allocates per packet"
    );
}
