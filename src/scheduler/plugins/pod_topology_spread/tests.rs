//! Table tests with the numbers of upstream's `scoring_test.go`/`filtering_test.go`, the PreFilter extensions
//! against a from-scratch PreFilter, queueing hints, and a property test against a brute-force transliteration of
//! upstream's algorithm (every node, every pod, string-keyed maps).

use super::filtering::{CONSTRAINTS_NOT_MATCH, FilterState, NODE_LABEL_NOT_MATCH, NONE};
use super::*;
use crate::model::{Labels, NodeId, OwnerRef, PodId, ReplicaSetId, SelectorOp, SelectorRequirement, TaintEffect, s};
use crate::scheduler::framework::{Code, CycleState, PreFilter, PreFilterResult, Verdict};
use crate::scheduler::plugins::testutil::*;
use crate::time::SimTime;
use proptest::prelude::*;
use std::collections::BTreeMap;

const ZONE: &str = "zone";

fn exists(key: &str) -> LabelSelector {
    LabelSelector {
        match_labels: Labels::new(),
        match_expressions: vec![SelectorRequirement { key: s(key), op: SelectorOp::Exists, values: vec![] }],
    }
}

fn spread(max_skew: i32, key: &str, when: WhenUnsatisfiable, selector: LabelSelector) -> TopologySpreadConstraint {
    TopologySpreadConstraint {
        max_skew,
        topology_key: s(key),
        when_unsatisfiable: when,
        selector,
        min_domains: None,
        node_affinity_policy: InclusionPolicy::Honor,
        node_taints_policy: InclusionPolicy::Ignore,
        match_label_keys: vec![],
    }
}

fn soft(max_skew: i32, key: &str, selector: LabelSelector) -> TopologySpreadConstraint {
    spread(max_skew, key, WhenUnsatisfiable::ScheduleAnyway, selector)
}

fn hard(max_skew: i32, key: &str, selector: LabelSelector) -> TopologySpreadConstraint {
    spread(max_skew, key, WhenUnsatisfiable::DoNotSchedule, selector)
}

fn host(name: &str) -> (&'static str, String) {
    (HOSTNAME_LABEL, name.to_string())
}

/// A cache of nodes `(name, labels)` (ids by position) with pods `(node name, labels)` in namespace default.
fn cluster(nodes: &[(&str, Vec<(&str, String)>)], pods: &[(&str, &[(&str, &str)])]) -> Cache {
    let infos: Vec<NodeInfo> = nodes
        .iter()
        .map(|(name, labels)| {
            let pairs: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
            labeled_node(name, &pairs)
        })
        .collect();
    let mut cache = cache_of(&infos);
    for (node, labels) in pods {
        let i = nodes.iter().position(|(n, _)| n == node).expect("pod on a known node");
        place_in(&mut cache, NodeId(i as u32), labeled_pod("default", labels, |_| {}));
    }
    cache
}

fn hostname_nodes(names: &[&str]) -> Vec<(&'static str, Vec<(&'static str, String)>)> {
    names.iter().map(|n| (leak(n), vec![host(n)])).collect()
}

