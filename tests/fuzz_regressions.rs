//! Inputs found by the fuzz campaign (fuzz/README.md), minimised, replayed
//! through the same public API as the fuzz target that found them, each
//! asserting the correct behaviour. The input is inline; the test's comment
//! names the target and what was wrong.

use finscope::decode::filter::Filter;
use finscope::report::load::load;
use finscope::report::render::json;
use finscope_testkit::cli;

/// The golden report of testdata/sample.pcap, as JSON to edit.
fn golden_sample() -> serde_json::Value {
    let golden = format!(
        "{}/tests/golden/sample.pcap.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_slice(&std::fs::read(golden).expect("golden report")).expect("JSON")
}

/// `v` written to a report file in a new temporary directory (kept alive
/// by the first value).
fn saved(v: &serde_json::Value) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("report.json");
    std::fs::write(&path, serde_json::to_vec(v).expect("ser")).expect("write");
    (dir, path)
}

/// Target `filter`, minimised to 4 bytes: `"\u{2000}p"` (U+2000 EN QUAD,
/// white space of 3 UTF-8 bytes, then an unknown word). The error named
/// column 4, past the end of the 2-character expression: a token's column
/// was its byte offset + 1, while "end of filter" counts characters.
#[test]
fn filter_error_columns_count_characters() {
    let e = "\u{2000}p".parse::<Filter>().unwrap_err();
    assert_eq!((e.column, e.found.as_str()), (2, "`p`"), "{e}");
    // Two no-break spaces (2 bytes each), then an unknown word at column 3.
    let e = "\u{a0}\u{a0}bogus".parse::<Filter>().unwrap_err();
    assert_eq!((e.column, e.found.as_str()), (3, "`bogus`"), "{e}");
    // A no-break space inside: `bogus` is the 12th character (13th byte).
    let e = "port\u{a0}1 and bogus".parse::<Filter>().unwrap_err();
    assert_eq!((e.column, e.found.as_str()), (12, "`bogus`"), "{e}");
    // A non-ASCII token is named at its own column.
    let e = "port 1 or héllo 2".parse::<Filter>().unwrap_err();
    assert_eq!((e.column, e.found.as_str()), (11, "`héllo`"), "{e}");
    // ASCII is unchanged.
    let e = "port 443 and hots 1.2.3.4".parse::<Filter>().unwrap_err();
    assert_eq!(e.column, 14);
}

/// Target `filter`, with a directed input (libFuzzer's inputs were capped
/// at 4 KiB, too short): `--filter` nested 20,000 deep ("(" x 20000, or
/// "!" x 100000, well within one command-line argument) overflowed the
/// main thread's stack in the recursive-descent parser (`factor` ->
/// `expr` -> `term` -> `factor`, and `factor` -> `factor` for `not`/`!`):
/// the process died of the stack overflow (SIGSEGV in the release build,
/// "has overflowed its stack" and SIGABRT in the debug one) instead of
/// exiting 2 with a message (or giving a report).
#[test]
fn deeply_nested_filter_does_not_overflow_the_stack() {
    let deep_parens = format!("{}port 1{}", "(".repeat(20_000), ")".repeat(20_000));
    let deep_nots = format!("{}port 1", "!".repeat(100_000));
    let deep_words = format!("{}port 1", "not ".repeat(30_000));
    for (what, expr) in [
        ("( x 20000", &deep_parens),
        ("! x 100000", &deep_nots),
        ("not x 30000", &deep_words),
    ] {
        let out = cli::command()
            .args([
                "analyze",
                "-q",
                "--filter",
                expr,
                &cli::fixture_arg("fin_4way.pcap"),
            ])
            .output()
            .expect("run finscope");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            matches!(out.status.code(), Some(0) | Some(2)),
            "{what}: {:?} (killed by a signal when no code), stderr: {}",
            out.status,
            stderr.chars().take(300).collect::<String>()
        );
        assert!(!stderr.contains("overflow"), "{what}: {stderr}");
    }
}

