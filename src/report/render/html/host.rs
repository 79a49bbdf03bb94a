//! The page's "Host evidence" section (`--host`): the kernel messages as
//! markers on the capture's time axis (hover: the message and its time),
//! the host's snapshots beside the inferred series, the agreement and
//! counter tables. A hand-drawn inline SVG: every mark is one `<line>` with
//! a `<title>`, so the page stays readable without script.

use super::{esc, when};
use crate::report::format::thousands;
use crate::report::schema::host::HostReport;
use crate::report::schema::{Report, STATE_SERIES, TimelineReport};
use std::io::{self, Write};

const W: f64 = 960.0;
const H: f64 = 240.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 10.0;
const TOP: f64 = 20.0;
const BOTTOM: f64 = 30.0;
/// Markers drawn at most (one per pixel column beyond that).
const MAX_MARKS: usize = 1_000;
/// Kernel messages listed in the table.
const MAX_ROWS: usize = 200;

/// The section; nothing without `--host`.
pub fn section(r: &Report, w: &mut impl Write) -> io::Result<()> {
    let Some(h) = &r.host else { return Ok(()) };
    writeln!(w, "<section id=\"host\">")?;
    writeln!(
        w,
        "<h2>Host evidence<span class=\"n\">given with --host: kernel messages, ss / sockstat / nstat snapshots</span></h2>"
    )?;
    if let Some(a) = &h.alignment {
        let fit = a
            .fit
            .as_ref()
            .map(|f| {
                format!(
                    "; {} of {} orphan messages within 1 ms of a reset",
                    f.matched, f.messages
                )
            })
            .unwrap_or_default();
        writeln!(
            w,
            "<p class=\"note\" id=\"host-alignment\">Kernel clock: <b>{}</b>{}, boot at {} UTC &plusmn;{} &micro;s{fit}.</p>",
            esc(&a.method),
            a.refined_from
                .as_ref()
                .map(|f| format!(" (from {})", esc(f)))
                .unwrap_or_default(),
            esc(&when(a.offset_us.max(0) as u64)),
            thousands(a.uncertainty_us)
        )?;
    }
    writeln!(w, "<figure>{}</figure>", chart(&r.timeline, h))?;
    agreement(h, w)?;
    counters(h, w)?;
    messages(h, w)?;
    writeln!(w, "</section>")
}

/// Orphans (inferred line, sockstat points) and TIME-WAIT (inferred line,
/// ss points), with a red marker per kernel message.
fn chart(t: &TimelineReport, h: &HostReport) -> String {
    let n = t.buckets.len() as u64;
    let t0 = t.start_us;
    let t1 = t0.saturating_add(t.bucket_us.saturating_mul(n)).max(t0 + 1);
    let x = |us: u64| LEFT + (us.clamp(t0, t1) - t0) as f64 / (t1 - t0) as f64 * (W - LEFT - RIGHT);
    let get = |k: &str| STATE_SERIES.iter().find(|s| s.key == k).map(|s| s.get);
    let mut top = 1i64;
    for k in ["orphans", "time_wait"] {
        if let Some(g) = get(k) {
            top = top.max(t.buckets.iter().map(g).max().unwrap_or(0));
        }
    }
    for s in &h.series {
        if s.beside == "orphans" || s.beside == "time_wait" {
            top = top.max(s.points.iter().map(|p| p.1 as i64).max().unwrap_or(0));
        }
    }
    let y = |v: i64| TOP + (1.0 - v.max(0) as f64 / top as f64) * (H - TOP - BOTTOM);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" role=\"img\" aria-label=\"kernel messages and host snapshots on the capture's time axis\">"
    );
    svg.push_str(&format!(
        "<rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#999\"/>",
        W - LEFT - RIGHT,
        H - TOP - BOTTOM
    ));
    svg.push_str(&format!(
        "<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{}</text><text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">0</text>",
        LEFT - 4.0,
        TOP + 10.0,
        thousands(top as u64),
        LEFT - 4.0,
        H - BOTTOM
    ));
    svg.push_str(&format!(
        "<text x=\"{LEFT}\" y=\"{}\" font-size=\"11\">{}</text><text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{} UTC</text>",
        H - 10.0,
        esc(&when(t0)),
        W - RIGHT,
        H - 10.0,
        esc(&when(t1))
    ));
    for (k, color, label) in [
        ("orphans", "#0072b2", "orphans (inferred)"),
        ("time_wait", "#009e73", "TIME-WAIT (inferred)"),
    ] {
        let Some(g) = get(k) else { continue };
        let pts: Vec<String> = t
            .buckets
            .iter()
            .map(|b| {
                format!(
                    "{:.1},{:.1}",
                    x(b.t_us.saturating_add(t.bucket_us)),
                    y(g(b))
                )
            })
            .collect();
        svg.push_str(&format!(
            "<polyline class=\"inferred\" data-series=\"{k}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"1.5\" points=\"{}\"><title>{label}</title></polyline>",
            pts.join(" ")
        ));
    }
    for s in &h.series {
        let color = match s.beside.as_str() {
            "orphans" => "#0072b2",
            "time_wait" => "#009e73",
            _ => continue,
        };
        // One circle per pixel column at most (the largest snapshot in
        // it): a day of snapshots at one a second stays a light page.
        let mut thinned: Vec<(f64, u64, u64)> = Vec::new();
        for &(tu, v) in s.points.iter().filter(|p| p.0 >= t0 && p.0 <= t1) {
            let px = x(tu);
            match thinned.last_mut() {
                Some(last) if px - last.0 < 1.0 => {
                    if v > last.2 {
                        *last = (last.0, tu, v);
                    }
                }
                _ => thinned.push((px, tu, v)),
            }
        }
        for (_, tu, v) in thinned {
            svg.push_str(&format!(
                "<circle class=\"host-point\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"none\" stroke=\"{color}\"><title>{}: {} at {} UTC</title></circle>",
                x(tu),
                y(v as i64),
                esc(&s.label),
                thousands(v),
                esc(&when(tu))
            ));
        }
    }
    // Kernel messages: one marker per pixel column (the messages within it
    // grouped: their count, first and last time, the first's text).
    let mut groups: Vec<(f64, u64, u64, u64, bool, &str)> = Vec::new();
    for m in &h.kernel_messages {
        let Some(tu) = m.t_us else { continue };
        if tu < t0 || tu > t1 {
            continue;
        }
        let px = x(tu);
        let orphans = m.kind == "too_many_orphans";
        let full = groups.len() >= MAX_MARKS;
        match groups.last_mut() {
            Some(g) if px - g.0 < 1.0 => {
                g.2 = tu;
                g.3 = g.3.saturating_add(m.count);
                g.4 |= orphans;
            }
            _ if full => break,
            _ => groups.push((px, tu, tu, m.count, orphans, &m.text)),
        }
    }
    let drawn = groups.len();
    for (px, first, last, n, orphans, text) in groups {
        let color = if orphans { "#d55e00" } else { "#cc79a7" };
        let what = if n > 1 {
            format!(
                "{} messages, {} .. {} UTC, the first: {}",
                thousands(n),
                when(first),
                when(last),
                text
            )
        } else {
            format!("{} UTC: {text}", when(first))
        };
        svg.push_str(&format!(
            "<line class=\"kernel-mark\" data-count=\"{n}\" x1=\"{px:.1}\" x2=\"{px:.1}\" y1=\"{TOP}\" y2=\"{}\" stroke=\"{color}\" stroke-width=\"2\" opacity=\"0.8\"><title>{}</title></line>",
            H - BOTTOM,
            esc(&what)
        ));
        svg.push_str(&format!(
            "<text x=\"{px:.1}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\" fill=\"{color}\">{}</text>",
            TOP - 4.0,
            thousands(n)
        ));
    }
    svg.push_str("</svg>");
    format!(
        "{svg}<figcaption>Lines: the inferred orphans (blue) and TIME-WAIT (green) at bucket ends; circles: the host's snapshots (sockstat orphan; ss TIME-WAIT and sockstat tw); vertical marks: kernel messages, the number above each counting those within it and the ones net_ratelimit suppressed ({} mark{}; hover for the text).</figcaption>",
        thousands(drawn as u64),
        if drawn == 1 { "" } else { "s" }
    )
}

