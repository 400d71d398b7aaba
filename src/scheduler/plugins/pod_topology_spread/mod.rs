//! **PodTopologySpread** (filter and score, weight 2 in the default profile): spreads matching pods evenly over
//! the domains of a topology key (zones, nodes, racks), so that losing one domain costs a bounded share of a
//! workload.
//!
//! - **Filter** (`whenUnsatisfiable: DoNotSchedule`): rejects a node lacking a constraint's key
//!   (UnschedulableAndUnresolvable, `node(s) didn't match pod topology spread constraints (missing required
//!   label)`), and a node where `matching pods in its domain + 1 (if the pod matches its own selector) − the
//!   least-loaded eligible domain's count > maxSkew` (Unschedulable, `node(s) didn't match pod topology spread
//!   constraints`). The minimum is 0 while fewer than `minDomains` domains are eligible. Eligible nodes carry
//!   every constraint's key and, per the inclusion policies, match the pod's required node affinity
//!   (`nodeAffinityPolicy: Honor`, the default) and have no untolerated `NoSchedule`/`NoExecute` taint
//!   (`nodeTaintsPolicy: Honor`; default Ignore). Terminating pods are not counted.
//! - **Score** (`ScheduleAnyway`): prefers nodes whose domains hold fewer matching pods: per constraint
//!   `count × ln(domains + 2) + (maxSkew − 1)`, summed and rounded, then normalized to
//!   `100 × (max + min − score) / max` (nodes lacking a key score 0). Hostname constraints count the node's own
//!   pods.
//! - **System defaults** (`defaultingType: System`): a pod without constraints of its own is scored with
//!   `hostname maxSkew 3` and `zone maxSkew 5`, `ScheduleAnyway`, counting the pods its controller selects.
//!   Upstream builds that selector from the Services, ReplicationControllers, ReplicaSets and StatefulSets
//!   selecting the pod. kubesim models no Services, and a Deployment's pods are selected exactly by their own
//!   ReplicaSet's selector (it includes `pod-template-hash`), so a pod owned by a ReplicaSet counts the pods with
//!   the same owner; any other pod (Job, DaemonSet, bare) has no selector and hence no default constraints, as
//!   upstream for a pod no Service or controller selects. `defaultingType: List` applies
//!   `defaultConstraints` with the same owner-derived selector.
//!
//! Counts come from the cache's topology index (per-domain counts kept current as pods come and go), so
//! PreFilter and PreScore cost the number of domains, or the number of nodes holding matching pods when the
//! inclusion policies exclude some nodes, instead of a walk over every pod. Deviations: a selector that is empty
//! after merging `matchLabelKeys` counts no pods (upstream v1.34 for both `nil` and `{}`), but the pod matches it
//! itself (`{}`); PreFilter's add/remove extensions ignore terminating pods (upstream counts their removal in
//! preemption dry runs although PreFilter never counted them) and keep the exact minimum where upstream keeps
//! two "critical paths" (equal whenever changes touch one domain, as in preemption and nominated pods).

mod filtering;
mod scoring;

use crate::model::node::{HOSTNAME_LABEL, ZONE_LABEL};
use crate::model::{
    InclusionPolicy, LabelSelector, PodSpec, SelectorOp, SelectorRequirement, Str, TopologySpreadConstraint,
    WhenUnsatisfiable,
};
use crate::scheduler::args::{DefaultingType, PodTopologySpreadArgs};
use crate::scheduler::cache::topology_index::{
    ABSENT, Clause, CounterRef, KeyId, Mask, SelectorGroup, TopologyIndex, has_node_affinity, node_affinity_matches,
    owner_key, untolerated_hard_taint,
};
use crate::scheduler::cache::{Cache, NodeInfo, PodEntry};
use crate::scheduler::framework::{
    ClusterEvent, CycleState, Filter, NodeList, Plugin, PodCtx, PreFilter, PreFilterResult, PreResult, PreScore,
    QueueingHint, Reason, Score, Verdict, event_kind,
};
use std::sync::Arc;

