//! Fluent fixtures for plugin table tests (in the spirit of upstream's `st.MakePod()`).
#![allow(dead_code)] // Helpers for plugin table tests; not every plugin uses every one.

use crate::model::{
    ConditionStatus, Container, Labels, Node, NodeId, PodId, PodSpec, PodTemplate, Resources, Taint, TaintEffect,
    Toleration, TolerationOp, s,
};
use crate::scheduler::cache::{Cache, NodeInfo, PodEntry};
use crate::scheduler::framework::{
    Code, CycleState, Filter, NodeList, Plugin, PodCtx, PreFilterResult, PreResult, Score, Verdict,
};
use crate::time::SimTime;
use std::sync::Arc;

pub const GI: i64 = 1024 * 1024 * 1024;

pub fn node_info(name: &str, cpu_millis: i64, memory_bytes: i64) -> NodeInfo {
    let node = Node {
        name: s(name),
        uid: 0,
        labels: Labels::new(),
        taints: vec![],
        unschedulable: false,
        allocatable: Resources::new(cpu_millis, memory_bytes),
        allocatable_pods: 110,
        ready: ConditionStatus::True,
        ready_transition: SimTime::ZERO,
        pool: 0,
        images: Vec::new(),
    };
    NodeInfo::new(NodeId(0), Arc::new(node))
}

fn edit(n: &mut NodeInfo, f: impl FnOnce(&mut Node)) {
    let mut node = (*n.node).clone();
    f(&mut node);
    n.set_node(Arc::new(node));
}

pub fn set_unschedulable(n: &mut NodeInfo) {
    edit(n, |node| node.unschedulable = true);
}
pub fn set_max_pods(n: &mut NodeInfo, pods: i64) {
    edit(n, |node| node.allocatable_pods = pods);
}
pub fn set_scalar(n: &mut NodeInfo, name: &str, amount: i64) {
    edit(n, |node| node.allocatable.set_scalar(s(name), amount));
}
pub fn add_taint(n: &mut NodeInfo, key: &str, value: &str, effect: TaintEffect) {
    edit(n, |node| node.taints.push(Taint { key: s(key), value: s(value), effect }));
}
pub fn add_label(n: &mut NodeInfo, key: &str, value: &str) {
    edit(n, |node| node.labels.insert(s(key), s(value)));
}
pub fn set_ephemeral(n: &mut NodeInfo, bytes: i64) {
    edit(n, |node| node.allocatable.ephemeral_storage_bytes = bytes);
}
/// Adds an image to the node's `status.images`, keeping them sorted by name as the apiserver stores them.
pub fn add_image(n: &mut NodeInfo, name: &str, size_bytes: u64) {
    edit(n, |node| {
        node.images.push((s(name), size_bytes));
        node.images.sort();
    });
}

pub fn exists_toleration(key: &str) -> Toleration {
    Toleration { key: s(key), op: TolerationOp::Exists, value: s(""), effect: None, toleration_seconds: None }
}

fn template(containers: Vec<Container>) -> PodTemplate {
    let mut t = PodTemplate { containers, ..PodTemplate::default() };
    t.finalize();
    t
}

fn spec(t: PodTemplate) -> PodSpec {
    PodSpec {
        name: s("p"),
        namespace: s("default"),
        uid: 1,
        owner: None,
        workload: s("w"),
        rng_key: 0,
        created: SimTime::ZERO,
        template: Arc::new(t),
    }
}

/// A container requesting `cpu_millis` and `memory_bytes` (both given, so no non-zero defaults apply).
pub fn container(cpu_millis: i64, memory_bytes: i64) -> Container {
    Container {
        name: s("c"),
        image: s("img"),
        requests: Resources::new(cpu_millis, memory_bytes),
        has_cpu_request: true,
        has_memory_request: true,
        ..Container::default()
    }
}

/// A one-container pod requesting `cpu_millis` and `memory_bytes`, edited by `f`.
pub fn pod_spec(cpu_millis: i64, memory_bytes: i64, f: impl FnOnce(&mut PodTemplate)) -> PodSpec {
    let mut t = template(vec![container(cpu_millis, memory_bytes)]);
    f(&mut t);
    t.finalize();
    spec(t)
}

/// Another pod with the same spec (`PodSpec` is not `Clone`: pods share it behind an `Arc`).
pub fn same(pod: &PodSpec) -> PodSpec {
    PodSpec {
        name: pod.name.clone(),
        namespace: pod.namespace.clone(),
        uid: pod.uid,
        owner: pod.owner,
        workload: pod.workload.clone(),
        rng_key: pod.rng_key,
        created: pod.created,
        template: pod.template.clone(),
    }
}

/// A one-container pod that sets no requests at all.
pub fn pod_spec_no_requests() -> PodSpec {
    let c = Container { name: s("c"), image: s("img"), ..Container::default() };
    spec(template(vec![c]))
}

/// Puts a pod on the node (updates aggregates); returns its id (distinct from other placed pods' ids).
pub fn place(n: &mut NodeInfo, pod: PodSpec) -> PodId {
    let mut keys = slotmap::SlotMap::<PodId, ()>::with_key();
    for _ in 0..n.pods.len() {
        keys.insert(());
    }
    let id = keys.insert(());
    n.add_pod(PodEntry::new(id, Arc::new(pod), SimTime::ZERO));
    id
}