fn zoned(name: &str, zone: &str) -> (&'static str, Vec<(&'static str, String)>) {
    (leak(name), vec![host(name), (ZONE, zone.to_string())])
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

fn ids(n: usize) -> Vec<NodeId> {
    (0..n as u32).map(NodeId).collect()
}

fn foo_pods(spec: &[(&str, usize)]) -> Vec<(&'static str, &'static [(&'static str, &'static str)])> {
    spec.iter().flat_map(|(n, k)| std::iter::repeat_n((leak(n), &[("foo", "")][..]), *k)).collect()
}

fn plugin() -> PodTopologySpread {
    PodTopologySpread::default()
}

fn list_plugin() -> PodTopologySpread {
    PodTopologySpread::new(PodTopologySpreadArgs { default_constraints: vec![], defaulting_type: DefaultingType::List })
}

// ----- Score: upstream TestPodTopologySpreadScore -----

#[test]
fn score_one_constraint_on_hostname() {
    let nodes = hostname_nodes(&["node-a", "node-b", "node-c", "node-d"]);
    let pod = |skew| {
        labeled_pod("default", &[("foo", "")], |t| t.topology_spread.push(soft(skew, HOSTNAME_LABEL, exists("foo"))))
    };
    // No existing pods.
    let cache = cluster(&nodes[..2], &[]);
    assert_eq!(scores_on(&plugin(), &pod(1), &cache, &ids(2)), Some(vec![100, 100]));
    // Spread 2/1/0/3.
    let cache = cluster(&nodes, &foo_pods(&[("node-a", 2), ("node-b", 1), ("node-d", 3)]));
    assert_eq!(scores_on(&plugin(), &pod(1), &cache, &ids(4)), Some(vec![20, 60, 100, 0]));
    assert_eq!(scores_on(&plugin(), &pod(2), &cache, &ids(4)), Some(vec![33, 66, 100, 16]));
    // A null (here: empty) selector counts nothing.
    let null = labeled_pod("default", &[("foo", "")], |t| {
        t.topology_spread.push(soft(1, HOSTNAME_LABEL, LabelSelector::default()))
    });
    assert_eq!(scores_on(&plugin(), &null, &cache, &ids(4)), Some(vec![100, 100, 100, 100]));
    // Spread 4/3/2/1, maxSkew 3.
    let cache = cluster(&nodes, &foo_pods(&[("node-a", 4), ("node-b", 3), ("node-c", 2), ("node-d", 1)]));
    assert_eq!(scores_on(&plugin(), &pod(3), &cache, &ids(4)), Some(vec![44, 66, 77, 100]));
    // Only one candidate node.
    let cache = cluster(&nodes[..2], &foo_pods(&[("node-a", 2), ("node-b", 1)]));
    assert_eq!(scores_on(&plugin(), &pod(1), &cache, &[NodeId(0)]), Some(vec![100]));
}

#[test]
fn score_hostname_with_failed_and_unlabeled_nodes() {
    let pod =
        labeled_pod("default", &[("foo", "")], |t| t.topology_spread.push(soft(1, HOSTNAME_LABEL, exists("foo"))));
    let pods = foo_pods(&[("node-a", 4), ("node-b", 2), ("node-x", 1), ("node-y", 3)]);
    // 4/2/1/~3~: node-y failed filtering.
    let cache = cluster(&hostname_nodes(&["node-a", "node-b", "node-x", "node-y"]), &pods);
    assert_eq!(scores_on(&plugin(), &pod, &cache, &ids(3)), Some(vec![33, 83, 100]));
    // 4/?2?/1/~3~: node-b lacks the key and is ignored.
    let mut nodes = hostname_nodes(&["node-a", "node-b", "node-x", "node-y"]);
    nodes[1].1 = vec![("n", "node-b".into())];
    let cache = cluster(&nodes, &pods);
    assert_eq!(scores_on(&plugin(), &pod, &cache, &ids(3)), Some(vec![16, 0, 100]));
}

#[test]
fn score_zone_and_two_constraints() {
    let zones =
        vec![zoned("node-a", "zone1"), zoned("node-b", "zone1"), zoned("node-x", "zone2"), zoned("node-y", "zone2")];
    let pods = foo_pods(&[("node-a", 4), ("node-b", 2), ("node-x", 1), ("node-y", 3)]);
    let cache = cluster(&zones, &pods);
    let zone_pod = labeled_pod("default", &[("foo", "")], |t| t.topology_spread.push(soft(1, ZONE, exists("foo"))));
    assert_eq!(scores_on(&plugin(), &zone_pod, &cache, &ids(3)), Some(vec![75, 75, 100]));

    // 2/~1~/2/~4~ over zone and node: candidates node-a and node-x.
    let order =
        vec![zoned("node-a", "zone1"), zoned("node-x", "zone2"), zoned("node-b", "zone1"), zoned("node-y", "zone2")];
    let cache = cluster(&order, &foo_pods(&[("node-a", 2), ("node-b", 1), ("node-x", 2), ("node-y", 4)]));
    let both = labeled_pod("default", &[("foo", "")], |t| {
        t.topology_spread.push(soft(1, ZONE, exists("foo")));
        t.topology_spread.push(soft(1, HOSTNAME_LABEL, exists("foo")));
    });
    assert_eq!(scores_on(&plugin(), &both, &cache, &ids(2)), Some(vec![100, 63]));
}

#[test]
fn score_constraints_with_different_selectors() {
    let zones =
        vec![zoned("node-a", "zone1"), zoned("node-b", "zone1"), zoned("node-x", "zone2"), zoned("node-y", "zone2")];
    let pod = labeled_pod("default", &[("foo", ""), ("bar", "")], |t| {
        t.topology_spread.push(soft(1, ZONE, exists("foo")));
        t.topology_spread.push(soft(1, HOSTNAME_LABEL, exists("bar")));
    });
    let cache = cluster(
        &zones,
        &[
            ("node-a", &[("foo", "")]),
            ("node-b", &[("foo", ""), ("bar", "")]),
            ("node-y", &[("foo", "")]),
            ("node-y", &[("bar", "")]),
        ],
    );
    assert_eq!(scores_on(&plugin(), &pod, &cache, &ids(4)), Some(vec![60, 20, 100, 60]));
    // 3 of 4 candidates.
    assert_eq!(scores_on(&plugin(), &pod, &cache, &ids(3)), Some(vec![50, 25, 100]));
    // Some nodes have no pods.
    let cache = cluster(
        &zones,
        &[("node-b", &[("bar", "")]), ("node-x", &[("foo", "")]), ("node-y", &[("foo", ""), ("bar", "")])],
    );
    assert_eq!(scores_on(&plugin(), &pod, &cache, &ids(4)), Some(vec![100, 60, 40, 0]));

    // Two constraints on zone with different selectors; candidates node-a and node-x.
    let order = vec![
        ("node-a", vec![(ZONE, "zone1".to_string())]),
        ("node-x", vec![(ZONE, "zone2".to_string())]),
        ("node-b", vec![(ZONE, "zone1".to_string())]),
        ("node-y", vec![(ZONE, "zone2".to_string())]),
    ];
    let cache = cluster(
        &order,
        &[
            ("node-a", &[("foo", ""), ("bar", "")]),
            ("node-a", &[("foo", "")]),
            ("node-b", &[("foo", ""), ("bar", "")]),
            ("node-y", &[("foo", "")]),
            ("node-y", &[("foo", ""), ("bar", "")]),
            ("node-y", &[("foo", "")]),
        ],
    );
    let pod = labeled_pod("default", &[("foo", ""), ("bar", "")], |t| {
        t.topology_spread.push(soft(1, ZONE, exists("foo")));
        t.topology_spread.push(soft(1, ZONE, exists("bar")));
    });
    assert_eq!(scores_on(&plugin(), &pod, &cache, &ids(2)), Some(vec![85, 100]));
}

#[test]
fn score_skips_other_namespaces_and_terminating_pods() {
    let pod =
        labeled_pod("default", &[("foo", "")], |t| t.topology_spread.push(soft(1, HOSTNAME_LABEL, exists("foo"))));
    let mut cache = cluster(&hostname_nodes(&["node-a", "node-b"]), &foo_pods(&[("node-a", 1), ("node-b", 2)]));
    place_in(&mut cache, NodeId(0), labeled_pod("ns1", &[("foo", "")], |_| {}));
    assert_eq!(scores_on(&plugin(), &pod, &cache, &ids(2)), Some(vec![100, 33]));

    let mut cache = cluster(&hostname_nodes(&["node-a", "node-b"]), &foo_pods(&[("node-b", 1)]));
    let dying = place_in(&mut cache, NodeId(0), labeled_pod("default", &[("foo", "")], |_| {}));
    assert_eq!(scores_on(&plugin(), &pod, &cache, &ids(2)), Some(vec![100, 100]));
    cache.set_terminating(NodeId(0), dying, false);
    assert_eq!(scores_on(&plugin(), &pod, &cache, &ids(2)), Some(vec![100, 0]));
}

#[test]
fn score_min_domains_has_no_effect_and_inclusion_policies() {
    let nodes = vec![
        ("node-a", vec![("node", "node-a".to_string()), ("foo", String::new())]),
        ("node-b", vec![("node", "node-b".to_string()), ("foo", String::new())]),
        ("node-c", vec![("node", "node-c".to_string())]),
    ];
    let cache = cluster(&nodes, &foo_pods(&[("node-a", 2), ("node-b", 2), ("node-c", 1)]));
    let pod = labeled_pod("default", &[("foo", "")], |t| {
        let mut c = soft(2, "node", exists("foo"));
        c.min_domains = Some(10);
        t.topology_spread.push(c);
    });
    assert_eq!(scores_on(&plugin(), &pod, &cache, &ids(3)), Some(vec![75, 75, 100]));

    let cache = cluster(&nodes, &foo_pods(&[("node-a", 2), ("node-b", 1), ("node-c", 1)]));
    let with = |policy, selector: bool| {
        labeled_pod("default", &[("foo", "")], move |t| {
            if selector {
                t.node_selector = labels_of(&[("foo", "")]);
            } else {
                t.node_affinity.required = Some(vec![crate::model::NodeSelectorTerm {
                    match_expressions: vec![crate::model::NodeSelectorRequirement {
                        key: s("foo"),
                        op: crate::model::NodeSelectorOp::In,
                        values: vec![s("")],
                    }],
                    match_fields: vec![],
                }]);
            }
            let mut c = soft(1, "node", exists("foo"));
            c.node_affinity_policy = policy;
            t.topology_spread.push(c);
        })
    };
    for selector in [true, false] {
        assert_eq!(
            scores_on(&plugin(), &with(InclusionPolicy::Honor, selector), &cache, &ids(3)),
            Some(vec![0, 33, 100])
        );
        assert_eq!(
            scores_on(&plugin(), &with(InclusionPolicy::Ignore, selector), &cache, &ids(3)),
            Some(vec![66, 100, 100])
        );
    }

    let mut tainted = nodes.clone();
    for n in &mut tainted {
        n.1.retain(|(k, _)| *k == "node");
    }
    let infos: Vec<NodeInfo> = tainted
        .iter()
        .map(|(name, l)| {
            let pairs: Vec<(&str, &str)> = l.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let mut n = labeled_node(name, &pairs);
            if *name == "node-c" {
                add_taint(&mut n, "node.kubernetes.io/unschedulable", "", TaintEffect::NoSchedule);
            }
            n
        })
        .collect();
    let mut cache = cache_of(&infos);
    for (i, k) in [(0, 2), (1, 1), (2, 1)] {
        for _ in 0..k {
            place_in(&mut cache, NodeId(i), labeled_pod("default", &[("foo", "")], |_| {}));
        }
    }
    let taints = |policy| {
        labeled_pod("default", &[("foo", "")], move |t| {
            let mut c = soft(1, "node", exists("foo"));
            c.node_taints_policy = policy;
            t.topology_spread.push(c);
        })
    };
    assert_eq!(scores_on(&plugin(), &taints(InclusionPolicy::Honor), &cache, &ids(3)), Some(vec![0, 33, 100]));
    assert_eq!(scores_on(&plugin(), &taints(InclusionPolicy::Ignore), &cache, &ids(3)), Some(vec![66, 100, 100]));
}

#[test]
fn match_label_keys_are_anded_into_the_selector() {
    // Upstream "matchLabelKeys ANDed with LabelSelector when LabelSelector is empty": only pods with the pod's
    // value of `foo` count.
    let zones =
        vec![zoned("node-a", "zone1"), zoned("node-b", "zone1"), zoned("node-c", "zone2"), zoned("node-d", "zone2")];
    let cache = cluster(
        &zones,
        &[
            ("node-a", &[("foo", "")]),
            ("node-b", &[("foo", ""), ("bar", "")]),
            ("node-c", &[("foo", "")]),
            ("node-c", &[("bar", "")]),
        ],
    );
    let pod = labeled_pod("default", &[("foo", ""), ("bar", "")], |t| {
        let mut c = soft(1, ZONE, LabelSelector::default());
        c.match_label_keys = vec![s("foo")];
        t.topology_spread.push(c);
        let mut c = soft(1, HOSTNAME_LABEL, LabelSelector::default());
        c.match_label_keys = vec![s("bar")];
        t.topology_spread.push(c);
    });
    // zone1: 2 foo, zone2: 1 foo; hostname bar: 0/1/1/0. ln(4)=1.386, ln(6)=1.792:
    // a: 2*1.386+0 = 2.77 → 3; b: 2.77+1.79 = 4.56 → 5; c: 1.386+1.79 = 3.18 → 3; d: 1.39 → 1.
    assert_eq!(scores_on(&plugin(), &pod, &cache, &ids(4)), Some(vec![60, 20, 60, 100]));
}

/// A pod owned by a ReplicaSet, with labels.
fn owned(rs: ReplicaSetId, pairs: &[(&str, &str)]) -> PodSpec {
    let mut p = labeled_pod("default", pairs, |_| {});
    p.owner = Some(OwnerRef::ReplicaSet(rs));
    p
}

#[test]
fn system_defaults_count_pods_of_the_same_owner() {
    let mut keys = slotmap::SlotMap::<ReplicaSetId, ()>::with_key();
    let (rs, other) = (keys.insert(()), keys.insert(()));
    // Nodes without zones: the hostname constraint alone decides (upstream "system defaulting, nodes don't have
    // zone, pods match service"): 4/3/2/1.
    let mut cache = cluster(&hostname_nodes(&["node-a", "node-b", "node-c", "node-d"]), &[]);
    for (n, k) in [(0, 4), (1, 3), (2, 2), (3, 1)] {
        for _ in 0..k {
            place_in(&mut cache, NodeId(n), owned(rs, &[("foo", "")]));
        }
    }
    // Another owner's pods with the same labels do not count (they would match a Service, which kubesim lacks).
    for _ in 0..5 {
        place_in(&mut cache, NodeId(3), owned(other, &[("foo", "")]));
    }
    let pod = owned(rs, &[("foo", "")]);
    assert_eq!(scores_on(&plugin(), &pod, &cache, &ids(4)), Some(vec![44, 66, 77, 100]));
    // No owner: no selector, no default constraints.
    assert_eq!(scores_on(&plugin(), &labeled_pod("default", &[("foo", "")], |_| {}), &cache, &ids(4)), None);
    // List defaulting without constraints: nothing to score.
    assert_eq!(scores_on(&list_plugin(), &pod, &cache, &ids(4)), None);
    // A pod with constraints of its own gets no defaults: only DoNotSchedule ones leave nothing to score.
    let own = {
        let mut p = owned(rs, &[("foo", "")]);
        let mut t = (*p.template).clone();
        t.topology_spread.push(hard(1, ZONE, exists("foo")));
        p.template = Arc::new(t);
        p
    };
    assert_eq!(scores_on(&plugin(), &own, &cache, &ids(4)), None);
}

#[test]
fn system_defaults_treat_a_missing_zone_as_one_more_zone() {
    let mut keys = slotmap::SlotMap::<ReplicaSetId, ()>::with_key();
    let rs = keys.insert(());
    // node-a, node-b in zone mars; node-c, node-d without a zone (upstream: "considered a separate zone").
    let z = |name: &str| (leak(name), vec![host(name), (ZONE_LABEL, "mars".to_string())]);
    let nodes = vec![z("node-a"), z("node-b"), ("node-c", vec![host("node-c")]), ("node-d", vec![host("node-d")])];
    let mut cache = cluster(&nodes, &[]);
    for (n, k) in [(0, 1), (1, 1), (2, 3)] {
        for _ in 0..k {
            place_in(&mut cache, NodeId(n), owned(rs, &[("foo", "")]));
        }
    }
    // Hostname weight ln(6), zone weight ln(4) over {mars, ""}: zone counts mars=2, ""=3 (nodes without zone
    // skip the zone constraint in Score).
    // a: 1*1.792+2 + 2*1.386+4 = 10.56 → 11; b: same; c: 3*1.792+2 = 7.38 → 7; d: 0+2 = 2.
    assert_eq!(scores_on(&plugin(), &owned(rs, &[("foo", "")]), &cache, &ids(4)), Some(vec![18, 18, 54, 100]));
}

// ----- Filter: upstream TestSingleConstraint / TestMultipleConstraints semantics -----

fn verdicts(p: &PodTopologySpread, pod: &PodSpec, cache: &Cache) -> Vec<(Verdict, Vec<String>)> {
    cache.nodes().map(|n| filter_in(p, pod, cache, n.id)).collect()
}

fn pass() -> (Verdict, Vec<String>) {
    (Verdict::Pass, vec![])
}

fn skew() -> (Verdict, Vec<String>) {
    (Verdict::Fail(Code::Unschedulable), vec![CONSTRAINTS_NOT_MATCH.to_string()])
}

fn missing() -> (Verdict, Vec<String>) {
    (Verdict::Fail(Code::UnschedulableAndUnresolvable), vec![NODE_LABEL_NOT_MATCH.to_string()])
}

fn four_zoned() -> Vec<(&'static str, Vec<(&'static str, String)>)> {
    vec![zoned("node-a", "zone1"), zoned("node-b", "zone1"), zoned("node-x", "zone2"), zoned("node-y", "zone2")]
}

