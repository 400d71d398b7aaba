//! **GpuClustering** (score; a baseline of the FGD paper, after the authors' `gpu_clustering_score.go`): keep
//! GPU pods of one kind together, so that shares do not scatter over GPUs whole-GPU pods could use.
//!
//! Definition: a GPU pod's kind is "share" (one GPU, under 1000 milli) or "k whole GPUs" (k = 1, 2, ...). A
//! node's kinds are those of the GPU pods on it. With L the node's free GPU milli and b = ⌊25 · (8000 − L) /
//! 8000⌋ (fuller nodes get up to 25 more), the score is 75 + b when the node holds only pods of the pod's
//! kind, 50 + b when it holds that kind and others, 25 + b when it holds no GPU pod, and b when it holds only
//! other kinds. CPU-only pods score 0 everywhere (so under this policy alone they go wherever the tie-break
//! says). 8000 is the largest node of the openb trace (8 GPUs), fixed as in the source; no normalisation.
//! The GPU choice within the node is GpuShare's tightest fit.

use crate::model::gpu::GpuDemand;
use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{CycleState, Plugin, PodCtx, Score};

const NODE_SCALE_MILLI: i64 = crate::model::gpu::OPENB_MAX_NODE_GPU_MILLI;

#[derive(Default)]
pub struct GpuClustering;

impl Plugin for GpuClustering {
    fn name(&self) -> &'static str {
        "GpuClustering"
    }
    fn as_score(&self) -> Option<&dyn Score> {
        Some(self)
    }
}

/// The kind of a GPU demand as a bit: bit 0 for a share, bit k for k whole GPUs (k <= 63); 0 without GPUs.
fn kind(d: GpuDemand) -> u64 {
    if d.is_none() {
        0
    } else if d.is_share() {
        1
    } else {
        1 << d.count.min(63)
    }
}

impl Score for GpuClustering {
    fn score(&self, _: &CycleState, pod: &PodCtx, node: &NodeInfo) -> i64 {
        let own = kind(pod.spec.template.gpu_demand());
        if own == 0 {
            return 0;
        }
        let kinds = node.pods.iter().fold(0u64, |k, p| k | kind(p.spec.template.gpu_demand()));
        let b = 25 * (NODE_SCALE_MILLI - node.gpus.free_total_milli()) / NODE_SCALE_MILLI;
        let base = match (kinds & own != 0, kinds & !own != 0) {
            (true, false) => 75,
            (true, true) => 50,
            (false, false) => 25,
            (false, true) => 0,
        };
        base + b
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::plugins::testutil::*;

    #[test]
    fn pods_of_one_kind_cluster() {
        let empty = gpu_node("empty", 8, "T4");
        let mut shares = gpu_node("shares", 8, "T4");
        place(&mut shares, gpu_share_pod(100, 500));
        let mut mixed = shares.clone();
        place(&mut mixed, gpu_whole_pod(100, 1));
        let mut wholes = gpu_node("wholes", 8, "T4");
        place(&mut wholes, gpu_whole_pod(100, 2));
        let nodes = [&empty, &shares, &mixed, &wholes];
        // b: empty 0; shares L=7500 -> 25*500/8000 = 1; mixed L=6500 -> 4; wholes L=6000 -> 6.
        assert_eq!(scores(&GpuClustering, &gpu_share_pod(100, 200), &nodes), vec![25, 76, 54, 6]);
        assert_eq!(scores(&GpuClustering, &gpu_whole_pod(100, 2), &nodes), vec![25, 1, 4, 81]);
        assert_eq!(scores(&GpuClustering, &pod_spec(100, GI, |_| {}), &nodes), vec![0, 0, 0, 0]);
    }
}
