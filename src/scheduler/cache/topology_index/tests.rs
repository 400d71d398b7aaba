//! The index equals a brute-force recount over the cache after any sequence of node and pod changes.

use super::*;
use crate::model::{
    LabelSelector, Labels, Node, NodeId, OwnerRef, PodAffinityTerm, PodId, PodSpec, PodTemplate, ReplicaSetId,
    SelectorOp, SelectorRequirement, Taint, TaintEffect, WeightedPodAffinityTerm, s,
};
use crate::scheduler::cache::{Cache, PodEntry};
use crate::time::SimTime;
use proptest::prelude::*;
use std::collections::BTreeMap;

const KEYS: [&str; 3] = ["zone", "kubernetes.io/hostname", "rack"];

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().map(|(k, v)| (s(k), s(v))))
}

fn node(name: &str, zone: Option<u8>, rack: Option<u8>, tainted: bool) -> Arc<Node> {
    let mut l = labels(&[("kubernetes.io/hostname", name)]);
    if let Some(z) = zone {
        l.insert(s("zone"), s(format!("z{z}")));
    }
    if let Some(r) = rack {
        l.insert(s("rack"), s(format!("r{r}")));
    }
    let taints = if tainted {
        vec![Taint { key: s("dedicated"), value: s("x"), effect: TaintEffect::NoSchedule }]
    } else {
        vec![]
    };
    Arc::new(Node { name: s(name), labels: l, taints, ..Node::default() })
}

fn selector(app: u8) -> LabelSelector {
    match app {
        0 => LabelSelector::from_labels(labels(&[("app", "a0")])),
        1 => LabelSelector::from_labels(labels(&[("app", "a1")])),
        2 => LabelSelector {
            match_labels: Labels::new(),
            match_expressions: vec![SelectorRequirement {
                key: s("app"),
                op: SelectorOp::In,
                values: vec![s("a1"), s("a2")],
            }],
        },
        _ => LabelSelector::default(),
    }
}

#[derive(Clone, Debug)]
struct PodGen {
    ns: u8,
    app: u8,
    owner: Option<u8>,
    terms: Vec<(u8, u8, u8, u8)>, // (kind, selector, key, namespaces)
}

fn pod_gen() -> impl Strategy<Value = PodGen> {
    (0..2u8, 0..3u8, proptest::option::of(0..3u8), proptest::collection::vec((0..4u8, 0..4u8, 0..3u8, 0..3u8), 0..3))
        .prop_map(|(ns, app, owner, terms)| PodGen { ns, app, owner, terms })
}

fn build_pod(g: &PodGen, uid: u64, rs: &[ReplicaSetId]) -> Arc<PodSpec> {
    let mut t = PodTemplate { labels: labels(&[("app", &format!("a{}", g.app))]), ..PodTemplate::default() };
    for &(kind, sel, key, nss) in &g.terms {
        let namespaces = match nss {
            0 => vec![],
            1 => vec![s("ns0")],
            _ => vec![s("ns0"), s("ns1")],
        };
        let term = PodAffinityTerm { selector: selector(sel), namespaces, topology_key: s(KEYS[key as usize]) };
        match kind {
            0 => t.pod_affinity.required.push(term),
            1 => t.pod_anti_affinity.required.push(term),
            2 => t.pod_affinity.preferred.push(WeightedPodAffinityTerm { weight: 1 + i32::from(sel), term }),
            _ => t.pod_anti_affinity.preferred.push(WeightedPodAffinityTerm { weight: 3, term }),
        }
    }
    Arc::new(PodSpec {
        name: s(format!("p{uid}")),
        namespace: s(format!("ns{}", g.ns)),
        uid,
        owner: g.owner.map(|o| OwnerRef::ReplicaSet(rs[o as usize])),
        workload: s("w"),
        rng_key: uid,
        created: SimTime::ZERO,
        template: Arc::new(t),
    })
}

#[derive(Clone, Debug)]
enum Op {
    AddNode { zone: Option<u8>, rack: Option<u8>, tainted: bool },
    RemoveNode(usize),
    Relabel { node: usize, zone: Option<u8>, rack: Option<u8>, tainted: bool },
    AddPod { node: usize, pod: PodGen },
    RemovePod(usize),
    Terminate(usize),
    Register { app: u8, ns: u8, terminating: bool, pair: bool },
    DomainCounts { counter: usize, key: u8 },
    Key(u8),
}