#[test]
fn filter_skew_on_zones() {
    let pod = labeled_pod("default", &[("foo", "")], |t| t.topology_spread.push(hard(1, ZONE, exists("foo"))));
    // No existing pods: everything fits.
    assert!(verdicts(&plugin(), &pod, &cluster(&four_zoned(), &[])).iter().all(|v| *v == pass()));
    // Pods spread as 3/1 over the zones: zone1 would reach skew 3.
    let cache = cluster(&four_zoned(), &foo_pods(&[("node-a", 2), ("node-b", 1), ("node-x", 1)]));
    assert_eq!(verdicts(&plugin(), &pod, &cache), vec![skew(), skew(), pass(), pass()]);
    // Matching pods in another namespace, and terminating ones, do not count.
    let mut cache = cluster(&four_zoned(), &foo_pods(&[("node-x", 1)]));
    place_in(&mut cache, NodeId(0), labeled_pod("ns1", &[("foo", "")], |_| {}));
    let dying = place_in(&mut cache, NodeId(1), labeled_pod("default", &[("foo", "")], |_| {}));
    assert_eq!(verdicts(&plugin(), &pod, &cache), vec![pass(), pass(), pass(), pass()]);
    cache.set_terminating(NodeId(1), dying, false);
    // zone1 now counts 0, zone2 1: zone2 would reach skew 2.
    assert_eq!(verdicts(&plugin(), &pod, &cache), vec![pass(), pass(), skew(), skew()]);
    // The pod does not match its own selector: no +1, so 2/1 still fits zone1 with maxSkew 1.
    let cache = cluster(&four_zoned(), &foo_pods(&[("node-a", 2), ("node-x", 1)]));
    let other = labeled_pod("default", &[("bar", "")], |t| t.topology_spread.push(hard(1, ZONE, exists("foo"))));
    assert_eq!(verdicts(&plugin(), &other, &cache), vec![pass(), pass(), pass(), pass()]);
    assert_eq!(verdicts(&plugin(), &pod, &cache), vec![skew(), skew(), pass(), pass()]);
}

