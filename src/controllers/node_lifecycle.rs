//! Node lifecycle controller: detects nodes whose kubelet stopped heartbeating, taints them, and limits the
//! NoExecute tainting per zone by the zone's health.
//!
//! Upstream (`pkg/controller/nodelifecycle`, see `docs/upstream/control-plane-timing.md`):
//! - every `node-monitor-period` (5 s) a pass compares each node's *probe timestamp* (the pass at which the
//!   controller last saw its Lease renewed) with the grace period (50 s); past it, the node's `Ready` condition
//!   becomes `Unknown` and its pods are marked not ready;
//! - the `node.kubernetes.io/unreachable:NoSchedule` taint follows the condition at once (event-driven);
//! - the *next* pass queues the node for the `unreachable:NoExecute` taint, applied by a 100 ms tainter loop
//!   through a per-zone token bucket (burst 1) whose rate depends on the zone's state (below);
//! - when the kubelet posts `Ready=True` again, the NoSchedule taint goes at once and the NoExecute taint at
//!   the next pass.
//!
//! **Heartbeats cost nothing.** Passes and renewals are not simulated one by one: with renewals every 10 s and
//! passes every 5 s on a fixed grid, the only pass that can change anything is the one at which the grace period
//! has run out. When a kubelet stops, the simulator hands this controller the commit time of the last renewal;
//! the controller computes the pass at which it would have first seen it (the probe), and schedules one check at
//! the first pass at least `grace` later. That check sees exactly what a per-heartbeat model would have seen.
//!
//! **Zones** (`handleDisruption`, `ComputeZoneState`, `setLimiterInZone`). Nodes are grouped by upstream's zone
//! key (region and zone labels). At the end of every pass upstream counts, per zone, the nodes whose Ready
//! condition is not True, leaving out nodes labelled `node.kubernetes.io/exclude-disruption`:
//! - `FullDisruption`: no node Ready (and at least one not ready); `PartialDisruption`: more than 2 not ready and
//!   `not_ready / total >= unhealthy-zone-threshold` (0.55, compared in float32 as upstream); else `Normal`.
//!   A zone starts `Initial`.
//! - On a state change the zone's tainter gets a new rate: `Normal` and `FullDisruption` the node eviction rate
//!   (0.1/s); `PartialDisruption` the secondary rate (0.01/s) if the zone has more than
//!   `large-cluster-size-threshold` (50) counted nodes, else 0 (tainting stops).
//! - If *every* zone is in `FullDisruption` the controller assumes the problem is its own (it cannot reach any
//!   node): it removes the NoExecute taints from every node, stops tainting everywhere, and, once some zone
//!   recovers, gives every node a fresh grace period (its probe becomes "now") and restores each zone's rate.
//! - A rate change swaps the token bucket as `RateLimitedTimedQueue.SwapLimiter`: nothing if the rate is the
//!   same; rate 0 is a limiter that never admits; otherwise a new full bucket, drained at once if the old one had
//!   no token left.
//!
//! The zone state is a function of the Ready conditions the pass sees: the informer's, plus the `Unknown` the
//! pass itself writes. kubesim evaluates it only where that input can change, at the pass where upstream would
//! first see the change: the pass that writes `Unknown`, and the first pass after the informer sees any other
//! Ready change (a kubelet posting `Ready=True`, a node added or deleted). Re-evaluating unchanged input changes
//! nothing upstream either (a state that does not change swaps no limiter), so the result is the same.
//!
//! Timing decisions, documented in the README: passes run on an exact grid from t = 0 (upstream passes drift
//! later by their run time); because each real pass takes a little time, the pass exactly `grace` after the probe
//! fires upstream, so kubesim compares with `>=`. When a tainter tick and a pass fall on the same instant, the
//! pass runs first (its zone rates apply to the tick) but the nodes it queued wait for the next tick: the tainter
//! acts on a node on the first 100 ms tick strictly after the pass that queued it. Only ticks that can act are
//! simulated (the next one is computed from the zone's token time), which gives the same times as ticking every
//! 100 ms.

