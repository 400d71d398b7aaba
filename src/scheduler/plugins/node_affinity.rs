//! **NodeAffinity** (filter and score, weight 2 in the default profile): how workloads pin themselves to zones,
//! pools or hardware, and how a profile confines all its pods (`addedAffinity`).
//!
//! Filter: the profile's `addedAffinity` required terms must match the node (else UnschedulableAndUnresolvable
//! `node(s) didn't match scheduler-enforced node affinity`), then the pod's `nodeSelector` must be a subset of
//! the node's labels and one of its required node-affinity terms (if any) must match (else
//! `node(s) didn't match Pod's node affinity/selector`). Preemption cannot change labels, hence unresolvable.
//!
//! PreFilter skips the filter for pods with neither selector nor required affinity (when the profile adds no
//! required affinity), and narrows the candidate nodes when every required term names nodes with
//! `matchFields metadata.name In` (how DaemonSet pods are pinned): names are intersected within a term and
//! united across terms, as upstream; terms whose names cannot all hold at once reject the pod outright
//! (`pod affinity terms conflict`). Names no node carries are dropped.
//!
//! Score: the sum of the weights of the pod's preferred terms that match the node, plus those of the profile's
//! added preferred terms, normalized so the best node gets 100. PreScore skips the score when neither has
//! preferred terms, so such pods pay nothing for it.
//!
//! Queueing: only a node that is added matching the pod's required affinity, or updated from not matching to
//! matching, can help a pod this plugin rejected (labels are all it looks at).

use crate::model::labels::NODE_NAME_FIELD;
use crate::model::{Labels, Node, NodeAffinity as Affinity, NodeSelectorOp, NodeSelectorTerm, PodSpec, Str};
use crate::scheduler::args::NodeAffinityArgs;
use crate::scheduler::cache::{Cache, NodeInfo};
use crate::scheduler::framework::{
    ClusterEvent, Code, CycleState, Filter, MAX_NODE_SCORE, NodeList, Plugin, PodCtx, PreFilter, PreFilterResult,
    PreResult, PreScore, QueueingHint, Reason, Score, Verdict, default_normalize_score, event_kind,
};

/// Upstream `ErrReasonPod`.
pub const ERR_REASON_POD: &str = "node(s) didn't match Pod's node affinity/selector";
/// Upstream `errReasonEnforced`: the profile's added affinity rejected the node.
pub const ERR_REASON_ENFORCED: &str = "node(s) didn't match scheduler-enforced node affinity";
/// Upstream `errReasonConflict`: the required terms' node names exclude every node.
pub const ERR_REASON_CONFLICT: &str = "pod affinity terms conflict";

#[derive(Default)]
pub struct NodeAffinity {
    pub args: NodeAffinityArgs,
}

impl NodeAffinity {
    pub fn new(args: NodeAffinityArgs) -> NodeAffinity {
        NodeAffinity { args }
    }

    /// The profile's added required terms (upstream `addedNodeSelector`), if it has any.
    fn added_required(&self) -> Option<&[NodeSelectorTerm]> {
        self.args.added_affinity.as_ref().and_then(|a| a.required.as_deref())
    }

    /// The profile's added preferred terms (upstream `addedPrefSchedTerms`, nil when empty).
    fn added_preferred(&self) -> &[crate::model::PreferredSchedulingTerm] {
        self.args.added_affinity.as_ref().map(|a| a.preferred.as_slice()).unwrap_or(&[])
    }

    fn added_matches(&self, node: &Node) -> bool {
        self.added_required().is_none_or(|terms| terms.iter().any(|t| t.matches(&node.name, &node.labels)))
    }
}

/// Upstream `RequiredNodeAffinity.Match`: the pod's `nodeSelector` and required node-affinity terms.
fn pod_matches(pod: &PodSpec, node: &Node) -> bool {
    let t = &pod.template;
    node.labels.contains_all(&t.node_selector) && t.node_affinity.required_matches(&node.name, &node.labels)
}

/// Sum of the weights of the matching terms (upstream `PreferredSchedulingTerms.Score`; terms with weight 0 or
/// no requirements never count).
fn preferred_score(terms: &[crate::model::PreferredSchedulingTerm], name: &str, labels: &Labels) -> i64 {
    terms.iter().filter(|t| t.weight != 0 && t.term.matches(name, labels)).map(|t| i64::from(t.weight)).sum()
}