#[test]
fn filter_missing_label_is_unresolvable() {
    let mut nodes = four_zoned();
    nodes[3].1.retain(|(k, _)| *k != ZONE);
    let cache = cluster(&nodes, &foo_pods(&[("node-a", 1), ("node-y", 5)]));
    let pod = labeled_pod("default", &[("foo", "")], |t| t.topology_spread.push(hard(1, ZONE, exists("foo"))));
    // node-y has no zone: its pods do not count, so zone1=1, zone2=0.
    assert_eq!(verdicts(&plugin(), &pod, &cache), vec![skew(), skew(), pass(), missing()]);
    // Two constraints: the first one's missing key wins over the second one's skew.
    let two = labeled_pod("default", &[("foo", "")], |t| {
        t.topology_spread.push(hard(1, ZONE, exists("foo")));
        t.topology_spread.push(hard(1, HOSTNAME_LABEL, exists("foo")));
    });
    // Counting needs all keys: node-y is out. zone1=1 (node-a), zone2=0; hostname a=1, b=0, x=0.
    assert_eq!(verdicts(&plugin(), &two, &cache), vec![skew(), skew(), pass(), missing()]);
}

#[test]
fn filter_min_domains() {
    let cache = cluster(&four_zoned(), &foo_pods(&[("node-a", 1), ("node-x", 1)]));
    let pod = |min| {
        labeled_pod("default", &[("foo", "")], move |t| {
            let mut c = hard(1, ZONE, exists("foo"));
            c.min_domains = min;
            t.topology_spread.push(c);
        })
    };
    assert!(verdicts(&plugin(), &pod(None), &cache).iter().all(|v| *v == pass()));
    assert!(verdicts(&plugin(), &pod(Some(2)), &cache).iter().all(|v| *v == pass()));
    // Three domains wanted, two exist: the global minimum is 0, so 1 + 1 − 0 > 1 everywhere.
    assert!(verdicts(&plugin(), &pod(Some(3)), &cache).iter().all(|v| *v == skew()));
}

