//! One regression check: a summary metric, which direction is better, and how much worse it may get before
//! `kubesim check` fails. The arithmetic lives here, apart from running and printing, so it can be tested as
//! tables.

use crate::scenario::Diagnostic;

/// Which direction of change is an improvement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    Lower,
    Higher,
}

impl Better {
    pub fn as_str(self) -> &'static str {
        match self {
            Better::Lower => "lower",
            Better::Higher => "higher",
        }
    }
}

/// How much worse than the baseline a metric may get.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Tolerance {
    /// A fraction of the baseline's magnitude (`"10%"` is 0.1), but never less than `min_abs`: without a floor, a
    /// relative tolerance of a baseline of 0 is 0, and any change at all would fail.
    Relative { fraction: f64, min_abs: f64 },
    /// In the metric's own unit (`0.02` of an allocation ratio, `3` pods).
    Absolute(f64),
}

impl Tolerance {
    /// The largest worsening that still passes, given the baseline value.
    pub fn allowed(&self, before: f64) -> f64 {
        match *self {
            Tolerance::Relative { fraction, min_abs } => (fraction * before.abs()).max(min_abs),
            Tolerance::Absolute(a) => a,
        }
    }

    /// As a user would write it: `10%`, `10% (min 0.01)`, `0.02`.
    pub fn describe(&self) -> String {
        match *self {
            Tolerance::Relative { fraction, min_abs } if min_abs > 0.0 => {
                format!("{}% (min {})", number(fraction * 100.0), number(min_abs))
            }
            Tolerance::Relative { fraction, .. } => format!("{}%", number(fraction * 100.0)),
            Tolerance::Absolute(a) => number(a),
        }
    }
}

/// A number with at most 6 decimals (summary metrics are rounded to 6) and no trailing zeros.
pub fn number(x: f64) -> String {
    let s = format!("{:.6}", (x * 1e6).round() / 1e6);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".to_string() } else { s.to_string() }
}

/// A compiled check.
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    pub metric: String,
    pub better: Better,
    pub tolerance: Tolerance,
    /// Where it was declared: a diagnostic pointing at the metric name (its message is set when the metric turns
    /// out not to exist). `None` for the default checks.
    pub at: Option<Diagnostic>,
}

/// An entry of a `--checks` file: for the scenario it names, or for every scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct ScopedCheck {
    pub scenario: Option<String>,
    pub check: Check,
}

/// The outcome of one comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Unchanged, or worse by no more than the tolerance.
    Ok,
    /// Better than the baseline (by any amount: the simulator is deterministic, so every change is real).
    Improved,
    /// Worse than the baseline by more than the tolerance.
    Regressed,
    /// The baseline has no value for the metric (it was added after the baseline was written).
    New,
    /// There is no baseline file for the scenario.
    MissingBaseline,
    /// Not checked, but different from the baseline (reported, never a failure).
    Changed,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Improved => "improved",
            Verdict::Regressed => "REGRESSED",
            Verdict::New => "new",
            Verdict::MissingBaseline => "missing baseline",
            Verdict::Changed => "changed",
        }
    }

    pub fn fails(self) -> bool {
        matches!(self, Verdict::Regressed | Verdict::MissingBaseline)
    }
}

impl Check {
    /// A check without a declaration site (the defaults, tests).
    pub fn new(metric: &str, better: Better, tolerance: Tolerance) -> Check {
        Check { metric: metric.to_string(), better, tolerance, at: None }
    }

    /// Compares the current value with the baseline's. A worsening of exactly the tolerance passes; float noise
    /// far below the metrics' 6 decimals is ignored.
    pub fn judge(&self, before: f64, after: f64) -> Verdict {
        let worse_by = match self.better {
            Better::Lower => after - before,
            Better::Higher => before - after,
        };
        let eps = 1e-9 * (1.0 + before.abs().max(after.abs()));
        if worse_by > self.tolerance.allowed(before) + eps {
            Verdict::Regressed
        } else if worse_by < -eps {
            Verdict::Improved
        } else {
            Verdict::Ok
        }
    }
}

