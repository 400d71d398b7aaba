//! Pod garbage collector (`pkg/controller/podgc/gc_controller.go`). Every 20 s (`gcCheckPeriod`) a pass runs,
//! in upstream's order:
//!
//! 1. **gcTerminated**: if more terminated pods exist than `--terminated-pod-gc-threshold` (12,500), delete the
//!    excess, evicted pods first, then the oldest, all at once (upstream: one goroutine each). This is also what
//!    keeps a long run's memory bounded when bare pods finish and are never deleted. Upstream's pass waits for
//!    all those deletes (`wait.Wait()`), and `wait.Until` starts the 20 s period only when the pass returns: at
//!    the controller's 20 QPS a large batch takes a while, and no pass runs meanwhile. kubesim does the same: while
//!    deletes of a batch are in flight no pass runs, and the next one comes at the first pass of the grid at least
//!    a period after the last answer. (Passes that resent the same deletes while the first ones waited for the
//!    rate limiter once piled up requests without bound.)
//! 2. **gcOrphaned**: pods bound to a node the node informer does not have. Each such node is put in quarantine
//!    for 40 s (`quarantineTime`; upstream's delaying `nodeQueue`, which keeps an item's earliest time). The
//!    first pass at or after the end of the quarantine checks with a GET that the node is really gone and deletes
//!    its pods: a pod that is not terminal is first patched to `Failed` (condition `DisruptionTarget`, reason
//!    `DeletionByPodGC`), then deleted with grace period 0. Upstream's loop is sequential, each call waiting for
//!    its answer, so one orphan is handled per two round trips, within the controller's client rate limit
//!    (20 QPS, burst 30).
//!
//! `gcTerminating` (pods on nodes with the `node.kubernetes.io/out-of-service` taint) and
//! `gcUnscheduledTerminating` have nothing to do in kubesim: nothing sets that taint, and the apiserver deletes an
//! unbound pod at once.
//!
//! **Only passes with work are simulated.** Passes run on the controller's grid from t = 0; a pass that finds
//! nothing to delete changes nothing, so kubesim schedules a pass only when one can act: after a pod became
//! terminal with the threshold exceeded, after the informer saw pods on a node it does not have (the pass that
//! starts the quarantine), and at the end of a quarantine while the node still has pods. An informer change and a
//! pass at the same instant: the next pass sees the change. Upstream's passes drift later by their run time, so
//! the pass exactly 40 s after the one that started a quarantine finds it over; kubesim compares with `>=`.

use super::{CtrlEvent, Informers, key_of, tag_of};
use crate::apiserver::{Client, Ctl, PodStatusPatch, Request, Response};
use crate::model::{NodeId, PodId, PodPhase, PodReason};
use crate::sim::{Ctx, Event};
use crate::time::{SimDuration, SimTime};
use crate::timings::Timings;
use std::collections::{BTreeMap, VecDeque};

/// One orphaned pod's turn in the sequential deleting loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// `PATCH pods/status` to Failed, then the DELETE.
    Patch,
    Delete,
}

pub struct PodGcController {
    period: SimDuration,
    quarantine: SimDuration,
    threshold: u64,
    /// The earliest pass scheduled; a [`CtrlEvent::PodGc`] at any other time is stale.
    next_pass: Option<SimTime>,
    /// Upstream's `nodeQueue`: nodes seen missing, with the time their quarantine ends.
    quarantined: BTreeMap<NodeId, SimTime>,
    /// Orphans waiting for the deleting loop, with their first step.
    orphans: VecDeque<(PodId, Step)>,
    /// The orphan whose request is in flight.
    busy: Option<(PodId, Step)>,
    /// Deletes of the current gcTerminated batch still waiting for their answer.
    terminated_in_flight: std::collections::BTreeSet<PodId>,
}

impl PodGcController {
    pub fn new(t: &Timings) -> PodGcController {
        PodGcController {
            period: t.pod_gc_period,
            quarantine: t.pod_gc_quarantine,
            threshold: t.terminated_pod_gc_threshold,
            next_pass: None,
            quarantined: BTreeMap::new(),
            orphans: VecDeque::new(),
            busy: None,
            terminated_in_flight: std::collections::BTreeSet::new(),
        }
    }