use super::{CtrlEvent, Informers};
use crate::apiserver::{Client, Ctl, PodStatusPatch, Request};
use crate::etcd::Op;
use crate::model::node::{REGION_LABEL, ZONE_LABEL};
use crate::model::taints::keys;
use crate::model::{ConditionStatus, Node, NodeId, Str, Taint, TaintEffect, s};
use crate::record;
use crate::sim::{Ctx, Event};
use crate::time::{SimDuration, SimTime};
use crate::timings::Timings;
use std::collections::VecDeque;
use std::sync::Arc;

/// Nodes carrying this label (any value) are left out of their zone's state (upstream
/// `labelNodeDisruptionExclusion`); they are still monitored and tainted.
pub const EXCLUDE_DISRUPTION_LABEL: &str = "node.kubernetes.io/exclude-disruption";
/// The deprecated zone and region labels, which upstream's `GetZoneKey` prefers when present.
const BETA_ZONE_LABEL: &str = "failure-domain.beta.kubernetes.io/zone";
const BETA_REGION_LABEL: &str = "failure-domain.beta.kubernetes.io/region";

/// Health of a zone as the node lifecycle controller sees it (upstream `ZoneState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZoneState {
    Initial,
    Normal,
    PartialDisruption,
    FullDisruption,
}

impl ZoneState {
    pub fn as_str(self) -> &'static str {
        match self {
            ZoneState::Initial => "Initial",
            ZoneState::Normal => "Normal",
            ZoneState::PartialDisruption => "PartialDisruption",
            ZoneState::FullDisruption => "FullDisruption",
        }
    }
}

#[derive(Clone, Debug, Default)]
struct Health {
    /// Token of the pending health check (stale checks are ignored).
    token: u32,
    /// The Ready status as last observed through the informer (`None`: not known, or deleted).
    observed: Option<ConditionStatus>,
    /// In the NoExecute tainter's set: queued, or tainted and not yet marked reachable (upstream's
    /// `UniqueQueue` keeps a processed node in its set until `Remove`).
    queued_for_taint: bool,
    /// Index of the node's zone in `zones` (set when the node is first seen).
    zone: u32,
    /// Counted in its zone's state (not labelled exclude-disruption, not deleted).
    counted: bool,
    /// Ready as the zone state sees it: the informer's Ready, or not ready from the pass that wrote `Unknown`.
    ready_view: bool,
}

struct Zone {
    /// The name in `events.csv`: the zone label (else the region label, else empty).
    name: Str,
    /// Upstream's zone key: region and zone labels.
    region: Str,
    zone: Str,
    /// Nodes waiting for the NoExecute taint, with the time they were queued.
    queue: VecDeque<(NodeId, SimTime)>,
    /// The tainter's rate in nodes per second; 0 is upstream's never-admitting limiter.
    rate: f64,
    /// The token bucket (burst 1) has a token at or after this time; `SimTime::MAX` when the rate is 0.
    token_at: SimTime,
    state: ZoneState,
    /// Counted nodes, and those of them not ready.
    total: u32,
    not_ready: u32,
}

pub struct NodeLifecycleController {
    period: SimDuration,
    grace: SimDuration,
    tainter_period: SimDuration,
    watch_latency: SimDuration,
    eviction_rate: f64,
    secondary_eviction_rate: f64,
    unhealthy_zone_threshold: f64,
    large_cluster_threshold: u64,
    nodes: Vec<Health>,
    zones: Vec<Zone>,
    /// The time of the pending tainter tick, if one is scheduled (stale tick events are ignored).
    tick_at: Option<SimTime>,
    /// Pass times at which the zone states must be evaluated, ascending.
    zone_evals: VecDeque<SimTime>,
    /// Scratch buffer for the states computed by one evaluation (kept to avoid allocating per pass).
    new_states: Vec<ZoneState>,
    next_token: u32,
}

