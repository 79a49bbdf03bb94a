//! Scenario tests: run `finscope analyze --json` on every fixture in
//! `testdata/` and compare the report with values computed by hand from the
//! scripts in `testkit/src/synth.rs` (see also `testdata/README.md`).
//!
//! The JSON is parsed into the typed [`finscope::report::Report`] (the serde
//! document that is the schema), and checked to serialize back to exactly the
//! JSON printed: a field the typed report does not know, or one it filled in
//! by default, fails; a field the tests read that the schema lacks does not
//! compile.
//!
//! Timestamps in every fixture start at 1_700_000_000 s ([`BASE_US`]).
//! Conventions used in the comments: `c` = client (local by default),
//! `s` = server (the remote peer); "pure" = ACK-only segment without payload.
//! Latency checks stay on `count`, `max_us` and single-sample percentiles,
//! which are exact whatever the histogram's precision.

use std::collections::BTreeMap;

use finscope::report::{self as schema, LatencyStats, Outcomes, Peak, Peer};
use finscope_testkit::cli;
use serde_json::Value;

/// Microseconds of the first timestamp of every fixture.
const BASE_US: u64 = 1_700_000_000_000_000;

const OUTCOMES: [&str; 11] = [
    "complete",
    "simultaneous",
    "reset",
    "reset_after_fin",
    "half_closed",
    "fin_unacked",
    "open",
    "killed",
    "unanswered",
    "rejected",
    "one_sided",
];

/// Asserts one field of the typed report, naming its path on failure:
/// `eq!(r, connections.fin_moved, 1)`.
macro_rules! eq {
    ($r:ident, $($field:ident).+, $want:expr) => {
        assert_eq!(
            $r.doc.$($field).+,
            $want,
            "{}: `{}`",
            $r.name,
            stringify!($($field).+)
        )
    };
}

