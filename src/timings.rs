//! Every timing and rate of the simulated control plane, with its default and where the default comes from.
//!
//! This is the single table the README's "Timings" section documents. A scenario overrides any entry in its
//! `[timings]` table with the same name ([`Timings::field`] is the one place names are mapped). Upstream
//! defaults are Kubernetes v1.34; entries marked *model* have no upstream default (they are network, disk or
//! compute costs) and use typical values, stated with their reasoning.

use crate::time::SimDuration;

/// All timings of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Timings {
    // --- apiserver and etcd ---
    /// Client to apiserver, one way (network and request handling). *Model*: 2 ms.
    pub api_request_latency: SimDuration,
    /// etcd write: raft round and fsync, from the apiserver's write to its commit. *Model*: 3 ms.
    pub etcd_write_latency: SimDuration,
    /// A request waiting on an unavailable etcd fails after this (`--request-timeout`): 60 s.
    pub api_request_timeout: SimDuration,
    /// Events the watch cache keeps for watchers to resume from; an older resume relists. Upstream sizes it
    /// dynamically between 100 and 102,400 events; kubesim uses the maximum.
    pub watch_cache_capacity: u64,
    /// etcd compaction period (`--etcd-compaction-interval`): 5 min.
    pub etcd_compaction_interval: SimDuration,
    /// Commit to delivery on the scheduler's watches. *Model*: 1 ms.
    pub watch_latency_scheduler: SimDuration,
    /// Commit to delivery on the controller manager's watches. *Model*: 1 ms.
    pub watch_latency_controller_manager: SimDuration,
    /// Commit to delivery on a kubelet's watch. *Model*: 1 ms.
    pub watch_latency_kubelet: SimDuration,
    /// kube-scheduler client `qps` / `burst`: 50 / 100.
    pub scheduler_qps: f64,
    pub scheduler_burst: u64,
    /// kube-controller-manager `--kube-api-qps` / `--kube-api-burst` (per controller client): 20 / 30.
    pub controller_manager_qps: f64,
    pub controller_manager_burst: u64,
    /// kubelet `kubeAPIQPS` / `kubeAPIBurst`: 50 / 100.
    pub kubelet_qps: f64,
    pub kubelet_burst: u64,

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

    // --- kube-controller-manager ---
    /// `--node-monitor-period`: 5 s.
    pub node_monitor_period: SimDuration,
    /// `--node-monitor-grace-period`: 50 s since v1.32 (PR #126287; 40 s before).
    pub node_monitor_grace_period: SimDuration,
    /// Period of the NoExecute tainting pass (`NodeEvictionPeriod`): 100 ms.
    pub node_eviction_period: SimDuration,
    /// `--node-eviction-rate`: 0.1 nodes/s per zone (token bucket, burst 1), for zones in Normal state (and
    /// FullDisruption while some other zone is not).
    pub node_eviction_rate_per_s: f64,
    /// `--secondary-node-eviction-rate`: 0.01 nodes/s, for a zone in PartialDisruption that has more than
    /// `large_cluster_size_threshold` nodes (smaller zones stop tainting).
    pub secondary_node_eviction_rate_per_s: f64,
    /// `--unhealthy-zone-threshold`: 0.55. A zone with more than 2 not-ready nodes and at least this fraction
    /// not ready is in PartialDisruption.
    pub unhealthy_zone_threshold: f64,
    /// `--large-cluster-size-threshold`: 50 nodes. Only zones strictly larger keep tainting (at the secondary
    /// rate) in PartialDisruption.
    pub large_cluster_size_threshold: u64,
    /// `tolerationSeconds` added by the DefaultTolerationSeconds admission plugin: 300 s.
    pub default_toleration_seconds: i64,
    /// PodGC period (`gcCheckPeriod`): 20 s.
    pub pod_gc_period: SimDuration,
    /// How long PodGC waits after first seeing pods bound to a node its informer does not have before it checks
    /// (with a GET) that the node is gone and deletes them (`quarantineTime`): 40 s.
    pub pod_gc_quarantine: SimDuration,
    /// `--terminated-pod-gc-threshold`: 12,500 terminated pods.
    pub terminated_pod_gc_threshold: u64,

    // --- cloud-controller-manager ---
    /// The cloud node lifecycle controller's period (`--node-monitor-period` of cloud-controller-manager,
    /// `KubeCloudShared.NodeMonitorPeriod`): 5 s. Each pass deletes the Node objects that are not Ready and whose
    /// instance no longer exists.
    pub cloud_node_monitor_period: SimDuration,

    // --- kubelet ---
    /// Lease renew interval: 0.25 x `nodeLeaseDurationSeconds` (40 s) = 10 s. Upstream adds up to 4% jitter
    /// per renewal; kubesim uses the exact interval with a seeded per-node phase.
    pub lease_renew_interval: SimDuration,
    /// `nodeStatusUpdateFrequency`: 10 s. The kubelet computes its node status this often and writes it when it
    /// changed; in kubesim only the image list (`status.images`) is written this way (heartbeats are virtual,
    /// see `lease_renew_interval`).
    pub node_status_update_frequency: SimDuration,
    /// How often the kubelet's image manager refreshes the image list node status reports: 30 s (the image GC
    /// manager's cache loop).
    pub image_list_refresh_period: SimDuration,
    /// `nodeStatusMaxImages`: 50. The node status lists at most this many images, largest first.
    pub node_status_max_images: u64,
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
            api_request_latency: SimDuration::from_millis(2),
            etcd_write_latency: SimDuration::from_millis(3),
            api_request_timeout: SimDuration::from_secs(60),
            watch_cache_capacity: 102_400,
            etcd_compaction_interval: SimDuration::from_secs(300),
            watch_latency_scheduler: SimDuration::from_millis(1),
            watch_latency_controller_manager: SimDuration::from_millis(1),
            watch_latency_kubelet: SimDuration::from_millis(1),
            scheduler_qps: 50.0,
            scheduler_burst: 100,
            controller_manager_qps: 20.0,
            controller_manager_burst: 30,
            kubelet_qps: 50.0,
            kubelet_burst: 100,
            scheduler_cycle: SimDuration::from_millis(1),
            pod_initial_backoff: SimDuration::from_secs(1),
            pod_max_backoff: SimDuration::from_secs(10),
            pod_max_in_unschedulable_pods: SimDuration::from_secs(300),
            unschedulable_flush_period: SimDuration::from_secs(30),
            node_monitor_period: SimDuration::from_secs(5),
            node_monitor_grace_period: SimDuration::from_secs(50),
            node_eviction_period: SimDuration::from_millis(100),
            node_eviction_rate_per_s: 0.1,
            secondary_node_eviction_rate_per_s: 0.01,
            unhealthy_zone_threshold: 0.55,
            large_cluster_size_threshold: 50,
            default_toleration_seconds: 300,
            pod_gc_period: SimDuration::from_secs(20),
            pod_gc_quarantine: SimDuration::from_secs(40),
            terminated_pod_gc_threshold: 12_500,
            cloud_node_monitor_period: SimDuration::from_secs(5),
            lease_renew_interval: SimDuration::from_secs(10),
            node_status_update_frequency: SimDuration::from_secs(10),
            image_list_refresh_period: SimDuration::from_secs(30),
            node_status_max_images: 50,
            image_pull_latency: SimDuration::from_millis(500),
            image_pull_bandwidth_bytes_per_s: 50_000_000,
            default_image_size_bytes: 100_000_000,
            container_start_latency: SimDuration::from_secs(1),
            container_stop_latency: SimDuration::ZERO,
        }
    }
}

