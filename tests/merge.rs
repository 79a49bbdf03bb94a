//! `finscope merge`: the exact reduce of `analyze --json` reports.
//!
//! - [`merge_equals_one_run_over_the_same_connections`] and
//!   [`merge_equals_the_union_of_per_connection_records`]: merging per-capture
//!   reports gives every count and percentile of one analysis of all the
//!   captures as independent captures (how each comparison gets its expected
//!   values, and why, is in its doc comment).
//! - [`merging_is_associative_and_commutative`]: any grouping and order of
//!   the inputs gives the same JSON.
//! - Refusals (exit 2): reports without `mergeable` (an older finscope's, a
//!   version-1 report), mismatched schema versions and analysis options;
//!   bucket widths are re-gridded instead.
//! - A merged report is a normal report: `check`, `diff`, `--html`, `merge`.
//! - docs/scale.md's `find | xargs -P` pipeline, run as written.

use finscope::commands::merge::{Input, merge};
use finscope::metrics::Hist;
use finscope::metrics::hist::CompactHist;
use finscope::report::Report;
use finscope_testkit::cli::{self, Run, fixture, run};
use finscope_testkit::props;
use proptest::prelude::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// `analyze --json` of `capture` (plus `extra` options) written to
/// `out`; exit 0 or 3 (damaged part-way) accepted. Returns the report.
fn analyze_to(capture: &Path, out: &Path, extra: &[&str]) -> Option<Value> {
    let mut args = vec!["analyze", "-q", "-j", "1", "--json"];
    args.extend_from_slice(extra);
    let cap = capture.display().to_string();
    args.push(&cap);
    let r = run(&args);
    if r.code != 0 && r.code != 3 {
        return None;
    }
    std::fs::write(out, &r.stdout).expect("write report");
    Some(serde_json::from_str(&r.stdout).expect("report JSON"))
}

fn merge_files(files: &[PathBuf], extra: &[&str]) -> Run {
    let mut args: Vec<String> = vec!["merge".into()];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(files.iter().map(|p| p.display().to_string()));
    let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    run(&a)
}

fn merged_json(files: &[PathBuf], extra: &[&str]) -> Value {
    let mut e = vec!["--json"];
    e.extend_from_slice(extra);
    let r = merge_files(files, &e);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).expect("merged JSON");
    // A merged report parses into the typed report and prints back the same.
    let typed: Report = serde_json::from_value(v.clone()).expect("typed");
    assert!(serde_json::to_value(&typed).expect("serialize") == v);
    v
}

fn u(v: &Value) -> u64 {
    v.as_u64()
        .unwrap_or_else(|| panic!("not an unsigned number: {v}"))
}

/// The real captures of ../shared/captures (or $FINSCOPE_CAPTURES), or,
/// where that corpus is absent, the 35 of them bundled in testdata/public.
fn shared_captures() -> Option<Vec<PathBuf>> {
    let shared = match std::env::var_os("FINSCOPE_CAPTURES") {
        Some(d) => PathBuf::from(d),
        None => cli::root().join("../shared/captures"),
    };
    let dir = if shared.is_dir() {
        shared
    } else {
        cli::root().join("testdata/public")
    };
    let rd = std::fs::read_dir(&dir).expect("testdata/public");
    let mut v: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let n = p
                .file_name()
                .map_or(String::new(), |n| n.to_string_lossy().into_owned());
            n.contains(".pcap") || n.ends_with(".cap")
        })
        .collect();
    v.sort();
    Some(v)
}

fn testdata_captures() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(cli::root().join("testdata"))
        .expect("testdata")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
        .collect();
    v.sort();
    v
}

/// A little-endian microsecond pcap with every timestamp moved by `secs`;
/// `None` for other formats.
fn shifted_pcap(bytes: &[u8], secs: u32) -> Option<Vec<u8>> {
    if bytes.get(..4)? != [0xd4, 0xc3, 0xb2, 0xa1] {
        return None;
    }
    let mut out = bytes.get(..24)?.to_vec();
    let mut i = 24;
    while i + 16 <= bytes.len() {
        let word = |o: usize| u32::from_le_bytes(bytes[i + o..i + o + 4].try_into().unwrap());
        let len = word(8) as usize;
        out.extend_from_slice(&(word(0) + secs).to_le_bytes());
        out.extend_from_slice(&bytes[i + 4..(i + 16 + len).min(bytes.len())]);
        i += 16 + len;
    }
    Some(out)
}

