//! **NodeAffinity** (filter): the pod's `nodeSelector` must be a subset of the node's labels, and one of its
//! required node-affinity terms (if any) must match the node (`matchExpressions` on labels, `matchFields` on
//! the node name: how DaemonSet pods are pinned). This is how workloads pin themselves to zones, pools or
//! hardware. Rejection is UnschedulableAndUnresolvable. PreFilter skips the plugin for pods with neither.

use crate::scheduler::cache::{Cache, NodeInfo};
use crate::scheduler::framework::{
    Code, CycleState, Filter, Plugin, PodCtx, PreFilter, PreFilterResult, Reason, Verdict,
};

#[derive(Default)]
pub struct NodeAffinity;

impl Plugin for NodeAffinity {
    fn name(&self) -> &'static str {
        "NodeAffinity"
    }
    fn as_pre_filter(&self) -> Option<&dyn PreFilter> {
        Some(self)
    }
    fn as_filter(&self) -> Option<&dyn Filter> {
        Some(self)
    }
}

impl PreFilter for NodeAffinity {
    fn pre_filter(&self, _: &mut CycleState, pod: &PodCtx, _: &Cache) -> PreFilterResult {
        let t = &pod.spec.template;
        if t.node_selector.is_empty() && t.node_affinity.required.is_none() {
            PreFilterResult::Skip
        } else {
            PreFilterResult::Proceed
        }
    }
}

impl Filter for NodeAffinity {
    fn filter(&self, _: &CycleState, pod: &PodCtx, node: &NodeInfo, why: Option<&mut Vec<Reason>>) -> Verdict {
        let t = &pod.spec.template;
        let labels = &node.node.labels;
        if labels.contains_all(&t.node_selector) && t.node_affinity.required_matches(&node.node.name, labels) {
            return Verdict::Pass;
        }
        if let Some(why) = why {
            why.push(Reason::Text("node(s) didn't match Pod's node affinity/selector"));
        }
        Verdict::Fail(Code::UnschedulableAndUnresolvable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::s;
    use crate::scheduler::plugins::testutil::*;

    #[test]
    fn node_selector_must_be_a_subset() {
        let mut n = node_info("n", 1000, GI);
        add_label(&mut n, "zone", "a");
        add_label(&mut n, "disk", "ssd");
        let pod = |pairs: &[(&str, &str)]| {
            pod_spec(1, 1, |t| {
                for (k, v) in pairs {
                    t.node_selector.insert(s(k), s(v));
                }
            })
        };
        assert_eq!(filter(&NodeAffinity, &pod(&[("zone", "a")]), &n).0, Verdict::Pass);
        assert_eq!(filter(&NodeAffinity, &pod(&[("zone", "a"), ("disk", "ssd")]), &n).0, Verdict::Pass);
        let (v, why) = filter(&NodeAffinity, &pod(&[("zone", "b")]), &n);
        assert_eq!(v, Verdict::Fail(Code::UnschedulableAndUnresolvable));
        assert_eq!(why, vec!["node(s) didn't match Pod's node affinity/selector".to_string()]);
        assert_eq!(
            filter(&NodeAffinity, &pod(&[("gpu", "true")]), &n).0,
            Verdict::Fail(Code::UnschedulableAndUnresolvable)
        );
    }
}
