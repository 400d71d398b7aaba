//! Plugins by name. Adding a plugin is one file in `plugins/` plus one line in [`build`].

use super::framework::Plugin;
use super::plugins::node_resources_fit::{NodeResourcesFit, ResourceWeights, ScoringStrategy};
use super::plugins::{node_affinity, node_name, node_unschedulable, taint_toleration};

/// Arguments a profile can pass to plugins.
#[derive(Clone, Debug, PartialEq)]
pub struct PluginArgs {
    /// `NodeResourcesFitArgs.scoringStrategy.type`.
    pub fit_strategy: ScoringStrategy,
    /// `NodeResourcesFitArgs.scoringStrategy.resources`.
    pub fit_weights: ResourceWeights,
}

impl Default for PluginArgs {
    fn default() -> Self {
        PluginArgs { fit_strategy: ScoringStrategy::LeastAllocated, fit_weights: ResourceWeights::default() }
    }
}

/// Builds the plugin registered under `name`.
pub fn build(name: &str, args: &PluginArgs) -> Option<Box<dyn Plugin>> {
    Some(match name {
        "NodeUnschedulable" => Box::new(node_unschedulable::NodeUnschedulable::default()),
        "NodeName" => Box::new(node_name::NodeName),
        "TaintToleration" => Box::new(taint_toleration::TaintToleration),
        "NodeAffinity" => Box::new(node_affinity::NodeAffinity),
        "NodeResourcesFit" => Box::new(NodeResourcesFit { strategy: args.fit_strategy, weights: args.fit_weights }),
        _ => return None,
    })
}

/// Names the registry knows, in the default profile's order.
pub const KNOWN: &[&str] = &["NodeUnschedulable", "NodeName", "TaintToleration", "NodeAffinity", "NodeResourcesFit"];

/// The default profile's plugins in upstream order with their score weights (0 = not scored). Plugins of the
/// upstream default profile that kubesim does not implement yet are listed in the README's feature table.
pub const DEFAULT_PROFILE: &[(&str, i64)] =
    &[("NodeUnschedulable", 0), ("NodeName", 0), ("TaintToleration", 3), ("NodeAffinity", 2), ("NodeResourcesFit", 1)];
