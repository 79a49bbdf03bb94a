//! The engine as a process: the `--max-memory` budget evicts and says so,
//! lone SYNs and long captures do not change the figures, the timeline
//! stays bounded, `--since`/`--until` select what is read. (The memory
//! figures themselves are benchmarks: benches/memory.py,
//! docs/performance.md.)

use finscope::report::Report;
use finscope_testkit::cli;
use finscope_testkit::gencap;
use finscope_testkit::synth::{Conv, PcapOpts, Record, write_pcap};
use std::path::Path;

/// `finscope ARGS PATH`: (exit code, stdout, stderr).
fn run(args: &[&str], path: &Path) -> (i32, String, String) {
    let r = cli::run_command(cli::command().args(args).arg(path));
    (r.code, r.stdout, r.stderr)
}

fn report(stdout: &str) -> Report {
    serde_json::from_str(stdout).expect("a JSON report")
}

/// A generated gateway capture: with the default budget nothing is evicted
/// and every scripted connection is counted; with a 1 MiB budget (about a
/// thousand connections) the ones idle longest are evicted, counted in
/// `capture.evicted_early`, warned about on stderr and in the text report,
/// and every frame is still counted.
#[test]
fn budget_evicts_the_idlest_and_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("gen.pcap");
    let cfg = gencap::Config {
        packets: 60_000,
        seed: 3,
        servers: 500,
        rate: 1_500,
        ..gencap::Config::default()
    };
    let file = std::fs::File::create(&path).expect("create");
    let expected = gencap::generate(&cfg, file).expect("generate");

    let (code, out, err) = run(&["analyze", "--json", "-q", "-j1"], &path);
    assert_eq!(code, 0, "{err}");
    let whole = report(&out);
    assert_eq!(whole.capture.evicted_early, 0);
    assert_eq!(whole.connections.total, expected.connections);
    assert!(!err.contains("evicted"), "{err}");

    for j in ["1", "2"] {
        let (code, out, err) = run(
            &["analyze", "--json", "-q", "-j", j, "--max-memory", "1MiB"],
            &path,
        );
        assert_eq!(code, 0, "{err}");
        let r = report(&out);
        assert!(
            r.capture.evicted_early > 100,
            "-j{j}: {}",
            r.capture.evicted_early
        );
        assert!(
            err.contains(&format!(
                "warning: {} connection(s) evicted early to stay within --max-memory 1.0 MiB",
                r.capture.evicted_early
            )),
            "{err}"
        );
        // Nothing read is lost; an evicted connection that speaks again is
        // a new one.
        assert_eq!(r.packets.frames, whole.packets.frames);
        assert_eq!(r.packets.fin, whole.packets.fin);
        assert!(r.connections.total >= whole.connections.total);
    }
    let (code, out, _) = run(&["analyze", "-q", "-j1", "--max-memory", "1MiB"], &path);
    assert_eq!(code, 0);
    assert!(out.contains("  EVICTED        "), "{out}");

    let (code, _, err) = run(&["analyze", "-q", "--max-memory", "100KiB"], &path);
    assert_eq!(code, 2);
    assert!(err.contains("at least 1MiB"), "{err}");
}

/// One connection over 70,000 one-millisecond buckets: more than the
/// timeline keeps in memory at that width. It is widened while reading,
/// exactly: the report is the one the 20,000-bucket rule gives (4 ms), it
/// counts every frame, and it is the same with two threads.
#[test]
fn a_long_timeline_is_widened_while_reading_without_loss() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("long.pcap");
    let ms = 1_000_000u64;
    let t0 = 1_700_000_000_000 * ms;
    let mut c = Conv::new(
        "10.0.0.1:40000".parse().expect("addr"),
        "192.0.2.7:443".parse().expect("addr"),
        100,
        500,
    );
    c.syn(t0).syn_ack(t0 + ms).ack_c(t0 + 2 * ms);
    let n = 70_000u64;
    for i in 3..n {
        if i % 2 == 0 {
            c.ack_c(t0 + i * ms);
        } else {
            c.ack_s(t0 + i * ms);
        }
    }
    let records: Vec<Record> = c.records;
    let mut f = std::fs::File::create(&path).expect("create");
    write_pcap(&mut f, 1, &records, &PcapOpts::default()).expect("write");
    drop(f);

    let mut outs = Vec::new();
    for j in ["1", "2"] {
        let (code, out, err) = run(
            &["timeline", "--json", "-q", "--bucket", "1ms", "-j", j],
            &path,
        );
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).expect("json");
        let t = &v;
        assert_eq!(t["bucket_us"], 4_000);
        assert_eq!(t["widened_while_reading"], false);
        let frames: u64 = t["buckets"]
            .as_array()
            .expect("buckets")
            .iter()
            .map(|b| b["frames"].as_u64().unwrap_or(0))
            .sum();
        assert_eq!(frames, n);
        let peak = &t["peaks"]["established"];
        assert_eq!(peak["value"], 1);
        outs.push(out);
    }
    assert_eq!(outs[0], outs[1]);
}

