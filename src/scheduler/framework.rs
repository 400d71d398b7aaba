//! The scheduling framework: extension points as in kube-scheduler, one small trait each.
//!
//! A plugin is one type implementing [`Plugin`] plus the extension-point traits it needs, and tells the
//! framework which ones through the `as_*` accessors (the Rust form of Go's interface assertions). Profiles
//! hold plugins in registry order and run each extension point's plugins in that order.
//!
//! Hot-path rule: `filter` and `score` run once per (pod, node) and must not allocate. A filter therefore
//! returns only a [`Verdict`]; the human-readable reasons are written into the optional `why` buffer, which the
//! framework passes only when it needs them (an unschedulable pod's message, or `--explain`).

use super::cache::{Cache, NodeInfo, PodEntry};
use crate::model::{NodeId, PodId, PodSpec, Str};
use std::any::{Any, TypeId};
use std::fmt;

/// Highest score a plugin may give after normalization (`framework.MaxNodeScore`).
pub const MAX_NODE_SCORE: i64 = 100;

/// Why a node was rejected, at the granularity of upstream status codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Code {
    /// The node might fit after preemption or a cluster change.
    Unschedulable,
    /// Preemption cannot help on this node.
    UnschedulableAndUnresolvable,
    /// Internal error.
    Error,
}

/// A filter's answer for one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail(Code),
}

/// A resource named in an `Insufficient <resource>` reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResourceName {
    Cpu,
    Memory,
    EphemeralStorage,
    Scalar(Str),
}

/// One reason string of a node status, kept structured until displayed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    Text(&'static str),
    Insufficient(ResourceName),
    UntoleratedTaint { key: Str, value: Str },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Text(t) => f.write_str(t),
            Reason::Insufficient(ResourceName::Cpu) => f.write_str("Insufficient cpu"),
            Reason::Insufficient(ResourceName::Memory) => f.write_str("Insufficient memory"),
            Reason::Insufficient(ResourceName::EphemeralStorage) => f.write_str("Insufficient ephemeral-storage"),
            Reason::Insufficient(ResourceName::Scalar(name)) => write!(f, "Insufficient {name}"),
            // v1.34 wording (the generic "untolerated taint(s)" arrived in v1.35, PR #134740).
            Reason::UntoleratedTaint { key, value } => write!(f, "node(s) had untolerated taint {{{key}: {value}}}"),
        }
    }
}

/// The pod being scheduled, as plugins see it.
pub struct PodCtx<'a> {
    pub id: PodId,
    pub spec: &'a PodSpec,
    /// `status.nominatedNodeName`: where an earlier preemption made room for it.
    pub nominated: Option<NodeId>,
}

impl<'a> PodCtx<'a> {
    pub fn new(id: PodId, spec: &'a PodSpec) -> PodCtx<'a> {
        PodCtx { id, spec, nominated: None }
    }
}

/// Result of a PreScore call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PreResult {
    Proceed,
    /// The plugin has nothing to score for this pod: its Score is skipped.
    Skip,
}

/// Result of a PreFilter call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PreFilterResult {
    Proceed,
    /// The plugin has nothing to check for this pod: its Filter is skipped.
    Skip,
    /// Only these nodes can fit (upstream `PreFilterResult.NodeNames`, e.g. `matchFields metadata.name`): the
    /// others are rejected without running filters. Results of several plugins intersect.
    Nodes(Vec<NodeId>),
    /// No node can fit: every node gets this status (upstream's `PreFilterMsg`).
    Reject(Code, Reason),
}

