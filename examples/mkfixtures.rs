//! Writes the committed capture fixtures into a directory.
//!
//! ```text
//! cargo run --example mkfixtures -- testdata
//! ```
//!
//! The bytes come from [`finscope_testkit::synth::fixtures`], so the output is
//! deterministic; `tests/scenarios.rs` fails when the committed files differ
//! from what this writes.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let dir = PathBuf::from(
        std::env::args_os()
            .nth(1)
            .unwrap_or_else(|| "testdata".into()),
    );
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("mkfixtures: cannot create {}: {e}", dir.display());
        return ExitCode::from(2);
    }
    for (name, bytes) in finscope_testkit::synth::fixtures() {
        let path = dir.join(name);
        if let Err(e) = std::fs::write(&path, &bytes) {
            eprintln!("mkfixtures: cannot write {}: {e}", path.display());
            return ExitCode::from(2);
        }
        println!("{:>8} bytes  {}", bytes.len(), path.display());
    }
    ExitCode::SUCCESS
}
