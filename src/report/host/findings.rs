//! What only the host can show, as findings: `tw_limit_hit`, the orphan
//! ceiling in sockstat and dmesg, and host/capture disagreements.

use super::super::format::{thousands, utc};
use super::super::schema::{Finding, Report};
use super::*;
use crate::host::HostEvidence;

/// `tw_limit_hit`: the host held TIME-WAIT at a ceiling (3 or more
/// snapshots at its maximum) while the packets imply more TIME-WAIT than
/// that, and TcpExtTCPTimeWaitOverflow counted refusals.
pub(super) fn tw_limit_hit(
    doc: &Report,
    ev: &HostEvidence,
    host: &HostReport,
    span: (u64, u64),
) -> Option<(Finding, MaxTwBuckets)> {
    let (points, source) = tw_points(ev);
    let inside: Vec<(u64, u64)> = points
        .into_iter()
        .filter(|(t, _)| *t >= span.0 && *t <= span.1)
        .collect();
    let ceiling = inside.iter().map(|p| p.1).max()?;
    let at: Vec<u64> = inside
        .iter()
        .filter(|p| p.1 == ceiling)
        .map(|p| p.0)
        .collect();
    let refused = host
        .counters
        .get("TcpExtTCPTimeWaitOverflow")
        .and_then(|c| c.host)
        .unwrap_or(0);
    let inferred = doc
        .timeline
        .peaks
        .get("time_wait")
        .map_or(0, |p| p.value.max(0) as u64);
    if at.len() < 3
        || refused == 0
        || inferred <= ceiling.saturating_add(ceiling / 20 + 2)
        || ceiling == 0
    {
        return None;
    }
    let (from, to) = (at[0], at[at.len() - 1]);
    let finding = Finding {
        id: "tw_limit_hit".into(),
        finding: format!(
            "TIME-WAIT is capped at {} on the host (tcp_max_tw_buckets): the kernel refused {} TIME-WAIT entries while the packets imply up to {}; raise net.ipv4.tcp_max_tw_buckets or accept that closed connections skip TIME-WAIT",
            thousands(ceiling),
            thousands(refused),
            thousands(inferred)
        ),
        evidence: vec![
            format!(
                "{source} held at {} in {} snapshots between {} and {} UTC",
                thousands(ceiling),
                at.len(),
                hms(from),
                hms(to)
            ),
            format!(
                "TcpExtTCPTimeWaitOverflow grew by {} over the capture; the inferred TIME-WAIT series peaks at {} (a refused entry leaves no trace in the packets)",
                thousands(refused),
                thousands(inferred)
            ),
            match host.counters.get("TcpExtTW") {
                Some(CounterRow {
                    host: Some(made),
                    capture: Some(seen),
                }) => format!(
                    "the packets show {} active closes ACKed (each a TIME-WAIT entry): the kernel kept {} (TcpExtTW) and refused {}",
                    thousands(*seen),
                    thousands(*made),
                    thousands(refused)
                ),
                _ => "TcpExtTW not in the snapshots: the entries kept are not known".into(),
            },
        ],
        tunables: vec!["net.ipv4.tcp_max_tw_buckets".into()],
    };
    Some((
        finding,
        MaxTwBuckets {
            value: Some(ceiling),
            refused,
            snapshots_at_ceiling: at.len() as u64,
        },
    ))
}

/// Host evidence for the orphan limit: the dmesg messages and sockstat's
/// ceiling, added to `orphan_limit_hit` (or as that finding when the
/// packets alone did not show it).
pub(super) fn orphan_evidence(
    doc: &mut Report,
    ev: &HostEvidence,
    host: &HostReport,
    span: (u64, u64),
) {
    let msgs: Vec<&KernelMessageRow> = host
        .kernel_messages
        .iter()
        .filter(|m| m.kind == "too_many_orphans")
        // Those of the capture's span (a whole boot's log holds older
        // incidents' too); unplaced ones count as of it.
        .filter(|m| {
            m.t_us
                .is_none_or(|t| t.saturating_add(SEC) >= span.0 && t <= span.1.saturating_add(SEC))
        })
        .collect();
    let mut evidence = Vec::new();
    let placed: Vec<u64> = msgs.iter().filter_map(|m| m.t_us).collect();
    if let (Some(&first), Some(&last)) = (placed.iter().min(), placed.iter().max()) {
        let suppressed = msgs
            .iter()
            .fold(0u64, |a, m| a.saturating_add(m.count.saturating_sub(1)));
        let held: Vec<i64> = doc
            .timeline
            .buckets
            .iter()
            .filter(|b| {
                let end = b.t_us + doc.timeline.bucket_us;
                end >= first && end <= last + doc.timeline.bucket_us
            })
            .map(|b| b.orphans)
            .collect();
        let held = match (held.iter().min(), held.iter().max()) {
            (Some(lo), Some(hi)) if lo == hi => thousands(*hi as u64),
            (Some(lo), Some(hi)) => format!(
                "{}-{}",
                thousands(*lo.max(&0) as u64),
                thousands(*hi as u64)
            ),
            _ => "-".into(),
        };
        evidence.push(format!(
            "dmesg: {} 'too many orphaned sockets'{} between {} and {} UTC while the orphan series held at {}",
            msgs.len(),
            if suppressed > 0 {
                format!(" ({} more suppressed by net_ratelimit)", thousands(suppressed))
            } else {
                String::new()
            },
            hms_range(first, last).0,
            hms_range(first, last).1,
            held
        ));
    }
    let orphan: Vec<u64> = ev
        .sockstat
        .iter()
        .filter(|s| s.t_us >= span.0 && s.t_us <= span.1)
        .filter_map(|s| s.orphan)
        .collect();
    let on_memory = host
        .counters
        .get("TcpExtTCPAbortOnMemory")
        .and_then(|c| c.host)
        .unwrap_or(0);
    if let Some(&peak) = orphan.iter().max()
        && on_memory > 0
    {
        // The plateau: snapshots within 15% of the peak (the kernel checks a
        // count cached every 100 ms, so it overshoots the limit a little).
        let near: Vec<u64> = orphan
            .iter()
            .copied()
            .filter(|&o| u128::from(o) * 100 >= u128::from(peak) * 85)
            .collect();
        if near.len() >= 3 {
            let lo = near.iter().min().copied().unwrap_or(peak);
            evidence.push(format!(
                "sockstat: orphan held at {}-{} in {} snapshots while TcpExtTCPAbortOnMemory grew by {}: the orphan limit (tcp_max_orphans) was hit",
                thousands(lo),
                thousands(peak),
                near.len(),
                thousands(on_memory)
            ));
        }
    }
    if evidence.is_empty() {
        return;
    }
    if let Some(f) = doc
        .diagnosis
        .iter_mut()
        .find(|f| f.id == "orphan_limit_hit")
    {
        f.evidence.extend(evidence);
        return;
    }
    if on_memory == 0 && msgs.is_empty() {
        return;
    }
    doc.diagnosis.insert(
        0,
        Finding {
            id: "orphan_limit_hit".into(),
            finding: "The host reset orphans over its orphan limit (tcp_max_orphans), as its kernel log and counters show; find what holds the FINs unACKed before raising net.ipv4.tcp_max_orphans".into(),
            evidence,
            tunables: vec!["net.ipv4.tcp_max_orphans".into()],
        },
    );
}

