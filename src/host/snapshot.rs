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

use super::ss::{self, SsAcc};
use super::{HostEvidence, NstatPoint, NstatSeries, Sockstat, SsPoint, SsSummary};
use rustc_hash::FxHashMap;

/// The part of a snapshot a line belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Section {
    None,
    Ss,
    SsSummary,
    Sockstat,
    Nstat,
}

/// What a line said, for the reader to report.
pub(crate) enum Said {
    Fine,
    /// A warning about this line.
    Warn(String),
}

/// Reads the lines of one snapshot log into the evidence.
pub(crate) struct SnapshotReader {
    file: usize,
    /// The time of the snapshot being read (from its time line), and that
    /// line.
    t: Option<(u64, u64)>,
    /// The time of snapshots before any time line (`--at` or the mtime).
    untimed: u64,
    /// The latest time line so far (a time going back is refused).
    last_t: Option<u64>,
    /// Dropping lines until the next time line (after a time going back).
    skipping: bool,
    section: Section,
    /// Something was read since the last time line.
    body: bool,
    ss: SsAcc,
    ss_seen: bool,
    summary: Option<SsSummary>,
    sockstat: Option<Sockstat>,
    nstat: Option<FxHashMap<String, u64>>,
    /// The last ss snapshot of this file (its rows), and its time.
    pub(crate) last_ss: Option<(u64, SsAcc)>,
    /// Snapshots taken at `untimed` (no time line before them).
    pub(crate) untimed_used: bool,
}

impl SnapshotReader {
    pub(crate) fn new(file: usize, untimed: u64) -> SnapshotReader {
        SnapshotReader {
            file,
            t: None,
            untimed,
            last_t: None,
            skipping: false,
            section: Section::None,
            body: false,
            ss: SsAcc::default(),
            ss_seen: false,
            summary: None,
            sockstat: None,
            nstat: None,
            last_ss: None,
            untimed_used: false,
        }
    }

    /// Whether a line starts or belongs to a snapshot (used to recognise a
    /// file).
    pub(crate) fn looks_like(line: &[u8]) -> bool {
        let l = line.trim_ascii();
        parse_time_line(l).is_some()
            || ss::is_header(l)
            || (ss::fields(l).1 >= 5 && ss::state_of(ss::fields(l).0).is_some())
            || l.starts_with(b"Total: ")
            || l.starts_with(b"sockets: used")
            || l.starts_with(b"TCP: inuse")
            || l == b"#kernel"
    }

