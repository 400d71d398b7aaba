//! Plugin arguments, as in KubeSchedulerConfiguration's `pluginConfig` (upstream defaults from
//! `pkg/scheduler/apis/config/v1/defaults.go`). A scenario sets them per profile under
//! `[scheduler.profiles.args.<Plugin>]`.

use crate::model::{NodeAffinity, Str, TopologySpreadConstraint};

/// A resource scored by a resource plugin, with its weight.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceSpec {
    /// `cpu`, `memory`, `ephemeral-storage` or an extended resource such as `nvidia.com/gpu`.
    pub name: Str,
    pub weight: i64,
}

impl ResourceSpec {
    pub fn new(name: &str, weight: i64) -> ResourceSpec {
        ResourceSpec { name: Str::from(name), weight }
    }
}

/// The default scored resources: cpu and memory, weight 1 each.
pub fn default_resources() -> Vec<ResourceSpec> {
    vec![ResourceSpec::new("cpu", 1), ResourceSpec::new("memory", 1)]
}

/// `NodeResourcesFitArgs.scoringStrategy.type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScoringStrategy {
    /// Prefer the emptiest nodes (spreading; the default).
    LeastAllocated,
    /// Prefer the fullest nodes (bin packing).
    MostAllocated,
    /// Score utilization through a piecewise-linear `shape`.
    RequestedToCapacityRatio,
}

impl ScoringStrategy {
    pub fn as_str(self) -> &'static str {
        match self {
            ScoringStrategy::LeastAllocated => "LeastAllocated",
            ScoringStrategy::MostAllocated => "MostAllocated",
            ScoringStrategy::RequestedToCapacityRatio => "RequestedToCapacityRatio",
        }
    }
}

/// One point of a RequestedToCapacityRatio shape: utilization 0-100 maps to score 0-10.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UtilizationShapePoint {
    pub utilization: i64,
    pub score: i64,
}

/// `NodeResourcesFitArgs`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FitArgs {
    pub strategy: ScoringStrategy,
    pub resources: Vec<ResourceSpec>,
    /// `requestedToCapacityRatio.shape`, utilization ascending (required for that strategy).
    pub shape: Vec<UtilizationShapePoint>,
    /// `ignoredResources`: extended resources the filter does not check.
    pub ignored_resources: Vec<Str>,
    /// `ignoredResourceGroups`: extended resources whose name's prefix (before `/`) is listed are not checked.
    pub ignored_resource_groups: Vec<Str>,
}

impl Default for FitArgs {
    fn default() -> Self {
        FitArgs {
            strategy: ScoringStrategy::LeastAllocated,
            resources: default_resources(),
            shape: Vec::new(),
            ignored_resources: Vec::new(),
            ignored_resource_groups: Vec::new(),
        }
    }
}

/// `NodeResourcesBalancedAllocationArgs`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BalancedAllocationArgs {
    pub resources: Vec<ResourceSpec>,
}

impl Default for BalancedAllocationArgs {
    fn default() -> Self {
        BalancedAllocationArgs { resources: default_resources() }
    }
}

/// `PodTopologySpreadArgs.defaultingType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultingType {
    /// Built-in defaults (hostname maxSkew 3, zone maxSkew 5, ScheduleAnyway) for pods with no constraints.
    System,
    /// `default_constraints` as given (possibly none).
    List,
}

/// `PodTopologySpreadArgs`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodTopologySpreadArgs {
    /// Used when `defaulting_type` is List. Their selectors are empty: upstream fills them from the Services,
    /// ReplicaSets and StatefulSets selecting the pod (here: the pod's owner's selector).
    pub default_constraints: Vec<TopologySpreadConstraint>,
    pub defaulting_type: DefaultingType,
}

impl Default for PodTopologySpreadArgs {
    fn default() -> Self {
        PodTopologySpreadArgs { default_constraints: Vec::new(), defaulting_type: DefaultingType::System }
    }
}

/// `InterPodAffinityArgs`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterPodAffinityArgs {
    /// Score weight of an existing pod's *required* affinity term matched by the incoming pod (0-100).
    pub hard_pod_affinity_weight: i32,
    /// `ignorePreferredTermsOfExistingPods`.
    pub ignore_preferred_terms_of_existing_pods: bool,
}

impl Default for InterPodAffinityArgs {
    fn default() -> Self {
        InterPodAffinityArgs { hard_pod_affinity_weight: 1, ignore_preferred_terms_of_existing_pods: false }
    }
}

/// `DefaultPreemptionArgs`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DefaultPreemptionArgs {
    pub min_candidate_nodes_percentage: i32,
    pub min_candidate_nodes_absolute: i32,
}

impl Default for DefaultPreemptionArgs {
    fn default() -> Self {
        DefaultPreemptionArgs { min_candidate_nodes_percentage: 10, min_candidate_nodes_absolute: 100 }
    }
}

/// `NodeAffinityArgs`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeAffinityArgs {
    /// `addedAffinity`: node affinity every pod of the profile must also satisfy (required) and is scored by
    /// (preferred).
    pub added_affinity: Option<NodeAffinity>,
}

/// The arguments of every configurable plugin in a profile.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PluginArgs {
    pub fit: FitArgs,
    pub balanced: BalancedAllocationArgs,
    pub topology_spread: PodTopologySpreadArgs,
    pub inter_pod_affinity: InterPodAffinityArgs,
    pub preemption: DefaultPreemptionArgs,
    pub node_affinity: NodeAffinityArgs,
}
