//! Who holds the FIN, in words: one finding per verdict that names a
//! holder, with the peers behind it (docs/diagnosis.md, "Who holds the
//! FIN"). The verdicts are the report's `peers[].fin_delay`.

use super::super::format::{dur, thousands};
use super::super::schema::Finding;
use crate::metrics::Summary;
use crate::metrics::fin_delay::{FinDelaySums, FinVerdict};
use std::net::IpAddr;

/// Peers named in a finding's sentence; the evidence lists every one.
const NAMED: usize = 5;

/// The findings, in the verdicts' order.
pub fn findings(s: &Summary) -> Vec<Finding> {
    let mut by: Vec<(FinVerdict, Vec<(IpAddr, &FinDelaySums)>)> = Vec::new();
    for (ip, p) in &s.peers {
        let v = p.fin_delay.verdict();
        if matches!(v, FinVerdict::None | FinVerdict::Unknown) {
            continue;
        }
        match by.iter_mut().find(|(x, _)| *x == v) {
            Some((_, l)) => l.push((*ip, &p.fin_delay)),
            None => by.push((v, vec![(*ip, &p.fin_delay)])),
        }
    }
    by.sort_by_key(|(v, _)| *v);
    by.into_iter()
        .map(|(v, mut peers)| {
            peers.sort_by(|a, b| {
                b.1.counts
                    .slow_fins
                    .cmp(&a.1.counts.slow_fins)
                    .then(a.0.cmp(&b.0))
            });
            finding(v, &peers)
        })
        .collect()
}

fn finding(v: FinVerdict, peers: &[(IpAddr, &FinDelaySums)]) -> Finding {
    let mut sum = FinDelaySums::default();
    for (_, p) in peers {
        sum += p;
    }
    let n = peers.len();
    let mut names: Vec<String> = peers
        .iter()
        .take(NAMED)
        .map(|(a, _)| a.to_string())
        .collect();
    if n > NAMED {
        names.push(format!("+{} more", n - NAMED));
    }
    let one = n == 1;
    // Singular or plural.
    let sp = |singular: &'static str, plural: &'static str| if one { singular } else { plural };
    let who = if one {
        format!("the slow peer {}", names.join(", "))
    } else {
        format!("the {n} slow peers ({})", names.join(", "))
    };
    let (data, rtx) = sum.data();
    let rtt = sum.data_rtt.quantile(0.5).map_or("-".into(), dur);
    let (finding, tunables): (String, Vec<String>) = match v {
        FinVerdict::FinDropped => (
            format!(
                "{} {} FINs while {} data flows normally: data round trip p50 {rtt}, {} data retransmissions of {}; not the line: look at what stands in front of {} (a firewall, load balancer or connection tracker that drops FINs) or at the {} own stack.",
                cap(&who),
                sp("ignores", "ignore"),
                sp("its", "their"),
                thousands(rtx),
                thousands(data),
                sp("it", "them"),
                sp("peer's", "peers'")
            ),
            vec!["net.ipv4.tcp_orphan_retries".into()],
        ),
        FinVerdict::PathLoss => (
            format!(
                "The path to {who} loses segments, FINs among them: {} data retransmissions of {}, {} duplicate ACKs, data round trip p50 {rtt}; the line (or congestion), not the {}.",
                thousands(rtx),
                thousands(data),
                thousands(
                    sum.counts
                        .local_dup_acks
                        .saturating_add(sum.counts.peer_dup_acks)
                ),
                sp("peer", "peers")
            ),
            Vec::new(),
        ),
        FinVerdict::PeerZeroWindow => (
            format!(
                "{} stopped reading: {} advertised a zero window ({} times) and {} local FINs waited behind unsent data ({} bytes in all), orphans in FIN-WAIT-1 while the wire showed only zero windows and {} window probes; the timeline counts them in FIN-WAIT-1 from the stall's start (an estimate, an upper bound: close() came between the stall and the FIN). The {} application, not the line.",
                cap(&who),
                sp("it", "they"),
                thousands(sum.counts.peer_zero_windows),
                thousands(sum.counts.zw_fins),
                thousands(sum.counts.zw_held_bytes),
                thousands(sum.counts.local_probes),
                sp("peer's", "peers'")
            ),
            vec![
                "net.ipv4.tcp_orphan_retries".into(),
                "net.ipv4.tcp_max_orphans".into(),
            ],
        ),
        FinVerdict::MiddleboxReply => (
            format!(
                "Something between us and {who} answers for {}: {} of {} slow FINs were ACKed or reset with another TTL than the {} own segments{}; look at the box in between (firewall, load balancer, proxy).",
                sp("it", "them"),
                thousands(sum.counts.slow_fin_ttl_other),
                thousands(sum.counts.slow_fin_ttl_known),
                sp("peer's", "peers'"),
                sum.ttl_example
                    .map(|(a, p)| format!(" (TTL {a} against {p})"))
                    .unwrap_or_default()
            ),
            Vec::new(),
        ),
        FinVerdict::PeerSlow | FinVerdict::None | FinVerdict::Unknown => (
            format!(
                "{} {} slow at everything, not only FINs: handshake round trip p50 {}, data round trip p50 {rtt}, slow FINs ACKed after p50 {}; an overloaded host (or a long path).",
                cap(&who),
                sp("is", "are"),
                sum.handshake.quantile(0.5).map_or("-".into(), dur),
                sum.slow_fin_ack.quantile(0.5).map_or("-".into(), dur)
            ),
            Vec::new(),
        ),
    };
    let evidence = peers
        .iter()
        .map(|(a, p)| {
            let f = crate::report::schema::fin_delay::FinDelay::of(p);
            format!("{a}: {}", f.evidence.join("; "))
        })
        .collect();
    Finding {
        id: v.name().to_string(),
        finding,
        evidence,
        tunables,
    }
}

/// `s` with its first letter in upper case.
fn cap(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}
