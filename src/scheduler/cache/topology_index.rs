//! Incremental indexes over the cache's pods for PodTopologySpread and InterPodAffinity.
//!
//! Upstream computes both plugins' PreFilter/PreScore state by walking every node and every pod on it, for every
//! pod it schedules. With the system default spreading constraints that is every Deployment pod, which at
//! 5,000 nodes and 50,000 pods is far too slow. This index keeps the answers current as pods and nodes come and
//! go (every change goes through [`super::Cache`], which calls the hooks here), so that a plugin pays for the
//! number of topology domains or the number of nodes holding matching pods, not for the size of the cluster.
//!
//! What it holds:
//! - **Topology keys** ([`KeyTable`]), registered on first use: the domain (interned label value) of every node,
//!   and how many nodes each domain has. Domain 0 is reserved for nodes that lack the key.
//! - **Pod counters** ([`Counter`]): how many pods of a group sit on each node (sparse), and on demand their sum
//!   per domain of a key (dense). Groups are the pods of one ReplicaSet owner (maintained for every owner, as
//!   system default spreading needs them), or the pods matching a conjunction of (namespaces, label selector)
//!   clauses (registered the first time a plugin asks, by one scan over the cache's pods). Owner counters and
//!   PodTopologySpread's selector counters skip terminating pods; InterPodAffinity's count them, as upstream.
//! - **Carried terms** ([`Carried`]): every distinct (anti-)affinity term carried by pods in the cache, with the
//!   number of carriers per domain of the term's key. InterPodAffinity reads the existing pods' terms from here
//!   instead of scanning the pods that have them.
//! - **Eligibility memos** ([`Mask`]): for PodTopologySpread constraints that exclude nodes (node affinity or taint
//!   inclusion policies, missing keys), which nodes and domains count, per pod template, until a node changes.
//!
//! Lookups by label use a dispatch table keyed by (namespace, first `matchLabels` pair), so adding a pod tests
//! only the selectors that could match it. Registered selector counters and carried terms stay for the whole
//! run (owner counters are dropped when their last pod goes): a workload whose selectors change on every
//! rollout (`matchLabelKeys: [pod-template-hash]`) adds one counter per rollout. Nothing here affects decisions except through the plugins, whose
//! results equal upstream's from-scratch computation exactly (checked by property tests against a recount).

use super::{NodeInfo, PodEntry};
use crate::model::taints::tolerated;
use crate::model::{
    LabelSelector, Labels, Node, NodeId, OwnerRef, PodAffinityTerm, PodSpec, PodTemplate, Str, TaintEffect,
};
use rustc_hash::{FxHashMap, FxHasher};
use slotmap::Key;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// Index of a registered topology key.
pub type KeyId = u32;

/// The domain of nodes that lack a key.
pub const ABSENT: u32 = 0;

/// One topology key: the domain of each node and the nodes per domain.
pub struct KeyTable {
    pub name: Str,
    /// Domain of each node, by node index; [`ABSENT`] when the node lacks the key or is not in the cache.
    /// Shared with plugin cycle states, which read it per node without a lookup by value.
    pub node_domain: Arc<Vec<u32>>,
    /// The label value of each domain (index 0, [`ABSENT`], has none: its entry is empty).
    pub values: Vec<Str>,
    by_value: FxHashMap<Str, u32>,
    /// Cache nodes per domain; `node_count[ABSENT]` counts the nodes without the key.
    pub node_count: Vec<u32>,
}

impl KeyTable {
    fn new(name: Str) -> KeyTable {
        KeyTable {
            name,
            node_domain: Arc::new(Vec::new()),
            values: vec![Str::from("")],
            by_value: FxHashMap::default(),
            node_count: vec![0],
        }
    }

    /// Number of domain ids (including [`ABSENT`]).
    pub fn n_domains(&self) -> usize {
        self.values.len()
    }

