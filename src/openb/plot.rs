//! Curves against arrived GPU demand: one line per series (a policy), with a shaded band (the 25th to 75th
//! percentile over seeds, as in the paper's figures) when the series has one.

use crate::plot::{FONT, init_fonts, style::series_colour};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

const SIZE: (u32, u32) = (960, 600);

/// One line: (arrived %, middle, low, high) per point.
pub struct CurveSeries {
    pub label: String,
    pub points: Vec<(f64, f64, f64, f64)>,
}

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// What to draw: the title, the y axis, the series, and the view.
pub struct CurvePlot<'a> {
    pub title: &'a str,
    pub y_desc: &'a str,
    pub series: &'a [CurveSeries],
    /// Draw the line y = x (everything that arrived is allocated).
    pub diagonal: bool,
    /// Show arrived demand from this percent on, with the y axis fitted to the data shown (a zoom); 0 shows
    /// everything from 0.
    pub x_from: f64,
    pub legend: SeriesLabelPosition,
}

/// Writes `dir/<name>.svg` and `.png`.
pub fn plot_curves(dir: &Path, name: &str, p: &CurvePlot) -> Result<(), String> {
    init_fonts();
    let svg = dir.join(format!("{name}.svg"));
    draw(SVGBackend::new(&svg, SIZE).into_drawing_area(), p).map_err(|e| format!("{}: {e}", svg.display()))?;
    let png = dir.join(format!("{name}.png"));
    draw(BitMapBackend::new(&png, SIZE).into_drawing_area(), p).map_err(|e| format!("{}: {e}", png.display()))
}

fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, p: &CurvePlot) -> Result<(), String> {
    let (title, y_desc, series, diagonal) = (p.title, p.y_desc, p.series, p.diagonal);
    root.fill(&WHITE).map_err(err)?;
    let pts = series.iter().flat_map(|s| s.points.iter()).filter(|q| q.0 >= p.x_from);
    let x_max = pts.clone().map(|q| q.0).fold(p.x_from + 1.0, f64::max);
    let y_max = pts.clone().map(|q| q.3.max(q.1)).fold(f64::NEG_INFINITY, f64::max).max(1.0);
    let (y_bottom, y_top) = if p.x_from > 0.0 {
        let y_min = pts.map(|q| q.2.min(q.1)).fold(f64::INFINITY, f64::min).min(y_max);
        let pad = ((y_max - y_min) * 0.08).max(0.5);
        ((y_min - pad).max(0.0), y_max + pad)
    } else {
        (0.0, if diagonal { y_max * 1.05 } else { y_max * 1.15 })
    };
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FONT, 20))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(p.x_from..x_max, y_bottom..y_top)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("arrived GPU demand (% of the cluster's GPUs)")
        .y_desc(y_desc)
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 15))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(err)?;
    if diagonal {
        let grey = RGBColor(150, 150, 150);
        chart
            .draw_series(LineSeries::new(
                [(p.x_from, p.x_from), (x_max.min(y_top), x_max.min(y_top))],
                grey.stroke_width(1),
            ))
            .map_err(err)?
            .label("allocated = arrived")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], grey.stroke_width(1)));
    }
    for (i, s) in series.iter().enumerate() {
        let c = series_colour(i);
        let shown: Vec<&(f64, f64, f64, f64)> = s.points.iter().filter(|q| q.0 >= p.x_from).collect();
        if shown.iter().any(|q| q.2 != q.3) {
            let mut band: Vec<(f64, f64)> = shown.iter().map(|q| (q.0, q.3)).collect();
            band.extend(shown.iter().rev().map(|q| (q.0, q.2)));
            chart.draw_series(std::iter::once(Polygon::new(band, c.mix(0.18).filled()))).map_err(err)?;
        }
        chart
            .draw_series(LineSeries::new(shown.iter().map(|q| (q.0, q.1)), c.stroke_width(2)))
            .map_err(err)?
            .label(s.label.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(p.legend.clone())
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(200, 200, 200))
        .label_font((FONT, 14))
        .draw()
        .map_err(err)?;
    root.present().map_err(err)
}
