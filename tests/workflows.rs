//! Invariants of real workflows, run as processes: a capture cut into parts
//! (as `editcap -c` or `tcpdump -C` would) gives the report of the whole
//! file, in whatever order the parts are named and whether given as files, a
//! directory or a glob; compressed and piped input gives the report of the
//! plain file; flow records agree with the report.

use finscope_testkit::cli::{self, fixture};
use serde_json::Value;
use std::io::Write;
use std::path::Path;

/// `analyze --json` of `args`; the report without the per-file entries
/// (paths and byte counts differ by construction).
fn report(args: &[&str], stdin: Option<Vec<u8>>) -> Value {
    let mut c = cli::cmd();
    c.arg("analyze").arg("--json").arg("-q").args(args);
    if let Some(bytes) = stdin {
        c.write_stdin(bytes);
    }
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["capture"]
        .as_object_mut()
        .unwrap()
        .remove("files")
        .unwrap();
    v
}

/// Splits a classic pcap after every `n` records: each part gets the file
/// header, as `editcap -c n` writes them.
fn split_pcap(bytes: &[u8], n: usize) -> Vec<Vec<u8>> {
    let (hdr, mut rest) = bytes.split_at(24);
    let be = hdr[..4] == [0xa1, 0xb2, 0xc3, 0xd4] || hdr[..4] == [0xa1, 0xb2, 0x3c, 0x4d];
    let mut parts = Vec::new();
    let mut cur = hdr.to_vec();
    let mut count = 0;
    while rest.len() >= 16 {
        let l: [u8; 4] = rest[8..12].try_into().unwrap();
        let caplen = if be {
            u32::from_be_bytes(l)
        } else {
            u32::from_le_bytes(l)
        } as usize;
        let (rec, tail) = rest.split_at(16 + caplen);
        cur.extend_from_slice(rec);
        rest = tail;
        count += 1;
        if count % n == 0 {
            parts.push(std::mem::replace(&mut cur, hdr.to_vec()));
        }
    }
    if cur.len() > 24 {
        parts.push(cur);
    }
    parts
}

fn write_parts(dir: &Path, parts: &[Vec<u8>], name: impl Fn(usize) -> String) -> Vec<String> {
    parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let path = dir.join(name(i));
            std::fs::write(&path, p).unwrap();
            path.display().to_string()
        })
        .collect()
}

#[test]
fn cut_capture_gives_the_whole_report() {
    let whole_path = fixture("sample.pcap");
    let whole = report(&["-j1", whole_path.to_str().unwrap()], None);
    let bytes = std::fs::read(&whole_path).unwrap();
    for n in [13, 100, 500] {
        let parts = split_pcap(&bytes, n);
        assert!(parts.len() > 1, "n={n}");
        let dir = tempfile::tempdir().unwrap();
        // Named so that name order is NOT capture order: the first part last.
        let files = write_parts(dir.path(), &parts, |i| {
            format!("part-{:04}.pcap", (i + 1) % parts.len())
        });
        let args: Vec<&str> = files.iter().map(String::as_str).collect();
        assert_eq!(report(&args, None), whole, "{n} records per part, files");
        // Free-running shards (-j2 and up without a sink) carry the clock
        // and the connections from file to file as -j1 does.
        for j in ["-j2", "-j3"] {
            let with_j: Vec<&str> = std::iter::once(j).chain(args.iter().copied()).collect();
            assert_eq!(report(&with_j, None), whole, "{n} records per part, {j}");
        }
        let reversed: Vec<&str> = args.iter().rev().copied().collect();
        assert_eq!(
            report(&reversed, None),
            whole,
            "{n} records per part, reversed"
        );
        let d = dir.path().to_str().unwrap();
        assert_eq!(report(&[d], None), whole, "{n} records per part, directory");
        let glob = format!("{d}/part-*.pcap");
        assert_eq!(report(&[&glob], None), whole, "{n} records per part, glob");
    }
}

