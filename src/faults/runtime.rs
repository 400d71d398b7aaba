//! The state of fault injection during a run: instances, how faults compose on each node, and the aggregated
//! health of shared services (registry, apiserver, etcd, scheduler).

use super::{FaultSpec, Pick};
use crate::model::NodeId;
use crate::rng::{SimRng, Stream};
use crate::time::{SimDuration, SimTime};

/// What a node's faults add up to. A crash beats a hung kubelet, which beats a partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeCondition {
    Healthy,
    Crashed,
    /// The kubelet process hangs (`kubelet-stop`).
    Hung,
    /// Cut off from the control plane (`network-partition`).
    Partitioned,
    /// The machine was terminated for good (spot interruption, scale-down).
    Gone,
}

/// Active faults on one node (counters, so overlapping faults compose).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeFaults {
    /// The node's pool (index into the scenario's pools).
    pub pool: u32,
    pub crash: u32,
    pub stop: u32,
    pub partition: u32,
    pub gone: bool,
    /// A termination is coming (spot notice, scale-down drain): no longer a target for new faults.
    pub doomed: bool,
}

impl NodeFaults {
    pub fn condition(&self) -> NodeCondition {
        if self.gone {
            NodeCondition::Gone
        } else if self.crash > 0 {
            NodeCondition::Crashed
        } else if self.stop > 0 {
            NodeCondition::Hung
        } else if self.partition > 0 {
            NodeCondition::Partitioned
        } else {
            NodeCondition::Healthy
        }
    }
}

/// One occurrence of a fault.
#[derive(Clone, Debug)]
pub struct Instance {
    pub spec: u32,
    pub nodes: Vec<NodeId>,
    /// When it happened (a scale-down's drain start).
    pub started: SimTime,
    /// When it heals (`SimTime::MAX`: never).
    pub heal_at: SimTime,
    pub healed: bool,
    /// For a per-node process: (node, occurrence number on that node).
    pub process: Option<(u32, u32)>,
}

/// What a random draw is for: separate keyed streams so that one draw never shifts another.
#[derive(Clone, Copy, Debug)]
#[repr(u64)]
pub enum Draw {
    Targets = 0,
    Duration = 1,
    Interval = 2,
}

/// Fault injection state.
pub struct FaultRuntime {
    seed: u64,
    pub nodes: Vec<NodeFaults>,
    pub instances: Vec<Instance>,
    /// Active instances of each shared-service fault, by kind.
    pub active: Vec<(SharedKind, u32)>,
}

/// Faults on shared services, aggregated over their active instances.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SharedKind {
    RegistrySlow,
    RegistryDown,
    ApiserverSlow,
    ApiserverDown,
    EtcdSlow,
    EtcdDown,
    Scheduler,
}

impl FaultRuntime {
    /// `pools`: the pool of every initial node, in node order.
    pub fn new(seed: u64, pools: impl IntoIterator<Item = u32>) -> FaultRuntime {
        FaultRuntime {
            seed,
            nodes: pools.into_iter().map(|pool| NodeFaults { pool, ..Default::default() }).collect(),
            instances: Vec::new(),
            active: Vec::new(),
        }
    }

    /// The stream for one draw: keyed by fault, node (or 0) and occurrence, so it depends on nothing else.
    pub fn rng(&self, draw: Draw, spec: u32, node: Option<u32>, n: u32) -> SimRng {
        let node = node.map_or(0, |x| u64::from(x) + 1);
        let key = ((draw as u64) << 62) ^ (u64::from(spec) << 42) ^ (node << 21) ^ u64::from(n);
        SimRng::keyed(self.seed, Stream::Faults, key)
    }

    /// Seeded choice of `pick` among `candidates` (kept in their given, deterministic order).
    pub fn choose<T: Copy>(&self, pick: Pick, candidates: &[T], spec: u32, n: u32) -> Vec<T> {
        let k = pick.of(candidates.len());
        if k == candidates.len() {
            return candidates.to_vec();
        }
        let mut rng = self.rng(Draw::Targets, spec, None, n);
        // Partial Fisher-Yates over indexes, then back to the candidates' order.
        let mut idx: Vec<usize> = (0..candidates.len()).collect();
        for i in 0..k {
            let j = i + rng.below((idx.len() - i) as u64) as usize;
            idx.swap(i, j);
        }
        let mut chosen = idx[..k].to_vec();
        chosen.sort_unstable();
        chosen.into_iter().map(|i| candidates[i]).collect()
    }

    /// A heal delay for an occurrence, if the fault heals.
    pub fn duration(&self, spec: &FaultSpec, spec_idx: u32, node: Option<u32>, n: u32) -> Option<SimDuration> {
        let d = spec.duration.as_ref()?;
        Some(d.sample(&mut self.rng(Draw::Duration, spec_idx, node, n)))
    }

    /// Instances of `kind` still active, with their heal times.
    pub fn active_of(&self, kind: SharedKind) -> impl Iterator<Item = &Instance> {
        self.active.iter().filter(move |(k, _)| *k == kind).map(|(_, i)| &self.instances[*i as usize])
    }

    pub fn deactivate(&mut self, instance: u32) {
        self.active.retain(|(_, i)| *i != instance);
    }
}
