//! The resolved matrix: parameters, points (design rows) and the scenario text of every point.
//!
//! A point's scenario is the base scenario's TOML document with each parameter's value written at its path (an
//! edit of the parsed `toml::Table`, re-serialized), compiled as `"<base file> [<point label>]"` so that the
//! scenario compiler checks every value exactly as it checks a hand-written file. Paths walk tables by key and
//! arrays by index; missing table keys are created (a weight or a preset absent from the base is still
//! sweepable, and a misspelt key is then reported by the scenario compiler as an unknown field); an array index
//! out of range, or a step into a value that is not a table or an array, is an error at the path.

use super::spec::{Source, SweepFile};
use crate::scenario::{Diagnostic, Diagnostics, Scenario};
use serde::Serialize;
use std::ops::Range;

/// Splits `a.b."c.d".0` into its segments; quoted segments may hold dots.
pub fn parse_path(path: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = path.chars().peekable();
    loop {
        let mut seg = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut closed = false;
            for c in chars.by_ref() {
                if c == '"' {
                    closed = true;
                    break;
                }
                seg.push(c);
            }
            if !closed {
                return Err(format!("path {path:?}: unterminated quoted segment"));
            }
            match chars.next() {
                None => {
                    out.push(seg);
                    return Ok(out);
                }
                Some('.') => {}
                Some(c) => return Err(format!("path {path:?}: expected '.' after a quoted segment, found {c:?}")),
            }
        } else {
            let mut end = true;
            for c in chars.by_ref() {
                if c == '.' {
                    end = false;
                    break;
                }
                seg.push(c);
            }
            let seg = seg.trim().to_string();
            if seg.is_empty() {
                return Err(format!(
                    "path {path:?} has an empty segment; expected keys and indices separated by dots, e.g. cluster.node_pools.0.count"
                ));
            }
            out.push(seg);
            if end {
                return Ok(out);
            }
        }
    }
}

/// Writes `value` at `path` in `doc`. Errors say which prefix of the path failed and why.
pub fn set_path(doc: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    let Some((last, init)) = path.split_last() else { return Err("empty path".into()) };
    let mut walked: Vec<&str> = Vec::new();
    let mut cur: Slot = Slot::Table(doc);
    for seg in init {
        walked.push(seg);
        cur = match cur {
            Slot::Table(t) => {
                let next = t.entry(seg.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
                Slot::of(next, &walked.join("."))?
            }
            Slot::Array(a, name) => {
                let i = index(seg, a.len(), &name)?;
                Slot::of(&mut a[i], &walked.join("."))?
            }
        };
    }
    match cur {
        Slot::Table(t) => {
            t.insert(last.clone(), value);
        }
        Slot::Array(a, name) => {
            let i = index(last, a.len(), &name)?;
            a[i] = value;
        }
    }
    Ok(())
}

enum Slot<'a> {
    Table(&'a mut toml::Table),
    Array(&'a mut Vec<toml::Value>, String),
}

impl<'a> Slot<'a> {
    fn of(v: &'a mut toml::Value, name: &str) -> Result<Slot<'a>, String> {
        match v {
            toml::Value::Table(t) => Ok(Slot::Table(t)),
            toml::Value::Array(a) => Ok(Slot::Array(a, name.to_string())),
            other => Err(format!(
                "{name} is {} in the scenario, not a table or an array; the path cannot go further",
                describe(other)
            )),
        }
    }
}

fn index(seg: &str, len: usize, name: &str) -> Result<usize, String> {
    match seg.parse::<usize>() {
        Ok(i) if i < len => Ok(i),
        Ok(i) => Err(format!("index {i} is out of range: {name} has {len} element{}", if len == 1 { "" } else { "s" })),
        Err(_) => Err(format!(
            "{name} is an array in the scenario; expected an index (0 to {}) after it, found {seg:?}",
            len.saturating_sub(1)
        )),
    }
}

fn describe(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => format!("the string {s:?}"),
        toml::Value::Integer(i) => format!("the integer {i}"),
        toml::Value::Float(f) => format!("the number {f}"),
        toml::Value::Boolean(b) => format!("the boolean {b}"),
        toml::Value::Datetime(d) => format!("the datetime {d}"),
        toml::Value::Array(_) => "an array".into(),
        toml::Value::Table(_) => "a table".into(),
    }
}

/// A value as shown in labels and CSV cells: strings bare, numbers and booleans as written, arrays and tables
/// as inline TOML.
pub fn show(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => super::fmt_num(*f),
        toml::Value::Boolean(b) => b.to_string(),
        other => other.to_string(),
    }
}

fn numeric(v: &toml::Value) -> Option<f64> {
    match v {
        toml::Value::Integer(i) => Some(*i as f64),
        toml::Value::Float(f) if f.is_finite() => Some(*f),
        _ => None,
    }
}

/// One axis of the matrix.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Parameter {
    pub name: String,
    pub path: String,
    /// The product's values; empty when `[[points]]` set this parameter.
    pub values: Vec<toml::Value>,
    #[serde(skip)]
    pub segments: Vec<String>,
    /// Where the path is written in the sweep file (for errors about the path itself).
    #[serde(skip)]
    pub path_span: Range<usize>,
}

