//! Pods: the immutable [`PodSpec`] (shared), the per-workload [`PodTemplate`] and the mutable [`PodState`].

use super::{
    HostPort, JobId, Labels, NodeAffinity, NodeId, PodAffinityRules, ReplicaSetId, Resources, Str, Toleration,
    TopologySpreadConstraint,
};
use crate::dist::Dist;
use crate::time::{SimDuration, SimTime};
use std::sync::Arc;

slotmap::new_key_type! {
    /// Key of a pod in the store. Versioned: a deleted pod's key never aliases a new pod.
    pub struct PodId;
}

/// The CPU request kube-scheduler assumes for scoring when a container omits it (`DefaultMilliCPURequest`).
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// The memory request kube-scheduler assumes for scoring when a container omits it (`DefaultMemoryRequest`).
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// A container. Only what placement and the fake lifecycle need.
#[derive(Clone, Debug, Default)]
pub struct Container {
    pub name: Str,
    pub image: Str,
    pub requests: Resources,
    pub limits: Resources,
    /// Ports bound on the node (`hostPort`).
    pub host_ports: Vec<HostPort>,
    /// Whether `requests.cpu` was given (the scheduler's non-zero default applies only when it was omitted).
    pub has_cpu_request: bool,
    /// Whether `requests.memory` was given.
    pub has_memory_request: bool,
}

/// `spec.restartPolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestartPolicy {
    Always,
    OnFailure,
    Never,
}

impl RestartPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            RestartPolicy::Always => "Always",
            RestartPolicy::OnFailure => "OnFailure",
            RestartPolicy::Never => "Never",
        }
    }
}

/// `spec.preemptionPolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PreemptionPolicy {
    PreemptLowerPriority,
    Never,
}

/// How long a container runs each time it starts (the fake container's behaviour).
#[derive(Clone, Debug, PartialEq)]
pub enum RunModel {
    /// A service: runs until deleted.
    Forever,
    /// Runs for a duration drawn from the distribution, then exits.
    For(Dist),
}

/// How a finished run exits.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ExitModel {
    /// Probability that a finished run exits with `failure_exit_code` instead of 0.
    pub failure_probability: f64,
    pub failure_exit_code: i32,
}

impl Default for ExitModel {
    fn default() -> Self {
        ExitModel { failure_probability: 0.0, failure_exit_code: 1 }
    }
}

/// Everything pods of one workload share: containers, constraints, and the simulated behaviour.
/// Built once per workload (and once more per admission result), shared by `Arc`.
#[derive(Clone, Debug)]
pub struct PodTemplate {
    pub labels: Labels,
    pub containers: Vec<Container>,
    pub init_containers: Vec<Container>,
    pub priority: i32,
    pub priority_class_name: Option<Str>,
    pub preemption_policy: PreemptionPolicy,
    pub node_selector: Labels,
    /// `spec.affinity.nodeAffinity`.
    pub node_affinity: NodeAffinity,
    /// `spec.affinity.podAffinity`.
    pub pod_affinity: PodAffinityRules,
    /// `spec.affinity.podAntiAffinity`.
    pub pod_anti_affinity: PodAffinityRules,
    /// `spec.topologySpreadConstraints`.
    pub topology_spread: Vec<TopologySpreadConstraint>,
    /// `spec.nodeName` set by the user (bypasses the scheduler's choice; the NodeName filter enforces it).
    pub node_name: Option<Str>,
    pub tolerations: Vec<Toleration>,
    pub restart_policy: RestartPolicy,
    pub termination_grace_period: SimDuration,
    pub scheduler_name: Str,
    pub run: RunModel,
    pub exit: ExitModel,
    /// How long after its containers start the pod turns Ready. A *model* of the readiness probe: upstream, a pod
    /// with a readiness probe is Ready at the first successful probe after `initialDelaySeconds`, on the probe's
    /// `periodSeconds` grid; a pod without one is Ready as soon as its containers run (zero here).
    pub readiness_delay: SimDuration,
    /// Derived: the pod's effective request, `max(Σ containers, max(init containers))`.
    pub requests: Resources,
    /// Derived: CPU request for scoring, with the 100m default for containers that omit it.
    pub nonzero_cpu_millis: i64,
    /// Derived: memory request for scoring, with the 200Mi default for containers that omit it.
    pub nonzero_memory_bytes: i64,
    /// Derived: the host ports of all containers.
    pub host_ports: Vec<HostPort>,
    /// A share of ONE GPU in milli (`1..=999`), or 0 (no GPU, or whole GPUs via `requests["nvidia.com/gpu"]`).
    /// See [`super::gpu`].
    pub gpu_milli: i64,
    /// GPU models the pod may run on (any of them; empty = any model), sorted.
    pub gpu_spec: Vec<Str>,
}

