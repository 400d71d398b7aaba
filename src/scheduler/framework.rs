//! The scheduling framework: extension points as in kube-scheduler, one small trait each.
//!
//! A plugin is one type implementing [`Plugin`] plus the extension-point traits it needs, and tells the
//! framework which ones through the `as_*` accessors (the Rust form of Go's interface assertions). Profiles
//! hold plugins in registry order and run each extension point's plugins in that order.
//!
//! Hot-path rule: `filter` and `score` run once per (pod, node) and must not allocate. A filter therefore
//! returns only a [`Verdict`]; the human-readable reasons are written into the optional `why` buffer, which the
//! framework passes only when it needs them (an unschedulable pod's message, or `--explain`).

use super::cache::{Cache, NodeInfo};
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
}

/// Result of a PreFilter or PreScore call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PreResult {
    Proceed,
    /// The plugin has nothing to check (or score) for this pod: its Filter (Score) is skipped.
    Skip,
}

/// Per-cycle scratchpad shared by a profile's plugins (upstream `CycleState`).
///
/// Slots are keyed by type and reused across cycles, so after warm-up a cycle allocates nothing: a plugin
/// calls [`CycleState::slot`] in PreFilter/PreScore, resets and fills its own state type, and reads it back
/// with [`CycleState::get`] in Filter/Score.
#[derive(Default)]
pub struct CycleState {
    slots: Vec<(TypeId, Box<dyn Any>)>,
}

impl CycleState {
    /// The slot of type `T`, created with `T::default()` the first time. The caller resets it as needed.
    pub fn slot<T: Any + Default>(&mut self) -> &mut T {
        let id = TypeId::of::<T>();
        let idx = match self.slots.iter().position(|(t, _)| *t == id) {
            Some(i) => i,
            None => {
                self.slots.push((id, Box::new(T::default())));
                self.slots.len() - 1
            }
        };
        self.slots[idx].1.downcast_mut::<T>().expect("slot type matches its TypeId")
    }

    /// The slot of type `T`, if a plugin created it.
    pub fn get<T: Any>(&self) -> Option<&T> {
        let id = TypeId::of::<T>();
        self.slots.iter().find(|(t, _)| *t == id).and_then(|(_, b)| b.downcast_ref::<T>())
    }
}

/// Every plugin: a name and the extension points it implements.
pub trait Plugin {
    fn name(&self) -> &'static str;
    fn as_pre_filter(&self) -> Option<&dyn PreFilter> {
        None
    }
    fn as_filter(&self) -> Option<&dyn Filter> {
        None
    }
    fn as_pre_score(&self) -> Option<&dyn PreScore> {
        None
    }
    fn as_score(&self) -> Option<&dyn Score> {
        None
    }
}

/// PreFilter: per-pod preparation before any node is filtered. May skip the plugin's Filter.
pub trait PreFilter {
    fn pre_filter(&self, state: &mut CycleState, pod: &PodCtx) -> PreResult;
}

/// Filter: can the pod run on this node? Writes its reasons into `why` when asked.
pub trait Filter {
    fn filter(&self, state: &CycleState, pod: &PodCtx, node: &NodeInfo, why: Option<&mut Vec<Reason>>) -> Verdict;
}

/// A list of nodes (the feasible ones) viewed through the cache, without allocating.
#[derive(Clone, Copy)]
pub struct NodeList<'a> {
    pub cache: &'a Cache,
    pub ids: &'a [NodeId],
}

impl<'a> NodeList<'a> {
    pub fn iter(&self) -> impl Iterator<Item = &'a NodeInfo> + 'a {
        let cache = self.cache;
        self.ids.iter().filter_map(move |id| cache.node(*id))
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
    /// Rescales the raw scores of all feasible nodes into `0..=MAX_NODE_SCORE`. Default: none needed.
    fn normalize(&self, _state: &CycleState, _pod: &PodCtx, _scores: &mut [i64]) {}
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
        #[derive(Default)]
        struct A(u32);
        #[derive(Default)]
        struct B(&'static str);
        let mut cs = CycleState::default();
        cs.slot::<A>().0 = 7;
        cs.slot::<B>().0 = "x";
        assert_eq!(cs.get::<A>().map(|a| a.0), Some(7));
        assert_eq!(cs.get::<B>().map(|b| b.0), Some("x"));
        cs.slot::<A>().0 += 1;
        assert_eq!(cs.get::<A>().map(|a| a.0), Some(8));
        assert!(cs.get::<u64>().is_none());
    }
}
