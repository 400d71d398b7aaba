//! Parameter sweeps: one base scenario, a matrix of overrides, several seeds per point, run in parallel and
//! summarized with confidence intervals (`kubesim sweep`), optionally split into shards run on several machines
//! and merged afterwards (`kubesim merge`).
//!
//! - [`spec`]: the sweep file format; [`matrix`]: the design and the scenario override of every point;
//! - [`exec`]: running the runs on a rayon pool; [`aggregate`]: statistics;
//! - [`output`]: `runs.csv`, `aggregate.csv`, `sweep.json` and the atomic output directory; [`plot`]: plots;
//! - [`merge`]: reading shard directories back.
//!
//! Determinism: the run list is fixed by the sweep file (point-major, then seed); results are collected in that
//! order whatever the pool size, aggregated sequentially, and every float is written rounded to 6 decimals in
//! its shortest form, which reads back to the same value. So `--jobs` never changes a byte, and shards merged
//! give the files an unsharded sweep writes.

pub mod aggregate;
pub mod curves;
pub mod exec;
pub mod matrix;
pub mod merge;
pub mod output;
pub mod plot;
pub mod spec;

use crate::scenario::{Diagnostic, Diagnostics};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

pub use matrix::Matrix;

/// The most seeds a sweep file may list or count.
pub const MAX_SEEDS: usize = 100_000;
/// The most runs (points x seeds) one sweep may have.
pub const MAX_RUNS: usize = 1_000_000;

/// Rounds to 6 decimals and prints the shortest text that reads back to that value ("0.5", "12", "-3.25");
/// `-0` prints as `0`. Non-finite values print as an empty cell.
pub fn fmt_num(x: f64) -> String {
    if !x.is_finite() {
        return String::new();
    }
    let r = if x.abs() < 1e15 { (x * 1e6).round() / 1e6 } else { x };
    if r == 0.0 { "0".to_string() } else { format!("{r}") }
}

/// Which slice of the run list a process runs: runs whose index % count == index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

/// The environment variable a Kubernetes Indexed Job sets to each pod's completion index.
pub const SHARD_INDEX_ENV: &str = "JOB_COMPLETION_INDEX";

impl Shard {
    /// Parses `I/N` (0-based I < N) or `auto/N`, which takes I from `$JOB_COMPLETION_INDEX`.
    pub fn parse(text: &str, env: Option<&str>) -> Result<Shard, String> {
        let usage = || format!("--shard {text:?}: expected I/N with 0 <= I < N (e.g. 0/4), or auto/N");
        let (i, n) = text.split_once('/').ok_or_else(usage)?;
        let count: usize = n.trim().parse().map_err(|_| usage())?;
        if count == 0 {
            return Err(format!("--shard {text:?}: the shard count must be at least 1"));
        }
        let index: usize = if i.trim() == "auto" {
            let v = env.ok_or_else(|| {
                format!("--shard {text:?}: auto needs ${SHARD_INDEX_ENV} (set by a Kubernetes Indexed Job)")
            })?;
            v.trim().parse().map_err(|_| format!("${SHARD_INDEX_ENV} = {v:?} is not a shard index"))?
        } else {
            i.trim().parse().map_err(|_| usage())?
        };
        if index >= count {
            return Err(format!(
                "--shard {text:?}: shard index {index} is not below the count {count} (indices are 0-based)"
            ));
        }
        Ok(Shard { index, count })
    }

    pub fn contains(&self, run: usize) -> bool {
        run % self.count == self.index
    }
}

/// A parameter as written into `sweep.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParameterJson {
    pub name: String,
    pub path: String,
    /// The product's values; empty when `[[points]]` set it.
    pub values: Vec<toml::Value>,
}

/// A point as written into `sweep.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PointJson {
    pub label: String,
    #[serde(default)]
    pub name: Option<String>,
    /// The values set, by parameter name (parameters left at the base scenario's value are absent).
    pub values: BTreeMap<String, toml::Value>,
}

/// `sweep.json`: the resolved design. Everything the outputs are computed from, so that `kubesim merge` needs
/// only the shard directories.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Design {
    pub sweep: String,
    #[serde(default)]
    pub description: Option<String>,
    pub kubesim_version: String,
    /// The base scenario as the sweep file names it.
    pub scenario: String,
    /// FNV-1a 64 of the base scenario's text.
    pub scenario_fnv64: String,
    pub parameters: Vec<ParameterJson>,
    pub points: Vec<PointJson>,
    pub seeds: Vec<u64>,
    /// `metrics = [...]` of the sweep file (null: every numeric metric).
    pub metrics: Option<Vec<String>>,
    /// Points x seeds; run r is point r / seeds, seed seeds[r % seeds].
    pub runs: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
}

impl Design {
    /// The value of parameter `p` at point `i` as a CSV cell ("" for the base scenario's value).
    pub fn cell(&self, i: usize, p: usize) -> String {
        self.points[i].values.get(&self.parameters[p].name).map(matrix::show).unwrap_or_default()
    }