/// Removes the keys at `path` (`*` matches every element of an array).
fn remove(v: &mut Value, path: &[&str]) {
    match path {
        [] => {}
        [last] => {
            if let Some(o) = v.as_object_mut() {
                o.remove(*last);
            }
        }
        ["*", rest @ ..] => {
            for x in v.as_array_mut().into_iter().flatten() {
                remove(x, rest);
            }
        }
        [k, rest @ ..] => {
            if let Some(x) = v.get_mut(*k) {
                remove(x, rest);
            }
        }
    }
}

/// Merging reports equals one analysis of the same connections.
///
/// Expected values: ONE `finscope analyze` run over all the inputs. One run
/// over several files continues connections from file to file and numbers
/// frames across files, so the inputs must not share connections: each
/// fixture is copied with its timestamps moved by 1000 s times its rank
/// (more than `--idle-timeout` and `--time-wait`), and only fixtures whose
/// connections all end inside their capture are used (no connection open at
/// its end, no FIN unACKed at its end: one run would keep following those
/// into the next file's time, timing them out or inferring kills there,
/// where an independent capture ends them at its own end). Then the whole
/// JSON must be equal, timeline included, except what depends on files
/// rather than connections: frame numbers (the worst connections' filters),
/// the `inputs` table, and state times, which a merge clips to each
/// capture's end and one run to the run's end.
#[test]
fn merge_equals_one_run_over_the_same_connections() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut captures = Vec::new();
    let mut reports = Vec::new();
    for path in testdata_captures() {
        let Some(bytes) = shifted_pcap(&std::fs::read(&path).expect("read"), 0) else {
            continue;
        };
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let rank = captures.len() as u32;
        let shifted = shifted_pcap(&bytes, rank * 1000).expect("pcap");
        // Names sort like the captures' times (the order one run reads).
        let cap = dir.path().join(format!("{rank:03}_{name}"));
        std::fs::write(&cap, shifted).expect("write");
        let out = dir.path().join(format!("{rank:03}_{name}.json"));
        let r = analyze_to(&cap, &out, &[]).expect("analyze");
        let ends_inside = u(&r["timeline"]["open_at_end"]) == 0
            && u(&r["outcomes"]["open"]) == 0
            && u(&r["outcomes"]["half_closed"]) == 0
            && u(&r["outcomes"]["fin_unacked"]) == 0
            && u(&r["unacked_fin_age"]["count"]) == u(&r["outcomes"]["killed"])
            && !r["truncated"].as_bool().unwrap_or(true);
        if ends_inside {
            captures.push(cap);
            reports.push(out);
        } else {
            std::fs::remove_file(&cap).expect("rm");
        }
    }
    assert!(
        reports.len() >= 15,
        "only {} fixtures usable",
        reports.len()
    );
    let mut merged = merged_json(&reports, &[]);
    let mut args: Vec<String> = ["analyze", "-q", "--json"].map(String::from).to_vec();
    args.extend(captures.iter().map(|p| p.display().to_string()));
    let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    let one = run(&a);
    assert_eq!(one.code, 0, "{}", one.stderr);
    let mut one: Value = serde_json::from_str(&one.stdout).expect("JSON");
    assert_eq!(
        merged["inputs"].as_array().map(Vec::len),
        Some(reports.len())
    );
    for v in [&mut merged, &mut one] {
        for p in [
            &["inputs"][..],
            &["peers", "*", "wireshark_filter"],
            &["peers", "*", "worst_input"],
            &["mergeable", "peers", "*", "worst", "first_frame"],
            &["mergeable", "peers", "*", "worst", "last_frame"],
            &["mergeable", "peers", "*", "worst", "input"],
            &["timeline", "state_time_us"],
            &["mergeable", "timeline", "state_time_ns"],
            // The remedies replay needs each connection's life, which a
            // saved report does not hold: a merged report has none.
            &["demand"],
            &["remedies"],
            &["inferred_tunables", "tcp_max_orphans"],
        ] {
            remove(v, p);
        }
    }
    if merged != one {
        let (m, o) = (merged.as_object().unwrap(), one.as_object().unwrap());
        let differ: Vec<&String> = m.keys().filter(|k| m.get(*k) != o.get(*k)).collect();
        panic!("merged report differs from one run in {differ:?}");
    }
}

