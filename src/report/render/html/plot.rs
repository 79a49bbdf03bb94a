//! The plots of the HTML page, drawn with plotters' SVG backend (its text
//! is `<text>` elements: no font is read or needed). Every function returns
//! one `<svg>` element drawn from the report's figures; nothing is
//! computed but coordinates. A timeline longer than [`MAX_POINTS`] buckets
//! is drawn with, per run of buckets, the one with the largest value, so
//! peaks survive the thinning.

use crate::report::format::{dur, utc};
use crate::report::{Bucket, LatencyStats, Peer, Report, TimelineReport};
use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::io;
use std::ops::Range;

/// Width of the full-width plots, px (the page is laid out for 1280 px).
pub(super) const WIDTH: u32 = 1160;
/// Most points drawn per line.
pub(super) const MAX_POINTS: usize = 2000;

// The Okabe-Ito palette (safe for the common colour-vision deficiencies).
pub(super) const ORANGE: RGBColor = RGBColor(230, 159, 0);
pub(super) const SKY: RGBColor = RGBColor(86, 180, 233);
pub(super) const GREEN: RGBColor = RGBColor(0, 158, 115);
pub(super) const YELLOW: RGBColor = RGBColor(240, 228, 66);
pub(super) const BLUE: RGBColor = RGBColor(0, 114, 178);
pub(super) const VERMILLION: RGBColor = RGBColor(213, 94, 0);
pub(super) const PURPLE: RGBColor = RGBColor(204, 121, 167);
pub(super) const FIN_SHARE: RGBColor = RGBColor(0, 0, 0);
pub(super) const GREY: RGBColor = RGBColor(190, 190, 190);
const INK: RGBColor = RGBColor(40, 40, 46);
const GRID: RGBColor = RGBColor(228, 228, 232);

/// `#rrggbb` of a palette colour, for the HTML legends.
pub(super) fn hex(c: RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type Drawn = Result<(), DrawingAreaErrorKind<io::Error>>;

/// Text of `px` CSS pixels (plotters' SVG backend writes size / 1.24).
fn font(px: f64) -> TextStyle<'static> {
    ("sans-serif", px * 1.24).into_font().color(&INK)
}

/// Draws on a `w` x `h` canvas and returns the `<svg>` element with a class
/// and an accessible label (`label` is plain text without quotes).
fn svg(
    w: u32,
    h: u32,
    class: &str,
    label: &str,
    draw: impl FnOnce(&Area) -> Drawn,
) -> io::Result<String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (w, h)).into_drawing_area();
        draw(&root).map_err(|e| io::Error::other(format!("drawing {class}: {e}")))?;
        root.present()
            .map_err(|e| io::Error::other(format!("drawing {class}: {e}")))?;
    }
    let label = label.replace(['"', '<', '>', '&'], " ");
    Ok(out.replacen(
        "<svg ",
        &format!("<svg class=\"{class}\" role=\"img\" aria-label=\"{label}\" "),
        1,
    ))
}

/// A message in place of a plot with nothing to draw.
fn nothing(area: &Area, msg: &str) -> Drawn {
    let (w, h) = area.dim_in_pixel();
    area.draw(&Text::new(
        msg.to_string(),
        (w as i32 / 2, h as i32 / 2),
        font(15.0).pos(Pos::new(HPos::Center, VPos::Center)),
    ))
}

/// A linear axis with the tick marks (bold grid lines) and light grid
/// lines given.
#[derive(Clone)]
struct Ticked {
    range: Range<f64>,
    bold: Vec<f64>,
    light: Vec<f64>,
}

impl Ticked {
    fn new(range: Range<f64>, bold: Vec<f64>) -> Self {
        Ticked {
            range,
            bold,
            light: Vec::new(),
        }
    }
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    /// A value far off the range (a saved report's counts are not trusted
    /// to fit the axis their own maximum gave) is drawn at most one range
    /// length beyond its end, so that its pixel stays a small number.
    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let len = (self.range.end - self.range.start).abs();
        let v = v.clamp(self.range.start - len, self.range.end + len);
        RangedCoordf64::from(self.range.clone()).map(&v, limit)
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.light.clone()
        } else {
            self.bold.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

/// Runs of `per` consecutive buckets: one drawn point each.
fn chunks(t: &TimelineReport) -> std::slice::Chunks<'_, Bucket> {
    t.buckets
        .chunks(t.buckets.len().div_ceil(MAX_POINTS).max(1))
}

/// The bucket of a run with the largest value (the first of equals).
fn top_of<T: PartialOrd + Copy>(run: &[Bucket], get: impl Fn(&Bucket) -> T) -> Option<&Bucket> {
    run.iter()
        .fold(None, |best: Option<&Bucket>, b| match best {
            Some(x) if get(x) >= get(b) => Some(x),
            _ => Some(b),
        })
}

/// The shared time axis of the timeline panels: seconds since the first
/// bucket's start on the plot, labelled in UTC at round steps.
struct TimeAxis {
    start_us: u64,
    span_s: f64,
    step_us: u64,
    ticks: Vec<f64>,
}