    /// The domain of node `n` ([`ABSENT`] if it lacks the key).
    pub fn domain(&self, n: NodeId) -> u32 {
        self.node_domain.get(n.index()).copied().unwrap_or(ABSENT)
    }

    /// The domain of a label value, if some node ever had it.
    pub fn domain_of_value(&self, value: &str) -> Option<u32> {
        self.by_value.get(value).copied()
    }

    /// Every node in the cache has the key.
    pub fn complete(&self) -> bool {
        self.node_count[ABSENT as usize] == 0
    }

    fn domain_for(&mut self, labels: &Labels) -> u32 {
        let Some(v) = labels.get(&self.name) else { return ABSENT };
        if let Some(d) = self.by_value.get(&**v) {
            return *d;
        }
        let d = self.values.len() as u32;
        self.values.push(v.clone());
        self.by_value.insert(v.clone(), d);
        self.node_count.push(0);
        d
    }

    fn set(&mut self, n: NodeId, d: u32) {
        let table = Arc::make_mut(&mut self.node_domain);
        if table.len() <= n.index() {
            table.resize(n.index() + 1, ABSENT);
        }
        table[n.index()] = d;
    }
}

/// Clusters below this size keep every counter sparse (the tests use a tiny floor so both forms are checked).
const DENSE_MIN_NODES: usize = if cfg!(test) { 2 } else { 64 };

/// Pods of one group: per node, and per domain of the keys someone asked about.
#[derive(Default)]
pub struct Counter {
    /// Pods of the group on each node (node index); nodes without any are absent.
    pub per_node: FxHashMap<u32, u32>,
    /// The same counts as a dense array by node index, once the group covers at least 1/16 of the nodes (so
    /// dense arrays cost at most 64 bytes per pod that created them). Lookups for many nodes (the scores of
    /// every feasible node) then index an array instead of probing the map. Empty until then.
    dense: Vec<u32>,
    /// Per-domain sums for keys registered with [`TopologyIndex::domain_counts`]; index = domain id (missing
    /// trailing entries are 0).
    by_key: Vec<(KeyId, Vec<i64>)>,
}

impl Counter {
    fn bump(&mut self, node: u32, delta: i64, keys: &[KeyTable], n_nodes: u32) {
        let e = self.per_node.entry(node).or_insert(0);
        *e = (i64::from(*e) + delta) as u32;
        let value = *e;
        if value == 0 {
            self.per_node.remove(&node);
        }
        if !self.dense.is_empty() {
            if self.dense.len() <= node as usize {
                self.dense.resize(node as usize + 1, 0);
            }
            self.dense[node as usize] = value;
        } else if self.per_node.len() * 16 >= (n_nodes as usize).max(DENSE_MIN_NODES) {
            let len = self.per_node.keys().max().map_or(0, |m| *m as usize + 1).max(n_nodes as usize);
            self.dense = vec![0; len];
            for (&n, &c) in &self.per_node {
                self.dense[n as usize] = c;
            }
        }
        for (k, arr) in &mut self.by_key {
            let d = keys[*k as usize].node_domain.get(node as usize).copied().unwrap_or(ABSENT) as usize;
            if arr.len() <= d {
                arr.resize(d + 1, 0);
            }
            arr[d] += delta;
        }
    }

    /// Pods of the group on node `n`.
    pub fn on_node(&self, n: NodeId) -> u32 {
        if self.dense.is_empty() {
            self.per_node.get(&n.0).copied().unwrap_or(0)
        } else {
            self.dense.get(n.index()).copied().unwrap_or(0)
        }
    }
}

/// Pods in one of `namespaces` whose labels match `selector` (a pod affinity term, or a spread constraint's
/// selector in the pod's own namespace).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Clause {
    /// Never empty: a term without namespaces means the owning pod's namespace.
    pub namespaces: Vec<Str>,
    pub selector: LabelSelector,
}

