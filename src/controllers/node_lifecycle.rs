//! Node lifecycle controller: detects nodes whose kubelet stopped heartbeating and taints them.
//!
//! Upstream (`pkg/controller/nodelifecycle`, see `docs/upstream/control-plane-timing.md`):
//! - every `node-monitor-period` (5 s) a pass compares each node's *probe timestamp* (the pass at which the
//!   controller last saw its Lease renewed) with the grace period (50 s); past it, the node's `Ready` condition
//!   becomes `Unknown` and its pods are marked not ready;
//! - the `node.kubernetes.io/unreachable:NoSchedule` taint follows the condition at once (event-driven);
//! - the *next* pass queues the node for the `unreachable:NoExecute` taint, applied by a 100 ms tainter loop
//!   through a per-zone token bucket (0.1 nodes/s, burst 1);
//! - when the kubelet posts `Ready=True` again, the NoSchedule taint goes at once and the NoExecute taint at
//!   the next pass.
//!
//! **Heartbeats cost nothing.** Passes and renewals are not simulated one by one: with renewals every 10 s and
//! passes every 5 s on a fixed grid, the only pass that can change anything is the one at which the grace period
//! has run out. When a kubelet stops, the simulator hands this controller the commit time of the last renewal;
//! the controller computes the pass at which it would have first seen it (the probe), and schedules one check at
//! the first pass at least `grace` later. That check sees exactly what a per-heartbeat model would have seen.
//!
//! Timing decisions, documented in the README: passes run on an exact grid from t = 0 (upstream passes drift
//! later by their run time); because each real pass takes a little time, the pass exactly `grace` after the probe
//! fires upstream, so kubesim compares with `>=`; the tainter acts on the first 100 ms tick strictly after the
//! pass that queued the node.

use super::{CtrlEvent, Informers};
use crate::apiserver::{Client, Ctl, PodStatusPatch, Request};
use crate::etcd::Op;
use crate::model::taints::keys;
use crate::model::{ConditionStatus, Node, NodeId, Str, Taint, TaintEffect, s};
use crate::sim::{Ctx, Event};
use crate::time::{SimDuration, SimTime};
use crate::timings::Timings;
use std::collections::VecDeque;
use std::sync::Arc;

#[derive(Clone, Debug, Default)]
struct Health {
    /// Token of the pending health check (stale checks are ignored).
    token: u32,
    /// The Ready status as last observed through the informer.
    observed: Option<ConditionStatus>,
    /// Whether the node is in (or was processed by) the NoExecute tainter queue.
    queued_for_taint: bool,
}

struct Zone {
    name: Str,
    queue: VecDeque<NodeId>,
    /// The token bucket (burst 1) has a token at or after this time.
    token_at: SimTime,
}

pub struct NodeLifecycleController {
    period: SimDuration,
    grace: SimDuration,
    tainter_period: SimDuration,
    token_interval: SimDuration,
    watch_latency: SimDuration,
    nodes: Vec<Health>,
    zones: Vec<Zone>,
    tick_pending: bool,
    next_token: u32,
}

fn taint(key: &str, effect: TaintEffect) -> Taint {
    Taint { key: s(key), value: s(""), effect }
}

impl NodeLifecycleController {
    pub fn new(t: &Timings) -> NodeLifecycleController {
        let rate = if t.node_eviction_rate_per_s > 0.0 { t.node_eviction_rate_per_s } else { 1e-9 };
        NodeLifecycleController {
            period: t.node_monitor_period,
            grace: t.node_monitor_grace_period,
            tainter_period: t.node_eviction_period,
            token_interval: SimDuration::from_secs_f64(1.0 / rate),
            watch_latency: t.watch_latency_controller_manager,
            nodes: Vec::new(),
            zones: Vec::new(),
            tick_pending: false,
            next_token: 0,
        }
    }

    fn health(&mut self, id: NodeId) -> &mut Health {
        if self.nodes.len() <= id.index() {
            self.nodes.resize_with(id.index() + 1, Health::default);
        }
        &mut self.nodes[id.index()]
    }

    /// The first monitor pass at or after `t`.
    fn pass_at_or_after(&self, t: SimTime) -> SimTime {
        t.ceil_to_period(SimTime::ZERO, self.period)
    }

