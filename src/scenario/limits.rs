//! Hard limits on scenario sizes. A scenario beyond them is rejected with a clear error instead of running the
//! machine out of memory. They are generous: the largest target run (50,000 nodes, 1,000,000 pods) fits.

use crate::time::SimDuration;

pub const MAX_NODES: u64 = 100_000;
pub const MAX_PODS_PER_NODE: i64 = 10_000;
pub const MAX_CPU_MILLIS: i64 = 1_000_000_000;
pub const MAX_REPLICAS: i64 = 1_000_000;
pub const MAX_WORKLOADS: usize = 100_000;
pub const MAX_COMPLETIONS: i64 = 10_000_000;
pub const MAX_PARALLELISM: i64 = 1_000_000;
pub const MAX_CONTAINERS: usize = 64;
pub const MAX_EMPIRICAL_VALUES: usize = 1_000_000;
pub const MAX_FAULTS: usize = 100_000;
/// Pods one arrival process may create in a run.
pub const MAX_ARRIVAL_PODS: u64 = 50_000_000;
pub const MAX_ARRIVAL_RATE_PER_S: f64 = 1_000_000.0;
/// One year of simulated time.
pub const MAX_DURATION: SimDuration = SimDuration::from_secs(366 * 24 * 3600);
/// Largest scenario file read, in bytes.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;