#[test]
fn filter_inclusion_policies() {
    // zone1 has one pod, zone2 none; the pod may only go to zone1 (node selector).
    let cache = cluster(&four_zoned(), &foo_pods(&[("node-a", 1)]));
    let pod = |policy| {
        labeled_pod("default", &[("foo", "")], move |t| {
            t.node_selector = labels_of(&[(ZONE, "zone1")]);
            let mut c = hard(1, ZONE, exists("foo"));
            c.node_affinity_policy = policy;
            t.topology_spread.push(c);
        })
    };
    // Honor: zone2 is not eligible, the minimum is zone1's 1: 1 + 1 − 1 ≤ 1.
    assert_eq!(verdicts(&plugin(), &pod(InclusionPolicy::Honor), &cache)[..2], [pass(), pass()]);
    // Ignore: zone2 counts with 0: 1 + 1 − 0 > 1.
    assert_eq!(verdicts(&plugin(), &pod(InclusionPolicy::Ignore), &cache)[..2], [skew(), skew()]);

    // Taints: zone2's only node is tainted.
    let mut infos: Vec<NodeInfo> = vec![
        labeled_node("node-a", &[(ZONE, "zone1"), (HOSTNAME_LABEL, "node-a")]),
        labeled_node("node-x", &[(ZONE, "zone2"), (HOSTNAME_LABEL, "node-x")]),
    ];
    add_taint(&mut infos[1], "dedicated", "x", TaintEffect::NoSchedule);
    let mut cache = cache_of(&infos);
    place_in(&mut cache, NodeId(0), labeled_pod("default", &[("foo", "")], |_| {}));
    let pod = |policy, tolerate: bool| {
        labeled_pod("default", &[("foo", "")], move |t| {
            if tolerate {
                t.tolerations.push(exists_toleration("dedicated"));
            }
            let mut c = hard(1, ZONE, exists("foo"));
            c.node_taints_policy = policy;
            t.topology_spread.push(c);
        })
    };
    assert_eq!(filter_in(&plugin(), &pod(InclusionPolicy::Honor, false), &cache, NodeId(0)), pass());
    assert_eq!(filter_in(&plugin(), &pod(InclusionPolicy::Ignore, false), &cache, NodeId(0)), skew());
    assert_eq!(filter_in(&plugin(), &pod(InclusionPolicy::Honor, true), &cache, NodeId(0)), skew());
}

#[test]
fn filter_hostname_max_skew() {
    let cache = cluster(&hostname_nodes(&["a", "b", "c"]), &foo_pods(&[("a", 2), ("b", 1)]));
    let pod = |k| {
        labeled_pod("default", &[("foo", "")], move |t| t.topology_spread.push(hard(k, HOSTNAME_LABEL, exists("foo"))))
    };
    assert_eq!(verdicts(&plugin(), &pod(1), &cache), vec![skew(), skew(), pass()]);
    assert_eq!(verdicts(&plugin(), &pod(2), &cache), vec![skew(), pass(), pass()]);
    assert_eq!(verdicts(&plugin(), &pod(3), &cache), vec![pass(), pass(), pass()]);
}

#[test]
fn pre_filter_skips_without_hard_constraints() {
    let cache = cluster(&four_zoned(), &[]);
    let ctx_of = |p: &PodSpec| {
        let mut st = CycleState::default();
        plugin().pre_filter(&mut st, &PodCtx::new(PodId::default(), p), &cache)
    };
    assert_eq!(ctx_of(&labeled_pod("default", &[], |_| {})), PreFilterResult::Skip);
    let soft_only = labeled_pod("default", &[], |t| t.topology_spread.push(soft(1, ZONE, exists("foo"))));
    assert_eq!(ctx_of(&soft_only), PreFilterResult::Skip);
    let hard_one = labeled_pod("default", &[], |t| t.topology_spread.push(hard(1, ZONE, exists("foo"))));
    assert_eq!(ctx_of(&hard_one), PreFilterResult::Proceed);
}

// ----- PreFilter extensions -----

/// The state as (per constraint) counts by domain value, the global minimum and the number of domains.
fn snapshot(state: &CycleState, cache: &Cache) -> Vec<(BTreeMap<String, i64>, i64, usize)> {
    let s = state.get::<FilterState>().expect("PreFilter ran");
    let idx = cache.topology();
    s.cons
        .iter()
        .map(|fc| {
            let table = idx.table(idx.find_key(&fc.c.key).unwrap());
            let counts = fc
                .counts
                .iter()
                .enumerate()
                .filter(|(_, c)| **c != NONE)
                .map(|(d, c)| (table.values[d].to_string(), *c))
                .collect();
            (counts, fc.global_min(), fc.n_domains)
        })
        .collect()
}

fn pre_filtered(p: &PodTopologySpread, pod: &PodSpec, cache: &Cache) -> CycleState {
    let mut state = CycleState::default();
    assert_eq!(p.pre_filter(&mut state, &PodCtx::new(PodId::default(), pod), cache), PreFilterResult::Proceed);
    state
}

