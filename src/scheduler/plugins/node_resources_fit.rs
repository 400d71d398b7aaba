//! **NodeResourcesFit** (filter and score, weight 1 in the default profile).
//!
//! Filter (upstream `fitsRequest`): the node must have room for one more pod (`allocatable.pods`), and for
//! every resource the pod requests (> 0) the node's free amount, allocatable minus the *actual* requests of the
//! pods already there, must cover it; otherwise `Insufficient <resource>`. The rejection is Unschedulable
//! (preemption could free room) unless the pod asks for more than the node's entire allocatable, which is
//! UnschedulableAndUnresolvable. A pod that requests nothing only needs a pod slot. Extended resources listed in
//! `ignoredResources`, or whose name's prefix before `/` is in `ignoredResourceGroups`, are not checked: some
//! other component (an extender, a device plugin's scheduler) owns them.
//!
//! Score, by strategy over the configured resources (default cpu and memory, weight 1 each). CPU and memory use
//! requests with the scheduler's non-zero defaults (100m, 200Mi for containers that omit them) on the pod and on
//! the node (`NonZeroRequested`), so that pods without requests still spread; ephemeral storage and extended
//! resources use actual requests. An extended resource the pod does not request, and any resource the node has
//! none of, is left out of the score and its weight sum, so GPU nodes are not preferred by pods without GPUs.
//! - `LeastAllocated` (default, spreads load): `(alloc - req) * 100 / alloc` per resource, 0 when over;
//! - `MostAllocated` (bin-packing): `min(req, alloc) * 100 / alloc`;
//!
//! then the weighted mean `Σ s·w / Σ w`, truncated as in Go;
//! - `RequestedToCapacityRatio`: utilization `req * 100 / alloc` (100 when over) through the broken-linear
//!   `shape` (points of utilization 0-100 and score 0-10, scores scaled ×10); only resources scoring above 0 count,
//!   and the weighted mean is rounded (`math.Round`), not truncated.
//!
//! Queueing: any assigned pod's deletion may free room; a new node helps if the pod fits it empty; a node update
//! helps if the pod fits it empty and it has more of something the pod requests (or more pod slots).

use crate::model::{Node, PodSpec, PodTemplate, Resources, Str};
use crate::scheduler::args::{ResourceSpec, UtilizationShapePoint};
use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{
    ClusterEvent, Code, CycleState, Filter, MAX_NODE_SCORE, NodeList, Plugin, PodCtx, PreResult, PreScore,
    QueueingHint, Reason, ResourceName, Score, Verdict, event_kind,
};

pub use crate::scheduler::args::{FitArgs, ScoringStrategy};

/// `config.MaxCustomPriorityScore`: the top of a RequestedToCapacityRatio shape's score scale.
pub const MAX_CUSTOM_PRIORITY_SCORE: i64 = 10;
/// Utilization at which a resource is full (upstream `maxUtilization`).
const MAX_UTILIZATION: i64 = 100;

/// What a scored resource is, resolved once when the plugin is built (no string matching per node).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResourceKind {
    Cpu,
    Memory,
    EphemeralStorage,
    /// Extended, hugepages and other scalar resources, by name.
    Scalar(Str),
}

/// A resource a scorer looks at, with its weight.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScoredResource {
    pub kind: ResourceKind,
    pub weight: i64,
}

/// Resolves the configured resource names.
pub fn scored_resources(specs: &[ResourceSpec]) -> Vec<ScoredResource> {
    specs
        .iter()
        .map(|r| ScoredResource {
            kind: match &*r.name {
                "cpu" => ResourceKind::Cpu,
                "memory" => ResourceKind::Memory,
                "ephemeral-storage" => ResourceKind::EphemeralStorage,
                _ => ResourceKind::Scalar(r.name.clone()),
            },
            weight: r.weight,
        })
        .collect()
}

impl ScoredResource {
    /// The pod's request of this resource (upstream `calculatePodResourceRequest`): with the non-zero defaults
    /// for cpu and memory unless `use_requested` (BalancedAllocation), actual requests otherwise.
    pub fn pod_request(&self, t: &PodTemplate, use_requested: bool) -> i64 {
        match &self.kind {
            ResourceKind::Cpu if use_requested => t.requests.cpu_millis,
            ResourceKind::Cpu => t.nonzero_cpu_millis,
            ResourceKind::Memory if use_requested => t.requests.memory_bytes,
            ResourceKind::Memory => t.nonzero_memory_bytes,
            ResourceKind::EphemeralStorage => t.requests.ephemeral_storage_bytes,
            ResourceKind::Scalar(name) => t.requests.scalar(name),
        }
    }

