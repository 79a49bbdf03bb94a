//! `finscope timeline` on generated captures, against hand-computed states.
//!
//! fin_retransmit.pcap (testdata/README.md): the client (local) sends its FIN
//! at 1000 ms, retransmits it at 1200, 1600 and 2400 ms, the server ACKs it at
//! 15000 ms and sends its own FIN at 15100 ms; the capture ends at 15110 ms.
//! So, from the local side: SYN-SENT 0..10 (the SYN-ACK comes at 10 ms),
//! ESTABLISHED 10..1000, FIN-WAIT-1 1000..15000 (14 s),
//! FIN-WAIT-2 15000..15100, TIME-WAIT from 15100 (clipped to the capture end
//! for `state_time_us`: 10 ms).

use finscope_testkit::cli;
use serde_json::Value;

const T0_US: u64 = 1_700_000_000_000_000;

fn timeline(args: &[&str]) -> Value {
    let out = cli::cmd()
        .arg("timeline")
        .arg("--json")
        .args(args)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

#[test]
fn fin_wait_1_from_a_slow_ack() {
    let t = timeline(&["testdata/fin_retransmit.pcap"]);
    assert_eq!(t["bucket_us"], 1_000_000);
    assert_eq!(t["start_us"], T0_US);
    assert_eq!(t["buckets"].as_array().map(|b| b.len()), Some(16));
    let st = &t["state_time_us"];
    assert_eq!(st["syn_sent"], 10_000);
    assert_eq!(st["established"], 990_000);
    assert_eq!(st["fin_wait_1"], 14_000_000);
    assert_eq!(st["fin_wait_2"], 100_000);
    assert_eq!(st["time_wait"], 10_000);
    assert_eq!(st["orphans"], 14_000_000);
    assert_eq!(st["close_wait"], 0);
    // In FIN-WAIT-1 at every bucket end inside [1 s, 15 s): ends 1..=14 s,
    // i.e. buckets 0..=13 (the FIN leaves exactly at the end of bucket 0).
    let b = t["buckets"].as_array().expect("buckets");
    let fw1: Vec<i64> = b
        .iter()
        .map(|x| x["fin_wait_1"].as_i64().unwrap_or(-1))
        .collect();
    let mut want = vec![0i64; 16];
    for w in want.iter_mut().take(14) {
        *w = 1;
    }
    assert_eq!(fw1, want);
    assert_eq!(b[0]["established"], 0);
    assert_eq!(b[15]["time_wait"], 1);
    assert_eq!(t["peaks"]["fin_wait_1"]["value"], 1);
    assert_eq!(t["peaks"]["fin_wait_1"]["t_us"], T0_US + 1_000_000);
    // Counters: 4 FIN retransmissions in buckets 1 (1200, 1600) and 2 (2400),
    // the spurious one at 15020 in bucket 15.
    assert_eq!(b[1]["fin_retransmissions"], 2);
    assert_eq!(b[2]["fin_retransmissions"], 1);
    assert_eq!(b[15]["fin_retransmissions"], 1);
    // One connection is below the evidence minimum (3, docs/diagnosis.md):
    // no finding. The same rule on sample.pcap: analyze_json_carries_timeline_and_diagnosis.
    assert_eq!(t["diagnosis"], serde_json::json!([]));
}

#[test]
fn orphan_retries_what_if_and_limits() {
    // FIN at 1000 ms, copies at 1200, 1600, 2400 (no tail-loss probe: the
    // intervals double from the first): RTO firings at 1.2, 1.6, 2.4, 4.0 s.
    // With 2 retries the kernel kills at the first firing 1.4 s or more
    // after the first RTO retransmission (tcp_model_timeout: 7 x 200 ms):
    // at 4.0 s, instead of waiting 14 s for the ACK.
    let t = timeline(&[
        "--orphan-retries",
        "2",
        "--max-orphans",
        "0",
        "testdata/fin_retransmit.pcap",
    ]);
    let x = &t["limits"]["orphan_retries"];
    assert_eq!(x["orphans_killed"], 1);
    assert_eq!(x["fin_wait_1_peak"], 1);
    let b = t["buckets"].as_array().expect("buckets");
    assert_eq!(b[1]["fin_wait_1_limited"], 1);
    assert_eq!(b[2]["fin_wait_1_limited"], 1);
    assert_eq!(b[3]["fin_wait_1_limited"], 0);
    assert_eq!(b[3]["fin_wait_1"], 1);
    let c = &t["limits"]["max_orphans"];
    assert_eq!(c["buckets_over"], 14);
    assert_eq!(c["first_t_us"], T0_US + 1_000_000);
    assert_eq!(b[1]["over_max_orphans"], true);
    let ids = t["diagnosis"].to_string();
    assert!(ids.contains("max_orphans_crossed"), "{ids}");
}

#[test]
fn time_wait_limit_crossing_is_diagnosed() {
    // TIME-WAIT holds one socket at the end of the last bucket only.
    let t = timeline(&["--max-tw-buckets", "0", "testdata/fin_retransmit.pcap"]);
    let c = &t["limits"]["max_tw_buckets"];
    assert_eq!(c["buckets_over"], 1);
    assert_eq!(c["first_t_us"], T0_US + 16_000_000);
    let f = t["diagnosis"]
        .as_array()
        .and_then(|d| d.iter().find(|f| f["id"] == "max_tw_buckets_crossed"))
        .expect("finding");
    assert!(
        f["tunables"]
            .to_string()
            .contains("net.ipv4.tcp_max_tw_buckets")
    );
    assert!(
        f["evidence"][0]
            .as_str()
            .unwrap_or_default()
            .starts_with("1 bucket(s) over the limit")
    );
}

#[test]
fn csv_and_bucket_width() {
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = dir.path().join("t.csv");
    let t = timeline(&[
        "--bucket",
        "500ms",
        "--csv",
        csv.to_str().unwrap_or_default(),
        "testdata/fin_retransmit.pcap",
    ]);
    assert_eq!(t["bucket_us"], 500_000);
    let text = std::fs::read_to_string(&csv).expect("csv");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("t_us,end_us,established,fin_wait_1,"));
    let buckets = t["buckets"].as_array().expect("buckets");
    assert_eq!(lines.len(), 1 + buckets.len());
    // Every series of the JSON buckets is a column, with the same values;
    // the what-if columns are there (empty or false) without their options.
    let header: Vec<&str> = lines[0].split(',').collect();
    for col in [
        "fin_ratio",
        "fin_wait_1_limited",
        "orphans_limited",
        "over_max_orphans",
        "over_max_tw_buckets",
    ] {
        assert!(header.contains(&col), "{col}");
    }
    for (line, b) in lines[1..].iter().zip(buckets) {
        let cells: Vec<&str> = line.split(',').collect();
        for (key, v) in b.as_object().expect("bucket") {
            let i = header
                .iter()
                .position(|h| h == key)
                .unwrap_or_else(|| panic!("no column {key}"));
            match v.as_f64() {
                Some(x) => assert_eq!(cells[i].parse::<f64>().ok(), Some(x), "{key}"),
                None => assert_eq!(cells[i], v.to_string(), "{key}"),
            }
        }
        let start = b["t_us"].as_u64().unwrap_or(0);
        let end_col = header.iter().position(|h| *h == "end_us").unwrap_or(0);
        assert_eq!(cells[end_col], (start + 500_000).to_string());
    }
}

