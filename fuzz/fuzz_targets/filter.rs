//! Arbitrary UTF-8 as a `--filter` expression.
//!
//! Checked: no panic; a parsed filter's `Display` parses again, to an equal
//! filter that displays the same; a refused expression names the column
//! (1-based, in characters) of the token it found, or one past its last
//! character for "end of filter"; the filter
//! treats both directions of a segment alike (every primitive is
//! symmetric, docs: close tracking stays whole); a Wireshark-filter
//! hint's suggested `--filter` parses.
#![no_main]

use finscope::decode::Segment;
use finscope::decode::filter::Filter;
use finscope::decode::seq::SeqNum;
use libfuzzer_sys::fuzz_target;
use std::net::IpAddr;
use std::sync::OnceLock;

/// Known, reported bugs this target should not stop at, from the
/// environment, e.g. `FINSCOPE_FUZZ_KNOWN=filter-display-depth` (see
/// fuzz/README.md).
fn known(id: &str) -> bool {
    static K: OnceLock<String> = OnceLock::new();
    K.get_or_init(|| std::env::var("FINSCOPE_FUZZ_KNOWN").unwrap_or_default())
        .split(',')
        .any(|k| k.trim() == id)
}

fn segment(src: IpAddr, sport: u16, dst: IpAddr, dport: u16, vlan: u32) -> Segment {
    Segment {
        ts_ns: 0,
        frame: 1,
        src,
        dst,
        sport,
        dport,
        vlan,
        seq: SeqNum(0),
        ack: SeqNum(0),
        flags: 0,
        payload_len: 0,
        ttl: 64,
        zero_window: false,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match text.parse::<Filter>() {
        Ok(f) => {
            let shown = f.to_string();
            let again: Filter = match shown.parse() {
                Ok(g) => g,
                // Reported: `Display` puts every `and`/`or` of a chain in
                // parentheses, past the parser's nesting limit.
                Err(e) if known("filter-display-depth") && e.expected.contains("nested") => return,
                Err(e) => panic!("{text:?} displays as {shown:?}, which is refused: {e}"),
            };
            assert_eq!(again.to_string(), shown, "{text:?}: display not stable");
            assert_eq!(again, f, "{text:?}: display parses to another filter");
            let probes: [(&str, u16, &str, u16, u32); 4] = [
                ("10.0.0.1", 40000, "192.0.2.7", 443, 0),
                ("192.168.1.1", 80, "10.1.2.3", 8080, 100),
                ("2001:db8::1", 22, "fe80::1", 1, (5 << 12) | 7),
                ("0.0.0.0", 0, "255.255.255.255", 65535, 4095),
            ];
            for (a, ap, b, bp, vlan) in probes {
                let (a, b): (IpAddr, IpAddr) = (a.parse().unwrap(), b.parse().unwrap());
                let out = segment(a, ap, b, bp, vlan);
                let back = segment(b, bp, a, ap, vlan);
                assert_eq!(
                    f.matches(&out),
                    f.matches(&back),
                    "{text:?} is not symmetric"
                );
                assert_eq!(f.matches(&out), again.matches(&out));
            }
        }
        Err(e) => {
            let len = text.chars().count();
            // A Wireshark hint's suggested tcpdump filter is accepted, and
            // is not itself taken for a Wireshark filter.
            if let Some(h) = &e.hint
                && let Some(rest) = h.split_once("try --filter '").map(|(_, r)| r)
            {
                let sugg = rest.rsplit_once('\'').map_or(rest, |(s, _)| s);
                match sugg.parse::<Filter>() {
                    Ok(_) => {}
                    Err(e2) => panic!("{text:?}: hint {h:?} suggests a refused filter: {e2}"),
                }
            }
            assert!(e.column >= 1, "{text:?}: column 0: {e}");
            if e.found == "end of filter" {
                assert_eq!(e.column, len + 1, "{text:?}: end of filter elsewhere: {e}");
            } else if known("filter-column") && !text.is_ascii() {
                // Reported: columns count bytes, not characters.
            } else {
                let tok = e
                    .found
                    .strip_prefix('`')
                    .and_then(|t| t.strip_suffix('`'))
                    .unwrap_or_else(|| panic!("{text:?}: found {:?}", e.found));
                let at: String = text.chars().skip(e.column - 1).collect();
                assert!(
                    at.starts_with(tok),
                    "{text:?} ({len} chars): error at column {} is not at `{tok}`: {e}",
                    e.column
                );
            }
        }
    }
});