fn taint(key: &str, effect: TaintEffect) -> Taint {
    Taint { key: s(key), value: s(""), effect }
}

/// Upstream `GetZoneKey`'s parts: the beta label if present, else the GA one, else empty.
fn zone_key(node: &Node) -> (&str, &str) {
    let l = &node.labels;
    let zone = l.get(BETA_ZONE_LABEL).or_else(|| l.get(ZONE_LABEL)).map(|z| &**z).unwrap_or("");
    let region = l.get(BETA_REGION_LABEL).or_else(|| l.get(REGION_LABEL)).map(|r| &**r).unwrap_or("");
    (region, zone)
}

impl NodeLifecycleController {
    pub fn new(t: &Timings) -> NodeLifecycleController {
        NodeLifecycleController {
            period: t.node_monitor_period,
            grace: t.node_monitor_grace_period,
            tainter_period: t.node_eviction_period,
            watch_latency: t.watch_latency_controller_manager,
            eviction_rate: t.node_eviction_rate_per_s,
            secondary_eviction_rate: t.secondary_node_eviction_rate_per_s,
            unhealthy_zone_threshold: t.unhealthy_zone_threshold,
            large_cluster_threshold: t.large_cluster_size_threshold,
            nodes: Vec::new(),
            zones: Vec::new(),
            tick_at: None,
            zone_evals: VecDeque::new(),
            new_states: Vec::new(),
            next_token: 0,
        }
    }

    /// The state of the zone named `name` (the name `events.csv` uses), if the controller has seen it.
    pub fn zone_state(&self, name: &str) -> Option<ZoneState> {
        self.zones.iter().find(|z| &*z.name == name).map(|z| z.state)
    }

