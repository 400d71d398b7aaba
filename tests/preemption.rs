//! DefaultPreemption's choices on tiny fixtures: which victims on a node, which node, PDBs, eligibility and the
//! FailedScheduling message. Each case would pick differently under a plausible wrong rule.

use kubesim::model::workload::PdbStatus;
use kubesim::model::{IntOrPercent, LabelSelector, Labels, NodeId, PodDisruptionBudget, PodId, PreemptionPolicy, s};
use kubesim::scheduler::cycle::{Failure, Outcome};
use kubesim::scheduler::harness::{Harness, node, template};
use kubesim::time::SimTime;
use std::sync::Arc;

const GI: i64 = 1 << 30;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    let mut l = Labels::new();
    for (k, v) in pairs {
        l.insert(s(k), s(v));
    }
    l
}

/// Places a pod of `cpu_millis` with `priority` (and labels) on `node`, started at `since_s`.
fn existing(
    h: &mut Harness,
    name: &str,
    n: NodeId,
    cpu_millis: i64,
    priority: i32,
    since_s: u64,
    l: &[(&str, &str)],
) -> PodId {
    let t = template(cpu_millis, GI, |t| {
        t.priority = priority;
        t.labels = labels(l);
    });
    let spec = h.pod(name, t);
    h.place(spec, n, SimTime::from_secs(since_s))
}

fn preemptor(h: &mut Harness, cpu_millis: i64, priority: i32) -> (PodId, Outcome) {
    let spec = h.pod("preemptor", template(cpu_millis, GI, |t| t.priority = priority));
    h.schedule(spec)
}

fn nomination(out: &Outcome) -> (NodeId, Vec<PodId>) {
    match out {
        Outcome::Failed(Failure { nominate: Some((n, v)), .. }) => (*n, v.clone()),
        other => panic!("expected a preemption, got {other:?}"),
    }
}

#[test]
fn the_most_recently_started_equal_priority_pod_is_the_victim() {
    let mut h = Harness::default_profile(1);
    let n = h.add_node(node("n1", 4000, 16 * GI));
    let _old = existing(&mut h, "old", n, 2000, 0, 10, &[]);
    let young = existing(&mut h, "young", n, 2000, 0, 20, &[]);
    let (_, out) = preemptor(&mut h, 2000, 100);
    assert_eq!(nomination(&out), (n, vec![young]));
}

#[test]
fn only_as_many_victims_as_needed_and_lowest_priority_first() {
    let mut h = Harness::default_profile(1);
    let n = h.add_node(node("n1", 4000, 16 * GI));
    let _a = existing(&mut h, "a", n, 1000, 5, 10, &[]);
    let b = existing(&mut h, "b", n, 1000, 1, 10, &[]);
    let _c = existing(&mut h, "c", n, 1000, 3, 10, &[]);
    let d = existing(&mut h, "d", n, 1000, 2, 10, &[]);
    // Needs 2 CPUs of 4, all used: the two least important (priorities 1 and 2) go, listed most important first.
    let (_, out) = preemptor(&mut h, 2000, 100);
    assert_eq!(nomination(&out), (n, vec![d, b]));
}

#[test]
fn the_node_with_the_lowest_priority_victims_wins() {
    let mut h = Harness::default_profile(1);
    let a = h.add_node(node("a", 2000, 16 * GI));
    let b = h.add_node(node("b", 2000, 16 * GI));
    existing(&mut h, "on-a", a, 2000, 50, 10, &[]);
    let on_b = existing(&mut h, "on-b", b, 2000, 10, 10, &[]);
    let (_, out) = preemptor(&mut h, 1000, 100);
    assert_eq!(nomination(&out), (b, vec![on_b]));
}

#[test]
fn fewer_victims_beat_more_at_equal_priority() {
    let mut h = Harness::default_profile(1);
    let a = h.add_node(node("a", 2000, 16 * GI));
    let b = h.add_node(node("b", 2000, 16 * GI));
    existing(&mut h, "a1", a, 1000, 0, 10, &[]);
    existing(&mut h, "a2", a, 1000, 0, 10, &[]);
    let b1 = existing(&mut h, "b1", b, 2000, 0, 10, &[]);
    let (_, out) = preemptor(&mut h, 2000, 100);
    assert_eq!(nomination(&out), (b, vec![b1]));
}

#[test]
fn pdb_violations_steer_preemption_to_another_node() {
    let mut h = Harness::default_profile(1);
    let a = h.add_node(node("a", 2000, 16 * GI));
    let b = h.add_node(node("b", 2000, 16 * GI));
    // The protected pod on a has the lower priority: without the PDB, a would be chosen.
    existing(&mut h, "protected", a, 2000, 1, 10, &[("app", "db")]);
    let on_b = existing(&mut h, "plain", b, 2000, 5, 10, &[("app", "web")]);
    let pdb = PodDisruptionBudget {
        name: s("db"),
        namespace: s("default"),
        uid: 1,
        selector: LabelSelector::from_labels(labels(&[("app", "db")])),
        min_available: Some(IntOrPercent::Int(1)),
        max_unavailable: None,
        status: PdbStatus { expected_pods: 1, current_healthy: 1, desired_healthy: 1, disruptions_allowed: 0 },
    };
    h.set_pdbs(vec![Arc::new(pdb)]);
    let (_, out) = preemptor(&mut h, 1000, 100);
    assert_eq!(nomination(&out), (b, vec![on_b]));
}

