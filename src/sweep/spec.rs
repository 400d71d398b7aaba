//! The sweep file format (TOML), parsed with positions so that every error can point at the sweep file.
//!
//! ```toml
//! [sweep]
//! name = "binpack-weights"             # optional; default: the file name without .toml
//! scenario = "../binpack-vs-spread.toml"   # the base scenario, relative to this file
//! seeds = 5                            # 5 seeds counted from base_seed (default 1), or a list: [3, 17, 42]
//! metrics = ["cpu_allocation_mean"]    # optional: what to aggregate and plot (default: every numeric metric)
//!
//! [[parameters]]                       # the matrix: the cartesian product of every parameter's values
//! path = "scheduler.profiles.0.weights.NodeResourcesFit"
//! values = [1, 2, 5]
//! name = "fit"                         # optional column and label name (default: the path's last segment)
//!
//! [[points]]                           # optional explicit design rows, crossed with the product
//! name = "small"
//! set = { nodes = 8 }                  # values of parameters declared without `values`
//! ```

use crate::scenario::{Diagnostic, Diagnostics};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::ops::Range;
use toml::Spanned;

/// The largest sweep file read (a sweep file is short; this bounds memory on a wrong path).
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// The whole sweep file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepFile {
    pub sweep: Spanned<SweepSection>,
    #[serde(default)]
    pub parameters: Vec<Spanned<ParameterEntry>>,
    #[serde(default)]
    pub points: Vec<Spanned<PointEntry>>,
}

/// `[sweep]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepSection {
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    #[serde(default)]
    pub description: Option<String>,
    /// The base scenario, relative to the sweep file.
    pub scenario: Spanned<String>,
    /// A count (from `base_seed`) or a list of seeds.
    pub seeds: Spanned<toml::Value>,
    #[serde(default)]
    pub base_seed: Option<Spanned<i64>>,
    #[serde(default)]
    pub metrics: Option<Vec<Spanned<String>>>,
}

/// `[[parameters]]`: one axis of the matrix.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParameterEntry {
    /// Dotted path into the scenario document; array elements by index, keys with dots in double quotes.
    pub path: Spanned<String>,
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    /// The values of the product; absent when `[[points]]` set this parameter.
    #[serde(default)]
    pub values: Option<Spanned<Vec<Spanned<toml::Value>>>>,
}

/// `[[points]]`: an explicit design row.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointEntry {
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    /// Values by parameter name.
    #[serde(default)]
    pub set: BTreeMap<Spanned<String>, Spanned<toml::Value>>,
}

/// Sweep file text and name, for diagnostics.
#[derive(Clone, Debug)]
pub struct Source {
    pub file: String,
    pub text: String,
}

impl Source {
    /// A diagnostic at a byte span of the sweep file.
    pub fn diag(&self, span: Range<usize>, message: impl Into<String>) -> Diagnostic {
        Diagnostic::at(&self.file, &self.text, span, message)
    }

    /// One diagnostic at a span, as an error.
    pub fn err<T>(&self, span: Range<usize>, message: impl Into<String>) -> Result<T, Diagnostics> {
        Err(Diagnostics(vec![self.diag(span, message)]))
    }
}

/// Parses sweep file text.
pub fn parse(src: &Source) -> Result<SweepFile, Diagnostics> {
    toml::from_str(&src.text).map_err(|e| {
        let msg = e.message().trim().replace('\n', " ");
        Diagnostics(vec![src.diag(e.span().unwrap_or(0..0), msg)])
    })
}

/// Reads a sweep file (bounded size, clear message when it is missing or a directory).
pub fn read(path: &std::path::Path) -> Result<Source, Diagnostics> {
    let file = path.display().to_string();
    let whole = |m: String| Diagnostics(vec![Diagnostic::whole_file(&file, m)]);
    let meta = std::fs::metadata(path).map_err(|e| whole(format!("cannot read sweep file: {e}")))?;
    if meta.is_dir() {
        return Err(whole("is a directory, not a sweep file".into()));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(whole(format!("sweep file is {} bytes; the limit is {MAX_FILE_BYTES}", meta.len())));
    }
    let text = std::fs::read_to_string(path).map_err(|e| whole(format!("cannot read sweep file: {e}")))?;
    Ok(Source { file, text })
}

/// The seeds a `seeds` value (and `base_seed`) stands for, in order; every seed distinct.
pub fn seeds(src: &Source, section: &SweepSection) -> Result<Vec<u64>, Diagnostics> {
    let span = section.seeds.span();
    match section.seeds.get_ref() {
        toml::Value::Integer(n) => {
            if !(1..=super::MAX_SEEDS as i64).contains(n) {
                return src.err(span, format!("seeds = {n}: expected a count from 1 to {}", super::MAX_SEEDS));
            }
            let base = match &section.base_seed {
                Some(b) if *b.get_ref() < 0 => {
                    return src.err(b.span(), "base_seed must be a non-negative integer");
                }
                Some(b) => *b.get_ref() as u64,
                None => 1,
            };
            (0..*n as u64)
                .map(|i| base.checked_add(i))
                .collect::<Option<Vec<u64>>>()
                .map_or_else(|| src.err(span, "base_seed + seeds overflows a 64-bit seed"), Ok)
        }
        toml::Value::Array(list) => {
            if let Some(b) = &section.base_seed {
                return src.err(b.span(), "base_seed only applies to a seed count; `seeds` is a list here");
            }
            if list.is_empty() || list.len() > super::MAX_SEEDS {
                return src.err(span, format!("seeds: expected 1 to {} seeds", super::MAX_SEEDS));
            }
            let mut out: Vec<u64> = Vec::with_capacity(list.len());
            for v in list {
                match v {
                    toml::Value::Integer(s) if *s >= 0 => {
                        if out.contains(&(*s as u64)) {
                            return src.err(span, format!("seed {s} is listed twice"));
                        }
                        out.push(*s as u64);
                    }
                    other => {
                        return src.err(span, format!("seeds: {other} is not a non-negative integer"));
                    }
                }
            }
            Ok(out)
        }
        other => src.err(
            span,
            format!("seeds = {other}: expected a count (seeds = 5) or a list of seeds (seeds = [1, 7, 42])"),
        ),
    }
}
