//! The `--flows` recipes of docs/flows.md, run in the tools they are
//! written for: the duckdb query that gives the peers table's ack
//! percentiles is taken from the document and must reproduce the report's
//! per-peer `fin_ack_p50_us`, `fin_ack_p99_us` and `fin_ack_max_us`
//! exactly; pandas must read the nullable columns as integers.
//!
//! Needs python3 with duckdb and pandas (`.ci/run` installs them); without
//! them (as build.rs found when it ran) the tests show as *ignored* in the
//! summary, naming what they need: after `pip install duckdb pandas`,
//! `touch build.rs` to have them run.

use finscope::report::Report;
use finscope_testkit::cli;
use finscope_testkit::gencap;
use std::collections::BTreeMap;
use std::path::Path;

/// Python has duckdb and pandas (build.rs said so): a failure if they are
/// gone since.
fn tools_available() -> bool {
    let ok = std::process::Command::new("python3")
        .args(["-c", "import duckdb, pandas"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "python3 with duckdb and pandas was found when build.rs ran, not now: `touch build.rs`"
    );
    ok
}

/// The SQL block of docs/flows.md that starts with `marker`.
fn sql_block(marker: &str) -> String {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/flows.md"))
        .expect("docs/flows.md");
    let start = doc.find(marker).expect("the query in docs/flows.md");
    let end = start + doc[start..].find("```").expect("end of the block");
    doc[start..end].to_string()
}

/// Runs a Python script; its standard output.
fn python(script: &str) -> String {
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// `analyze` of `capture` with every peer in the report: (report, flows.csv).
fn report_and_flows(dir: &Path, capture: &Path) -> (Report, std::path::PathBuf) {
    let (json, csv) = (dir.join("r.json"), dir.join("flows.csv"));
    let out = cli::cmd()
        .args(["analyze", "-q", "--top", "1000000", "--flows"])
        .arg(&csv)
        .arg("--json-out")
        .arg(&json)
        .arg(capture)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    let report = serde_json::from_slice(&std::fs::read(&json).expect("report")).expect("JSON");
    (report, csv)
}

#[test]
#[cfg_attr(
    not(finscope_py_tools),
    ignore = "needs python3 with duckdb and pandas (pip install duckdb pandas; then touch build.rs)"
)]
fn duckdb_query_of_the_docs_gives_the_peers_ack_percentiles() {
    if !tools_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    // The sample (killed orphans: unACKed FINs whose age ends at the kill)
    // and a generated mix of 300 servers.
    let generated = dir.path().join("gen.pcap");
    let cfg = gencap::Config {
        packets: 30_000,
        seed: 11,
        servers: 300,
        rate: 300,
        ..gencap::Config::default()
    };
    gencap::generate(&cfg, std::fs::File::create(&generated).expect("create")).expect("generate");
    let sample = cli::fixture("sample.pcap");
    let query = sql_block("-- duckdb: the peers table's ack p50 / p99 / max");
    for capture in [sample, generated] {
        let sub = tempfile::tempdir_in(dir.path()).expect("tempdir");
        let (report, csv) = report_and_flows(sub.path(), &capture);
        let query = query.replace("'flows.csv'", &format!("'{}'", csv.display()));
        let script = format!(
            "import duckdb, json\nq = {query:?}\nfor r in duckdb.sql(q).fetchall():\n    print(json.dumps([r[0]] + [None if x is None else int(x) for x in r[1:]]))\n"
        );
        let rows: BTreeMap<String, [Option<u64>; 3]> = python(&script)
            .lines()
            .map(|l| {
                let v: (String, Option<u64>, Option<u64>, Option<u64>) =
                    serde_json::from_str(l).expect("row");
                (v.0, [v.1, v.2, v.3])
            })
            .collect();
        let mut compared = 0;
        for p in &report.peers {
            let want = [p.fin_ack_p50_us, p.fin_ack_p99_us, p.fin_ack_max_us];
            match rows.get(&p.addr) {
                Some(got) => {
                    assert_eq!(*got, want, "{}: peer {}", capture.display(), p.addr);
                    compared += 1;
                }
                // No sample: no row, and nothing in the report either.
                None => assert_eq!(want, [None; 3], "{}: peer {}", capture.display(), p.addr),
            }
        }
        assert_eq!(compared, rows.len(), "every row is a reported peer");
        assert!(compared >= 40, "{compared} peers compared");
    }
}

#[test]
#[cfg_attr(
    not(finscope_py_tools),
    ignore = "needs python3 with duckdb and pandas (pip install duckdb pandas; then touch build.rs)"
)]
fn pandas_reads_nullable_columns_as_integers() {
    if !tools_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let sample = cli::fixture("sample.pcap");
    let (report, csv) = report_and_flows(dir.path(), &sample);
    let script = format!(
        "import pandas as pd\nf = pd.read_csv({:?}, dtype_backend='numpy_nullable')\n\
         print(f.fin_ack_us.dtype, f.local_fin_wait_us.dtype, f.first_ts_us.dtype, \
         int(f.fin_ack_us.isna().sum()), int(f.fin_ack_us.count()))\n",
        csv.display().to_string()
    );
    let out = python(&script);
    let v: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(v[..3], ["Int64", "Int64", "Int64"], "{out}");
    let nulls: u64 = v[3].parse().expect("count");
    let samples: u64 = v[4].parse().expect("count");
    assert!(nulls > 0, "the sample has connections without a FIN->ACK");
    // The non-null fin_ack_us are the report's fin_ack samples.
    assert_eq!(samples, report.latency.fin_ack.all.count);
}
