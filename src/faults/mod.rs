//! Fault injection: verbs applied to targets at a time, on a schedule or as a seeded random process.
//!
//! A scenario's `[[faults]]` entry compiles to a [`FaultSpec`]: a [`FaultVerb`], its [`Targets`], and when it
//! happens ([`FaultSpec::at`], optionally repeated `every` fixed or random interval, or `per_node`: each target
//! node fails and is repaired independently, with times to failure and to repair drawn from distributions).
//! Each occurrence is an *instance* with the targets resolved at that moment (so a random pick sees the nodes
//! that exist then, scale-ups included); it heals after `duration` (fixed or drawn), or never.
//!
//! Randomness comes from the faults stream, keyed per (fault, occurrence) or (fault, node), so that changing the
//! scheduling policy or adding another fault does not move this fault's times or targets (common random numbers).
//!
//! Node conditions compose: a node hit by two overlapping crashes recovers only when both have healed, and a
//! crash takes precedence over a stopped kubelet or a partition ([`runtime::NodeFaults`]).
//!
//! Every instance is recorded in `events.csv` as `FaultInjected` and, when it heals, `FaultHealed`, with
//! `verb=<verb> targets=<names>` in the detail.

pub mod alibaba2017;
pub mod apply;
pub mod runtime;
pub mod targets;

use crate::dist::Dist;
use crate::model::{LabelSelector, Str};
use crate::time::{SimDuration, SimTime};

/// What a fault does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultVerb {
    /// The machine dies: containers are lost, the kubelet stops heartbeating; on recovery the kubelet restarts,
    /// posts Ready and relists its pods.
    NodeCrash,
    /// The kubelet process hangs: heartbeats and status updates stop, containers keep running; when it resumes it
    /// reports what happened meanwhile and relists.
    KubeletStop,
    /// The nodes lose the network to the control plane: the kubelet keeps running containers (they start, exit
    /// and restart locally) but nothing reaches the apiserver and no new pod reaches the kubelet; on healing the
    /// kubelet's queued status updates are sent and it relists.
    NetworkPartition,
    /// `kubectl cordon`; healing uncordons.
    Cordon,
    /// `kubectl drain` (cordon, then evictions through the Eviction API honouring PodDisruptionBudgets); healing
    /// uncordons.
    Drain,
    /// A spot instance reclaimed by its cloud: a termination notice (the node is cordoned and drained, as the
    /// AWS node termination handler does), then the machine is terminated after `notice` and its Node deleted.
    SpotInterruption { notice: SimDuration },
    /// Containers of the targeted pods exit with `exit_code`; `oom` marks the exit as an OOM kill (137,
    /// `OOMKilled`). `restartPolicy` and CrashLoopBackOff apply as for any exit.
    ContainerCrash { exit_code: i32, oom: bool },
    /// Image pulls take `factor_milli / 1000` times longer.
    RegistrySlow { factor_milli: u32 },
    /// Image pulls fail (`ErrImagePull`) and are retried with the kubelet's image back-off (10 s doubling to 300 s).
    RegistryDown,
    /// Every apiserver request takes `extra_latency` longer.
    ApiserverSlow { extra_latency: SimDuration },
    /// The apiserver refuses connections: requests fail at once and clients retry with back-off; watch streams
    /// deliver nothing until it is back.
    ApiserverUnavailable,
    /// Every etcd write takes `extra_latency` longer.
    EtcdSlow { extra_latency: SimDuration },
    /// etcd answers nothing: writes wait for it, or fail after the request timeout and are retried.
    EtcdUnavailable,
    /// The kube-scheduler process dies; healing starts a new one, whose cache is rebuilt from a relist.
    SchedulerCrash,
    /// Node pool scale-up: `count` new machines of pool index `pool` boot and register (never healed).
    AddNodes { pool: u32, count: u32 },
    /// Node pool scale-down as the cluster autoscaler does it: the targeted nodes are cordoned and drained, then
    /// their machines terminated and Node objects deleted (never healed).
    RemoveNodes { drain_timeout: SimDuration },
}

