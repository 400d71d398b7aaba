//! `scheduling-latency-cdf`: the empirical CDF of scheduling latency (creation to binding) over bound pods; also
//! the A/B overlay of `kubesim compare`.
//!
//! The x axis is logarithmic when the positive latencies span more than two decades (a few slow pods behind a
//! fault would otherwise squash everything else against the y axis), linear otherwise. On a log axis, zero
//! latencies (pods bound in the same microsecond) are drawn at the axis' left edge.

use crate::plot::legend::{self, Entry, Mark};
use crate::plot::render::{Chart, PlotError, draw_placeholder};
use crate::plot::style;
use plotters::coord::Shift;
use plotters::prelude::*;

const LEGEND_PX: u32 = 240;

/// One run's sorted latencies (seconds).
pub struct Curve {
    pub label: String,
    pub sorted_s: Vec<f64>,
}

pub struct LatencyCdf {
    pub caption: String,
    pub curves: Vec<Curve>,
}

impl LatencyCdf {
    /// (smallest positive, largest) latency over all curves.
    fn range_s(&self) -> Option<(f64, f64)> {
        let all = self.curves.iter().flat_map(|c| c.sorted_s.iter().copied());
        let min_pos = all.clone().filter(|v| *v > 0.0).fold(f64::INFINITY, f64::min);
        let max = all.fold(f64::NEG_INFINITY, f64::max);
        max.is_finite().then_some((min_pos, max))
    }

    /// Step points of one curve: each latency raises the fraction by 1/n.
    fn steps(sorted: &[f64], floor: f64) -> Vec<(f64, f64)> {
        let n = sorted.len() as f64;
        let mut pts = Vec::with_capacity(2 * sorted.len() + 1);
        let mut prev = 0.0;
        for (i, v) in sorted.iter().enumerate() {
            let x = v.max(floor);
            pts.push((x, prev));
            prev = 100.0 * (i + 1) as f64 / n;
            pts.push((x, prev));
        }
        pts
    }

    fn legend(&self) -> Vec<Entry> {
        let n = |c: &Curve| format!("{} ({} pods)", c.label, crate::run::thousands(c.sorted_s.len() as u64));
        self.curves
            .iter()
            .enumerate()
            .map(|(i, c)| Entry::new(n(c), style::series_colour(i), if i == 0 { Mark::Line } else { Mark::Dashed }))
            .collect()
    }
}

impl Chart for LatencyCdf {
    fn size(&self) -> (u32, u32) {
        (style::WIDTH_PX, 560)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        let Some((min_pos, max)) = self.range_s() else {
            return draw_placeholder(root, &self.caption, "no bound pods in pods.csv");
        };
        let (main, side) = root.split_horizontally(root.dim_in_pixel().0 - LEGEND_PX);
        let log = min_pos.is_finite() && max / min_pos > 100.0;
        let mut builder = ChartBuilder::on(&main);
        builder
            .caption(&self.caption, style::caption_font())
            .margin(style::MARGIN_PX)
            .x_label_area_size(56)
            .y_label_area_size(78);
        let y_fmt = |v: &f64| style::tick(*v);
        let desc = if log { "scheduling latency (s, log scale)" } else { "scheduling latency (s)" };
        if log {
            let (lo, hi) = (min_pos / 1.5, max * 1.5);
            let mut chart = builder.build_cartesian_2d((lo..hi).log_scale(), 0.0..100.0)?;
            let x_fmt = |v: &f64| style::tick_log(*v);
            chart
                .configure_mesh()
                .light_line_style(WHITE)
                .bold_line_style(style::GREY_LIGHT)
                .x_label_formatter(&x_fmt)
                .y_label_formatter(&y_fmt)
                .x_desc(desc)
                .y_desc("bound pods (%)")
                .axis_desc_style(style::desc_font())
                .label_style(style::label_font())
                .draw()?;
            for (i, c) in self.curves.iter().enumerate() {
                let pts = Self::steps(&c.sorted_s, lo);
                draw_curve(&mut chart, pts, i)?;
            }
        } else {
            let (lo, hi) = style::nonempty_range(0.0, max * 1.05, 1e-3);
            let mut chart = builder.build_cartesian_2d(lo..hi, 0.0..100.0)?;
            let x_fmt = |v: &f64| style::tick(*v);
            chart
                .configure_mesh()
                .light_line_style(WHITE)
                .bold_line_style(style::GREY_LIGHT)
                .x_labels(10)
                .x_label_formatter(&x_fmt)
                .y_label_formatter(&y_fmt)
                .x_desc(desc)
                .y_desc("bound pods (%)")
                .axis_desc_style(style::desc_font())
                .label_style(style::label_font())
                .draw()?;
            for (i, c) in self.curves.iter().enumerate() {
                let pts = Self::steps(&c.sorted_s, 0.0);
                draw_curve(&mut chart, pts, i)?;
            }
        }
        legend::draw(&side, 60, &self.legend())
    }
}

fn draw_curve<DB: DrawingBackend, CT: plotters::coord::CoordTranslate<From = (f64, f64)>>(
    chart: &mut ChartContext<'_, DB, CT>,
    pts: Vec<(f64, f64)>,
    i: usize,
) -> Result<(), PlotError> {
    let colour = style::series_colour(i);
    if i == 0 {
        chart.draw_series(LineSeries::new(pts, colour.stroke_width(2)))?;
    } else {
        chart.draw_series(DashedLineSeries::new(pts, 8, 5, colour.stroke_width(2)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_rise_to_one_hundred() {
        let pts = LatencyCdf::steps(&[0.0, 1.0], 0.5);
        assert_eq!(pts, vec![(0.5, 0.0), (0.5, 50.0), (1.0, 50.0), (1.0, 100.0)]);
    }
}