/// Expected figures of one peer, from per-connection records.
#[derive(Default)]
struct PeerExpect {
    connections: u64,
    closes: u64,
    fin_retransmissions: u64,
    unacked_fins: u64,
    rsts: u64,
    fin_ack: CompactHist,
    /// Every sample came from a capture with microsecond timestamps, where
    /// the records' microsecond times give the report's samples exactly.
    exact: bool,
}

/// Merging reports equals the union of the inputs' connections.
///
/// Expected values: computed from the union of the inputs' per-connection
/// records (`analyze --flows`, JSON Lines), which is exactly "all the
/// captures analysed as independent captures": every connection belongs to
/// the capture it was recorded in and ends where that capture ends. This
/// works for every fixture and every shared capture (connections open at
/// the end, the same addresses and times in several inputs), which one run
/// over all the files could not do (it would join their connections). The
/// percentiles are recomputed here with finscope's own histogram types from
/// the records' latency columns (exact samples); peer FIN->ACK and unACKed
/// FIN ages are derived from the records' microsecond timestamps, so they
/// are compared for captures with microsecond timestamps (pcap, `us`).
/// Packet and connection counters come from the inputs' reports (they add).
#[test]
fn merge_equals_the_union_of_per_connection_records() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut inputs = testdata_captures();
    if let Some(shared) = shared_captures() {
        inputs.extend(shared);
    }
    let mut reports = Vec::new();
    let mut us_reports = Vec::new();
    let mut per_input: Vec<Value> = Vec::new();
    let mut records: Vec<(Value, bool)> = Vec::new();
    for (i, cap) in inputs.iter().enumerate() {
        let out = dir.path().join(format!("{i:03}.json"));
        let flows = dir.path().join(format!("{i:03}.jsonl"));
        let f = flows.display().to_string();
        let Some(r) = analyze_to(cap, &out, &["--flows", &f]) else {
            eprintln!("note: {} is not a capture finscope reads", cap.display());
            continue;
        };
        let us = r["capture"]["files"]
            .as_array()
            .expect("files")
            .iter()
            .all(|f| f["format"].as_str().unwrap_or("").contains(", us)"));
        for line in std::fs::read_to_string(&flows).expect("flows").lines() {
            records.push((serde_json::from_str(line).expect("record"), us));
        }
        per_input.push(r);
        if us {
            us_reports.push(out.clone());
        }
        reports.push(out);
    }
    assert!(reports.len() >= 30, "only {} inputs", reports.len());
    let m = merged_json(&reports, &["--top", "100000000"]);

    // Counters of the reports add.
    for (obj, keys) in [
        (
            "packets",
            &["frames", "tcp", "syn", "fin", "rst", "pure_ack"][..],
        ),
        (
            "connections",
            &[
                "total",
                "handshake_seen",
                "sides_by_port",
                "sides_by_synack",
                "fin_moved",
                "one_sided",
                "two_sided",
                "anomalies",
                "kills_retracted",
                "aborted_on_data",
            ],
        ),
        ("fin_retransmissions", &["within_1ms"]),
    ] {
        for k in keys {
            let sum: u64 = per_input.iter().map(|r| u(&r[obj][k])).sum();
            assert_eq!(u(&m[obj][k]), sum, "{obj}.{k}");
        }
    }
    for k in m["skipped"].as_object().expect("skipped").keys() {
        let sum: u64 = per_input.iter().map(|r| u(&r["skipped"][k])).sum();
        assert_eq!(u(&m["skipped"][k]), sum, "skipped.{k}");
    }

    // Everything per connection, from the records.
    let splits = ["all", "local_first", "remote_first"];
    let metrics = ["close_total", "fin_ack", "fin_fin"];
    let mut hist: BTreeMap<(&str, &str), Hist> = BTreeMap::new();
    let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_closer: BTreeMap<(String, String), u64> = BTreeMap::new();
    let (mut rtx, mut spurious, mut rtx_l, mut rtx_r) = (0, 0, 0, 0);
    let (mut unacked_l, mut unacked_r) = (0, 0);
    let mut ages = Hist::default();
    // The same over the inputs with microsecond timestamps only.
    let mut us_ages = Hist::default();
    let mut peers: BTreeMap<String, PeerExpect> = BTreeMap::new();
    let opt = |v: &Value| v.as_u64();
    for (r, us) in &records {
        let outcome = r["outcome"].as_str().expect("outcome").to_string();
        *outcomes.entry(outcome.clone()).or_default() += 1;
        let closer = r["first_closer"].as_str();
        if let Some(c) = closer {
            *by_closer.entry((c.to_string(), outcome)).or_default() += 1;
            let split = if c == "local" {
                "local_first"
            } else {
                "remote_first"
            };
            for metric in metrics {
                if let Some(v) = opt(&r[format!("{metric}_us")]) {
                    for s in ["all", split] {
                        hist.entry((metric, s)).or_default().record(v);
                    }
                }
            }
        }
        let (l, rr) = (
            u(&r["local_fin_retransmissions"]),
            u(&r["remote_fin_retransmissions"]),
        );
        rtx += l + rr;
        rtx_l += l;
        rtx_r += rr;
        spurious += u(&r["spurious_fin_retransmissions"]);
        let end = u(&r["end_ts_us"]);
        let l_unacked = r["local_fin_unacked"].as_bool() == Some(true);
        let local_until = opt(&r["local_killed_ts_us"]).map_or(end, |k| k.min(end));
        if l_unacked && let Some(t) = opt(&r["local_fin_ts_us"]) {
            unacked_l += 1;
            ages.record(local_until.saturating_sub(t));
            if *us {
                us_ages.record(local_until.saturating_sub(t));
            }
        }
        if r["remote_fin_unacked"].as_bool() == Some(true)
            && let Some(t) = opt(&r["remote_fin_ts_us"])
        {
            unacked_r += 1;
            ages.record(end.saturating_sub(t));
            // The records do not say when a killed remote socket died.
            assert!(r["remote_state"] != "killed", "{r}");
            if *us {
                us_ages.record(end.saturating_sub(t));
            }
        }
        let p = peers
            .entry(r["remote_addr"].as_str().expect("addr").to_string())
            .or_insert_with(|| PeerExpect {
                exact: true,
                ..PeerExpect::default()
            });
        p.connections += 1;
        p.closes += u64::from(closer.is_some());
        p.fin_retransmissions += l;
        p.unacked_fins += u64::from(l_unacked);
        p.rsts += u(&r["local_rsts"]) + u(&r["remote_rsts"]);
        if let Some(t) = opt(&r["local_fin_ts_us"]) {
            let sample = match opt(&r["local_fin_acked_ts_us"]) {
                Some(a) => Some(a.saturating_sub(t)),
                None if l_unacked => Some(local_until.saturating_sub(t)),
                None => None,
            };
            if let Some(s) = sample {
                p.fin_ack.record(s);
                p.exact &= *us;
            }
        }
    }
    assert!(records.len() >= 200, "only {} connections", records.len());
    assert_eq!(u(&m["connections"]["total"]), records.len() as u64);
    for (k, v) in m["outcomes"].as_object().expect("outcomes") {
        assert_eq!(u(v), outcomes.get(k).copied().unwrap_or(0), "outcomes.{k}");
    }
    for (closer, key) in [("local", "local_first"), ("remote", "remote_first")] {
        for (k, v) in m["outcomes_by_closer"][key].as_object().expect("by closer") {
            let want = by_closer.get(&(closer.to_string(), k.clone())).copied();
            assert_eq!(u(v), want.unwrap_or(0), "outcomes_by_closer.{key}.{k}");
        }
    }
    let f = &m["fin_retransmissions"];
    assert_eq!(
        [
            u(&f["total"]),
            u(&f["spurious"]),
            u(&f["local_to_remote"]),
            u(&f["remote_to_local"])
        ],
        [rtx, spurious, rtx_l, rtx_r]
    );
    assert_eq!(
        [
            u(&m["unacked_fins"]["local_to_remote"]),
            u(&m["unacked_fins"]["remote_to_local"])
        ],
        [unacked_l, unacked_r]
    );
    let stats = |h: &Hist| {
        serde_json::json!({
            "count": h.count(),
            "p50_us": h.quantile(0.5),
            "p90_us": h.quantile(0.9),
            "p99_us": h.quantile(0.99),
            "p999_us": h.quantile(0.999),
            "max_us": h.max(),
        })
    };
    let strip = |v: &Value| {
        let mut v = v.clone();
        remove(&mut v, &["buckets"]);
        v
    };
    for metric in metrics {
        for split in splits {
            let want = stats(hist.get(&(metric, split)).unwrap_or(&Hist::default()));
            assert_eq!(
                strip(&m["latency"][metric][split]),
                want,
                "latency.{metric}.{split}"
            );
        }
    }
    assert_eq!(u(&m["unacked_fin_age"]["count"]), ages.count());
    let us_merged = merged_json(&us_reports, &[]);
    assert!(us_ages.count() >= 8, "{} unACKed FINs", us_ages.count());
    assert_eq!(
        strip(&us_merged["unacked_fin_age"]),
        stats(&us_ages),
        "unacked_fin_age"
    );
    assert_eq!(u(&m["peers_total"]), peers.len() as u64);
    let rows = m["peers"].as_array().expect("peers");
    assert_eq!(rows.len(), peers.len());
    let mut exact_peers = 0;
    for row in rows {
        let addr = row["addr"].as_str().expect("addr");
        let p = &peers[addr];
        assert_eq!(
            [
                u(&row["connections"]),
                u(&row["closes"]),
                u(&row["fin_retransmissions"]),
                u(&row["unacked_fins"]),
                u(&row["rsts"])
            ],
            [
                p.connections,
                p.closes,
                p.fin_retransmissions,
                p.unacked_fins,
                p.rsts
            ],
            "peer {addr}"
        );
        if p.exact {
            exact_peers += 1;
            assert_eq!(
                [
                    &row["fin_ack_p50_us"],
                    &row["fin_ack_p99_us"],
                    &row["fin_ack_max_us"]
                ]
                .map(|v| v.as_u64()),
                [
                    p.fin_ack.quantile(0.5),
                    p.fin_ack.quantile(0.99),
                    p.fin_ack.max()
                ],
                "peer {addr} FIN->ACK"
            );
        }
    }
    assert!(
        exact_peers >= 40,
        "only {exact_peers} peers compared exactly"
    );
}

