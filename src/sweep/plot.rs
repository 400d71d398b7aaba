//! One plot per aggregated metric, `plots/<metric>.svg` and `.png`: the mean over seeds of every point with its
//! 95% confidence interval as an error bar.
//!
//! With exactly one numeric parameter (and no named points) the parameter is the x axis and the means are
//! joined by a line. Otherwise the points are categories: drawn as horizontal rows labelled by point label, so
//! that long labels stay readable however many points there are (the plot grows in height instead).

use super::exec::RunRow;
use super::output::samples;
use super::{Design, aggregate};
use crate::plot::{FONT, init_fonts};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

const LINE: RGBColor = RGBColor(31, 119, 180);
const WIDTH: u32 = 960;

/// How a metric is shown: the factor its values are multiplied by and the unit named on the axis.
pub fn unit(metric: &str) -> (f64, &'static str) {
    let ratio = ["_allocation_mean", "_imbalance", "_fragmentation_mean", "_ratio", "_allocation"];
    if ratio.iter().any(|s| metric.ends_with(s)) {
        (100.0, "%")
    } else if metric.ends_with("pod_seconds") {
        (1.0, "pod-seconds")
    } else if metric.ends_with("_s") || metric.ends_with("_seconds") {
        (1.0, "seconds")
    } else {
        (1.0, "count")
    }
}

/// A file name for a metric (workload names may hold characters a file name should not).
pub fn file_stem(metric: &str) -> String {
    metric.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect()
}

struct Series {
    labels: Vec<String>,
    x: Option<Vec<f64>>,
    /// (mean, half-width) per point, in display units; None where the point has no value.
    stats: Vec<Option<(f64, f64)>>,
    title: String,
    x_desc: String,
    y_desc: String,
}

/// Writes `plots/<metric>.svg` and `.png`.
pub fn plot_metric(dir: &Path, design: &Design, rows: &[RunRow], metric: &str) -> Result<(), String> {
    init_fonts();
    let (scale, unit) = unit(metric);
    let stats = samples(design, rows, metric)
        .iter()
        .map(|xs| aggregate::stats(xs).map(|s| (s.mean * scale, s.ci95.unwrap_or(0.0) * scale)))
        .collect();
    let x = design.numeric_x();
    let x_desc = match (&x, design.parameters.first()) {
        (Some(_), Some(p)) => format!("{} ({})", p.name, p.path),
        _ => "point".to_string(),
    };
    let s = Series {
        labels: design.points.iter().map(|p| p.label.clone()).collect(),
        x,
        stats,
        title: format!("{}: {metric}, mean and 95% CI over {} seeds", design.sweep, design.seeds.len()),
        x_desc,
        y_desc: format!("{metric} ({unit})"),
    };
    let stem = file_stem(metric);
    let height = height(&s);
    let svg = dir.join(format!("{stem}.svg"));
    draw(SVGBackend::new(&svg, (WIDTH, height)).into_drawing_area(), &s)
        .map_err(|e| format!("error: {}: {e}", svg.display()))?;
    let png = dir.join(format!("{stem}.png"));
    draw(BitMapBackend::new(&png, (WIDTH, height)).into_drawing_area(), &s)
        .map_err(|e| format!("error: {}: {e}", png.display()))
}

fn height(s: &Series) -> u32 {
    match s.x {
        Some(_) => 540,
        None => (140 + 26 * s.labels.len() as u32).max(300),
    }
}

/// The value range covering every mean and interval, padded so markers never sit on the frame.
fn value_range(s: &Series) -> (f64, f64) {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for (m, h) in s.stats.iter().flatten() {
        lo = lo.min(m - h);
        hi = hi.max(m + h);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let span = hi - lo;
    let pad = if span > 1e-9 { span * 0.08 } else { (hi.abs() * 0.1).max(1.0) };
    (lo - pad, hi + pad)
}

/// Tick labels: shortest form, no trailing ".0" on whole numbers.
fn tick(x: &f64) -> String {
    super::fmt_num(*x)
}

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, s: &Series) -> Result<(), String> {
    root.fill(&WHITE).map_err(err)?;
    let (lo, hi) = value_range(s);
    match &s.x {
        Some(xs) => draw_numeric(&root, s, xs, lo, hi)?,
        None => draw_categorical(&root, s, lo, hi)?,
    }
    root.present().map_err(err)
}

