//! Metrics of a batch trace replay (`[[job_traces]]`): how much of the submitted work completed, and the
//! queueing delay of the trace's pods.
//!
//! Constant memory per finished pod: counters, and the queueing delays as a count per whole millisecond (a
//! BTreeMap with one entry per distinct millisecond, tens of thousands of entries for millions of pods), from
//! which nearest-rank percentiles are exact to the millisecond.

use crate::jobtrace::{TraceTask, fixed_run};
use crate::model::{PodPhase, PodSpec};
use crate::time::SimTime;
use std::collections::BTreeMap;

#[derive(Debug)]
pub struct TraceMetrics {
    /// Pods whose workload index (`rng_key >> 40`) is at least this are trace pods; `u32::MAX`: no trace.
    pub base: u32,
    pub tasks_submitted: u64,
    pub instances_submitted: u64,
    pub instances_completed: u64,
    /// Trace pods that ended Failed (their Jobs replace them).
    pub pods_failed: u64,
    /// CPU work of the submitted and completed instances, millicore-microseconds.
    pub work_submitted: u128,
    pub work_completed: u128,
    /// Creation to first Running, per whole millisecond (rounded up): count.
    delays_ms: BTreeMap<u64, u64>,
    delays: u64,
}

impl Default for TraceMetrics {
    fn default() -> Self {
        TraceMetrics {
            base: u32::MAX,
            tasks_submitted: 0,
            instances_submitted: 0,
            instances_completed: 0,
            pods_failed: 0,
            work_submitted: 0,
            work_completed: 0,
            delays_ms: BTreeMap::new(),
            delays: 0,
        }
    }
}

/// Bucket edges of `queueing_delay.csv`, seconds (1-2-5 steps).
pub const HISTOGRAM_EDGES_S: [u64; 17] =
    [0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000];

impl TraceMetrics {
    /// Whether `spec` is a pod of a trace Job.
    #[inline]
    pub fn owns(&self, spec: &PodSpec) -> bool {
        (spec.rng_key >> 40) >= u64::from(self.base)
    }

    /// A task's Job was submitted.
    pub fn submitted(&mut self, task: &TraceTask) {
        self.tasks_submitted += 1;
        self.instances_submitted += u64::from(task.instances);
        self.work_submitted += task.work_millicore_us();
    }

    /// A trace pod reported Running for the first time.
    pub fn running(&mut self, spec: &PodSpec, now: SimTime) {
        let us = now.since(spec.created).micros();
        *self.delays_ms.entry(us.div_ceil(1000)).or_insert(0) += 1;
        self.delays += 1;
    }

    /// A trace pod finished.
    pub fn finished(&mut self, spec: &PodSpec, phase: PodPhase) {
        match phase {
            PodPhase::Succeeded => {
                self.instances_completed += 1;
                let run = fixed_run(&spec.template).map_or(0, |d| d.micros());
                self.work_completed += spec.template.requests.cpu_millis.max(0) as u128 * u128::from(run);
            }
            PodPhase::Failed => self.pods_failed += 1,
            _ => {}
        }
    }

    /// The nearest-rank `p`-quantile of the queueing delays, seconds (millisecond resolution); 0 when none.
    pub fn delay_quantile_s(&self, p: f64) -> f64 {
        if self.delays == 0 {
            return 0.0;
        }
        let rank = ((p * self.delays as f64).ceil() as u64).clamp(1, self.delays);
        let mut seen = 0;
        for (ms, n) in &self.delays_ms {
            seen += n;
            if seen >= rank {
                return *ms as f64 / 1e3;
            }
        }
        0.0
    }

    /// Mean queueing delay, seconds.
    pub fn delay_mean_s(&self) -> f64 {
        if self.delays == 0 {
            return 0.0;
        }
        let sum: u128 = self.delays_ms.iter().map(|(ms, n)| u128::from(*ms) * u128::from(*n)).sum();
        sum as f64 / self.delays as f64 / 1e3
    }

    /// Pods counted in the delay distribution.
    pub fn delays_counted(&self) -> u64 {
        self.delays
    }

    /// The histogram: `(from_s, to_s, pods)` for each bucket `[from, to)`, the last one open (`to` = None).
    pub fn histogram(&self) -> Vec<(u64, Option<u64>, u64)> {
        let mut out: Vec<(u64, Option<u64>, u64)> = HISTOGRAM_EDGES_S
            .iter()
            .enumerate()
            .map(|(i, lo)| (*lo, HISTOGRAM_EDGES_S.get(i + 1).copied(), 0))
            .collect();
        for (ms, n) in &self.delays_ms {
            let i = HISTOGRAM_EDGES_S.iter().rposition(|lo| lo * 1000 <= *ms).unwrap_or(0);
            out[i].2 += n;
        }
        out
    }
}

