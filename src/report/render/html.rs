//! The report as one self-contained HTML page (`--html FILE`): header and
//! warnings, the diagnosis, socket states over time, close-latency
//! histograms, outcomes and the worst peers, with inline SVG plots drawn by
//! `plot`. Nothing is fetched (no script, font or style from anywhere), it
//! reads the same without JavaScript (a click selects a whole Wireshark
//! filter, CSS `user-select: all`; a small inline script only adds copy
//! buttons, hidden until it runs), and it prints. Like every
//! renderer it only renders the [`Report`]: every number on the page is one
//! of the document's.

mod assets;
mod host;
mod plot;

use assets::{SCRIPT, STYLE};

use crate::report::format::{dur, opt_dur, pct, thousands, utc};
use crate::report::{Finding, Peer, Report, TimelineReport};
use plot::hex;
use std::io::{self, Write};

/// Text escaped for HTML content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A UTC time without the microseconds when they are zero.
fn when(us: u64) -> String {
    let s = utc(us);
    match s.strip_suffix(".000000") {
        Some(t) => t.to_string(),
        None => s,
    }
}

/// Renders the page.
pub fn render(r: &Report, w: &mut impl Write) -> io::Result<()> {
    head(r, w)?;
    header(r, w)?;
    diagnosis(&r.diagnosis, w)?;
    match nothing_analysed(r) {
        // No plot has anything to show: one line each, not 1,800 px of
        // empty axes.
        Some(why) => {
            for (id, title) in [
                ("states", "Local socket states over time"),
                ("latency", "Close latency"),
                ("outcomes", "Outcomes"),
            ] {
                writeln!(
                    w,
                    "<section id=\"{id}\"><h2>{title}</h2><p class=\"empty\">Nothing to draw: {why}.</p></section>"
                )?;
            }
        }
        None => {
            states(&r.timeline, w)?;
            host::section(r, w)?;
            remedies(r, w)?;
            latency(r, w)?;
            outcomes(r, w)?;
        }
    }
    peers(r, w)?;
    foot(r, w)
}

/// Why no plot has anything to show, when no TCP segment was analysed:
/// the selection (`--filter`, `--since`/`--until`) left none, or the
/// inputs hold none.
fn nothing_analysed(r: &Report) -> Option<String> {
    if r.packets.tcp > 0 || r.connections.total > 0 {
        return None;
    }
    let s = &r.settings;
    let mut by = Vec::new();
    if s.filter.is_some() {
        by.push("the filter");
    }
    if s.since_us.is_some() || s.until_us.is_some() {
        by.push("the time range");
    }
    Some(if !by.is_empty() {
        format!(
            "{} selected no TCP segment of the {} frame(s) read",
            by.join(" and "),
            thousands(r.capture.files.iter().map(|f| f.records).sum())
        )
    } else if r.packets.frames > 0 {
        format!(
            "no TCP segment could be decoded from the {} frame(s)",
            thousands(r.packets.frames)
        )
    } else {
        "no packet was read".to_string()
    })
}

fn head(r: &Report, w: &mut impl Write) -> io::Result<()> {
    let inputs: Vec<&str> = r.capture.files.iter().map(|f| f.path.as_str()).collect();
    writeln!(w, "<!DOCTYPE html>")?;
    writeln!(w, "<html lang=\"en\">")?;
    writeln!(w, "<head>")?;
    writeln!(w, "<meta charset=\"utf-8\">")?;
    writeln!(
        w,
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    )?;
    writeln!(
        w,
        "<meta name=\"generator\" content=\"finscope {}\">",
        esc(&r.finscope_version)
    )?;
    writeln!(
        w,
        "<title>TCP teardown report: {}</title>",
        esc(&inputs.join(", "))
    )?;
    writeln!(w, "<style>{STYLE}</style>")?;
    writeln!(w, "</head>")?;
    writeln!(w, "<body>")
}

