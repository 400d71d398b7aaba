//! **NodeResourcesFit** (filter and score, weight 1 in the default profile).
//!
//! Filter (upstream `fitsRequest`): the node must have room for one more pod (`allocatable.pods`), and for
//! every resource the pod requests (> 0) the node's free amount, allocatable minus the *actual* requests of the
//! pods already there, must cover it; otherwise `Insufficient <resource>`. The rejection is Unschedulable
//! (preemption could free room) unless the pod asks for more than the node's entire allocatable, which is
//! UnschedulableAndUnresolvable. A pod that requests nothing only needs a pod slot.
//!
//! Score, by strategy over the configured resources (default cpu and memory, weight 1 each), using requests
//! with the scheduler's non-zero defaults (100m CPU, 200Mi memory for containers that omit them):
//! - `LeastAllocated` (default, spreads load): `(alloc - req) * 100 / alloc` per resource, 0 if over;
//! - `MostAllocated` (bin-packing): `min(req, alloc) * 100 / alloc`;
//!
//! then the weighted mean `Σ s·w / Σ w`, truncated as in Go; resources with allocatable 0 are skipped.

use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{
    Code, CycleState, Filter, MAX_NODE_SCORE, Plugin, PodCtx, Reason, ResourceName, Score, Verdict,
};

pub use crate::scheduler::args::{FitArgs, ScoringStrategy};

#[derive(Default)]
pub struct NodeResourcesFit {
    pub args: FitArgs,
}

impl NodeResourcesFit {
    pub fn new(args: FitArgs) -> NodeResourcesFit {
        NodeResourcesFit { args }
    }
}

impl Plugin for NodeResourcesFit {
    fn name(&self) -> &'static str {
        "NodeResourcesFit"
    }
    fn as_filter(&self) -> Option<&dyn Filter> {
        Some(self)
    }
    fn as_score(&self) -> Option<&dyn Score> {
        Some(self)
    }
}

impl Filter for NodeResourcesFit {
    fn filter(&self, _: &CycleState, pod: &PodCtx, node: &NodeInfo, mut why: Option<&mut Vec<Reason>>) -> Verdict {
        let alloc = &node.node.allocatable;
        let used = &node.requested;
        let req = &pod.spec.template.requests;
        let mut verdict = Verdict::Pass;
        let mut fail = |code: Code, reason: Reason, why: &mut Option<&mut Vec<Reason>>| {
            verdict = match verdict {
                Verdict::Fail(c) if c >= code => Verdict::Fail(c),
                _ => Verdict::Fail(code),
            };
            if let Some(w) = why.as_deref_mut() {
                w.push(reason);
            }
        };
        if node.pod_count() + 1 > node.node.allocatable_pods {
            fail(Code::Unschedulable, Reason::Text("Too many pods"), &mut why);
        }
        if req.is_zero() {
            return verdict;
        }
        let check = |r: i64, a: i64, u: i64| -> Option<Code> {
            if r > 0 && r > a - u {
                Some(if r > a { Code::UnschedulableAndUnresolvable } else { Code::Unschedulable })
            } else {
                None
            }
        };
        if let Some(code) = check(req.cpu_millis, alloc.cpu_millis, used.cpu_millis) {
            fail(code, Reason::Insufficient(ResourceName::Cpu), &mut why);
        }
        if let Some(code) = check(req.memory_bytes, alloc.memory_bytes, used.memory_bytes) {
            fail(code, Reason::Insufficient(ResourceName::Memory), &mut why);
        }
        if let Some(code) =
            check(req.ephemeral_storage_bytes, alloc.ephemeral_storage_bytes, used.ephemeral_storage_bytes)
        {
            fail(code, Reason::Insufficient(ResourceName::EphemeralStorage), &mut why);
        }
        for (name, r) in &req.scalars {
            if let Some(code) = check(*r, alloc.scalar(name), used.scalar(name)) {
                fail(code, Reason::Insufficient(ResourceName::Scalar(name.clone())), &mut why);
            }
        }
        verdict
    }
}

/// Upstream `leastRequestedScore`.
pub fn least_requested_score(requested: i64, capacity: i64) -> i64 {
    if capacity == 0 || requested > capacity {
        return 0;
    }
    (capacity - requested) * MAX_NODE_SCORE / capacity
}

/// Upstream `mostRequestedScore`.
pub fn most_requested_score(requested: i64, capacity: i64) -> i64 {
    if capacity == 0 {
        return 0;
    }
    requested.min(capacity) * MAX_NODE_SCORE / capacity
}