fn op() -> impl Strategy<Value = Op> {
    let z = proptest::option::of(0..3u8);
    prop_oneof![
        2 => (z.clone(), z.clone(), any::<bool>()).prop_map(|(zone, rack, tainted)| Op::AddNode { zone, rack, tainted }),
        1 => any::<usize>().prop_map(Op::RemoveNode),
        1 => (any::<usize>(), z.clone(), z, any::<bool>())
            .prop_map(|(node, zone, rack, tainted)| Op::Relabel { node, zone, rack, tainted }),
        6 => (any::<usize>(), pod_gen()).prop_map(|(node, pod)| Op::AddPod { node, pod }),
        2 => any::<usize>().prop_map(Op::RemovePod),
        1 => any::<usize>().prop_map(Op::Terminate),
        1 => (0..4u8, 0..2u8, any::<bool>(), any::<bool>())
            .prop_map(|(app, ns, terminating, pair)| Op::Register { app, ns, terminating, pair }),
        1 => (any::<usize>(), 0..3u8).prop_map(|(counter, key)| Op::DomainCounts { counter, key }),
        1 => (0..3u8).prop_map(Op::Key),
    ]
}

/// Recounts everything from the cache and compares it with the index.
fn check(cache: &Cache) {
    let idx = cache.topology();
    let nodes: Vec<&NodeInfo> = cache.nodes().collect();
    // Key tables.
    for table in idx.tables() {
        let mut per_domain: BTreeMap<u32, u32> = BTreeMap::new();
        for info in &nodes {
            let d = table.domain(info.id);
            match info.node.labels.get(&table.name) {
                None => assert_eq!(d, ABSENT, "{} on {}", table.name, info.node.name),
                Some(v) => assert_eq!(&table.values[d as usize], v),
            }
            *per_domain.entry(d).or_default() += 1;
        }
        for (d, n) in table.node_count.iter().enumerate() {
            assert_eq!(*n, per_domain.get(&(d as u32)).copied().unwrap_or(0), "nodes in {}={}", table.name, d);
        }
    }
    assert_eq!(idx.n_nodes() as usize, nodes.len());
    let tainted = nodes.iter().filter(|n| has_hard_taint(&n.node)).count();
    assert_eq!(idx.tainted_nodes() as usize, tainted);

    let recount = |counts: &dyn Fn(&PodEntry) -> bool| -> BTreeMap<u32, u32> {
        let mut m = BTreeMap::new();
        for info in &nodes {
            let c = info.pods.iter().filter(|p| counts(p)).count() as u32;
            if c > 0 {
                m.insert(info.id.0, c);
            }
        }
        m
    };
    let check_counter = |c: &Counter, want: BTreeMap<u32, u32>| {
        let got: BTreeMap<u32, u32> = c.per_node.iter().map(|(k, v)| (*k, *v)).collect();
        assert_eq!(got, want);
        // Lookups agree whether the counter went dense or not.
        for info in &nodes {
            assert_eq!(c.on_node(info.id), want.get(&info.id.0).copied().unwrap_or(0), "on_node({})", info.id.0);
        }
        for (k, arr) in &c.by_key {
            let table = idx.table(*k);
            let mut per_domain = vec![0i64; table.n_domains()];
            for (n, cnt) in &want {
                per_domain[table.domain(NodeId(*n)) as usize] += i64::from(*cnt);
            }
            for (d, want) in per_domain.iter().enumerate() {
                assert_eq!(arr.get(d).copied().unwrap_or(0), *want, "domain {d} of {}", table.name);
            }
        }
    };
    // Owner counters: exactly the owners with non-terminating pods.
    let mut owners: Vec<u64> = nodes
        .iter()
        .flat_map(|n| n.pods.iter())
        .filter(|p| !p.terminating)
        .filter_map(|p| owner_key(&p.spec))
        .collect();
    owners.sort_unstable();
    owners.dedup();
    let mut have: Vec<u64> = idx.owners.keys().copied().collect();
    have.sort_unstable();
    assert_eq!(have, owners);
    for (k, c) in &idx.owners {
        check_counter(c, recount(&|p: &PodEntry| !p.terminating && owner_key(&p.spec) == Some(*k)));
    }
    for (g, c) in &idx.selectors {
        check_counter(c, recount(&|p: &PodEntry| (!p.terminating || g.include_terminating) && g.matches(&p.spec)));
    }
    // Carried terms.
    let mut total = 0i64;
    for c in &idx.carried {
        let table = idx.table(c.key);
        let mut want: BTreeMap<u32, i64> = BTreeMap::new();
        for info in &nodes {
            for p in &info.pods {
                for (kind, weight, term) in carried_terms(&p.spec.template) {
                    if kind == c.kind
                        && weight == c.weight
                        && *term.topology_key == *table.name
                        && Clause::of_term(term, &p.spec.namespace) == c.clause
                    {
                        *want.entry(table.domain(info.id)).or_default() += 1;
                    }
                }
            }
        }
        let got: BTreeMap<u32, i64> = c.per_domain.iter().map(|(k, v)| (*k, *v)).collect();
        assert_eq!(got, want, "carried {:?} {:?}", c.kind, c.clause);
        assert_eq!(c.total, want.values().sum::<i64>());
        total += c.total;
    }
    let carried_total: usize =
        nodes.iter().flat_map(|n| n.pods.iter()).map(|p| carried_terms(&p.spec.template).count()).sum();
    assert_eq!(total as usize, carried_total);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn index_equals_recount(ops in proptest::collection::vec(op(), 1..120)) {
        let mut cache = Cache::default();
        let mut rs_keys = slotmap::SlotMap::<ReplicaSetId, ()>::with_key();
        let rs: Vec<ReplicaSetId> = (0..3).map(|_| rs_keys.insert(())).collect();
        let mut pod_keys = slotmap::SlotMap::<PodId, ()>::with_key();
        let mut nodes: Vec<NodeId> = Vec::new();
        let mut next_node = 0u32;
        let mut pods: Vec<(NodeId, PodId)> = Vec::new();
        let mut uid = 0;
        for op in ops {
            match op {
                Op::AddNode { zone, rack, tainted } => {
                    let id = NodeId(next_node);
                    next_node += 1;
                    cache.upsert_node(id, node(&format!("n{}", id.0), zone, rack, tainted));
                    nodes.push(id);
                }
                Op::RemoveNode(i) if !nodes.is_empty() => {
                    let id = nodes.remove(i % nodes.len());
                    cache.remove_node(id);
                    pods.retain(|(n, _)| *n != id);
                }
                Op::Relabel { node: i, zone, rack, tainted } if !nodes.is_empty() => {
                    let id = nodes[i % nodes.len()];
                    cache.upsert_node(id, node(&format!("n{}", id.0), zone, rack, tainted));
                }
                Op::AddPod { node: i, pod } if !nodes.is_empty() => {
                    let n = nodes[i % nodes.len()];
                    uid += 1;
                    let id = pod_keys.insert(());
                    assert!(cache.add_pod(n, PodEntry::new(id, build_pod(&pod, uid, &rs), SimTime::ZERO)));
                    pods.push((n, id));
                }
                Op::RemovePod(i) if !pods.is_empty() => {
                    let (n, id) = pods.remove(i % pods.len());
                    assert!(cache.remove_pod(n, id).is_some());
                }
                Op::Terminate(i) if !pods.is_empty() => {
                    let (n, id) = pods[i % pods.len()];
                    cache.set_terminating(n, id, false);
                }
                Op::Register { app, ns, terminating, pair } => {
                    let mut clauses = vec![Clause { namespaces: vec![s(format!("ns{ns}"))], selector: selector(app) }];
                    if pair {
                        clauses.push(Clause { namespaces: vec![s("ns0"), s("ns1")], selector: selector((app + 1) % 4) });
                    }
                    let g = Arc::new(SelectorGroup { clauses, include_terminating: terminating });
                    let mut idx = cache.topology();
                    let id = idx.selector_counter(&g, cache.nodes());
                    // Registering again finds the same counter.
                    assert_eq!(idx.selector_counter(&g, cache.nodes()), id);
                }
                Op::DomainCounts { counter, key } => {
                    let mut idx = cache.topology();
                    let k = idx.key_id(KEYS[key as usize], cache.nodes());
                    let mut refs: Vec<CounterRef> = idx.owners.keys().map(|o| CounterRef::Owner(*o)).collect();
                    refs.sort_by_key(|r| match r { CounterRef::Owner(o) => *o, CounterRef::Selector(i) => u64::from(*i) });
                    refs.extend((0..idx.selectors.len() as u32).map(CounterRef::Selector));
                    if !refs.is_empty() {
                        let r = refs[counter % refs.len()];
                        idx.domain_counts(r, k);
                    }
                }
                Op::Key(key) => {
                    let mut idx = cache.topology();
                    idx.key_id(KEYS[key as usize], cache.nodes());
                }
                _ => {}
            }
            check(&cache);
        }
    }
}

#[test]
fn dispatch_finds_selectors_without_match_labels_and_across_namespaces() {
    let mut d = Dispatch::default();
    let expr = Clause { namespaces: vec![s("a")], selector: selector(2) };
    let pair = Clause { namespaces: vec![s("a"), s("b")], selector: selector(1) };
    d.insert(&expr, 0);
    d.insert(&pair, 1);
    let mut out = Vec::new();
    d.candidates("a", &labels(&[("app", "a1")]), &mut out);
    assert_eq!(out, vec![0, 1]);
    d.candidates("b", &labels(&[("app", "a1")]), &mut out);
    assert_eq!(out, vec![1]);
    d.candidates("b", &labels(&[("app", "a0")]), &mut out);
    assert!(out.is_empty());
}
