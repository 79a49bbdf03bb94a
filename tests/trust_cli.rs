//! Issue 20 ("Trust"), items 6-18: what a new user trips over, each run as
//! a process. Every test here failed before its fix.

#![cfg(unix)]

use assert_cmd::Command;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(name)
        .display()
        .to_string()
}

fn bin() -> String {
    assert_cmd::cargo::cargo_bin("finscope")
        .display()
        .to_string()
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str]) -> Run {
    let out = Command::cargo_bin("finscope")
        .expect("binary")
        .env_remove("FINSCOPE_BUFFER")
        .env_remove("COLUMNS")
        .args(args)
        .output()
        .expect("run");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs a shell line with `$FS` the binary; its exit status is the line's
/// (`${PIPESTATUS[0]}` is echoed by the caller when it needs finscope's).
fn sh(line: &str) -> Run {
    let out = std::process::Command::new("bash")
        .args(["-c", line])
        .env("FS", bin())
        .env_remove("COLUMNS")
        .output()
        .expect("bash");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn json_report(dir: &Path, name: &str, args: &[&str]) -> String {
    let p = dir.join(name).display().to_string();
    let mut a = vec!["analyze", "-q", "--json-out", &p];
    a.extend_from_slice(args);
    let r = run(&a);
    assert_eq!(r.code, 0, "{}", r.stderr);
    p
}

// ---- 15: completions and man written like every other output ----

#[test]
fn completions_on_a_full_disk_exit_4_and_on_a_closed_pipe_0() {
    for sub in ["completions bash", "completions zsh", "man"] {
        let r = sh(&format!("$FS {sub} >/dev/full"));
        assert_eq!(r.code, 4, "{sub}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
        assert!(
            r.stderr
                .contains("finscope: error: standard output: No space left on device"),
            "{}",
            r.stderr
        );
        let r = sh(&format!("$FS {sub} | true; echo ${{PIPESTATUS[0]}}"));
        assert_eq!(r.stdout.trim(), "0", "{sub}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    }
    let r = run(&["completions", "bash"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("_finscope()"), "{}", r.stdout);
}

// ---- 10: diff/merge given a capture ----

#[test]
fn diff_and_merge_of_a_capture_say_run_analyze_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = json_report(dir.path(), "r.json", &[&fixture("sample.pcap")]);
    // A gzip-compressed capture is a capture too.
    let gz = dir.path().join("x.pcap.gz");
    let r = sh(&format!(
        "gzip -c {} > {}",
        fixture("sample.pcap"),
        gz.display()
    ));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let gz = gz.display().to_string();
    for (args, named) in [
        (
            vec!["diff", report.as_str(), &fixture("sample.pcap")],
            fixture("sample.pcap"),
        ),
        (
            vec!["diff", &fixture("ipv6.pcap"), report.as_str()],
            fixture("ipv6.pcap"),
        ),
        (
            vec!["merge", report.as_str(), &fixture("multi_idb.pcapng")],
            fixture("multi_idb.pcapng"),
        ),
        (vec!["merge", gz.as_str()], gz.clone()),
    ] {
        let r = run(&args);
        assert_eq!(r.code, 2, "{args:?}");
        assert_eq!(
            r.stderr,
            format!(
                "finscope: error: {named} is a capture, not a report: run `finscope analyze --json` on it first\n"
            ),
            "{args:?}"
        );
        assert!(r.stdout.is_empty());
    }
}

// ---- 18: what was silently accepted ----

#[test]
fn a_report_with_a_key_twice_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = json_report(dir.path(), "r.json", &[&fixture("sample.pcap")]);
    let text = std::fs::read_to_string(&report).expect("read");
    // `"frames": N` in `packets` given a second time with another value.
    let at = text.find("\"packets\": {").expect("packets") + 14;
    let doubled = format!("{}\n    \"frames\": 999999,{}", &text[..at], &text[at..]);
    let bad = dir.path().join("dup.json");
    std::fs::write(&bad, doubled).expect("write");
    let bad = bad.display().to_string();
    for args in [
        vec!["diff", report.as_str(), bad.as_str()],
        vec!["merge", bad.as_str()],
        vec!["check", "--max-unacked-fins", "100", bad.as_str()],
    ] {
        let r = run(&args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stdout);
        assert!(
            r.stderr.contains(&format!(
                "{bad}: key `frames` appears twice in one object (at `packets`)"
            )),
            "{args:?}: {}",
            r.stderr
        );
    }
    // The report as written loads.
    let r = run(&["diff", report.as_str(), report.as_str()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

// ---- 12: --group-by prefix:33, --bucket 1us, analyse ----

#[test]
fn group_by_an_ipv4_prefix_past_32_is_refused() {
    let s = fixture("sample.pcap");
    for bad in ["prefix:33", "prefix:47", "prefix:33,64", "prefix:24,129"] {
        let r = run(&["analyze", "-q", "--group-by", bad, &s]);
        assert_eq!(r.code, 2, "{bad}");
        assert!(
            r.stderr.contains(&format!("`{bad}`: an IP")),
            "{}",
            r.stderr
        );
    }
    let r = run(&["analyze", "-q", "--group-by", "prefix:33", &s]);
    assert!(
        r.stderr.contains("an IPv4 prefix is at most 32"),
        "{}",
        r.stderr
    );
    // The documented forms still hold.
    for good in ["prefix:32", "prefix:48", "prefix:64", "prefix:24,40"] {
        let r = run(&["analyze", "-q", "--json", "--group-by", good, &s]);
        assert_eq!(r.code, 0, "{good}: {}", r.stderr);
    }
}

#[test]
fn a_bucket_widened_past_the_one_asked_is_said() {
    let s = fixture("sample.pcap");
    let r = run(&["timeline", "-q", "--bucket", "1us", &s]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // 29.78 s in at most 20,000 buckets: 1us doubled eleven times.
    assert_eq!(
        r.stderr,
        "finscope: note: --bucket 1us: the buckets are 2,048us wide (the capture spans 29.8s: 29,779,968 buckets of 1us would cover it, at most 20,000 are kept)\n"
    );
    let r = run(&["timeline", "-q", "--json", "--bucket", "1us", &s]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    assert_eq!(v["bucket_us"], 2048);
    // A width that fits is not remarked on; nor is the default.
    let r = run(&["timeline", "-q", "--bucket", "100ms", &s]);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""));
    let r = run(&["timeline", "-q", &s]);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""));
    // The analyze report keeps 1,000.
    let r = run(&["analyze", "-q", "--bucket", "10ms", &s]);
    assert!(
        r.stderr.contains(
            "--bucket 10.0ms: the buckets are 40.0ms wide (the capture spans 29.8s: 2,984 buckets of 10.0ms would cover it, at most 1,000 are kept)"
        ),
        "{}",
        r.stderr
    );
}

#[test]
fn analyse_is_analyze() {
    let s = fixture("sample.pcap");
    let a = run(&["analyse", "-q", "--json", &s]);
    let b = run(&["analyze", "-q", "--json", &s]);
    assert_eq!(a.code, 0, "{}", a.stderr);
    assert_eq!(a.stdout, b.stdout);
}