#[test]
fn analyze_json_carries_timeline_and_diagnosis() {
    let out = cli::cmd()
        .args(["analyze", "--json", "testdata/fin_retransmit.pcap"])
        .output()
        .expect("run");
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["timeline"]["state_time_us"]["fin_wait_1"], 14_000_000);
    // A single connection: below the evidence minimum, no finding.
    assert_eq!(v["diagnosis"], serde_json::json!([]));
    // 112 of 121 connections closed by a local FIN: the diagnosis names
    // FIN-WAIT-1, tcp_orphan_retries, the slowest peer, and rules out
    // tcp_fin_timeout.
    let out = cli::cmd()
        .args(["analyze", "--json", "testdata/sample.pcap"])
        .output()
        .expect("run");
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let d = &v["diagnosis"][0];
    assert_eq!(d["id"], "fin_wait_1_dominates");
    let text = d["finding"].as_str().unwrap_or_default();
    assert!(
        text.contains("tcp_fin_timeout") && text.contains("will not help"),
        "{text}"
    );
    assert!(
        d["tunables"]
            .to_string()
            .contains("net.ipv4.tcp_max_orphans")
    );
    let ev = d["evidence"].to_string();
    assert!(ev.contains("198.51.100.66 (31.0s)"), "{ev}");
    assert!(
        ev.contains("112 of 121 connections closed by a local FIN"),
        "{ev}"
    );
}

