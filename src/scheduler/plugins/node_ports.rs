//! **NodePorts** (filter): a pod that binds host ports (`hostPort`) fits only nodes where no pod already holds the
//! same (protocol, port) on an overlapping host IP, because two processes cannot bind the same socket; an empty
//! or `0.0.0.0` host IP overlaps every address. The rejection is Unschedulable (`node(s) didn't have free ports
//! for the requested pod ports`): evicting the holder would free the port, so preemption may help.
//!
//! The node's ports in use are an aggregate kept by [`NodeInfo`] as pods come and go (upstream `UsedPorts`), so the
//! filter costs one comparison per (wanted, used) port pair, and nothing for the many pods without host ports:
//! PreFilter skips the plugin for them.
//!
//! Queueing: a pod this plugin rejected can only be helped by a new node, or by the deletion of a pod holding a
//! port it conflicts with.

use crate::model::{HostPort, PodSpec};
use crate::scheduler::cache::{Cache, NodeInfo};
use crate::scheduler::framework::{
    ClusterEvent, Code, CycleState, Filter, Plugin, PodCtx, PreFilter, PreFilterResult, QueueingHint, Reason, Verdict,
    event_kind,
};

/// Upstream `ErrReason`.
pub const ERR_REASON: &str = "node(s) didn't have free ports for the requested pod ports";

#[derive(Default)]
pub struct NodePorts;

/// Upstream `fitsPorts`: none of `wanted` conflicts with `in_use`.
fn fits_ports(wanted: &[HostPort], in_use: &[HostPort]) -> bool {
    !wanted.iter().any(|w| in_use.iter().any(|u| w.conflicts(u)))
}

impl Plugin for NodePorts {
    fn name(&self) -> &'static str {
        "NodePorts"
    }
    fn as_pre_filter(&self) -> Option<&dyn PreFilter> {
        Some(self)
    }
    fn as_filter(&self) -> Option<&dyn Filter> {
        Some(self)
    }
    /// Upstream (queueing hints on): Pod `Delete` with a hint, Node `Add` without one (always requeue).
    fn events_to_register(&self) -> u8 {
        event_kind::POD_DELETE | event_kind::NODE_ADD
    }
    fn queueing_hint(&self, pod: &PodSpec, event: &ClusterEvent) -> QueueingHint {
        match event {
            ClusterEvent::AssignedPodDelete { pod: deleted, .. } => {
                // Only the deletion of a pod holding a port this pod conflicts with can free room for it.
                let freed = &deleted.template.host_ports;
                if freed.is_empty() || fits_ports(&pod.template.host_ports, freed) {
                    QueueingHint::Skip
                } else {
                    QueueingHint::Queue
                }
            }
            _ => QueueingHint::Queue,
        }
    }
}

impl PreFilter for NodePorts {
    fn pre_filter(&self, _: &mut CycleState, pod: &PodCtx, _: &Cache) -> PreFilterResult {
        if pod.spec.template.host_ports.is_empty() { PreFilterResult::Skip } else { PreFilterResult::Proceed }
    }
}

impl Filter for NodePorts {
    fn filter(&self, _: &CycleState, pod: &PodCtx, node: &NodeInfo, why: Option<&mut Vec<Reason>>) -> Verdict {
        if fits_ports(&pod.spec.template.host_ports, &node.used_ports) {
            return Verdict::Pass;
        }
        if let Some(why) = why {
            why.push(Reason::Text(ERR_REASON));
        }
        Verdict::Fail(Code::Unschedulable)
    }
    /// Reads only the pod's template and this node's info.
    fn node_local(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Protocol, s};
    use crate::scheduler::plugins::testutil::*;

    fn port(protocol: Protocol, host_ip: &str, port: i32) -> HostPort {
        HostPort { port, protocol, host_ip: s(host_ip) }
    }
    fn with_ports(ports: &[HostPort]) -> PodSpec {
        pod_spec(1, 1, |t| t.containers[0].host_ports = ports.to_vec())
    }
    const FAIL: (Verdict, &str) = (Verdict::Fail(Code::Unschedulable), ERR_REASON);

