//! Event-queue throughput in the classic "hold" model.
//!
//! The queue is pre-filled with `N` pending events at random times; each hold operation pops the earliest event
//! and schedules a new one at (popped time + a random delay), so the queue stays at `N` pending events, as in a
//! simulation in steady state. Throughput is reported in hold operations (events) per second.
//!
//! Two payloads: a plain 16-byte `Copy` struct, and the simulator's real `kubesim::sim::Event`, whose size is what
//! the real queue moves around. `rng_only` measures the delay draws alone, to show how much of a hold operation
//! is the random number generator rather than the queue.
//!
//! Run with `cargo bench --bench engine`; `cargo test --release` runs each benchmark once as a smoke test.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use kubesim::engine::EventQueue;
use kubesim::rng::{SimRng, Stream};
use kubesim::sim::Event;
use kubesim::time::{SimDuration, SimTime};
use std::hint::black_box;

/// Pending events kept in the queue.
const SIZES: [usize; 2] = [1_000, 100_000];
/// Hold operations per timed iteration: large enough that timer overhead is negligible.
const HOLDS_PER_ITER: u64 = 10_000;
/// Initial times and delays are uniform in `[0, SPREAD_US)`: 10 simulated seconds.
const SPREAD_US: u64 = 10_000_000;
const SEED: u64 = 20261125;

/// A realistic small event payload: 16 bytes, `Copy`. The fields are only moved around, never read.
#[derive(Clone, Copy)]
#[allow(dead_code)]
struct Ev {
    a: u64,
    b: u32,
    c: u32,
}

const _: () = assert!(size_of::<Ev>() == 16);

/// A queue of `n` pending events at random times, and the RNG for the delays.
fn prefilled<E: Copy>(n: usize, make: impl Fn(u64) -> E) -> (EventQueue<E>, SimRng) {
    let mut rng = SimRng::new(SEED, Stream::Arrivals);
    let mut queue = EventQueue::with_capacity(n + 1);
    for i in 0..n as u64 {
        queue.push(SimTime(rng.below(SPREAD_US)), make(i));
    }
    (queue, rng)
}

/// `HOLDS_PER_ITER` hold operations: pop the earliest, push it back a random delay later.
#[inline(never)]
fn hold<E: Copy>(queue: &mut EventQueue<E>, rng: &mut SimRng) {
    for _ in 0..HOLDS_PER_ITER {
        let (t, ev) = queue.pop().expect("the queue never drains");
        queue.push(t.add(SimDuration(rng.below(SPREAD_US))), black_box(ev));
    }
}

fn bench_payload<E: Copy>(c: &mut Criterion, name: &str, make: impl Fn(u64) -> E + Copy) {
    let mut group = c.benchmark_group(format!("queue_hold/{name}"));
    // 50 samples fit criterion's default 5 s measurement time even at 100k pending events.
    group.sample_size(50).throughput(Throughput::Elements(HOLDS_PER_ITER));
    for n in SIZES {
        // The queue persists across iterations: each iteration continues the same steady-state run.
        let (mut queue, mut rng) = prefilled(n, make);
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| hold(&mut queue, &mut rng));
        });
        assert_eq!(queue.len(), n);
    }
    group.finish();
}

fn queue_hold(c: &mut Criterion) {
    bench_payload(c, "ev16", |i| Ev { a: i, b: i as u32, c: !(i as u32) });
    // `Event::End` is as large as any other variant: the queue moves `size_of::<Event>()` bytes regardless.
    bench_payload(c, "sim_event", |_| Event::End);

    let mut group = c.benchmark_group("queue_hold");
    group.throughput(Throughput::Elements(HOLDS_PER_ITER));
    let mut rng = SimRng::new(SEED, Stream::Arrivals);
    group.bench_function("rng_only", |b| {
        b.iter(|| {
            for _ in 0..HOLDS_PER_ITER {
                black_box(rng.below(SPREAD_US));
            }
        });
    });
    group.finish();
}

criterion_group!(benches, queue_hold);
criterion_main!(benches);
