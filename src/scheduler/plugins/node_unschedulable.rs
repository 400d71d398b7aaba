//! **NodeUnschedulable** (filter): cordoned nodes (`spec.unschedulable`) accept only pods that tolerate the
//! `node.kubernetes.io/unschedulable:NoSchedule` taint, as upstream: a cordon must stop new placements without
//! touching running pods. Rejection is UnschedulableAndUnresolvable (preemption cannot uncordon a node).
//!
//! Queueing: only a schedulable node being added, or a node being uncordoned, can help a pod it rejected.

use crate::model::taints::{keys, tolerated};
use crate::model::{PodSpec, Taint, TaintEffect, s};
use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{
    ClusterEvent, Code, CycleState, Filter, Plugin, PodCtx, QueueingHint, Reason, Verdict, event_kind,
};

pub struct NodeUnschedulable {
    taint: Taint,
}

impl Default for NodeUnschedulable {
    fn default() -> Self {
        NodeUnschedulable {
            taint: Taint { key: s(keys::UNSCHEDULABLE), value: s(""), effect: TaintEffect::NoSchedule },
        }
    }
}

impl Plugin for NodeUnschedulable {
    fn name(&self) -> &'static str {
        "NodeUnschedulable"
    }
    fn as_filter(&self) -> Option<&dyn Filter> {
        Some(self)
    }
    /// Upstream (queueing hints on): Node `Add | UpdateNodeTaint` (a cordon change is classified as a taint
    /// update). Pod toleration updates are not modelled: pod specs are immutable in kubesim.
    fn events_to_register(&self) -> u8 {
        event_kind::NODE_ADD | event_kind::NODE_UPDATE
    }
    fn queueing_hint(&self, _: &PodSpec, event: &ClusterEvent) -> QueueingHint {
        let helps = match event {
            ClusterEvent::NodeAdd(info) => !info.node.unschedulable,
            ClusterEvent::NodeUpdate { old, new } => old.unschedulable && !new.node.unschedulable,
            _ => true,
        };
        if helps { QueueingHint::Queue } else { QueueingHint::Skip }
    }
}

impl Filter for NodeUnschedulable {
    fn filter(&self, _: &CycleState, pod: &PodCtx, node: &NodeInfo, why: Option<&mut Vec<Reason>>) -> Verdict {
        if !node.unschedulable || tolerated(&pod.spec.template.tolerations, &self.taint) {
            return Verdict::Pass;
        }
        if let Some(why) = why {
            why.push(Reason::Text("node(s) were unschedulable"));
        }
        Verdict::Fail(Code::UnschedulableAndUnresolvable)
    }
    /// Reads only the pod's template and this node's info.
    fn node_local(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::plugins::testutil::*;

    #[test]
    fn cordoned_nodes_need_the_toleration() {
        let p = NodeUnschedulable::default();
        let mut cordoned = node_info("n", 4000, GI);
        set_unschedulable(&mut cordoned);
        let plain = pod_spec(500, GI, |_| {});
        let tolerating = pod_spec(500, GI, |t| t.tolerations.push(exists_toleration(keys::UNSCHEDULABLE)));
        assert_eq!(filter(&p, &plain, &node_info("n", 4000, GI)), (Verdict::Pass, vec![]));
        assert_eq!(
            filter(&p, &plain, &cordoned),
            (Verdict::Fail(Code::UnschedulableAndUnresolvable), vec!["node(s) were unschedulable".to_string()])
        );
        assert_eq!(filter(&p, &tolerating, &cordoned).0, Verdict::Pass);
    }

    /// Upstream `TestIsSchedulableAfterNodeChange` (node_unschedulable_test.go).
    #[test]
    fn queueing_hints() {
        let p = NodeUnschedulable::default();
        let pod = pod_spec(500, GI, |_| {});
        let open = node_info("n", 4000, GI);
        let mut cordoned = open.clone();
        set_unschedulable(&mut cordoned);
        let upd =
            |old: &NodeInfo, new: &NodeInfo| p.queueing_hint(&pod, &ClusterEvent::NodeUpdate { old: &old.node, new });
        assert_eq!(p.queueing_hint(&pod, &ClusterEvent::NodeAdd(&open)), QueueingHint::Queue, "schedulable node added");
        assert_eq!(p.queueing_hint(&pod, &ClusterEvent::NodeAdd(&cordoned)), QueueingHint::Skip, "cordoned node added");
        assert_eq!(upd(&cordoned, &open), QueueingHint::Queue, "uncordoned");
        assert_eq!(upd(&open, &cordoned), QueueingHint::Skip, "cordoned");
        assert_eq!(upd(&open, &open), QueueingHint::Skip, "unrelated update");
        assert_eq!(p.events_to_register(), event_kind::NODE_ADD | event_kind::NODE_UPDATE);
    }
}