/// Per-cycle state a plugin keeps in the [`CycleState`]. Any `Clone` type qualifies: preemption clones the
/// whole cycle state for each dry run (upstream `StateData.Clone`).
pub trait StateData: Any {
    fn clone_box(&self) -> Box<dyn StateData>;
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<T: Any + Clone> StateData for T {
    fn clone_box(&self) -> Box<dyn StateData> {
        Box::new(self.clone())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// Per-cycle scratchpad shared by a profile's plugins (upstream `CycleState`).
///
/// Slots are keyed by type and reused across cycles, so after warm-up a cycle allocates nothing: a plugin
/// calls [`CycleState::slot`] in PreFilter/PreScore, resets and fills its own state type, and reads it back
/// with [`CycleState::get`] in Filter/Score. A slot keeps its last contents between cycles: a plugin must
/// reset it in PreFilter/PreScore before use, and must not read a slot its PreFilter did not fill this cycle.
#[derive(Default)]
pub struct CycleState {
    slots: Vec<(TypeId, Box<dyn StateData>)>,
}

impl Clone for CycleState {
    fn clone(&self) -> Self {
        CycleState { slots: self.slots.iter().map(|(t, b)| (*t, (**b).clone_box())).collect() }
    }
}

impl CycleState {
    /// The slot of type `T`, created with `T::default()` the first time. The caller resets it as needed.
    pub fn slot<T: StateData + Default>(&mut self) -> &mut T {
        let id = TypeId::of::<T>();
        let idx = match self.slots.iter().position(|(t, _)| *t == id) {
            Some(i) => i,
            None => {
                self.slots.push((id, Box::new(T::default())));
                self.slots.len() - 1
            }
        };
        (*self.slots[idx].1).as_any_mut().downcast_mut::<T>().expect("slot type matches its TypeId")
    }

    /// The slot of type `T`, if a plugin created it.
    pub fn get<T: Any>(&self) -> Option<&T> {
        let id = TypeId::of::<T>();
        self.slots.iter().find(|(t, _)| *t == id).and_then(|(_, b)| (**b).as_any().downcast_ref::<T>())
    }

    /// The slot of type `T` for in-place updates (PreFilter extensions), if a plugin created it.
    pub fn get_mut<T: Any>(&mut self) -> Option<&mut T> {
        let id = TypeId::of::<T>();
        self.slots.iter_mut().find(|(t, _)| *t == id).and_then(|(_, b)| (**b).as_any_mut().downcast_mut::<T>())
    }
}

/// Every plugin: a name and the extension points it implements.
pub trait Plugin {
    fn name(&self) -> &'static str;
    fn as_queue_sort(&self) -> Option<&dyn QueueSort> {
        None
    }
    fn as_pre_filter(&self) -> Option<&dyn PreFilter> {
        None
    }
    fn as_filter(&self) -> Option<&dyn Filter> {
        None
    }
    fn as_post_filter(&self) -> Option<&dyn PostFilter> {
        None
    }
    fn as_pre_score(&self) -> Option<&dyn PreScore> {
        None
    }
    fn as_score(&self) -> Option<&dyn Score> {
        None
    }
    fn as_reserve(&self) -> Option<&dyn Reserve> {
        None
    }
    fn as_bind(&self) -> Option<&dyn Bind> {
        None
    }
    /// Upstream `EventsToRegister`: the kinds of [`ClusterEvent`] (bits of [`event_kind`]) that may make a pod
    /// this plugin rejected schedulable. Events of other kinds never wake such a pod. Default: all.
    fn events_to_register(&self) -> u8 {
        event_kind::ALL
    }
    /// Upstream `QueueingHintFn`: after this plugin rejected `pod`, could `event` (of a registered kind) make it
    /// schedulable? The default is conservative (always requeue), as upstream for plugins without hints.
    fn queueing_hint(&self, _pod: &PodSpec, _event: &ClusterEvent) -> QueueingHint {
        QueueingHint::Queue
    }
}

/// QueueSort: the order of activeQ. Pods compare by the key (higher first), then by queue timestamp (earlier
/// first), then by arrival in the queue.
pub trait QueueSort {
    fn key(&self, pod: &PodSpec) -> i64;
}

/// PreFilter: per-pod preparation before any node is filtered, with the whole cache in view.
///
/// Contract: Filter sees one [`NodeInfo`] and the cycle state only. Anything a filter needs from other nodes
/// (topology counts, existing pods' anti-affinity) is computed here into the plugin's state slot and kept
/// current by `add_pod`/`remove_pod`, which is what lets preemption and nominated pods run filters against
/// hypothetical nodes.
pub trait PreFilter {
    fn pre_filter(&self, state: &mut CycleState, pod: &PodCtx, cache: &Cache) -> PreFilterResult;
    /// Upstream `PreFilterExtensions.AddPod`: `other` is assumed on `node` (preemption dry runs and nominated
    /// pods); update the cycle state this plugin computed in PreFilter. Default: nothing to update.
    /// `node` is the node *after* the change, as upstream.
    fn add_pod(&self, _state: &mut CycleState, _pod: &PodCtx, _other: &PodEntry, _node: &NodeInfo) {}
    /// Upstream `PreFilterExtensions.RemovePod`: `other` was taken away from `node` (the node after the change).
    fn remove_pod(&self, _state: &mut CycleState, _pod: &PodCtx, _other: &PodEntry, _node: &NodeInfo) {}
}

/// Filter: can the pod run on this node? Writes its reasons into `why` when asked.
pub trait Filter {
    fn filter(&self, state: &CycleState, pod: &PodCtx, node: &NodeInfo, why: Option<&mut Vec<Reason>>) -> Verdict;
    /// Whether the verdict and reasons depend on nothing but the pod's template, the one node's [`NodeInfo`]
    /// and the plugin's configuration (not on other nodes, nor on cycle state computed from the cluster). When
    /// every active filter of an attempt says so, the scheduler may reuse a verdict it computed for a pod of the
    /// same template against the same, unchanged node (see `cycle::FailMemo`). Default: false.
    fn node_local(&self) -> bool {
        false
    }
}

/// How a node fared in filtering: its code and the plugin that rejected it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeStatus {
    pub node: NodeId,
    pub code: Code,
}

/// What PostFilter may use: the cluster as the scheduler sees it and the profile's filters, to try
/// hypothetical nodes (upstream's framework handle).
pub struct PostFilterEnv<'a> {
    pub cache: &'a Cache,
    /// The state PreFilter computed for this pod; clone it before changing it.
    pub state: &'a CycleState,
    pub filters: &'a dyn FilterRunner,
    /// PodDisruptionBudgets the scheduler watches.
    pub pdbs: &'a [std::sync::Arc<crate::model::PodDisruptionBudget>],
    /// The scheduler's tie-break stream (e.g. preemption's random offset).
    pub rng: &'a mut crate::rng::SimRng,
}

/// Runs a profile's filter plugins on a (possibly hypothetical) node, and their PreFilter extensions.
pub trait FilterRunner {
    /// Every filter plugin in order, stopping at the first rejection; reasons go to `why` if given. Pods
    /// nominated to the node with at least the pod's priority count as present (upstream
    /// `RunFilterPluginsWithNominatedPods`).
    fn run(&self, state: &CycleState, pod: &PodCtx, node: &NodeInfo, why: Option<&mut Vec<Reason>>) -> Verdict;
    /// Every PreFilter plugin's `add_pod`.
    fn add_pod(&self, state: &mut CycleState, pod: &PodCtx, other: &PodEntry, node: &NodeInfo);
    /// Every PreFilter plugin's `remove_pod`.
    fn remove_pod(&self, state: &mut CycleState, pod: &PodCtx, other: &PodEntry, node: &NodeInfo);
}

/// Result of a PostFilter call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PostFilterResult {
    /// Make room on `node` by deleting `victims`; the pod is nominated there and retried.
    Nominate { node: NodeId, victims: Vec<PodId> },
    /// The plugin could not help. `message` joins the pod's FitError (e.g. `preemption: 0/3 nodes are
    /// available: ...`); `code` Unschedulable lets the next PostFilter plugin try, anything else stops.
    Unschedulable { code: Code, message: String },
}

