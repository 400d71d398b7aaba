//! **GpuPacking** (score; a baseline of the FGD paper, after the authors' `gpu_packing_score.go`): use
//! partly used GPUs first, then fully free GPUs on partly used nodes, and idle nodes last.
//!
//! Definition, in integer arithmetic (a GPU pod; CPU-only pods score 0 everywhere): if every GPU of the node is
//! fully free, max(33 − G, G) for a node of G GPUs (idle nodes last, smaller ones first). Otherwise take the
//! node's GPUs in ascending order of free milli (ties by index) and keep the first N with at least the pod's
//! per-GPU milli free (N = the pod's GPU count). If k > 0 of them are fully free: max(50 − k, 33). If none is:
//! max(100 − ⌊Σ ⌊free_g · 100 / 1000⌋ / 10⌋, 50) over the kept GPUs (free milli before placement), so the
//! tighter the shared GPU, the higher the score. No normalisation; the GPU choice within the node is
//! GpuShare's tightest fit.

use crate::model::gpu::GPU_MILLI;
use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{CycleState, Plugin, PodCtx, Score};

#[derive(Default)]
pub struct GpuPacking;

impl Plugin for GpuPacking {
    fn name(&self) -> &'static str {
        "GpuPacking"
    }
    fn as_score(&self) -> Option<&dyn Score> {
        Some(self)
    }
}

impl Score for GpuPacking {
    fn score(&self, _: &CycleState, pod: &PodCtx, node: &NodeInfo) -> i64 {
        let d = pod.spec.template.gpu_demand();
        if d.is_none() {
            return 0;
        }
        let free = &node.gpus.free_milli;
        let g = free.len() as i64;
        let fully_free = free.iter().filter(|&&f| f == GPU_MILLI).count() as i64;
        if fully_free == g {
            return (33 - g).max(g);
        }
        let mut order: Vec<usize> = (0..free.len()).collect();
        order.sort_by_key(|&i| free[i]);
        let (mut need, mut whole, mut ratio) = (d.count, 0i64, 0i64);
        for i in order {
            if need == 0 {
                break;
            }
            if free[i] >= d.milli {
                need -= 1;
                ratio += free[i] * 100 / GPU_MILLI;
                if free[i] == GPU_MILLI {
                    whole += 1;
                }
            }
        }
        if need > 0 {
            return 0;
        }
        if whole > 0 { (50 - whole).max(33) } else { (100 - ratio / 10).max(50) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::plugins::testutil::*;

    #[test]
    fn partly_used_gpus_first_then_partly_used_nodes_then_idle_ones() {
        let idle8 = gpu_node("idle8", 8, "T4");
        let idle2 = gpu_node("idle2", 2, "T4");
        let mut used = gpu_node("used", 4, "T4");
        place(&mut used, gpu_share_pod(100, 700));
        assert_eq!(used.gpus.free_milli, vec![300, 1000, 1000, 1000]);
        let nodes = [&idle8, &idle2, &used];
        // A 300 share fits the used GPU (free 300 -> 30 -> 100 - 3 = 97); idle nodes: max(33-8, 8) = 25 and 31.
        assert_eq!(scores(&GpuPacking, &gpu_share_pod(100, 300), &nodes), vec![25, 31, 97]);
        // A 500 share needs a fully free GPU on the used node: 50 - 1 = 49.
        assert_eq!(scores(&GpuPacking, &gpu_share_pod(100, 500), &nodes), vec![25, 31, 49]);
        assert_eq!(scores(&GpuPacking, &gpu_whole_pod(100, 3), &nodes), vec![25, 31, 47]);
        assert_eq!(scores(&GpuPacking, &pod_spec(100, GI, |_| {}), &nodes), vec![0, 0, 0]);
    }
}
