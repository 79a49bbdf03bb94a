//! Kernel log lines: `dmesg` (raw, `-T`, `--time-format iso`) and
//! `journalctl -k` (short-iso, short-precise, json). One line at a time;
//! the format of a file is the one its first kernel line has.

use super::snapshot::{epoch_us, parse_time_line};
use super::{KernelFormat, KernelKind};

/// A kernel line taken apart: its stamps and its message.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Parsed {
    pub(crate) wall_us: Option<u64>,
    pub(crate) boot_us: Option<u64>,
    pub(crate) text: String,
}

/// The format of a kernel log line, when it is one. `year` is for
/// journalctl's short formats, which print none.
pub(crate) fn recognise(line: &[u8]) -> Option<KernelFormat> {
    let s = std::str::from_utf8(line).ok()?;
    [
        KernelFormat::JournalJson,
        KernelFormat::Dmesg,
        KernelFormat::DmesgCtime,
        KernelFormat::JournalShortIso,
        KernelFormat::DmesgIso,
        KernelFormat::JournalShortPrecise,
    ]
    .into_iter()
    .find(|f| parse(*f, s, 2000).is_some())
}

/// A line of format `f` (`None` when it is not one). `year`: the year of
/// journalctl's short-precise stamps, which have none.
pub(crate) fn parse(f: KernelFormat, s: &str, year: i16) -> Option<Parsed> {
    match f {
        KernelFormat::Dmesg => dmesg(s),
        KernelFormat::DmesgCtime => dmesg_ctime(s),
        KernelFormat::DmesgIso => {
            let (stamp, text) = s.split_once(' ')?;
            // journalctl's `HOST kernel:` after the stamp: not dmesg.
            if journal_kernel(text).is_some() {
                return None;
            }
            Some(Parsed {
                wall_us: Some(iso_us(stamp)?),
                boot_us: None,
                text: text.to_string(),
            })
        }
        KernelFormat::JournalShortIso => {
            let (stamp, rest) = s.split_once(' ')?;
            Some(Parsed {
                wall_us: Some(iso_us(stamp)?),
                boot_us: None,
                text: journal_kernel(rest)?.to_string(),
            })
        }
        KernelFormat::JournalShortPrecise => short_precise(s, year),
        KernelFormat::JournalJson => json(s),
    }
}

/// An RFC 3339 stamp as dmesg and journalctl print it.
fn iso_us(stamp: &str) -> Option<u64> {
    if stamp.len() < 20 || !stamp.as_bytes()[0].is_ascii_digit() {
        return None;
    }
    parse_time_line(stamp.as_bytes())
}

/// `HOST kernel: TEXT` -> TEXT.
fn journal_kernel(rest: &str) -> Option<&str> {
    let (_host, rest) = rest.split_once(' ')?;
    rest.strip_prefix("kernel: ")
        .or_else(|| (rest == "kernel:").then_some(""))
}

/// `[ 2485.040016] TEXT`, also `<6>[ 2485.040016] TEXT` (`dmesg -r`).
fn dmesg(s: &str) -> Option<Parsed> {
    let s = match s.strip_prefix('<') {
        Some(r) => r.split_once('>')?.1,
        None => s,
    };
    let rest = s.strip_prefix('[')?;
    let (stamp, text) = rest.split_once(']')?;
    let stamp = stamp.trim();
    if !stamp.contains('.') || !stamp.bytes().all(|c| c.is_ascii_digit() || c == b'.') {
        return None;
    }
    Some(Parsed {
        wall_us: None,
        boot_us: Some(epoch_us(stamp.as_bytes())?),
        text: text.strip_prefix(' ').unwrap_or(text).to_string(),
    })
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn month(s: &str) -> Option<i8> {
    MONTHS.iter().position(|m| *m == s).map(|i| i as i8 + 1)
}

/// `hh:mm:ss[.frac]` as (h, m, s, µs).
fn clock(s: &str) -> Option<(i8, i8, i8, i32)> {
    let (hms, frac) = match s.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    };
    let mut it = hms.split(':');
    let h = it.next()?.parse().ok()?;
    let m = it.next()?.parse().ok()?;
    let sec = it.next()?.parse().ok()?;
    if it.next().is_some() {
        return None;
    }
    let us = match frac {
        Some(f) if !f.is_empty() && f.bytes().all(|c| c.is_ascii_digit()) => {
            let mut us = 0i32;
            for i in 0..6 {
                us = us * 10 + f.as_bytes().get(i).map_or(0, |c| i32::from(c - b'0'));
            }
            us
        }
        Some(_) => return None,
        None => 0,
    };
    Some((h, m, sec, us))
}

/// A civil time read as UTC, µs since the epoch.
fn utc_us(y: i16, mo: i8, d: i8, (h, mi, s, us): (i8, i8, i8, i32)) -> Option<u64> {
    let dt = jiff::civil::DateTime::new(y, mo, d, h, mi, s, us.checked_mul(1000)?).ok()?;
    let ts = dt.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp();
    u64::try_from(ts.as_microsecond()).ok()
}

/// `[Sun Dec  6 01:09:24 2026] TEXT` (local time, read as UTC).
fn dmesg_ctime(s: &str) -> Option<Parsed> {
    let rest = s.strip_prefix('[')?;
    let (stamp, text) = rest.split_once(']')?;
    let mut it = stamp.split_whitespace();
    let _wday = it.next()?;
    let mo = month(it.next()?)?;
    let d: i8 = it.next()?.parse().ok()?;
    let c = clock(it.next()?)?;
    let y: i16 = it.next()?.parse().ok()?;
    if it.next().is_some() {
        return None;
    }
    Some(Parsed {
        wall_us: Some(utc_us(y, mo, d, c)?),
        boot_us: None,
        text: text.strip_prefix(' ').unwrap_or(text).to_string(),
    })
}

