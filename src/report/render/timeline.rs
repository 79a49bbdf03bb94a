//! The timeline part of the report as CSV, a terminal chart, the peaks
//! table and the diagnosis list.

use super::TextStyle;
use crate::report::format::{dur, thousands, utc};
use crate::report::schema::{Bucket, COUNTER_SERIES, Finding, STATE_SERIES, TimelineReport};
use std::io::{self, Write};

/// Writes the buckets as CSV (one row per bucket, a header line first):
/// `t_us`, every state series, every counter, `fin_ratio`.
pub fn write_csv(r: &TimelineReport, w: &mut impl Write) -> io::Result<()> {
    let cols = csv_columns();
    let mut out = csv::Writer::from_writer(w);
    out.write_record(cols.iter().map(|c| c.0))?;
    for b in &r.buckets {
        out.write_record(cols.iter().map(|c| c.1.cell(b, r.bucket_us)))?;
    }
    out.flush()
}

/// How a timeline CSV column reads a bucket.
#[derive(Clone, Copy)]
enum Col {
    State(fn(&Bucket) -> i64),
    Counter(fn(&Bucket) -> u64),
    Other(fn(&Bucket, u64) -> String),
}

impl Col {
    /// Its cell for bucket `b` of width `bucket_us`.
    fn cell(self, b: &Bucket, bucket_us: u64) -> String {
        match self {
            Col::State(get) => get(b).to_string(),
            Col::Counter(get) => get(b).to_string(),
            Col::Other(get) => get(b, bucket_us),
        }
    }
}

/// Every CSV column, in order: the bucket's start and end (the state counts
/// are taken at its end), then every series of the JSON buckets; the
/// what-if columns are empty without their option.
fn csv_columns() -> Vec<(&'static str, Col)> {
    fn opt(v: Option<i64>) -> String {
        v.map_or(String::new(), |v| v.to_string())
    }
    let mut cols = vec![
        ("t_us", Col::Other(|b, _| b.t_us.to_string())),
        (
            "end_us",
            Col::Other(|b, w| b.t_us.saturating_add(w).to_string()),
        ),
    ];
    cols.extend(STATE_SERIES.iter().map(|s| (s.key, Col::State(s.get))));
    cols.extend(COUNTER_SERIES.iter().map(|c| (c.0, Col::Counter(c.1))));
    cols.extend([
        ("fin_ratio", Col::Other(|b, _| b.fin_ratio.to_string())),
        (
            "fin_wait_1_limited",
            Col::Other(|b, _| opt(b.fin_wait_1_limited)),
        ),
        ("orphans_limited", Col::Other(|b, _| opt(b.orphans_limited))),
        (
            "over_max_orphans",
            Col::Other(|b, _| b.over_max_orphans.to_string()),
        ),
        (
            "over_max_tw_buckets",
            Col::Other(|b, _| b.over_max_tw_buckets.to_string()),
        ),
    ]);
    cols
}

const GLYPHS: [char; 9] = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
/// Columns of the chart at most; fewer to fit [`super::width`].
const CHART_WIDTH: usize = 96;

/// Columns of a row's label (the longest, "orphans (estimate)").
const LABEL_WIDTH: usize = 18;

/// Columns of the chart: its label, bars and peak fit the output width.
fn chart_width(style: &TextStyle) -> usize {
    style.width.map_or(CHART_WIDTH, |w| {
        w.saturating_sub(LABEL_WIDTH + 18).clamp(10, CHART_WIDTH)
    })
}