/// PostFilter: runs when no node is feasible (upstream DefaultPreemption lives here).
pub trait PostFilter {
    fn post_filter(&self, env: &mut PostFilterEnv, pod: &PodCtx, statuses: &[NodeStatus]) -> PostFilterResult;
}

/// A list of nodes (the feasible ones) viewed through the cache, without allocating.
#[derive(Clone, Copy)]
pub struct NodeList<'a> {
    pub cache: &'a Cache,
    pub ids: &'a [NodeId],
}

impl<'a> NodeList<'a> {
    /// The nodes, in order. Every id must be in the cache (feasible nodes are): the exact length lets
    /// `Vec::extend` skip its per-element capacity checks in the score loops.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &'a NodeInfo> + 'a {
        let cache = self.cache;
        self.ids.iter().map(move |id| cache.node(*id).expect("a listed node is in the cache"))
    }
    pub fn len(&self) -> usize {
        self.ids.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// PreScore: per-pod preparation before scoring the feasible nodes. May skip the plugin's Score.
pub trait PreScore {
    fn pre_score(&self, state: &mut CycleState, pod: &PodCtx, feasible: NodeList) -> PreResult;
}

/// Score: how much the plugin likes the node (0..=100 after [`Score::normalize`]).
pub trait Score {
    fn score(&self, state: &CycleState, pod: &PodCtx, node: &NodeInfo) -> i64;
    /// Scores every node of `nodes`, in order, appending to `out`. The default calls [`Score::score`] per node;
    /// a plugin with cycle state overrides it to look its state up once rather than per node. Both must agree
    /// (the plugin test fixtures check it).
    fn score_nodes(&self, state: &CycleState, pod: &PodCtx, nodes: NodeList, out: &mut Vec<i64>) {
        out.extend(nodes.iter().map(|n| self.score(state, pod, n)));
    }
    /// Rescales the raw scores of all feasible nodes into `0..=MAX_NODE_SCORE`. Default: none needed.
    fn normalize(&self, _state: &CycleState, _pod: &PodCtx, _scores: &mut [i64]) {}
    /// True when, after PreScore, every node in the cache is known to get the same normalized score. Such a
    /// plugin adds the same amount to every node's total, which changes neither the best total nor its ties, so
    /// the cycle skips its Score and NormalizeScore unless it keeps a trace (which shows every plugin's scores).
    /// Default: false.
    fn uniform(&self, _state: &CycleState, _pod: &PodCtx, _nodes: NodeList) -> bool {
        false
    }
}

/// Reserve: the pod is assumed on `node`; a plugin keeping its own state reserves it here. A failure unreserves
/// every plugin and fails the cycle.
pub trait Reserve {
    fn reserve(&self, state: &mut CycleState, pod: &PodCtx, node: NodeId, cache: &Cache) -> Result<(), Reason>;
    fn unreserve(&self, _state: &mut CycleState, _pod: &PodCtx, _node: NodeId) {}
}

/// How a pod is bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binding {
    /// A `pods/binding` request to the apiserver (DefaultBinder).
    Api,
}