impl TimeAxis {
    fn new(t: &TimelineReport) -> Self {
        let start_us = t.start_us;
        let end_us = t
            .buckets
            .last()
            .map_or(start_us, |b| b.t_us.saturating_add(t.bucket_us))
            .max(start_us.saturating_add(1));
        const S: u64 = 1_000_000;
        let steps = [
            1_000,
            2_000,
            5_000,
            10_000,
            20_000,
            50_000,
            100_000,
            200_000,
            500_000,
            S,
            2 * S,
            5 * S,
            10 * S,
            15 * S,
            30 * S,
            60 * S,
            120 * S,
            300 * S,
            600 * S,
            900 * S,
            1800 * S,
            3600 * S,
            2 * 3600 * S,
            3 * 3600 * S,
            6 * 3600 * S,
            12 * 3600 * S,
            86_400 * S,
            2 * 86_400 * S,
            7 * 86_400 * S,
            30 * 86_400 * S,
        ];
        let span = end_us - start_us;
        let step_us = steps
            .iter()
            .copied()
            .find(|s| span / s <= 10)
            .unwrap_or(span.div_ceil(10).max(1));
        let mut ticks = Vec::new();
        let mut tick = start_us.div_ceil(step_us).checked_mul(step_us);
        while let Some(at) = tick.filter(|at| *at <= end_us) {
            ticks.push((at - start_us) as f64 / 1e6);
            tick = at.checked_add(step_us);
        }
        TimeAxis {
            start_us,
            span_s: span as f64 / 1e6,
            step_us,
            ticks,
        }
    }

    /// The abscissa of `t_us`, kept on the axis (a saved report's buckets
    /// are not trusted to lie inside its own time range).
    fn x(&self, t_us: u64) -> f64 {
        (t_us.saturating_sub(self.start_us) as f64 / 1e6).min(self.span_s)
    }

    fn range(&self) -> Ticked {
        Ticked::new(0f64..self.span_s, self.ticks.clone())
    }

    fn label(&self, x: f64) -> String {
        let s = utc(self.start_us.saturating_add((x * 1e6).round() as u64));
        let (from, to) = if self.step_us < 1_000_000 {
            (11, 23)
        } else if self.span_s >= 2.0 * 86_400.0 {
            (5, 16)
        } else if self.step_us >= 60_000_000 {
            (11, 16)
        } else {
            (11, 19)
        };
        s.get(from..to).unwrap_or_default().to_string()
    }

    fn desc(&self) -> String {
        let day = |us: u64| utc(us).get(0..10).unwrap_or_default().to_string();
        let (a, b) = (
            day(self.start_us),
            day(self.start_us.saturating_add((self.span_s * 1e6) as u64)),
        );
        if a == b {
            format!("time, UTC ({a})")
        } else {
            format!("time, UTC ({a} .. {b})")
        }
    }
}

/// One state line of the timeline plot.
pub(super) struct StateLine {
    pub key: &'static str,
    pub label: &'static str,
    pub color: RGBColor,
    pub width: u32,
    pub get: fn(&Bucket) -> i64,
}

/// The states of the top panel, in drawing order (the orphans' wide band
/// first, under the others: it often equals FIN-WAIT-1).
pub(super) const ORPHAN_LINES: [StateLine; 4] = [
    StateLine {
        key: "orphans",
        label: "orphans (estimate)",
        color: SKY,
        width: 7,
        get: |b| b.orphans,
    },
    StateLine {
        key: "close_wait",
        label: "CLOSE-WAIT",
        color: GREEN,
        width: 2,
        get: |b| b.close_wait,
    },
    StateLine {
        key: "last_ack",
        label: "LAST-ACK",
        color: PURPLE,
        width: 2,
        get: |b| b.last_ack,
    },
    StateLine {
        key: "fin_wait_1",
        label: "FIN-WAIT-1",
        color: VERMILLION,
        width: 2,
        get: |b| b.fin_wait_1,
    },
];

/// The state of the middle panel.
pub(super) const TW_LINES: [StateLine; 1] = [StateLine {
    key: "time_wait",
    label: "TIME-WAIT",
    color: BLUE,
    width: 2,
    get: |b| b.time_wait,
}];

/// Shading of the buckets over `--max-orphans` / `--max-tw-buckets`.
pub(super) const OVER_ORPHANS: RGBColor = YELLOW;
pub(super) const OVER_TW: RGBColor = SKY;
/// A limit line is drawn when it is at most this many times the largest
/// count of its panel (otherwise it would flatten the plot; the legend
/// gives it).
const LIMIT_SCALE: u64 = 4;

fn lines_top(t: &TimelineReport, lines: &[StateLine]) -> i64 {
    lines
        .iter()
        .flat_map(|s| t.buckets.iter().map(s.get))
        .max()
        .unwrap_or(0)
        .max(1)
}

