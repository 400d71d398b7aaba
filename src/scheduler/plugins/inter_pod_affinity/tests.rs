//! Table tests with the numbers of upstream's `scoring_test.go` and the cases of `filtering_test.go`, the
//! PreFilter extensions against a from-scratch PreFilter, queueing hints, and a property test against a
//! brute-force transliteration of upstream's algorithm.

use super::filtering::{AFFINITY_NOT_MATCH, ANTI_AFFINITY_NOT_MATCH, EXISTING_ANTI_AFFINITY_NOT_MATCH, FilterState};
use super::*;
use crate::model::{
    LabelSelector, Labels, NodeId, PodId, SelectorOp, SelectorRequirement, Str, WeightedPodAffinityTerm, s,
};
use crate::scheduler::framework::{Code, CycleState, PreFilterResult, Verdict};
use crate::scheduler::plugins::testutil::*;
use crate::time::SimTime;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;

fn req(key: &str, op: SelectorOp, values: &[&str]) -> SelectorRequirement {
    SelectorRequirement { key: s(key), op, values: values.iter().map(s).collect() }
}

fn sel(reqs: Vec<SelectorRequirement>) -> LabelSelector {
    LabelSelector { match_labels: Labels::new(), match_expressions: reqs }
}

fn term(selector: LabelSelector, key: &str) -> PodAffinityTerm {
    PodAffinityTerm { selector, namespaces: vec![], topology_key: s(key) }
}

fn weighted(weight: i32, selector: LabelSelector, key: &str) -> WeightedPodAffinityTerm {
    WeightedPodAffinityTerm { weight, term: term(selector, key) }
}

fn security(v: &str) -> LabelSelector {
    sel(vec![req("security", SelectorOp::In, &[v])])
}

/// Nodes `(name, labels)` (ids by position) and pods `(node index, pod)`.
fn cluster(nodes: &[(&str, &[(&str, &str)])], pods: Vec<(usize, PodSpec)>) -> Cache {
    let infos: Vec<NodeInfo> = nodes.iter().map(|(n, l)| labeled_node(n, l)).collect();
    let mut cache = cache_of(&infos);
    for (n, p) in pods {
        place_in(&mut cache, NodeId(n as u32), p);
    }
    cache
}

fn ids(n: usize) -> Vec<NodeId> {
    (0..n as u32).map(NodeId).collect()
}

fn plugin() -> InterPodAffinity {
    InterPodAffinity::default()
}

fn s1() -> [(&'static str, &'static str); 1] {
    [("security", "S1")]
}
fn s2() -> [(&'static str, &'static str); 1] {
    [("security", "S2")]
}

const CHINA: &[(&str, &str)] = &[("region", "China")];
const INDIA: &[(&str, &str)] = &[("region", "India")];
const AZ1: &[(&str, &str)] = &[("az", "az1")];
const AZ2: &[(&str, &str)] = &[("az", "az2")];
const CHINA_AZ1: &[(&str, &str)] = &[("region", "China"), ("az", "az1")];

fn pod(labels: &[(&str, &str)], f: impl FnOnce(&mut crate::model::PodTemplate)) -> PodSpec {
    labeled_pod("default", labels, f)
}

fn stay_with_s1_in_region(t: &mut crate::model::PodTemplate) {
    t.pod_affinity.preferred.push(weighted(5, security("S1"), "region"));
}
fn stay_with_s2_in_region(t: &mut crate::model::PodTemplate) {
    t.pod_affinity.preferred.push(weighted(6, security("S2"), "region"));
}
fn away_from_s1_in_az(t: &mut crate::model::PodTemplate) {
    t.pod_anti_affinity.preferred.push(weighted(5, security("S1"), "az"));
}
fn away_from_s2_in_az(t: &mut crate::model::PodTemplate) {
    t.pod_anti_affinity.preferred.push(weighted(5, security("S2"), "az"));
}
fn s1_region_away_s2_az(t: &mut crate::model::PodTemplate) {
    t.pod_affinity.preferred.push(weighted(8, security("S1"), "region"));
    t.pod_anti_affinity.preferred.push(weighted(5, security("S2"), "az"));
}
fn hard_affinity(t: &mut crate::model::PodTemplate) {
    t.pod_affinity.required.push(term(sel(vec![req("security", SelectorOp::In, &["S1", "value2"])]), "region"));
    t.pod_affinity.required.push(term(
        sel(vec![req("security", SelectorOp::Exists, &[]), req("wrongkey", SelectorOp::DoesNotExist, &[])]),
        "region",
    ));
}

// ----- Score: upstream TestPreferredAffinity -----

