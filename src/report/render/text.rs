//! The human report: aligned tables, thousands separators, units, and
//! log-scale bar charts of close latency. Deterministic: no wall-clock values.

use super::{Paint, TextStyle};
use crate::metrics::peers::RankBy;
use crate::report::format::{dur, opt_dur, pct, thousands, utc};
use crate::report::{LatencyStats, Report};
use std::io::{self, Write};

mod kernel;
use kernel::{render_remedies, render_tunables};

const BAR_WIDTH: u64 = 40;

fn bar_chart(w: &mut impl Write, title: &str, s: &LatencyStats) -> io::Result<()> {
    if s.count == 0 {
        return Ok(());
    }
    let plural = if s.count == 1 { "" } else { "s" };
    writeln!(
        w,
        "  {title} (log scale, {} sample{plural})",
        thousands(s.count)
    )?;
    let peak = s.buckets.iter().map(|b| b.1).max().unwrap_or(0).max(1);
    // Every bucket from the first non-empty one to the last, empty ones
    // included: the gap between quick closes and timer-driven ones shows.
    let first = s.buckets.iter().position(|b| b.1 > 0).unwrap_or(0);
    let last = s.buckets.iter().rposition(|b| b.1 > 0).unwrap_or(0);
    let mut lo = if first == 0 {
        0
    } else {
        s.buckets[first - 1].0
    };
    for (hi, n) in s.buckets.iter().take(last + 1).skip(first) {
        let len = (n * BAR_WIDTH).div_ceil(peak) as usize;
        writeln!(
            w,
            "    {:>8} .. {:<8} {:<40} {}",
            dur(lo),
            dur(*hi),
            "#".repeat(len),
            thousands(*n)
        )?;
        lo = *hi;
    }
    Ok(())
}

/// Renders the text report: one section after the other.
pub fn render(r: &Report, style: &TextStyle, w: &mut impl Write) -> io::Result<()> {
    // Strings from a report file or the command line (labels, file names,
    // peers) cannot act on the terminal.
    let clean = super::escaped(r);
    let r = clean.as_ref().unwrap_or(r);
    writeln!(w, "finscope {} - TCP teardown report", r.finscope_version)?;
    writeln!(w)?;
    render_capture(r, style, w)?;
    render_inputs(r, w)?;
    render_teardown(r, w)?;
    render_connections(r, w)?;
    render_tunables(r, w)?;
    render_remedies(r, style, w)?;
    render_latency(r, w)?;
    render_peers(r, style, w)?;
    super::text_host::render(r, w)?;
    render_states(r, style, w)
}

