//! The capture generator against finscope: a small generated capture
//! (20,000 frames) must give exactly the counts the generator scripted, with
//! one thread and with two.

#[allow(dead_code)]
use finscope_testkit::gencap;

use finscope_testkit::cli;
use serde_json::Value;

#[test]
fn finscope_reports_the_scripted_counts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("gen.pcap");
    let cfg = gencap::Config {
        packets: 20_000,
        seed: 7,
        servers: 500,
        rate: 400,
        ..gencap::Config::default()
    };
    let file = std::fs::File::create(&path).expect("create capture");
    let expected = gencap::generate(&cfg, file).expect("generate");
    assert_eq!(expected.frames, 20_000);
    assert!(expected.connections > 500, "{expected:?}");
    // Every outcome but `killed` (FINs never ACKed need 128 s to be overdue).
    assert!(expected.rtx_l2r > 0 && expected.outcomes[..7].iter().all(|&n| n > 0));
    let mut outputs = Vec::new();
    for j in ["1", "2"] {
        let out = cli::cmd()
            .args(["analyze", "--json", "-q", "-j", j])
            .arg(&path)
            .output()
            .expect("run finscope");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
        for (key, want) in expected.paths() {
            let got = key.split('.').fold(&report, |v, k| &v[k]);
            assert_eq!(got.as_u64(), Some(want), "-j{j}: {key}");
        }
        outputs.push(out.stdout);
    }
    assert_eq!(outputs[0], outputs[1], "-j1 and -j2 reports differ");
}

#[test]
fn generator_is_deterministic_by_seed() {
    let cfg = gencap::Config {
        packets: 3_000,
        ..gencap::Config::default()
    };
    let (mut a, mut b) = (Vec::new(), Vec::new());
    gencap::generate(&cfg, &mut a).expect("generate");
    gencap::generate(&cfg, &mut b).expect("generate");
    assert_eq!(a, b);
    let mut c = Vec::new();
    gencap::generate(&gencap::Config { seed: 2, ..cfg }, &mut c).expect("generate");
    assert_ne!(a, c);
}