#[test]
fn score_incoming_preferred_affinity() {
    let three = [("node1", CHINA), ("node2", INDIA), ("node3", AZ1)];
    // No affinity anywhere: Skip.
    let cache = cluster(&three, vec![]);
    assert_eq!(scores_on(&plugin(), &pod(&s1(), |_| {}), &cache, &ids(3)), None);

    let existing = || vec![(0, pod(&s1(), |_| {})), (1, pod(&s2(), |_| {})), (2, pod(&s1(), |_| {}))];
    let cache = cluster(&three, existing());
    assert_eq!(scores_on(&plugin(), &pod(&s1(), stay_with_s1_in_region), &cache, &ids(3)), Some(vec![100, 0, 0]));

    let cache = cluster(&[("node1", CHINA), ("node2", CHINA_AZ1), ("node3", INDIA)], vec![(0, pod(&s1(), |_| {}))]);
    assert_eq!(scores_on(&plugin(), &pod(&[], stay_with_s1_in_region), &cache, &ids(3)), Some(vec![100, 100, 0]));

    let five = [("node1", CHINA), ("node2", INDIA), ("node3", CHINA), ("node4", CHINA), ("node5", INDIA)];
    let cache = cluster(&five, [0, 0, 1, 2, 3, 4].iter().map(|n| (*n, pod(&s2(), |_| {}))).collect());
    assert_eq!(
        scores_on(&plugin(), &pod(&s1(), stay_with_s2_in_region), &cache, &ids(5)),
        Some(vec![100, 0, 100, 100, 0])
    );

    // Different operators, some failing to match: China +2, India +8+2.
    let affinity3 = |t: &mut crate::model::PodTemplate| {
        t.pod_affinity.preferred.push(weighted(
            8,
            sel(vec![req("security", SelectorOp::NotIn, &["S1"]), req("security", SelectorOp::In, &["S2"])]),
            "region",
        ));
        t.pod_affinity.preferred.push(weighted(
            2,
            sel(vec![req("security", SelectorOp::Exists, &[]), req("wrongkey", SelectorOp::DoesNotExist, &[])]),
            "region",
        ));
    };
    let cache = cluster(&three, existing());
    assert_eq!(scores_on(&plugin(), &pod(&s1(), affinity3), &cache, &ids(3)), Some(vec![20, 100, 0]));
}

#[test]
fn score_existing_pods_terms_symmetry() {
    let three = [("node1", CHINA), ("node2", INDIA), ("node3", AZ1)];
    let cache = cluster(&three, vec![(0, pod(&s1(), stay_with_s1_in_region)), (1, pod(&s2(), stay_with_s2_in_region))]);
    assert_eq!(scores_on(&plugin(), &pod(&s2(), |_| {}), &cache, &ids(3)), Some(vec![0, 100, 0]));
    // Existing pods' required affinity counts with hardPodAffinityWeight.
    let cache = cluster(&three, vec![(0, pod(&s1(), hard_affinity)), (1, pod(&s2(), hard_affinity))]);
    assert_eq!(scores_on(&plugin(), &pod(&s1(), |_| {}), &cache, &ids(3)), Some(vec![100, 100, 0]));
    // ... and not at all with weight 0.
    let zero = InterPodAffinity::new(InterPodAffinityArgs { hard_pod_affinity_weight: 0, ..Default::default() });
    assert_eq!(scores_on(&zero, &pod(&s1(), |_| {}), &cache, &ids(3)), None);
    // Anti-affinity symmetry.
    let cache = cluster(
        &[("node1", AZ1), ("node2", AZ2)],
        vec![(0, pod(&s1(), away_from_s2_in_az)), (1, pod(&s2(), away_from_s1_in_az))],
    );
    assert_eq!(scores_on(&plugin(), &pod(&s2(), |_| {}), &cache, &ids(2)), Some(vec![0, 100]));
    // A pod in another namespace than the term's owner does not match it.
    let cache = cluster(&three, vec![(0, pod(&s1(), stay_with_s1_in_region))]);
    assert_eq!(scores_on(&plugin(), &labeled_pod("other", &s1(), |_| {}), &cache, &ids(3)), None);
    let mut listed = pod(&s1(), stay_with_s1_in_region);
    let mut t = (*listed.template).clone();
    t.pod_affinity.preferred[0].term.namespaces = vec![s("other")];
    listed.template = Arc::new(t);
    let cache = cluster(&three, vec![(0, listed)]);
    assert_eq!(scores_on(&plugin(), &labeled_pod("other", &s1(), |_| {}), &cache, &ids(3)), Some(vec![100, 0, 0]));
}