/// Header: inputs, span, frames, settings, warnings, key figures.
fn header(r: &Report, w: &mut impl Write) -> io::Result<()> {
    let c = &r.capture;
    writeln!(w, "<header class=\"top\"><div class=\"in\">")?;
    writeln!(
        w,
        "<h1>TCP teardown report<small>finscope {}, report schema {}</small></h1>",
        esc(&r.finscope_version),
        r.schema_version
    )?;
    writeln!(w, "<dl id=\"capture\">")?;
    for f in &c.files {
        let mut extra = String::new();
        if f.truncated {
            extra.push_str(", <b>truncated</b>");
        }
        if let Some(e) = &f.error {
            extra.push_str(&format!(", <b>stopped early</b>: {}", esc(e)));
        }
        writeln!(
            w,
            "<dt>input</dt><dd><code class=\"input\">{}</code> ({}, {} records, {} bytes{extra})</dd>",
            esc(&f.path),
            esc(&f.format),
            thousands(f.records),
            thousands(f.bytes_read)
        )?;
    }
    let span = match (c.first_ts_us, c.last_ts_us) {
        (Some(a), Some(b)) => format!(
            "{} .. {} UTC ({})",
            esc(&when(a)),
            esc(&when(b)),
            dur(c.duration_us)
        ),
        _ => "no frames".to_string(),
    };
    writeln!(w, "<dt>capture span</dt><dd id=\"span\">{span}</dd>")?;
    writeln!(
        w,
        "<dt>frames</dt><dd><span id=\"frames\" data-value=\"{}\">{}</span> ({} TCP segments, {} FIN, {} RST)</dd>",
        r.packets.frames,
        thousands(r.packets.frames),
        thousands(r.packets.tcp),
        thousands(r.packets.fin),
        thousands(r.packets.rst)
    )?;
    let local = if r.settings.local.is_empty() {
        "default: the client (SYN sender) of each connection".to_string()
    } else {
        format!("<code>{}</code>", esc(&r.settings.local.join(",")))
    };
    writeln!(w, "<dt>--local</dt><dd id=\"local\">{local}</dd>")?;
    let filter = r.settings.filter.as_deref().map_or_else(
        || "none".to_string(),
        |f| format!("<code>{}</code>", esc(f)),
    );
    writeln!(w, "<dt>--filter</dt><dd id=\"filter\">{filter}</dd>")?;
    writeln!(w, "</dl>")?;
    writeln!(
        w,
        "<nav><a href=\"#diagnosis\">Diagnosis</a><a href=\"#states\">Socket states</a><a href=\"#remedies\">What-if</a><a href=\"#latency\">Close latency</a><a href=\"#outcomes\">Outcomes</a><a href=\"#peers\">Worst peers</a></nav>"
    )?;
    writeln!(w, "</div></header>")?;
    writeln!(w, "<main>")?;
    if c.one_sided {
        writeln!(
            w,
            "<div class=\"warn\" id=\"warn-one-sided\"><b>Only one direction of the traffic was captured</b>{} of {} connections show packets from one side only: close states, unACKed FINs and kills cannot be judged, and the timeline holds none of them.</div>",
            thousands(r.connections.one_sided),
            thousands(r.connections.total)
        )?;
    } else if r.connections.one_sided > 0 {
        writeln!(
            w,
            "<div class=\"warn\" id=\"warn-one-sided-share\"><b>Some connections were captured in one direction</b>{} of {} connections ({:.0}%) show packets from one side only: their closes are not judged; the rest are.</div>",
            thousands(r.connections.one_sided),
            thousands(r.connections.total),
            crate::report::format::ratio(r.connections.one_sided, r.connections.total) * 100.0
        )?;
    }
    if let Some(sel) = r.capture.selection.as_ref().filter(|s| s.empty) {
        writeln!(
            w,
            "<div class=\"warn\" id=\"warn-empty-selection\"><b>Empty selection</b>{}: nothing was analysed, every figure below is empty.</div>",
            esc(&sel.sentence(r.settings.filter.as_deref()))
        )?;
    }
    if r.capture.interrupted {
        writeln!(
            w,
            "<div class=\"warn\" id=\"warn-interrupted\"><b>Interrupted</b>Reading was stopped by a signal (Ctrl-C): the report covers what was read before it.</div>"
        )?;
    }
    if r.truncated {
        writeln!(
            w,
            "<div class=\"warn\" id=\"warn-truncated\"><b>Truncated input</b>Some input ended in the middle of a record: the report covers everything before it.</div>"
        )?;
    }
    let peak = |k: &str| r.timeline.peaks.get(k).map_or(0, |p| p.value.max(0) as u64);
    let cards: [(String, &str); 6] = [
        (thousands(r.connections.total), "connections"),
        (pct(r.fin_ratio.of_tcp), "of TCP segments are FINs"),
        (
            thousands(r.fin_retransmissions.total),
            "FIN retransmissions",
        ),
        (
            thousands(r.unacked_fins.local_to_remote),
            "local FINs never ACKed",
        ),
        (thousands(peak("fin_wait_1")), "peak FIN-WAIT-1 sockets"),
        (thousands(peak("time_wait")), "peak TIME-WAIT sockets"),
    ];
    writeln!(w, "<div class=\"cards\">")?;
    for (v, k) in cards {
        writeln!(
            w,
            "<div class=\"card\"><div class=\"v\">{v}</div><div class=\"k\">{k}</div></div>"
        )?;
    }
    writeln!(w, "</div>")
}