/// Target `filter`, on the tree with the nesting limit (commit 3472433),
/// replaying the campaign's corpus; minimised to 66 terms: `port 0 or port
/// 0 or ... port 0`. The chain parses (its `or`s are a loop, not nesting),
/// but `Display`, which is what a report shows as its filter (`settings.
/// filter` in JSON, text and HTML), puts every `or` in parentheses:
/// `(((port 0 or port 0) or port 0) ...)`, 65 deep, which `--filter`
/// refuses ("at most 64 nested parentheses"). The same for `and`.
#[test]
fn long_filter_chains_display_as_filters_that_parse() {
    for op in [" or ", " and ", " || "] {
        let text = vec!["port 0"; 66].join(op);
        let f: Filter = text.parse().expect("a chain of 66 terms parses");
        let shown = f.to_string();
        match shown.parse::<Filter>() {
            Ok(g) => assert_eq!(g, f, "{op:?}: displays as another filter"),
            Err(e) => panic!("{op:?} x 65 displays as a filter that is refused: {e}"),
        }
    }
}

/// Target `report_load` (after 62 s): a saved report does not load back
/// as written. Its JSON holds `"fin_ratio": 1.21818181818181817`; loaded,
/// written (`1.2181818181818183`, the shortest form of 67/55), loaded again,
/// it is `1.2181818181818185`. serde_json, built without its
/// `float_roundtrip` feature, parses some 17-digit floats 1 ULP off, so
/// `diff`, `check` and `merge` read a ratio other than the one `analyze
/// --json` wrote. Minimised by hand (tmin cannot shrink a report below its
/// schema): one ratio finscope computes, in the golden report of
/// fin_4way.pcap.
#[test]
fn saved_report_floats_load_back_exactly() {
    let golden = format!(
        "{}/tests/golden/fin_4way.pcap.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let template: serde_json::Value =
        serde_json::from_slice(&std::fs::read(golden).expect("golden report")).expect("JSON");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("report.json");
    // Ratios as finscope computes them (FINs / TCP segments, ...): how many
    // of a/b, b <= 200, do not survive writing and reading back.
    let mut lost = Vec::new();
    for b in 1..=200u32 {
        for a in 0..=b {
            let x = f64::from(a) / f64::from(b);
            let back: f64 =
                serde_json::from_str(&serde_json::to_string(&x).expect("ser")).expect("de");
            if back != x {
                lost.push((a, b));
            }
        }
    }
    let mut wrong = Vec::new();
    for &(a, b) in [(67, 55)].iter().chain(lost.iter().take(3)) {
        let x = f64::from(a) / f64::from(b);
        let mut v = template.clone();
        v["fin_ratio"]["of_tcp"] = serde_json::json!(x);
        std::fs::write(&path, serde_json::to_vec_pretty(&v).expect("ser")).expect("write");
        let r = load(&path).expect("a valid report");
        if r.fin_ratio.of_tcp.to_bits() != x.to_bits() {
            wrong.push(format!("{a}/{b} = {x:?} loads as {:?}", r.fin_ratio.of_tcp));
        }
        // What finscope writes of a loaded report loads back the same.
        let mut out = Vec::new();
        json::render(&r, &mut out).expect("render");
        std::fs::write(&path, &out).expect("write");
        if load(&path).expect("reload") != r {
            wrong.push(format!(
                "{a}/{b}: rendered and loaded again, another report"
            ));
        }
    }
    assert!(
        wrong.is_empty() && lost.is_empty(),
        "{wrong:?}; {} of the ratios a/b (0 <= a <= b <= 200) read back 1 ULP off, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
}

/// F5 (`report_load`, its renderers added): a saved report whose timeline
/// bucket lies far outside its own time range (`t_us` doubled), or whose
/// times sit at the end of `u64`, drew points billions of pixels off the
/// plot (an overflow inside plotters; a panic with overflow checks) and
/// added times past `u64::MAX`. Every renderer keeps them on the axis.
#[test]
fn renderers_keep_a_saved_reports_odd_times_on_the_axis() {
    let template = golden_sample();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("report.json");
    let mut far = template.clone();
    far["timeline"]["buckets"][11]["t_us"] = serde_json::json!(3_400_000_022_000_000u64);
    let mut end = template.clone();
    end["timeline"]["start_us"] = serde_json::json!(u64::MAX - 5);
    let n = end["timeline"]["buckets"].as_array().map_or(0, |b| b.len());
    for i in 0..n {
        end["timeline"]["buckets"][i]["t_us"] = serde_json::json!(u64::MAX - 5 + i as u64 / 8);
    }
    end["timeline"]["bucket_us"] = serde_json::json!(u64::MAX / 2);
    // And counts at the ends of their types.
    for i in 0..n {
        let b = &mut end["timeline"]["buckets"][i];
        for key in ["fin_wait_1", "time_wait", "orphans", "established"] {
            b[key] = serde_json::json!(if i % 2 == 0 { i64::MAX } else { i64::MIN });
        }
        for key in ["frames", "tcp", "fin", "closes", "new_connections"] {
            b[key] = serde_json::json!(u64::MAX);
        }
    }
    end["timeline"]["close_began_before_capture"] = serde_json::json!(u64::MAX);
    end["timeline"]["open_at_end"] = serde_json::json!(u64::MAX);
    for v in [far, end] {
        std::fs::write(&path, serde_json::to_vec(&v).expect("ser")).expect("write");
        let r = load(&path).expect("a valid report");
        let mut out = Vec::new();
        finscope::report::render::html::render(&r, &mut out).expect("html");
        assert!(!out.is_empty());
        out.clear();
        finscope::report::render::text::render(&r, &Default::default(), &mut out).expect("text");
        out.clear();
        finscope::report::render::timeline::render_text(
            &r.timeline,
            &r.diagnosis,
            &Default::default(),
            &mut out,
        )
        .expect("timeline");
        out.clear();
        finscope::report::render::timeline::write_csv(&r.timeline, &mut out).expect("csv");
    }
}

/// F6 (`report_load`, with `merge`): a saved report whose HdrHistogram
/// (`mergeable.latency.*.hdr_v2`) header claims a payload of nearly 3 GB
/// while holding a few bytes: `merge` reserved it before reading (2.9 GB
/// of memory for a 14 KB file). Now refused at once, naming the field.
#[test]
fn histogram_payload_claims_are_checked_before_allocating() {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut v = golden_sample();
    let field = &mut v["mergeable"]["latency"]["fin_ack"]["all"]["hdr_v2"];
    let mut bytes = b64.decode(field.as_str().expect("hdr_v2")).expect("base64");
    bytes[4..8].copy_from_slice(&0xb000_0003u32.to_be_bytes());
    bytes.truncate(43);
    *field = serde_json::json!(b64.encode(&bytes));
    let (_dir, path) = saved(&v);
    let out = cli::command()
        .arg("merge")
        .arg(&path)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("mergeable.latency.fin_ack.all")
            && err.contains("claims 2952790019 payload bytes, it holds 3"),
        "{err}"
    );
}

/// F7 (`report_load`): a saved report listing one peer twice was a
/// regression of itself in `diff` (which pairs peers by address: the two
/// rows were paired crosswise). finscope never writes such a report;
/// loading one is refused, naming the row.
#[test]
fn a_report_listing_a_peer_twice_is_refused() {
    let mut v = golden_sample();
    let first = v["peers"][0]["addr"].clone();
    v["peers"][2]["addr"] = first.clone();
    let (_dir, path) = saved(&v);
    let out = cli::command()
        .arg("diff")
        .arg(&path)
        .arg(&path)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "`peers[2]`: peer `{}` is listed twice",
            first.as_str().expect("addr")
        )),
        "{err}"
    );
}

