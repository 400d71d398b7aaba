//! The FGD plugin's target workload in a simulated scenario: the task types of the scenario's own workload,
//! weighted by how many pods each brings (Deployment replicas, Job completions, one DaemonSet pod per initial
//! node, an arrival process's expected pod count over its window). An `[openb]` experiment builds it from its
//! pod list instead, as the paper does.

use crate::scheduler::cache::gpu_frag::{TargetWorkload, TaskType};
use crate::scheduler::profile::ProfileConfig;
use crate::sim::NodePool;
use crate::time::SimDuration;
use crate::workload::{ArrivalProcess, Workloads};
use std::sync::Arc;

/// The target workload of `w`.
pub fn of(w: &Workloads, pools: &[NodePool], duration: SimDuration) -> TargetWorkload {
    let nodes: u64 = pools.iter().map(|p| u64::from(p.count)).sum();
    let end_s = duration.as_secs_f64();
    let arrivals = w.arrivals.iter().map(|a| {
        let stop_s = a.stop.map_or(end_s, |s| s.as_secs_f64().min(end_s));
        let window_s = (stop_s - a.start.as_secs_f64()).max(0.0);
        let expected = match a.process {
            ArrivalProcess::Poisson { rate_per_s } => rate_per_s * window_s,
            ArrivalProcess::Uniform { interval } => window_s / interval.as_secs_f64().max(1e-9),
        };
        let n = a.max_pods.map_or(expected, |m| expected.min(m as f64)).round().max(1.0) as u64;
        (TaskType::of(&a.template), n)
    });
    TargetWorkload::from_counts(
        w.deployments
            .iter()
            .map(|d| (TaskType::of(&d.template), d.replicas.max(0) as u64))
            .chain(w.jobs.iter().map(|j| (TaskType::of(&j.template), j.completions.max(0) as u64)))
            .chain(w.daemonsets.iter().map(|d| (TaskType::of(&d.template), nodes)))
            .chain(arrivals),
    )
}

/// Sets the target of every profile that enables FGD without one.
pub fn fill(profiles: &mut [ProfileConfig], w: &Workloads, pools: &[NodePool], duration: SimDuration) {
    if !profiles.iter().any(|p| p.plugins.iter().any(|(n, _)| n == "FGD") && p.args.fgd.target.types.is_empty()) {
        return;
    }
    let target = Arc::new(of(w, pools, duration));
    for p in profiles.iter_mut() {
        if p.plugins.iter().any(|(n, _)| n == "FGD") && p.args.fgd.target.types.is_empty() {
            p.args.fgd.target = target.clone();
        }
    }
}