#[test]
fn preemption_policy_never_is_not_eligible() {
    let mut h = Harness::default_profile(1);
    let n = h.add_node(node("n1", 2000, 16 * GI));
    existing(&mut h, "low", n, 2000, 0, 10, &[]);
    let spec =
        h.pod("polite", template(1000, GI, |t| (t.priority, t.preemption_policy) = (100, PreemptionPolicy::Never)));
    let (_, out) = h.schedule(spec);
    let Outcome::Failed(f) = out else { panic!("must not fit") };
    assert_eq!(f.nominate, None);
    assert_eq!(
        f.message,
        "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never."
    );
}

#[test]
fn no_lower_priority_pods_means_no_victims() {
    let mut h = Harness::default_profile(1);
    let a = h.add_node(node("a", 2000, 16 * GI));
    let _b = h.add_node(node("b", 1000, 16 * GI));
    existing(&mut h, "peer", a, 2000, 100, 10, &[]);
    // b is too small even when empty: unresolvable, so preemption does not try it.
    let (_, out) = preemptor(&mut h, 1500, 100);
    let Outcome::Failed(f) = out else { panic!("must not fit") };
    assert_eq!(f.nominate, None);
    assert_eq!(
        f.message,
        "0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: \
         1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling."
    );
}

#[test]
fn a_nominated_pod_lands_on_its_node_once_victims_are_gone_and_holds_it_against_lower_priority() {
    let mut h = Harness::default_profile(1);
    let a = h.add_node(node("a", 2000, 16 * GI));
    let victim = existing(&mut h, "victim", a, 2000, 0, 10, &[]);
    let (p, out) = preemptor(&mut h, 2000, 100);
    let (n, victims) = nomination(&out);
    assert_eq!((n, victims), (a, vec![victim]));
    h.remove(victim);
    // A lower-priority pod arriving now must not take the room reserved by the nomination.
    let spec = h.pod("sneaky", template(1000, GI, |t| t.priority = 50));
    let (_, sneaky) = h.schedule(spec);
    assert!(matches!(sneaky, Outcome::Failed(Failure { nominate: None, .. })), "{sneaky:?}");
    // The preemptor, retried with its nomination, fits on its node.
    let spec = h.pod("preemptor", template(2000, GI, |t| t.priority = 100));
    assert_eq!(h.attempt(p, spec, Some(a), None), Outcome::Feasible(a));
}

/// A Reserve plugin of the test's own (not in the registry) that refuses every node.
struct RefuseNode;

impl kubesim::scheduler::framework::Plugin for RefuseNode {
    fn name(&self) -> &'static str {
        "RefuseNode"
    }
    fn as_reserve(&self) -> Option<&dyn kubesim::scheduler::framework::Reserve> {
        Some(self)
    }
}

impl kubesim::scheduler::framework::Reserve for RefuseNode {
    fn reserve(
        &self,
        _: &mut kubesim::scheduler::framework::CycleState,
        _: &kubesim::scheduler::framework::PodCtx,
        _: NodeId,
        _: &kubesim::scheduler::cache::Cache,
    ) -> Result<(), kubesim::scheduler::framework::Reason> {
        Err(kubesim::scheduler::framework::Reason::Text("node(s) refused by RefuseNode"))
    }
}

#[test]
fn a_reserve_plugin_that_refuses_fails_the_attempt_on_that_node() {
    use kubesim::scheduler::profile::{Profile, ProfileConfig};
    let mut profile = Profile::build(&ProfileConfig::default()).expect("default profile");
    profile.add(Box::new(RefuseNode), 0).expect("added");
    let mut h = Harness::with_profiles(vec![profile], 1);
    h.add_node(node("n1", 4000, 16 * GI));
    let spec = h.pod("p", template(1000, GI, |_| {}));
    let (_, out) = h.schedule(spec);
    let Outcome::Failed(f) = out else { panic!("reserve must fail the attempt: {out:?}") };
    assert_eq!(f.message, "0/1 nodes are available: 1 node(s) refused by RefuseNode.");
    assert_ne!(f.rejectors, 0, "the refusing plugin is the rejector, so its events may requeue the pod");
    assert!(h.cache().nodes().all(|n| n.pods.is_empty()), "nothing was assumed");
}

#[test]
fn victims_are_found_while_a_lower_priority_pod_exists_and_not_after_it_goes() {
    // Preemption skips its per-node scan when no pod in the cache has a lower priority than the preemptor;
    // the cache's priority counts must follow pods in and out.
    let mut h = Harness::default_profile(1);
    let a = h.add_node(node("a", 2000, 16 * GI));
    let b = h.add_node(node("b", 2000, 16 * GI));
    existing(&mut h, "peer", a, 2000, 100, 10, &[]);
    let low = existing(&mut h, "low", b, 2000, 0, 10, &[]);
    let (first, out) = preemptor(&mut h, 1500, 100);
    assert_eq!(nomination(&out), (b, vec![low]));

    // (The nominated preemptors are removed too: a nomination holds room on its node.)
    h.remove(first);
    h.remove(low);
    let high = existing(&mut h, "high", b, 2000, 200, 10, &[]);
    let (second, out) = preemptor(&mut h, 1500, 100);
    let Outcome::Failed(f) = out else { panic!("must not fit") };
    assert_eq!(f.nominate, None);
    assert_eq!(
        f.message,
        "0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: \
         2 No preemption victims found for incoming pod."
    );
    // A lower-priority pod again: the scan runs and finds it.
    h.remove(second);
    h.remove(high);
    let low2 = existing(&mut h, "low2", b, 2000, 50, 20, &[]);
    let (_, out) = preemptor(&mut h, 1500, 100);
    assert_eq!(nomination(&out), (b, vec![low2]));
}
