//! **TaintToleration** (filter and score, weight 3 in the default profile).
//!
//! Filter: the node's first `NoSchedule` or `NoExecute` taint that the pod does not tolerate rejects it
//! (UnschedulableAndUnresolvable): taints are how operators reserve or fence off nodes.
//! Score: the number of `PreferNoSchedule` taints the pod does not tolerate (counting only the pod's tolerations
//! with effect `PreferNoSchedule` or empty), normalized in reverse, so nodes with fewer soft taints win.
//!
//! Queueing: a pod it rejected is retried only when a node is added, or updated, such that it had (or, new, has)
//! an untolerated hard taint before and none after.

use crate::model::taints::tolerated;
use crate::model::{PodSpec, Taint, TaintEffect, Toleration};
use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{
    ClusterEvent, Code, CycleState, Filter, MAX_NODE_SCORE, NodeList, Plugin, PodCtx, PreResult, PreScore,
    QueueingHint, Reason, Score, Verdict, default_normalize_score, event_kind,
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
    /// Upstream (queueing hints on): Node `Add | UpdateNodeTaint`. Pod toleration updates are not modelled: pod
    /// specs are immutable in kubesim.
    fn events_to_register(&self) -> u8 {
        event_kind::NODE_ADD | event_kind::NODE_UPDATE
    }
    fn queueing_hint(&self, pod: &PodSpec, event: &ClusterEvent) -> QueueingHint {
        let tolerations = &pod.template.tolerations;
        let (was_untolerated, new) = match event {
            ClusterEvent::NodeAdd(info) => (true, &info.node),
            ClusterEvent::NodeUpdate { old, new } => (first_untolerated(&old.taints, tolerations).is_some(), &new.node),
            _ => return QueueingHint::Queue,
        };
        if was_untolerated && first_untolerated(&new.taints, tolerations).is_none() {
            QueueingHint::Queue
        } else {
            QueueingHint::Skip
        }
    }
}

/// Upstream `FindMatchingUntoleratedTaint` with `DoNotScheduleTaintsFilterFunc`: the first `NoSchedule` or
/// `NoExecute` taint the tolerations do not tolerate.
fn first_untolerated<'a>(taints: &'a [Taint], tolerations: &[Toleration]) -> Option<&'a Taint> {
    taints
        .iter()
        .find(|t| matches!(t.effect, TaintEffect::NoSchedule | TaintEffect::NoExecute) && !tolerated(tolerations, t))
}

