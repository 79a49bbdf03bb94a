//! Diagnosis: a short list of findings, each with its evidence from the
//! capture and the kernel tunables that govern it. The rules and their
//! sources are listed in docs/diagnosis.md; no rule fires without evidence.

use super::format::{dur, ratio, thousands, utc};
use super::schema::{Crossing, Finding, TimelineReport};
use crate::metrics::{MIN_EVIDENCE, Summary};

mod fin_delay;

/// `a` as a percentage of `b` ([`ratio`]'s rule for `b` = 0).
fn pct(a: u64, b: u64) -> f64 {
    ratio(a, b) * 100.0
}

fn peak(tl: &TimelineReport, key: &str) -> (i64, u64) {
    tl.peaks.get(key).map_or((0, 0), |p| (p.value, p.t_us))
}

fn time(tl: &TimelineReport, key: &str) -> u64 {
    tl.state_time_us.get(key).copied().unwrap_or(0)
}

/// A limit that some bucket crossed.
fn crossed(c: &Option<Crossing>) -> Option<&Crossing> {
    c.as_ref().filter(|c| c.buckets_over > 0)
}

/// "N bucket(s) over the limit, first at T; peak P at T'" for series `key`.
fn crossing_evidence(c: &Crossing, tl: &TimelineReport, key: &str) -> String {
    let (pk, pt) = peak(tl, key);
    format!(
        "{} bucket(s) over the limit, first at {} UTC; peak {} at {} UTC",
        c.buckets_over,
        c.first_t_us.map_or("-".into(), utc),
        pk,
        utc(pt)
    )
}

/// The tcp_fin_timeout the timeline assumed (`--fin-timeout`), seconds.
fn tl_fin_timeout_s(s: &Summary) -> f64 {
    s.timeline.cfg.fin_timeout_ns as f64 / 1e9
}

/// Minimum total FIN-WAIT-1 time (us) before its share is worth a finding.
const MIN_STATE_TIME_US: u64 = 1_000_000;

/// An inferred tcp_orphan_retries at or below this "runs low": lowering it
/// further is not advice worth giving (the default is 0, i.e. 8; an
/// inferred value is never 0, see `KernelEvidence::orphan_retries`).
const LOW_ORPHAN_RETRIES: u32 = 3;

/// What every rule looks at: the summary, the timeline, and figures
/// derived from them once.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    s: &'a Summary,
    tl: &'a TimelineReport,
    /// Local orphans inferred killed.
    killed: u64,
    /// Inferred tcp_orphan_retries and the kills consistent with it.
    inferred: Option<(u32, u64)>,
    /// The host already runs tcp_orphan_retries low.
    runs_low: bool,
    /// State time summed over sockets, us.
    fw1: u64,
    fw2: u64,
    orphan_time: u64,
    closing_time: u64,
}

impl Ctx<'_> {
    /// "N of M connections", M all connections of the capture.
    fn of_conns(&self, n: u64) -> String {
        format!(
            "{} of {} connections",
            thousands(n),
            thousands(self.s.connections.total)
        )
    }
}

/// Derives the findings: every rule in docs/diagnosis.md, in order.
pub fn diagnose(s: &Summary, tl: &TimelineReport) -> Vec<Finding> {
    let mut out = Vec::new();
    if s.is_one_sided() {
        // Nothing about ACKs, kills or close states can be concluded.
        out.push(Finding {
            id: "one_sided_capture".into(),
            finding: "Only one direction of the traffic was captured (asymmetric routing, a tap on one fibre, `tcpdump -Q in|out`): FINs look unACKed because the ACKs are not in the capture. No conclusion that needs the other direction is drawn; capture both directions (on the host itself, or a tap on both fibres).".into(),
            evidence: vec![format!(
                "{} of {} connections show packets from one side only, that side acknowledging data the capture does not hold",
                thousands(s.connections.one_sided),
                thousands(s.connections.total)
            )],
            tunables: Vec::new(),
        });
        return out;
    }
    let killed: u64 = s.kernel.killed_by_rtx.values().sum();
    let inferred = s.kernel.orphan_retries();
    let runs_low = inferred.is_some_and(|(v, _)| v <= LOW_ORPHAN_RETRIES);
    let fw1 = time(tl, "fin_wait_1");
    let fw2 = time(tl, "fin_wait_2");
    let closing = time(tl, "closing");
    let last_ack = time(tl, "last_ack");
    let orphan_time = fw1 + closing + last_ack;
    let closing_time = orphan_time + fw2;

    let cx = Ctx {
        s,
        tl,
        killed,
        inferred,
        runs_low,
        fw1,
        fw2,
        orphan_time,
        closing_time,
    };
    let rules: [fn(&Ctx) -> Option<Finding>; 9] = [
        fin_wait_1_dominates,
        orphans_killed,
        fin_timeout_shorter,
        fin_wait_2_dominates,
        max_orphans_crossed,
        max_tw_buckets_crossed,
        close_wait_buildup,
        fin_retransmissions,
        teardown_heavy,
    ];
    out.extend(rules.iter().filter_map(|rule| rule(&cx)));
    out.extend(fin_delay::findings(s));
    out
}