/// Whether a limit is drawn on the panel of `lines`.
pub(super) fn limit_drawn(t: &TimelineReport, lines: &[StateLine], limit: u64) -> bool {
    limit <= lines_top(t, lines) as u64 * LIMIT_SCALE
}

const LEFT: u32 = 78;
const RIGHT: u32 = 78;

/// Socket states over time (the orphans and the states around them, then
/// TIME-WAIT), and below them, on the same time axis, the FIN share and
/// FIN retransmissions per bucket.
pub(super) fn states(t: &TimelineReport) -> io::Result<String> {
    svg(
        WIDTH,
        790,
        "plot-states",
        "local socket states over time, FIN share and FIN retransmissions per bucket",
        |root| {
            root.fill(&WHITE)?;
            if t.buckets.is_empty() {
                return nothing(root, "no packets: no timeline to draw");
            }
            let axis = TimeAxis::new(t);
            let (top, rest) = root.split_vertically(320);
            let (middle, bottom) = rest.split_vertically(230);
            let orphans = Panel {
                title: "FIN-WAIT-1, LAST-ACK, CLOSE-WAIT and orphans",
                lines: &ORPHAN_LINES,
                limit: t.limits.max_orphans.as_ref().map(|c| c.limit),
                limit_name: "tcp_max_orphans",
                over: |b| b.over_max_orphans,
                shade: (OVER_ORPHANS, 0.45),
                line: ORANGE,
            };
            count_panel(t, &axis, &top, &orphans)?;
            let tw = Panel {
                title: "TIME-WAIT",
                lines: &TW_LINES,
                limit: t.limits.max_tw_buckets.as_ref().map(|c| c.limit),
                limit_name: "tcp_max_tw_buckets",
                over: |b| b.over_max_tw_buckets,
                shade: (OVER_TW, 0.25),
                line: BLUE,
            };
            count_panel(t, &axis, &middle, &tw)?;
            fin_panel(t, &axis, &bottom)
        },
    )
}

/// A panel of socket counts with its what-if limit.
struct Panel<'a> {
    title: &'a str,
    lines: &'a [StateLine],
    limit: Option<u64>,
    limit_name: &'a str,
    over: fn(&Bucket) -> bool,
    shade: (RGBColor, f64),
    line: RGBColor,
}

fn count_panel(t: &TimelineReport, axis: &TimeAxis, area: &Area, p: &Panel) -> Drawn {
    let drawn_limit = p.limit.filter(|l| limit_drawn(t, p.lines, *l));
    let data_top = lines_top(t, p.lines).max(drawn_limit.unwrap_or(0) as i64);
    let y_top = (data_top as f64 * 1.12).ceil() + 1.0;
    let mut chart = ChartBuilder::on(area)
        .caption(p.title, font(14.0))
        .margin_top(6)
        .margin_right(8 + RIGHT)
        .x_label_area_size(28)
        .y_label_area_size(LEFT)
        .build_cartesian_2d(axis.range(), Ticked::new(0.0..y_top, count_ticks(y_top, 6)))?;
    chart
        .configure_mesh()
        .x_label_formatter(&|x| axis.label(*x))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .y_desc("sockets at bucket end")
        .label_style(font(13.0))
        .axis_desc_style(font(14.0))
        .bold_line_style(GRID)
        .axis_style(INK.mix(0.6))
        .draw()?;
    // Over-limit buckets, shaded: one rectangle per run of drawn points.
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for run in chunks(t) {
        let (Some(first), Some(last)) = (run.first(), run.last()) else {
            continue;
        };
        if !run.iter().any(p.over) {
            continue;
        }
        let (from, to) = (first.t_us, last.t_us.saturating_add(t.bucket_us));
        match runs.last_mut() {
            Some(r) if r.1 == from => r.1 = to,
            _ => runs.push((from, to)),
        }
    }
    let (shade, alpha) = p.shade;
    chart.draw_series(runs.iter().map(|(a, b)| {
        Rectangle::new(
            [(axis.x(*a), 0.0), (axis.x(*b), y_top)],
            shade.mix(alpha).filled(),
        )
    }))?;
    for s in p.lines {
        let points: Vec<(f64, f64)> = chunks(t)
            .filter_map(|run| top_of(run, s.get))
            .map(|b| {
                (
                    axis.x(b.t_us.saturating_add(t.bucket_us)),
                    (s.get)(b) as f64,
                )
            })
            .collect();
        chart.draw_series(LineSeries::new(points, s.color.stroke_width(s.width)))?;
    }
    if let Some(limit) = drawn_limit {
        let y = limit as f64;
        chart.draw_series(DashedLineSeries::new(
            [(0.0, y), (axis.span_s, y)],
            9,
            5,
            p.line.stroke_width(2),
        ))?;
        chart.draw_series(std::iter::once(
            EmptyElement::at((axis.span_s, y))
                + Text::new(
                    format!("{} = {limit}", p.limit_name),
                    (-4, -4),
                    font(13.0).pos(Pos::new(HPos::Right, VPos::Bottom)),
                ),
        ))?;
    }
    Ok(())
}

