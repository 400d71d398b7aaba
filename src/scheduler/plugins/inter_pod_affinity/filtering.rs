//! InterPodAffinity's PreFilter (the three count maps), its add/remove extensions, and Filter.

use super::matches_all;
use crate::model::Str;
use crate::scheduler::cache::topology_index::{ABSENT, Clause, KeyId, SelectorGroup, TermKind};
use crate::scheduler::cache::{Cache, NodeInfo, PodEntry};
use crate::scheduler::framework::{Code, CycleState, PodCtx, PreFilterResult, Reason, Verdict};
use rustc_hash::FxHashMap;
use std::sync::Arc;

/// Upstream `ErrReasonAffinityRulesNotMatch`.
pub const AFFINITY_NOT_MATCH: &str = "node(s) didn't match pod affinity rules";
/// Upstream `ErrReasonAntiAffinityRulesNotMatch`.
pub const ANTI_AFFINITY_NOT_MATCH: &str = "node(s) didn't match pod anti-affinity rules";
/// Upstream `ErrReasonExistingAntiAffinityRulesNotMatch`.
pub const EXISTING_ANTI_AFFINITY_NOT_MATCH: &str = "node(s) didn't satisfy existing pods anti-affinity rules";

/// Counts per topology pair (key, domain), without zero entries (upstream `topologyToMatchedTermCount`).
#[derive(Clone, Default)]
pub(super) struct PairCounts {
    map: FxHashMap<u64, i64>,
    /// Keys that ever had an entry.
    keys: Vec<KeyId>,
}

fn pack(k: KeyId, d: u32) -> u64 {
    (u64::from(k) << 32) | u64::from(d)
}

impl PairCounts {
    fn clear(&mut self) {
        self.map.clear();
        self.keys.clear();
    }

    pub fn add(&mut self, k: KeyId, d: u32, delta: i64) {
        let e = self.map.entry(pack(k, d)).or_insert(0);
        *e += delta;
        if *e == 0 {
            self.map.remove(&pack(k, d));
        }
        if !self.keys.contains(&k) {
            self.keys.push(k);
        }
    }

