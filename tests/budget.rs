//! `--max-memory` covers the peer table: past its share the peers with the
//! fewest problems are folded into one exact "others" aggregate
//! (`peers_others`), said on stderr, and `merge` of such reports stays
//! exact (docs/report.md, "Peers past the budget"); likewise --group-by
//! port's pairs, and the remedies replay a sample of the local closes
//! (`demand.sampled`). `--flows` holds its waiting records within a share
//! of it, spilling sorted runs to a temporary file past it: the file is
//! the same (docs/flows.md, "Memory").

use finscope_testkit::cli::{command, run, run_command};
use finscope_testkit::synth::{Conv, Link, PcapOpts, Record, at, pcap_bytes, sa, sorted};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// Peers `from..to`, one connection each from 10.0.0.2 (local) to
/// 198.18.x.y:80, the local side closing; every 40th peer never ACKs the
/// FIN (a problem: it ranks first).
fn capture(from: u32, to: u32) -> Vec<u8> {
    capture_every(from, to, 5)
}

/// [`capture`] with a connection every `step_ms`.
fn capture_every(from: u32, to: u32, step_ms: u64) -> Vec<u8> {
    let mut recs: Vec<Record> = Vec::new();
    for i in from..to {
        let remote = format!("198.18.{}.{}:80", i / 250, i % 250 + 1);
        let local = format!("10.0.0.2:{}", 20_000 + i);
        let mut c = Conv::new(sa(&local), sa(&remote), 1000, 5000);
        let t = u64::from(i) * step_ms;
        c.syn(at(t))
            .syn_ack(at(t + 1))
            .ack_c(at(t + 2))
            .fin_c(at(t + 3));
        if !i.is_multiple_of(40) {
            c.fin_s(at(t + 4)).ack_c(at(t + 5));
        }
        recs.extend(c.take());
    }
    pcap_bytes(
        Link::Ethernet.linktype(),
        &sorted(recs),
        &PcapOpts::default(),
    )
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write capture");
    p.display().to_string()
}

/// `analyze --json-out` of `pcap` with `extra`: the report and stderr.
fn analyze(dir: &Path, pcap: &str, out: &str, extra: &[&str]) -> (Value, String) {
    let out = dir.join(out).display().to_string();
    let mut a = vec![
        "analyze",
        "-q",
        "--local",
        "10.0.0.0/8",
        "--json-out",
        &out,
        pcap,
    ];
    a.extend_from_slice(extra);
    let r = run(&a);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = serde_json::from_str(&std::fs::read_to_string(&out).expect("report")).expect("json");
    (v, r.stderr)
}

/// `n` with thousands separators, as the text report prints counts.
fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// Connections of the named peers of `mergeable.peers`, by address.
fn named(r: &Value) -> BTreeMap<String, (u64, u64)> {
    let peers = r["mergeable"]["peers"].as_array().expect("mergeable.peers");
    peers
        .iter()
        .map(|p| {
            let a = p["addr"].as_str().expect("addr").to_string();
            (a, (u(&p["connections"]), u(&p["unacked_fins"])))
        })
        .collect()
}

/// Named peers and others add up to every connection.
fn adds_up(r: &Value) {
    let named: u64 = named(r).values().map(|(c, _)| c).sum();
    let others = u(&r["peers_others"]["connections"]);
    assert_eq!(named + others, u(&r["connections"]["total"]));
    assert_eq!(u(&r["mergeable"]["peers_others"]["connections"]), others);
    let f = u(&r["peers_others"]["folded"]);
    assert_eq!(u(&r["mergeable"]["peers_folded"]), f);
    assert_eq!(
        u(&r["peers_total"]),
        r["mergeable"]["peers"]
            .as_array()
            .map_or(0, |a| a.len() as u64)
            + f
    );
}

