//! `allocation-heatmap`: CPU allocation ratio per node (rows, in creation order) over time (columns).
//!
//! The grid is built from placements.csv by summing each (sample, node)'s workload rows. Large runs are reduced
//! before drawing (nodes grouped into bands, samples into wider columns, each the mean ratio; equal neighbouring
//! cells merged) so that the inline SVG stays a few MB at most; the caption says when nodes were grouped.

use super::inputs::Placement;
use crate::plot::render::{Chart, PlotError, draw_placeholder};
use crate::plot::rows::RowAxis;
use crate::plot::style::{self, TimeUnit};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::collections::BTreeMap;

/// At most this many rows and columns are drawn.
const MAX_ROWS: usize = 150;
const MAX_COLS: usize = 300;
/// Up to this many rows every row gets its node's name.
const LABEL_ALL_ROWS: usize = 40;

/// The reduced grid: `cells[row][col]` is the mean CPU allocation ratio, `None` where no node existed.
pub struct Heatmap {
    /// Row labels (node names, or `#first–#last` for grouped nodes).
    rows: Vec<String>,
    /// Column edges (seconds), `cols + 1` entries.
    edges_s: Vec<f64>,
    cells: Vec<Vec<Option<f64>>>,
    nodes: usize,
    grouped: bool,
}

impl Heatmap {
    pub fn from_placements(rows: &[Placement]) -> Heatmap {
        let mut times: Vec<f64> = rows.iter().map(|r| r.time_s).collect();
        times.sort_by(f64::total_cmp);
        times.dedup();
        let mut index: BTreeMap<&str, usize> = BTreeMap::new();
        let mut names: Vec<String> = Vec::new();
        for r in rows {
            if !index.contains_key(r.node.as_str()) {
                index.insert(&r.node, names.len());
                names.push(r.node.clone());
            }
        }
        // (cpu_millis, allocatable) per [time][node].
        let mut sums = vec![vec![None::<(f64, f64)>; names.len()]; times.len()];
        for r in rows {
            let (Ok(t), Some(&n)) = (times.binary_search_by(|x| x.total_cmp(&r.time_s)), index.get(r.node.as_str()))
            else {
                continue;
            };
            let cell = sums[t][n].get_or_insert((0.0, 0.0));
            cell.0 += r.cpu_millis;
            cell.1 = cell.1.max(r.cpu_millis_allocatable);
        }
        let ratio = |c: Option<(f64, f64)>| c.map(|(u, a)| if a > 0.0 { (u / a).clamp(0.0, 1.0) } else { 0.0 });
        let full: Vec<Vec<Option<f64>>> =
            (0..names.len()).map(|n| sums.iter().map(|s| ratio(s[n])).collect()).collect();
        Self::reduce(names, &times, full)
    }

    /// Groups rows and columns down to the drawing limits.
    fn reduce(names: Vec<String>, times: &[f64], full: Vec<Vec<Option<f64>>>) -> Heatmap {
        let nodes = names.len();
        let row_k = nodes.div_ceil(MAX_ROWS).max(1);
        let col_k = times.len().div_ceil(MAX_COLS).max(1);
        // A sample stands for the time around it: cell edges are the midpoints between samples, clipped to the
        // first and last sample, so the grid covers exactly the run (one lone sample gets one second).
        let mut full_edges: Vec<f64> = Vec::with_capacity(times.len() + 1);
        if let (Some(first), Some(last)) = (times.first(), times.last()) {
            full_edges.push(*first);
            full_edges.extend(times.windows(2).map(|w| (w[0] + w[1]) / 2.0));
            full_edges.push(if times.len() == 1 { last + 1.0 } else { *last });
        }
        let mut edges_s: Vec<f64> = full_edges.iter().step_by(col_k).copied().collect();
        if full_edges.len() > 1 && !(full_edges.len() - 1).is_multiple_of(col_k) {
            edges_s.push(full_edges[full_edges.len() - 1]);
        }
        let mean = |vals: &mut dyn Iterator<Item = Option<f64>>| {
            let (s, n) = vals.flatten().fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
            (n > 0).then(|| s / n as f64)
        };
        let mut cells = Vec::new();
        let mut rows = Vec::new();
        for (b, band) in full.chunks(row_k).enumerate() {
            let row: Vec<Option<f64>> = (0..edges_s.len().saturating_sub(1))
                .map(|c| {
                    let cols = c * col_k..((c + 1) * col_k).min(times.len());
                    mean(&mut band.iter().flat_map(|r| r[cols.clone()].iter().copied()))
                })
                .collect();
            cells.push(row);
            rows.push(if row_k == 1 {
                names[b].clone()
            } else {
                format!("#{}–#{}", b * row_k + 1, (b * row_k + band.len()))
            });
        }
        Heatmap { rows, edges_s, cells, nodes, grouped: row_k > 1 }
    }

    fn label_area_px(&self, every: usize) -> u32 {
        let longest = self.rows.iter().step_by(every.max(1)).map(|r| style::shorten(r, 24).chars().count()).max();
        (24 + 9 * longest.unwrap_or(1) as u32).clamp(60, 240)
    }
}

