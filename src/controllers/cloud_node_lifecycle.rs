//! The cloud node lifecycle controller of cloud-controller-manager
//! (`staging/src/k8s.io/cloud-provider/controllers/nodelifecycle`): deletes the Node objects of machines that no
//! longer exist in the cloud provider.
//!
//! Upstream, `MonitorNodes` runs every `--node-monitor-period` (5 s, `KubeCloudShared.NodeMonitorPeriod`) over the
//! node informer: a node whose Ready condition is True is skipped; for any other node it asks the cloud provider
//! whether the instance still exists, and deletes the Node (`DELETE node`, event `DeletingNode`) when it does not.
//! A terminated machine's kubelet stops heartbeating, so its Node goes `Ready=Unknown` when the node lifecycle
//! controller's grace period runs out (about 50 s), and the next pass of this controller deletes it.
//!
//! In kubesim the cloud provider is the simulator: [`CloudNodeLifecycleController::instance_terminated`] tells
//! the controller that a machine is gone. **Passes are simulated only when they can act**: a pass is scheduled,
//! on the 5 s grid from t = 0, after the informer shows a terminated machine's node not Ready (or after a machine
//! is terminated whose node already is). A pass deletes every such node; while one is still in the informer the
//! next pass comes too, as upstream's loop would send the DELETE again. A healthy cluster costs no events.
//!
//! Upstream's pass handles nodes one after the other, each with a cloud API call and a synchronous DELETE;
//! kubesim sends the DELETEs of one pass together (the controller's token bucket still spaces them) and answers
//! the cloud's question at once.
//!
//! Not modelled: the shutdown taint (`node.cloudprovider.kubernetes.io/shutdown`, for instances that are stopped
//! but exist: kubesim machines are running, crashed with their instance still there, or terminated) and the wait
//! for uninitialized nodes (kubesim nodes carry no `node.cloudprovider.kubernetes.io/uninitialized` taint).
//! Upstream this controller runs in its own process with its own node informer; kubesim gives it the controller
//! manager's informer (same watch latency) and a client of its own with the same QPS/burst defaults (20 / 30).

use super::{CtrlEvent, Informers};
use crate::apiserver::{Client, Ctl, Request};
use crate::etcd::Op;
use crate::model::{ConditionStatus, NodeId};
use crate::sim::{Ctx, Event};
use crate::time::{SimDuration, SimTime};
use crate::timings::Timings;
use std::collections::BTreeSet;

pub struct CloudNodeLifecycleController {
    period: SimDuration,
    /// Machines whose instance no longer exists and whose Node object the informer may still have.
    gone: BTreeSet<NodeId>,
    /// The next pass scheduled; a [`CtrlEvent::CloudNodePass`] at any other time is stale.
    next_pass: Option<SimTime>,
}

impl CloudNodeLifecycleController {
    pub fn new(t: &Timings) -> CloudNodeLifecycleController {
        CloudNodeLifecycleController { period: t.cloud_node_monitor_period, gone: BTreeSet::new(), next_pass: None }
    }

    /// The first pass strictly after `t`.
    fn pass_after(&self, t: SimTime) -> SimTime {
        SimTime(t.micros() + 1).ceil_to_period(SimTime::ZERO, self.period)
    }

    /// Whether a pass would delete `node` now: its instance is gone and the informer shows it not Ready.
    fn deletable(&self, inf: &Informers, node: NodeId) -> bool {
        self.gone.contains(&node) && inf.node(node).is_some_and(|n| n.ready != ConditionStatus::True)
    }

    fn want_pass(&mut self, ctx: &mut Ctx) {
        let at = self.pass_after(ctx.now);
        if self.next_pass.is_some_and(|p| p <= at && p >= ctx.now) {
            return;
        }
        self.next_pass = Some(at);
        ctx.queue.push(at, Event::Controller(CtrlEvent::CloudNodePass));
    }

    /// The machine behind `node` was terminated: the cloud provider no longer knows its instance.
    pub fn instance_terminated(&mut self, inf: &Informers, node: NodeId, ctx: &mut Ctx) {
        self.gone.insert(node);
        if self.deletable(inf, node) {
            self.want_pass(ctx);
        }
    }

    /// A node changed in the informer.
    pub fn node_changed(&mut self, inf: &Informers, node: NodeId, op: Op, ctx: &mut Ctx) {
        if !self.gone.contains(&node) {
            return;
        }
        if op == Op::Deleted {
            // The Node is gone too: nothing left to do for this machine. A pending pass with nothing else to
            // delete becomes stale.
            self.gone.remove(&node);
            if !self.gone.iter().any(|n| self.deletable(inf, *n)) {
                self.next_pass = None;
            }
            return;
        }
        if self.deletable(inf, node) {
            self.want_pass(ctx);
        }
    }

    /// A pass of `MonitorNodes`, over the nodes whose instance is gone (the others need nothing).
    pub fn pass(&mut self, inf: &Informers, ctx: &mut Ctx) {
        if self.next_pass != Some(ctx.now) {
            return;
        }
        self.next_pass = None;
        let deletable: Vec<NodeId> = self.gone.iter().copied().filter(|n| self.deletable(inf, *n)).collect();
        for node in &deletable {
            let req = Request::DeleteNode { node: *node };
            ctx.api.submit(Client::Controller(Ctl::CloudNodeLifecycle), req, false, ctx.now, ctx.queue);
        }
        if !deletable.is_empty() {
            // Upstream's next pass deletes again any node its informer still shows.
            self.want_pass(ctx);
        }
    }
}
