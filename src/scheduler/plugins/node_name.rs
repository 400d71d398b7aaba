//! **NodeName** (filter): a pod that names its node (`spec.nodeName`) fits only that node. (Such pods are bound
//! when created and never reach the scheduler; the filter matters where other plugins reuse the filters, e.g.
//! preemption, as upstream.)
//!
//! Queueing: only a new node can help (names never change). Upstream registers Node `Add` without a hint
//! function, so every added node requeues such a pod, whatever its name; kubesim does the same.

use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{Code, CycleState, Filter, Plugin, PodCtx, Reason, Verdict, event_kind};

#[derive(Default)]
pub struct NodeName;

impl Plugin for NodeName {
    fn name(&self) -> &'static str {
        "NodeName"
    }
    fn as_filter(&self) -> Option<&dyn Filter> {
        Some(self)
    }
    /// Upstream: Node `Add`, with the default hint (always requeue).
    fn events_to_register(&self) -> u8 {
        event_kind::NODE_ADD
    }
}

impl Filter for NodeName {
    fn filter(&self, _: &CycleState, pod: &PodCtx, node: &NodeInfo, why: Option<&mut Vec<Reason>>) -> Verdict {
        match &pod.spec.template.node_name {
            Some(name) if *name != node.node.name => {
                if let Some(why) = why {
                    why.push(Reason::Text("node(s) didn't match the requested node name"));
                }
                Verdict::Fail(Code::UnschedulableAndUnresolvable)
            }
            _ => Verdict::Pass,
        }
    }
    /// Reads only the pod's template and this node's info.
    fn node_local(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::s;
    use crate::scheduler::plugins::testutil::*;

    #[test]
    fn only_the_named_node_fits() {
        let pod = pod_spec(100, GI, |t| t.node_name = Some(s("b")));
        assert_eq!(filter(&NodeName, &pod, &node_info("b", 1000, GI)).0, Verdict::Pass);
        assert_eq!(
            filter(&NodeName, &pod, &node_info("a", 1000, GI)).0,
            Verdict::Fail(Code::UnschedulableAndUnresolvable)
        );
        assert_eq!(filter(&NodeName, &pod_spec(100, GI, |_| {}), &node_info("a", 1000, GI)).0, Verdict::Pass);
    }

    #[test]
    fn only_node_additions_requeue() {
        use crate::scheduler::framework::{ClusterEvent, QueueingHint};
        let pod = pod_spec(100, GI, |t| t.node_name = Some(s("b")));
        let n = node_info("a", 1000, GI);
        assert_eq!(NodeName.events_to_register(), event_kind::NODE_ADD);
        assert_eq!(NodeName.queueing_hint(&pod, &ClusterEvent::NodeAdd(&n)), QueueingHint::Queue);
    }
}