/// FIN-WAIT-1 dominates orphan time: peers do not ACK our FINs.
fn fin_wait_1_dominates(cx: &Ctx) -> Option<Finding> {
    let Ctx {
        s,
        tl,
        killed,
        inferred,
        runs_low,
        fw1,
        orphan_time,
        ..
    } = *cx;

    if !(fw1 >= MIN_STATE_TIME_US && fw1 * 2 >= orphan_time.max(1) && s.local_fins >= MIN_EVIDENCE)
    {
        return None;
    }
    let mut peers: Vec<(&std::net::IpAddr, u128)> = s
        .peers
        .iter()
        .filter(|(_, p)| p.fin_wait_1_ns > 0)
        .map(|(a, p)| (a, p.fin_wait_1_ns))
        .collect();
    peers.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let total: u128 = peers.iter().map(|p| p.1).sum::<u128>().max(1);
    let top: Vec<_> = peers.iter().take(5).collect();
    let top_sum: u128 = top.iter().map(|p| p.1).sum();
    let names: Vec<String> = top
        .iter()
        .map(|(a, ns)| format!("{a} ({})", dur((*ns / 1_000) as u64)))
        .collect();
    let (pk, pt) = peak(tl, "fin_wait_1");
    let fa = &s.latency[crate::metrics::Metric::FinAck][crate::metrics::Split::LocalFirst];
    let mut evidence = vec![
        format!(
            "FIN-WAIT-1 is {:.0}% of orphan-time ({} of {} summed over sockets); peak {} sockets at {} UTC",
            pct(fw1, orphan_time),
            dur(fw1),
            dur(orphan_time),
            thousands(pk.max(0) as u64),
            utc(pt)
        ),
        format!(
            "{:.0}% of FIN-WAIT-1 time is spent waiting on {} peer(s): {}",
            (top_sum * 100 / total) as f64,
            top.len(),
            names.join(", ")
        ),
        format!(
            "local FINs retransmitted {} time(s); local-first FIN->ACK p99 {}, max {}; {} FIN(s) never ACKed",
            thousands(s.fin_rtx.local_to_remote),
            fa.quantile(0.99).map_or("-".into(), dur),
            fa.max().map_or("-".into(), dur),
            thousands(s.unacked_fin_age.count())
        ),
    ];
    if let (true, Some((v, n))) = (runs_low, inferred) {
        evidence.push(format!(
            "the host already kills orphans after few retransmissions: tcp_orphan_retries={v} inferred from {} killed orphan(s) ({} consistent)",
            thousands(killed),
            thousands(n)
        ));
    }
    if let Some(x) = &tl.limits.orphan_retries {
        evidence.push(format!(
            "with tcp_orphan_retries={} the FIN-WAIT-1 peak would drop from {} to {} ({} orphans killed)",
            x.retries, x.fin_wait_1_peak, x.fin_wait_1_peak_limited, x.orphans_killed
        ));
    }
    evidence.push(format!(
        "{} closed by a local FIN",
        cx.of_conns(s.local_fins)
    ));
    let (finding, tunables) = if runs_low {
        (
            "Local sockets sit in FIN-WAIT-1 waiting for peers to ACK their FINs. The host already runs tcp_orphan_retries low (its orphans are killed after a few retransmissions), so lowering it further will not help; what is left is tcp_max_orphans (how many may wait), the peers that do not ACK (see the worst peers), and the application (fewer, longer-lived connections). tcp_fin_timeout bounds only FIN-WAIT-2 and will not help either.",
            vec!["net.ipv4.tcp_max_orphans".to_string()],
        )
    } else {
        (
            "Local sockets sit in FIN-WAIT-1 waiting for peers to ACK their FINs. tcp_orphan_retries bounds how long an orphan's FIN is retransmitted (and tcp_max_orphans how many may wait); tcp_fin_timeout bounds only FIN-WAIT-2 and will not help.",
            vec![
                "net.ipv4.tcp_orphan_retries".to_string(),
                "net.ipv4.tcp_max_orphans".to_string(),
            ],
        )
    };
    Some(Finding {
        id: "fin_wait_1_dominates".into(),
        finding: finding.into(),
        evidence,
        tunables,
    })
}

