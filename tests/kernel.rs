//! Kernel ground truth for `finscope timeline`.
//!
//! `testdata/kernel/capture.pcap` is real Linux traffic between two network
//! namespaces (made by `testdata/kernel/make.sh`; README.md beside it). The
//! client 10.77.0.1 closes first; some peers are slow to ACK its FINs. While
//! capturing, the client namespace's socket states were sampled every 0.5 s
//! with `ss` and `/proc/net/sockstat` into `truth.csv`. The timeline that
//! finscope reconstructs from the packets alone must match that truth.
//!
//! # What is compared
//! For FIN-WAIT-1, TIME-WAIT and orphans (truth columns `fin_wait_1`,
//! `time_wait`, `orphan`; the kernel's orphan count, which with the default
//! `tcp_fin_timeout` of 60 s does not include FIN-WAIT-2 sockets: those are
//! already TIME-WAIT entries), the `peaks.<state>` of
//! `finscope timeline --json --bucket 500ms --local 10.77.0.1/32`:
//!
//! * **value**: within 1% of the truth's peak, and at least within 1 (small
//!   peaks): `|v - truth| <= max(1, ceil(truth / 100))`. (Both captures
//!   give the truth's peaks exactly: FIN-WAIT-1 52 and 412, orphans 52 and
//!   423, LAST-ACK 4 and 12, TIME-WAIT 450 and 1876.)
//! * **time**: `|t_peak - t_truth| <= 1.1 s`, where `t_truth` is the time of
//!   the first sample holding the truth's maximum. Why 1.1 s: both series
//!   sample the same step function, the truth at times `t` (every 0.5 s, on
//!   the wall clock's 0.5 s grid, `t` = midpoint of the `ss` dump), finscope
//!   at bucket ends. The first point of each series inside the maximum's
//!   plateau is at most one period after the plateau starts, so the two are
//!   within 0.5 s of each other; finscope's `t_us` may name the bucket's start
//!   rather than its end, which adds one bucket (0.5 s); and the `ss` dump's
//!   own duration and scheduling delay add well under 0.1 s (column
//!   `sample_us`). Hence one bucket + one sampling period + 0.1 s.
//! * **ties**: a maximum is not always unique (TIME-WAIT holds its peak for
//!   ~13 s, from the last close until the first entries expire, and
//!   FIN-WAIT-1 may reach nearly the same height twice). When the times
//!   differ by more than 1.1 s, the peak time still passes if the truth,
//!   within 1.1 s of finscope's peak time, reaches its own peak within
//!   `max(1, ceil(truth / 50))`: finscope then picked another instant of the
//!   same (near-)maximum.
//!
//! A second test compares the whole series, sample by sample: each truth
//! sample at `t` must lie within the range of finscope's counts at the bucket
//! ends in `[t - 0.6 s, t + 0.6 s]` (same slack as the peak value), for at
//! least 95% of the samples inside the capture. For TIME-WAIT the window
//! starts 2.1 s earlier: the capture cannot see a TIME-WAIT entry expire, and
//! the kernel reaps them late, in batches (timer wheel: 512 jiffies = 2.048 s
//! at this kernel's HZ=250; in this capture entries leave 60.0 to 62.1 s after
//! they entered), so a timeline using exactly 60 s drains up to 2.1 s early.
//!
//! Both captures are compared the same way: `capture.pcap` (default
//! sysctls, no socket killed) and `orphan_retries/capture.pcap`
//! (`tcp_orphan_retries=2`: 792 orphans killed silently, README.md there),
//! where LAST-ACK is compared too and the inferred tcp_orphan_retries must
//! equal the value set (meta.txt).

use finscope_testkit::cli;
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;

const BUCKET_US: i64 = 500_000;
const SAMPLE_US: i64 = 500_000;
const JITTER_US: i64 = 100_000;
const TIME_TOL_US: i64 = BUCKET_US + SAMPLE_US + JITTER_US;
/// How late the kernel may reap a TIME-WAIT entry (measured: README.md).
const TW_LATE_US: i64 = 2_100_000;
const LOCAL: &str = "10.77.0.1/32";

