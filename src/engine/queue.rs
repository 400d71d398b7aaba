//! The event queue: a 4-ary min-heap of 16-byte keys `(time, sequence number)` for the near future, unordered
//! buckets of the keys beyond a horizon, and the events themselves in a slab beside both.
//!
//! Why not `std::collections::BinaryHeap<(time, seq, event)>`: with 100,000 pending events its 40-byte entries
//! no longer fit the cache and every pop walked 17 levels of them (5.3-8.6 M events/s in `benches/engine.rs`).
//! Here the heap holds only keys and a pop walks about 8 levels of a 4-ary heap; the event is moved once into its
//! slab slot and once out, and a slot freed by a pop is the next push's. Keys at or past the horizon wait in
//! unordered buckets of consecutive time ranges (a push there is a short search of the bucket bounds and an
//! append). When the heap runs dry, the earliest bucket moves in; a large one is first split into up to
//! [`MAX_SPLIT_WAYS`] buckets at times sampled from it, so that each key is moved a few times in all, not once
//! per refill. The heap thus stays small (about [`HEAP_BATCH`] keys) even when most pending events are far away (in
//! the Alibaba replay, over a million rate-limited commits). Keys are fixed at push, so the pop order,
//! `(time, seq)`, is the same as one heap's.

use crate::time::SimTime;

/// Bits of a key's `tie` word that hold the slab slot; the sequence number takes the rest.
const SLOT_BITS: u32 = 28;
const SLOT_MASK: u64 = (1 << SLOT_BITS) - 1;
/// Sequence numbers are renumbered (order kept) before they would overflow their 36 bits.
const SEQ_LIMIT: u64 = 1 << (64 - SLOT_BITS);
/// At most this many events can be pending at once (2^28, about 268 million: far beyond memory at 20+ bytes each).
pub const MAX_PENDING: usize = 1 << SLOT_BITS;
/// Children per heap node.
const ARITY: usize = 4;
/// A far bucket with at most this many keys moves into the heap whole; a larger one is split first. Small: a
/// heap of 1,000 keys measured 20% slower per event than one of a few hundred, even in L1.
const HEAP_BATCH: usize = 256;
/// Most buckets a large far bucket is split into (each split time is chosen from [`SAMPLE_PER_WAY`] sampled keys).
const MAX_SPLIT_WAYS: usize = 64;
const MIN_SPLIT_WAYS: usize = 8;
const SAMPLE_PER_WAY: usize = 4;
/// Emptied bucket vectors kept for reuse: at most this many, each of at most this capacity.
const SPARE_BUCKETS: usize = 128;
const SPARE_CAPACITY: usize = 1 << 14;

/// A heap entry: the event's time, then `seq << SLOT_BITS | slot`. Comparing `(time, tie)` compares
/// `(time, seq)`, because sequence numbers are unique.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(C, align(16))]
struct Key {
    time: SimTime,
    tie: u64,
}

impl Key {
    #[inline]
    fn slot(self) -> usize {
        (self.tie & SLOT_MASK) as usize
    }
}

/// The single event queue of a run. Events at equal times pop in insertion order.
///
/// Cancellation is lazy: handlers check a generation or state token carried in the event and ignore stale
/// events, which keeps the queue a plain heap.
pub struct EventQueue<E> {
    /// The 4-ary heap: the children of `i` are `4i+1 ..= 4i+4`.
    heap: Vec<Key>,
    /// Events by slot; `None` in free slots.
    slab: Vec<Option<E>>,
    /// Free slots, the most recently freed last.
    free: Vec<u32>,
    /// Keys at or after `horizon`: far events wait here, out of the heap, until the heap runs dry and a refill
    /// moves the earliest bucket in. Their keys are fixed at push, so the order is unchanged.
    far: Far,
    /// Every key in `far` has `time >= horizon`; every key pushed to the heap has `time < horizon`; `horizon` is
    /// the lower bound of the earliest far bucket. When the heap is empty, so is `far`.
    horizon: SimTime,
    /// The next sequence number within the current numbering.
    next_seq: u64,
    /// Events scheduled before the last renumbering.
    renumbered_total: u64,
    now: SimTime,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    pub fn new() -> Self {
        Self::with_capacity(1024)
    }

    pub fn with_capacity(capacity: usize) -> Self {
        EventQueue {
            heap: Vec::with_capacity(capacity),
            slab: Vec::with_capacity(capacity),
            free: Vec::with_capacity(capacity),
            far: Far::default(),
            horizon: SimTime::ZERO,
            next_seq: 0,
            renumbered_total: 0,
            now: SimTime::ZERO,
        }
    }

