//! Fault injection. Each fault is a verb applied to targets at a time, optionally healed after a duration.
//!
//! Verbs so far: `node-crash` (the machine dies: containers are lost, the kubelet stops heartbeating; on
//! recovery the kubelet restarts, posts Ready and relists its pods).

use crate::model::NodeId;
use crate::time::{SimDuration, SimTime};

/// What a fault does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultVerb {
    NodeCrash,
}

impl FaultVerb {
    pub fn as_str(self) -> &'static str {
        match self {
            FaultVerb::NodeCrash => "node-crash",
        }
    }
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
