//! Scheduling constraints between pods and nodes, and between pods: preferred node affinity, pod affinity and
//! anti-affinity, topology spread constraints and host ports.

use super::{LabelSelector, Labels, NodeSelectorTerm, Str};

/// A preferred node-affinity term with its weight (1-100).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreferredSchedulingTerm {
    pub weight: i32,
    pub term: NodeSelectorTerm,
}

/// A pod (anti-)affinity term: pods matching `selector` in `namespaces` (empty: the pod's own namespace),
/// counted per domain of `topology_key`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodAffinityTerm {
    pub selector: LabelSelector,
    pub namespaces: Vec<Str>,
    pub topology_key: Str,
}

impl PodAffinityTerm {
    /// Whether a pod in `namespace` with `labels` matches the term, for a term owned by a pod in `own_ns`.
    pub fn matches(&self, own_ns: &str, namespace: &str, labels: &Labels) -> bool {
        let ns_ok = if self.namespaces.is_empty() {
            namespace == own_ns
        } else {
            self.namespaces.iter().any(|n| &**n == namespace)
        };
        ns_ok && self.selector.matches(labels)
    }
}

/// A preferred pod (anti-)affinity term with its weight (1-100).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WeightedPodAffinityTerm {
    pub weight: i32,
    pub term: PodAffinityTerm,
}

/// `podAffinity` or `podAntiAffinity`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodAffinityRules {
    pub required: Vec<PodAffinityTerm>,
    pub preferred: Vec<WeightedPodAffinityTerm>,
}

impl PodAffinityRules {
    pub fn is_empty(&self) -> bool {
        self.required.is_empty() && self.preferred.is_empty()
    }
}

/// `whenUnsatisfiable` of a topology spread constraint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhenUnsatisfiable {
    /// A filter: nodes that would exceed `maxSkew` are rejected.
    DoNotSchedule,
    /// A score: nodes that reduce the skew are preferred.
    ScheduleAnyway,
}

/// `nodeAffinityPolicy` / `nodeTaintsPolicy`: whether nodes the pod could not use count when computing skew.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InclusionPolicy {
    Honor,
    Ignore,
}

/// A topology spread constraint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopologySpreadConstraint {
    pub max_skew: i32,
    pub topology_key: Str,
    pub when_unsatisfiable: WhenUnsatisfiable,
    pub selector: LabelSelector,
    /// `minDomains` (DoNotSchedule only): fewer eligible domains count the global minimum as 0.
    pub min_domains: Option<i32>,
    /// Default Honor: only nodes matching the pod's node selector/affinity count.
    pub node_affinity_policy: InclusionPolicy,
    /// Default Ignore: tainted nodes count too.
    pub node_taints_policy: InclusionPolicy,
    /// `matchLabelKeys`: the pod's values for these keys are ANDed into the selector (merged at admission).
    pub match_label_keys: Vec<Str>,
}

/// Transport protocol of a port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }
}

/// A container port exposed on the node (`hostPort` > 0); other container ports do not affect scheduling.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct HostPort {
    pub port: i32,
    pub protocol: Protocol,
    /// `hostIP`; empty (or 0.0.0.0) binds every address.
    pub host_ip: Str,
}

/// The host IP meaning "every address" (upstream `DefaultBindAllHostIP`).
pub const BIND_ALL_HOST_IP: &str = "0.0.0.0";

impl HostPort {
    fn wildcard(&self) -> bool {
        self.host_ip.is_empty() || &*self.host_ip == BIND_ALL_HOST_IP
    }

    /// The port as upstream's `HostPortInfo` stores it: an empty host IP becomes `0.0.0.0`.
    pub fn sanitized(&self) -> HostPort {
        if self.host_ip.is_empty() {
            HostPort { port: self.port, protocol: self.protocol, host_ip: super::s(BIND_ALL_HOST_IP) }
        } else {
            self.clone()
        }
    }

    /// Upstream NodePorts: the same port and protocol conflict when either binds all addresses or both bind the
    /// same one.
    pub fn conflicts(&self, other: &HostPort) -> bool {
        self.port == other.port
            && self.protocol == other.protocol
            && (self.wildcard() || other.wildcard() || self.host_ip == other.host_ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::s;

    #[test]
    fn host_port_conflicts() {
        let p = |port, proto, ip: &str| HostPort { port, protocol: proto, host_ip: s(ip) };
        assert!(p(80, Protocol::Tcp, "").conflicts(&p(80, Protocol::Tcp, "10.0.0.1")));
        assert!(p(80, Protocol::Tcp, "0.0.0.0").conflicts(&p(80, Protocol::Tcp, "10.0.0.1")));
        assert!(!p(80, Protocol::Tcp, "10.0.0.2").conflicts(&p(80, Protocol::Tcp, "10.0.0.1")));
        assert!(p(80, Protocol::Tcp, "10.0.0.1").conflicts(&p(80, Protocol::Tcp, "10.0.0.1")));
        assert!(!p(80, Protocol::Udp, "").conflicts(&p(80, Protocol::Tcp, "")));
        assert!(!p(81, Protocol::Tcp, "").conflicts(&p(80, Protocol::Tcp, "")));
    }
}