#[test]
fn add_and_remove_pod_equal_a_fresh_pre_filter() {
    let pod = labeled_pod("default", &[("foo", "")], |t| {
        t.topology_spread.push(hard(1, ZONE, exists("foo")));
        t.topology_spread.push(hard(1, HOSTNAME_LABEL, exists("foo")));
    });
    let p = plugin();
    let build = |extra: bool| {
        let mut cache = cluster(&four_zoned(), &foo_pods(&[("node-a", 1), ("node-b", 2), ("node-x", 1)]));
        place_in(&mut cache, NodeId(3), labeled_pod("default", &[("bar", "")], |_| {}));
        let id = extra.then(|| place_in(&mut cache, NodeId(2), labeled_pod("default", &[("foo", "")], |_| {})));
        (cache, id)
    };
    let (with, id) = build(true);
    let (without, _) = build(false);
    let ctx = PodCtx::new(PodId::default(), &pod);
    // Remove from the state of the full cluster = the state of the cluster without it; add restores it.
    let mut state = pre_filtered(&p, &pod, &with);
    let mut node = with.node(NodeId(2)).unwrap().clone();
    let entry = node.remove_pod(id.unwrap()).unwrap();
    p.remove_pod(&mut state, &ctx, &entry, &node);
    assert_eq!(snapshot(&state, &with), snapshot(&pre_filtered(&p, &pod, &without), &without));
    node.add_pod(entry.clone());
    p.add_pod(&mut state, &ctx, &entry, &node);
    assert_eq!(snapshot(&state, &with), snapshot(&pre_filtered(&p, &pod, &with), &with));
    // The minimum rises when the only least-loaded domain gains a pod, and the verdicts follow.
    let mut state = pre_filtered(&p, &pod, &without);
    let before = snapshot(&state, &without);
    assert_eq!(before[1].1, 0, "node-y has no foo pod");
    let mut y = without.node(NodeId(3)).unwrap().clone();
    let new = PodEntry::new(fresh_pod_id(), Arc::new(labeled_pod("default", &[("foo", "")], |_| {})), SimTime::ZERO);
    y.add_pod(new.clone());
    p.add_pod(&mut state, &ctx, &new, &y);
    assert_eq!(snapshot(&state, &without)[1].1, 1);
    // Pods in other namespaces, not matching, or terminating change nothing.
    for other in [labeled_pod("ns1", &[("foo", "")], |_| {}), labeled_pod("default", &[("bar", "")], |_| {})] {
        let e = PodEntry::new(fresh_pod_id(), Arc::new(other), SimTime::ZERO);
        let snap = snapshot(&state, &without);
        p.add_pod(&mut state, &ctx, &e, &y);
        assert_eq!(snapshot(&state, &without), snap);
    }
    let mut dying =
        PodEntry::new(fresh_pod_id(), Arc::new(labeled_pod("default", &[("foo", "")], |_| {})), SimTime::ZERO);
    dying.terminating = true;
    let snap = snapshot(&state, &without);
    p.remove_pod(&mut state, &ctx, &dying, &y);
    assert_eq!(snapshot(&state, &without), snap);
}

// ----- Queueing hints -----

#[test]
fn queueing_hints() {
    use crate::scheduler::framework::ClusterEvent;
    let p = plugin();
    let pod = labeled_pod("default", &[("foo", "")], |t| t.topology_spread.push(hard(1, ZONE, exists("foo"))));
    let infos = [labeled_node("n", &[(ZONE, "z1")]), labeled_node("bare", &[])];
    let matching = labeled_pod("default", &[("foo", "")], |_| {});
    let elsewhere = labeled_pod("ns1", &[("foo", "")], |_| {});
    let unrelated = labeled_pod("default", &[("bar", "")], |_| {});
    let hint = |ev: &ClusterEvent| p.queueing_hint(&pod, ev);
    assert_eq!(hint(&ClusterEvent::AssignedPodDelete { pod: &matching, node: &infos[0] }), QueueingHint::Queue);
    assert_eq!(hint(&ClusterEvent::AssignedPodAdd { pod: &matching, node: &infos[0] }), QueueingHint::Queue);
    assert_eq!(hint(&ClusterEvent::AssignedPodDelete { pod: &elsewhere, node: &infos[0] }), QueueingHint::Skip);
    assert_eq!(hint(&ClusterEvent::AssignedPodDelete { pod: &unrelated, node: &infos[0] }), QueueingHint::Skip);
    assert_eq!(hint(&ClusterEvent::NodeAdd(&infos[0])), QueueingHint::Queue);
    assert_eq!(hint(&ClusterEvent::NodeAdd(&infos[1])), QueueingHint::Skip);
    let relabeled = labeled_node("n", &[(ZONE, "z2")]);
    assert_eq!(hint(&ClusterEvent::NodeUpdate { old: &infos[0].node, new: &relabeled }), QueueingHint::Queue);
    let mut tainted = infos[0].clone();
    add_taint(&mut tainted, "x", "", TaintEffect::NoSchedule);
    assert_eq!(hint(&ClusterEvent::NodeUpdate { old: &infos[0].node, new: &tainted }), QueueingHint::Queue);
    let other_label = labeled_node("n", &[(ZONE, "z1"), ("disk", "ssd")]);
    assert_eq!(hint(&ClusterEvent::NodeUpdate { old: &infos[0].node, new: &other_label }), QueueingHint::Skip);
    assert_eq!(hint(&ClusterEvent::NodeUpdate { old: &infos[1].node, new: &infos[1] }), QueueingHint::Skip);
}

// ----- Property: the indexed plugin equals a brute-force transliteration of upstream -----

/// Upstream's PreFilter counts: per constraint, matching pods per domain value over eligible nodes.
fn reference_counts(
    pod: &PodSpec,
    cons: &[Constraint],
    cache: &Cache,
    require_all: bool,
) -> Vec<BTreeMap<String, i64>> {
    let t = &pod.template;
    let mut out = vec![BTreeMap::new(); cons.len()];
    for info in cache.nodes() {
        let labels = &info.node.labels;
        if require_all && !cons.iter().all(|c| labels.contains_key(&c.key)) {
            continue;
        }
        for (i, c) in cons.iter().enumerate() {
            if (c.affinity_honor && !node_affinity_matches(t, &info.node))
                || (c.taints_honor && untolerated_hard_taint(t, &info.node))
            {
                continue;
            }
            let value = labels.get(&c.key).map(|v| v.to_string()).unwrap_or_default();
            let n = info
                .pods
                .iter()
                .filter(|p| !p.terminating && p.spec.namespace == pod.namespace && c.group.counts(&p.spec))
                .count() as i64;
            *out[i].entry(value).or_insert(0) += n;
        }
    }
    out
}