/// One design point: a value (or the base scenario's) for every parameter.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Point {
    pub label: String,
    /// The `[[points]]` name it came from, if any.
    pub name: Option<String>,
    /// Per parameter (in parameter order): the value set, or None for the base scenario's.
    pub values: Vec<Option<toml::Value>>,
    /// Where each set value is written in the sweep file (for errors).
    #[serde(skip)]
    pub spans: Vec<Option<Range<usize>>>,
    /// Where the point comes from as a whole (its `[[points]]` table or its first value).
    #[serde(skip)]
    pub span: Range<usize>,
    /// The scenario text of this point (the base with the values written in).
    #[serde(skip)]
    pub text: String,
}

impl Point {
    /// The x coordinate when the sweep has one numeric parameter and no named points.
    pub fn x(&self) -> Option<f64> {
        match self.values.as_slice() {
            [Some(v)] if self.name.is_none() => numeric(v),
            _ => None,
        }
    }
}

/// The design: parameters, points, seeds.
#[derive(Clone, Debug)]
pub struct Matrix {
    pub name: String,
    pub description: Option<String>,
    /// The base scenario path as written in the sweep file.
    pub scenario: String,
    /// The base scenario path as opened (relative to the working directory).
    pub scenario_file: String,
    /// FNV-1a 64 of the base scenario's text: shards of one sweep must have run the same scenario.
    pub scenario_fnv64: String,
    pub parameters: Vec<Parameter>,
    pub points: Vec<Point>,
    pub seeds: Vec<u64>,
    /// `metrics = [...]`, with where each name is written.
    pub metrics: Option<Vec<(String, Range<usize>)>>,
}

impl Matrix {
    pub fn runs(&self) -> usize {
        self.points.len() * self.seeds.len()
    }

    /// Run `i` is point `i / seeds`, seed `seeds[i % seeds]`.
    pub fn run(&self, i: usize) -> (usize, u64) {
        (i / self.seeds.len(), self.seeds[i % self.seeds.len()])
    }

    /// True when plots put the single numeric parameter on the x axis.
    pub fn numeric_x(&self) -> bool {
        self.parameters.len() == 1 && self.points.iter().all(|p| p.x().is_some())
    }
}