fn draw_numeric<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    s: &Series,
    xs: &[f64],
    lo: f64,
    hi: f64,
) -> Result<(), String> {
    let (mut x0, mut x1) = xs.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
    let pad = if x1 - x0 > 1e-9 { (x1 - x0) * 0.05 } else { (x0.abs() * 0.1).max(1.0) };
    x0 -= pad;
    x1 += pad;
    let mut chart = ChartBuilder::on(root)
        .caption(&s.title, (FONT, 20))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(x0..x1, lo..hi)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(s.x_desc.as_str())
        .y_desc(s.y_desc.as_str())
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 15))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(err)?;
    let pts: Vec<(f64, f64, f64)> = xs.iter().zip(&s.stats).filter_map(|(&x, st)| st.map(|(m, h)| (x, m, h))).collect();
    chart.draw_series(LineSeries::new(pts.iter().map(|&(x, m, _)| (x, m)), LINE.stroke_width(2))).map_err(err)?;
    let cap = (x1 - x0) * 0.008;
    for &(x, m, h) in &pts {
        if h > 0.0 {
            let bars = [
                vec![(x, m - h), (x, m + h)],
                vec![(x - cap, m - h), (x + cap, m - h)],
                vec![(x - cap, m + h), (x + cap, m + h)],
            ];
            chart.draw_series(bars.into_iter().map(|p| PathElement::new(p, LINE.stroke_width(1)))).map_err(err)?;
        }
    }
    chart.draw_series(pts.iter().map(|&(x, m, _)| Circle::new((x, m), 4, LINE.filled()))).map_err(err)?;
    Ok(())
}

fn draw_categorical<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    s: &Series,
    lo: f64,
    hi: f64,
) -> Result<(), String> {
    let n = s.labels.len();
    let longest = s.labels.iter().map(|l| l.chars().count()).max().unwrap_or(1) as u32;
    // About 8 px per character at 14 px, plus the tick marks.
    let label_area = (longest * 8 + 24).clamp(60, WIDTH / 2);
    let labels = s.labels.clone();
    let mut chart = ChartBuilder::on(root)
        .caption(&s.title, (FONT, 20))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(label_area)
        // An integer range includes its end: 0..n-1 gives n rows (a single point gets a second, empty row,
        // since a one-value range is degenerate).
        .build_cartesian_2d(lo..hi, (0..n.saturating_sub(1).max(1)).into_segmented())
        .map_err(err)?;
    let rows = n.max(2);
    let fmt = move |v: &SegmentValue<usize>| match v {
        // Top to bottom in point order.
        SegmentValue::CenterOf(i) if *i < labels.len() => labels[labels.len() - 1 - *i].clone(),
        _ => String::new(),
    };
    chart
        .configure_mesh()
        .x_desc(s.y_desc.as_str())
        .y_desc(s.x_desc.as_str())
        .y_labels(rows + 1)
        .y_label_formatter(&fmt)
        .x_label_formatter(&tick)
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 15))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(err)?;
    for (i, st) in s.stats.iter().enumerate() {
        let Some((m, h)) = *st else { continue };
        let row = n - 1 - i;
        if h > 0.0 {
            let bar = vec![(m - h, SegmentValue::CenterOf(row)), (m + h, SegmentValue::CenterOf(row))];
            chart.draw_series(std::iter::once(PathElement::new(bar, LINE.stroke_width(2)))).map_err(err)?;
        }
        chart
            .draw_series(std::iter::once(Circle::new((m, SegmentValue::CenterOf(row)), 5, LINE.filled())))
            .map_err(err)?;
    }
    Ok(())
}