#[test]
fn bucket_width_grows_past_the_cap() {
    // 31 s at 1 ms would be 31,000 buckets: widened by 2 to stay under 20,000.
    let t = timeline(&["--bucket", "1ms", "testdata/fin_unacked.pcap"]);
    assert_eq!(t["bucket_us"], 2_000);
    let n = t["buckets"].as_array().map_or(0, |b| b.len());
    assert!((15_000..=20_000).contains(&n), "{n} buckets");
    let wide = timeline(&["testdata/fin_unacked.pcap"]);
    assert_eq!(t["state_time_us"], wide["state_time_us"]);
    assert_eq!(t["peaks"]["fin_wait_1"]["value"], 1);
}

#[test]
fn analyze_report_holds_a_chart_of_buckets_the_timeline_the_full_series() {
    // 31 s at 1 ms: the timeline document widens by 2 (under 20,000
    // buckets), the analyze report by 32 (under 1,000), on the same
    // power-of-two ladder, so that `merge` adds either exactly.
    let out = cli::cmd()
        .args(["analyze", "--json", "--bucket", "1ms"])
        .arg("testdata/fin_unacked.pcap")
        .output()
        .expect("run");
    assert!(out.status.success());
    let a: Value = serde_json::from_slice(&out.stdout).expect("json");
    let t = timeline(&["--bucket", "1ms", "testdata/fin_unacked.pcap"]);
    assert_eq!(a["timeline"]["bucket_us"], 32_000);
    let n = a["timeline"]["buckets"].as_array().map_or(0, |b| b.len());
    assert!((900..=1_000).contains(&n), "{n} buckets");
    assert_eq!(t["bucket_us"], 2_000);
    assert_eq!(a["timeline"]["state_time_us"], t["state_time_us"]);
    // Every 16th bucket of the timeline ends where one of the report's
    // ends, with the same counts.
    let (ab, tb) = (
        a["timeline"]["buckets"].as_array().expect("buckets"),
        t["buckets"].as_array().expect("buckets"),
    );
    let a0 = a["timeline"]["start_us"].as_u64().expect("start");
    let t0 = t["start_us"].as_u64().expect("start");
    let mut compared = 0;
    for (i, b) in tb.iter().enumerate() {
        let end = t0 + (i as u64 + 1) * 2_000;
        if (end - a0).is_multiple_of(32_000) {
            let j = ((end - a0) / 32_000 - 1) as usize;
            if let Some(x) = ab.get(j) {
                assert_eq!(x["fin_wait_1"], b["fin_wait_1"], "bucket ending {end}");
                assert_eq!(x["orphans"], b["orphans"], "bucket ending {end}");
                compared += 1;
            }
        }
    }
    assert!(compared > 900, "{compared} buckets compared");
    let tl_bytes = serde_json::to_vec(&t).expect("json").len();
    assert!(
        out.stdout.len() * 5 < tl_bytes,
        "analyze {} bytes, timeline {tl_bytes}",
        out.stdout.len()
    );
}

/// The chart marks the columns over a `--max-*` limit; without limits
/// there is no such row.
#[test]
fn chart_marks_limit_crossings() {
    let run = |args: &[&str]| {
        let out = cli::cmd()
            .env_remove("COLUMNS")
            .args(["timeline", "-q"])
            .args(args)
            .arg("testdata/sample.pcap")
            .output()
            .expect("run");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let text = run(&["--max-tw-buckets", "50"]);
    let row = text
        .lines()
        .find(|l| l.starts_with("  limits "))
        .expect("a limits row");
    // TIME-WAIT passes 50 from the 15th 1 s bucket of 30 on.
    assert_eq!(
        row,
        format!(
            "  limits             |{}{}| over a limit",
            " ".repeat(14),
            "^".repeat(16)
        )
    );
    assert!(!run(&[]).contains("  limits "));
}

/// Peaks are bucket-end samples: with buckets wider than the states last
/// (`--bucket 1h` on a 30 s capture) every peak is 0 beside a total time,
/// and the table says why.
#[test]
fn peaks_between_bucket_ends_are_explained() {
    let text = |bucket: &str| {
        let out = cli::cmd()
            .env_remove("COLUMNS")
            .args(["timeline", "-q", "--bucket", bucket, "testdata/sample.pcap"])
            .output()
            .expect("run");
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let note = "  peaks are counts at bucket ends (every 1h, what `ss` run then would show)";
    let t = text("1h");
    let row = t
        .lines()
        .rev()
        .find(|l| l.starts_with("  FIN-WAIT-1 "))
        .expect("a row of the peaks table");
    assert_eq!(
        row.split_whitespace().collect::<Vec<_>>(),
        ["FIN-WAIT-1", "0", "-", "1m", "12.5s"]
    );
    assert!(t.contains(note), "{t}");
    assert!(text("1s").contains("(every 1.0s, what `ss` run then would show)"));
}