#[test]
fn cut_capture_keeps_flows_and_frame_numbers() {
    let whole_path = fixture("sample.pcap");
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(&whole_path).unwrap();
    let parts = split_pcap(&bytes, 97);
    let files = write_parts(dir.path(), &parts, |i| format!("rot.pcap{i}"));
    let whole_flows = dir.path().join("whole.jsonl");
    let parts_flows = dir.path().join("parts.jsonl");
    cli::cmd()
        .args(["analyze", "-q", "--flows"])
        .arg(&whole_flows)
        .arg(&whole_path)
        .assert()
        .success();
    cli::cmd()
        .args(["analyze", "-q", "-j", "3", "--flows"])
        .arg(&parts_flows)
        .args(&files)
        .assert()
        .success();
    let a = std::fs::read_to_string(&whole_flows).unwrap();
    assert_eq!(a, std::fs::read_to_string(&parts_flows).unwrap());
    assert_eq!(a.lines().count(), 121);
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fn zstd(b: &[u8]) -> Vec<u8> {
    zstd::encode_all(b, 1).unwrap()
}

fn xz(b: &[u8]) -> Vec<u8> {
    let mut w = liblzma::write::XzEncoder::new(Vec::new(), 1);
    w.write_all(b).unwrap();
    w.finish().unwrap()
}

#[test]
fn compressed_and_piped_input_gives_the_plain_report() {
    for name in ["sample.pcap", "multi_idb.pcapng", "fin_retransmit.pcap"] {
        let path = fixture(name);
        let plain = report(&[path.to_str().unwrap()], None);
        let bytes = std::fs::read(&path).unwrap();
        let dir = tempfile::tempdir().unwrap();
        // Extensions that lie: detection is by magic number only.
        for (ext, data) in [
            ("gz", gzip(&bytes)),
            ("zst", zstd(&bytes)),
            ("xz", xz(&bytes)),
            ("pcap", gzip(&bytes)),
        ] {
            let p = dir.path().join(format!("{name}.{ext}"));
            std::fs::write(&p, &data).unwrap();
            assert_eq!(report(&[p.to_str().unwrap()], None), plain, "{name}.{ext}");
            assert_eq!(report(&["-"], Some(data)), plain, "{name}.{ext} on stdin");
        }
        assert_eq!(report(&["-"], Some(bytes)), plain, "{name} on stdin");
    }
}

#[test]
fn compressed_parts_mix_with_plain_parts() {
    let whole_path = fixture("sample.pcap");
    let whole = report(&[whole_path.to_str().unwrap()], None);
    let parts = split_pcap(&std::fs::read(&whole_path).unwrap(), 300);
    let dir = tempfile::tempdir().unwrap();
    let mut args = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let (ext, data) = match i % 3 {
            0 => ("pcap", p.clone()),
            1 => ("pcap.gz", gzip(p)),
            _ => ("pcap.zst", zstd(p)),
        };
        let path = dir.path().join(format!("x{i}.{ext}"));
        std::fs::write(&path, data).unwrap();
        args.push(path.display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(report(&args, None), whole);
}

/// `analyze --json` of one file: (exit code, stderr, report).
fn analyze_file(p: &Path) -> (Option<i32>, String, Option<Value>) {
    let out = cli::cmd()
        .args(["analyze", "-q", "--json"])
        .arg(p)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        serde_json::from_slice(&out.stdout).ok(),
    )
}

#[test]
fn cut_compressed_input_is_a_truncated_capture() {
    let bytes = std::fs::read(fixture("sample.pcap")).unwrap();
    let whole = report(&[fixture("sample.pcap").to_str().unwrap()], None);
    let frames = whole["packets"]["frames"].as_u64().unwrap();
    // One stream each, cut two thirds of the way (the records recovered
    // are checked exactly in tests/reliability.rs). The sample fits in one
    // zstd block (128 KiB), which decodes whole or not at all: two frames,
    // as pzstd writes them, the second cut.
    let cut = |c: Vec<u8>| c[..c.len() * 2 / 3].to_vec();
    let (a, b) = bytes.split_at(bytes.len() / 2);
    let cases: [(&str, Vec<u8>); 3] = [
        ("gz", cut(gzip(&bytes))),
        ("zst", [zstd(a), cut(zstd(b))].concat()),
        ("xz", cut(xz(&bytes))),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (ext, data) in cases {
        let p = dir.path().join(format!("cut.pcap.{ext}"));
        std::fs::write(&p, &data).unwrap();
        let (code, err, r) = analyze_file(&p);
        assert_eq!(code, Some(0), "{ext}: {err}");
        assert!(
            err.contains("warning") && err.contains("cut.pcap"),
            "{ext}: {err}"
        );
        assert!(err.contains("cut short"), "{ext}: {err}");
        let r = r.unwrap();
        assert_eq!(r["truncated"], true, "{ext}");
        assert_eq!(r["capture"]["files"][0]["truncated"], true, "{ext}");
        let n = r["packets"]["frames"].as_u64().unwrap();
        assert!(n > 0 && n < frames, "{ext}: {n} of {frames} frames");
        // On standard input too.
        let out = cli::cmd()
            .args(["analyze", "-q", "--json", "-"])
            .write_stdin(data)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{ext} on stdin");
    }
}

#[test]
fn corrupt_compressed_input_exits_3() {
    let bytes = std::fs::read(fixture("sample.pcap")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // A damaged checksum: every byte decodes, the stream is still corrupt.
    let mut gz = gzip(&bytes);
    let n = gz.len();
    gz[n - 6] ^= 0x55;
    let p = dir.path().join("bad.pcap.gz");
    std::fs::write(&p, &gz).unwrap();
    let (code, err, r) = analyze_file(&p);
    assert_eq!(code, Some(3), "{err}");
    assert!(
        err.contains("bad.pcap.gz") && err.contains("gzip data is corrupt"),
        "{err}"
    );
    assert_eq!(r.unwrap()["truncated"], false);
    // Cut before the capture header is complete: nothing to report (as a
    // plain capture cut inside its header).
    let p = dir.path().join("stub.pcap.gz");
    std::fs::write(&p, &gzip(&bytes)[..12]).unwrap();
    let (code, err, _) = analyze_file(&p);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("stub.pcap.gz") && err.contains("cut short"),
        "{err}"
    );
}

#[test]
fn flows_agree_with_the_report() {
    let path = fixture("sample.pcap");
    let dir = tempfile::tempdir().unwrap();
    let jl = dir.path().join("f.jsonl");
    let out = cli::cmd()
        .args(["analyze", "-q", "--json", "--flows"])
        .arg(&jl)
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = std::fs::read_to_string(&jl).unwrap();
    let recs: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        recs.len() as u64,
        r["connections"]["total"].as_u64().unwrap()
    );
    let sum = |k: &str| recs.iter().map(|x| x[k].as_u64().unwrap()).sum::<u64>();
    assert_eq!(
        sum("local_fin_retransmissions") + sum("remote_fin_retransmissions"),
        r["fin_retransmissions"]["total"].as_u64().unwrap()
    );
    for (col, metric) in [
        ("fin_ack_us", "fin_ack"),
        ("fin_fin_us", "fin_fin"),
        ("close_total_us", "close_total"),
    ] {
        let n = recs.iter().filter(|x| !x[col].is_null()).count() as u64;
        assert_eq!(
            n,
            r["latency"][metric]["all"]["count"].as_u64().unwrap(),
            "{col}"
        );
        let max = recs.iter().filter_map(|x| x[col].as_u64()).max();
        assert_eq!(max, r["latency"][metric]["all"]["max_us"].as_u64(), "{col}");
    }
    for o in ["complete", "reset", "fin_unacked"] {
        let n = recs.iter().filter(|x| x["outcome"] == o).count() as u64;
        assert_eq!(n, r["outcomes"][o].as_u64().unwrap(), "{o}");
    }
    // In retirement order, then by first packet time.
    let ts: Vec<(u64, u64)> = recs
        .iter()
        .map(|x| {
            (
                x["retired_ts_us"].as_u64().unwrap(),
                x["first_ts_us"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(ts.windows(2).all(|w| w[0] <= w[1]));

    // CSV: the same records, the same columns in the same order.
    let csv = dir.path().join("f.csv");
    cli::cmd()
        .args([
            "analyze",
            "-q",
            "-j",
            "4",
            "--flows-format",
            "csv",
            "--flows",
        ])
        .arg(&csv)
        .arg(&path)
        .assert()
        .success();
    let csv = std::fs::read_to_string(&csv).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let keys: Vec<String> = text
        .lines()
        .next()
        .map(|l| {
            // Key order as written (serde_json's Map would sort it).
            l.trim_matches(['{', '}'])
                .split(',')
                .map(|kv| kv.split(':').next().unwrap().trim_matches('"').to_string())
                .collect()
        })
        .unwrap();
    assert_eq!(header, keys);
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), recs.len());
    for (row, rec) in rows.iter().zip(&recs) {
        for (cell, key) in row.split(',').zip(&header) {
            let want = match &rec[*key] {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                v => v.to_string(),
            };
            assert_eq!(cell, want, "{key}");
        }
    }
}

#[test]
fn flows_do_not_depend_on_threads_or_batches() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "sample.pcap",
        "port_reuse.pcap",
        "multi_idb.pcapng",
        "seq_wrap.pcap",
    ] {
        let path = fixture(name);
        if !path.exists() {
            continue;
        }
        let run = |j: &str, buffer: Option<&str>, file: &str| -> (String, Value) {
            let p = dir.path().join(file);
            let mut c = cli::cmd();
            c.args(["analyze", "-q", "--json", "-j", j, "--flows"])
                .arg(&p)
                .arg(&path);
            if let Some(b) = buffer {
                c.env("FINSCOPE_BUFFER", b);
            }
            let out = c.output().unwrap();
            assert!(out.status.success(), "{name}");
            (
                std::fs::read_to_string(&p).unwrap(),
                serde_json::from_slice(&out.stdout).unwrap(),
            )
        };
        let (base, report_with) = run("1", None, "a.jsonl");
        for (j, buf) in [("2", None), ("4", Some("65536")), ("1", Some("65536"))] {
            assert_eq!(run(j, buf, "b.jsonl").0, base, "{name} -j{j} {buf:?}");
        }
        // Streaming the records out changes nothing in the report.
        let plain = report(&[path.to_str().unwrap()], None);
        let mut with = report_with;
        with["capture"].as_object_mut().unwrap().remove("files");
        assert_eq!(with, plain, "{name}");
    }
}

/// `diff` and `check` still read version-1 reports: the layout before the
/// close model (no `killed`/`unanswered`/`rejected`/`one_sided` outcomes,
/// no `unacked_fins`, `inferred_tunables`, SYN states) and with the
/// diagnosis also inside `timeline`.
#[test]
fn version_1_reports_are_still_read() {
    let out = cli::cmd()
        .args(["analyze", "--json", "-q"])
        .arg(fixture("fin_retransmit.pcap"))
        .output()
        .unwrap();
    let v2: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v2["schema_version"], 2);
    assert!(v2["timeline"].get("diagnosis").is_none(), "diagnosis once");
    let mut v1 = v2.clone();
    v1["schema_version"] = 1.into();
    v1["timeline"]["diagnosis"] = v2["diagnosis"].clone();
    for k in ["unacked_fins", "inferred_tunables"] {
        v1.as_object_mut().unwrap().remove(k);
    }
    v1["capture"].as_object_mut().unwrap().remove("one_sided");
    for path in [
        &["outcomes"][..],
        &["outcomes_by_closer", "local_first"],
        &["outcomes_by_closer", "remote_first"],
    ] {
        let o = path.iter().fold(&mut v1, |v, k| &mut v[*k]);
        for k in ["killed", "unanswered", "rejected", "one_sided"] {
            o.as_object_mut().unwrap().remove(k);
        }
    }
    for b in v1["timeline"]["buckets"].as_array_mut().unwrap() {
        b.as_object_mut().unwrap().remove("syn_sent");
        b.as_object_mut().unwrap().remove("syn_recv");
    }
    let dir = tempfile::tempdir().unwrap();
    let (p1, p2) = (dir.path().join("v1.json"), dir.path().join("v2.json"));
    std::fs::write(&p1, serde_json::to_vec(&v1).unwrap()).unwrap();
    std::fs::write(&p2, serde_json::to_vec(&v2).unwrap()).unwrap();
    let out = cli::cmd().arg("diff").arg(&p1).arg(&p2).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli::cmd()
        .args(["check", "--max-fin-ratio", "1"])
        .arg(&p1)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A version 3 report is refused, naming the version.
    v1["schema_version"] = 3.into();
    std::fs::write(&p1, serde_json::to_vec(&v1).unwrap()).unwrap();
    let out = cli::cmd().arg("diff").arg(&p1).arg(&p2).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("schema version 3"));
}