    /// The first pass strictly after `t`.
    fn pass_after(&self, t: SimTime) -> SimTime {
        SimTime(t.micros() + 1).ceil_to_period(SimTime::ZERO, self.period)
    }

    /// The first pass at or after `t`: the pass that finds a quarantine ending at `t` over.
    fn pass_at_or_after(&self, t: SimTime) -> SimTime {
        t.ceil_to_period(SimTime::ZERO, self.period)
    }

    /// Makes sure a pass runs at `at` or earlier.
    fn want_pass(&mut self, at: SimTime, ctx: &mut Ctx) {
        if self.next_pass.is_some_and(|p| p <= at && p >= ctx.now) {
            return;
        }
        self.next_pass = Some(at);
        ctx.queue.push(at, Event::Controller(CtrlEvent::PodGc));
    }

    /// A pod became terminal: make sure a pass is coming if the threshold is exceeded.
    pub fn pod_terminated(&mut self, inf: &Informers, ctx: &mut Ctx) {
        if self.threshold > 0 && inf.terminal_pods > self.threshold {
            let at = self.pass_after(ctx.now);
            self.want_pass(at, ctx);
        }
    }

    /// The informer has pods bound to `node` and (maybe) no such node: a deleted node, or a binding that raced
    /// its deletion. Makes sure the pass that can act next is coming: the one that starts its quarantine, or
    /// the one that ends it.
    pub fn orphans_seen(&mut self, inf: &Informers, node: NodeId, ctx: &mut Ctx) {
        if inf.node(node).is_some() || inf.pods_on_node(node).is_empty() {
            return;
        }
        let at = match self.quarantined.get(&node) {
            Some(end) if self.pass_at_or_after(*end) > ctx.now => self.pass_at_or_after(*end),
            // Not quarantined, or its quarantine ended at a pass that had nothing to delete (it was consumed then).
            _ => self.pass_after(ctx.now),
        };
        self.want_pass(at, ctx);
    }

    /// A pass.
    pub fn run(&mut self, inf: &Informers, ctx: &mut Ctx) {
        if self.next_pass != Some(ctx.now) {
            return;
        }
        self.next_pass = None;
        if !self.terminated_in_flight.is_empty() {
            // The previous pass is still waiting for its deletes; the last answer schedules the next pass.
            return;
        }
        if self.threshold > 0 && inf.terminal_pods > self.threshold {
            self.gc_terminated(inf, ctx);
        }
        self.gc_orphaned(inf, ctx);
        // The next pass that can act: the end of a quarantine of a node that still has pods (never this instant's
        // pass again, even with a zero quarantine).
        let after_now = self.pass_after(ctx.now);
        let next = self
            .quarantined
            .iter()
            .filter(|(n, _)| inf.node(**n).is_none() && !inf.pods_on_node(**n).is_empty())
            .map(|(_, end)| self.pass_at_or_after(*end).max(after_now))
            .min();
        if let Some(at) = next {
            self.want_pass(at, ctx);
        }
    }

    fn gc_terminated(&mut self, inf: &Informers, ctx: &mut Ctx) {
        let excess = (inf.terminal_pods - self.threshold) as usize;
        let mut terminated: Vec<(bool, u64, PodId)> = inf
            .pods
            .iter()
            .filter(|(_, c)| c.state.phase.is_terminal() && c.state.deletion.is_none())
            .map(|(id, c)| (c.state.reason != PodReason::TaintEviction, c.spec.uid, id))
            .collect();
        // Only the `excess` first in (evicted first, then oldest) order are needed: select them in linear time and
        // sort just those (the same requests in the same order as sorting everything).
        if excess < terminated.len() {
            terminated.select_nth_unstable(excess);
            terminated.truncate(excess);
        }
        terminated.sort_unstable();
        for (_, _, pod) in terminated.into_iter().take(excess) {
            let req = Request::DeletePod { pod, grace: Some(SimDuration::ZERO), reason: PodReason::GarbageCollected };
            self.terminated_in_flight.insert(pod);
            ctx.api.submit_tagged(Client::Controller(Ctl::PodGc), req, tag_of(pod), ctx.now, ctx.queue);
        }
    }