    /// Schedules `event` at `time`. Scheduling in the past is a bug; it is clamped to the current time so that
    /// time can never go backwards, and caught by a debug assertion.
    ///
    /// # Panics
    /// With more than [`MAX_PENDING`] events pending (about 268 million; memory runs out first).
    #[inline]
    pub fn push(&mut self, time: SimTime, event: E) {
        debug_assert!(time >= self.now, "event scheduled in the past: {time} < {}", self.now);
        let time = if time < self.now { self.now } else { time };
        if self.next_seq == SEQ_LIMIT {
            self.renumber();
        }
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slab[slot as usize] = Some(event);
                slot as u64
            }
            None => {
                assert!(self.slab.len() < MAX_PENDING, "more than {MAX_PENDING} events pending");
                self.slab.push(Some(event));
                (self.slab.len() - 1) as u64
            }
        };
        let key = Key { time, tie: (self.next_seq << SLOT_BITS) | slot };
        self.next_seq += 1;
        if self.heap.is_empty() {
            // `far` is empty too: the key starts a new heap, and the horizon moves past it if need be.
            if time >= self.horizon {
                self.horizon = SimTime(time.0.saturating_add(1));
            }
            self.sift_up(key);
        } else if time < self.horizon {
            self.sift_up(key);
        } else {
            self.far.push(key, self.horizon);
        }
    }

    /// The heap ran dry: moves the earliest far bucket into it (splitting it first if it is large), and the
    /// horizon to the next bucket's lower bound.
    #[cold]
    #[inline(never)]
    fn refill(&mut self) {
        while let Some((bucket, low)) = self.far.pop_earliest() {
            if bucket.len() > HEAP_BATCH && self.far.split(&bucket, low) {
                self.far.recycle(bucket);
                continue;
            }
            self.horizon = match self.far.lows.last() {
                Some(&next) => next,
                // The last bucket is open-ended: the horizon moves just past its latest key.
                None => SimTime(bucket.iter().map(|k| k.time.0).max().unwrap_or(low.0).saturating_add(1)),
            };
            for &key in &bucket {
                self.sift_up(key);
            }
            self.far.recycle(bucket);
            if !self.heap.is_empty() {
                break;
            }
        }
    }

    /// Removes the earliest event and advances the queue's clock to its time.
    #[inline]
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        let top = *self.heap.first()?;
        let last = self.heap.pop()?;
        if !self.heap.is_empty() {
            self.sift_down_from_root(last);
        } else if self.far.len > 0 {
            self.refill();
        }
        self.now = top.time;
        let slot = top.slot();
        let event = self.slab[slot].take()?;
        self.free.push(slot as u32);
        Some((top.time, event))
    }

    /// Places `key` in a new leaf and moves it up past every later parent.
    #[inline]
    fn sift_up(&mut self, key: Key) {
        let mut hole = self.heap.len();
        self.heap.push(key);
        while hole > 0 {
            let parent = (hole - 1) / ARITY;
            let p = self.heap[parent];
            if p <= key {
                break;
            }
            self.heap[hole] = p;
            hole = parent;
        }
        self.heap[hole] = key;
    }

    /// Places `key` at the root (whose entry was just taken) and moves it down past every earlier child.
    // The indexed loop over the children measured 30% faster at 1,000 pending than the enumerate form.
    #[allow(clippy::needless_range_loop)]
    #[inline]
    fn sift_down_from_root(&mut self, key: Key) {
        let heap = &mut self.heap[..];
        let len = heap.len();
        let mut hole = 0;
        loop {
            let first = hole * ARITY + 1;
            if first >= len {
                break;
            }
            let end = (first + ARITY).min(len);
            let mut best = first;
            let mut best_key = heap[first];
            for c in first + 1..end {
                let k = heap[c];
                if k < best_key {
                    best = c;
                    best_key = k;
                }
            }
            if key <= best_key {
                break;
            }
            heap[hole] = best_key;
            hole = best;
        }
        heap[hole] = key;
    }

    /// Renumbers the pending events `0..n` in their order, so that sequence numbers never overflow. Runs once
    /// every 2^36 (about 69 billion) scheduled events.
    #[cold]
    fn renumber(&mut self) {
        let mut keys = std::mem::take(&mut self.heap);
        for mut bucket in std::mem::take(&mut self.far).buckets {
            keys.append(&mut bucket);
        }
        keys.sort_unstable();
        for (seq, key) in keys.iter_mut().enumerate() {
            key.tie = ((seq as u64) << SLOT_BITS) | key.slot() as u64;
        }
        self.renumbered_total += self.next_seq - keys.len() as u64;
        self.next_seq = keys.len() as u64;
        // Keys before the horizon form the heap (a sorted array is a valid heap), the rest wait in `far`; with
        // no key before it, every key goes to the heap and the horizon moves past them.
        let split = keys.partition_point(|k| k.time < self.horizon);
        if split == 0 {
            if let Some(last) = keys.last() {
                self.horizon = SimTime(last.time.0.saturating_add(1));
            }
            self.heap = keys;
        } else {
            for key in keys.split_off(split) {
                self.far.push(key, self.horizon);
            }
            self.heap = keys;
        }
    }

    /// The time of the earliest pending event.
    #[inline]
    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.first().map(|k| k.time)
    }

    /// The time of the last popped event.
    #[inline]
    pub fn now(&self) -> SimTime {
        self.now
    }

    pub fn len(&self) -> usize {
        self.heap.len() + self.far.len
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Total events ever scheduled.
    pub fn scheduled_total(&self) -> u64 {
        self.renumbered_total + self.next_seq
    }
}

