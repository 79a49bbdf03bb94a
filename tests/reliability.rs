//! Hostile and odd inputs at the edges of the reader and the command line
//! (issue "Reliability"), as processes: exit code, message and the frames
//! reported. Every input is generated here, small.

use finscope::report::Report;
use finscope_testkit::cli;

/// A pcapng block: type, body, padded, with both length fields.
fn block(btype: u32, body: &[u8]) -> Vec<u8> {
    let mut body = body.to_vec();
    while !body.len().is_multiple_of(4) {
        body.push(0);
    }
    let len = (body.len() + 12) as u32;
    let mut b = Vec::new();
    b.extend_from_slice(&btype.to_le_bytes());
    b.extend_from_slice(&len.to_le_bytes());
    b.extend_from_slice(&body);
    b.extend_from_slice(&len.to_le_bytes());
    b
}

/// A section header of `major.minor`, little-endian.
fn shb(major: u16, minor: u16) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes());
    body.extend_from_slice(&major.to_le_bytes());
    body.extend_from_slice(&minor.to_le_bytes());
    body.extend_from_slice(&(-1i64).to_le_bytes());
    block(0x0A0D_0D0A, &body)
}

/// An Ethernet interface, with an `if_tsresol` option when given.
fn idb(tsresol: Option<u8>) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&1u16.to_le_bytes()); // LINKTYPE_ETHERNET
    body.extend_from_slice(&0u16.to_le_bytes());
    body.extend_from_slice(&65535u32.to_le_bytes());
    if let Some(r) = tsresol {
        body.extend_from_slice(&9u16.to_le_bytes());
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&[r, 0, 0, 0]);
        body.extend_from_slice(&[0, 0, 0, 0]); // opt_endofopt
    }
    block(1, &body)
}

/// An enhanced packet block on interface `iface` with 60 bytes of data.
fn epb(iface: u32, ts: u64) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&iface.to_le_bytes());
    body.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
    body.extend_from_slice(&(ts as u32).to_le_bytes());
    body.extend_from_slice(&60u32.to_le_bytes());
    body.extend_from_slice(&60u32.to_le_bytes());
    body.extend_from_slice(&[0u8; 60]);
    block(6, &body)
}

/// An obsolete packet block on interface `iface` with 60 bytes of data.
fn opb(iface: u16, ts: u64) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&iface.to_le_bytes());
    body.extend_from_slice(&0u16.to_le_bytes()); // drops count
    body.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
    body.extend_from_slice(&(ts as u32).to_le_bytes());
    body.extend_from_slice(&60u32.to_le_bytes());
    body.extend_from_slice(&60u32.to_le_bytes());
    body.extend_from_slice(&[0u8; 60]);
    block(2, &body)
}

/// Runs `analyze --json` on `bytes` written to a file named `name`: (exit
/// code, stderr, the report when one was printed).
fn analyze_report(name: &str, bytes: &[u8]) -> (Option<i32>, String, Option<Report>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).expect("write");
    let out = cli::cmd()
        .args(["analyze", "--json", "-q"])
        .arg(&p)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (
        out.status.code(),
        stderr,
        serde_json::from_slice::<Report>(&out.stdout).ok(),
    )
}

/// [`analyze_report`] of `x.pcapng`: the frames reported.
fn analyze(bytes: &[u8]) -> (Option<i32>, String, Option<u64>) {
    let (code, err, r) = analyze_report("x.pcapng", bytes);
    (code, err, r.map(|r| r.packets.frames))
}

#[test]
fn pcapng_cut_in_its_section_header_is_not_a_capture_like_pcap() {
    let whole = shb(1, 0);
    for n in [4, 12, 27] {
        let (code, err, frames) = analyze(&whole[..n]);
        assert_eq!(code, Some(2), "{n} bytes: {err}");
        assert!(
            err.contains("x.pcapng") && err.contains("truncated"),
            "{err}"
        );
        assert_eq!(frames, None);
    }
    // The same rule for pcap: cut in its 24-byte header.
    let mut pcap = 0xa1b2_c3d4u32.to_le_bytes().to_vec();
    pcap.extend_from_slice(&[0; 10]);
    let (code, err, _) = analyze(&pcap);
    assert_eq!(code, Some(2), "{err}");
}

