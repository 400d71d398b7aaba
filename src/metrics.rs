//! Metric accumulators, fed by the apiserver on committed transitions and by the scheduler on decisions.
//!
//! Definitions (also in the README's "Outputs" section):
//! - *scheduling latency*: pod creation (commit) to its binding's commit, for every pod that was bound;
//! - *pod startup latency*: pod creation to the first commit of phase Running;
//! - *allocation*: the sum of the requests of pods that are bound to a node and not terminal (terminating pods
//!   still hold their resources), divided by the sum of the nodes' allocatable; `*_allocation_mean` is its
//!   time-weighted mean over the run;
//! - *unschedulable pods*: pods that failed at least one scheduling attempt.

use crate::model::{Node, NodeId, PodSpec, PodState};
use crate::time::SimTime;
use std::collections::BTreeMap;

/// A time-weighted mean of a piecewise-constant ratio `numerator / denominator`.
#[derive(Clone, Debug, Default)]
struct TimeWeighted {
    numerator: i128,
    denominator: i128,
    last_change: SimTime,
    /// Integral of the ratio over time, in ratio-microseconds.
    integral: f64,
}

impl TimeWeighted {
    fn advance(&mut self, now: SimTime) {
        if self.denominator > 0 && now > self.last_change {
            let dt = (now.micros() - self.last_change.micros()) as f64;
            self.integral += dt * (self.numerator as f64 / self.denominator as f64);
        }
        self.last_change = self.last_change.max(now);
    }

    fn change(&mut self, now: SimTime, d_num: i128, d_den: i128) {
        self.advance(now);
        self.numerator += d_num;
        self.denominator += d_den;
    }

    fn mean(&self, start: SimTime, end: SimTime) -> f64 {
        let mut copy = self.clone();
        copy.advance(end);
        let span = end.micros().saturating_sub(start.micros());
        if span == 0 { 0.0 } else { copy.integral / span as f64 }
    }
}

/// Run-wide metric accumulators.
#[derive(Debug, Default)]
pub struct Collector {
    pub pods_created: u64,
    pub pods_deleted: u64,
    pub pods_scheduled: u64,
    pub pods_unschedulable: u64,
    pub scheduling_attempts: u64,
    pub evictions: u64,
    /// Evictions refused because of a PodDisruptionBudget (429).
    pub evictions_blocked: u64,
    /// Scheduling attempts that preempted (nominated the pod after choosing victims).
    pub preemptions: u64,
    /// Pods deleted as preemption victims.
    pub preemption_victims: u64,
    pub nodes_added: u64,
    pub nodes_deleted: u64,
    /// Creation to binding, microseconds, one per bound pod.
    pub scheduling_latency_us: Vec<u64>,
    /// Creation to first Running, microseconds.
    pub startup_latency_us: Vec<u64>,
    cpu: TimeWeighted,
    memory: TimeWeighted,
    /// Unschedulable reasons of pods' last failed attempt: reason text -> count of attempts.
    pub unschedulable_reasons: BTreeMap<String, u64>,
}

impl Collector {
    pub fn pod_created(&mut self, _spec: &PodSpec) {
        self.pods_created += 1;
    }

    pub fn pod_bound(&mut self, spec: &PodSpec, _node: NodeId, now: SimTime) {
        self.pods_scheduled += 1;
        self.scheduling_latency_us.push(now.since(spec.created).micros());
        let r = &spec.template.requests;
        self.cpu.change(now, i128::from(r.cpu_millis), 0);
        self.memory.change(now, i128::from(r.memory_bytes), 0);
    }

    pub fn pod_running(&mut self, spec: &PodSpec, now: SimTime) {
        self.startup_latency_us.push(now.since(spec.created).micros());
    }

    /// A bound pod stopped holding resources (terminal phase). `old` is its state before the transition.
    pub fn pod_released(&mut self, spec: &PodSpec, old: PodState, now: SimTime) {
        if old.node.is_some() && !old.phase.is_terminal() {
            let r = &spec.template.requests;
            self.cpu.change(now, -i128::from(r.cpu_millis), 0);
            self.memory.change(now, -i128::from(r.memory_bytes), 0);
        }
    }

    /// A pod object was removed; `last` is its final state.
    pub fn pod_deleted(&mut self, spec: &PodSpec, last: PodState, now: SimTime) {
        self.pods_deleted += 1;
        self.pod_released(spec, last, now);
    }

    pub fn node_added(&mut self, node: &Node, now: SimTime) {
        self.nodes_added += 1;
        self.cpu.change(now, 0, i128::from(node.allocatable.cpu_millis));
        self.memory.change(now, 0, i128::from(node.allocatable.memory_bytes));
    }

    /// A node object was deleted: its allocatable leaves the allocation denominator. Pods still bound to it keep
    /// counting as allocated until they are terminal or deleted, as they are in the store.
    pub fn node_deleted(&mut self, node: &Node, now: SimTime) {
        self.nodes_deleted += 1;
        self.cpu.change(now, 0, -i128::from(node.allocatable.cpu_millis));
        self.memory.change(now, 0, -i128::from(node.allocatable.memory_bytes));
    }

    /// The scheduler failed to place a pod; `first` is true on the pod's first failure.
    pub fn pod_unschedulable(&mut self, first: bool) {
        if first {
            self.pods_unschedulable += 1;
        }
    }

    pub fn cpu_allocation_mean(&self, start: SimTime, end: SimTime) -> f64 {
        self.cpu.mean(start, end)
    }

    pub fn memory_allocation_mean(&self, start: SimTime, end: SimTime) -> f64 {
        self.memory.mean(start, end)
    }

    /// Currently allocated CPU in millicores and the cluster's allocatable CPU (invariant checks).
    pub fn cpu_allocated_millis(&self) -> (i128, i128) {
        (self.cpu.numerator, self.cpu.denominator)
    }
}

/// The `p`-quantile (0..=1) of `samples` by the nearest-rank method, in seconds; 0 when empty.
/// Sorts `samples` in place.
pub fn quantile_s(samples: &mut [u64], p: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.sort_unstable();
    let rank = (p * samples.len() as f64).ceil() as usize;
    let idx = rank.clamp(1, samples.len()) - 1;
    samples[idx] as f64 / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_quantiles() {
        let mut v: Vec<u64> = (1..=100).map(|s| s * 1_000_000).collect();
        assert_eq!(quantile_s(&mut v, 0.5), 50.0);
        assert_eq!(quantile_s(&mut v, 0.99), 99.0);
        assert_eq!(quantile_s(&mut v, 1.0), 100.0);
        assert_eq!(quantile_s(&mut v, 0.0), 1.0);
        assert_eq!(quantile_s(&mut [], 0.5), 0.0);
    }

    #[test]
    fn time_weighted_mean() {
        let mut tw = TimeWeighted::default();
        tw.change(SimTime::from_secs(0), 0, 100);
        tw.change(SimTime::from_secs(10), 50, 0); // 0% for 10 s
        tw.change(SimTime::from_secs(20), 50, 0); // 50% for 10 s, then 100%
        let mean = tw.mean(SimTime::ZERO, SimTime::from_secs(40));
        assert!((mean - (0.0 * 10.0 + 0.5 * 10.0 + 1.0 * 20.0) / 40.0).abs() < 1e-12);
    }
}