    pub fn get(&self, k: KeyId, d: u32) -> i64 {
        self.map.get(&pack(k, d)).copied().unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Entries as (key, domain, count), sorted (tests).
    #[cfg(test)]
    pub fn entries(&self) -> Vec<(KeyId, u32, i64)> {
        let mut v: Vec<_> = self.map.iter().map(|(p, c)| ((p >> 32) as KeyId, *p as u32, *c)).collect();
        v.sort_unstable();
        v
    }
}

/// PreFilter state (upstream `preFilterState`).
#[derive(Clone, Default)]
pub(super) struct FilterState {
    /// Every registered key: name and node → domain.
    pub tables: Vec<(Str, Arc<Vec<u32>>)>,
    /// Existing pods' required anti-affinity terms matching the pod.
    pub existing_anti: PairCounts,
    /// Existing pods matching all the pod's required affinity terms, per term's pair.
    pub affinity: PairCounts,
    /// Existing pods matching each of the pod's required anti-affinity terms.
    pub anti: PairCounts,
    /// Key of each required affinity / anti-affinity term of the pod.
    pub affinity_keys: Vec<KeyId>,
    pub anti_keys: Vec<KeyId>,
    /// The pod matches all its own required affinity terms.
    pub self_match: bool,
    /// Existing anti-affinity of pods added by dry runs (nominated pods) whose key no cached pod uses:
    /// (key, value, count).
    pub extra: Vec<(Str, Str, i64)>,
}

impl FilterState {
    fn domain(&self, k: KeyId, node: &NodeInfo) -> u32 {
        self.tables[k as usize].1.get(node.id.index()).copied().unwrap_or(ABSENT)
    }
}

pub(super) fn pre_filter(state: &mut CycleState, pod: &PodCtx, cache: &Cache) -> PreFilterResult {
    let spec = pod.spec;
    let t = &spec.template;
    let (affinity, anti) = (&t.pod_affinity.required, &t.pod_anti_affinity.required);
    let mut idx = cache.topology();
    let s = state.slot::<FilterState>();
    s.existing_anti.clear();
    s.affinity.clear();
    s.anti.clear();
    s.extra.clear();

    // Existing pods' required anti-affinity terms that match the pod, by their carriers' domains.
    let mut ids = Vec::new();
    idx.carried_candidates(&spec.namespace, &t.labels, &mut ids);
    for id in ids {
        let c = idx.carried(id);
        if c.kind != TermKind::RequiredAntiAffinity || c.total == 0 || !c.clause.matches(&spec.namespace, &t.labels) {
            continue;
        }
        for (&d, &n) in &c.per_domain {
            if d != ABSENT {
                s.existing_anti.add(c.key, d, n);
            }
        }
    }
    if s.existing_anti.is_empty() && affinity.is_empty() && anti.is_empty() {
        return PreFilterResult::Skip;
    }

    s.affinity_keys.clear();
    s.affinity_keys.extend(affinity.iter().map(|term| idx.key_id(&term.topology_key, cache.nodes())));
    s.anti_keys.clear();
    s.anti_keys.extend(anti.iter().map(|term| idx.key_id(&term.topology_key, cache.nodes())));
    s.tables.clear();
    s.tables.extend(idx.tables().iter().map(|t| (t.name.clone(), t.node_domain.clone())));

    // Existing pods matching all the required affinity terms: each counts once per term (key).
    if !affinity.is_empty() {
        let group = SelectorGroup {
            clauses: affinity.iter().map(|term| Clause::of_term(term, &spec.namespace)).collect(),
            include_terminating: true,
        };
        let id = idx.selector_counter(&Arc::new(group), cache.nodes());
        for (&n, &cnt) in &idx.selector(id).per_node {
            for &k in &s.affinity_keys {
                let d = s.tables[k as usize].1.get(n as usize).copied().unwrap_or(ABSENT);
                if d != ABSENT {
                    s.affinity.add(k, d, i64::from(cnt));
                }
            }
        }
    }
    // Existing pods matching each required anti-affinity term.
    for (j, term) in anti.iter().enumerate() {
        let group = SelectorGroup { clauses: vec![Clause::of_term(term, &spec.namespace)], include_terminating: true };
        let id = idx.selector_counter(&Arc::new(group), cache.nodes());
        let k = s.anti_keys[j];
        for (&n, &cnt) in &idx.selector(id).per_node {
            let d = s.tables[k as usize].1.get(n as usize).copied().unwrap_or(ABSENT);
            if d != ABSENT {
                s.anti.add(k, d, i64::from(cnt));
            }
        }
    }
    s.self_match = matches_all(affinity, spec, spec);
    PreFilterResult::Proceed
}

pub(super) fn filter(state: &CycleState, node: &NodeInfo, why: Option<&mut Vec<Reason>>) -> Verdict {
    let Some(s) = state.get::<FilterState>() else { return Verdict::Pass };
    let fail = |why: Option<&mut Vec<Reason>>, code, reason| {
        if let Some(why) = why {
            why.push(Reason::Text(reason));
        }
        Verdict::Fail(code)
    };
    // Upstream `satisfyPodAffinity`.
    if !s.affinity_keys.is_empty() {
        let mut pods_exist = true;
        for &k in &s.affinity_keys {
            let d = s.domain(k, node);
            if d == ABSENT {
                return fail(why, Code::UnschedulableAndUnresolvable, AFFINITY_NOT_MATCH);
            }
            if s.affinity.get(k, d) <= 0 {
                pods_exist = false;
            }
        }
        // The first pod of a group with affinity to itself: no pod matches anywhere, and it matches itself.
        let first_of_group = s.affinity.is_empty() && s.self_match;
        if !(pods_exist || first_of_group) {
            return fail(why, Code::UnschedulableAndUnresolvable, AFFINITY_NOT_MATCH);
        }
    }
    // Upstream `satisfyPodAntiAffinity`.
    if !s.anti.is_empty() {
        for &k in &s.anti_keys {
            let d = s.domain(k, node);
            if d != ABSENT && s.anti.get(k, d) > 0 {
                return fail(why, Code::Unschedulable, ANTI_AFFINITY_NOT_MATCH);
            }
        }
    }
    // Upstream `satisfyExistingPodsAntiAffinity`.
    if !s.existing_anti.is_empty() {
        for &k in &s.existing_anti.keys {
            let d = s.domain(k, node);
            if d != ABSENT && s.existing_anti.get(k, d) > 0 {
                return fail(why, Code::Unschedulable, EXISTING_ANTI_AFFINITY_NOT_MATCH);
            }
        }
    }
    for (k, v, n) in &s.extra {
        if *n > 0 && node.node.labels.get(k) == Some(v) {
            return fail(why, Code::Unschedulable, EXISTING_ANTI_AFFINITY_NOT_MATCH);
        }
    }
    Verdict::Pass
}

/// Upstream `updateWithPod`: `other` was added to (`delta` 1) or removed from (-1) `node`.
pub(super) fn update(state: &mut CycleState, pod: &PodCtx, other: &PodEntry, node: &NodeInfo, delta: i64) {
    let Some(s) = state.get_mut::<FilterState>() else { return };
    let spec = pod.spec;
    let t = &spec.template;
    let o = &other.spec;
    for term in &o.template.pod_anti_affinity.required {
        if !term.matches(&o.namespace, &spec.namespace, &t.labels) {
            continue;
        }
        match s.tables.iter().position(|(name, _)| *name == term.topology_key) {
            Some(k) => {
                let d = s.domain(k as KeyId, node);
                if d != ABSENT {
                    s.existing_anti.add(k as KeyId, d, delta);
                }
            }
            None => {
                if let Some(v) = node.node.labels.get(&term.topology_key) {
                    match s.extra.iter_mut().find(|(k, val, _)| *k == term.topology_key && val == v) {
                        Some(e) => e.2 += delta,
                        None => s.extra.push((term.topology_key.clone(), v.clone(), delta)),
                    }
                }
            }
        }
    }
    if matches_all(&t.pod_affinity.required, spec, o) {
        for j in 0..s.affinity_keys.len() {
            let k = s.affinity_keys[j];
            let d = s.domain(k, node);
            if d != ABSENT {
                s.affinity.add(k, d, delta);
            }
        }
    }
    for (j, term) in t.pod_anti_affinity.required.iter().enumerate() {
        if term.matches(&spec.namespace, &o.namespace, &o.template.labels) {
            let k = s.anti_keys[j];
            let d = s.domain(k, node);
            if d != ABSENT {
                s.anti.add(k, d, delta);
            }
        }
    }
}
