//! Plugin arguments, as in KubeSchedulerConfiguration's `pluginConfig` (upstream defaults from
//! `pkg/scheduler/apis/config/v1/defaults.go`). A scenario sets them per profile under
//! `[scheduler.profiles.args.<Plugin>]`.

use crate::model::{NodeAffinity, Str, TopologySpreadConstraint};
use crate::scheduler::cache::gpu_frag::TargetWorkload;
use std::sync::Arc;

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

/// Upstream's rules for scored resources (`validateResources`): weights in [1, 100].
fn validate_resources(field: &str, resources: &[ResourceSpec]) -> Result<(), String> {
    for (i, r) in resources.iter().enumerate() {
        if !(1..=100).contains(&r.weight) {
            return Err(format!("{field}[{i}].weight: resource weight of {} not in valid range [1, 100]", r.weight));
        }
    }
    Ok(())
}

impl FitArgs {
    /// Upstream `ValidateNodeResourcesFitArgs` as far as kubesim's args go: resource weights in [1, 100]; for
    /// RequestedToCapacityRatio a non-empty shape with strictly increasing utilizations in [0, 100] and scores in
    /// [0, 10]; ignored resource groups are name prefixes, so without `/`.
    pub fn validate(&self) -> Result<(), String> {
        validate_resources("scoringStrategy.resources", &self.resources)?;
        for g in &self.ignored_resource_groups {
            if g.contains('/') {
                return Err(format!("ignoredResourceGroups: {g:?} must not contain \"/\""));
            }
        }
        if self.strategy != ScoringStrategy::RequestedToCapacityRatio {
            return Ok(());
        }
        let field = "scoringStrategy.requestedToCapacityRatio.shape";
        if self.shape.is_empty() {
            return Err(format!("{field}: at least one point must be specified"));
        }
        if let Some(i) = (1..self.shape.len()).find(|&i| self.shape[i - 1].utilization >= self.shape[i].utilization) {
            return Err(format!("{field}[{i}].utilization: utilization values must be sorted in increasing order"));
        }
        for (i, p) in self.shape.iter().enumerate() {
            if !(0..=100).contains(&p.utilization) {
                return Err(format!("{field}[{i}].utilization: {} not in valid range [0, 100]", p.utilization));
            }
            if !(0..=10).contains(&p.score) {
                return Err(format!("{field}[{i}].score: {} not in valid range [0, 10]", p.score));
            }
        }
        Ok(())
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

impl BalancedAllocationArgs {
    /// Upstream `ValidateNodeResourcesBalancedAllocationArgs`: resource weights in [1, 100].
    pub fn validate(&self) -> Result<(), String> {
        validate_resources("resources", &self.resources)
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
    pub fgd: FgdArgs,
}

/// The target workload as a plugin argument (compared by content).
#[derive(Clone, Debug, Default)]
pub struct FgdArgs {
    pub target: Arc<TargetWorkload>,
}

impl PartialEq for FgdArgs {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.target, &other.target) || *self.target == *other.target
    }
}

impl Eq for FgdArgs {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_args_validation() {
        assert_eq!(FitArgs::default().validate(), Ok(()));
        let bad_weight = FitArgs { resources: vec![ResourceSpec::new("cpu", 0)], ..FitArgs::default() };
        assert!(bad_weight.validate().unwrap_err().contains("not in valid range [1, 100]"));
        let point = |utilization, score| UtilizationShapePoint { utilization, score };
        let rtcr = |shape| FitArgs { strategy: ScoringStrategy::RequestedToCapacityRatio, shape, ..FitArgs::default() };
        assert!(rtcr(vec![]).validate().unwrap_err().contains("at least one point"));
        assert_eq!(rtcr(vec![point(0, 10), point(100, 0)]).validate(), Ok(()));
        assert!(rtcr(vec![point(50, 1), point(50, 2)]).validate().unwrap_err().contains("increasing"));
        assert!(rtcr(vec![point(0, 11)]).validate().unwrap_err().contains("[0, 10]"));
        assert!(rtcr(vec![point(101, 1)]).validate().unwrap_err().contains("[0, 100]"));
        let group = FitArgs { ignored_resource_groups: vec![Str::from("example.com/x")], ..FitArgs::default() };
        assert!(group.validate().is_err());
        let balanced = BalancedAllocationArgs { resources: vec![ResourceSpec::new("cpu", 101)] };
        assert!(balanced.validate().is_err());
    }
}
