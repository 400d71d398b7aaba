//! GPU fragmentation as the FGD paper measures it (Weng et al., ATC'23; the authors' `pkg/utils/frag.go`).
//!
//! A node's free GPU milli is *fragmented for a task type* when that type cannot use it: for a GPU type that
//! fits on the node (enough GPUs with enough free milli, and enough CPU), the free milli of the GPUs that are too
//! small for it; for a type that does not fit at all (or a CPU-only type, or one whose `gpu_spec` excludes the
//! node's model), all the node's free milli. The node's fragmentation is the expectation over the *target
//! workload* (the popular task types of the trace, weighted by frequency): F(n) = Σ_m p_m · frag_m(n). FGD
//! places each pod where F grows least; the experiment reports Σ_n F(n).
//!
//! Memory is not part of a task type (the authors' policies never see memory).

use super::gpus::NodeGpus;
use crate::model::Str;
use crate::model::gpu::{GpuDemand, model_allowed};
use std::collections::BTreeMap;

/// A task type: CPU, GPU demand and allowed GPU models (memory is not part of it).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TaskType {
    pub cpu_millis: i64,
    pub gpu: GpuDemand,
    pub gpu_spec: Vec<Str>,
}

/// The target workload: task types with their probabilities (summing to 1).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TargetWorkload {
    pub types: Vec<(TaskType, f64)>,
}

/// Share of all pods the kept (most popular) types must cover, in percent (`podPopularityThreshold`).
pub const POPULARITY_PERCENT: u64 = 95;

impl TargetWorkload {
    /// Counts the pods per exact type, sorts the types by count (descending; ties by descending CPU, per-GPU
    /// milli, GPU count, then models), keeps the shortest prefix covering at least 95% of the pods, and
    /// renormalises their counts into probabilities. CPU-only pods are included, each pod counting 1.
    pub fn from_types(pods: impl IntoIterator<Item = TaskType>) -> TargetWorkload {
        let mut counts: BTreeMap<TaskType, u64> = BTreeMap::new();
        let mut total = 0u64;
        for t in pods {
            *counts.entry(t).or_insert(0) += 1;
            total += 1;
        }
        let mut sorted: Vec<(TaskType, u64)> = counts.into_iter().collect();
        sorted.sort_by(|(a, ca), (b, cb)| {
            cb.cmp(ca)
                .then(b.cpu_millis.cmp(&a.cpu_millis))
                .then(b.gpu.milli.cmp(&a.gpu.milli))
                .then(b.gpu.count.cmp(&a.gpu.count))
                .then(b.gpu_spec.cmp(&a.gpu_spec))
        });
        let mut kept = 0u64;
        let mut n = 0;
        while n < sorted.len() && kept * 100 < total * POPULARITY_PERCENT {
            kept += sorted[n].1;
            n += 1;
        }
        sorted.truncate(n);
        let types = sorted.into_iter().map(|(t, c)| (t, c as f64 / kept as f64)).collect();
        TargetWorkload { types }
    }

    /// F(n) in milli: the expected free GPU milli of a node that the target workload cannot use.
    pub fn node_frag_milli(&self, cpu_left_millis: i64, gpus: &NodeGpus) -> f64 {
        self.types.iter().map(|(t, p)| p * frag_for_type(t, cpu_left_millis, gpus) as f64).sum()
    }
}

/// frag_m(n): the free milli of a node (CPU left `cpu_left_millis`) that task type `t` cannot use.
pub fn frag_for_type(t: &TaskType, cpu_left_millis: i64, gpus: &NodeGpus) -> i64 {
    let free = gpus.free_total_milli();
    if t.gpu.is_none() || !model_allowed(&t.gpu_spec, &gpus.model) {
        return free;
    }
    if gpus.fits(t.gpu) && cpu_left_millis >= t.cpu_millis {
        return gpus.free_milli.iter().filter(|&&f| f < t.gpu.milli).sum();
    }
    free
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(cpu: i64, count: u32, milli: i64) -> TaskType {
        TaskType { cpu_millis: cpu, gpu: GpuDemand { count, milli }, gpu_spec: Vec::new() }
    }

    fn gpus(free: &[i64], model: &str) -> NodeGpus {
        NodeGpus { free_milli: free.to_vec(), model: Str::from(model) }
    }

    #[test]
    fn frag_per_type_follows_the_four_classes() {
        let n = gpus(&[1000, 600, 200], "T4");
        // Fits (Q3): only the GPUs too small for the share count.
        assert_eq!(frag_for_type(&ty(1000, 1, 500), 4000, &n), 200);
        // CPU short (Q4), GPUs short (Q2), CPU-only: everything free counts.
        assert_eq!(frag_for_type(&ty(8000, 1, 500), 4000, &n), 1800);
        assert_eq!(frag_for_type(&ty(1000, 2, 1000), 4000, &n), 1800);
        assert_eq!(frag_for_type(&ty(1000, 0, 0), 4000, &n), 1800);
        // Whole GPU: the partial ones are fragmented.
        assert_eq!(frag_for_type(&ty(1000, 1, 1000), 4000, &n), 800);
        // A model the type excludes.
        let mut v100 = ty(1000, 1, 100);
        v100.gpu_spec = vec![Str::from("V100M16")];
        assert_eq!(frag_for_type(&v100, 4000, &n), 1800);
    }

    #[test]
    fn target_workload_keeps_the_popular_types_and_weights_them() {
        // 60 shares of 500, 35 whole GPUs, 5 CPU-only: the first two cover 95%.
        let pods = (0..60)
            .map(|_| ty(1000, 1, 500))
            .chain((0..35).map(|_| ty(2000, 1, 1000)))
            .chain((0..5).map(|_| ty(500, 0, 0)));
        let w = TargetWorkload::from_types(pods);
        assert_eq!(w.types.len(), 2);
        assert_eq!(w.types[0].0, ty(1000, 1, 500));
        assert!((w.types[0].1 - 60.0 / 95.0).abs() < 1e-12);
        let n = gpus(&[1000, 600, 200], "T4");
        let expect = 60.0 / 95.0 * 200.0 + 35.0 / 95.0 * 800.0;
        assert!((w.node_frag_milli(4000, &n) - expect).abs() < 1e-9);
        assert_eq!(TargetWorkload::from_types(Vec::new()).types.len(), 0);
    }
}