impl Default for PodTemplate {
    /// An empty template with upstream's defaults (restart Always, 30 s grace, the default scheduler).
    fn default() -> Self {
        PodTemplate {
            labels: Labels::new(),
            containers: Vec::new(),
            init_containers: Vec::new(),
            priority: 0,
            priority_class_name: None,
            preemption_policy: PreemptionPolicy::PreemptLowerPriority,
            node_selector: Labels::new(),
            node_affinity: NodeAffinity::default(),
            pod_affinity: PodAffinityRules::default(),
            pod_anti_affinity: PodAffinityRules::default(),
            topology_spread: Vec::new(),
            node_name: None,
            tolerations: Vec::new(),
            restart_policy: RestartPolicy::Always,
            termination_grace_period: SimDuration::from_secs(30),
            scheduler_name: Str::from("default-scheduler"),
            run: RunModel::Forever,
            exit: ExitModel::default(),
            readiness_delay: SimDuration::ZERO,
            requests: Resources::default(),
            nonzero_cpu_millis: 0,
            nonzero_memory_bytes: 0,
            host_ports: Vec::new(),
            gpu_milli: 0,
            gpu_spec: Vec::new(),
        }
    }
}

impl PodTemplate {
    /// The pod's GPU demand (see [`super::gpu`]).
    pub fn gpu_demand(&self) -> super::GpuDemand {
        super::GpuDemand::of(&self.requests, self.gpu_milli)
    }

    /// Recomputes the derived request fields from the containers. Call after building or changing containers.
    pub fn finalize(&mut self) {
        let mut sum = Resources::default();
        let (mut nz_cpu, mut nz_mem) = (0i64, 0i64);
        for c in &self.containers {
            sum.add(&c.requests);
            nz_cpu += if c.has_cpu_request { c.requests.cpu_millis } else { DEFAULT_MILLI_CPU_REQUEST };
            nz_mem += if c.has_memory_request { c.requests.memory_bytes } else { DEFAULT_MEMORY_REQUEST };
        }
        for c in &self.init_containers {
            sum.max_with(&c.requests);
            let cpu = if c.has_cpu_request { c.requests.cpu_millis } else { DEFAULT_MILLI_CPU_REQUEST };
            let mem = if c.has_memory_request { c.requests.memory_bytes } else { DEFAULT_MEMORY_REQUEST };
            nz_cpu = nz_cpu.max(cpu);
            nz_mem = nz_mem.max(mem);
        }
        self.requests = sum;
        self.nonzero_cpu_millis = nz_cpu;
        self.nonzero_memory_bytes = nz_mem;
        self.host_ports = self.containers.iter().flat_map(|c| c.host_ports.iter().cloned()).collect();
    }

    /// Distinct images of init and regular containers, in order (pulled one after another).
    pub fn images(&self) -> impl Iterator<Item = &Str> {
        self.init_containers.iter().chain(self.containers.iter()).map(|c| &c.image)
    }
}

/// An image reference as container runtimes report it: with `:latest` appended when it has no tag (the last
/// `:` is not after the last `/`), as upstream ImageLocality's `normalizedImageName`. Digests (`name@sha256:...`)
/// are kept as they are.
pub fn normalized_image_name(name: &str) -> std::borrow::Cow<'_, str> {
    if name.rfind(':') <= name.rfind('/') {
        std::borrow::Cow::Owned(format!("{name}:latest"))
    } else {
        std::borrow::Cow::Borrowed(name)
    }
}

