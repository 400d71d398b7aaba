//! Running the runs of a sweep on a rayon pool of `--jobs` threads.
//!
//! Each run compiles its point's scenario text with its seed and runs it in memory; only the numeric metrics
//! of its summary are kept. `collect` on an indexed parallel iterator keeps the input order, so the rows come
//! back in run order whatever the pool size.

use super::matrix::{Matrix, point_file};
use crate::scenario::Scenario;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::io::IsTerminal;

/// One run's result: its place in the run list and its numeric metrics (rounded to 6 decimals).
#[derive(Clone, Debug, PartialEq)]
pub struct RunRow {
    pub index: usize,
    pub point: usize,
    pub seed: u64,
    pub metrics: BTreeMap<String, f64>,
    /// An `[openb]` experiment's curve (empty for simulations).
    pub curve: Vec<crate::openb::curve::Point>,
}

/// The summary's numeric metrics, rounded as they are written (so that a merge reads back the same values).
pub fn numeric_metrics(metrics: &BTreeMap<String, serde_json::Value>) -> BTreeMap<String, f64> {
    metrics.iter().filter_map(|(k, v)| v.as_f64().filter(|x| x.is_finite()).map(|x| (k.clone(), round(x)))).collect()
}

/// The value [`super::fmt_num`] writes, as a number.
pub fn round(x: f64) -> f64 {
    let r = if x.abs() < 1e15 { (x * 1e6).round() / 1e6 } else { x };
    if r == 0.0 { 0.0 } else { r }
}

fn run_one(m: &Matrix, index: usize) -> Result<RunRow, String> {
    let (point, seed) = m.run(index);
    let p = &m.points[point];
    let file = point_file(&m.scenario_file, &p.label);
    let fail = |msg: String| format!("run {index} (point {:?}, seed {seed}): {msg}", p.label);
    let scenario = Scenario::compile(&p.text, &file, Some(seed)).map_err(|d| fail(d.to_string()))?;
    if let Some(e) = &scenario.openb {
        let r = crate::openb::experiment::run(e, seed).map_err(fail)?;
        let curve = crate::openb::output::run_curve(e, &r);
        let summary = crate::openb::output::summary(scenario.name(), seed, e, &r, &curve);
        return Ok(RunRow { index, point, seed, metrics: numeric_metrics(&summary.metrics), curve });
    }
    let outcome = crate::run::run_in_memory(&scenario, Some(seed)).map_err(fail)?;
    Ok(RunRow { index, point, seed, metrics: numeric_metrics(&outcome.summary.metrics), curve: Vec::new() })
}

/// Runs `indices` (in that order) on `jobs` threads; the first failure in run order is returned.
pub fn execute(m: &Matrix, indices: &[usize], jobs: usize, progress: bool) -> Result<Vec<RunRow>, String> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .build()
        .map_err(|e| format!("cannot start {jobs} worker threads: {e}"))?;
    let bar = if progress && std::io::stderr().is_terminal() {
        ProgressBar::with_draw_target(Some(indices.len() as u64), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} {bar:40} {pos}/{len} runs, {elapsed} elapsed, ~{eta} left")
    {
        bar.set_style(style);
    }
    let results: Vec<Result<RunRow, String>> = pool.install(|| {
        indices
            .par_iter()
            .map(|&i| {
                let r = run_one(m, i);
                bar.inc(1);
                r
            })
            .collect()
    });
    bar.finish_and_clear();
    results.into_iter().collect()
}
