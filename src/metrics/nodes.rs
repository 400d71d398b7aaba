//! Per-node allocation, kept incrementally as pods are bound and released, so that a sample costs
//! O(nodes + workloads on them) and never a scan of all pods.

use crate::model::{PodSpec, Resources, Str};
use std::sync::Arc;

/// The extended resource counted as GPUs.
pub use crate::model::gpu::GPU_RESOURCE;

/// The amounts a placement is summarised by: CPU, memory and GPU (in thousandths of a GPU).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Amounts {
    pub pods: i64,
    pub cpu_millis: i64,
    pub memory_bytes: i64,
    pub gpu_milli: i64,
}

impl Amounts {
    /// The requests of one pod: [`Amounts::of_requests`] with a GPU share added.
    pub fn of_template(t: &crate::model::PodTemplate) -> Amounts {
        Amounts { gpu_milli: t.gpu_demand().total_milli(), ..Amounts::of_requests(&t.requests) }
    }

    /// The requests of one pod without a GPU share (whole GPUs only).
    pub fn of_requests(requests: &Resources) -> Amounts {
        Amounts {
            pods: 1,
            cpu_millis: requests.cpu_millis,
            memory_bytes: requests.memory_bytes,
            gpu_milli: gpu_milli(requests),
        }
    }

    fn add(&mut self, o: &Amounts, sign: i64) {
        self.pods += sign * o.pods;
        self.cpu_millis += sign * o.cpu_millis;
        self.memory_bytes += sign * o.memory_bytes;
        self.gpu_milli += sign * o.gpu_milli;
    }
}

/// Whole GPUs of a resource vector in thousandths (a node's capacity; a pod's share is in its template, see
/// [`Amounts::of_template`]).
pub fn gpu_milli(r: &Resources) -> i64 {
    r.scalar(GPU_RESOURCE).saturating_mul(1000)
}

/// What is bound to one node: the total and the share of each workload.
#[derive(Clone, Debug, Default)]
pub struct NodeAgg {
    pub total: Amounts,
    /// Workload name and its pods' requests on this node, sorted by name. Entries that drop to zero pods are
    /// removed. A sorted vector, not a map: a pod's workload name is almost always the very `Arc` of the entry
    /// (its owner's name), so a scan comparing pointers finds it without reading any string (the map's string
    /// comparisons were 3% of the Alibaba replay).
    pub by_workload: Vec<(Str, Amounts)>,
    /// (Deployment index in [`NodeAggs::deployments`], pods here), for topology skew without string lookups.
    pub by_deployment: Vec<(u32, i64)>,
}

impl NodeAgg {
    /// A pod of `spec` starts (`sign` = 1) or stops (`sign` = -1) holding its requests here; `deployment` is the
    /// index of its Deployment, if it belongs to one.
    pub fn apply(&mut self, spec: &PodSpec, sign: i64, deployment: Option<u32>) {
        let a = Amounts::of_template(&spec.template);
        self.total.add(&a, sign);
        if let Some(d) = deployment {
            match self.by_deployment.iter_mut().find(|(i, _)| *i == d) {
                Some(e) => e.1 += sign,
                None => self.by_deployment.push((d, sign)),
            }
            self.by_deployment.retain(|(_, n)| *n != 0);
        }
        let name = &spec.workload;
        let found = match self.by_workload.iter().position(|(w, _)| Arc::ptr_eq(w, name)) {
            Some(i) => Ok(i),
            None => self.by_workload.binary_search_by(|(w, _)| w.cmp(name)),
        };
        match found {
            Ok(i) => {
                let w = &mut self.by_workload[i].1;
                w.add(&a, sign);
                if w.pods <= 0 {
                    self.by_workload.remove(i);
                }
            }
            Err(i) if sign > 0 => self.by_workload.insert(i, (name.clone(), a)),
            Err(_) => {}
        }
    }
}

/// All nodes' aggregates, indexed by node id (deleted nodes keep their slot).
#[derive(Clone, Debug, Default)]
pub struct NodeAggs {
    pub nodes: Vec<NodeAgg>,
    /// The scenario's Deployment names, sorted (whose topology skew is reported).
    pub deployments: Vec<Str>,
}

impl NodeAggs {
    pub fn apply(&mut self, node: usize, spec: &PodSpec, sign: i64) {
        if self.nodes.len() <= node {
            self.nodes.resize_with(node + 1, NodeAgg::default);
        }
        let deployment = self.deployments.binary_search(&spec.workload).ok().map(|i| i as u32);
        self.nodes[node].apply(spec, sign, deployment);
    }

    pub fn get(&self, node: usize) -> Option<&NodeAgg> {
        self.nodes.get(node)
    }
}