fn reference_filter(pl: &PodTopologySpread, pod: &PodSpec, cache: &Cache, node: &NodeInfo) -> Verdict {
    let cons = pl.constraints(pod, WhenUnsatisfiable::DoNotSchedule);
    if cons.is_empty() {
        return Verdict::Pass;
    }
    let counts = reference_counts(pod, &cons, cache, true);
    for (i, c) in cons.iter().enumerate() {
        let Some(v) = node.node.labels.get(&c.key) else {
            return Verdict::Fail(Code::UnschedulableAndUnresolvable);
        };
        let min = if (counts[i].len() as i64) < i64::from(c.min_domains) {
            0
        } else {
            counts[i].values().copied().min().unwrap_or(i64::from(i32::MAX))
        };
        let matched = counts[i].get(&**v).copied().unwrap_or(0);
        if matched + i64::from(c.self_match) - min > i64::from(c.max_skew) {
            return Verdict::Fail(Code::Unschedulable);
        }
    }
    Verdict::Pass
}

fn reference_scores(pl: &PodTopologySpread, pod: &PodSpec, cache: &Cache, feasible: &[NodeId]) -> Option<Vec<i64>> {
    let cons = pl.constraints(pod, WhenUnsatisfiable::ScheduleAnyway);
    if cons.is_empty() {
        return None;
    }
    let require_all = pl.require_all_keys(pod);
    let nodes: Vec<&NodeInfo> = feasible.iter().map(|id| cache.node(*id).unwrap()).collect();
    let ignored: Vec<bool> =
        nodes.iter().map(|n| require_all && !cons.iter().all(|c| n.node.labels.contains_key(&c.key))).collect();
    let n_scored = ignored.iter().filter(|i| !**i).count();
    let counts = reference_counts(pod, &cons, cache, require_all);
    let weights: Vec<f64> = cons
        .iter()
        .map(|c| {
            let size = if *c.key == *HOSTNAME_LABEL {
                n_scored
            } else {
                let mut values: Vec<String> = nodes
                    .iter()
                    .zip(&ignored)
                    .filter(|(_, ig)| !**ig)
                    .map(|(n, _)| n.node.labels.get(&c.key).map(|v| v.to_string()).unwrap_or_default())
                    .collect();
                values.sort();
                values.dedup();
                values.len()
            };
            ((size + 2) as f64).ln()
        })
        .collect();
    let raw: Vec<i64> = nodes
        .iter()
        .zip(&ignored)
        .map(|(n, ig)| {
            if *ig {
                return 0;
            }
            let mut score = 0.0;
            for (i, c) in cons.iter().enumerate() {
                let Some(v) = n.node.labels.get(&c.key) else { continue };
                let cnt = if *c.key == *HOSTNAME_LABEL {
                    n.pods
                        .iter()
                        .filter(|p| !p.terminating && p.spec.namespace == pod.namespace && c.group.counts(&p.spec))
                        .count() as i64
                } else {
                    counts[i].get(&**v).copied().unwrap_or(0)
                };
                score += cnt as f64 * weights[i] + f64::from(c.max_skew - 1);
            }
            score.round() as i64
        })
        .collect();
    let scored: Vec<i64> = raw.iter().zip(&ignored).filter(|(_, ig)| !**ig).map(|(s, _)| *s).collect();
    let min = scored.iter().copied().min().unwrap_or(i64::MAX);
    let max = scored.iter().copied().max().unwrap_or(0).max(0);
    Some(
        raw.iter()
            .zip(&ignored)
            .map(|(s, ig)| {
                if *ig {
                    0
                } else if max == 0 {
                    100
                } else {
                    100 * (max + min - s) / max
                }
            })
            .collect(),
    )
}

#[derive(Clone, Debug)]
struct World {
    nodes: Vec<(Option<u8>, bool, Option<u8>, bool)>, // zone, hostname?, rack, tainted
    pods: Vec<(usize, u8, u8, Option<u8>, bool)>,     // node, app, ns, owner, terminating
}

/// key, hard, selector, maxSkew, minDomains, honor affinity, honor taints, matchLabelKeys.
type ConstraintGen = (u8, bool, u8, i32, Option<i32>, bool, bool, bool);

#[derive(Clone, Debug)]
struct Incoming {
    app: u8,
    owner: Option<u8>,
    constraints: Vec<ConstraintGen>,
    node_selector: Option<u8>,
    tolerate: bool,
}

fn world() -> impl Strategy<Value = World> {
    let node = (
        proptest::option::of(0..4u8),
        prop::bool::weighted(0.9),
        proptest::option::of(0..2u8),
        prop::bool::weighted(0.2),
    );
    (
        proptest::collection::vec(node, 1..8),
        proptest::collection::vec(
            (0..8usize, 0..3u8, 0..2u8, proptest::option::of(0..2u8), prop::bool::weighted(0.15)),
            0..30,
        ),
    )
        .prop_map(|(nodes, pods)| World { nodes, pods })
}

fn incoming() -> impl Strategy<Value = Incoming> {
    let c = (
        0..4u8,
        any::<bool>(),
        0..4u8,
        1..4i32,
        proptest::option::of(1..5i32),
        any::<bool>(),
        prop::bool::weighted(0.3),
        prop::bool::weighted(0.2),
    );
    (
        0..3u8,
        proptest::option::of(0..2u8),
        proptest::collection::vec(c, 0..3),
        proptest::option::of(0..3u8),
        any::<bool>(),
    )
        .prop_map(|(app, owner, constraints, node_selector, tolerate)| Incoming {
            app,
            owner,
            constraints,
            node_selector,
            tolerate,
        })
}