/// Per-input reports of fixtures with different connections, each labelled.
fn base_inputs() -> &'static Vec<Input> {
    static INPUTS: OnceLock<Vec<Input>> = OnceLock::new();
    INPUTS.get_or_init(|| {
        [
            "sample",
            "fin_retransmit",
            "orphan_killed",
            "fin_unacked",
            "attempts",
            "port_reuse",
            "ipv6",
            "half_closed",
            "handshake_rst_retry",
        ]
        .iter()
        .map(|name| {
            let cap = fixture(&format!("{name}.pcap")).display().to_string();
            let r = run(&["analyze", "-q", "--json", "--label", name, &cap]);
            assert_eq!(r.code, 0, "{}", r.stderr);
            Input {
                path: format!("{name}.json"),
                report: serde_json::from_str(&r.stdout).expect("report"),
            }
        })
        .collect()
    })
}

/// A merged report as `merge` would read it back from its `--json` file.
fn reread(path: String, r: &Report) -> Input {
    let text = serde_json::to_string_pretty(r).expect("JSON");
    Input {
        path,
        report: serde_json::from_str(&text).expect("report"),
    }
}

proptest! {
    #![proptest_config(props::config("merge", 32))]

    /// Any order and any grouping of the inputs (merged in groups, the
    /// merged groups merged again in any order) gives the JSON of merging
    /// them all at once. Rows (`inputs`) are sorted by label, files by path,
    /// peers by rank with the address breaking ties.
    #[test]
    fn merging_is_associative_and_commutative(
        keys in prop::collection::vec(any::<u64>(), 9),
        cuts in prop::collection::vec(any::<bool>(), 8),
        outer in prop::collection::vec(any::<u64>(), 9),
    ) {
        let base = base_inputs();
        let flat = merge(base, None, None).expect("merge");
        let flat_json = serde_json::to_value(&flat).expect("JSON");
        // A random order of the inputs, cut into consecutive groups.
        let mut order: Vec<usize> = (0..base.len()).collect();
        order.sort_by_key(|i| keys[*i]);
        let mut groups: Vec<Vec<Input>> = vec![Vec::new()];
        for (n, i) in order.iter().enumerate() {
            if n > 0 && cuts[n - 1] {
                groups.push(Vec::new());
            }
            groups.last_mut().expect("group").push(base[*i].clone());
        }
        let mut merged: Vec<(u64, Input)> = groups
            .iter()
            .enumerate()
            .map(|(g, inputs)| {
                let r = merge(inputs, None, None).expect("merge group");
                (outer[g], reread(format!("group{g}.json"), &r))
            })
            .collect();
        merged.sort_by_key(|(k, _)| *k);
        let merged: Vec<Input> = merged.into_iter().map(|(_, i)| i).collect();
        let nested = merge(&merged, None, None).expect("merge groups");
        let nested_json = serde_json::to_value(&nested).expect("JSON");
        prop_assert!(nested_json == flat_json, "groups {:?}", groups.iter().map(Vec::len).collect::<Vec<_>>());
    }
}

