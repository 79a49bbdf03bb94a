//! finscope binary: parse arguments, run the subcommand, map the result to
//! an exit code (docs/report.md).

use clap::Parser;
use finscope::cli::Cli;
use finscope::commands;
use std::error::Error;
use std::process::ExitCode;

/// An error and its causes, each said once: most of finscope's errors
/// already name their cause in their message (`file: No such file ...`),
/// so a cause is appended only when the message so far does not hold it.
fn message(e: &dyn Error) -> String {
    let mut msg = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        cause = c.source();
    }
    msg
}

/// Whether standard output was closed when the process started (`>&-`),
/// looked at before Rust's runtime replaces a closed descriptor 0-2 with
/// /dev/null (after which it cannot be told from /dev/null given on
/// purpose). A function in `.init_array` runs before `main`'s runtime set-up.
#[cfg(any(target_os = "linux", target_os = "android"))]
mod stdout_at_start {
    /// Declaring a function in `.init_array` is `unsafe` to the compiler;
    /// the function itself is safe code and only sets an atomic flag.
    #[allow(unsafe_code)]
    #[used]
    #[unsafe(link_section = ".init_array")]
    static LOOK: extern "C" fn() = look;

    extern "C" fn look() {
        // A closed descriptor has no entry in /proc/self/fd (when /proc is
        // there at all: without it nothing is said).
        let gone = std::fs::symlink_metadata("/proc/self/fd/1")
            .is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound);
        if gone && std::path::Path::new("/proc/self/fd").is_dir() {
            finscope::commands::mark_stdout_closed();
        }
    }
}

/// glibc's malloc serves blocks of its mmap threshold or more with their
/// own mapping, and raises the threshold (up to 32 MiB) to the size of each
/// such block freed: after the first hash-table resize or vector growth of
/// a few MiB, the large blocks of a run (tables, expiry buckets, lives) come
/// from the main heap instead, where the holes they leave between the
/// connections' small blocks are never given back. Fixing the threshold at
/// its default (128 KiB) keeps them mapped: peak RSS on the gateway mix,
/// 20M packets, -j1 119 -> 101 MiB (docs/performance.md, "Memory bounds").
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn fix_mmap_threshold() {
    // SAFETY: mallopt sets one of malloc's parameters; it is called before
    // any other thread exists, and any value is valid for it.
    #[allow(unsafe_code)]
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

/// Gives the free pages of every malloc arena back to the system
/// (`commands::set_release_memory`: once the connection tables are freed).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() {
    // SAFETY: malloc_trim only releases free memory; it takes the arenas'
    // locks itself and is safe to call from any thread at any time.
    #[allow(unsafe_code)]
    unsafe {
        libc::malloc_trim(0);
    }
}

fn main() -> ExitCode {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        fix_mmap_threshold();
        commands::set_release_memory(trim);
    }
    let cli = Cli::parse();
    match commands::run(&cli) {
        Ok(code) => code,
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            finscope::say!("finscope: error: {}", message(&e));
            ExitCode::from(e.exit_code())
        }
    }
}
