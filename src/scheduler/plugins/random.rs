//! **Random** (score; research policy, not upstream): every feasible node is equally likely.
//!
//! Definition: the score is the constant 0 for every node, so the plugin adds nothing to any node's total
//! and the choice falls to `selectHost`, which picks uniformly among the nodes with the highest total using the
//! scheduler's seeded tie-break stream (reservoir sampling: the k-th tied node replaces the pick with
//! probability 1/k). In the `random` preset Random is the only scoring plugin and `percentageOfNodesToScore`
//! is 100, so the filter loop collects *every* feasible node and the pick is uniform over all of them. Two
//! upstream short cuts still apply: a pod's nominated node (after preemption) is taken if it fits, and a single
//! feasible node is taken without scoring. With a lower `percentageOfNodesToScore` the pick is uniform only
//! over the feasible nodes the filter loop found, which depend on its round-robin start index.
//!
//! When to pick it: as the baseline every placement policy should beat (utilization, fragmentation,
//! spread), and to see how much of a metric is due to the policy at all. It needs no randomness of its own:
//! the tie-break stream is the scheduler's only source of randomness, so runs stay reproducible per seed.

use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{CycleState, Plugin, PodCtx, Score};

#[derive(Default)]
pub struct Random;

impl Plugin for Random {
    fn name(&self) -> &'static str {
        "Random"
    }
    fn as_score(&self) -> Option<&dyn Score> {
        Some(self)
    }
}

impl Score for Random {
    fn score(&self, _: &CycleState, _: &PodCtx, _: &NodeInfo) -> i64 {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::plugins::testutil::*;

    #[test]
    fn every_node_scores_the_same() {
        let empty = node_info("a", 4000, 8 * GI);
        let mut full = node_info("b", 4000, 8 * GI);
        place(&mut full, pod_spec(3500, 7 * GI, |_| {}));
        assert_eq!(scores(&Random, &pod_spec(100, GI, |_| {}), &[&empty, &full]), vec![0, 0]);
    }
}