/// The merged JSON holds every input once, sorted, and the worst
/// connections name inputs that exist.
#[test]
fn merged_rows_and_worst_inputs() {
    let r = merge(base_inputs(), None, None).expect("merge");
    let labels: Vec<&str> = r.inputs.iter().map(|i| i.label.as_str()).collect();
    let mut sorted = labels.clone();
    sorted.sort_unstable();
    assert_eq!(labels, sorted);
    assert_eq!(labels.len(), base_inputs().len());
    let set: BTreeSet<&str> = labels.iter().copied().collect();
    assert!(
        r.peers
            .iter()
            .all(|p| p.worst_input.as_deref().is_some_and(|l| set.contains(l)))
    );
    // The worst of sample.pcap's slow peer comes from sample.pcap, with its
    // own frame numbers.
    let p = r
        .peers
        .iter()
        .find(|p| p.addr == "198.51.100.66")
        .expect("peer");
    assert_eq!(p.worst_input.as_deref(), Some("sample"));
    assert!(
        p.wireshark_filter.contains("frame.number>=266"),
        "{}",
        p.wireshark_filter
    );
    let sample = &base_inputs()[0].report;
    let row = &r.inputs[labels.iter().position(|l| *l == "sample").expect("row")];
    assert_eq!(row.frames, sample.packets.frames);
    assert_eq!(row.connections, sample.connections.total);
    assert_eq!(row.killed, sample.outcomes.killed);
    assert_eq!(
        row.peak_orphans,
        sample.timeline.peaks.get("orphans").map_or(0, |p| p.value)
    );
}

