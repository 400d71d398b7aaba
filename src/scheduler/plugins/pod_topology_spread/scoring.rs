//! PodTopologySpread's PreScore, Score and NormalizeScore (upstream `scoring.go`).

use super::{PodTopologySpread, masks, unrestricted};
use crate::model::WhenUnsatisfiable;
use crate::model::node::HOSTNAME_LABEL;
use crate::scheduler::cache::NodeInfo;
use crate::scheduler::cache::topology_index::{ABSENT, KeyId, has_node_affinity};
use crate::scheduler::framework::{CycleState, MAX_NODE_SCORE, NodeList, PodCtx, PreResult};
use std::sync::Arc;

/// PreScore state (upstream `preScoreState`).
#[derive(Clone, Default)]
pub(super) struct ScoreState {
    /// Nodes lacking a key are ignored (scored 0) unless system defaults apply.
    require_all: bool,
    cons: Vec<ScoreConstraint>,
    /// By position in the feasible list: the node lacks a key (upstream `IgnoredNodes`); empty when keys
    /// are not required.
    ignored: Vec<bool>,
    any_ignored: bool,
    /// Scratch: domains seen among the feasible nodes.
    seen: Vec<bool>,
}

impl ScoreState {
    /// Upstream `Score` for node index `i`.
    fn compute(&self, i: usize) -> i64 {
        if self.require_all && self.cons.iter().any(|c| c.domain(i) == ABSENT) {
            return 0;
        }
        let mut score = 0.0f64;
        for c in &self.cons {
            let d = c.domain(i);
            if d == ABSENT {
                continue;
            }
            score += if c.hostname {
                score_for_count(i64::from(c.host.get(i).copied().unwrap_or(0)), c.weight, c.skew)
            } else {
                c.contrib.get(d as usize).copied().unwrap_or(c.skew)
            };
        }
        round(score)
    }
}

#[derive(Clone, Default)]
struct ScoreConstraint {
    /// `kubernetes.io/hostname`: counts come from the node itself.
    hostname: bool,
    max_skew: i32,
    /// `ln(domains + 2)` (upstream `topologyNormalizingWeight`).
    weight: f64,
    /// `maxSkew − 1` as a float.
    skew: f64,
    domains: Arc<Vec<u32>>,
    /// Matching pods per domain id over the counted nodes.
    counts: Vec<i64>,
    /// Per domain id: `count × weight + (maxSkew − 1)` (upstream `scoreForCount`).
    contrib: Vec<f64>,
    /// Hostname constraints: matching pods per node index; `touched` lists the non-zero entries.
    host: Vec<u32>,
    touched: Vec<u32>,
}

impl ScoreConstraint {
    fn domain(&self, i: usize) -> u32 {
        self.domains.get(i).copied().unwrap_or(ABSENT)
    }
}

fn normalizing_weight(size: usize) -> f64 {
    libm::log((size + 2) as f64)
}

/// Upstream `scoreForCount`.
fn score_for_count(cnt: i64, weight: f64, skew: f64) -> f64 {
    cnt as f64 * weight + skew
}

/// Go's `math.Round` (half away from zero) for a non-negative score, without a libm call.
fn round(x: f64) -> i64 {
    if !(0.0..9.0e15).contains(&x) {
        return x.round() as i64;
    }
    let t = x as i64;
    if x - t as f64 >= 0.5 { t + 1 } else { t }
}

