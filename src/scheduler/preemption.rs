//! Preemption (upstream `framework/preemption` with DefaultPreemption's choices): when no node fits a pod,
//! find nodes where deleting lower-priority pods would make it fit, choose the fewest and least important
//! victims per node, pick one node, and report it with its victims.
//!
//! - **Eligible**: not with `preemptionPolicy: Never`; not while a lower-priority pod on its nominated node is
//!   still terminating because of an earlier preemption (unless that node is now unresolvable).
//! - **Candidates**: nodes whose filter status is plain Unschedulable (UnschedulableAndUnresolvable ones
//!   cannot be helped), dry-run from a random offset until at least `max(10% of them, 100)` candidates are
//!   found and one of them violates no PodDisruptionBudget.
//! - **Victims on a node**: remove every lower-priority pod; if the pod still does not fit, the node is out.
//!   Otherwise re-add them one by one, most important first (priority, then earliest start), PDB-violating
//!   ones before the others, keeping each that still lets the pod fit; the rest are the victims.
//! - **The node**: fewest PDB violations, then lowest highest-victim priority, smallest sum of priorities,
//!   fewest victims, latest start among the highest-priority victims; upstream takes the first remaining in
//!   Go map order (random), kubesim draws uniformly among them with the seeded tie-break stream.
//!
//! Deviation: `status.disruptedPods` of a PDB is not modelled, so a pod already being evicted counts against
//! its budget; pod start time is when the scheduler saw the pod on its node.

use super::args::DefaultPreemptionArgs;
use super::cache::{NodeInfo, PodEntry};
use super::framework::{
    Code, FilterRunner, NodeStatus, PodCtx, PostFilterEnv, PostFilterResult, Verdict, fit_error_message,
};
use crate::model::{NodeId, PodDisruptionBudget, PreemptionPolicy};
use crate::time::SimTime;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;

const NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";
const NO_VICTIMS: &str = "No preemption victims found for incoming pod";

/// A node where preemption would make room, with its victims (most important first).
#[derive(Clone, Debug)]
pub struct Candidate {
    pub node: NodeId,
    pub victims: Vec<PodEntry>,
    pub pdb_violations: usize,
}

/// Upstream `MoreImportantPod`: higher priority, then earlier start.
fn more_important(a: &PodEntry, b: &PodEntry) -> Ordering {
    b.spec.template.priority.cmp(&a.spec.template.priority).then(a.since.cmp(&b.since))
}

/// PostFilter when no pod anywhere has a lower priority than the preemptor: every potential node (one the
/// filters found `Unschedulable`, not `UnschedulableAndUnresolvable`) would fail with [`NO_VICTIMS`] before its
/// filters run, and the nominated-node check cannot apply. Only the number of potential nodes matters, so this
/// counts them in `statuses` (which name each node of the cache order at most once) instead of listing every
/// pod of every node (quadratic over a run) or building per-node tables (linear per failed attempt).
fn no_victims_anywhere(
    n_all: usize,
    env: &mut PostFilterEnv,
    statuses: &[NodeStatus],
    unschedulable: impl Fn(String) -> PostFilterResult,
) -> PostFilterResult {
    // Every potential node is in the cache (the cache order lists every live node), so each one fails.
    let failed =
        statuses.iter().filter(|st| st.code == Code::Unschedulable && env.cache.node(st.node).is_some()).count();
    if failed > 0 {
        // The candidates' random offset, drawn as in the full path so that the tie-break stream stays the same.
        env.rng.below(failed as u64);
    }
    let mut histogram: BTreeMap<String, usize> = BTreeMap::new();
    if failed > 0 {
        histogram.insert(NO_VICTIMS.to_string(), failed);
    }
    let absent = n_all.saturating_sub(failed);
    if absent > 0 {
        histogram.insert(NOT_HELPFUL.to_string(), absent);
    }
    unschedulable(fit_error_message(n_all, histogram))
}

/// Upstream `GetOffsetAndNumCandidates` count: `max(n * pct / 100, abs)`, at most n.
pub fn num_candidates(args: &DefaultPreemptionArgs, num_nodes: usize) -> usize {
    let n = num_nodes as i64 * i64::from(args.min_candidate_nodes_percentage) / 100;
    (n.max(i64::from(args.min_candidate_nodes_absolute)) as usize).min(num_nodes)
}