/// A report as JSON with `f` applied, written to `dir/name`.
fn edited(
    dir: &Path,
    name: &str,
    capture: &str,
    extra: &[&str],
    f: impl Fn(&mut Value),
) -> PathBuf {
    let out = dir.join(name);
    let mut v = analyze_to(&fixture(capture), &out, extra).expect("analyze");
    f(&mut v);
    std::fs::write(&out, serde_json::to_vec_pretty(&v).expect("JSON")).expect("write");
    out
}

#[test]
fn reports_without_mergeable_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let good = edited(d, "good.json", "fin_retransmit.pcap", &[], |_| {});
    let stripped = edited(d, "old.json", "sample.pcap", &[], |v| {
        v.as_object_mut().expect("object").remove("mergeable");
    });
    let r = merge_files(&[good.clone(), stripped.clone()], &[]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stderr.contains("old.json"), "{}", r.stderr);
    assert!(r.stderr.contains("no `mergeable`"), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("re-run `finscope analyze --json` on its capture with this finscope"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty());
    // A version-1 report: with a version-2 one the versions differ; alone,
    // it has no `mergeable` either way.
    let v1 = edited(d, "v1.json", "sample.pcap", &[], |v| {
        v["schema_version"] = 1.into();
        v.as_object_mut().expect("object").remove("mergeable");
    });
    let r = merge_files(&[good.clone(), v1.clone()], &[]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("schema version 1"), "{}", r.stderr);
    assert!(
        r.stderr.contains("re-run `finscope analyze --json`"),
        "{}",
        r.stderr
    );
    let r = merge_files(&[v1], &[]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no `mergeable`"), "{}", r.stderr);
    // A damaged `mergeable` is named, not trusted.
    let bad = edited(d, "bad.json", "sample.pcap", &[], |v| {
        v["mergeable"]["latency"]["fin_ack"]["all"]["count"] = 7.into();
    });
    let r = merge_files(&[bad], &[]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("mergeable.latency.fin_ack.all"),
        "{}",
        r.stderr
    );
    // Not a report at all.
    let r = merge_files(&[fixture("sample.pcap")], &[]);
    assert_eq!(r.code, 2);
}

#[test]
fn different_options_are_refused_bucket_widths_are_regridded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let base = edited(d, "base.json", "sample.pcap", &[], |_| {});
    for (i, (opt, val)) in [
        ("--time-wait", "30"),
        ("--idle-timeout", "100"),
        ("--local", "10.0.0.0/8"),
        ("--filter", "port 443"),
        ("--group-by", "port"),
        ("--fin-timeout", "30"),
        ("--orphan-retries", "2"),
    ]
    .into_iter()
    .enumerate()
    {
        let other = edited(
            d,
            &format!("o{i}.json"),
            "orphan_killed.pcap",
            &[opt, val],
            |_| {},
        );
        let r = merge_files(&[base.clone(), other], &[]);
        assert_eq!(r.code, 2, "{opt}: {}", r.stdout);
        assert!(r.stderr.contains(opt), "{opt}: {}", r.stderr);
        assert!(r.stderr.contains("do not add up"), "{}", r.stderr);
    }
    // Different buckets merge on their least common multiple.
    let a = edited(d, "b2.json", "sample.pcap", &["--bucket", "2s"], |_| {});
    let b = edited(
        d,
        "b3.json",
        "orphan_killed.pcap",
        &["--bucket", "3s"],
        |_| {},
    );
    let m = merged_json(&[a.clone(), b.clone()], &[]);
    assert_eq!(u(&m["timeline"]["bucket_us"]), 6_000_000);
    // The same options merge, whatever they are (here grouped by port).
    let a = edited(d, "p1.json", "sample.pcap", &["--group-by", "port"], |_| {});
    let b = edited(
        d,
        "p2.json",
        "orphan_killed.pcap",
        &["--group-by", "port"],
        |_| {},
    );
    let m = merged_json(&[a, b], &[]);
    assert_eq!(m["group_by"], "port");
    assert!(
        m["peers"][0]["addr"]
            .as_str()
            .is_some_and(|s| s.starts_with("port "))
    );
}