#[test]
fn peers_past_the_budget_fold_into_others_and_add_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pcap = write(dir.path(), "peers.pcap", &capture(0, 3000));

    // Default budget: every peer named, no others.
    let (full, err) = analyze(dir.path(), &pcap, "full.json", &["-j1"]);
    assert!(!err.contains("others"), "{err}");
    assert!(full.get("peers_others").is_none());
    assert!(full["mergeable"].get("peers_others").is_none());
    assert_eq!(named(&full).len(), 3000);
    assert_eq!(u(&full["peers_total"]), 3000);

    // 1 MiB: an eighth of it holds about 200 peers, not 3000.
    let (small, err) = analyze(
        dir.path(),
        &pcap,
        "small.json",
        &["-j1", "--max-memory", "1MiB"],
    );
    assert!(
        err.contains("folded into one \"others\" row"),
        "no warning: {err}"
    );
    let kept = named(&small);
    assert!(kept.len() < 1000, "{} peers named", kept.len());
    let folded = u(&small["peers_others"]["folded"]);
    assert_eq!(kept.len() as u64 + folded, 3000);
    adds_up(&small);
    assert_eq!(u(&small["connections"]["total"]), 3000);
    // The text report says it under the peers.
    let r = run(&[
        "analyze",
        "--local",
        "10.0.0.0/8",
        "-j1",
        "--max-memory",
        "1MiB",
        &pcap,
    ]);
    let line = format!(
        "  others: {} peer(s) folded together past the budget (peers_others)\n    {} conns, ",
        thousands(folded),
        thousands(u(&small["peers_others"]["connections"]))
    );
    assert!(r.stdout.contains(&line), "{}", r.stdout);
    // The 75 peers with a problem rank first: all named, exactly.
    let problems: Vec<_> = kept.iter().filter(|(_, (_, un))| *un == 1).collect();
    assert_eq!(problems.len(), 75);
    assert_eq!(u(&small["peers_others"]["unacked_fins"]), 0);
    for (a, figs) in &problems {
        assert_eq!(named(&full).get(*a), Some(*figs), "{a}");
    }
}

