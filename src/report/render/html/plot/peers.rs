//! The peers table's FIN->ACK mini plots on one shared log scale.

use super::*;

/// The shared log scale of the peers' FIN->ACK mini plots, log10 us.
#[derive(Clone, Copy)]
pub(crate) struct PeerScale {
    lo: f64,
    hi: f64,
}

pub(crate) const SPARK: (u32, u32) = (250, 22);
pub(crate) const SPARK_PAD: u32 = 14;
/// Room a decade label of the peers' axis needs: `100ms` at 13 px (about
/// 40 px) and a gap of a third of it.
pub(crate) const SPARK_LABEL_PX: f64 = 54.0;

/// The scale spanning every peer's p50 .. max; `None` without samples.
pub(crate) fn peer_scale(peers: &[Peer]) -> Option<PeerScale> {
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

pub(crate) fn spark_chart<'a, 'b>(
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
pub(crate) fn peer_axis(s: PeerScale) -> io::Result<String> {
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
pub(crate) fn peer_range(p: &Peer, s: Option<PeerScale>) -> io::Result<String> {
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