    /// The counted nodes of the zone named `name` and how many of them are not ready, as the zone state sees
    /// them (deleted nodes leave their zone's count).
    pub fn zone_counts(&self, name: &str) -> Option<(u32, u32)> {
        self.zones.iter().find(|z| &*z.name == name).map(|z| (z.total, z.not_ready))
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

    fn is_pass_instant(&self, t: SimTime) -> bool {
        self.period.micros() > 0 && t.micros().is_multiple_of(self.period.micros())
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
                // A verdict of this controller that never landed (see below) no longer counts in the zone.
                let at = if self.is_pass_instant(ctx.now) { ctx.now } else { self.pass_after(ctx.now) };
                self.set_ready_view(node, true, at, ctx);
                self.mark_reachable(inf, node, &obj, ctx);
            }
            return;
        }
        match obj.ready {
            ConditionStatus::True if !self.health(node).ready_view => {
                // This controller's Unknown is on its way (the apiserver was refusing it): look again at the next
                // pass rather than send it again.
                let at = self.pass_after(ctx.now);
                self.schedule_check(node, at, ctx);
            }
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
                // This pass's zone state already counts the node as not ready (upstream's `handleDisruption`
                // uses the condition the pass just wrote).
                self.set_ready_view(node, false, ctx.now, ctx);
                // The write normally lands and its change schedules the next pass for this node. It may not yet:
                // the apiserver refuses it while it is down (the client retries), and the kubelet may be back
                // before it gets through (then it is dropped, see the apiserver's NodeReady, and the next pass
                // counts the node ready again). The next pass looks again either way.
                let at = self.pass_after(ctx.now);
                self.schedule_check(node, at, ctx);
            }
            ConditionStatus::Unknown | ConditionStatus::False => self.queue_for_taint(node, ctx),
        }
    }

    /// A node changed in the informer.
    pub fn node_changed(&mut self, inf: &Informers, id: NodeId, node: &Arc<Node>, op: Op, ctx: &mut Ctx) {
        if op == Op::Deleted {
            let h = self.health(id);
            h.token = h.token.wrapping_add(1);
            let (was_known, counted, ready, zone) = (h.observed.take().is_some(), h.counted, h.ready_view, h.zone);
            h.counted = false;
            if was_known && counted {
                let z = &mut self.zones[zone as usize];
                z.total -= 1;
                if !ready {
                    z.not_ready -= 1;
                }
                let at = self.pass_after(ctx.now);
                self.request_zone_eval(at, ctx);
            }
            return;
        }
        let before = self.health(id).observed;
        if before.is_none() {
            self.register(id, node, ctx);
        }
        self.health(id).observed = Some(node.ready);
        let changed = before != Some(node.ready);
        if changed && before.is_some() {
            // Upstream's next pass sees the new condition in its zone count.
            let at = self.pass_after(ctx.now);
            self.set_ready_view(id, node.ready == ConditionStatus::True, at, ctx);
        }
        // Event-driven NoSchedule condition taints (TaintNodesByCondition): one write swaps them. Upstream runs
        // this pass on every node update, not only on condition changes: a taint swap computed from a condition
        // that changed again before it committed (a node recovering as it is marked Unknown) is undone by the
        // pass its own update triggers.
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
        // Upstream's every monitor pass marks each Ready node reachable, removing NoExecute condition taints;
        // kubesim runs a node's pass only when something happens to it. So a NoExecute taint that lands on a node
        // already Ready again (a tainting write delayed by retries while the apiserver was down) gets a pass too.
        let stale_no_execute = node.ready == ConditionStatus::True
            && node.taints.iter().any(|t| {
                t.effect == TaintEffect::NoExecute && (&*t.key == keys::UNREACHABLE || &*t.key == keys::NOT_READY)
            })
            && ctx.api.lease(id).is_some_and(|l| l.stopped_at.is_none());
        if (changed && before.is_some()) || stale_no_execute {
            // The next pass acts on the new observed condition (queue for NoExecute, or mark reachable).
            let at = self.pass_after(ctx.now);
            self.schedule_check(id, at, ctx);
        }
    }

    /// A node seen for the first time: find or create its zone (upstream `addPodEvictorForNewZone`: a new
    /// zone starts `Initial` with a full bucket at the eviction rate) and count it.
    fn register(&mut self, id: NodeId, node: &Node, ctx: &mut Ctx) {
        let (region, zone) = zone_key(node);
        let index = match self.zones.iter().position(|z| &*z.region == region && &*z.zone == zone) {
            Some(i) => i,
            None => {
                let name = if zone.is_empty() { region } else { zone };
                self.zones.push(Zone {
                    name: s(name),
                    region: s(region),
                    zone: s(zone),
                    queue: VecDeque::new(),
                    rate: self.eviction_rate,
                    token_at: SimTime::ZERO,
                    state: ZoneState::Initial,
                    total: 0,
                    not_ready: 0,
                });
                self.zones.len() - 1
            }
        };
        let counted = !node.labels.contains_key(EXCLUDE_DISRUPTION_LABEL);
        let ready = node.ready == ConditionStatus::True;
        let h = self.health(id);
        h.zone = index as u32;
        h.counted = counted;
        h.ready_view = ready;
        if counted {
            let z = &mut self.zones[index];
            z.total += 1;
            if !ready {
                z.not_ready += 1;
            }
            let at = self.pass_after(ctx.now);
            self.request_zone_eval(at, ctx);
        }
    }

    /// Sets the Ready status the zone count uses for `id`; a change to a counted node asks for a zone
    /// evaluation at the pass `at`.
    fn set_ready_view(&mut self, id: NodeId, ready: bool, at: SimTime, ctx: &mut Ctx) {
        let h = self.health(id);
        if h.ready_view == ready {
            return;
        }
        h.ready_view = ready;
        if !h.counted {
            return;
        }
        let zone = h.zone as usize;
        let z = &mut self.zones[zone];
        if ready {
            z.not_ready -= 1;
        } else {
            z.not_ready += 1;
        }
        self.request_zone_eval(at, ctx);
    }

    /// Asks for the zone states to be evaluated at the end of the pass at `at`.
    ///
    /// The end of a pass must come after every per-node check of that pass. Those checks are all scheduled
    /// before the pass instant, so an event pushed *at* the pass instant runs after them; an evaluation asked
    /// for earlier is pushed unsettled and re-pushes itself when its instant comes.
    fn request_zone_eval(&mut self, at: SimTime, ctx: &mut Ctx) {
        if self.zone_evals.back() == Some(&at) {
            return;
        }
        self.zone_evals.push_back(at);
        let settled = at == ctx.now;
        ctx.queue.push(at, Event::Controller(CtrlEvent::ZonePass { settled }));
    }

    /// The end of a monitor pass: evaluate the zone states (see [`Self::request_zone_eval`]).
    pub fn zone_pass(&mut self, inf: &Informers, settled: bool, ctx: &mut Ctx) {
        if !settled {
            ctx.queue.push(ctx.now, Event::Controller(CtrlEvent::ZonePass { settled: true }));
            return;
        }
        self.run_due_zone_evals(inf, ctx);
    }

    fn run_due_zone_evals(&mut self, inf: &Informers, ctx: &mut Ctx) {
        let mut due = false;
        while self.zone_evals.front().is_some_and(|t| *t <= ctx.now) {
            self.zone_evals.pop_front();
            due = true;
        }
        if due {
            self.handle_disruption(inf, ctx);
        }
    }

    /// Upstream `ComputeZoneState`, in float32 as upstream compares.
    fn compute_zone_state(&self, z: &Zone) -> ZoneState {
        let ready = z.total - z.not_ready;
        if ready == 0 && z.not_ready > 0 {
            ZoneState::FullDisruption
        } else if z.not_ready > 2 && (z.not_ready as f32) / (z.total as f32) >= self.unhealthy_zone_threshold as f32 {
            ZoneState::PartialDisruption
        } else {
            ZoneState::Normal
        }
    }

    /// Upstream `setLimiterInZone`: the tainting rate for a zone of `size` counted nodes in `state`
    /// (`ReducedQPSFunc` for PartialDisruption, `HealthyQPSFunc` for FullDisruption); `None` for Initial.
    fn rate_for(&self, state: ZoneState, size: u32) -> Option<f64> {
        match state {
            ZoneState::Initial => None,
            ZoneState::Normal | ZoneState::FullDisruption => Some(self.eviction_rate),
            ZoneState::PartialDisruption => {
                Some(if u64::from(size) > self.large_cluster_threshold { self.secondary_eviction_rate } else { 0.0 })
            }
        }
    }

    /// Upstream `SwapLimiter`: nothing if the rate is unchanged (compared in float32); rate 0 never admits;
    /// otherwise a new full bucket, drained at once if the old one had no token (it was waiting).
    fn swap_rate(&mut self, zone: usize, rate: f64, now: SimTime) {
        let z = &mut self.zones[zone];
        if z.rate as f32 == rate as f32 {
            return;
        }
        let old_had_token = z.rate > 0.0 && now >= z.token_at;
        z.rate = rate;
        z.token_at = if rate <= 0.0 {
            SimTime::MAX
        } else if old_had_token {
            now
        } else {
            now.add(SimDuration::from_secs_f64(1.0 / rate))
        };
    }

    fn set_state(&mut self, zone: usize, state: ZoneState, ctx: &mut Ctx) {
        let z = &mut self.zones[zone];
        if z.state == state {
            return;
        }
        z.state = state;
        record!(
            ctx.rec,
            ctx.now,
            ZoneStateChanged,
            Node,
            &z.name,
            "",
            "state={} not_ready={} total={}",
            state.as_str(),
            z.not_ready,
            z.total
        );
    }

    /// Upstream `handleDisruption`, at the end of a pass.
    fn handle_disruption(&mut self, inf: &Informers, ctx: &mut Ctx) {
        let mut states = std::mem::take(&mut self.new_states);
        states.clear();
        let (mut any, mut all_are_full, mut all_were_full) = (false, true, true);
        for z in &self.zones {
            let state = if z.total == 0 { ZoneState::Initial } else { self.compute_zone_state(z) };
            states.push(state);
            if z.total > 0 {
                any = true;
                all_are_full &= state == ZoneState::FullDisruption;
                all_were_full &= z.state == ZoneState::FullDisruption;
            }
        }
        if any && !(all_are_full && all_were_full) {
            if all_are_full {
                self.enter_full_disruption(inf, ctx);
            } else if all_were_full {
                self.exit_full_disruption(&states, ctx);
            } else {
                for (i, state) in states.iter().enumerate() {
                    let z = &self.zones[i];
                    if z.total == 0 {
                        // Upstream drops the state of a zone without counted nodes; it starts over as Initial.
                        self.zones[i].state = ZoneState::Initial;
                        continue;
                    }
                    if z.state == *state {
                        continue;
                    }
                    if let Some(rate) = self.rate_for(*state, z.total) {
                        self.swap_rate(i, rate, ctx.now);
                    }
                    self.set_state(i, *state, ctx);
                }
            }
            self.ensure_tick(ctx);
        }
        self.new_states = states;
    }

    /// Every zone is fully disrupted: the controller assumes it is the one cut off. It removes the NoExecute
    /// taints from all nodes (`markNodeAsReachable`, which also takes them out of the tainter's set) and stops
    /// tainting in every zone.
    fn enter_full_disruption(&mut self, inf: &Informers, ctx: &mut Ctx) {
        for z in &mut self.zones {
            z.queue.clear();
        }
        for h in &mut self.nodes {
            h.queued_for_taint = false;
        }
        for (i, entry) in inf.nodes.iter().enumerate() {
            if let Some((node, _)) = entry {
                remove_no_execute_taints(inf, NodeId(i as u32), node, ctx);
            }
        }
        for i in 0..self.zones.len() {
            self.swap_rate(i, 0.0, ctx.now);
            if self.zones[i].total > 0 {
                self.set_state(i, ZoneState::FullDisruption, ctx);
            }
        }
    }

    /// Some zone is no longer fully disrupted: every node gets a fresh grace period and every zone the rate of
    /// its new state.
    fn exit_full_disruption(&mut self, states: &[ZoneState], ctx: &mut Ctx) {
        // Fresh probe timestamps: only a node that still looks Ready but whose kubelet has stopped renewing has
        // a pending deadline to move (a node already NotReady stays so; a renewing node's probe moves anyway).
        let check = self.pass_at_or_after(ctx.now.add(self.grace)).max(self.pass_after(ctx.now));
        for i in 0..self.nodes.len() {
            let h = &self.nodes[i];
            if h.observed != Some(ConditionStatus::True) || !h.ready_view {
                continue;
            }
            let id = NodeId(i as u32);
            if ctx.api.lease(id).is_some_and(|l| l.stopped_at.is_some()) {
                self.schedule_check(id, check, ctx);
            }
        }
        // Upstream re-adds every not-ready node to its zone's tainter at each pass (the limiters were stopped, so
        // they waited); kubesim does it here, in node order.
        for i in 0..self.nodes.len() {
            let h = &self.nodes[i];
            if h.observed.is_some_and(|r| r != ConditionStatus::True) && !h.queued_for_taint {
                self.queue_for_taint(NodeId(i as u32), ctx);
            }
        }
        for (i, state) in states.iter().enumerate() {
            let total = self.zones[i].total;
            // A zone without counted nodes has no state upstream; kubesim gives it the normal rate back.
            let rate = if total == 0 { Some(self.eviction_rate) } else { self.rate_for(*state, total) };
            if let Some(rate) = rate {
                self.swap_rate(i, rate, ctx.now);
            }
            if total > 0 {
                self.set_state(i, *state, ctx);
            }
        }
    }

    fn queue_for_taint(&mut self, id: NodeId, ctx: &mut Ctx) {
        let h = self.health(id);
        if h.queued_for_taint || h.observed.is_none() {
            return;
        }
        h.queued_for_taint = true;
        let zone = h.zone as usize;
        self.zones[zone].queue.push_back((id, ctx.now));
        self.ensure_tick(ctx);
    }

    /// Schedules the next tainter tick that can act: the first 100 ms tick, strictly after now and after the
    /// head node was queued, at which some zone with a waiting node has a token. Ticks in between would find
    /// no token, so they are not simulated.
    fn ensure_tick(&mut self, ctx: &mut Ctx) {
        let after_now = SimTime(ctx.now.micros() + 1);
        let mut next: Option<SimTime> = None;
        for z in &self.zones {
            let Some(&(_, queued_at)) = z.queue.front() else { continue };
            if z.rate <= 0.0 || z.token_at == SimTime::MAX {
                continue;
            }
            let earliest = z.token_at.max(after_now).max(SimTime(queued_at.micros() + 1));
            let at = earliest.ceil_to_period(SimTime::ZERO, self.tainter_period);
            next = Some(next.map_or(at, |n| n.min(at)));
        }
        if let Some(at) = next
            && self.tick_at.is_none_or(|pending| at < pending)
        {
            self.tick_at = Some(at);
            ctx.queue.push(at, Event::Controller(CtrlEvent::TainterTick { settled: false }));
        }
    }

    /// The 100 ms NoExecute tainting pass (upstream `RateLimitedTimedQueue.Try` per zone): while a zone's head
    /// node was queued before this tick and its bucket admits, take a token, then taint the node, or drop it if
    /// it is Ready again or gone (the token is spent either way, as upstream takes it before looking).
    pub fn tainter_tick(&mut self, inf: &Informers, settled: bool, ctx: &mut Ctx) {
        if self.tick_at != Some(ctx.now) {
            return;
        }
        if !settled && self.is_pass_instant(ctx.now) {
            // Let this instant's pass finish first (see the module docs).
            ctx.queue.push(ctx.now, Event::Controller(CtrlEvent::TainterTick { settled: true }));
            return;
        }
        self.tick_at = None;
        self.run_due_zone_evals(inf, ctx);
        for z in 0..self.zones.len() {
            loop {
                let zone = &mut self.zones[z];
                let Some(&(id, queued_at)) = zone.queue.front() else { break };
                if queued_at >= ctx.now || zone.rate <= 0.0 || ctx.now < zone.token_at {
                    break;
                }
                zone.token_at = ctx.now.add(SimDuration::from_secs_f64(1.0 / zone.rate));
                zone.queue.pop_front();
                let Some(node) = inf.node(id) else { continue };
                let (key, other) = match node.ready {
                    ConditionStatus::Unknown => (keys::UNREACHABLE, keys::NOT_READY),
                    ConditionStatus::False => (keys::NOT_READY, keys::UNREACHABLE),
                    // Recovered meanwhile: dropped without tainting.
                    ConditionStatus::True => {
                        self.health(id).queued_for_taint = false;
                        continue;
                    }
                };
                let req = Request::NodeTaints {
                    node: id,
                    add: vec![taint(key, TaintEffect::NoExecute)],
                    remove: vec![(s(other), TaintEffect::NoExecute)],
                    rv: inf.node_rv(id),
                };
                ctx.api.submit(Client::Controller(Ctl::NodeLifecycle), req, false, ctx.now, ctx.queue);
            }
        }
        self.ensure_tick(ctx);
    }

    /// `markNodeAsReachable`: the node is Ready again; drop its NoExecute taints and take it out of the
    /// tainter's set.
    fn mark_reachable(&mut self, inf: &Informers, id: NodeId, node: &Node, ctx: &mut Ctx) {
        let h = self.health(id);
        if h.queued_for_taint {
            h.queued_for_taint = false;
            let zone = h.zone as usize;
            self.zones[zone].queue.retain(|(n, _)| *n != id);
        }
        remove_no_execute_taints(inf, id, node, ctx);
    }
}

