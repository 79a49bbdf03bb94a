//! Tick scales, and the latency and outcome plots: log-scaled histograms
//! with their percentile marks.

use super::*;

/// Round tick values from 0 to `top`, 1, 2 or 5 x 10^k apart (at least
/// `min_step`), about `n` of them.
pub(crate) fn nice_ticks(top: f64, n: usize, min_step: f64) -> Vec<f64> {
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
pub(crate) fn count_ticks(top: f64, n: usize) -> Vec<f64> {
    nice_ticks(top, n, 1.0)
}

/// Ticks of a share axis (0 to `top` <= 1).
pub(crate) fn ratio_ticks(top: f64) -> Vec<f64> {
    nice_ticks(top, 5, 1e-4)
}

/// The latency metrics drawn, with their panel titles.
pub(crate) const METRICS: [(&str, &str); 3] = [
    ("fin_ack", "fin_ack: first FIN -> the ACK covering it"),
    ("fin_fin", "fin_fin: first FIN -> the other side's FIN"),
    (
        "close_total",
        "close_total: first FIN -> both FINs ACKed (or the RST)",
    ),
];
/// The splits drawn, with their colours.
pub(crate) const SPLITS: [(&str, &str, RGBColor); 2] = [
    ("local_first", "local closed first", BLUE),
    ("remote_first", "remote closed first", ORANGE),
];

/// The report's half-decade bucket bounds: 1, 3, 10, 30, ... us.
pub(crate) fn half_decades() -> impl Iterator<Item = u64> {
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
pub(crate) fn filled(s: &LatencyStats) -> Vec<(u64, u64, u64)> {
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
pub(crate) fn lx(us: u64, hi: u64) -> f64 {
    if us == 0 {
        (hi.max(1) as f64).log10() - 0.5
    } else {
        (us as f64).log10()
    }
}

/// A round duration for a log-axis tick at 10^x us.
pub(crate) fn decade_label(x: f64) -> String {
    let us = 10f64.powf(x).round() as u64;
    match us {
        0..1_000 => format!("{us}us"),
        1_000..1_000_000 => format!("{}ms", us / 1_000),
        _ => format!("{}s", us / 1_000_000),
    }
}

/// The three close-latency histograms, split by who closed first, on one
/// log time axis, with p50 (solid) and p99 (dashed) marked.
pub(crate) fn latency(r: &Report) -> io::Result<String> {
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

pub(crate) fn latency_panel<'r>(
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
pub(crate) fn label_px(text: &str) -> i32 {
    (text.chars().count() as f64 * 7.2).ceil() as i32
}

/// Lays out the percentile labels of a latency panel: each beside its
/// line (p50 to the left, p99 to the right; the other side when that one
/// would leave the plot `xs`), in the first row from the top where it
/// overlaps no label already placed (6 px apart). Rows are 15 px. Gives
/// (left x, y from the plot's top, text, colour).
pub(crate) fn place_labels(
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
pub(crate) fn outcomes(r: &Report) -> io::Result<String> {
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
