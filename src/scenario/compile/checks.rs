//! Compiling `[[checks]]` (in a scenario, or in a `--checks` file for `kubesim check`) into [`Check`]s.
//!
//! Checks never reach the [`SimConfig`](crate::sim::SimConfig): a run cannot depend on them. Whether a metric
//! exists is only known after a run (per-workload names depend on the scenario), so that is checked by
//! `kubesim check`, which points back here through [`Check::at`].

use super::Compiler;
use crate::check::{Better, Check, ScopedCheck, Tolerance};
use crate::scenario::diag::Diagnostic;
use crate::scenario::schema::{CheckEntry, Sp, ToleranceText};
use std::collections::BTreeSet;

/// Where `[[checks]]` come from: `scenario = "..."` is only meaningful in a check file.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChecksIn {
    Scenario,
    ChecksFile,
}

impl Compiler<'_> {
    pub(crate) fn checks(&mut self, entries: &[Sp<CheckEntry>], within: ChecksIn) -> Vec<ScopedCheck> {
        let mut out = Vec::new();
        let mut seen: BTreeSet<(Option<String>, String)> = BTreeSet::new();
        for entry in entries {
            let e = entry.get_ref();
            let scenario = match (&e.scenario, within) {
                (Some(sc), ChecksIn::Scenario) => {
                    self.err::<()>(
                        sc.span(),
                        "`scenario` belongs in a --checks file; a scenario's own [[checks]] apply to it",
                    );
                    None
                }
                (Some(sc), ChecksIn::ChecksFile) => Some(sc.get_ref().clone()),
                (None, _) => None,
            };
            let metric = self.metric_name(&e.metric);
            let better = self.better(&e.better);
            let tolerance = self.tolerance(e);
            let (Some(metric), Some(better), Some(tolerance)) = (metric, better, tolerance) else { continue };
            if !seen.insert((scenario.clone(), metric.clone())) {
                self.err::<()>(e.metric.span(), format!("metric {metric:?} is checked twice here"));
                continue;
            }
            let at = Diagnostic::at(self.file, self.src, e.metric.span(), "");
            out.push(ScopedCheck { scenario, check: Check { metric, better, tolerance, at: Some(at) } });
        }
        out
    }

    fn metric_name(&mut self, v: &Sp<String>) -> Option<String> {
        let name = v.get_ref();
        let ok = !name.is_empty()
            && name.len() <= 300
            && name.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if !ok {
            return self.err(
                v.span(),
                format!("metric {name:?} is not a summary metric name (see summary.json's \"metrics\")"),
            );
        }
        Some(name.clone())
    }

    fn better(&mut self, v: &Sp<String>) -> Option<Better> {
        match v.get_ref().as_str() {
            "lower" => Some(Better::Lower),
            "higher" => Some(Better::Higher),
            other => self.err(v.span(), format!("better must be \"lower\" or \"higher\", got {other:?}")),
        }
    }

    fn tolerance(&mut self, e: &CheckEntry) -> Option<Tolerance> {
        let min_abs = match &e.min_abs {
            Some(m) if !m.get_ref().is_finite() || *m.get_ref() < 0.0 => {
                return self.err(m.span(), format!("min_abs must be a number >= 0, got {}", m.get_ref()));
            }
            Some(m) => Some((*m.get_ref(), m.span())),
            None => None,
        };
        let Some(t) = &e.tolerance else {
            return Some(match min_abs {
                Some((m, _)) => Tolerance::Relative { fraction: 0.0, min_abs: m },
                None => Tolerance::Absolute(0.0),
            });
        };
        match t.get_ref() {
            ToleranceText::Number(n) => {
                if !n.is_finite() || *n < 0.0 {
                    return self.err(t.span(), format!("tolerance must not be negative, got {n}"));
                }
                if let Some((_, span)) = min_abs {
                    return self.err(
                        span,
                        "min_abs only applies to a relative tolerance (\"10%\"); with an absolute one, raise the tolerance",
                    );
                }
                Some(Tolerance::Absolute(*n))
            }
            ToleranceText::Text(text) => {
                let pct = text.trim().strip_suffix('%').map(|p| p.trim().parse::<f64>());
                match pct {
                    Some(Ok(p)) if p.is_finite() && p >= 0.0 => Some(Tolerance::Relative {
                        fraction: p / 100.0,
                        min_abs: min_abs.map(|(m, _)| m).unwrap_or(0.0),
                    }),
                    Some(Ok(p)) if p < 0.0 => self.err(t.span(), format!("tolerance must not be negative, got {text:?}")),
                    _ => self.err(
                        t.span(),
                        format!(
                            "invalid tolerance {text:?}: write a percentage of the baseline such as \"10%\", or a number (absolute, in the metric's unit) such as 0.5"
                        ),
                    ),
                }
            }
        }
    }
}
