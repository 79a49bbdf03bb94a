//! The socket-state plots over time: the time axis, the count panels
//! (orphans, TIME-WAIT, their limits) and the FIN share.

use super::*;

/// Runs of `per` consecutive buckets: one drawn point each.
pub(crate) fn chunks(t: &TimelineReport) -> std::slice::Chunks<'_, Bucket> {
    t.buckets
        .chunks(t.buckets.len().div_ceil(MAX_POINTS).max(1))
}

/// The bucket of a run with the largest value (the first of equals).
pub(crate) fn top_of<T: PartialOrd + Copy>(
    run: &[Bucket],
    get: impl Fn(&Bucket) -> T,
) -> Option<&Bucket> {
    run.iter()
        .fold(None, |best: Option<&Bucket>, b| match best {
            Some(x) if get(x) >= get(b) => Some(x),
            _ => Some(b),
        })
}

/// The shared time axis of the timeline panels: seconds since the first
/// bucket's start on the plot, labelled in UTC at round steps.
pub(crate) struct TimeAxis {
    pub(super) start_us: u64,
    pub(super) span_s: f64,
    pub(super) step_us: u64,
    pub(super) ticks: Vec<f64>,
}

impl TimeAxis {
    pub(super) fn new(t: &TimelineReport) -> Self {
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

    pub(super) fn label(&self, x: f64) -> String {
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

    pub(super) fn desc(&self) -> String {
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
pub(crate) struct StateLine {
    pub key: &'static str,
    pub label: &'static str,
    pub color: RGBColor,
    pub width: u32,
    pub get: fn(&Bucket) -> i64,
}

/// The states of the top panel, in drawing order (the orphans' wide band
/// first, under the others: it often equals FIN-WAIT-1).
pub(crate) const ORPHAN_LINES: [StateLine; 4] = [
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
pub(crate) const TW_LINES: [StateLine; 1] = [StateLine {
    key: "time_wait",
    label: "TIME-WAIT",
    color: BLUE,
    width: 2,
    get: |b| b.time_wait,
}];

/// Shading of the buckets over `--max-orphans` / `--max-tw-buckets`.
pub(crate) const OVER_ORPHANS: RGBColor = YELLOW;
pub(crate) const OVER_TW: RGBColor = SKY;
/// A limit line is drawn when it is at most this many times the largest
/// count of its panel (otherwise it would flatten the plot; the legend
/// gives it).
pub(crate) const LIMIT_SCALE: u64 = 4;

pub(crate) fn lines_top(t: &TimelineReport, lines: &[StateLine]) -> i64 {
    lines
        .iter()
        .flat_map(|s| t.buckets.iter().map(s.get))
        .max()
        .unwrap_or(0)
        .max(1)
}

/// Whether a limit is drawn on the panel of `lines`.
pub(crate) fn limit_drawn(t: &TimelineReport, lines: &[StateLine], limit: u64) -> bool {
    limit <= lines_top(t, lines) as u64 * LIMIT_SCALE
}

pub(crate) const LEFT: u32 = 78;
pub(crate) const RIGHT: u32 = 78;

/// Socket states over time (the orphans and the states around them, then
/// TIME-WAIT), and below them, on the same time axis, the FIN share and
/// FIN retransmissions per bucket.
pub(crate) fn states(t: &TimelineReport) -> io::Result<String> {
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
pub(crate) struct Panel<'a> {
    title: &'a str,
    lines: &'a [StateLine],
    limit: Option<u64>,
    limit_name: &'a str,
    over: fn(&Bucket) -> bool,
    shade: (RGBColor, f64),
    line: RGBColor,
}

pub(crate) fn count_panel(t: &TimelineReport, axis: &TimeAxis, area: &Area, p: &Panel) -> Drawn {
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

pub(crate) fn fin_panel(t: &TimelineReport, axis: &TimeAxis, area: &Area) -> Drawn {
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
