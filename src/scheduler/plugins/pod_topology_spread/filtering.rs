//! PodTopologySpread's PreFilter (per-domain counts of DoNotSchedule constraints), its add/remove extensions,
//! and Filter.

use super::{Constraint, PodTopologySpread, masks, unrestricted};
use crate::model::{NodeId, WhenUnsatisfiable};
use crate::scheduler::cache::topology_index::{
    ABSENT, KeyId, has_node_affinity, node_affinity_matches, untolerated_hard_taint,
};
use crate::scheduler::cache::{Cache, NodeInfo, PodEntry};
use crate::scheduler::framework::{Code, CycleState, PodCtx, PreFilterResult, Reason, Verdict};
use std::sync::Arc;

/// Upstream `ErrReasonConstraintsNotMatch`.
pub const CONSTRAINTS_NOT_MATCH: &str = "node(s) didn't match pod topology spread constraints";
/// Upstream `ErrReasonNodeLabelNotMatch`.
pub const NODE_LABEL_NOT_MATCH: &str = "node(s) didn't match pod topology spread constraints (missing required label)";

/// Count of a domain that is not eligible (no eligible node has that value).
pub(super) const NONE: i64 = i64::MIN;

/// PreFilter state (upstream `preFilterState`): per DoNotSchedule constraint, the matching pods per eligible
/// domain and the global minimum.
#[derive(Clone, Default)]
pub(super) struct FilterState {
    pub cons: Vec<FilterConstraint>,
}

#[derive(Clone)]
pub(super) struct FilterConstraint {
    pub c: Constraint,
    /// The domain of each node for the constraint's key (from the index).
    pub domains: Arc<Vec<u32>>,
    /// Matching pods per domain id; [`NONE`] for domains that are not eligible.
    pub counts: Vec<i64>,
    /// Eligible domains.
    pub n_domains: usize,
    /// Least count over eligible domains (`i64::MAX` if none), and how many domains have it.
    pub min: i64,
    pub at_min: usize,
}

impl FilterConstraint {
    pub fn domain(&self, n: NodeId) -> u32 {
        self.domains.get(n.index()).copied().unwrap_or(ABSENT)
    }

    fn recompute_min(&mut self) {
        self.min = i64::MAX;
        self.at_min = 0;
        for &c in &self.counts {
            if c == NONE {
                continue;
            }
            if c < self.min {
                self.min = c;
                self.at_min = 1;
            } else if c == self.min {
                self.at_min += 1;
            }
        }
    }

    /// Upstream `minMatchNum`: 0 while fewer than `minDomains` domains are eligible.
    pub fn global_min(&self) -> i64 {
        if (self.n_domains as i64) < i64::from(self.c.min_domains) { 0 } else { self.min }
    }

    /// The count of domain `d` changes by `delta`, keeping the minimum exact.
    fn update(&mut self, d: u32, delta: i64) {
        let d = d as usize;
        if self.counts.len() <= d {
            self.counts.resize(d + 1, NONE);
        }
        if self.counts[d] == NONE {
            self.counts[d] = 0;
            self.n_domains += 1;
            if 0 < self.min {
                self.min = 0;
                self.at_min = 1;
            } else if self.min == 0 {
                self.at_min += 1;
            }
        }
        let old = self.counts[d];
        let new = old + delta;
        self.counts[d] = new;
        if old == self.min {
            self.at_min -= 1;
        }
        if new < self.min {
            self.min = new;
            self.at_min = 1;
        } else if new == self.min {
            self.at_min += 1;
        }
        if self.at_min == 0 {
            self.recompute_min();
        }
    }
}

