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

/// Writes `dir/<name>.svg` and `.png`. `diagonal` draws the line y = x (everything that arrived is allocated).
pub fn plot_curves(
    dir: &Path,
    name: &str,
    title: &str,
    y_desc: &str,
    series: &[CurveSeries],
    diagonal: bool,
) -> Result<(), String> {
    init_fonts();
    let svg = dir.join(format!("{name}.svg"));
    draw(SVGBackend::new(&svg, SIZE).into_drawing_area(), title, y_desc, series, diagonal)
        .map_err(|e| format!("{}: {e}", svg.display()))?;
    let png = dir.join(format!("{name}.png"));
    draw(BitMapBackend::new(&png, SIZE).into_drawing_area(), title, y_desc, series, diagonal)
        .map_err(|e| format!("{}: {e}", png.display()))
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    y_desc: &str,
    series: &[CurveSeries],
    diagonal: bool,
) -> Result<(), String> {
    root.fill(&WHITE).map_err(err)?;
    let pts = series.iter().flat_map(|s| s.points.iter());
    let x_max = pts.clone().map(|p| p.0).fold(1.0f64, f64::max);
    let y_max = pts.map(|p| p.3.max(p.1)).fold(1.0f64, f64::max);
    let y_top = if diagonal { y_max * 1.05 } else { y_max * 1.15 };
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FONT, 20))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..x_max, 0.0..y_top)
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
            .draw_series(LineSeries::new([(0.0, 0.0), (x_max.min(y_top), x_max.min(y_top))], grey.stroke_width(1)))
            .map_err(err)?
            .label("allocated = arrived")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], grey.stroke_width(1)));
    }
    for (i, s) in series.iter().enumerate() {
        let c = series_colour(i);
        if s.points.iter().any(|p| p.2 != p.3) {
            let mut band: Vec<(f64, f64)> = s.points.iter().map(|p| (p.0, p.3)).collect();
            band.extend(s.points.iter().rev().map(|p| (p.0, p.2)));
            chart.draw_series(std::iter::once(Polygon::new(band, c.mix(0.18).filled()))).map_err(err)?;
        }
        chart
            .draw_series(LineSeries::new(s.points.iter().map(|p| (p.0, p.1)), c.stroke_width(2)))
            .map_err(err)?
            .label(s.label.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(200, 200, 200))
        .label_font((FONT, 14))
        .draw()
        .map_err(err)?;
    root.present().map_err(err)
}