#[test]
fn score_incoming_anti_affinity_and_combinations() {
    let cache = cluster(&[("node1", AZ1), ("node2", CHINA)], vec![(0, pod(&s1(), |_| {})), (1, pod(&s2(), |_| {}))]);
    assert_eq!(scores_on(&plugin(), &pod(&s1(), away_from_s1_in_az), &cache, &ids(2)), Some(vec![0, 100]));
    let cache = cluster(&[("node1", AZ1), ("node2", CHINA)], vec![(0, pod(&s1(), |_| {})), (1, pod(&s1(), |_| {}))]);
    assert_eq!(scores_on(&plugin(), &pod(&s1(), away_from_s1_in_az), &cache, &ids(2)), Some(vec![0, 100]));
    let cache = cluster(
        &[("node1", AZ1), ("node2", INDIA)],
        vec![(0, pod(&s1(), |_| {})), (0, pod(&s1(), |_| {})), (1, pod(&s2(), |_| {}))],
    );
    assert_eq!(scores_on(&plugin(), &pod(&s1(), away_from_s1_in_az), &cache, &ids(2)), Some(vec![0, 100]));

    let cache = cluster(&[("node1", CHINA), ("node2", AZ1)], vec![(0, pod(&s1(), |_| {})), (1, pod(&s1(), |_| {}))]);
    assert_eq!(scores_on(&plugin(), &pod(&s1(), s1_region_away_s2_az), &cache, &ids(2)), Some(vec![100, 0]));

    let five = [("node1", CHINA_AZ1), ("node2", INDIA), ("node3", CHINA), ("node4", CHINA), ("node5", INDIA)];
    let cache = cluster(&five, [0, 0, 1, 2, 2, 3, 4].iter().map(|n| (*n, pod(&s1(), |_| {}))).collect());
    assert_eq!(
        scores_on(&plugin(), &pod(&s1(), s1_region_away_s2_az), &cache, &ids(5)),
        Some(vec![100, 0, 100, 100, 0])
    );

    // Affinity, anti-affinity and symmetry: 8, -5, 8, -5.
    let four = [("node1", CHINA), ("node2", AZ1), ("node3", INDIA), ("node4", AZ2)];
    let cache = cluster(
        &four,
        vec![
            (0, pod(&s1(), |_| {})),
            (1, pod(&s2(), |_| {})),
            (2, pod(&[], s1_region_away_s2_az)),
            (3, pod(&[], away_from_s1_in_az)),
        ],
    );
    assert_eq!(scores_on(&plugin(), &pod(&s1(), s1_region_away_s2_az), &cache, &ids(4)), Some(vec![100, 0, 100, 0]));

    // Upstream "Avoid panic when partial nodes in a topology don't have pods with affinity".
    let cache = cluster(
        &[("node1", CHINA), ("node2", CHINA)],
        vec![(0, pod(&s1(), |_| {})), (1, pod(&[], s1_region_away_s2_az))],
    );
    assert_eq!(scores_on(&plugin(), &pod(&s1(), |_| {}), &cache, &ids(2)), Some(vec![0, 0]));
}

#[test]
fn score_ignores_existing_preferred_terms_when_asked() {
    let ignore = InterPodAffinity::new(InterPodAffinityArgs {
        ignore_preferred_terms_of_existing_pods: true,
        ..Default::default()
    });
    let three = [("node1", CHINA), ("node2", INDIA), ("node3", AZ1)];
    let cache = cluster(&three, vec![(0, pod(&s1(), stay_with_s1_in_region)), (1, pod(&s2(), stay_with_s2_in_region))]);
    assert_eq!(scores_on(&ignore, &pod(&s2(), |_| {}), &cache, &ids(3)), None);
    assert_eq!(scores_on(&plugin(), &pod(&s2(), |_| {}), &cache, &ids(3)), Some(vec![0, 100, 0]));
    // A pod with preferred terms of its own still sees the existing pods' terms.
    let cache = cluster(&three, vec![(0, pod(&s1(), stay_with_s2_in_region)), (1, pod(&s2(), |_| {}))]);
    let incoming = pod(&s2(), |t| t.pod_anti_affinity.preferred.push(weighted(1, security("S1"), "az")));
    // node1: +6 (existing pod prefers S2), node2: 0.
    assert_eq!(scores_on(&ignore, &incoming, &cache, &ids(3)), Some(vec![100, 0, 0]));
}

#[test]
fn score_normalizes_with_negative_minimum() {
    // Scores -5 and 0 and +8: min -5, max 8.
    let cache = cluster(
        &[("node1", AZ1), ("node2", CHINA), ("node3", INDIA)],
        vec![(0, pod(&s2(), |_| {})), (1, pod(&s1(), |_| {}))],
    );
    // node1: −5 (S2 in az1), node2: +8 (S1 in China), node3: 0: int64(100·(s+5)/13).
    assert_eq!(scores_on(&plugin(), &pod(&s1(), s1_region_away_s2_az), &cache, &ids(3)), Some(vec![0, 100, 38]));
}

// ----- Filter: upstream TestRequiredAffinitySingleNode / MultipleNodes semantics -----