/// Bind: bind the pod to its node. The first Bind plugin of a profile binds.
pub trait Bind {
    fn bind(&self, pod: &PodCtx, node: NodeId) -> Binding;
}

/// Bits naming the kinds of [`ClusterEvent`].
pub mod event_kind {
    pub const NODE_ADD: u8 = 1;
    pub const NODE_UPDATE: u8 = 2;
    pub const POD_ADD: u8 = 4;
    pub const POD_DELETE: u8 = 8;
    pub const ALL: u8 = NODE_ADD | NODE_UPDATE | POD_ADD | POD_DELETE;
}

impl ClusterEvent<'_> {
    /// This event's bit in [`event_kind`].
    pub fn kind(&self) -> u8 {
        match self {
            ClusterEvent::NodeAdd(_) => event_kind::NODE_ADD,
            ClusterEvent::NodeUpdate { .. } => event_kind::NODE_UPDATE,
            ClusterEvent::AssignedPodAdd { .. } => event_kind::POD_ADD,
            ClusterEvent::AssignedPodDelete { .. } => event_kind::POD_DELETE,
        }
    }
}

/// A change in the cluster that may make an unschedulable pod schedulable (upstream `ClusterEvent`).
pub enum ClusterEvent<'a> {
    NodeAdd(&'a NodeInfo),
    /// A node's scheduling properties changed: `spec.unschedulable`, allocatable, labels, taints or the Ready
    /// condition (heartbeats alone are no event).
    NodeUpdate {
        old: &'a crate::model::Node,
        new: &'a NodeInfo,
    },
    /// A pod was bound or assumed on a node (`node` includes it).
    AssignedPodAdd {
        pod: &'a PodSpec,
        node: &'a NodeInfo,
    },
    /// A pod left a node (deleted or finished): its resources and its effect on (anti-)affinity are gone
    /// (`node` no longer includes it).
    AssignedPodDelete {
        pod: &'a PodSpec,
        node: &'a NodeInfo,
    },
}

