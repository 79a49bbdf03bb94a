//! The host evidence as text (`--host`): the HOST EVIDENCE section of the
//! report, and the kernel messages' row under the `timeline` chart.

use super::TextStyle;
use super::timeline::{LABEL_WIDTH, chart_columns};
use crate::report::format::{thousands, utc};
use crate::report::schema::host::HostReport;
use crate::report::schema::{Report, TimelineReport};
use std::collections::BTreeMap;
use std::io::{self, Write};

/// HOST EVIDENCE: alignment, kernel messages, snapshots, agreement,
/// counters. Nothing without `--host`.
pub fn render(r: &Report, w: &mut impl Write) -> io::Result<()> {
    let Some(h) = &r.host else { return Ok(()) };
    writeln!(
        w,
        "HOST EVIDENCE  ({} file{} given with --host)",
        h.files.len(),
        if h.files.len() == 1 { "" } else { "s" }
    )?;
    if let Some(a) = &h.alignment {
        let how = match (a.method.as_str(), a.refined_from.as_deref()) {
            ("packets", Some("btime")) => {
                "fitted on the capture's orphan resets, within btime's second".to_string()
            }
            ("packets", _) => "fitted on the capture's orphan resets (no btime)".to_string(),
            ("btime", _) => "/proc/stat btime (whole seconds)".to_string(),
            ("boot_time", _) => "--boot-time".to_string(),
            (m, _) => m.replace('_', " "),
        };
        write!(w, "  kernel clock: {how}")?;
        if a.method != "wall_clock" {
            write!(
                w,
                "; boot at {} UTC ±{} us",
                utc(a.offset_us.max(0) as u64),
                thousands(a.uncertainty_us)
            )?;
        }
        if let Some(f) = &a.fit {
            write!(
                w,
                "; {} of {} orphan messages within 1 ms of a reset",
                f.matched, f.messages
            )?;
        }
        writeln!(w)?;
    }
    // kind -> (messages, suppressed, first, last)
    type Kind = (u64, u64, Option<u64>, Option<u64>);
    let mut kinds: BTreeMap<&str, Kind> = BTreeMap::new();
    for m in &h.kernel_messages {
        let e = kinds.entry(m.kind.as_str()).or_insert((0, 0, None, None));
        e.0 += 1;
        e.1 = e.1.saturating_add(m.count.saturating_sub(1));
        if let Some(t) = m.t_us {
            e.2 = Some(e.2.map_or(t, |x: u64| x.min(t)));
            e.3 = Some(e.3.map_or(t, |x: u64| x.max(t)));
        }
    }
    for (kind, (n, suppressed, first, last)) in &kinds {
        write!(w, "  kernel: {} {kind}", thousands(*n))?;
        if *suppressed > 0 {
            write!(w, " (+{} suppressed)", thousands(*suppressed))?;
        }
        if let (Some(f), Some(l)) = (first, last) {
            write!(w, ", {} .. {} UTC", utc(*f), utc(*l))?;
        }
        writeln!(w)?;
    }
    let s = &h.snapshots;
    writeln!(
        w,
        "  snapshots read: ss {}, ss -s {}, sockstat {}, nstat {}",
        thousands(s.ss),
        thousands(s.ss_summary),
        thousands(s.sockstat),
        thousands(s.nstat)
    )?;
    if !h.agreement.is_empty() {
        writeln!(w, "  inferred vs host at each snapshot in the capture:")?;
        writeln!(
            w,
            "    {:<11} {:>9} {:>10} {:>11} {:>13} {:>9}  host",
            "series", "snapshots", "max |diff|", "mean |diff|", "inferred peak", "host peak"
        )?;
        for (k, a) in &h.agreement {
            writeln!(
                w,
                "    {k:<11} {:>9} {:>10} {:>11.2} {:>13} {:>9}  {}",
                thousands(a.snapshots),
                thousands(a.max_abs_diff),
                a.mean_abs_diff,
                thousands(a.inferred_peak.max(0) as u64),
                thousands(a.host_peak),
                a.source
            )?;
        }
    }
    if !h.counters.is_empty() {
        writeln!(
            w,
            "  counters over the capture (host: nstat's growth; capture: the same event in the packets):"
        )?;
        for (k, c) in &h.counters {
            let show = |v: Option<u64>| v.map_or("-".into(), thousands);
            writeln!(
                w,
                "    {k:<28} host {:>9}  capture {:>9}",
                show(c.host),
                show(c.capture)
            )?;
        }
    }
    if let Some(ss) = &h.ss_last {
        let total = ss.states.values().fold(0u64, |a, v| a.saturating_add(*v));
        writeln!(
            w,
            "  the last ss snapshot ({} UTC): {} sockets; by remote ({} of {}):",
            utc(ss.t_us),
            thousands(total),
            ss.by_remote.len(),
            ss.remotes_total
        )?;
        let cols: Vec<&String> = ss.states.keys().collect();
        let rw = ss
            .by_remote
            .iter()
            .map(|r| r.remote.chars().count())
            .max()
            .unwrap_or(6)
            .max(6);
        write!(w, "    {:<rw$}", "remote")?;
        for c in &cols {
            write!(w, " {c:>11}")?;
        }
        writeln!(w)?;
        write!(w, "    {:<rw$}", "(all)")?;
        for c in &cols {
            write!(
                w,
                " {:>11}",
                thousands(ss.states.get(*c).copied().unwrap_or(0))
            )?;
        }
        writeln!(w)?;
        for r in &ss.by_remote {
            write!(w, "    {:<rw$}", r.remote)?;
            for c in &cols {
                write!(
                    w,
                    " {:>11}",
                    thousands(r.states.get(*c).copied().unwrap_or(0))
                )?;
            }
            writeln!(w)?;
        }
    }
    for x in h.warnings.iter().take(10) {
        writeln!(w, "  warning: {x}")?;
    }
    if h.warnings.len() > 10 {
        writeln!(w, "  ... {} more warnings", h.warnings.len() - 10)?;
    }
    writeln!(w)
}