/// The keys past the horizon, in buckets of consecutive time ranges, unordered within each bucket.
///
/// `lows` is strictly decreasing: bucket `i` holds the keys with `lows[i] <= time < lows[i - 1]` (bucket 0 has
/// no upper bound), so the earliest bucket is the last one and a refill pops it.
#[derive(Default)]
struct Far {
    buckets: Vec<Vec<Key>>,
    lows: Vec<SimTime>,
    len: usize,
    /// Emptied bucket vectors, kept for the next split, which would otherwise allocate its buckets anew.
    spare: Vec<Vec<Key>>,
    /// Scratch for [`Far::split`].
    sample: Vec<SimTime>,
    splits: Vec<SimTime>,
}

impl Far {
    /// Adds a key at or after `horizon`, opening the first (unbounded) bucket at `horizon` if there is none.
    #[inline]
    fn push(&mut self, key: Key, horizon: SimTime) {
        if self.buckets.is_empty() {
            let v = self.spare.pop().unwrap_or_default();
            self.buckets.push(v);
            self.lows.push(horizon);
        }
        // The first bucket whose lower bound is at or before the key; the last bound is the horizon, so there is one.
        let i = self.lows.partition_point(|&low| low > key.time).min(self.lows.len() - 1);
        self.buckets[i].push(key);
        self.len += 1;
    }

    /// Removes the earliest bucket and returns it with its lower bound.
    fn pop_earliest(&mut self) -> Option<(Vec<Key>, SimTime)> {
        let bucket = self.buckets.pop()?;
        let low = self.lows.pop()?;
        self.len -= bucket.len();
        Some((bucket, low))
    }

    /// Keeps an emptied bucket's vector for reuse, unless there are enough or it is large.
    fn recycle(&mut self, mut v: Vec<Key>) {
        if self.spare.len() < SPARE_BUCKETS && v.capacity() <= SPARE_CAPACITY {
            v.clear();
            self.spare.push(v);
        }
    }

    /// Splits `bucket` (just popped, lower bound `low`) into buckets of about [`HEAP_BATCH`] keys (at most
    /// [`MAX_SPLIT_WAYS`]) at times sampled from it, and puts them back, the earliest last. Returns false,
    /// leaving the bucket as it is, when no sampled time is past `low` (nearly all its keys share one time).
    fn split(&mut self, bucket: &[Key], low: SimTime) -> bool {
        let ways = (bucket.len() / (HEAP_BATCH / 8)).clamp(MIN_SPLIT_WAYS, MAX_SPLIT_WAYS);
        let n_sample = ways * SAMPLE_PER_WAY;
        let step = bucket.len() / n_sample;
        self.sample.clear();
        self.sample.extend((0..n_sample).map(|j| bucket[j * step].time));
        self.sample.sort_unstable();
        // Strictly increasing split times past `low`: piece `j` gets the keys in [splits[j - 1], splits[j]).
        self.splits.clear();
        for w in 1..ways {
            let t = self.sample[w * SAMPLE_PER_WAY];
            if t > low && self.splits.last().is_none_or(|&last| t > last) {
                self.splits.push(t);
            }
        }
        let n = self.splits.len();
        if n == 0 {
            return false;
        }
        // Piece `j` goes to `buckets[base + n - j]`: latest first, so that the earliest piece ends up last.
        let base = self.buckets.len();
        for j in (0..=n).rev() {
            let v = self.spare.pop().unwrap_or_default();
            self.buckets.push(v);
            self.lows.push(if j == 0 { low } else { self.splits[j - 1] });
        }
        let (splits, buckets) = (&self.splits, &mut self.buckets);
        for &key in bucket {
            buckets[base + n - splits.partition_point(|&s| s <= key.time)].push(key);
        }
        self.len += bucket.len();
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{SimRng, Stream};

    #[test]
    fn pops_in_time_then_fifo_order() {
        let mut q = EventQueue::new();
        q.push(SimTime(5), 'a');
        q.push(SimTime(1), 'b');
        q.push(SimTime(5), 'c');
        q.push(SimTime(1), 'd');
        q.push(SimTime(3), 'e');
        let order: Vec<char> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, vec!['b', 'd', 'e', 'a', 'c']);
    }