/// FNV-1a, 64 bits: a stable fingerprint (not a security measure).
pub fn fnv64(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

fn valid_name(n: &str) -> bool {
    !n.is_empty() && n.len() <= 100 && n.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// An explicit design row: its name, the values it sets (with their places), and its own place.
type DesignRow = (Option<String>, Vec<Option<(toml::Value, Range<usize>)>>, Range<usize>);

/// Resolves a parsed sweep file against its base scenario text: names, paths, the design, and each point's
/// scenario text (compiled here once, so a bad value is reported before anything runs).
pub fn resolve(
    src: &Source,
    file: &SweepFile,
    default_name: &str,
    scenario_file: &str,
    base_text: &str,
) -> Result<Matrix, Diagnostics> {
    let section = file.sweep.get_ref();
    let name = match &section.name {
        Some(n) if !valid_name(n.get_ref()) => {
            return src.err(
                n.span(),
                "sweep name must be 1 to 100 characters of letters, digits, '-', '_' or '.' (it names the output directory)",
            );
        }
        Some(n) => n.get_ref().clone(),
        None if valid_name(default_name) => default_name.to_string(),
        None => {
            return src.err(
                file.sweep.span(),
                format!("the file name {default_name:?} cannot name the output directory; set [sweep] name"),
            );
        }
    };
    let seeds = super::spec::seeds(src, section)?;
    let metrics = section.metrics.as_ref().map(|m| m.iter().map(|s| (s.get_ref().clone(), s.span())).collect());
    let mut parameters: Vec<Parameter> = Vec::new();
    let mut param_spans: Vec<Range<usize>> = Vec::new();
    let mut value_spans: Vec<Vec<Range<usize>>> = Vec::new();
    for entry in &file.parameters {
        let e = entry.get_ref();
        let segments = parse_path(e.path.get_ref()).or_else(|m| src.err(e.path.span(), m))?;
        let (pname, name_span) = match &e.name {
            Some(n) => (n.get_ref().clone(), n.span()),
            None => (segments.last().cloned().unwrap_or_default(), e.path.span()),
        };
        if !valid_name(&pname) {
            return src.err(
                name_span,
                format!("parameter name {pname:?} must be letters, digits, '-', '_' or '.'; set `name = \"...\"`"),
            );
        }
        if ["run", "point", "seed"].contains(&pname.as_str()) {
            return src.err(name_span, format!("parameter name {pname:?} is a runs.csv column; choose another `name`"));
        }
        if parameters.iter().any(|p| p.name == pname) {
            return src.err(
                name_span,
                format!("two parameters are named {pname:?}; give one of them another `name = \"...\"`"),
            );
        }
        let (values, spans) = match &e.values {
            Some(v) if v.get_ref().is_empty() => return src.err(v.span(), "values is empty; list at least one"),
            Some(v) => (
                v.get_ref().iter().map(|x| x.get_ref().clone()).collect(),
                v.get_ref().iter().map(|x| x.span()).collect(),
            ),
            None if file.points.is_empty() => {
                return src.err(entry.span(), "this parameter has no `values` (and there are no [[points]] to set it)");
            }
            None => (Vec::new(), Vec::new()),
        };
        parameters.push(Parameter {
            name: pname,
            path: e.path.get_ref().clone(),
            values,
            segments,
            path_span: e.path.span(),
        });
        param_spans.push(entry.span());
        value_spans.push(spans);
    }
    // The explicit rows (one empty row without [[points]]), each crossed with the product.
    let mut rows: Vec<DesignRow> = Vec::new();
    if file.points.is_empty() {
        rows.push((None, vec![None; parameters.len()], 0..0));
    }
    for entry in &file.points {
        let e = entry.get_ref();
        let mut set: Vec<Option<(toml::Value, Range<usize>)>> = vec![None; parameters.len()];
        for (key, value) in &e.set {
            let Some(i) = parameters.iter().position(|p| p.name == *key.get_ref()) else {
                let names: Vec<&str> = parameters.iter().map(|p| p.name.as_str()).collect();
                return src.err(
                    key.span(),
                    format!(
                        "no parameter is named {:?}; declare it in [[parameters]] (without `values`) first; parameters: {}",
                        key.get_ref(),
                        if names.is_empty() { "none".to_string() } else { names.join(", ") }
                    ),
                );
            };
            if !parameters[i].values.is_empty() {
                return src.err(
                    key.span(),
                    format!(
                        "parameter {:?} has `values`, so the product sets it; remove it from this point or its `values`",
                        key.get_ref()
                    ),
                );
            }
            set[i] = Some((value.get_ref().clone(), value.span()));
        }
        if e.name.is_none() && set.iter().all(Option::is_none) {
            return src.err(entry.span(), "a point needs a `name` or a `set` of parameter values");
        }
        if let Some(n) = &e.name
            && (n.get_ref().is_empty() || n.get_ref().contains(','))
        {
            return src.err(n.span(), "a point name must be non-empty and without commas (it starts its label)");
        }
        rows.push((e.name.as_ref().map(|n| n.get_ref().clone()), set, entry.span()));
    }
    for (i, p) in parameters.iter().enumerate() {
        if p.values.is_empty() && !rows.iter().any(|r| r.1[i].is_some()) {
            return src.err(param_spans[i].clone(), format!("no point sets parameter {:?}", p.name));
        }
    }
    let product: Vec<usize> = (0..parameters.len()).filter(|&i| !parameters[i].values.is_empty()).collect();
    let combos: usize = product.iter().map(|&i| parameters[i].values.len()).product();
    let total = rows.len().saturating_mul(combos).saturating_mul(seeds.len());
    if total > super::MAX_RUNS {
        return src.err(
            file.sweep.span(),
            format!("this sweep has {total} runs; the limit is {} (split it into several sweeps)", super::MAX_RUNS),
        );
    }
    let base: toml::Table = toml::from_str(base_text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        Diagnostics(vec![Diagnostic::at(scenario_file, base_text, span, e.message().trim().replace('\n', " "))])
    })?;
    let mut points: Vec<Point> = Vec::new();
    for (name, set, row_span) in &rows {
        for c in 0..combos {
            // Mixed radix, the first product parameter outermost.
            let mut rest = c;
            let mut values: Vec<Option<toml::Value>> = set.iter().map(|s| s.as_ref().map(|(v, _)| v.clone())).collect();
            let mut spans: Vec<Option<Range<usize>>> = set.iter().map(|s| s.as_ref().map(|(_, r)| r.clone())).collect();
            for &i in product.iter().rev() {
                let n = parameters[i].values.len();
                values[i] = Some(parameters[i].values[rest % n].clone());
                spans[i] = Some(value_spans[i][rest % n].clone());
                rest /= n;
            }
            let mut parts: Vec<String> = Vec::new();
            if let Some(n) = name {
                parts.push(n.clone());
            }
            for (i, p) in parameters.iter().enumerate() {
                let from_row = set[i].is_some();
                if let Some(v) = &values[i]
                    && (name.is_none() || !from_row)
                {
                    parts.push(format!("{}={}", p.name, show(v)));
                }
            }
            let label = parts.join(",");
            let span = spans.iter().flatten().next().cloned().filter(|_| name.is_none()).unwrap_or(row_span.clone());
            if let Some(prev) = points.iter().find(|p| p.label == label) {
                return src.err(
                    span,
                    format!(
                        "point {:?} appears twice (a value is repeated, or two points set the same values)",
                        prev.label
                    ),
                );
            }
            points.push(Point { label, name: name.clone(), values, spans, span, text: String::new() });
        }
    }
    for p in &mut points {
        p.text = point_text(src, &base, &parameters, p)?;
        compile_point(src, scenario_file, &base, &parameters, p, seeds[0])?;
    }
    Ok(Matrix {
        name,
        description: section.description.clone(),
        scenario: section.scenario.get_ref().clone(),
        scenario_file: scenario_file.to_string(),
        scenario_fnv64: fnv64(base_text),
        parameters,
        points,
        seeds,
        metrics,
    })
}

/// The base document with the point's values written in.
fn apply(
    base: &toml::Table,
    params: &[Parameter],
    values: &[Option<toml::Value>],
) -> Result<toml::Table, (usize, String)> {
    let mut doc = base.clone();
    for (i, (p, v)) in params.iter().zip(values).enumerate() {
        if let Some(v) = v {
            set_path(&mut doc, &p.segments, v.clone())
                .map_err(|m| (i, format!("parameter {} (path {}): {m}", p.name, p.path)))?;
        }
    }
    Ok(doc)
}

fn point_text(src: &Source, base: &toml::Table, params: &[Parameter], p: &Point) -> Result<String, Diagnostics> {
    let doc =
        apply(base, params, &p.values).map_err(|(i, m)| Diagnostics(vec![src.diag(params[i].path_span.clone(), m)]))?;
    toml::to_string(&doc)
        .map_err(|e| Diagnostics(vec![src.diag(p.span.clone(), format!("cannot write the scenario: {e}"))]))
}

/// The file name scenario errors of a point are reported under. Slashes in the label are replaced so that the
/// scenario's relative paths (trace files) still resolve next to the base file.
pub fn point_file(scenario_file: &str, label: &str) -> String {
    if label.is_empty() {
        return scenario_file.to_string();
    }
    format!("{scenario_file} [{}]", label.replace(['/', '\\'], ":"))
}

/// Compiles a point; on failure, finds the value responsible (the first one that fails on its own) and reports
/// the scenario's errors under it, at its place in the sweep file.
fn compile_point(
    src: &Source,
    scenario_file: &str,
    base: &toml::Table,
    params: &[Parameter],
    p: &Point,
    seed: u64,
) -> Result<(), Diagnostics> {
    let file = point_file(scenario_file, &p.label);
    let Err(errors) = Scenario::compile(&p.text, &file, Some(seed)) else { return Ok(()) };
    let mut culprit: Option<usize> = None;
    for (i, v) in p.values.iter().enumerate() {
        if v.is_none() {
            continue;
        }
        let mut alone = vec![None; params.len()];
        alone[i] = v.clone();
        let fails = match apply(base, params, &alone).ok().and_then(|d| toml::to_string(&d).ok()) {
            Some(text) => Scenario::compile(&text, &file, Some(seed)).is_err(),
            None => true,
        };
        if fails {
            culprit = Some(i);
            break;
        }
    }
    let first = errors.0.first().map(|d| d.message.clone()).unwrap_or_default();
    let head = match culprit {
        Some(i) => {
            let shown = p.values[i].as_ref().map(show).unwrap_or_default();
            src.diag(
                p.spans[i].clone().unwrap_or(p.span.clone()),
                format!("{} = {shown} ({}) makes the scenario invalid: {first}", params[i].name, params[i].path),
            )
        }
        None => src.diag(p.span.clone(), format!("point {:?} makes the scenario invalid: {first}", p.label)),
    };
    let mut all = vec![head];
    all.extend(errors.0);
    Err(Diagnostics(all))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> toml::Table {
        toml::from_str(
            "[scheduler]\npreset = \"default\"\n[[cluster.node_pools]]\nname = \"a\"\ncount = 3\n[images]\n\"r.io/web:1.2\" = \"1G\"\n",
        )
        .unwrap()
    }

    fn set(d: &mut toml::Table, path: &str, v: toml::Value) -> Result<(), String> {
        set_path(d, &parse_path(path)?, v)
    }

    #[test]
    fn paths_split_on_dots_outside_quotes() {
        assert_eq!(parse_path("a.b.0").unwrap(), ["a", "b", "0"]);
        assert_eq!(parse_path("images.\"r.io/web:1.2\"").unwrap(), ["images", "r.io/web:1.2"]);
        assert!(parse_path("a..b").unwrap_err().contains("empty segment"));
        assert!(parse_path("a.\"b").unwrap_err().contains("unterminated"));
        assert!(parse_path("").is_err());
    }

    #[test]
    fn good_paths_set_values() {
        let mut d = doc();
        set(&mut d, "cluster.node_pools.0.count", toml::Value::Integer(7)).unwrap();
        set(&mut d, "scheduler.preset", "binpack".into()).unwrap();
        set(&mut d, "images.\"r.io/web:1.2\"", "2G".into()).unwrap();
        // Missing keys are created: a weight absent from the base scenario can still be swept.
        set(&mut d, "scheduler.profiles_weights.X", toml::Value::Integer(1)).unwrap();
        let text = toml::to_string(&d).unwrap();
        assert!(
            text.contains("count = 7") && text.contains("preset = \"binpack\"") && text.contains("\"2G\""),
            "{text}"
        );
    }

    #[test]
    fn bad_paths_say_why() {
        let mut d = doc();
        let e = set(&mut d, "cluster.node_pools.1.count", toml::Value::Integer(1)).unwrap_err();
        assert!(e.contains("index 1 is out of range: cluster.node_pools has 1 element"), "{e}");
        let e = set(&mut d, "cluster.node_pools.first.count", toml::Value::Integer(1)).unwrap_err();
        assert!(e.contains("expected an index (0 to 0)"), "{e}");
        let e = set(&mut d, "scheduler.preset.x", toml::Value::Integer(1)).unwrap_err();
        assert!(e.contains("scheduler.preset is the string \"default\""), "{e}");
    }

    #[test]
    fn labels_show_values_plainly() {
        assert_eq!(show(&"binpack".into()), "binpack");
        assert_eq!(show(&toml::Value::Float(2.5)), "2.5");
        assert_eq!(show(&toml::Value::Integer(3)), "3");
        assert_eq!(fnv64(""), "cbf29ce484222325");
    }
}