/// A plugin's answer to a [`ClusterEvent`] for a pod it rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueingHint {
    /// The event may help: retry the pod (after its back-off).
    Queue,
    /// The event cannot help this pod.
    Skip,
}

/// Upstream `FitError.Error` without PreFilter/PostFilter parts: `0/N nodes are available: ` and the
/// histogram of reasons as `"<count> <reason>"`, sorted as plain strings (so `10 ...` sorts before `2 ...`),
/// joined by `, `, then a period.
pub fn fit_error_message(num_all_nodes: usize, histogram: std::collections::BTreeMap<String, usize>) -> String {
    let mut items: Vec<String> = histogram.into_iter().map(|(r, c)| format!("{c} {r}")).collect();
    items.sort();
    format!("0/{num_all_nodes} nodes are available: {}.", items.join(", "))
}

/// Upstream `helper.DefaultNormalizeScore`: scale so the maximum becomes `max_priority`, optionally reversed.
pub fn default_normalize_score(max_priority: i64, reverse: bool, scores: &mut [i64]) {
    let max = scores.iter().copied().max().unwrap_or(0);
    if max == 0 {
        if reverse {
            scores.iter_mut().for_each(|s| *s = max_priority);
        }
        return;
    }
    for s in scores.iter_mut() {
        *s = max_priority * *s / max;
        if reverse {
            *s = max_priority - *s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_normalize_table() {
        let mut s = vec![0, 5, 10];
        default_normalize_score(100, false, &mut s);
        assert_eq!(s, vec![0, 50, 100]);
        let mut s = vec![0, 5, 10];
        default_normalize_score(100, true, &mut s);
        assert_eq!(s, vec![100, 50, 0]);
        let mut s = vec![0, 0];
        default_normalize_score(100, true, &mut s);
        assert_eq!(s, vec![100, 100]);
        let mut s = vec![0, 0];
        default_normalize_score(100, false, &mut s);
        assert_eq!(s, vec![0, 0]);
        let mut s = vec![1, 3];
        default_normalize_score(100, false, &mut s);
        assert_eq!(s, vec![33, 100]);
    }

    #[test]
    fn cycle_state_slots_are_typed_and_reused() {
        #[derive(Clone, Default)]
        struct A(u32);
        #[derive(Clone, Default)]
        struct B(&'static str);
        let mut cs = CycleState::default();
        cs.slot::<A>().0 = 7;
        cs.slot::<B>().0 = "x";
        assert_eq!(cs.get::<A>().map(|a| a.0), Some(7));
        assert_eq!(cs.get::<B>().map(|b| b.0), Some("x"));
        cs.slot::<A>().0 += 1;
        assert_eq!(cs.get::<A>().map(|a| a.0), Some(8));
        assert!(cs.get::<u64>().is_none());
        // Clones are deep: preemption's dry runs change a copy.
        let mut copy = cs.clone();
        copy.slot::<A>().0 = 100;
        assert_eq!(cs.get::<A>().map(|a| a.0), Some(8));
        assert_eq!(copy.get::<A>().map(|a| a.0), Some(100));
    }
}