fn diagnosis(d: &[Finding], w: &mut impl Write) -> io::Result<()> {
    writeln!(w, "<section id=\"diagnosis\">")?;
    writeln!(w, "<h2>Diagnosis</h2>")?;
    if d.is_empty() {
        writeln!(
            w,
            "<p>No finding: nothing in this capture points at a close-state problem.</p>"
        )?;
    } else {
        writeln!(w, "<ol class=\"findings\">")?;
        for f in d {
            writeln!(
                w,
                "<li id=\"finding-{id}\" data-id=\"{id}\"><div class=\"finding\"><span class=\"fid\">{id}</span>{}</div>",
                esc(&f.finding),
                id = esc(&f.id)
            )?;
            if !f.evidence.is_empty() {
                writeln!(w, "<ul class=\"evidence\">")?;
                for e in &f.evidence {
                    writeln!(w, "<li>{}</li>", esc(e))?;
                }
                writeln!(w, "</ul>")?;
            }
            if !f.tunables.is_empty() {
                let t: Vec<String> = f
                    .tunables
                    .iter()
                    .map(|t| format!("<code>{}</code>", esc(t)))
                    .collect();
                writeln!(w, "<div class=\"tunables\">sysctls: {}</div>", t.join(" "))?;
            }
            writeln!(w, "</li>")?;
        }
        writeln!(w, "</ol>")?;
    }
    writeln!(w, "</section>")
}

fn swatch(color: &str, class: &str) -> String {
    format!("<span class=\"sw {class}\" style=\"border-top-color:{color}\"></span>")
}

fn box_swatch(color: &str) -> String {
    format!("<span class=\"sw box\" style=\"background:{color}\"></span>")
}

fn states(t: &TimelineReport, w: &mut impl Write) -> io::Result<()> {
    writeln!(w, "<section id=\"states\">")?;
    writeln!(
        w,
        "<h2>Local socket states over time<span class=\"n\">reconstructed from the packets; counts at each bucket's end, like an <code>ss</code> snapshot</span></h2>"
    )?;
    writeln!(w, "<div class=\"legend\">")?;
    let lines = plot::ORPHAN_LINES.iter().chain(&plot::TW_LINES);
    let legend = [
        "fin_wait_1",
        "last_ack",
        "close_wait",
        "orphans",
        "time_wait",
    ]
    .iter()
    .filter_map(|k| lines.clone().find(|s| s.key == *k));
    for s in legend {
        let class = if s.width > 3 { "band" } else { "" };
        let peak = match t.peaks.get(s.key) {
            Some(p) if p.value > 0 => format!(
                "peak <span class=\"peak\" data-series=\"{}\">{}</span> <span class=\"m\">at {}</span>",
                s.key,
                thousands(p.value as u64),
                esc(&when(p.t_us))
            ),
            Some(_) => format!(
                "peak <span class=\"peak\" data-series=\"{}\">0</span>",
                s.key
            ),
            None => String::new(),
        };
        let time = t
            .state_time_us
            .get(s.key)
            .map(|v| format!(" <span class=\"m\">({} in total)</span>", dur(*v)))
            .unwrap_or_default();
        writeln!(
            w,
            "<span>{}{} {peak}{time}</span>",
            swatch(&hex(s.color), class),
            s.label
        )?;
    }
    writeln!(w, "</div>")?;
    let mut limits = Vec::new();
    for (c, name, flag, color, lines) in [
        (
            &t.limits.max_orphans,
            "tcp_max_orphans",
            "orphans",
            plot::OVER_ORPHANS,
            &plot::ORPHAN_LINES[..],
        ),
        (
            &t.limits.max_tw_buckets,
            "tcp_max_tw_buckets",
            "TIME-WAIT",
            plot::OVER_TW,
            &plot::TW_LINES[..],
        ),
    ] {
        let Some(c) = c else { continue };
        let first = c
            .first_t_us
            .map(|t| format!(", first at {} UTC", esc(&when(t))))
            .unwrap_or_default();
        let drawn = if plot::limit_drawn(t, lines, c.limit) {
            "dashed line"
        } else {
            "above the plot, not drawn"
        };
        limits.push(format!(
            "<span>{}{name} = {} ({drawn}): {} bucket(s) with {flag} over it, shaded{first}</span>",
            box_swatch(&hex(color)),
            thousands(c.limit),
            thousands(c.buckets_over)
        ));
    }
    if let Some(x) = &t.limits.orphan_retries {
        limits.push(format!(
            "<span>tcp_orphan_retries = {} what-if: {} orphan(s) killed; FIN-WAIT-1 peak {} -&gt; {}, orphans peak {} -&gt; {}</span>",
            x.retries,
            thousands(x.orphans_killed),
            x.fin_wait_1_peak,
            x.fin_wait_1_peak_limited,
            x.orphans_peak,
            x.orphans_peak_limited
        ));
    }
    if !limits.is_empty() {
        writeln!(w, "<div class=\"legend\">{}</div>", limits.join(""))?;
    }
    writeln!(
        w,
        "<div class=\"legend\"><span>{}FIN share of TCP segments in the bucket (left axis)</span><span>{}FIN retransmissions in the bucket (right axis)</span></div>",
        swatch(&hex(plot::FIN_SHARE), ""),
        box_swatch(&hex(plot::VERMILLION))
    )?;
    writeln!(w, "<figure>{}</figure>", plot::states(t)?)?;
    let n = t.buckets.len();
    let per = n.div_ceil(plot::MAX_POINTS).max(1);
    let thinned = if per > 1 {
        format!(
            "; drawn as {} points, each the largest of {per} buckets (peaks kept)",
            thousands(n.div_ceil(per) as u64)
        )
    } else {
        String::new()
    };
    writeln!(
        w,
        "<p class=\"note\">{} bucket(s) of {}{thinned}. Orphans = FIN-WAIT-1 + CLOSING + LAST-ACK. Flagged: {} connection(s) already closing when the capture began, {} still open at its end.</p>",
        thousands(n as u64),
        dur(t.bucket_us),
        thousands(t.close_began_before_capture),
        thousands(t.open_at_end)
    )?;
    writeln!(w, "</section>")
}

