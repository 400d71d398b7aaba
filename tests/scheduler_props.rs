//! Property tests of the scheduling algorithm under every preset, against an independent oracle.
//!
//! Random clusters (capacities, labels, taints, cordons, pod limits) receive random streams of pods (requests
//! including none at all, nodeSelectors, tolerations, priorities) and removals. After every step:
//! - soundness: a pod is only ever placed on a node where the oracle says it can run;
//! - completeness: a pod is reported unschedulable only when the oracle finds no node for it (the generated
//!   pods have no inter-pod constraints and no host ports, so the oracle's rules are all there is);
//! - capacity: no node's requests exceed its allocatable, nor its pods its pod limit, and the scheduler's cache
//!   agrees with the oracle's own record of where pods are.
//!
//! When a pod preempts, its victims (which must be of lower priority and on the nominated node) are deleted at
//! once and the pod is retried with its nomination, as the scheduler would after they terminate: it must then
//! land on the nominated node.
//!
//! The oracle is written here from the Kubernetes rules (`fitsRequest`, `ToleratesTaint`, the unschedulable
//! taint, nodeSelector subset) without calling kubesim's own matching helpers.

use kubesim::model::{Labels, Node, NodeId, PodId, PodTemplate, Taint, TaintEffect, Toleration, TolerationOp, s};
use kubesim::scheduler::cycle::{Failure, Outcome};
use kubesim::scheduler::harness::{Harness, node, template};
use kubesim::scheduler::profile::{PRESETS, ProfileConfig};
use proptest::prelude::*;
use std::sync::Arc;

const MI: i64 = 1 << 20;
const UNSCHEDULABLE_KEY: &str = "node.kubernetes.io/unschedulable";

#[derive(Clone, Debug)]
struct NodeGen {
    cpu_millis: i64,
    memory_bytes: i64,
    max_pods: i64,
    labels: Vec<(&'static str, &'static str)>,
    taints: Vec<(&'static str, &'static str, TaintEffect)>,
    unschedulable: bool,
}

#[derive(Clone, Debug)]
struct TolGen {
    key: &'static str,
    exists: bool,
    value: &'static str,
    effect: Option<TaintEffect>,
}

#[derive(Clone, Debug)]
struct PodGen {
    /// `None`: the container omits the request.
    cpu_millis: Option<i64>,
    memory_bytes: Option<i64>,
    selector: Vec<(&'static str, &'static str)>,
    tolerations: Vec<TolGen>,
    priority: i32,
}

#[derive(Clone, Debug)]
enum Op {
    Schedule(PodGen),
    /// Removes the placed pod at this index (modulo their number).
    Remove(usize),
}

fn effect() -> impl Strategy<Value = TaintEffect> {
    prop_oneof![Just(TaintEffect::NoSchedule), Just(TaintEffect::PreferNoSchedule), Just(TaintEffect::NoExecute)]
}

fn label() -> impl Strategy<Value = (&'static str, &'static str)> {
    prop_oneof![Just(("disk", "ssd")), Just(("disk", "hdd")), Just(("zone", "a")), Just(("zone", "b"))]
}

fn node_gen() -> impl Strategy<Value = NodeGen> {
    (
        prop_oneof![Just(500i64), Just(1000), Just(2000), Just(4000)],
        prop_oneof![Just(512 * MI), Just(1024 * MI), Just(4096 * MI)],
        prop_oneof![3 => Just(110i64), 2 => 1i64..=4],
        prop::collection::vec(label(), 0..=2),
        prop::collection::vec(
            (prop_oneof![Just("k1"), Just("k2")], prop_oneof![Just("v1"), Just("v2")], effect()),
            0..=2,
        ),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(cpu_millis, memory_bytes, max_pods, labels, taints, unschedulable)| NodeGen {
            cpu_millis,
            memory_bytes,
            max_pods,
            labels,
            taints,
            unschedulable,
        })
}

fn tol_gen() -> impl Strategy<Value = TolGen> {
    (
        prop_oneof![Just(""), Just("k1"), Just("k2"), Just(UNSCHEDULABLE_KEY)],
        any::<bool>(),
        prop_oneof![Just("v1"), Just("v2"), Just("")],
        prop::option::weighted(0.6, effect()),
    )
        // An empty key is only valid with Exists (API validation).
        .prop_map(|(key, exists, value, effect)| TolGen { key, exists: exists || key.is_empty(), value, effect })
}