    #[test]
    fn clock_follows_pops() {
        let mut q = EventQueue::new();
        q.push(SimTime(10), ());
        assert_eq!(q.now(), SimTime::ZERO);
        q.pop();
        assert_eq!(q.now(), SimTime(10));
        q.push(SimTime(10), ());
        assert_eq!(q.peek_time(), Some(SimTime(10)));
    }

    /// A reference model: a sorted list of `(time, insertion number, payload)`.
    fn check_against_model(q: &mut EventQueue<u64>, ops: usize, seed: u64, spread: u64) {
        let mut rng = SimRng::new(seed, Stream::Arrivals);
        let mut model: std::collections::BTreeSet<(u64, u64, u64)> = std::collections::BTreeSet::new();
        let mut inserted = q.scheduled_total();
        for i in 0..ops as u64 {
            // Mostly pushes early on, then mostly pops; few distinct times, so ties are common.
            if rng.below(3) > 0 || model.is_empty() {
                let t = q.now().0 + rng.below(spread);
                q.push(SimTime(t), i);
                model.insert((t, inserted, i));
                inserted += 1;
            } else {
                let first = model.pop_first().map(|(t, _, e)| (SimTime(t), e));
                assert_eq!(q.pop(), first);
            }
            assert_eq!(q.len(), model.len());
            assert_eq!(q.peek_time(), model.first().map(|(t, _, _)| SimTime(*t)));
        }
        while let Some((t, _, e)) = model.pop_first() {
            assert_eq!(q.pop(), Some((SimTime(t), e)));
        }
        assert_eq!(q.pop(), None);
        assert_eq!(q.scheduled_total(), inserted);
    }

    #[test]
    fn matches_a_sorted_model_with_many_ties() {
        check_against_model(&mut EventQueue::new(), 20_000, 1, 20);
    }

    #[test]
    fn far_keys_come_back_in_order() {
        // Wide spreads with thousands pending: most pushes wait in `far`, and refills move them in batches.
        let mut q = EventQueue::new();
        check_against_model(&mut q, 60_000, 2, 1_000_000);
        assert!(q.is_empty());
        // Pushes into an empty queue far past the old horizon, then earlier ones.
        for (i, t) in [500u64, 10, 10, 7_000, 3].into_iter().enumerate() {
            q.push(SimTime(q.now().0 + t), i as u64);
        }
        let order: Vec<u64> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, vec![4, 1, 2, 0, 3]);
    }

    #[test]
    fn large_far_buckets_are_split_and_ties_stay_together() {
        // 100,000 keys spread wide: the first refill splits the far bucket repeatedly, so the heap gets only the
        // earliest small piece and the rest stays in bounded buckets.
        let mut q = EventQueue::new();
        let mut rng = SimRng::new(3, Stream::Arrivals);
        let mut model = Vec::new();
        for i in 0..100_000u64 {
            // The first key, at 0, sets the horizon just past 0, so every other key goes to the far bucket.
            let t = if i == 0 { 0 } else { rng.below(10_000_000) };
            q.push(SimTime(t), i);
            model.push((t, i));
        }
        model.sort_unstable();
        // The first pop refills the heap from the one far bucket, which it splits.
        let (mut max_buckets, mut max_heap_after_refill) = (0, 0);
        for (n, &(t, i)) in model.iter().enumerate() {
            assert_eq!(q.pop(), Some((SimTime(t), i)));
            assert_eq!(q.len(), model.len() - n - 1);
            max_buckets = max_buckets.max(q.far.buckets.len());
            if n > 100 {
                max_heap_after_refill = max_heap_after_refill.max(q.heap.len());
            }
        }
        assert_eq!(q.pop(), None);
        assert!(max_buckets >= MAX_SPLIT_WAYS, "at most {max_buckets} buckets");
        assert!(max_heap_after_refill <= HEAP_BATCH, "a heap of {max_heap_after_refill}");

        // Ten thousand keys at two times: no split time separates most of them, so a bucket moves in whole.
        for i in 0..10_000u64 {
            q.push(SimTime(q.now().0 + 1 + (i % 2) * 1_000), i);
        }
        let order: Vec<u64> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        let expected: Vec<u64> = (0..10_000).step_by(2).chain((1..10_000).step_by(2)).collect();
        assert_eq!(order, expected);
    }

    #[test]
    fn renumbering_keeps_the_order() {
        let mut q = EventQueue::new();
        // Jump close to the limit; renumbering then happens several times during the run, with events pending.
        for _ in 0..3 {
            q.next_seq = SEQ_LIMIT - 7;
            check_against_model(&mut q, 2_000, 7, 20);
            check_against_model(&mut q, 5_000, 8, 100_000);
        }
        assert!(q.renumbered_total > 0);
    }
}
