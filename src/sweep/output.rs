//! The files a sweep writes, and the output directory's atomic replacement.
//!
//! - `runs.csv`: `run,point,seed,<parameter>...,<metric>...`: one row per run, in run order; metric columns
//!   are every numeric metric any run reported, sorted by name; an empty cell is a metric that run lacked.
//! - `aggregate.csv`: `point,<parameter>...,metric,n,mean,stdev,ci95,min,max`: one row per point and
//!   aggregated metric (see [`super::aggregate`]); empty cells where a statistic is undefined (n < 2).
//! - `sweep.json`: the [`Design`]; in a shard directory also `shard`.
//! - `plots/<metric>.svg` and `.png`.
//!
//! A shard directory holds only `runs.csv` (its runs) and `sweep.json`.

use super::aggregate::stats;
use super::exec::RunRow;
use super::{Design, fmt_num};
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// Names a sweep output directory may hold; anything else makes kubesim refuse to replace it.
pub const OUTPUT_ENTRIES: &[&str] =
    &["runs.csv", "aggregate.csv", "sweep.json", "plots", "curves.csv", "curves_summary.csv"];

fn io(path: &Path) -> impl Fn(std::io::Error) -> String + '_ {
    move |e| format!("error: {}: {e}", path.display())
}

/// Every metric any row reported, sorted.
pub fn metric_columns(rows: &[RunRow]) -> Vec<String> {
    let set: BTreeSet<&String> = rows.iter().flat_map(|r| r.metrics.keys()).collect();
    set.into_iter().cloned().collect()
}

/// What aggregate.csv and the plots cover: the sweep file's `metrics`, else every column.
pub fn aggregated_metrics(design: &Design, columns: &[String]) -> Vec<String> {
    design.metrics.clone().unwrap_or_else(|| columns.to_vec())
}

fn csv_text(header: Vec<String>, rows: Vec<Vec<String>>) -> Result<String, String> {
    let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(Vec::new());
    w.write_record(&header).map_err(|e| e.to_string())?;
    for r in rows {
        w.write_record(&r).map_err(|e| e.to_string())?;
    }
    let bytes = w.into_inner().map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|e| e.to_string())
}

/// `runs.csv`.
pub fn runs_csv(design: &Design, rows: &[RunRow], columns: &[String]) -> Result<String, String> {
    let mut header: Vec<String> = vec!["run".into(), "point".into(), "seed".into()];
    header.extend(design.parameters.iter().map(|p| p.name.clone()));
    header.extend(columns.iter().cloned());
    let body = rows
        .iter()
        .map(|r| {
            let mut cells = vec![r.index.to_string(), design.points[r.point].label.clone(), r.seed.to_string()];
            cells.extend((0..design.parameters.len()).map(|p| design.cell(r.point, p)));
            cells.extend(columns.iter().map(|c| r.metrics.get(c).map(|x| fmt_num(*x)).unwrap_or_default()));
            cells
        })
        .collect();
    csv_text(header, body)
}

/// Per point and metric, the values in seed order.
pub fn samples(design: &Design, rows: &[RunRow], metric: &str) -> Vec<Vec<f64>> {
    let mut out = vec![Vec::new(); design.points.len()];
    for r in rows {
        if let Some(x) = r.metrics.get(metric) {
            out[r.point].push(*x);
        }
    }
    out
}

