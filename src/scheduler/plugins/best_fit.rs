//! **BestFit** (score; research policy, not upstream): the tightest fit, i.e. the node with the least free
//! capacity left once the pod is placed.
//!
//! Definition, in integer arithmetic: for each of cpu and memory with allocatable `a > 0`, the free amount
//! after placement is `f = clamp(a - requested - pod, 0, a)`, where `requested` is the sum of the *actual*
//! requests of the pods on the node and `pod` the pod's actual request (the amounts NodeResourcesFit's filter
//! checks; no non-zero defaults, so a pod that requests nothing takes nothing). Its free fraction in parts per
//! million is `f * 1_000_000 / a` (truncated). The raw score is the sum of the two fractions (0 to 2,000,000;
//! a resource with allocatable 0 is left out), and lower is better ([`normalize_lowest_best`]): the tightest
//! feasible nodes get 100, every looser one at most 99, the loosest 0. With BestFit as the only scoring plugin
//! (the `best-fit` preset) the pick is the tightest node, ties broken uniformly by `selectHost`.
//!
//! Unlike NodeResourcesFit's MostAllocated it counts actual requests rather than the 100m/200Mi scoring
//! defaults of best-effort containers, and it does not truncate each resource to whole percents (which makes
//! MostAllocated tie nodes that differ by less than 1%).
//!
//! When to pick it: packing to minimize fragmentation, the classic best-fit heuristic of the FGD/Alibaba GPU
//! sharing studies; it leaves large holes intact for large pods, at the cost of hot spots on busy nodes.

use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{CycleState, MAX_NODE_SCORE, Plugin, PodCtx, Score};

#[derive(Default)]
pub struct BestFit;

/// Resolution of a free fraction: parts per million.
const PPM: i128 = 1_000_000;

/// Normalization for "lower raw score is better" (FirstFit, BestFit, Spread): with `lo` and `hi` the lowest and
/// highest raw scores, `s` becomes `100 - ceil(100 * (s - lo) / (hi - lo))`, so the nodes at `lo` get exactly
/// 100, any node above `lo` at most 99 (rounding never lets a worse node tie with the best), and the nodes at
/// `hi` 0. All equal: all 100. Integer arithmetic, no allocation.
pub fn normalize_lowest_best(scores: &mut [i64]) {
    let (Some(&lo), Some(&hi)) = (scores.iter().min(), scores.iter().max()) else { return };
    let range = hi - lo;
    for s in scores.iter_mut() {
        *s =
            if range == 0 { MAX_NODE_SCORE } else { MAX_NODE_SCORE - (MAX_NODE_SCORE * (*s - lo) + range - 1) / range };
    }
}

/// Free fraction of one resource after placement, in parts per million (0 if the allocatable is 0).
fn free_ppm(allocatable: i64, requested: i64, pod: i64) -> i64 {
    if allocatable <= 0 {
        return 0;
    }
    let free = (allocatable - requested - pod).clamp(0, allocatable);
    (i128::from(free) * PPM / i128::from(allocatable)) as i64
}

impl Plugin for BestFit {
    fn name(&self) -> &'static str {
        "BestFit"
    }
    fn as_score(&self) -> Option<&dyn Score> {
        Some(self)
    }
}

impl Score for BestFit {
    fn score(&self, _: &CycleState, pod: &PodCtx, node: &NodeInfo) -> i64 {
        let alloc = &node.node.allocatable;
        let req = &pod.spec.template.requests;
        free_ppm(alloc.cpu_millis, node.requested.cpu_millis, req.cpu_millis)
            + free_ppm(alloc.memory_bytes, node.requested.memory_bytes, req.memory_bytes)
    }

    fn normalize(&self, _: &CycleState, _: &PodCtx, scores: &mut [i64]) {
        normalize_lowest_best(scores);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::plugins::testutil::*;

    #[test]
    fn normalization_keeps_the_best_alone_at_100() {
        let mut s = vec![5, 6, 1_000_005];
        normalize_lowest_best(&mut s);
        // 6 is only a hair worse than 5 but may not tie with it.
        assert_eq!(s, vec![100, 99, 0]);
        let mut s = vec![7, 7];
        normalize_lowest_best(&mut s);
        assert_eq!(s, vec![100, 100]);
        let mut s = vec![10, 0, 5];
        normalize_lowest_best(&mut s);
        assert_eq!(s, vec![0, 100, 50]);
        normalize_lowest_best(&mut []);
    }

    #[test]
    fn raw_score_is_the_sum_of_free_fractions_after_placement() {
        // 4 CPU, 8 GiB; 1 CPU and 2 GiB used; the pod takes 1 CPU and 2 GiB more:
        // cpu free 2000/4000 = 500,000 ppm, memory free 4/8 = 500,000 ppm.
        let mut n = node_info("n", 4000, 8 * GI);
        place(&mut n, pod_spec(1000, 2 * GI, |_| {}));
        let pod = pod_spec(1000, 2 * GI, |_| {});
        let state = CycleState::default();
        let ctx = PodCtx::new(Default::default(), &pod);
        assert_eq!(BestFit.score(&state, &ctx, &n), 1_000_000);
        // A pod with no requests takes nothing (no non-zero defaults): 750,000 + 750,000.
        let empty = pod_spec_no_requests();
        assert_eq!(BestFit.score(&state, &PodCtx::new(Default::default(), &empty), &n), 1_500_000);
        // Memory in bytes at terabyte scale does not overflow.
        let huge = node_info("h", 4000, 1 << 50);
        assert_eq!(BestFit.score(&state, &ctx, &huge), 750_000 + 999_998);
    }

    #[test]
    fn tightest_node_wins_and_best_effort_pods_do_not_count() {
        let pod = pod_spec(500, GI, |_| {});
        // Half full in requests.
        let mut half = node_info("half", 4000, 16 * GI);
        place(&mut half, pod_spec(2000, 8 * GI, |_| {}));
        // Thirty best-effort pods: MostAllocated counts them as 3 CPU and 6000Mi; BestFit as nothing.
        let mut be = node_info("be", 4000, 16 * GI);
        for _ in 0..30 {
            place(&mut be, pod_spec_no_requests());
        }
        let empty = node_info("empty", 4000, 16 * GI);
        assert_eq!(scores(&BestFit, &pod, &[&half, &be, &empty]), vec![100, 0, 0]);
    }
}
