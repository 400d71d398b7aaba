//! Workload objects: Deployments, ReplicaSets and Jobs.

use super::{LabelSelector, PodTemplate, Str};
use crate::time::{SimDuration, SimTime};
use std::sync::Arc;

slotmap::new_key_type! {
    pub struct ReplicaSetId;
    pub struct DeploymentId;
    pub struct JobId;
    pub struct DaemonSetId;
    pub struct PdbId;
}

/// A PodDisruptionBudget: voluntary disruptions (evictions) of the pods it selects may not bring the healthy
/// ones below `minAvailable` (or take more than `maxUnavailable` away). Exactly one of the two is set.
#[derive(Clone, Debug)]
pub struct PodDisruptionBudget {
    pub name: Str,
    pub namespace: Str,
    pub uid: u64,
    pub selector: LabelSelector,
    pub min_available: Option<IntOrPercent>,
    pub max_unavailable: Option<IntOrPercent>,
    pub status: PdbStatus,
}

/// `status` of a PodDisruptionBudget, computed by the disruption controller and decremented by evictions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PdbStatus {
    pub expected_pods: i32,
    pub current_healthy: i32,
    pub desired_healthy: i32,
    pub disruptions_allowed: i32,
}

/// A DaemonSet: one pod on every node its template fits.
#[derive(Clone, Debug)]
pub struct DaemonSet {
    pub name: Str,
    pub namespace: Str,
    pub uid: u64,
    pub workload_index: u32,
    pub selector: LabelSelector,
    pub template: Arc<PodTemplate>,
    pub created: SimTime,
    pub status: DaemonSetStatus,
}

/// `status` of a DaemonSet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DaemonSetStatus {
    /// Nodes that should run the daemon pod (`desiredNumberScheduled`).
    pub desired: i32,
    /// Nodes running (or starting) one (`currentNumberScheduled`).
    pub current: i32,
    /// Of those, ready (`numberReady`).
    pub ready: i32,
}

/// An integer or a percentage (`maxSurge`, `maxUnavailable`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntOrPercent {
    Int(i32),
    Percent(i32),
}

impl IntOrPercent {
    /// Upstream `GetScaledValueFromIntOrPercent`: a percentage of `total`, rounded up or down.
    pub fn scaled(self, total: i32, round_up: bool) -> i32 {
        match self {
            IntOrPercent::Int(v) => v,
            IntOrPercent::Percent(p) => {
                let num = i64::from(p) * i64::from(total);
                let v = if round_up { (num + 99).div_euclid(100) } else { num.div_euclid(100) };
                v as i32
            }
        }
    }
}

/// A ReplicaSet: keeps `replicas` pods matching `selector` alive.
#[derive(Clone, Debug)]
pub struct ReplicaSet {
    pub name: Str,
    pub namespace: Str,
    pub uid: u64,
    pub owner: Option<DeploymentId>,
    /// The workload name reported for its pods (the owning Deployment's name, or its own).
    pub workload: Str,
    /// Index of the workload in the scenario, for per-pod random streams.
    pub workload_index: u32,
    pub replicas: i32,
    pub selector: LabelSelector,
    pub template: Arc<PodTemplate>,
    pub created: SimTime,
    pub status: ReplicaSetStatus,
}

/// `status` of a ReplicaSet, written by its controller.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplicaSetStatus {
    /// Active pods (not terminal, not being deleted).
    pub replicas: i32,
    pub ready_replicas: i32,
    /// Ready for at least `minReadySeconds` (kubesim: 0, so equal to ready).
    pub available_replicas: i32,
}

/// The rolling-update strategy of a Deployment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RollingUpdate {
    pub max_surge: IntOrPercent,
    pub max_unavailable: IntOrPercent,
}

impl Default for RollingUpdate {
    /// Upstream defaults: 25% and 25%.
    fn default() -> Self {
        RollingUpdate { max_surge: IntOrPercent::Percent(25), max_unavailable: IntOrPercent::Percent(25) }
    }
}

/// A Deployment.
#[derive(Clone, Debug)]
pub struct Deployment {
    pub name: Str,
    pub namespace: Str,
    pub uid: u64,
    /// Bumped by the apiserver on every spec change; `status.observed_generation` catches up.
    pub generation: u64,
    pub workload_index: u32,
    pub replicas: i32,
    pub selector: LabelSelector,
    pub template: Arc<PodTemplate>,
    pub strategy: RollingUpdate,
    pub created: SimTime,
    pub status: DeploymentStatus,
}

/// `status` of a Deployment, written by its controller.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeploymentStatus {
    pub observed_generation: u64,
    /// Active pods of all its ReplicaSets.
    pub replicas: i32,
    /// Active pods of the current template's ReplicaSet.
    pub updated_replicas: i32,
    pub ready_replicas: i32,
    pub available_replicas: i32,
    /// The `Progressing` condition's reason is `NewReplicaSetAvailable` (the rollout of this generation is done).
    pub complete: bool,
}

/// A Job (non-indexed).
#[derive(Clone, Debug)]
pub struct Job {
    pub name: Str,
    pub namespace: Str,
    pub uid: u64,
    pub workload_index: u32,
    /// `spec.completions`: successful pods needed.
    pub completions: i32,
    /// `spec.parallelism`: pods running at once at most.
    pub parallelism: i32,
    /// `spec.backoffLimit`: failed pods tolerated before the Job fails.
    pub backoff_limit: i32,
    pub active_deadline: Option<SimDuration>,
    pub template: Arc<PodTemplate>,
    pub created: SimTime,
    pub status: JobStatus,
}

/// A Job's terminal condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobCondition {
    Complete,
    Failed(JobFailReason),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobFailReason {
    BackoffLimitExceeded,
    DeadlineExceeded,
}

impl JobFailReason {
    pub fn as_str(self) -> &'static str {
        match self {
            JobFailReason::BackoffLimitExceeded => "BackoffLimitExceeded",
            JobFailReason::DeadlineExceeded => "DeadlineExceeded",
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JobStatus {
    pub active: i32,
    pub succeeded: i32,
    pub failed: i32,
    pub condition: Option<JobCondition>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_or_percent_rounding() {
        // 25% of 10: surge rounds up to 3, unavailable down to 2 (upstream).
        assert_eq!(IntOrPercent::Percent(25).scaled(10, true), 3);
        assert_eq!(IntOrPercent::Percent(25).scaled(10, false), 2);
        assert_eq!(IntOrPercent::Percent(25).scaled(4, true), 1);
        assert_eq!(IntOrPercent::Percent(25).scaled(1, false), 0);
        assert_eq!(IntOrPercent::Int(2).scaled(100, false), 2);
    }
}
