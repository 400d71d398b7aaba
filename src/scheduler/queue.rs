//! The scheduling queue (upstream `PriorityQueue`): activeQ in QueueSort order, two backoff queues, and the
//! unschedulable pods.
//!
//! - **activeQ**: the QueueSort key (PrioritySort: priority, higher first), then the queue timestamp (earlier
//!   first), then arrival in the queue (upstream leaves exact ties to heap order; kubesim needs determinism).
//! - **backoffQ** (pods rejected by plugins) and **errorBackoffQ** (errors such as a failed binding): ordered by
//!   release time, then as activeQ. Upstream v1.34 (SchedulerPopFromBackoffQ, beta, on) aligns backoff to whole
//!   seconds: a pod is released at the first whole second strictly after `truncate(timestamp + backoff, 1s)`,
//!   and, when activeQ is empty, the head of backoffQ (not errorBackoffQ) is popped before its time.
//! - **unschedulable**: parked until a cluster event a rejecting plugin cares about, or for at most 5 minutes.
//!
//! Membership lives in each pod's [`QueueState`] with a generation number; heap entries that no longer match
//! the pod's generation are stale and skipped, so moving a pod never searches a heap.

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
    /// Waiting in backoffQ (or errorBackoffQ) until its release time.
    Backoff,
    /// Parked until a cluster event or the periodic flush; the key orders the unschedulable set.
    Unschedulable(u64),
}

/// The order of activeQ: QueueSort key (higher first), then timestamp (earlier first), then FIFO.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Rank {
    key: i64,
    timestamp: SimTime,
    seq: u64,
}