#[test]
fn pcapng_of_another_major_version_is_refused() {
    let mut f = shb(2, 0);
    f.extend(idb(None));
    f.extend(epb(0, 1_700_000_000_000_000));
    let (code, err, frames) = analyze(&f);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("version 2.0") && err.contains("x.pcapng"),
        "{err}"
    );
    assert_eq!(frames, None);
    // A second section of version 2: what came before is reported (exit 3).
    let mut f = shb(1, 0);
    f.extend(idb(None));
    f.extend(epb(0, 1_700_000_000_000_000));
    let second = f.len();
    f.extend(shb(2, 0));
    f.extend(idb(None));
    f.extend(epb(0, 1_700_000_001_000_000));
    let (code, err, frames) = analyze(&f);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains(&format!("byte offset {second}")), "{err}");
    assert_eq!(frames, Some(1));
}

#[test]
fn impossible_timestamp_resolution_is_an_error_not_microseconds() {
    for r in [0x7f, 0xff, 0x14, 0xc0] {
        let mut f = shb(1, 0);
        f.extend(idb(None));
        f.extend(epb(0, 1_700_000_000_000_000));
        f.extend(idb(Some(r)));
        f.extend(epb(1, 1));
        let (code, err, frames) = analyze(&f);
        assert_eq!(code, Some(3), "0x{r:02x}: {err}");
        assert!(err.contains(&format!("if_tsresol 0x{r:02x}")), "{err}");
        assert_eq!(frames, Some(1), "the packet before it is reported");
    }
    // The finest representable ones are fine: 10^-19 and 2^-63 s.
    for r in [19u8, 0x80 | 63] {
        let mut f = shb(1, 0);
        f.extend(idb(Some(r)));
        f.extend(epb(0, 12_345));
        let (code, err, frames) = analyze(&f);
        assert_eq!(code, Some(0), "0x{r:02x}: {err}");
        assert_eq!(frames, Some(1));
    }
}

#[test]
fn obsolete_packet_block_naming_no_interface_is_counted_as_damage() {
    let mut f = shb(1, 0);
    f.extend(idb(None));
    f.extend(opb(0, 1_700_000_000_000_000));
    let bad = f.len();
    f.extend(opb(3, 1_700_000_000_000_001));
    f.extend(opb(0, 1_700_000_000_000_002));
    let (code, err, frames) = analyze(&f);
    assert_eq!(code, Some(3), "{err}");
    assert!(
        err.contains("names interface 3 but the section defines 1")
            && err.contains(&format!("byte offset {bad}")),
        "{err}"
    );
    assert_eq!(frames, Some(1));
}