fn verdicts(p: &InterPodAffinity, pod: &PodSpec, cache: &Cache) -> Vec<(Verdict, Vec<String>)> {
    cache.nodes().map(|n| filter_in(p, pod, cache, n.id)).collect()
}

fn pass() -> (Verdict, Vec<String>) {
    (Verdict::Pass, vec![])
}
fn no_affinity() -> (Verdict, Vec<String>) {
    (Verdict::Fail(Code::UnschedulableAndUnresolvable), vec![AFFINITY_NOT_MATCH.to_string()])
}
fn anti() -> (Verdict, Vec<String>) {
    (Verdict::Fail(Code::Unschedulable), vec![ANTI_AFFINITY_NOT_MATCH.to_string()])
}
fn existing_anti() -> (Verdict, Vec<String>) {
    (Verdict::Fail(Code::Unschedulable), vec![EXISTING_ANTI_AFFINITY_NOT_MATCH.to_string()])
}

const HOST: &str = "kubernetes.io/hostname";

fn zone_nodes() -> [(&'static str, &'static [(&'static str, &'static str)]); 4] {
    [
        ("a", &[("zone", "z1"), (HOST, "a")]),
        ("b", &[("zone", "z1"), (HOST, "b")]),
        ("c", &[("zone", "z2"), (HOST, "c")]),
        ("d", &[(HOST, "d")]),
    ]
}

#[test]
fn filter_required_affinity() {
    let incoming = pod(&[("app", "web")], |t| t.pod_affinity.required.push(term(security("S1"), "zone")));
    // A matching pod in z1: z1 nodes pass; z2 has none; d has no zone label.
    let cache = cluster(&zone_nodes(), vec![(1, pod(&s1(), |_| {}))]);
    assert_eq!(verdicts(&plugin(), &incoming, &cache), vec![pass(), pass(), no_affinity(), no_affinity()]);
    // Nobody matches anywhere, and the pod does not match itself: nowhere.
    let cache = cluster(&zone_nodes(), vec![(1, pod(&s2(), |_| {}))]);
    assert_eq!(verdicts(&plugin(), &incoming, &cache), vec![no_affinity(); 4]);
    // The first pod of a self-affine group goes anywhere that has the key.
    let first = pod(&s1(), |t| t.pod_affinity.required.push(term(security("S1"), "zone")));
    assert_eq!(verdicts(&plugin(), &first, &cache), vec![pass(), pass(), pass(), no_affinity()]);
    // Terminating pods count.
    let mut cache = cluster(&zone_nodes(), vec![]);
    let id = place_in(&mut cache, NodeId(2), pod(&s1(), |_| {}));
    cache.set_terminating(NodeId(2), id, false);
    assert_eq!(verdicts(&plugin(), &incoming, &cache), vec![no_affinity(), no_affinity(), pass(), no_affinity()]);
    // All terms must be matched by one pod: an S1 pod and a separate "tier=db" pod do not satisfy both terms.
    let both = pod(&[], |t| {
        t.pod_affinity.required.push(term(security("S1"), "zone"));
        t.pod_affinity.required.push(term(sel(vec![req("tier", SelectorOp::In, &["db"])]), "zone"));
    });
    let cache = cluster(&zone_nodes(), vec![(0, pod(&s1(), |_| {})), (1, pod(&[("tier", "db")], |_| {}))]);
    assert_eq!(verdicts(&plugin(), &both, &cache), vec![no_affinity(); 4]);
    let cache = cluster(&zone_nodes(), vec![(0, pod(&[("security", "S1"), ("tier", "db")], |_| {}))]);
    assert_eq!(verdicts(&plugin(), &both, &cache), vec![pass(), pass(), no_affinity(), no_affinity()]);
}

