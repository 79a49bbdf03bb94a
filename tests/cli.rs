//! Every subcommand run as a process: exit codes, stdout and stderr.
//!
//! Exit codes: 0 ok; 1 `check` bound violated / `diff` regression; 2 bad
//! usage or unreadable input; 3 capture corrupt part-way.
//!
//! `analyze --json` output is parsed into the typed `finscope::report::Report`;
//! the `check --json` verdict and the `diff --json` document have no
//! `Deserialize` type in the library and are read as `serde_json::Value`.

use finscope::report::Report;
use finscope_testkit::cli::{self, Run, fixture_arg, json_report, run};
use serde_json::Value;
use std::path::PathBuf;

/// An `analyze --json` document as the typed report, checked to serialize
/// back to exactly the JSON printed (no unknown field, none defaulted).
fn report(r: &Run) -> Report {
    assert_eq!(r.code, 0, "{}", r.stderr);
    let printed: Value = serde_json::from_str(&r.stdout).unwrap();
    let typed: Report = serde_json::from_value(printed.clone()).unwrap();
    assert!(
        serde_json::to_value(&typed).unwrap() == printed,
        "the typed report differs from the JSON printed"
    );
    typed
}

// ---- analyze ----

#[test]
fn analyze_exit_codes() {
    let r = run(&["analyze", "-q", &fixture_arg("sample.pcap")]);
    assert_eq!(r.code, 0);
    assert!(r.stderr.is_empty(), "{}", r.stderr);
    let r = run(&["analyze", "-q", "/nonexistent/x.pcap"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("/nonexistent/x.pcap"), "{}", r.stderr);
    assert!(r.stdout.is_empty());
    let r = run(&["analyze"]);
    assert_eq!(r.code, 2);
    let r = run(&["analyze", "-q", &fixture_arg("truncated_tail.pcap")]);
    assert_eq!(r.code, 0, "a truncated tail is a warning");
    assert!(r.stderr.contains("warning"), "{}", r.stderr);
}

#[test]
fn analyze_empty_directory_and_unmatched_glob() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("README"), "not a capture").unwrap();
    let d = dir.path().display().to_string();
    let r = run(&["analyze", "-q", &d]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no capture file"), "{}", r.stderr);
    let r = run(&["analyze", "-q", &format!("{d}/*.pcap")]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no file matches"), "{}", r.stderr);
    // A directory's non-capture files are skipped with a note.
    std::fs::copy(fixture_arg("fin_4way.pcap"), dir.path().join("a.pcap")).unwrap();
    let r = run(&["analyze", "-q", &d]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("skipped"), "{}", r.stderr);
}

#[test]
fn bzip2_still_asks_to_decompress() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.pcap.bz2");
    std::fs::write(&p, b"BZh91AY&SY\x00\x00\x00\x00").unwrap();
    let r = run(&["analyze", "-q", p.to_str().unwrap()]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("bzip2"), "{}", r.stderr);
}

// ---- --filter ----

