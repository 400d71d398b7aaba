//! The terminal table of `kubesim check`: one per scenario, columns aligned, then one line of counts.

use super::compare::{Comparison, Row};
use super::rule::{Verdict, number};

/// `+0.003 (+13.6%)`, `-18`, `0`; `-` when either side is missing.
pub fn delta(before: Option<f64>, after: Option<f64>) -> String {
    let (Some(b), Some(a)) = (before, after) else { return "-".into() };
    let d = a - b;
    let shown = number(d);
    if shown == "0" {
        return shown;
    }
    let sign = if d > 0.0 { "+" } else { "" };
    if b == 0.0 {
        return format!("{sign}{shown}");
    }
    let pct = 100.0 * d / b.abs();
    let decimals = if pct.abs() < 1.0 { 2 } else { 1 };
    format!("{sign}{shown} ({sign}{pct:.decimals$}%)")
}

fn value(v: Option<f64>) -> String {
    v.map(number).unwrap_or_else(|| "-".into())
}

/// The table of one scenario (checked metrics, then other changes), indented by two spaces.
pub fn table(cmp: &Comparison) -> String {
    if cmp.checked.is_empty() && cmp.changed.is_empty() && cmp.unrecorded.is_empty() {
        return String::new();
    }
    let header = ["metric", "better", "before", "after", "delta", "tolerance", "verdict"].map(String::from);
    let line = |r: &Row| {
        [
            r.metric.clone(),
            r.better.unwrap_or("-").to_string(),
            value(r.before),
            value(r.after),
            delta(r.before, r.after),
            r.tolerance.clone().unwrap_or_else(|| "-".into()),
            r.verdict.as_str().to_string(),
        ]
    };
    let rows: Vec<[String; 7]> =
        std::iter::once(header).chain(cmp.checked.iter().chain(&cmp.changed).map(line)).collect();
    let mut widths = [0usize; 7];
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for r in &rows {
        let cells: Vec<String> = r.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
        out += &format!("  {}\n", cells.join("  ").trim_end());
    }
    if !cmp.unrecorded.is_empty() {
        out += &format!("  not in the baseline (recorded by --update): {}\n", cmp.unrecorded.join(", "));
    }
    out
}

/// Counts over every scenario.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub scenarios: usize,
    pub ok: usize,
    pub improved: usize,
    pub regressed: usize,
    pub new: usize,
    pub missing_baseline: usize,
    pub changed: usize,
    pub run_failures: usize,
    pub errors: usize,
    /// With `--update`: baselines created, updated, unchanged.
    pub updates: Option<[usize; 3]>,
}

impl Totals {
    pub fn add(&mut self, cmp: &Comparison) {
        for r in &cmp.checked {
            match r.verdict {
                Verdict::Ok => self.ok += 1,
                Verdict::Improved => self.improved += 1,
                Verdict::Regressed => self.regressed += 1,
                Verdict::New => self.new += 1,
                Verdict::MissingBaseline => self.missing_baseline += 1,
                Verdict::Changed => {}
            }
        }
        self.changed += cmp.changed.len();
        self.errors += cmp.errors.len();
    }

    pub fn failed(&self) -> bool {
        self.regressed + self.missing_baseline + self.run_failures + self.errors > 0
    }

    /// Counts a baseline with `--update`: 0 created, 1 updated, 2 unchanged.
    pub fn count_update(&mut self, what: usize) {
        if let Some(u) = &mut self.updates
            && let Some(n) = u.get_mut(what)
        {
            *n += 1;
        }
    }

    /// The final line.
    pub fn line(&self) -> String {
        if let Some([created, updated, unchanged]) = self.updates {
            let mut text = format!(
                "update {}: {} scenario{}: {created} baseline{} created, {updated} updated, {unchanged} unchanged",
                if self.failed() { "FAILED" } else { "done" },
                self.scenarios,
                if self.scenarios == 1 { "" } else { "s" },
                if created == 1 { "" } else { "s" },
            );
            text += &self.problems();
            return text;
        }
        let checks = self.ok + self.improved + self.regressed + self.new + self.missing_baseline;
        let mut text = format!(
            "check {}: {} scenario{}, {checks} checks: {} ok, {} improved, {} REGRESSED, {} new, {} missing baseline; {} unchecked metric{} changed",
            if self.failed() { "FAILED" } else { "passed" },
            self.scenarios,
            if self.scenarios == 1 { "" } else { "s" },
            self.ok,
            self.improved,
            self.regressed,
            self.new,
            self.missing_baseline,
            self.changed,
            if self.changed == 1 { "" } else { "s" },
        );
        text += &self.problems();
        text
    }

    fn problems(&self) -> String {
        let mut text = String::new();
        if self.run_failures > 0 {
            text += &format!("; {} run{} failed", self.run_failures, if self.run_failures == 1 { "" } else { "s" });
        }
        if self.errors > 0 {
            text += &format!("; {} bad check{}", self.errors, if self.errors == 1 { "" } else { "s" });
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas() {
        assert_eq!(delta(Some(0.022), Some(0.025)), "+0.003 (+13.6%)");
        assert_eq!(delta(Some(542.0), Some(524.0)), "-18 (-3.3%)");
        assert_eq!(delta(Some(1.0), Some(1.0)), "0");
        assert_eq!(delta(Some(6.025), Some(6.022)), "-0.003 (-0.05%)");
        assert_eq!(delta(Some(0.0), Some(2.0)), "+2");
        assert_eq!(delta(None, Some(2.0)), "-");
    }

    #[test]
    fn columns_align() {
        let row = |m: &str, b: f64, a: f64, v| Row {
            metric: m.into(),
            before: Some(b),
            after: Some(a),
            tolerance: Some("10%".into()),
            better: Some("lower"),
            verdict: v,
        };
        let cmp = Comparison {
            checked: vec![row("a", 1.0, 1.0, Verdict::Ok), row("longer_name", 1.0, 2.0, Verdict::Regressed)],
            ..Default::default()
        };
        let t = table(&cmp);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0].find("before"), lines[2].find("1 "), "{t}");
        assert!(lines[2].ends_with("REGRESSED"), "{t}");
    }
}