/// The what-if panel under the states plot: the demand and each remedy's
/// predicted peaks, resets and kills (docs/diagnosis.md, "Remedies").
fn remedies(r: &Report, w: &mut impl Write) -> io::Result<()> {
    let Some(d) = &r.demand else {
        return Ok(());
    };
    writeln!(w, "<section id=\"remedies\">")?;
    writeln!(
        w,
        "<h2>What-if: remedies<span class=\"n\">the capture's closes replayed under other kernel settings; peaks at bucket ends, like the plot above</span></h2>"
    )?;
    writeln!(
        w,
        "<p class=\"note\">With no limit the host would have held <b id=\"demand-orphans\">{}</b> orphans at once (FIN-WAIT-1 {}, TIME-WAIT {}).</p>",
        thousands(d.orphans_peak),
        thousands(d.fin_wait_1_peak),
        thousands(d.time_wait_peak)
    )?;
    if let Some(n) = crate::report::remedies::fit_note(r) {
        writeln!(
            w,
            "<div class=\"warn\" id=\"warn-remedies-fit\">{}</div>",
            esc(&n)
        )?;
    }
    writeln!(
        w,
        "<table class=\"remedies\"><thead><tr><th class=\"l\">setting</th><th class=\"l\">why</th><th>FIN-WAIT-1</th><th>orphans</th><th>TIME-WAIT</th><th>reset</th><th>killed</th><th>TW overflow</th></tr></thead><tbody>"
    )?;
    for x in &r.remedies {
        let p = &x.predicted;
        // A bar of the orphan peak against the demand's.
        let share = if d.orphans_peak > 0 {
            (p.orphans_peak as f64 / d.orphans_peak as f64 * 100.0).min(100.0)
        } else {
            0.0
        };
        writeln!(
            w,
            "<tr data-setting=\"{}\" data-value=\"{}\"><td class=\"l\"><code>{}={}</code></td><td class=\"l why\">{}</td><td class=\"num\">{}</td><td class=\"num\"><span class=\"bar\" style=\"width:{share:.0}%\"></span>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            esc(&x.setting),
            x.value,
            esc(&x.setting),
            thousands(x.value),
            esc(&x.why),
            thousands(p.fin_wait_1_peak),
            thousands(p.orphans_peak),
            thousands(p.time_wait_peak),
            thousands(p.orphan_resets),
            thousands(p.orphans_killed),
            thousands(p.tw_overflows)
        )?;
    }
    writeln!(w, "</tbody></table>")?;
    writeln!(
        w,
        "<p class=\"note\">Each row changes one setting of the host as the capture shows it (the first row). Resets are what the kernel counts as TcpExtTCPAbortOnMemory, kills TcpExtTCPAbortOnTimeout, overflows TcpExtTCPTimeWaitOverflow. <code>--what-if KEY=VALUE</code> adds rows.</p>"
    )?;
    writeln!(w, "</section>")
}