/// (finscope state name, truth.csv column)
const STATES: &[(&str, &str)] = &[
    ("fin_wait_1", "fin_wait_1"),
    ("time_wait", "time_wait"),
    ("orphans", "orphan"),
    ("last_ack", "last_ack"),
];

/// The two kernel captures: sub-directory of testdata/kernel.
const CAPTURES: &[&str] = &["", "orphan_retries"];

fn kernel_dir() -> PathBuf {
    cli::fixture("kernel")
}

/// truth.csv, parsed by hand: column name -> values, one per sample.
struct Truth {
    cols: HashMap<String, Vec<i64>>,
}

impl Truth {
    fn load(dir: &str) -> Truth {
        let path = kernel_dir().join(dir).join("truth.csv");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let header: Vec<String> = lines
            .next()
            .expect("truth.csv is empty")
            .split(',')
            .map(|s| s.trim().to_string())
            .collect();
        let mut cols: HashMap<String, Vec<i64>> =
            header.iter().map(|h| (h.clone(), Vec::new())).collect();
        for (n, line) in lines.enumerate() {
            let fields: Vec<&str> = line.split(',').collect();
            assert_eq!(
                fields.len(),
                header.len(),
                "truth.csv line {}: {} fields, header has {}",
                n + 2,
                fields.len(),
                header.len()
            );
            for (h, f) in header.iter().zip(fields) {
                let v: i64 = f
                    .trim()
                    .parse()
                    .unwrap_or_else(|e| panic!("truth.csv line {}, column {h}: {f:?}: {e}", n + 2));
                cols.get_mut(h).expect("column").push(v);
            }
        }
        for c in ["t_us", "fin_wait_1", "time_wait", "orphan"] {
            assert!(cols.contains_key(c), "truth.csv has no column {c}");
        }
        Truth { cols }
    }

    fn col(&self, name: &str) -> &[i64] {
        &self.cols[name]
    }

    /// (value, time of the first sample holding it)
    fn peak(&self, name: &str) -> (i64, i64) {
        let t = self.col("t_us");
        let v = self.col(name);
        let mut best = (i64::MIN, 0);
        for (&ti, &vi) in t.iter().zip(v) {
            if vi > best.0 {
                best = (vi, ti);
            }
        }
        best
    }

    /// Largest value of `name` among samples within `tol` of `t`.
    fn max_near(&self, name: &str, t: i64, tol: i64) -> Option<i64> {
        self.col("t_us")
            .iter()
            .zip(self.col(name))
            .filter(|&(&ti, _)| (ti - t).abs() <= tol)
            .map(|(_, &v)| v)
            .max()
    }
}