    /// Upstream `TestNodePorts` (node_ports_test.go): (new pod's ports, ports in use on the node, fits).
    #[test]
    fn filter_table() {
        use Protocol::*;
        let cases: Vec<(&str, Vec<HostPort>, Vec<HostPort>, bool)> = vec![
            ("nothing running", vec![], vec![], true),
            ("other port", vec![port(Udp, "127.0.0.1", 8080)], vec![port(Udp, "127.0.0.1", 9090)], true),
            ("same udp port", vec![port(Udp, "127.0.0.1", 8080)], vec![port(Udp, "127.0.0.1", 8080)], false),
            ("same tcp port", vec![port(Tcp, "127.0.0.1", 8080)], vec![port(Tcp, "127.0.0.1", 8080)], false),
            ("different host ip", vec![port(Tcp, "127.0.0.1", 8080)], vec![port(Tcp, "127.0.0.2", 8080)], true),
            ("different protocol", vec![port(Udp, "127.0.0.1", 8080)], vec![port(Tcp, "127.0.0.1", 8080)], true),
            (
                "second udp port conflict",
                vec![port(Udp, "127.0.0.1", 8000), port(Udp, "127.0.0.1", 8080)],
                vec![port(Udp, "127.0.0.1", 8080)],
                false,
            ),
            (
                "first tcp port conflict",
                vec![port(Tcp, "127.0.0.1", 8001), port(Udp, "127.0.0.1", 8080)],
                vec![port(Tcp, "127.0.0.1", 8001), port(Udp, "127.0.0.1", 8081)],
                false,
            ),
            (
                "first tcp port conflict due to 0.0.0.0 hostIP",
                vec![port(Tcp, "0.0.0.0", 8001)],
                vec![port(Tcp, "127.0.0.1", 8001)],
                false,
            ),
            (
                "TCP hostPort conflict due to 0.0.0.0 hostIP",
                vec![port(Tcp, "10.0.10.10", 8001), port(Tcp, "0.0.0.0", 8001)],
                vec![port(Tcp, "127.0.0.1", 8001)],
                false,
            ),
            (
                "second tcp port conflict to 0.0.0.0 hostIP",
                vec![port(Tcp, "127.0.0.1", 8001)],
                vec![port(Tcp, "0.0.0.0", 8001)],
                false,
            ),
            ("second different protocol", vec![port(Udp, "127.0.0.1", 8001)], vec![port(Tcp, "0.0.0.0", 8001)], true),
            (
                "UDP hostPort conflict due to 0.0.0.0 hostIP",
                vec![port(Udp, "127.0.0.1", 8001)],
                vec![port(Tcp, "0.0.0.0", 8001), port(Udp, "0.0.0.0", 8001)],
                false,
            ),
            ("empty host IP is every address", vec![port(Tcp, "", 8001)], vec![port(Tcp, "10.1.1.1", 8001)], false),
        ];
        for (name, wanted, in_use, fits) in cases {
            let mut n = node_info("n", 4000, 8 * GI);
            if !in_use.is_empty() {
                place(&mut n, with_ports(&in_use));
            }
            let got = filter(&NodePorts, &with_ports(&wanted), &n);
            if fits {
                assert_eq!(got, (Verdict::Pass, vec![]), "{name}");
            } else {
                assert_eq!(got, (FAIL.0, vec![FAIL.1.to_string()]), "{name}");
            }
        }
    }

    #[test]
    fn pods_without_host_ports_skip_the_filter() {
        let mut state = CycleState::default();
        let pod = pod_spec(1, 1, |_| {});
        let r = NodePorts.pre_filter(&mut state, &PodCtx::new(Default::default(), &pod), &Cache::default());
        assert_eq!(r, PreFilterResult::Skip);
    }

    #[test]
    fn used_ports_follow_pods_on_the_node() {
        let mut n = node_info("n", 4000, 8 * GI);
        let holder = with_ports(&[port(Protocol::Tcp, "", 80)]);
        let id = place(&mut n, holder);
        assert_eq!(n.used_ports, vec![port(Protocol::Tcp, "0.0.0.0", 80)]);
        let pod = with_ports(&[port(Protocol::Tcp, "10.0.0.1", 80)]);
        assert_eq!(filter(&NodePorts, &pod, &n).0, Verdict::Fail(Code::Unschedulable));
        n.remove_pod(id);
        assert!(n.used_ports.is_empty());
        assert_eq!(filter(&NodePorts, &pod, &n).0, Verdict::Pass);
    }

    /// Upstream `Test_isSchedulableAfterPodDeleted`.
    #[test]
    fn queueing_hints() {
        let n = node_info("n", 4000, 8 * GI);
        let pod = with_ports(&[port(Protocol::Tcp, "", 8080)]);
        let hint = |deleted: &PodSpec| {
            NodePorts.queueing_hint(&pod, &ClusterEvent::AssignedPodDelete { pod: deleted, node: &n })
        };
        assert_eq!(hint(&with_ports(&[port(Protocol::Tcp, "", 8080)])), QueueingHint::Queue, "same port");
        assert_eq!(hint(&with_ports(&[port(Protocol::Tcp, "", 8081)])), QueueingHint::Skip, "different port");
        assert_eq!(hint(&pod_spec(1, 1, |_| {})), QueueingHint::Skip, "no host ports");
        assert_eq!(NodePorts.queueing_hint(&pod, &ClusterEvent::NodeAdd(&n)), QueueingHint::Queue);
        assert_eq!(NodePorts.events_to_register(), event_kind::POD_DELETE | event_kind::NODE_ADD);
    }
}