/// Runs PreFilter (if any) and Filter, returning the verdict and the reasons as strings.
pub fn filter<P: Plugin>(p: &P, pod: &PodSpec, node: &NodeInfo) -> (Verdict, Vec<String>) {
    let ctx = PodCtx::new(PodId::default(), pod);
    let mut state = CycleState::default();
    let mut cache = Cache::default();
    cache.upsert_node(node.id, node.node.clone());
    if let Some(pf) = p.as_pre_filter() {
        match pf.pre_filter(&mut state, &ctx, &cache) {
            PreFilterResult::Skip => return (Verdict::Pass, vec![]),
            PreFilterResult::Reject(code, reason) => return (Verdict::Fail(code), vec![reason.to_string()]),
            PreFilterResult::Nodes(ids) if !ids.contains(&node.id) => {
                return (Verdict::Fail(Code::UnschedulableAndUnresolvable), vec![]);
            }
            _ => {}
        }
    }
    let f: &dyn Filter = p.as_filter().expect("plugin has a filter");
    let fast = f.filter(&state, &ctx, node, None);
    let mut why = Vec::new();
    let slow = f.filter(&state, &ctx, node, Some(&mut why));
    assert_eq!(fast, slow, "filter verdict must not depend on whether reasons are collected");
    (slow, why.iter().map(|r| r.to_string()).collect())
}

/// Runs PreScore, Score and NormalizeScore over `nodes`.
pub fn scores<P: Plugin>(p: &P, pod: &PodSpec, nodes: &[&NodeInfo]) -> Vec<i64> {
    let ctx = PodCtx::new(PodId::default(), pod);
    let mut state = CycleState::default();
    if let Some(ps) = p.as_pre_score() {
        let cache = Cache::default();
        assert_eq!(ps.pre_score(&mut state, &ctx, NodeList { cache: &cache, ids: &[] }), PreResult::Proceed);
    }
    let sc = p.as_score().expect("plugin scores");
    let mut out: Vec<i64> = nodes.iter().map(|n| sc.score(&state, &ctx, n)).collect();
    // The batched path must agree (checked on a cache holding copies of the nodes).
    let copies: Vec<NodeInfo> = nodes.iter().map(|n| (*n).clone()).collect();
    let cache = cache_of(&copies);
    let ids: Vec<NodeId> = cache.nodes().map(|n| n.id).collect();
    scored(sc, &state, &ctx, &cache, &ids);
    sc.normalize(&state, &ctx, &mut out);
    out
}

/// A plugin that calls itself uniform must give every node the same normalized score.
pub fn check_uniform(sc: &dyn Score, state: &CycleState, ctx: &PodCtx, nodes: NodeList, normalized: &[i64]) {
    if sc.uniform(state, ctx, nodes) {
        assert!(normalized.windows(2).all(|w| w[0] == w[1]), "uniform, yet scores {normalized:?}");
    }
}

/// Raw scores of `ids` per node, asserting that `score_nodes` gives the same.
fn scored(sc: &dyn Score, state: &CycleState, ctx: &PodCtx, cache: &Cache, ids: &[NodeId]) -> Vec<i64> {
    let per_node: Vec<i64> = ids.iter().map(|id| sc.score(state, ctx, cache.node(*id).unwrap())).collect();
    let mut batch = Vec::new();
    sc.score_nodes(state, ctx, NodeList { cache, ids }, &mut batch);
    assert_eq!(per_node, batch, "score_nodes must agree with score");
    per_node
}

/// A cache holding these nodes (ids renumbered by position) with their pods.
pub fn cache_of(nodes: &[NodeInfo]) -> Cache {
    let mut cache = Cache::default();
    for (i, n) in nodes.iter().enumerate() {
        let id = NodeId(i as u32);
        cache.upsert_node(id, n.node.clone());
        for p in &n.pods {
            cache.add_pod(id, p.clone());
        }
    }
    cache
}

/// Runs PreFilter against the whole `cache`, then Filter on its node `node`; the verdict and reasons.
pub fn filter_in<P: Plugin>(p: &P, pod: &PodSpec, cache: &Cache, node: NodeId) -> (Verdict, Vec<String>) {
    let ctx = PodCtx::new(PodId::default(), pod);
    let mut state = CycleState::default();
    if let Some(pf) = p.as_pre_filter() {
        match pf.pre_filter(&mut state, &ctx, cache) {
            PreFilterResult::Skip => return (Verdict::Pass, vec![]),
            PreFilterResult::Reject(code, reason) => return (Verdict::Fail(code), vec![reason.to_string()]),
            PreFilterResult::Nodes(ids) if !ids.contains(&node) => {
                return (Verdict::Fail(Code::UnschedulableAndUnresolvable), vec![]);
            }
            _ => {}
        }
    }
    let info = cache.node(node).expect("node in cache");
    let f: &dyn Filter = p.as_filter().expect("plugin has a filter");
    let fast = f.filter(&state, &ctx, info, None);
    let mut why = Vec::new();
    let slow = f.filter(&state, &ctx, info, Some(&mut why));
    assert_eq!(fast, slow, "filter verdict must not depend on whether reasons are collected");
    (slow, why.iter().map(|r| r.to_string()).collect())
}

