//! Fault injection. Each fault is a verb applied to targets at a time, optionally healed after a duration.
//!
//! Verbs so far:
//! - `node-crash`: the machine dies: containers are lost, the kubelet stops heartbeating; on recovery the
//!   kubelet restarts, posts Ready and relists its pods;
//! - `etcd-unavailable`: etcd answers nothing; writes wait for it, or fail after the request timeout and are
//!   retried by their clients;
//! - `etcd-slow`: every etcd write takes `extra_latency` longer;
//! - `add-nodes`: a node pool scales up by `count` machines, which boot and register (never healed).
//!
//! Every fault is recorded in `events.csv` as `FaultInjected` and, when it heals, `FaultHealed`.

use crate::model::NodeId;
use crate::time::{SimDuration, SimTime};

/// What a fault does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultVerb {
    NodeCrash,
    EtcdUnavailable,
    EtcdSlow {
        extra_latency: SimDuration,
    },
    /// Node pool scale-up: `count` new machines of pool index `pool` boot and register.
    AddNodes {
        pool: u32,
        count: u32,
    },
}

impl FaultVerb {
    pub fn as_str(self) -> &'static str {
        match self {
            FaultVerb::NodeCrash => "node-crash",
            FaultVerb::EtcdUnavailable => "etcd-unavailable",
            FaultVerb::EtcdSlow { .. } => "etcd-slow",
            FaultVerb::AddNodes { .. } => "add-nodes",
        }
    }

    /// The verbs a scenario may name.
    pub const NAMES: &'static [&'static str] = &["node-crash", "etcd-unavailable", "etcd-slow", "add-nodes"];
}

/// One fault of a scenario, with its targets resolved to nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultSpec {
    pub verb: FaultVerb,
    pub at: SimTime,
    pub nodes: Vec<NodeId>,
    /// Heal after this long; `None` = never.
    pub duration: Option<SimDuration>,
}

/// Fault events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultEvent {
    Inject(u32),
    Heal(u32),
}