    /// Upstream `gcOrphaned` and `discoverDeletedNodes`.
    fn gc_orphaned(&mut self, inf: &Informers, ctx: &mut Ctx) {
        let now = ctx.now;
        // A quarantine that ended at a pass kubesim did not simulate was consumed by that pass, which found
        // nothing to delete (otherwise it would have been simulated).
        let period = self.period;
        self.quarantined.retain(|_, end| end.ceil_to_period(SimTime::ZERO, period) >= now);
        let due: Vec<NodeId> =
            self.quarantined.iter().filter(|(_, end)| self.pass_at_or_after(**end) <= now).map(|(n, _)| *n).collect();
        for n in &due {
            self.quarantined.remove(n);
        }
        // `AddAfter` for every node with pods that the informer does not have (a node just taken out of the
        // queue gets a new quarantine; one still waiting keeps its earlier end).
        let end = now.add(self.quarantine);
        for (i, pods) in inf.pods_by_node.iter().enumerate() {
            let id = NodeId(i as u32);
            if !pods.is_empty() && inf.node(id).is_none() {
                self.quarantined.entry(id).or_insert(end);
            }
        }
        // Quarantine over: still missing from the informer, and a GET (answered at once) says NotFound.
        let mut found: Vec<(u64, PodId, Step)> = Vec::new();
        for n in due {
            if inf.node(n).is_some() || ctx.api.etcd.node(n).is_some() {
                continue;
            }
            for pod in inf.pods_on_node(n) {
                let Some(c) = inf.pods.get(*pod) else { continue };
                if self.busy.is_some_and(|(p, _)| p == *pod) || self.orphans.iter().any(|(p, _)| p == pod) {
                    continue;
                }
                let step = if c.state.phase.is_terminal() { Step::Delete } else { Step::Patch };
                found.push((c.spec.uid, *pod, step));
            }
        }
        // Upstream walks its pod list (map order); kubesim uses creation order.
        found.sort_unstable_by_key(|(uid, _, _)| *uid);
        self.orphans.extend(found.into_iter().map(|(_, pod, step)| (pod, step)));
        self.pump(ctx);
    }

    /// Sends the next orphan's first request if none is in flight.
    fn pump(&mut self, ctx: &mut Ctx) {
        if self.busy.is_none()
            && let Some((pod, step)) = self.orphans.pop_front()
        {
            self.send(pod, step, ctx);
        }
    }

    fn send(&mut self, pod: PodId, step: Step, ctx: &mut Ctx) {
        let req = match step {
            Step::Patch => {
                // Upstream patches only the phase and the DisruptionTarget condition; kubesim's pod reason carries
                // the condition's reason, and the finish time is the patch's (no container reported an exit).
                let patch = PodStatusPatch {
                    phase: Some(PodPhase::Failed),
                    reason: Some(PodReason::DeletionByPodGc),
                    finished_at: Some(ctx.now),
                    ..Default::default()
                };
                Request::PodStatus { pod, patch, rv: None }
            }
            Step::Delete => {
                Request::DeletePod { pod, grace: Some(SimDuration::ZERO), reason: PodReason::DeletionByPodGc }
            }
        };
        self.busy = Some((pod, step));
        ctx.api.submit_tagged(Client::Controller(Ctl::PodGc), req, tag_of(pod), ctx.now, ctx.queue);
    }

    /// An answer to one of the deleting loop's requests: after a successful patch comes the DELETE; after a
    /// failed patch (upstream returns the error) or the DELETE, the next orphan.
    pub fn on_response(&mut self, resp: Response, ctx: &mut Ctx) {
        let Some(pod) = key_of::<PodId>(resp.tag) else { return };
        if self.terminated_in_flight.remove(&pod) {
            if self.terminated_in_flight.is_empty() {
                // The pass returns now; `wait.Until` sleeps a period before the next one.
                let at = self.pass_at_or_after(ctx.now.add(self.period));
                self.want_pass(at, ctx);
            }
            return;
        }
        let Some((busy, step)) = self.busy else { return };
        if busy != pod {
            return;
        }
        self.busy = None;
        if step == Step::Patch && resp.result.is_ok() {
            self.send(pod, Step::Delete, ctx);
            return;
        }
        self.pump(ctx);
    }
}