/// CAPTURE: files, link types, time span, frames, warnings.
fn render_capture(r: &Report, style: &TextStyle, w: &mut impl Write) -> io::Result<()> {
    let p = &r.packets;
    writeln!(w, "CAPTURE")?;
    for f in &r.capture.files {
        writeln!(
            w,
            "  file           {} ({}, {} bytes, {} records{})",
            f.path,
            f.format,
            thousands(f.bytes_read),
            thousands(f.records),
            if f.truncated { ", TRUNCATED" } else { "" }
        )?;
        if let Some(e) = &f.error {
            writeln!(w, "  {}        {e}", style.paint(Paint::Warn, "stopped"))?;
        }
    }
    if r.capture.interrupted {
        writeln!(
            w,
            "  {}    reading stopped by a signal (Ctrl-C): this covers what was read before it",
            style.paint(Paint::Warn, "INTERRUPTED")
        )?;
    }
    if r.capture.evicted_early > 0 {
        writeln!(
            w,
            "  {}        {} connection(s) retired early to stay within --max-memory (idle longest first): their figures end there",
            style.paint(Paint::Warn, "EVICTED"),
            thousands(r.capture.evicted_early)
        )?;
    }
    let links: Vec<String> = r
        .capture
        .link_types
        .iter()
        .map(|l| {
            format!(
                "{} {}{}",
                l.name,
                thousands(l.frames),
                if l.supported { "" } else { " (not decoded)" }
            )
        })
        .collect();
    writeln!(
        w,
        "  link types     {}",
        if links.is_empty() {
            "(no frames)".to_string()
        } else {
            links.join(", ")
        }
    )?;
    if let (Some(f), Some(l)) = (r.capture.first_ts_us, r.capture.last_ts_us) {
        writeln!(
            w,
            "  time           {} .. {} UTC ({})",
            utc(f),
            utc(l),
            dur(r.capture.duration_us)
        )?;
    }
    writeln!(
        w,
        "  frames         {}   TCP segments {}",
        thousands(p.frames),
        thousands(p.tcp)
    )?;
    // What the figures mean depends on these two: say them.
    writeln!(
        w,
        "  local side     {}",
        if r.settings.local.is_empty() {
            "the client of each connection (the SYN sender; --local not given)".to_string()
        } else {
            r.settings.local.join(", ")
        }
    )?;
    if let Some(f) = &r.settings.filter {
        writeln!(w, "  filter         {f}")?;
    }
    if let Some(sel) = &r.capture.selection {
        let s = sel.sentence(r.settings.filter.as_deref());
        if sel.empty {
            writeln!(
                w,
                "  {}          {s}: nothing was analysed, every figure below is empty",
                style.paint(Paint::Warn, "EMPTY")
            )?;
        } else {
            writeln!(w, "  selected       {s}")?;
        }
    }
    match (r.settings.since_us, r.settings.until_us) {
        (None, None) => {}
        (since, until) => writeln!(
            w,
            "  time range     {} to {} (--since/--until; frames outside not analysed)",
            since.map_or("the start".to_string(), utc),
            until.map_or("the end".to_string(), utc)
        )?,
    }
    let skipped: Vec<String> = r
        .skipped
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{k} {}", thousands(*n)))
        .collect();
    if !skipped.is_empty() {
        writeln!(w, "  not TCP        {}", skipped.join(", "))?;
    }
    if r.capture.no_tcp {
        let unsupported: Vec<&str> = r
            .capture
            .link_types
            .iter()
            .filter(|l| !l.supported)
            .map(|l| l.name.as_str())
            .collect();
        writeln!(
            w,
            "  WARNING        {} frames but no TCP segment could be decoded{}: nothing was analysed",
            thousands(r.packets.frames),
            if unsupported.is_empty() {
                String::new()
            } else {
                format!(" (link types not decoded: {})", unsupported.join(", "))
            }
        )?;
    }
    let one_sided_share = format!(
        "{} of {} connections ({:.0}%)",
        thousands(r.connections.one_sided),
        thousands(r.connections.total),
        crate::report::format::ratio(r.connections.one_sided, r.connections.total) * 100.0
    );
    if r.capture.one_sided {
        writeln!(
            w,
            "  WARNING        only one direction was captured ({one_sided_share} show packets from one side only): FIN ACKs, close states and kills cannot be judged",
        )?;
    } else if r.connections.one_sided > 0 {
        writeln!(
            w,
            "  WARNING        {one_sided_share} show packets from one side only: their closes are not judged (the rest are)",
        )?;
    }
    writeln!(w)?;
    Ok(())
}

/// INPUTS: a merged report's captures, one row each (`finscope merge`).
fn render_inputs(r: &Report, w: &mut impl Write) -> io::Result<()> {
    if r.inputs.is_empty() {
        return Ok(());
    }
    let n = r.inputs.len();
    writeln!(
        w,
        "INPUTS    {} report{} merged",
        thousands(n as u64),
        if n == 1 { "" } else { "s" }
    )?;
    writeln!(
        w,
        "  {:<28} {:>11} {:>9} {:>9} {:>8} {:>8} {:>7} {:>11} {:>8}",
        "input",
        "frames",
        "conns",
        "FIN ratio",
        "FIN-rtx",
        "unacked",
        "killed",
        "fin_unacked",
        "orphans"
    )?;
    for i in &r.inputs {
        writeln!(
            w,
            "  {:<28} {:>11} {:>9} {:>9} {:>8} {:>8} {:>7} {:>11} {:>8}",
            i.label,
            thousands(i.frames),
            thousands(i.connections),
            pct(i.fin_ratio),
            thousands(i.fin_retransmissions),
            thousands(i.unacked_fins),
            thousands(i.killed),
            thousands(i.fin_unacked),
            i.peak_orphans
        )?;
    }
    writeln!(
        w,
        "  (orphans: peak orphan estimate; worst connections name their input, whose frame numbers they use)"
    )?;
    writeln!(w)?;
    Ok(())
}