#[test]
fn thread_count_is_bounded() {
    let out = cli::cmd()
        .args([
            "analyze",
            "-q",
            "--threads",
            "100000",
            "testdata/fin_4way.pcap",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--threads") && err.contains("256"), "{err}");
    let out = cli::cmd()
        .args([
            "analyze",
            "-q",
            "--threads",
            "256",
            "testdata/fin_4way.pcap",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn config_file_size_is_capped() {
    let started = std::time::Instant::now();
    let out = cli::cmd()
        .args(["check", "--config", "/dev/zero", "testdata/fin_4way.pcap"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/dev/zero") && err.contains("larger than"),
        "{err}"
    );
    // Refused after reading 1 MiB, not 2 GB (generous bound for a busy CI box).
    assert!(started.elapsed().as_secs() < 30);
}

/// A pipe among several inputs is read once, in the order given: no frame
/// lost, no hang on a slowly fed FIFO.
#[cfg(unix)]
#[test]
fn a_fifo_next_to_a_file_is_read_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("live.pcap");
    let ok = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipped: mkfifo not available");
        return;
    }
    let a = std::fs::read("testdata/fin_4way.pcap").expect("fixture");
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .open(&fifo)
                .expect("open fifo");
            // Slowly: the header, a pause, the rest.
            f.write_all(&a[..24]).expect("write");
            std::thread::sleep(std::time::Duration::from_millis(300));
            f.write_all(&a[24..]).expect("write");
        })
    };
    let out = cli::cmd()
        .args(["analyze", "--json", "-q"])
        .arg(&fifo)
        .arg("testdata/fin_remote_first.pcap")
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .expect("run");
    writer.join().expect("writer");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Report = serde_json::from_slice(&out.stdout).expect("report");
    // fin_4way.pcap has 11 frames, fin_remote_first.pcap 9.
    assert_eq!(r.packets.frames, 20);
    assert_eq!(r.connections.total, 2);
}

#[test]
fn saved_report_size_is_capped() {
    let out = cli::cmd()
        .args(["diff", "/dev/zero", "/dev/zero"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/dev/zero") && err.contains("larger than"),
        "{err}"
    );
}

/// A failed output names its file, the other outputs are still produced,
/// and the exit code (4) says something failed.
#[cfg(target_os = "linux")]
#[test]
fn a_failed_output_names_its_file_and_the_others_are_written() {
    let f = "testdata/fin_4way.pcap";
    // --json-out on a full disk: the text report is still printed.
    let cli::Run {
        code,
        stdout: out,
        stderr: err,
        ..
    } = cli::sh(&format!("$FS analyze -q --json-out /dev/full {f}"));
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("/dev/full") && err.contains("No space left"),
        "{err}"
    );
    assert!(out.contains("TEARDOWN SHARE"), "{out}");
    // --flows on a full disk: the JSON report is still printed, whole.
    let cli::Run {
        code,
        stdout: out,
        stderr: err,
        ..
    } = cli::sh(&format!("$FS analyze -q --json --flows /dev/full {f}"));
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("/dev/full"), "{err}");
    let r: Report = serde_json::from_str(&out).expect("the report");
    assert_eq!(r.packets.frames, 11);
    // timeline --csv on a full disk: the chart is still printed.
    let cli::Run {
        code,
        stdout: out,
        stderr: err,
        ..
    } = cli::sh(&format!("$FS timeline -q --csv /dev/full {f}"));
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("/dev/full"), "{err}");
    assert!(out.contains("LOCAL SOCKET STATES"), "{out}");
    // Standard output closed: exit 4, said on stderr, the file outputs
    // written. /dev/null given on purpose (read-write, as
    // `subprocess.DEVNULL` passes it, or write-only) is no failure.
    let dir = tempfile::tempdir().expect("tempdir");
    let j = dir.path().join("r.json");
    let cli::Run {
        code, stderr: err, ..
    } = cli::sh(&format!(
        "$FS analyze -q --json-out {} {f} >&-",
        j.display()
    ));
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("standard output: closed when finscope started"),
        "{err}"
    );
    for cmd in [
        format!("$FS timeline -q {f} >&-"),
        format!("$FS analyze -q --flows - {f} >&-"),
        format!("$FS check -q --max-fin-ratio 1 {f} >&-"),
        "$FS completions bash >&-".to_string(),
    ] {
        let cli::Run {
            code, stderr: err, ..
        } = cli::sh(&cmd);
        assert_eq!(code, 4, "{cmd}: {err}");
        assert!(err.contains("standard output: closed"), "{cmd}: {err}");
    }
    for null in ["1<>/dev/null", ">/dev/null"] {
        let cli::Run {
            code, stderr: err, ..
        } = cli::sh(&format!("$FS analyze -q {f} {null}"));
        assert_eq!(code, 0, "{null}: {err}");
    }
    let r: Report = serde_json::from_slice(&std::fs::read(&j).expect("json-out")).expect("json");
    assert_eq!(r.packets.frames, 11);
    // A reader that goes away is not a failure.
    let cli::Run {
        code, stderr: err, ..
    } = cli::sh(&format!("$FS analyze -q {f} | head -1"));
    assert_eq!(code, 0, "{err}");
    // Nor on standard error (`2>&1 | head`): no panic (exit 101) when a
    // summary, warning or error can no longer be written there. A pipe
    // whose reader is gone before finscope starts: every write fails.
    for args in [
        &["--interval", "1us"][..],
        &["--json", "--interval", "1us"],
        &["--filter", "port 1"],
        &["--nonsense"],
    ] {
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let out = cli::command()
            .args(["analyze", "-q"])
            .args(args)
            .arg(f)
            .stderr(writer)
            .output()
            .expect("run");
        let want = if args[0] == "--nonsense" { 2 } else { 0 };
        assert_eq!(out.status.code(), Some(want), "{args:?}");
    }
    // The same on standard output, for every way a record reaches it (the
    // CSV writer wraps the broken pipe in its own error).
    for args in [
        &["analyze", "-q"][..],
        &["analyze", "-q", "--json"],
        &["analyze", "-q", "--flows", "-"],
        &["analyze", "-q", "--flows", "-", "--flows-format", "csv"],
        &["timeline", "-q", "--csv", "-"],
    ] {
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let out = cli::command()
            .args(args)
            .arg(f)
            .stdout(writer)
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?}: {err}");
    }
}

