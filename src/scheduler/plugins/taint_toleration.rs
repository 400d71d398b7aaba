//! **TaintToleration** (filter and score, weight 3 in the default profile).
//!
//! Filter: the node's first `NoSchedule` or `NoExecute` taint that the pod does not tolerate rejects it
//! (UnschedulableAndUnresolvable): taints are how operators reserve or fence off nodes.
//! Score: the number of `PreferNoSchedule` taints the pod does not tolerate (counting only the pod's tolerations
//! with effect `PreferNoSchedule` or empty), normalized in reverse, so nodes with fewer soft taints win.

use crate::model::taints::tolerated;
use crate::model::{TaintEffect, Toleration};
use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{
    Code, CycleState, Filter, MAX_NODE_SCORE, NodeList, Plugin, PodCtx, PreResult, PreScore, Reason, Score, Verdict,
    default_normalize_score,
};

#[derive(Default)]
pub struct TaintToleration;

/// PreScore state: the pod's tolerations that matter for `PreferNoSchedule` taints.
#[derive(Clone, Default)]
struct PreferTolerations(Vec<Toleration>);

impl Plugin for TaintToleration {
    fn name(&self) -> &'static str {
        "TaintToleration"
    }
    fn as_filter(&self) -> Option<&dyn Filter> {
        Some(self)
    }
    fn as_pre_score(&self) -> Option<&dyn PreScore> {
        Some(self)
    }
    fn as_score(&self) -> Option<&dyn Score> {
        Some(self)
    }
}

impl Filter for TaintToleration {
    fn filter(&self, _: &CycleState, pod: &PodCtx, node: &NodeInfo, why: Option<&mut Vec<Reason>>) -> Verdict {
        let tolerations = &pod.spec.template.tolerations;
        let untolerated = node.node.taints.iter().find(|t| {
            matches!(t.effect, TaintEffect::NoSchedule | TaintEffect::NoExecute) && !tolerated(tolerations, t)
        });
        match untolerated {
            None => Verdict::Pass,
            Some(taint) => {
                if let Some(why) = why {
                    why.push(Reason::UntoleratedTaint { key: taint.key.clone(), value: taint.value.clone() });
                }
                Verdict::Fail(Code::UnschedulableAndUnresolvable)
            }
        }
    }
}

impl PreScore for TaintToleration {
    fn pre_score(&self, state: &mut CycleState, pod: &PodCtx, _: NodeList) -> PreResult {
        let slot = state.slot::<PreferTolerations>();
        slot.0.clear();
        slot.0.extend(
            pod.spec
                .template
                .tolerations
                .iter()
                .filter(|t| t.effect.is_none_or(|e| e == TaintEffect::PreferNoSchedule))
                .cloned(),
        );
        PreResult::Proceed
    }
}

impl Score for TaintToleration {
    fn score(&self, state: &CycleState, _: &PodCtx, node: &NodeInfo) -> i64 {
        let tolerations = state.get::<PreferTolerations>().map(|p| p.0.as_slice()).unwrap_or(&[]);
        node.node
            .taints
            .iter()
            .filter(|t| t.effect == TaintEffect::PreferNoSchedule && !tolerated(tolerations, t))
            .count() as i64
    }

    fn normalize(&self, _: &CycleState, _: &PodCtx, scores: &mut [i64]) {
        default_normalize_score(MAX_NODE_SCORE, true, scores);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::plugins::testutil::*;

    #[test]
    fn filter_rejects_first_untolerated_hard_taint() {
        let p = TaintToleration;
        let mut n = node_info("n", 4000, GI);
        add_taint(&mut n, "soft", "x", TaintEffect::PreferNoSchedule);
        assert_eq!(filter(&p, &pod_spec(1, 1, |_| {}), &n).0, Verdict::Pass);
        add_taint(&mut n, "dedicated", "gpu", TaintEffect::NoSchedule);
        let (v, why) = filter(&p, &pod_spec(1, 1, |_| {}), &n);
        assert_eq!(v, Verdict::Fail(Code::UnschedulableAndUnresolvable));
        assert_eq!(why, vec!["node(s) had untolerated taint {dedicated: gpu}".to_string()]);
        let tolerating = pod_spec(1, 1, |t| t.tolerations.push(exists_toleration("dedicated")));
        assert_eq!(filter(&p, &tolerating, &n).0, Verdict::Pass);
    }

    #[test]
    fn score_counts_untolerated_soft_taints_reversed() {
        let p = TaintToleration;
        let clean = node_info("a", 4000, GI);
        let mut one = node_info("b", 4000, GI);
        add_taint(&mut one, "soft", "x", TaintEffect::PreferNoSchedule);
        let mut two = one.clone();
        add_taint(&mut two, "soft2", "y", TaintEffect::PreferNoSchedule);
        let pod = pod_spec(1, 1, |_| {});
        assert_eq!(scores(&p, &pod, &[&clean, &one, &two]), vec![100, 50, 0]);
        let tolerant = pod_spec(1, 1, |t| t.tolerations.push(exists_toleration("soft")));
        assert_eq!(scores(&p, &tolerant, &[&clean, &one, &two]), vec![100, 100, 0]);
    }
}
