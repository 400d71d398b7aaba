//! `allocation-timeline`: allocation % over time (top panel) and pending pods (bottom panel), with vertical fault
//! markers; also the A/B overlay of `kubesim compare` (same chart, two runs, B dashed).
//!
//! Two panels rather than a second y axis: percentages and pod counts never share a scale, so neither has to be
//! read against the wrong axis. Fault labels sit in a strip above the top panel, staggered over three rows and
//! dropped when they would overlap (the marker line is always drawn).

use super::inputs::{FaultEvent, Sample};
use crate::plot::legend::{self, Entry, Mark};
use crate::plot::render::{Chart, PlotError, draw_placeholder};
use crate::plot::style::{self, TimeUnit};
use plotters::coord::Shift;
use plotters::prelude::*;

const LEGEND_PX: u32 = 200;
const LABEL_ROWS: usize = 3;
const LABEL_ROW_PX: i32 = 17;
const CPU: RGBColor = style::PALETTE[0];
const MEMORY: RGBColor = style::PALETTE[1];
const GPU: RGBColor = style::PALETTE[2];
const PENDING: RGBColor = RGBColor(90, 60, 140);

/// One run's samples, labelled (empty label for a single-run report).
pub struct Series<'a> {
    pub label: String,
    pub samples: &'a [Sample],
}

pub struct Timeline<'a> {
    pub caption: String,
    pub runs: Vec<Series<'a>>,
    pub faults: &'a [FaultEvent],
}

impl Timeline<'_> {
    fn has_gpu(run: &Series<'_>) -> bool {
        run.samples.iter().any(|s| s.gpu_allocation != 0.0)
    }

    /// The height of the fault-label strip above the top panel (just room for the caption without faults).
    fn strip_px(&self) -> i32 {
        if self.faults.is_empty() { 44 } else { 44 + LABEL_ROW_PX * LABEL_ROWS as i32 }
    }

    fn name(&self, what: &str, run: &Series<'_>) -> String {
        if run.label.is_empty() { what.to_string() } else { format!("{what} ({})", run.label) }
    }

    fn legend(&self) -> Vec<Entry> {
        let mut out = Vec::new();
        for (i, run) in self.runs.iter().enumerate() {
            let mark = if i == 0 { Mark::Line } else { Mark::Dashed };
            out.push(Entry::new(self.name("CPU", run), CPU, mark));
            out.push(Entry::new(self.name("memory", run), MEMORY, mark));
            if Self::has_gpu(run) {
                out.push(Entry::new(self.name("GPU", run), GPU, mark));
            }
            out.push(Entry::new(self.name("pending pods", run), PENDING, mark));
        }
        if self.faults.iter().any(|f| f.injected) {
            out.push(Entry::new("fault injected", style::FAULT_INJECTED, Mark::Dashed));
        }
        if self.faults.iter().any(|f| !f.injected) {
            out.push(Entry::new("fault healed", style::FAULT_HEALED, Mark::Dashed));
        }
        out
    }

    fn time_range_s(&self) -> Option<(f64, f64)> {
        let times = self.runs.iter().flat_map(|r| r.samples.iter().map(|s| s.time_s));
        let (lo, hi) = times.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), t| (a.min(t), b.max(t)));
        lo.is_finite().then_some((lo, hi))
    }
}

/// Draws one run's line for `value`: the first run solid, later runs dashed; a lone sample gets a dot.
fn draw_line<DB: DrawingBackend, CT: plotters::coord::CoordTranslate<From = (f64, f64)>>(
    chart: &mut ChartContext<'_, DB, CT>,
    (run, samples): (usize, &[Sample]),
    unit: TimeUnit,
    colour: RGBColor,
    value: impl Fn(&Sample) -> f64,
) -> Result<(), PlotError> {
    let pts: Vec<(f64, f64)> = samples.iter().map(|s| (unit.of(s.time_s), value(s))).collect();
    if run == 0 {
        chart.draw_series(LineSeries::new(pts.clone(), colour.stroke_width(2)))?;
    } else {
        chart.draw_series(DashedLineSeries::new(pts.clone(), 8, 5, colour.stroke_width(2)))?;
    }
    if pts.len() == 1 {
        chart.draw_series(pts.iter().map(|p| Circle::new(*p, 4, colour.filled())))?;
    }
    Ok(())
}

