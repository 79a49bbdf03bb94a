//! Trust (issue 20, items 1-4): an output never destroys data, and a gate
//! never passes on nothing. Every case runs the binary.

use finscope_testkit::cli::{fixture, run};
use std::path::Path;

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// Item 1: `--html rot/*.pcap` as the shell expands it, and an output
/// naming its own input, are refused with exit 2 before anything is
/// written; the capture keeps its bytes.
#[test]
fn an_output_never_overwrites_a_capture_or_an_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = dir.path().join("a.pcap");
    let b = dir.path().join("b.pcap");
    std::fs::copy(fixture("sample.pcap"), &a).expect("copy");
    std::fs::copy(fixture("fin_4way.pcap"), &b).expect("copy");
    let before = std::fs::read(&a).expect("read");

    // What the shell makes of `--html rot/*.pcap`.
    let r = run(&["analyze", "--html", &s(&a), &s(&b)]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("--html")
            && r.stderr.contains("a.pcap")
            && r.stderr.contains("capture (pcap)"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty(), "nothing is analysed: {}", r.stdout);
    assert_eq!(
        std::fs::read(&a).expect("read"),
        before,
        "the capture was changed"
    );

    // An output that is its own input, by another spelling too.
    let other = format!("{}/./a.pcap", dir.path().display());
    for (flag, extra) in [
        ("--json-out", None),
        ("--flows", None),
        ("--html", Some("timeline")),
    ] {
        let cmd = extra.unwrap_or("analyze");
        let r = run(&[cmd, flag, &other, &s(&a)]);
        assert_eq!(r.code, 2, "{cmd} {flag}: {}", r.stderr);
        assert!(r.stderr.contains("also an input"), "{}", r.stderr);
        assert!(r.stderr.contains(&s(&a)), "names the input: {}", r.stderr);
    }
    let r = run(&["timeline", "--csv", &s(&a), &s(&b)]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(
        std::fs::read(&a).expect("read"),
        before,
        "the capture was changed"
    );

    // A compressed file is refused too (it may be a capture).
    let gz = dir.path().join("old.pcap.gz");
    std::fs::write(&gz, [0x1f, 0x8b, 8, 0, 0, 0, 0, 0]).expect("write");
    let r = run(&["analyze", "--json-out", &s(&gz), &s(&b)]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("gzip"), "{}", r.stderr);
}

/// Item 1: a finscope report is replaced only by an output of its own
/// kind; two outputs may not name one file.
#[test]
fn a_report_is_replaced_only_by_its_own_kind() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cap = s(&fixture("sample.pcap"));
    let json = s(&dir.path().join("r.json"));
    let html = s(&dir.path().join("r.html"));
    assert_eq!(run(&["analyze", "-q", "--json-out", &json, &cap]).code, 0);
    // Written again: same kind, allowed.
    assert_eq!(run(&["analyze", "-q", "--json-out", &json, &cap]).code, 0);
    let r = run(&["analyze", "-q", "--html", &json, &cap]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("finscope JSON report"), "{}", r.stderr);
    let r = run(&["analyze", "-q", "--flows", &json, &cap]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        std::fs::read_to_string(&json)
            .expect("read")
            .contains("\"schema_version\""),
        "the report was replaced"
    );
    assert_eq!(run(&["analyze", "-q", "--html", &html, &cap]).code, 0);
    assert_eq!(run(&["timeline", "-q", "--html", &html, &cap]).code, 0);
    let r = run(&["analyze", "-q", "--json-out", &html, &cap]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    // A file finscope does not know is replaced as before.
    let txt = dir.path().join("notes.txt");
    std::fs::write(&txt, "hello\n").expect("write");
    assert_eq!(
        run(&["analyze", "-q", "--json-out", &s(&txt), &cap]).code,
        0
    );
    // Two outputs, one file.
    let both = s(&dir.path().join("both.out"));
    let r = run(&["analyze", "-q", "--json-out", &both, "--html", &both, &cap]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("--json-out and --html both name"),
        "{}",
        r.stderr
    );
    // merge --html over one of its inputs.
    let r = run(&["merge", "--html", &json, &json]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("also an input"), "{}", r.stderr);
}

/// Item 2: a ratio is 0..1 or 0%..100%; `10`, `5`, `150%` are refused.
#[test]
fn ratio_bounds_above_one_are_refused() {
    let cap = s(&fixture("sample.pcap"));
    for (flag, v) in [
        ("--max-fin-ratio", "10"),
        ("--max-rst-ratio", "5"),
        ("--max-rst-ratio", "150%"),
        ("--max-fin-ratio", "1.5"),
        ("--max-fin-retrans", "150%"),
        ("--max-fin-retrans", "2.5"),
    ] {
        let r = run(&["check", flag, v, &cap]);
        assert_eq!(r.code, 2, "{flag} {v}: {}{}", r.stdout, r.stderr);
        assert!(r.stdout.is_empty(), "{flag} {v}: {}", r.stdout);
        assert!(r.stderr.contains(v), "{flag} {v}: {}", r.stderr);
    }
    // The ends of the range are bounds like any other.
    let r = run(&[
        "check",
        "--max-fin-ratio",
        "100%",
        "--max-rst-ratio",
        "1",
        &cap,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // In a config file too.
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("finscope.toml");
    std::fs::write(&cfg, "[check]\nmax-fin-ratio = 10\n").expect("write");
    let r = run(&["check", "--config", &s(&cfg), &cap]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("max-fin-ratio"), "{}", r.stderr);
}

/// Item 3: a filter or time range that matches nothing is said on stderr,
/// in the text, JSON and HTML reports, and `check` exits 2.
#[test]
fn an_empty_selection_is_said_and_fails_a_gate() {
    let cap = s(&fixture("sample.pcap"));
    for sel in [&["--filter", "host 192.0.2.1"][..], &["--since", "1h"][..]] {
        let mut args = vec!["check", "--max-unacked-fins", "0"];
        args.extend_from_slice(sel);
        args.push(&cap);
        let r = run(&args);
        assert_eq!(r.code, 2, "{sel:?}: {}{}", r.stdout, r.stderr);
        assert!(!r.stdout.contains("ok"), "{sel:?}: {}", r.stdout);
        assert!(
            r.stderr.contains("matched 0 of 1,209 frames"),
            "{sel:?}: {}",
            r.stderr
        );

        let mut args = vec!["analyze", "-q"];
        args.extend_from_slice(sel);
        args.push(&cap);
        let r = run(&args);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(
            r.stderr.contains("matched 0 of 1,209 frames"),
            "{}",
            r.stderr
        );
        assert!(r.stdout.contains("EMPTY"), "{}", r.stdout);
        assert!(
            r.stdout.contains("matched 0 of 1,209 frames"),
            "{}",
            r.stdout
        );

        args.insert(1, "--json");
        let r = run(&args);
        let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON");
        let sel_v = &v["capture"]["selection"];
        assert_eq!(sel_v["empty"], true, "{sel_v}");
        assert_eq!(sel_v["frames_read"], 1209, "{sel_v}");
        assert_eq!(sel_v["frames_selected"], 0, "{sel_v}");

        let dir = tempfile::tempdir().expect("tempdir");
        let html = s(&dir.path().join("r.html"));
        let mut args = vec!["analyze", "-q", "--html", &html];
        args.extend_from_slice(sel);
        args.push(&cap);
        assert_eq!(run(&args).code, 0);
        let page = std::fs::read_to_string(&html).expect("page");
        assert!(
            page.contains("warn-empty-selection"),
            "no notice in the page"
        );
        assert!(page.contains("matched 0 of 1,209 frames"));
    }
    // A selection that keeps something says what it kept, and passes.
    let r = run(&[
        "check",
        "--max-fin-ratio",
        "90%",
        "--filter",
        "port 443",
        &cap,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(&["analyze", "-q", "--json", "--filter", "port 443", &cap]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON");
    let sel = &v["capture"]["selection"];
    assert_eq!(sel["empty"], false);
    assert_eq!(sel["frames_read"], 1209);
    assert_eq!(sel["frames_selected"], v["packets"]["frames"]);
    assert_eq!(sel["connections_selected"], v["connections"]["total"]);
    // No selection, no object.
    let r = run(&["analyze", "-q", "--json", &cap]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON");
    assert!(v["capture"].get("selection").is_none());
}

/// Item 4: the same report twice, or two reports of one capture, are
/// refused unless `--allow-duplicates`.
#[test]
fn merge_refuses_the_same_capture_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = s(&dir.path().join("a.json"));
    let a2 = s(&dir.path().join("a-copy.json"));
    let b = s(&dir.path().join("b.json"));
    let ab = s(&dir.path().join("ab.json"));
    let cap_a = s(&fixture("sample.pcap"));
    let cap_b = s(&fixture("fin_retransmit.pcap"));
    assert_eq!(run(&["analyze", "-q", "--json-out", &a, &cap_a]).code, 0);
    assert_eq!(run(&["analyze", "-q", "--json-out", &b, &cap_b]).code, 0);
    // The same content under another name, pretty-printed differently.
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&a).expect("read")).expect("JSON");
    std::fs::write(&a2, serde_json::to_string(&v).expect("ser")).expect("write");
    for pair in [[&a, &a], [&a, &a2]] {
        let r = run(&["merge", pair[0], pair[1]]);
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(r.stderr.contains("same report"), "{}", r.stderr);
        assert!(r.stderr.contains("--allow-duplicates"), "{}", r.stderr);
        let r = run(&["merge", "--allow-duplicates", "--json", pair[0], pair[1]]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON");
        assert_eq!(v["packets"]["frames"], 2 * 1209, "counted twice, as asked");
    }
    // A merged report and one of its parts.
    let r = run(&["merge", "--json", &a, &b]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    std::fs::write(&ab, &r.stdout).expect("write");
    let r = run(&["merge", &ab, &a]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("sample.pcap"),
        "names the capture: {}",
        r.stderr
    );
    // Different captures merge as before.
    assert_eq!(run(&["merge", &a, &b]).code, 0);
}