/// A merged report is a normal report: `check`, `diff` and `--html` take
/// it, and it merges again.
#[test]
fn merged_reports_are_normal_reports() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let a = edited(d, "a.json", "sample.pcap", &["--label", "gw-a"], |_| {});
    let b = edited(
        d,
        "b.json",
        "orphan_killed.pcap",
        &["--label", "gw-b"],
        |_| {},
    );
    let c = edited(d, "c.json", "fin_unacked.pcap", &[], |_| {});
    let m = d.join("m.json");
    let r = merge_files(&[a.clone(), b.clone()], &["--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    std::fs::write(&m, &r.stdout).expect("write");
    let v: Value = serde_json::from_str(&r.stdout).expect("JSON");
    assert_eq!(v["schema_version"], 2);
    assert!(v["mergeable"].is_object());
    let text = merge_files(&[a.clone(), b.clone(), c.clone()], &[]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(
        text.stdout.contains("INPUTS    3 reports merged"),
        "{}",
        text.stdout
    );
    for label in ["gw-a", "gw-b", "c.json"] {
        assert!(
            text.stdout.contains(&format!("\n  {label} ")),
            "{label}: {}",
            text.stdout
        );
    }
    assert!(text.stdout.contains("worst (in gw-a): "), "{}", text.stdout);
    let m_path = m.display().to_string();
    let r = run(&["check", "--max-fin-ratio", "1", &m_path]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(&["check", "--max-fin-retrans", "0", &m_path]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let r = run(&["diff", &a.display().to_string(), &m_path]);
    assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
    let html = d.join("m.html");
    let r = merge_files(
        &[a.clone(), b.clone()],
        &["--html", &html.display().to_string()],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        std::fs::read_to_string(&html)
            .expect("html")
            .to_lowercase()
            .contains("<html")
    );
    // The merged report merges again, as the three inputs at once.
    let again = merged_json(&[m, c.clone()], &[]);
    let once = merged_json(&[a, b, c], &[]);
    assert_eq!(again, once);
}

/// docs/scale.md's map/reduce pipeline, run as written (between its
/// markers) on copies of the test captures, two of them with the same file
/// name in different directories, one gzip-compressed.
#[test]
fn scale_doc_pipeline_runs() {
    let doc = std::fs::read_to_string(cli::root().join("docs/scale.md")).expect("docs/scale.md");
    let script: String = doc
        .lines()
        .skip_while(|l| !l.contains("# finscope-scale-begin"))
        .take_while(|l| !l.contains("# finscope-scale-end"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        script.contains("xargs") && script.contains("finscope merge"),
        "{script}"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let caps = dir.path().join("captures");
    for (sub, name, src) in [
        ("gw1", "cap.pcap", "sample.pcap"),
        ("gw2", "cap.pcap", "fin_retransmit.pcap"),
        ("gw2", "orphans.pcap", "orphan_killed.pcap"),
    ] {
        std::fs::create_dir_all(caps.join(sub)).expect("mkdir");
        std::fs::copy(fixture(src), caps.join(sub).join(name)).expect("copy");
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(
        &mut gz,
        &std::fs::read(fixture("fin_unacked.pcap")).expect("read"),
    )
    .expect("gzip");
    std::fs::create_dir_all(caps.join("gw3")).expect("mkdir");
    std::fs::write(caps.join("gw3/unacked.pcap.gz"), gz.finish().expect("gzip")).expect("write");
    let bin = cli::bin();
    let path = format!(
        "{}:{}",
        bin.parent().expect("dir").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = std::process::Command::new("bash")
        .arg("-ec")
        .arg(&script)
        .current_dir(dir.path())
        .env("PATH", path)
        .output()
        .expect("bash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("INPUTS    4 reports merged"), "{stdout}");
    assert!(stdout.contains("ok: all 1 bound(s) hold"), "{stdout}");
    let count = |d: &str| std::fs::read_dir(dir.path().join(d)).map_or(0, |r| r.count());
    assert_eq!((count("reports"), count("flows")), (4, 4));
    let fleet: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("fleet.json")).expect("fleet.json"),
    )
    .expect("JSON");
    let labels: Vec<&str> = fleet["inputs"]
        .as_array()
        .expect("inputs")
        .iter()
        .map(|i| i["label"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        labels,
        [
            "captures_gw1_cap.pcap",
            "captures_gw2_cap.pcap",
            "captures_gw2_orphans.pcap",
            "captures_gw3_unacked.pcap.gz"
        ]
    );
    let frames: u64 = ["sample", "fin_retransmit", "orphan_killed", "fin_unacked"]
        .iter()
        .map(|n| {
            let r = run(&[
                "analyze",
                "-q",
                "--json",
                &fixture(&format!("{n}.pcap")).display().to_string(),
            ]);
            u(&serde_json::from_str::<Value>(&r.stdout).expect("JSON")["packets"]["frames"])
        })
        .sum();
    assert_eq!(u(&fleet["packets"]["frames"]), frames);
}

/// Saved reports may hold any count: merging two whose frames are at the
/// end of `u64` gives that end (saturating), not a wrapped number or, with
/// overflow checks, a panic.
#[test]
fn counts_at_the_end_of_their_range_saturate() {
    let golden = cli::root().join("tests/golden/sample.pcap.json");
    let mut v: Value =
        serde_json::from_slice(&std::fs::read(golden).expect("golden report")).expect("JSON");
    v["packets"]["frames"] = serde_json::json!(u64::MAX);
    let n = v["timeline"]["buckets"].as_array().map_or(0, |b| b.len());
    for i in 0..n {
        v["timeline"]["buckets"][i]["frames"] = serde_json::json!(u64::MAX);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("big.json");
    std::fs::write(&path, serde_json::to_vec(&v).expect("ser")).expect("write");
    let out = cli::cmd()
        .args(["merge", "--json", "--allow-duplicates"])
        .arg(&path)
        .arg(&path)
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Report = serde_json::from_slice(&out.stdout).expect("report");
    assert_eq!(r.packets.frames, u64::MAX);
    assert!(r.timeline.buckets.iter().all(|b| b.frames == u64::MAX));
}

/// One failure policy for every command: an output that cannot be written
/// (`--html` on a full disk) is reported naming its file and the others are
/// still written (the text report), with exit 4, as in `analyze`.
#[cfg(target_os = "linux")]
#[test]
fn a_failed_output_does_not_stop_the_others() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let a = edited(d, "a.json", "sample.pcap", &["--label", "gw-a"], |_| {});
    let b = edited(d, "b.json", "fin_unacked.pcap", &[], |_| {});
    let r = merge_files(&[a.clone(), b.clone()], &["--html", "/dev/full"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains("/dev/full") && r.stderr.contains("No space left"),
        "{}",
        r.stderr
    );
    assert!(
        r.stdout.contains("INPUTS    2 reports merged"),
        "{}",
        r.stdout
    );
    // --json likewise: the whole merged report, then exit 4.
    let r = merge_files(&[a, b], &["--json", "--html", "/dev/full"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).expect("merged JSON");
    assert_eq!(v["inputs"].as_array().map(Vec::len), Some(2));
}