/// `Dec 06 01:09:24.123456 HOST kernel: TEXT` (journalctl short-precise,
/// and plain short without the fraction; local time, read as UTC, in
/// `year`).
fn short_precise(s: &str, year: i16) -> Option<Parsed> {
    let mut it = s.splitn(4, ' ');
    let mo = month(it.next()?)?;
    let mut day = it.next()?;
    let mut rest = it.next()?;
    if day.is_empty() {
        // `Dec  6`: a space-padded day.
        day = rest;
        rest = it.next()?;
        let mut it2 = rest.splitn(2, ' ');
        let c = clock(it2.next()?)?;
        let d: i8 = day.parse().ok()?;
        return Some(Parsed {
            wall_us: Some(utc_us(year, mo, d, c)?),
            boot_us: None,
            text: journal_kernel(it2.next()?)?.to_string(),
        });
    }
    let d: i8 = day.parse().ok()?;
    let c = clock(rest)?;
    Some(Parsed {
        wall_us: Some(utc_us(year, mo, d, c)?),
        boot_us: None,
        text: journal_kernel(it.next()?)?.to_string(),
    })
}

/// One object of `journalctl -o json`: `__REALTIME_TIMESTAMP` (µs, when
/// journald received it), `_SOURCE_MONOTONIC_TIMESTAMP` (µs since boot,
/// the kernel's own stamp), `MESSAGE` (a string, or an array of bytes when
/// it is not UTF-8).
fn json(s: &str) -> Option<Parsed> {
    if !s.starts_with('{') {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(s).ok()?;
    let o = v.as_object()?;
    let num = |k: &str| -> Option<u64> { o.get(k)?.as_str()?.parse().ok() };
    let text = match o.get("MESSAGE")? {
        serde_json::Value::String(t) => t.clone(),
        serde_json::Value::Array(b) => {
            let bytes: Vec<u8> = b
                .iter()
                .filter_map(|x| x.as_u64())
                .map(|x| x as u8)
                .collect();
            String::from_utf8_lossy(&bytes).into_owned()
        }
        _ => return None,
    };
    let wall_us = num("__REALTIME_TIMESTAMP");
    let boot_us = num("_SOURCE_MONOTONIC_TIMESTAMP");
    if wall_us.is_none() && boot_us.is_none() {
        return None;
    }
    Some(Parsed {
        wall_us,
        boot_us,
        text,
    })
}

/// What a message says (the kernel's own wording, net/ipv4: tcp.c
/// tcp_check_oom, tcp_minisocks.c tcp_time_wait, tcp_input.c
/// tcp_syn_flood_action; `Out of socket memory` before Linux 3.x).
pub(crate) fn classify(text: &str) -> KernelKind {
    let l = text.to_ascii_lowercase();
    if l.contains("too many orphaned sockets") {
        KernelKind::TooManyOrphans
    } else if l.contains("time wait bucket table overflow")
        || l.contains("time-wait bucket table overflow")
    {
        KernelKind::TwBucketOverflow
    } else if l.contains("out of socket memory") {
        KernelKind::OutOfSocketMemory
    } else if l.contains("consider tuning tcp_mem") {
        KernelKind::TcpMem
    } else if l.contains("possible syn flooding") {
        KernelKind::SynFlood
    } else {
        KernelKind::Other
    }
}

/// N of `net_ratelimit: N callbacks suppressed` (any `WHO: N callbacks
/// suppressed`).
pub(crate) fn suppressed(text: &str) -> Option<u64> {
    let head = text.strip_suffix(" callbacks suppressed")?;
    let n = head.rsplit(' ').next()?;
    n.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let f = |s: &str| recognise(s.as_bytes());
        assert_eq!(
            f("[ 9650.774084] TCP: too many orphaned sockets"),
            Some(KernelFormat::Dmesg)
        );
        assert_eq!(
            f("[Sun Dec  6 01:09:24 2026] fr-c0: entered promiscuous mode"),
            Some(KernelFormat::DmesgCtime)
        );
        assert_eq!(
            f("2026-12-06T01:09:24,438683+00:00 fr-c0: entered promiscuous mode"),
            Some(KernelFormat::DmesgIso)
        );
        assert_eq!(
            f("2026-12-06T01:09:24+0000 host kernel: TCP: too many orphaned sockets"),
            Some(KernelFormat::JournalShortIso)
        );
        assert_eq!(
            f("Dec 06 01:09:24.438683 host kernel: TCP: too many orphaned sockets"),
            Some(KernelFormat::JournalShortPrecise)
        );
        assert_eq!(f("State Recv-Q"), None);
        let p = parse(
            KernelFormat::JournalShortPrecise,
            "Dec 06 01:09:24.438683 host kernel: TCP: x",
            2026,
        )
        .unwrap();
        assert_eq!(p.wall_us, Some(1_796_519_364_438_683));
        assert_eq!(p.text, "TCP: x");
        let p = parse(KernelFormat::Dmesg, "[ 9650.774084] TCP: x", 0).unwrap();
        assert_eq!(p.boot_us, Some(9_650_774_084));
        assert_eq!(
            suppressed("net_ratelimit: 35 callbacks suppressed"),
            Some(35)
        );
        assert_eq!(
            classify("TCP: request_sock_TCP: Possible SYN flooding on port 80. Sending cookies."),
            KernelKind::SynFlood
        );
    }
}