/// F8 (`report_load` with `merge`): a saved report whose last packet comes
/// before its first (`capture.first_ts_us` > `last_ts_us`) made the merged
/// timeline's grid subtract past zero (a panic with overflow checks). The
/// grid now ends no earlier than it starts.
#[test]
fn merge_of_a_report_whose_last_packet_comes_first() {
    let mut v = golden_sample();
    v["capture"]["first_ts_us"] = serde_json::json!(3_400_000_000_000_000u64);
    let (_dir, path) = saved(&v);
    let r = load(&path).expect("loads");
    let inputs = [finscope::commands::merge::Input {
        path: "a".into(),
        report: r,
    }];
    // Merged or refused, without a panic.
    if let Ok(m) = finscope::commands::merge::merge(&inputs, None, None) {
        let mut out = Vec::new();
        json::render(&m, &mut out).expect("render");
    }
}

/// F9 (`report_load`, the HTML renderer): a saved report whose
/// `outcomes_by_closer` counts exceed its `outcomes` totals drew bars past
/// the axis that the totals gave, and plotters overflowed computing their
/// pixels. Every value is now kept within a range length of its axis.
#[test]
fn html_bars_beyond_their_axis_stay_near_it() {
    let mut v = golden_sample();
    v["outcomes_by_closer"]["local_first"]["complete"] = serde_json::json!(u64::MAX / 3);
    v["outcomes_by_closer"]["remote_first"]["complete"] = serde_json::json!(u64::MAX / 3);
    let (_dir, path) = saved(&v);
    let r = load(&path).expect("loads");
    let mut out = Vec::new();
    finscope::report::render::html::render(&r, &mut out).expect("html");
    assert!(!out.is_empty());
}

