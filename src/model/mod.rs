//! The Kubernetes object model kubesim simulates: the subset of the API that placement and lifecycles depend on.
//!
//! Objects are split the way the simulator uses them. The parts of a pod that never change after creation
//! (name, owner, containers, constraints) live in an [`Arc`]-shared [`PodSpec`] whose bulky part, the
//! [`PodTemplate`], is shared by every pod of a workload; the parts that change (phase, node, readiness,
//! deletion) are a small `Copy` [`PodState`]. A watch event therefore costs a reference-count increment and a
//! 64-byte copy, never an allocation. Cluster-scoped objects that change rarely (nodes, workloads) are stored as
//! `Arc<T>` and replaced copy-on-write.

pub mod affinity;
pub mod gpu;
pub mod labels;
pub mod node;
pub mod pod;
pub mod resources;
pub mod taints;
pub mod workload;

pub use affinity::{
    HostPort, InclusionPolicy, PodAffinityRules, PodAffinityTerm, PreferredSchedulingTerm, Protocol,
    TopologySpreadConstraint, WeightedPodAffinityTerm, WhenUnsatisfiable,
};
pub use gpu::GpuDemand;
pub use labels::{
    LabelSelector, Labels, NodeAffinity, NodeSelectorOp, NodeSelectorRequirement, NodeSelectorTerm, SelectorOp,
    SelectorRequirement,
};
pub use node::{ConditionStatus, Node, NodeId};
pub use pod::{
    Container, ExitModel, OwnerRef, PodId, PodPhase, PodReason, PodSpec, PodState, PodTemplate, PreemptionPolicy,
    RestartPolicy, RunModel, normalized_image_name,
};
pub use resources::Resources;
pub use taints::{Taint, TaintEffect, Toleration, TolerationOp};
pub use workload::{
    DaemonSet, DaemonSetId, Deployment, DeploymentId, IntOrPercent, Job, JobId, PdbId, PodDisruptionBudget, ReplicaSet,
    ReplicaSetId,
};

use std::sync::Arc;

/// Shared immutable string. Names, label keys and values are cloned often and never mutated.
pub type Str = Arc<str>;

/// Convenience: an owned `Str` from anything string-like.
pub fn s(text: impl AsRef<str>) -> Str {
    Arc::from(text.as_ref())
}

/// The API kinds kubesim stores. Used in `events.csv` (`kind` column) and watch routing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Pod,
    Node,
    ReplicaSet,
    Deployment,
    Job,
    DaemonSet,
    PodDisruptionBudget,
    /// Not an API kind: rows about injected faults.
    Fault,
    /// Not an API kind: rows about a control-plane process (`kube-scheduler`) itself.
    Component,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Pod => "Pod",
            Kind::Node => "Node",
            Kind::ReplicaSet => "ReplicaSet",
            Kind::Deployment => "Deployment",
            Kind::Job => "Job",
            Kind::DaemonSet => "DaemonSet",
            Kind::PodDisruptionBudget => "PodDisruptionBudget",
            Kind::Fault => "Fault",
            Kind::Component => "Component",
        }
    }
}
