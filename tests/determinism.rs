//! Determinism: the report does not depend on the thread count or on how the
//! input is cut into batches.
//!
//! For every capture in `testdata/` (and, when present, in
//! `../shared/captures` or `$FINSCOPE_CAPTURES`), `finscope analyze` with
//! `-j1`, with `-j2`, and with `-j2` plus the smallest reader buffer
//! (`FINSCOPE_BUFFER=65536`, many small batches) prints byte-identical
//! JSON and text reports.

use assert_cmd::Command;
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

fn run(path: &Path, json: bool, threads: &str, buffer: Option<&str>) -> Vec<u8> {
    let mut cmd = Command::cargo_bin("finscope").expect("finscope binary");
    cmd.arg("analyze").arg("-q").arg("-j").arg(threads);
    if json {
        cmd.arg("--json");
    }
    cmd.arg(path);
    if let Some(b) = buffer {
        cmd.env("FINSCOPE_BUFFER", b);
    }
    cmd.output().expect("run finscope").stdout
}

#[test]
fn reports_identical_for_any_thread_count_and_batch_size() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let shared = match std::env::var_os("FINSCOPE_CAPTURES") {
        Some(d) => PathBuf::from(d),
        None => root.join("../shared/captures"),
    };
    let mut files = captures(&root.join("testdata"));
    files.extend(captures(&shared));
    assert!(!files.is_empty(), "no captures in testdata/");
    let mut failures = Vec::new();
    for f in &files {
        for json in [true, false] {
            let base = run(f, json, "1", None);
            let variants: &[(&str, Option<&str>)] = if json {
                &[("2", None), ("2", Some("65536"))]
            } else {
                &[("2", Some("65536"))]
            };
            for &(j, buf) in variants {
                if run(f, json, j, buf) != base {
                    failures.push(format!(
                        "{} ({}, -j{j}, buffer {})",
                        f.display(),
                        if json { "json" } else { "text" },
                        buf.unwrap_or("default")
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "reports differ from -j1:\n{}",
        failures.join("\n")
    );
}