/// F10 (`close_model` with the remedies' replay, after 1 s): a local FIN
/// in the last 10 ms before 2^64 ns (a pcapng timestamp can be there): the
/// replay's next 100 ms orphan-count tick, `(t / tick + 1) * tick`, is past
/// 2^64 (a panic with overflow checks, a wrapped tick without); so was the
/// first bucket end of a first FIN in the last bucket (and, found by
/// `replay`, the bucket index + 1 at 2^64 - 1 with 1 ns buckets). Both
/// saturate now.
#[test]
fn replay_of_closes_in_the_last_tick_before_2_pow_64() {
    use finscope::metrics::replay::{End, Life, Lives, Replay, Setting};
    const MS: u64 = 1_000_000;
    let life = |t0, len| Life {
        peer: "192.0.2.1".parse().expect("addr"),
        t0,
        len,
        end: End::Acked,
        passive: false,
        fw2: None,
        first_rto: 0,
        tlp: false,
        late: None,
    };
    // One orphan from 250 ms before the end of time (ACKed 1 s later:
    // never), one from 5 ms before it.
    let lives = Lives::of(
        vec![
            life(u64::MAX - 250 * MS, 1_000 * MS),
            life(u64::MAX - 5 * MS, MS),
        ],
        0,
    );
    let r = Replay::new(&lives, 100 * MS, 60_000 * MS, u64::MAX);
    let p = r.run(&Setting {
        max_orphans: Some(0),
        fin_timeout_ns: 60_000 * MS,
        ..Setting::default()
    });
    // The first orphan is reset at its first RTO timer (200 ms, the default
    // when none was seen), the count of the tick before being 1 > 0; at the
    // second's close the tick's count is 0 again: admitted.
    assert_eq!(p.orphan_resets, 1, "{p:?}");
    // Bucket ends ...500, ...600 ms hold the first; ...700 ms none; the
    // next is past 2^64.
    assert_eq!((p.orphans_peak, p.fin_wait_1_peak), (1, 1), "{p:?}");
    // A first FIN in the last bucket: no bucket end after it.
    let last = Lives::of(vec![life(u64::MAX - 5 * MS, MS)], 0);
    let p = Replay::new(&last, 1_000 * MS, 60_000 * MS, u64::MAX).run(&Setting::default());
    assert_eq!(p, finscope::metrics::replay::Prediction::default());
    // (`replay`, after 12,000 runs) the same at 2^64 - 1 with 1 ns buckets:
    // the bucket index + 1 overflowed before the product.
    let at_max = Lives::of(vec![life(u64::MAX, MS)], 0);
    let p = Replay::new(&at_max, 1, 60_000 * MS, u64::MAX).run(&Setting::default());
    assert_eq!(p, finscope::metrics::replay::Prediction::default());
}

