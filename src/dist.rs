//! Duration distributions for run times, inter-arrival times and fault processes.

use crate::rng::SimRng;
use crate::time::SimDuration;
use std::sync::Arc;

/// A distribution of durations. Parameters are exact integers where the user gave durations; continuous
/// distributions work in seconds and round the sample to the nearest microsecond.
#[derive(Clone, Debug, PartialEq)]
pub enum Dist {
    /// Always the same value.
    Fixed(SimDuration),
    /// Exponential with the given mean (memoryless: Poisson processes, times to failure).
    Exponential { mean_s: f64 },
    /// Uniform between `min` and `max` (inclusive of `min`).
    Uniform { min: SimDuration, max: SimDuration },
    /// Log-normal with the given median (`e^mu`) and shape `sigma` (standard deviation of the log).
    LogNormal { median_s: f64, sigma: f64 },
    /// One of the listed values, uniformly (an empirical distribution, e.g. from a trace).
    Empirical(Arc<[SimDuration]>),
}

impl Dist {
    /// Draws one duration.
    pub fn sample(&self, rng: &mut SimRng) -> SimDuration {
        match self {
            Dist::Fixed(d) => *d,
            Dist::Exponential { mean_s } => SimDuration::from_secs_f64(rng.exponential(*mean_s)),
            Dist::Uniform { min, max } => {
                let span = max.micros().saturating_sub(min.micros());
                SimDuration(min.micros() + rng.below(span.saturating_add(1)))
            }
            Dist::LogNormal { median_s, sigma } => {
                SimDuration::from_secs_f64(median_s * libm::exp(sigma * rng.standard_normal()))
            }
            Dist::Empirical(values) => {
                if values.is_empty() {
                    SimDuration::ZERO
                } else {
                    values[rng.below(values.len() as u64) as usize]
                }
            }
        }
    }

    /// The distribution's mean, in seconds (for documentation and sanity checks).
    pub fn mean_s(&self) -> f64 {
        match self {
            Dist::Fixed(d) => d.as_secs_f64(),
            Dist::Exponential { mean_s } => *mean_s,
            Dist::Uniform { min, max } => (min.as_secs_f64() + max.as_secs_f64()) / 2.0,
            Dist::LogNormal { median_s, sigma } => median_s * libm::exp(sigma * sigma / 2.0),
            Dist::Empirical(values) => {
                if values.is_empty() {
                    0.0
                } else {
                    values.iter().map(|v| v.as_secs_f64()).sum::<f64>() / values.len() as f64
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Stream;

    #[test]
    fn sample_means_match() {
        let mut rng = SimRng::new(3, Stream::Durations);
        let n = 50_000;
        for dist in [
            Dist::Fixed(SimDuration::from_secs(7)),
            Dist::Exponential { mean_s: 30.0 },
            Dist::Uniform { min: SimDuration::from_secs(10), max: SimDuration::from_secs(20) },
            Dist::LogNormal { median_s: 10.0, sigma: 0.5 },
            Dist::Empirical(Arc::from(vec![SimDuration::from_secs(1), SimDuration::from_secs(3)])),
        ] {
            let mean: f64 = (0..n).map(|_| dist.sample(&mut rng).as_secs_f64()).sum::<f64>() / n as f64;
            let expected = dist.mean_s();
            assert!((mean - expected).abs() / expected < 0.03, "{dist:?}: {mean} vs {expected}");
        }
    }

    #[test]
    fn uniform_bounds_inclusive() {
        let mut rng = SimRng::new(3, Stream::Durations);
        let d = Dist::Uniform { min: SimDuration(5), max: SimDuration(6) };
        let mut seen = [false; 2];
        for _ in 0..100 {
            let v = d.sample(&mut rng).micros();
            assert!((5..=6).contains(&v));
            seen[(v - 5) as usize] = true;
        }
        assert!(seen[0] && seen[1]);
    }
}
