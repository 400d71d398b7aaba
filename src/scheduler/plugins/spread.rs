//! **Spread** (score; research policy, not upstream): the node with the fewest pods.
//!
//! Definition: the raw score is the number of pods on the node as the scheduler sees it (bound or assumed,
//! terminating ones included: they still occupy the node), and lower is better ([`normalize_lowest_best`]):
//! the nodes with the fewest pods get 100, every node with more gets less, the fullest 0. Resource requests
//! are ignored. With Spread as the only scoring plugin (the `spread` preset) the pick is uniform among the
//! feasible nodes with the fewest pods, by `selectHost`'s seeded tie-break.
//!
//! When to pick it: pure count-based spreading (round-robin-like balance), e.g. to limit the blast radius of a
//! node failure in pods rather than in resources; it differs from LeastAllocated, which balances requested
//! resources and therefore puts many small pods next to one large one.

use super::best_fit::normalize_lowest_best;
use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{CycleState, Plugin, PodCtx, Score};

#[derive(Default)]
pub struct Spread;

impl Plugin for Spread {
    fn name(&self) -> &'static str {
        "Spread"
    }
    fn as_score(&self) -> Option<&dyn Score> {
        Some(self)
    }
}

impl Score for Spread {
    fn score(&self, _: &CycleState, _: &PodCtx, node: &NodeInfo) -> i64 {
        node.pod_count()
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
    fn fewest_pods_win_regardless_of_requests() {
        let mut one_big = node_info("a", 4000, 8 * GI);
        place(&mut one_big, pod_spec(3000, 6 * GI, |_| {}));
        let mut three_small = node_info("b", 4000, 8 * GI);
        for _ in 0..3 {
            place(&mut three_small, pod_spec(10, 1, |_| {}));
        }
        let mut two_small = node_info("c", 4000, 8 * GI);
        for _ in 0..2 {
            place(&mut two_small, pod_spec(10, 1, |_| {}));
        }
        let pod = pod_spec(100, GI, |_| {});
        assert_eq!(scores(&Spread, &pod, &[&one_big, &three_small, &two_small]), vec![100, 0, 50]);
        // Equal counts tie at 100.
        assert_eq!(scores(&Spread, &pod, &[&one_big, &one_big]), vec![100, 100]);
    }
}