/// Every outcome of `o` by name, read field by field: the exhaustive pattern
/// makes a new outcome a compile error here until it is checked.
fn outcome_counts(o: &Outcomes) -> [(&'static str, u64); 11] {
    let Outcomes {
        complete,
        simultaneous,
        reset,
        reset_after_fin,
        half_closed,
        fin_unacked,
        open,
        killed,
        unanswered,
        rejected,
        one_sided,
    } = *o;
    [
        ("complete", complete),
        ("simultaneous", simultaneous),
        ("reset", reset),
        ("reset_after_fin", reset_after_fin),
        ("half_closed", half_closed),
        ("fin_unacked", fin_unacked),
        ("open", open),
        ("killed", killed),
        ("unanswered", unanswered),
        ("rejected", rejected),
        ("one_sided", one_sided),
    ]
}

/// A parsed JSON report plus the fixture name, for readable failures.
struct Report {
    name: String,
    doc: schema::Report,
    stderr: String,
}

impl std::ops::Deref for Report {
    type Target = schema::Report;
    fn deref(&self) -> &schema::Report {
        &self.doc
    }
}

impl Report {
    /// `map[key]` of a keyed part of the report (latency metrics and splits,
    /// timeline series, ...), panicking with the path when it is missing.
    fn entry<'a, V>(&self, map: &'a BTreeMap<String, V>, path: &str, key: &str) -> &'a V {
        map.get(key).unwrap_or_else(|| {
            panic!(
                "{}: missing `{path}.{key}` (has {:?})",
                self.name,
                map.keys().collect::<Vec<_>>()
            )
        })
    }

    /// `latency.<metric>.<split>`, by the JSON names (typed fields behind).
    fn latency(&self, metric: &str, split: &str) -> &LatencyStats {
        self.doc
            .latency
            .get(metric)
            .and_then(|m| m.get(split))
            .unwrap_or_else(|| panic!("{}: no latency `{metric}.{split}`", self.name))
    }

    /// `timeline.state_time_us.<state>`.
    fn state_time(&self, state: &str, want_us: u64) {
        let got = *self.entry(
            &self.doc.timeline.state_time_us,
            "timeline.state_time_us",
            state,
        );
        assert_eq!(
            got, want_us,
            "{}: `timeline.state_time_us.{state}`",
            self.name
        );
    }

    /// `timeline.peaks.<series>`: its value and, if given, when.
    fn peak(&self, series: &str, value: i64, t_us: Option<u64>) {
        let p: &Peak = self.entry(&self.doc.timeline.peaks, "timeline.peaks", series);
        assert_eq!(
            p.value, value,
            "{}: `timeline.peaks.{series}.value`",
            self.name
        );
        if let Some(t) = t_us {
            assert_eq!(p.t_us, t, "{}: `timeline.peaks.{series}.t_us`", self.name);
        }
    }

    /// `packets.{frames,tcp,syn,fin,rst,pure_ack}`.
    fn packets(&self, frames: u64, tcp: u64, syn: u64, fin: u64, rst: u64, pure_ack: u64) {
        let p = &self.doc.packets;
        assert_eq!(
            [p.frames, p.tcp, p.syn, p.fin, p.rst, p.pure_ack],
            [frames, tcp, syn, fin, rst, pure_ack],
            "{}: packets [frames, tcp, syn, fin, rst, pure_ack]",
            self.name
        );
        let ratio = |n: u64, d: u64| if d == 0 { 0.0 } else { n as f64 / d as f64 };
        for (path, got, want) in [
            (
                "fin_ratio.of_tcp",
                self.doc.fin_ratio.of_tcp,
                ratio(fin, tcp),
            ),
            (
                "fin_ratio.of_frames",
                self.doc.fin_ratio.of_frames,
                ratio(fin, frames),
            ),
        ] {
            assert!(
                (got - want).abs() < 1e-9,
                "{}: `{path}` = {got}, want {want}",
                self.name
            );
        }
    }

    /// `fin_retransmissions.{total,spurious,local_to_remote,remote_to_local}`.
    fn retx(&self, total: u64, spurious: u64, l2r: u64, r2l: u64) {
        let f = &self.doc.fin_retransmissions;
        assert_eq!(
            [f.total, f.spurious, f.local_to_remote, f.remote_to_local],
            [total, spurious, l2r, r2l],
            "{}: fin_retransmissions",
            self.name
        );
    }

    /// Every outcome in `got` (the report's `path`): the listed ones with
    /// their counts, all others 0.
    fn outcomes_at(&self, path: &str, got: &Outcomes, want: &[(&str, u64)]) {
        let counts = outcome_counts(got);
        // The list covers the documented outcomes, as does `Outcomes::rows`.
        let mut names: Vec<&str> = counts.iter().map(|(k, _)| *k).collect();
        names.sort_unstable();
        let mut documented = OUTCOMES.to_vec();
        documented.sort_unstable();
        assert_eq!(names, documented);
        let mut rows = got.rows().to_vec();
        rows.sort_unstable();
        let mut sorted = counts.to_vec();
        sorted.sort_unstable();
        assert_eq!(rows, sorted, "{}: `{path}`: Outcomes::rows()", self.name);
        for (k, _) in want {
            assert!(OUTCOMES.contains(k), "unknown outcome {k:?} expected");
        }
        for (key, got) in counts {
            let n = want.iter().find(|(k, _)| *k == key).map_or(0, |(_, n)| *n);
            assert_eq!(got, n, "{}: `{path}.{key}`", self.name);
        }
    }

    /// `outcomes`, `outcomes_by_closer.local_first` and `.remote_first`.
    fn outcomes(
        &self,
        all: &[(&str, u64)],
        local_first: &[(&str, u64)],
        remote_first: &[(&str, u64)],
    ) {
        let by = &self.doc.outcomes_by_closer;
        self.outcomes_at("outcomes", &self.doc.outcomes, all);
        self.outcomes_at(
            "outcomes_by_closer.local_first",
            &by.local_first,
            local_first,
        );
        self.outcomes_at(
            "outcomes_by_closer.remote_first",
            &by.remote_first,
            remote_first,
        );
    }

    fn connections(&self, total: u64, handshake_seen: u64) {
        let r = self;
        eq!(r, connections.total, total);
        eq!(r, connections.handshake_seen, handshake_seen);
    }

    /// `latency.<metric>.<split>`: count and max; with one sample every
    /// percentile equals the sample.
    fn lat(&self, metric: &str, split: &str, count: u64, max_us: u64) {
        let s = self.latency(metric, split);
        let p = format!("latency.{metric}.{split}");
        assert_eq!(s.count, count, "{}: `{p}.count`", self.name);
        if count == 0 {
            return;
        }
        assert_eq!(s.max_us, Some(max_us), "{}: `{p}.max_us`", self.name);
        if count == 1 {
            for (q, v) in [
                ("p50_us", s.p50_us),
                ("p90_us", s.p90_us),
                ("p99_us", s.p99_us),
                ("p999_us", s.p999_us),
            ] {
                assert_eq!(v, Some(max_us), "{}: `{p}.{q}`", self.name);
            }
        }
    }

    /// `latency.<metric>` for all three splits at once: `(count, max)` each.
    fn lat3(
        &self,
        metric: &str,
        all: (u64, u64),
        local_first: (u64, u64),
        remote_first: (u64, u64),
    ) {
        self.lat(metric, "all", all.0, all.1);
        self.lat(metric, "local_first", local_first.0, local_first.1);
        self.lat(metric, "remote_first", remote_first.0, remote_first.1);
    }

    /// `capture.first_ts_us`, `last_ts_us` and `duration_us`, as offsets
    /// from [`BASE_US`].
    fn times(&self, first_off_us: u64, last_off_us: u64) {
        let r = self;
        eq!(r, capture.first_ts_us, Some(BASE_US + first_off_us));
        eq!(r, capture.last_ts_us, Some(BASE_US + last_off_us));
        eq!(r, capture.duration_us, last_off_us - first_off_us);
    }

    /// `truncated`, at top level and under `capture` (they must agree).
    fn truncated(&self) -> bool {
        let (top, cap) = (self.doc.truncated, self.doc.capture.truncated);
        assert_eq!(top, cap, "{}: truncated vs capture.truncated", self.name);
        top
    }

    fn peers(&self) -> &Vec<Peer> {
        &self.doc.peers
    }

    fn peer_addrs(&self) -> Vec<String> {
        self.peers().iter().map(|p| p.addr.clone()).collect()
    }

    /// The peer with this address in `peers`.
    fn peer_row(&self, addr: &str) -> &Peer {
        self.peers()
            .iter()
            .find(|p| p.addr == addr)
            .unwrap_or_else(|| panic!("{}: no peer {addr} in {:?}", self.name, self.peer_addrs()))
    }

    /// Checks one peer's counters:
    /// `(connections, closes, fin_retransmissions, unacked_fins, rsts)`.
    fn peer(&self, addr: &str, counts: (u64, u64, u64, u64, u64)) {
        let p = self.peer_row(addr);
        let got = (
            p.counts.connections,
            p.counts.closes,
            p.counts.fin_retransmissions,
            p.counts.unacked_fins,
            p.counts.rsts,
        );
        assert_eq!(
            got, counts,
            "{}: peer {addr} (connections, closes, fin_retransmissions, unacked_fins, rsts)",
            self.name
        );
    }

    /// Checks a peer's local-FIN -> remote-ACK latency: `Some(max)` for
    /// exactly one sample (so p50 = p99 = max), `None` for no sample (null).
    fn peer_fin_ack(&self, addr: &str, single_sample_us: Option<u64>) {
        let p = self.peer_row(addr);
        assert_eq!(
            [p.fin_ack_p50_us, p.fin_ack_p99_us, p.fin_ack_max_us],
            [single_sample_us; 3],
            "{}: peer {addr} [fin_ack_p50_us, fin_ack_p99_us, fin_ack_max_us]",
            self.name
        );
    }

    fn peer_filter_contains(&self, addr: &str, parts: &[&str]) {
        let f = &self.peer_row(addr).wireshark_filter;
        for part in parts {
            assert!(
                f.contains(part),
                "{}: peer {addr} `wireshark_filter` = {f:?} lacks {part:?}",
                self.name
            );
        }
    }

    /// `capture.link_types`, exactly: `(linktype, name, frames, supported)`
    /// per link type, in the report's order.
    fn link_types(&self, want: &[(u16, &str, u64, bool)]) {
        let got: Vec<(u16, &str, u64, bool)> = self
            .doc
            .capture
            .link_types
            .iter()
            .map(|l| (l.linktype, l.name.as_str(), l.frames, l.supported))
            .collect();
        assert_eq!(
            got, want,
            "{}: capture.link_types (linktype, name, frames, supported)",
            self.name
        );
    }
}

