//! Taint eviction controller (`pkg/controller/tainteviction`): evicts pods from nodes with `NoExecute` taints.
//!
//! When it sees a node's NoExecute taints change, it looks at every pod on the node: a pod that does not
//! tolerate some taint is deleted at once; otherwise it is deleted when the shortest `tolerationSeconds` among
//! its matching tolerations runs out, counted from the moment the controller handled the update (not from the
//! taint's `timeAdded`). Tolerations without seconds tolerate forever. If the taints go away first, the pending
//! evictions are cancelled. A later update never pushes an already scheduled eviction later.

use super::{CtrlEvent, Informers};
use crate::apiserver::{Client, Ctl, Request};
use crate::etcd::Op;
use crate::model::{Node, NodeId, PodId, PodReason, PodSpec, PodState, Taint, TaintEffect};
use crate::sim::{Ctx, Event};
use crate::time::{SimDuration, SimTime};
use slotmap::SecondaryMap;
use std::sync::Arc;

#[derive(Clone, Copy, Debug)]
struct Scheduled {
    token: u32,
    created: SimTime,
    fire: SimTime,
}

#[derive(Default)]
pub struct TaintEvictionController {
    scheduled: SecondaryMap<PodId, Scheduled>,
    /// NoExecute taints per node as last handled.
    node_taints: Vec<Vec<Taint>>,
    next_token: u32,
}

fn no_execute(node: &Node) -> Vec<Taint> {
    node.taints.iter().filter(|t| t.effect == TaintEffect::NoExecute).cloned().collect()
}

impl TaintEvictionController {
    fn taints_of(&self, node: NodeId) -> &[Taint] {
        self.node_taints.get(node.index()).map(|v| v.as_slice()).unwrap_or(&[])
    }

    pub fn node_changed(&mut self, inf: &Informers, id: NodeId, node: &Arc<Node>, ctx: &mut Ctx) {
        let taints = no_execute(node);
        if self.node_taints.len() <= id.index() {
            self.node_taints.resize_with(id.index() + 1, Vec::new);
        }
        if self.node_taints[id.index()] == taints {
            return;
        }
        self.node_taints[id.index()] = taints;
        for pod in inf.pods_on_node(id) {
            if let Some(c) = inf.pods.get(*pod) {
                self.process_pod(*pod, &c.spec, &c.state, id, ctx);
            }
        }
    }

    /// A node was deleted. As upstream's `handleNodeUpdate` on NotFound, the controller forgets the node's taints;
    /// evictions already scheduled for its pods stay (they fire unless the pod is gone or terminal by then), and
    /// later updates of those pods schedule nothing (the node has no taints left).
    pub fn node_deleted(&mut self, id: NodeId) {
        if let Some(t) = self.node_taints.get_mut(id.index()) {
            t.clear();
        }
    }

    pub fn pod_changed(
        &mut self,
        _inf: &Informers,
        id: PodId,
        spec: &PodSpec,
        state: &PodState,
        op: Op,
        ctx: &mut Ctx,
    ) {
        if op == Op::Deleted || state.phase.is_terminal() {
            self.scheduled.remove(id);
            return;
        }
        if let Some(node) = state.node
            && !self.scheduled.contains_key(id)
        {
            self.process_pod(id, spec, state, node, ctx);
        }
    }

    fn process_pod(&mut self, id: PodId, spec: &PodSpec, state: &PodState, node: NodeId, ctx: &mut Ctx) {
        if state.phase.is_terminal() {
            return;
        }
        let taints = self.taints_of(node);
        if taints.is_empty() {
            self.scheduled.remove(id);
            return;
        }
        let tolerations = &spec.template.tolerations;
        let mut min_seconds: Option<i64> = None;
        let mut forever = true;
        for taint in taints {
            let matching: Vec<_> = tolerations.iter().filter(|t| t.tolerates(taint)).collect();
            if matching.is_empty() {
                // Not tolerated: evict now.
                self.schedule(id, ctx.now, ctx.now, ctx);
                return;
            }
            for t in matching {
                if let Some(secs) = t.toleration_seconds {
                    forever = false;
                    min_seconds = Some(min_seconds.map_or(secs, |m| m.min(secs)));
                }
            }
        }
        if forever {
            self.scheduled.remove(id);
            return;
        }
        let secs = min_seconds.unwrap_or(0).max(0) as u64;
        let delay = SimDuration::from_secs(secs);
        if let Some(existing) = self.scheduled.get(id)
            && existing.created.add(delay) <= ctx.now.add(delay)
        {
            return;
        }
        self.schedule(id, ctx.now, ctx.now.add(delay), ctx);
    }

    fn schedule(&mut self, id: PodId, created: SimTime, fire: SimTime, ctx: &mut Ctx) {
        self.next_token = self.next_token.wrapping_add(1);
        let token = self.next_token;
        self.scheduled.insert(id, Scheduled { token, created, fire });
        ctx.queue.push(fire, Event::Controller(CtrlEvent::Evict { pod: id, token }));
    }

    pub fn evict(&mut self, inf: &Informers, pod: PodId, token: u32, ctx: &mut Ctx) {
        let Some(s) = self.scheduled.get(pod) else { return };
        if s.token != token || s.fire > ctx.now {
            return;
        }
        self.scheduled.remove(pod);
        if inf.pods.get(pod).is_none_or(|c| c.state.deletion.is_some() || c.state.phase.is_terminal()) {
            return;
        }
        let req = Request::DeletePod { pod, grace: None, reason: PodReason::TaintEviction };
        ctx.api.submit(Client::Controller(Ctl::TaintEviction), req, false, ctx.now, ctx.queue);
    }
}