/// `aggregate.csv`.
pub fn aggregate_csv(design: &Design, rows: &[RunRow], metrics: &[String]) -> Result<String, String> {
    let mut header: Vec<String> = vec!["point".into()];
    header.extend(design.parameters.iter().map(|p| p.name.clone()));
    for h in ["metric", "n", "mean", "stdev", "ci95", "min", "max"] {
        header.push(h.into());
    }
    let opt = |x: Option<f64>| x.map(fmt_num).unwrap_or_default();
    let mut body = Vec::new();
    let per_metric: Vec<Vec<Vec<f64>>> = metrics.iter().map(|m| samples(design, rows, m)).collect();
    for (i, point) in design.points.iter().enumerate() {
        for (m, name) in metrics.iter().enumerate() {
            let mut cells = vec![point.label.clone()];
            cells.extend((0..design.parameters.len()).map(|p| design.cell(i, p)));
            cells.push(name.clone());
            match stats(&per_metric[m][i]) {
                Some(s) => cells.extend([
                    s.n.to_string(),
                    fmt_num(s.mean),
                    opt(s.stdev),
                    opt(s.ci95),
                    fmt_num(s.min),
                    fmt_num(s.max),
                ]),
                None => cells.extend([
                    "0".to_string(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                ]),
            }
            body.push(cells);
        }
    }
    csv_text(header, body)
}

/// `sweep.json`.
pub fn sweep_json(design: &Design) -> Result<String, String> {
    let mut text = serde_json::to_string_pretty(design).map_err(|e| e.to_string())?;
    text.push('\n');
    Ok(text)
}

/// Writes the complete outputs of a sweep (all its runs) into `dir`.
pub fn write_full(dir: &Path, design: &Design, rows: &[RunRow]) -> Result<usize, String> {
    let columns = metric_columns(rows);
    let metrics = aggregated_metrics(design, &columns);
    let write = |name: &str, text: Result<String, String>| -> Result<(), String> {
        let path = dir.join(name);
        let text = text.map_err(|e| format!("error: {}: {e}", path.display()))?;
        fs::write(&path, text).map_err(io(&path))
    };
    write("runs.csv", runs_csv(design, rows, &columns))?;
    write("aggregate.csv", aggregate_csv(design, rows, &metrics))?;
    write("sweep.json", sweep_json(design))?;
    let plots = dir.join("plots");
    fs::create_dir(&plots).map_err(io(&plots))?;
    for m in &metrics {
        super::plot::plot_metric(&plots, design, rows, m)?;
    }
    if super::curves::any(rows) {
        write("curves.csv", Ok(super::curves::curves_csv(design, rows)))?;
        write("curves_summary.csv", Ok(super::curves::summary_csv(design, rows)))?;
        super::curves::plot(&plots, design, rows)?;
    }
    Ok(metrics.len())
}

/// Writes a shard's outputs: its rows of `runs.csv` and `sweep.json` with the shard identity.
pub fn write_shard(dir: &Path, design: &Design, rows: &[RunRow]) -> Result<(), String> {
    let columns = metric_columns(rows);
    for (name, text) in [("runs.csv", runs_csv(design, rows, &columns)), ("sweep.json", sweep_json(design))] {
        let path = dir.join(name);
        let text = text.map_err(|e| format!("error: {}: {e}", path.display()))?;
        fs::write(&path, text).map_err(io(&path))?;
    }
    if super::curves::any(rows) {
        let path = dir.join("curves.csv");
        fs::write(&path, super::curves::curves_csv(design, rows)).map_err(io(&path))?;
    }
    Ok(())
}

/// Checks that `out` is absent, or a directory kubesim may replace (only sweep outputs in it).
fn check_replaceable(out: &Path) -> Result<(), String> {
    let refuse = |why: String| format!("error: output directory {}: {why}", out.display());
    let Ok(meta) = fs::symlink_metadata(out) else { return Ok(()) };
    if !meta.is_dir() {
        return Err(refuse("it exists and is not a directory; choose another --out".into()));
    }
    for entry in fs::read_dir(out).map_err(io(out))? {
        let entry = entry.map_err(io(out))?;
        let name = entry.file_name().to_string_lossy().to_string();
        let ok = OUTPUT_ENTRIES.contains(&name.as_str()) && (name != "plots" || plots_only(&entry.path()));
        if !ok {
            return Err(refuse(format!(
                "it contains {name:?}, which kubesim sweep did not write; refusing to replace it (choose another --out)"
            )));
        }
    }
    Ok(())
}

fn plots_only(dir: &Path) -> bool {
    let Ok(entries) = fs::read_dir(dir) else { return false };
    entries.flatten().all(|e| {
        let n = e.file_name().to_string_lossy().to_string();
        e.path().is_file() && (n.ends_with(".svg") || n.ends_with(".png"))
    })
}

/// Writes into a hidden temporary directory next to `out` with `fill`, then renames it into place, so that a
/// failure never leaves a half-written directory and success replaces the previous results.
pub fn write_atomically<T>(out: &Path, fill: impl FnOnce(&Path) -> Result<T, String>) -> Result<T, String> {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if let Err(e) = fs::create_dir_all(&parent) {
        let blocker = parent.ancestors().find(|a| a.exists() && !a.is_dir());
        return Err(match blocker {
            Some(b) => format!("error: output directory {}: {} is not a directory", out.display(), b.display()),
            None => format!("error: {}: {e}", parent.display()),
        });
    }
    check_replaceable(out)?;
    crate::run::swap_into_place(&parent, out, fill, |path, e| format!("error: {}: {e}", path.display()))
}