fn fin_panel(t: &TimelineReport, axis: &TimeAxis, area: &Area) -> Drawn {
    let ratio_top = t
        .buckets
        .iter()
        .map(|b| b.fin_ratio)
        .fold(0.0, f64::max)
        .max(0.01);
    let ratio_top = (ratio_top * 1.15).min(1.0);
    let rtx_top = t
        .buckets
        .iter()
        .map(|b| b.fin_retransmissions)
        .max()
        .unwrap_or(0)
        .max(1);
    let rtx_top = (rtx_top as f64 * 1.15).ceil() + 1.0;
    let mut chart = ChartBuilder::on(area)
        .margin_top(10)
        .margin_right(8)
        .x_label_area_size(46)
        .y_label_area_size(LEFT)
        .right_y_label_area_size(RIGHT)
        .build_cartesian_2d(
            axis.range(),
            Ticked::new(0.0..ratio_top, ratio_ticks(ratio_top)),
        )?
        .set_secondary_coord(
            axis.range(),
            Ticked::new(0.0..rtx_top, count_ticks(rtx_top, 5)),
        );
    let pct = |v: &f64| {
        if ratio_top < 0.05 {
            format!("{:.1}%", v * 100.0)
        } else {
            format!("{:.0}%", v * 100.0)
        }
    };
    chart
        .configure_mesh()
        .x_label_formatter(&|x| axis.label(*x))
        .y_label_formatter(&pct)
        .x_desc(axis.desc())
        .y_desc("FIN share of TCP segments")
        .label_style(font(13.0))
        .axis_desc_style(font(14.0))
        .bold_line_style(GRID)
        .axis_style(INK.mix(0.6))
        .draw()?;
    chart
        .configure_secondary_axes()
        .y_label_formatter(&|y| format!("{y:.0}"))
        .y_desc("FIN retransmissions per bucket")
        .label_style(font(13.0))
        .axis_desc_style(font(14.0))
        .axis_style(INK.mix(0.6))
        .draw()?;
    let bars: Vec<(u64, u64, f64)> = chunks(t)
        .filter_map(|run| {
            let top = top_of(run, |b| b.fin_retransmissions)?;
            let last = run.last()?;
            (top.fin_retransmissions > 0).then_some((
                run.first()?.t_us,
                last.t_us.saturating_add(t.bucket_us),
                top.fin_retransmissions as f64,
            ))
        })
        .collect();
    chart.draw_secondary_series(bars.iter().map(|(a, b, n)| {
        let (a, b) = (axis.x(*a), axis.x(*b));
        let pad = (b - a) * 0.12;
        Rectangle::new(
            [(a + pad, 0.0), (b - pad, *n)],
            VERMILLION.mix(0.75).filled(),
        )
    }))?;
    let ratio: Vec<(f64, f64)> = chunks(t)
        .filter_map(|run| top_of(run, |b| b.fin_ratio))
        .map(|b| (axis.x(b.t_us.saturating_add(t.bucket_us / 2)), b.fin_ratio))
        .collect();
    chart.draw_series(LineSeries::new(ratio, FIN_SHARE.stroke_width(2)))?;
    Ok(())
}

/// Round tick values from 0 to `top`, 1, 2 or 5 x 10^k apart (at least
/// `min_step`), about `n` of them.
fn nice_ticks(top: f64, n: usize, min_step: f64) -> Vec<f64> {
    let raw = (top / n.max(1) as f64).max(min_step);
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    (0..)
        .map(|i| i as f64 * step)
        .take_while(|v| *v <= top)
        .collect()
}

/// Ticks of a count axis (whole numbers).
fn count_ticks(top: f64, n: usize) -> Vec<f64> {
    nice_ticks(top, n, 1.0)
}

/// Ticks of a share axis (0 to `top` <= 1).
fn ratio_ticks(top: f64) -> Vec<f64> {
    nice_ticks(top, 5, 1e-4)
}

/// The latency metrics drawn, with their panel titles.
pub(super) const METRICS: [(&str, &str); 3] = [
    ("fin_ack", "fin_ack: first FIN -> the ACK covering it"),
    ("fin_fin", "fin_fin: first FIN -> the other side's FIN"),
    (
        "close_total",
        "close_total: first FIN -> both FINs ACKed (or the RST)",
    ),
];
/// The splits drawn, with their colours.
pub(super) const SPLITS: [(&str, &str, RGBColor); 2] = [
    ("local_first", "local closed first", BLUE),
    ("remote_first", "remote closed first", ORANGE),
];

/// The report's half-decade bucket bounds: 1, 3, 10, 30, ... us.
fn half_decades() -> impl Iterator<Item = u64> {
    (0u32..40).map_while(|i| {
        let p = 10u64.checked_pow(i / 2)?;
        if i.is_multiple_of(2) {
            Some(p)
        } else {
            p.checked_mul(3)
        }
    })
}