/// Counters and series where the host and the capture disagree, with what
/// it implies.
pub(super) fn disagreements(host: &HostReport, explained: &[&str]) -> Vec<Finding> {
    let mut evidence = Vec::new();
    let mut host_more = false;
    for (name, what) in [
        ("TcpExtTCPAbortOnMemory", "orphans reset over the limit"),
        (
            "TcpExtTCPAbortOnTimeout",
            "orphans killed on retransmission timeout",
        ),
    ] {
        let Some(c) = host.counters.get(name) else {
            continue;
        };
        let (Some(h), Some(p)) = (c.host, c.capture) else {
            continue;
        };
        let tol = (h / 100).max(2);
        if h.abs_diff(p) > tol {
            host_more |= h > p;
            evidence.push(format!(
                "{what}: the host counted {} ({name}), the capture shows {}",
                thousands(h),
                thousands(p)
            ));
        }
    }
    // TIME-WAIT entries: the kernel made TcpExtTW and refused
    // TcpExtTCPTimeWaitOverflow; the packets show both.
    if let Some(CounterRow {
        host: Some(made),
        capture: Some(seen),
    }) = host.counters.get("TcpExtTW")
        && !explained.contains(&"TcpExtTW")
    {
        let refused = host
            .counters
            .get("TcpExtTCPTimeWaitOverflow")
            .and_then(|c| c.host)
            .unwrap_or(0);
        let h = made.saturating_add(refused);
        if h.abs_diff(*seen) > (h / 100).max(2) {
            host_more |= h > *seen;
            evidence.push(format!(
                "TIME-WAIT entries: the host made {} (TcpExtTW) and refused {} (TcpExtTCPTimeWaitOverflow), the capture shows {} active closes ACKed",
                thousands(*made),
                thousands(refused),
                thousands(*seen)
            ));
        }
    }
    for (key, a) in &host.agreement {
        if explained.contains(&key.as_str()) {
            continue;
        }
        let scale = a.host_peak.max(a.inferred_peak.max(0) as u64);
        if a.snapshots >= 3 && a.mean_abs_diff > 5.0 && a.mean_abs_diff * 10.0 > scale as f64 {
            host_more |= a.host_peak > a.inferred_peak.max(0) as u64;
            evidence.push(format!(
                "{key}: the inferred series is off the host's {} by {:.1} on average over {} snapshots (peaks {} inferred, {} on the host)",
                a.source,
                a.mean_abs_diff,
                a.snapshots,
                thousands(a.inferred_peak.max(0) as u64),
                thousands(a.host_peak)
            ));
        }
    }
    if evidence.is_empty() {
        return Vec::new();
    }
    let finding = if host_more {
        "The host saw more than the capture holds: the capture misses traffic (another interface, packets dropped by tcpdump or the kernel, or a capture or --filter filter); figures from the packets are lower bounds"
    } else {
        "The capture shows more than the host counted: the host evidence may come from another host or network namespace, or cover a shorter span than the capture"
    };
    vec![Finding {
        id: "host_capture_disagree".into(),
        finding: finding.into(),
        evidence,
        tunables: Vec::new(),
    }]
}

/// `HH:MM:SS` of a µs timestamp (UTC).
pub(super) fn hms(us: u64) -> String {
    let u = utc(us);
    u.get(11..19).map_or(u.clone(), str::to_string)
}

/// `HH:MM:SS` of both ends, with milliseconds when they share a second.
pub(super) fn hms_range(a: u64, b: u64) -> (String, String) {
    if a / SEC == b / SEC {
        let ms = |us: u64| {
            let u = utc(us);
            u.get(11..23).map_or(u.clone(), str::to_string)
        };
        (ms(a), ms(b))
    } else {
        (hms(a), hms(b))
    }
}
