//! Comparing one run's metrics with its baseline: one row per check, then one per other metric that changed.

use super::baseline::Baseline;
use super::rule::{Check, ScopedCheck, Verdict, default_checks};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// One line of the table.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub metric: String,
    pub before: Option<f64>,
    pub after: Option<f64>,
    /// `None` for metrics that are not checked.
    pub tolerance: Option<String>,
    pub better: Option<&'static str>,
    pub verdict: Verdict,
}

/// The comparison of one scenario.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Comparison {
    /// The checked metrics, in declaration order.
    pub checked: Vec<Row>,
    /// Metrics not checked whose value differs from the baseline's (or that the run no longer has).
    pub changed: Vec<Row>,
    /// Metrics the run has and the baseline does not, not checked (recorded by the next `--update`).
    pub unrecorded: Vec<String>,
    /// Checks of metrics the run does not have: bad input, with their declaration when known.
    pub errors: Vec<String>,
}

impl Comparison {
    pub fn failed(&self) -> bool {
        self.checked.iter().any(|r| r.verdict.fails())
    }
}

/// The checks of one scenario: its own `[[checks]]`, overridden or extended by the check file's entries for all
/// scenarios, then by the check file's entries naming it (the more specific declaration wins). With none at
/// all, [`default_checks`].
pub fn checks_for(scenario: &str, own: &[Check], file: &[ScopedCheck]) -> Vec<Check> {
    let mut out: Vec<Check> = own.to_vec();
    let global = file.iter().filter(|c| c.scenario.is_none());
    let scoped = file.iter().filter(|c| c.scenario.as_deref() == Some(scenario));
    for c in global.chain(scoped) {
        match out.iter_mut().find(|o| o.metric == c.check.metric) {
            Some(slot) => *slot = c.check.clone(),
            None => out.push(c.check.clone()),
        }
    }
    if out.is_empty() { default_checks() } else { out }
}

/// Compares a run's `metrics` with the baseline (`None`: there is no baseline file).
pub fn compare(
    scenario: &str,
    checks: &[Check],
    baseline: Option<&Baseline>,
    metrics: &BTreeMap<String, Value>,
) -> Comparison {
    let mut cmp = Comparison::default();
    let before_of = |m: &str| baseline.and_then(|b| b.metrics.get(m)).and_then(|n| n.as_f64());
    for check in checks {
        let Some(after) = metrics.get(&check.metric).and_then(Value::as_f64) else {
            cmp.errors.push(missing_metric(scenario, check, metrics));
            continue;
        };
        let before = before_of(&check.metric);
        let verdict = match (baseline, before) {
            (None, _) => Verdict::MissingBaseline,
            (Some(_), None) => Verdict::New,
            (Some(_), Some(b)) => check.judge(b, after),
        };
        cmp.checked.push(Row {
            metric: check.metric.clone(),
            before,
            after: Some(after),
            tolerance: Some(check.tolerance.describe()),
            better: Some(check.better.as_str()),
            verdict,
        });
    }
    let Some(baseline) = baseline else { return cmp };
    let checked: BTreeSet<&str> = checks.iter().map(|c| c.metric.as_str()).collect();
    let names: BTreeSet<&String> = baseline.metrics.keys().chain(metrics.keys()).collect();
    for name in names.into_iter().filter(|n| !checked.contains(n.as_str())) {
        let before = baseline.metrics.get(name).and_then(|n| n.as_f64());
        let after = metrics.get(name).and_then(Value::as_f64);
        match (before, after) {
            (None, Some(_)) => cmp.unrecorded.push(name.clone()),
            (Some(b), Some(a)) if b == a => {}
            _ => cmp.changed.push(Row {
                metric: name.clone(),
                before,
                after,
                tolerance: None,
                better: None,
                verdict: Verdict::Changed,
            }),
        }
    }
    cmp
}

/// The error for a check of a metric the run's summary does not have: at its declaration when there is one.
fn missing_metric(scenario: &str, check: &Check, metrics: &BTreeMap<String, Value>) -> String {
    let hint = match closest(&check.metric, metrics.keys()) {
        Some(near) => format!("; did you mean {near:?}?"),
        None => String::new(),
    };
    let message = format!(
        "metric {:?} is not in the summary of scenario {scenario:?}{hint} (its metrics are listed in summary.json)",
        check.metric
    );
    match &check.at {
        Some(at) => {
            let mut d = at.clone();
            d.message = message;
            d.to_string()
        }
        None => format!("error: {message} (a default check)"),
    }
}