impl Chart for Heatmap {
    fn size(&self) -> (u32, u32) {
        let rows = self.rows.len() as u32;
        let h = if rows as usize <= LABEL_ALL_ROWS { 170 + 22 * rows } else { 760 };
        (style::WIDTH_PX, h.clamp(420, 1000))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        let caption = "CPU allocation per node (requests / allocatable)";
        if self.rows.is_empty() || self.edges_s.len() < 2 {
            return draw_placeholder(root, caption, "no nodes in placements.csv (or [output] placements = false)");
        }
        let (main, bar) = root.split_horizontally(root.dim_in_pixel().0 - 130);
        let n = self.rows.len();
        let every = if n <= LABEL_ALL_ROWS { 1 } else { n.div_ceil(20) };
        let t0 = self.edges_s[0];
        let unit = TimeUnit::for_span(self.edges_s[self.edges_s.len() - 1] - t0);
        let (x0, x1) = (unit.of(t0), unit.of(self.edges_s[self.edges_s.len() - 1]));
        // The first created node is the top row.
        let axis = RowAxis::new(n, every);
        let label = |y: &f64| {
            let row = RowAxis::new(n, 1).row_at(*y);
            row.and_then(|r| self.rows.get(r)).map(|s| style::shorten(s, 24)).unwrap_or_default()
        };
        let y_desc = match (self.grouped, every) {
            (true, _) => format!("node groups (creation order; {} nodes)", self.nodes),
            (false, 1) => "node (creation order)".to_string(),
            (false, k) => format!("node (creation order; every {k}th named)"),
        };
        let mut chart = ChartBuilder::on(&main)
            .caption(caption, style::caption_font())
            .margin(style::MARGIN_PX)
            .x_label_area_size(56)
            .y_label_area_size(self.label_area_px(every) + 28)
            .build_cartesian_2d(x0..x1, axis)?;
        chart.plotting_area().fill(&style::GREY_LIGHT)?;
        let fmt_x = |v: &f64| style::tick(*v);
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(unit.axis_desc())
            .y_desc(y_desc)
            .axis_desc_style(style::desc_font())
            .label_style(style::label_font())
            .x_label_formatter(&fmt_x)
            .y_label_formatter(&label)
            .x_labels(12)
            .draw()?;
        for (r, row) in self.cells.iter().enumerate() {
            let (y0, y1) = chart.as_coord_spec().y_spec().span(r);
            let mut c = 0;
            while c < row.len() {
                let Some(v) = row[c] else {
                    c += 1;
                    continue;
                };
                // Merge the run of cells drawn in the same (1%-quantised) colour.
                let q = (v * 100.0).round();
                let mut e = c + 1;
                while e < row.len() && row[e].is_some_and(|w| (w * 100.0).round() == q) {
                    e += 1;
                }
                let colour = style::heat_colour(q / 100.0);
                let (xa, xb) = (unit.of(self.edges_s[c]), unit.of(self.edges_s[e]));
                chart.draw_series(std::iter::once(Rectangle::new([(xa, y0), (xb, y1)], colour.filled())))?;
                c = e;
            }
        }
        draw_colour_bar(&bar)
    }
}

/// The 0–100 % colour scale on the right, with a note for grey cells.
fn draw_colour_bar<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
    let mut chart = ChartBuilder::on(area)
        .margin_top(60)
        .margin_bottom(90)
        .margin_right(style::MARGIN_PX)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..1.0, 0.0..100.0)?;
    let fmt = |v: &f64| format!("{}%", style::tick(*v));
    chart
        .configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_labels(6)
        .y_label_formatter(&fmt)
        .label_style(style::label_font())
        .draw()?;
    chart.draw_series((0..100).map(|i| {
        let v = i as f64;
        Rectangle::new([(0.0, v), (1.0, v + 1.0)], style::heat_colour((v + 0.5) / 100.0).filled())
    }))?;
    let h = area.dim_in_pixel().1;
    area.draw(&Rectangle::new([(58, h as i32 - 70), (74, h as i32 - 54)], style::GREY_LIGHT.filled()))?;
    area.draw(&Rectangle::new([(58, h as i32 - 70), (74, h as i32 - 54)], style::GREY))?;
    area.draw_text("no node", &style::small_font().into_text_style(area), (58, h as i32 - 48))?;
    area.draw_text("CPU", &style::label_font().into_text_style(area), (64, 34))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(t: f64, node: &str, workload: &str, cpu: f64) -> Placement {
        Placement {
            time_s: t,
            node: node.into(),
            cpu_millis_allocatable: 1000.0,
            workload: workload.into(),
            pods: 1,
            cpu_millis: cpu,
        }
    }

    #[test]
    fn sums_workloads_and_marks_absent_nodes() {
        let rows = [
            row(0.0, "a", "web", 100.0),
            row(0.0, "a", "x", 200.0),
            row(10.0, "a", "", 0.0),
            row(10.0, "b", "web", 500.0),
        ];
        let h = Heatmap::from_placements(&rows);
        assert_eq!(h.rows, ["a", "b"]);
        assert_eq!(h.edges_s, [0.0, 5.0, 10.0]);
        assert_eq!(h.cells, vec![vec![Some(0.3), Some(0.0)], vec![None, Some(0.5)]]);
    }

    #[test]
    fn large_grids_are_grouped_to_the_drawing_limits() {
        let rows: Vec<Placement> = (0..400)
            .flat_map(|t| {
                (0..310).map(move |n| row(t as f64, &format!("n{n}"), "w", if n % 2 == 0 { 1000.0 } else { 0.0 }))
            })
            .collect();
        let h = Heatmap::from_placements(&rows);
        assert!(h.grouped);
        assert_eq!(h.rows.len(), 104, "310 nodes in bands of 3");
        assert_eq!(h.rows[0], "#1–#3");
        assert_eq!(h.edges_s.len(), 201);
        assert_eq!(h.edges_s[200], 399.0);
        assert_eq!(h.cells[0][0].map(|v| (v * 1e6).round() / 1e6), Some(0.666667));
    }
}
