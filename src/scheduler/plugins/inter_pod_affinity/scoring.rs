//! InterPodAffinity's PreScore, Score and NormalizeScore (upstream `scoring.go`).

use crate::scheduler::args::InterPodAffinityArgs;
use crate::scheduler::cache::NodeInfo;
use crate::scheduler::cache::topology_index::{ABSENT, Clause, KeyId, SelectorGroup, TermKind};
use crate::scheduler::framework::{CycleState, MAX_NODE_SCORE, NodeList, PodCtx, PreResult};
use rustc_hash::FxHashMap;
use std::sync::Arc;

/// PreScore state (upstream `preScoreState.topologyScore`): score per topology pair (key, domain).
#[derive(Clone, Default)]
pub(super) struct ScoreState {
    scores: FxHashMap<u64, i64>,
    /// Keys with at least one pair (upstream's outer map), and every key's node → domain table.
    keys: Vec<KeyId>,
    tables: Vec<Arc<Vec<u32>>>,
}

impl ScoreState {
    fn add(&mut self, k: KeyId, d: u32, v: i64) {
        *self.scores.entry((u64::from(k) << 32) | u64::from(d)).or_insert(0) += v;
        if !self.keys.contains(&k) {
            self.keys.push(k);
        }
    }
}

pub(super) fn pre_score(
    args: &InterPodAffinityArgs,
    state: &mut CycleState,
    pod: &PodCtx,
    feasible: NodeList,
) -> PreResult {
    let spec = pod.spec;
    let t = &spec.template;
    let (affinity, anti) = (&t.pod_affinity.preferred, &t.pod_anti_affinity.preferred);
    let has_constraints = !affinity.is_empty() || !anti.is_empty();
    if args.ignore_preferred_terms_of_existing_pods && !has_constraints {
        return PreResult::Skip;
    }
    let cache = feasible.cache;
    let mut idx = cache.topology();
    let s = state.slot::<ScoreState>();
    s.scores.clear();
    s.keys.clear();

    // The pod's preferred terms, for each existing pod matching them.
    let weighted = affinity.iter().map(|w| (1i64, w)).chain(anti.iter().map(|w| (-1i64, w)));
    for (sign, w) in weighted {
        let k = idx.key_id(&w.term.topology_key, cache.nodes());
        let group =
            SelectorGroup { clauses: vec![Clause::of_term(&w.term, &spec.namespace)], include_terminating: true };
        let id = idx.selector_counter(&Arc::new(group), cache.nodes());
        let table = idx.table(k);
        for (&n, &cnt) in &idx.selector(id).per_node {
            let d = table.node_domain.get(n as usize).copied().unwrap_or(ABSENT);
            if d != ABSENT {
                s.add(k, d, sign * i64::from(w.weight) * i64::from(cnt));
            }
        }
    }

    // Existing pods' terms that the pod matches, by their carriers' domains.
    let mut ids = Vec::new();
    idx.carried_candidates(&spec.namespace, &t.labels, &mut ids);
    for id in ids {
        let c = idx.carried(id);
        let weight = match c.kind {
            TermKind::RequiredAffinity if args.hard_pod_affinity_weight > 0 => i64::from(args.hard_pod_affinity_weight),
            TermKind::PreferredAffinity => i64::from(c.weight),
            TermKind::PreferredAntiAffinity => -i64::from(c.weight),
            _ => continue,
        };
        if c.total == 0 || !c.clause.matches(&spec.namespace, &t.labels) {
            continue;
        }
        for (&d, &n) in &c.per_domain {
            if d != ABSENT {
                s.add(c.key, d, weight * n);
            }
        }
    }
    if s.keys.is_empty() {
        return PreResult::Skip;
    }
    s.tables.clear();
    s.tables.extend(idx.tables().iter().map(|t| t.node_domain.clone()));
    PreResult::Proceed
}

pub(super) fn score(state: &CycleState, node: &NodeInfo) -> i64 {
    let Some(s) = state.get::<ScoreState>() else { return 0 };
    let i = node.id.index();
    let mut score = 0;
    for &k in &s.keys {
        let d = s.tables[k as usize].get(i).copied().unwrap_or(ABSENT);
        if d != ABSENT {
            score += s.scores.get(&((u64::from(k) << 32) | u64::from(d))).copied().unwrap_or(0);
        }
    }
    score
}

/// Upstream `NormalizeScore`: `int64(100 × (s − min) / (max − min))` in float64, all 0 when max = min.
pub(super) fn normalize(state: &CycleState, scores: &mut [i64]) {
    let Some(s) = state.get::<ScoreState>() else { return };
    if s.keys.is_empty() {
        return;
    }
    let min = scores.iter().copied().min().unwrap_or(0);
    let max = scores.iter().copied().max().unwrap_or(0);
    let diff = max - min;
    for v in scores.iter_mut() {
        let f = if diff > 0 { MAX_NODE_SCORE as f64 * ((*v - min) as f64 / diff as f64) } else { 0.0 };
        *v = f as i64;
    }
}