/// TEARDOWN SHARE: FIN ratio and FIN retransmissions.
fn render_teardown(r: &Report, w: &mut impl Write) -> io::Result<()> {
    let p = &r.packets;
    let fr = &r.fin_retransmissions;
    if p.fin == 0 && fr.total == 0 {
        // Nothing to say: one line.
        writeln!(
            w,
            "TEARDOWN SHARE  no FIN segment  (SYN {}, RST {}, pure ACK {})",
            thousands(p.syn),
            thousands(p.rst),
            thousands(p.pure_ack)
        )?;
        return writeln!(w);
    }
    writeln!(w, "TEARDOWN SHARE")?;
    writeln!(
        w,
        "  FIN segments   {}  = {} of TCP segments, {} of all frames",
        thousands(p.fin),
        pct(r.fin_ratio.of_tcp),
        pct(r.fin_ratio.of_frames)
    )?;
    writeln!(
        w,
        "  SYN {}   RST {}   pure ACK {}",
        thousands(p.syn),
        thousands(p.rst),
        thousands(p.pure_ack)
    )?;
    writeln!(
        w,
        "  FIN retransmissions {}  (local->remote {}, remote->local {}; spurious, after the ACK: {})",
        thousands(fr.total),
        thousands(fr.local_to_remote),
        thousands(fr.remote_to_local),
        thousands(fr.spurious)
    )?;
    if fr.within_1ms > 0 {
        writeln!(
            w,
            "  of which {} came less than 1 ms after the previous copy: faster than any retransmission timer, likely the same packet captured twice",
            thousands(fr.within_1ms)
        )?;
    }
    writeln!(w)?;
    Ok(())
}

/// CONNECTIONS: outcomes by who closed first, unACKed FINs.
fn render_connections(r: &Report, w: &mut impl Write) -> io::Result<()> {
    let c = &r.connections;
    if c.total == 0 {
        // Nothing to say: one line.
        writeln!(w, "CONNECTIONS    0")?;
        return writeln!(w);
    }
    writeln!(
        w,
        "CONNECTIONS    {}  (handshake seen {}, sides guessed by port {})",
        thousands(c.total),
        thousands(c.handshake_seen),
        thousands(c.sides_by_port)
    )?;
    writeln!(
        w,
        "  {:<17} {:>10} {:>12} {:>13}",
        "outcome", "total", "local first", "remote first"
    )?;
    let lf = r.outcomes_by_closer.local_first.rows();
    let rf = r.outcomes_by_closer.remote_first.rows();
    // Outcomes that no connection had are not listed.
    for (i, (name, n)) in r.outcomes.rows().iter().enumerate() {
        if *n == 0 {
            continue;
        }
        writeln!(
            w,
            "  {:<17} {:>10} {:>12} {:>13}",
            name,
            thousands(*n),
            thousands(lf[i].1),
            thousands(rf[i].1)
        )?;
    }
    if r.unacked_fin_age.count > 0 {
        writeln!(
            w,
            "  FINs never ACKed: {} (local->remote {}, remote->local {}; age until the end or the kill p50 {}, max {}): sockets stuck in FIN-WAIT-1/LAST-ACK",
            thousands(r.unacked_fin_age.count),
            thousands(r.unacked_fins.local_to_remote),
            thousands(r.unacked_fins.remote_to_local),
            opt_dur(r.unacked_fin_age.p50_us),
            opt_dur(r.unacked_fin_age.max_us)
        )?;
    }
    writeln!(w)?;
    Ok(())
}