/// Every bucket of a histogram from its first to its last non-empty one,
/// empty ones filled in: (lower bound, upper bound, count) in us.
fn filled(s: &LatencyStats) -> Vec<(u64, u64, u64)> {
    let nonempty = || s.buckets.iter().filter(|b| b.1 > 0).map(|b| b.0);
    let (Some(first), Some(last)) = (nonempty().min(), nonempty().max()) else {
        return Vec::new();
    };
    let mut bounds: Vec<u64> = half_decades()
        .take_while(|b| *b <= last)
        .chain(s.buckets.iter().map(|b| b.0))
        .collect();
    bounds.sort_unstable();
    bounds.dedup();
    let mut out = Vec::new();
    let mut lo = 0;
    for hi in bounds {
        if (first..=last).contains(&hi) {
            let n = s.buckets.iter().find(|b| b.0 == hi).map_or(0, |b| b.1);
            out.push((lo, hi, n));
        }
        lo = hi;
    }
    out
}

/// log10 of a bound on the plot; the first bucket (from 0) gets half a decade.
fn lx(us: u64, hi: u64) -> f64 {
    if us == 0 {
        (hi.max(1) as f64).log10() - 0.5
    } else {
        (us as f64).log10()
    }
}

/// A round duration for a log-axis tick at 10^x us.
fn decade_label(x: f64) -> String {
    let us = 10f64.powf(x).round() as u64;
    match us {
        0..1_000 => format!("{us}us"),
        1_000..1_000_000 => format!("{}ms", us / 1_000),
        _ => format!("{}s", us / 1_000_000),
    }
}

/// The three close-latency histograms, split by who closed first, on one
/// log time axis, with p50 (solid) and p99 (dashed) marked.
pub(super) fn latency(r: &Report) -> io::Result<String> {
    let stats = |m: &str, s: &str| r.latency.get(m).and_then(|x| x.get(s));
    let mut lo = f64::MAX;
    let mut hi = f64::MIN;
    for (m, _) in METRICS {
        for (s, _, _) in SPLITS {
            for (a, b, _) in stats(m, s).map(filled).unwrap_or_default() {
                lo = lo.min(lx(a, b));
                hi = hi.max(lx(b, b));
            }
            for p in stats(m, s)
                .into_iter()
                .flat_map(|x| [x.p50_us, x.p99_us])
                .flatten()
            {
                lo = lo.min(lx(p, p));
                hi = hi.max(lx(p, p));
            }
        }
    }
    let range = (lo <= hi).then(|| (lo.floor(), hi.ceil().max(lo.floor() + 1.0)));
    svg(
        WIDTH,
        3 * 250,
        "plot-latency",
        "close latency histograms, local first and remote first, log time axis",
        |root| {
            root.fill(&WHITE)?;
            for (area, (metric, title)) in root.split_evenly((3, 1)).iter().zip(METRICS) {
                latency_panel(area, title, range, |s| stats(metric, s))?;
            }
            Ok(())
        },
    )
}

fn latency_panel<'r>(
    area: &Area,
    title: &str,
    range: Option<(f64, f64)>,
    stats: impl Fn(&str) -> Option<&'r LatencyStats>,
) -> Drawn {
    let (x0, x1) = range.unwrap_or((2.0, 7.0));
    let hists: Vec<Vec<(u64, u64, u64)>> = SPLITS
        .iter()
        .map(|(s, _, _)| stats(s).map(filled).unwrap_or_default())
        .collect();
    let y_top = hists
        .iter()
        .flatten()
        .map(|b| b.2)
        .max()
        .unwrap_or(0)
        .max(1);
    // Room above the bars for the percentile labels.
    let y_top = (y_top as f64 * 1.5).ceil() + 1.0;
    let decades: Vec<f64> = (x0 as i64..=x1 as i64).map(|d| d as f64).collect();
    let halves: Vec<f64> = decades
        .iter()
        .map(|d| d + 3f64.log10())
        .filter(|x| *x < x1)
        .collect();
    let mut chart = ChartBuilder::on(area)
        .caption(title, font(15.0))
        .margin(6)
        .margin_right(RIGHT - 8)
        .x_label_area_size(40)
        .y_label_area_size(LEFT)
        .build_cartesian_2d(
            Ticked {
                range: x0..x1,
                bold: decades,
                light: halves,
            },
            Ticked::new(0.0..y_top, count_ticks(y_top, 5)),
        )?;
    chart
        .configure_mesh()
        .x_label_formatter(&|x| decade_label(*x))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .x_desc("latency (log scale; grid: half decades, the histogram's buckets)")
        .y_desc("connections")
        .label_style(font(13.0))
        .axis_desc_style(font(13.0))
        .bold_line_style(GRID)
        .light_line_style(GRID.mix(0.5))
        .axis_style(INK.mix(0.6))
        .y_labels(5)
        .draw()?;
    if hists.iter().all(Vec::is_empty) {
        return nothing(&chart.plotting_area().strip_coord_spec(), "no samples");
    }
    for (j, ((_, _, color), hist)) in SPLITS.iter().zip(&hists).enumerate() {
        chart.draw_series(hist.iter().filter(|b| b.2 > 0).map(|(a, b, n)| {
            let (l, r) = (lx(*a, *b), lx(*b, *b));
            let w = (r - l) / 2.0;
            let (l, r) = (l + j as f64 * w, l + (j + 1) as f64 * w);
            Rectangle::new(
                [(l + w * 0.06, 0.0), (r - w * 0.06, *n as f64)],
                color.filled(),
            )
        }))?;
    }
    let mut labels = Vec::new();
    for (s, _, color) in SPLITS {
        let Some(st) = stats(s).filter(|st| st.count > 0) else {
            continue;
        };
        for (name, v, dashed) in [("p50", st.p50_us, false), ("p99", st.p99_us, true)] {
            let Some(v) = v else { continue };
            let x = lx(v, v);
            let style = color.stroke_width(2);
            let line = [(x, 0.0), (x, y_top)];
            if dashed {
                chart.draw_series(DashedLineSeries::new(line, 6, 4, style))?;
            } else {
                chart.draw_series(LineSeries::new(line, style))?;
            }
            let at = chart.backend_coord(&(x, y_top)).0;
            labels.push((at, format!("{name} {}", dur(v)), color, dashed));
        }
    }
    let plot = chart.plotting_area();
    let xs = plot.get_pixel_range().0;
    let area = plot.strip_coord_spec();
    for (x, y, text, color) in place_labels(labels, xs.clone()) {
        area.draw(&Text::new(
            text,
            (x - xs.start, y),
            font(12.0)
                .color(&color)
                .pos(Pos::new(HPos::Left, VPos::Top)),
        ))?;
    }
    Ok(())
}

