//! The results of an openb experiment: `summary.json` metrics, `openb_curve.csv`, `openb_pods.csv` and the
//! allocation and fragmentation plots.

use super::curve::{Point, curve};
use super::experiment::{Experiment, RunResult};
use super::plot::{CurvePlot, CurveSeries, plot_curves};
use crate::run::{Summary, VERSION};
use plotters::chart::SeriesLabelPosition;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

pub const CURVE_HEADER: &str = "arrived_pct,gpu_alloc_pct,gpu_frag_pct,gpu_frag_ratio_pct,rows";

/// The last point of the curves: the tuning target in percent.
pub fn max_pct(e: &Experiment) -> u32 {
    (e.tune_ratio * 100.0).round() as u32
}

/// The curve of a run.
pub fn run_curve(e: &Experiment, r: &RunResult) -> Vec<Point> {
    curve(&r.rows, r.total_gpus, max_pct(e))
}

/// A metric value, rounded to 6 decimals as every summary metric is.
fn num(x: f64) -> Value {
    serde_json::Number::from_f64(crate::sweep::exec::round(x)).map_or(Value::Null, Value::Number)
}

/// `summary.json` of a run. The headline metrics are the curve's values at 100% arrived demand (the paper's bar
/// figures), with the values at the end of the run.
pub fn summary(name: &str, seed: u64, e: &Experiment, r: &RunResult, points: &[Point]) -> Summary {
    let mut m: BTreeMap<String, Value> = BTreeMap::new();
    let placed = r.rows.iter().filter(|x| x.placed).count() as u64;
    let failed = r.rows.len() as u64 - placed;
    let at = |x: u32| points.iter().find(|p| p.arrived_pct == x);
    if let Some(p) = at(100) {
        m.insert("gpu_alloc_pct_at_100".into(), num(p.gpu_alloc_pct));
        m.insert("gpu_frag_pct_at_100".into(), num(p.gpu_frag_pct));
        m.insert("gpu_frag_ratio_pct_at_100".into(), num(p.gpu_frag_ratio_pct));
    }
    if let Some(last) = r.rows.last() {
        let total = (r.total_gpus * 1000) as f64;
        m.insert("gpu_alloc_pct_end".into(), num(100.0 * last.used_gpu_milli as f64 / total));
        m.insert("gpu_frag_pct_end".into(), num(100.0 * last.frag_milli / total));
        m.insert("arrived_pct_end".into(), num(100.0 * last.arrived_gpu_milli as f64 / total));
    }
    // The arrived demand when the first pod failed: where the cluster stopped absorbing the workload.
    if let Some(first) = r.rows.iter().find(|x| !x.placed) {
        m.insert(
            "arrived_pct_first_failure".into(),
            num(100.0 * first.arrived_gpu_milli as f64 / (r.total_gpus * 1000) as f64),
        );
    }
    m.insert("gpus".into(), Value::from(r.total_gpus));
    m.insert("pods_original".into(), Value::from(r.pods_original as u64));
    m.insert("pods_submitted".into(), Value::from(r.rows.len() as u64));
    m.insert("pods_scheduled".into(), Value::from(placed));
    m.insert("pods_unschedulable".into(), Value::from(failed));
    m.insert("target_workload_types".into(), Value::from(r.target_types as u64));
    let mut pods = BTreeMap::new();
    pods.insert("Running".to_string(), placed);
    Summary {
        scenario: name.to_string(),
        seed,
        kubesim_version: VERSION.to_string(),
        sim_duration_s: 0.0,
        events_processed: r.rows.len() as u64,
        nodes: e.nodes.len() as u64,
        pods,
        metrics: m,
        pending_reasons: BTreeMap::new(),
        unschedulable_reasons: BTreeMap::new(),
        fault_recovery: Vec::new(),
    }
}

/// `openb_curve.csv`.
pub fn curve_csv(points: &[Point]) -> String {
    let mut s = String::with_capacity(64 * points.len());
    s.push_str(CURVE_HEADER);
    s.push('\n');
    for p in points {
        let _ = writeln!(
            s,
            "{},{},{},{},{}",
            p.arrived_pct,
            crate::sweep::fmt_num(p.gpu_alloc_pct),
            crate::sweep::fmt_num(p.gpu_frag_pct),
            crate::sweep::fmt_num(p.gpu_frag_ratio_pct),
            p.rows
        );
    }
    s
}