fn pod_gen() -> impl Strategy<Value = PodGen> {
    (
        prop::option::weighted(0.8, prop_oneof![Just(0i64), Just(100), Just(250), Just(500), Just(1500)]),
        prop::option::weighted(0.8, prop_oneof![Just(0i64), Just(128 * MI), Just(512 * MI), Just(2048 * MI)]),
        prop::collection::vec(label(), 0..=1),
        prop::collection::vec(tol_gen(), 0..=2),
        prop_oneof![Just(0i32), Just(10), Just(100)],
    )
        .prop_map(|(cpu_millis, memory_bytes, selector, tolerations, priority)| PodGen {
            cpu_millis,
            memory_bytes,
            selector,
            tolerations,
            priority,
        })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![4 => pod_gen().prop_map(Op::Schedule), 1 => any::<usize>().prop_map(Op::Remove)]
}

// ----- The oracle -----

/// `ToleratesTaint`: the effect (if set) and key (if set) must match; `Exists` matches any value, `Equal` the
/// taint's value.
fn oracle_tolerates(t: &TolGen, key: &str, value: &str, effect: TaintEffect) -> bool {
    t.effect.is_none_or(|e| e == effect) && (t.key.is_empty() || t.key == key) && (t.exists || t.value == value)
}

/// What the oracle knows about a pod: its actual requests and what placement depends on.
#[derive(Clone, Debug)]
struct OraclePod {
    cpu_millis: i64,
    memory_bytes: i64,
    priority: i32,
}

fn oracle_pod(p: &PodGen) -> OraclePod {
    OraclePod { cpu_millis: p.cpu_millis.unwrap_or(0), memory_bytes: p.memory_bytes.unwrap_or(0), priority: p.priority }
}

/// Can `pod` run on node `n` with the pods `on_node` already there?
fn oracle_fits(p: &PodGen, n: &NodeGen, on_node: &[&OraclePod]) -> bool {
    if n.unschedulable
        && !p.tolerations.iter().any(|t| oracle_tolerates(t, UNSCHEDULABLE_KEY, "", TaintEffect::NoSchedule))
    {
        return false;
    }
    for &(key, value, effect) in &n.taints {
        if effect != TaintEffect::PreferNoSchedule
            && !p.tolerations.iter().any(|t| oracle_tolerates(t, key, value, effect))
        {
            return false;
        }
    }
    // nodeSelector: every pair must be a node label. (Generated nodes may repeat a key: the last value wins,
    // as in a map.)
    for &(k, v) in &p.selector {
        if n.labels.iter().rev().find(|(lk, _)| *lk == k).map(|(_, lv)| *lv) != Some(v) {
            return false;
        }
    }
    if on_node.len() as i64 + 1 > n.max_pods {
        return false;
    }
    let req = oracle_pod(p);
    let used_cpu: i64 = on_node.iter().map(|q| q.cpu_millis).sum();
    let used_mem: i64 = on_node.iter().map(|q| q.memory_bytes).sum();
    (req.cpu_millis == 0 || used_cpu + req.cpu_millis <= n.cpu_millis)
        && (req.memory_bytes == 0 || used_mem + req.memory_bytes <= n.memory_bytes)
}

// ----- Building kubesim objects -----

fn build_node(i: usize, g: &NodeGen) -> Node {
    let mut n = node(&format!("n{i}"), g.cpu_millis, g.memory_bytes);
    n.allocatable_pods = g.max_pods;
    for &(k, v) in &g.labels {
        n.labels.insert(s(k), s(v));
    }
    n.taints = g.taints.iter().map(|&(k, v, effect)| Taint { key: s(k), value: s(v), effect }).collect();
    n.unschedulable = g.unschedulable;
    n
}

fn build_template(p: &PodGen) -> Arc<PodTemplate> {
    template(p.cpu_millis.unwrap_or(0), p.memory_bytes.unwrap_or(0), |t| {
        t.containers[0].has_cpu_request = p.cpu_millis.is_some();
        t.containers[0].has_memory_request = p.memory_bytes.is_some();
        t.priority = p.priority;
        t.node_selector = Labels::new();
        for &(k, v) in &p.selector {
            t.node_selector.insert(s(k), s(v));
        }
        t.tolerations = p
            .tolerations
            .iter()
            .map(|g| Toleration {
                key: s(g.key),
                op: if g.exists { TolerationOp::Exists } else { TolerationOp::Equal },
                value: s(g.value),
                effect: g.effect,
                toleration_seconds: None,
            })
            .collect();
    })
}

/// A pod the run placed: its id, node, and what the oracle knows of it.
struct Placed {
    id: PodId,
    node: usize,
    pod: OraclePod,
}

