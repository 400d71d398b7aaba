//! **FirstFit** (score; research policy, not upstream): the first feasible node in a fixed node order.
//!
//! Definition: the raw score is the node's [`NodeId`](crate::model::NodeId) index, and lower is better
//! ([`normalize_lowest_best`]): the feasible node with the lowest id, i.e. the one registered first, gets 100,
//! every other feasible node less (the last one 0). Node ids are never reused, so the order is fixed for the
//! whole run. With FirstFit as the only scoring plugin and `percentageOfNodesToScore` 100 (the `first-fit`
//! preset), the filter loop finds every feasible node and the pick is exactly the lowest-id one: this is
//! first fit, not "next fit", although the filter loop itself starts each cycle at a round-robin index (that
//! index changes only which nodes are found when fewer than all are looked for).
//!
//! When to pick it: the classic bin-packing heuristic, which packs the front of the node list and leaves the
//! tail empty (for scale-down), deterministic without any tie-break; a baseline for packing policies.

use super::best_fit::normalize_lowest_best;
use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{CycleState, Plugin, PodCtx, Score};

#[derive(Default)]
pub struct FirstFit;

impl Plugin for FirstFit {
    fn name(&self) -> &'static str {
        "FirstFit"
    }
    fn as_score(&self) -> Option<&dyn Score> {
        Some(self)
    }
}

impl Score for FirstFit {
    fn score(&self, _: &CycleState, _: &PodCtx, node: &NodeInfo) -> i64 {
        i64::from(node.id.0)
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
    fn the_lowest_id_gets_100_whatever_its_load() {
        let mut busy = node_info("a", 4000, 8 * GI);
        place(&mut busy, pod_spec(3500, 7 * GI, |_| {}));
        let nodes = vec![busy, node_info("b", 4000, 8 * GI), node_info("c", 4000, 8 * GI)];
        let cache = cache_of(&nodes);
        assert_eq!(scores_in(&FirstFit, &pod_spec(100, GI, |_| {}), &cache), Some(vec![100, 50, 0]));
    }
}