impl Score for NodeResourcesFit {
    fn score(&self, _: &CycleState, pod: &PodCtx, node: &NodeInfo) -> i64 {
        let t = &pod.spec.template;
        let alloc = &node.node.allocatable;
        let (mut total, mut weight_sum) = (0i64, 0i64);
        for r in &self.args.resources {
            let (req, cap) = match &*r.name {
                "cpu" => (node.nonzero_cpu_millis + t.nonzero_cpu_millis, alloc.cpu_millis),
                "memory" => (node.nonzero_memory_bytes + t.nonzero_memory_bytes, alloc.memory_bytes),
                _ => continue,
            };
            let w = r.weight;
            if cap == 0 || w == 0 {
                continue;
            }
            let s = match self.args.strategy {
                ScoringStrategy::LeastAllocated => least_requested_score(req, cap),
                ScoringStrategy::MostAllocated | ScoringStrategy::RequestedToCapacityRatio => {
                    most_requested_score(req, cap)
                }
            };
            total += s * w;
            weight_sum += w;
        }
        if weight_sum == 0 { 0 } else { total / weight_sum }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::s;
    use crate::scheduler::plugins::testutil::*;

    #[test]
    fn filter_table() {
        let p = NodeResourcesFit::default();
        // Node: 4 CPU, 8 GiB; 3 CPU and 2 GiB already requested.
        let mut n = node_info("n", 4000, 8 * GI);
        place(&mut n, pod_spec(3000, 2 * GI, |_| {}));
        let cases: Vec<(i64, i64, Verdict, Vec<&str>)> = vec![
            (1000, GI, Verdict::Pass, vec![]),
            (1001, GI, Verdict::Fail(Code::Unschedulable), vec!["Insufficient cpu"]),
            (1000, 6 * GI + 1, Verdict::Fail(Code::Unschedulable), vec!["Insufficient memory"]),
            (2000, 7 * GI, Verdict::Fail(Code::Unschedulable), vec!["Insufficient cpu", "Insufficient memory"]),
            (5000, GI, Verdict::Fail(Code::UnschedulableAndUnresolvable), vec!["Insufficient cpu"]),
            (0, 0, Verdict::Pass, vec![]),
        ];
        for (cpu, mem, verdict, reasons) in cases {
            let (v, why) = filter(&p, &pod_spec(cpu, mem, |_| {}), &n);
            assert_eq!(v, verdict, "cpu={cpu} mem={mem}");
            assert_eq!(why, reasons, "cpu={cpu} mem={mem}");
        }
    }

    #[test]
    fn too_many_pods_and_extended_resources() {
        let p = NodeResourcesFit::default();
        let mut n = node_info("n", 4000, 8 * GI);
        set_max_pods(&mut n, 1);
        place(&mut n, pod_spec(100, GI, |_| {}));
        let (v, why) = filter(&p, &pod_spec(0, 0, |_| {}), &n);
        assert_eq!((v, why), (Verdict::Fail(Code::Unschedulable), vec!["Too many pods".to_string()]));

        let gpu_pod = pod_spec(100, GI, |t| t.containers[0].requests.set_scalar(s("nvidia.com/gpu"), 1));
        let n = node_info("n", 4000, 8 * GI);
        let (v, why) = filter(&p, &gpu_pod, &n);
        assert_eq!(v, Verdict::Fail(Code::UnschedulableAndUnresolvable));
        assert_eq!(why, vec!["Insufficient nvidia.com/gpu".to_string()]);
        let mut gpu_node = node_info("g", 4000, 8 * GI);
        set_scalar(&mut gpu_node, "nvidia.com/gpu", 2);
        assert_eq!(filter(&p, &gpu_pod, &gpu_node).0, Verdict::Pass);
    }

    #[test]
    fn least_and_most_allocated_scores() {
        // Upstream LeastAllocated example: node 4000m/10000, pod 3000m/5000 on an empty node:
        // cpu (4000-3000)*100/4000 = 25, memory (10000-5000)*100/10000 = 50 -> (25+50)/2 = 37.
        let pod = pod_spec(3000, 5000, |_| {});
        let n = node_info("n", 4000, 10000);
        let least = NodeResourcesFit::default();
        assert_eq!(scores(&least, &pod, &[&n]), vec![37]);
        let most = NodeResourcesFit::new(FitArgs { strategy: ScoringStrategy::MostAllocated, ..Default::default() });
        // cpu 3000*100/4000 = 75, memory 5000*100/10000 = 50 -> 62.
        assert_eq!(scores(&most, &pod, &[&n]), vec![62]);
        // The non-zero default applies to containers without requests: 100m and 200Mi.
        let empty = pod_spec_no_requests();
        let big = node_info("big", 1000, 1000 * 1024 * 1024);
        // cpu (1000-100)*100/1000 = 90; memory (1000-200)*100/1000 = 80 -> 85.
        assert_eq!(scores(&least, &empty, &[&big]), vec![85]);
        assert_eq!(least_requested_score(5, 4), 0);
        assert_eq!(most_requested_score(5, 4), 100);
    }
}