/// The whole of DefaultPreemption's PostFilter.
pub fn preempt(
    args: &DefaultPreemptionArgs,
    env: &mut PostFilterEnv,
    pod: &PodCtx,
    statuses: &[NodeStatus],
) -> PostFilterResult {
    let unschedulable = |message: String| PostFilterResult::Unschedulable {
        code: Code::Unschedulable,
        message: format!("preemption: {message}"),
    };
    let n_all = env.cache.len();
    let priority = pod.spec.template.priority;
    if pod.spec.template.preemption_policy == PreemptionPolicy::Never {
        return unschedulable("not eligible due to preemptionPolicy=Never.".into());
    }
    if env.cache.min_pod_priority().is_none_or(|p| p >= priority) {
        return no_victims_anywhere(n_all, env, statuses, unschedulable);
    }
    let mut code_of: Vec<Option<Code>> = Vec::new();
    for st in statuses {
        let i = st.node.index();
        if code_of.len() <= i {
            code_of.resize(i + 1, None);
        }
        code_of[i] = Some(st.code);
    }
    // Nodes without a status were never feasible candidates (outside a PreFilter narrowing): unresolvable.
    let code =
        |node: NodeId| code_of.get(node.index()).copied().flatten().unwrap_or(Code::UnschedulableAndUnresolvable);

    // 1. Eligibility (preemptionPolicy above).
    if let Some(nn) = pod.nominated
        && code(nn) != Code::UnschedulableAndUnresolvable
        && let Some(info) = env.cache.node(nn)
        && info.pods.iter().any(|p| p.spec.template.priority < priority && p.terminating && p.preempted)
    {
        return unschedulable("not eligible due to a terminating pod on the nominated node.".into());
    }

    // 2. Candidates.
    let potential: Vec<NodeId> =
        env.cache.order().iter().copied().filter(|n| code(*n) == Code::Unschedulable).collect();
    let mut histogram: BTreeMap<String, usize> = BTreeMap::new();
    let mut failed = 0usize;
    let mut non_violating: Vec<Candidate> = Vec::new();
    let mut violating: Vec<Candidate> = Vec::new();
    if !potential.is_empty() {
        let n = potential.len();
        let offset = env.rng.below(n as u64) as usize;
        let wanted = num_candidates(args, n);
        for i in 0..n {
            let node = potential[(offset + i) % n];
            let Some(info) = env.cache.node(node) else { continue };
            match select_victims_on_node(env.filters, env.state, pod, info, env.pdbs) {
                Ok(c) => {
                    if c.pdb_violations == 0 {
                        non_violating.push(c);
                    } else {
                        violating.push(c);
                    }
                    if !non_violating.is_empty() && non_violating.len() + violating.len() >= wanted {
                        break;
                    }
                }
                Err(reasons) => {
                    failed += 1;
                    for r in reasons {
                        *histogram.entry(r).or_insert(0) += 1;
                    }
                }
            }
        }
    }
    if non_violating.is_empty() && violating.is_empty() {
        let absent = n_all.saturating_sub(failed);
        if absent > 0 {
            *histogram.entry(NOT_HELPFUL.to_string()).or_insert(0) += absent;
        }
        return unschedulable(fit_error_message(n_all, histogram));
    }
    non_violating.extend(violating);
    let chosen = pick_one_node(&non_violating, env.rng);
    let c = &non_violating[chosen];
    PostFilterResult::Nominate { node: c.node, victims: c.victims.iter().map(|v| v.id).collect() }
}