/// A row under the `timeline` chart: `!` in the columns holding a kernel
/// message (`*` when one of them is not about orphans), with the count.
pub fn render_kernel_row(
    t: &TimelineReport,
    h: &HostReport,
    style: &TextStyle,
    w: &mut impl Write,
) -> io::Result<()> {
    if t.buckets.is_empty() || h.kernel_messages.is_empty() {
        return Ok(());
    }
    let (per_col, cols) = chart_columns(t.buckets.len(), style);
    let span = t.bucket_us.saturating_mul(per_col as u64).max(1);
    let mut marks = vec![' '; cols];
    let mut shown = 0u64;
    for m in &h.kernel_messages {
        let Some(tu) = m.t_us else { continue };
        if tu < t.start_us {
            continue;
        }
        let c = ((tu - t.start_us) / span) as usize;
        if let Some(x) = marks.get_mut(c) {
            shown += 1;
            *x = if m.kind == "too_many_orphans" && *x != '*' {
                '!'
            } else {
                '*'
            };
        }
    }
    let marks: String = marks.into_iter().collect();
    writeln!(
        w,
        "  {:<LABEL_WIDTH$} |{marks}| {} message{} (! orphans, * other)",
        "kernel msgs",
        thousands(shown),
        if shown == 1 { "" } else { "s" }
    )
}

const GLYPHS: [char; 9] = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The host's series as rows under the `timeline` chart, in its columns:
/// a snapshot series shows the largest snapshot of each column (`peak`),
/// a counter's growth the sum (`total`); a column without a snapshot is
/// blank.
pub fn render_host_rows(
    t: &TimelineReport,
    h: &HostReport,
    style: &TextStyle,
    w: &mut impl Write,
) -> io::Result<()> {
    if t.buckets.is_empty() {
        return Ok(());
    }
    let (per_col, cols) = chart_columns(t.buckets.len(), style);
    let span = t.bucket_us.saturating_mul(per_col as u64).max(1);
    for s in &h.series {
        let counter = s.beside == "counter";
        let mut vals: Vec<Option<u64>> = vec![None; cols];
        for &(tu, v) in &s.points {
            if tu < t.start_us {
                continue;
            }
            let Some(x) = vals.get_mut(((tu - t.start_us) / span) as usize) else {
                continue;
            };
            *x = Some(match (*x, counter) {
                (Some(a), true) => a.saturating_add(v),
                (Some(a), false) => a.max(v),
                (None, _) => v,
            });
        }
        let peak = vals.iter().flatten().copied().max().unwrap_or(0);
        let total = vals
            .iter()
            .flatten()
            .fold(0u64, |a, v| a.saturating_add(*v));
        let line: String = vals
            .iter()
            .map(|v| match v {
                Some(v) if *v > 0 && peak > 0 => {
                    let eighths = (u128::from(*v) * 8).div_ceil(u128::from(peak));
                    GLYPHS[eighths.clamp(1, 8) as usize]
                }
                _ => GLYPHS[0],
            })
            .collect();
        let name: String = s.label.chars().take(LABEL_WIDTH).collect();
        let what = if counter {
            format!("total {}", thousands(total))
        } else {
            format!("peak {}", thousands(peak))
        };
        writeln!(w, "  {name:<LABEL_WIDTH$} |{line:<cols$}| {what} (host)")?;
    }
    Ok(())
}

/// `finscope timeline`'s text with host evidence: the chart, the kernel
/// messages' row, the peaks, HOST EVIDENCE, the diagnosis.
pub fn render_timeline(r: &Report, style: &TextStyle, w: &mut impl Write) -> io::Result<()> {
    use super::timeline::{render_chart, render_diagnosis, render_peaks};
    writeln!(
        w,
        "LOCAL SOCKET STATES OVER TIME (reconstructed from the capture)"
    )?;
    render_chart(&r.timeline, style, w)?;
    if let Some(h) = &r.host {
        render_host_rows(&r.timeline, h, style, w)?;
        render_kernel_row(&r.timeline, h, style, w)?;
    }
    writeln!(w)?;
    render_peaks(&r.timeline, w)?;
    writeln!(w)?;
    render(r, w)?;
    render_diagnosis(&r.diagnosis, style, w)
}