/// Adds the `trace.*` metrics of a run with `[[job_traces]]` to `metrics` (nothing without).
pub fn summarize(sim: &crate::sim::Sim, metrics: &mut BTreeMap<String, serde_json::Value>) {
    let traces = &sim.config().workloads.job_traces;
    if traces.is_empty() {
        return;
    }
    let m = &sim.rec.metrics.trace;
    let (mut pending, mut running) = (0u64, 0u64);
    for (_, r) in sim.api.etcd.pods.iter() {
        if m.owns(&r.spec) {
            pending += u64::from(r.state.phase == PodPhase::Pending);
            running += u64::from(r.state.phase == PodPhase::Running);
        }
    }
    let skipped: u64 = traces
        .iter()
        .map(|t| {
            let k = &t.skipped;
            k.status + k.no_span + k.no_instances + k.missing_requests + k.after_end
        })
        .sum();
    let share = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    let round6 = |x: f64| (x * 1e6).round() / 1e6;
    let mut int = |k: &str, v: u64| {
        metrics.insert(format!("trace.{k}"), serde_json::Value::from(v));
    };
    int("tasks_submitted", m.tasks_submitted);
    int("tasks_skipped", skipped);
    int("tasks_requests_filled", traces.iter().map(|t| t.filled).sum());
    int("instances_submitted", m.instances_submitted);
    int("instances_completed", m.instances_completed);
    int("instances_unfinished", m.instances_submitted.saturating_sub(m.instances_completed));
    int("pods_failed", m.pods_failed);
    int("pods_pending_at_end", pending);
    int("pods_running_at_end", running);
    let mut float = |k: &str, v: f64| {
        metrics.insert(format!("trace.{k}"), serde_json::Value::from(round6(v)));
    };
    let core_s = |w: u128| w as f64 / 1e9;
    float("cpu_core_seconds_submitted", core_s(m.work_submitted));
    float("cpu_core_seconds_completed", core_s(m.work_completed));
    float("work_completed_share", share(m.work_completed as f64, m.work_submitted as f64));
    float("instances_completed_share", share(m.instances_completed as f64, m.instances_submitted as f64));
    float("queueing_delay_p50_s", m.delay_quantile_s(0.50));
    float("queueing_delay_p90_s", m.delay_quantile_s(0.90));
    float("queueing_delay_p99_s", m.delay_quantile_s(0.99));
    float("queueing_delay_max_s", m.delay_quantile_s(1.0));
    float("queueing_delay_mean_s", m.delay_mean_s());
}

/// `queueing_delay.csv`: the histogram of the trace pods' queueing delays.
pub fn write_histogram(m: &TraceMetrics, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    writeln!(w, "{HISTOGRAM_HEADER}")?;
    for (from, to, pods) in m.histogram() {
        match to {
            Some(to) => writeln!(w, "{from},{to},{pods}")?,
            None => writeln!(w, "{from},,{pods}")?,
        }
    }
    Ok(())
}

/// `queueing_delay.csv` header: bucket `[from_s, to_s)` (empty `to_s`: no upper bound) and its pod count.
pub const HISTOGRAM_HEADER: &str = "from_s,to_s,pods";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_and_histogram_from_millisecond_counts() {
        let mut m = TraceMetrics::default();
        for (ms, n) in [(500u64, 50u64), (1500, 40), (120_000, 10)] {
            m.delays_ms.insert(ms, n);
            m.delays += n;
        }
        assert_eq!(m.delay_quantile_s(0.5), 0.5);
        assert_eq!(m.delay_quantile_s(0.51), 1.5);
        assert_eq!(m.delay_quantile_s(0.9), 1.5);
        assert_eq!(m.delay_quantile_s(0.99), 120.0);
        assert!((m.delay_mean_s() - (25.0 + 60.0 + 1200.0) / 100.0).abs() < 1e-9);
        let h = m.histogram();
        assert_eq!(h[0], (0, Some(1), 50));
        assert_eq!(h[1], (1, Some(2), 40));
        assert_eq!(h[7], (100, Some(200), 10));
        assert_eq!(h.last().unwrap(), &(100_000, None, 0));
    }
}