#[test]
fn filter_restricts_and_reports_errors() {
    let s = fixture_arg("sample.pcap");
    let all = report(&run(&["analyze", "-q", "--json", &s]));
    let r = run(&[
        "analyze",
        "-q",
        "--json",
        "--filter",
        "net 198.51.100.0/24",
        &s,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = report(&r);
    assert_eq!(v.settings.filter.as_deref(), Some("net 198.51.100.0/24"));
    assert_eq!(v.connections.total, 12, "the slow servers' connections");
    assert_eq!(
        v.fin_retransmissions.total, 24,
        "12 slow connections, 2 each"
    );
    assert_eq!(v.peers.len(), 3, "the three slow servers");
    for p in &v.peers {
        assert!(p.addr.starts_with("198.51.100."), "{}", p.addr);
    }
    // The complement and the filter add up.
    let r = run(&[
        "analyze",
        "-q",
        "--json",
        "--filter",
        "not net 198.51.100.0/24",
        &s,
    ]);
    let n = report(&r);
    assert_eq!(
        v.connections.total + n.connections.total,
        all.connections.total
    );
    assert_eq!(
        n.packets.frames, n.packets.tcp,
        "non-TCP frames are filtered out"
    );

    let r = run(&["analyze", "-q", "--filter", "port 443 and hots 1.2.3.4", &s]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("column 14"), "{}", r.stderr);
    assert!(r.stderr.contains("`hots`"), "{}", r.stderr);
    assert!(r.stdout.is_empty());
}

// ---- --group-by ----

#[test]
fn group_by_prefix_and_port() {
    let s = fixture_arg("sample.pcap");
    let r = run(&["analyze", "-q", "--json", "--group-by", "prefix:24", &s]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = report(&r);
    assert_eq!(v.group_by.as_deref(), Some("prefix:24,64"));
    let top = &v.peers[0];
    assert_eq!(top.addr, "198.51.100.0/24", "the slow pool ranks first");
    assert_eq!(top.members, Some(3));
    assert_eq!(top.worst_members.len(), 3);
    assert_eq!(top.counts.connections, 12);
    let r = run(&["analyze", "-q", "--json", "--group-by", "port", &s]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = report(&r);
    assert_eq!(v.group_by.as_deref(), Some("port"));
    let conns: u64 = v.peers.iter().map(|p| p.counts.connections).sum();
    assert_eq!(conns, v.connections.total);
    assert!(v.peers[0].addr.starts_with("port "), "{}", v.peers[0].addr);
    let members: u64 = v.peers[0].members.unwrap();
    let shown = v.peers[0].worst_members.len() as u64;
    assert_eq!(shown, members.min(5));
    let text = run(&["analyze", "-q", "--group-by", "prefix:24", &s]);
    assert!(text.stdout.contains("198.51.100.0/24"), "{}", text.stdout);
    // A line under each group: its worst members (up to 5) and their count.
    let first = &top.worst_members[0];
    assert!(
        text.stdout
            .contains(&format!("      members (3): {first}, ")),
        "{}",
        text.stdout
    );
    let r = run(&["analyze", "-q", "--group-by", "asn", &s]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("prefix:N"), "{}", r.stderr);
}

// ---- check ----

#[test]
fn check_passes_and_fails() {
    let s = fixture_arg("sample.pcap");
    let r = run(&[
        "check",
        "-q",
        "--max-fin-ratio",
        "0.5",
        "--max-rst-ratio",
        "50%",
        &s,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with("ok: all 2 bound(s) hold"),
        "{}",
        r.stdout
    );

    let r = run(&[
        "check",
        "-q",
        "--max-fin-ratio",
        "0.5",
        "--max-fin-retrans",
        "3",
        "--max-p99-fin-ack",
        "1s",
        &s,
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "one line per violated bound: {}", r.stdout);
    assert!(lines[0].starts_with("FAIL max-fin-retrans: fin_retransmissions.total 32 > 3"));
    assert!(
        lines[0].contains("worst peers: 198.51.100.66 (10)"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("FAIL max-p99-fin-ack:"),
        "{}",
        lines[1]
    );
    assert!(lines[1].contains("198.51.100."), "{}", lines[1]);
    assert!(
        r.stderr.contains("2 of 3 bound(s) violated"),
        "{}",
        r.stderr
    );
}

#[test]
fn check_json_verdict() {
    let r = run(&[
        "check",
        "-q",
        "--json",
        "--max-fin-retrans",
        "5%",
        "--max-unacked-fins",
        "0",
        &fixture_arg("sample.pcap"),
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["verdict_version"], 1);
    assert_eq!(v["ok"], false);
    let checks = v["checks"].as_array().unwrap();
    assert_eq!(checks[0]["bound"], "max-fin-retrans");
    assert_eq!(checks[0]["unit"], "ratio");
    assert_eq!(checks[0]["ok"], false);
    assert!(!checks[0]["worst_peers"].as_array().unwrap().is_empty());
    assert_eq!(checks[1]["bound"], "max-unacked-fins");
}

#[test]
fn check_config_file_and_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("finscope.toml");
    std::fs::write(
        &cfg,
        "[check]\nmax-fin-retrans = 3\nmax-fin-ratio = \"50%\"\n",
    )
    .unwrap();
    let (c, s) = (cfg.to_str().unwrap(), fixture_arg("sample.pcap"));
    let r = run(&["check", "-q", "--config", c, &s]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("> 3"), "{}", r.stdout);
    // The command line wins over the file.
    let r = run(&["check", "-q", "--config", c, "--max-fin-retrans", "100", &s]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    std::fs::write(&cfg, "[check]\nmax-fin-retrans = \"many\"\n").unwrap();
    let r = run(&["check", "-q", "--config", c, &s]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("max-fin-retrans = many"), "{}", r.stderr);
    std::fs::write(&cfg, "[check]\nmax_fin_retrans = 3\n").unwrap();
    let r = run(&["check", "-q", "--config", c, &s]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("max_fin_retrans"), "{}", r.stderr);
}

#[test]
fn check_usage_errors() {
    let s = fixture_arg("sample.pcap");
    let r = run(&["check", "-q", &s]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no bound given"), "{}", r.stderr);
    let r = run(&["check", "-q", "--max-p99-fin-ack", "soon", &s]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("duration"), "{}", r.stderr);
    let r = run(&["check", "-q", "--max-fin-ratio", "0.1", "/nonexistent.pcap"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("/nonexistent.pcap"), "{}", r.stderr);
    let r = run(&["check", "-q", "--config", "/nonexistent.toml", &s]);
    assert_eq!(r.code, 2);
}

#[test]
fn check_a_saved_report() {
    let dir = tempfile::tempdir().unwrap();
    let rep = json_report(dir.path(), "r.json", &[&fixture_arg("fin_retransmit.pcap")]);
    let r = run(&["check", "--max-fin-retrans", "0", &rep]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stdout.starts_with("FAIL max-fin-retrans"), "{}", r.stdout);
    let r = run(&["check", "--max-fin-retrans", "1000", &rep]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn check_corrupt_capture_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = std::fs::read(fixture_arg("fin_4way.pcap")).unwrap();
    // A record header claiming an absurd length, after the first record.
    let first = 24 + 16 + u32::from_le_bytes(b[32..36].try_into().unwrap()) as usize;
    b[first + 8..first + 12].copy_from_slice(&0x7fff_0000u32.to_le_bytes());
    let p = dir.path().join("bad.pcap");
    std::fs::write(&p, &b).unwrap();
    let r = run(&["check", "-q", "--max-fin-ratio", "1", p.to_str().unwrap()]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("corrupt"), "{}", r.stderr);
}

// ---- diff ----

#[test]
fn diff_same_and_regressed() {
    let dir = tempfile::tempdir().unwrap();
    let base = json_report(dir.path(), "base.json", &[&fixture_arg("fin_4way.pcap")]);
    let same = run(&["diff", &base, &base]);
    assert_eq!(same.code, 0, "{}", same.stderr);
    assert_eq!(same.stdout.trim(), "no regression");

    let new = json_report(
        dir.path(),
        "new.json",
        &[&fixture_arg("fin_retransmit.pcap")],
    );
    let r = run(&["diff", &base, &new]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("WORSE  fin_retransmission_rate"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("appeared"), "{}", r.stdout);
    assert!(r.stdout.lines().last().unwrap().starts_with("regression:"));
    // The other way round nothing got worse.
    let r = run(&["diff", &new, &base]);
    assert_eq!(r.code, 0, "{}", r.stdout);

    let r = run(&["diff", "--json", &base, &new]);
    assert_eq!(r.code, 1);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["regression"], true);
    let f = v["figures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["figure"] == "fin_retransmission_rate")
        .unwrap();
    assert_eq!(f["regressed"], true);

    // A generous absolute tolerance for every figure that moved hides it.
    let r = run(&[
        "diff",
        "--tolerance",
        "fin_retransmission_rate=1",
        "--tolerance",
        "fin_ack_p50_us=100000000",
        "--tolerance",
        "fin_ack_p99_us=100000000",
        "--tolerance",
        "close_total_p99_us=100000000",
        "--tolerance",
        "fin_ratio=1",
        &base,
        &new,
    ]);
    assert!(!r.stdout.contains("WORSE  fin_"), "{}", r.stdout);
    // Only the peer that appeared is still worse.
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .lines()
            .last()
            .unwrap()
            .starts_with("regression: 0 figure(s) and 1 peer(s) worse"),
        "{}",
        r.stdout
    );
    let r = run(&["diff", "--tolerance", "fin_ration=1", &base, &new]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("unknown figure `fin_ration`"),
        "{}",
        r.stderr
    );
}

#[test]
fn diff_refuses_other_schemas() {
    let dir = tempfile::tempdir().unwrap();
    let base = json_report(dir.path(), "base.json", &[&fixture_arg("fin_4way.pcap")]);
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&base).unwrap()).unwrap();
    for (version, msg) in [
        (99, "newer than this finscope reads"),
        (0, "no longer read"),
    ] {
        v["schema_version"] = version.into();
        let p = dir.path().join(format!("v{version}.json"));
        std::fs::write(&p, v.to_string()).unwrap();
        let r = run(&["diff", &base, p.to_str().unwrap()]);
        assert_eq!(r.code, 2, "{version}");
        assert!(r.stderr.contains(msg), "{}", r.stderr);
    }
    let p = dir.path().join("other.json");
    std::fs::write(&p, "{\"hello\": 1}").unwrap();
    let r = run(&["diff", &base, p.to_str().unwrap()]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("not a finscope report"), "{}", r.stderr);
    let r = run(&["diff", &base, "/nonexistent.json"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("/nonexistent.json"), "{}", r.stderr);
}

// ---- --flows ----

#[test]
fn flows_formats() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("f.csv");
    let r = run(&[
        "analyze",
        "-q",
        "--flows",
        p.to_str().unwrap(),
        "--flows-format",
        "csv",
        &fixture_arg("fin_retransmit.pcap"),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let csv = std::fs::read_to_string(&p).unwrap();
    let mut lines = csv.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("first_ts_us,last_ts_us,end_ts_us,")
    );
    assert_eq!(lines.count(), 1);
    let r = run(&[
        "analyze",
        "-q",
        "--flows-format",
        "csv",
        &fixture_arg("fin_4way.pcap"),
    ]);
    assert_eq!(r.code, 2, "--flows-format needs --flows");
    let r = run(&[
        "analyze",
        "-q",
        "--flows",
        "/nonexistent/dir/f.jsonl",
        &fixture_arg("fin_4way.pcap"),
    ]);
    // The file cannot be created: named, the report still printed, exit 4.
    assert_eq!(r.code, 4);
    assert!(r.stdout.contains("TEARDOWN SHARE"), "{}", r.stdout);
    assert!(
        r.stderr.contains("/nonexistent/dir/f.jsonl"),
        "{}",
        r.stderr
    );
}

// ---- docs/ci.md ----

/// The CI example in docs/ci.md: its config file and its commands, run as written.
#[test]
fn ci_doc_example_runs() {
    let doc = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/ci.md"))
        .unwrap();
    let block = |tag: &str| -> String {
        let start = doc.find(&format!("```{tag}\n")).unwrap() + tag.len() + 4;
        let end = doc[start..].find("```").unwrap() + start;
        doc[start..end].to_string()
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("finscope.toml"), block("toml")).unwrap();
    std::fs::create_dir(dir.path().join("traces")).unwrap();
    std::fs::copy(
        fixture_arg("sample.pcap"),
        dir.path().join("traces/smoke.pcap"),
    )
    .unwrap();
    let bin = cli::bin();
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // The workflow's `run:` step, as a shell script.
    let yaml = block("yaml");
    let script: String = yaml
        .lines()
        .skip_while(|l| !l.contains("# finscope-check-begin"))
        .take_while(|l| !l.contains("# finscope-check-end"))
        .map(|l| l.trim_start())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(script.contains("finscope check"), "{script}");
    let out = std::process::Command::new("bash")
        .arg("-ec")
        .arg(&script)
        .current_dir(dir.path())
        .env("PATH", path)
        .output()
        .unwrap();
    let code = out.status.code();
    let stdout = String::from_utf8_lossy(&out.stdout);
    // sample.pcap has slow peers: the example's bounds catch them.
    assert_eq!(
        code,
        Some(1),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("FAIL max-fin-retrans"), "{stdout}");
    assert!(dir.path().join("finscope-verdict.json").exists());
}

// ---- everyday use: --flows by extension and to stdout, check and diff edges ----

#[test]
fn flows_format_follows_the_extension_and_dash_is_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture_arg("sample.pcap");
    let csv = dir.path().join("flows.csv").display().to_string();
    let r = run(&["analyze", "-q", "--flows", &csv, &f]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(
        text.starts_with("first_ts_us,"),
        "CSV header: {}",
        &text[..40]
    );
    assert_eq!(text.lines().count(), 1 + 121);
    let jsonl = dir.path().join("flows.jsonl").display().to_string();
    let r = run(&["analyze", "-q", "--flows", &jsonl, &f]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = std::fs::read_to_string(&jsonl).unwrap();
    assert!(text.starts_with("{\"first_ts_us\":"));
    // A contradiction is an error, before anything is read.
    let r = run(&[
        "analyze",
        "-q",
        "--flows",
        &csv,
        "--flows-format",
        "jsonl",
        &f,
    ]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("flows.csv") && r.stderr.contains("csv") && r.stderr.contains("jsonl"),
        "{}",
        r.stderr
    );
    // `-`: the records on standard output, instead of the report.
    let r = run(&["analyze", "-q", "--flows", "-", &f]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.lines().count(), 121);
    assert!(r.stdout.lines().all(|l| l.starts_with('{')));
    let r = run(&["analyze", "-q", "--flows", "-", "--flows-format", "csv", &f]);
    assert_eq!(r.stdout.lines().count(), 1 + 121);
    let r = run(&["analyze", "-q", "--json", "--flows", "-", &f]);
    assert_eq!(r.code, 2, "one standard output");
}

/// An output given as `-` takes standard output instead of the report
/// (nothing else is mixed into it); two of them are refused, naming both.
#[test]
fn one_output_takes_standard_output() {
    let f = fixture_arg("sample.pcap");
    let r = run(&["analyze", "-q", "--json-out", "-", &f]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).expect("only the JSON");
    assert_eq!(doc["packets"]["frames"], 1209);
    let r = run(&["timeline", "-q", "--csv", "-", &f]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("t_us,end_us,"), "{}", r.stdout);
    // 30 buckets of 1 s and the header: no chart after them.
    assert_eq!(r.stdout.lines().count(), 31, "{}", r.stdout);
    for (cmd, a, b) in [
        ("analyze", "--json-out", "--html"),
        ("analyze", "--json-out", "--flows"),
        ("timeline", "--csv", "--html"),
    ] {
        let r = run(&[cmd, "-q", a, "-", b, "-", &f]);
        assert_eq!(r.code, 2, "{cmd} {a} - {b} -");
        assert!(
            r.stderr
                .contains(&format!("{a} - and {b} - both write to standard output")),
            "{}",
            r.stderr
        );
        assert!(r.stdout.is_empty());
    }
    let r = run(&["timeline", "-q", "--json", "--csv", "-", &f]);
    assert_eq!(r.code, 2);
}

#[test]
fn check_of_a_saved_report_refuses_analysis_flags() {
    let dir = tempfile::tempdir().unwrap();
    let rep = json_report(dir.path(), "r.json", &[&fixture_arg("fin_4way.pcap")]);
    let r = run(&["check", "--max-fin-ratio", "1", &rep]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for flags in [
        &["--local", "10.0.0.0/8"][..],
        &["--filter", "port 80"],
        &["--group-by", "port"],
    ] {
        let mut args = vec!["check", "--max-fin-ratio", "1"];
        args.extend_from_slice(flags);
        args.push(&rep);
        let r = run(&args);
        assert_eq!(r.code, 2, "{flags:?}");
        assert!(r.stderr.contains(flags[0]), "{}", r.stderr);
    }
}

#[test]
fn diff_notes_are_plain_words() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture_arg("fin_4way.pcap");
    let a = json_report(dir.path(), "a.json", &[&f]);
    let b = json_report(
        dir.path(),
        "b.json",
        &["--local", "10.0.0.0/8", "--filter", "port 80", &f],
    );
    let r = run(&["diff", &a, &b]);
    assert!(
        r.stderr
            .contains("--local differs: the client (default) vs 10.0.0.0/8"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("--filter differs: none vs "),
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("Some(") && !r.stderr.contains("[\""),
        "{}",
        r.stderr
    );
}

/// A capture with frames but no decodable TCP segment (an unsupported link
/// type) says so everywhere, and `check` refuses it rather than passing.
#[test]
fn nothing_decoded_is_said_and_check_fails() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("user0.pcap");
    let mut b = Vec::new();
    b.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&4u16.to_le_bytes());
    b.extend_from_slice(&[0; 8]);
    b.extend_from_slice(&65535u32.to_le_bytes());
    b.extend_from_slice(&147u32.to_le_bytes()); // LINKTYPE_USER0
    for i in 0..3u32 {
        b.extend_from_slice(&(1_700_000_000 + i).to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&40u32.to_le_bytes());
        b.extend_from_slice(&40u32.to_le_bytes());
        b.extend_from_slice(&[0x45; 40]);
    }
    std::fs::write(&p, &b).unwrap();
    let f = p.display().to_string();
    let r = run(&["analyze", "-q", &f]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("no TCP segment could be decoded"),
        "{}",
        r.stderr
    );
    assert!(
        r.stdout
            .contains("3 frames but no TCP segment could be decoded"),
        "{}",
        r.stdout
    );
    // The sections with nothing to say are a line each.
    for line in [
        "TEARDOWN SHARE  no FIN segment  (SYN 0, RST 0, pure ACK 0)",
        "CONNECTIONS    0",
        "CLOSE LATENCY  (no close with a FIN was seen)",
        "WORST REMOTE PEERS  (none)",
        "LOCAL SOCKET STATES  no local socket in a closing state at any time",
    ] {
        assert!(
            r.stdout.contains(&format!("\n{line}\n\n")),
            "{line}: {}",
            r.stdout
        );
    }
    let r = run(&["analyze", "-q", "--json", &f]);
    let doc: finscope::report::Report = serde_json::from_str(&r.stdout).unwrap();
    assert!(doc.capture.no_tcp);
    assert_eq!((doc.packets.frames, doc.packets.tcp), (3, 0));
    let r = run(&["check", "--max-fin-ratio", "1", &f]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no TCP segment"), "{}", r.stderr);
    // A capture with TCP is not flagged.
    let r = run(&["analyze", "-q", "--json", &fixture_arg("fin_4way.pcap")]);
    let doc: finscope::report::Report = serde_json::from_str(&r.stdout).unwrap();
    assert!(!doc.capture.no_tcp);
}

/// `--help` is grouped under headings and shows examples that run.
#[test]
fn help_has_headings_and_examples() {
    let r = run(&["analyze", "--help"]);
    assert_eq!(r.code, 0);
    for h in [
        "Input:",
        "Analysis:",
        "Output:",
        "Limits (what-if):",
        "Examples:",
    ] {
        assert!(r.stdout.contains(h), "{h} missing:\n{}", r.stdout);
    }
    let r = run(&["check", "--help"]);
    assert!(r.stdout.contains("Check bounds:"), "{}", r.stdout);
    // The diff example's figure name is one diff knows.
    let dir = tempfile::tempdir().unwrap();
    let a = json_report(dir.path(), "a.json", &[&fixture_arg("fin_4way.pcap")]);
    let r = run(&[
        "diff",
        "--tolerance",
        "5%",
        "--tolerance",
        "fin_ack_p99_us=20%",
        &a,
        &a,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn completions_and_man_page() {
    for shell in ["bash", "zsh", "fish"] {
        let r = run(&["completions", shell]);
        assert_eq!(r.code, 0, "{shell}");
        assert!(
            r.stdout.contains("finscope") && r.stdout.contains("analyze"),
            "{shell}"
        );
        assert!(r.stdout.contains("local"), "{shell}");
    }
    let r = run(&["man"]);
    assert_eq!(r.code, 0);
    assert!(
        r.stdout.starts_with(".ie") || r.stdout.contains(".TH"),
        "{}",
        &r.stdout[..80]
    );
    assert!(r.stdout.contains("finscope"));
    assert_eq!(run(&["completions", "tcsh"]).code, 2);
}

/// At 80 columns (a terminal's width, or `$COLUMNS`) no line of the text
/// outputs is wider; a pipe without `$COLUMNS` keeps whole lines.
#[test]
fn text_fits_80_columns() {
    let sample = fixture_arg("sample.pcap");
    for args in [
        vec!["analyze", "-q", sample.as_str()],
        vec!["timeline", "-q", sample.as_str()],
        vec![
            "analyze",
            "-q",
            "--top",
            "3",
            "--group-by",
            "port",
            sample.as_str(),
        ],
    ] {
        let out = cli::cmd()
            .env("COLUMNS", "80")
            .args(&args)
            .output()
            .expect("run");
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        // A Wireshark filter is never wrapped: a line of its own.
        let wide: Vec<&str> = text
            .lines()
            .filter(|l| l.chars().count() > 80 && !l.starts_with("        ip"))
            .collect();
        assert!(wide.is_empty(), "{args:?}: {wide:#?}");
        assert!(text.lines().count() > 20, "{text}");
        if args.len() == 3 {
            // Table rows are not wrapped: the worst peer's row holds all
            // nine columns on one line; the chart's labels are whole.
            let row = text.lines().find(|l| l.starts_with("  198.51.100.66 "));
            let cells = row.map(|r| r.split_whitespace().count());
            assert!(cells == Some(9) || args[0] == "timeline", "{row:?}");
            assert!(args[0] == "analyze" || text.contains("  orphans (estimate) |"));
        }
    }
    let out = cli::cmd()
        .env_remove("COLUMNS")
        .args(["analyze", "-q", sample.as_str()])
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines().any(|l| l.chars().count() > 80),
        "unwrapped in a pipe"
    );
}

/// `--color always` paints FAIL and the diagnosis headlines; `never`, and
/// `auto` into a pipe (NO_COLOR or not), write plain text.
#[test]
fn color_when_asked_plain_otherwise() {
    let sample = fixture_arg("sample.pcap");
    let run_with = |color: &str, no_color: bool| {
        let mut c = cli::cmd();
        if no_color {
            c.env("NO_COLOR", "1");
        } else {
            c.env_remove("NO_COLOR");
        }
        let out = c
            .args([
                "check",
                "--color",
                color,
                "--max-fin-ratio",
                "0.1",
                sample.as_str(),
            ])
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(1));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(
        run_with("always", false).starts_with("\u{1b}[1m\u{1b}[31mFAIL\u{1b}[0m max-fin-ratio")
    );
    for (color, no_color) in [("never", false), ("auto", false), ("auto", true)] {
        let out = run_with(color, no_color);
        assert!(
            out.starts_with("FAIL max-fin-ratio") && !out.contains('\u{1b}'),
            "{color}: {out}"
        );
    }
    let out = cli::cmd()
        .args(["analyze", "-q", "--color", "always", sample.as_str()])
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("  1. \u{1b}[1mLocal sockets sit in FIN-WAIT-1"),
        "{text}"
    );
}

/// Every `--flows` column is documented in docs/flows.md, and the CSV and
/// JSON Lines records carry the same columns.
#[test]
fn flows_columns_are_documented() {
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = dir.path().join("f.csv");
    let jsonl = dir.path().join("f.jsonl");
    let sample = fixture_arg("vlan_qinq.pcap");
    for out in [&csv, &jsonl] {
        let o = cli::cmd()
            .args(["analyze", "-q", "--flows"])
            .arg(out)
            .arg(&sample)
            .output()
            .expect("run");
        assert!(o.status.success());
    }
    let text = std::fs::read_to_string(&csv).expect("csv");
    let header: Vec<&str> = text.lines().next().unwrap_or("").split(',').collect();
    let first: Value = serde_json::from_str(
        std::fs::read_to_string(&jsonl)
            .expect("jsonl")
            .lines()
            .next()
            .unwrap_or("{}"),
    )
    .expect("json line");
    let keys: Vec<&str> = first
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    let doc =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/flows.md"))
            .expect("docs/flows.md");
    for col in &header {
        assert!(doc.contains(&format!("`{col}`")), "{col} undocumented");
        assert!(keys.contains(col), "{col} not in JSON Lines");
    }
    assert_eq!(header.len(), keys.len());
    assert_eq!(first["vlan_outer"], 100);
    assert_eq!(first["vlan_inner"], 200);
    assert!(
        first["first_time"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
}

/// With a terminal on standard input, `analyze -` says that it waits for a
/// capture (run under `script`, util-linux's pseudo-terminal, which every
/// Debian has); Ctrl-D (end of input) then ends it: no capture, exit 2.
#[test]
fn analyze_of_a_terminal_says_it_waits() {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("NOTICE: no `script` (util-linux): the terminal-on-stdin test is skipped");
        return;
    }
    let bin = cli::bin();
    let line = format!(
        "(sleep 1; printf '\\004') | timeout 20 script -qfec '{} analyze -' /dev/null",
        bin.display()
    );
    let out = std::process::Command::new("sh")
        .args(["-c", &line])
        .output()
        .expect("sh");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("finscope: waiting for a capture on standard input"),
        "{text}"
    );
    assert!(text.contains("not a pcap or pcapng capture"), "{text}");
    // A pipe is not a terminal: no such line.
    let r = cli::run_stdin(&["analyze", "-"], &[]);
    assert!(!r.stderr.contains("waiting"), "{}", r.stderr);
}

/// Sections with nothing to say (no FIN at all, no socket ever closing)
/// are one line each; with FINs they are whole.
#[test]
fn sections_without_fins_collapse_to_one_line() {
    let text = |f: &str| {
        let out = cli::cmd()
            .env_remove("COLUMNS")
            .args(["analyze", "-q", &fixture_arg(f)])
            .output()
            .expect("run");
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let t = text("open.pcap");
    assert!(
        t.contains("\nTEARDOWN SHARE  no FIN segment  (SYN 2, RST 0, pure ACK 2)\n\nCONNECTIONS"),
        "{t}"
    );
    assert!(t.contains("\nLOCAL SOCKET STATES  no local socket in a closing state at any time\n"));
    assert!(!t.contains("FIN-WAIT-1"), "{t}");
    let t = text("fin_4way.pcap");
    assert!(t.contains("\nTEARDOWN SHARE\n  FIN segments   2 "), "{t}");
    assert!(t.contains("  FIN-WAIT-1  "), "{t}");
}
