//! One scheduling attempt, as upstream's `schedulePod` followed by PostFilter:
//!
//! 1. PreFilter: each plugin may skip its Filter, narrow the candidate nodes, or reject the pod outright;
//! 2. the pod's nominated node (set by an earlier preemption) is tried alone first, and taken if it fits;
//! 3. the filter loop visits nodes in node-tree order from the round-robin start index and stops once
//!    `numFeasibleNodesToFind` nodes fit; a node with nominated pods of equal or higher priority is filtered
//!    as if they were already there (and, if they were, once more without them);
//! 4. no feasible node: the aggregated FitError message, then PostFilter (preemption);
//! 5. one feasible node is taken without scoring; otherwise PreScore, Score, NormalizeScore, weights, and a
//!    uniform choice among the top totals with the seeded tie-break stream (upstream `selectHost`).
//!
//! The attempt is sequential where upstream runs the filter loop on 16 goroutines and cancels it when enough
//! nodes are found; kubesim visits nodes strictly in index order, which is the order upstream would produce
//! without races. Nothing here allocates per node: filters and scores fill reused buffers.

use super::cache::gpus::GpuReservation;
use super::cache::{Cache, NodeInfo, PodEntry};
use super::explain::{AttemptTrace, NodeVerdict, ScoreTrace};
use super::framework::{
    Binding, Code, CycleState, Filter, FilterRunner, NodeList, NodeStatus, PodCtx, PostFilterEnv, PostFilterResult,
    PreFilterResult, PreResult, Reason, Verdict, fit_error_message,
};
use super::profile::{MAX_PLUGINS, Profile, TieBreak, num_feasible_nodes_to_find};
use crate::model::{NodeId, PodDisruptionBudget, PodId, PodTemplate};
use crate::rng::SimRng;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Pods nominated to nodes by preemption, waiting for their victims to leave (upstream `nominator`).
#[derive(Default)]
pub struct Nominator {
    /// By node index.
    by_node: Vec<Vec<PodEntry>>,
    /// Nominations in all.
    count: usize,
}

impl Nominator {
    /// Nominates `entry.id` to `node`, replacing any earlier nomination of that pod.
    pub fn add(&mut self, node: NodeId, entry: PodEntry) {
        self.remove(entry.id);
        let i = node.index();
        if self.by_node.len() <= i {
            self.by_node.resize_with(i + 1, Vec::new);
        }
        self.by_node[i].push(entry);
        self.count += 1;
    }

    /// Whether no pod is nominated anywhere.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Drops a pod's nomination; returns the node it was nominated to.
    pub fn remove(&mut self, pod: PodId) -> Option<NodeId> {
        for (i, list) in self.by_node.iter_mut().enumerate() {
            if let Some(k) = list.iter().position(|e| e.id == pod) {
                list.remove(k);
                self.count -= 1;
                return Some(NodeId(i as u32));
            }
        }
        None
    }

    /// Pods nominated to `node`, in nomination order.
    pub fn on(&self, node: NodeId) -> &[PodEntry] {
        self.by_node.get(node.index()).map(|v| v.as_slice()).unwrap_or(&[])
    }

    /// Every nomination, by node (invariant checks, traces).
    pub fn all(&self) -> impl Iterator<Item = (NodeId, &PodEntry)> {
        self.by_node.iter().enumerate().flat_map(|(i, l)| l.iter().map(move |e| (NodeId(i as u32), e)))
    }
}

/// Why an attempt failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// Upstream's FitError message, e.g. `0/3 nodes are available: 1 Insufficient cpu, 2 node(s) ....`
    pub message: String,
    /// Profile plugins (bit per plugin index) that rejected the pod; their queueing hints decide when to
    /// retry. Empty for errors (no nodes at all), which retry after the error backoff.
    pub rejectors: u64,
    /// Preemption's choice: nominate the pod to this node after deleting these victims.
    pub nominate: Option<(NodeId, Vec<PodId>)>,
}

/// The result of one attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Assume the pod on this node and bind it.
    Feasible(NodeId),
    Failed(Failure),
}