/// Who owns a pod (its controller `ownerReference`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OwnerRef {
    ReplicaSet(ReplicaSetId),
    Job(JobId),
    DaemonSet(super::DaemonSetId),
}

/// The immutable part of one pod.
#[derive(Debug)]
pub struct PodSpec {
    pub name: Str,
    pub namespace: Str,
    pub uid: u64,
    pub owner: Option<OwnerRef>,
    /// The workload the pod belongs to, for metrics and reports (Deployment, Job or arrival process name).
    pub workload: Str,
    /// Key of the pod's own random stream: stable across policies (workload index and pod ordinal).
    pub rng_key: u64,
    pub created: SimTime,
    pub template: Arc<PodTemplate>,
}

/// `status.phase`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PodPhase {
    Pending,
    Running,
    Succeeded,
    Failed,
}

impl PodPhase {
    pub const ALL: [PodPhase; 4] = [PodPhase::Pending, PodPhase::Running, PodPhase::Succeeded, PodPhase::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            PodPhase::Pending => "Pending",
            PodPhase::Running => "Running",
            PodPhase::Succeeded => "Succeeded",
            PodPhase::Failed => "Failed",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, PodPhase::Succeeded | PodPhase::Failed)
    }
}

/// Why a pod ended up where it is (`status.reason`, or the cause of a deletion).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PodReason {
    None,
    /// Deleted by the taint eviction controller (`TaintManagerEviction`).
    TaintEviction,
    /// Deleted by a user or workload (scale-down, scenario action).
    Deleted,
    /// Deleted by preemption.
    Preempted,
    /// Evicted through the Eviction API (a drain), within its PodDisruptionBudget.
    EvictionApi,
    /// Rejected by the kubelet's admission: not enough CPU.
    OutOfCpu,
    /// Rejected by the kubelet's admission: not enough memory.
    OutOfMemory,
    /// Rejected by the kubelet's admission: too many pods.
    OutOfPods,
    /// Rejected by the kubelet's admission: an extended resource is short.
    OutOfExtended,
    /// Containers exited; the pod finished with an error.
    Error,
    /// A container was killed for exceeding its memory limit (exit code 137).
    OomKilled,
    /// Removed by the pod garbage collector.
    GarbageCollected,
    /// Marked Failed and deleted by the pod garbage collector because its node no longer exists (upstream: the
    /// `DisruptionTarget` condition with reason `DeletionByPodGC`).
    DeletionByPodGc,
}

impl PodReason {
    pub fn as_str(self) -> &'static str {
        match self {
            PodReason::None => "",
            PodReason::TaintEviction => "TaintManagerEviction",
            PodReason::Deleted => "Deleted",
            PodReason::Preempted => "Preempted",
            PodReason::EvictionApi => "EvictionByEvictionAPI",
            PodReason::OutOfCpu => "OutOfcpu",
            PodReason::OutOfMemory => "OutOfmemory",
            PodReason::OutOfPods => "OutOfpods",
            PodReason::OutOfExtended => "OutOfExtendedResource",
            PodReason::Error => "Error",
            PodReason::OomKilled => "OOMKilled",
            PodReason::GarbageCollected => "PodGC",
            PodReason::DeletionByPodGc => "DeletionByPodGC",
        }
    }
}