#[test]
fn filter_required_anti_affinity_of_the_pod_and_of_existing_pods() {
    let incoming = pod(&[("app", "web")], |t| t.pod_anti_affinity.required.push(term(security("S1"), "zone")));
    let cache = cluster(&zone_nodes(), vec![(1, pod(&s1(), |_| {}))]);
    assert_eq!(verdicts(&plugin(), &incoming, &cache), vec![anti(), anti(), pass(), pass()]);
    // Pods in other namespaces do not match a term without namespaces; listing the namespace makes them match.
    let cache = cluster(&zone_nodes(), vec![(1, labeled_pod("other", &s1(), |_| {}))]);
    assert_eq!(verdicts(&plugin(), &incoming, &cache), vec![pass(); 4]);
    let listed = pod(&[], |t| {
        let mut tm = term(security("S1"), "zone");
        tm.namespaces = vec![s("other")];
        t.pod_anti_affinity.required.push(tm);
    });
    assert_eq!(verdicts(&plugin(), &listed, &cache), vec![anti(), anti(), pass(), pass()]);
    // An existing pod's anti-affinity against the incoming pod, by hostname: only its own node.
    let hater =
        pod(&s2(), |t| t.pod_anti_affinity.required.push(term(sel(vec![req("app", SelectorOp::In, &["web"])]), HOST)));
    let cache = cluster(&zone_nodes(), vec![(2, hater)]);
    assert_eq!(
        verdicts(&plugin(), &pod(&[("app", "web")], |_| {}), &cache),
        vec![pass(), pass(), existing_anti(), pass()]
    );
    // Order: affinity (unresolvable) before anti-affinity before existing pods' anti-affinity.
    let all = pod(&[("app", "web")], |t| {
        t.pod_affinity.required.push(term(security("S2"), "zone"));
        t.pod_anti_affinity.required.push(term(security("S2"), HOST));
    });
    // S2 pod on c (z2) hates app=web on its host: c fails our own anti first; z1 lacks S2; d lacks zone.
    assert_eq!(verdicts(&plugin(), &all, &cache), vec![no_affinity(), no_affinity(), anti(), no_affinity()]);
}

#[test]
fn pre_filter_skips_when_nothing_applies() {
    let cache = cluster(
        &zone_nodes(),
        vec![(0, pod(&s1(), |t| t.pod_anti_affinity.required.push(term(security("S9"), HOST))))],
    );
    let run = |p: &PodSpec| {
        let mut st = CycleState::default();
        plugin().pre_filter(&mut st, &PodCtx::new(PodId::default(), p), &cache)
    };
    assert_eq!(run(&pod(&s1(), |_| {})), PreFilterResult::Skip);
    assert_eq!(run(&pod(&[("security", "S9")], |_| {})), PreFilterResult::Proceed);
    assert_eq!(
        run(&pod(&s1(), |t| t.pod_anti_affinity.required.push(term(security("x"), HOST)))),
        PreFilterResult::Proceed
    );
}

// ----- PreFilter extensions -----

type Snapshot = (Vec<(String, String, i64)>, Vec<(String, String, i64)>, Vec<(String, String, i64)>);

fn snapshot(state: &CycleState) -> Snapshot {
    let s = state.get::<FilterState>().expect("PreFilter ran");
    let named = |pc: &super::filtering::PairCounts, values: &dyn Fn(u32, u32) -> String| {
        let mut v: Vec<(String, String, i64)> =
            pc.entries().into_iter().map(|(k, d, c)| (s.tables[k as usize].0.to_string(), values(k, d), c)).collect();
        v.sort();
        v
    };
    // Domains are interned per key; show them by node name set instead of value (no table access here).
    let values = |k: u32, d: u32| {
        let nodes: Vec<String> =
            s.tables[k as usize].1.iter().enumerate().filter(|(_, dd)| **dd == d).map(|(i, _)| i.to_string()).collect();
        nodes.join(",")
    };
    let mut existing = named(&s.existing_anti, &values);
    existing.extend(s.extra.iter().filter(|e| e.2 != 0).map(|(k, v, c)| (k.to_string(), format!("={v}"), *c)));
    (existing, named(&s.affinity, &values), named(&s.anti, &values))
}

#[test]
fn add_and_remove_pod_equal_a_fresh_pre_filter() {
    let incoming = pod(&s1(), |t| {
        t.pod_affinity.required.push(term(security("S1"), "zone"));
        t.pod_anti_affinity.required.push(term(security("S2"), HOST));
    });
    let hater = || pod(&s2(), |t| t.pod_anti_affinity.required.push(term(security("S1"), "zone")));
    let build = |extra: Option<PodSpec>| {
        let mut cache = cluster(&zone_nodes(), vec![(0, pod(&s1(), |_| {})), (2, pod(&s2(), |_| {})), (1, hater())]);
        let id = extra.map(|p| place_in(&mut cache, NodeId(2), p));
        (cache, id)
    };
    let p = plugin();
    let ctx = PodCtx::new(PodId::default(), &incoming);
    let fresh = |cache: &Cache| {
        let mut st = CycleState::default();
        assert_eq!(p.pre_filter(&mut st, &ctx, cache), PreFilterResult::Proceed);
        st
    };
    for extra in [pod(&s1(), |_| {}), pod(&s2(), |_| {}), hater(), pod(&[("x", "y")], |_| {})] {
        let (with, id) = build(Some(extra));
        let (without, _) = build(None);
        let mut state = fresh(&with);
        let mut node = with.node(NodeId(2)).unwrap().clone();
        let entry = node.remove_pod(id.unwrap()).unwrap();
        p.remove_pod(&mut state, &ctx, &entry, &node);
        assert_eq!(snapshot(&state), snapshot(&fresh(&without)));
        node.add_pod(entry.clone());
        p.add_pod(&mut state, &ctx, &entry, &node);
        assert_eq!(snapshot(&state), snapshot(&fresh(&with)));
    }
    // A nominated pod whose anti-affinity key no cached pod uses: the verdict sees it.
    let cache = cluster(&zone_nodes(), vec![(1, hater())]);
    let plain = pod(&s1(), |_| {});
    let ctx = PodCtx::new(PodId::default(), &plain);
    let mut state = CycleState::default();
    assert_eq!(p.pre_filter(&mut state, &ctx, &cache), PreFilterResult::Proceed);
    let rack_hater = pod(&[], |t| t.pod_anti_affinity.required.push(term(security("S1"), "never-seen")));
    let mut node = labeled_node("c", &[("zone", "z2"), (HOST, "c"), ("never-seen", "1")]);
    node.id = NodeId(2);
    let e = PodEntry::new(fresh_pod_id(), Arc::new(rack_hater), SimTime::ZERO);
    assert_eq!(p.filter(&state, &ctx, &node, None), Verdict::Pass);
    node.add_pod(e.clone());
    p.add_pod(&mut state, &ctx, &e, &node);
    assert_eq!(p.filter(&state, &ctx, &node, None), Verdict::Fail(Code::Unschedulable));
    node.remove_pod(e.id);
    p.remove_pod(&mut state, &ctx, &e, &node);
    assert_eq!(p.filter(&state, &ctx, &node, None), Verdict::Pass);
}