/// Upstream `SelectVictimsOnNode`. `Err` carries the node's failure reasons.
pub fn select_victims_on_node(
    filters: &dyn FilterRunner,
    state: &super::framework::CycleState,
    pod: &PodCtx,
    info: &NodeInfo,
    pdbs: &[Arc<PodDisruptionBudget>],
) -> Result<Candidate, Vec<String>> {
    let priority = pod.spec.template.priority;
    let mut potential: Vec<PodEntry> =
        info.pods.iter().filter(|p| p.spec.template.priority < priority).cloned().collect();
    if potential.is_empty() {
        return Err(vec![NO_VICTIMS.to_string()]);
    }
    let mut node = info.clone();
    let mut state = state.clone();
    for v in &potential {
        node.remove_pod(v.id);
        filters.remove_pod(&mut state, pod, v, &node);
    }
    let mut why = Vec::new();
    if filters.run(&state, pod, &node, Some(&mut why)) != Verdict::Pass {
        return Err(why.iter().map(|r| r.to_string()).collect());
    }
    potential.sort_by(more_important);
    let (violating_pods, non_violating_pods) = split_by_pdb_violation(potential, pdbs);
    let mut victims: Vec<PodEntry> = Vec::new();
    let mut violations = 0usize;
    let mut reprieve = |p: PodEntry, victims: &mut Vec<PodEntry>| -> bool {
        node.add_pod(p.clone());
        filters.add_pod(&mut state, pod, &p, &node);
        if filters.run(&state, pod, &node, None) == Verdict::Pass {
            return true;
        }
        node.remove_pod(p.id);
        filters.remove_pod(&mut state, pod, &p, &node);
        victims.push(p);
        false
    };
    let mixed = !violating_pods.is_empty() && !non_violating_pods.is_empty();
    for p in violating_pods {
        if !reprieve(p, &mut victims) {
            violations += 1;
        }
    }
    for p in non_violating_pods {
        reprieve(p, &mut victims);
    }
    if mixed {
        victims.sort_by(more_important);
    }
    if victims.is_empty() {
        return Err(vec![format!("expected at least one victim pod on node {:?}", &*info.node.name)]);
    }
    Ok(Candidate { node: info.id, victims, pdb_violations: violations })
}

/// Upstream `filterPodsWithPDBViolation`: walking pods in order, each matching PDB's allowed disruptions is
/// decremented; a pod that takes any budget below zero violates it. Unlabelled pods match nothing.
pub fn split_by_pdb_violation(
    pods: Vec<PodEntry>,
    pdbs: &[Arc<PodDisruptionBudget>],
) -> (Vec<PodEntry>, Vec<PodEntry>) {
    let mut allowed: Vec<i32> = pdbs.iter().map(|p| p.status.disruptions_allowed).collect();
    let (mut violating, mut ok) = (Vec::new(), Vec::new());
    for p in pods {
        let labels = &p.spec.template.labels;
        let mut violated = false;
        if !labels.is_empty() {
            for (i, pdb) in pdbs.iter().enumerate() {
                if pdb.namespace != p.spec.namespace || pdb.selector.is_empty() || !pdb.selector.matches(labels) {
                    continue;
                }
                allowed[i] -= 1;
                if allowed[i] < 0 {
                    violated = true;
                }
            }
        }
        if violated { violating.push(p) } else { ok.push(p) }
    }
    (violating, ok)
}

/// Upstream `GetEarliestPodStartTime`: the earliest start among the highest-priority victims.
fn earliest_start_of_top_priority(victims: &[PodEntry]) -> SimTime {
    let mut max_priority = victims[0].spec.template.priority;
    let mut earliest = victims[0].since;
    for v in victims {
        let p = v.spec.template.priority;
        if p == max_priority {
            earliest = earliest.min(v.since);
        } else if p > max_priority {
            max_priority = p;
            earliest = v.since;
        }
    }
    earliest
}

/// Upstream `pickOneNodeForPreemption`; returns an index into `candidates`.
pub fn pick_one_node(candidates: &[Candidate], rng: &mut crate::rng::SimRng) -> usize {
    let score_fns: [&dyn Fn(&Candidate) -> i64; 5] = [
        &|c| -(c.pdb_violations as i64),
        &|c| -i64::from(c.victims[0].spec.template.priority),
        &|c| -c.victims.iter().map(|v| i64::from(v.spec.template.priority) + i64::from(i32::MAX) + 1).sum::<i64>(),
        &|c| -(c.victims.len() as i64),
        &|c| earliest_start_of_top_priority(&c.victims).micros() as i64,
    ];
    let mut remaining: Vec<usize> = (0..candidates.len()).collect();
    for f in score_fns {
        let best = remaining.iter().map(|&i| f(&candidates[i])).max().expect("candidates");
        remaining.retain(|&i| f(&candidates[i]) == best);
        if remaining.len() == 1 {
            return remaining[0];
        }
    }
    remaining[rng.below(remaining.len() as u64) as usize]
}
