//! **NodeResourcesBalancedAllocation** (score, weight 1 in the default profile): prefers nodes whose resources
//! would be used in equal proportions once the pod is placed, so that no node runs out of one resource (say
//! memory) while another (CPU) sits idle and unusable.
//!
//! For each configured resource (default cpu and memory) the fraction `min(requested / allocatable, 1)` is
//! taken in float64 with the node's *actual* requests plus the pod's (no non-zero defaults); resources with
//! allocatable 0, and extended resources the pod does not request, are left out. The score is
//! `int64((1 - std) * 100)` where std is `|f0 - f1| / 2` for two fractions, the population standard deviation
//! for more, and 0 for fewer: 50 to 100 for cpu and memory. This is the v1.34/v1.35 formula.
//!
//! PreScore skips the plugin for pods requesting none of the configured resources (upstream issue #129138):
//! a best-effort pod would otherwise be steered onto the node that is already most balanced, piling them up.
//!
//! Not modelled: PR #135573 (merged December 2025, presumably v1.36) scores the *change* in balance the pod
//! causes, `50 + (50 + S_with_pod - S_without_pod) / 2`, instead of the balance after placement.

use crate::model::PodTemplate;
use crate::scheduler::args::BalancedAllocationArgs;
use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{CycleState, MAX_NODE_SCORE, NodeList, Plugin, PodCtx, PreResult, PreScore, Score};
use crate::scheduler::plugins::node_resources_fit::{ScoredResource, cpu_memory_weights, scored_resources};

pub struct NodeResourcesBalancedAllocation {
    pub args: BalancedAllocationArgs,
    resources: Vec<ScoredResource>,
    /// Exactly cpu and memory are scored (the default): a straight-line fast path with the same arithmetic.
    cpu_mem: bool,
}

impl Default for NodeResourcesBalancedAllocation {
    fn default() -> Self {
        NodeResourcesBalancedAllocation::new(BalancedAllocationArgs::default())
    }
}

/// The pod's actual requests of the configured resources, computed in PreScore.
#[derive(Clone, Default)]
struct BalancedPodRequests(Vec<i64>);

impl NodeResourcesBalancedAllocation {
    pub fn new(args: BalancedAllocationArgs) -> NodeResourcesBalancedAllocation {
        let resources = scored_resources(&args.resources);
        let cpu_mem = cpu_memory_weights(&resources).is_some();
        NodeResourcesBalancedAllocation { args, resources, cpu_mem }
    }

    /// Resource `i`'s fraction on `node` with the pod, or `None` when the resource is left out.
    fn fraction(&self, i: usize, pod_request: i64, node: &NodeInfo) -> Option<f64> {
        let (alloc, req) = self.resources[i].allocatable_requested(node, pod_request, true);
        if alloc == 0 {
            return None;
        }
        Some((req as f64 / alloc as f64).min(1.0))
    }
}

impl Plugin for NodeResourcesBalancedAllocation {
    fn name(&self) -> &'static str {
        "NodeResourcesBalancedAllocation"
    }
    fn as_pre_score(&self) -> Option<&dyn PreScore> {
        Some(self)
    }
    fn as_score(&self) -> Option<&dyn Score> {
        Some(self)
    }
}

impl PreScore for NodeResourcesBalancedAllocation {
    fn pre_score(&self, state: &mut CycleState, pod: &PodCtx, _: NodeList) -> PreResult {
        let slot = state.slot::<BalancedPodRequests>();
        slot.0.clear();
        slot.0.extend(self.resources.iter().map(|r| r.pod_request(&pod.spec.template, true)));
        if slot.0.iter().all(|r| *r == 0) { PreResult::Skip } else { PreResult::Proceed }
    }
}

impl Score for NodeResourcesBalancedAllocation {
    /// Upstream `balancedResourceScorer`, without collecting the fractions: a second pass recomputes them (the
    /// same float operations in the same order) for the mean-based deviation.
    fn score(&self, state: &CycleState, pod: &PodCtx, node: &NodeInfo) -> i64 {
        let requests = state.get::<BalancedPodRequests>().map(|r| r.0.as_slice());
        self.score_node(requests, &pod.spec.template, node)
    }

    fn score_nodes(&self, state: &CycleState, pod: &PodCtx, nodes: NodeList, out: &mut Vec<i64>) {
        let t = &pod.spec.template;
        if self.cpu_mem {
            // Two fractions: the standard deviation is half their difference, whatever their order.
            let (pod_cpu, pod_mem) = (t.requests.cpu_millis, t.requests.memory_bytes);
            out.extend(nodes.iter().map(|n| {
                let a = &n.allocatable;
                let fraction = |req: i64, alloc: i64| (req as f64 / alloc as f64).min(1.0);
                let std = if a.cpu_millis != 0 && a.memory_bytes != 0 {
                    let f_cpu = fraction(n.requested.cpu_millis + pod_cpu, a.cpu_millis);
                    let f_mem = fraction(n.requested.memory_bytes + pod_mem, a.memory_bytes);
                    ((f_cpu - f_mem) / 2.0).abs()
                } else {
                    0.0
                };
                ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
            }));
            return;
        }
        let requests = state.get::<BalancedPodRequests>().map(|r| r.0.as_slice());
        out.extend(nodes.iter().map(|n| self.score_node(requests, t, n)));
    }
}