/// A scan: 3,000 lone SYNs (kept as small attempts) among real
/// connections give the figures every connection tracked whole gives:
/// each attempt is `unanswered`, a SYN answered in time makes one
/// connection, a SYN-ACK past the idle timeout a new (one-sided) one.
#[test]
fn lone_syns_are_attempts_with_exact_figures() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("scan.pcap");
    let ms = 1_000_000u64;
    let t0 = 1_700_000_000_000 * ms;
    let mut records = Vec::new();
    for i in 0..3_000u64 {
        let mut c = Conv::new(
            format!("10.0.{}.{}:{}", i / 250, i % 250 + 1, 20_000 + i)
                .parse()
                .expect("addr"),
            "192.0.2.7:443".parse().expect("addr"),
            i as u32,
            0,
        );
        c.syn(t0 + i * ms);
        if i % 3 == 0 {
            // Answered after 400 s of silence: past the idle timeout, so
            // the attempt is over and the SYN-ACK starts a new connection.
            c.syn_ack(t0 + 400_000 * ms + i * ms);
        } else if i % 3 == 1 {
            c.syn_ack(t0 + i * ms + ms / 2).ack_c(t0 + i * ms + ms);
        }
        records.extend(c.records);
    }
    records.sort_by_key(|r| r.ts_ns);
    let mut f = std::fs::File::create(&path).expect("create");
    write_pcap(&mut f, 1, &records, &PcapOpts::default()).expect("write");
    drop(f);
    let mut outs = Vec::new();
    for j in ["1", "2"] {
        let (code, out, err) = run(&["analyze", "--json", "-q", "-j", j], &path);
        assert_eq!(code, 0, "{err}");
        let r = report(&out);
        assert_eq!(r.connections.total, 4_000);
        // The late SYN-ACKs alone: one direction only.
        assert_eq!(r.outcomes.unanswered, 2_000);
        assert_eq!(r.outcomes.one_sided, 1_000);
        assert_eq!(r.outcomes.open, 1_000);
        outs.push(out);
    }
    assert_eq!(outs[0], outs[1]);
}

/// `--since` / `--until`: durations count from the first packet, RFC 3339
/// times are absolute; frames outside are not analysed; the report says
/// which range it covers; a bad bound is a usage error.
#[test]
fn since_and_until_select_a_time_range() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("three.pcap");
    let s = 1_000_000_000u64;
    let t0 = 1_764_496_800 * s; // 2025-11-30T10:00:00Z
    closed_connections(&path, t0, &[0, 10 * s, 20 * s]);
    let total = |args: &[&str]| {
        let mut a = vec!["analyze", "--json", "-q"];
        a.extend_from_slice(args);
        let (code, out, err) = run(&a, &path);
        assert_eq!(code, 0, "{args:?}: {err}");
        let r = report(&out);
        (
            r.connections.total,
            r.packets.frames,
            r.settings.since_us,
            r.settings.until_us,
        )
    };
    assert_eq!(total(&[]), (3, 21, None, None));
    assert_eq!(
        total(&["--since", "5s", "--until", "15s"]),
        (
            1,
            7,
            Some((t0 + 5 * s) / 1_000),
            Some((t0 + 15 * s) / 1_000)
        )
    );
    assert_eq!(
        total(&["--since", "2025-11-30T10:00:15Z"]),
        (1, 7, Some((t0 + 15 * s) / 1_000), None)
    );
    assert_eq!(
        total(&["--until", "2025-11-30T11:00:10+01:00"]),
        (1, 7, None, Some((t0 + 10 * s) / 1_000))
    );
    let (code, out, _) = run(&["analyze", "-q", "--since", "15s"], &path);
    assert_eq!(code, 0);
    assert!(
        out.contains("  time range     2025-11-30 10:00:15"),
        "{out}"
    );
    let (code, _, err) = run(&["analyze", "-q", "--since", "yesterday"], &path);
    assert_eq!(code, 2);
    assert!(err.contains("RFC 3339"), "{err}");
    // An empty range is refused before reading (same kinds compared).
    for (since, until) in [
        ("15s", "5s"),
        ("10s", "10s"),
        ("2025-11-30T10:00:15Z", "2025-11-30T10:00:05Z"),
    ] {
        let (code, out, err) = run(
            &["analyze", "-q", "--since", since, "--until", until],
            &path,
        );
        assert_eq!(code, 2, "{since} {until}");
        assert!(err.contains("--since is not before --until"), "{err}");
        assert!(out.is_empty());
    }
}

