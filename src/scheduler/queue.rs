//! The scheduling queue: activeQ in PrioritySort order, backoff, and the unschedulable pods.
//!
//! Membership lives in each pod's [`QueueState`] with a generation number; heap entries and backoff timers
//! that no longer match the pod's generation are stale and skipped, so moving a pod never searches a heap.

use crate::model::PodId;
use crate::time::SimTime;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};

/// Where a pod is in the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueState {
    /// Not queued: bound, assumed, or in a scheduling cycle.
    None,
    Active,
    /// Waiting for its backoff timer.
    Backoff,
    /// Parked until a cluster event or the periodic flush; the key orders the unschedulable set.
    Unschedulable(u64),
}

/// activeQ entry: PrioritySort (higher priority first, then earlier queue timestamp), then FIFO.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ActiveEntry {
    priority: i32,
    timestamp: SimTime,
    seq: u64,
    generation: u32,
    pod: PodId,
}

impl Ord for ActiveEntry {
    fn cmp(&self, other: &Self) -> Ordering {
        self.priority
            .cmp(&other.priority)
            .then_with(|| other.timestamp.cmp(&self.timestamp))
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

impl PartialOrd for ActiveEntry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Queue bookkeeping; per-pod state lives in the scheduler's pod records.
#[derive(Default)]
pub struct SchedulingQueue {
    active: BinaryHeap<ActiveEntry>,
    unschedulable: BTreeMap<u64, PodId>,
    seq: u64,
}

impl SchedulingQueue {
    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Pushes a pod into activeQ with its current generation.
    pub fn push_active(&mut self, pod: PodId, priority: i32, timestamp: SimTime, generation: u32) {
        let seq = self.next_seq();
        self.active.push(ActiveEntry { priority, timestamp, seq, generation, pod });
    }

    /// Pops the best activeQ entry whose generation is still current according to `current`.
    pub fn pop_active(&mut self, mut current: impl FnMut(PodId, u32) -> bool) -> Option<PodId> {
        while let Some(e) = self.active.pop() {
            if current(e.pod, e.generation) {
                return Some(e.pod);
            }
        }
        None
    }

    /// Parks a pod in the unschedulable set; returns its key.
    pub fn park(&mut self, pod: PodId) -> u64 {
        let key = self.next_seq();
        self.unschedulable.insert(key, pod);
        key
    }

    pub fn unpark(&mut self, key: u64) {
        self.unschedulable.remove(&key);
    }

    /// Takes every parked pod, in the order they were parked.
    pub fn take_unschedulable(&mut self) -> Vec<PodId> {
        std::mem::take(&mut self.unschedulable).into_values().collect()
    }

    /// Parked pods in order (for the periodic flush, which moves only the old ones).
    pub fn unschedulable(&self) -> impl Iterator<Item = (u64, PodId)> + '_ {
        self.unschedulable.iter().map(|(k, p)| (*k, *p))
    }

    pub fn unschedulable_len(&self) -> usize {
        self.unschedulable.len()
    }

    /// Heap entries, stale ones included (statistics).
    pub fn active_entries(&self) -> usize {
        self.active.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slotmap::SlotMap;

    #[test]
    fn priority_then_timestamp_then_fifo() {
        let mut keys = SlotMap::<PodId, ()>::with_key();
        let (a, b, c, d) = (keys.insert(()), keys.insert(()), keys.insert(()), keys.insert(()));
        let mut q = SchedulingQueue::default();
        q.push_active(a, 0, SimTime(5), 0);
        q.push_active(b, 10, SimTime(9), 0);
        q.push_active(c, 0, SimTime(1), 0);
        q.push_active(d, 0, SimTime(5), 0);
        let order: Vec<PodId> = std::iter::from_fn(|| q.pop_active(|_, _| true)).collect();
        assert_eq!(order, vec![b, c, a, d]);
    }

    #[test]
    fn stale_entries_are_skipped() {
        let mut keys = SlotMap::<PodId, ()>::with_key();
        let a = keys.insert(());
        let mut q = SchedulingQueue::default();
        q.push_active(a, 0, SimTime(1), 1);
        q.push_active(a, 0, SimTime(1), 2);
        assert_eq!(q.pop_active(|_, g| g == 2), Some(a));
        assert_eq!(q.pop_active(|_, g| g == 2), None);
    }
}