/// The scheduling algorithm and the state it needs: profiles, the cache, nominations, PDBs and scratch space.
pub struct Algorithm {
    pub profiles: Vec<Profile>,
    pub cache: Cache,
    pub nominator: Nominator,
    /// PodDisruptionBudgets, for preemption.
    pub pdbs: Vec<Arc<PodDisruptionBudget>>,
    state: CycleState,
    tiebreak: SimRng,
    next_start: usize,
    feasible: Vec<NodeId>,
    statuses: Vec<NodeStatus>,
    allowed: Vec<NodeId>,
    raw: Vec<i64>,
    totals: Vec<i64>,
    filter_skip: Vec<bool>,
    score_skip: Vec<bool>,
    why: Vec<Reason>,
    /// Skip the per-node reasons of a failure's message (a driver that never reads it; the decision is the same).
    pub terse_failures: bool,
    /// Per-node verdicts of recently failed pod templates (see [`FailMemo`]), at most [`FAIL_MEMOS`].
    memos: Vec<FailMemo>,
    /// Ticks at every use of a memo (least recently used goes first).
    memo_clock: u64,
    /// The templates (pointer xor profile index) of recent attempts without a memo: a template seen again soon
    /// gets one.
    recent: [usize; 8],
    recent_next: usize,
}

/// How many pod templates keep a [`FailMemo`].
const FAIL_MEMOS: usize = 64;

/// One node's verdict in a [`FailMemo`].
#[derive(Clone, Copy, Default)]
struct MemoNode {
    /// The node's [`Cache::node_version`] when the verdict was computed; 0: none yet.
    version: u64,
    /// `None`: the node passed.
    code: Option<Code>,
    /// The rejecting plugin's index.
    plugin: u8,
    /// The node's reasons, an index into [`FailMemo::lists`].
    list: u32,
}

/// The filter verdicts of one pod template on every node, kept current node by node.
///
/// A failed attempt costs a filter pass over every node and then, for the FailedScheduling message, one more
/// with reasons. When every active filter is node-local ([`Filter::node_local`]), a node's verdict and reasons
/// for a pod depend only on the pod's template and that node's info; so once a pod of a template has failed,
/// the next attempt of a pod of the same template (its siblings in a Job or ReplicaSet, or itself again) only
/// re-filters the nodes that changed since ([`Cache::node_version`]) and keeps the message's histogram up to date
/// incrementally. If no node passes, the attempt fails exactly as the filter loop would have: same statuses in
/// the same order, same rejecting plugins, same message, same (unchanged) round-robin start index. If some node
/// passes, the ordinary filter loop runs. Only without nominated pods, PreFilter narrowing or a trace.
struct FailMemo {
    /// Held so the pointer identifying the template cannot be reused by another.
    template: Arc<PodTemplate>,
    profile: usize,
    /// Active filter plugins (bit per plugin index): PreFilter skips depend on the pod only, but check anyway.
    filters: u64,
    epoch: u64,
    order_version: u64,
    /// The cache's [`Cache::clock`] at the last sync; `None` after a reset (every node is then re-read).
    synced_clock: Option<u64>,
    last_use: u64,
    nodes: Vec<MemoNode>,
    /// Distinct reason lists and how many nodes have each.
    lists: Vec<(Vec<Reason>, usize)>,
    /// Rejected nodes per plugin.
    by_plugin: [u32; MAX_PLUGINS],
    passing: usize,
    /// The histogram part of the message (`0/N nodes are available: ...`), while the lists have not changed.
    message: Option<String>,
}

impl FailMemo {
    fn clear(&mut self, epoch: u64, order_version: u64) {
        self.epoch = epoch;
        self.order_version = order_version;
        self.synced_clock = None;
        self.nodes.clear();
        self.lists.clear();
        self.by_plugin = [0; MAX_PLUGINS];
        self.passing = 0;
        self.message = None;
    }

    /// Brings every node's verdict up to date with the cache, filtering the nodes that changed: those the
    /// cache's journal lists since the last sync, or, after a reset or when the journal is too short, every node.
    fn sync(&mut self, cache: &Cache, filters: &Filters, state: &CycleState, pod: &PodCtx, why: &mut Vec<Reason>) {
        if self.epoch != cache.epoch() || self.order_version != cache.order_version() {
            self.clear(cache.epoch(), cache.order_version());
        }
        match self.synced_clock.and_then(|c| cache.touched_since(c)) {
            Some(touched) => {
                for &id in touched {
                    self.sync_node(cache, filters, state, pod, why, id);
                }
            }
            None => {
                for &id in cache.order() {
                    self.sync_node(cache, filters, state, pod, why, id);
                }
            }
        }
        self.synced_clock = Some(cache.clock());
    }

