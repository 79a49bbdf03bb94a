//! `finscope ss FILE...`: `ss -tan` dumps (or snapshot logs) alone: the
//! last snapshot's sockets by state and by remote (grouped like the peers,
//! `--group-by`). docs/host.md.

use super::{Error, print_all};
use crate::cli::SsArgs;
use crate::decode::net::mask;
use crate::host::{self, HostEvidence, HostOptions, SsRow};
use crate::metrics::groups::GroupBy;
use crate::report::format::thousands;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::ExitCode;

/// `finscope ss --json`.
#[derive(Debug, Serialize)]
pub struct SsJson {
    /// `ss -tan` snapshots read.
    pub snapshots: u64,
    /// Sockets by state (as ss prints it) in the last snapshot.
    pub states: BTreeMap<String, u64>,
    /// The last snapshot by remote (grouped), most sockets first.
    pub by_remote: Vec<RemoteJson>,
}

#[derive(Debug, Serialize)]
pub struct RemoteJson {
    pub remote: String,
    pub states: BTreeMap<String, u64>,
}

pub fn run(a: &SsArgs) -> Result<ExitCode, Error> {
    let ev = host::read(
        &a.files,
        &HostOptions {
            at_us: a.at,
            boot_time_us: None,
        },
    )?;
    for w in &ev.warnings {
        crate::say!("finscope: warning: {w}");
    }
    let Some(doc) = summary(&ev, a.group_by) else {
        return Err(Error::Usage(
            "ss: no `ss -tan` snapshot in the input(s) (docs/host.md lists what is read)",
        ));
    };
    if a.json {
        let mut out = Vec::new();
        super::write_json(&mut out, &doc)?;
        print_all(&out)?;
    } else {
        print_all(text(&ev, &doc, a.group_by, a.top).as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The last snapshot's figures, `None` when no `ss` snapshot was read.
pub fn summary(ev: &HostEvidence, group_by: GroupBy) -> Option<SsJson> {
    let last = ev.ss.iter().max_by_key(|p| p.t_us)?;
    let table = ev.ss_last.as_ref();
    Some(SsJson {
        snapshots: ev.ss.len() as u64,
        states: ev.ss_states_of(last),
        by_remote: table.map_or_else(Vec::new, |t| group(&t.by_remote, group_by)),
    })
}

/// The label of a remote under `--group-by`.
fn label(r: &SsRow, by: GroupBy) -> String {
    match (by, r.addr) {
        (GroupBy::Port, _) => r
            .port
            .map_or_else(|| "port *".into(), |p| format!("port {p}")),
        (_, None) => "*".into(),
        (GroupBy::Ip, Some(ip)) => ip.to_string(),
        (GroupBy::Prefix { v4, v6 }, Some(ip)) => {
            let p = if ip.is_ipv4() { v4 } else { v6 };
            format!("{}/{p}", mask(ip, p))
        }
    }
}

/// Rows summed by label, most sockets first (then by label).
fn group(rows: &[SsRow], by: GroupBy) -> Vec<RemoteJson> {
    let mut groups: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for r in rows {
        let g = groups.entry(label(r, by)).or_default();
        for (s, n) in &r.states {
            *g.entry(s.clone()).or_default() += n;
        }
    }
    let mut v: Vec<RemoteJson> = groups
        .into_iter()
        .map(|(remote, states)| RemoteJson { remote, states })
        .collect();
    v.sort_by(|a, b| {
        let n = |r: &RemoteJson| r.states.values().sum::<u64>();
        n(b).cmp(&n(a))
    });
    v
}

/// The text table.
fn text(ev: &HostEvidence, doc: &SsJson, by: GroupBy, top: usize) -> String {
    let mut s = String::new();
    let total: u64 = doc.states.values().sum();
    let when = ev
        .ss
        .iter()
        .map(|p| p.t_us)
        .max()
        .and_then(|t| jiff::Timestamp::from_microsecond(t as i64).ok())
        .map_or_else(String::new, |t| {
            format!(" at {}", t.round(jiff::Unit::Millisecond).unwrap_or(t))
        });
    let _ = writeln!(
        s,
        "{} ss snapshot(s); the last{when}: {} socket(s)\n",
        thousands(doc.snapshots),
        thousands(total)
    );
    let _ = writeln!(s, "{:<14} {:>9}", "STATE", "SOCKETS");
    for (st, n) in &doc.states {
        let _ = writeln!(s, "{st:<14} {:>9}", thousands(*n));
    }
    if doc.by_remote.is_empty() {
        return s;
    }
    let cols: Vec<&String> = doc.states.keys().collect();
    let head = match by {
        GroupBy::Port => "REMOTE PORT".to_string(),
        GroupBy::Ip => "REMOTE".to_string(),
        g => format!("REMOTE ({g})"),
    };
    let w = doc
        .by_remote
        .iter()
        .take(top)
        .map(|r| r.remote.len())
        .max()
        .unwrap_or(0)
        .max(head.len());
    let _ = write!(s, "\n{head:<w$} {:>9}", "SOCKETS");
    for c in &cols {
        let _ = write!(s, " {c:>w2$}", w2 = c.len().max(5));
    }
    s.push('\n');
    for r in doc.by_remote.iter().take(top) {
        let n: u64 = r.states.values().sum();
        let _ = write!(s, "{:<w$} {:>9}", r.remote, thousands(n));
        for c in &cols {
            let v = r.states.get(*c).copied().unwrap_or(0);
            let _ = write!(s, " {:>w2$}", thousands(v), w2 = c.len().max(5));
        }
        s.push('\n');
    }
    if doc.by_remote.len() > top {
        let _ = writeln!(
            s,
            "... {} more remote(s) (--top N, or --json for all)",
            thousands((doc.by_remote.len() - top) as u64)
        );
    }
    if let Some(t) = &ev.ss_last
        && t.rows_dropped > 0
    {
        let _ = writeln!(
            s,
            "{} socket(s) not broken down by remote (too many rows)",
            thousands(t.rows_dropped)
        );
    }
    s
}