/// CLOSE LATENCY: percentiles and log-scale bar charts.
fn render_latency(r: &Report, w: &mut impl Write) -> io::Result<()> {
    if r.latency.fin_fin.all.count == 0 && r.latency.fin_ack.all.count == 0 {
        // Nothing to say: one line.
        writeln!(w, "CLOSE LATENCY  (no close with a FIN was seen)")?;
        return writeln!(w);
    }
    writeln!(w, "CLOSE LATENCY")?;
    writeln!(
        w,
        "  {:<11} {:<12} {:>6} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "metric", "closed first", "count", "p50", "p90", "p99", "p99.9", "max"
    )?;
    for (metric, splits) in r.latency.metrics() {
        for (split, s) in splits.splits() {
            writeln!(
                w,
                "  {:<11} {:<12} {:>6} {:>8} {:>8} {:>8} {:>8} {:>8}",
                metric,
                split.replace('_', " "),
                thousands(s.count),
                opt_dur(s.p50_us),
                opt_dur(s.p90_us),
                opt_dur(s.p99_us),
                opt_dur(s.p999_us),
                opt_dur(s.max_us)
            )?;
        }
    }
    bar_chart(w, "fin_ack", &r.latency.fin_ack.all)?;
    bar_chart(w, "close_total", &r.latency.close_total.all)?;
    writeln!(w)?;
    Ok(())
}