    /// Re-filters node `id` if it changed since its verdict.
    #[inline]
    fn sync_node(
        &mut self,
        cache: &Cache,
        filters: &Filters,
        state: &CycleState,
        pod: &PodCtx,
        why: &mut Vec<Reason>,
        id: NodeId,
    ) {
        let version = cache.node_version(id);
        let i = id.index();
        if self.nodes.len() <= i {
            self.nodes.resize(i + 1, MemoNode::default());
        }
        let old = self.nodes[i];
        if old.version == version {
            return;
        }
        let Some(info) = cache.node(id) else { return };
        if old.version != 0 {
            match old.code {
                None => self.passing -= 1,
                Some(_) => {
                    self.lists[old.list as usize].1 -= 1;
                    self.by_plugin[old.plugin as usize] -= 1;
                }
            }
        }
        why.clear();
        let (verdict, plugin) = filters.run_plain(state, pod, info, Some(why));
        let entry = match verdict {
            Verdict::Pass => {
                self.passing += 1;
                MemoNode { version, code: None, plugin: 0, list: 0 }
            }
            Verdict::Fail(code) => {
                let list = match self.lists.iter().position(|(l, _)| l == why) {
                    Some(k) => k,
                    None => {
                        self.lists.push((why.clone(), 0));
                        self.lists.len() - 1
                    }
                };
                self.lists[list].1 += 1;
                self.by_plugin[plugin] += 1;
                MemoNode { version, code: Some(code), plugin: plugin as u8, list: list as u32 }
            }
        };
        // The histogram changes unless the node had, and has, the same reasons.
        let same_reasons = old.version != 0 && old.code.is_some() && entry.code.is_some() && old.list == entry.list;
        if !same_reasons {
            self.message = None;
        }
        self.nodes[i] = entry;
    }

    /// The rejecting plugins (bit per plugin index).
    fn rejectors(&self) -> u64 {
        self.by_plugin.iter().enumerate().filter(|(_, c)| **c > 0).fold(0, |m, (i, _)| m | 1 << i)
    }

    /// Upstream's FitError message for `n_all` nodes (all rejected).
    fn message(&mut self, n_all: usize) -> &str {
        let lists = &self.lists;
        self.message.get_or_insert_with(|| {
            let mut histogram: BTreeMap<String, usize> = BTreeMap::new();
            for (list, count) in lists.iter().filter(|(_, c)| *c > 0) {
                for reason in list {
                    *histogram.entry(reason.to_string()).or_insert(0) += count;
                }
            }
            fit_error_message(n_all, histogram)
        })
    }
}