impl Ord for Rank {
    /// Greater = pops first.
    fn cmp(&self, other: &Self) -> Ordering {
        self.key
            .cmp(&other.key)
            .then_with(|| other.timestamp.cmp(&self.timestamp))
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

impl PartialOrd for Rank {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ActiveEntry {
    rank: Rank,
    generation: u32,
    pod: PodId,
}

impl Ord for ActiveEntry {
    fn cmp(&self, other: &Self) -> Ordering {
        self.rank.cmp(&other.rank)
    }
}

impl PartialOrd for ActiveEntry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A backoff entry: earliest release first, then activeQ order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct BackoffEntry {
    release: SimTime,
    rank: Rank,
    generation: u32,
    pod: PodId,
}

impl Ord for BackoffEntry {
    /// Greater = pops first (the heap is a max-heap).
    fn cmp(&self, other: &Self) -> Ordering {
        other.release.cmp(&self.release).then_with(|| self.rank.cmp(&other.rank))
    }
}

impl PartialOrd for BackoffEntry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Queue bookkeeping; per-pod state lives in the scheduler's pod records.
#[derive(Default)]
pub struct SchedulingQueue {
    active: BinaryHeap<ActiveEntry>,
    backoff: BinaryHeap<BackoffEntry>,
    error_backoff: BinaryHeap<BackoffEntry>,
    unschedulable: BTreeMap<u64, PodId>,
    seq: u64,
}

impl SchedulingQueue {
    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Pushes a pod into activeQ with its current generation.
    pub fn push_active(&mut self, pod: PodId, key: i64, timestamp: SimTime, generation: u32) {
        let rank = Rank { key, timestamp, seq: self.next_seq() };
        self.active.push(ActiveEntry { rank, generation, pod });
    }

    /// Pushes a pod into backoffQ (`error`: errorBackoffQ) until `release`.
    pub fn push_backoff(
        &mut self,
        pod: PodId,
        release: SimTime,
        key: i64,
        timestamp: SimTime,
        generation: u32,
        error: bool,
    ) {
        let rank = Rank { key, timestamp, seq: self.next_seq() };
        let e = BackoffEntry { release, rank, generation, pod };
        if error { self.error_backoff.push(e) } else { self.backoff.push(e) }
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

    /// PopFromBackoffQ: the head of backoffQ (not errorBackoffQ), whatever its release time.
    pub fn pop_backoff(&mut self, mut current: impl FnMut(PodId, u32) -> bool) -> Option<PodId> {
        while let Some(e) = self.backoff.pop() {
            if current(e.pod, e.generation) {
                return Some(e.pod);
            }
        }
        None
    }

    /// Takes every current entry of both backoff queues released at or before `now` (in release order,
    /// backoffQ first), appending them to `out`.
    pub fn release_due(&mut self, now: SimTime, mut current: impl FnMut(PodId, u32) -> bool, out: &mut Vec<PodId>) {
        for heap in [&mut self.backoff, &mut self.error_backoff] {
            while let Some(e) = heap.peek() {
                if e.release > now {
                    break;
                }
                let e = heap.pop().expect("peeked");
                if current(e.pod, e.generation) {
                    out.push(e.pod);
                }
            }
        }
    }

    /// The earliest release time in either backoff queue (stale entries included: a wake-up may find nothing).
    pub fn next_release(&self) -> Option<SimTime> {
        let a = self.backoff.peek().map(|e| e.release);
        let b = self.error_backoff.peek().map(|e| e.release);
        match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
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

    /// Parked pods in the order they were parked.
    pub fn unschedulable(&self) -> impl Iterator<Item = (u64, PodId)> + '_ {
        self.unschedulable.iter().map(|(k, p)| (*k, *p))
    }

    pub fn unschedulable_len(&self) -> usize {
        self.unschedulable.len()
    }

    /// Heap entries of activeQ, stale ones included.
    pub fn active_entries(&self) -> usize {
        self.active.len()
    }

    /// Heap entries of backoffQ (not errorBackoffQ), stale ones included.
    pub fn backoff_entries(&self) -> usize {
        self.backoff.len()
    }
}

/// Upstream's backoff window: the release time of a pod whose backoff started at `timestamp` and lasts
/// `backoff` is the first whole second strictly after `truncate(timestamp + backoff, 1s)`.
pub fn backoff_release(timestamp: SimTime, backoff: crate::time::SimDuration) -> SimTime {
    const SECOND_US: u64 = 1_000_000;
    let expiry = timestamp.add(backoff).micros();
    SimTime((expiry / SECOND_US + 1) * SECOND_US)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::SimDuration;
    use slotmap::SlotMap;

    fn ids(n: usize) -> Vec<PodId> {
        let mut keys = SlotMap::<PodId, ()>::with_key();
        (0..n).map(|_| keys.insert(())).collect()
    }

    #[test]
    fn priority_then_timestamp_then_fifo() {
        let p = ids(4);
        let mut q = SchedulingQueue::default();
        q.push_active(p[0], 0, SimTime(5), 0);
        q.push_active(p[1], 10, SimTime(9), 0);
        q.push_active(p[2], 0, SimTime(1), 0);
        q.push_active(p[3], 0, SimTime(5), 0);
        let order: Vec<PodId> = std::iter::from_fn(|| q.pop_active(|_, _| true)).collect();
        assert_eq!(order, vec![p[1], p[2], p[0], p[3]]);
    }

    #[test]
    fn stale_entries_are_skipped() {
        let p = ids(1);
        let mut q = SchedulingQueue::default();
        q.push_active(p[0], 0, SimTime(1), 1);
        q.push_active(p[0], 0, SimTime(1), 2);
        assert_eq!(q.pop_active(|_, g| g == 2), Some(p[0]));
        assert_eq!(q.pop_active(|_, g| g == 2), None);
    }

    #[test]
    fn backoff_windows_align_to_whole_seconds() {
        let s = SimDuration::from_secs;
        // Upstream's example: timestamp 10.3 s, 1 s backoff -> expiry 11.3 -> window 11 -> released at 12.
        assert_eq!(backoff_release(SimTime(10_300_000), s(1)), SimTime(12_000_000));
        // Exactly on a second: 10.0 + 1 = 11.0 -> released at 12.0 (strictly after the window).
        assert_eq!(backoff_release(SimTime(10_000_000), s(1)), SimTime(12_000_000));
        assert_eq!(backoff_release(SimTime(10_999_999), s(2)), SimTime(13_000_000));
    }

    #[test]
    fn backoff_releases_in_order_and_pops_early_when_idle() {
        let p = ids(3);
        let mut q = SchedulingQueue::default();
        q.push_backoff(p[0], SimTime(3), 0, SimTime(0), 0, false);
        q.push_backoff(p[1], SimTime(2), 0, SimTime(0), 0, false);
        q.push_backoff(p[2], SimTime(1), 0, SimTime(0), 0, true);
        assert_eq!(q.next_release(), Some(SimTime(1)));
        // PopFromBackoffQ takes backoffQ's head, never errorBackoffQ's.
        assert_eq!(q.pop_backoff(|_, _| true), Some(p[1]));
        let mut out = Vec::new();
        q.release_due(SimTime(2), |_, _| true, &mut out);
        assert_eq!(out, vec![p[2]]);
        out.clear();
        q.release_due(SimTime(3), |_, _| true, &mut out);
        assert_eq!(out, vec![p[0]]);
        assert_eq!(q.next_release(), None);
    }

    #[test]
    fn backoff_ties_follow_priority() {
        let p = ids(2);
        let mut q = SchedulingQueue::default();
        q.push_backoff(p[0], SimTime(5), 0, SimTime(0), 0, false);
        q.push_backoff(p[1], SimTime(5), 100, SimTime(0), 0, false);
        assert_eq!(q.pop_backoff(|_, _| true), Some(p[1]));
    }
}