/// Runs `ops` on `nodes` under `preset`, checking the properties after every step. Returns the outcome of
/// every attempt (for the determinism check).
fn run(preset: &str, seed: u64, nodes: &[NodeGen], ops: &[Op]) -> Result<Vec<Outcome>, TestCaseError> {
    let cfg = ProfileConfig::preset(preset).expect("preset");
    let mut h = Harness::new(&[cfg], seed).map_err(TestCaseError::fail)?;
    for (i, g) in nodes.iter().enumerate() {
        let id = h.add_node(build_node(i, g));
        prop_assert_eq!(id, NodeId(i as u32));
    }
    let mut placed: Vec<Placed> = Vec::new();
    let mut outcomes = Vec::new();
    for (step, op) in ops.iter().enumerate() {
        match op {
            Op::Remove(k) => {
                if !placed.is_empty() {
                    let p = placed.remove(k % placed.len());
                    h.remove(p.id);
                }
            }
            Op::Schedule(g) => {
                let spec = h.pod(&format!("p{step}"), build_template(g));
                let (id, out) = h.schedule(spec.clone());
                outcomes.push(out.clone());
                let out = check_attempt(preset, step, g, nodes, &placed, &out)?;
                match out {
                    Attempt::Placed(n) => placed.push(Placed { id, node: n, pod: oracle_pod(g) }),
                    Attempt::Unschedulable => {}
                    Attempt::Preempts(n, victims) => {
                        // The victims terminate; the pod is retried with its nomination.
                        for v in &victims {
                            let k = placed.iter().position(|p| p.id == *v).expect("victim checked above");
                            placed.remove(k);
                            h.remove(*v);
                        }
                        let retry = h.attempt(id, spec, Some(NodeId(n as u32)), None);
                        outcomes.push(retry.clone());
                        // Once the victims are gone the pod fits its nominated node, which is tried first.
                        match check_attempt(preset, step, g, nodes, &placed, &retry)? {
                            Attempt::Placed(m) if m == n => placed.push(Placed { id, node: m, pod: oracle_pod(g) }),
                            _ => prop_assert!(
                                false,
                                "{preset}, step {step}: after preemption, {retry:?} instead of n{n}"
                            ),
                        }
                    }
                }
            }
        }
        check_capacity(preset, step, &h, nodes, &placed)?;
    }
    Ok(outcomes)
}

enum Attempt {
    Placed(usize),
    Unschedulable,
    /// Nominated to this node after deleting these victims.
    Preempts(usize, Vec<PodId>),
}

fn check_attempt(
    preset: &str,
    step: usize,
    g: &PodGen,
    nodes: &[NodeGen],
    placed: &[Placed],
    out: &Outcome,
) -> Result<Attempt, TestCaseError> {
    let on = |n: usize| placed.iter().filter(|p| p.node == n).map(|p| &p.pod).collect::<Vec<_>>();
    let feasible: Vec<usize> = (0..nodes.len()).filter(|&n| oracle_fits(g, &nodes[n], &on(n))).collect();
    match out {
        Outcome::Feasible(n) => {
            let n = n.index();
            prop_assert!(
                feasible.contains(&n),
                "{preset}, step {step}: placed {g:?} on n{n}, where the oracle says it cannot run (fits: {feasible:?})"
            );
            Ok(Attempt::Placed(n))
        }
        Outcome::Failed(Failure { message, nominate, .. }) => {
            prop_assert!(
                feasible.is_empty(),
                "{preset}, step {step}: {g:?} unschedulable ({message}) but the oracle finds {feasible:?}"
            );
            match nominate {
                None => Ok(Attempt::Unschedulable),
                Some((n, victims)) => {
                    let n = n.index();
                    prop_assert!(!victims.is_empty(), "{preset}, step {step}: preemption without victims");
                    for v in victims {
                        let p = placed.iter().find(|p| p.id == *v);
                        prop_assert!(p.is_some_and(|p| p.node == n), "{preset}, step {step}: victim not on n{n}");
                        let p = p.unwrap();
                        prop_assert!(
                            p.pod.priority < g.priority,
                            "{preset}, step {step}: victim of equal/higher priority"
                        );
                    }
                    Ok(Attempt::Preempts(n, victims.clone()))
                }
            }
        }
    }
}

fn check_capacity(
    preset: &str,
    step: usize,
    h: &Harness,
    nodes: &[NodeGen],
    placed: &[Placed],
) -> Result<(), TestCaseError> {
    for (i, g) in nodes.iter().enumerate() {
        let on: Vec<&OraclePod> = placed.iter().filter(|p| p.node == i).map(|p| &p.pod).collect();
        let cpu: i64 = on.iter().map(|p| p.cpu_millis).sum();
        let mem: i64 = on.iter().map(|p| p.memory_bytes).sum();
        prop_assert!(cpu <= g.cpu_millis && mem <= g.memory_bytes, "{preset}, step {step}: n{i} over capacity");
        prop_assert!(on.len() as i64 <= g.max_pods, "{preset}, step {step}: n{i} over its pod limit");
        let info = h.cache().node(NodeId(i as u32)).expect("node in cache");
        prop_assert_eq!(info.pods.len(), on.len(), "{}, step {}: n{} pod count", preset, step, i);
        prop_assert_eq!(info.requested.cpu_millis, cpu, "{}, step {}: n{} cpu", preset, step, i);
        prop_assert_eq!(info.requested.memory_bytes, mem, "{}, step {}: n{} memory", preset, step, i);
    }
    Ok(())
}

