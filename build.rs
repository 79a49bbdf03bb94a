//! Tells the test suites what this machine has, so that a suite that cannot
//! run shows as *ignored* in `cargo test`'s summary, naming what it needs,
//! instead of passing silently:
//!
//! - `finscope_shared_captures`: the 44-capture corpus with tshark's
//!   answers (`../shared/captures/oracle.json`, or `$FINSCOPE_CAPTURES`);
//!   the 35 of them whose licences allow it are bundled in testdata/public
//!   and compared on every run.
//! - `finscope_py_tools`: python3 with duckdb and pandas (docs/flows.md's
//!   recipes).
//!
//! Nothing in the library or the binary depends on these.

use std::path::PathBuf;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(finscope_shared_captures)");
    println!("cargo::rustc-check-cfg=cfg(finscope_py_tools)");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=FINSCOPE_CAPTURES");
    let dir = match std::env::var_os("FINSCOPE_CAPTURES") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default())
            .join("../shared/captures"),
    };
    let oracle = dir.join("oracle.json");
    if oracle.is_file() {
        println!("cargo::rustc-cfg=finscope_shared_captures");
        println!("cargo::rerun-if-changed={}", oracle.display());
    }
    let py = std::process::Command::new("python3")
        .args(["-c", "import duckdb, pandas"])
        .output()
        .is_ok_and(|o| o.status.success());
    if py {
        println!("cargo::rustc-cfg=finscope_py_tools");
    }
}
