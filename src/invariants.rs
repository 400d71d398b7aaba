//! Invariants of a running simulation, checked after every event by the property tests.
//!
//! - **Capacity**: on every node, the pods bound and not terminal (terminating ones included, they still hold
//!   their resources) request no more than the node's allocatable, and are no more than its pod capacity.
//!   Pods that named their node (`spec.nodeName`) are left out: they bypass the scheduler and are bound before
//!   the kubelet's admission accepts or rejects them, as upstream.
//! - **One state per pod**: a pod's phase is consistent with its binding (a Running or finished pod is bound;
//!   an unbound pod is Pending), and the apiserver's node index lists every bound pod exactly once. A pod may be
//!   bound to a deleted node (until PodGC deletes it); such a node has no capacity to check.
//! - **Conservation**: pods created = pods in the store + pods deleted.
//! - **Scheduler cache**: each node's aggregated requests equal the sum over the pods the cache places there,
//!   the lowest pod priority it keeps is the lowest over its pods,
//!   and every pod bound in the store is on the same node in the cache (the cache may hold more: assumed pods
//!   and pods whose termination it has not yet observed), unless a change of that pod is still on its way to
//!   the scheduler: a restarted scheduler lists a pod unbound while the binding sent by the process that
//!   crashed commits, and learns of it only when its watch delivers the change.
//! - **Allocation metric**: the allocation the metrics integrate equals the store's.
//!
//! Time monotonicity is checked by the caller, which sees every event's time.

use crate::etcd::Change;
use crate::model::{NodeId, PodId, Resources};
use crate::sim::Sim;
use std::collections::{BTreeMap, BTreeSet};

/// GPU accounting of one node in the scheduler's cache: every GPU's free milli is within `0..=1000`, equals
/// 1000 minus the shares of the pods placed on it, and every GPU pod holds exactly as many GPUs as it asked
/// (or none, when the cache could not place it).
fn check_gpus(info: &crate::scheduler::cache::NodeInfo) -> Result<(), String> {
    use crate::model::gpu::GPU_MILLI;
    let mut used = vec![0i64; info.gpus.count()];
    for p in &info.pods {
        let d = p.spec.template.gpu_demand();
        if p.gpus != 0 && p.gpus.count_ones() != d.count {
            return Err(format!("pod {} holds {} GPUs, asked {}", p.spec.name, p.gpus.count_ones(), d.count));
        }
        for (i, u) in used.iter_mut().enumerate() {
            if p.gpus & (1 << i) != 0 {
                *u += d.milli;
            }
        }
        if p.gpus >> used.len().min(63) != 0 && used.len() < 64 {
            return Err(format!("pod {} holds a GPU node {} lacks", p.spec.name, info.node.name));
        }
    }
    for (i, (&free, &u)) in info.gpus.free_milli.iter().zip(&used).enumerate() {
        if !(0..=GPU_MILLI).contains(&free) || free != GPU_MILLI - u {
            return Err(format!("GPU {i} of {}: {free} milli free but its pods use {u}", info.node.name));
        }
    }
    Ok(())
}

