//! Seeded randomness: one ChaCha8 stream per subsystem, derived from the scenario seed.
//!
//! Why one stream per subsystem: with *common random numbers*, changing the scheduling policy must not change
//! the workload. Arrivals, run durations, faults and scheduler tie-breaks therefore draw from separate streams,
//! so the scheduler consuming more or fewer tie-break draws cannot shift an arrival time. Draws that belong to
//! one object (a pod's run duration, a node's heartbeat phase) use [`SimRng::keyed`], a stream addressed by the
//! object's stable key, so they do not even depend on the order in which objects are created.
//!
//! Only `next_u64` of ChaCha8 is used; the conversions to floats, ranges and distributions are implemented here
//! (with `libm`, not the platform's libm) so that a `rand` upgrade or another OS cannot change a seeded result.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The independent random streams of a run. The discriminant is part of the seed derivation: never renumber.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u64)]
pub enum Stream {
    /// Inter-arrival times of arrival processes.
    Arrivals = 1,
    /// Run durations and exit outcomes of pods (keyed per workload and pod ordinal).
    Durations = 2,
    /// Fault injection: random targets, times to failure and repair.
    Faults = 3,
    /// Scheduler tie-breaks among equally scored nodes.
    TieBreak = 4,
    /// Generated object names (the apiserver's `generateName` suffixes).
    Naming = 5,
    /// Kubelet-level per-node draws (heartbeat phase).
    Kubelet = 6,
    /// Workload-level draws that are not durations (e.g. which pods of a workload crash).
    Workload = 7,
    /// The openb experiment's workload: the shuffle, the draws that tune it to the target demand, pod keys.
    OpenbWorkload = 8,
    /// The openb experiment's node ranks (the authors' random name prefixes that break score ties).
    OpenbNodes = 9,
}

/// SplitMix64: a tiny, well-mixed bijection used only to expand seeds.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn derive_seed(seed: u64, stream: Stream, key: u64) -> [u8; 32] {
    let mut state = seed ^ (stream as u64).wrapping_mul(0xD6E8_FEB8_6659_FD93) ^ key.rotate_left(29);
    // Mix the key in twice so that nearby keys land far apart.
    state = splitmix64(&mut state) ^ key;
    let mut out = [0u8; 32];
    for chunk in out.chunks_exact_mut(8) {
        chunk.copy_from_slice(&splitmix64(&mut state).to_le_bytes());
    }
    out
}

/// A seeded random stream with the distributions the simulator needs.
#[derive(Clone, Debug)]
pub struct SimRng {
    inner: ChaCha8Rng,
}

impl SimRng {
    /// The stream `stream` of run seed `seed`.
    pub fn new(seed: u64, stream: Stream) -> SimRng {
        SimRng { inner: ChaCha8Rng::from_seed(derive_seed(seed, stream, u64::MAX)) }
    }

    /// An independent stream for one object (`key`) within a subsystem, e.g. (workload, pod ordinal).
    pub fn keyed(seed: u64, stream: Stream, key: u64) -> SimRng {
        SimRng { inner: ChaCha8Rng::from_seed(derive_seed(seed, stream, key)) }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }

    /// Uniform in `[0, 1)` with 53 bits of precision.
    pub fn unit_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `(0, 1]`: safe to take the logarithm of.
    pub fn open_unit_f64(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in `[0, n)` without modulo bias (Lemire's method). `n == 0` returns 0.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        let threshold = n.wrapping_neg() % n;
        loop {
            let m = u128::from(self.next_u64()) * u128::from(n);
            if (m as u64) >= threshold {
                return (m >> 64) as u64;
            }
        }
    }

    /// `true` with probability `p` (clamped to `[0, 1]`).
    pub fn chance(&mut self, p: f64) -> bool {
        if p <= 0.0 {
            false
        } else if p >= 1.0 {
            true
        } else {
            self.unit_f64() < p
        }
    }

    /// Exponentially distributed with the given mean (inverse-CDF method).
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * libm::log(self.open_unit_f64())
    }

    /// Standard normal (Box-Muller; one draw pair per call, the second half discarded for simplicity).
    pub fn standard_normal(&mut self) -> f64 {
        let u1 = self.open_unit_f64();
        let u2 = self.unit_f64();
        libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(2.0 * std::f64::consts::PI * u2)
    }

    /// Fisher-Yates shuffle.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_independent() {
        let a1: Vec<u64> =
            (0..4).map(|_| 0).scan(SimRng::new(42, Stream::Arrivals), |r, _| Some(r.next_u64())).collect();
        let a2: Vec<u64> =
            (0..4).map(|_| 0).scan(SimRng::new(42, Stream::Arrivals), |r, _| Some(r.next_u64())).collect();
        let b: Vec<u64> =
            (0..4).map(|_| 0).scan(SimRng::new(42, Stream::TieBreak), |r, _| Some(r.next_u64())).collect();
        let c: Vec<u64> =
            (0..4).map(|_| 0).scan(SimRng::new(43, Stream::Arrivals), |r, _| Some(r.next_u64())).collect();
        assert_eq!(a1, a2);
        assert_ne!(a1, b);
        assert_ne!(a1, c);
        let k1 = SimRng::keyed(42, Stream::Durations, 1).next_u64();
        let k2 = SimRng::keyed(42, Stream::Durations, 2).next_u64();
        assert_ne!(k1, k2);
        assert_eq!(k1, SimRng::keyed(42, Stream::Durations, 1).next_u64());
    }

    #[test]
    fn below_is_in_range_and_roughly_uniform() {
        let mut r = SimRng::new(7, Stream::TieBreak);
        let mut counts = [0u32; 3];
        for _ in 0..30_000 {
            counts[r.below(3) as usize] += 1;
        }
        for c in counts {
            assert!((9_000..11_000).contains(&c), "{counts:?}");
        }
        assert_eq!(r.below(0), 0);
        assert_eq!(r.below(1), 0);
    }

    #[test]
    fn exponential_mean_is_close() {
        let mut r = SimRng::new(1, Stream::Durations);
        let n = 100_000;
        let mean: f64 = (0..n).map(|_| r.exponential(5.0)).sum::<f64>() / n as f64;
        assert!((mean - 5.0).abs() < 0.1, "{mean}");
        let u: f64 = (0..n).map(|_| r.unit_f64()).fold(0.0, f64::max);
        assert!(u < 1.0);
    }
}