impl FaultVerb {
    pub fn as_str(self) -> &'static str {
        match self {
            FaultVerb::NodeCrash => "node-crash",
            FaultVerb::KubeletStop => "kubelet-stop",
            FaultVerb::NetworkPartition => "network-partition",
            FaultVerb::Cordon => "cordon",
            FaultVerb::Drain => "drain",
            FaultVerb::SpotInterruption { .. } => "spot-interruption",
            FaultVerb::ContainerCrash { oom: false, .. } => "container-crash",
            FaultVerb::ContainerCrash { oom: true, .. } => "oom-kill",
            FaultVerb::RegistrySlow { .. } => "registry-slow",
            FaultVerb::RegistryDown => "registry-down",
            FaultVerb::ApiserverSlow { .. } => "apiserver-slow",
            FaultVerb::ApiserverUnavailable => "apiserver-unavailable",
            FaultVerb::EtcdSlow { .. } => "etcd-slow",
            FaultVerb::EtcdUnavailable => "etcd-unavailable",
            FaultVerb::SchedulerCrash => "scheduler-crash",
            FaultVerb::AddNodes { .. } => "add-nodes",
            FaultVerb::RemoveNodes { .. } => "remove-nodes",
        }
    }

    /// The verbs a scenario may name (`zone-outage` is `node-crash` of every node of a zone).
    pub const NAMES: &'static [&'static str] = &[
        "node-crash",
        "zone-outage",
        "kubelet-stop",
        "network-partition",
        "cordon",
        "drain",
        "spot-interruption",
        "container-crash",
        "oom-kill",
        "registry-slow",
        "registry-down",
        "apiserver-slow",
        "apiserver-unavailable",
        "etcd-slow",
        "etcd-unavailable",
        "scheduler-crash",
        "add-nodes",
        "remove-nodes",
    ];

    /// True for verbs whose targets are nodes.
    pub fn targets_nodes(self) -> bool {
        matches!(
            self,
            FaultVerb::NodeCrash
                | FaultVerb::KubeletStop
                | FaultVerb::NetworkPartition
                | FaultVerb::Cordon
                | FaultVerb::Drain
                | FaultVerb::SpotInterruption { .. }
                | FaultVerb::RemoveNodes { .. }
        )
    }

    /// True for verbs that can be healed (a `duration` makes sense).
    pub fn heals(self) -> bool {
        !matches!(
            self,
            FaultVerb::SpotInterruption { .. }
                | FaultVerb::ContainerCrash { .. }
                | FaultVerb::AddNodes { .. }
                | FaultVerb::RemoveNodes { .. }
        )
    }
}

/// How many of the matching candidates an occurrence hits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pick {
    All,
    /// A seeded random `n` (all of them when fewer match).
    Count(u32),
    /// A seeded random share, rounded up: `ceil(n * percent / 100)`.
    Percent(u32),
}

impl Pick {
    /// How many of `n` candidates are hit.
    pub fn of(self, n: usize) -> usize {
        match self {
            Pick::All => n,
            Pick::Count(c) => n.min(c as usize),
            Pick::Percent(p) => (n * p as usize).div_ceil(100).min(n),
        }
    }
}

/// Which nodes (or pods) an occurrence hits. Every given filter must match (they intersect); then `pick` chooses.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Targets {
    /// Node names (empty: any node).
    pub names: Vec<Str>,
    /// Node label selector.
    pub selector: Option<LabelSelector>,
    /// `topology.kubernetes.io/zone`.
    pub zone: Option<Str>,
    /// Node pool (index into the scenario's pools).
    pub pool: Option<u32>,
    /// Workload name (pod verbs: the pods of this Deployment, Job, arrival process or DaemonSet).
    pub workload: Option<Str>,
    pub pick: Option<Pick>,
}

impl Targets {
    pub fn pick(&self) -> Pick {
        self.pick.unwrap_or(Pick::All)
    }
}

/// When a fault's occurrences happen.
#[derive(Clone, Debug, PartialEq)]
pub enum Recurrence {
    /// Once, at [`FaultSpec::at`].
    Once,
    /// At `at`, then again after each `every` draw (fixed: a schedule; exponential: a Poisson process).
    Every(Dist),
    /// Each target node (resolved at `at`) independently: fails after a time-to-failure draw, is repaired after a
    /// `duration` (time-to-repair) draw, and so on.
    PerNode { time_to_failure: Dist },
}

/// One fault of a scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultSpec {
    pub verb: FaultVerb,
    /// The verb as the scenario names it (`zone-outage` for a zone's `node-crash`), for events.
    pub name: Str,
    /// The first occurrence (for `per_node`, when the processes start).
    pub at: SimTime,
    pub recurrence: Recurrence,
    /// No occurrence starts at or after this time.
    pub until: Option<SimTime>,
    /// At most this many occurrences (`per_node`: per node).
    pub repeat: Option<u32>,
    /// Heal after this long; `None` = never.
    pub duration: Option<Dist>,
    pub targets: Targets,
}

impl FaultSpec {
    /// A fault that happens once, to `targets`, healing after `duration`.
    pub fn once(verb: FaultVerb, at: SimTime, targets: Targets, duration: Option<SimDuration>) -> FaultSpec {
        FaultSpec {
            verb,
            name: crate::model::s(verb.as_str()),
            at,
            recurrence: Recurrence::Once,
            until: None,
            repeat: None,
            duration: duration.map(Dist::Fixed),
            targets,
        }
    }
}

/// Fault events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultEvent {
    /// The next occurrence of fault `spec` (for `per_node`: the start of the per-node processes).
    Occur { spec: u32, n: u32 },
    /// Fault `spec`'s process fails `node` (occurrence `n` on that node).
    NodeFail { spec: u32, node: u32, n: u32 },
    /// Instance `instance` heals.
    Heal(u32),
    /// A spot-interrupted or removed node's machine is terminated (instance, node).
    Terminate { instance: u32, node: u32 },
}
