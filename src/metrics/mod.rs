//! Metric accumulators, fed by the apiserver on committed transitions and by the scheduler on decisions.
//!
//! Definitions (also in the README's "Outputs" section):
//! - *scheduling latency*: pod creation (commit) to its binding's commit, for every pod that was bound;
//! - *pod startup latency*: pod creation to the first commit of phase Running;
//! - *allocation*: the sum of the requests of pods that are bound to a node and not terminal (terminating pods
//!   still hold their resources), divided by the sum of the nodes' allocatable; `*_allocation_mean` is its
//!   time-weighted mean over the run;
//! - *unschedulable pods*: pods that failed at least one scheduling attempt.

pub mod nodes;
pub mod pods;
pub mod recovery;
pub mod sample;
pub mod trace;

use crate::etcd::{Change, Op};
use crate::model::{Node, NodeId, PodPhase, PodSpec, PodState};
use crate::recorder::EventType;
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

/// A piecewise-constant count with its maximum and its integral over time (pending pods, pod-seconds).
#[derive(Clone, Debug, Default)]
pub struct Level {
    pub value: i64,
    pub max: i64,
    last_change: SimTime,
    integral_us: i128,
}

impl Level {
    fn change(&mut self, now: SimTime, delta: i64) {
        self.advance(now);
        self.value += delta;
        self.max = self.max.max(self.value);
    }

    fn advance(&mut self, now: SimTime) {
        if now > self.last_change {
            self.integral_us += i128::from(self.value) * i128::from(now.micros() - self.last_change.micros());
            self.last_change = now;
        }
    }

    /// The integral up to `end`, in count-seconds.
    pub fn integral_s(&self, end: SimTime) -> f64 {
        let mut copy = self.clone();
        copy.advance(end);
        copy.integral_us as f64 / 1e6
    }
}

/// Run-wide metric accumulators.
#[derive(Debug, Default)]
pub struct Collector {
    pub pods_created: u64,
    pub pods_deleted: u64,
    pub pods_scheduled: u64,
    pub pods_unschedulable: u64,
    /// Pods whose phase became Failed.
    pub pods_failed: u64,
    /// Pods force-deleted by PodGC as orphans (their node was deleted).
    pub pods_orphaned: u64,
    pub scheduling_attempts: u64,
    pub evictions: u64,
    /// Evictions refused because of a PodDisruptionBudget (429).
    pub evictions_blocked: u64,
    /// Scheduling attempts that preempted (nominated the pod after choosing victims).
    pub preemptions: u64,
    /// Pods deleted as preemption victims.
    pub preemption_victims: u64,
    /// Container restarts (`ContainerRestarted` rows).
    pub container_restarts: u64,
    pub nodes_added: u64,
    pub nodes_deleted: u64,
    /// Creation to binding, microseconds, one per bound pod.
    pub scheduling_latency_us: Vec<u64>,
    /// Creation to first Running, microseconds.
    pub startup_latency_us: Vec<u64>,
    cpu: TimeWeighted,
    memory: TimeWeighted,
    gpu: TimeWeighted,
    /// Pods created and not yet bound (nor deleted, nor finished unbound).
    pub pending: Level,
    /// Pods in phase Running now.
    pub pods_running: i64,
    /// Unschedulable reasons of pods' last failed attempt: reason text -> count of attempts.
    pub unschedulable_reasons: BTreeMap<String, u64>,
    /// What is bound to each node, per workload.
    pub nodes: nodes::NodeAggs,
    /// Every pod's timestamps (`pods.csv`).
    pub pod_log: pods::PodLog,
    /// Degraded workloads and faults (time to recovery).
    pub recovery: recovery::Recovery,
    /// Batch trace replay: work completed and queueing delays of the trace's pods.
    pub trace: trace::TraceMetrics,
}

impl Collector {
    pub fn pod_created(&mut self, spec: &PodSpec, now: SimTime) {
        self.pods_created += 1;
        self.pending.change(now, 1);
        self.pod_log.created(spec);
    }

    pub fn pod_bound(&mut self, spec: &PodSpec, node: NodeId, now: SimTime) {
        self.pods_scheduled += 1;
        self.scheduling_latency_us.push(now.since(spec.created).micros());
        self.pending.change(now, -1);
        self.hold(spec, node, now, 1);
        self.pod_log.bound(spec, node, now);
    }

