//! **NodeName** (filter): a pod that names its node (`spec.nodeName`) fits only that node. (Such pods are bound
//! when created and never reach the scheduler; the filter matters where other plugins reuse the filters, e.g.
//! preemption, as upstream.)

use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{Code, CycleState, Filter, Plugin, PodCtx, Reason, Verdict};

#[derive(Default)]
pub struct NodeName;

impl Plugin for NodeName {
    fn name(&self) -> &'static str {
        "NodeName"
    }
    fn as_filter(&self) -> Option<&dyn Filter> {
        Some(self)
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
}