/// A terminal chart: one row per state, time left to right, each column the
/// largest value of the buckets it covers, scaled to the row's peak.
pub fn render_chart(r: &TimelineReport, style: &TextStyle, w: &mut impl Write) -> io::Result<()> {
    if r.buckets.is_empty() {
        return writeln!(w, "  (no packets)");
    }
    let per_col = r.buckets.len().div_ceil(chart_width(style)).max(1);
    let cols = r.buckets.len().div_ceil(per_col);
    type Get = fn(&Bucket) -> i64;
    let mut rows: Vec<(&str, Get)> = STATE_SERIES.iter().map(|s| (s.label, s.get)).collect();
    rows.push(("FIN segs", |b| b.fin as i64));
    rows.push(("FIN rtx", |b| b.fin_retransmissions as i64));
    writeln!(
        w,
        "  {} bucket{} of {}, {} per column; each row scaled to its own peak",
        r.buckets.len(),
        if r.buckets.len() == 1 { "" } else { "s" },
        dur(r.bucket_us),
        dur(r.bucket_us.saturating_mul(per_col as u64))
    )?;
    if r.widened_while_reading {
        writeln!(
            w,
            "  note: buckets widened to {} while reading: the asked width needed more than 57,280 in memory",
            dur(r.bucket_us)
        )?;
    }
    for (name, get) in rows {
        let vals: Vec<i64> = r
            .buckets
            .chunks(per_col)
            .map(|c| c.iter().map(get).max().unwrap_or(0))
            .collect();
        let peak = vals.iter().copied().max().unwrap_or(0);
        let line: String = vals
            .iter()
            .map(|v| {
                if peak <= 0 || *v <= 0 {
                    GLYPHS[0]
                } else {
                    // Eighths of the peak, rounded up (in i128: saved
                    // counts may be anything).
                    let eighths = (i128::from(*v) * 8 + i128::from(peak) - 1) / i128::from(peak);
                    GLYPHS[eighths.clamp(1, 8) as usize]
                }
            })
            .collect();
        let name: String = name.chars().take(LABEL_WIDTH).collect();
        writeln!(w, "  {name:<LABEL_WIDTH$} |{line:<cols$}| peak {peak}")?;
    }
    // Limit crossings (--max-orphans, --max-tw-buckets): a mark under the
    // columns whose buckets are over a limit.
    let over: Vec<bool> = r
        .buckets
        .chunks(per_col)
        .map(|c| {
            c.iter()
                .any(|b| b.over_max_orphans || b.over_max_tw_buckets)
        })
        .collect();
    if over.iter().any(|o| *o) {
        let marks: String = over.iter().map(|o| if *o { '^' } else { ' ' }).collect();
        writeln!(
            w,
            "  {:<LABEL_WIDTH$} |{marks:<cols$}| over a limit",
            "limits"
        )?;
    }
    let first = r.buckets.first().map_or(0, |b| b.t_us);
    let last = r
        .buckets
        .last()
        .map_or(0, |b| b.t_us.saturating_add(r.bucket_us));
    // Under the bars when it fits, else from the left margin.
    let range = format!("{} .. {} UTC", utc(first), utc(last));
    let pad = match style.width {
        Some(w) if LABEL_WIDTH + 4 + range.chars().count() > w => 2,
        _ => LABEL_WIDTH + 4,
    };
    writeln!(w, "{:pad$}{range}", "")?;
    Ok(())
}

/// The text of `finscope timeline`: chart, peaks, limits, diagnosis.
pub fn render_text(
    r: &TimelineReport,
    d: &[Finding],
    style: &TextStyle,
    w: &mut impl Write,
) -> io::Result<()> {
    writeln!(
        w,
        "LOCAL SOCKET STATES OVER TIME (reconstructed from the capture)"
    )?;
    render_chart(r, style, w)?;
    writeln!(w)?;
    render_peaks(r, w)?;
    render_diagnosis(d, style, w)
}

/// Peaks, limit crossings and the what-if, as text.
pub fn render_peaks(r: &TimelineReport, w: &mut impl Write) -> io::Result<()> {
    if never_closing(r) {
        writeln!(w, "  {NEVER_CLOSING}")?;
    } else {
        render_peak_table(r, w)?;
    }
    render_peak_notes(r, w)
}

/// What the peaks table says when it has nothing to say.
pub const NEVER_CLOSING: &str = "no local socket in a closing state at any time";