/// Width of a percentile label in px: 12 px sans-serif, 0.6 em a
/// character (digits and lower case are narrower; a bound, not a fit).
pub(super) fn label_px(text: &str) -> i32 {
    (text.chars().count() as f64 * 7.2).ceil() as i32
}

/// Lays out the percentile labels of a latency panel: each beside its
/// line (p50 to the left, p99 to the right; the other side when that one
/// would leave the plot `xs`), in the first row from the top where it
/// overlaps no label already placed (6 px apart). Rows are 15 px. Gives
/// (left x, y from the plot's top, text, colour).
fn place_labels(
    mut labels: Vec<(i32, String, RGBColor, bool)>,
    xs: Range<i32>,
) -> Vec<(i32, i32, String, RGBColor)> {
    const GAP: i32 = 6;
    labels.sort_by_key(|l| l.0);
    let mut rows: Vec<Vec<(i32, i32)>> = Vec::new();
    let mut out = Vec::new();
    for (x, text, color, dashed) in labels {
        let w = label_px(&text);
        let left = (x - 4 - w, x - 4);
        let right = (x + 4, x + 4 + w);
        let fits = |s: &(i32, i32)| s.0 >= xs.start && s.1 <= xs.end;
        let (first, second) = if dashed { (right, left) } else { (left, right) };
        let span = if fits(&first) {
            first
        } else if fits(&second) {
            second
        } else {
            // Wider than either side: as far inside as it goes.
            let start = first.0.clamp(xs.start, (xs.end - w).max(xs.start));
            (start, start + w)
        };
        let free = |row: &Vec<(i32, i32)>| {
            row.iter()
                .all(|o| span.1 + GAP <= o.0 || o.1 + GAP <= span.0)
        };
        let r = match rows.iter().position(free) {
            Some(r) => r,
            None => {
                rows.push(Vec::new());
                rows.len() - 1
            }
        };
        rows[r].push(span);
        out.push((span.0, 3 + 15 * r as i32, text, color));
    }
    out
}