/// Orphans killed silently by the kernel.
fn orphans_killed(cx: &Ctx) -> Option<Finding> {
    let Ctx {
        s,
        killed,
        inferred,
        ..
    } = *cx;

    if killed < MIN_EVIDENCE {
        return None;
    }
    let mut evidence = vec![format!(
        "{}: the local socket stopped retransmitting its FIN before it was ACKed and sent nothing when the next copy was due; {} of them later answered the peer with a bare RST (no socket)",
        cx.of_conns(killed),
        thousands(s.kernel.kills_confirmed)
    )];
    if let Some((v, n)) = inferred {
        evidence.push(format!(
            "their retransmission schedules are consistent with tcp_orphan_retries={v} ({} of {})",
            thousands(n),
            thousands(killed)
        ));
    }
    let value = inferred.map_or(
        format!("tcp_orphan_retries not inferred: fewer than {MIN_EVIDENCE} kills fit one value"),
        |(v, _)| format!("tcp_orphan_retries = {v}, inferred"),
    );
    Some(Finding {
        id: "orphans_killed".into(),
        finding: format!(
            "The local kernel kills orphans whose FIN stays unACKed ({value}): their peers never learn of the close and may keep the connection open; the socket states above end at the inferred kill. Lowering tcp_orphan_retries further only moves the kill earlier; the peers that do not ACK are the cause."
        ),
        evidence,
        tunables: vec![
            "net.ipv4.tcp_orphan_retries".into(),
            "net.ipv4.tcp_max_orphans".into(),
        ],
    })
}

/// FIN-WAIT-2 sockets gone sooner than the model's tcp_fin_timeout.
fn fin_timeout_shorter(cx: &Ctx) -> Option<Finding> {
    let Ctx { s, .. } = *cx;
    let fin_timeout_s = tl_fin_timeout_s(s);
    // Whole seconds, from enough sockets, not contradicted by a survivor.
    let at_most_s = s
        .kernel
        .fin_timeout_bounds()
        .1
        .filter(|g| (*g as f64) < fin_timeout_s)?;
    let gone_us = s.kernel.fin_wait_2_gone_min_us?;
    Some(Finding {
        id: "fin_timeout_shorter".into(),
        finding: format!(
            "Local FIN-WAIT-2 sockets were gone after {} (the host answered the peer's late FIN with a bare RST): the host runs tcp_fin_timeout at most {at_most_s} s, below the {fin_timeout_s} s assumed here. Run again with --fin-timeout set to it for exact FIN-WAIT-2 and TIME-WAIT counts.",
            dur(gone_us)
        ),
        evidence: vec![format!(
            "{}: the local FIN-WAIT-2 socket answered the peer's FIN with a bare RST; the shortest after {} in FIN-WAIT-2",
            cx.of_conns(s.kernel.fin_wait_2_gone),
            dur(gone_us)
        )],
        tunables: vec!["net.ipv4.tcp_fin_timeout".into()],
    })
}

/// FIN-WAIT-2 dominates the closing states: peers ACK but do not close.
fn fin_wait_2_dominates(cx: &Ctx) -> Option<Finding> {
    let Ctx {
        s,
        tl,
        fw2,
        closing_time,
        ..
    } = *cx;
    let acked =
        s.latency[crate::metrics::Metric::FinAck][crate::metrics::Split::LocalFirst].count();
    if !(fw2 >= MIN_STATE_TIME_US && fw2 * 2 >= closing_time.max(1) && acked >= MIN_EVIDENCE) {
        return None;
    }
    let (pk, pt) = peak(tl, "fin_wait_2");
    Some(Finding {
        id: "fin_wait_2_dominates".into(),
        finding: "Peers ACK our FINs but do not close their side: sockets wait in FIN-WAIT-2. For orphans this is bounded by tcp_fin_timeout (Linux turns them into timewait sockets, counted as tw).".into(),
        evidence: vec![
            format!(
                "FIN-WAIT-2 is {:.0}% of the time in closing states ({}); peak {} at {} UTC",
                pct(fw2, closing_time),
                dur(fw2),
                pk,
                utc(pt)
            ),
            format!(
                "{}: the peer ACKed the local FIN of a local-first close",
                cx.of_conns(acked)
            ),
        ],
        tunables: vec!["net.ipv4.tcp_fin_timeout".into()],
    })
}