/// F11 (`replay`, after a few seconds: a timeout): the replay read its
/// counts at every bucket end from the first local FIN to the end of
/// observation, one step per bucket, also across stretches where nothing
/// changed: closes near time 0 and an end of observation at 2^64 ns with
/// 100 ms buckets are 1.8e11 steps (hours). One sample now stands for the
/// bucket ends between two events.
#[test]
fn replay_skips_the_bucket_ends_where_nothing_changes() {
    use finscope::metrics::replay::{End, Life, Lives, Replay, Setting};
    const MS: u64 = 1_000_000;
    let life = |t0, len, passive| Life {
        peer: "192.0.2.1".parse().expect("addr"),
        t0,
        len,
        end: End::Acked,
        passive,
        fw2: None,
        first_rto: 0,
        tlp: false,
        late: None,
    };
    let lives = Lives::of(
        vec![
            life(10 * MS, 300 * MS, false),
            life(50 * MS, 200 * MS, true),
            life(120 * MS, 1_000 * MS, false),
        ],
        0,
    );
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let r = Replay::new(&lives, 100 * MS, 60_000 * MS, u64::MAX);
        let _ = tx.send(r.run(&Setting {
            fin_timeout_ns: 60_000 * MS,
            ..Setting::default()
        }));
    });
    let p = rx
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("the replay ends within 30 s");
    // Bucket ends at 100 ms: lives 1, 2 (orphans 2, FIN-WAIT-1 1); 200 ms:
    // all three (3, 2); 300 ms: 1 and 3 (life 2 ended at 250 ms); then 3
    // alone until 1,120 ms.
    assert_eq!((p.orphans_peak, p.fin_wait_1_peak), (3, 2), "{p:?}");
}

/// F11 through the binary: a capture whose local close is in 1970 and
/// whose last packet is in 2096 (4e9 s later: as many one-second bucket
/// ends) made `analyze` walk every bucket end in each of the remedies'
/// replays; it now answers at once.
#[test]
fn analyze_of_a_capture_spanning_a_century_ends() {
    use finscope_testkit::synth::{Conv, PcapOpts, sa, write_pcap};
    const MS: u64 = 1_000_000;
    const S: u64 = 1_000_000_000;
    let mut c = Conv::new(sa("10.0.0.1:40000"), sa("192.0.2.7:80"), 1000, 5000);
    c.syn(S).syn_ack(S + MS).ack_c(S + 2 * MS);
    c.fin_c(S + 10 * MS).ack_s(S + 1_500 * MS);
    let mut late = Conv::new(sa("10.0.0.1:40001"), sa("192.0.2.7:80"), 7000, 9000);
    late.syn(4_000_000_000 * S);
    let mut records = c.records.clone();
    records.extend(late.records.iter().cloned());
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("century.pcap");
    let mut f = std::fs::File::create(&path).expect("create");
    write_pcap(&mut f, 1, &records, &PcapOpts::default()).expect("write");
    drop(f);
    // Output to files (a pipe left unread would block the child), and the
    // child killed if it hangs.
    let (out_path, err_path) = (dir.path().join("out.json"), dir.path().join("err"));
    let mut child = cli::command()
        .args(["analyze", "--json", "--local", "10.0.0.0/8"])
        .arg(&path)
        .stdout(std::fs::File::create(&out_path).expect("out"))
        .stderr(std::fs::File::create(&err_path).expect("err"))
        .spawn()
        .expect("run");
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed() > std::time::Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("analyze still running after 60 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let out = std::process::Output {
        status,
        stdout: std::fs::read(&out_path).expect("stdout"),
        stderr: std::fs::read(&err_path).expect("stderr"),
    };
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    // The close's FIN-WAIT-1 (1.010-2.500 s) holds the bucket end at 2 s.
    assert_eq!(v["demand"]["fin_wait_1_peak"], 1, "{}", v["demand"]);
    assert_eq!(v["demand"]["orphans_peak"], 1, "{}", v["demand"]);
}