/// No state of the peaks table (FIN-WAIT-1 .. LAST-ACK, orphans) was ever
/// held by a local socket: the table collapses to one line.
pub fn never_closing(r: &TimelineReport) -> bool {
    STATE_SERIES.iter().filter(|s| s.in_peaks_table).all(|s| {
        r.peaks.get(s.key).is_none_or(|p| p.value <= 0)
            && r.state_time_us.get(s.key).copied().unwrap_or(0) == 0
    })
}

/// The peaks table: one row per closing state.
fn render_peak_table(r: &TimelineReport, w: &mut impl Write) -> io::Result<()> {
    writeln!(
        w,
        "  {:<20} {:>8}  {:<28} {:>12}",
        "state", "peak", "at (UTC)", "total time"
    )?;
    for (key, label) in STATE_SERIES
        .iter()
        .filter(|s| s.in_peaks_table)
        .map(|s| (s.key, s.label))
    {
        if let Some(p) = r.peaks.get(key) {
            let total = r.state_time_us.get(key).copied().unwrap_or(0);
            writeln!(
                w,
                "  {:<20} {:>8}  {:<28} {:>12}",
                label,
                thousands(p.value.max(0) as u64),
                if p.value > 0 { utc(p.t_us) } else { "-".into() },
                dur(total)
            )?;
        }
    }
    let between = STATE_SERIES.iter().filter(|s| s.in_peaks_table).any(|s| {
        r.peaks.get(s.key).is_some_and(|p| p.value <= 0)
            && r.state_time_us.get(s.key).is_some_and(|t| *t > 0)
    });
    if between {
        writeln!(
            w,
            "  peaks are counts at bucket ends (every {}, what `ss` run then would show): a state held only between them has a total time but peak 0",
            dur(r.bucket_us)
        )?;
    }
    Ok(())
}

/// Under the peaks: flagged connections, limit crossings, the what-if.
pub fn render_peak_notes(r: &TimelineReport, w: &mut impl Write) -> io::Result<()> {
    if r.close_began_before_capture > 0 || r.open_at_end > 0 {
        writeln!(
            w,
            "  flagged: {} connection(s) already closing when the capture began, {} still open at its end",
            r.close_began_before_capture, r.open_at_end
        )?;
    }
    for (name, c) in [
        ("tcp_max_orphans", &r.limits.max_orphans),
        ("tcp_max_tw_buckets", &r.limits.max_tw_buckets),
    ] {
        if let Some(c) = c {
            writeln!(
                w,
                "  {name}={}: {} bucket(s) over{}",
                c.limit,
                c.buckets_over,
                c.first_t_us
                    .map(|t| format!(", first at {} UTC", utc(t)))
                    .unwrap_or_default()
            )?;
        }
    }
    if let Some(x) = &r.limits.orphan_retries {
        writeln!(
            w,
            "  tcp_orphan_retries={} what-if: {} orphan(s) killed; FIN-WAIT-1 peak {} -> {}, orphans peak {} -> {}",
            x.retries,
            x.orphans_killed,
            x.fin_wait_1_peak,
            x.fin_wait_1_peak_limited,
            x.orphans_peak,
            x.orphans_peak_limited
        )?;
    }
    Ok(())
}

/// The diagnosis as text.
pub fn render_diagnosis(d: &[Finding], style: &TextStyle, w: &mut impl Write) -> io::Result<()> {
    writeln!(w)?;
    writeln!(w, "DIAGNOSIS")?;
    if d.is_empty() {
        return writeln!(
            w,
            "  no finding: nothing in this capture points at a close-state problem"
        );
    }
    for (i, f) in d.iter().enumerate() {
        writeln!(
            w,
            "  {}. {}",
            i + 1,
            style.paint(super::Paint::Headline, &f.finding)
        )?;
        for e in &f.evidence {
            writeln!(w, "     - {e}")?;
        }
        if !f.tunables.is_empty() {
            writeln!(w, "     tunables: {}", f.tunables.join(", "))?;
        }
    }
    Ok(())
}