/// `--interval`: summaries on stderr (JSON lines with --json) that tile
/// the capture's time and add up to the report's counts, which do not
/// change.
#[test]
fn interval_summaries_add_up() {
    let sample = cli::fixture("sample.pcap");
    let plain = cli::cmd()
        .args(["analyze", "--json", "-q"])
        .arg(&sample)
        .output()
        .expect("run");
    for buffer in ["4096", "1048576"] {
        let out = cli::cmd()
            .env("FINSCOPE_BUFFER", buffer)
            .args(["analyze", "--json", "-q", "--interval", "5s"])
            .arg(&sample)
            .output()
            .expect("run");
        assert!(out.status.success());
        assert_eq!(out.stdout, plain.stdout, "the report does not change");
        let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stderr)
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect();
        let r = report(&String::from_utf8_lossy(&out.stdout));
        let sum = |k: &str| {
            lines
                .iter()
                .map(|l| l[k].as_u64().unwrap_or(0))
                .sum::<u64>()
        };
        assert_eq!(sum("frames"), r.packets.frames, "{buffer}");
        assert_eq!(sum("fin"), r.packets.fin, "{buffer}");
        assert_eq!(sum("rst"), r.packets.rst, "{buffer}");
        assert_eq!(
            lines.first().map(|l| l["start_us"].clone()),
            Some(r.capture.first_ts_us.into())
        );
        for w in lines.windows(2) {
            assert_eq!(w[0]["end_us"], w[1]["start_us"], "{buffer}: contiguous");
        }
        assert_eq!(lines.last().map(|l| l["last"].clone()), Some(true.into()));
        // One summary per 5 s interval, whatever the batches (the whole
        // file is one batch with the larger buffer), each counting exactly
        // the frames of its interval (read here from the file itself).
        let first = r.capture.first_ts_us.expect("a first packet");
        let mut want = vec![0u64; 6];
        for ts in pcap_times_us(&std::fs::read(&sample).expect("read")) {
            want[((ts - first) / 5_000_000) as usize] += 1;
        }
        let got: Vec<u64> = lines
            .iter()
            .map(|l| l["frames"].as_u64().unwrap_or(0))
            .collect();
        assert_eq!(got, want, "{buffer}");
        for (i, l) in lines.iter().enumerate().take(5) {
            assert_eq!(l["end_us"], first + 5_000_000 * (i as u64 + 1), "{buffer}");
        }
    }
    let out = cli::cmd()
        .args(["analyze", "-q", "--interval", "10s"])
        .arg(&sample)
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("finscope: 2023-11-14 22:13:20.025945 .. "),
        "{err}"
    );
    assert!(err.contains("(end)"), "{err}");
}

/// The record timestamps (us) of a little-endian microsecond pcap.
fn pcap_times_us(b: &[u8]) -> Vec<u64> {
    let u32_at = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
    let mut off = 24;
    let mut out = Vec::new();
    while off + 16 <= b.len() {
        out.push(u64::from(u32_at(off)) * 1_000_000 + u64::from(u32_at(off + 4)));
        off += 16 + u32_at(off + 8) as usize;
    }
    out
}

/// `--interval` over a silence longer than several intervals: the interval
/// before it, one empty summary for the whole intervals without a frame,
/// then the interval the capture ends in.
#[test]
fn interval_summaries_span_a_silence_in_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("gap.pcap");
    let s = 1_000_000_000u64;
    let t0 = 1_700_000_000 * s;
    closed_connections(&path, t0, &[0, 35 * s]);
    let out = cli::cmd()
        .args(["analyze", "--json", "-q", "--interval", "10s"])
        .arg(&path)
        .output()
        .expect("run");
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let t0us = t0 / 1_000;
    let got: Vec<(u64, u64, u64)> = lines
        .iter()
        .map(|l| {
            let n = |k: &str| l[k].as_u64().unwrap_or(u64::MAX);
            (n("start_us") - t0us, n("end_us") - t0us, n("frames"))
        })
        .collect();
    let sec = 1_000_000;
    assert_eq!(
        got,
        [
            (0, 10 * sec, 7),
            (10 * sec, 30 * sec, 0),
            (30 * sec, 35 * sec + sec / 5 + 1, 7)
        ]
    );
}

/// Writes a pcap of one whole connection (handshake, local FIN first, 7
/// frames over 0.2 s) starting at each of `t0 + starts[i]` (ns), from
/// 10.0.0.(i+1):4000i to 192.0.2.7:443.
fn closed_connections(path: &Path, t0: u64, starts: &[u64]) {
    let s = 1_000_000_000u64;
    let mut records = Vec::new();
    for (i, at) in starts.iter().enumerate() {
        let mut c = Conv::new(
            format!("10.0.0.{}:4000{i}", i + 1).parse().expect("addr"),
            "192.0.2.7:443".parse().expect("addr"),
            100,
            500,
        );
        let t = t0 + at;
        c.syn(t).syn_ack(t + s / 100).ack_c(t + s / 50);
        c.fin_c(t + s / 10).ack_s(t + s / 10 + 1_000);
        c.fin_s(t + s / 5).ack_c(t + s / 5 + 1_000);
        records.extend(c.records);
    }
    let mut f = std::fs::File::create(path).expect("create");
    write_pcap(&mut f, 1, &records, &PcapOpts::default()).expect("write");
}
