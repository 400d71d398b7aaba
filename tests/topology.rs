//! PodTopologySpread and InterPodAffinity in the default profile, through the whole scheduling algorithm:
//! default spreading of a ReplicaSet, hard spreading, (anti-)affinity verdicts in the FitError message, and
//! preemption dry runs that rely on the plugins' PreFilter extensions.

use kubesim::model::node::{HOSTNAME_LABEL, ZONE_LABEL};
use kubesim::model::{
    InclusionPolicy, LabelSelector, Labels, Node, NodeId, OwnerRef, PodAffinityTerm, PodSpec, PodTemplate,
    ReplicaSetId, TopologySpreadConstraint, WhenUnsatisfiable, s,
};
use kubesim::scheduler::cycle::{Failure, Outcome};
use kubesim::scheduler::harness::{Harness, node, template};
use kubesim::time::SimTime;
use std::collections::BTreeMap;
use std::sync::Arc;

const GI: i64 = 1 << 30;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().map(|(k, v)| (s(k), s(v))))
}

fn zoned(name: &str, zone: &str, cpu_millis: i64) -> Node {
    let mut n = node(name, cpu_millis, 64 * GI);
    n.labels.insert(s(ZONE_LABEL), s(zone));
    n
}

/// A pod of a ReplicaSet (so system default spreading applies to it).
fn replica(name: &str, rs: ReplicaSetId, t: Arc<PodTemplate>) -> Arc<PodSpec> {
    Arc::new(PodSpec {
        name: s(name),
        namespace: s("default"),
        uid: name.bytes().fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b))),
        owner: Some(OwnerRef::ReplicaSet(rs)),
        workload: s("web"),
        rng_key: 0,
        created: SimTime::ZERO,
        template: t,
    })
}

fn app(name: &str) -> LabelSelector {
    LabelSelector::from_labels(labels(&[("app", name)]))
}

/// Schedules a new pod named `name` with template `t`.
fn run(h: &mut Harness, name: &str, t: Arc<PodTemplate>) -> Outcome {
    let spec = h.pod(name, t);
    h.schedule(spec).1
}

/// Places a new pod named `name` on `n` without scheduling it.
fn put(h: &mut Harness, name: &str, t: Arc<PodTemplate>, n: NodeId) -> kubesim::model::PodId {
    let spec = h.pod(name, t);
    h.place(spec, n, SimTime::ZERO)
}

fn feasible(out: &Outcome) -> NodeId {
    match out {
        Outcome::Feasible(n) => *n,
        other => panic!("expected a node, got {other:?}"),
    }
}

#[test]
fn system_default_spreading_puts_a_replica_set_on_distinct_nodes() {
    for seed in 1..=5 {
        let mut h = Harness::default_profile(seed);
        for (i, z) in ["a", "a", "b", "b", "c", "c"].iter().enumerate() {
            h.add_node(zoned(&format!("n{i}"), z, 64_000));
        }
        let mut keys = slotmap::SlotMap::<ReplicaSetId, ()>::with_key();
        let rs = keys.insert(());
        // Tiny requests: the resource scores cannot tell the nodes apart, only the spreading score can.
        let t = template(1, 1, |t| t.labels = labels(&[("app", "web")]));
        let mut per_node: BTreeMap<NodeId, usize> = BTreeMap::new();
        for i in 0..6 {
            let (_, out) = h.schedule(replica(&format!("web-{i}"), rs, t.clone()));
            *per_node.entry(feasible(&out)).or_default() += 1;
        }
        assert_eq!(per_node.len(), 6, "seed {seed}: {per_node:?}");
    }
}

#[test]
fn hard_zone_spreading_keeps_the_skew() {
    let mut h = Harness::default_profile(3);
    let a = h.add_node(zoned("a", "za", 64_000));
    let b = h.add_node(zoned("b", "zb", 64_000));
    let c = h.add_node(zoned("c", "zb", 64_000));
    let t = template(10, GI, |t| {
        t.labels = labels(&[("app", "web")]);
        t.topology_spread.push(TopologySpreadConstraint {
            max_skew: 1,
            topology_key: s(ZONE_LABEL),
            when_unsatisfiable: WhenUnsatisfiable::DoNotSchedule,
            selector: app("web"),
            min_domains: None,
            node_affinity_policy: InclusionPolicy::Honor,
            node_taints_policy: InclusionPolicy::Ignore,
            match_label_keys: vec![],
        });
    });
    let mut zones = [0, 0];
    for i in 0..7 {
        let out = run(&mut h, &format!("web-{i}"), t.clone());
        let n = feasible(&out);
        zones[usize::from(n != a)] += 1;
        assert!((zones[0] as i64 - zones[1] as i64).abs() <= 1, "{zones:?}");
        assert!([a, b, c].contains(&n));
    }
    assert_eq!(zones.iter().sum::<i32>(), 7);
}

