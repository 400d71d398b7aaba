//! `placement-bars`: per node (rows, creation order as in the heatmap), the CPU requests of each workload at the
//! last sample of placements.csv, stacked, with the node's allocatable CPU as a black tick.
//!
//! CPU millicores rather than pod counts: the scheduler packs by requests, so millicores show how full each node
//! is and who fills it. Colours follow the workloads' name order; beyond the palette the smallest workloads are
//! drawn together as "other", so that no two workloads share a colour.

use super::inputs::Placement;
use crate::plot::legend::{self, Entry, Mark};
use crate::plot::render::{Chart, PlotError, draw_placeholder};
use crate::plot::rows::RowAxis;
use crate::plot::style;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::collections::BTreeMap;

const LEGEND_PX: u32 = 230;
const LABEL_ALL_ROWS: usize = 40;
const OTHER: &str = "other";
/// Beyond this many nodes, consecutive nodes are drawn as one bar (their mean), or bars would be a pixel thick.
const MAX_BARS: usize = 100;

pub struct PlacementBars {
    time_s: f64,
    /// Nodes in creation order: name, allocatable millicores, millicores per shown workload (by legend index).
    nodes: Vec<(String, f64, Vec<f64>)>,
    /// Shown workloads in colour order; the last is [`OTHER`] when workloads were grouped.
    workloads: Vec<String>,
    /// Nodes per bar (1 unless there are more than [`MAX_BARS`] nodes).
    group: usize,
}

impl PlacementBars {
    pub fn from_placements(rows: &[Placement]) -> PlacementBars {
        let last = rows.iter().map(|r| r.time_s).fold(f64::NEG_INFINITY, f64::max);
        let rows: Vec<&Placement> = rows.iter().filter(|r| r.time_s == last).collect();
        let mut totals: BTreeMap<&str, f64> = BTreeMap::new();
        for r in rows.iter().filter(|r| !r.workload.is_empty()) {
            *totals.entry(&r.workload).or_default() += r.cpu_millis;
        }
        let limit = style::PALETTE.len();
        let mut by_size: Vec<(&str, f64)> = totals.iter().map(|(k, v)| (*k, *v)).collect();
        by_size.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
        let keep = if by_size.len() > limit { limit - 1 } else { by_size.len() };
        let mut workloads: Vec<String> = by_size[..keep].iter().map(|(k, _)| k.to_string()).collect();
        workloads.sort();
        if by_size.len() > keep {
            workloads.push(OTHER.to_string());
        }
        let slot = |w: &str| workloads.iter().position(|x| x == w).unwrap_or(workloads.len().saturating_sub(1));
        let mut nodes: Vec<(String, f64, Vec<f64>)> = Vec::new();
        for r in rows {
            if nodes.last().is_none_or(|n| n.0 != r.node) {
                nodes.push((r.node.clone(), r.cpu_millis_allocatable, vec![0.0; workloads.len()]));
            }
            if let Some(n) = nodes.last_mut()
                && !r.workload.is_empty()
            {
                n.2[slot(&r.workload)] += r.cpu_millis;
            }
        }
        let group = nodes.len().div_ceil(MAX_BARS).max(1);
        if group > 1 {
            nodes = nodes.chunks(group).enumerate().map(|(i, c)| mean_bar(i * group, c)).collect();
        }
        PlacementBars { time_s: last, nodes, workloads, group }
    }
}