    pub fn pod_running(&mut self, spec: &PodSpec, now: SimTime) {
        self.startup_latency_us.push(now.since(spec.created).micros());
        self.pods_running += 1;
        self.pod_log.phase(spec, PodPhase::Running, now);
        if self.trace.owns(spec) {
            self.trace.running(spec, now);
        }
    }

    /// A pod reached a terminal phase; `old` is its state before the transition.
    pub fn pod_finished(&mut self, spec: &PodSpec, old: PodState, phase: PodPhase, now: SimTime) {
        if phase == PodPhase::Failed {
            self.pods_failed += 1;
        }
        self.leave(spec, old, now);
        self.pod_log.phase(spec, phase, now);
        if self.trace.owns(spec) {
            self.trace.finished(spec, phase);
        }
    }

    /// A pod object was removed; `last` is its final state.
    pub fn pod_deleted(&mut self, spec: &PodSpec, last: PodState, now: SimTime) {
        self.pods_deleted += 1;
        self.leave(spec, last, now);
        self.pod_log.deleted(spec, now);
    }

    /// A pod in state `old` stops counting as pending, running or holding resources.
    fn leave(&mut self, spec: &PodSpec, old: PodState, now: SimTime) {
        if old.phase.is_terminal() {
            return;
        }
        match old.node {
            Some(n) => self.hold(spec, n, now, -1),
            None => self.pending.change(now, -1),
        }
        if old.phase == PodPhase::Running {
            self.pods_running -= 1;
        }
    }

    /// `spec`'s requests start (`sign` 1) or stop (-1) being allocated on `node`.
    fn hold(&mut self, spec: &PodSpec, node: NodeId, now: SimTime, sign: i64) {
        let r = &spec.template.requests;
        let s = i128::from(sign);
        self.cpu.change(now, s * i128::from(r.cpu_millis), 0);
        self.memory.change(now, s * i128::from(r.memory_bytes), 0);
        self.gpu.change(now, s * i128::from(spec.template.gpu_demand().total_milli()), 0);
        self.nodes.apply(node.index(), spec, sign);
    }

    pub fn node_added(&mut self, node: &Node, now: SimTime) {
        self.nodes_added += 1;
        self.cpu.change(now, 0, i128::from(node.allocatable.cpu_millis));
        self.memory.change(now, 0, i128::from(node.allocatable.memory_bytes));
        self.gpu.change(now, 0, i128::from(nodes::gpu_milli(&node.allocatable)));
    }

    /// A node object was deleted: its allocatable leaves the allocation denominator. Pods still bound to it keep
    /// counting as allocated until they are terminal or deleted, as they are in the store.
    pub fn node_deleted(&mut self, node: &Node, now: SimTime) {
        self.nodes_deleted += 1;
        self.cpu.change(now, 0, -i128::from(node.allocatable.cpu_millis));
        self.memory.change(now, 0, -i128::from(node.allocatable.memory_bytes));
        self.gpu.change(now, 0, -i128::from(nodes::gpu_milli(&node.allocatable)));
    }

    /// A Deployment or DaemonSet changed in the store: is it below its desired ready replicas now?
    pub fn workload_changed(&mut self, change: &Change, now: SimTime) {
        match change {
            Change::Deployment { obj, op, .. } => {
                let degraded = *op != Op::Deleted && obj.status.ready_replicas < obj.replicas;
                self.recovery.workload(recovery::WorkloadKind::Deployment, obj.uid, degraded, now);
            }
            Change::DaemonSet { obj, op, .. } => {
                let degraded = *op != Op::Deleted && obj.status.ready < obj.status.desired;
                self.recovery.workload(recovery::WorkloadKind::DaemonSet, obj.uid, degraded, now);
            }
            _ => {}
        }
    }

    /// Every recorded row passes here (counting faults and restarts without the components knowing).
    #[inline]
    pub fn on_event(&mut self, time: SimTime, event: EventType, name: &str, node: &str) {
        match event {
            EventType::ContainerRestarted => self.container_restarts += 1,
            EventType::FaultInjected => self.recovery.fault(time, name, node),
            _ => {}
        }
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

    pub fn gpu_allocation_mean(&self, start: SimTime, end: SimTime) -> f64 {
        self.gpu.mean(start, end)
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