/// F12 (`close_model`, after about 7 minutes; the young expiry entries of
/// issue 24's seventh session): with TIME-WAIT 0 and the clock from 0, a
/// lone FIN at 0.009 s opens a connection (queued young for its idle look
/// at 15.009 s), a SYN at 4.809 s replaces it, and a RST at 15.009 s
/// closes the second, queued at 15.009 s too and compacted: the first
/// one's stale young entry named the compacted connection by key and time,
/// and the sweep's `debug_assert` that no young entry does fired. Harmless
/// (the compacted connection has its own entry, not young, at the same
/// time, which retires it); the assertion now allows exactly that.
#[test]
fn a_stale_young_entry_may_name_a_compacted_connection_by_its_time() {
    use finscope_testkit::close_model::{from_bytes, one_and_two_shards, shard};
    let data = [
        0x14, 0x08, 0x5b, 0x09, 0x00, 0x00, 0x00, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30,
        0x30, 0x30, 0x31, 0x38, 0x31, 0x36, 0x36, 0x33, 0x35, 0x34, 0x30, 0x30, 0x39, 0x35, 0x35,
        0x35,
    ];
    let (cfg, segs) = from_bytes(&data).expect("a case");
    assert_eq!(cfg.time_wait_ns, 0);
    let ts: Vec<u64> = segs.iter().map(|s| s.ts_ns).collect();
    let ms = 1_000_000;
    assert_eq!(
        ts,
        [9 * ms, 4_809 * ms, 9_609 * ms, 15_009 * ms, 20_709 * ms]
    );
    one_and_two_shards(&cfg, &segs).expect("the shards' checks");
    // The reset connection is retired by the sweep of 20.709 s (its own
    // entry), not left for the end: two retired before it, one after.
    let mut one = shard(&cfg);
    for s in &segs {
        one.process_at(s, s.ts_ns);
    }
    assert_eq!(one.sink.summary.connections.total, 2);
    assert_eq!(one.live(), 1);
    one.finish(20_709 * ms);
    assert_eq!(one.sink.summary.connections.total, 3);
}

/// F13 (`capture`, after about 5 minutes): a capture whose time goes back
/// by 83 years (a SYN stamped 2106, the rest of its connection 2023). The
/// client's copies, FIN at 2023 + 1.0 s and + 1.2 s, then the SYN again in
/// 2106, made a retransmission interval of 83 years, and the tail-loss
/// probe test (`Backoff::first_was_probe`: the first two intervals within
/// 10%, the difference times 10) overflowed: a panic with overflow checks,
/// a wrong answer without. The products are checked now: an interval that
/// far from the other is no probe.
#[test]
fn a_retransmission_interval_of_83_years_is_no_probe() {
    use finscope::decode::Segment;
    use finscope::decode::seq::SeqNum;
    use finscope::flow::{FlowConfig, Shard};
    use finscope::metrics::ShardMetrics;
    use finscope::metrics::timeline::TimelineConfig;
    const SEC: u64 = 1_000_000_000;
    let (t2106, t2023) = (4_294_963_456 * SEC, 1_700_000_000 * SEC);
    let client = ("10.0.0.2".parse().expect("ip"), 40232);
    let server = ("203.0.113.91".parse().expect("ip"), 80);
    let seg = |frame: u64, ts_ns: u64, from_client: bool, flags: u8, seq: u32, ack: u32| {
        let (src, dst) = if from_client {
            (client, server)
        } else {
            (server, client)
        };
        Segment {
            ts_ns,
            frame,
            src: src.0,
            dst: dst.0,
            sport: src.1,
            dport: dst.1,
            vlan: 0,
            seq: SeqNum(seq),
            ack: SeqNum(ack),
            flags,
            payload_len: 0,
            ttl: 64,
            zero_window: false,
        }
    };
    let (syn, ack, fin, synack) = (0x02, 0x10, 0x11, 0x12);
    let segs = [
        seg(1, t2106, true, syn, 1000, 0),
        seg(2, t2023, false, synack, 5000, 1001),
        seg(3, t2023 + SEC / 50, true, ack, 1001, 5001),
        seg(4, t2023 + SEC, true, fin, 1001, 5001),
        seg(5, t2023 + 6 * SEC / 5, true, fin, 1001, 5001),
        seg(6, t2106, true, syn, 1000, 0),
    ];
    let mut shard = Shard::new(
        FlowConfig::default(),
        ShardMetrics::new(TimelineConfig::default(), true),
    );
    let mut clock = 0;
    for s in &segs {
        clock = clock.max(s.ts_ns);
        shard.process_at(s, clock);
    }
    shard.finish(clock);
    let sum = &shard.sink.summary;
    assert_eq!(sum.connections.total, 1);
    // The FIN's copy 0.2 s on is its one retransmission.
    assert_eq!(sum.fin_rtx.total, 1);
}