impl NodeResourcesBalancedAllocation {
    /// Upstream `balancedResourceScorer` on one node, with the pod's requests from PreScore (if it ran).
    fn score_node(&self, requests: Option<&[i64]>, t: &PodTemplate, node: &NodeInfo) -> i64 {
        let pod_request = |i: usize| match requests.and_then(|r| r.get(i)) {
            Some(r) => *r,
            None => self.resources[i].pod_request(t, true),
        };
        let fractions = || (0..self.resources.len()).filter_map(|i| self.fraction(i, pod_request(i), node));
        let (mut n, mut total, mut first, mut second) = (0usize, 0.0f64, 0.0f64, 0.0f64);
        for f in fractions() {
            total += f;
            match n {
                0 => first = f,
                1 => second = f,
                _ => {}
            }
            n += 1;
        }
        let std = match n {
            2 => ((first - second) / 2.0).abs(),
            n if n > 2 => {
                let mean = total / n as f64;
                let mut sum = 0.0f64;
                for f in fractions() {
                    sum += (f - mean) * (f - mean);
                }
                (sum / n as f64).sqrt()
            }
            _ => 0.0,
        };
        ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PodSpec, s};
    use crate::scheduler::args::ResourceSpec;
    use crate::scheduler::plugins::testutil::*;

    fn node(cpu_millis: i64, memory_bytes: i64, gpus: i64, pods: &[&PodSpec]) -> NodeInfo {
        let mut n = node_info("n", cpu_millis, memory_bytes);
        if gpus > 0 {
            set_scalar(&mut n, "nvidia.com/gpu", gpus);
        }
        for p in pods {
            place(&mut n, same(p));
        }
        n
    }

    /// Upstream `TestNodeResourcesBalancedAllocation` (balanced_allocation_test.go, v1.34/1.35 formula).
    #[test]
    fn score_table() {
        let cpu_and_memory = pod_spec(0, 0, |t| {
            t.containers.clear();
            t.containers.push(container(1000, 2000));
            t.containers.push(container(2000, 3000));
        });
        let cpu_only = pod_spec(0, 0, |t| {
            t.containers.clear();
            t.containers.push(container(1000, 0));
            t.containers.push(container(2000, 0));
        });
        let cpu_memory_gpu = pod_spec(0, 0, |t| {
            t.containers.clear();
            t.containers.push(container(1000, 2000));
            let mut c = container(2000, 3000);
            c.requests.set_scalar(s("nvidia.com/gpu"), 3);
            t.containers.push(c);
        });
        let p = NodeResourcesBalancedAllocation::default();
        let run = |p: &NodeResourcesBalancedAllocation, pod: &PodSpec, nodes: &[NodeInfo]| {
            scores_in(p, pod, &cache_of(nodes))
        };

        let best_effort = pod_spec(0, 0, |t| t.containers.clear());
        assert_eq!(run(&p, &best_effort, &[node(4000, 10000, 0, &[])]), None, "best-effort pods skip");
        // cpu 3000/4000 = 0.75, memory 5000/10000 = 0.5: std 0.125 -> 87; cpu 0.5, memory 0.5 -> 100.
        assert_eq!(
            run(&p, &cpu_and_memory, &[node(4000, 10000, 0, &[]), node(6000, 10000, 0, &[])]),
            Some(vec![87, 100])
        );
        // cpu 6000/10000 = 0.6 with memory 5000/20000 = 0.25 -> 82; with 10000/20000 = 0.5 -> 95.
        let on1 = [&cpu_only];
        let on2 = [&cpu_and_memory];
        assert_eq!(
            run(&p, &cpu_and_memory, &[node(10000, 20000, 0, &on1), node(10000, 20000, 0, &on2)]),
            Some(vec![82, 95])
        );
        assert_eq!(
            run(&p, &cpu_and_memory, &[node(10000, 20000, 0, &on1), node(10000, 50000, 0, &on2)]),
            Some(vec![82, 80])
        );
        // At capacity: cpu 1 and memory 0 -> 50; cpu 1, memory 0.5 -> 75.
        assert_eq!(run(&p, &cpu_only, &[node(6000, 10000, 0, &on1), node(6000, 10000, 0, &on2)]), Some(vec![50, 75]));

        let three = NodeResourcesBalancedAllocation::new(BalancedAllocationArgs {
            resources: vec![
                ResourceSpec::new("cpu", 1),
                ResourceSpec::new("memory", 1),
                ResourceSpec::new("nvidia.com/gpu", 1),
            ],
        });
        // Three fractions: population standard deviation. node1 has the GPU pod: 3000/3500, 5000/40000, 4/8 -> 70;
        // node2 has the plain pod: 3000/3500, 5000/40000, 1/8 -> 65.
        let gpu_pod = pod_spec(0, 0, |t| t.containers[0].requests.set_scalar(s("nvidia.com/gpu"), 1));
        let n1 = node(3500, 40000, 8, &[&cpu_memory_gpu]);
        let n2 = node(3500, 40000, 8, &[&cpu_and_memory]);
        assert_eq!(run(&three, &gpu_pod, &[n1, n2]), Some(vec![70, 65]));
        // A pod not requesting the GPU leaves it out (and a node without it too): two fractions, 0.857 and 0.125.
        assert_eq!(
            run(&three, &cpu_and_memory, &[node(3500, 40000, 8, &[]), node(3500, 40000, 0, &[])]),
            Some(vec![63, 63])
        );
    }

    #[test]
    fn a_single_fraction_is_perfectly_balanced() {
        let cpu = NodeResourcesBalancedAllocation::new(BalancedAllocationArgs {
            resources: vec![ResourceSpec::new("cpu", 1)],
        });
        let pod = pod_spec(1000, 0, |_| {});
        assert_eq!(scores_in(&cpu, &pod, &cache_of(&[node(4000, 10000, 0, &[])])), Some(vec![100]));
        // A node with no allocatable memory leaves memory out of the default pair.
        let p = NodeResourcesBalancedAllocation::default();
        let pod = pod_spec(1000, 1000, |_| {});
        assert_eq!(scores_in(&p, &pod, &cache_of(&[node(4000, 0, 0, &[])])), Some(vec![100]));
    }
}