pub const NAME: &str = "PodTopologySpread";

pub struct PodTopologySpread {
    args: PodTopologySpreadArgs,
    /// The default constraints in effect: the system ones, or `args.default_constraints`.
    defaults: Vec<TopologySpreadConstraint>,
}

impl Default for PodTopologySpread {
    fn default() -> Self {
        PodTopologySpread::new(PodTopologySpreadArgs::default())
    }
}

impl PodTopologySpread {
    pub fn new(args: PodTopologySpreadArgs) -> PodTopologySpread {
        let defaults = match args.defaulting_type {
            DefaultingType::System => system_defaults(),
            DefaultingType::List => args.default_constraints.clone(),
        };
        PodTopologySpread { args, defaults }
    }
}

/// What a constraint counts.
#[derive(Clone, Debug)]
pub(crate) enum Group {
    /// Pods with this ReplicaSet owner (default constraints).
    Owner(u64),
    /// Pods in the pod's namespace matching the constraint's selector.
    Selector(Arc<SelectorGroup>),
    /// An empty selector: no pod is counted.
    Nothing,
}

impl Group {
    /// Whether an existing pod in the incoming pod's namespace is counted.
    fn counts(&self, other: &PodSpec) -> bool {
        match self {
            Group::Owner(k) => owner_key(other) == Some(*k),
            Group::Selector(g) => g.matches(other),
            Group::Nothing => false,
        }
    }

    /// Upstream `Selector.Matches(labels)` (for queueing hints): an empty selector matches everything.
    fn selects(&self, other: &PodSpec) -> bool {
        match self {
            Group::Owner(k) => owner_key(other) == Some(*k),
            Group::Selector(g) => g.clauses[0].selector.matches(&other.template.labels),
            Group::Nothing => true,
        }
    }

    /// The index counter of the group (registered on first use); `None` when nothing is counted.
    fn counter(&self, idx: &mut TopologyIndex, cache: &Cache) -> Option<CounterRef> {
        match self {
            Group::Owner(k) => idx.owner(*k).map(|_| CounterRef::Owner(*k)),
            Group::Selector(g) => Some(CounterRef::Selector(idx.selector_counter(g, cache.nodes()))),
            Group::Nothing => None,
        }
    }
}

/// A constraint as the plugin uses it (upstream `topologySpreadConstraint`).
#[derive(Clone, Debug)]
pub(crate) struct Constraint {
    pub max_skew: i32,
    pub key: Str,
    pub min_domains: i32,
    pub affinity_honor: bool,
    pub taints_honor: bool,
    pub group: Group,
    /// The incoming pod matches the selector itself.
    pub self_match: bool,
}

/// Upstream `systemDefaultConstraints`.
fn system_defaults() -> Vec<TopologySpreadConstraint> {
    let c = |key: &str, max_skew| TopologySpreadConstraint {
        max_skew,
        topology_key: Str::from(key),
        when_unsatisfiable: WhenUnsatisfiable::ScheduleAnyway,
        selector: LabelSelector::default(),
        min_domains: None,
        node_affinity_policy: InclusionPolicy::Honor,
        node_taints_policy: InclusionPolicy::Ignore,
        match_label_keys: Vec::new(),
    };
    vec![c(HOSTNAME_LABEL, 3), c(ZONE_LABEL, 5)]
}

fn base(c: &TopologySpreadConstraint, group: Group, self_match: bool) -> Constraint {
    Constraint {
        max_skew: c.max_skew,
        key: c.topology_key.clone(),
        min_domains: c.min_domains.unwrap_or(1),
        affinity_honor: c.node_affinity_policy == InclusionPolicy::Honor,
        taints_honor: c.node_taints_policy == InclusionPolicy::Honor,
        group,
        self_match,
    }
}