impl Chart for Timeline<'_> {
    fn size(&self) -> (u32, u32) {
        (style::WIDTH_PX, 680)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        let Some((t0, t1)) = self.time_range_s() else {
            return draw_placeholder(root, &self.caption, "no samples in timeseries.csv");
        };
        let unit = TimeUnit::for_span(t1 - t0);
        let (x0, x1) = style::nonempty_range(unit.of(t0), unit.of(t1), 1.0);
        let (main, side) = root.split_horizontally(root.dim_in_pixel().0 - LEGEND_PX);
        root.draw_text(&self.caption, &style::caption_font().into_text_style(root), (style::MARGIN_PX as i32, 10))?;
        let (top, bottom) = main.split_vertically(400);
        let strip_px = self.strip_px();
        let fmt = |v: &f64| style::tick(*v);
        let mut upper = ChartBuilder::on(&top)
            .margin_left(style::MARGIN_PX)
            .margin_right(8)
            .margin_top(strip_px as u32)
            .margin_bottom(8)
            .y_label_area_size(78)
            .build_cartesian_2d(x0..x1, 0.0..100.0)?;
        upper
            .configure_mesh()
            .light_line_style(WHITE)
            .bold_line_style(style::GREY_LIGHT)
            .x_label_formatter(&|_| String::new())
            .y_label_formatter(&fmt)
            .y_desc("allocation (% of allocatable)")
            .axis_desc_style(style::desc_font())
            .label_style(style::label_font())
            .draw()?;
        for (i, run) in self.runs.iter().enumerate() {
            draw_line(&mut upper, (i, run.samples), unit, CPU, |s| 100.0 * s.cpu_allocation)?;
            draw_line(&mut upper, (i, run.samples), unit, MEMORY, |s| 100.0 * s.memory_allocation)?;
            if Self::has_gpu(run) {
                draw_line(&mut upper, (i, run.samples), unit, GPU, |s| 100.0 * s.gpu_allocation)?;
            }
        }
        let pending_max = self.runs.iter().flat_map(|r| r.samples.iter().map(|s| s.pods_pending)).max().unwrap_or(0);
        let y_top = (pending_max as f64 * 1.1).max(1.0).ceil();
        let mut lower = ChartBuilder::on(&bottom)
            .margin_left(style::MARGIN_PX)
            .margin_right(8)
            .margin_top(8)
            .margin_bottom(style::MARGIN_PX)
            .x_label_area_size(56)
            .y_label_area_size(78)
            .build_cartesian_2d(x0..x1, 0.0..y_top)?;
        let int_fmt = |v: &f64| if v.fract() == 0.0 { style::tick(*v) } else { String::new() };
        lower
            .configure_mesh()
            .light_line_style(WHITE)
            .bold_line_style(style::GREY_LIGHT)
            .x_labels(12)
            .y_labels(5)
            .x_label_formatter(&fmt)
            .y_label_formatter(&int_fmt)
            .x_desc(unit.axis_desc())
            .y_desc("pending pods")
            .axis_desc_style(style::desc_font())
            .label_style(style::label_font())
            .draw()?;
        for (i, run) in self.runs.iter().enumerate() {
            draw_line(&mut lower, (i, run.samples), unit, PENDING, |s| s.pods_pending as f64)?;
        }
        self.draw_faults(&top, &mut upper, &mut lower, unit, (x0, x1), y_top)?;
        legend::draw(&side, strip_px, &self.legend())
    }
}

impl Timeline<'_> {
    /// Vertical dashed markers in both panels and staggered verb labels in the strip above the top panel.
    fn draw_faults<DB: DrawingBackend, A, B>(
        &self,
        top: &DrawingArea<DB, Shift>,
        upper: &mut ChartContext<'_, DB, A>,
        lower: &mut ChartContext<'_, DB, B>,
        unit: TimeUnit,
        (x0, x1): (f64, f64),
        y_top: f64,
    ) -> Result<(), PlotError>
    where
        A: plotters::coord::CoordTranslate<From = (f64, f64)>,
        B: plotters::coord::CoordTranslate<From = (f64, f64)>,
    {
        let base = top.get_base_pixel();
        let strip_bottom = upper.as_coord_spec().translate(&(x0, 100.0)).1 - base.1 - 6;
        let mut row_end = [i32::MIN; LABEL_ROWS];
        for f in self.faults {
            let x = unit.of(f.time_s);
            if !(x0..=x1).contains(&x) {
                continue;
            }
            let colour = if f.injected { style::FAULT_INJECTED } else { style::FAULT_HEALED };
            upper.draw_series(DashedLineSeries::new(vec![(x, 0.0), (x, 100.0)], 6, 4, colour.stroke_width(1)))?;
            lower.draw_series(DashedLineSeries::new(vec![(x, 0.0), (x, y_top)], 6, 4, colour.stroke_width(1)))?;
            let px = upper.as_coord_spec().translate(&(x, 100.0)).0 - base.0;
            let text = style::shorten(&f.verb, 22);
            let width = 8 * text.chars().count() as i32;
            let left = (px - width / 2).max(2);
            // The lowest free row, so that labels stay close to their marker.
            if let Some(row) = (0..LABEL_ROWS).find(|&r| row_end[r] + 6 < left) {
                row_end[row] = left + width;
                let y = strip_bottom - LABEL_ROW_PX * (row as i32 + 1);
                top.draw_text(&text, &style::small_font().color(&colour), (left, y))?;
            }
        }
        Ok(())
    }
}