/// Checks every invariant; returns the first violation.
pub fn check(sim: &Sim) -> Result<(), String> {
    let etcd = &sim.api.etcd;
    // Conservation.
    let m = &sim.rec.metrics;
    if m.pods_created != etcd.pods.len() as u64 + m.pods_deleted {
        return Err(format!(
            "pods not conserved: created {} != stored {} + deleted {}",
            m.pods_created,
            etcd.pods.len(),
            m.pods_deleted
        ));
    }
    // Phase/binding consistency and per-node sums from the store.
    let mut per_node: BTreeMap<NodeId, (Resources, i64, Vec<PodId>)> = BTreeMap::new();
    let mut allocated_cpu: i128 = 0;
    let mut held: BTreeMap<usize, (i64, i64)> = BTreeMap::new();
    for (id, r) in etcd.pods.iter() {
        let s = &r.state;
        match s.node {
            None => {
                if s.phase != crate::model::PodPhase::Pending {
                    return Err(format!("pod {} is {} but not bound to a node", r.spec.name, s.phase.as_str()));
                }
            }
            Some(n) => {
                let entry = per_node.entry(n).or_default();
                entry.2.push(id);
                if !s.phase.is_terminal() {
                    allocated_cpu += i128::from(r.spec.template.requests.cpu_millis);
                    let e = held.entry(n.index()).or_default();
                    e.0 += 1;
                    e.1 += r.spec.template.requests.cpu_millis;
                    if r.spec.template.node_name.is_none() {
                        entry.0.add(&r.spec.template.requests);
                        entry.1 += 1;
                    }
                }
            }
        }
    }
    for (n, (req, count, pods)) in &per_node {
        let Some(node) = etcd.node_or_deleted(*n) else {
            return Err(format!("pods are bound to unknown node {}", n.0));
        };
        let mut indexed: Vec<PodId> = sim.api.pods_on_node(*n).to_vec();
        let mut expected = pods.clone();
        indexed.sort();
        expected.sort();
        if indexed != expected {
            return Err(format!("apiserver node index of {} is out of sync with the store", node.name));
        }
        if etcd.node(*n).is_none() {
            continue;
        }
        if !req.fits_within(&node.allocatable) {
            return Err(format!(
                "node {} over-allocated: requests cpu {}m memory {} > allocatable cpu {}m memory {}",
                node.name, req.cpu_millis, req.memory_bytes, node.allocatable.cpu_millis, node.allocatable.memory_bytes
            ));
        }
        if *count > node.allocatable_pods {
            return Err(format!("node {} runs {count} pods > capacity {}", node.name, node.allocatable_pods));
        }
    }
    for (i, slot) in etcd.nodes.iter().enumerate() {
        if (slot.is_some() || etcd.deleted_nodes.contains_key(&NodeId(i as u32)))
            && !per_node.contains_key(&NodeId(i as u32))
            && !sim.api.pods_on_node(NodeId(i as u32)).is_empty()
        {
            return Err(format!("apiserver node index lists pods on node {i} that have none"));
        }
    }
    // The per-node aggregates samples read (placements.csv) match the store: every bound, non-terminal pod.
    for (i, agg) in m.nodes.nodes.iter().enumerate() {
        let (pods, cpu) = held.get(&i).copied().unwrap_or_default();
        let by_workload: i64 = agg.by_workload.iter().map(|(_, a)| a.pods).sum();
        if agg.total.pods != pods || agg.total.cpu_millis != cpu || by_workload != pods {
            return Err(format!(
                "placement aggregate of node {i}: {} pods {}m ({by_workload} by workload) != store {pods} pods {cpu}m",
                agg.total.pods, agg.total.cpu_millis
            ));
        }
        if !agg.by_workload.windows(2).all(|w| w[0].0 < w[1].0) || agg.by_workload.iter().any(|(_, a)| a.pods <= 0) {
            return Err(format!("placement aggregate of node {i}: workloads not sorted, repeated or empty"));
        }
    }
    if m.pending.value < 0 || m.pods_running < 0 {
        return Err(format!("negative level: pending {} running {}", m.pending.value, m.pods_running));
    }
    // The allocation the metrics integrate.
    let (metric_cpu, _) = m.cpu_allocated_millis();
    if metric_cpu != allocated_cpu {
        return Err(format!("allocation metric {metric_cpu}m != store {allocated_cpu}m"));
    }
    // Scheduler cache.
    let min_priority = sim.scheduler.cache().nodes().flat_map(|n| &n.pods).map(|p| p.spec.template.priority).min();
    if min_priority != sim.scheduler.cache().min_pod_priority() {
        return Err(format!(
            "scheduler cache's lowest pod priority {:?} != {min_priority:?} over its pods",
            sim.scheduler.cache().min_pod_priority()
        ));
    }
    for info in sim.scheduler.cache().nodes() {
        let mut sum = Resources::default();
        let mut pinned = Resources::default();
        for p in &info.pods {
            if let Some(spec) = sim.scheduler.pod_spec(p.id) {
                sum.add(&spec.template.requests);
                if spec.template.node_name.is_some() {
                    pinned.add(&spec.template.requests);
                }
            }
        }
        if sum.cpu_millis != info.requested.cpu_millis || sum.memory_bytes != info.requested.memory_bytes {
            return Err(format!("scheduler aggregates of {} do not match its pods", info.node.name));
        }
        check_gpus(info)?;
        let mut scheduled = info.requested.clone();
        scheduled.sub(&pinned);
        if !scheduled.fits_within(&info.node.allocatable) {
            return Err(format!("scheduler over-allocated node {} in its own cache", info.node.name));
        }
    }
    let unseen: BTreeSet<PodId> = sim
        .api
        .scheduler_watch_backlog()
        .filter_map(|c| match c {
            Change::Pod { id, .. } => Some(*id),
            _ => None,
        })
        .collect();
    for (id, r) in etcd.pods.iter() {
        if let Some(n) = r.state.node
            && !r.state.phase.is_terminal()
            && sim.scheduler.cache().node(n).is_some()
            && !sim.scheduler.cache().node(n).is_some_and(|info| info.has_pod(id))
            && sim.scheduler.knows(id)
            && !unseen.contains(&id)
        {
            return Err(format!("scheduler cache lost bound pod {}", r.spec.name));
        }
    }
    Ok(())
}