/// `openb_pods.csv`: every submitted pod in order, with its node (ranked name; empty when it failed) and the
/// cluster state after it.
pub fn pods_csv(e: &Experiment, r: &RunResult) -> String {
    let mut s = String::with_capacity(80 * r.rows.len());
    s.push_str("order,pod,cpu_millis,gpus,gpu_milli,node,arrived_gpu_milli,used_gpu_milli,frag_gpu_milli\n");
    for (k, ((name, node), row)) in r.placements.iter().zip(&r.rows).enumerate() {
        let pod = &e.pods[r.order[k]];
        let node = node.map(|n| &*r.node_names[n as usize]).unwrap_or("");
        let _ = writeln!(
            s,
            "{k},{name},{},{},{},{node},{},{},{}",
            pod.cpu_millis,
            pod.gpu.count,
            pod.gpu.milli,
            row.arrived_gpu_milli,
            row.used_gpu_milli,
            crate::sweep::fmt_num((row.frag_milli * 1000.0).round() / 1000.0)
        );
    }
    s
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Writes every output of a run into `dir`; returns the summary.
pub fn write_run(dir: &Path, name: &str, seed: u64, e: &Experiment, r: &RunResult) -> Result<Summary, String> {
    let points = run_curve(e, r);
    let summary = summary(name, seed, e, r, &points);
    let mut text = serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())?;
    text.push('\n');
    write(&dir.join("summary.json"), &text)?;
    write(&dir.join("openb_curve.csv"), &curve_csv(&points))?;
    write(&dir.join("openb_pods.csv"), &pods_csv(e, r))?;
    let plots = dir.join("plots");
    std::fs::create_dir_all(&plots).map_err(|e| format!("{}: {e}", plots.display()))?;
    let policy = policy_name(e);
    let one = |f: fn(&Point) -> f64| {
        vec![CurveSeries {
            label: policy.clone(),
            points: points.iter().map(|p| (f64::from(p.arrived_pct), f(p), f(p), f(p))).collect(),
        }]
    };
    let alloc = one(|p| p.gpu_alloc_pct);
    let frag = one(|p| p.gpu_frag_pct);
    let title = format!("{name}: GPU allocation (seed {seed})");
    plot_curves(&plots, "openb_allocation", &allocation_plot(&title, &alloc, 0.0))?;
    let title = format!("{name}: GPU fragmentation (seed {seed})");
    plot_curves(&plots, "openb_fragmentation", &fragmentation_plot(&title, &frag))?;
    Ok(summary)
}

/// The scoring plugin of the profile (for labels), or its scheduler name.
pub fn policy_name(e: &Experiment) -> String {
    let scored: Vec<&str> = e.profile.plugins.iter().filter(|(_, w)| *w > 0).map(|(n, _)| n.as_str()).collect();
    if scored.len() == 1 { scored[0].to_string() } else { e.profile.scheduler_name.clone() }
}

/// The terminal lines of a run.
pub fn terminal_report(s: &Summary, wall_s: f64, out: Option<&Path>) -> String {
    let metric = |k: &str| s.metrics.get(k).and_then(|v| v.as_f64()).unwrap_or(f64::NAN);
    let mut text = format!(
        "kubesim {}: {} (seed {}), openb experiment\n  {} pods on {} nodes ({} GPUs) in {:.3} s wall: {} scheduled, {} unschedulable\n",
        s.kubesim_version,
        s.scenario,
        s.seed,
        crate::run::thousands(s.events_processed),
        crate::run::thousands(s.nodes),
        metric("gpus"),
        wall_s,
        crate::run::thousands(metric("pods_scheduled") as u64),
        crate::run::thousands(metric("pods_unschedulable") as u64),
    );
    text += &format!(
        "  at 100% arrived GPU demand: {:.2}% of GPUs allocated, {:.2}% fragmented; first failure at {:.1}% arrived\n",
        metric("gpu_alloc_pct_at_100"),
        metric("gpu_frag_pct_at_100"),
        metric("arrived_pct_first_failure"),
    );
    if let Some(dir) = out {
        text += &format!("  wrote {}/ (summary.json, openb_curve.csv, openb_pods.csv, plots/)\n", dir.display());
    }
    text
}

/// The allocation figure (from `x_from` percent arrived).
pub fn allocation_plot<'a>(title: &'a str, series: &'a [CurveSeries], x_from: f64) -> CurvePlot<'a> {
    CurvePlot {
        title,
        y_desc: "allocated GPUs (% of all)",
        series,
        diagonal: true,
        x_from,
        legend: if x_from > 0.0 { SeriesLabelPosition::LowerRight } else { SeriesLabelPosition::UpperLeft },
    }
}

/// The fragmentation figure.
pub fn fragmentation_plot<'a>(title: &'a str, series: &'a [CurveSeries]) -> CurvePlot<'a> {
    CurvePlot {
        title,
        y_desc: "fragmented GPUs (% of all)",
        series,
        diagonal: false,
        x_from: 0.0,
        legend: SeriesLabelPosition::LowerLeft,
    }
}
