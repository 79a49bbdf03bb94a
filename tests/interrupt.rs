//! Ctrl-C on a live analysis (issue "Everyday use"): SIGINT or SIGTERM
//! stops reading, the full report of what was read is printed, it says it
//! was interrupted, and the exit code is 130, even while the writer of the
//! pipe is still there and silent.

#![cfg(unix)]

use finscope::report::Report;
use finscope_testkit::cli;
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/sample.pcap");

/// The sample's report, read to its end.
fn whole() -> Report {
    let out = cli::command()
        .args(["analyze", "--json", SAMPLE])
        .output()
        .expect("run");
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).expect("json")
}

fn signal(child: &Child, sig: &str) {
    let st = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(st.success());
}

/// Spawns `finscope ARGS` reading a pipe; its output goes to files (a
/// report larger than a pipe's buffer would block it otherwise).
fn spawn(args: &[&str], out: &tempfile::TempDir) -> Child {
    let file = |name: &str| std::fs::File::create(out.path().join(name)).expect("create");
    cli::command()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(file("stdout"))
        .stderr(file("stderr"))
        .spawn()
        .expect("spawn")
}

/// Waits (at most 20 s) for `child` to exit; the writer is still open.
fn wait(mut child: Child, out: &tempfile::TempDir) -> (i32, Vec<u8>, String) {
    let t = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "finscope did not stop after the signal"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = child.wait().expect("status");
    let read = |name: &str| std::fs::read(out.path().join(name)).expect("read");
    (
        status.code().unwrap_or(-1),
        read("stdout"),
        String::from_utf8_lossy(&read("stderr")).into_owned(),
    )
}

/// Feeds the whole sample into `analyze - --json`, keeps the pipe open,
/// then sends `sig`.
fn interrupted_pipe(sig: &str) {
    let bytes = std::fs::read(SAMPLE).expect("sample");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = spawn(&["analyze", "-", "--json"], &dir);
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(&bytes).expect("write");
    stdin.flush().expect("flush");
    // Let it read and analyse what was sent.
    std::thread::sleep(Duration::from_millis(1500));
    signal(&child, sig);
    let (code, stdout, stderr) = wait(child, &dir);
    drop(stdin);
    assert_eq!(code, 130, "exit code; stderr: {stderr}");
    assert!(stderr.contains("interrupted after"), "{stderr}");
    let r: Report = serde_json::from_slice(&stdout).expect("a whole JSON report");
    assert!(r.capture.interrupted);
    // Nothing cut: everything sent was read, and is not called truncated.
    let w = whole();
    assert!(!r.truncated);
    assert_eq!(r.packets.frames, w.packets.frames);
    assert_eq!(r.packets.fin, w.packets.fin);
    assert!(!w.capture.interrupted);
}

#[test]
fn sigint_on_a_silent_pipe_prints_the_report_and_exits_130() {
    interrupted_pipe("-INT");
}

#[test]
fn sigterm_does_the_same() {
    interrupted_pipe("-TERM");
}

/// Half a record, then silence, then Ctrl-C: the text report of the
/// records before it, and no truncation warning (the cut is ours).
#[test]
fn sigint_mid_record_is_not_a_truncation() {
    let bytes = std::fs::read(SAMPLE).expect("sample");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = spawn(&["analyze", "-"], &dir);
    let mut stdin = child.stdin.take().expect("stdin");
    // The 24-byte header, the first record (16-byte header + its bytes)
    // and 10 bytes of the second.
    let first = u32::from_le_bytes(bytes[24 + 8..24 + 12].try_into().expect("len")) as usize;
    let cut = 24 + 16 + first + 10;
    stdin.write_all(&bytes[..cut]).expect("write");
    stdin.flush().expect("flush");
    std::thread::sleep(Duration::from_millis(1500));
    signal(&child, "-INT");
    let (code, stdout, stderr) = wait(child, &dir);
    drop(stdin);
    assert_eq!(code, 130, "{stderr}");
    assert!(!stderr.contains("truncated"), "{stderr}");
    let text = String::from_utf8_lossy(&stdout);
    assert!(text.contains("INTERRUPTED"), "{text}");
    assert!(text.contains("records")); // the file line
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("frames") && l.contains(" 1 ")),
        "{text}"
    );
}
