//! The scan baseline as a command, for timing next to `finscope analyze`:
//!
//! ```text
//! cargo run --release --example scan -- big.pcap
//! ```
//!
//! See `benches/common/scan.rs`.

#[path = "../benches/common/scan.rs"]
mod scan;

use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: scan FILE.pcap");
        return ExitCode::from(2);
    };
    let t = std::time::Instant::now();
    match scan::scan(path.as_ref(), finscope::capture::DEFAULT_BUFFER) {
        Ok(c) => {
            let s = t.elapsed().as_secs_f64();
            println!(
                "scan: {} frames, {} FINs, {:.3} s, {:.2} Mpackets/s",
                c.frames,
                c.fins,
                s,
                c.frames as f64 / s / 1e6
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("scan: {e}");
            ExitCode::from(2)
        }
    }
}