/// Runs PreFilter (if any) against `cache`, then PreScore, Score and NormalizeScore over every node of the
/// cache in id order. `None` if PreScore skipped the plugin.
pub fn scores_in<P: Plugin>(p: &P, pod: &PodSpec, cache: &Cache) -> Option<Vec<i64>> {
    let ctx = PodCtx::new(PodId::default(), pod);
    let mut state = CycleState::default();
    if let Some(pf) = p.as_pre_filter() {
        let _ = pf.pre_filter(&mut state, &ctx, cache);
    }
    let ids: Vec<NodeId> = cache.nodes().map(|n| n.id).collect();
    if let Some(ps) = p.as_pre_score()
        && ps.pre_score(&mut state, &ctx, NodeList { cache, ids: &ids }) == PreResult::Skip
    {
        return None;
    }
    let sc = p.as_score().expect("plugin scores");
    let mut out = scored(sc, &state, &ctx, cache, &ids);
    sc.normalize(&state, &ctx, &mut out);
    check_uniform(sc, &state, &ctx, NodeList { cache, ids: &ids }, &out);
    Some(out)
}

/// A node named `name` with these labels (and no others).
pub fn labeled_node(name: &str, pairs: &[(&str, &str)]) -> NodeInfo {
    let mut n = node_info(name, 100_000, 1000 * GI);
    for (k, v) in pairs {
        add_label(&mut n, k, v);
    }
    n
}

/// Labels from pairs.
pub fn labels_of(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().map(|(k, v)| (s(k), s(v))))
}

/// A small pod in namespace `ns` with these labels, edited by `f`; its uid is unique.
pub fn labeled_pod(ns: &str, pairs: &[(&str, &str)], f: impl FnOnce(&mut PodTemplate)) -> PodSpec {
    let mut spec = pod_spec(1, 1, |t| {
        t.labels = labels_of(pairs);
        f(t);
    });
    spec.namespace = s(ns);
    spec.uid = slotmap::Key::data(&fresh_pod_id()).as_ffi();
    spec
}

/// A fresh pod id, distinct from every other this process made.
pub fn fresh_pod_id() -> PodId {
    use slotmap::KeyData;
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    PodId::from(KeyData::from_ffi((1u64 << 32) | n))
}

/// Places a pod on a cache node (through the cache, so its indexes see it); returns its id.
pub fn place_in(cache: &mut Cache, node: NodeId, pod: PodSpec) -> PodId {
    let id = fresh_pod_id();
    assert!(cache.add_pod(node, PodEntry::new(id, Arc::new(pod), SimTime::ZERO)));
    id
}

/// Runs PreFilter against `cache`, then PreScore, Score and NormalizeScore over the nodes `ids` (the feasible
/// ones, in this order). `None` if PreScore skipped the plugin.
pub fn scores_on<P: Plugin>(p: &P, pod: &PodSpec, cache: &Cache, ids: &[NodeId]) -> Option<Vec<i64>> {
    let ctx = PodCtx::new(PodId::default(), pod);
    let mut state = CycleState::default();
    if let Some(pf) = p.as_pre_filter() {
        let _ = pf.pre_filter(&mut state, &ctx, cache);
    }
    if let Some(ps) = p.as_pre_score()
        && ps.pre_score(&mut state, &ctx, NodeList { cache, ids }) == PreResult::Skip
    {
        return None;
    }
    let sc = p.as_score().expect("plugin scores");
    let mut out = scored(sc, &state, &ctx, cache, ids);
    sc.normalize(&state, &ctx, &mut out);
    check_uniform(sc, &state, &ctx, NodeList { cache, ids }, &out);
    Some(out)
}

/// A node with `gpus` GPUs of `model` (and room for CPU and memory).
pub fn gpu_node(name: &str, gpus: i64, model: &str) -> NodeInfo {
    let mut n = node_info(name, 64000, 256 * GI);
    set_scalar(&mut n, crate::model::gpu::GPU_RESOURCE, gpus);
    add_label(&mut n, crate::model::gpu::GPU_MODEL_LABEL, model);
    n
}

/// A pod asking for a `milli` share of one GPU and `cpu_millis` of CPU.
pub fn gpu_share_pod(cpu_millis: i64, milli: i64) -> PodSpec {
    let mut p = pod_spec(cpu_millis, GI, |_| {});
    let mut t = (*p.template).clone();
    t.gpu_milli = milli;
    p.template = Arc::new(t);
    p
}

/// A pod asking for `n` whole GPUs and `cpu_millis` of CPU.
pub fn gpu_whole_pod(cpu_millis: i64, n: i64) -> PodSpec {
    pod_spec(cpu_millis, GI, |t| t.containers[0].requests.set_scalar(s(crate::model::gpu::GPU_RESOURCE), n))
}
