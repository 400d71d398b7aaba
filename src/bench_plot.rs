//! The plot of `kubesim bench`'s scaling table: wall time and peak memory against pods, one line per node
//! count, on log-log axes (a straight line of slope 1 is linear cost).

use crate::bench::Point;
use crate::plot::{FONT, init_fonts, style::series_colour};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

const SIZE: (u32, u32) = (1100, 500);

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Writes `<stem>.svg` and `<stem>.png` next to each other.
pub fn plot(points: &[Point], stem: &Path) -> Result<(), String> {
    init_fonts();
    let svg = stem.with_extension("svg");
    draw(SVGBackend::new(&svg, SIZE).into_drawing_area(), points).map_err(|e| format!("{}: {e}", svg.display()))?;
    let png = stem.with_extension("png");
    draw(BitMapBackend::new(&png, SIZE).into_drawing_area(), points).map_err(|e| format!("{}: {e}", png.display()))
}

fn range(xs: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(x), b.max(x)));
    if !lo.is_finite() { (1.0, 10.0) } else { (lo / 1.5, hi * 1.5) }
}

/// One panel: its area, caption, y axis and value.
type Panel<'a, DB> = (&'a DrawingArea<DB, Shift>, &'static str, &'static str, fn(&Point) -> Option<f64>);

/// Labels only the 1-2-5 steps of a log axis (plotters proposes every integer multiple of each decade).
fn one_two_five(v: f64, f: impl Fn(f64) -> String) -> String {
    if v <= 0.0 {
        return String::new();
    }
    let mantissa = v / 10f64.powf(v.log10().floor());
    if [1.0, 2.0, 5.0, 10.0].iter().any(|m| (mantissa - m).abs() < 1e-6 * m) { f(v) } else { String::new() }
}

fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, points: &[Point]) -> Result<(), String> {
    root.fill(&WHITE).map_err(err)?;
    let (left, right) = root.split_horizontally(SIZE.0 / 2);
    let mut by_nodes: BTreeMap<u64, Vec<&Point>> = BTreeMap::new();
    for p in points {
        by_nodes.entry(p.nodes).or_default().push(p);
    }
    let panels: [Panel<DB>; 2] = [
        (&left, "Wall time", "wall time (s)", |p| Some(p.wall_s.max(1e-4))),
        (&right, "Peak memory", "peak resident memory (MiB)", |p| {
            p.peak_rss_bytes.map(|b| b as f64 / (1 << 20) as f64)
        }),
    ];
    for (area, caption, y_desc, f) in panels {
        let (x0, x1) = range(points.iter().map(|p| p.pods as f64));
        let (y0, y1) = range(points.iter().filter_map(f));
        let mut chart = ChartBuilder::on(area)
            .caption(caption, (FONT, 18))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(65)
            .build_cartesian_2d((x0..x1).log_scale(), (y0..y1).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("pods created in the run")
            .y_desc(y_desc)
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .x_label_formatter(&|v| one_two_five(*v, |x| crate::run::thousands(x.round() as u64)))
            .y_label_formatter(&|v| one_two_five(*v, crate::plot::style::tick_log))
            .light_line_style(WHITE)
            .draw()
            .map_err(err)?;
        for (i, (nodes, ps)) in by_nodes.iter().enumerate() {
            let c = series_colour(i);
            let mut line: Vec<(f64, f64)> = ps.iter().filter_map(|p| Some((p.pods as f64, f(p)?))).collect();
            line.sort_by(|a, b| a.0.total_cmp(&b.0));
            chart
                .draw_series(LineSeries::new(line.clone(), c.stroke_width(2)))
                .map_err(err)?
                .label(format!("{} nodes", crate::run::thousands(*nodes)))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
            chart.draw_series(line.iter().map(|&(x, y)| Circle::new((x, y), 3, c.filled()))).map_err(err)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .label_font((FONT, 13))
            .draw()
            .map_err(err)?;
    }
    root.present().map_err(err)
}