impl PodTopologySpread {
    /// Upstream `getConstraints` / `initPreScoreState`: the pod's own constraints of this kind, or (if it has
    /// none at all) the default ones of this kind with the owner-derived selector.
    pub(crate) fn constraints(&self, spec: &PodSpec, when: WhenUnsatisfiable) -> Vec<Constraint> {
        let t = &spec.template;
        if !t.topology_spread.is_empty() {
            return t.topology_spread.iter().filter(|c| c.when_unsatisfiable == when).map(|c| own(c, spec)).collect();
        }
        if !self.defaults.iter().any(|c| c.when_unsatisfiable == when) {
            return Vec::new();
        }
        let Some(owner) = owner_key(spec) else { return Vec::new() };
        self.defaults
            .iter()
            .filter(|c| c.when_unsatisfiable == when)
            .map(|c| base(c, Group::Owner(owner), true))
            .collect()
    }

    /// Whether PreScore requires scored nodes to carry every key (all but system defaulting).
    fn require_all_keys(&self, spec: &PodSpec) -> bool {
        !spec.template.topology_spread.is_empty() || self.args.defaulting_type != DefaultingType::System
    }
}

/// A constraint of the pod's own, with `matchLabelKeys` merged into its selector as `key In (value)`.
fn own(c: &TopologySpreadConstraint, spec: &PodSpec) -> Constraint {
    let labels = &spec.template.labels;
    let mut selector = c.selector.clone();
    for k in &c.match_label_keys {
        if let Some(v) = labels.get(k) {
            selector.match_expressions.push(SelectorRequirement {
                key: k.clone(),
                op: SelectorOp::In,
                values: vec![v.clone()],
            });
        }
    }
    let self_match = selector.matches(labels);
    let group = if selector.is_empty() {
        Group::Nothing
    } else {
        Group::Selector(Arc::new(SelectorGroup {
            clauses: vec![Clause { namespaces: vec![spec.namespace.clone()], selector }],
            include_terminating: false,
        }))
    };
    base(c, group, self_match)
}

/// Which nodes and domains count for each constraint when inclusion policies or missing keys exclude some
/// nodes; memoized in the index per pod template until a node changes.
fn masks(
    idx: &mut TopologyIndex,
    cache: &Cache,
    pod: &PodSpec,
    cons: &[Constraint],
    keys: &[KeyId],
    require_all: bool,
) -> Vec<Arc<Mask>> {
    let t = &pod.template;
    let spec: Vec<(KeyId, bool, bool, bool)> =
        cons.iter().zip(keys).map(|(c, k)| (*k, c.affinity_honor, c.taints_honor, require_all)).collect();
    if let Some(m) = idx.memo(t, &spec) {
        return m.to_vec();
    }
    let len = cache.nodes().map(|n| n.id.index() + 1).max().unwrap_or(0);
    let mut out: Vec<Mask> = keys
        .iter()
        .map(|k| Mask { nodes: vec![false; len], domains: vec![false; idx.table(*k).n_domains()] })
        .collect();
    let need_affinity = cons.iter().any(|c| c.affinity_honor) && has_node_affinity(t);
    let need_taints = cons.iter().any(|c| c.taints_honor);
    for info in cache.nodes() {
        if require_all && keys.iter().any(|k| idx.table(*k).domain(info.id) == ABSENT) {
            continue;
        }
        let affinity_ok = !need_affinity || node_affinity_matches(t, &info.node);
        let taints_ok = !need_taints || !untolerated_hard_taint(t, &info.node);
        for (i, c) in cons.iter().enumerate() {
            if (c.affinity_honor && !affinity_ok) || (c.taints_honor && !taints_ok) {
                continue;
            }
            out[i].nodes[info.id.index()] = true;
            out[i].domains[idx.table(keys[i]).domain(info.id) as usize] = true;
        }
    }
    let out: Vec<Arc<Mask>> = out.into_iter().map(Arc::new).collect();
    idx.remember(t.clone(), spec, out.clone());
    out
}

