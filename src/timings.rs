//! Every timing and rate of the simulated control plane, with its default and where the default comes from.
//!
//! This is the single table the README's "Timings" section documents. A scenario overrides any entry in its
//! `[timings]` table with the same name. Upstream defaults are Kubernetes v1.34; entries marked *model* have no
//! upstream default (they are network or compute costs) and use typical values, stated with their reasoning.

use crate::time::SimDuration;

/// All timings of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Timings {
    // --- apiserver and etcd (model) ---
    /// Client request to committed write (network + apiserver + etcd raft round). *Model*: 5 ms, a typical
    /// in-region mutating request.
    pub api_request_latency: SimDuration,
    /// Commit to delivery on a watch (watch cache fan-out + network). *Model*: 1 ms.
    pub watch_latency: SimDuration,

    // --- kube-scheduler ---
    /// Compute time of one scheduling cycle. *Model*: 1 ms, which caps one scheduler near 1,000 pods/s, the
    /// order of kube-scheduler's own throughput (scheduler_perf gates 680-810 pods/s at 5,000 nodes).
    pub scheduler_cycle: SimDuration,
    /// `podInitialBackoffSeconds`: 1 s (KubeSchedulerConfiguration default).
    pub pod_initial_backoff: SimDuration,
    /// `podMaxBackoffSeconds`: 10 s.
    pub pod_max_backoff: SimDuration,
    /// Unschedulable pods are retried at least this often (`podMaxInUnschedulablePodsDuration`): 5 min.
    pub pod_max_in_unschedulable_pods: SimDuration,
    /// Period of the leftover flush of unschedulable pods: 30 s (`flushUnschedulablePodsLeftover`).
    pub unschedulable_flush_period: SimDuration,

    // --- kube-controller-manager: node lifecycle ---
    /// `--node-monitor-period`: 5 s.
    pub node_monitor_period: SimDuration,
    /// `--node-monitor-grace-period`: 50 s since v1.32 (PR #126287; 40 s before).
    pub node_monitor_grace_period: SimDuration,
    /// Period of the NoExecute tainting pass (`NodeEvictionPeriod`): 100 ms.
    pub node_eviction_period: SimDuration,
    /// `--node-eviction-rate`: 0.1 nodes/s per zone (token bucket, burst 1).
    pub node_eviction_rate_per_s: f64,
    /// `tolerationSeconds` added by the DefaultTolerationSeconds admission plugin: 300 s.
    pub default_toleration_seconds: i64,

    // --- kube-controller-manager: pod GC ---
    /// PodGC period (`gcCheckPeriod`): 20 s.
    pub pod_gc_period: SimDuration,
    /// `--terminated-pod-gc-threshold`: 12,500 terminated pods.
    pub terminated_pod_gc_threshold: u64,

    // --- kubelet ---
    /// Lease renew interval: 0.25 x `nodeLeaseDurationSeconds` (40 s) = 10 s. Upstream adds up to 4% jitter
    /// per renewal; kubesim uses the exact interval with a seeded per-node phase.
    pub lease_renew_interval: SimDuration,
    /// Fixed part of an image pull (registry round trips). *Model*: 500 ms.
    pub image_pull_latency: SimDuration,
    /// Pull bandwidth per node, in bytes per second. *Model*: 50 MB/s.
    pub image_pull_bandwidth_bytes_per_s: u64,
    /// Size assumed for images the scenario does not size. *Model*: 100 MB.
    pub default_image_size_bytes: u64,
    /// Sandbox creation and container start, after images are present. *Model*: 1 s.
    pub container_start_latency: SimDuration,
    /// How long a container takes to exit after SIGTERM (capped by the pod's grace period). *Model*: 0 s.
    pub container_stop_latency: SimDuration,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            api_request_latency: SimDuration::from_millis(5),
            watch_latency: SimDuration::from_millis(1),
            scheduler_cycle: SimDuration::from_millis(1),
            pod_initial_backoff: SimDuration::from_secs(1),
            pod_max_backoff: SimDuration::from_secs(10),
            pod_max_in_unschedulable_pods: SimDuration::from_secs(300),
            unschedulable_flush_period: SimDuration::from_secs(30),
            node_monitor_period: SimDuration::from_secs(5),
            node_monitor_grace_period: SimDuration::from_secs(50),
            node_eviction_period: SimDuration::from_millis(100),
            node_eviction_rate_per_s: 0.1,
            default_toleration_seconds: 300,
            pod_gc_period: SimDuration::from_secs(20),
            terminated_pod_gc_threshold: 12_500,
            lease_renew_interval: SimDuration::from_secs(10),
            image_pull_latency: SimDuration::from_millis(500),
            image_pull_bandwidth_bytes_per_s: 50_000_000,
            default_image_size_bytes: 100_000_000,
            container_start_latency: SimDuration::from_secs(1),
            container_stop_latency: SimDuration::ZERO,
        }
    }
}

impl Timings {
    /// Time to pull an image of `size_bytes` on one node.
    pub fn image_pull_time(&self, size_bytes: u64) -> SimDuration {
        let bw = self.image_pull_bandwidth_bytes_per_s.max(1);
        let transfer_us = (u128::from(size_bytes) * 1_000_000).div_ceil(u128::from(bw));
        self.image_pull_latency.saturating_add(SimDuration(transfer_us.min(u128::from(u64::MAX)) as u64))
    }
}