/// The node names the required terms allow, if every term names nodes (upstream PreFilter): `None` when some
/// term has no `metadata.name In` requirement (then every node is eligible).
fn required_node_names(affinity: &Affinity) -> Option<Vec<Str>> {
    let terms = affinity.required.as_deref()?;
    if terms.is_empty() {
        return None;
    }
    let mut union: Vec<Str> = Vec::new();
    for term in terms {
        let mut names: Option<Vec<Str>> = None;
        for r in &term.match_fields {
            if &*r.key != NODE_NAME_FIELD || r.op != NodeSelectorOp::In {
                continue;
            }
            names = Some(match names {
                None => r.values.clone(),
                Some(mut ns) => {
                    ns.retain(|n| r.values.contains(n));
                    ns
                }
            });
        }
        // A term without a name requirement admits every node: the terms are ORed.
        union.extend(names?);
    }
    union.sort();
    union.dedup();
    Some(union)
}

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
    fn as_pre_score(&self) -> Option<&dyn PreScore> {
        Some(self)
    }
    fn as_score(&self) -> Option<&dyn Score> {
        Some(self)
    }
    /// Upstream (queueing hints on): Node `Add | UpdateNodeLabel`.
    fn events_to_register(&self) -> u8 {
        event_kind::NODE_ADD | event_kind::NODE_UPDATE
    }
    fn queueing_hint(&self, pod: &PodSpec, event: &ClusterEvent) -> QueueingHint {
        let (old, new) = match event {
            ClusterEvent::NodeAdd(info) => (None, &*info.node),
            ClusterEvent::NodeUpdate { old, new } => (Some(&**old), &*new.node),
            _ => return QueueingHint::Queue,
        };
        if !self.added_matches(new) || !pod_matches(pod, new) {
            return QueueingHint::Skip;
        }
        match old {
            Some(old) if pod_matches(pod, old) => QueueingHint::Skip,
            _ => QueueingHint::Queue,
        }
    }
}

impl PreFilter for NodeAffinity {
    fn pre_filter(&self, _: &mut CycleState, pod: &PodCtx, cache: &Cache) -> PreFilterResult {
        let t = &pod.spec.template;
        if t.node_affinity.required.is_none() && self.added_required().is_none() && t.node_selector.is_empty() {
            return PreFilterResult::Skip;
        }
        match required_node_names(&t.node_affinity) {
            None => PreFilterResult::Proceed,
            Some(names) if names.is_empty() => {
                PreFilterResult::Reject(Code::UnschedulableAndUnresolvable, Reason::Text(ERR_REASON_CONFLICT))
            }
            Some(names) => PreFilterResult::Nodes(names.iter().filter_map(|n| cache.node_by_name(n)).collect()),
        }
    }
}

impl Filter for NodeAffinity {
    fn filter(&self, _: &CycleState, pod: &PodCtx, node: &NodeInfo, why: Option<&mut Vec<Reason>>) -> Verdict {
        let reason = if !self.added_matches(&node.node) {
            ERR_REASON_ENFORCED
        } else if !pod_matches(pod.spec, &node.node) {
            ERR_REASON_POD
        } else {
            return Verdict::Pass;
        };
        if let Some(why) = why {
            why.push(Reason::Text(reason));
        }
        Verdict::Fail(Code::UnschedulableAndUnresolvable)
    }
    /// Reads only the pod's template and this node's info.
    fn node_local(&self) -> bool {
        true
    }
}

impl PreScore for NodeAffinity {
    fn pre_score(&self, _: &mut CycleState, pod: &PodCtx, _: NodeList) -> PreResult {
        if pod.spec.template.node_affinity.preferred.is_empty() && self.added_preferred().is_empty() {
            PreResult::Skip
        } else {
            PreResult::Proceed
        }
    }
}

impl Score for NodeAffinity {
    fn score(&self, _: &CycleState, pod: &PodCtx, node: &NodeInfo) -> i64 {
        let (name, labels) = (&*node.node.name, &node.node.labels);
        preferred_score(self.added_preferred(), name, labels)
            + preferred_score(&pod.spec.template.node_affinity.preferred, name, labels)
    }