    /// One line (`number` is 1-based).
    pub(crate) fn line(&mut self, ev: &mut HostEvidence, line: &[u8], number: u64) -> Said {
        let l = line.trim_ascii_end();
        if let Some(t) = parse_time_line(l) {
            let said = self.finish(ev);
            if let Some(last) = self.last_t
                && t < last
            {
                self.skipping = true;
                self.t = None;
                return Said::Warn(format!(
                    "the time goes back ({} after {}): this snapshot is left out, the ones before kept",
                    String::from_utf8_lossy(l.trim_ascii()),
                    fmt_us(last)
                ));
            }
            self.skipping = false;
            self.last_t = Some(t);
            self.t = Some((t, number));
            return said;
        }
        if self.skipping || l.trim_ascii().is_empty() {
            return Said::Fine;
        }
        self.body = true;
        // A continuation line (ss -i, wrapped output): not a row.
        if line[0] == b' ' || line[0] == b'\t' {
            return match self.section {
                Section::Ss | Section::SsSummary | Section::Sockstat => Said::Fine,
                _ => Said::Warn(unknown(l)),
            };
        }
        if ss::is_header(l) {
            let said = if self.ss_seen {
                // Two dumps with no time line between: the first is one
                // snapshot at the same time.
                self.commit_ss(ev);
                Said::Warn(
                    "a second ss header with no time line before it: read as another snapshot at the same time".into(),
                )
            } else {
                Said::Fine
            };
            self.ss_seen = true;
            self.ss.header = true;
            self.section = Section::Ss;
            return said;
        }
        let (first, n) = ss::fields(l);
        if let Some(si) = ss::state_of(first) {
            if n < 5 {
                return Said::Warn(format!(
                    "an ss row with {n} field(s) (state, Recv-Q, Send-Q, local, peer expected): not counted"
                ));
            }
            self.ss_seen = true;
            self.section = Section::Ss;
            self.ss.row(si, l);
            return Said::Fine;
        }
        let s = match std::str::from_utf8(l) {
            Ok(s) => s,
            Err(_) => return Said::Warn("not UTF-8 text: skipped".into()),
        };
        let mut words = s.split_whitespace();
        let w0 = words.next().unwrap_or("");
        match w0 {
            "Total:" => {
                self.section = Section::SsSummary;
                let sum = self.summary.get_or_insert_with(SsSummary::default);
                sum.total = words.next().and_then(|w| w.parse().ok());
                return Said::Fine;
            }
            "sockets:" => {
                self.section = Section::Sockstat;
                let st = self.sockstat.get_or_insert_with(Sockstat::default);
                if words.next() == Some("used") {
                    st.sockets_used = words.next().and_then(|w| w.parse().ok());
                }
                return Said::Fine;
            }
            "#kernel" => {
                self.section = Section::Nstat;
                self.nstat.get_or_insert_with(FxHashMap::default);
                return Said::Fine;
            }
            "TCP:" => {
                let rest: Vec<&str> = words.collect();
                if rest.first() == Some(&"inuse") {
                    self.section = Section::Sockstat;
                    let st = self.sockstat.get_or_insert_with(Sockstat::default);
                    for kv in rest.chunks(2) {
                        let v = kv.get(1).and_then(|v| v.parse().ok());
                        match kv[0] {
                            "inuse" => st.inuse = v,
                            "orphan" => st.orphan = v,
                            "tw" => st.tw = v,
                            "alloc" => st.alloc = v,
                            "mem" => st.mem = v,
                            _ => {}
                        }
                    }
                    return Said::Fine;
                }
                if self.section == Section::SsSummary {
                    return summary_tcp(self.summary.get_or_insert_with(SsSummary::default), &rest);
                }
                return Said::Warn(unknown(l));
            }
            _ => {}
        }
        match self.section {
            Section::SsSummary
                if w0 == "Transport"
                    || ["RAW", "UDP", "INET", "FRAG", "TCP"]
                        .contains(&w0.trim_end_matches(':')) =>
            {
                Said::Fine
            }
            Section::Sockstat
                if w0.ends_with(':')
                    && w0[..w0.len() - 1]
                        .bytes()
                        .all(|c| c.is_ascii_alphanumeric()) =>
            {
                Said::Fine
            }
            Section::Nstat | Section::None if is_counter(w0) => {
                let v = words.next();
                match v.and_then(|v| v.parse::<u64>().ok()) {
                    Some(v) => {
                        self.section = Section::Nstat;
                        self.nstat
                            .get_or_insert_with(FxHashMap::default)
                            .insert(w0.to_string(), v);
                        Said::Fine
                    }
                    None if self.section == Section::Nstat => Said::Warn(format!(
                        "nstat counter {w0}: `{}` is not a count: skipped",
                        v.unwrap_or("")
                    )),
                    None => Said::Warn(unknown(l)),
                }
            }
            _ => Said::Warn(unknown(l)),
        }
    }

    /// The snapshot being read is cut (the file ends in the middle of a
    /// line): left out.
    pub(crate) fn cut(&mut self) -> String {
        let line = self.t.take().map(|(_, l)| l);
        self.reset();
        match line {
            Some(l) => format!(
                "the file ends in the middle of a line: the snapshot of line {l} is cut and left out, the ones before kept"
            ),
            None => {
                "the file ends in the middle of a line: the snapshot is cut and left out".into()
            }
        }
    }

    fn reset(&mut self) {
        self.ss.clear();
        self.ss_seen = false;
        self.summary = None;
        self.sockstat = None;
        self.nstat = None;
        self.body = false;
        self.section = Section::None;
    }

    fn time(&mut self) -> u64 {
        match self.t {
            Some((t, _)) => t,
            None => {
                self.untimed_used = true;
                self.untimed
            }
        }
    }