pub(super) fn pre_filter(
    pl: &PodTopologySpread,
    state: &mut CycleState,
    pod: &PodCtx,
    cache: &Cache,
) -> PreFilterResult {
    let cons = pl.constraints(pod.spec, WhenUnsatisfiable::DoNotSchedule);
    if cons.is_empty() {
        return PreFilterResult::Skip;
    }
    let mut idx = cache.topology();
    let keys: Vec<KeyId> = cons.iter().map(|c| idx.key_id(&c.key, cache.nodes())).collect();
    let affinity = has_node_affinity(&pod.spec.template);
    let open: Vec<bool> = cons.iter().map(|c| unrestricted(c, &idx, &keys, true, affinity)).collect();
    let masks = if open.iter().all(|o| *o) { Vec::new() } else { masks(&mut idx, cache, pod.spec, &cons, &keys, true) };
    let s = state.slot::<FilterState>();
    s.cons.clear();
    for (i, c) in cons.into_iter().enumerate() {
        let k = keys[i];
        let counter = c.group.counter(&mut idx, cache);
        let table = idx.table(k);
        let domains = table.node_domain.clone();
        let mut counts = vec![NONE; table.n_domains()];
        if open[i] {
            for (d, n) in table.node_count.iter().enumerate().skip(1) {
                if *n > 0 {
                    counts[d] = 0;
                }
            }
            if let Some(r) = counter
                && let Some(arr) = idx.domain_counts(r, k)
            {
                for (d, c) in counts.iter_mut().enumerate() {
                    if *c != NONE {
                        *c = arr.get(d).copied().unwrap_or(0);
                    }
                }
            }
        } else {
            let m = &masks[i];
            for (d, e) in m.domains.iter().enumerate() {
                if *e {
                    counts[d] = 0;
                }
            }
            if let Some(counter) = counter.and_then(|r| idx.counter(r)) {
                for (&n, &cnt) in &counter.per_node {
                    if m.nodes.get(n as usize).copied().unwrap_or(false) {
                        counts[domains[n as usize] as usize] += i64::from(cnt);
                    }
                }
            }
        }
        let n_domains = counts.iter().filter(|c| **c != NONE).count();
        let mut fc = FilterConstraint { c, domains, counts, n_domains, min: i64::MAX, at_min: 0 };
        fc.recompute_min();
        s.cons.push(fc);
    }
    PreFilterResult::Proceed
}

pub(super) fn filter(state: &CycleState, _pod: &PodCtx, node: &NodeInfo, why: Option<&mut Vec<Reason>>) -> Verdict {
    let Some(s) = state.get::<FilterState>() else { return Verdict::Pass };
    for fc in &s.cons {
        let d = fc.domain(node.id);
        if d == ABSENT {
            if let Some(why) = why {
                why.push(Reason::Text(NODE_LABEL_NOT_MATCH));
            }
            return Verdict::Fail(Code::UnschedulableAndUnresolvable);
        }
        let matched = match fc.counts.get(d as usize) {
            Some(&c) if c != NONE => c,
            _ => 0,
        };
        let skew = matched + i64::from(fc.c.self_match) - fc.global_min();
        if skew > i64::from(fc.c.max_skew) {
            if let Some(why) = why {
                why.push(Reason::Text(CONSTRAINTS_NOT_MATCH));
            }
            return Verdict::Fail(Code::Unschedulable);
        }
    }
    Verdict::Pass
}

/// Upstream `updateWithPod`: `other` was added to (`delta` 1) or removed from (-1) `node`.
pub(super) fn update(state: &mut CycleState, pod: &PodCtx, other: &PodEntry, node: &NodeInfo, delta: i64) {
    let Some(s) = state.get_mut::<FilterState>() else { return };
    if other.spec.namespace != pod.spec.namespace || other.terminating {
        return;
    }
    if s.cons.iter().any(|fc| fc.domain(node.id) == ABSENT) {
        return;
    }
    let t = &pod.spec.template;
    for fc in &mut s.cons {
        if !fc.c.group.counts(&other.spec)
            || (fc.c.affinity_honor && !node_affinity_matches(t, &node.node))
            || (fc.c.taints_honor && untolerated_hard_taint(t, &node.node))
        {
            continue;
        }
        let d = fc.domain(node.id);
        fc.update(d, delta);
    }
}