/// The checks used for a scenario that declares none (and gets none from a `--checks` file): the tail latencies
/// a user feels, pods left waiting, and how well the cluster is used. Latencies get 10% with a floor (1 ms of
/// scheduling, 100 ms of startup) so that runs where they are near zero do not fail on a tiny change; pending pods
/// may not grow at all; allocation may drop by 2 percentage points.
pub fn default_checks() -> Vec<Check> {
    let rel = |fraction: f64, min_abs: f64| Tolerance::Relative { fraction, min_abs };
    vec![
        Check::new("scheduling_latency_p99_s", Better::Lower, rel(0.10, 0.001)),
        Check::new("pod_startup_latency_p99_s", Better::Lower, rel(0.10, 0.1)),
        Check::new("pods_pending_at_end", Better::Lower, Tolerance::Absolute(0.0)),
        Check::new("cpu_allocation_mean", Better::Higher, Tolerance::Absolute(0.02)),
        Check::new("memory_allocation_mean", Better::Higher, Tolerance::Absolute(0.02)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(fraction: f64, min_abs: f64) -> Tolerance {
        Tolerance::Relative { fraction, min_abs }
    }

    #[test]
    fn verdicts() {
        use Better::{Higher, Lower};
        use Verdict::{Improved, Ok, Regressed};
        #[rustfmt::skip]
        let table: &[(Better, Tolerance, f64, f64, Verdict)] = &[
            // relative, lower is better
            (Lower, rel(0.10, 0.0), 1.0, 1.0, Ok),
            (Lower, rel(0.10, 0.0), 1.0, 1.1, Ok),          // exactly the tolerance passes
            (Lower, rel(0.10, 0.0), 1.0, 1.100001, Regressed),
            (Lower, rel(0.10, 0.0), 1.0, 0.5, Improved),
            (Lower, rel(0.10, 0.0), -2.0, -1.8, Ok),        // magnitude of a negative baseline
            (Lower, rel(0.10, 0.0), -2.0, -1.7, Regressed),
            // relative, higher is better
            (Higher, rel(0.02, 0.0), 0.5, 0.49, Ok),
            (Higher, rel(0.02, 0.0), 0.5, 0.489, Regressed),
            (Higher, rel(0.02, 0.0), 0.5, 0.6, Improved),
            // absolute, both directions
            (Lower, Tolerance::Absolute(3.0), 10.0, 13.0, Ok),
            (Lower, Tolerance::Absolute(3.0), 10.0, 14.0, Regressed),
            (Lower, Tolerance::Absolute(3.0), 10.0, 9.0, Improved),
            (Higher, Tolerance::Absolute(0.02), 0.456536, 0.436536, Ok),
            (Higher, Tolerance::Absolute(0.02), 0.456536, 0.436535, Regressed),
            (Higher, Tolerance::Absolute(0.0), 107.0, 106.0, Regressed),
            (Higher, Tolerance::Absolute(0.0), 107.0, 108.0, Improved),
            // zero baseline: relative allows nothing without a floor, the floor otherwise
            (Lower, rel(0.10, 0.0), 0.0, 0.0, Ok),
            (Lower, rel(0.10, 0.0), 0.0, 0.000001, Regressed),
            (Lower, rel(0.10, 0.001), 0.0, 0.001, Ok),
            (Lower, rel(0.10, 0.001), 0.0, 0.0011, Regressed),
            (Higher, rel(0.10, 0.0), 0.0, 0.5, Improved),
            (Lower, Tolerance::Absolute(0.0), 0.0, 1.0, Regressed),
            // the floor only matters when it exceeds the relative part
            (Lower, rel(0.10, 0.001), 100.0, 110.0, Ok),
            (Lower, rel(0.10, 0.001), 100.0, 110.01, Regressed),
        ];
        for &(better, tolerance, before, after, want) in table {
            let c = Check::new("m", better, tolerance);
            assert_eq!(c.judge(before, after), want, "{better:?} {tolerance:?} {before} -> {after}");
        }
    }

    #[test]
    fn large_integers_compare_exactly() {
        let c = Check::new("api_requests", Better::Lower, Tolerance::Absolute(0.0));
        assert_eq!(c.judge(12_345_678.0, 12_345_679.0), Verdict::Regressed);
        assert_eq!(c.judge(12_345_678.0, 12_345_678.0), Verdict::Ok);
    }

    #[test]
    fn descriptions() {
        assert_eq!(rel(0.1, 0.0).describe(), "10%");
        assert_eq!(rel(0.025, 0.001).describe(), "2.5% (min 0.001)");
        assert_eq!(Tolerance::Absolute(0.02).describe(), "0.02");
        assert_eq!(Tolerance::Absolute(3.0).describe(), "3");
        assert_eq!(number(-0.0000001), "0");
        assert_eq!(number(0.0000012), "0.000001");
    }
}