    /// The first monitor pass strictly after `t`.
    fn pass_after(&self, t: SimTime) -> SimTime {
        SimTime(t.micros() + 1).ceil_to_period(SimTime::ZERO, self.period)
    }

    fn schedule_check(&mut self, node: NodeId, at: SimTime, ctx: &mut Ctx) {
        self.next_token = self.next_token.wrapping_add(1);
        let token = self.next_token;
        self.health(node).token = token;
        ctx.queue.push(at, Event::Controller(CtrlEvent::NodeHealth { node, token }));
    }

    /// The kubelet of `node` stopped renewing its Lease; `last_commit` is when its last renewal committed.
    /// Schedules the one monitor pass that can notice.
    pub fn lease_stopped(&mut self, node: NodeId, last_commit: Option<SimTime>, ctx: &mut Ctx) {
        // The lease informer sees the renewal a watch latency after it commits; the next pass records the probe.
        let seen = last_commit.unwrap_or(ctx.now).add(self.watch_latency);
        let probe = self.pass_at_or_after(seen);
        let check = self.pass_at_or_after(probe.add(self.grace)).max(self.pass_after(ctx.now));
        self.schedule_check(node, check, ctx);
    }

    /// A monitor pass for `node` (scheduled by [`Self::lease_stopped`] or by a Ready change).
    pub fn health_check(&mut self, inf: &Informers, node: NodeId, token: u32, ctx: &mut Ctx) {
        if self.health(node).token != token {
            return;
        }
        let Some(obj) = inf.node(node).cloned() else { return };
        let lease = ctx.api.lease(node).copied().unwrap_or_default();
        if lease.stopped_at.is_none() {
            // The kubelet is renewing again: the pass sees fresh renewals and the probe moves forward. The
            // Ready=True status it posts on restart drives the rest (see `node_changed`).
            if obj.ready == ConditionStatus::True {
                self.mark_reachable(inf, node, &obj, ctx);
            }
            return;
        }
        match obj.ready {
            ConditionStatus::True => {
                // Grace period over: Ready becomes Unknown, and the node's pods not ready.
                let req = Request::NodeReady { node, status: ConditionStatus::Unknown, rv: inf.node_rv(node) };
                ctx.api.submit(Client::Controller(Ctl::NodeLifecycle), req, false, ctx.now, ctx.queue);
                for pod in inf.pods_on_node(node) {
                    let Some(c) = inf.pods.get(*pod) else { continue };
                    if c.state.ready && !c.state.phase.is_terminal() {
                        let patch = PodStatusPatch { ready: Some(false), ..Default::default() };
                        let req = Request::PodStatus { pod: *pod, patch, rv: Some(c.state.resource_version) };
                        ctx.api.submit(Client::Controller(Ctl::NodeLifecycle), req, false, ctx.now, ctx.queue);
                    }
                }
            }
            ConditionStatus::Unknown | ConditionStatus::False => self.queue_for_taint(node, &obj, ctx),
        }
    }

    /// A node changed in the informer.
    pub fn node_changed(&mut self, inf: &Informers, id: NodeId, node: &Arc<Node>, op: Op, ctx: &mut Ctx) {
        if op == Op::Deleted {
            self.health(id).token = self.health(id).token.wrapping_add(1);
            return;
        }
        let zone = node.zone().cloned().unwrap_or_else(|| Str::from(""));
        if !self.zones.iter().any(|z| z.name == zone) {
            self.zones.push(Zone { name: zone, queue: VecDeque::new(), token_at: SimTime::ZERO });
        }
        let before = self.health(id).observed.replace(node.ready);
        if before == Some(node.ready) {
            return;
        }
        // Event-driven NoSchedule condition taints (TaintNodesByCondition): one write swaps them.
        let unreachable_ns = taint(keys::UNREACHABLE, TaintEffect::NoSchedule);
        let not_ready_ns = taint(keys::NOT_READY, TaintEffect::NoSchedule);
        let has = |t: &Taint| node.taints.iter().any(|x| x.key == t.key && x.effect == t.effect);
        let want = match node.ready {
            ConditionStatus::Unknown => Some(&unreachable_ns),
            ConditionStatus::False => Some(&not_ready_ns),
            ConditionStatus::True => None,
        };
        let add: Vec<Taint> = want.filter(|t| !has(t)).cloned().into_iter().collect();
        let remove: Vec<(Str, TaintEffect)> = [&unreachable_ns, &not_ready_ns]
            .into_iter()
            .filter(|t| want != Some(*t) && has(t))
            .map(|t| (t.key.clone(), t.effect))
            .collect();
        if !add.is_empty() || !remove.is_empty() {
            let req = Request::NodeTaints { node: id, add, remove, rv: inf.node_rv(id) };
            ctx.api.submit(Client::Controller(Ctl::NodeLifecycle), req, false, ctx.now, ctx.queue);
        }
        if before.is_some() {
            // The next pass acts on the new observed condition (queue for NoExecute, or mark reachable).
            let at = self.pass_after(ctx.now);
            self.schedule_check(id, at, ctx);
        }
    }

