//! Resolving a fault's targets at the moment it happens: the nodes (or pods) matching every given filter, in a
//! deterministic order, then a seeded pick.

use super::Targets;
use super::runtime::FaultRuntime;
use crate::kubelet::{Kubelet, Link};
use crate::model::{NodeId, PodId};

/// True when node `i` passes the node filters of `t`.
fn node_matches(t: &Targets, k: &Kubelet, rt: &FaultRuntime) -> bool {
    let i = k.node_id.index();
    let node = k.node();
    let f = rt.nodes.get(i).copied().unwrap_or_default();
    !f.gone
        && !f.doomed
        && (t.names.is_empty() || t.names.contains(&node.name))
        && t.pool.is_none_or(|p| f.pool == p)
        && t.zone.as_ref().is_none_or(|z| node.zone() == Some(z))
        && t.selector.as_ref().is_none_or(|s| s.matches(&node.labels))
}

/// The nodes an occurrence of fault `spec` (its `n`-th) hits, in node order.
pub fn nodes(t: &Targets, kubelets: &[Kubelet], rt: &FaultRuntime, spec: u32, n: u32) -> Vec<NodeId> {
    let candidates: Vec<NodeId> = kubelets.iter().filter(|k| node_matches(t, k, rt)).map(|k| k.node_id).collect();
    rt.choose(t.pick(), &candidates, spec, n)
}

/// The pods an occurrence of a container fault hits: running containers of the workload on matching, reachable
/// nodes, ordered by creation (uid).
pub fn pods(t: &Targets, kubelets: &[Kubelet], rt: &FaultRuntime, spec: u32, n: u32) -> Vec<(NodeId, PodId)> {
    let mut candidates: Vec<(u64, NodeId, PodId)> = Vec::new();
    for k in kubelets.iter().filter(|k| k.alive && k.link != Link::Hung && node_matches(t, k, rt)) {
        for (pod, spec) in k.running_pods() {
            if t.workload.as_ref().is_none_or(|w| *w == spec.workload) {
                candidates.push((spec.uid, k.node_id, pod));
            }
        }
    }
    candidates.sort_unstable_by_key(|c| c.0);
    let flat: Vec<(NodeId, PodId)> = candidates.into_iter().map(|(_, n, p)| (n, p)).collect();
    rt.choose(t.pick(), &flat, spec, n)
}