// ----- Queueing hints -----

#[test]
fn queueing_hints() {
    use crate::scheduler::framework::ClusterEvent;
    let p = plugin();
    let incoming = pod(&[], |t| {
        t.pod_affinity.required.push(term(security("S1"), "zone"));
        t.pod_anti_affinity.required.push(term(security("S2"), HOST));
    });
    let n = labeled_node("n", &[("zone", "z1")]);
    let hint = |ev: &ClusterEvent| p.queueing_hint(&incoming, ev);
    let (a, b) = (pod(&s1(), |_| {}), pod(&s2(), |_| {}));
    assert_eq!(hint(&ClusterEvent::AssignedPodAdd { pod: &a, node: &n }), QueueingHint::Queue);
    assert_eq!(hint(&ClusterEvent::AssignedPodAdd { pod: &b, node: &n }), QueueingHint::Skip);
    assert_eq!(hint(&ClusterEvent::AssignedPodDelete { pod: &b, node: &n }), QueueingHint::Queue);
    assert_eq!(hint(&ClusterEvent::AssignedPodDelete { pod: &a, node: &n }), QueueingHint::Skip);
    assert_eq!(hint(&ClusterEvent::NodeAdd(&n)), QueueingHint::Queue);
    assert_eq!(hint(&ClusterEvent::NodeAdd(&labeled_node("m", &[("disk", "ssd")]))), QueueingHint::Skip);
    let moved = labeled_node("n", &[("zone", "z2")]);
    assert_eq!(hint(&ClusterEvent::NodeUpdate { old: &n.node, new: &moved }), QueueingHint::Queue);
    let other = labeled_node("n", &[("zone", "z1"), ("disk", "ssd")]);
    assert_eq!(hint(&ClusterEvent::NodeUpdate { old: &n.node, new: &other }), QueueingHint::Skip);
}

// ----- Property: the indexed plugin equals a brute-force transliteration of upstream -----

type Pairs = BTreeMap<(Str, Str), i64>;

fn add_pair(m: &mut Pairs, node: &NodeInfo, key: &Str, v: i64) {
    if let Some(value) = node.node.labels.get(key) {
        *m.entry((key.clone(), value.clone())).or_insert(0) += v;
    }
}

fn reference_maps(pod: &PodSpec, cache: &Cache) -> (Pairs, Pairs, Pairs) {
    let t = &pod.template;
    let (mut existing, mut aff, mut anti) = (Pairs::new(), Pairs::new(), Pairs::new());
    for info in cache.nodes() {
        for e in &info.pods {
            let o = &e.spec;
            for term in &o.template.pod_anti_affinity.required {
                if term.matches(&o.namespace, &pod.namespace, &t.labels) {
                    add_pair(&mut existing, info, &term.topology_key, 1);
                }
            }
            if matches_all(&t.pod_affinity.required, pod, o) {
                for term in &t.pod_affinity.required {
                    add_pair(&mut aff, info, &term.topology_key, 1);
                }
            }
            for term in &t.pod_anti_affinity.required {
                if term.matches(&pod.namespace, &o.namespace, &o.template.labels) {
                    add_pair(&mut anti, info, &term.topology_key, 1);
                }
            }
        }
    }
    (existing, aff, anti)
}

