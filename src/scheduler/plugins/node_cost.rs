//! **NodeCost** (score, not upstream): prefers cheaper nodes, by the integer node label `kubesim.io/cost` (any
//! unit, e.g. cents per hour). The cheapest feasible node scores 100, the most expensive 0, linearly between;
//! a node without a valid label scores 0. A simple cost-aware policy for what-if studies, and the README's worked
//! example of a custom plugin.

use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{CycleState, MAX_NODE_SCORE, Plugin, PodCtx, Score};

/// The label holding a node's cost.
pub const COST_LABEL: &str = "kubesim.io/cost";

/// Raw score of a node without a valid (non-negative integer) cost.
const UNKNOWN: i64 = -1;

#[derive(Default)]
pub struct NodeCost;

impl Plugin for NodeCost {
    fn name(&self) -> &'static str {
        "NodeCost"
    }
    fn as_score(&self) -> Option<&dyn Score> {
        Some(self)
    }
}

impl Score for NodeCost {
    /// The cost itself (normalized below).
    fn score(&self, _: &CycleState, _: &PodCtx, node: &NodeInfo) -> i64 {
        let cost = node.node.labels.get(COST_LABEL).and_then(|v| v.parse::<i64>().ok());
        cost.filter(|c| *c >= 0).unwrap_or(UNKNOWN)
    }

    /// Cheapest 100, dearest 0; unknown 0.
    fn normalize(&self, _: &CycleState, _: &PodCtx, scores: &mut [i64]) {
        let known = scores.iter().copied().filter(|s| *s != UNKNOWN);
        let (Some(min), Some(max)) = (known.clone().min(), known.max()) else {
            scores.iter_mut().for_each(|s| *s = 0);
            return;
        };
        for s in scores.iter_mut() {
            *s = match *s {
                UNKNOWN => 0,
                _ if max == min => MAX_NODE_SCORE,
                cost => MAX_NODE_SCORE * (max - cost) / (max - min),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::plugins::testutil::*;

    #[test]
    fn cheapest_scores_highest() {
        let mut nodes: Vec<_> = ["10", "30", "20", "", "x"].iter().map(|_| node_info("n", 1000, GI)).collect();
        for (n, cost) in nodes.iter_mut().zip(["10", "30", "20", "", "x"]) {
            if !cost.is_empty() {
                add_label(n, COST_LABEL, cost);
            }
        }
        let refs: Vec<&_> = nodes.iter().collect();
        assert_eq!(scores(&NodeCost, &pod_spec(100, GI, |_| {}), &refs), vec![100, 0, 50, 0, 0]);
        let one = [&nodes[0], &nodes[0]];
        assert_eq!(scores(&NodeCost, &pod_spec(100, GI, |_| {}), &one), vec![100, 100]);
        let none = [&nodes[3]];
        assert_eq!(scores(&NodeCost, &pod_spec(100, GI, |_| {}), &none), vec![0]);
    }
}
