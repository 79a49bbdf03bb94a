//! Arbitrary bytes as a `check --config` TOML bounds file, through a
//! temporary file (`cli::Bounds::from_file` takes a path).
//!
//! Checked: no panic; accepted ratios and rates are finite and >= 0 (what
//! `check` compares against).
#![no_main]

use finscope::cli::Bounds;
use finscope::cli::values::Limit;
use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;

#[path = "common/scratch.rs"]
mod common;

fn scratch() -> &'static PathBuf {
    common::scratch("bounds.toml")
}

fuzz_target!(|data: &[u8]| {
    let path = scratch();
    std::fs::write(path, data).expect("write the scratch file");
    let Ok(b) = Bounds::from_file(path) else {
        return;
    };
    for r in [b.max_fin_ratio, b.max_rst_ratio].into_iter().flatten() {
        assert!(r.is_finite() && r >= 0.0, "ratio {r} accepted");
    }
    if let Some(Limit::Rate(r)) = b.max_fin_retrans {
        assert!(r.is_finite() && r >= 0.0, "rate {r} accepted");
    }
});