/// Orphan estimate over tcp_max_orphans.
fn max_orphans_crossed(cx: &Ctx) -> Option<Finding> {
    let Ctx { tl, .. } = *cx;

    let c = crossed(&tl.limits.max_orphans)?;
    Some(Finding {
        id: "max_orphans_crossed".into(),
        finding: format!(
            "The orphan estimate crosses tcp_max_orphans={}: the kernel would log \"too many orphaned sockets\" and reset orphans (TcpExtTCPAbortOnMemory). Raising the limit only moves the ceiling while peers keep FINs unACKed.",
            c.limit
        ),
        evidence: vec![crossing_evidence(c, tl, "orphans")],
        tunables: vec![
            "net.ipv4.tcp_max_orphans".into(),
            "net.ipv4.tcp_orphan_retries".into(),
            "net.ipv4.tcp_mem".into(),
        ],
    })
}

/// TIME-WAIT over tcp_max_tw_buckets.
fn max_tw_buckets_crossed(cx: &Ctx) -> Option<Finding> {
    let Ctx { tl, .. } = *cx;

    let c = crossed(&tl.limits.max_tw_buckets)?;
    Some(Finding {
        id: "max_tw_buckets_crossed".into(),
        finding: format!(
            "TIME-WAIT sockets exceed tcp_max_tw_buckets={}: the kernel destroys new ones at once (\"time wait bucket table overflow\", TcpExtTCPTimeWaitOverflow). tcp_tw_reuse only helps new outgoing connects; tcp_tw_recycle was removed in Linux 4.12.",
            c.limit
        ),
        evidence: vec![crossing_evidence(c, tl, "time_wait")],
        tunables: vec![
            "net.ipv4.tcp_max_tw_buckets".into(),
            "net.ipv4.tcp_tw_reuse".into(),
        ],
    })
}

/// CLOSE-WAIT build-up: the local application does not close.
fn close_wait_buildup(cx: &Ctx) -> Option<Finding> {
    let Ctx {
        s,
        tl,
        closing_time,
        ..
    } = *cx;
    let (cw_peak, cw_t) = peak(tl, "close_wait");
    let cw = time(tl, "close_wait");
    let remote_first: u64 = s
        .outcomes_by_closer
        .remote_first
        .iter()
        .map(|(_, n)| n)
        .sum();
    if !(cw_peak >= 10 && cw * 2 >= (cw + closing_time).max(1) && remote_first >= MIN_EVIDENCE) {
        return None;
    }
    Some(Finding {
        id: "close_wait_buildup".into(),
        finding: "Peers close first and the local application does not close its sockets: they pile up in CLOSE-WAIT. No sysctl bounds CLOSE-WAIT; the application must call close().".into(),
        evidence: vec![
            format!(
                "CLOSE-WAIT peak {} at {} UTC; {} summed over sockets",
                cw_peak,
                utc(cw_t),
                dur(cw)
            ),
            format!("{} closed first by the peer", cx.of_conns(remote_first)),
        ],
        tunables: Vec::new(),
    })
}

/// Local FINs retransmitted often.
fn fin_retransmissions(cx: &Ctx) -> Option<Finding> {
    let Ctx { s, .. } = *cx;
    let rtx = s.fin_rtx.local_to_remote;
    if !(rtx >= 10 && pct(rtx, s.local_fins) >= 5.0 && s.local_fins >= MIN_EVIDENCE) {
        return None;
    }
    Some(Finding {
        id: "fin_retransmissions".into(),
        finding: "Many local FINs are retransmitted: peers or the path lose or ignore them. Each retransmitting orphan holds memory until tcp_orphan_retries gives up.".into(),
        evidence: vec![format!(
            "{} FIN retransmissions for the local FINs of {} ({:.1}%); {} spurious (after the ACK)",
            thousands(rtx),
            cx.of_conns(s.local_fins),
            pct(rtx, s.local_fins),
            thousands(s.fin_rtx.spurious)
        )],
        tunables: vec!["net.ipv4.tcp_orphan_retries".into()],
    })
}

/// Teardown-heavy traffic.
fn teardown_heavy(cx: &Ctx) -> Option<Finding> {
    let Ctx { s, .. } = *cx;
    let p = &s.packets;
    let total = s.connections.total;
    if !(p.counts.tcp >= 100 && pct(p.counts.fin, p.counts.tcp) >= 20.0 && total >= MIN_EVIDENCE) {
        return None;
    }
    Some(Finding {
        id: "teardown_heavy".into(),
        finding: "An unusually large share of TCP segments carry FIN: connections are very short, or FINs are being retransmitted.".into(),
        evidence: vec![format!(
            "{} of {} TCP segments ({:.1}%) have FIN set, over {} connections; {} are retransmissions",
            thousands(p.counts.fin),
            thousands(p.counts.tcp),
            pct(p.counts.fin, p.counts.tcp),
            thousands(total),
            thousands(s.fin_rtx.total)
        )],
        tunables: Vec::new(),
    })
}