/// One bar per outcome, its local-first and remote-first parts stacked
/// from the left, the rest (no FIN) grey.
pub(super) fn outcomes(r: &Report) -> io::Result<String> {
    let rows = r.outcomes.rows();
    let lf = r.outcomes_by_closer.local_first.rows();
    let rf = r.outcomes_by_closer.remote_first.rows();
    let n = rows.len();
    let top = rows.iter().map(|x| x.1).max().unwrap_or(0).max(1);
    let x_top = (top as f64 * 1.12).ceil() + 1.0;
    svg(
        720,
        n as u32 * 27 + 70,
        "plot-outcomes",
        "connections by outcome, split by who closed first",
        |root| {
            root.fill(&WHITE)?;
            let names: Vec<&str> = rows.iter().map(|x| x.0).collect();
            let keys: Vec<f64> = (0..n).map(|i| i as f64 + 0.5).collect();
            let name_at = |y: &f64| {
                let i = n.saturating_sub(1 + y.floor().max(0.0) as usize);
                names.get(i).copied().unwrap_or_default().to_string()
            };
            let mut chart = ChartBuilder::on(root)
                .margin(8)
                .margin_right(20)
                .x_label_area_size(44)
                .y_label_area_size(128)
                .build_cartesian_2d(
                    Ticked::new(0.0..x_top, count_ticks(x_top, 8)),
                    Ticked::new(0f64..n as f64, keys),
                )?;
            chart
                .configure_mesh()
                .y_label_formatter(&name_at)
                .x_label_formatter(&|x| format!("{x:.0}"))
                .x_desc("connections")
                .label_style(font(13.0))
                .axis_desc_style(font(14.0))
                .bold_line_style(GRID)
                .axis_style(INK.mix(0.6))
                .disable_y_mesh()
                .draw()?;
            for (i, ((_, total), ((_, l), (_, rr)))) in
                rows.iter().zip(lf.iter().zip(rf.iter())).enumerate()
            {
                let y = (n - 1 - i) as f64 + 0.5;
                let (y0, y1) = (y - 0.34, y + 0.34);
                let (count, total, l, rr) = (*total, *total as f64, *l as f64, *rr as f64);
                chart.draw_series([
                    Rectangle::new([(0.0, y0), (total, y1)], GREY.filled()),
                    Rectangle::new([(0.0, y0), (l, y1)], BLUE.filled()),
                    Rectangle::new([(l, y0), (l + rr, y1)], ORANGE.filled()),
                ])?;
                chart.draw_series(std::iter::once(
                    EmptyElement::at((total, y))
                        + Text::new(
                            crate::report::format::thousands(count),
                            (5, 0),
                            font(13.0).pos(Pos::new(HPos::Left, VPos::Center)),
                        ),
                ))?;
            }
            Ok(())
        },
    )
}

/// The shared log scale of the peers' FIN->ACK mini plots, log10 us.
#[derive(Clone, Copy)]
pub(super) struct PeerScale {
    lo: f64,
    hi: f64,
}

pub(super) const SPARK: (u32, u32) = (250, 22);
const SPARK_PAD: u32 = 14;
/// Room a decade label of the peers' axis needs: `100ms` at 13 px (about
/// 40 px) and a gap of a third of it.
pub(super) const SPARK_LABEL_PX: f64 = 54.0;

/// The scale spanning every peer's p50 .. max; `None` without samples.
pub(super) fn peer_scale(peers: &[Peer]) -> Option<PeerScale> {
    let vals = || {
        peers
            .iter()
            .flat_map(|p| [p.fin_ack_p50_us, p.fin_ack_p99_us, p.fin_ack_max_us])
            .flatten()
            .map(|v| lx(v, v))
    };
    let lo = vals().fold(f64::MAX, f64::min);
    let hi = vals().fold(f64::MIN, f64::max);
    (lo <= hi).then(|| PeerScale {
        lo: lo.floor(),
        hi: hi.ceil().max(lo.floor() + 1.0),
    })
}

fn spark_chart<'a, 'b>(
    root: &'a Area<'b>,
    s: PeerScale,
) -> Result<
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    DrawingAreaErrorKind<io::Error>,
> {
    ChartBuilder::on(root)
        .margin_left(SPARK_PAD)
        .margin_right(SPARK_PAD)
        .build_cartesian_2d(s.lo..s.hi, 0f64..1f64)
}

/// The column header of the mini plots: decade labels.
pub(super) fn peer_axis(s: PeerScale) -> io::Result<String> {
    svg(SPARK.0, SPARK.1, "spark-axis", "FIN to ACK scale", |root| {
        let chart = spark_chart(root, s)?;
        let mut chart = chart;
        // Every decade labelled when the labels stand apart, else every
        // second or third: "10ms100ms" touched.
        let per_decade = f64::from(SPARK.0 - 2 * SPARK_PAD) / (s.hi - s.lo).max(1.0);
        let step = (SPARK_LABEL_PX / per_decade).ceil().max(1.0) as usize;
        let decades = (s.lo as i64..=s.hi as i64).step_by(step).map(|d| d as f64);
        chart.draw_series(decades.map(|d| {
            Text::new(
                decade_label(d),
                (d, 0.5),
                font(13.0).pos(Pos::new(HPos::Center, VPos::Center)),
            )
        }))?;
        Ok(())
    })
}