#[test]
fn merge_of_two_degraded_reports_is_exact() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Overlapping peers: 1000..2000 in both.
    let a = write(dir.path(), "a.pcap", &capture(0, 2000));
    let b = write(dir.path(), "b.pcap", &capture(1000, 3000));
    let small = ["-j1", "--max-memory", "1MiB"];
    let (ra, _) = analyze(dir.path(), &a, "a.json", &small);
    let (rb, _) = analyze(dir.path(), &b, "b.json", &small);
    analyze(dir.path(), &a, "fa.json", &["-j1"]);
    analyze(dir.path(), &b, "fb.json", &["-j1"]);
    assert!(u(&ra["peers_others"]["folded"]) > 0 && u(&rb["peers_others"]["folded"]) > 0);

    let merge = |x: &str, y: &str, out: &str| -> Value {
        let (x, y) = (dir.path().join(x), dir.path().join(y));
        let (x, y) = (x.display().to_string(), y.display().to_string());
        let r = run(&["merge", "--json", &x, &y]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        std::fs::write(dir.path().join(out), &r.stdout).expect("write merged");
        serde_json::from_str(&r.stdout).expect("json")
    };
    let m = merge("a.json", "b.json", "m.json");
    let full = merge("fa.json", "fb.json", "full.json");
    assert_eq!(u(&m["connections"]["total"]), 4000);
    adds_up(&m);
    assert_eq!(
        u(&m["peers_others"]["folded"]),
        u(&ra["peers_others"]["folded"]) + u(&rb["peers_others"]["folded"])
    );
    assert_eq!(
        u(&m["peers_others"]["connections"]),
        u(&ra["peers_others"]["connections"]) + u(&rb["peers_others"]["connections"])
    );
    // The problem peers are named in every input: their merged figures
    // are those of the merge of the full reports (2 connections in the
    // overlap, 1 elsewhere).
    let (mn, fullm) = (named(&m), named(&full));
    let problems: Vec<_> = mn.iter().filter(|(_, (_, un))| *un > 0).collect();
    assert_eq!(problems.len(), 75);
    for (addr, figs) in problems {
        assert_eq!(fullm.get(addr), Some(figs), "{addr}");
    }
    assert_eq!(mn.get("198.18.4.201"), Some(&(2, 2))); // peer 1200
    // The merged report reads back: check and diff take it.
    let mp = dir.path().join("m.json").display().to_string();
    let r = run(&["diff", &mp, &mp]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// The figures of the `port 80` group row.
fn port80(r: &Value) -> Vec<u64> {
    let rows = r["peers"].as_array().expect("peers");
    let row = rows
        .iter()
        .find(|p| p["addr"] == "port 80")
        .expect("port 80");
    [
        "connections",
        "closes",
        "fin_retransmissions",
        "unacked_fins",
        "rsts",
    ]
    .iter()
    .map(|f| u(&row[*f]))
    .collect()
}

#[test]
fn port_groups_past_the_budget_keep_every_port_exact() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = write(dir.path(), "a.pcap", &capture(0, 2000));
    let b = write(dir.path(), "b.pcap", &capture(1000, 3000));
    let port = ["-j1", "--group-by", "port"];
    let small = ["-j1", "--group-by", "port", "--max-memory", "1MiB"];
    let (fa, err) = analyze(dir.path(), &a, "fa.json", &port);
    assert!(!err.contains("pair(s)"), "{err}");
    assert!(fa["mergeable"].get("port_pairs_folded").is_none());
    analyze(dir.path(), &b, "fb.json", &port);
    let (ra, err) = analyze(dir.path(), &a, "a.json", &small);
    assert!(
        err.contains("pair(s) with the fewest problems folded into their port's \"others\" member"),
        "{err}"
    );
    analyze(dir.path(), &b, "b.json", &small);

    // One port: its row is exact (2000 connections, 50 never ACKed).
    assert_eq!(port80(&ra), vec![2000, 2000, 0, 50, 0]);
    assert_eq!(port80(&ra), port80(&fa));
    let pairs = ra["mergeable"]["port_peers"]
        .as_array()
        .expect("port_peers");
    let folded = u(&ra["mergeable"]["port_pairs_folded"]);
    assert!(folded > 0 && pairs.len() < 1000, "{} pairs", pairs.len());
    // Named pairs and the others member: every address once.
    assert_eq!(pairs.len() as u64 - 1 + folded, 2000);
    let others = pairs
        .iter()
        .find(|p| p["addr"] == "0.0.0.0")
        .expect("others");
    assert_eq!(u(&others["port"]), 80);
    assert_eq!(u(&others["connections"]), folded);
    assert_eq!(u(&others["unacked_fins"]), 0);

    // Merged: the port's figures are those of the merged full reports.
    let merge = |x: &str, y: &str| -> Value {
        let (x, y) = (dir.path().join(x), dir.path().join(y));
        let (x, y) = (x.display().to_string(), y.display().to_string());
        let r = run(&["merge", "--json", &x, &y]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        serde_json::from_str(&r.stdout).expect("json")
    };
    let (m, full) = (merge("a.json", "b.json"), merge("fa.json", "fb.json"));
    assert_eq!(port80(&m), vec![4000, 4000, 0, 100, 0]);
    assert_eq!(port80(&m), port80(&full));
    let mb = serde_json::from_str::<Value>(
        &std::fs::read_to_string(dir.path().join("b.json")).expect("b"),
    )
    .expect("json");
    assert_eq!(
        u(&m["mergeable"]["port_pairs_folded"]),
        folded + u(&mb["mergeable"]["port_pairs_folded"])
    );
}

/// The remedies' lives count against `--max-memory` (an eighth of it, 128
/// bytes a life: 1 MiB keeps at most 1,024): past it the replay runs on a
/// sample, which the report says (`demand.sampled`, stderr, the text
/// report's REMEDIES). The shards of a run share one sample: -j2 replays
/// exactly what -j1 does. A merge of such reports has no remedies.
#[test]
fn remedies_past_the_budget_replay_a_sample_and_say_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    // 3,000 closes 100 ms apart: 50 per 5 s sweep.
    let pcap = write(dir.path(), "peers.pcap", &capture_every(0, 3000, 100));
    let (full, err) = analyze(dir.path(), &pcap, "full.json", &["-j1"]);
    assert!(!err.contains("sample"), "{err}");
    assert!(full["demand"].is_object(), "{}", full["demand"]);
    assert!(full["demand"].get("sampled").is_none());

    // Connections leave the table soon after their close: none is
    // evicted, so the lives are the same whatever -j, and only their
    // sample is left to compare.
    let small = [
        "--max-memory",
        "1MiB",
        "--time-wait",
        "0",
        "--idle-timeout",
        "1",
    ];
    let (r1, err) = analyze(
        dir.path(),
        &pcap,
        "j1.json",
        &[&["-j1"][..], &small].concat(),
    );
    assert_eq!(u(&r1["capture"]["evicted_early"]), 0);
    let s = &r1["demand"]["sampled"];
    assert_eq!(u(&s["cap"]), 1024, "{s}");
    // 3,000 closes: halved twice (1,500 would still be more than 1,024).
    assert_eq!(u(&s["weight"]), 4, "{s}");
    let kept = u(&s["kept"]);
    assert!(
        kept <= 1024 && kept * 4 > 2_500 && kept * 4 < 3_500,
        "{kept}"
    );
    assert!(
        err.contains(&format!(
            "warning: the remedies replay a sample of the local closes: {kept} kept, each standing for 4 (at most 1024 kept within --max-memory 1.0 MiB)"
        )),
        "{err}"
    );
    let (r2, _) = analyze(
        dir.path(),
        &pcap,
        "j2.json",
        &[&["-j2"][..], &small].concat(),
    );
    assert_eq!(u(&r2["capture"]["evicted_early"]), 0);
    assert_eq!(r2["demand"], r1["demand"]);
    assert_eq!(r2["remedies"], r1["remedies"]);
    let r = run(&[
        "analyze",
        "--local",
        "10.0.0.0/8",
        "-j1",
        "--max-memory",
        "1MiB",
        &pcap,
    ]);
    assert!(
        r.stdout.contains(&format!(
            "  replayed from a sample: {kept} local closes kept, each standing for 4 (at most 1,024 kept within --max-memory; demand.sampled)"
        )),
        "{}",
        r.stdout
    );

    let (a, b) = (dir.path().join("j1.json"), dir.path().join("j2.json"));
    let r = run(&[
        "merge",
        "--json",
        "--allow-duplicates",
        &a.display().to_string(),
        &b.display().to_string(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let m: Value = serde_json::from_str(&r.stdout).expect("json");
    assert_eq!(u(&m["connections"]["total"]), 6000);
    assert!(m.get("demand").is_none());
}

/// A report holds at most 8,192 `--group-by port` pairs, whatever the
/// budget: the other 808 of 9,000 fold into port 80's others member, and
/// the port's figures stay those of every connection; -j2 writes the
/// same report as -j1 (each shard gathers its own pairs).
#[test]
fn a_report_holds_at_most_8192_port_pairs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pcap = write(dir.path(), "peers.pcap", &capture(0, 9000));
    let (r, err) = analyze(dir.path(), &pcap, "p.json", &["-j1", "--group-by", "port"]);
    assert!(
        err.contains("808 (remote port, address) pair(s) with the fewest problems folded")
            && err.contains("or the report's 8192 pairs"),
        "{err}"
    );
    let pairs = r["mergeable"]["port_peers"].as_array().expect("port_peers");
    assert_eq!(pairs.len(), 8_193);
    assert_eq!(u(&r["mergeable"]["port_pairs_folded"]), 808);
    let others = pairs
        .iter()
        .find(|p| p["addr"] == "0.0.0.0")
        .expect("others");
    assert_eq!(u(&others["connections"]), 808);
    // 225 peers never ACK (every 40th): all named.
    assert_eq!(u(&others["unacked_fins"]), 0);
    assert_eq!(port80(&r), vec![9000, 9000, 0, 225, 0]);
    let (r2, _) = analyze(dir.path(), &pcap, "p2.json", &["-j2", "--group-by", "port"]);
    assert_eq!(r2["mergeable"]["port_peers"], r["mergeable"]["port_peers"]);
    assert_eq!(r2["peers"], r["peers"]);
}

/// `n` connections from 10.1.x.y to 192.0.2.80:443, 7 ms apart: every
/// third handshaken and reset by the server (retired by a sweep while the
/// capture is read), the others a lone SYN that is never answered (still
/// tracked at the end: all retired at once, at the capture's end).
fn flows_capture(n: u32) -> Vec<u8> {
    let mut recs: Vec<Record> = Vec::new();
    for i in 0..n {
        let client = format!("10.1.{}.{}:{}", i / 250, i % 250 + 1, 30_000 + i % 1000);
        let mut c = Conv::new(sa(&client), sa("192.0.2.80:443"), 100 + i, 9000 + i);
        let t = u64::from(i) * 7;
        c.syn(at(t));
        if i.is_multiple_of(3) {
            c.syn_ack(at(t + 1)).ack_c(at(t + 2)).rst_s(at(t + 3));
        }
        recs.extend(c.take());
    }
    pcap_bytes(
        Link::Ethernet.linktype(),
        &sorted(recs),
        &PcapOpts::default(),
    )
}

/// `analyze --flows FILE` with `FINSCOPE_STATS=1`: exit code, the file,
/// the runs spilled (from the stats line) and stderr.
fn flows_run(dir: &Path, pcap: &str, out: &str, extra: &[&str]) -> (i32, Vec<u8>, u64, String) {
    let file = dir.join(out);
    let json = dir.join(format!("{out}.report.json"));
    let mut c = command();
    c.env("FINSCOPE_STATS", "1").args([
        "analyze",
        "-q",
        "--flows",
        file.to_str().expect("path"),
        "--json-out",
        json.to_str().expect("path"),
        pcap,
    ]);
    c.args(extra);
    let r = run_command(&mut c);
    let stats = r
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("finscope: stats: --flows spilled "))
        .unwrap_or_else(|| panic!("no spill stats: {}", r.stderr));
    let runs = stats
        .split(' ')
        .next()
        .and_then(|v| v.parse().ok())
        .expect("a run count");
    assert!(!r.stderr.contains("evicted"), "{}", r.stderr);
    let bytes = std::fs::read(&file).expect("the --flows file");
    (r.code, bytes, runs, r.stderr)
}

/// Past its share of `--max-memory` (1 MiB: a sixteenth, 64 KiB, about
/// 150 records) the `--flows` writer spills sorted runs and merges them
/// back: the file is byte for byte the one of the default budget, which
/// spills nothing, in both formats and with one or two threads.
#[test]
fn flows_spilled_past_the_budget_are_the_same_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pcap = write(dir.path(), "flows.pcap", &flows_capture(2_000));
    for fmt in ["csv", "jsonl"] {
        for j in ["-j1", "-j2"] {
            let name = |b: &str| format!("{b}{j}.{fmt}");
            let (code, full, runs, err) = flows_run(dir.path(), &pcap, &name("full"), &[j]);
            assert_eq!((code, runs), (0, 0), "{err}");
            let small = ["--max-memory", "1MiB", j];
            let (code, spilled, runs, err) = flows_run(dir.path(), &pcap, &name("small"), &small);
            assert_eq!(code, 0, "{err}");
            // 2,000 records of about 400 (CSV) or 1,300 bytes (JSON).
            assert!(runs >= 5, "{fmt} {j}: {runs} run(s)");
            let lines = full.iter().filter(|&&b| b == b'\n').count();
            assert_eq!(lines, 2_000 + usize::from(fmt == "csv"), "{fmt} {j}");
            assert!(full == spilled, "{fmt} {j}: the spilled file differs");
        }
    }
}

/// A capture corrupt part-way (a record claiming 4 GB, the 3,001st of
/// 4,001): the run stops there (exit 3) and the spilled `--flows` file
/// holds every connection of what was read, the same as unspilled.
#[test]
fn flows_spilled_on_a_corrupt_capture_hold_what_was_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut bytes = flows_capture(2_000);
    // Walk the records: a 24-byte file header, then 16-byte record
    // headers, the captured length at +8.
    let mut at = 24;
    for _ in 0..3_000 {
        let len = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().expect("4 bytes"));
        at += 16 + len as usize;
    }
    bytes[at + 8..at + 12].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
    let pcap = write(dir.path(), "corrupt.pcap", &bytes);
    let (code, full, runs, err) = flows_run(dir.path(), &pcap, "full.csv", &["-j2"]);
    assert_eq!((code, runs), (3, 0), "{err}");
    let small = ["--max-memory", "1MiB", "-j2"];
    let (code, spilled, runs, err) = flows_run(dir.path(), &pcap, "small.csv", &small);
    assert_eq!(code, 3, "{err}");
    assert!(runs >= 2, "{runs} run(s)");
    assert!(full == spilled, "the spilled file differs");
    // 3,000 frames read: connections 0..1500 (4 frames for every third,
    // 1 for the others: 6 frames per 3 connections).
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("small.csv.report.json")).expect("report"),
    )
    .expect("json");
    let total = u(&report["connections"]["total"]);
    assert_eq!(total, 1_500);
    let records = full.iter().filter(|&&b| b == b'\n').count() as u64 - 1;
    assert_eq!(records, total);
}