/// A profile's filters with their PreFilter skips, and the nominated pods: what preemption needs to try a
/// hypothetical node the way the filter loop would.
struct Filters<'a> {
    profile: &'a Profile,
    skip: &'a [bool],
    nominator: &'a Nominator,
    /// The filters PreFilter did not skip, in profile order with their plugin index, resolved once per cycle
    /// rather than per node (a profile holds at most `MAX_PLUGINS` plugins).
    active: [Option<(usize, &'a dyn Filter)>; MAX_PLUGINS],
    /// The active filters' plugin indexes, as bits.
    mask: u64,
    /// Every active filter is [`Filter::node_local`].
    node_local: bool,
}

impl<'a> Filters<'a> {
    fn new(profile: &'a Profile, skip: &'a [bool], nominator: &'a Nominator) -> Filters<'a> {
        let mut active = [None; MAX_PLUGINS];
        let resolved =
            profile.filter.iter().filter(|&&i| !skip[i]).filter_map(|&i| Some((i, profile.plugins[i].as_filter()?)));
        let (mut mask, mut node_local) = (0u64, true);
        for (slot, f) in active.iter_mut().zip(resolved) {
            mask |= 1 << f.0;
            node_local &= f.1.node_local();
            *slot = Some(f);
        }
        Filters { profile, skip, nominator, active, mask, node_local }
    }

    /// Every filter in order until the first rejection; returns the verdict and the rejecting plugin's index.
    fn run_plain(
        &self,
        state: &CycleState,
        pod: &PodCtx,
        node: &NodeInfo,
        mut why: Option<&mut Vec<Reason>>,
    ) -> (Verdict, usize) {
        for &(i, f) in self.active.iter().map_while(|a| a.as_ref()) {
            let v = f.filter(state, pod, node, why.as_deref_mut());
            if v != Verdict::Pass {
                return (v, i);
            }
        }
        (Verdict::Pass, usize::MAX)
    }

    /// Upstream `RunFilterPluginsWithNominatedPods`: with nominated pods of priority >= the pod's added, then
    /// (if any were added and that passed) once more without them; both must pass.
    fn run_nominated(
        &self,
        state: &CycleState,
        pod: &PodCtx,
        node: &NodeInfo,
        mut why: Option<&mut Vec<Reason>>,
    ) -> (Verdict, usize) {
        let priority = pod.spec.template.priority;
        let nominated = self.nominator.on(node.id);
        if !nominated.iter().any(|e| e.id != pod.id && e.spec.template.priority >= priority) {
            return self.run_plain(state, pod, node, why);
        }
        let mut with = node.clone();
        let mut with_state = state.clone();
        for e in nominated.iter().filter(|e| e.id != pod.id && e.spec.template.priority >= priority) {
            with.add_pod(e.clone());
            self.add_pod(&mut with_state, pod, e, &with);
        }
        let first = self.run_plain(&with_state, pod, &with, why.as_deref_mut());
        if first.0 != Verdict::Pass {
            return first;
        }
        self.run_plain(state, pod, node, why)
    }
}

impl FilterRunner for Filters<'_> {
    fn run(&self, state: &CycleState, pod: &PodCtx, node: &NodeInfo, why: Option<&mut Vec<Reason>>) -> Verdict {
        self.run_nominated(state, pod, node, why).0
    }

    fn add_pod(&self, state: &mut CycleState, pod: &PodCtx, other: &PodEntry, node: &NodeInfo) {
        for &i in &self.profile.pre_filter {
            if !self.skip[i]
                && let Some(pf) = self.profile.plugins[i].as_pre_filter()
            {
                pf.add_pod(state, pod, other, node);
            }
        }
    }

    fn remove_pod(&self, state: &mut CycleState, pod: &PodCtx, other: &PodEntry, node: &NodeInfo) {
        for &i in &self.profile.pre_filter {
            if !self.skip[i]
                && let Some(pf) = self.profile.plugins[i].as_pre_filter()
            {
                pf.remove_pod(state, pod, other, node);
            }
        }
    }
}

/// How the nodes outside a PreFilter narrowing, or all nodes after a PreFilter rejection, fared.
struct Blanket {
    code: Code,
    reason: String,
}

impl Algorithm {
    pub fn new(profiles: Vec<Profile>, tiebreak: SimRng) -> Algorithm {
        Algorithm {
            profiles,
            cache: Cache::default(),
            nominator: Nominator::default(),
            pdbs: Vec::new(),
            state: CycleState::default(),
            tiebreak,
            next_start: 0,
            feasible: Vec::new(),
            statuses: Vec::new(),
            allowed: Vec::new(),
            raw: Vec::new(),
            totals: Vec::new(),
            filter_skip: Vec::new(),
            score_skip: Vec::new(),
            why: Vec::new(),
            terse_failures: false,
            memos: Vec::new(),
            memo_clock: 0,
            recent: [0; 8],
            recent_next: 0,
        }
    }

    /// Forgets everything learned from the cluster: the cache, the nominations, the budgets, the cycle state and
    /// the round-robin start index (upstream's `nextStartNodeIndex` starts at 0 in a new process). The profiles
    /// stay (a restarted process builds the same ones from its configuration), and so does the tie-break stream:
    /// a new process would draw from a fresh random source, and continuing the seeded stream keeps runs
    /// reproducible.
    pub fn reset(&mut self) {
        self.cache = Cache::default();
        self.nominator = Nominator::default();
        self.pdbs.clear();
        self.state = CycleState::default();
        self.next_start = 0;
        self.memos.clear();
        self.recent = [0; 8];
    }

    /// Runs one attempt for `pod` with its profile. `nominated` is the pod's `status.nominatedNodeName`.
    /// With `trace`, records every verdict and score (`--explain`); the decision is the same either way.
    /// A chosen node is then reserved by the profile's Reserve plugins; if one refuses, all are unreserved (in
    /// reverse order) and the attempt fails on that node, as upstream.
    pub fn schedule(
        &mut self,
        profile_idx: usize,
        pod: &PodCtx,
        nominated: Option<NodeId>,
        trace: Option<&mut AttemptTrace>,
    ) -> Outcome {
        let outcome = self.select(profile_idx, pod, nominated, trace);
        let Outcome::Feasible(node) = outcome else { return outcome };
        let profile = &self.profiles[profile_idx];
        self.state.slot::<GpuReservation>().gpus = 0;
        for (k, &i) in profile.reserve.iter().enumerate() {
            let Some(r) = profile.plugins[i].as_reserve() else { continue };
            if let Err(reason) = r.reserve(&mut self.state, pod, node, &self.cache) {
                for &j in profile.reserve[..=k].iter().rev() {
                    if let Some(u) = profile.plugins[j].as_reserve() {
                        u.unreserve(&mut self.state, pod, node);
                    }
                }
                return Outcome::Failed(Failure {
                    message: format!("0/1 nodes are available: 1 {reason}."),
                    rejectors: 1 << i,
                    nominate: None,
                });
            }
        }
        outcome
    }

    /// The GPUs the Reserve plugins chose for the pod of the last successful [`Algorithm::schedule`] (bit i =
    /// GPU i; 0: none chosen, the cache's default rule applies).
    pub fn reserved_gpus(&self) -> u64 {
        self.state.get::<GpuReservation>().map_or(0, |r| r.gpus)
    }

    /// How the profile's Bind plugin binds `pod` to `node`.
    pub fn binding(&self, profile_idx: usize, pod: &PodCtx, node: NodeId) -> Binding {
        let profile = &self.profiles[profile_idx];
        profile.plugins[profile.bind].as_bind().map_or(Binding::Api, |b| b.bind(pod, node))
    }

    /// Filters, scores and selects a node (upstream `schedulePod` and PostFilter).
    fn select(
        &mut self,
        profile_idx: usize,
        pod: &PodCtx,
        nominated: Option<NodeId>,
        mut trace: Option<&mut AttemptTrace>,
    ) -> Outcome {
        let n_all = self.cache.len();
        if let Some(t) = trace.as_deref_mut() {
            t.nodes_total = n_all;
        }
        if n_all == 0 {
            return Outcome::Failed(Failure {
                message: "no nodes available to schedule pods".into(),
                rejectors: 0,
                nominate: None,
            });
        }
        let profile = &self.profiles[profile_idx];
        let n_plugins = profile.plugins.len();
        self.filter_skip.clear();
        self.filter_skip.resize(n_plugins, false);
        self.score_skip.clear();
        self.score_skip.resize(n_plugins, false);

        // ----- PreFilter -----
        let mut narrowed_by: Vec<&'static str> = Vec::new();
        let mut narrowing_mask = 0u64;
        for &i in &profile.pre_filter {
            let Some(pf) = profile.plugins[i].as_pre_filter() else { continue };
            let result = pf.pre_filter(&mut self.state, pod, &self.cache);
            if let Some(t) = trace.as_deref_mut() {
                t.pre_filter.push((profile.plugins[i].name(), prefilter_text(&result)));
            }
            match result {
                PreFilterResult::Proceed => {}
                PreFilterResult::Skip => self.filter_skip[i] = true,
                PreFilterResult::Nodes(mut ids) => {
                    ids.sort_unstable();
                    ids.dedup();
                    if narrowed_by.is_empty() {
                        self.allowed = ids;
                    } else {
                        self.allowed.retain(|id| ids.binary_search(id).is_ok());
                    }
                    narrowed_by.push(profile.plugins[i].name());
                    narrowing_mask |= 1 << i;
                }
                PreFilterResult::Reject(code, reason) => {
                    let blanket = Blanket { code, reason: reason.to_string() };
                    return self.fail(profile_idx, pod, 1 << i, Some(blanket), true, None, trace);
                }
            }
        }
        if !narrowed_by.is_empty() && self.allowed.is_empty() {
            let reason = if narrowed_by.len() == 1 {
                format!("node(s) didn't satisfy plugin {}", narrowed_by[0])
            } else {
                format!("node(s) didn't satisfy plugin(s) [{}] simultaneously", narrowed_by.join(" "))
            };
            let blanket = Blanket { code: Code::UnschedulableAndUnresolvable, reason };
            return self.fail(profile_idx, pod, narrowing_mask, Some(blanket), true, None, trace);
        }

        // ----- The nominated node first -----
        let filters = Filters::new(profile, &self.filter_skip, &self.nominator);
        if let Some(nn) = nominated
            && let Some(info) = self.cache.node(nn)
            && (narrowed_by.is_empty() || self.allowed.binary_search(&nn).is_ok())
        {
            let why = trace.is_some().then_some(&mut self.why);
            let (v, plugin) = filters.run_nominated(&self.state, pod, info, why);
            if let Some(t) = trace.as_deref_mut() {
                t.nominated_node = Some(record_verdict(profile, info, v, plugin, &mut self.why));
            }
            if v == Verdict::Pass {
                if let Some(t) = trace.as_deref_mut() {
                    t.feasible = 1;
                }
                return Outcome::Feasible(nn);
            }
        }

        // ----- A failure known from an earlier pod of the same template (see `FailMemo`) -----
        let memo_ok = narrowed_by.is_empty()
            && nominated.is_none()
            && self.nominator.is_empty()
            && !self.terse_failures
            && !profile.filter.is_empty()
            && filters.node_local;
        let filters_mask = filters.mask;
        let mut memo_k = None;
        if memo_ok && trace.is_none() {
            let template = &pod.spec.template;
            memo_k = self.memos.iter().position(|m| {
                m.profile == profile_idx && m.filters == filters_mask && Arc::ptr_eq(&m.template, template)
            });
            if memo_k.is_none() {
                // A template seen in one of the last few attempts gets a memo (a full filter pass once); a
                // template seen once keeps the ordinary, shorter filter loop.
                let key = Arc::as_ptr(template) as usize ^ profile_idx;
                if self.recent.contains(&key) {
                    memo_k = Some(memo_for(&mut self.memos, &mut self.memo_clock, profile_idx, template, filters_mask));
                } else {
                    self.recent[self.recent_next] = key;
                    self.recent_next = (self.recent_next + 1) % self.recent.len();
                }
            }
        }
        let mut memo_filtered = false;
        if let Some(k) = memo_k {
            self.memo_clock += 1;
            let memo = &mut self.memos[k];
            memo.last_use = self.memo_clock;
            memo.sync(&self.cache, &filters, &self.state, pod, &mut self.why);
            if memo.passing > 0 {
                // The filter loop, with the memo's verdicts for the pod's.
                let order = self.cache.order();
                let n = order.len();
                let to_find =
                    num_feasible_nodes_to_find(profile.percentage_of_nodes_to_score, n, !profile.score.is_empty());
                self.feasible.clear();
                self.statuses.clear();
                let start = self.next_start % n;
                let (feasible, statuses) = (&mut self.feasible, &mut self.statuses);
                let processed = walk_from(order, start, |node| match memo.nodes[node.index()].code {
                    None => {
                        feasible.push(node);
                        feasible.len() >= to_find
                    }
                    Some(code) => {
                        statuses.push(NodeStatus { node, code });
                        false
                    }
                });
                self.next_start = (start + processed) % n_all;
                memo_filtered = true;
            } else {
                // The filter loop would visit every node from the start index and find none; the start index
                // would come back to where it is.
                let order = self.cache.order();
                let start = self.next_start % order.len();
                self.feasible.clear();
                self.statuses.clear();
                let statuses = &mut self.statuses;
                walk_from(order, start, |node| {
                    let code = memo.nodes[node.index()].code.expect("no node passes");
                    statuses.push(NodeStatus { node, code });
                    false
                });
                let rejectors = memo.rejectors();
                let message = memo.message(n_all).to_owned();
                return self.fail(profile_idx, pod, rejectors, None, false, Some(message), trace);
            }
        }

        // ----- The filter loop -----
        let order: &[NodeId] = if narrowed_by.is_empty() { self.cache.order() } else { &self.allowed };
        let n = order.len();
        let to_find = num_feasible_nodes_to_find(profile.percentage_of_nodes_to_score, n, !profile.score.is_empty());
        if !memo_filtered {
            self.feasible.clear();
            self.statuses.clear();
        }
        let start = self.next_start % n;
        let mut rejectors = 0u64;
        if memo_filtered {
            // Done above.
        } else if profile.filter.is_empty() {
            // Upstream returns the first `to_find` nodes without touching the start index.
            self.feasible.extend((0..to_find.min(n)).map(|k| order[(start + k) % n]));
        } else {
            let (cache, state, why_buf) = (&self.cache, &self.state, &mut self.why);
            let (feasible, statuses) = (&mut self.feasible, &mut self.statuses);
            let processed = walk_from(order, start, |node_id| {
                let Some(info) = cache.node(node_id) else { return false };
                let why = trace.is_some().then_some(&mut *why_buf);
                let (v, plugin) = filters.run_nominated(state, pod, info, why);
                if let Some(t) = trace.as_deref_mut() {
                    t.nodes.push(record_verdict(profile, info, v, plugin, why_buf));
                }
                match v {
                    Verdict::Pass => {
                        feasible.push(node_id);
                        feasible.len() >= to_find
                    }
                    Verdict::Fail(code) => {
                        statuses.push(NodeStatus { node: node_id, code });
                        rejectors |= 1 << plugin;
                        false
                    }
                }
            });
            self.next_start = (start + processed) % n_all;
        }
        if let Some(t) = trace.as_deref_mut() {
            t.feasible = self.feasible.len();
        }
        if self.feasible.is_empty() {
            let blanket = (!narrowed_by.is_empty()).then(|| Blanket {
                code: Code::UnschedulableAndUnresolvable,
                reason: format!("node(s) didn't satisfy plugin(s) [{}]", narrowed_by.join(" ")),
            });
            // Every node was rejected: remember their verdicts for the next pod of this template, and take the
            // message from them (the same histogram as `fail` would count).
            let message = memo_ok.then(|| {
                let k = memo_for(&mut self.memos, &mut self.memo_clock, profile_idx, &pod.spec.template, filters_mask);
                let filters = Filters::new(&self.profiles[profile_idx], &self.filter_skip, &self.nominator);
                let memo = &mut self.memos[k];
                memo.sync(&self.cache, &filters, &self.state, pod, &mut self.why);
                memo.message(n_all).to_owned()
            });
            return self.fail(profile_idx, pod, rejectors | narrowing_mask, blanket, false, message, trace);
        }
        if self.feasible.len() == 1 {
            return Outcome::Feasible(self.feasible[0]);
        }

        // ----- PreScore, Score, NormalizeScore -----
        let nodes = NodeList { cache: &self.cache, ids: &self.feasible };
        for &i in &profile.pre_score {
            if let Some(ps) = profile.plugins[i].as_pre_score()
                && ps.pre_score(&mut self.state, pod, nodes) == PreResult::Skip
            {
                self.score_skip[i] = true;
            }
        }
        self.totals.clear();
        self.totals.resize(nodes.len(), 0);
        for &(i, weight) in &profile.score {
            if self.score_skip[i] {
                if let Some(t) = trace.as_deref_mut() {
                    t.scores.push(ScoreTrace::skipped(profile.plugins[i].name(), weight));
                }
                continue;
            }
            let Some(sc) = profile.plugins[i].as_score() else { continue };
            if trace.is_none() && sc.uniform(&self.state, pod, nodes) {
                continue;
            }
            self.raw.clear();
            sc.score_nodes(&self.state, pod, nodes, &mut self.raw);
            let raw_copy = trace.is_some().then(|| self.raw.clone());
            sc.normalize(&self.state, pod, &mut self.raw);
            for (t, s) in self.totals.iter_mut().zip(self.raw.iter()) {
                *t += s * weight;
            }
            if let Some(t) = trace.as_deref_mut() {
                t.scores.push(ScoreTrace {
                    plugin: profile.plugins[i].name(),
                    weight,
                    skipped: false,
                    raw: raw_copy.unwrap_or_default(),
                    normalized: self.raw.clone(),
                });
            }
        }

        // ----- selectHost: uniform among the top totals (reservoir sampling, seeded), or the lowest name -----
        let mut best = 0usize;
        match profile.tie_break {
            TieBreak::Random => {
                let mut ties = 1u64;
                for k in 1..self.totals.len() {
                    if self.totals[k] > self.totals[best] {
                        best = k;
                        ties = 1;
                    } else if self.totals[k] == self.totals[best] {
                        ties += 1;
                        if self.tiebreak.below(ties) == 0 {
                            best = k;
                        }
                    }
                }
            }
            TieBreak::LowestName => {
                let name = |k: usize| self.cache.node(self.feasible[k]).map(|n| &*n.node.name);
                for k in 1..self.totals.len() {
                    if self.totals[k] > self.totals[best]
                        || (self.totals[k] == self.totals[best] && name(k) < name(best))
                    {
                        best = k;
                    }
                }
            }
        }
        if let Some(t) = trace {
            t.scored = self.feasible.clone();
            t.totals = self.totals.clone();
        }
        Outcome::Feasible(self.feasible[best])
    }

    /// No node fits: build upstream's FitError message, then run the PostFilter plugins.
    ///
    /// `blanket` is the status of nodes without their own (all of them when `all` is set: a PreFilter
    /// rejection), else those outside a PreFilter narrowing.
    #[allow(clippy::too_many_arguments)]
    fn fail(
        &mut self,
        profile_idx: usize,
        pod: &PodCtx,
        rejectors: u64,
        blanket: Option<Blanket>,
        all: bool,
        known_message: Option<String>,
        trace: Option<&mut AttemptTrace>,
    ) -> Outcome {
        let n_all = self.cache.len();
        let profile = &self.profiles[profile_idx];
        let filters = Filters::new(profile, &self.filter_skip, &self.nominator);
        let mut message;
        if let Some(known) = known_message {
            message = known;
        } else if all {
            let b = blanket.as_ref().expect("a PreFilter rejection has a status");
            message = format!("0/{n_all} nodes are available: {}.", b.reason);
            self.statuses.clear();
            if b.code == Code::Unschedulable {
                // Every node may be helped by preemption.
                self.statuses.extend(self.cache.order().iter().map(|&node| NodeStatus { node, code: b.code }));
            }
        } else if self.terse_failures {
            message = format!("0/{n_all} nodes are available.");
        } else {
            // The histogram of every node's reasons: filters once more on the rejected nodes, collecting reasons.
            let mut histogram: BTreeMap<String, usize> = BTreeMap::new();
            for st in &self.statuses {
                let Some(info) = self.cache.node(st.node) else { continue };
                self.why.clear();
                filters.run_nominated(&self.state, pod, info, Some(&mut self.why));
                for reason in &self.why {
                    *histogram.entry(reason.to_string()).or_insert(0) += 1;
                }
            }
            if let Some(b) = &blanket {
                let absent = n_all.saturating_sub(self.statuses.len());
                if absent > 0 {
                    *histogram.entry(b.reason.clone()).or_insert(0) += absent;
                }
            }
            message = fit_error_message(n_all, histogram);
        }

        // PostFilter: in order until one succeeds or returns anything but Unschedulable.
        let mut post_messages: Vec<String> = Vec::new();
        let mut nominate = None;
        let mut env = PostFilterEnv {
            cache: &self.cache,
            state: &self.state,
            filters: &filters,
            pdbs: &self.pdbs,
            rng: &mut self.tiebreak,
        };
        for &i in &profile.post_filter {
            let Some(pf) = profile.plugins[i].as_post_filter() else { continue };
            match pf.post_filter(&mut env, pod, &self.statuses) {
                PostFilterResult::Nominate { node, victims } => {
                    post_messages.clear();
                    nominate = Some((node, victims));
                    break;
                }
                PostFilterResult::Unschedulable { code, message } => {
                    // Upstream: anything but Unschedulable ends PostFilter with that plugin's status alone.
                    if code != Code::Unschedulable {
                        post_messages.clear();
                    }
                    if !message.is_empty() {
                        post_messages.push(message);
                    }
                    if code != Code::Unschedulable {
                        break;
                    }
                }
            }
        }
        if !post_messages.is_empty() {
            message.push(' ');
            message.push_str(&post_messages.join(", "));
        }
        if let Some(t) = trace {
            t.post_filter = match &nominate {
                Some((node, victims)) => Some(format!(
                    "nominated {} after preempting {} pod(s)",
                    self.cache.node(*node).map(|n| &*n.node.name).unwrap_or("?"),
                    victims.len()
                )),
                None if !post_messages.is_empty() => Some(post_messages.join(", ")),
                None => None,
            };
        }
        Outcome::Failed(Failure { message, rejectors, nominate })
    }

    /// Nodes the scheduler may use, in node-tree order.
    pub fn order(&self) -> &[NodeId] {
        self.cache.order()
    }
}

/// Visits `order[(start + k) % n]` for k = 0.. (upstream's round-robin filter walk, without a division per node)
/// until `visit` returns true or every node was visited; returns how many were visited.
#[inline]
fn walk_from(order: &[NodeId], start: usize, mut visit: impl FnMut(NodeId) -> bool) -> usize {
    let (head, tail) = order.split_at(start);
    for (k, &node) in tail.iter().chain(head).enumerate() {
        if visit(node) {
            return k + 1;
        }
    }
    order.len()
}

/// The memo of `template` (created empty, replacing the least recently used one if need be), marked used.
fn memo_for(
    memos: &mut Vec<FailMemo>,
    clock: &mut u64,
    profile: usize,
    template: &Arc<PodTemplate>,
    filters: u64,
) -> usize {
    *clock += 1;
    let found =
        memos.iter().position(|m| m.profile == profile && m.filters == filters && Arc::ptr_eq(&m.template, template));
    let k = match found {
        Some(k) => k,
        None if memos.len() < FAIL_MEMOS => {
            memos.push(FailMemo {
                template: template.clone(),
                profile,
                filters,
                epoch: u64::MAX,
                order_version: 0,
                synced_clock: None,
                last_use: 0,
                nodes: Vec::new(),
                lists: Vec::new(),
                by_plugin: [0; MAX_PLUGINS],
                passing: 0,
                message: None,
            });
            memos.len() - 1
        }
        None => {
            let k = (0..memos.len()).min_by_key(|&k| memos[k].last_use).expect("memos are full");
            let m = &mut memos[k];
            m.template = template.clone();
            m.profile = profile;
            m.filters = filters;
            m.clear(u64::MAX, 0);
            k
        }
    };
    memos[k].last_use = *clock;
    k
}

fn prefilter_text(r: &PreFilterResult) -> String {
    match r {
        PreFilterResult::Proceed => "proceed".into(),
        PreFilterResult::Skip => "skip".into(),
        PreFilterResult::Nodes(ids) => format!("{} node(s)", ids.len()),
        PreFilterResult::Reject(code, reason) => format!("{code:?}: {reason}"),
    }
}

fn record_verdict(profile: &Profile, info: &NodeInfo, v: Verdict, plugin: usize, why: &mut Vec<Reason>) -> NodeVerdict {
    let verdict = NodeVerdict {
        node: info.node.name.clone(),
        code: match v {
            Verdict::Pass => None,
            Verdict::Fail(c) => Some(c),
        },
        plugin: profile.plugins.get(plugin).map(|p| p.name()),
        reasons: why.iter().map(|r| r.to_string()).collect(),
    };
    why.clear();
    verdict
}
