//! Golden files: every generated capture in testdata/ x {text, JSON} report,
//! compared byte for byte with `tests/golden/<capture>.{txt,json}`.
//!
//! After an intended change of the output, regenerate them with
//! `FINSCOPE_BLESS=1 cargo test --test golden` and review the diff.
//! The JSON is also parsed back into the typed `Report` and must serialize
//! back to exactly the same JSON, so output that no longer matches the schema
//! fails too. Every fixture is a whole capture (truncated_tail.pcap is only
//! cut short, a warning): every run must exit 0.

use finscope::report::Report;
use finscope_testkit::cli;
use std::path::Path;

fn captures() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(cli::root().join("testdata"))
        .expect("testdata")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pcap") || n.ends_with(".pcapng"))
        .collect();
    v.sort();
    v
}

fn run(args: &[&str]) -> Vec<u8> {
    let out = cli::cmd()
        .current_dir(cli::root())
        // Whole lines, whatever the environment's width.
        .env_remove("COLUMNS")
        .args(args)
        .output()
        .expect("run finscope");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn check(golden: &Path, got: &[u8], failures: &mut Vec<String>) {
    if std::env::var_os("FINSCOPE_BLESS").is_some() {
        std::fs::create_dir_all(golden.parent().expect("parent")).expect("mkdir");
        std::fs::write(golden, got).expect("write golden");
        return;
    }
    match std::fs::read(golden) {
        Ok(want) if want == got => {}
        Ok(_) => failures.push(format!("{} differs", golden.display())),
        Err(_) => failures.push(format!("{} is missing", golden.display())),
    }
}

#[test]
fn reports_match_golden_files() {
    let mut failures = Vec::new();
    let names = captures();
    assert!(
        names.len() >= 20,
        "only {} captures in testdata",
        names.len()
    );
    for name in &names {
        let path = format!("testdata/{name}");
        let text = run(&["analyze", "-q", &path]);
        check(
            &cli::root().join("tests/golden").join(format!("{name}.txt")),
            &text,
            &mut failures,
        );
        let json = run(&["analyze", "-q", "--json", &path]);
        let typed: Report = serde_json::from_slice(&json)
            .unwrap_or_else(|e| panic!("{name}: JSON does not parse into Report: {e}"));
        assert_eq!(typed.schema_version, finscope::report::SCHEMA_VERSION);
        let printed: serde_json::Value = serde_json::from_slice(&json).expect("JSON");
        assert!(
            serde_json::to_value(&typed).expect("serialize") == printed,
            "{name}: the typed Report does not serialize back to the JSON printed \
             (a field it does not know, or one it filled in by default)"
        );
        check(
            &cli::root()
                .join("tests/golden")
                .join(format!("{name}.json")),
            &json,
            &mut failures,
        );
    }
    // No golden file without its capture.
    for e in std::fs::read_dir(cli::root().join("tests/golden")).expect("tests/golden") {
        let file = e.expect("entry").file_name().to_string_lossy().into_owned();
        let capture = file
            .strip_suffix(".txt")
            .or_else(|| file.strip_suffix(".json"));
        if !capture.is_some_and(|c| names.iter().any(|n| n == c)) {
            failures.push(format!(
                "tests/golden/{file} belongs to no capture in testdata/"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n(regenerate with FINSCOPE_BLESS=1 cargo test --test golden, then review the diff)",
        failures.join("\n")
    );
}