    fn commit_ss(&mut self, ev: &mut HostEvidence) {
        if !self.ss_seen {
            return;
        }
        let t = self.time();
        ev.ss.push(SsPoint {
            t_us: t,
            counts: self.ss.counts.to_vec(),
            sockets: self.ss.sockets,
            file: self.file,
        });
        // Keep this one's rows when it is the latest so far.
        if self.last_ss.as_ref().is_none_or(|(lt, _)| t >= *lt) {
            let mut acc = std::mem::take(&mut self.ss);
            if let Some((_, mut old)) = self.last_ss.take() {
                old.clear();
                self.ss = old;
            }
            acc.header = true;
            self.last_ss = Some((t, acc));
        }
        self.ss.clear();
        self.ss_seen = false;
    }

    /// Ends the snapshot being read (at a time line or the end of the
    /// file), adding what it held to the series.
    pub(crate) fn finish(&mut self, ev: &mut HostEvidence) -> Said {
        let said = match (self.t, self.body) {
            (Some((_, l)), false) => Said::Warn(format!(
                "the snapshot of line {l} is empty (the loop stopped before it wrote one?)"
            )),
            _ => Said::Fine,
        };
        if !self.body {
            self.reset();
            return said;
        }
        self.commit_ss(ev);
        let t = self.time();
        if let Some(mut s) = self.summary.take() {
            s.t_us = t;
            s.file = self.file;
            ev.ss_summary.push(s);
        }
        if let Some(mut s) = self.sockstat.take() {
            s.t_us = t;
            s.file = self.file;
            ev.sockstat.push(s);
        }
        if let Some(n) = self.nstat.take() {
            add_nstat(&mut ev.nstat, t, n);
        }
        self.reset();
        said
    }
}

/// `TCP:   12 (estab 3, closed 1, orphaned 0, timewait 1)` of `ss -s`
/// (older: `synrecv 0, timewait 1/0), ports 0`).
fn summary_tcp(sum: &mut SsSummary, rest: &[&str]) -> Said {
    sum.tcp = rest.first().and_then(|w| w.parse().ok());
    let inner = rest.join(" ");
    let Some(open) = inner.find('(') else {
        return Said::Warn("ss -s: a TCP line without its (estab ..., timewait ...) part".into());
    };
    let close = inner[open..].find(')').map_or(inner.len(), |c| open + c);
    for kv in inner[open + 1..close].split(',') {
        let mut it = kv.split_whitespace();
        let (Some(k), Some(v)) = (it.next(), it.next()) else {
            continue;
        };
        let v = v.split('/').next().and_then(|v| v.parse().ok());
        match k {
            "estab" => sum.estab = v,
            "closed" => sum.closed = v,
            "orphaned" => sum.orphaned = v,
            "synrecv" => sum.synrecv = v,
            "timewait" => sum.timewait = v,
            _ => {}
        }
    }
    Said::Fine
}

/// An nstat counter name: a letter, then letters, digits and `_`.
fn is_counter(w: &str) -> bool {
    w.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
        && w.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

fn unknown(l: &[u8]) -> String {
    let s = String::from_utf8_lossy(l);
    let shown: String = s.chars().take(60).collect();
    format!(
        "not a line of ss -tan, ss -s, /proc/net/sockstat or nstat: `{shown}{}`: skipped",
        if s.chars().count() > 60 { "..." } else { "" }
    )
}

fn fmt_us(us: u64) -> String {
    i64::try_from(us)
        .ok()
        .and_then(|us| jiff::Timestamp::from_microsecond(us).ok())
        .map_or_else(|| us.to_string(), |t| t.to_string())
}

fn add_nstat(series: &mut NstatSeries, t: u64, n: FxHashMap<String, u64>) {
    series.snapshots += 1;
    let mut values = vec![None; series.names.len()];
    for (name, v) in n {
        if NstatSeries::TRACKED.contains(&name.as_str()) {
            let i = match series.names.iter().position(|x| *x == name) {
                Some(i) => i,
                None => {
                    series.names.push(name.clone());
                    for p in &mut series.points {
                        p.values.push(None);
                    }
                    values.push(None);
                    series.names.len() - 1
                }
            };
            values[i] = Some(v);
        }
        match series.first.get_mut(&name) {
            Some(f) if t < f.0 => *f = (t, v),
            Some(_) => {}
            None => {
                series.first.insert(name.clone(), (t, v));
            }
        }
        match series.last.get_mut(&name) {
            Some(l) if t >= l.0 => *l = (t, v),
            Some(_) => {}
            None => {
                series.last.insert(name, (t, v));
            }
        }
    }
    series.points.push(NstatPoint { t_us: t, values });
}