/// One peer's FIN->ACK latency: a bar from p50 to p99, a whisker to max.
pub(super) fn peer_range(p: &Peer, s: Option<PeerScale>) -> io::Result<String> {
    let label = format!("FIN to ACK of {}: p50, p99, max", p.addr);
    svg(SPARK.0, SPARK.1, "spark", &label, |root| {
        let (Some(s), Some(p50), Some(p99), Some(max)) =
            (s, p.fin_ack_p50_us, p.fin_ack_p99_us, p.fin_ack_max_us)
        else {
            let (w, h) = root.dim_in_pixel();
            return root.draw(&Text::new(
                "no local FIN",
                (w as i32 / 2, h as i32 / 2),
                font(11.5)
                    .color(&INK.mix(0.6))
                    .pos(Pos::new(HPos::Center, VPos::Center)),
            ));
        };
        let mut chart = spark_chart(root, s)?;
        let decades = (s.lo as i64..=s.hi as i64).map(|d| d as f64);
        chart.draw_series(decades.map(|d| PathElement::new([(d, 0.0), (d, 1.0)], GRID)))?;
        let (a, b, c) = (lx(p50, p50), lx(p99, p99), lx(max, max));
        chart.draw_series([
            PathElement::new([(b, 0.5), (c, 0.5)], INK.stroke_width(1)),
            PathElement::new([(c, 0.2), (c, 0.8)], INK.stroke_width(2)),
        ])?;
        chart.draw_series(std::iter::once(Rectangle::new(
            [(a, 0.25), (b, 0.75)],
            VERMILLION.filled(),
        )))?;
        chart.draw_series(std::iter::once(Rectangle::new(
            [(a, 0.1), (a, 0.9)],
            INK.stroke_width(2),
        )))?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Percentile labels: beside their line, inside the plot, in the first
    /// row where they overlap nothing.
    #[test]
    fn percentile_labels_are_placed_apart_inside_the_plot() {
        let c = BLUE;
        let lab = |x: i32, t: &str, dashed| (x, t.to_string(), c, dashed);
        // "p50 100us" at the plot's left edge goes right of its line; the
        // p99 at the same place then takes the second row; a p99 at the
        // right edge goes left of its line.
        let got = place_labels(
            vec![
                lab(84, "p50 100us", false),
                lab(84, "p99 100us", true),
                lab(1080, "p99 9.0s", true),
                lab(600, "p50 45.9ms", false),
            ],
            84..1088,
        );
        let at: Vec<(i32, i32, &str)> = got.iter().map(|g| (g.0, g.1, g.2.as_str())).collect();
        assert_eq!(
            at,
            [
                (88, 3, "p50 100us"),
                (88, 18, "p99 100us"),
                (600 - 4 - label_px("p50 45.9ms"), 3, "p50 45.9ms"),
                (1080 - 4 - label_px("p99 9.0s"), 3, "p99 9.0s"),
            ]
        );
    }

    #[test]
    fn round_count_ticks() {
        assert_eq!(count_ticks(12.0, 5), [0.0, 5.0, 10.0]);
        assert_eq!(count_ticks(3.0, 5), [0.0, 1.0, 2.0, 3.0]);
        assert_eq!(count_ticks(140.0, 5), [0.0, 50.0, 100.0]);
    }

    #[test]
    fn half_decade_bounds() {
        let b: Vec<u64> = half_decades().take(6).collect();
        assert_eq!(b, [1, 3, 10, 30, 100, 300]);
        assert!(half_decades().all(|b| b > 0));
    }

    #[test]
    fn empty_buckets_are_filled_between_the_first_and_last() {
        let s = LatencyStats {
            count: 3,
            buckets: vec![(1_000, 1), (100_000, 2)],
            ..LatencyStats::default()
        };
        assert_eq!(
            filled(&s),
            [
                (300, 1_000, 1),
                (1_000, 3_000, 0),
                (3_000, 10_000, 0),
                (10_000, 30_000, 0),
                (30_000, 100_000, 2)
            ]
        );
        assert!(filled(&LatencyStats::default()).is_empty());
    }

    #[test]
    fn thinning_keeps_peaks() {
        let t = TimelineReport {
            bucket_us: 1,
            start_us: 0,
            buckets: (0..10_000u64)
                .map(|i| Bucket {
                    t_us: i,
                    fin_wait_1: if i == 4_321 { 99 } else { (i % 7) as i64 },
                    ..Bucket::default()
                })
                .collect(),
            peaks: Default::default(),
            state_time_us: Default::default(),
            close_began_before_capture: 0,
            open_at_end: 0,
            widened_while_reading: false,
            limits: Default::default(),
        };
        let kept: Vec<&Bucket> = chunks(&t)
            .filter_map(|r| top_of(r, |b| b.fin_wait_1))
            .collect();
        assert!(kept.len() <= MAX_POINTS);
        assert!(kept.iter().any(|b| b.fin_wait_1 == 99 && b.t_us == 4_321));
    }

    #[test]
    fn time_labels_are_utc() {
        let t = TimelineReport {
            bucket_us: 1_000_000,
            start_us: 1_700_000_000_000_000,
            buckets: vec![Bucket {
                t_us: 1_700_000_029_000_000,
                ..Bucket::default()
            }],
            peaks: Default::default(),
            state_time_us: Default::default(),
            close_began_before_capture: 0,
            open_at_end: 0,
            widened_while_reading: false,
            limits: Default::default(),
        };
        let a = TimeAxis::new(&t);
        assert_eq!(a.step_us, 5_000_000);
        assert_eq!(a.label(5.0), "22:13:25");
        assert_eq!(a.desc(), "time, UTC (2023-11-14)");
    }
}