    fn zone_index(&self, node: &Node) -> usize {
        let name = node.zone().map(|z| &**z).unwrap_or("");
        self.zones.iter().position(|z| &*z.name == name).unwrap_or(0)
    }

    fn queue_for_taint(&mut self, id: NodeId, node: &Node, ctx: &mut Ctx) {
        if self.health(id).queued_for_taint || self.zones.is_empty() {
            return;
        }
        self.health(id).queued_for_taint = true;
        let z = self.zone_index(node);
        self.zones[z].queue.push_back(id);
        self.ensure_tick(ctx);
    }

    fn ensure_tick(&mut self, ctx: &mut Ctx) {
        if !self.tick_pending {
            self.tick_pending = true;
            let at = SimTime(ctx.now.micros() + 1).ceil_to_period(SimTime::ZERO, self.tainter_period);
            ctx.queue.push(at, Event::Controller(CtrlEvent::TainterTick));
        }
    }

    /// The 100 ms NoExecute tainting pass: per zone, taint queued nodes while the zone's bucket has tokens.
    pub fn tainter_tick(&mut self, inf: &Informers, ctx: &mut Ctx) {
        self.tick_pending = false;
        for z in 0..self.zones.len() {
            while let Some(&id) = self.zones[z].queue.front() {
                if ctx.now < self.zones[z].token_at {
                    break;
                }
                self.zones[z].queue.pop_front();
                let Some(node) = inf.node(id) else { continue };
                let (key, other) = match node.ready {
                    ConditionStatus::Unknown => (keys::UNREACHABLE, keys::NOT_READY),
                    ConditionStatus::False => (keys::NOT_READY, keys::UNREACHABLE),
                    // Recovered meanwhile: dropped without tainting (and without using a token).
                    ConditionStatus::True => {
                        self.health(id).queued_for_taint = false;
                        continue;
                    }
                };
                self.zones[z].token_at = ctx.now.add(self.token_interval);
                let req = Request::NodeTaints {
                    node: id,
                    add: vec![taint(key, TaintEffect::NoExecute)],
                    remove: vec![(s(other), TaintEffect::NoExecute)],
                    rv: inf.node_rv(id),
                };
                ctx.api.submit(Client::Controller(Ctl::NodeLifecycle), req, false, ctx.now, ctx.queue);
            }
        }
        if self.zones.iter().any(|z| !z.queue.is_empty()) {
            self.ensure_tick(ctx);
        }
    }

    /// `markNodeAsReachable`: the node is Ready again; drop its NoExecute taints.
    fn mark_reachable(&mut self, inf: &Informers, id: NodeId, node: &Node, ctx: &mut Ctx) {
        self.health(id).queued_for_taint = false;
        for z in &mut self.zones {
            z.queue.retain(|n| *n != id);
        }
        let remove: Vec<(Str, TaintEffect)> = [keys::UNREACHABLE, keys::NOT_READY]
            .into_iter()
            .filter(|key| node.taints.iter().any(|t| &*t.key == *key && t.effect == TaintEffect::NoExecute))
            .map(|key| (s(key), TaintEffect::NoExecute))
            .collect();
        if !remove.is_empty() {
            let req = Request::NodeTaints { node: id, add: vec![], remove, rv: inf.node_rv(id) };
            ctx.api.submit(Client::Controller(Ctl::NodeLifecycle), req, false, ctx.now, ctx.queue);
        }
    }
}