/// No temporary file can be made (`--flows -` spills to `TMPDIR`, which
/// does not exist): the records stay in memory past the share, finscope
/// says so on stderr, and the file is still complete and in order.
#[test]
fn flows_without_a_temporary_file_are_held_and_said() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pcap = write(dir.path(), "flows.pcap", &flows_capture(1_000));
    let full = run(&["analyze", "-q", "-j1", "--flows", "-", &pcap]);
    assert_eq!(full.code, 0, "{}", full.stderr);
    assert!(!full.stderr.contains("temporary"), "{}", full.stderr);
    let mut c = command();
    c.env("TMPDIR", dir.path().join("missing")).args([
        "analyze",
        "-q",
        "-j1",
        "--max-memory",
        "1MiB",
        "--flows",
        "-",
        &pcap,
    ]);
    let held = run_command(&mut c);
    assert_eq!(held.code, 0, "{}", held.stderr);
    assert!(
        held.stderr.contains(
            "warning: --flows -: no temporary file for the records past --max-memory's share"
        ),
        "{}",
        held.stderr
    );
    assert_eq!(
        held.stdout_bytes.iter().filter(|&&b| b == b'\n').count(),
        1_000
    );
    assert!(
        held.stdout_bytes == full.stdout_bytes,
        "the held file differs"
    );
}
