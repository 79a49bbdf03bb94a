//! `--filter` with tcpdump's primitives, as a process: the connections a
//! filter selects, whole, and the error for what it does not support.

use finscope::report::Report;
use finscope_testkit::cli;
use finscope_testkit::synth::{Conv, PcapOpts, write_pcap};

#[test]
fn tcpdump_primitives_select_whole_connections() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("mix.pcap");
    let ms = 1_000_000u64;
    let t0 = 1_700_000_000_000 * ms;
    let pairs = [
        ("10.0.0.1:40000", "192.0.2.7:443"),
        ("10.0.0.2:40001", "192.0.2.8:80"),
        ("192.0.2.9:50000", "10.0.0.3:443"),
        ("[2001:db8::1]:40002", "[2001:db8::2]:443"),
    ];
    let mut records = Vec::new();
    for (i, (c, s)) in pairs.iter().enumerate() {
        let mut conv = Conv::new(c.parse().expect("addr"), s.parse().expect("addr"), 100, 500);
        let t = t0 + i as u64 * 100 * ms;
        conv.syn(t).syn_ack(t + ms).ack_c(t + 2 * ms);
        conv.fin_c(t + 10 * ms).ack_s(t + 11 * ms);
        conv.fin_s(t + 20 * ms).ack_c(t + 21 * ms);
        records.extend(conv.records);
    }
    let mut f = std::fs::File::create(&path).expect("create");
    write_pcap(&mut f, 1, &records, &PcapOpts::default()).expect("write");
    drop(f);
    let cases = [
        ("tcp port https", 3, "port 443"),
        (
            "src net 10 and dst port 443",
            1,
            "src net 10.0.0.0/8 and dst port 443",
        ),
        ("ip6", 1, "ip6"),
        (
            "ip && (port 80 || port https)",
            3,
            "ip and (port 80 or port 443)",
        ),
        ("! ip6", 3, "not ip6"),
        ("src net 10/8", 3, "src net 10.0.0.0/8"),
        (
            "net 192.0.2.0 mask 255.255.255.248 and dst port 443",
            1,
            "net 192.0.2.0/29 and dst port 443",
        ),
        (
            "dst host 10.0.0.3 and src port 50000",
            1,
            "dst host 10.0.0.3 and src port 50000",
        ),
    ];
    for (filter, conns, shown) in cases {
        let out = cli::cmd()
            .args(["analyze", "--json", "-q", "--filter", filter])
            .arg(&path)
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{filter}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let r: Report = serde_json::from_slice(&out.stdout).expect("report");
        assert_eq!(r.connections.total, conns, "{filter}");
        // Whole connections: 7 segments each, every close complete.
        assert_eq!(r.packets.tcp, 7 * conns, "{filter}");
        assert_eq!(r.outcomes.complete, conns, "{filter}");
        assert_eq!(r.settings.filter.as_deref(), Some(shown), "{filter}");
    }
    let out = cli::cmd()
        .args(["analyze", "-q", "--filter", "udp port 53"])
        .arg(&path)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("TCP only") && err.contains("column 1"),
        "{err}"
    );
}