/// Runs `finscope analyze --json [extra...] testdata/<name>`, expecting
/// exit 0 and one JSON document on stdout that is exactly a typed report.
fn analyze_with(name: &str, extra: &[&str]) -> Report {
    let out = cli::cmd()
        .arg("analyze")
        .arg("--json")
        .args(extra)
        .arg(cli::fixture(name))
        .output()
        .unwrap_or_else(|e| panic!("{name}: cannot run finscope: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "{name}: finscope exited with {:?}\nstderr:\n{stderr}",
        out.status.code()
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{name}: stdout is not one JSON document: {e}\n{stdout}"));
    let doc: schema::Report = serde_json::from_value(v.clone())
        .unwrap_or_else(|e| panic!("{name}: the JSON is not a report: {e}\n{stdout}"));
    // Nothing ignored, nothing defaulted: the typed report is the whole JSON.
    let back = serde_json::to_value(&doc).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(
        back == v,
        "{name}: the typed report does not serialize back to the JSON printed\n\
         printed: {v}\ntyped:   {back}"
    );
    let r = Report {
        name: name.to_string(),
        doc,
        stderr,
    };
    eq!(r, schema_version, 2);
    r
}

fn analyze(name: &str) -> Report {
    analyze_with(name, &[])
}

// ---- fixtures are generated, not edited -------------------------------------

#[test]
fn committed_fixtures_match_generator() {
    let generated = finscope_testkit::synth::fixtures();
    let mut stale = Vec::new();
    for (name, bytes) in &generated {
        match std::fs::read(cli::fixture(name)) {
            Ok(on_disk) if on_disk == *bytes => {}
            Ok(_) => stale.push(format!("{name} differs")),
            Err(e) => stale.push(format!("{name}: {e}")),
        }
    }
    // No capture in testdata/ that the generator does not know.
    let dir = std::fs::read_dir(cli::fixture("")).unwrap_or_else(|e| panic!("testdata/: {e}"));
    for entry in dir.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let is_capture = file.ends_with(".pcap") || file.ends_with(".pcapng");
        if is_capture && !generated.iter().any(|(n, _)| *n == file) {
            stale.push(format!("{file} is not generated"));
        }
    }
    assert!(
        stale.is_empty(),
        "testdata/ drifted from testkit/src/synth.rs ({stale:?}); regenerate with \
         `cargo run --example mkfixtures -- testdata`"
    );
}

// ---- close patterns -----------------------------------------------------------

#[test]
fn fin_4way() {
    // 0 SYN, 10 SYN-ACK, 20 ACK, 30 c data 100, 40 s ACK, 50 s data 500,
    // 60 c ACK, 1000 c FIN, 1020 s ACK, 1050 s FIN, 1060 c ACK (ms).
    let r = analyze("fin_4way.pcap");
    // pure: 20, 40, 60, 1020, 1060.
    r.packets(11, 11, 2, 2, 0, 5);
    r.retx(0, 0, 0, 0);
    r.outcomes(&[("complete", 1)], &[("complete", 1)], &[]);
    r.connections(1, 1);
    r.lat3("fin_ack", (1, 20_000), (1, 20_000), (0, 0)); // 1000 -> 1020
    r.lat3("fin_fin", (1, 50_000), (1, 50_000), (0, 0)); // 1000 -> 1050
    r.lat3("close_total", (1, 60_000), (1, 60_000), (0, 0)); // 1000 -> 1060
    r.peer("203.0.113.10", (1, 1, 0, 0, 0));
    r.peer_fin_ack("203.0.113.10", Some(20_000));
    r.peer_filter_contains(
        "203.0.113.10",
        &["10.0.0.2", "40000", "203.0.113.10", "80", "ip.addr"],
    );
    assert_eq!(r.peers().len(), 1);
    r.times(0, 1_060_000);
    assert!(!r.truncated());
    r.link_types(&[(1, "EN10MB", 11, true)]);
}

#[test]
fn fin_remote_first() {
    // 0 SYN, 10 SYN-ACK, 20 ACK, 30 s data 200, 40 c ACK,
    // 2000 s FIN, 2030 c ACK, 2100 c FIN, 2110 s ACK.
    let r = analyze("fin_remote_first.pcap");
    r.packets(9, 9, 2, 2, 0, 4); // pure: 20, 40, 2030, 2110
    r.retx(0, 0, 0, 0);
    r.outcomes(&[("complete", 1)], &[], &[("complete", 1)]);
    r.connections(1, 1);
    r.lat3("fin_ack", (1, 30_000), (0, 0), (1, 30_000));
    r.lat3("fin_fin", (1, 100_000), (0, 0), (1, 100_000));
    r.lat3("close_total", (1, 110_000), (0, 0), (1, 110_000));
    r.peer("203.0.113.11", (1, 1, 0, 0, 0));
    // peers[].fin_ack_* measures a LOCAL FIN to the remote's ACK of it,
    // even when the local FIN is the second one: 2100 -> 2110.
    r.peer_fin_ack("203.0.113.11", Some(10_000));
    r.times(0, 2_110_000);
}

#[test]
fn local_override_swaps_sides() {
    // Same file with the server's prefix as local: now the local side
    // closes first and the client 10.0.0.2 is the remote peer. Its ACK of
    // the local FIN: 2000 -> 2030.
    let r = analyze_with("fin_remote_first.pcap", &["--local", "203.0.113.0/24"]);
    r.outcomes(&[("complete", 1)], &[("complete", 1)], &[]);
    r.lat3("fin_ack", (1, 30_000), (1, 30_000), (0, 0));
    r.peer("10.0.0.2", (1, 1, 0, 0, 0));
    r.peer_fin_ack("10.0.0.2", Some(30_000));

    // Both endpoints match: fall back to client = local.
    let r = analyze_with(
        "fin_remote_first.pcap",
        &["--local", "10.0.0.0/8,203.0.113.0/24"],
    );
    r.outcomes(&[("complete", 1)], &[], &[("complete", 1)]);
    r.peer("203.0.113.11", (1, 1, 0, 0, 0));
}

#[test]
fn fin_simultaneous() {
    // 0 SYN, 10 SYN-ACK, 20 ACK, 1000 c FIN (seq 1001, ack 5001),
    // 1005 s FIN (seq 5001, ack 1001: does not ACK c's FIN -> crossed),
    // 1030 s ACK 1002, 1040 c ACK 5002.
    let r = analyze("fin_simultaneous.pcap");
    r.packets(7, 7, 2, 2, 0, 3); // pure: 20, 1030, 1040
    r.retx(0, 0, 0, 0);
    r.outcomes(&[("simultaneous", 1)], &[("simultaneous", 1)], &[]);
    r.lat3("fin_ack", (1, 30_000), (1, 30_000), (0, 0)); // 1000 -> 1030
    r.lat3("fin_fin", (1, 5_000), (1, 5_000), (0, 0)); // 1000 -> 1005
    r.lat3("close_total", (1, 40_000), (1, 40_000), (0, 0)); // 1000 -> 1040
    r.peer("203.0.113.12", (1, 1, 0, 0, 0));
    r.peer_fin_ack("203.0.113.12", Some(30_000));
    r.times(0, 1_040_000);
}

#[test]
fn fin_retransmit() {
    // 0 SYN, 10 SYN-ACK, 20 ACK, 30 c data 100, 40 s ACK,
    // 1000 c FIN (seq 1101), retransmitted at 1200, 1600, 2400
    // (backoff 200/400/800 ms), 15000 s ACK 1102, 15020 c FIN again
    // (spurious: already ACKed), 15100 s FIN, 15110 c ACK.
    let r = analyze("fin_retransmit.pcap");
    r.packets(13, 13, 2, 6, 0, 4); // FIN: 4 + 1 spurious + s; pure: 20, 40, 15000, 15110
    r.retx(4, 1, 4, 0);
    r.outcomes(&[("complete", 1)], &[("complete", 1)], &[]);
    r.connections(1, 1);
    r.lat3("fin_ack", (1, 14_000_000), (1, 14_000_000), (0, 0));
    r.lat3("fin_fin", (1, 14_100_000), (1, 14_100_000), (0, 0));
    r.lat3("close_total", (1, 14_110_000), (1, 14_110_000), (0, 0));
    r.peer("203.0.113.13", (1, 1, 4, 0, 0));
    r.peer_fin_ack("203.0.113.13", Some(14_000_000));
    r.times(0, 15_110_000);
}

#[test]
fn fin_unacked() {
    // A: 0 SYN, 10 SYN-ACK, 20 ACK, 30 c data 50, 40 s ACK, 1000 c FIN,
    //    never ACKed; 1500 ICMP host unreachable quoting that FIN (not TCP).
    // B (198.51.100.7): 500 SYN, 510 SYN-ACK, 520 ACK, 30990 c data 10,
    //    31000 s ACK; never closed.
    let r = analyze("fin_unacked.pcap");
    r.packets(12, 11, 4, 1, 0, 4); // pure: 20, 40, 520, 31000
    r.retx(0, 0, 0, 0);
    r.outcomes(
        &[("fin_unacked", 1), ("open", 1)],
        &[("fin_unacked", 1)],
        &[],
    );
    r.connections(2, 2);
    r.lat3("fin_ack", (0, 0), (0, 0), (0, 0));
    r.lat3("fin_fin", (0, 0), (0, 0), (0, 0));
    r.lat3("close_total", (0, 0), (0, 0), (0, 0));
    // Ranked by retransmissions + unacked: A's server first.
    assert_eq!(r.peer_addrs(), vec!["203.0.113.20", "198.51.100.7"]);
    r.peer("203.0.113.20", (1, 1, 0, 1, 0));
    // Never ACKed, never retransmitted (so no kill can be inferred): its
    // age at the end, 31 s - 1 s, stands in the peer's ack columns.
    r.peer_fin_ack("203.0.113.20", Some(30_000_000));
    eq!(r, unacked_fins.local_to_remote, 1);
    eq!(r, unacked_fins.remote_to_local, 0);
    r.peer("198.51.100.7", (1, 0, 0, 0, 0));
    r.times(0, 31_000_000);
}

#[test]
fn idle_timeout_splits_connections() {
    // In fin_unacked.pcap, B is silent from 520 to 30990 ms: with a 10 s
    // idle timeout it becomes two connections (the second without
    // handshake, both open); A stays one (nothing after its FIN).
    let r = analyze_with("fin_unacked.pcap", &["--idle-timeout", "10"]);
    r.connections(3, 2);
    r.outcomes(
        &[("fin_unacked", 1), ("open", 2)],
        &[("fin_unacked", 1)],
        &[],
    );
}

#[test]
fn half_closed() {
    // 0 SYN, 10 SYN-ACK, 20 ACK, 30 c data 100, 40 s ACK, 1000 c FIN,
    // 1010 s ACK, 2000 s data 1000, 2010 c ACK, 3000 s data 500, 3010 c ACK.
    let r = analyze("half_closed.pcap");
    r.packets(11, 11, 2, 1, 0, 5); // pure: 20, 40, 1010, 2010, 3010
    r.outcomes(&[("half_closed", 1)], &[("half_closed", 1)], &[]);
    r.lat3("fin_ack", (1, 10_000), (1, 10_000), (0, 0));
    r.lat3("fin_fin", (0, 0), (0, 0), (0, 0));
    r.lat3("close_total", (0, 0), (0, 0), (0, 0));
    r.peer("203.0.113.21", (1, 1, 0, 0, 0));
    r.peer_fin_ack("203.0.113.21", Some(10_000));
    r.times(0, 3_010_000);
}

// ---- resets ------------------------------------------------------------------------

#[test]
fn rst_no_fin() {
    // 0 SYN, 10 SYN-ACK, 20 ACK, 30 c data 100, 40 s RST|ACK.
    let r = analyze("rst_no_fin.pcap");
    r.packets(5, 5, 2, 0, 1, 1); // pure: 20
    r.outcomes(&[("reset", 1)], &[], &[]);
    r.connections(1, 1);
    r.lat3("fin_ack", (0, 0), (0, 0), (0, 0));
    r.lat3("close_total", (0, 0), (0, 0), (0, 0));
    r.peer("203.0.113.22", (1, 0, 0, 0, 1));
    r.peer_fin_ack("203.0.113.22", None);
    r.times(0, 40_000);
}

#[test]
fn rst_after_fin() {
    // 0 SYN, 10 SYN-ACK, 20 ACK, 30 s data 300, 40 c ACK, 1000 c FIN,
    // 1010 s ACK, 1500 s data 100, 1510 c RST|ACK.
    let r = analyze("rst_after_fin.pcap");
    r.packets(9, 9, 2, 1, 1, 3); // pure: 20, 40, 1010
    r.outcomes(&[("reset_after_fin", 1)], &[("reset_after_fin", 1)], &[]);
    r.lat3("fin_ack", (1, 10_000), (1, 10_000), (0, 0));
    r.lat3("fin_fin", (0, 0), (0, 0), (0, 0));
    r.lat3("close_total", (1, 510_000), (1, 510_000), (0, 0)); // FIN -> RST
    r.peer("203.0.113.23", (1, 1, 0, 0, 1));
    r.peer_fin_ack("203.0.113.23", Some(10_000));
    r.times(0, 1_510_000);
}

#[test]
fn open() {
    // 0 SYN, 10 SYN-ACK, 20 ACK, 30 c data 100, 40 s data 1000, 50 c ACK.
    let r = analyze("open.pcap");
    r.packets(6, 6, 2, 0, 0, 2); // pure: 20, 50; fin_ratio 0.0
    r.retx(0, 0, 0, 0);
    r.outcomes(&[("open", 1)], &[], &[]);
    r.connections(1, 1);
    r.lat3("fin_ack", (0, 0), (0, 0), (0, 0));
    r.peer("203.0.113.24", (1, 0, 0, 0, 0));
    r.times(0, 50_000);
}

// ---- side detection, sequence space, connection identity -------------------------

#[test]
fn no_handshake() {
    // Mid-stream: 0 s(443) data 500 (first packet is the server's!),
    // 10 c ACK, 20 c data 100, 30 s ACK, 1000 c FIN, 1020 s FIN|ACK (ACKs
    // c's FIN), 1030 c ACK. Port 443 < 51000 -> server; client = local.
    let r = analyze("no_handshake.pcap");
    r.packets(7, 7, 0, 2, 0, 3); // pure: 10, 30, 1030
    r.outcomes(&[("complete", 1)], &[("complete", 1)], &[]);
    r.connections(1, 0);
    r.lat3("fin_ack", (1, 20_000), (1, 20_000), (0, 0));
    r.lat3("fin_fin", (1, 20_000), (1, 20_000), (0, 0));
    r.lat3("close_total", (1, 30_000), (1, 30_000), (0, 0));
    assert_eq!(r.peer_addrs(), vec!["203.0.113.30"]);
    r.peer("203.0.113.30", (1, 1, 0, 0, 0));
    r.peer_fin_ack("203.0.113.30", Some(20_000));
    r.peer_filter_contains("203.0.113.30", &["10.0.0.2", "51000", "443"]);
    r.times(0, 1_030_000);
}

#[test]
fn seq_wrap() {
    // ISNs c 0xfffffff0, s 0xfffffff8; c sends 14 bytes, s 7 bytes, so
    // 1000 c FIN seq 0xffffffff, 1025 s ACK 0x00000000 (wrapped),
    // 1100 s FIN seq 0x00000000, 1125 c ACK 1.
    let r = analyze("seq_wrap.pcap");
    r.packets(11, 11, 2, 2, 0, 5); // pure: 20, 40, 60, 1025, 1125
    r.retx(0, 0, 0, 0);
    r.outcomes(&[("complete", 1)], &[("complete", 1)], &[]);
    r.lat3("fin_ack", (1, 25_000), (1, 25_000), (0, 0));
    r.lat3("fin_fin", (1, 100_000), (1, 100_000), (0, 0));
    r.lat3("close_total", (1, 125_000), (1, 125_000), (0, 0));
    r.peer("203.0.113.31", (1, 1, 0, 0, 0));
    r.times(0, 1_125_000);
}

#[test]
fn port_reuse() {
    // Same 4-tuple 10.0.0.2:40100 <-> 203.0.113.40:80.
    // #1 ISN 1000/5000: 0 SYN, 10 SYN-ACK, 20 ACK, 30 c data, 40 s ACK,
    //    1000 c FIN, 1010 s FIN|ACK, 1020 c ACK.
    // #2 ISN 900000/700000: 2020 SYN, 2030 SYN-ACK, 2040 ACK, 2050 c data,
    //    2060 s RST|ACK.
    let r = analyze("port_reuse.pcap");
    r.packets(13, 13, 4, 2, 1, 4); // pure: 20, 40, 1020, 2040
    r.outcomes(&[("complete", 1), ("reset", 1)], &[("complete", 1)], &[]);
    r.connections(2, 2);
    r.lat3("fin_ack", (1, 10_000), (1, 10_000), (0, 0));
    r.lat3("fin_fin", (1, 10_000), (1, 10_000), (0, 0));
    r.lat3("close_total", (1, 20_000), (1, 20_000), (0, 0));
    r.peer("203.0.113.40", (2, 1, 0, 0, 1));
    r.times(0, 2_060_000);
}

#[test]
fn vlan_qinq() {
    // Two connections with the same 5-tuple, VLANs 100/200 and 100/201
    // (outer 0x88a8, inner 0x8100): different connections.
    // A: the fin_4way script at 0 (fin_ack 20, fin_fin 50, close 60 ms).
    // B: the same at +5 ms with fin_ack 40, fin_fin 80, close 90 ms.
    let r = analyze("vlan_qinq.pcap");
    r.packets(22, 22, 4, 4, 0, 10);
    r.outcomes(&[("complete", 2)], &[("complete", 2)], &[]);
    r.connections(2, 2);
    r.lat3("fin_ack", (2, 40_000), (2, 40_000), (0, 0));
    r.lat3("fin_fin", (2, 80_000), (2, 80_000), (0, 0));
    r.lat3("close_total", (2, 90_000), (2, 90_000), (0, 0));
    r.peer("203.0.113.50", (2, 2, 0, 0, 0));
    assert_eq!(
        r.peers[0].fin_ack_max_us,
        Some(40_000),
        "peers.0.fin_ack_max_us"
    );
    r.times(0, 1_095_000);
}

// ---- link types and file formats ----------------------------------------------------

/// The fin_4way script (IPv4 10.0.0.2 -> 203.0.113.60:80) over another link
/// type; with `v6`, again over IPv6 ([2001:db8:1::2] -> [2001:db8::60]:80)
/// starting at 2000 ms.
/// `link` is the one link type's `(LINKTYPE_ number, name)`.
fn check_link_fixture(name: &str, v6: bool, link: (u16, &str)) {
    let r = analyze(name);
    let n = if v6 { 2 } else { 1 };
    r.packets(11 * n, 11 * n, 2 * n, 2 * n, 0, 5 * n);
    r.retx(0, 0, 0, 0);
    r.outcomes(&[("complete", n)], &[("complete", n)], &[]);
    r.connections(n, n);
    r.lat3("fin_ack", (n, 20_000), (n, 20_000), (0, 0));
    r.lat3("fin_fin", (n, 50_000), (n, 50_000), (0, 0));
    r.lat3("close_total", (n, 60_000), (n, 60_000), (0, 0));
    r.peer("203.0.113.60", (1, 1, 0, 0, 0));
    r.peer_fin_ack("203.0.113.60", Some(20_000));
    if v6 {
        r.peer("2001:db8::60", (1, 1, 0, 0, 0));
        r.peer_fin_ack("2001:db8::60", Some(20_000));
        r.peer_filter_contains(
            "2001:db8::60",
            &["ipv6.addr", "2001:db8:1::2", "2001:db8::60"],
        );
        r.times(0, 3_060_000);
    } else {
        r.times(0, 1_060_000);
    }
    r.link_types(&[(link.0, link.1, 11 * n, true)]);
}

#[test]
fn link_sll() {
    check_link_fixture("sll.pcap", false, (113, "LINUX_SLL"));
}

#[test]
fn link_sll2() {
    check_link_fixture("sll2.pcap", false, (276, "LINUX_SLL2"));
}

#[test]
fn link_raw_ip() {
    check_link_fixture("raw_ip.pcap", true, (101, "RAW"));
}

#[test]
fn link_raw_ipv4_228() {
    check_link_fixture("raw_ipv4_228.pcap", false, (228, "IPV4"));
}

#[test]
fn link_raw_ipv6_229() {
    // One IPv6 connection [2001:db8:1::2]:40017 -> [2001:db8::60]:80.
    let r = analyze("raw_ipv6_229.pcap");
    r.packets(11, 11, 2, 2, 0, 5);
    r.outcomes(&[("complete", 1)], &[("complete", 1)], &[]);
    r.lat3("fin_ack", (1, 20_000), (1, 20_000), (0, 0));
    r.peer("2001:db8::60", (1, 1, 0, 0, 0));
    r.peer_filter_contains("2001:db8::60", &["ipv6.addr", "40017"]);
    r.link_types(&[(229, "IPV6", 11, true)]);
}

#[test]
fn link_null() {
    // AF_INET 2 and AF_INET6 30, little-endian.
    check_link_fixture("null.pcap", true, (0, "NULL"));
}

#[test]
fn link_loop() {
    check_link_fixture("loop.pcap", false, (108, "LOOP"));
}

#[test]
fn link_pppoe() {
    // PPPoE session 0x1234; PPP 0x0021 (IPv4) and 0x0057 (IPv6).
    check_link_fixture("pppoe.pcap", true, (1, "EN10MB"));
}

#[test]
fn ipv6_extension_headers() {
    // A: [2001:db8:1::2]:40030 -> [2001:db8::10]:443, hop-by-hop header,
    //    the fin_4way script (20/50/60 ms).
    // B: [2001:db8:1::2]:40031 -> [2001:db8::20]:80, destination options,
    //    at +500 ms with fin_ack 30, fin_fin 60, close 70 ms (ends 1570 ms).
    let r = analyze("ipv6.pcap");
    r.packets(22, 22, 4, 4, 0, 10);
    r.outcomes(&[("complete", 2)], &[("complete", 2)], &[]);
    r.connections(2, 2);
    r.lat3("fin_ack", (2, 30_000), (2, 30_000), (0, 0));
    r.lat3("fin_fin", (2, 60_000), (2, 60_000), (0, 0));
    r.lat3("close_total", (2, 70_000), (2, 70_000), (0, 0));
    r.peer("2001:db8::10", (1, 1, 0, 0, 0));
    r.peer_fin_ack("2001:db8::10", Some(20_000));
    r.peer("2001:db8::20", (1, 1, 0, 0, 0));
    r.peer_fin_ack("2001:db8::20", Some(30_000));
    r.peer_filter_contains(
        "2001:db8::10",
        &["ipv6.addr", "2001:db8:1::2", "40030", "443"],
    );
    r.times(0, 1_570_000);
}

#[test]
fn nanosecond_big_endian() {
    // fin_4way script, big-endian pcap with ns timestamps, every packet
    // 123 ns after the millisecond: differences stay whole microseconds
    // and the first timestamp truncates (or rounds) to BASE_US.
    let r = analyze("nanosecond_be.pcap");
    r.packets(11, 11, 2, 2, 0, 5);
    r.outcomes(&[("complete", 1)], &[("complete", 1)], &[]);
    r.lat3("fin_ack", (1, 20_000), (1, 20_000), (0, 0));
    r.lat3("fin_fin", (1, 50_000), (1, 50_000), (0, 0));
    r.lat3("close_total", (1, 60_000), (1, 60_000), (0, 0));
    r.peer("203.0.113.63", (1, 1, 0, 0, 0));
    r.times(0, 1_060_000);
}

#[test]
fn multi_idb_pcapng() {
    // Interface 0: Ethernet, if_tsresol 6; the fin_4way script
    //   10.0.0.2:40033 -> 203.0.113.64:80 (11 frames).
    // Interface 1: raw IP, if_tsresol 9; the remote-first script at +500 ms
    //   10.0.0.3:40034 -> 198.51.100.20:443 (9 frames, ends 2610 ms).
    // Plus a Simple Packet Block (ARP) after the first EPB and a block of
    // unknown type 0x80000f15 (skipped).
    let r = analyze("multi_idb.pcapng");
    r.packets(21, 20, 4, 4, 0, 9);
    r.outcomes(&[("complete", 2)], &[("complete", 1)], &[("complete", 1)]);
    r.connections(2, 2);
    r.lat3("fin_ack", (2, 30_000), (1, 20_000), (1, 30_000));
    r.lat3("fin_fin", (2, 100_000), (1, 50_000), (1, 100_000));
    r.lat3("close_total", (2, 110_000), (1, 60_000), (1, 110_000));
    r.peer("203.0.113.64", (1, 1, 0, 0, 0));
    r.peer_fin_ack("203.0.113.64", Some(20_000));
    r.peer("198.51.100.20", (1, 1, 0, 0, 0));
    r.times(0, 2_610_000);
    // Interface 0: 11 TCP frames plus the SPB; interface 1: 9.
    r.link_types(&[(1, "EN10MB", 12, true), (101, "RAW", 9, true)]);
}

#[test]
fn snaplen_64() {
    // Records cut to 64 bytes (headers intact). 0 SYN, 10 SYN-ACK, 20 ACK,
    // 30 s data 1400, 40 c ACK, 1000 c FIN|PSH with 300 bytes (seq 1001,
    // FIN at 1301), 1010 s ACK 1301 (data only), 1210 c bare FIN seq 1301
    // (a retransmission: it does not advance past 1301), 1220 s ACK 1302,
    // 1300 s FIN, 1310 c ACK. Payload lengths must come from the IP header.
    let r = analyze("snaplen_64.pcap");
    r.packets(11, 11, 2, 3, 0, 5); // pure: 20, 40, 1010, 1220, 1310
    r.retx(1, 0, 1, 0);
    r.outcomes(&[("complete", 1)], &[("complete", 1)], &[]);
    r.lat3("fin_ack", (1, 220_000), (1, 220_000), (0, 0));
    r.lat3("fin_fin", (1, 300_000), (1, 300_000), (0, 0));
    r.lat3("close_total", (1, 310_000), (1, 310_000), (0, 0));
    r.peer("203.0.113.65", (1, 1, 1, 0, 0));
    r.peer_fin_ack("203.0.113.65", Some(220_000));
    r.times(0, 1_310_000);
}

#[test]
fn truncated_tail() {
    // fin_4way script cut in the middle of its last record (the c ACK of
    // s's FIN at 1060 ms): 10 complete records remain, s's FIN stays
    // unACKed.
    let r = analyze("truncated_tail.pcap");
    assert!(r.truncated(), "truncated flag");
    r.packets(10, 10, 2, 2, 0, 4);
    r.outcomes(&[("fin_unacked", 1)], &[("fin_unacked", 1)], &[]);
    r.lat3("fin_ack", (1, 20_000), (1, 20_000), (0, 0));
    r.lat3("fin_fin", (1, 50_000), (1, 50_000), (0, 0));
    r.lat3("close_total", (0, 0), (0, 0), (0, 0));
    // s's FIN is the local side's to ACK: not the peer's fault.
    r.peer("203.0.113.66", (1, 1, 0, 0, 0));
    eq!(r, unacked_fins.remote_to_local, 1);
    r.times(0, 1_050_000);

    // The warning names the offset of the cut record (or of the end of
    // the file).
    let bytes = std::fs::read(cli::fixture("truncated_tail.pcap")).unwrap_or_default();
    let mut off = 24;
    while let Some(h) = bytes.get(off..off + 16) {
        let caplen = u32::from_le_bytes([h[8], h[9], h[10], h[11]]) as usize;
        if off + 16 + caplen > bytes.len() {
            break;
        }
        off += 16 + caplen;
    }
    let candidates = [
        off.to_string(),
        format!("{off:#x}"),
        bytes.len().to_string(),
        format!("{:#x}", bytes.len()),
    ];
    assert!(
        candidates.iter().any(|c| r.stderr.contains(c.as_str())),
        "stderr names none of {candidates:?}:\n{}",
        r.stderr
    );
}

// ---- the README sample -----------------------------------------------------------

#[test]
fn sample_gateway() {
    // 121 connections from a proxy (10.0.0.2-5) to 41 servers, plus 10 DNS
    // query/response pairs (20 UDP frames). Per kind (frames, SYN, FIN,
    // RST, pure):
    //   70 clean v4 + 12 clean v6, local first (10, 2, 2, 0, 4)
    //   10 remote first                        (10, 2, 2, 0, 4)
    //   12 slow, 2 FIN retransmissions each    (12, 2, 4, 0, 4)
    //    5 reset                               ( 5, 2, 0, 1, 1)
    //    4 reset after FIN                     (10, 2, 1, 1, 3)
    //    4 unacked, 2 FIN retransmissions each ( 9, 2, 3, 0, 2)
    //    4 open                                ( 6, 2, 0, 0, 2)
    // tcp   = 820 + 100 + 144 + 25 + 40 + 36 + 24 = 1189; frames = 1209
    // fin   = 164 + 20 + 48 + 4 + 12 = 248; rst = 5 + 4 = 9
    // pure  = 328 + 40 + 48 + 5 + 12 + 8 + 8 = 449
    let r = analyze("sample.pcap");
    r.packets(1209, 1189, 242, 248, 9, 449);
    r.retx(32, 0, 32, 0); // (12 + 4) x 2, all local -> remote
    r.outcomes(
        &[
            ("complete", 104), // 82 + 10 + 12
            ("reset", 5),
            ("reset_after_fin", 4),
            ("killed", 4),
            ("open", 4),
        ],
        &[("complete", 94), ("reset_after_fin", 4), ("killed", 4)],
        &[("complete", 10)],
    );
    r.connections(121, 121);
    // fin_ack: 82 clean + 12 slow + 4 reset-after-FIN local, 10 remote;
    // the slowest peer ACKs after 9 s; remote-first FINs are ACKed after
    // 100 us each (exact: below 2048 us).
    r.lat3("fin_ack", (108, 9_000_000), (98, 9_000_000), (10, 100));
    assert_eq!(
        r.latency("fin_ack", "remote_first").p50_us,
        Some(100),
        "latency.fin_ack.remote_first.p50_us"
    );
    // fin_fin: 104 with both FINs; slowest: 9 s + 10 ms.
    r.lat("fin_fin", "all", 104, 9_010_000);
    // close_total: 104 + 4 (FIN -> RST); slowest: 9 s + 10.1 ms.
    r.lat("close_total", "all", 108, 9_010_100);

    // Top peers: problems = retransmissions + unacked FINs.
    let top: Vec<String> = r.peer_addrs().into_iter().take(5).collect();
    assert_eq!(
        top,
        vec![
            "198.51.100.66",     // 5 x 2 = 10
            "203.0.113.99",      // 3 x 2 + 3 = 9
            "198.51.100.67",     // 4 x 2 = 8
            "198.51.100.68",     // 3 x 2 = 6
            "2001:db8:100::bad", // 2 + 1 = 3
        ]
    );
    assert_eq!(r.peers().len(), 10, "default --top 10");
    r.peer("198.51.100.66", (5, 5, 10, 0, 0));
    assert_eq!(
        r.peers[0].fin_ack_max_us,
        Some(9_000_000),
        "peers.0.fin_ack_max_us"
    );
    // Its 3 unACKed FINs were retransmitted after 0.2 and 0.6 s, then
    // nothing for 12 s: killed when the next copy was due, at 1.4 s (the
    // age its ack columns show).
    r.peer("203.0.113.99", (3, 3, 6, 3, 0));
    r.peer_fin_ack("203.0.113.99", Some(1_400_000));
    eq!(r, unacked_fins.local_to_remote, 4);
    // 2 RTO retransmissions, killed at the third timer: tcp_orphan_retries=1.
    eq!(r, inferred_tunables.tcp_orphan_retries.value, Some(1));
    eq!(r, inferred_tunables.tcp_orphan_retries.killed, 4);
    eq!(r, inferred_tunables.tcp_orphan_retries.consistent, 4);
    r.peer("198.51.100.67", (4, 4, 8, 0, 0));
    assert_eq!(
        r.peers[2].fin_ack_max_us,
        Some(8_000_000),
        "peers.2.fin_ack_max_us"
    );
    r.peer("198.51.100.68", (3, 3, 6, 0, 0));
    assert_eq!(
        r.peers[3].fin_ack_max_us,
        Some(6_500_000),
        "peers.3.fin_ack_max_us"
    );
    r.peer("2001:db8:100::bad", (1, 1, 2, 1, 0));
    r.peer_filter_contains("2001:db8:100::bad", &["ipv6.addr", "2001:db8:100::bad"]);
    assert!(!r.truncated());

    let r = analyze_with("sample.pcap", &["--top", "3"]);
    assert_eq!(
        r.peer_addrs(),
        vec!["198.51.100.66", "203.0.113.99", "198.51.100.67"]
    );
}

// ---- CLI behaviour -------------------------------------------------------------------

#[test]
fn text_report_is_not_empty() {
    let out = cli::cmd()
        .arg("analyze")
        .arg(cli::fixture("fin_4way.pcap"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run finscope: {e}"));
    assert!(out.status.success(), "exit {:?}", out.status.code());
    assert!(!String::from_utf8_lossy(&out.stdout).trim().is_empty());
}

#[test]
fn non_capture_file_exits_2() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "hello world\n").unwrap_or_else(|e| panic!("write: {e}"));
    let out = cli::cmd()
        .arg("analyze")
        .arg("--json")
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run finscope: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(
        stderr.contains("notes.txt"),
        "stderr names the file: {stderr}"
    );
    // "hell" read as a little- or big-endian u32.
    assert!(
        stderr.contains("6c6c6568") || stderr.contains("68656c6c"),
        "stderr shows the magic in hex: {stderr}"
    );
}

// ---- the close model's real-world cases (testkit/src/synth.rs close_model_fixtures) ----

#[test]
fn stray_fin_after_the_ack() {
    // c FIN 1000, s ACK 1050, c FIN|ACK at FIN + 1 without data 1100,
    // s FIN 2000, c ACK 2010. The ACK seen at 1050 stays seen.
    let r = analyze("stray_fin.pcap");
    r.packets(10, 10, 2, 3, 0, 4);
    r.retx(0, 0, 0, 0);
    r.outcomes(&[("complete", 1)], &[("complete", 1)], &[]);
    eq!(r, connections.fin_moved, 1);
    r.lat3("fin_ack", (1, 50_000), (1, 50_000), (0, 0));
    r.lat3("fin_fin", (1, 1_000_000), (1, 1_000_000), (0, 0));
    r.lat3("close_total", (1, 1_010_000), (1, 1_010_000), (0, 0));
    r.peer("203.0.113.80", (1, 1, 0, 0, 0));
    eq!(r, unacked_fins.local_to_remote, 0);
}

#[test]
fn handshake_reset_then_retried() {
    // SYN 0, c RST 18, the same SYN 1000, SYN-ACK 1010, ..., c FIN 16000,
    // s ACK 16020, s FIN 16050, c ACK 16060: one complete connection.
    let r = analyze("handshake_rst_retry.pcap");
    r.packets(11, 11, 3, 2, 1, 4);
    r.outcomes(&[("complete", 1)], &[("complete", 1)], &[]);
    r.connections(1, 1);
    // Local states: SYN-SENT 0..18 and 1000..1010, ESTABLISHED 1010..16000,
    // FIN-WAIT-1 ..16020, FIN-WAIT-2 ..16050, TIME-WAIT (10 ms observed).
    r.state_time("syn_sent", 28_000);
    r.state_time("established", 14_990_000);
    r.state_time("fin_wait_1", 20_000);
    r.state_time("fin_wait_2", 30_000);
    r.state_time("time_wait", 10_000);
    r.peak("time_wait", 1, None);
    r.lat3("fin_ack", (1, 20_000), (1, 20_000), (0, 0));
}

#[test]
fn attempts_are_not_connections() {
    // 50 unanswered SYNs (0..490 ms), 5 SYNs answered by RST, 5 remote SYNs
    // answered by SYN-ACK (101, again 1101) never ACKed, one real connection.
    let r = analyze_with("attempts.pcap", &["--local", "10.0.0.2/32"]);
    r.outcomes(
        &[("complete", 1), ("unanswered", 55), ("rejected", 5)],
        &[("complete", 1)],
        &[],
    );
    r.connections(61, 61);
    // A lone SYN gives up after TCP_TIMEOUT_INIT (1 s): SYN-SENT [t, t+1s);
    // at the end of the first 1 s bucket, SYNs sent at 10..490 ms: 49.
    r.peak("syn_sent", 49, Some(BASE_US + 1_000_000));
    // SYN-RECEIVED from 101 ms until 2 x 1 s after the retransmission.
    r.peak("syn_recv", 5, None);
    r.state_time("syn_recv", 15_000_000);
    // 50 x 1 s + 5 x 1 ms + the real connection's 10 ms.
    r.state_time("syn_sent", 50_015_000);
    // Only the real connection was ever ESTABLISHED.
    r.peak("established", 1, None);
}

#[test]
fn one_direction_only() {
    // The client's 6 segments of 3 clean closes; the server's never captured.
    let r = analyze("one_sided.pcap");
    r.packets(18, 18, 3, 3, 0, 9); // pure: 20, 60, 1060 ms each
    assert!(r.capture.one_sided, "capture.one_sided");
    r.outcomes(&[("one_sided", 3)], &[("one_sided", 3)], &[]);
    eq!(r, connections.one_sided, 3);
    eq!(r, unacked_fins.local_to_remote, 0);
    eq!(r, unacked_fin_age.count, 0);
    r.peak("fin_wait_1", 0, None);
    let d = &r.diagnosis;
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].id, "one_sided_capture");
    assert!(!r.stderr.contains("panicked"));
}