/// The mutable part of a pod: exactly what watches carry on every update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PodState {
    pub phase: PodPhase,
    /// `spec.nodeName`, set once by a binding.
    pub node: Option<NodeId>,
    /// The `Ready` condition.
    pub ready: bool,
    /// `metadata.deletionTimestamp`: set when a graceful deletion started.
    pub deletion: Option<SimTime>,
    /// `status.nominatedNodeName` (set by preemption).
    pub nominated_node: Option<NodeId>,
    /// Restarts of the pod's containers (sum over containers).
    pub restart_count: u32,
    /// The pod's `resourceVersion`: the etcd revision of its last write.
    pub resource_version: u64,
    pub reason: PodReason,
    /// Exit code of the last finished run (meaningful for terminal pods).
    pub exit_code: i32,
    /// When the pod's containers finished, set by the kubelet with a terminal phase (upstream: the latest
    /// `state.terminated.finishedAt` of its container statuses); [`SimTime::MAX`] until then (not an `Option`,
    /// which would take the state past 64 bytes, and every watch event copies it). Read it with
    /// [`PodState::finished`]. The Job controller counts its pod-failure back-off from it.
    pub finished_at: SimTime,
}

impl PodState {
    pub fn new_pending() -> PodState {
        PodState {
            phase: PodPhase::Pending,
            node: None,
            ready: false,
            deletion: None,
            nominated_node: None,
            restart_count: 0,
            resource_version: 0,
            reason: PodReason::None,
            exit_code: 0,
            finished_at: SimTime::MAX,
        }
    }

    /// When the pod's containers finished, if the kubelet reported it.
    pub fn finished(&self) -> Option<SimTime> {
        (self.finished_at != SimTime::MAX).then_some(self.finished_at)
    }

    /// Terminating = a graceful deletion is in progress.
    pub fn is_terminating(&self) -> bool {
        self.deletion.is_some()
    }

    /// Active in the ReplicaSet controller's sense: not terminal and not being deleted.
    pub fn is_active(&self) -> bool {
        !self.phase.is_terminal() && self.deletion.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::s;

    fn container(cpu: Option<i64>, mem: Option<i64>) -> Container {
        Container {
            name: s("c"),
            image: s("img"),
            requests: Resources::new(cpu.unwrap_or(0), mem.unwrap_or(0)),
            has_cpu_request: cpu.is_some(),
            has_memory_request: mem.is_some(),
            ..Container::default()
        }
    }

    pub(crate) fn template(containers: Vec<Container>, init: Vec<Container>) -> PodTemplate {
        let mut t = PodTemplate { containers, init_containers: init, ..PodTemplate::default() };
        t.finalize();
        t
    }

    #[test]
    fn pod_state_stays_small() {
        // Every watch event copies it; at 72 bytes the node-failure benchmark ran 12% slower than at 64.
        assert!(std::mem::size_of::<PodState>() <= 64, "{}", std::mem::size_of::<PodState>());
    }

    #[test]
    fn image_names_are_normalized_like_upstream() {
        // Upstream `TestNormalizedImageName`.
        assert_eq!(normalized_image_name("root"), "root:latest");
        assert_eq!(normalized_image_name("gcr.io:5000/root"), "gcr.io:5000/root:latest");
        assert_eq!(normalized_image_name("root:tag"), "root:tag");
        assert_eq!(normalized_image_name("root@sha256:abc"), "root@sha256:abc");
    }

    #[test]
    fn effective_requests_and_nonzero_defaults() {
        // Two containers: one omits both requests, one sets cpu only.
        let t = template(vec![container(None, None), container(Some(250), None)], vec![]);
        assert_eq!(t.requests.cpu_millis, 250);
        assert_eq!(t.requests.memory_bytes, 0);
        assert_eq!(t.nonzero_cpu_millis, 100 + 250);
        assert_eq!(t.nonzero_memory_bytes, 2 * DEFAULT_MEMORY_REQUEST);
        // An explicit zero stays zero for scoring.
        let t = template(vec![container(Some(0), Some(0))], vec![]);
        assert_eq!((t.nonzero_cpu_millis, t.nonzero_memory_bytes), (0, 0));
        // Init containers: the max of init and the sum of regular containers.
        let t = template(vec![container(Some(100), Some(10))], vec![container(Some(500), Some(5))]);
        assert_eq!(t.requests.cpu_millis, 500);
        assert_eq!(t.requests.memory_bytes, 10);
        // No containers: zero.
        let t = template(vec![], vec![]);
        assert_eq!((t.nonzero_cpu_millis, t.requests.cpu_millis), (0, 0));
    }
}