const KEYS: [&str; 4] = [ZONE, HOSTNAME_LABEL, "rack", ZONE_LABEL];

fn build_world(w: &World, rs: &[ReplicaSetId]) -> (Cache, Vec<(NodeId, PodId)>) {
    let infos: Vec<NodeInfo> = w
        .nodes
        .iter()
        .enumerate()
        .map(|(i, (zone, hostname, rack, tainted))| {
            let name = format!("n{i}");
            let mut pairs: Vec<(&str, String)> = vec![];
            if let Some(z) = zone {
                // Zone 3 is the empty value, which system defaulting merges with "no zone".
                pairs.push((ZONE, if *z == 3 { String::new() } else { format!("z{z}") }));
                pairs.push((ZONE_LABEL, if *z == 3 { String::new() } else { format!("z{z}") }));
            }
            if *hostname {
                pairs.push((HOSTNAME_LABEL, name.clone()));
            }
            if let Some(r) = rack {
                pairs.push(("rack", format!("r{r}")));
            }
            let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let mut n = labeled_node(&name, &pairs);
            if *tainted {
                add_taint(&mut n, "dedicated", "x", TaintEffect::NoSchedule);
            }
            n
        })
        .collect();
    let mut cache = cache_of(&infos);
    let mut placed = vec![];
    for (node, app, ns, owner, terminating) in &w.pods {
        let n = NodeId((*node % infos.len()) as u32);
        // A ReplicaSet's pods live in its namespace (ns0).
        let ns = if owner.is_some() { 0 } else { *ns };
        let mut p = labeled_pod(&format!("ns{ns}"), &[("app", &format!("a{app}"))], |_| {});
        p.owner = owner.map(|o| OwnerRef::ReplicaSet(rs[o as usize]));
        let id = place_in(&mut cache, n, p);
        if *terminating {
            cache.set_terminating(n, id, false);
        }
        placed.push((n, id));
    }
    (cache, placed)
}

fn build_incoming(i: &Incoming, rs: &[ReplicaSetId]) -> PodSpec {
    let mut p = labeled_pod("ns0", &[("app", &format!("a{}", i.app)), ("tier", "web")], |t| {
        for &(key, is_hard, sel, skew, min_domains, aff, taints, mlk) in &i.constraints {
            let selector = match sel {
                0 => LabelSelector::from_labels(labels_of(&[("app", "a0")])),
                1 => LabelSelector::from_labels(labels_of(&[("app", "a1")])),
                2 => exists("app"),
                _ => LabelSelector::default(),
            };
            let mut c = spread(
                skew,
                KEYS[key as usize],
                if is_hard { WhenUnsatisfiable::DoNotSchedule } else { WhenUnsatisfiable::ScheduleAnyway },
                selector,
            );
            c.min_domains = min_domains;
            c.node_affinity_policy = if aff { InclusionPolicy::Honor } else { InclusionPolicy::Ignore };
            c.node_taints_policy = if taints { InclusionPolicy::Honor } else { InclusionPolicy::Ignore };
            if mlk {
                c.match_label_keys = vec![s("app")];
            }
            t.topology_spread.push(c);
        }
        if let Some(z) = i.node_selector {
            t.node_selector = labels_of(&[(ZONE, &format!("z{z}"))]);
        }
        if i.tolerate {
            t.tolerations.push(exists_toleration("dedicated"));
        }
    });
    p.owner = i.owner.map(|o| OwnerRef::ReplicaSet(rs[o as usize]));
    p
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn indexed_plugin_equals_upstream_reference(
        w in world(),
        inc in incoming(),
        feasible_mask in any::<u8>(),
        victim in any::<usize>(),
        list in any::<bool>(),
    ) {
        let mut keys = slotmap::SlotMap::<ReplicaSetId, ()>::with_key();
        let rs: Vec<ReplicaSetId> = (0..2).map(|_| keys.insert(())).collect();
        let (cache, placed) = build_world(&w, &rs);
        let pod = build_incoming(&inc, &rs);
        let p = if list {
            PodTopologySpread::new(PodTopologySpreadArgs {
                default_constraints: vec![
                    hard(2, ZONE, LabelSelector::default()),
                    soft(1, HOSTNAME_LABEL, LabelSelector::default()),
                ],
                defaulting_type: DefaultingType::List,
            })
        } else {
            plugin()
        };
        // Filter on every node.
        for info in cache.nodes() {
            prop_assert_eq!(filter_in(&p, &pod, &cache, info.id).0, reference_filter(&p, &pod, &cache, info));
        }
        // Scores over a subset of feasible nodes.
        let feasible: Vec<NodeId> =
            cache.nodes().map(|n| n.id).filter(|id| feasible_mask & (1 << (id.0 % 8)) != 0).collect();
        if !feasible.is_empty() {
            prop_assert_eq!(scores_on(&p, &pod, &cache, &feasible), reference_scores(&p, &pod, &cache, &feasible));
        }
        // A preemption-style dry run: remove a pod from its node, the verdicts there equal the reference on the
        // cluster without it; adding it back restores them.
        if !placed.is_empty() && !p.constraints(&pod, WhenUnsatisfiable::DoNotSchedule).is_empty() {
            let (n, id) = placed[victim % placed.len()];
            let ctx = PodCtx::new(PodId::default(), &pod);
            let mut state = CycleState::default();
            prop_assert_eq!(p.pre_filter(&mut state, &ctx, &cache), PreFilterResult::Proceed);
            let mut node = cache.node(n).unwrap().clone();
            let entry = node.remove_pod(id).unwrap();
            p.remove_pod(&mut state, &ctx, &entry, &node);
            let mut w2 = w.clone();
            w2.pods.remove(placed.iter().position(|x| x.1 == id).unwrap());
            let (without, _) = build_world(&w2, &rs);
            let got = p.filter(&state, &ctx, &node, None);
            prop_assert_eq!(got, reference_filter(&p, &pod, &without, without.node(n).unwrap()));
            node.add_pod(entry.clone());
            p.add_pod(&mut state, &ctx, &entry, &node);
            prop_assert_eq!(p.filter(&state, &ctx, &node, None), reference_filter(&p, &pod, &cache, cache.node(n).unwrap()));
        }
    }
}
