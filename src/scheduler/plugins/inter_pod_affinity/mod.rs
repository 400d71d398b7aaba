//! **InterPodAffinity** (filter and score, weight 2 in the default profile): places pods relative to other pods
//! by topology domain, so that chatty workloads share a zone or node and replicas of one workload avoid each
//! other.
//!
//! - **Filter**, in upstream's order: the pod's required affinity (every term's key on the node, and some
//!   existing pod matching all its terms in the node's domains; the first pod of a group that matches its own
//!   terms passes anywhere while no such pod exists) → UnschedulableAndUnresolvable `node(s) didn't match pod
//!   affinity rules`; the pod's required anti-affinity (a matching pod in the node's domain of a term) →
//!   Unschedulable `node(s) didn't match pod anti-affinity rules`; existing pods' required anti-affinity matching
//!   the pod in the node's domain → Unschedulable `node(s) didn't satisfy existing pods anti-affinity rules`.
//!   PreFilter skips the plugin when no existing pod's anti-affinity matches the pod and the pod has no
//!   required terms.
//! - **Score**: per topology domain, + the weights of the pod's preferred affinity terms and − those of its
//!   preferred anti-affinity terms for each matching existing pod; + `hardPodAffinityWeight` for each existing
//!   pod whose required affinity the pod matches; ± existing pods' preferred (anti-)affinity terms the pod
//!   matches (unless `ignorePreferredTermsOfExistingPods` and the pod has no preferred terms: Skip). A node scores
//!   the sum over its domains, normalized `100 × (s − min) / (max − min)` in float64 (0 if all equal).
//!
//! Terminating pods count (upstream's NodeInfo lists them). A term's empty `namespaces` means the namespace of
//! the pod that owns it; `namespaceSelector` is not modelled (kubesim has no Namespace objects), and an empty
//! label selector matches every pod (`{}`, not `null`). Counts come from the cache's topology index: existing
//! pods' terms are grouped by distinct term with their carriers per domain, and the pods matching the incoming
//! pod's terms are counted per node, so the cost is the number of distinct terms that may match the pod and of
//! nodes holding matching pods, not a walk over every pod.

mod filtering;
mod scoring;

use crate::model::{PodAffinityTerm, PodSpec};
use crate::scheduler::args::InterPodAffinityArgs;
use crate::scheduler::cache::{Cache, NodeInfo, PodEntry};
use crate::scheduler::framework::{
    ClusterEvent, CycleState, Filter, NodeList, Plugin, PodCtx, PreFilter, PreFilterResult, PreResult, PreScore,
    QueueingHint, Reason, Score, Verdict, event_kind,
};

pub const NAME: &str = "InterPodAffinity";

#[derive(Default)]
pub struct InterPodAffinity {
    args: InterPodAffinityArgs,
}

impl InterPodAffinity {
    pub fn new(args: InterPodAffinityArgs) -> InterPodAffinity {
        InterPodAffinity { args }
    }
}

/// Upstream `podMatchesAllAffinityTerms`: terms owned by `owner`, false when there are none.
fn matches_all(terms: &[PodAffinityTerm], owner: &PodSpec, other: &PodSpec) -> bool {
    !terms.is_empty() && terms.iter().all(|t| t.matches(&owner.namespace, &other.namespace, &other.template.labels))
}

impl Plugin for InterPodAffinity {
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

    /// Upstream: assigned pod add/label update/delete, node add/label/taint updates.
    fn events_to_register(&self) -> u8 {
        event_kind::ALL
    }

    /// Upstream v1.34 `isSchedulableAfterPodChange`: an added pod helps if it matches all the pod's required
    /// affinity terms, a deleted one if it matches all its required anti-affinity terms (v1.35 also requeues when
    /// the deleted pod's own anti-affinity matched, PR #135325). `isSchedulableAfterNodeChange`: a node added
    /// with, or updated to gain, lose or change, a label that is a term's topology key.
    fn queueing_hint(&self, pod: &PodSpec, event: &ClusterEvent) -> QueueingHint {
        let t = &pod.template;
        let (affinity, anti) = (&t.pod_affinity.required, &t.pod_anti_affinity.required);
        let keys = || affinity.iter().chain(anti.iter()).map(|term| &term.topology_key);
        let queue = match event {
            ClusterEvent::AssignedPodAdd { pod: other, .. } => matches_all(affinity, pod, other),
            ClusterEvent::AssignedPodDelete { pod: other, .. } => matches_all(anti, pod, other),
            ClusterEvent::NodeAdd(info) => keys().any(|k| info.node.labels.contains_key(k)),
            ClusterEvent::NodeUpdate { old, new } => keys().any(|k| old.labels.get(k) != new.node.labels.get(k)),
        };
        if queue { QueueingHint::Queue } else { QueueingHint::Skip }
    }
}

impl PreFilter for InterPodAffinity {
    fn pre_filter(&self, state: &mut CycleState, pod: &PodCtx, cache: &Cache) -> PreFilterResult {
        filtering::pre_filter(state, pod, cache)
    }
    fn add_pod(&self, state: &mut CycleState, pod: &PodCtx, other: &PodEntry, node: &NodeInfo) {
        filtering::update(state, pod, other, node, 1);
    }
    fn remove_pod(&self, state: &mut CycleState, pod: &PodCtx, other: &PodEntry, node: &NodeInfo) {
        filtering::update(state, pod, other, node, -1);
    }
}

impl Filter for InterPodAffinity {
    fn filter(&self, state: &CycleState, _: &PodCtx, node: &NodeInfo, why: Option<&mut Vec<Reason>>) -> Verdict {
        filtering::filter(state, node, why)
    }
}

impl PreScore for InterPodAffinity {
    fn pre_score(&self, state: &mut CycleState, pod: &PodCtx, feasible: NodeList) -> PreResult {
        scoring::pre_score(&self.args, state, pod, feasible)
    }
}

impl Score for InterPodAffinity {
    fn score(&self, state: &CycleState, _: &PodCtx, node: &NodeInfo) -> i64 {
        scoring::score(state, node)
    }
    fn normalize(&self, state: &CycleState, _: &PodCtx, scores: &mut [i64]) {
        scoring::normalize(state, scores);
    }
}

#[cfg(test)]
mod tests;
