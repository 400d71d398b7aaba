//! GPUs: how a pod asks for them and how a node offers them.
//!
//! A node offers `G` GPUs of one model: `G` is its allocatable `nvidia.com/gpu`, the model its
//! [`GPU_MODEL_LABEL`] (the label name of the openb trace's simulator and of Alibaba's GPU-sharing device plugin).
//! Each GPU has 1000 milli of capacity, tracked per GPU by the scheduler's cache.
//!
//! A pod asks in one of two ways:
//! - **sharing**: [`PodTemplate::gpu_milli`](super::PodTemplate::gpu_milli) in `1..=999`, a share of ONE GPU.
//!   Such a pod does *not* carry `nvidia.com/gpu` in its `requests`: the per-node sum of `nvidia.com/gpu`
//!   (NodeResourcesFit, kubelet admission) counts whole GPUs, and several sharing pods may use the same one;
//! - **whole GPUs**: `requests["nvidia.com/gpu"] = N`, each GPU taken entirely (1000 milli).
//!
//! [`PodTemplate::gpu_spec`](super::PodTemplate::gpu_spec) optionally restricts the pod to GPU models (any of
//! the listed ones; empty = any model).

use super::{Resources, Str};

/// The extended resource that counts GPUs.
pub const GPU_RESOURCE: &str = "nvidia.com/gpu";
/// The node label naming the GPU model (e.g. `V100M16`), as in the openb trace's simulator.
pub const GPU_MODEL_LABEL: &str = "alibabacloud.com/gpu-card-model";
/// The capacity of one GPU in milli.
pub const GPU_MILLI: i64 = 1000;
/// Most GPUs one node may have (a pod's placement is a bitmask of GPU indices).
pub const MAX_GPUS_PER_NODE: usize = 64;

/// The largest node of the openb trace, in CPU millicores and GPU milli (128 cores, 8 GPUs): the fixed scale the
/// FGD paper's baseline policies (DotProd, GpuBestFit, GpuClustering) divide by, as in the authors' source.
pub const OPENB_MAX_NODE_CPU_MILLIS: i64 = 128_000;
pub const OPENB_MAX_NODE_GPU_MILLI: i64 = 8 * GPU_MILLI;

/// What a pod needs: `count` GPUs with `milli` free each (`count == 0`: no GPU).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GpuDemand {
    pub count: u32,
    /// Per GPU: `1..=999` for a sharing pod, 1000 for whole GPUs.
    pub milli: i64,
}

impl GpuDemand {
    /// The demand of a pod with `requests` and per-GPU share `gpu_milli` (0 unless sharing).
    pub fn of(requests: &Resources, gpu_milli: i64) -> GpuDemand {
        if gpu_milli > 0 {
            return GpuDemand { count: 1, milli: gpu_milli.min(GPU_MILLI) };
        }
        let n = requests.scalar(GPU_RESOURCE).clamp(0, MAX_GPUS_PER_NODE as i64) as u32;
        GpuDemand { count: n, milli: if n > 0 { GPU_MILLI } else { 0 } }
    }

    pub fn is_none(&self) -> bool {
        self.count == 0
    }

    /// A share of one GPU (rather than whole GPUs).
    pub fn is_share(&self) -> bool {
        self.count == 1 && self.milli < GPU_MILLI
    }

    /// The total in milli: `count * milli`.
    pub fn total_milli(&self) -> i64 {
        i64::from(self.count) * self.milli
    }
}

/// Does a node of GPU model `model` satisfy `spec` (any of the listed models; empty = any)?
pub fn model_allowed(spec: &[Str], model: &str) -> bool {
    spec.is_empty() || spec.iter().any(|m| &**m == model)
}

/// Splits a `gpu_spec` text like `V100M16|V100M32` into its models; `None` if an item is empty.
pub fn parse_gpu_spec(text: &str) -> Option<Vec<Str>> {
    if text.is_empty() {
        return Some(Vec::new());
    }
    let items: Vec<&str> = text.split('|').map(str::trim).collect();
    if items.iter().any(|i| i.is_empty()) {
        return None;
    }
    let mut out: Vec<Str> = items.into_iter().map(Str::from).collect();
    out.sort();
    out.dedup();
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::s;

    #[test]
    fn demand_of_sharing_and_whole_pods() {
        let mut r = Resources::new(1000, 0);
        assert!(GpuDemand::of(&r, 0).is_none());
        let share = GpuDemand::of(&r, 300);
        assert!(share.is_share());
        assert_eq!(share.total_milli(), 300);
        r.set_scalar(s(GPU_RESOURCE), 4);
        let whole = GpuDemand::of(&r, 0);
        assert_eq!((whole.count, whole.milli, whole.total_milli()), (4, 1000, 4000));
        assert!(!whole.is_share());
    }

    #[test]
    fn gpu_spec_parses_alternatives() {
        let spec = parse_gpu_spec("V100M32|V100M16").unwrap_or_default();
        assert_eq!(spec.len(), 2);
        assert!(model_allowed(&spec, "V100M16"));
        assert!(!model_allowed(&spec, "T4"));
        assert!(model_allowed(&[], "T4"));
        assert!(parse_gpu_spec("A||B").is_none());
        assert_eq!(parse_gpu_spec(""), Some(vec![]));
    }
}
