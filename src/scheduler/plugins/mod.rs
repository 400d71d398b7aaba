//! Scheduler plugins, one per file. Each file's docs say what the plugin rejects or prefers and why.

pub mod best_fit;
pub mod default_binder;
pub mod default_preemption;
pub mod dot_prod;
pub mod fgd;
pub mod first_fit;
pub mod gpu_best_fit;
pub mod gpu_clustering;
pub mod gpu_packing;
pub mod gpu_share;
pub mod image_locality;
pub mod inter_pod_affinity;
pub mod node_affinity;
pub mod node_cost;
pub mod node_name;
pub mod node_ports;
pub mod node_resources_balanced_allocation;
pub mod node_resources_fit;
pub mod node_unschedulable;
pub mod pod_topology_spread;
pub mod priority_sort;
pub mod random;
pub mod spread;
pub mod taint_toleration;

#[cfg(test)]
pub(crate) mod testutil;
