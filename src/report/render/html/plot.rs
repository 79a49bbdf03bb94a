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

mod latency;
mod peers;
mod states;
pub(super) use self::{latency::*, peers::*, states::*};

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