    fn normalize(&self, _: &CycleState, _: &PodCtx, scores: &mut [i64]) {
        default_normalize_score(MAX_NODE_SCORE, false, scores);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{NodeId, NodeSelectorRequirement, PreferredSchedulingTerm, s};
    use crate::scheduler::plugins::testutil::*;

    fn req(key: &str, op: NodeSelectorOp, values: &[&str]) -> NodeSelectorRequirement {
        NodeSelectorRequirement { key: s(key), op, values: values.iter().map(s).collect() }
    }
    fn exprs(rs: Vec<NodeSelectorRequirement>) -> NodeSelectorTerm {
        NodeSelectorTerm { match_expressions: rs, match_fields: vec![] }
    }
    fn fields(names: &[&[&str]]) -> NodeSelectorTerm {
        NodeSelectorTerm {
            match_expressions: vec![],
            match_fields: names.iter().map(|v| req(NODE_NAME_FIELD, NodeSelectorOp::In, v)).collect(),
        }
    }
    fn required(terms: Vec<NodeSelectorTerm>) -> PodSpec {
        pod_spec(1, 1, |t| t.node_affinity.required = Some(terms))
    }
    fn labelled(name: &str, pairs: &[(&str, &str)]) -> NodeInfo {
        let mut n = node_info(name, 1000, GI);
        for (k, v) in pairs {
            add_label(&mut n, k, v);
        }
        n
    }
    fn added(required: Option<Vec<NodeSelectorTerm>>, preferred: Vec<PreferredSchedulingTerm>) -> NodeAffinity {
        NodeAffinity::new(NodeAffinityArgs { added_affinity: Some(Affinity { required, preferred }) })
    }
    const FAIL: Verdict = Verdict::Fail(Code::UnschedulableAndUnresolvable);

    #[test]
    fn node_selector_must_be_a_subset() {
        let n = labelled("n", &[("zone", "a"), ("disk", "ssd")]);
        let pod = |pairs: &[(&str, &str)]| {
            pod_spec(1, 1, |t| {
                for (k, v) in pairs {
                    t.node_selector.insert(s(k), s(v));
                }
            })
        };
        let p = NodeAffinity::default();
        assert_eq!(filter(&p, &pod(&[("zone", "a")]), &n).0, Verdict::Pass);
        assert_eq!(filter(&p, &pod(&[("zone", "a"), ("disk", "ssd")]), &n).0, Verdict::Pass);
        assert_eq!(filter(&p, &pod(&[("zone", "b")]), &n), (FAIL, vec![ERR_REASON_POD.to_string()]));
        assert_eq!(filter(&p, &pod(&[("gpu", "true")]), &n).0, FAIL);
    }

    /// Upstream `TestNodeAffinity` (node_affinity_test.go): the filter table with required terms.
    #[test]
    fn required_terms_table() {
        use NodeSelectorOp::*;
        let p = NodeAffinity::default();
        let cases: Vec<(&str, PodSpec, NodeInfo, Verdict)> = vec![
            (
                "In matches",
                required(vec![exprs(vec![req("foo", In, &["bar", "value2"])])]),
                labelled("n", &[("foo", "bar")]),
                Verdict::Pass,
            ),
            (
                "Gt matches",
                required(vec![exprs(vec![req("kernel-version", Gt, &["0204"])])]),
                labelled("n", &[("kernel-version", "0206")]),
                Verdict::Pass,
            ),
            (
                "NotIn matches",
                required(vec![exprs(vec![req("mem-type", NotIn, &["DDR", "DDR2"])])]),
                labelled("n", &[("mem-type", "DDR3")]),
                Verdict::Pass,
            ),
            (
                "Exists matches",
                required(vec![exprs(vec![req("GPU", Exists, &[])])]),
                labelled("n", &[("GPU", "NVIDIA-GRID-K1")]),
                Verdict::Pass,
            ),
            (
                "In does not match",
                required(vec![exprs(vec![req("foo", In, &["value1", "value2"])])]),
                labelled("n", &[("foo", "bar")]),
                FAIL,
            ),
            ("empty term matches nothing", required(vec![exprs(vec![])]), labelled("n", &[("foo", "bar")]), FAIL),
            (
                "ANDed expressions match",
                required(vec![exprs(vec![req("GPU", Exists, &[]), req("GPU", NotIn, &["AMD", "INTER"])])]),
                labelled("n", &[("GPU", "NVIDIA-GRID-K1")]),
                Verdict::Pass,
            ),
            (
                "ANDed expressions fail",
                required(vec![exprs(vec![req("GPU", Exists, &[]), req("GPU", In, &["AMD", "INTER"])])]),
                labelled("n", &[("GPU", "NVIDIA-GRID-K1")]),
                FAIL,
            ),
            (
                "ORed terms",
                required(vec![
                    exprs(vec![req("foo", In, &["bar", "value2"])]),
                    exprs(vec![req("diffkey", In, &["wrong", "value2"])]),
                ]),
                labelled("n", &[("foo", "bar")]),
                Verdict::Pass,
            ),
            // Deviation: upstream parses values as label values, so this NotIn is a parse error there and the
            // node fails; kubesim's model does not validate label values and NotIn of an absent value holds.
            (
                "invalid label value",
                required(vec![exprs(vec![req("foo", NotIn, &["invalid value: ___@#$%^"])])]),
                labelled("n", &[("foo", "bar")]),
                Verdict::Pass,
            ),
            ("matchFields matches node1", required(vec![fields(&[&["node1"]])]), labelled("node1", &[]), Verdict::Pass),
            (
                "fields miss, expression term matches",
                required(vec![fields(&[&["node1"], &["node2"]]), exprs(vec![req("foo", In, &["bar"])])]),
                labelled("node2", &[("foo", "bar")]),
                Verdict::Pass,
            ),
            (
                "fields and expressions both in one term",
                required(vec![NodeSelectorTerm {
                    match_fields: vec![req(NODE_NAME_FIELD, In, &["node1"])],
                    match_expressions: vec![req("foo", In, &["bar"])],
                }]),
                labelled("node1", &[("foo", "bar")]),
                Verdict::Pass,
            ),
            (
                "neither term matches",
                required(vec![fields(&[&["node1"]]), exprs(vec![req("foo", In, &["not-match-to-bar"])])]),
                labelled("node2", &[("foo", "bar")]),
                FAIL,
            ),
        ];
        for (name, pod, node, want) in cases {
            let cache = cache_of(std::slice::from_ref(&node));
            assert_eq!(filter_in(&p, &pod, &cache, NodeId(0)).0, want, "{name}");
        }
    }

    #[test]
    fn selector_and_affinity_must_both_hold() {
        let p = NodeAffinity::default();
        let pod = pod_spec(1, 1, |t| {
            t.node_selector.insert(s("foo"), s("bar"));
            t.node_affinity.required = Some(vec![exprs(vec![req("foo", NodeSelectorOp::Exists, &[])])]);
        });
        assert_eq!(filter(&p, &pod, &labelled("n", &[("foo", "bar")])).0, Verdict::Pass);
        assert_eq!(filter(&p, &pod, &labelled("n", &[("foo", "barrrrrr")])).0, FAIL);
    }

    /// Upstream PreFilter cases: skip, node-name narrowing (intersection within a term, union across terms), and
    /// the conflict rejection.
    #[test]
    fn pre_filter_narrows_to_named_nodes() {
        let p = NodeAffinity::default();
        let cache = cache_of(&[labelled("node1", &[]), labelled("node2", &[("foo", "bar")]), labelled("node3", &[])]);
        let run =
            |pod: &PodSpec| p.pre_filter(&mut CycleState::default(), &PodCtx::new(Default::default(), pod), &cache);
        assert_eq!(run(&pod_spec(1, 1, |_| {})), PreFilterResult::Skip);
        let only_pref = pod_spec(1, 1, |t| {
            t.node_affinity.preferred.push(PreferredSchedulingTerm { weight: 1, term: fields(&[&["node1"]]) })
        });
        assert_eq!(run(&only_pref), PreFilterResult::Skip, "preferred terms alone do not filter");
        assert_eq!(run(&required(vec![fields(&[&["node1"]])])), PreFilterResult::Nodes(vec![NodeId(0)]));
        assert_eq!(
            run(&required(vec![fields(&[&["node1"]]), fields(&[&["node2"]])])),
            PreFilterResult::Nodes(vec![NodeId(0), NodeId(1)]),
            "terms are ORed: the union of their names"
        );
        assert_eq!(
            run(&required(vec![fields(&[&["node1"]]), exprs(vec![req("foo", NodeSelectorOp::In, &["bar"])])])),
            PreFilterResult::Proceed,
            "a term without a name requirement admits every node"
        );
        assert_eq!(
            run(&required(vec![fields(&[&["node1"], &["node2"]])])),
            PreFilterResult::Reject(Code::UnschedulableAndUnresolvable, Reason::Text(ERR_REASON_CONFLICT)),
            "requirements within a term are ANDed: node1 and node2 at once is impossible"
        );
        assert_eq!(
            run(&required(vec![fields(&[&["node1", "node3"], &["node3", "node2"]])])),
            PreFilterResult::Nodes(vec![NodeId(2)]),
            "the intersection within a term"
        );
        assert_eq!(run(&required(vec![fields(&[&["gone"]])])), PreFilterResult::Nodes(vec![]), "unknown names drop");
        assert_eq!(run(&required(vec![])), PreFilterResult::Proceed, "no terms: the filter rejects every node");
        let (v, why) = filter_in(&p, &required(vec![fields(&[&["node1"], &["node2"]])]), &cache, NodeId(1));
        assert_eq!((v, why), (FAIL, vec![ERR_REASON_CONFLICT.to_string()]));
    }

    /// Upstream `TestNodeAffinity`'s added-affinity cases.
    #[test]
    fn added_affinity_is_enforced_first() {
        let by_name = added(Some(vec![fields(&[&["node2"]])]), vec![]);
        let zone_foo = required(vec![exprs(vec![req("zone", NodeSelectorOp::In, &["foo"])])]);
        let zone_bar = required(vec![exprs(vec![req("zone", NodeSelectorOp::In, &["bar"])])]);
        let node2 = labelled("node2", &[("zone", "foo")]);
        assert_eq!(filter(&by_name, &zone_foo, &node2).0, Verdict::Pass);
        assert_eq!(filter(&by_name, &zone_bar, &node2), (FAIL, vec![ERR_REASON_POD.to_string()]));
        let zone_is_bar = added(Some(vec![exprs(vec![req("zone", NodeSelectorOp::In, &["bar"])])]), vec![]);
        let plain = pod_spec(1, 1, |_| {});
        assert_eq!(filter(&zone_is_bar, &plain, &node2), (FAIL, vec![ERR_REASON_ENFORCED.to_string()]));
        // With only preferred added terms, a plain pod is still skipped by the filter.
        let pref_only = added(None, vec![PreferredSchedulingTerm { weight: 1, term: fields(&[&["x"]]) }]);
        let cache = cache_of(std::slice::from_ref(&node2));
        let mut state = CycleState::default();
        let r = pref_only.pre_filter(&mut state, &PodCtx::new(Default::default(), &plain), &cache);
        assert_eq!(r, PreFilterResult::Skip);
    }

    fn pref(weight: i32, rs: Vec<NodeSelectorRequirement>) -> PreferredSchedulingTerm {
        PreferredSchedulingTerm { weight, term: exprs(rs) }
    }

    /// Upstream `TestNodeAffinityPriority`.
    #[test]
    fn score_table() {
        use NodeSelectorOp::In;
        let label1 = [("foo", "bar")];
        let label2 = [("key", "value")];
        let label3 = [("az", "az1")];
        let label4 = [("abc", "az11"), ("def", "az22")];
        let label5 = [("foo", "bar"), ("key", "value"), ("az", "az1")];
        let affinity1 = vec![pref(2, vec![req("foo", In, &["bar"])])];
        let affinity2 = vec![
            pref(2, vec![req("foo", In, &["bar"])]),
            pref(4, vec![req("key", In, &["value"])]),
            pref(5, vec![req("foo", In, &["bar"]), req("key", In, &["value"]), req("az", In, &["az1"])]),
        ];
        let with = |terms: &Vec<PreferredSchedulingTerm>| pod_spec(1, 1, |t| t.node_affinity.preferred = terms.clone());
        let p = NodeAffinity::default();
        let nodes =
            |ls: &[(&str, &[(&str, &str)])]| cache_of(&ls.iter().map(|(n, l)| labelled(n, l)).collect::<Vec<_>>());

        let c = nodes(&[("node1", &label1), ("node2", &label2), ("node3", &label3)]);
        assert_eq!(scores_in(&p, &pod_spec(1, 1, |_| {}), &c), None, "no preferred terms: PreScore skips");
        let c = nodes(&[("node1", &label4), ("node2", &label2), ("node3", &label3)]);
        assert_eq!(scores_in(&p, &with(&affinity1), &c), Some(vec![0, 0, 0]));
        let c = nodes(&[("node1", &label1), ("node2", &label2), ("node3", &label3)]);
        assert_eq!(scores_in(&p, &with(&affinity1), &c), Some(vec![100, 0, 0]));
        let c = nodes(&[("node1", &label1), ("node5", &label5), ("node2", &label2)]);
        assert_eq!(scores_in(&p, &with(&affinity2), &c), Some(vec![18, 100, 36]));
        // Added affinity.
        let c = nodes(&[("node1", &label1), ("node2", &label2)]);
        assert_eq!(scores_in(&added(None, affinity1.clone()), &pod_spec(1, 1, |_| {}), &c), Some(vec![100, 0]));
        let c = nodes(&[("node1", &label1), ("node2", &label2), ("node3", &label5)]);
        let extra = added(None, vec![pref(3, vec![req("key", In, &["value"])])]);
        assert_eq!(scores_in(&extra, &with(&affinity1), &c), Some(vec![40, 60, 100]));
        // Terms with weight 0 never count.
        let zero = vec![pref(0, vec![req("foo", In, &["bar"])]), pref(1, vec![req("key", In, &["value"])])];
        let c = nodes(&[("node1", &label1), ("node2", &label2)]);
        assert_eq!(scores_in(&p, &with(&zero), &c), Some(vec![0, 100]));
    }

    /// Upstream `Test_isSchedulableAfterNodeChange`.
    #[test]
    fn queueing_hints() {
        let pod = required(vec![exprs(vec![req("foo", NodeSelectorOp::In, &["bar"])])]);
        let p = NodeAffinity::default();
        let plain = labelled("n", &[]);
        let foo = labelled("n", &[("foo", "bar")]);
        let other = labelled("n", &[("k", "v")]);
        let foo_more = labelled("n", &[("foo", "bar"), ("k", "v")]);
        let add = |p: &NodeAffinity, n: &NodeInfo| p.queueing_hint(&pod, &ClusterEvent::NodeAdd(n));
        let upd = |p: &NodeAffinity, old: &NodeInfo, new: &NodeInfo| {
            p.queueing_hint(&pod, &ClusterEvent::NodeUpdate { old: &old.node, new })
        };
        assert_eq!(add(&p, &plain), QueueingHint::Skip, "skip-queue-on-add");
        assert_eq!(add(&p, &foo), QueueingHint::Queue, "queue-on-add");
        assert_eq!(upd(&p, &plain, &plain), QueueingHint::Skip, "skip-unrelated-changes");
        assert_eq!(upd(&p, &plain, &other), QueueingHint::Skip, "skip-unrelated-changes-on-labels");
        assert_eq!(upd(&p, &foo, &foo_more), QueueingHint::Skip, "skip-labels-changes-on-suitable-node");
        assert_eq!(upd(&p, &foo, &other), QueueingHint::Skip, "suitable to unsuitable");
        assert_eq!(upd(&p, &plain, &foo), QueueingHint::Queue, "queue-on-labels-change-makes-pod-schedulable");
        let enforced = added(Some(vec![exprs(vec![req("foo", NodeSelectorOp::In, &["bar"])])]), vec![]);
        assert_eq!(add(&enforced, &plain), QueueingHint::Skip, "skip-queue-on-add-scheduler-enforced-node-affinity");
        assert_eq!(add(&enforced, &foo), QueueingHint::Queue, "queue-on-add-scheduler-enforced-node-affinity");
        assert_eq!(p.events_to_register(), event_kind::NODE_ADD | event_kind::NODE_UPDATE);
    }
}