/// Whether constraint `c` counts every node: no inclusion policy excludes any, and (when keys are required)
/// every node has every key.
fn unrestricted(c: &Constraint, idx: &TopologyIndex, keys: &[KeyId], require_all: bool, affinity: bool) -> bool {
    let keys_everywhere = !require_all || keys.iter().all(|k| idx.table(*k).complete());
    let excludes = (c.affinity_honor && affinity) || (c.taints_honor && idx.tainted_nodes() > 0);
    keys_everywhere && !excludes
}

/// Whether `labels` carry every constraint's key (upstream `nodeLabelsMatchSpreadConstraints`).
fn has_all_keys(labels: &crate::model::Labels, cons: &[Constraint]) -> bool {
    cons.iter().all(|c| labels.contains_key(&c.key))
}

impl Plugin for PodTopologySpread {
    fn name(&self) -> &'static str {
        NAME
    }
    fn as_pre_filter(&self) -> Option<&dyn PreFilter> {
        Some(self)
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

    /// Upstream: pod add/label update/delete, node add/delete/label/taint updates (kubesim has no pod updates
    /// and no node-delete events).
    fn events_to_register(&self) -> u8 {
        event_kind::ALL
    }

    /// Upstream `isSchedulableAfterPodChange` / `isSchedulableAfterNodeChange`, over the pod's DoNotSchedule
    /// constraints (the only ones that reject).
    fn queueing_hint(&self, pod: &PodSpec, event: &ClusterEvent) -> QueueingHint {
        let cons = self.constraints(pod, WhenUnsatisfiable::DoNotSchedule);
        let queue = match event {
            ClusterEvent::AssignedPodAdd { pod: other, .. } | ClusterEvent::AssignedPodDelete { pod: other, .. } => {
                // Assigned pods count only in the pod's own namespace.
                (other.uid == pod.uid || other.namespace == pod.namespace)
                    && cons.iter().any(|c| c.group.selects(other))
            }
            ClusterEvent::NodeAdd(info) => has_all_keys(&info.node.labels, &cons),
            ClusterEvent::NodeUpdate { old, new } => {
                let before = has_all_keys(&old.labels, &cons);
                let after = has_all_keys(&new.node.labels, &cons);
                before != after
                    || (after
                        && (cons.iter().any(|c| old.labels.get(&c.key) != new.node.labels.get(&c.key))
                            || old.taints != new.node.taints))
            }
        };
        if queue { QueueingHint::Queue } else { QueueingHint::Skip }
    }
}

impl PreFilter for PodTopologySpread {
    fn pre_filter(&self, state: &mut CycleState, pod: &PodCtx, cache: &Cache) -> PreFilterResult {
        filtering::pre_filter(self, state, pod, cache)
    }
    fn add_pod(&self, state: &mut CycleState, pod: &PodCtx, other: &PodEntry, node: &NodeInfo) {
        filtering::update(state, pod, other, node, 1);
    }
    fn remove_pod(&self, state: &mut CycleState, pod: &PodCtx, other: &PodEntry, node: &NodeInfo) {
        filtering::update(state, pod, other, node, -1);
    }
}

impl Filter for PodTopologySpread {
    fn filter(&self, state: &CycleState, pod: &PodCtx, node: &NodeInfo, why: Option<&mut Vec<Reason>>) -> Verdict {
        filtering::filter(state, pod, node, why)
    }
}

impl PreScore for PodTopologySpread {
    fn pre_score(&self, state: &mut CycleState, pod: &PodCtx, feasible: NodeList) -> PreResult {
        scoring::pre_score(self, state, pod, feasible)
    }
}

impl Score for PodTopologySpread {
    fn score(&self, state: &CycleState, _: &PodCtx, node: &NodeInfo) -> i64 {
        scoring::score(state, node)
    }
    fn score_nodes(&self, state: &CycleState, _: &PodCtx, nodes: NodeList, out: &mut Vec<i64>) {
        scoring::score_nodes(state, nodes, out);
    }
    fn normalize(&self, state: &CycleState, _: &PodCtx, scores: &mut [i64]) {
        scoring::normalize(state, scores);
    }
}

#[cfg(test)]
mod tests;
