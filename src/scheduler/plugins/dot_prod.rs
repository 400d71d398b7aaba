//! **DotProd** (score; a baseline of the FGD paper, after the authors' `dot_product_score.go` with
//! `dimext=merge, norm=max`): prefer the node whose free resources are least aligned with the pod's request.
//!
//! Definition: node vector v = (CPU left / 128 cores, Σ free GPU milli / 8000), pod vector u = (CPU request / 128
//! cores, total GPU milli / 8000); score = ⌊100 · (1 − v·u / 2)⌋, and 0 when the node's CPU left is below the
//! request. The divisors are the largest node of the openb trace (128 cores, 8 GPUs), fixed as in the source;
//! there is no normalisation. A small dot product means the pod lands where its dominant resource is scarce,
//! which packs the cluster (a multi-dimensional best fit). Memory is not considered, as in the paper.
//!
//! The `dot-prod` preset scores with it alone. Ties go to `selectHost`'s seeded uniform choice, or, with
//! `tie_break = "lowest-name"` (as the openb experiment sets), to the lowest node name as in the authors'
//! simulator. The GPU choice within the node is GpuShare's tightest fit.

use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{CycleState, Plugin, PodCtx, Score};

const CPU_SCALE_MILLIS: f64 = crate::model::gpu::OPENB_MAX_NODE_CPU_MILLIS as f64;
const GPU_SCALE_MILLI: f64 = crate::model::gpu::OPENB_MAX_NODE_GPU_MILLI as f64;

#[derive(Default)]
pub struct DotProd;

impl Plugin for DotProd {
    fn name(&self) -> &'static str {
        "DotProd"
    }
    fn as_score(&self) -> Option<&dyn Score> {
        Some(self)
    }
}

impl Score for DotProd {
    fn score(&self, _: &CycleState, pod: &PodCtx, node: &NodeInfo) -> i64 {
        let t = &pod.spec.template;
        let cpu = t.requests.cpu_millis;
        let cpu_left = node.allocatable.cpu_millis - node.requested.cpu_millis;
        if cpu_left < cpu {
            return 0;
        }
        let gpu = t.gpu_demand().total_milli() as f64;
        let free = node.gpus.free_total_milli() as f64;
        let dot = (cpu_left as f64 / CPU_SCALE_MILLIS) * (cpu as f64 / CPU_SCALE_MILLIS)
            + (free / GPU_SCALE_MILLI) * (gpu / GPU_SCALE_MILLI);
        (100.0 * (1.0 - dot / 2.0)).floor() as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::plugins::testutil::*;

    #[test]
    fn prefers_the_node_with_fewer_free_gpus_for_a_gpu_pod() {
        // Same CPU; one node has 8 free GPUs, the other 1: the GPU pod goes where GPUs are scarce.
        let roomy = gpu_node("roomy", 8, "T4");
        let mut tight = gpu_node("tight", 8, "T4");
        place(&mut tight, gpu_whole_pod(0, 7));
        let s = scores(&DotProd, &gpu_whole_pod(8000, 1), &[&roomy, &tight]);
        // roomy: v=(0.5, 1), u=(1/16, 1/8): dot = 1/32 + 1/8 = 0.15625 -> 92; tight: 1/32 + 1/64 -> 97.
        assert_eq!(s, vec![92, 97]);
        // Not enough CPU left scores 0.
        assert_eq!(scores(&DotProd, &gpu_whole_pod(65_000, 1), &[&roomy]), vec![0]);
    }
}
