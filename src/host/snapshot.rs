//! Snapshot logs: `ss -tan`, `ss -s`, /proc/net/sockstat and `nstat -az`
//! output, each after a line holding only a time.

/// µs since the epoch of a line holding only a time: epoch seconds with an
/// optional fraction (`1733446691.123456789`), or RFC 3339 with its offset
/// (`2026-12-06 00:58:11.123456789+00:00`, `2026-12-06T00:58:11,123456789+00:00`,
/// `+0000` too). `None` for anything else.
pub(crate) fn parse_time_line(b: &[u8]) -> Option<u64> {
    let b = b.trim_ascii();
    if b.is_empty() || b.len() > 64 {
        return None;
    }
    if b[0].is_ascii_digit() && b.iter().all(|c| c.is_ascii_digit() || *c == b'.') {
        return epoch_us(b);
    }
    // RFC 3339: YYYY-MM-DD[T ]hh:mm:ss[.,frac](Z|±hh:mm|±hhmm)
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !(b[10] == b'T' || b[10] == b' ') {
        return None;
    }
    let mut s: String = std::str::from_utf8(b).ok()?.to_string();
    s.replace_range(10..11, "T");
    let s = s.replace(',', ".");
    let t: jiff::Timestamp = s.parse().ok()?;
    u64::try_from(t.as_microsecond()).ok()
}

/// `SECONDS[.FRACTION]` as µs (the fraction cut to µs).
pub(crate) fn epoch_us(b: &[u8]) -> Option<u64> {
    let (int, frac) = match b.iter().position(|c| *c == b'.') {
        Some(i) => (&b[..i], &b[i + 1..]),
        None => (b, &b[..0]),
    };
    if int.is_empty() || int.len() > 12 || frac.contains(&b'.') {
        return None;
    }
    let mut secs: u64 = 0;
    for c in int {
        secs = secs * 10 + u64::from(c - b'0');
    }
    let mut us: u64 = 0;
    for i in 0..6 {
        let d = frac.get(i).map_or(0, |c| u64::from(c - b'0'));
        us = us * 10 + d;
    }
    secs.checked_mul(1_000_000)?.checked_add(us)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_lines() {
        assert_eq!(
            parse_time_line(b"1733446691.123456789"),
            Some(1_733_446_691_123_456)
        );
        assert_eq!(parse_time_line(b"1733446691"), Some(1_733_446_691_000_000));
        let want = Some(1_733_446_691_123_456);
        assert_eq!(
            parse_time_line(b"2024-12-06 00:58:11.123456789+00:00"),
            want
        );
        assert_eq!(
            parse_time_line(b"2024-12-06T00:58:11,123456789+00:00"),
            want
        );
        assert_eq!(parse_time_line(b"2024-12-06T01:58:11.123456+0100"), want);
        assert_eq!(parse_time_line(b"State Recv-Q"), None);
        assert_eq!(parse_time_line(b"1.2.3"), None);
    }
}
