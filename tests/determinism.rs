//! Determinism: the report does not depend on the thread count or on how the
//! input is cut into batches.
//!
//! For every capture in `testdata/` (and, when present, in
//! `../shared/captures` or `$FINSCOPE_CAPTURES`), `finscope analyze` with
//! `-j1`, with `-j2`, and with `-j2` plus the smallest reader buffer
//! (`FINSCOPE_BUFFER=65536`, many small batches) prints byte-identical
//! JSON and text reports, with the same exit status; and `-j3` with that
//! buffer the same JSON (three shards: frames routed before they are
//! decoded, one free-running thread per shard, `pipeline/flight.rs`).
//!
//! Every run must also have succeeded before its output is compared: exit 0
//! (docs/report.md; a truncated tail is only a warning), or exit 3 for a
//! capture known to be damaged part-way (the shared folder's `oracle.json`
//! marks the files tshark reports an error on), and a non-empty report: JSON
//! that parses into the typed `Report`, or the text report's sections.

use finscope::report::{Report, SCHEMA_VERSION};
use finscope_testkit::cli::{self, Run};
use std::path::{Path, PathBuf};

fn captures(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .collect();
    v.sort();
    v
}

/// Exit status finscope must give for a capture.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    /// Exit 0: the capture is whole or only cut short.
    Ok,
    /// Exit 3: damaged part-way; the report of what was read is still printed.
    Corrupt,
    /// Not known (a shared capture that `oracle.json` does not list):
    /// exit 0, or exit 3 with the documented message.
    Either,
}

fn run(path: &Path, json: bool, threads: &str, buffer: Option<&str>) -> Run {
    let mut cmd = cli::command();
    cmd.arg("analyze").arg("-q").arg("-j").arg(threads);
    if json {
        cmd.arg("--json");
    }
    cmd.arg(path);
    if let Some(b) = buffer {
        cmd.env("FINSCOPE_BUFFER", b);
    }
    cli::run_command(&mut cmd)
}

/// Checks that a run succeeded as expected and printed a non-empty, valid
/// report; returns why not.
fn check_run(path: &Path, json: bool, expect: Expect, r: &Run) -> Result<(), String> {
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let corrupt = match (expect, r.code) {
        (Expect::Ok | Expect::Either, 0) => false,
        (Expect::Corrupt | Expect::Either, 3) => true,
        (_, code) => {
            return Err(format!(
                "exit {code:?}, expected {expect:?}; stderr: {}",
                r.stderr
            ));
        }
    };
    if r.stderr.contains("panicked") {
        return Err(format!("panic: {}", r.stderr));
    }
    if corrupt && !(r.stderr.contains("corrupt") && r.stderr.contains(&name)) {
        return Err(format!(
            "exit 3 without a message naming the file and the damage: {}",
            r.stderr
        ));
    }
    if json {
        let rep: Report = serde_json::from_slice(&r.stdout_bytes)
            .map_err(|e| format!("stdout is not a JSON report ({e})"))?;
        if rep.schema_version != SCHEMA_VERSION {
            return Err(format!("schema_version {}", rep.schema_version));
        }
        let [file] = rep.capture.files.as_slice() else {
            return Err(format!("{} files in the report", rep.capture.files.len()));
        };
        if file.records != rep.packets.frames {
            return Err(format!(
                "records {} vs packets.frames {}",
                file.records, rep.packets.frames
            ));
        }
        // Reading stopped early exactly when the capture was cut or damaged.
        if file.error.is_some() != (corrupt || rep.truncated) {
            return Err(format!(
                "capture.files[0].error {:?} with exit {:?}, truncated {}",
                file.error, r.code, rep.truncated
            ));
        }
    } else {
        let text = &r.stdout;
        for section in ["TEARDOWN SHARE", "CONNECTIONS", "CLOSE LATENCY"] {
            if !text.contains(section) {
                return Err(format!("text report without {section}:\n{text}"));
            }
        }
    }
    Ok(())
}

/// Shared captures that tshark reports an error on (`oracle.json`'s
/// `tshark_reported_error`): damaged part-way. `None` without `oracle.json`.
fn damaged_per_oracle(dir: &Path) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(dir.join("oracle.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).expect("oracle.json is JSON");
    let files = v.as_object().expect("oracle.json is an object");
    Some(
        files
            .iter()
            .filter(|(_, want)| want["tshark_reported_error"] == serde_json::Value::Bool(true))
            .map(|(name, _)| name.clone())
            .collect(),
    )
}

#[test]
fn reports_identical_for_any_thread_count_and_batch_size() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let shared = match std::env::var_os("FINSCOPE_CAPTURES") {
        Some(d) => PathBuf::from(d),
        None => root.join("../shared/captures"),
    };
    // Every generated fixture is whole (truncated_tail.pcap is only cut short).
    let mut files: Vec<(PathBuf, Expect)> = captures(&root.join("testdata"))
        .into_iter()
        .map(|p| (p, Expect::Ok))
        .collect();
    assert!(
        files.len() >= 20,
        "only {} captures in testdata/",
        files.len()
    );
    let damaged = damaged_per_oracle(&shared);
    for p in captures(&shared) {
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
        let expect = match (&damaged, name) {
            (Some(d), Some(n)) if d.contains(&n) => Expect::Corrupt,
            (Some(_), _) => Expect::Ok,
            (None, _) => Expect::Either,
        };
        files.push((p, expect));
    }
    let mut failures = Vec::new();
    for (f, expect) in &files {
        for json in [true, false] {
            let kind = if json { "json" } else { "text" };
            let base = run(f, json, "1", None);
            if let Err(e) = check_run(f, json, *expect, &base) {
                failures.push(format!("{} ({kind}, -j1): {e}", f.display()));
                continue;
            }
            let variants: &[(&str, Option<&str>)] = if json {
                &[("2", None), ("2", Some("65536")), ("3", Some("65536"))]
            } else {
                &[("2", Some("65536"))]
            };
            for &(j, buf) in variants {
                let r = run(f, json, j, buf);
                let what = format!(
                    "{} ({kind}, -j{j}, buffer {})",
                    f.display(),
                    buf.unwrap_or("default")
                );
                if let Err(e) = check_run(f, json, *expect, &r) {
                    failures.push(format!("{what}: {e}"));
                } else if r.code != base.code {
                    failures.push(format!("{what}: exit {:?}, -j1 {:?}", r.code, base.code));
                } else if r.stdout_bytes != base.stdout_bytes {
                    failures.push(format!("{what}: report differs from -j1"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "runs failed or reports differ from -j1:\n{}",
        failures.join("\n")
    );
}
