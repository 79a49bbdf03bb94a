//! Arbitrary bytes as a saved `analyze --json` report (the `diff` and
//! `check` loader), through a temporary file (`report::load::load` takes a
//! path).
//!
//! Checked: no panic; an accepted document serializes back (as
//! `render::json` writes it) without error, and that output is accepted
//! again, as an equal report that serializes to the same text; what `diff`
//! and `check` do with a loaded report does not panic, and a report is no
//! regression of itself; the text, JSON, HTML and timeline renderers and
//! `merge` (of the report with itself) do not panic on what was accepted
//! (its `demand`, `remedies` and `inferred_tunables` among it: the golden
//! reports of the seeds hold them); `merge` refuses the report given twice.
#![no_main]

use finscope::cli::{Bounds, Limit};
use finscope::commands::{check, diff, merge};
use finscope::report::load::load;
use finscope::report::render::json;
use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

/// Known, reported bugs this target should not stop at, from the
/// environment: `FINSCOPE_FUZZ_KNOWN=report-float` (see fuzz/README.md).
fn known(id: &str) -> bool {
    static K: OnceLock<String> = OnceLock::new();
    K.get_or_init(|| std::env::var("FINSCOPE_FUZZ_KNOWN").unwrap_or_default())
        .split(',')
        .any(|k| k.trim() == id)
}

/// Equal JSON, numbers within `ulps` units in the last place.
fn close(a: &serde_json::Value, b: &serde_json::Value, ulps: u64) -> bool {
    use serde_json::Value as V;
    match (a, b) {
        (V::Number(x), V::Number(y)) if x != y => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x.to_bits().abs_diff(y.to_bits()) <= ulps,
            _ => false,
        },
        (V::Array(x), V::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| close(x, y, ulps))
        }
        (V::Object(x), V::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((kx, x), (ky, y))| kx == ky && close(x, y, ulps))
        }
        _ => a == b,
    }
}

#[path = "common/scratch.rs"]
mod common;

fn scratch() -> &'static PathBuf {
    common::scratch("report.json")
}

fuzz_target!(|data: &[u8]| {
    let path = scratch();
    std::fs::write(path, data).expect("write the scratch file");
    let Ok(report) = load(path) else {
        return;
    };
    let mut out = Vec::new();
    json::render(&report, &mut out).expect("an accepted report serializes");
    std::fs::write(path, &out).expect("write the scratch file");
    let again = match load(path) {
        Ok(r) => r,
        Err(e) => panic!(
            "finscope's own JSON of an accepted report is refused: {e}\n{}",
            String::from_utf8_lossy(&out)
        ),
    };
    let mut out2 = Vec::new();
    json::render(&again, &mut out2).expect("serializes");
    if known("report-float") {
        // Reported: serde_json (without `float_roundtrip`) reads some
        // shortest-form floats back 1 ULP off. Everything else must hold.
        let a: serde_json::Value = serde_json::from_slice(&out).expect("JSON");
        let b: serde_json::Value = serde_json::from_slice(&out2).expect("JSON");
        assert!(
            close(&a, &b, 2),
            "serialization is not stable across a load"
        );
    } else if out != out2 {
        let (a, b) = (
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&out2),
        );
        let line = a
            .lines()
            .zip(b.lines())
            .position(|(x, y)| x != y)
            .unwrap_or(0);
        panic!(
            "serialization is not stable across a load: line {}: {:?} then {:?}",
            line + 1,
            a.lines().nth(line),
            b.lines().nth(line)
        );
    } else {
        assert!(again == report, "a report does not load back equal");
    }

    let names = || ("a".to_string(), "b".to_string());
    let d = diff::compare(&report, &report, &diff::Tolerances::default(), names());
    assert!(
        !d.regression,
        "a report is a regression of itself: {:?}",
        d.lines(&Default::default())
    );
    let _ = diff::compare(&report, &again, &diff::Tolerances::default(), names())
        .lines(&Default::default());
    let bounds = Bounds {
        max_fin_ratio: Some(0.01),
        max_fin_retrans: Some(Limit::Count(0)),
        max_unacked_fins: Some(0),
        max_p99_fin_ack_us: Some(1),
        max_rst_ratio: Some(0.0),
    };
    let v = check::evaluate(&report, &bounds, vec!["fuzz".into()]);
    for o in &v.checks {
        let _ = o.line(&Default::default());
    }

    // The renderers on what was accepted, and `merge` (which turns a
    // report back into the metrics it was built from) of it once and twice.
    render_all(&report);
    let input = |p: &str| merge::Input {
        path: p.to_string(),
        report: report.clone(),
    };
    // `merge` refuses a report given twice (equal content), and takes
    // one alone.
    assert!(
        merge::duplicates(&[input("in0"), input("in1")]).is_err(),
        "a report given twice is not a duplicate"
    );
    assert!(merge::duplicates(&[input("in0")]).is_ok());
    for n in [1, 2] {
        let inputs: Vec<merge::Input> = (0..n).map(|i| input(&format!("in{i}"))).collect();
        if let Ok(m) = merge::merge(&inputs, None, None) {
            render_all(&m);
        }
    }
});

/// Text, JSON and HTML of `r`, into memory: no panic.
fn render_all(r: &finscope::report::Report) {
    let mut out = Vec::new();
    let _ = finscope::report::render::text::render(r, &Default::default(), &mut out);
    out.clear();
    let _ = json::render(r, &mut out);
    out.clear();
    let _ = finscope::report::render::html::render(r, &mut out);
    out.clear();
    let _ = finscope::report::render::timeline::render_text(
        &r.timeline,
        &r.diagnosis,
        &Default::default(),
        &mut out,
    );
    out.clear();
    let _ = finscope::report::render::timeline::write_csv(&r.timeline, &mut out);
}