fn agreement(h: &HostReport, w: &mut impl Write) -> io::Result<()> {
    if h.agreement.is_empty() {
        return Ok(());
    }
    writeln!(
        w,
        "<table id=\"host-agreement\"><caption>Inferred vs the host at each snapshot within the capture</caption><tr><th>series</th><th>snapshots</th><th>max |diff|</th><th>mean |diff|</th><th>inferred peak</th><th>host peak</th><th>host source</th></tr>"
    )?;
    for (k, a) in &h.agreement {
        writeln!(
            w,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.2}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(k),
            thousands(a.snapshots),
            thousands(a.max_abs_diff),
            a.mean_abs_diff,
            thousands(a.inferred_peak.max(0) as u64),
            thousands(a.host_peak),
            esc(&a.source)
        )?;
    }
    writeln!(w, "</table>")
}

fn counters(h: &HostReport, w: &mut impl Write) -> io::Result<()> {
    if h.counters.is_empty() {
        return Ok(());
    }
    writeln!(
        w,
        "<table id=\"host-counters\"><caption>Kernel counters over the capture (nstat) and the same event in the packets</caption><tr><th>counter</th><th>host</th><th>capture</th></tr>"
    )?;
    let show = |v: Option<u64>| v.map_or("&ndash;".to_string(), thousands);
    for (k, c) in &h.counters {
        writeln!(
            w,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(k),
            show(c.host),
            show(c.capture)
        )?;
    }
    writeln!(w, "</table>")
}

fn messages(h: &HostReport, w: &mut impl Write) -> io::Result<()> {
    if h.kernel_messages.is_empty() {
        return Ok(());
    }
    writeln!(
        w,
        "<table id=\"host-messages\"><caption>Kernel messages ({}{})</caption><tr><th>time (UTC)</th><th>kind</th><th>message</th></tr>",
        thousands(h.kernel_messages.len() as u64),
        if h.kernel_messages.len() > MAX_ROWS {
            format!("; the first {MAX_ROWS}")
        } else {
            String::new()
        }
    )?;
    for m in h.kernel_messages.iter().take(MAX_ROWS) {
        writeln!(
            w,
            "<tr><td>{}</td><td>{}</td><td>{}{}</td></tr>",
            m.t_us.map_or("&ndash;".to_string(), |t| esc(&when(t))),
            esc(&m.kind),
            esc(&m.text),
            if m.count > 1 {
                format!(" <span class=\"m\">(+{} suppressed)</span>", m.count - 1)
            } else {
                String::new()
            }
        )?;
    }
    writeln!(w, "</table>")
}