    /// Upstream `calculateResourceAllocatableRequest`: the node's allocatable and its requests including the pod.
    /// `(0, 0)` (skip the resource) for an extended resource the pod does not request; allocatable 0 also means
    /// the caller skips it. The node side of cpu and memory is `NonZeroRequested` unless `use_requested`.
    pub fn allocatable_requested(&self, node: &NodeInfo, pod_request: i64, use_requested: bool) -> (i64, i64) {
        let alloc = &node.allocatable;
        match &self.kind {
            ResourceKind::Cpu if use_requested => (alloc.cpu_millis, node.requested.cpu_millis + pod_request),
            ResourceKind::Cpu => (alloc.cpu_millis, node.nonzero_cpu_millis + pod_request),
            ResourceKind::Memory if use_requested => (alloc.memory_bytes, node.requested.memory_bytes + pod_request),
            ResourceKind::Memory => (alloc.memory_bytes, node.nonzero_memory_bytes + pod_request),
            ResourceKind::EphemeralStorage => {
                (alloc.ephemeral_storage_bytes, node.requested.ephemeral_storage_bytes + pod_request)
            }
            ResourceKind::Scalar(_) if pod_request == 0 => (0, 0),
            ResourceKind::Scalar(name) => (alloc.scalar(name), node.requested.scalar(name) + pod_request),
        }
    }
}