#[test]
fn our_resets_are_not_the_peers_fault() {
    // .84 closes first 3 times and the local side resets each; .83 needed
    // one retransmission of a local FIN (ACKed after 210 ms).
    let r = analyze("fin_reset_by_local.pcap");
    r.outcomes(
        &[("complete", 1), ("reset_after_fin", 3)],
        &[("complete", 1)],
        &[("reset_after_fin", 3)],
    );
    eq!(r, unacked_fins.local_to_remote, 0);
    eq!(r, unacked_fins.remote_to_local, 0);
    assert_eq!(r.peer_addrs(), vec!["203.0.113.83", "203.0.113.84"]);
    r.peer("203.0.113.83", (1, 1, 1, 0, 0));
    r.peer("203.0.113.84", (3, 3, 0, 0, 3));
    r.peer_fin_ack("203.0.113.84", None);
}

#[test]
fn orphans_killed_silently() {
    // A, B: FIN 1000, copies 1200 (probe), 1400, 1800, 2600; next due at
    // 2600 + 2 x 800 = 4200: killed then. A's server closes at 10000 and the
    // client host answers with a bare RST. C: LAST-ACK from 2000, copies
    // 2200, 2400, 2800, 3600, killed at 5200. Keeper to 12 s.
    let r = analyze("orphan_killed.pcap");
    r.outcomes(
        &[("complete", 1), ("killed", 3)],
        &[("complete", 1), ("killed", 2)],
        &[("killed", 1)],
    );
    r.retx(12, 0, 12, 0);
    eq!(r, unacked_fins.local_to_remote, 3);
    eq!(r, unacked_fin_age.count, 3);
    eq!(r, unacked_fin_age.max_us, Some(3_200_000));
    let t = &r.inferred_tunables.tcp_orphan_retries;
    let path = "inferred_tunables.tcp_orphan_retries";
    eq!(r, inferred_tunables.tcp_orphan_retries.value, Some(2));
    eq!(r, inferred_tunables.tcp_orphan_retries.killed, 3);
    eq!(r, inferred_tunables.tcp_orphan_retries.consistent, 3);
    eq!(r, inferred_tunables.tcp_orphan_retries.confirmed, 1);
    eq!(r, inferred_tunables.tcp_orphan_retries.with_probe, 3);
    for (map, field, key, want) in [
        (&t.by_retransmissions, "by_retransmissions", "4", 3),
        (&t.killed_in, "killed_in", "fin_wait_1", 2),
        (&t.killed_in, "killed_in", "last_ack", 1),
    ] {
        let got = *r.entry(map, &format!("{path}.{field}"), key);
        assert_eq!(got, want, "`{path}.{field}.{key}`");
    }
    // States end at the kill: 2 x 3.2 s of FIN-WAIT-1 (+ the keeper's 5 ms),
    // 3.2 s of LAST-ACK.
    r.state_time("fin_wait_1", 6_405_000);
    r.state_time("last_ack", 3_200_000);
    r.state_time("orphans", 9_605_000);
    r.peak("fin_wait_1", 2, Some(BASE_US + 1_000_000));
    r.peak("orphans", 3, Some(BASE_US + 2_000_000));
    // A's peer: 4 retransmissions, 1 unACKed FIN (age 3.2 s at the kill), 1 RST.
    r.peer("203.0.113.90", (1, 1, 4, 1, 1));
    r.peer_fin_ack("203.0.113.90", Some(3_200_000));
    eq!(r, connections.kills_retracted, 0);
    let ids: Vec<&str> = r.diagnosis.iter().map(|f| f.id.as_str()).collect();
    assert!(ids.contains(&"orphans_killed"), "{ids:?}");
}