fn case() -> impl Strategy<Value = (u64, Vec<NodeGen>, Vec<Op>)> {
    (any::<u64>(), prop::collection::vec(node_gen(), 1..=6), prop::collection::vec(op(), 1..=40))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, max_shrink_iters: 500, ..ProptestConfig::default() })]

    #[test]
    fn placements_agree_with_the_oracle_under_every_preset((seed, nodes, ops) in case()) {
        for &preset in PRESETS {
            let first = run(preset, seed, &nodes, &ops)?;
            // Deterministic: the same seed gives the same decisions.
            let again = run(preset, seed, &nodes, &ops)?;
            prop_assert_eq!(first, again, "{} is not deterministic", preset);
        }
    }
}

/// The oracle's own rules on hand-picked cases, so that a wrong oracle cannot make the property vacuous.
#[test]
fn oracle_sanity() {
    let n = NodeGen {
        cpu_millis: 1000,
        memory_bytes: 1024 * MI,
        max_pods: 2,
        labels: vec![("disk", "ssd")],
        taints: vec![("k1", "v1", TaintEffect::NoSchedule), ("k2", "v2", TaintEffect::PreferNoSchedule)],
        unschedulable: false,
    };
    let pod = |cpu: Option<i64>, tols: Vec<TolGen>, sel: Vec<(&'static str, &'static str)>| PodGen {
        cpu_millis: cpu,
        memory_bytes: None,
        selector: sel,
        tolerations: tols,
        priority: 0,
    };
    let tol = |key, exists, value, effect| TolGen { key, exists, value, effect };
    let k1 = tol("k1", false, "v1", Some(TaintEffect::NoSchedule));
    assert!(!oracle_fits(&pod(Some(100), vec![], vec![]), &n, &[]), "untolerated NoSchedule");
    assert!(oracle_fits(&pod(Some(100), vec![k1.clone()], vec![]), &n, &[]));
    assert!(!oracle_fits(&pod(Some(100), vec![tol("k1", false, "v2", None)], vec![]), &n, &[]), "wrong value");
    assert!(oracle_fits(&pod(Some(100), vec![tol("", true, "", None)], vec![]), &n, &[]), "tolerate everything");
    assert!(!oracle_fits(&pod(Some(100), vec![k1.clone()], vec![("disk", "hdd")]), &n, &[]), "selector");
    assert!(!oracle_fits(&pod(Some(1001), vec![k1.clone()], vec![]), &n, &[]), "cpu");
    let small = OraclePod { cpu_millis: 600, memory_bytes: 0, priority: 0 };
    assert!(!oracle_fits(&pod(Some(500), vec![k1.clone()], vec![]), &n, &[&small]), "cpu with a pod there");
    assert!(oracle_fits(&pod(Some(0), vec![k1.clone()], vec![]), &n, &[&small]), "zero requests need a slot only");
    assert!(!oracle_fits(&pod(None, vec![k1.clone()], vec![]), &n, &[&small, &small]), "pod limit");
    let cordoned = NodeGen { unschedulable: true, taints: vec![], ..n.clone() };
    assert!(!oracle_fits(&pod(None, vec![], vec![]), &cordoned, &[]), "cordoned");
    let cordon_tol = tol(UNSCHEDULABLE_KEY, true, "", Some(TaintEffect::NoSchedule));
    assert!(oracle_fits(&pod(None, vec![cordon_tol], vec![]), &cordoned, &[]));
    assert!(!oracle_fits(
        &pod(None, vec![tol(UNSCHEDULABLE_KEY, true, "", Some(TaintEffect::NoExecute))], vec![]),
        &cordoned,
        &[]
    ));
}

/// The templates built here have the requests the oracle assumes.
#[test]
fn built_templates_match_the_oracle_view() {
    let g = PodGen {
        cpu_millis: None,
        memory_bytes: Some(512 * MI),
        selector: vec![("zone", "a")],
        tolerations: vec![],
        priority: 10,
    };
    let t = build_template(&g);
    assert_eq!((t.requests.cpu_millis, t.requests.memory_bytes), (0, 512 * MI));
    // The scheduler's scoring default applies to the omitted cpu request only.
    assert_eq!(t.nonzero_cpu_millis, 100);
    assert_eq!(t.nonzero_memory_bytes, 512 * MI);
}