/// The weights of cpu and memory if they are exactly the resources scored.
pub fn cpu_memory_weights(resources: &[ScoredResource]) -> Option<(i64, i64)> {
    match resources {
        [a, b] => match (&a.kind, &b.kind) {
            (ResourceKind::Cpu, ResourceKind::Memory) => Some((a.weight, b.weight)),
            (ResourceKind::Memory, ResourceKind::Cpu) => Some((b.weight, a.weight)),
            _ => None,
        },
        _ => None,
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

/// Upstream `helper.BuildBrokenLinearFunction`: `shape` is (utilization, score) points, utilization ascending;
/// the first score below the first point, the last above the last, linear (truncating) in between.
pub fn broken_linear(shape: &[(i64, i64)], p: i64) -> i64 {
    for (i, &(u, s)) in shape.iter().enumerate() {
        if p <= u {
            if i == 0 {
                return s;
            }
            let (u0, s0) = shape[i - 1];
            return s0 + (s - s0) * (p - u0) / (u - u0);
        }
    }
    shape.last().map_or(0, |&(_, s)| s)
}

/// RequestedToCapacityRatio's per-resource score: full (utilization 100) when over capacity, else
/// `requested * 100 / capacity` through the shape. The quotient is taken in 128 bits, as upstream's overflow-safe
/// `scaledUtilization`; v1.34's plain int64 product gives the same value wherever it does not overflow.
pub fn requested_to_capacity_ratio_score(shape: &[(i64, i64)], requested: i64, capacity: i64) -> i64 {
    if capacity == 0 || requested > capacity {
        return broken_linear(shape, MAX_UTILIZATION);
    }
    let utilization = (i128::from(requested) * i128::from(MAX_UTILIZATION) / i128::from(capacity)) as i64;
    broken_linear(shape, utilization)
}

/// Upstream `v1helper.IsExtendedResourceName`: outside the `kubernetes.io/` namespace, with a `/` (so not a
/// native resource), and not a quota `requests.` name.
pub fn is_extended_resource_name(name: &str) -> bool {
    name.contains('/') && !name.contains("kubernetes.io/") && !name.starts_with("requests.")
}

/// Per-pod requests of the configured resources, computed in PreScore.
#[derive(Clone, Default)]
struct FitPodRequests(Vec<i64>);

pub struct NodeResourcesFit {
    pub args: FitArgs,
    resources: Vec<ScoredResource>,
    /// The RequestedToCapacityRatio shape with scores scaled to 0-100.
    shape: Vec<(i64, i64)>,
    /// Weights of cpu and memory when those are exactly the scored resources and the strategy is Least- or
    /// MostAllocated (the common case, scored by a straight-line fast path with the same arithmetic).
    cpu_mem: Option<(i64, i64)>,
}

impl Default for NodeResourcesFit {
    fn default() -> Self {
        NodeResourcesFit::new(FitArgs::default())
    }
}

impl NodeResourcesFit {
    pub fn new(args: FitArgs) -> NodeResourcesFit {
        let resources = scored_resources(&args.resources);
        let shape = args
            .shape
            .iter()
            .map(|p: &UtilizationShapePoint| (p.utilization, p.score * (MAX_NODE_SCORE / MAX_CUSTOM_PRIORITY_SCORE)))
            .collect();
        let cpu_mem =
            cpu_memory_weights(&resources).filter(|_| args.strategy != ScoringStrategy::RequestedToCapacityRatio);
        NodeResourcesFit { args, resources, shape, cpu_mem }
    }

    /// Whether the filter skips extended resource `name` (`ignoredResources`, `ignoredResourceGroups`).
    fn ignored(&self, name: &str) -> bool {
        if self.args.ignored_resources.is_empty() && self.args.ignored_resource_groups.is_empty() {
            return false;
        }
        if !is_extended_resource_name(name) {
            return false;
        }
        let group = name.split('/').next().unwrap_or("");
        self.args.ignored_resources.iter().any(|r| &**r == name)
            || self.args.ignored_resource_groups.iter().any(|g| &**g == group)
    }

    /// Upstream `fitsRequest` against a node with `alloc`, `used` requests and `pods` pods. `honor_ignored` is
    /// false for the queueing hints, which call upstream's `Fits` without the ignore lists.
    #[allow(clippy::too_many_arguments)]
    fn fits_request(
        &self,
        req: &Resources,
        alloc: &Resources,
        used: &Resources,
        pods: i64,
        allowed_pods: i64,
        honor_ignored: bool,
        mut why: Option<&mut Vec<Reason>>,
    ) -> Verdict {
        let mut verdict = Verdict::Pass;
        let mut fail = |code: Code, reason: &dyn Fn() -> Reason, why: &mut Option<&mut Vec<Reason>>| {
            verdict = match verdict {
                Verdict::Fail(c) if c >= code => Verdict::Fail(c),
                _ => Verdict::Fail(code),
            };
            if let Some(w) = why.as_deref_mut() {
                w.push(reason());
            }
        };
        if pods + 1 > allowed_pods {
            fail(Code::Unschedulable, &|| Reason::Text("Too many pods"), &mut why);
        }
        if req.is_zero() {
            return verdict;
        }
        let check = |r: i64, a: i64, u: i64| -> Option<Code> {
            (r > 0 && r > a - u).then_some(if r > a { Code::UnschedulableAndUnresolvable } else { Code::Unschedulable })
        };
        if let Some(code) = check(req.cpu_millis, alloc.cpu_millis, used.cpu_millis) {
            fail(code, &|| Reason::Insufficient(ResourceName::Cpu), &mut why);
        }
        if let Some(code) = check(req.memory_bytes, alloc.memory_bytes, used.memory_bytes) {
            fail(code, &|| Reason::Insufficient(ResourceName::Memory), &mut why);
        }
        if let Some(code) =
            check(req.ephemeral_storage_bytes, alloc.ephemeral_storage_bytes, used.ephemeral_storage_bytes)
        {
            fail(code, &|| Reason::Insufficient(ResourceName::EphemeralStorage), &mut why);
        }
        // In name order, where upstream ranges over a Go map (random order): only the order of reasons differs.
        for (name, r) in &req.scalars {
            if *r == 0 || (honor_ignored && self.ignored(name)) {
                continue;
            }
            if let Some(code) = check(*r, alloc.scalar(name), used.scalar(name)) {
                fail(code, &|| Reason::Insufficient(ResourceName::Scalar(name.clone())), &mut why);
            }
        }
        verdict
    }

    /// Upstream `isFit`: the pod fits the node when it is empty.
    fn fits_empty(&self, pod: &PodSpec, node: &Node) -> bool {
        let empty = Resources::default();
        let req = &pod.template.requests;
        self.fits_request(req, &node.allocatable, &empty, 0, node.allocatable_pods, false, None) == Verdict::Pass
    }

    /// The pod's scoring request of resource `i`: from PreScore's state, or computed.
    fn pod_request(&self, requests: Option<&[i64]>, i: usize, t: &PodTemplate) -> i64 {
        match requests.and_then(|r| r.get(i)) {
            Some(r) => *r,
            None => self.resources[i].pod_request(t, false),
        }
    }

    /// Upstream `score` on one node, with the pod's requests from PreScore (if it ran).
    fn score_node(&self, requests: Option<&[i64]>, t: &PodTemplate, node: &NodeInfo) -> i64 {
        let (mut total, mut weight_sum) = (0i64, 0i64);
        for (i, r) in self.resources.iter().enumerate() {
            let (alloc, req) = r.allocatable_requested(node, self.pod_request(requests, i, t), false);
            if alloc == 0 {
                continue;
            }
            let s = match self.args.strategy {
                ScoringStrategy::LeastAllocated => least_requested_score(req, alloc),
                ScoringStrategy::MostAllocated => most_requested_score(req, alloc),
                ScoringStrategy::RequestedToCapacityRatio => {
                    let s = requested_to_capacity_ratio_score(&self.shape, req, alloc);
                    if s <= 0 {
                        // Upstream: only resources with a positive score count, weight included.
                        continue;
                    }
                    s
                }
            };
            total += s * r.weight;
            weight_sum += r.weight;
        }
        if weight_sum == 0 {
            return 0;
        }
        match self.args.strategy {
            ScoringStrategy::RequestedToCapacityRatio => (total as f64 / weight_sum as f64).round() as i64,
            _ => total / weight_sum,
        }
    }
}

/// Upstream `haveAnyRequestedResourcesIncreased`: more pod slots, or more allocatable of something requested.
fn requested_resources_increased(req: &Resources, old: &Node, new: &Node) -> bool {
    if new.allocatable_pods > old.allocatable_pods {
        return true;
    }
    let (o, n) = (&old.allocatable, &new.allocatable);
    (req.cpu_millis > 0 && n.cpu_millis > o.cpu_millis)
        || (req.memory_bytes > 0 && n.memory_bytes > o.memory_bytes)
        || (req.ephemeral_storage_bytes > 0 && n.ephemeral_storage_bytes > o.ephemeral_storage_bytes)
        || req.scalars.iter().any(|(name, r)| *r != 0 && n.scalar(name) > o.scalar(name))
}

impl Plugin for NodeResourcesFit {
    fn name(&self) -> &'static str {
        "NodeResourcesFit"
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
    /// Upstream (queueing hints on): Pod `Delete`, Node `Add | UpdateNodeAllocatable`.
    fn events_to_register(&self) -> u8 {
        event_kind::POD_DELETE | event_kind::NODE_ADD | event_kind::NODE_UPDATE
    }
    fn queueing_hint(&self, pod: &PodSpec, event: &ClusterEvent) -> QueueingHint {
        let hint = |queue: bool| if queue { QueueingHint::Queue } else { QueueingHint::Skip };
        match event {
            // The deleted pod was on a node (assigned): its room is free.
            ClusterEvent::AssignedPodDelete { .. } => QueueingHint::Queue,
            ClusterEvent::NodeAdd(info) => hint(self.fits_empty(pod, &info.node)),
            ClusterEvent::NodeUpdate { old, new } => hint(
                self.fits_empty(pod, &new.node)
                    && requested_resources_increased(&pod.template.requests, old, &new.node),
            ),
            ClusterEvent::AssignedPodAdd { .. } => QueueingHint::Skip,
        }
    }
}

impl Filter for NodeResourcesFit {
    fn filter(&self, _: &CycleState, pod: &PodCtx, node: &NodeInfo, why: Option<&mut Vec<Reason>>) -> Verdict {
        let req = &pod.spec.template.requests;
        let (alloc, pods) = (&node.allocatable, node.allocatable_pods);
        self.fits_request(req, alloc, &node.requested, node.pod_count(), pods, true, why)
    }
    /// Reads only the pod's template and this node's info.
    fn node_local(&self) -> bool {
        true
    }
}

impl PreScore for NodeResourcesFit {
    fn pre_score(&self, state: &mut CycleState, pod: &PodCtx, _: NodeList) -> PreResult {
        let slot = state.slot::<FitPodRequests>();
        slot.0.clear();
        slot.0.extend(self.resources.iter().map(|r| r.pod_request(&pod.spec.template, false)));
        PreResult::Proceed
    }
}

impl Score for NodeResourcesFit {
    fn score(&self, state: &CycleState, pod: &PodCtx, node: &NodeInfo) -> i64 {
        let requests = state.get::<FitPodRequests>().map(|r| r.0.as_slice());
        self.score_node(requests, &pod.spec.template, node)
    }

    fn score_nodes(&self, state: &CycleState, pod: &PodCtx, nodes: NodeList, out: &mut Vec<i64>) {
        let t = &pod.spec.template;
        if let Some((w_cpu, w_mem)) = self.cpu_mem {
            let most = self.args.strategy == ScoringStrategy::MostAllocated;
            let f = |req: i64, alloc: i64| {
                if most { most_requested_score(req, alloc) } else { least_requested_score(req, alloc) }
            };
            out.extend(nodes.iter().map(|n| {
                let a = &n.allocatable;
                let (mut total, mut weight_sum) = (0i64, 0i64);
                if a.cpu_millis != 0 {
                    total += f(n.nonzero_cpu_millis + t.nonzero_cpu_millis, a.cpu_millis) * w_cpu;
                    weight_sum += w_cpu;
                }
                if a.memory_bytes != 0 {
                    total += f(n.nonzero_memory_bytes + t.nonzero_memory_bytes, a.memory_bytes) * w_mem;
                    weight_sum += w_mem;
                }
                if weight_sum == 0 { 0 } else { total / weight_sum }
            }));
            return;
        }
        let requests = state.get::<FitPodRequests>().map(|r| r.0.as_slice());
        out.extend(nodes.iter().map(|n| self.score_node(requests, t, n)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::s;
    use crate::scheduler::args::ResourceSpec;
    use crate::scheduler::plugins::testutil::*;

    const MI: i64 = 1024 * 1024;

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
        // Ephemeral storage.
        let disk_pod = pod_spec(100, GI, |t| t.containers[0].requests.ephemeral_storage_bytes = 10 * GI);
        let mut disk_node = node_info("d", 4000, 8 * GI);
        set_ephemeral(&mut disk_node, 20 * GI);
        place(&mut disk_node, pod_spec(0, 0, |t| t.containers[0].requests.ephemeral_storage_bytes = 15 * GI));
        let (v, why) = filter(&p, &disk_pod, &disk_node);
        assert_eq!((v, why), (Verdict::Fail(Code::Unschedulable), vec!["Insufficient ephemeral-storage".to_string()]));
    }

    /// Upstream `TestEnoughRequests`' ignored-resource cases: `ignoredResources` and `ignoredResourceGroups` skip
    /// extended resources only.
    #[test]
    fn ignored_extended_resources() {
        let pod = |name: &str| pod_spec(100, GI, |t| t.containers[0].requests.set_scalar(s(name), 1));
        let n = node_info("n", 4000, 8 * GI);
        let with = |resources: &[&str], groups: &[&str]| {
            NodeResourcesFit::new(FitArgs {
                ignored_resources: resources.iter().map(s).collect(),
                ignored_resource_groups: groups.iter().map(s).collect(),
                ..FitArgs::default()
            })
        };
        let unresolvable = Verdict::Fail(Code::UnschedulableAndUnresolvable);
        assert_eq!(filter(&with(&["example.com/bbb"], &[]), &pod("example.com/bbb"), &n).0, Verdict::Pass);
        assert_eq!(filter(&with(&["example.com/bbb"], &[]), &pod("example.com/aaa"), &n).0, unresolvable);
        assert_eq!(filter(&with(&[], &["example.com"]), &pod("example.com/aaa"), &n).0, Verdict::Pass);
        assert_eq!(filter(&with(&[], &["example.com"]), &pod("other.com/aaa"), &n).0, unresolvable);
        // Native names (kubernetes.io/, hugepages-) are never ignored.
        assert_eq!(
            filter(&with(&["kubernetes.io/x"], &["kubernetes.io"]), &pod("kubernetes.io/x"), &n).0,
            unresolvable
        );
        assert_eq!(filter(&with(&["hugepages-2Mi"], &[]), &pod("hugepages-2Mi"), &n).0, unresolvable);
        assert!(is_extended_resource_name("nvidia.com/gpu"));
        assert!(!is_extended_resource_name("hugepages-1Gi"));
        assert!(!is_extended_resource_name("foo.kubernetes.io/x"));
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
        let big = node_info("big", 1000, 1000 * MI);
        // cpu (1000-100)*100/1000 = 90; memory (1000-200)*100/1000 = 80 -> 85.
        assert_eq!(scores(&least, &empty, &[&big]), vec![85]);
        assert_eq!(least_requested_score(5, 4), 0);
        assert_eq!(most_requested_score(5, 4), 100);
    }

    fn extended_node(name: &str, cpu_millis: i64, memory_bytes: i64, scalars: &[(&str, i64)]) -> NodeInfo {
        let mut n = node_info(name, cpu_millis, memory_bytes);
        for (k, v) in scalars {
            set_scalar(&mut n, k, *v);
        }
        n
    }
    fn requesting(scalars: &[(&str, i64)]) -> PodSpec {
        pod_spec(0, 0, |t| {
            t.containers.clear();
            let mut c = container(0, 0);
            (c.has_cpu_request, c.has_memory_request) = (false, false);
            for (k, v) in scalars {
                c.requests.set_scalar(s(k), *v);
            }
            t.containers.push(c);
        })
    }

    /// Upstream `TestLeastAllocatedScoringStrategy` (least_allocated_test.go): pods without containers request
    /// nothing (no non-zero defaults apply), an extended resource the pod does not request is left out of the
    /// score and of the weight sum, and so is a resource the node has none of.
    #[test]
    fn least_allocated_table() {
        let args = |resources: &[(&str, i64)]| {
            let resources = resources.iter().map(|(n, w)| ResourceSpec::new(n, *w)).collect();
            NodeResourcesFit::new(FitArgs { resources, ..FitArgs::default() })
        };
        let p = args(&[("cpu", 1), ("memory", 1)]);
        let nothing = pod_spec(0, 0, |t| t.containers.clear());
        let two_containers = pod_spec(0, 0, |t| {
            t.containers.clear();
            t.containers.push(container(1000, 2000));
            t.containers.push(container(2000, 3000));
        });
        let node = |cpu: i64, mem: i64, pods: &[(i64, i64)]| {
            let mut n = node_info("n", cpu, mem);
            for &(c, m) in pods {
                place(&mut n, pod_spec(c, m, |_| {}));
            }
            n
        };
        let cpu_3000 = pod_spec(3000, 0, |_| {});
        let cases: Vec<(&str, &PodSpec, [NodeInfo; 2], [i64; 2])> = vec![
            (
                "nothing scheduled, nothing requested",
                &nothing,
                [node(4000, 10000, &[]), node(4000, 10000, &[])],
                [100, 100],
            ),
            ("differently sized nodes", &two_containers, [node(4000, 10000, &[]), node(6000, 10000, &[])], [37, 50]),
            (
                "no resources requested, pods scheduled",
                &nothing,
                [node(4000, 10000, &[(0, 0), (0, 0)]), node(4000, 10000, &[(0, 0), (0, 0)])],
                [100, 100],
            ),
            (
                "no resources requested, pods scheduled with resources",
                &nothing,
                [node(10000, 20000, &[(3000, 0), (3000, 0)]), node(10000, 20000, &[(3000, 0), (3000, 5000)])],
                [70, 57],
            ),
            (
                "resources requested, pods scheduled with resources",
                &two_containers,
                [node(10000, 20000, &[(3000, 0)]), node(10000, 20000, &[(3000, 5000)])],
                [57, 45],
            ),
            (
                "differently sized nodes with pods",
                &two_containers,
                [node(10000, 20000, &[(3000, 0)]), node(10000, 50000, &[(3000, 5000)])],
                [57, 60],
            ),
            (
                "requested resources exceed node capacity",
                &cpu_3000,
                [node(4000, 10000, &[(3000, 0)]), node(4000, 10000, &[(3000, 5000)])],
                [50, 25],
            ),
            ("zero node resources", &nothing, [node(0, 0, &[(3000, 0)]), node(0, 0, &[(3000, 5000)])], [0, 0]),
        ];
        for (name, pod, nodes, want) in cases {
            assert_eq!(scores(&p, pod, &[&nodes[0], &nodes[1]]), want.to_vec(), "{name}");
        }
        let weighted = args(&[("memory", 2), ("cpu", 1)]);
        let (n1, n2) = (node(4000, 10000, &[]), node(6000, 10000, &[]));
        assert_eq!(scores(&weighted, &two_containers, &[&n1, &n2]), vec![41, 50], "memory weighs 2");

        let ext = args(&[("cpu", 1), ("memory", 1), ("example.com/xyz", 1)]);
        let plain = node(6000, 10000, &[]);
        let with_ext = |amount: i64| extended_node("n", 6000, 10000, &[("example.com/xyz", amount)]);
        assert_eq!(scores(&ext, &two_containers, &[&plain, &with_ext(4)]), vec![50, 50], "bypass when not requested");
        let wants_ext = pod_spec(3000, 5000, |t| t.containers[0].requests.set_scalar(s("example.com/xyz"), 2));
        // ext: (4-2)*100/4 = 50 -> (50+50+50)/3 = 50; (10-2)*100/10 = 80 -> (50+50+80)/3 = 60.
        assert_eq!(scores(&ext, &wants_ext, &[&with_ext(4), &with_ext(10)]), vec![50, 60], "honoured when requested");
        let ext_first = args(&[("example.com/xyz", 2), ("cpu", 1), ("memory", 1)]);
        let pod = pod_spec(3000, 4000, |_| {});
        assert_eq!(scores(&ext_first, &pod, &[&plain, &with_ext(4)]), vec![55, 55], "node without the resource");
        // Ephemeral storage uses actual requests; a node with none allocatable leaves it out.
        let disk = args(&[("ephemeral-storage", 1)]);
        let mut disk_node = node_info("d", 4000, 10000);
        set_ephemeral(&mut disk_node, 1000);
        let disk_pod = pod_spec(0, 0, |t| t.containers[0].requests.ephemeral_storage_bytes = 250);
        assert_eq!(scores(&disk, &disk_pod, &[&disk_node, &plain]), vec![75, 0]);
    }

    /// Upstream `TestBrokenLinearFunction`.
    #[test]
    fn broken_linear_function_table() {
        type Points = Vec<(i64, i64)>;
        let cases: Vec<(Points, Points)> = vec![
            (
                vec![(10, 1), (90, 9)],
                vec![
                    (-10, 1),
                    (0, 1),
                    (9, 1),
                    (10, 1),
                    (15, 1),
                    (19, 1),
                    (20, 2),
                    (89, 8),
                    (90, 9),
                    (99, 9),
                    (100, 9),
                    (110, 9),
                ],
            ),
            (
                vec![(0, 2), (40, 10), (100, 0)],
                vec![(-10, 2), (0, 2), (20, 6), (30, 8), (40, 10), (70, 5), (100, 0), (110, 0)],
            ),
            (
                vec![(0, 2), (40, 2), (100, 2)],
                vec![(-10, 2), (0, 2), (20, 2), (30, 2), (40, 2), (70, 2), (100, 2), (110, 2)],
            ),
        ];
        for (shape, assertions) in cases {
            for (p, want) in assertions {
                assert_eq!(broken_linear(&shape, p), want, "shape {shape:?} at {p}");
            }
        }
    }

    fn rtcr(resources: Vec<ResourceSpec>, shape: &[(i64, i64)]) -> NodeResourcesFit {
        NodeResourcesFit::new(FitArgs {
            strategy: ScoringStrategy::RequestedToCapacityRatio,
            resources,
            shape: shape.iter().map(|&(utilization, score)| UtilizationShapePoint { utilization, score }).collect(),
            ..FitArgs::default()
        })
    }

    /// Upstream `TestRequestedToCapacityRatioScoringStrategy` (shape {0,10},{100,0}: least-allocated-like).
    #[test]
    fn requested_to_capacity_ratio_table() {
        let p = rtcr(vec![ResourceSpec::new("cpu", 1), ResourceSpec::new("memory", 1)], &[(0, 10), (100, 0)]);
        let nothing = pod_spec(0, 0, |t| t.containers.clear());
        let two_containers = pod_spec(0, 0, |t| {
            t.containers.clear();
            t.containers.push(container(1000, 2000));
            t.containers.push(container(2000, 3000));
        });
        let node = |name: &str, cpu: i64| node_info(name, cpu, 10000);
        // Nothing scheduled, nothing requested: utilization 0 everywhere -> 100.
        let mut n1 = node("node1", 4000);
        place(&mut n1, same(&nothing));
        place(&mut n1, same(&nothing));
        assert_eq!(scores(&p, &nothing, &[&n1, &node("node2", 4000)]), vec![100, 100]);
        // Resources requested, differently sized nodes: node1 cpu 75% -> 25, memory 50% -> 50: round(37.5) = 38;
        // node2 cpu 50% -> 50, memory 50 -> 50.
        assert_eq!(scores(&p, &two_containers, &[&n1, &node("node2", 6000)]), vec![38, 50]);
        // No resources requested, pods scheduled with resources.
        let mut n1 = node("node1", 4000);
        let mut n2 = node("node2", 6000);
        place(&mut n1, pod_spec(3000, 5000, |_| {}));
        place(&mut n2, pod_spec(3000, 5000, |_| {}));
        assert_eq!(scores(&p, &nothing, &[&n1, &n2]), vec![38, 50]);
    }

    /// Upstream `TestResourceBinPackingSingleExtended` (shape {0,0},{100,1}).
    #[test]
    fn bin_packing_single_extended() {
        let p = rtcr(vec![ResourceSpec::new("intel.com/foo", 1)], &[(0, 0), (100, 1)]);
        let node1 = || extended_node("node1", 4000, 10000 * MI, &[("intel.com/foo", 8)]);
        let node2 = || extended_node("node2", 4000, 10000 * MI, &[("intel.com/foo", 4)]);
        let nothing = pod_spec(0, 0, |t| t.containers.clear());
        assert_eq!(scores(&p, &nothing, &[&node1(), &node2()]), vec![0, 0], "nothing requested");
        let two = requesting(&[("intel.com/foo", 2)]);
        // node1 2/8 = 25% -> 2; node2 2/4 = 50% -> 5.
        assert_eq!(scores(&p, &two, &[&node1(), &node2()]), vec![2, 5]);
        // With a pod using 2 on node2: 4/4 -> 10.
        let mut busy = node2();
        place(&mut busy, requesting(&[("intel.com/foo", 2)]));
        assert_eq!(scores(&p, &two, &[&node1(), &busy]), vec![2, 10]);
        let four = requesting(&[("intel.com/foo", 4)]);
        assert_eq!(scores(&p, &four, &[&node1(), &node2()]), vec![5, 10]);
    }

    /// Upstream `TestResourceBinPackingMultipleExtended` (weights foo 3, bar 5; shape {0,0},{100,1}).
    #[test]
    fn bin_packing_multiple_extended() {
        let p = rtcr(
            vec![ResourceSpec::new("intel.com/foo", 3), ResourceSpec::new("intel.com/bar", 5)],
            &[(0, 0), (100, 1)],
        );
        let node1 = || extended_node("node1", 4000, 10000 * MI, &[("intel.com/foo", 8), ("intel.com/bar", 4)]);
        let node2 = || extended_node("node2", 4000, 10000 * MI, &[("intel.com/foo", 4), ("intel.com/bar", 8)]);
        let nothing = pod_spec(0, 0, |t| t.containers.clear());
        assert_eq!(scores(&p, &nothing, &[&node1(), &node2()]), vec![0, 0]);
        let pod1 = requesting(&[("intel.com/foo", 2), ("intel.com/bar", 2)]);
        // node1: foo 25% -> 2, bar 50% -> 5: (6 + 25)/8 = 3.875 -> 4; node2: (15 + 10)/8 = 3.125 -> 3.
        assert_eq!(scores(&p, &pod1, &[&node1(), &node2()]), vec![4, 3]);
        let mut busy = node2();
        place(&mut busy, requesting(&[("intel.com/foo", 4), ("intel.com/bar", 2)]));
        // node2: foo (4+2)/4 over -> 10, bar 4/8 -> 5: (30 + 25)/8 = 6.875 -> 7.
        assert_eq!(scores(&p, &pod1, &[&node1(), &busy]), vec![4, 7]);
        let pod2 = requesting(&[("intel.com/foo", 4), ("intel.com/bar", 2)]);
        // node1: foo 50% -> 5, bar 50% -> 5 -> 5; node2: foo 100% -> 10, bar 25% -> 2: (30 + 10)/8 = 5.
        assert_eq!(scores(&p, &pod2, &[&node1(), &node2()]), vec![5, 5]);
        // Only resources scoring above 0 count: foo at 0% scores 0 and is left out of the weights.
        let bar_only = requesting(&[("intel.com/bar", 2)]);
        assert_eq!(scores(&p, &bar_only, &[&node1()]), vec![5]);
    }

    #[test]
    fn requested_to_capacity_ratio_does_not_overflow() {
        // 2^62 bytes requested of 2^63-1: the product with 100 overflows i64; the 128-bit quotient is 50.
        assert_eq!(requested_to_capacity_ratio_score(&[(0, 0), (100, 100)], 1 << 62, i64::MAX), 50);
    }

    /// Upstream `TestEventsToRegister`/`Test_isSchedulableAfterNodeChange`/`Test_isSchedulableAfterPodEvent`.
    #[test]
    fn queueing_hints() {
        let p = NodeResourcesFit::default();
        let pod = pod_spec(1000, GI, |_| {});
        let n = node_info("n", 2000, 2 * GI);
        let small = node_info("n", 500, 2 * GI);
        let deleted = pod_spec(1, 1, |_| {});
        assert_eq!(
            p.queueing_hint(&pod, &ClusterEvent::AssignedPodDelete { pod: &deleted, node: &n }),
            QueueingHint::Queue
        );
        assert_eq!(p.queueing_hint(&pod, &ClusterEvent::NodeAdd(&n)), QueueingHint::Queue, "fits the new node");
        assert_eq!(p.queueing_hint(&pod, &ClusterEvent::NodeAdd(&small)), QueueingHint::Skip, "too small");
        // The hint ignores the node's pods: a full node that is big enough still queues.
        let mut full = n.clone();
        place(&mut full, pod_spec(2000, GI, |_| {}));
        assert_eq!(p.queueing_hint(&pod, &ClusterEvent::NodeAdd(&full)), QueueingHint::Queue);
        let upd =
            |old: &NodeInfo, new: &NodeInfo| p.queueing_hint(&pod, &ClusterEvent::NodeUpdate { old: &old.node, new });
        assert_eq!(upd(&small, &n), QueueingHint::Queue, "cpu grew and the pod fits");
        assert_eq!(upd(&n, &small), QueueingHint::Skip, "shrank");
        let mut labelled = n.clone();
        add_label(&mut labelled, "k", "v");
        assert_eq!(upd(&n, &labelled), QueueingHint::Skip, "nothing requested grew");
        let mut more_pods = n.clone();
        set_max_pods(&mut more_pods, 200);
        assert_eq!(upd(&n, &more_pods), QueueingHint::Queue, "more pod slots");
        let mut gpu = n.clone();
        set_scalar(&mut gpu, "nvidia.com/gpu", 2);
        assert_eq!(upd(&n, &gpu), QueueingHint::Skip, "the pod does not request GPUs");
        // Ignored resources are not honoured by the hint (upstream calls Fits without them).
        let ignoring =
            NodeResourcesFit::new(FitArgs { ignored_resources: vec![s("example.com/x")], ..FitArgs::default() });
        let wants_x = pod_spec(1000, GI, |t| t.containers[0].requests.set_scalar(s("example.com/x"), 1));
        assert_eq!(ignoring.queueing_hint(&wants_x, &ClusterEvent::NodeAdd(&n)), QueueingHint::Skip);
        assert_eq!(filter(&ignoring, &wants_x, &n).0, Verdict::Pass);
        assert_eq!(p.events_to_register(), event_kind::POD_DELETE | event_kind::NODE_ADD | event_kind::NODE_UPDATE);
    }
}
