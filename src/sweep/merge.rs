//! `kubesim merge`: reading shard directories back into one sweep's rows.
//!
//! Every shard's `sweep.json` must describe the same design (points, parameters, seeds, base scenario
//! fingerprint, kubesim version); only `shard` may differ. Every run of the design must appear in exactly one
//! shard's `runs.csv`, in the slice its shard identity says. Rows are read by column name for metrics, so
//! shards that saw different metric sets merge into the union, as one unsharded sweep would write.

use super::Design;
use super::exec::RunRow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One shard directory, read.
struct ShardData {
    dir: PathBuf,
    design: Design,
    rows: Vec<RunRow>,
}

fn read_design(dir: &Path) -> Result<Design, String> {
    let path = dir.join("sweep.json");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!("error: {}: {e} (is {} a `kubesim sweep --shard` output directory?)", path.display(), dir.display())
    })?;
    serde_json::from_str(&text)
        .map_err(|e| format!("error: {}:{}:{}: not a kubesim sweep.json: {e}", path.display(), e.line(), e.column()))
}

fn read_rows(dir: &Path, design: &Design) -> Result<Vec<RunRow>, String> {
    let path = dir.join("runs.csv");
    let shown = path.display().to_string();
    let mut reader =
        csv::ReaderBuilder::new().has_headers(true).from_path(&path).map_err(|e| format!("error: {shown}: {e}"))?;
    let header: Vec<String> =
        reader.headers().map_err(|e| format!("error: {shown}: {e}"))?.iter().map(str::to_string).collect();
    let mut fixed: Vec<String> = vec!["run".into(), "point".into(), "seed".into()];
    fixed.extend(design.parameters.iter().map(|p| p.name.clone()));
    if header.len() < fixed.len() || header[..fixed.len()] != fixed[..] {
        return Err(format!(
            "error: {shown}:1: expected the columns to start with {}; found {}",
            fixed.join(","),
            header.join(",")
        ));
    }
    let metrics = &header[fixed.len()..];
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| format!("error: {shown}: {e}"))?;
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let at =
            |col: usize, msg: String| format!("error: {shown}:{line}: column {} ({}): {msg}", col + 1, header[col]);
        let field = |i: usize| record.get(i).unwrap_or("");
        let index: usize = field(0).parse().map_err(|_| at(0, format!("{:?} is not a run index", field(0))))?;
        if index >= design.runs {
            return Err(at(0, format!("run {index} is beyond the sweep's {} runs", design.runs)));
        }
        let (point, seed) = (index / design.seeds.len(), design.seeds[index % design.seeds.len()]);
        if field(1) != design.points[point].label {
            return Err(at(
                1,
                format!("run {index} should be point {:?}, not {:?}", design.points[point].label, field(1)),
            ));
        }
        if field(2) != seed.to_string() {
            return Err(at(2, format!("run {index} should have seed {seed}, not {:?}", field(2))));
        }
        if let Some(s) = design.shard
            && !s.contains(index)
        {
            return Err(at(0, format!("run {index} does not belong to shard {}/{}", s.index, s.count)));
        }
        let mut values = BTreeMap::new();
        for (j, name) in metrics.iter().enumerate() {
            let col = fixed.len() + j;
            let cell = field(col);
            if cell.is_empty() {
                continue;
            }
            let x: f64 = cell.parse().map_err(|_| at(col, format!("{cell:?} is not a number")))?;
            values.insert(name.clone(), x);
        }
        rows.push(RunRow { index, point, seed, metrics: values, curve: Vec::new() });
    }
    Ok(rows)
}

/// The first field of sweep.json on which two designs differ (ignoring `shard`), with both values when short.
fn difference(a: &Design, b: &Design) -> Option<String> {
    let (va, vb) = (serde_json::to_value(a).unwrap_or_default(), serde_json::to_value(b).unwrap_or_default());
    let fields = [
        "sweep",
        "kubesim_version",
        "scenario",
        "scenario_fnv64",
        "parameters",
        "points",
        "seeds",
        "metrics",
        "runs",
        "description",
    ];
    fields.iter().find(|f| va.get(**f) != vb.get(**f)).map(|f| {
        let show = |v: &serde_json::Value| v.get(*f).map(|x| x.to_string()).unwrap_or_else(|| "absent".into());
        let (x, y) = (show(&va), show(&vb));
        if x.len() + y.len() <= 120 { format!("`{f}` ({x} vs {y})") } else { format!("`{f}`") }
    })
}

fn list(runs: &[usize], design: &Design) -> String {
    let shown: Vec<String> = runs
        .iter()
        .take(10)
        .map(|&r| {
            format!(
                "{r} ({}, seed {})",
                design.points[r / design.seeds.len()].label,
                design.seeds[r % design.seeds.len()]
            )
        })
        .collect();
    let more = if runs.len() > 10 { format!(" and {} more", runs.len() - 10) } else { String::new() };
    format!("{}{more}", shown.join("; "))
}

/// Reads shard directories, checks they are one sweep's complete set of runs, and returns the design (without
/// a shard identity) and every row in run order.
pub fn read_shards(dirs: &[PathBuf]) -> Result<(Design, Vec<RunRow>), String> {
    let mut shards: Vec<ShardData> = Vec::new();
    for dir in dirs {
        let design = read_design(dir)?;
        if let Some(first) = shards.first()
            && let Some(field) = difference(&first.design, &design)
        {
            return Err(format!(
                "error: {} and {} come from different sweeps: their sweep.json differ in {field}",
                first.dir.display(),
                dir.display()
            ));
        }
        let mut rows = read_rows(dir, &design)?;
        super::curves::read_into(dir, &mut rows)?;
        shards.push(ShardData { dir: dir.clone(), design, rows });
    }
    let Some(first) = shards.first() else { return Err("error: no shard directories given".into()) };
    let mut design = first.design.clone();
    design.shard = None;
    let mut owner: Vec<Option<usize>> = vec![None; design.runs];
    let mut duplicates: Vec<String> = Vec::new();
    for (s, shard) in shards.iter().enumerate() {
        for r in &shard.rows {
            match owner[r.index] {
                Some(o) => duplicates.push(format!(
                    "run {} is in both {} and {}",
                    list(&[r.index], &design),
                    shards[o].dir.display(),
                    shard.dir.display()
                )),
                None => owner[r.index] = Some(s),
            }
        }
    }
    if !duplicates.is_empty() {
        let n = duplicates.len();
        duplicates.truncate(5);
        return Err(format!("error: {n} run(s) appear twice: {}", duplicates.join("; ")));
    }
    let missing: Vec<usize> = (0..design.runs).filter(|&r| owner[r].is_none()).collect();
    if !missing.is_empty() {
        let counts: Vec<usize> = shards.iter().filter_map(|s| s.design.shard.map(|x| x.count)).collect();
        let hint = match counts.first() {
            Some(&n) if counts.iter().all(|&c| c == n) => {
                let mut absent: Vec<usize> = missing.iter().map(|r| r % n).collect();
                absent.dedup();
                absent.sort_unstable();
                absent.dedup();
                let names: Vec<String> = absent.iter().map(|i| format!("{i}/{n}")).collect();
                format!(" (shard {} not given?)", names.join(", "))
            }
            _ => String::new(),
        };
        return Err(format!(
            "error: {} of the sweep's {} runs are missing{hint}: {}",
            missing.len(),
            design.runs,
            list(&missing, &design)
        ));
    }
    let mut rows: Vec<RunRow> = shards.into_iter().flat_map(|s| s.rows).collect();
    rows.sort_by_key(|r| r.index);
    Ok((design, rows))
}