impl Filter for TaintToleration {
    fn filter(&self, _: &CycleState, pod: &PodCtx, node: &NodeInfo, why: Option<&mut Vec<Reason>>) -> Verdict {
        if !node.has_taints {
            return Verdict::Pass;
        }
        match first_untolerated(&node.node.taints, &pod.spec.template.tolerations) {
            None => Verdict::Pass,
            Some(taint) => {
                if let Some(why) = why {
                    why.push(Reason::UntoleratedTaint { key: taint.key.clone(), value: taint.value.clone() });
                }
                Verdict::Fail(Code::UnschedulableAndUnresolvable)
            }
        }
    }
    /// Reads only the pod's template and this node's info.
    fn node_local(&self) -> bool {
        true
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

/// The number of the node's `PreferNoSchedule` taints the pod does not tolerate.
fn untolerated_prefer_no_schedule(tolerations: &[Toleration], node: &NodeInfo) -> i64 {
    node.node.taints.iter().filter(|t| t.effect == TaintEffect::PreferNoSchedule && !tolerated(tolerations, t)).count()
        as i64
}

impl Score for TaintToleration {
    fn score(&self, state: &CycleState, _: &PodCtx, node: &NodeInfo) -> i64 {
        let tolerations = state.get::<PreferTolerations>().map(|p| p.0.as_slice()).unwrap_or(&[]);
        untolerated_prefer_no_schedule(tolerations, node)
    }

    fn score_nodes(&self, state: &CycleState, _: &PodCtx, nodes: NodeList, out: &mut Vec<i64>) {
        if nodes.cache.prefer_no_schedule_nodes() == 0 {
            // No node has a PreferNoSchedule taint: nothing to count anywhere.
            out.extend(std::iter::repeat_n(0, nodes.len()));
            return;
        }
        let tolerations = state.get::<PreferTolerations>().map(|p| p.0.as_slice()).unwrap_or(&[]);
        out.extend(nodes.iter().map(|n| untolerated_prefer_no_schedule(tolerations, n)));
    }

    fn normalize(&self, _: &CycleState, _: &PodCtx, scores: &mut [i64]) {
        default_normalize_score(MAX_NODE_SCORE, true, scores);
    }

    /// No node has a PreferNoSchedule taint: every raw score is 0, so every node normalizes to 100.
    fn uniform(&self, _: &CycleState, _: &PodCtx, nodes: NodeList) -> bool {
        nodes.cache.prefer_no_schedule_nodes() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{NodeId, PodId};
    use crate::scheduler::cache::Cache;
    use crate::scheduler::framework::{CycleState, NodeList, PodCtx};
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

    #[test]
    fn uniform_only_without_prefer_no_schedule_taints() {
        let pod = pod_spec(1, 1, |_| {});
        let uniform = |cache: &Cache| {
            let ids: Vec<NodeId> = cache.nodes().map(|n| n.id).collect();
            let ctx = PodCtx::new(PodId::default(), &pod);
            TaintToleration.uniform(&CycleState::default(), &ctx, NodeList { cache, ids: &ids })
        };
        let mut hard = node_info("b", 4000, GI);
        add_taint(&mut hard, "hard", "x", TaintEffect::NoSchedule);
        let plain = cache_of(&[node_info("a", 4000, GI), hard]);
        assert!(uniform(&plain));
        assert_eq!(scores_in(&TaintToleration, &pod, &plain), Some(vec![100, 100]));
        let mut soft = node_info("c", 4000, GI);
        add_taint(&mut soft, "soft", "x", TaintEffect::PreferNoSchedule);
        let mixed = cache_of(&[node_info("a", 4000, GI), soft]);
        assert!(!uniform(&mixed));
        assert_eq!(scores_in(&TaintToleration, &pod, &mixed), Some(vec![100, 0]));
    }

    /// Upstream `Test_isSchedulableAfterNodeChange` (taint_toleration_test.go).
    #[test]
    fn queueing_hints() {
        use crate::scheduler::framework::{ClusterEvent, QueueingHint};
        let p = TaintToleration;
        let pod = pod_spec(1, 1, |t| t.tolerations.push(exists_toleration("tolerated")));
        let clean = node_info("n", 4000, GI);
        let mut hard = clean.clone();
        add_taint(&mut hard, "hard", "x", TaintEffect::NoSchedule);
        let mut ok = clean.clone();
        add_taint(&mut ok, "tolerated", "x", TaintEffect::NoExecute);
        let mut soft = clean.clone();
        add_taint(&mut soft, "soft", "x", TaintEffect::PreferNoSchedule);
        let add = |n: &NodeInfo| p.queueing_hint(&pod, &ClusterEvent::NodeAdd(n));
        let upd =
            |old: &NodeInfo, new: &NodeInfo| p.queueing_hint(&pod, &ClusterEvent::NodeUpdate { old: &old.node, new });
        assert_eq!(add(&clean), QueueingHint::Queue, "an untainted node added");
        assert_eq!(add(&ok), QueueingHint::Queue, "a node with tolerated taints added");
        assert_eq!(add(&soft), QueueingHint::Queue, "PreferNoSchedule does not block");
        assert_eq!(add(&hard), QueueingHint::Skip, "an untolerated taint");
        assert_eq!(upd(&hard, &clean), QueueingHint::Queue, "the untolerated taint was removed");
        assert_eq!(upd(&hard, &ok), QueueingHint::Queue, "replaced by a tolerated one");
        assert_eq!(upd(&clean, &hard), QueueingHint::Skip, "tainted");
        assert_eq!(upd(&clean, &ok), QueueingHint::Skip, "was already tolerated");
        assert_eq!(p.events_to_register(), event_kind::NODE_ADD | event_kind::NODE_UPDATE);
    }
}