#[test]
fn required_anti_affinity_rejects_the_fourth_replica_on_three_nodes() {
    let mut h = Harness::default_profile(1);
    let nodes: Vec<NodeId> = (0..3).map(|i| h.add_node(node(&format!("n{i}"), 8000, 32 * GI))).collect();
    let t = template(100, GI, |t| {
        t.labels = labels(&[("app", "web")]);
        t.pod_anti_affinity.required.push(PodAffinityTerm {
            selector: app("web"),
            namespaces: vec![],
            topology_key: s(HOSTNAME_LABEL),
        });
    });
    let mut used = Vec::new();
    for i in 0..3 {
        let out = run(&mut h, &format!("web-{i}"), t.clone());
        used.push(feasible(&out));
    }
    used.sort();
    assert_eq!(used, nodes);
    let out = run(&mut h, "web-3", t);
    let Outcome::Failed(f) = out else { panic!("must not fit") };
    assert_eq!(
        f.message,
        "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules. preemption: 0/3 nodes are \
         available: 3 No preemption victims found for incoming pod."
    );
}

#[test]
fn required_affinity_follows_its_peer_and_the_first_pod_goes_anywhere() {
    let mut h = Harness::default_profile(1);
    h.add_node(zoned("a", "za", 8000));
    let b = h.add_node(zoned("b", "zb", 8000));
    h.add_node(zoned("c", "zc", 8000));
    let follower = template(100, GI, |t| {
        t.labels = labels(&[("app", "cache")]);
        t.pod_affinity.required.push(PodAffinityTerm {
            selector: app("db"),
            namespaces: vec![],
            topology_key: s(ZONE_LABEL),
        });
    });
    // No db pod anywhere and the pod does not match its own term: nowhere.
    let out = run(&mut h, "cache-0", follower.clone());
    let Outcome::Failed(Failure { message, .. }) = out else { panic!("must not fit") };
    assert_eq!(
        message,
        "0/3 nodes are available: 3 node(s) didn't match pod affinity rules. preemption: 0/3 nodes are available: \
         3 Preemption is not helpful for scheduling."
    );
    let db = h.pod("db", template(100, GI, |t| t.labels = labels(&[("app", "db")])));
    h.place(db, b, SimTime::ZERO);
    for i in 1..4 {
        let out = run(&mut h, &format!("cache-{i}"), follower.clone());
        assert_eq!(feasible(&out), b);
    }
    // A self-affine group's first pod lands anywhere.
    let group = template(100, GI, |t| {
        t.labels = labels(&[("app", "group")]);
        t.pod_affinity.required.push(PodAffinityTerm {
            selector: app("group"),
            namespaces: vec![],
            topology_key: s(ZONE_LABEL),
        });
    });
    let first = run(&mut h, "group-0", group.clone());
    let first = feasible(&first);
    let second = run(&mut h, "group-1", group);
    assert_eq!(feasible(&second), first);
}

#[test]
fn preemption_evicts_the_pod_the_preemptor_hates_and_the_pod_that_hates_it() {
    // The preemptor's own anti-affinity: removing the low-priority db pod in the dry run lifts it.
    let mut h = Harness::default_profile(1);
    let n = h.add_node(node("n", 8000, 32 * GI));
    let db = put(&mut h, "db", template(100, GI, |t| t.labels = labels(&[("app", "db")])), n);
    put(&mut h, "other", template(100, GI, |t| t.priority = 1000), n);
    let hater = template(100, GI, |t| {
        t.priority = 100;
        t.pod_anti_affinity.required.push(PodAffinityTerm {
            selector: app("db"),
            namespaces: vec![],
            topology_key: s(HOSTNAME_LABEL),
        });
    });
    let out = run(&mut h, "hater", hater);
    let Outcome::Failed(Failure { nominate, .. }) = out else { panic!("must not fit") };
    assert_eq!(nominate, Some((n, vec![db])));

    // An existing low-priority pod's anti-affinity against the preemptor: it is the victim.
    let mut h = Harness::default_profile(1);
    let n = h.add_node(node("n", 8000, 32 * GI));
    let grumpy = template(100, GI, |t| {
        t.pod_anti_affinity.required.push(PodAffinityTerm {
            selector: app("web"),
            namespaces: vec![],
            topology_key: s(HOSTNAME_LABEL),
        });
    });
    let g = put(&mut h, "grumpy", grumpy, n);
    put(&mut h, "bystander", template(100, GI, |_| {}), n);
    let web = template(100, GI, |t| {
        t.priority = 100;
        t.labels = labels(&[("app", "web")]);
    });
    let out = run(&mut h, "web", web);
    let Outcome::Failed(Failure { nominate, message, .. }) = out else { panic!("must not fit") };
    assert!(
        message.starts_with("0/1 nodes are available: 1 node(s) didn't satisfy existing pods anti-affinity rules.")
    );
    assert_eq!(nominate, Some((n, vec![g])));
}
