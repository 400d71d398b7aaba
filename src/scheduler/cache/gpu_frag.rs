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

impl TaskType {
    /// The task type of a pod template (GPU models only count for a pod that asks for a GPU).
    pub fn of(t: &crate::model::PodTemplate) -> TaskType {
        let gpu = t.gpu_demand();
        TaskType {
            cpu_millis: t.requests.cpu_millis,
            gpu,
            gpu_spec: if gpu.is_none() { Vec::new() } else { t.gpu_spec.clone() },
        }
    }
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
        TargetWorkload::from_counts(pods.into_iter().map(|t| (t, 1)))
    }

    /// [`TargetWorkload::from_types`] from (type, number of pods) pairs.
    pub fn from_counts(pods: impl IntoIterator<Item = (TaskType, u64)>) -> TargetWorkload {
        let mut counts: BTreeMap<TaskType, u64> = BTreeMap::new();
        let mut total = 0u64;
        for (t, n) in pods {
            if n == 0 {
                continue;
            }
            *counts.entry(t).or_insert(0) += n;
            total += n;
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
        FragModel::new(self).node_frag_milli(cpu_left_millis, &gpus.free_milli, &gpus.model)
    }
}

/// The target workload laid out for speed: F(n) is evaluated for every candidate GPU of every feasible node
/// when FGD scores, and for each changed node when the cluster's fragmentation is tracked.
///
/// It uses F(n) = S − Σ_m p_m · [m fits n] · B_m(n), where S is the node's free milli and B_m(n) the free milli
/// of the GPUs with at least m's per-GPU request free: for a type that fits, frag_m = S − B_m, otherwise S, and
/// the p_m sum to 1. Types that can never fit contribute nothing to the sum and are left out of the loop.
#[derive(Clone, Debug, Default)]
pub struct FragModel {
    cpu_millis: Vec<i64>,
    milli: Vec<i64>,
    count: Vec<u32>,
    p: Vec<f64>,
    /// Allowed GPU models per type (empty: any).
    specs: Vec<Vec<Str>>,
    /// The target workload had no types at all.
    empty: bool,
}

impl FragModel {
    pub fn new(w: &TargetWorkload) -> FragModel {
        let mut m = FragModel { empty: w.types.is_empty(), ..FragModel::default() };
        for (t, p) in &w.types {
            // CPU-only types fit no GPU: their frag is S, which the formula gives by leaving them out.
            if t.gpu.is_none() {
                continue;
            }
            m.cpu_millis.push(t.cpu_millis);
            m.milli.push(t.gpu.milli);
            m.count.push(t.gpu.count);
            m.p.push(*p);
            m.specs.push(t.gpu_spec.clone());
        }
        m
    }

    /// Built from a target workload without types.
    pub fn is_empty(&self) -> bool {
        self.empty
    }

    /// F(n) for a node with `cpu_left_millis` CPU left, these per-GPU free milli and this GPU model.
    pub fn node_frag_milli(&self, cpu_left_millis: i64, free_milli: &[i64], model: &str) -> f64 {
        let s: i64 = free_milli.iter().sum();
        if s == 0 {
            return 0.0;
        }
        let mut usable = 0.0;
        for m in 0..self.milli.len() {
            if cpu_left_millis < self.cpu_millis[m] {
                continue;
            }
            if !self.specs[m].is_empty() && !model_allowed(&self.specs[m], model) {
                continue;
            }
            let (mut n, mut big) = (0u32, 0i64);
            for &f in free_milli {
                if f >= self.milli[m] {
                    n += 1;
                    big += f;
                }
            }
            if n >= self.count[m] {
                usable += self.p[m] * big as f64;
            }
        }
        s as f64 - usable
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

    #[test]
    fn the_fast_form_agrees_with_the_definition() {
        let pods = (0..40)
            .map(|_| ty(1000, 1, 500))
            .chain((0..30).map(|_| ty(2000, 1, 1000)))
            .chain((0..20).map(|_| ty(500, 0, 0)))
            .chain((0..10).map(|_| ty(9000, 2, 1000)));
        let w = TargetWorkload::from_types(pods);
        for (free, cpu) in
            [(vec![1000, 600, 200], 4000), (vec![300, 1000, 1000, 50], 10_000), (vec![0, 0], 500), (vec![], 0)]
        {
            let n = gpus(&free, "T4");
            let slow: f64 = w.types.iter().map(|(t, p)| p * frag_for_type(t, cpu, &n) as f64).sum();
            assert!((w.node_frag_milli(cpu, &n) - slow).abs() < 1e-9, "{free:?} {cpu}");
        }
    }
}