/// A mutable reference to one timing, by kind, for overrides.
pub enum Field<'a> {
    Duration(&'a mut SimDuration),
    /// A positive rate (per second).
    Rate(&'a mut f64),
    /// A whole non-negative number.
    Count(&'a mut u64),
    /// Whole seconds (non-negative).
    Seconds(&'a mut i64),
}

impl Timings {
    /// Every overridable name, in documentation order.
    pub const KEYS: &'static [&'static str] = &[
        "api_request_latency",
        "etcd_write_latency",
        "api_request_timeout",
        "watch_cache_capacity",
        "etcd_compaction_interval",
        "watch_latency_scheduler",
        "watch_latency_controller_manager",
        "watch_latency_kubelet",
        "scheduler_qps",
        "scheduler_burst",
        "controller_manager_qps",
        "controller_manager_burst",
        "kubelet_qps",
        "kubelet_burst",
        "scheduler_cycle",
        "pod_initial_backoff",
        "pod_max_backoff",
        "pod_max_in_unschedulable_pods",
        "unschedulable_flush_period",
        "node_monitor_period",
        "node_monitor_grace_period",
        "node_eviction_period",
        "node_eviction_rate_per_s",
        "secondary_node_eviction_rate_per_s",
        "unhealthy_zone_threshold",
        "large_cluster_size_threshold",
        "default_toleration_seconds",
        "pod_gc_period",
        "pod_gc_quarantine",
        "terminated_pod_gc_threshold",
        "cloud_node_monitor_period",
        "lease_renew_interval",
        "node_status_update_frequency",
        "image_list_refresh_period",
        "node_status_max_images",
        "image_pull_latency",
        "image_pull_bandwidth_bytes_per_s",
        "default_image_size_bytes",
        "container_start_latency",
        "container_stop_latency",
    ];

    /// The field named `key`, if there is one.
    pub fn field(&mut self, key: &str) -> Option<Field<'_>> {
        use Field::*;
        Some(match key {
            "api_request_latency" => Duration(&mut self.api_request_latency),
            "etcd_write_latency" => Duration(&mut self.etcd_write_latency),
            "api_request_timeout" => Duration(&mut self.api_request_timeout),
            "watch_cache_capacity" => Count(&mut self.watch_cache_capacity),
            "etcd_compaction_interval" => Duration(&mut self.etcd_compaction_interval),
            "watch_latency_scheduler" => Duration(&mut self.watch_latency_scheduler),
            "watch_latency_controller_manager" => Duration(&mut self.watch_latency_controller_manager),
            "watch_latency_kubelet" => Duration(&mut self.watch_latency_kubelet),
            "scheduler_qps" => Rate(&mut self.scheduler_qps),
            "scheduler_burst" => Count(&mut self.scheduler_burst),
            "controller_manager_qps" => Rate(&mut self.controller_manager_qps),
            "controller_manager_burst" => Count(&mut self.controller_manager_burst),
            "kubelet_qps" => Rate(&mut self.kubelet_qps),
            "kubelet_burst" => Count(&mut self.kubelet_burst),
            "scheduler_cycle" => Duration(&mut self.scheduler_cycle),
            "pod_initial_backoff" => Duration(&mut self.pod_initial_backoff),
            "pod_max_backoff" => Duration(&mut self.pod_max_backoff),
            "pod_max_in_unschedulable_pods" => Duration(&mut self.pod_max_in_unschedulable_pods),
            "unschedulable_flush_period" => Duration(&mut self.unschedulable_flush_period),
            "node_monitor_period" => Duration(&mut self.node_monitor_period),
            "node_monitor_grace_period" => Duration(&mut self.node_monitor_grace_period),
            "node_eviction_period" => Duration(&mut self.node_eviction_period),
            "node_eviction_rate_per_s" => Rate(&mut self.node_eviction_rate_per_s),
            "secondary_node_eviction_rate_per_s" => Rate(&mut self.secondary_node_eviction_rate_per_s),
            "unhealthy_zone_threshold" => Rate(&mut self.unhealthy_zone_threshold),
            "large_cluster_size_threshold" => Count(&mut self.large_cluster_size_threshold),
            "default_toleration_seconds" => Seconds(&mut self.default_toleration_seconds),
            "pod_gc_period" => Duration(&mut self.pod_gc_period),
            "pod_gc_quarantine" => Duration(&mut self.pod_gc_quarantine),
            "terminated_pod_gc_threshold" => Count(&mut self.terminated_pod_gc_threshold),
            "cloud_node_monitor_period" => Duration(&mut self.cloud_node_monitor_period),
            "lease_renew_interval" => Duration(&mut self.lease_renew_interval),
            "node_status_update_frequency" => Duration(&mut self.node_status_update_frequency),
            "image_list_refresh_period" => Duration(&mut self.image_list_refresh_period),
            "node_status_max_images" => Count(&mut self.node_status_max_images),
            "image_pull_latency" => Duration(&mut self.image_pull_latency),
            "image_pull_bandwidth_bytes_per_s" => Count(&mut self.image_pull_bandwidth_bytes_per_s),
            "default_image_size_bytes" => Count(&mut self.default_image_size_bytes),
            "container_start_latency" => Duration(&mut self.container_start_latency),
            "container_stop_latency" => Duration(&mut self.container_stop_latency),
            _ => return None,
        })
    }

    /// Time to pull an image of `size_bytes` on one node.
    pub fn image_pull_time(&self, size_bytes: u64) -> SimDuration {
        let bw = self.image_pull_bandwidth_bytes_per_s.max(1);
        let transfer_us = (u128::from(size_bytes) * 1_000_000).div_ceil(u128::from(bw));
        self.image_pull_latency.saturating_add(SimDuration(transfer_us.min(u128::from(u64::MAX)) as u64))
    }

    /// Client send to etcd commit, with etcd healthy.
    pub fn write_latency(&self) -> SimDuration {
        self.api_request_latency.saturating_add(self.etcd_write_latency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_maps_to_a_field_and_back() {
        let mut t = Timings::default();
        for key in Timings::KEYS {
            assert!(t.field(key).is_some(), "{key}");
        }
        assert!(t.field("nope").is_none());
        // The default write path keeps the 5 ms request-to-commit of the timeline tests.
        assert_eq!(t.write_latency(), SimDuration::from_millis(5));
    }
}
