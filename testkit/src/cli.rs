//! The finscope binary run as a process, for the integration tests of
//! tests/: the one place that finds the binary, gives it an environment that
//! does not depend on the shell `cargo test` was started from, and collects
//! what it printed.
//!
//! Every command starts without the variables finscope reads that change its
//! output ([`HERMETIC`]); a test that needs one sets it on the command.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The variables finscope reads that change what it prints (the text
/// width, the read buffer, progress and statistics on stderr): removed from
/// every command made here.
pub const HERMETIC: [&str; 4] = [
    "COLUMNS",
    "FINSCOPE_BUFFER",
    "FINSCOPE_PROGRESS_MIN_BYTES",
    "FINSCOPE_STATS",
];

/// The repository's root (finscope's manifest directory).
pub fn root() -> PathBuf {
    let kit = Path::new(env!("CARGO_MANIFEST_DIR"));
    kit.parent().unwrap_or(kit).to_path_buf()
}

/// `testdata/NAME` of the repository.
pub fn fixture(name: &str) -> PathBuf {
    root().join("testdata").join(name)
}

/// [`fixture`] as a command-line argument.
pub fn fixture_arg(name: &str) -> String {
    fixture(name).display().to_string()
}

/// The finscope binary cargo built for the running integration test:
/// `CARGO_BIN_EXE_finscope` when cargo sets it at run time, else the
/// binary beside the test's `deps/` directory, where cargo puts it.
pub fn bin() -> PathBuf {
    if let Some(p) = std::env::var_os("CARGO_BIN_EXE_finscope") {
        return PathBuf::from(p);
    }
    let mut dir = std::env::current_exe().expect("the test binary's path");
    dir.pop();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir.join(format!("finscope{}", std::env::consts::EXE_SUFFIX))
}

/// A command running the binary without the [`HERMETIC`] variables.
pub fn command() -> Command {
    let mut c = Command::new(bin());
    for v in HERMETIC {
        c.env_remove(v);
    }
    c
}

/// [`command`] as an `assert_cmd` command (stdin from bytes, a timeout,
/// assertions).
pub fn cmd() -> assert_cmd::Command {
    assert_cmd::Command::from_std(command())
}

/// A finished run: the exit code (-1 when a signal ended it), stdout (as
/// text, and as the bytes printed) and stderr.
#[derive(Debug, Clone)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub stdout_bytes: Vec<u8>,
}

impl From<Output> for Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            stdout_bytes: out.stdout,
        }
    }
}

/// Runs `c` to its end with stdin closed unless `c` sets it.
pub fn run_command(c: &mut Command) -> Run {
    c.output().expect("run finscope").into()
}

/// `finscope ARGS`.
pub fn run<S: AsRef<OsStr>>(args: &[S]) -> Run {
    run_command(command().args(args))
}

/// `finscope ARGS` with `stdin` on its standard input.
pub fn run_stdin<S: AsRef<OsStr>>(args: &[S], stdin: &[u8]) -> Run {
    cmd()
        .args(args)
        .write_stdin(stdin.to_vec())
        .output()
        .expect("run finscope")
        .into()
}

/// A bash line with `$FS` standing for the binary (and the [`HERMETIC`]
/// variables removed); its exit status is the line's.
pub fn sh(line: &str) -> Run {
    let mut c = Command::new("bash");
    c.args(["-c", line]).env("FS", bin());
    for v in HERMETIC {
        c.env_remove(v);
    }
    run_command(&mut c)
}

/// `analyze -q --json-out DIR/NAME ARGS`, checked to exit 0: the report's
/// path.
pub fn json_report(dir: &Path, name: &str, args: &[&str]) -> String {
    let p = dir.join(name).display().to_string();
    let mut a = vec!["analyze", "-q", "--json-out", &p];
    a.extend_from_slice(args);
    let r = run(&a);
    assert_eq!(r.code, 0, "{}", r.stderr);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixtures_are_found_from_the_repository_root() {
        assert!(root().join("Cargo.toml").is_file());
        assert!(fixture("sample.pcap").is_file());
        assert!(fixture_arg("sample.pcap").ends_with("/testdata/sample.pcap"));
    }
}
