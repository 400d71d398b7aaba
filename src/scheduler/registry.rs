//! Plugins by name. Adding a plugin is one file in `plugins/` plus one line in [`REGISTRY`].

use super::args::PluginArgs;
use super::framework::Plugin;
use super::plugins::*;

/// A registered plugin: its name and how to build it from the profile's arguments.
pub struct Registration {
    pub name: &'static str,
    pub build: fn(&PluginArgs) -> Box<dyn Plugin>,
}

const fn reg(name: &'static str, build: fn(&PluginArgs) -> Box<dyn Plugin>) -> Registration {
    Registration { name, build }
}

/// Every plugin kubesim knows, upstream ones in the default profile's order, then the research policies.
pub const REGISTRY: &[Registration] = &[
    reg("PrioritySort", |_| Box::new(priority_sort::PrioritySort)),
    reg("NodeUnschedulable", |_| Box::new(node_unschedulable::NodeUnschedulable::default())),
    reg("NodeName", |_| Box::new(node_name::NodeName)),
    reg("TaintToleration", |_| Box::new(taint_toleration::TaintToleration)),
    reg("NodeAffinity", |a| Box::new(node_affinity::NodeAffinity::new(a.node_affinity.clone()))),
    reg("NodePorts", |_| Box::new(node_ports::NodePorts)),
    reg("NodeResourcesFit", |a| Box::new(node_resources_fit::NodeResourcesFit::new(a.fit.clone()))),
    reg("PodTopologySpread", |a| Box::new(pod_topology_spread::PodTopologySpread::new(a.topology_spread.clone()))),
    reg("InterPodAffinity", |a| Box::new(inter_pod_affinity::InterPodAffinity::new(a.inter_pod_affinity.clone()))),
    reg("DefaultPreemption", |a| Box::new(default_preemption::DefaultPreemption { args: a.preemption.clone() })),
    reg("NodeResourcesBalancedAllocation", |a| {
        Box::new(node_resources_balanced_allocation::NodeResourcesBalancedAllocation::new(a.balanced.clone()))
    }),
    reg("ImageLocality", |_| Box::new(image_locality::ImageLocality)),
    reg("DefaultBinder", |_| Box::new(default_binder::DefaultBinder)),
    // Not upstream: per-GPU accounting for GPU sharing (passes every pod without GPUs).
    reg("GpuShare", |_| Box::new(gpu_share::GpuShare)),
    // Not upstream: research policies, and a cost-aware example.
    reg("Random", |_| Box::new(random::Random)),
    reg("FirstFit", |_| Box::new(first_fit::FirstFit)),
    reg("BestFit", |_| Box::new(best_fit::BestFit)),
    reg("Spread", |_| Box::new(spread::Spread)),
    reg("NodeCost", |_| Box::new(node_cost::NodeCost)),
    // GPU-sharing policies of the FGD paper.
    reg("DotProd", |_| Box::new(dot_prod::DotProd)),
    reg("GpuClustering", |_| Box::new(gpu_clustering::GpuClustering)),
    reg("GpuPacking", |_| Box::new(gpu_packing::GpuPacking)),
    reg("GpuBestFit", |_| Box::new(gpu_best_fit::GpuBestFit)),
    reg("FGD", |a| Box::new(fgd::Fgd::new(&a.fgd.target))),
];

/// Builds the plugin registered under `name`.
pub fn build(name: &str, args: &PluginArgs) -> Option<Box<dyn Plugin>> {
    REGISTRY.iter().find(|r| r.name == name).map(|r| (r.build)(args))
}

/// Names the registry knows, in registry order.
pub fn known() -> Vec<&'static str> {
    REGISTRY.iter().map(|r| r.name).collect()
}

/// The default profile's plugins in upstream order with their score weights (0 = not scored). Upstream plugins
/// kubesim does not model (volumes, DRA, scheduling gates) are listed in the README's feature table.
pub const DEFAULT_PROFILE: &[(&str, i64)] = &[
    ("PrioritySort", 0),
    ("NodeUnschedulable", 0),
    ("NodeName", 0),
    ("TaintToleration", 3),
    ("NodeAffinity", 2),
    ("NodePorts", 0),
    ("NodeResourcesFit", 1),
    ("PodTopologySpread", 2),
    ("InterPodAffinity", 2),
    ("DefaultPreemption", 0),
    ("NodeResourcesBalancedAllocation", 1),
    ("ImageLocality", 1),
    ("DefaultBinder", 0),
    ("GpuShare", 0),
];
