//! **NodeUnschedulable** (filter): cordoned nodes (`spec.unschedulable`) accept only pods that tolerate the
//! `node.kubernetes.io/unschedulable:NoSchedule` taint, as upstream: a cordon must stop new placements without
//! touching running pods. Rejection is UnschedulableAndUnresolvable (preemption cannot uncordon a node).

use crate::model::taints::{keys, tolerated};
use crate::model::{Taint, TaintEffect, s};
use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{Code, CycleState, Filter, Plugin, PodCtx, Reason, Verdict};

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
}

impl Filter for NodeUnschedulable {
    fn filter(&self, _: &CycleState, pod: &PodCtx, node: &NodeInfo, why: Option<&mut Vec<Reason>>) -> Verdict {
        if !node.node.unschedulable || tolerated(&pod.spec.template.tolerations, &self.taint) {
            return Verdict::Pass;
        }
        if let Some(why) = why {
            why.push(Reason::Text("node(s) were unschedulable"));
        }
        Verdict::Fail(Code::UnschedulableAndUnresolvable)
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
}