fn reference_filter(pod: &PodSpec, cache: &Cache, node: &NodeInfo) -> Verdict {
    let t = &pod.template;
    let (existing, aff, anti) = reference_maps(pod, cache);
    let (affinity, anti_terms) = (&t.pod_affinity.required, &t.pod_anti_affinity.required);
    if existing.is_empty() && affinity.is_empty() && anti_terms.is_empty() {
        return Verdict::Pass;
    }
    let labels = &node.node.labels;
    let get = |m: &Pairs, k: &Str, v: &Str| m.get(&(k.clone(), v.clone())).copied().unwrap_or(0);
    let mut exist = true;
    for term in affinity {
        let Some(v) = labels.get(&term.topology_key) else { return Verdict::Fail(Code::UnschedulableAndUnresolvable) };
        if get(&aff, &term.topology_key, v) <= 0 {
            exist = false;
        }
    }
    let first_of_group = aff.is_empty() && matches_all(affinity, pod, pod);
    if !(exist || first_of_group) {
        return Verdict::Fail(Code::UnschedulableAndUnresolvable);
    }
    for term in anti_terms {
        if let Some(v) = labels.get(&term.topology_key)
            && get(&anti, &term.topology_key, v) > 0
        {
            return Verdict::Fail(Code::Unschedulable);
        }
    }
    for (k, v) in labels.iter() {
        if get(&existing, k, v) > 0 {
            return Verdict::Fail(Code::Unschedulable);
        }
    }
    Verdict::Pass
}

fn reference_scores(
    args: &InterPodAffinityArgs,
    pod: &PodSpec,
    cache: &Cache,
    feasible: &[NodeId],
) -> Option<Vec<i64>> {
    let t = &pod.template;
    let has = !t.pod_affinity.preferred.is_empty() || !t.pod_anti_affinity.preferred.is_empty();
    if args.ignore_preferred_terms_of_existing_pods && !has {
        return None;
    }
    let mut m: BTreeMap<Str, BTreeMap<Str, i64>> = BTreeMap::new();
    let mut add = |node: &NodeInfo, term: &PodAffinityTerm, owner_ns: &Str, target: &PodSpec, w: i64| {
        if term.matches(owner_ns, &target.namespace, &target.template.labels)
            && let Some(v) = node.node.labels.get(&term.topology_key)
        {
            *m.entry(term.topology_key.clone()).or_default().entry(v.clone()).or_insert(0) += w;
        }
    };
    for info in cache.nodes() {
        for e in &info.pods {
            let o = &e.spec;
            for w in &t.pod_affinity.preferred {
                add(info, &w.term, &pod.namespace, o, i64::from(w.weight));
            }
            for w in &t.pod_anti_affinity.preferred {
                add(info, &w.term, &pod.namespace, o, -i64::from(w.weight));
            }
            if args.hard_pod_affinity_weight > 0 {
                for term in &o.template.pod_affinity.required {
                    add(info, term, &o.namespace, pod, i64::from(args.hard_pod_affinity_weight));
                }
            }
            for w in &o.template.pod_affinity.preferred {
                add(info, &w.term, &o.namespace, pod, i64::from(w.weight));
            }
            for w in &o.template.pod_anti_affinity.preferred {
                add(info, &w.term, &o.namespace, pod, -i64::from(w.weight));
            }
        }
    }
    if m.is_empty() {
        return None;
    }
    let raw: Vec<i64> = feasible
        .iter()
        .map(|id| {
            let labels = &cache.node(*id).unwrap().node.labels;
            m.iter().map(|(k, vals)| labels.get(k).and_then(|v| vals.get(v)).copied().unwrap_or(0)).sum()
        })
        .collect();
    let (min, max) = (*raw.iter().min().unwrap(), *raw.iter().max().unwrap());
    Some(
        raw.iter()
            .map(|s| if max > min { (100.0 * ((s - min) as f64 / (max - min) as f64)) as i64 } else { 0 })
            .collect(),
    )
}

#[derive(Clone, Debug)]
struct World {
    nodes: Vec<(Option<u8>, Option<u8>)>,           // zone, rack (hostname always)
    pods: Vec<(usize, u8, u8, Vec<TermGen>, bool)>, // node, app, ns, terms, terminating
}

type TermGen = (u8, u8, u8, u8, i32); // kind, selector, key, namespaces, weight

const KEYS: [&str; 3] = ["zone", HOST, "rack"];

fn term_gen() -> impl Strategy<Value = TermGen> {
    (0..4u8, 0..4u8, 0..3u8, 0..3u8, 1..20i32)
}