    /// x coordinates when there is exactly one parameter, numeric at every point, and no named points.
    pub fn numeric_x(&self) -> Option<Vec<f64>> {
        if self.parameters.len() != 1 {
            return None;
        }
        let name = &self.parameters[0].name;
        self.points
            .iter()
            .map(|p| match (p.name.as_ref(), p.values.get(name)) {
                (None, Some(toml::Value::Integer(i))) => Some(*i as f64),
                (None, Some(toml::Value::Float(f))) if f.is_finite() => Some(*f),
                _ => None,
            })
            .collect()
    }
}

impl Matrix {
    /// The design as written into `sweep.json`.
    pub fn design(&self, shard: Option<Shard>) -> Design {
        Design {
            sweep: self.name.clone(),
            description: self.description.clone(),
            kubesim_version: crate::run::VERSION.to_string(),
            scenario: self.scenario.clone(),
            scenario_fnv64: self.scenario_fnv64.clone(),
            parameters: self
                .parameters
                .iter()
                .map(|p| ParameterJson { name: p.name.clone(), path: p.path.clone(), values: p.values.clone() })
                .collect(),
            points: self
                .points
                .iter()
                .map(|pt| PointJson {
                    label: pt.label.clone(),
                    name: pt.name.clone(),
                    values: self
                        .parameters
                        .iter()
                        .zip(&pt.values)
                        .filter_map(|(p, v)| v.clone().map(|v| (p.name.clone(), v)))
                        .collect(),
                })
                .collect(),
            seeds: self.seeds.clone(),
            metrics: self.metrics.as_ref().map(|m| m.iter().map(|(n, _)| n.clone()).collect()),
            runs: self.runs(),
            shard,
        }
    }
}

/// Reads a sweep file and its base scenario and resolves the design (compiling every point once).
pub fn load(path: &Path) -> Result<(Matrix, spec::Source), Diagnostics> {
    let src = spec::read(path)?;
    let file = spec::parse(&src)?;
    let rel = file.sweep.get_ref().scenario.get_ref();
    let dir = path.parent().unwrap_or(Path::new(""));
    let scenario_path = dir.join(rel);
    let scenario_file = scenario_path.display().to_string();
    let span = file.sweep.get_ref().scenario.span();
    let base_text = match std::fs::metadata(&scenario_path) {
        Ok(m) if m.is_dir() => return src.err(span, format!("{scenario_file} is a directory, not a scenario file")),
        Ok(m) if m.len() > crate::scenario::limits::MAX_FILE_BYTES => {
            return src.err(
                span,
                format!(
                    "{scenario_file} is {} bytes; the limit is {}",
                    m.len(),
                    crate::scenario::limits::MAX_FILE_BYTES
                ),
            );
        }
        Ok(_) => std::fs::read_to_string(&scenario_path)
            .or_else(|e| src.err(span.clone(), format!("cannot read the base scenario {scenario_file}: {e}")))?,
        Err(e) => {
            return src.err(
                span,
                format!("cannot read the base scenario {scenario_file} (paths are relative to the sweep file): {e}"),
            );
        }
    };
    let stem = path.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
    let matrix = matrix::resolve(&src, &file, &stem, &scenario_file, &base_text)?;
    Ok((matrix, src))
}

/// Checks `metrics = [...]` against the metrics the runs reported: a name no run reported is an error at its
/// place in the sweep file.
pub fn check_metrics(src: &spec::Source, m: &Matrix, present: &[String]) -> Result<(), Diagnostics> {
    let Some(wanted) = &m.metrics else { return Ok(()) };
    let errors: Vec<Diagnostic> = wanted
        .iter()
        .filter(|(n, _)| !present.contains(n))
        .map(|(n, span)| {
            src.diag(
                span.clone(),
                format!("no run reported a metric named {n:?}; the runs reported: {}", present.join(", ")),
            )
        })
        .collect();
    if errors.is_empty() { Ok(()) } else { Err(Diagnostics(errors)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_rounded_and_stable() {
        assert_eq!(fmt_num(0.1234567), "0.123457");
        assert_eq!(fmt_num(12.0), "12");
        assert_eq!(fmt_num(-0.0000001), "0");
        assert_eq!(fmt_num(f64::NAN), "");
        for x in [0.456536, 3.5, 1e-6, 123456.789012] {
            let text = fmt_num(x);
            assert_eq!(fmt_num(text.parse::<f64>().unwrap()), text);
        }
    }

    #[test]
    fn shards_parse() {
        assert_eq!(Shard::parse("1/3", None), Ok(Shard { index: 1, count: 3 }));
        assert_eq!(Shard::parse("auto/4", Some("3")), Ok(Shard { index: 3, count: 4 }));
        assert!(Shard::parse("auto/4", None).unwrap_err().contains("JOB_COMPLETION_INDEX"));
        assert!(Shard::parse("4/4", None).unwrap_err().contains("not below"));
        assert!(Shard::parse("1/0", None).is_err());
        assert!(Shard::parse("x", None).is_err());
        assert!(Shard { index: 1, count: 3 }.contains(4));
    }
}