/// The name nearest to `name` within a third of its length in edits, if any.
fn closest<'a>(name: &str, names: impl Iterator<Item = &'a String>) -> Option<&'a String> {
    let limit = (name.len() / 3).max(1);
    names.map(|n| (edit_distance(name, n), n)).filter(|(d, _)| *d <= limit).min_by_key(|(d, _)| *d).map(|(_, n)| n)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::rule::{Better, Tolerance};
    use serde_json::Number;

    fn metrics(pairs: &[(&str, f64)]) -> BTreeMap<String, Value> {
        pairs.iter().map(|(k, v)| (k.to_string(), Value::from(*v))).collect()
    }

    fn baseline(pairs: &[(&str, f64)]) -> Baseline {
        let metrics =
            pairs.iter().map(|(k, v)| (k.to_string(), Number::from_f64(*v).unwrap_or(Number::from(0)))).collect();
        Baseline { scenario: "s".into(), seed: 1, kubesim_version: "0".into(), metrics }
    }

    #[test]
    fn rows_changes_and_errors() {
        let checks = vec![
            Check::new("lat", Better::Lower, Tolerance::Relative { fraction: 0.1, min_abs: 0.0 }),
            Check::new("fresh", Better::Lower, Tolerance::Absolute(0.0)),
            Check::new("latency_p99", Better::Lower, Tolerance::Absolute(0.0)),
        ];
        let base = baseline(&[("lat", 1.0), ("other", 5.0), ("same", 2.0), ("gone", 1.0)]);
        let now = metrics(&[
            ("lat", 1.2),
            ("fresh", 3.0),
            ("other", 6.0),
            ("same", 2.0),
            ("added", 1.0),
            ("latency_p90", 1.0),
        ]);
        let cmp = compare("s", &checks, Some(&base), &now);
        let verdicts: Vec<_> = cmp.checked.iter().map(|r| (r.metric.as_str(), r.verdict)).collect();
        assert_eq!(verdicts, [("lat", Verdict::Regressed), ("fresh", Verdict::New)]);
        let changed: Vec<_> = cmp.changed.iter().map(|r| (r.metric.as_str(), r.before, r.after)).collect();
        assert_eq!(changed, [("gone", Some(1.0), None), ("other", Some(5.0), Some(6.0))]);
        assert_eq!(cmp.unrecorded, ["added", "latency_p90"]);
        assert_eq!(cmp.errors.len(), 1);
        assert!(cmp.errors[0].contains("\"latency_p99\"") && cmp.errors[0].contains("did you mean \"latency_p90\""));
        assert!(cmp.failed());
        let none = compare("s", &checks[..1], None, &now);
        assert_eq!(none.checked[0].verdict, Verdict::MissingBaseline);
        assert!(none.failed() && none.changed.is_empty());
    }

    #[test]
    fn check_file_entries_override_and_extend() {
        let own = vec![Check::new("a", Better::Lower, Tolerance::Absolute(1.0))];
        let scoped = |s: Option<&str>, m: &str, t: f64| ScopedCheck {
            scenario: s.map(str::to_string),
            check: Check::new(m, Better::Lower, Tolerance::Absolute(t)),
        };
        let file = vec![scoped(Some("x"), "a", 3.0), scoped(None, "a", 2.0), scoped(None, "b", 0.0)];
        let got: Vec<_> = checks_for("x", &own, &file).into_iter().map(|c| (c.metric, c.tolerance)).collect();
        assert_eq!(got, [("a".to_string(), Tolerance::Absolute(3.0)), ("b".to_string(), Tolerance::Absolute(0.0))]);
        let got: Vec<_> = checks_for("y", &own, &file).into_iter().map(|c| c.tolerance).collect();
        assert_eq!(got, [Tolerance::Absolute(2.0), Tolerance::Absolute(0.0)]);
        assert_eq!(checks_for("y", &[], &[]), default_checks());
    }
}
