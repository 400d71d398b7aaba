//! Nodes.

use super::{Labels, Resources, Str, Taint};
use crate::time::SimTime;

/// Index of a node in the cluster. Nodes are never reused: a removed node's id stays retired.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub u32);

impl NodeId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Status of a node condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConditionStatus {
    True,
    False,
    Unknown,
}

impl ConditionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConditionStatus::True => "True",
            ConditionStatus::False => "False",
            ConditionStatus::Unknown => "Unknown",
        }
    }
}

/// A node object as stored in etcd. Stored behind `Arc` and replaced copy-on-write.
#[derive(Clone, Debug)]
pub struct Node {
    pub name: Str,
    pub uid: u64,
    pub labels: Labels,
    pub taints: Vec<Taint>,
    /// `spec.unschedulable` (cordon).
    pub unschedulable: bool,
    /// `status.allocatable` without the pod count.
    pub allocatable: Resources,
    /// `status.allocatable["pods"]`.
    pub allocatable_pods: i64,
    /// The `Ready` condition.
    pub ready: ConditionStatus,
    /// When `ready` last changed.
    pub ready_transition: SimTime,
    /// Index of the scenario node pool the node came from.
    pub pool: u32,
    /// `status.images`: images present on the node and their sizes in bytes, sorted by name (ImageLocality).
    pub images: Vec<(Str, u64)>,
}

impl Default for Node {
    fn default() -> Self {
        Node {
            name: Str::from(""),
            uid: 0,
            labels: Labels::new(),
            taints: Vec::new(),
            unschedulable: false,
            allocatable: Resources::default(),
            allocatable_pods: 110,
            ready: ConditionStatus::True,
            ready_transition: SimTime::ZERO,
            pool: 0,
            images: Vec::new(),
        }
    }
}

/// The well-known zone label.
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
/// The well-known region label.
pub const REGION_LABEL: &str = "topology.kubernetes.io/region";
/// The well-known hostname label.
pub const HOSTNAME_LABEL: &str = "kubernetes.io/hostname";

impl Node {
    /// The node's zone label, if any.
    pub fn zone(&self) -> Option<&Str> {
        self.labels.get(ZONE_LABEL)
    }

    pub fn is_ready(&self) -> bool {
        self.ready == ConditionStatus::True
    }
}
