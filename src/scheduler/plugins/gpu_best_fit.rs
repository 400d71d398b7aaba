//! **GpuBestFit** (score; the "BestFit" baseline of the FGD paper, after the authors' `best_fit_score.go`;
//! kubesim's own `BestFit` plugin is a CPU and memory best fit, hence the name): the node with the least CPU
//! and GPU left once the pod is placed.
//!
//! Definition: s = ½ · (CPU left − CPU request) / 128 cores + ½ · (Σ free GPU milli − the pod's total GPU
//! milli) / 8000, the raw score ⌊100 · (1 − s)⌋, then min-max normalised over the feasible nodes in integer
//! arithmetic, (raw − lo) · 100 / (hi − lo), every node getting 0 when all raw scores are equal. The divisors
//! are the largest node of the openb trace (128 cores, 8 GPUs), fixed as in the source. Memory is not
//! considered, as in the paper. The GPU choice within the node is GpuShare's tightest fit.

use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{CycleState, Plugin, PodCtx, Score};

const CPU_SCALE_MILLIS: f64 = crate::model::gpu::OPENB_MAX_NODE_CPU_MILLIS as f64;
const GPU_SCALE_MILLI: f64 = crate::model::gpu::OPENB_MAX_NODE_GPU_MILLI as f64;

#[derive(Default)]
pub struct GpuBestFit;

impl Plugin for GpuBestFit {
    fn name(&self) -> &'static str {
        "GpuBestFit"
    }
    fn as_score(&self) -> Option<&dyn Score> {
        Some(self)
    }
}

impl Score for GpuBestFit {
    fn score(&self, _: &CycleState, pod: &PodCtx, node: &NodeInfo) -> i64 {
        let t = &pod.spec.template;
        let cpu_left = (node.allocatable.cpu_millis - node.requested.cpu_millis - t.requests.cpu_millis) as f64;
        let gpu_left = (node.gpus.free_total_milli() - t.gpu_demand().total_milli()) as f64;
        let s = 0.5 * cpu_left / CPU_SCALE_MILLIS + 0.5 * gpu_left / GPU_SCALE_MILLI;
        (100.0 * (1.0 - s)).floor() as i64
    }

    fn normalize(&self, _: &CycleState, _: &PodCtx, scores: &mut [i64]) {
        let lo = scores.iter().copied().min().unwrap_or(0);
        let hi = scores.iter().copied().max().unwrap_or(0);
        for s in scores.iter_mut() {
            *s = if hi == lo { 0 } else { (*s - lo) * 100 / (hi - lo) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::plugins::testutil::*;

    #[test]
    fn the_tightest_node_wins_after_normalisation() {
        let roomy = gpu_node("roomy", 8, "T4");
        let mut tight = gpu_node("tight", 8, "T4");
        place(&mut tight, gpu_whole_pod(32_000, 6));
        let mut mid = gpu_node("mid", 8, "T4");
        place(&mut mid, gpu_whole_pod(0, 3));
        // 64-core nodes, pod 8 cores + 1 GPU. roomy: s = .5*56/128 + .5*7000/8000 = .21875 + .4375 -> 34;
        // tight: .5*24/128 + .5*1000/8000 = .09375 + .0625 -> 84; mid: .21875 + .25 -> 53.
        let pod = gpu_whole_pod(8000, 1);
        assert_eq!(scores(&GpuBestFit, &pod, &[&roomy, &tight, &mid]), vec![0, 100, 38]);
        assert_eq!(scores(&GpuBestFit, &pod, &[&roomy, &roomy]), vec![0, 0]);
    }
}