impl Clause {
    /// The clause of an affinity term owned by a pod in `own_ns`.
    pub fn of_term(term: &PodAffinityTerm, own_ns: &Str) -> Clause {
        let namespaces = if term.namespaces.is_empty() { vec![own_ns.clone()] } else { term.namespaces.clone() };
        Clause { namespaces, selector: term.selector.clone() }
    }

    pub fn matches(&self, namespace: &str, labels: &Labels) -> bool {
        self.namespaces.iter().any(|n| &**n == namespace) && self.selector.matches(labels)
    }

    fn hash_into(&self, h: &mut FxHasher) {
        self.namespaces.len().hash(h);
        for n in &self.namespaces {
            n.hash(h);
        }
        hash_selector(&self.selector, h);
    }
}

/// The pods matching every clause. `include_terminating`: whether pods being deleted count (InterPodAffinity
/// counts them, PodTopologySpread does not).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectorGroup {
    pub clauses: Vec<Clause>,
    pub include_terminating: bool,
}

impl SelectorGroup {
    pub fn matches(&self, spec: &PodSpec) -> bool {
        !self.clauses.is_empty() && self.clauses.iter().all(|c| c.matches(&spec.namespace, &spec.template.labels))
    }

    fn hash(&self) -> u64 {
        let mut h = FxHasher::default();
        self.include_terminating.hash(&mut h);
        for c in &self.clauses {
            c.hash_into(&mut h);
        }
        h.finish()
    }
}

fn hash_selector(s: &LabelSelector, h: &mut FxHasher) {
    s.match_labels.len().hash(h);
    for (k, v) in s.match_labels.iter() {
        k.hash(h);
        v.hash(h);
    }
    s.match_expressions.len().hash(h);
    for r in &s.match_expressions {
        r.key.hash(h);
        (r.op as u8).hash(h);
        r.values.len().hash(h);
        for v in &r.values {
            v.hash(h);
        }
    }
}

/// The key of a pod's ReplicaSet owner (the group system default spreading counts), if it has one.
pub fn owner_key(spec: &PodSpec) -> Option<u64> {
    match spec.owner {
        Some(OwnerRef::ReplicaSet(rs)) => Some(rs.data().as_ffi()),
        _ => None,
    }
}

/// Which counter a plugin reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CounterRef {
    Owner(u64),
    Selector(u32),
}

/// The kinds of (anti-)affinity terms existing pods carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TermKind {
    RequiredAffinity,
    RequiredAntiAffinity,
    PreferredAffinity,
    PreferredAntiAffinity,
}

/// A distinct term carried by pods in the cache, with its carriers per domain of its key.
pub struct Carried {
    pub kind: TermKind,
    /// The preferred term's weight (0 for required terms).
    pub weight: i32,
    pub clause: Clause,
    pub key: KeyId,
    /// Carriers per domain (only non-zero entries; [`ABSENT`] included).
    pub per_domain: FxHashMap<u32, i64>,
    pub total: i64,
}

/// The terms a pod carries, with their kinds and weights.
pub fn carried_terms(t: &PodTemplate) -> impl Iterator<Item = (TermKind, i32, &PodAffinityTerm)> {
    let a = &t.pod_affinity;
    let n = &t.pod_anti_affinity;
    a.required
        .iter()
        .map(|term| (TermKind::RequiredAffinity, 0, term))
        .chain(n.required.iter().map(|term| (TermKind::RequiredAntiAffinity, 0, term)))
        .chain(a.preferred.iter().map(|w| (TermKind::PreferredAffinity, w.weight, &w.term)))
        .chain(n.preferred.iter().map(|w| (TermKind::PreferredAntiAffinity, w.weight, &w.term)))
}

/// Finds clauses that may match a pod, by (namespace, first `matchLabels` pair); clauses without `matchLabels`
/// are listed per namespace. Candidates are verified by the caller.
#[derive(Default)]
struct Dispatch {
    by_label: FxHashMap<u64, Vec<u32>>,
    by_ns: FxHashMap<u64, Vec<u32>>,
}