impl Chart for PlacementBars {
    fn size(&self) -> (u32, u32) {
        let n = self.nodes.len() as u32;
        let h = if n as usize <= LABEL_ALL_ROWS { 170 + 24 * n } else { 170 + 6 * n };
        (style::WIDTH_PX, h.clamp(420, 1200))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        let caption = if self.nodes.is_empty() {
            "CPU requests per node by workload".to_string()
        } else {
            format!("CPU requests per node by workload at t = {}", super::format::duration(self.time_s))
        };
        if self.nodes.is_empty() {
            return draw_placeholder(root, &caption, "no nodes in placements.csv (or [output] placements = false)");
        }
        let (main, side) = root.split_horizontally(root.dim_in_pixel().0 - LEGEND_PX);
        let n = self.nodes.len();
        let every = if n <= LABEL_ALL_ROWS { 1 } else { n.div_ceil(20) };
        let x_max = self.nodes.iter().map(|(_, a, w)| a.max(w.iter().sum())).fold(1.0, f64::max) * 1.05;
        let label = |y: &f64| {
            let row = RowAxis::new(n, 1).row_at(*y);
            row.and_then(|r| self.nodes.get(r)).map(|s| style::shorten(&s.0, 24)).unwrap_or_default()
        };
        let longest = self.nodes.iter().step_by(every).map(|s| style::shorten(&s.0, 24).chars().count()).max();
        let y_desc = match (self.group, every) {
            (1, 1) => "node".to_string(),
            (1, k) => format!("node (creation order; every {k}th named)"),
            (g, _) => format!("nodes, {g} per bar (creation order; mean per node)"),
        };
        let mut chart = ChartBuilder::on(&main)
            .caption(&caption, style::caption_font())
            .margin(style::MARGIN_PX)
            .x_label_area_size(56)
            .y_label_area_size((52 + 9 * longest.unwrap_or(1) as u32).min(270))
            .build_cartesian_2d(0.0..x_max, RowAxis::new(n, every))?;
        let fmt = |v: &f64| style::tick(*v);
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(WHITE)
            .bold_line_style(style::GREY_LIGHT)
            .x_labels(10)
            .x_label_formatter(&fmt)
            .y_label_formatter(&label)
            .x_desc("CPU requests (millicores)")
            .y_desc(y_desc)
            .axis_desc_style(style::desc_font())
            .label_style(style::label_font())
            .draw()?;
        // Bars at most ~36 px thick, so one or two nodes do not become slabs.
        let row_px = f64::from(chart.plotting_area().dim_in_pixel().1) / n as f64;
        let pad = if n <= 60 { (0.5 - 18.0 / row_px.max(1.0)).max(0.15) } else { 0.0 };
        for (r, (_, alloc, per)) in self.nodes.iter().enumerate() {
            let (lo, hi) = chart.as_coord_spec().y_spec().span(r);
            let (y0, y1) = (lo + pad, hi - pad);
            let mut x = 0.0;
            for (i, v) in per.iter().enumerate() {
                if *v > 0.0 {
                    let colour = colour_of(&self.workloads[i], i);
                    chart.draw_series(std::iter::once(Rectangle::new([(x, y0), (x + v, y1)], colour.filled())))?;
                    x += v;
                }
            }
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(*alloc, y0), (*alloc, y1)],
                BLACK.stroke_width(2),
            )))?;
        }
        let mut entries: Vec<Entry> =
            self.workloads.iter().enumerate().map(|(i, w)| Entry::new(w.clone(), colour_of(w, i), Mark::Box)).collect();
        entries.push(Entry::new("allocatable", BLACK, Mark::Line));
        legend::draw(&side, 60, &entries)
    }
}

/// One bar for consecutive nodes `first+1 ..`: the per-node mean of each workload and of allocatable.
fn mean_bar(first: usize, chunk: &[(String, f64, Vec<f64>)]) -> (String, f64, Vec<f64>) {
    let n = chunk.len() as f64;
    let mut per = vec![0.0; chunk.first().map_or(0, |c| c.2.len())];
    for c in chunk {
        for (p, v) in per.iter_mut().zip(&c.2) {
            *p += v / n;
        }
    }
    let alloc = chunk.iter().map(|c| c.1).sum::<f64>() / n;
    (format!("#{}–#{}", first + 1, first + chunk.len()), alloc, per)
}

fn colour_of(workload: &str, i: usize) -> RGBColor {
    if workload == OTHER { style::GREY } else { style::series_colour(i) }
}