/// WORST REMOTE PEERS.
fn render_peers(r: &Report, style: &TextStyle, w: &mut impl Write) -> io::Result<()> {
    if r.peers.is_empty() && r.peers_total == 0 {
        // Nothing to say: one line.
        writeln!(w, "WORST REMOTE PEERS  (none)")?;
        return writeln!(w);
    }
    writeln!(
        w,
        "WORST REMOTE PEERS  (top {} of {}, ranked by {})",
        r.peers.len(),
        thousands(r.peers_total),
        match r.rank_by {
            RankBy::Problems => "FIN retransmissions + unACKed FINs",
            other => other.name(),
        }
    )?;
    if r.peers.is_empty() {
        writeln!(w, "  (none)")?;
    } else {
        // Each column as wide as its widest cell (the peer column is not
        // padded to an IPv6 address's 39 characters), two spaces apart, or
        // one when two do not fit the output width.
        let header = [
            "peer", "conns", "closes", "FIN-rtx", "unacked", "RSTs", "ack p50", "ack p99",
            "ack max", "why",
        ]
        .map(String::from);
        let rows: Vec<[String; 10]> = r
            .peers
            .iter()
            .map(|peer| {
                [
                    peer.addr.clone(),
                    thousands(peer.counts.connections),
                    thousands(peer.counts.closes),
                    thousands(peer.counts.fin_retransmissions),
                    thousands(peer.counts.unacked_fins),
                    thousands(peer.counts.rsts),
                    opt_dur(peer.fin_ack_p50_us),
                    opt_dur(peer.fin_ack_p99_us),
                    opt_dur(peer.fin_ack_max_us),
                    super::why::verdict(peer).to_string(),
                ]
            })
            .collect();
        let mut widths = [0usize; 10];
        for row in std::iter::once(&header).chain(&rows) {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let total = 2 + widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
        let gap = if style.width.is_some_and(|w| total > w) {
            1
        } else {
            2
        };
        let line = |row: &[String; 10]| {
            let mut l = String::from("  ");
            for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
                if i == 0 {
                    l.push_str(&format!("{cell:<w$}"));
                } else if i == 9 {
                    l.push_str(&format!("{:gap$}{cell:<w$}", ""));
                } else {
                    l.push_str(&format!("{:gap$}{cell:>w$}", ""));
                }
            }
            l.trim_end().to_string()
        };
        writeln!(w, "{}", line(&header))?;
        for (peer, row) in r.peers.iter().zip(&rows) {
            writeln!(w, "{}", line(row))?;
            if let Some(why) = super::why::evidence(peer) {
                writeln!(w, "      why: {why}")?;
            }
            if let Some(n) = peer.members {
                let more = n.saturating_sub(peer.worst_members.len() as u64);
                // Up to 5 addresses, worst first, and how many are not shown.
                let rest = if more > 0 {
                    format!(", +{} more", thousands(more))
                } else {
                    String::new()
                };
                writeln!(
                    w,
                    "      members ({}): {}{rest}",
                    thousands(n),
                    peer.worst_members.join(", ")
                )?;
            }
            if !peer.wireshark_filter.is_empty() {
                let head = match &peer.worst_input {
                    Some(input) => format!("      worst (in {input}):"),
                    None => "      worst:".to_string(),
                };
                let f = &peer.wireshark_filter;
                // Whole, to paste into Wireshark: beside its label when
                // both fit the width (or none is set: a pipe), else on a
                // line of its own, which is never wrapped (render::fit).
                let one = head.chars().count() + 1 + f.chars().count();
                if style.width.is_none_or(|cols| one <= cols) {
                    writeln!(w, "{head} {f}")?;
                } else {
                    writeln!(w, "{head}\n        {f}")?;
                }
            }
        }
        // The ack columns are not LATENCY's fin_ack: a local FIN never
        // ACKed counts there with its age (docs/report.md), which can be
        // longer than any ACKed one.
        if r.peers.iter().any(|p| p.counts.unacked_fins > 0) {
            writeln!(
                w,
                "  (ack p50/p99/max: each local FIN to this peer's ACK of it; a FIN never ACKed counts with its age, a lower bound, so they can exceed LATENCY's fin_ack: first FINs, ACKed only)"
            )?;
        }
    }
    if let Some(o) = &r.peers_others {
        writeln!(
            w,
            "  others: {} peer(s) folded together past the budget (peers_others)\n    {} conns, {} closes, {} FIN-rtx, {} unacked, {} RSTs",
            thousands(o.folded),
            thousands(o.counts.connections),
            thousands(o.counts.closes),
            thousands(o.counts.fin_retransmissions),
            thousands(o.counts.unacked_fins),
            thousands(o.counts.rsts)
        )?;
    }
    writeln!(w)?;
    Ok(())
}

/// LOCAL SOCKET STATES and the DIAGNOSIS.
fn render_states(r: &Report, style: &TextStyle, w: &mut impl Write) -> io::Result<()> {
    use super::timeline::{NEVER_CLOSING, never_closing, render_peak_notes, render_peaks};
    if never_closing(&r.timeline) {
        // Nothing to say: one line (and the notes, when there are any).
        writeln!(w, "LOCAL SOCKET STATES  {NEVER_CLOSING}")?;
        render_peak_notes(&r.timeline, w)?;
    } else {
        writeln!(
            w,
            "LOCAL SOCKET STATES  (reconstructed; `finscope timeline` draws them over time)"
        )?;
        render_peaks(&r.timeline, w)?;
    }
    super::timeline::render_diagnosis(&r.diagnosis, style, w)
}

/// One `--interval` summary as a line of text.
pub fn interval_line(s: &crate::report::IntervalLine) -> String {
    format!(
        "{} .. {}{}  frames {}  TCP {}  SYN {}  FIN {} ({})  RST {}  tracked {}{}",
        utc(s.start_us),
        utc(s.end_us),
        if s.last { " (end)" } else { "" },
        thousands(s.frames),
        thousands(s.tcp),
        thousands(s.syn),
        thousands(s.fin),
        pct(s.fin_ratio),
        thousands(s.rst),
        thousands(s.tracked),
        if s.evicted_early > 0 {
            format!("  evicted {}", thousands(s.evicted_early))
        } else {
            String::new()
        }
    )
}