/// Removes the node's NoExecute condition taints, writing only if it has one (upstream `RemoveTaintOffNode`
/// checks the cached node first).
fn remove_no_execute_taints(inf: &Informers, id: NodeId, node: &Node, ctx: &mut Ctx) {
    let has = |key: &str| node.taints.iter().any(|t| &*t.key == key && t.effect == TaintEffect::NoExecute);
    if !has(keys::UNREACHABLE) && !has(keys::NOT_READY) {
        return;
    }
    let remove: Vec<(Str, TaintEffect)> = [keys::UNREACHABLE, keys::NOT_READY]
        .into_iter()
        .filter(|key| has(key))
        .map(|key| (s(key), TaintEffect::NoExecute))
        .collect();
    let req = Request::NodeTaints { node: id, add: vec![], remove, rv: inf.node_rv(id) };
    ctx.api.submit(Client::Controller(Ctl::NodeLifecycle), req, false, ctx.now, ctx.queue);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn controller() -> NodeLifecycleController {
        let mut c = NodeLifecycleController::new(&Timings::default());
        c.zones.push(Zone {
            name: s("z"),
            region: s(""),
            zone: s("z"),
            queue: VecDeque::new(),
            rate: 0.1,
            token_at: SimTime::ZERO,
            state: ZoneState::Initial,
            total: 0,
            not_ready: 0,
        });
        c
    }

    #[test]
    fn zone_state_table() {
        use ZoneState::*;
        let c = controller();
        // (total, not ready) -> state: `ComputeZoneState` with threshold 0.55 and "more than 2 not ready".
        let table = [
            (1, 0, Normal),
            (1, 1, FullDisruption),
            (3, 3, FullDisruption),
            (4, 2, Normal),              // 50%, and only 2
            (5, 2, Normal),              // 2 is not more than 2
            (5, 3, PartialDisruption),   // 60%
            (20, 11, PartialDisruption), // exactly 55% (equal in float32)
            (20, 10, Normal),
            (60, 33, PartialDisruption),
            (60, 32, Normal),
            (100, 99, PartialDisruption),
            (100, 100, FullDisruption),
        ];
        for (total, not_ready, want) in table {
            let mut z = controller().zones.pop().unwrap();
            z.total = total;
            z.not_ready = not_ready;
            assert_eq!(c.compute_zone_state(&z), want, "{not_ready}/{total}");
        }
    }

    #[test]
    fn rate_per_state_table() {
        use ZoneState::*;
        let c = controller();
        assert_eq!(c.rate_for(Normal, 10), Some(0.1));
        assert_eq!(c.rate_for(FullDisruption, 10), Some(0.1), "HealthyQPSFunc");
        assert_eq!(c.rate_for(PartialDisruption, 50), Some(0.0), "50 is not more than 50");
        assert_eq!(c.rate_for(PartialDisruption, 51), Some(0.01));
        assert_eq!(c.rate_for(Initial, 51), None);
    }

    #[test]
    fn swap_limiter_keeps_a_token_or_drains() {
        let t = |s: u64| SimTime::from_secs(s);
        let mut c = controller();
        // Same rate: nothing changes (the bucket keeps its state).
        c.zones[0].token_at = t(50);
        c.swap_rate(0, 0.1, t(45));
        assert_eq!((c.zones[0].rate, c.zones[0].token_at), (0.1, t(50)));
        // The old bucket was waiting (no token at 45 s): the new one is drained, its token comes 1/rate later.
        c.swap_rate(0, 0.01, t(45));
        assert_eq!((c.zones[0].rate, c.zones[0].token_at), (0.01, t(145)));
        // The old bucket had a token: the new one starts full.
        c.swap_rate(0, 0.1, t(200));
        assert_eq!((c.zones[0].rate, c.zones[0].token_at), (0.1, t(200)));
        // Rate 0 never admits; leaving it always drains (the never-limiter has no token).
        c.swap_rate(0, 0.0, t(300));
        assert_eq!(c.zones[0].token_at, SimTime::MAX);
        c.swap_rate(0, 0.1, t(400));
        assert_eq!((c.zones[0].rate, c.zones[0].token_at), (0.1, t(410)));
    }
}
