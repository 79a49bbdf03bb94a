//! `--max-memory` covers the peer table: past its share the peers with the
//! fewest problems are folded into one exact "others" aggregate
//! (`peers_others`), said on stderr, and `merge` of such reports stays
//! exact (docs/report.md, "Peers past the budget"); likewise --group-by
//! port's pairs, and the remedies replay a sample of the local closes
//! (`demand.sampled`).

use finscope_testkit::cli::run;
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

/// The remedies' lives count against `--max-memory` (an eighth of it, 160
/// bytes a life: 1 MiB keeps at most 819): past it the replay runs on a
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
    assert_eq!(u(&s["cap"]), 819, "{s}");
    // 3,000 closes: halved twice (1,500 would still be more than 819).
    assert_eq!(u(&s["weight"]), 4, "{s}");
    let kept = u(&s["kept"]);
    assert!(
        kept <= 819 && kept * 4 > 2_500 && kept * 4 < 3_500,
        "{kept}"
    );
    assert!(
        err.contains(&format!(
            "warning: the remedies replay a sample of the local closes: {kept} kept, each standing for 4 (at most 819 kept within --max-memory 1.0 MiB)"
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
            "  replayed from a sample: {kept} local closes kept, each standing for 4 (at most 819 kept within --max-memory; demand.sampled)"
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
