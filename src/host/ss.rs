//! `ss -tan` (also `-tanoe`, `-H`) snapshots reduced while read: per-state
//! counts as rows stream by; the rows of the snapshot being read are kept
//! as text (bounded) so that the last one can be broken down by endpoint
//! once it is known to be the last.

use super::{MAX_TABLE_ROWS, SsRow, SsTable};
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// The states ss prints (iproute2 misc/ss.c `sstate_name`, and older
/// names). A row must start with one of them.
pub(crate) const STATES: &[&str] = &[
    "ESTAB",
    "SYN-SENT",
    "SYN-RECV",
    "FIN-WAIT-1",
    "FIN-WAIT-2",
    "TIME-WAIT",
    "UNCONN",
    "CLOSE",
    "CLOSE-WAIT",
    "LAST-ACK",
    "LISTEN",
    "CLOSING",
    "NEW-SYN-RECV",
    "BOUND-INACTIVE",
    "UNKNOWN",
];

/// Bytes of one snapshot's rows kept to break it down by endpoint; rows
/// past it are counted in [`SsTable::rows_dropped`].
const MAX_KEPT: usize = 64 << 20;

/// The state at the start of a row, as an index into [`STATES`].
pub(crate) fn state_of(first: &[u8]) -> Option<usize> {
    STATES.iter().position(|s| s.as_bytes() == first)
}

/// Whether `line` is the header ss prints (`State  Recv-Q Send-Q ...`).
pub(crate) fn is_header(line: &[u8]) -> bool {
    line.starts_with(b"State") && line.windows(6).any(|w| w == b"Recv-Q")
}

/// The first whitespace-separated field of a line and how many fields it
/// has (counted up to 5).
pub(crate) fn fields(line: &[u8]) -> (&[u8], usize) {
    let blank = |c: u8| c == b' ' || c == b'\t';
    let (mut i, len) = (0, line.len());
    let mut first: &[u8] = &[];
    let mut n = 0;
    while n < 5 {
        while i < len && blank(line[i]) {
            i += 1;
        }
        if i == len {
            break;
        }
        let start = i;
        while i < len && !blank(line[i]) {
            i += 1;
        }
        if n == 0 {
            first = &line[start..i];
        }
        n += 1;
    }
    (first, n)
}

/// One snapshot being read.
#[derive(Default)]
pub(crate) struct SsAcc {
    /// Sockets per state, indexed like [`STATES`].
    pub(crate) counts: [u64; STATES.len()],
    pub(crate) sockets: u64,
    pub(crate) header: bool,
    /// The rows, `\n`-separated, up to [`MAX_KEPT`] bytes.
    pub(crate) rows: Vec<u8>,
    pub(crate) rows_dropped: u64,
}

impl SsAcc {
    pub(crate) fn row(&mut self, state: usize, line: &[u8]) {
        self.counts[state] += 1;
        self.sockets += 1;
        if self.rows.len() + line.len() < MAX_KEPT {
            self.rows.extend_from_slice(line);
            self.rows.push(b'\n');
        } else {
            self.rows_dropped += 1;
        }
    }

    pub(crate) fn clear(&mut self) {
        self.counts = [0; STATES.len()];
        self.sockets = 0;
        self.header = false;
        self.rows.clear();
        self.rows_dropped = 0;
    }
}

/// `ADDR:PORT` as ss prints it (`10.0.0.1:80`, `[2001:db8::1]:443`,
/// `[::ffff:10.0.0.1]:80`, `*:*`, `0.0.0.0:*`, `127.0.0.53%lo:53`,
/// `:::22` of older ss).
pub(crate) fn endpoint(s: &str) -> (Option<IpAddr>, Option<u16>) {
    let Some((addr, port)) = s.rsplit_once(':') else {
        return (None, None);
    };
    let port = port.parse().ok();
    let addr = addr
        .strip_prefix('[')
        .and_then(|a| a.strip_suffix(']'))
        .unwrap_or(addr);
    let addr = addr.split_once('%').map_or(addr, |(a, _)| a);
    let ip = addr.parse::<IpAddr>().ok().map(|ip| ip.to_canonical());
    (ip, port)
}

/// Breaks the kept rows of a snapshot down by remote and by local endpoint.
pub(crate) fn table(acc: &SsAcc, t_us: u64, file: usize) -> SsTable {
    type Key = (Option<IpAddr>, Option<u16>);
    let mut remote: FxHashMap<Key, [u64; STATES.len()]> = FxHashMap::default();
    let mut local: FxHashMap<Key, [u64; STATES.len()]> = FxHashMap::default();
    let mut dropped = acc.rows_dropped;
    for line in acc.rows.split(|c| *c == b'\n').filter(|l| !l.is_empty()) {
        let Ok(line) = std::str::from_utf8(line) else {
            dropped += 1;
            continue;
        };
        let mut it = line.split_whitespace();
        let (Some(state), Some(_), Some(_), Some(l), Some(r)) =
            (it.next(), it.next(), it.next(), it.next(), it.next())
        else {
            dropped += 1;
            continue;
        };
        let Some(si) = state_of(state.as_bytes()) else {
            dropped += 1;
            continue;
        };
        for (map, ep) in [(&mut remote, r), (&mut local, l)] {
            let key = endpoint(ep);
            if map.len() >= MAX_TABLE_ROWS && !map.contains_key(&key) {
                dropped += 1;
                continue;
            }
            map.entry(key).or_insert([0; STATES.len()])[si] += 1;
        }
    }
    let rows = |map: FxHashMap<Key, [u64; STATES.len()]>| -> Vec<SsRow> {
        let mut v: Vec<SsRow> = map
            .into_iter()
            .map(|((addr, port), c)| SsRow {
                addr,
                port,
                states: by_name(&c),
            })
            .collect();
        v.sort_by(|a, b| {
            b.sockets()
                .cmp(&a.sockets())
                .then_with(|| a.addr.cmp(&b.addr))
                .then_with(|| a.port.cmp(&b.port))
        });
        v
    };
    SsTable {
        t_us,
        file,
        sockets: acc.sockets,
        by_remote: rows(remote),
        by_local: rows(local),
        rows_dropped: dropped,
    }
}

/// Counts indexed like [`STATES`] by name, zeros left out.
pub(crate) fn by_name(c: &[u64; STATES.len()]) -> BTreeMap<String, u64> {
    STATES
        .iter()
        .zip(c)
        .filter(|(_, n)| **n > 0)
        .map(|(s, n)| (s.to_string(), *n))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        use std::net::Ipv4Addr;
        let v4 = |a, b, c, d| Some(IpAddr::V4(Ipv4Addr::new(a, b, c, d)));
        assert_eq!(endpoint("10.0.0.1:80"), (v4(10, 0, 0, 1), Some(80)));
        assert_eq!(
            endpoint("[::ffff:10.0.0.1]:80"),
            (v4(10, 0, 0, 1), Some(80))
        );
        assert_eq!(endpoint("0.0.0.0:*"), (v4(0, 0, 0, 0), None));
        assert_eq!(endpoint("127.0.0.53%lo:53"), (v4(127, 0, 0, 53), Some(53)));
        assert_eq!(endpoint("*:*"), (None, None));
        assert_eq!(endpoint("[::]:22").0, Some("::".parse().unwrap()));
        assert_eq!(endpoint(":::22"), (Some("::".parse().unwrap()), Some(22)));
        assert_eq!(fields(b"ESTAB 0 0 a b"), (&b"ESTAB"[..], 5));
        assert_eq!(fields(b"ESTAB 0"), (&b"ESTAB"[..], 2));
    }
}