fn run_timeline(dir: &str) -> Value {
    let capture = kernel_dir().join(dir).join("capture.pcap");
    let out = cli::cmd()
        .args(["timeline", "--json", "--bucket", "500ms", "--local", LOCAL])
        .arg(&capture)
        .output()
        .expect("running finscope");
    assert!(
        out.status.success(),
        "`finscope timeline --json --bucket 500ms --local {LOCAL} {}` failed ({}): {}",
        capture.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "finscope timeline --json: not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn as_i64(v: &Value, what: &str) -> i64 {
    v.as_i64()
        .or_else(|| v.as_u64().map(|u| u as i64))
        .or_else(|| v.as_f64().map(|f| f.round() as i64))
        .unwrap_or_else(|| panic!("{what}: not a number: {v}"))
}

/// Peak values: 1% (issue 21 asked for 2%; they are exact).
fn peak_tol(truth: i64) -> i64 {
    ((truth + 99) / 100).max(1)
}

fn value_tol(truth: i64) -> i64 {
    ((truth + 49) / 50).max(1)
}

fn tie_tol(truth: i64) -> i64 {
    ((truth + 49) / 50).max(1)
}

/// The timeline's buckets as (bucket end in us, count of `state` there).
fn bucket_series(tl: &Value, state: &str) -> Vec<(i64, i64)> {
    let bucket_us = as_i64(&tl["bucket_us"], "timeline.bucket_us");
    assert_eq!(
        bucket_us, BUCKET_US,
        "--bucket 500ms must give bucket_us 500000"
    );
    let buckets = tl["buckets"]
        .as_array()
        .expect("timeline.buckets is an array");
    assert!(!buckets.is_empty(), "timeline.buckets is empty");
    buckets
        .iter()
        .map(|b| {
            (
                as_i64(&b["t_us"], "bucket t_us") + bucket_us,
                as_i64(&b[state], &format!("bucket {state}")),
            )
        })
        .collect()
}

#[test]
fn peaks_match_kernel() {
    let mut failures = Vec::new();
    for dir in CAPTURES {
        peaks_match(dir, &mut failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn peaks_match(dir: &str, failures: &mut Vec<String>) {
    let truth = Truth::load(dir);
    let report = run_timeline(dir);
    let tl = &report;
    eprintln!("testdata/kernel/{dir}");
    for &(state, col) in STATES {
        let (tv, tt) = truth.peak(col);
        let peak = &tl["peaks"][state];
        let pv = as_i64(&peak["value"], &format!("peaks.{state}.value"));
        let pt = as_i64(&peak["t_us"], &format!("peaks.{state}.t_us"));
        let series_max = bucket_series(tl, state)
            .iter()
            .map(|&(_, v)| v)
            .max()
            .unwrap_or(0);
        eprintln!(
            "{state:<10} truth peak {tv} at {tt} | finscope peak {pv} at {pt} (dt {:+.3} s), \
             largest bucket-end count {series_max}",
            (pt - tt) as f64 / 1e6
        );
        if series_max > pv {
            failures.push(format!(
                "{state}: peaks.value {pv} is below a bucket's count {series_max}"
            ));
        }
        let vt = peak_tol(tv);
        if (pv - tv).abs() > vt {
            failures.push(format!(
                "{state}: peak value {pv}, kernel {tv} (tolerance ±{vt})"
            ));
        }
        if (pt - tt).abs() > TIME_TOL_US {
            let near = truth.max_near(col, pt, TIME_TOL_US);
            let tie = near.is_some_and(|n| n >= tv - tie_tol(tv));
            if tie {
                eprintln!(
                    "  {state}: peak times differ by {:.3} s, but the kernel's count reached \
                     {} within {:.1} s of finscope's peak time: same (near-)maximum",
                    (pt - tt) as f64 / 1e6,
                    near.unwrap_or(0),
                    TIME_TOL_US as f64 / 1e6
                );
            } else {
                failures.push(format!(
                    "{dir}: {state}: peak at {pt}, kernel's at {tt} ({:+.3} s; tolerance ±{:.1} s); \
                     kernel's count near finscope's peak time: {near:?}",
                    (pt - tt) as f64 / 1e6,
                    TIME_TOL_US as f64 / 1e6
                ));
            }
        }
    }
}

#[test]
fn series_tracks_kernel() {
    let mut failures = Vec::new();
    for dir in CAPTURES {
        series_tracks(dir, &mut failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn series_tracks(dir: &str, failures: &mut Vec<String>) {
    let truth = Truth::load(dir);
    let tl = run_timeline(dir);
    let t = truth.col("t_us");
    eprintln!("testdata/kernel/{dir}");
    for &(state, col) in STATES {
        let series = bucket_series(&tl, state);
        let (first_end, last_end) = (series[0].0, series[series.len() - 1].0);
        let late = if state == "time_wait" { TW_LATE_US } else { 0 };
        let mut checked = 0usize;
        let mut bad = Vec::new();
        for (&ts, &tv) in t.iter().zip(truth.col(col)) {
            if ts < first_end || ts > last_end {
                continue;
            }
            let (from, to) = (
                ts - BUCKET_US - JITTER_US - late,
                ts + BUCKET_US + JITTER_US,
            );
            let near = series
                .iter()
                .filter(|&&(e, _)| e >= from && e <= to)
                .map(|&(_, v)| v);
            let (lo, hi) = near.fold((i64::MAX, i64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
            let tol = value_tol(tv);
            checked += 1;
            if tv < lo - tol || tv > hi + tol {
                bad.push(format!("t={ts}: kernel {tv}, finscope {lo}..{hi} nearby"));
            }
        }
        eprintln!(
            "{state:<10} {} of {checked} samples outside finscope's range",
            bad.len()
        );
        assert!(
            checked > 100,
            "{state}: only {checked} samples inside the capture"
        );
        if bad.len() * 20 > checked {
            failures.push(format!(
                "{dir}: {state}: {} of {checked} samples disagree (at most 5% may):\n  {}",
                bad.len(),
                bad.join("\n  ")
            ));
        }
    }
}

/// On real kernel traffic where one server address (10.77.0.3) had its FINs
/// dropped for 16 s, the diagnosis must name FIN-WAIT-1, that peer first,
/// tcp_orphan_retries, and rule out tcp_fin_timeout.
#[test]
fn diagnosis_names_the_slow_peer() {
    let tl = run_timeline("");
    let d = &tl["diagnosis"][0];
    assert_eq!(d["id"], "fin_wait_1_dominates", "{}", tl["diagnosis"]);
    let finding = d["finding"].as_str().unwrap_or_default();
    assert!(finding.contains("tcp_fin_timeout") && finding.contains("will not help"));
    assert!(
        d["tunables"]
            .to_string()
            .contains("net.ipv4.tcp_orphan_retries")
    );
    let peers = d["evidence"][1].as_str().unwrap_or_default();
    let first = peers.split(": ").nth(1).unwrap_or_default();
    assert!(
        first.starts_with("10.77.0.3 "),
        "slowest peer first: {peers}"
    );
}

/// `key=value` lines of a capture's meta.txt.
fn meta(dir: &str) -> HashMap<String, String> {
    let path = kernel_dir().join(dir).join("meta.txt");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// With `tcp_orphan_retries=2`, the kernel killed 792 orphans silently
/// (its TcpExtTCPAbortOnTimeout counter, truth.csv `abort_on_timeout`);
/// finscope infers each kill, the value set, and the 414 kills the host
/// later confirmed with a bare RST; the diagnosis does not advise lowering
/// tcp_orphan_retries further.
#[test]
fn orphan_retries_inferred_from_silent_kills() {
    let dir = "orphan_retries";
    let set: u64 = meta(dir)["tcp_orphan_retries"]
        .parse()
        .expect("tcp_orphan_retries in meta.txt");
    let truth = Truth::load(dir);
    let aborts = *truth.col("abort_on_timeout").last().expect("samples");
    let out = cli::cmd()
        .args(["analyze", "--json", "-q", "--local", LOCAL])
        .arg(kernel_dir().join(dir).join("capture.pcap"))
        .output()
        .expect("running finscope");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).expect("json");
    let or = &r["inferred_tunables"]["tcp_orphan_retries"];
    assert_eq!(or["value"], set, "{or}");
    assert_eq!(as_i64(&or["killed"], "killed"), aborts, "{or}");
    assert_eq!(or["consistent"], or["killed"], "{or}");
    assert_eq!(or["confirmed"], 414, "{or}");
    assert_eq!(r["outcomes"]["killed"], aborts, "{}", r["outcomes"]);
    assert_eq!(r["unacked_fins"]["local_to_remote"], aborts);
    let d = r["diagnosis"].to_string();
    assert!(d.contains("orphans_killed"), "{d}");
    let fw1 = r["diagnosis"]
        .as_array()
        .and_then(|a| a.iter().find(|f| f["id"] == "fin_wait_1_dominates"));
    if let Some(f) = fw1 {
        assert!(
            !f["tunables"].to_string().contains("tcp_orphan_retries"),
            "{f}"
        );
    }
}