/// One rule for inputs that cannot be read at all: exit 2, also when other
/// inputs were read; their report is still printed.
#[test]
fn an_unreadable_input_among_several_exits_2_with_the_report_of_the_others() {
    let dir = tempfile::tempdir().expect("tempdir");
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "hello world\n").expect("write");
    for bad in [dir.path().join("missing.pcap"), notes] {
        let out = cli::cmd()
            .args(["analyze", "--json", "-q", "testdata/fin_4way.pcap"])
            .arg(&bad)
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        let name = bad.file_name().map(|n| n.to_string_lossy().into_owned());
        assert!(err.contains(name.as_deref().unwrap_or("?")), "{err}");
        let r: Report = serde_json::from_slice(&out.stdout).expect("the report of the other");
        assert_eq!(r.packets.frames, 11);
        // check says the same.
        let out = cli::cmd()
            .args(["check", "--max-fin-ratio", "1", "testdata/fin_4way.pcap"])
            .arg(&bad)
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2));
    }
}

/// Deeply nested or huge filters are refused with a clear error, never a
/// crash (30 KB of parentheses used to overflow the stack).
#[test]
fn filter_nesting_and_size_are_bounded() {
    let deep = format!("{}port 80{}", "(".repeat(30_000), ")".repeat(30_000));
    let out = cli::cmd()
        .args(["analyze", "-q", "--filter", &deep, "testdata/fin_4way.pcap"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("words and symbols"),
        "{}",
        &err[..err.len().min(300)]
    );
    let deep = format!("{}port 80{}", "(".repeat(100), ")".repeat(100));
    let out = cli::cmd()
        .args(["analyze", "-q", "--filter", &deep, "testdata/fin_4way.pcap"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("at most 64 nested"), "{err}");
    // 64 levels are fine, and mean the same filter.
    let ok = format!("{}port 80{}", "(".repeat(64), ")".repeat(64));
    let out = cli::cmd()
        .args([
            "analyze",
            "-q",
            "--json",
            "--filter",
            &ok,
            "testdata/fin_4way.pcap",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    let r: Report = serde_json::from_slice(&out.stdout).expect("report");
    assert_eq!(r.packets.frames, 11);
    let long = vec!["port 80"; 3000].join(" and ");
    let out = cli::cmd()
        .args(["analyze", "-q", "--filter", &long, "testdata/fin_4way.pcap"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
}

/// What a header claims costs nothing past a documented limit: a section
/// declaring more interfaces than finscope's limit stops with exit 3 and
/// the report of the packet before; blocks finscope does not need (name
/// resolution, statistics) are skipped unread, however many records they
/// claim; an enhanced packet block's options are not collected.
#[test]
fn pcapng_header_claims_are_capped() {
    let mut f = shb(1, 0);
    f.extend(idb(None));
    f.extend(epb(0, 1_700_000_000_000_000));
    // A name resolution block of 200,000 empty records, and an EPB whose
    // options are 100,000 empty ones: skipped, not parsed.
    f.extend(block(4, &vec![0u8; 800_000]));
    let mut e = epb(0, 1_700_000_000_000_001);
    let opts = vec![0u8; 400_000];
    let body_len = e.len() - 12;
    let mut body = e[8..8 + body_len].to_vec();
    body.extend_from_slice(&opts);
    e = block(6, &body);
    f.extend(e);
    let (code, err, frames) = analyze(&f);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(frames, Some(2));
    let one = idb(None);
    let bad = f.len() + (finscope::capture::MAX_INTERFACES - 1) * one.len();
    for _ in 0..finscope::capture::MAX_INTERFACES {
        f.extend_from_slice(&one);
    }
    let (code, err, frames) = analyze(&f);
    assert_eq!(code, Some(3), "{err}");
    assert!(
        err.contains("more than 65536 interfaces") && err.contains(&format!("byte offset {bad}")),
        "{err}"
    );
    assert_eq!(frames, Some(2), "the packets before it are reported");
}

/// The records of testdata/sample.pcap repeated until the capture holds at
/// least `min` records: (the pcap, the end offset of every record).
fn repeated_sample(min: usize) -> (Vec<u8>, Vec<usize>) {
    let path = cli::fixture("sample.pcap");
    let sample = std::fs::read(path).expect("sample");
    assert_eq!(
        sample[..4],
        0xa1b2_c3d4u32.to_le_bytes(),
        "little-endian pcap"
    );
    let mut records = Vec::new();
    let mut at = 24;
    while at + 16 <= sample.len() {
        let caplen = u32::from_le_bytes(sample[at + 8..at + 12].try_into().expect("4")) as usize;
        records.push(&sample[at..at + 16 + caplen]);
        at += 16 + caplen;
    }
    let mut out = sample[..24].to_vec();
    let mut ends = Vec::new();
    while ends.len() < min {
        for r in &records {
            out.extend_from_slice(r);
            ends.push(out.len());
        }
    }
    (out, ends)
}

/// [`analyze_report`] of a file named `name`: the records read.
fn analyze_named(name: &str, bytes: &[u8]) -> (Option<i32>, String, Option<u64>) {
    let (code, err, r) = analyze_report(name, bytes);
    (
        code,
        err,
        r.map(|r| r.capture.files.iter().map(|f| f.records).sum()),
    )
}

/// Compresses `pcap` with `enc`, flushing after every `step` records:
/// the compressed bytes and, per flush, (compressed length, records before).
fn compress_with_flushes<W: std::io::Write>(
    mut enc: W,
    pcap: &[u8],
    ends: &[usize],
    step: usize,
    len: impl Fn(&mut W) -> usize,
) -> (W, Vec<(usize, usize)>) {
    let mut flushes = Vec::new();
    enc.write_all(&pcap[..24]).expect("write");
    let mut from = 24;
    for (i, &end) in ends.iter().enumerate() {
        enc.write_all(&pcap[from..end]).expect("write");
        from = end;
        if (i + 1) % step == 0 {
            enc.flush().expect("flush");
            flushes.push((len(&mut enc), i + 1));
        }
    }
    (enc, flushes)
}

/// A zstd encoder with a window of 2^`log` bytes and no content size in
/// the frame header (as `tcpdump -w - | zstd --long=N` writes).
fn zstd_long(log: u32) -> zstd::stream::write::Encoder<'static, Vec<u8>> {
    let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 3).expect("zstd");
    enc.window_log(log).expect("window");
    enc.long_distance_matching(true).expect("ldm");
    enc.include_contentsize(false).expect("no size");
    enc
}

#[test]
fn cut_zstd_and_xz_give_every_record_decoded_before_the_cut() {
    let (pcap, ends) = repeated_sample(20_000);
    // zstd with a 128 MiB window and no content size (as `tcpdump -w - |
    // zstd --long=27` writes it): a decoder that holds its window back
    // until the frame ends would report nothing of a cut file.
    let enc = zstd_long(27);
    let (enc, flushes) = compress_with_flushes(enc, &pcap, &ends, 1000, |e| e.get_ref().len());
    let zst = enc.finish().expect("finish");
    // xz, one block per flush.
    let enc = liblzma::write::XzEncoder::new(Vec::new(), 1);
    // (The encoder keeps a flush's last output until its next write.)
    let (enc, xz_flushes) = compress_with_flushes(enc, &pcap, &ends, 1000, |e| {
        std::io::Write::write(e, &[]).expect("write");
        e.get_ref().len()
    });
    let xz = enc.finish().expect("finish");
    for (name, data, flushes) in [
        ("cut.pcap.zst", zst, flushes),
        ("cut.pcap.xz", xz, xz_flushes),
    ] {
        for which in [1, flushes.len() / 2, flushes.len() - 2] {
            // Halfway between two flushes.
            let (at, before) = flushes[which];
            let cut = (at + flushes[which + 1].0) / 2;
            let (code, err, records) = analyze_named(name, &data[..cut]);
            assert_eq!(code, Some(0), "{name} at {cut}: {err}");
            assert!(
                err.contains(name) && err.contains("cut short"),
                "{name}: {err}"
            );
            let records = records.expect("a report") as usize;
            assert!(
                records >= before && records < before + 1000,
                "{name} cut at {cut}: {records} records, {before} before the cut"
            );
            if name.ends_with("zst") {
                // A block decodes whole or not at all: exactly the flushed ones.
                assert_eq!(records, before, "{name} cut at {cut}");
            }
        }
    }
}

#[test]
fn zstd_window_over_the_limit_is_refused_with_the_command_that_reads_it() {
    let (pcap, _) = repeated_sample(2_000);
    let mut enc = zstd_long(28);
    std::io::Write::write_all(&mut enc, &pcap).expect("write");
    let zst = enc.finish().expect("finish");
    let (code, err, records) = analyze_named("long.pcap.zst", &zst);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("long.pcap.zst") && err.contains("zstd -d --long=31"),
        "{err}"
    );
    assert_eq!(records, None);
}

#[test]
fn an_error_says_its_cause_once() {
    let out = cli::cmd()
        .args(["diff", "/nonexistent/a.json", "/nonexistent/b.json"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.trim_end(),
        "finscope: error: /nonexistent/a.json: No such file or directory (os error 2)"
    );
}

#[test]
fn corrupt_zstd_or_xz_mid_file_exits_3_with_the_records_before() {
    let (pcap, ends) = repeated_sample(20_000);
    let total = ends.len() as u64;
    let (zst, zst_flushes) = {
        let (enc, f) =
            compress_with_flushes(zstd_long(27), &pcap, &ends, 1000, |e| e.get_ref().len());
        (enc.finish().expect("finish"), f)
    };
    let (xz, xz_flushes) = {
        let enc = liblzma::write::XzEncoder::new(Vec::new(), 1);
        let (enc, f) = compress_with_flushes(enc, &pcap, &ends, 1000, |e| {
            std::io::Write::write(e, &[]).expect("write");
            e.get_ref().len()
        });
        (enc.finish().expect("finish"), f)
    };
    for (name, mut data, flushes) in [
        ("bad.pcap.zst", zst, zst_flushes),
        ("bad.pcap.xz", xz, xz_flushes),
    ] {
        // Damage the block after the 10th flush (records 10,000 on).
        let (at, before) = flushes[9];
        let next = flushes[10].0;
        for b in &mut data[at + (next - at) / 3..at + (next - at) / 2] {
            *b ^= 0x5a;
        }
        let (code, err, records) = analyze_named(name, &data);
        assert_eq!(code, Some(3), "{name}: {err}");
        assert!(
            err.contains(name) && err.contains("corrupt") && err.contains("the report covers"),
            "{name}: {err}"
        );
        let records = records.expect("the report of what came before");
        assert!(
            records >= before as u64 && records < total,
            "{name}: {records} records, {before} before the damage, {total} in all"
        );
    }
}

/// A `--flows` file that cannot be written (a full disk) stops the run
/// early instead of reading the rest of the capture for nothing: exit 4, a
/// message naming the file, and the report of what was read before it.
#[cfg(target_os = "linux")]
#[test]
fn a_full_flows_disk_stops_the_run() {
    use finscope_testkit::gencap;
    let dir = tempfile::tempdir().expect("tempdir");
    let cap = dir.path().join("gen.pcap");
    let cfg = gencap::Config {
        packets: 20_000,
        seed: 5,
        servers: 200,
        // 5 connections a second: the capture spans minutes, and the
        // first connections retire (past TIME-WAIT) a minute in.
        rate: 5,
        ..gencap::Config::default()
    };
    gencap::generate(&cfg, std::fs::File::create(&cap).expect("create")).expect("generate");
    let cap = cap.display();
    // Small batches: connections retire (and records are written) while
    // the capture is read, not only at its end.
    let whole = cli::sh(&format!(
        "FINSCOPE_BUFFER=65536 $FS analyze -q -j 1 --json {cap}"
    ));
    assert_eq!(whole.code, 0, "{}", whole.stderr);
    let whole: Report = serde_json::from_str(&whole.stdout).expect("the report");
    assert_eq!(whole.packets.frames, 20_000);
    let cli::Run {
        code,
        stdout: out,
        stderr: err,
        ..
    } = cli::sh(&format!(
        "FINSCOPE_BUFFER=65536 $FS analyze -q -j 1 --json --flows /dev/full {cap}"
    ));
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("--flows /dev/full") && err.contains("reading stopped"),
        "{err}"
    );
    assert!(err.contains("/dev/full: No space left on device"), "{err}");
    let r: Report = serde_json::from_str(&out).expect("the report of what was read");
    assert!(
        r.packets.frames > 0 && r.packets.frames < whole.packets.frames / 2,
        "read {} of {} frames",
        r.packets.frames,
        whole.packets.frames
    );
}