fn latency(r: &Report, w: &mut impl Write) -> io::Result<()> {
    writeln!(w, "<section id=\"latency\">")?;
    writeln!(
        w,
        "<h2>Close latency<span class=\"n\">one sample per connection, from its first FIN; split by who sent it</span></h2>"
    )?;
    let mut legend = String::new();
    for (_, label, color) in plot::SPLITS {
        legend.push_str(&format!("<span>{}{label}</span>", box_swatch(&hex(color))));
    }
    legend.push_str(&format!(
        "<span>{}p50</span><span>{}p99</span>",
        swatch("#444", ""),
        swatch("#444", "dash")
    ));
    writeln!(w, "<div class=\"legend\">{legend}</div>")?;
    writeln!(w, "<figure>{}</figure>", plot::latency(r)?)?;
    writeln!(
        w,
        "<table class=\"latency\"><thead><tr><th class=\"l\">metric</th><th class=\"l\">closed first</th><th>count</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th></tr></thead><tbody>"
    )?;
    for (metric, _) in plot::METRICS {
        for split in ["all", "local_first", "remote_first"] {
            let Some(s) = r.latency.get(metric).and_then(|m| m.get(split)) else {
                continue;
            };
            writeln!(
                w,
                "<tr data-metric=\"{metric}\" data-split=\"{split}\"><td class=\"l\">{metric}</td><td class=\"l\">{}</td><td class=\"count\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
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
    writeln!(w, "</tbody></table>")?;
    writeln!(
        w,
        "<p class=\"note\">Bars: connections per half-decade bucket, every bucket between the first and the last non-empty one drawn. fin_ack ends at the first ACK covering the first FIN; fin_fin at the other side's FIN; close_total when both FINs are ACKed (or at the first RST after the first FIN).</p>"
    )?;
    writeln!(w, "</section>")
}

fn outcomes(r: &Report, w: &mut impl Write) -> io::Result<()> {
    writeln!(w, "<section id=\"outcomes\">")?;
    writeln!(
        w,
        "<h2>Outcomes<span class=\"n\">how each of the {} connections ended</span></h2>",
        thousands(r.connections.total)
    )?;
    writeln!(
        w,
        "<div class=\"legend\"><span>{}local closed first</span><span>{}remote closed first</span><span>{}no FIN</span></div>",
        box_swatch(&hex(plot::BLUE)),
        box_swatch(&hex(plot::ORANGE)),
        box_swatch(&hex(plot::GREY))
    )?;
    writeln!(w, "<div class=\"row\">")?;
    writeln!(w, "<figure>{}</figure>", plot::outcomes(r)?)?;
    writeln!(
        w,
        "<table class=\"outcomes\"><thead><tr><th class=\"l\">outcome</th><th>total</th><th>local first</th><th>remote first</th></tr></thead><tbody>"
    )?;
    let lf = r.outcomes_by_closer.local_first.rows();
    let rf = r.outcomes_by_closer.remote_first.rows();
    for ((name, n), ((_, l), (_, rr))) in r.outcomes.rows().iter().zip(lf.iter().zip(rf.iter())) {
        writeln!(
            w,
            "<tr data-outcome=\"{name}\"><td class=\"l\">{name}</td><td class=\"count\">{}</td><td>{}</td><td>{}</td></tr>",
            thousands(*n),
            thousands(*l),
            thousands(*rr)
        )?;
    }
    writeln!(w, "</tbody></table>")?;
    writeln!(w, "</div>")?;
    writeln!(
        w,
        "<p class=\"note\">Outcome rules: docs/report.md, \"Outcomes\". killed: the local kernel dropped an orphan whose FIN was never ACKed (inferred from its retransmissions stopping).</p>"
    )?;
    writeln!(w, "</section>")
}

fn peers(r: &Report, w: &mut impl Write) -> io::Result<()> {
    writeln!(w, "<section id=\"peers\">")?;
    writeln!(
        w,
        "<h2>Worst remote peers<span class=\"n\">top {} of {}{}</span></h2>",
        thousands(r.peers.len() as u64),
        thousands(r.peers_total),
        r.group_by
            .as_deref()
            .map(|g| format!(", grouped by {}", esc(g)))
            .unwrap_or_default()
    )?;
    if r.peers.is_empty() {
        writeln!(w, "<p>No remote peer.</p>")?;
        return writeln!(w, "</section>");
    }
    let scale = plot::peer_scale(&r.peers);
    let axis = match scale {
        Some(s) => plot::peer_axis(s)?,
        None => String::new(),
    };
    writeln!(
        w,
        "<div class=\"legend\"><span>{}FIN to ACK p50 .. p99, whisker to max (local FINs; an unACKed FIN counts its age)</span></div>",
        box_swatch(&hex(plot::VERMILLION))
    )?;
    writeln!(
        w,
        "<div class=\"scroll\"><table class=\"peers\"><thead><tr><th>#</th><th class=\"l\">peer</th><th>conns</th><th>closes</th><th>FIN rtx</th><th>unACKed</th><th>RSTs</th><th>ack p50</th><th>ack p99</th><th>ack max</th><th class=\"l\">why</th><th class=\"spark\">{axis}</th></tr></thead><tbody>"
    )?;
    for (i, p) in r.peers.iter().enumerate() {
        peer_rows(i + 1, p, scale, w)?;
    }
    writeln!(w, "</tbody></table></div>")?;
    writeln!(
        w,
        "<p class=\"note\">FIN rtx: retransmissions of local FINs to this peer; unACKed: local FINs it never ACKed; the filter opens its worst connection in Wireshark (frame numbers count across the inputs in the order read). A click on a filter selects all of it, to copy (no JavaScript needed); where JavaScript runs, a copy button beside it copies it.</p>"
    )?;
    writeln!(w, "</section>")
}

fn peer_rows(
    rank: usize,
    p: &Peer,
    scale: Option<plot::PeerScale>,
    w: &mut impl Write,
) -> io::Result<()> {
    writeln!(
        w,
        "<tr class=\"peer\" data-addr=\"{addr}\"><td>{rank}</td><td class=\"l addr\">{addr}</td><td class=\"connections\">{}</td><td class=\"closes\">{}</td><td class=\"fin_retransmissions\">{}</td><td class=\"unacked_fins\">{}</td><td class=\"rsts\">{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"l fin_delay\">{}</td><td class=\"spark\">{}</td></tr>",
        thousands(p.counts.connections),
        thousands(p.counts.closes),
        thousands(p.counts.fin_retransmissions),
        thousands(p.counts.unacked_fins),
        thousands(p.counts.rsts),
        opt_dur(p.fin_ack_p50_us),
        opt_dur(p.fin_ack_p99_us),
        opt_dur(p.fin_ack_max_us),
        esc(super::why::verdict(p)),
        plot::peer_range(p, scale)?,
        addr = esc(&p.addr)
    )?;
    let members = match p.members {
        Some(n) => format!(
            "<div class=\"members\">members ({}): {}{}</div>",
            thousands(n),
            esc(&p.worst_members.join(", ")),
            if n as usize > p.worst_members.len() {
                ", ..."
            } else {
                ""
            }
        ),
        None => String::new(),
    };
    let why = super::why::evidence(p)
        .map(|e| format!("<div class=\"why\">why: {}</div>", esc(&e)))
        .unwrap_or_default();
    writeln!(
        w,
        "<tr class=\"filter\"><td></td><td colspan=\"11\">worst connection: <code class=\"wsf\" title=\"a click selects the whole filter\">{}</code><button type=\"button\" class=\"copy\" hidden>copy</button>{members}{why}</td></tr>",
        esc(&p.wireshark_filter)
    )
}

fn foot(r: &Report, w: &mut impl Write) -> io::Result<()> {
    writeln!(
        w,
        "<footer>finscope {}: every figure is defined in docs/report.md and docs/timeline.md; the JSON report (<code>--json</code>) holds the same numbers.</footer>",
        esc(&r.finscope_version)
    )?;
    writeln!(w, "</main>")?;
    writeln!(w, "<script>{SCRIPT}</script>")?;
    writeln!(w, "</body>")?;
    writeln!(w, "</html>")
}
