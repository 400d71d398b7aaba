//! Curves of `[openb]` experiments in a sweep: every run's curve in `curves.csv`, their median and quartiles
//! over seeds per point in `curves_summary.csv`, and the paper's comparison figures (`plots/openb_allocation`
//! and `plots/openb_fragmentation`: one line per point, the median over seeds with a band from the 25th to the
//! 75th percentile, as the FGD paper draws them).

use super::Design;
use super::exec::RunRow;
use crate::openb::curve::Point;
use crate::openb::output::{allocation_plot, fragmentation_plot};
use crate::openb::plot::{CurveSeries, plot_curves};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

pub const CURVES_HEADER: &str = "run,point,seed,arrived_pct,gpu_alloc_pct,gpu_frag_pct,gpu_frag_ratio_pct";

/// Whether any run has a curve.
pub fn any(rows: &[RunRow]) -> bool {
    rows.iter().any(|r| !r.curve.is_empty())
}

/// `curves.csv`: one row per run and percent.
pub fn curves_csv(design: &Design, rows: &[RunRow]) -> String {
    let mut s = String::from(CURVES_HEADER);
    s.push('\n');
    for r in rows {
        for p in &r.curve {
            let _ = writeln!(
                s,
                "{},{},{},{},{},{},{}",
                r.index,
                csv_cell(&design.points[r.point].label),
                r.seed,
                p.arrived_pct,
                super::fmt_num(p.gpu_alloc_pct),
                super::fmt_num(p.gpu_frag_pct),
                super::fmt_num(p.gpu_frag_ratio_pct)
            );
        }
    }
    s
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

/// The value at quantile `q` of sorted `xs` with linear interpolation (numpy's default, which the paper's plot
/// scripts use).
pub fn quantile(xs: &[f64], q: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let pos = q * (xs.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    xs[lo] + (xs[hi] - xs[lo]) * (pos - lo as f64)
}

/// Per point and percent: (median, p25, p75) of a curve value over the seeds.
fn bands(design: &Design, rows: &[RunRow], f: fn(&Point) -> f64) -> Vec<BTreeMap<u32, (f64, f64, f64)>> {
    let mut values: Vec<BTreeMap<u32, Vec<f64>>> = vec![BTreeMap::new(); design.points.len()];
    for r in rows {
        for p in &r.curve {
            values[r.point].entry(p.arrived_pct).or_default().push(f(p));
        }
    }
    values
        .into_iter()
        .map(|m| {
            m.into_iter()
                .map(|(x, mut v)| {
                    v.sort_by(f64::total_cmp);
                    (x, (quantile(&v, 0.5), quantile(&v, 0.25), quantile(&v, 0.75)))
                })
                .collect()
        })
        .collect()
}

/// A point's label for a legend: with one parameter, just its value ("fgd" rather than "policy=fgd").
fn short_label(design: &Design, label: &str) -> String {
    match label.split_once('=') {
        Some((_, v)) if design.parameters.len() == 1 => v.to_string(),
        _ => label.to_string(),
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// `curves_summary.csv`: per point and percent, the median and quartiles over seeds.
pub fn summary_csv(design: &Design, rows: &[RunRow]) -> String {
    let alloc = bands(design, rows, |p| p.gpu_alloc_pct);
    let frag = bands(design, rows, |p| p.gpu_frag_pct);
    let mut s = String::from(
        "point,arrived_pct,seeds,gpu_alloc_pct_median,gpu_alloc_pct_p25,gpu_alloc_pct_p75,gpu_frag_pct_median,gpu_frag_pct_p25,gpu_frag_pct_p75\n",
    );
    for (i, point) in design.points.iter().enumerate() {
        for (x, a) in &alloc[i] {
            let g = frag[i].get(x).copied().unwrap_or((f64::NAN, f64::NAN, f64::NAN));
            let n = rows.iter().filter(|r| r.point == i && r.curve.iter().any(|p| p.arrived_pct == *x)).count();
            let _ = writeln!(
                s,
                "{},{x},{n},{},{},{},{},{},{}",
                csv_cell(&point.label),
                super::fmt_num(round2(a.0)),
                super::fmt_num(round2(a.1)),
                super::fmt_num(round2(a.2)),
                super::fmt_num(round2(g.0)),
                super::fmt_num(round2(g.1)),
                super::fmt_num(round2(g.2))
            );
        }
    }
    s
}

/// The two comparison figures in `plots`.
pub fn plot(plots: &Path, design: &Design, rows: &[RunRow]) -> Result<(), String> {
    let series = |f: fn(&Point) -> f64| -> Vec<CurveSeries> {
        bands(design, rows, f)
            .into_iter()
            .zip(&design.points)
            .filter(|(b, _)| !b.is_empty())
            .map(|(b, p)| CurveSeries {
                label: short_label(design, &p.label),
                points: b.into_iter().map(|(x, (m, lo, hi))| (f64::from(x), m, lo, hi)).collect(),
            })
            .collect()
    };
    let seeds = design.seeds.len();
    let alloc = series(|p| p.gpu_alloc_pct);
    let frag = series(|p| p.gpu_frag_pct);
    let band = format!("median and 25-75th percentile over {seeds} seeds");
    let title = format!("{}: GPU allocation, {band}", design.sweep);
    plot_curves(plots, "openb_allocation", &allocation_plot(&title, &alloc, 0.0))?;
    let title = format!("{}: GPU allocation from 70% arrived demand, {band}", design.sweep);
    plot_curves(plots, "openb_allocation_zoom", &allocation_plot(&title, &alloc, 70.0))?;
    let title = format!("{}: GPU fragmentation, {band}", design.sweep);
    plot_curves(plots, "openb_fragmentation", &fragmentation_plot(&title, &frag))
}

/// Reads a shard's `curves.csv` (absent: no curves) into its rows.
pub fn read_into(dir: &Path, rows: &mut [RunRow]) -> Result<(), String> {
    let path = dir.join("curves.csv");
    if !path.exists() {
        return Ok(());
    }
    let shown = path.display().to_string();
    let mut reader =
        csv::ReaderBuilder::new().has_headers(true).from_path(&path).map_err(|e| format!("error: {shown}: {e}"))?;
    let header: Vec<String> =
        reader.headers().map_err(|e| format!("error: {shown}: {e}"))?.iter().map(str::to_string).collect();
    if header.join(",") != CURVES_HEADER {
        return Err(format!("error: {shown}:1: expected the columns {CURVES_HEADER}; found {}", header.join(",")));
    }
    for record in reader.records() {
        let record = record.map_err(|e| format!("error: {shown}: {e}"))?;
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let num = |i: usize| -> Result<f64, String> {
            record
                .get(i)
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|v| v.is_finite())
                .ok_or_else(|| format!("error: {shown}:{line}: column {} ({}) is not a number", i + 1, header[i]))
        };
        let index = num(0)? as usize;
        let Some(row) = rows.iter_mut().find(|r| r.index == index) else {
            return Err(format!("error: {shown}:{line}: run {index} is not in this shard's runs.csv"));
        };
        row.curve.push(Point {
            arrived_pct: num(3)? as u32,
            gpu_alloc_pct: num(4)?,
            gpu_frag_pct: num(5)?,
            gpu_frag_ratio_pct: num(6)?,
            rows: 0,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_linearly() {
        let xs = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&xs, 0.5), 2.5);
        assert_eq!(quantile(&xs, 0.25), 1.75);
        assert_eq!(quantile(&xs, 0.75), 3.25);
        assert_eq!(quantile(&[7.0], 0.25), 7.0);
        assert!(quantile(&[], 0.5).is_nan());
    }
}