fn hash_strs(parts: &[&str]) -> u64 {
    let mut h = FxHasher::default();
    for p in parts {
        p.hash(&mut h);
    }
    h.finish()
}

impl Dispatch {
    fn insert(&mut self, clause: &Clause, id: u32) {
        let first = clause.selector.match_labels.iter().next();
        for ns in &clause.namespaces {
            match first {
                Some((k, v)) => self.by_label.entry(hash_strs(&[ns, k, v])).or_default().push(id),
                None => self.by_ns.entry(hash_strs(&[ns])).or_default().push(id),
            }
        }
    }

    /// Candidate ids for a pod in `ns` with `labels`, sorted and deduplicated.
    fn candidates(&self, ns: &str, labels: &Labels, out: &mut Vec<u32>) {
        out.clear();
        if let Some(ids) = self.by_ns.get(&hash_strs(&[ns])) {
            out.extend_from_slice(ids);
        }
        if !self.by_label.is_empty() {
            for (k, v) in labels.iter() {
                if let Some(ids) = self.by_label.get(&hash_strs(&[ns, k, v])) {
                    out.extend_from_slice(ids);
                }
            }
        }
        out.sort_unstable();
        out.dedup();
    }
}

/// Which nodes and domains count for one PodTopologySpread constraint of one pod template.
pub struct Mask {
    /// By node index.
    pub nodes: Vec<bool>,
    /// By domain id of the constraint's key.
    pub domains: Vec<bool>,
}

struct MemoEntry {
    template: Arc<PodTemplate>,
    /// (key, honor node affinity, honor taints, require all keys) per constraint.
    spec: Vec<(KeyId, bool, bool, bool)>,
    masks: Vec<Arc<Mask>>,
}

const MEMO_ENTRIES: usize = 16;

/// Whether a node has a `NoSchedule` or `NoExecute` taint (one a pod might not tolerate).
fn has_hard_taint(node: &Node) -> bool {
    node.taints.iter().any(|t| matches!(t.effect, TaintEffect::NoSchedule | TaintEffect::NoExecute))
}

/// Whether `node` has a `NoSchedule`/`NoExecute` taint the template does not tolerate (upstream
/// `FindMatchingUntoleratedTaint` with `DoNotScheduleTaintsFilterFunc`).
pub fn untolerated_hard_taint(t: &PodTemplate, node: &Node) -> bool {
    node.taints.iter().any(|taint| {
        matches!(taint.effect, TaintEffect::NoSchedule | TaintEffect::NoExecute) && !tolerated(&t.tolerations, taint)
    })
}

/// Whether the template's required node affinity (`nodeSelector` and required terms) matches `node`.
pub fn node_affinity_matches(t: &PodTemplate, node: &Node) -> bool {
    node.labels.contains_all(&t.node_selector) && t.node_affinity.required_matches(&node.name, &node.labels)
}

/// Whether the template restricts nodes at all (upstream `GetRequiredNodeAffinity` is non-trivial).
pub fn has_node_affinity(t: &PodTemplate) -> bool {
    !t.node_selector.is_empty() || t.node_affinity.required.is_some()
}

/// The index. See the module docs.
#[derive(Default)]
pub struct TopologyIndex {
    keys: Vec<KeyTable>,
    key_ids: FxHashMap<Str, KeyId>,
    present: Vec<bool>,
    n_nodes: u32,
    tainted_nodes: u32,
    owners: FxHashMap<u64, Counter>,
    selectors: Vec<(Arc<SelectorGroup>, Counter)>,
    selector_lookup: FxHashMap<u64, Vec<u32>>,
    selector_dispatch: Dispatch,
    carried: Vec<Carried>,
    carried_lookup: FxHashMap<u64, Vec<u32>>,
    carried_dispatch: Dispatch,
    memo: Vec<MemoEntry>,
    scratch: Vec<u32>,
}