pub(super) fn pre_score(pl: &PodTopologySpread, state: &mut CycleState, pod: &PodCtx, feasible: NodeList) -> PreResult {
    let cache = feasible.cache;
    let cons = pl.constraints(pod.spec, WhenUnsatisfiable::ScheduleAnyway);
    if cons.is_empty() || cache.is_empty() {
        return PreResult::Skip;
    }
    let require_all = pl.require_all_keys(pod.spec);
    let mut idx = cache.topology();
    let keys: Vec<KeyId> = cons.iter().map(|c| idx.key_id(&c.key, cache.nodes())).collect();
    let s = state.slot::<ScoreState>();
    s.require_all = require_all;
    s.ignored.clear();
    let mut n_ignored = 0;
    if require_all {
        for &id in feasible.ids {
            let ignored = keys.iter().any(|k| idx.table(*k).domain(id) == ABSENT);
            n_ignored += usize::from(ignored);
            s.ignored.push(ignored);
        }
    }
    s.any_ignored = n_ignored > 0;
    let n_scored = feasible.len() - n_ignored;

    let affinity = has_node_affinity(&pod.spec.template);
    let open: Vec<bool> = cons
        .iter()
        .map(|c| c.key.as_ref() == HOSTNAME_LABEL || unrestricted(c, &idx, &keys, require_all, affinity))
        .collect();
    let masks =
        if open.iter().all(|o| *o) { Vec::new() } else { masks(&mut idx, cache, pod.spec, &cons, &keys, require_all) };

    s.cons.truncate(cons.len());
    s.cons.resize_with(cons.len(), ScoreConstraint::default);
    for (i, c) in cons.iter().enumerate() {
        let k = keys[i];
        let counter = c.group.counter(&mut idx, cache);
        let table = idx.table(k);
        let sc = &mut s.cons[i];
        for t in sc.touched.drain(..) {
            sc.host[t as usize] = 0;
        }
        sc.counts.clear();
        sc.hostname = c.key.as_ref() == HOSTNAME_LABEL;
        sc.max_skew = c.max_skew;
        sc.skew = f64::from(c.max_skew - 1);
        sc.domains = table.node_domain.clone();
        if sc.hostname {
            // Per-node counts of the node itself, whatever the inclusion policies (upstream counts in Score).
            sc.weight = normalizing_weight(n_scored);
            if let Some(counter) = counter.and_then(|r| idx.counter(r)) {
                // Only the feasible nodes are scored: walk whichever of the two lists is shorter.
                let mut set = |n: u32, cnt: u32| {
                    if sc.host.len() <= n as usize {
                        sc.host.resize(n as usize + 1, 0);
                    }
                    sc.host[n as usize] = cnt;
                    sc.touched.push(n);
                };
                if counter.per_node.len() > feasible.len() {
                    for id in feasible.ids {
                        let cnt = counter.on_node(*id);
                        if cnt > 0 {
                            set(id.0, cnt);
                        }
                    }
                } else {
                    for (&n, &cnt) in &counter.per_node {
                        set(n, cnt);
                    }
                }
            }
            continue;
        }
        // Domains among the scored nodes; without required keys a missing label is the value "".
        let empty = table.domain_of_value("");
        let canonical = |d: u32| if d == ABSENT { empty.unwrap_or(ABSENT) } else { d };
        s.seen.clear();
        s.seen.resize(table.n_domains(), false);
        // Domains any node is in: once all are seen among the feasible nodes, no need to look further.
        let mut all = 0;
        for (d, n) in table.node_count.iter().enumerate() {
            if *n > 0 && !s.seen[canonical(d as u32) as usize] {
                s.seen[canonical(d as u32) as usize] = true;
                all += 1;
            }
        }
        s.seen.iter_mut().for_each(|x| *x = false);
        let mut size = 0;
        for (p, &id) in feasible.ids.iter().enumerate() {
            if size == all {
                break;
            }
            if s.any_ignored && s.ignored[p] {
                continue;
            }
            let d = canonical(table.domain(id)) as usize;
            if !s.seen[d] {
                s.seen[d] = true;
                size += 1;
            }
        }
        let sc = &mut s.cons[i];
        sc.weight = normalizing_weight(size);
        sc.counts.resize(table.n_domains(), 0);
        if open[i] {
            if let Some(r) = counter
                && let Some(arr) = idx.domain_counts(r, k)
            {
                for (d, c) in sc.counts.iter_mut().enumerate() {
                    *c = arr.get(d).copied().unwrap_or(0);
                }
            }
        } else if let Some(counter) = counter.and_then(|r| idx.counter(r)) {
            let m = &masks[i];
            for (&n, &cnt) in &counter.per_node {
                if m.nodes.get(n as usize).copied().unwrap_or(false) {
                    sc.counts[sc.domains[n as usize] as usize] += i64::from(cnt);
                }
            }
        }
        if !require_all && let Some(e) = empty {
            sc.counts[e as usize] += sc.counts[ABSENT as usize];
        }
        let (w, skew) = (sc.weight, f64::from(sc.max_skew - 1));
        sc.contrib.clear();
        sc.contrib.extend(sc.counts.iter().map(|&cnt| score_for_count(cnt, w, skew)));
    }
    PreResult::Proceed
}

pub(super) fn score(state: &CycleState, node: &NodeInfo) -> i64 {
    state.get::<ScoreState>().map_or(0, |s| s.compute(node.id.index()))
}

/// [`score`] over many nodes, looking the state up once.
pub(super) fn score_nodes(state: &CycleState, nodes: NodeList, out: &mut Vec<i64>) {
    match state.get::<ScoreState>() {
        Some(s) => out.extend(nodes.ids.iter().map(|id| s.compute(id.index()))),
        None => out.extend(nodes.ids.iter().map(|_| 0)),
    }
}

/// Upstream `NormalizeScore`: ignored nodes get 0; otherwise `100 × (max + min − s) / max`, all 100 if max is 0.
pub(super) fn normalize(state: &CycleState, scores: &mut [i64]) {
    let Some(s) = state.get::<ScoreState>() else { return };
    if !s.any_ignored {
        let (mut min, mut max) = (i64::MAX, 0i64);
        for &v in scores.iter() {
            min = min.min(v);
            max = max.max(v);
        }
        if max == 0 {
            scores.iter_mut().for_each(|v| *v = MAX_NODE_SCORE);
        } else if max - min < 4096 {
            // Few distinct raw scores: one division per value, not per node.
            let table: Vec<i64> = (min..=max).map(|v| MAX_NODE_SCORE * (max + min - v) / max).collect();
            scores.iter_mut().for_each(|v| *v = table[(*v - min) as usize]);
        } else {
            scores.iter_mut().for_each(|v| *v = MAX_NODE_SCORE * (max + min - *v) / max);
        }
        return;
    }
    let ignored = |p: usize| s.ignored.get(p).copied().unwrap_or(false);
    let mut min = i64::MAX;
    let mut max = 0i64;
    for (p, &v) in scores.iter().enumerate() {
        if ignored(p) {
            continue;
        }
        min = min.min(v);
        max = max.max(v);
    }
    for (p, v) in scores.iter_mut().enumerate() {
        *v = if ignored(p) {
            0
        } else if max == 0 {
            MAX_NODE_SCORE
        } else {
            MAX_NODE_SCORE * (max + min - *v) / max
        };
    }
}