fn apply_terms(t: &mut crate::model::PodTemplate, terms: &[TermGen]) {
    for &(kind, selector, key, nss, weight) in terms {
        let selector = match selector {
            0 => LabelSelector::from_labels(labels_of(&[("app", "a0")])),
            1 => LabelSelector::from_labels(labels_of(&[("app", "a1")])),
            2 => sel(vec![req("app", SelectorOp::In, &["a1", "a2"])]),
            _ => LabelSelector::default(),
        };
        let namespaces = match nss {
            0 => vec![],
            1 => vec![s("ns1")],
            _ => vec![s("ns0"), s("ns1")],
        };
        let tm = PodAffinityTerm { selector, namespaces, topology_key: s(KEYS[key as usize]) };
        match kind {
            0 => t.pod_affinity.required.push(tm),
            1 => t.pod_anti_affinity.required.push(tm),
            2 => t.pod_affinity.preferred.push(WeightedPodAffinityTerm { weight, term: tm }),
            _ => t.pod_anti_affinity.preferred.push(WeightedPodAffinityTerm { weight, term: tm }),
        }
    }
}

fn world() -> impl Strategy<Value = World> {
    let node = (proptest::option::of(0..3u8), proptest::option::of(0..2u8));
    let pod = (0..8usize, 0..3u8, 0..2u8, proptest::collection::vec(term_gen(), 0..2), prop::bool::weighted(0.15));
    (proptest::collection::vec(node, 1..7), proptest::collection::vec(pod, 0..25))
        .prop_map(|(nodes, pods)| World { nodes, pods })
}

fn build_world(w: &World) -> (Cache, Vec<(NodeId, PodId)>) {
    let infos: Vec<NodeInfo> = w
        .nodes
        .iter()
        .enumerate()
        .map(|(i, (zone, rack))| {
            let name = format!("n{i}");
            let mut pairs = vec![(HOST, name.clone())];
            if let Some(z) = zone {
                pairs.push(("zone", format!("z{z}")));
            }
            if let Some(r) = rack {
                pairs.push(("rack", format!("r{r}")));
            }
            let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            labeled_node(&name, &pairs)
        })
        .collect();
    let mut cache = cache_of(&infos);
    let mut placed = vec![];
    for (node, app, ns, terms, terminating) in &w.pods {
        let n = NodeId((*node % infos.len()) as u32);
        let p = labeled_pod(&format!("ns{ns}"), &[("app", &format!("a{app}"))], |t| apply_terms(t, terms));
        let id = place_in(&mut cache, n, p);
        if *terminating {
            cache.set_terminating(n, id, false);
        }
        placed.push((n, id));
    }
    (cache, placed)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn indexed_plugin_equals_upstream_reference(
        w in world(),
        app in 0..3u8,
        ns in 0..2u8,
        terms in proptest::collection::vec(term_gen(), 0..3),
        feasible_mask in any::<u8>(),
        victim in any::<usize>(),
        hard in 0..3i32,
        ignore in any::<bool>(),
    ) {
        let (cache, placed) = build_world(&w);
        let pod = labeled_pod(&format!("ns{ns}"), &[("app", &format!("a{app}"))], |t| apply_terms(t, &terms));
        let args = InterPodAffinityArgs { hard_pod_affinity_weight: hard, ignore_preferred_terms_of_existing_pods: ignore };
        let p = InterPodAffinity::new(args.clone());
        for info in cache.nodes() {
            prop_assert_eq!(filter_in(&p, &pod, &cache, info.id).0, reference_filter(&pod, &cache, info));
        }
        let feasible: Vec<NodeId> =
            cache.nodes().map(|n| n.id).filter(|id| feasible_mask & (1 << (id.0 % 8)) != 0).collect();
        if !feasible.is_empty() {
            prop_assert_eq!(scores_on(&p, &pod, &cache, &feasible), reference_scores(&args, &pod, &cache, &feasible));
        }
        // Dry run: take a pod off its node, then put it back.
        if !placed.is_empty() {
            let (n, id) = placed[victim % placed.len()];
            let ctx = PodCtx::new(PodId::default(), &pod);
            let mut state = CycleState::default();
            if p.pre_filter(&mut state, &ctx, &cache) == PreFilterResult::Proceed {
                let mut node = cache.node(n).unwrap().clone();
                let entry = node.remove_pod(id).unwrap();
                p.remove_pod(&mut state, &ctx, &entry, &node);
                let mut w2 = w.clone();
                w2.pods.remove(placed.iter().position(|x| x.1 == id).unwrap());
                let (without, _) = build_world(&w2);
                for other in without.nodes() {
                    let probe = if other.id == n { &node } else { other };
                    prop_assert_eq!(p.filter(&state, &ctx, probe, None), reference_filter(&pod, &without, other));
                }
                node.add_pod(entry.clone());
                p.add_pod(&mut state, &ctx, &entry, &node);
                prop_assert_eq!(p.filter(&state, &ctx, &node, None), reference_filter(&pod, &cache, cache.node(n).unwrap()));
            }
        }
    }
}