impl TopologyIndex {
    // ----- keys -----

    /// The id of topology key `name`, registering it (one pass over `nodes`) the first time.
    pub fn key_id<'a>(&mut self, name: &str, nodes: impl Iterator<Item = &'a NodeInfo>) -> KeyId {
        if let Some(k) = self.key_ids.get(name) {
            return *k;
        }
        let id = self.keys.len() as KeyId;
        let name = Str::from(name);
        let mut table = KeyTable::new(name.clone());
        for info in nodes {
            let d = table.domain_for(&info.node.labels);
            table.set(info.id, d);
            table.node_count[d as usize] += 1;
        }
        self.keys.push(table);
        self.key_ids.insert(name, id);
        // Carriers of terms with this key cannot exist yet (their keys are registered when they are added).
        id
    }

    /// The id of a key already registered.
    pub fn find_key(&self, name: &str) -> Option<KeyId> {
        self.key_ids.get(name).copied()
    }

    pub fn table(&self, k: KeyId) -> &KeyTable {
        &self.keys[k as usize]
    }

    /// Every registered key, by id.
    pub fn tables(&self) -> &[KeyTable] {
        &self.keys
    }

    /// Nodes in the cache.
    pub fn n_nodes(&self) -> u32 {
        self.n_nodes
    }

    /// Nodes with a `NoSchedule` or `NoExecute` taint.
    pub fn tainted_nodes(&self) -> u32 {
        self.tainted_nodes
    }

    pub fn is_present(&self, n: u32) -> bool {
        self.present.get(n as usize).copied().unwrap_or(false)
    }

    // ----- counters -----

    pub fn owner(&self, key: u64) -> Option<&Counter> {
        self.owners.get(&key)
    }

    /// The counter of `group`, counting it from the pods on `nodes` the first time.
    pub fn selector_counter<'a>(
        &mut self,
        group: &Arc<SelectorGroup>,
        nodes: impl Iterator<Item = &'a NodeInfo>,
    ) -> u32 {
        let h = group.hash();
        if let Some(ids) = self.selector_lookup.get(&h) {
            for &id in ids {
                if *self.selectors[id as usize].0 == **group {
                    return id;
                }
            }
        }
        let mut counter = Counter::default();
        for info in nodes {
            for p in &info.pods {
                if (!p.terminating || group.include_terminating) && group.matches(&p.spec) {
                    counter.bump(info.id.0, 1, &self.keys, self.n_nodes);
                }
            }
        }
        let id = self.selectors.len() as u32;
        self.selector_dispatch.insert(&group.clauses[0], id);
        self.selector_lookup.entry(h).or_default().push(id);
        self.selectors.push((group.clone(), counter));
        id
    }

    pub fn selector(&self, id: u32) -> &Counter {
        &self.selectors[id as usize].1
    }

    pub fn counter(&self, r: CounterRef) -> Option<&Counter> {
        match r {
            CounterRef::Owner(k) => self.owners.get(&k),
            CounterRef::Selector(id) => Some(&self.selectors[id as usize].1),
        }
    }

    /// The counter's pods per domain of key `k` (index = domain id; missing trailing entries are 0), maintained
    /// from now on. `None` for an owner without pods.
    pub fn domain_counts(&mut self, r: CounterRef, k: KeyId) -> Option<&[i64]> {
        let keys = &self.keys;
        let counter = match r {
            CounterRef::Owner(o) => self.owners.get_mut(&o)?,
            CounterRef::Selector(id) => &mut self.selectors[id as usize].1,
        };
        let pos = match counter.by_key.iter().position(|(key, _)| *key == k) {
            Some(p) => p,
            None => {
                let table = &keys[k as usize];
                let mut arr = vec![0i64; table.n_domains()];
                for (&n, &c) in &counter.per_node {
                    let d = table.node_domain.get(n as usize).copied().unwrap_or(ABSENT) as usize;
                    arr[d] += i64::from(c);
                }
                counter.by_key.push((k, arr));
                counter.by_key.len() - 1
            }
        };
        Some(&counter.by_key[pos].1)
    }

    // ----- carried terms -----

    /// Ids of carried terms that may match a pod in `ns` with `labels` (verify with [`Carried::clause`]).
    pub fn carried_candidates(&self, ns: &str, labels: &Labels, out: &mut Vec<u32>) {
        self.carried_dispatch.candidates(ns, labels, out);
    }

    pub fn carried(&self, id: u32) -> &Carried {
        &self.carried[id as usize]
    }

    fn carried_id(&mut self, kind: TermKind, weight: i32, term: &PodAffinityTerm, own_ns: &Str) -> u32 {
        let key = self.key_ids[&*term.topology_key];
        let mut h = FxHasher::default();
        kind.hash(&mut h);
        weight.hash(&mut h);
        key.hash(&mut h);
        let own = std::slice::from_ref(own_ns);
        let namespaces = if term.namespaces.is_empty() { own } else { &term.namespaces[..] };
        namespaces.len().hash(&mut h);
        for n in namespaces {
            n.hash(&mut h);
        }
        hash_selector(&term.selector, &mut h);
        let h = h.finish();
        if let Some(ids) = self.carried_lookup.get(&h) {
            for &id in ids {
                let c = &self.carried[id as usize];
                if c.kind == kind
                    && c.weight == weight
                    && c.key == key
                    && c.clause.namespaces == namespaces
                    && c.clause.selector == term.selector
                {
                    return id;
                }
            }
        }
        let id = self.carried.len() as u32;
        let clause = Clause::of_term(term, own_ns);
        self.carried_dispatch.insert(&clause, id);
        self.carried_lookup.entry(h).or_default().push(id);
        self.carried.push(Carried { kind, weight, clause, key, per_domain: FxHashMap::default(), total: 0 });
        id
    }

    // ----- eligibility memo -----

    /// The memoized masks for this template and constraint spec, if still valid.
    pub fn memo(&self, template: &Arc<PodTemplate>, spec: &[(KeyId, bool, bool, bool)]) -> Option<&[Arc<Mask>]> {
        self.memo.iter().find(|e| Arc::ptr_eq(&e.template, template) && e.spec == spec).map(|e| e.masks.as_slice())
    }

    pub fn remember(
        &mut self,
        template: Arc<PodTemplate>,
        spec: Vec<(KeyId, bool, bool, bool)>,
        masks: Vec<Arc<Mask>>,
    ) {
        if self.memo.len() >= MEMO_ENTRIES {
            self.memo.remove(0);
        }
        self.memo.push(MemoEntry { template, spec, masks });
    }

    // ----- hooks called by the cache -----

    /// Registers the topology keys of the terms `spec` carries; call before [`TopologyIndex::pod_added`].
    pub fn register_pod_keys<'a>(&mut self, spec: &PodSpec, nodes: impl Iterator<Item = &'a NodeInfo> + Clone) {
        for (_, _, term) in carried_terms(&spec.template) {
            if !self.key_ids.contains_key(&*term.topology_key) {
                self.key_id(&term.topology_key, nodes.clone());
            }
        }
    }

    pub fn node_added(&mut self, id: NodeId, node: &Node) {
        let i = id.index();
        if self.present.len() <= i {
            self.present.resize(i + 1, false);
        }
        if self.present[i] {
            return;
        }
        self.present[i] = true;
        self.n_nodes += 1;
        if has_hard_taint(node) {
            self.tainted_nodes += 1;
        }
        for table in &mut self.keys {
            let d = table.domain_for(&node.labels);
            table.set(id, d);
            table.node_count[d as usize] += 1;
        }
        self.memo.clear();
    }

    /// `info` (still holding its pods) is leaving the cache.
    pub fn node_removed(&mut self, info: &NodeInfo) {
        if !self.is_present(info.id.0) {
            return;
        }
        for p in &info.pods {
            self.pod_removed(info.id, p);
        }
        self.present[info.id.index()] = false;
        self.n_nodes -= 1;
        if has_hard_taint(&info.node) {
            self.tainted_nodes -= 1;
        }
        for table in &mut self.keys {
            let d = table.domain(info.id);
            table.node_count[d as usize] -= 1;
            table.set(info.id, ABSENT);
        }
        self.memo.clear();
    }

    /// `info` (with its old node object) is about to become `new`.
    pub fn node_changed(&mut self, info: &NodeInfo, new: &Node) {
        let old = &info.node;
        let labels_changed = old.labels != new.labels;
        if !labels_changed && old.taints == new.taints {
            return;
        }
        self.memo.clear();
        self.tainted_nodes = self.tainted_nodes - u32::from(has_hard_taint(old)) + u32::from(has_hard_taint(new));
        if !labels_changed {
            return;
        }
        let moved = self.keys.iter_mut().any(|t| {
            let before = t.domain(info.id);
            t.domain_for(&new.labels) != before
        });
        if !moved {
            return;
        }
        for p in &info.pods {
            self.pod_removed(info.id, p);
        }
        for table in &mut self.keys {
            let before = table.domain(info.id);
            let after = table.domain_for(&new.labels);
            table.node_count[before as usize] -= 1;
            table.node_count[after as usize] += 1;
            table.set(info.id, after);
        }
        for p in &info.pods {
            self.pod_added(info.id, p);
        }
    }

    /// A pod was placed on `node` (its terms' keys registered).
    pub fn pod_added(&mut self, node: NodeId, e: &PodEntry) {
        self.apply(node, &e.spec, Change::Add { terminating: e.terminating });
    }

    /// A pod left `node`.
    pub fn pod_removed(&mut self, node: NodeId, e: &PodEntry) {
        self.apply(node, &e.spec, Change::Remove { terminating: e.terminating });
    }

    /// A pod on `node` started terminating.
    pub fn pod_terminating(&mut self, node: NodeId, spec: &PodSpec) {
        self.apply(node, spec, Change::Terminate);
    }

    fn apply(&mut self, node: NodeId, spec: &PodSpec, change: Change) {
        let (delta, terminating, carried) = match change {
            Change::Add { terminating } => (1, terminating, true),
            Change::Remove { terminating } => (-1, terminating, true),
            Change::Terminate => (-1, false, false),
        };
        let n = node.0;
        if !terminating && let Some(k) = owner_key(spec) {
            let c = self.owners.entry(k).or_default();
            c.bump(n, delta, &self.keys, self.n_nodes);
            if c.per_node.is_empty() {
                self.owners.remove(&k);
            }
        }
        if !self.selectors.is_empty() {
            let mut ids = std::mem::take(&mut self.scratch);
            self.selector_dispatch.candidates(&spec.namespace, &spec.template.labels, &mut ids);
            for &id in &ids {
                let (group, counter) = &mut self.selectors[id as usize];
                let counts = match change {
                    Change::Terminate => !group.include_terminating,
                    _ => !terminating || group.include_terminating,
                };
                if counts && group.matches(spec) {
                    counter.bump(n, delta, &self.keys, self.n_nodes);
                }
            }
            self.scratch = ids;
        }
        if carried {
            for (kind, weight, term) in carried_terms(&spec.template) {
                let id = self.carried_id(kind, weight, term, &spec.namespace);
                let c = &mut self.carried[id as usize];
                let d = self.keys[c.key as usize].domain(node);
                let e = c.per_domain.entry(d).or_insert(0);
                *e += delta;
                if *e == 0 {
                    c.per_domain.remove(&d);
                }
                c.total += delta;
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Change {
    Add { terminating: bool },
    Remove { terminating: bool },
    Terminate,
}

#[cfg(test)]
mod tests;
