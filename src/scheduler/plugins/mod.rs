//! Scheduler plugins, one per file. Each file's docs say what the plugin rejects or prefers and why.

pub mod default_binder;
pub mod default_preemption;
pub mod inter_pod_affinity;
pub mod node_affinity;
pub mod node_name;
pub mod node_resources_fit;
pub mod node_unschedulable;
pub mod pod_topology_spread;
pub mod priority_sort;
pub mod taint_toleration;

#[cfg(test)]
pub(crate) mod testutil;
