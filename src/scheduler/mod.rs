//! The simulated kube-scheduler.
//!
//! It watches pods, nodes and PodDisruptionBudgets, keeps its own cache (never reading etcd), pops pods from
//! its queue one scheduling cycle at a time, runs the pod's profile ([`cycle::Algorithm`]), assumes the pod on
//! the chosen node and sends the Binding through the apiserver. A pod that fits nowhere may preempt
//! lower-priority pods (DefaultPreemption): the victims are deleted and the pod is nominated to their node.
//! A failed pod is parked until a cluster event that one of the plugins that rejected it cares about (its
//! queueing hint says so), or the periodic flush; then it waits out its backoff (1 s doubling to 10 s).
//!
//! The process can crash ([`Scheduler::crash`]) and start again ([`Scheduler::restart`]): everything it held in
//! memory is lost, and the new process rebuilds its cache and queue from a LIST, scheduling nothing until that
//! LIST has arrived (upstream's `WaitForCacheSync`).

pub mod args;
pub mod cache;
pub mod cycle;
pub mod explain;
pub mod framework;
pub mod harness;
pub mod plugins;
pub mod preemption;
pub mod profile;
pub mod queue;
pub mod registry;

use crate::apiserver::{ApiError, Client, PodStatusPatch, Request, Response};
use crate::etcd::{Change, Op};
use crate::model::{Node, NodeId, PdbId, PodDisruptionBudget, PodId, PodReason, PodSpec};
use crate::record;
use crate::rng::SimRng;
use crate::sim::{Ctx, Event};
use crate::time::{SimDuration, SimTime};
use crate::timings::Timings;
use cache::{Cache, PodEntry};
use cycle::{Algorithm, Outcome};
use explain::{AttemptTrace, Explainer, TracedOutcome};
use framework::{Binding, ClusterEvent, PodCtx, QueueingHint};
use profile::{MAX_PLUGINS, Profile, ProfileConfig};
use queue::{QueueState, SchedulingQueue, backoff_release};
use slotmap::SecondaryMap;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A scheduler timer, addressed to the process that set it: a timer of a process that has since crashed is
/// ignored (its goroutines died with it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SchedEvent {
    /// The [`Scheduler::incarnation`] that set the timer.
    pub incarnation: u32,
    pub kind: SchedEventKind,
}

/// What a scheduler timer does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchedEventKind {
    /// Run one scheduling cycle.
    Cycle,
    /// Release the pods whose backoff window has passed (upstream's 1 s backoff flusher, woken only when due).
    BackoffFlush,
    /// Periodic flush of pods unschedulable for too long.
    FlushUnschedulable,
    /// A started process checks whether its informers have synced (see [`CACHE_SYNC_POLL_PERIOD`]).
    CacheSyncPoll,
}

/// How often a starting kube-scheduler checks whether its informers have delivered their initial LIST:
/// client-go's `WaitForCacheSync` and the scheduler's `WaitForHandlersSync` poll every `syncedPollPeriod`
/// (100 ms), the first time at once. Scheduling starts at the first poll that finds the LIST delivered.
pub const CACHE_SYNC_POLL_PERIOD: SimDuration = SimDuration::from_millis(100);

/// Where the kube-scheduler process is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lifecycle {
    /// Scheduling.
    Running,
    /// The process is dead: it watches nothing, schedules nothing and answers nothing.
    Down,
    /// A new process is filling its caches from its informers' LIST; `listed_remaining` objects of it are still
    /// to arrive. Pods are queued as they arrive, but no cycle runs until a sync poll finds the LIST delivered
    /// (upstream's `server.go` waits for `WaitForCacheSync` and `WaitForHandlersSync` before `sched.Run`).
    Syncing { listed_remaining: usize },
}

/// What a crash threw away (for the `SchedulerCrashed` row).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CrashLoss {
    /// Pods waiting in the queue (activeQ, backoffQ or unschedulable).
    pub queued: usize,
    /// Pods assumed on a node whose binding the process had not yet seen through its watch.
    pub assumed: usize,
    /// Requests (bindings, victim deletions, nomination patches) that had not left the process.
    pub unsent: usize,
}

/// The scheduler's record of a pod it knows.
struct SchedPod {
    spec: Arc<PodSpec>,
    /// Node the pod is on in the cache (assumed or bound).
    node: Option<NodeId>,
    /// Assumed by this scheduler, binding not yet observed.
    assumed: bool,
    queue: QueueState,
    generation: u32,
    /// Queue timestamp: first enqueue, reset at every failed attempt (PrioritySort's tie-break).
    timestamp: SimTime,
    attempts: u32,
    unschedulable_count: u32,
    error_count: u32,
    profile: usize,
    /// The QueueSort key, computed once.
    sort_key: i64,
    /// Plugins that rejected the pod in its last attempt (bit per plugin index of its profile).
    rejectors: u64,
    /// `status.nominatedNodeName`, as this scheduler set it.
    nominated: Option<NodeId>,
    /// The FailedScheduling message of its last failed attempt.
    last_failure: Option<Arc<str>>,
}

/// Counters for the summary.
#[derive(Clone, Copy, Debug, Default)]
pub struct SchedulerStats {
    pub cycles: u64,
    pub scheduled: u64,
    pub failed_attempts: u64,
    pub bind_errors: u64,
    pub preemptions: u64,
}

pub struct Scheduler {
    alg: Algorithm,
    pods: SecondaryMap<PodId, SchedPod>,
    pdbs: BTreeMap<PdbId, Arc<PodDisruptionBudget>>,
    queue: SchedulingQueue,
    cycle_pending: bool,
    busy_until: SimTime,
    flush_pending: bool,
    backoff_wake: Option<SimTime>,
    cycle: SimDuration,
    initial_backoff: SimDuration,
    max_backoff: SimDuration,
    max_in_unschedulable: SimDuration,
    flush_period: SimDuration,
    /// Per profile, per plugin: parked pods that plugin rejected (a cluster event nobody cares about is free).
    parked_by_plugin: Vec<[u32; MAX_PLUGINS]>,
    /// Per profile: event kinds each plugin registered.
    plugin_events: Vec<Vec<u8>>,
    moved: Vec<(u64, PodId)>,
    released: Vec<PodId>,
    explain: Option<Explainer>,
    trace: AttemptTrace,
    /// Counts processes: bumped at every crash, so that timers and answers addressed to a dead process are
    /// recognised as stale. Requests carry it as their tag.
    incarnation: u32,
    lifecycle: Lifecycle,
    /// Pods that had failed a scheduling attempt when a process crashed: not in the process's memory, but kept so
    /// that `pods_unschedulable` (pods that failed at least once) counts each pod once across restarts.
    failed_before: SecondaryMap<PodId, ()>,
    /// Cumulative over every process of the run (the summary's counters), unlike everything else here.
    pub stats: SchedulerStats,
}

impl Scheduler {
    pub fn new(profiles: &[ProfileConfig], timings: &Timings, tiebreak: SimRng) -> Result<Scheduler, String> {
        let profiles = profiles.iter().map(Profile::build).collect::<Result<Vec<_>, _>>()?;
        let plugin_events =
            profiles.iter().map(|p| p.plugins.iter().map(|pl| pl.events_to_register()).collect()).collect();
        Ok(Scheduler {
            parked_by_plugin: vec![[0; MAX_PLUGINS]; profiles.len()],
            plugin_events,
            alg: Algorithm::new(profiles, tiebreak),
            pods: SecondaryMap::new(),
            pdbs: BTreeMap::new(),
            queue: SchedulingQueue::default(),
            cycle_pending: false,
            busy_until: SimTime::ZERO,
            flush_pending: false,
            backoff_wake: None,
            cycle: timings.scheduler_cycle,
            initial_backoff: timings.pod_initial_backoff,
            max_backoff: timings.pod_max_backoff,
            max_in_unschedulable: timings.pod_max_in_unschedulable_pods,
            flush_period: timings.unschedulable_flush_period,
            moved: Vec::new(),
            released: Vec::new(),
            explain: None,
            trace: AttemptTrace::default(),
            incarnation: 0,
            lifecycle: Lifecycle::Running,
            failed_before: SecondaryMap::new(),
            stats: SchedulerStats::default(),
        })
    }

    /// Where the process is in its life.
    pub fn lifecycle(&self) -> Lifecycle {
        self.lifecycle
    }

    /// The number of the current process (0 for the first; one more after every crash).
    pub fn incarnation(&self) -> u32 {
        self.incarnation
    }

    /// The kube-scheduler process dies at `ctx.now`. Everything it held in memory is lost: the cache (nodes,
    /// bound and assumed pods), the queues (activeQ, backoffQ, unschedulable pods), the nominations, the
    /// budgets, the cycle in progress and its pending bindings. Its watch connection closes, dropping the changes
    /// in flight; the timers it set and the answers to its requests will find no one (they carry the old
    /// incarnation). Requests still in the process (waiting in its rate limiter, or to be sent at the end of the
    /// current cycle) are lost with it; bindings already sent are on the wire and still commit.
    ///
    /// What survives comes from configuration, not memory: the profiles, the timings and the `--explain` writer.
    /// The cumulative [`SchedulerStats`] survive too (the run summary's counters). Records a `SchedulerCrashed`
    /// row with what was lost. Returns `None` (and does nothing) if the process was already down.
    pub fn crash(&mut self, ctx: &mut Ctx) -> Option<CrashLoss> {
        if self.lifecycle == Lifecycle::Down {
            return None;
        }
        let queued = self.pods.values().filter(|p| p.queue != QueueState::None).count();
        let assumed = self.pods.values().filter(|p| p.assumed).count();
        let unsent = ctx.api.cancel_unsent(Client::Scheduler, ctx.now);
        ctx.api.disconnect_scheduler();
        for (id, p) in &self.pods {
            // Bound pods never fail again; unbound and assumed ones will be tried again by the next process.
            if (p.node.is_none() || p.assumed) && (p.unschedulable_count > 0 || p.error_count > 0) {
                self.failed_before.insert(id, ());
            }
        }
        self.incarnation = self.incarnation.wrapping_add(1);
        self.lifecycle = Lifecycle::Down;
        self.alg.reset();
        self.pods = SecondaryMap::new();
        self.pdbs.clear();
        self.queue = SchedulingQueue::default();
        self.cycle_pending = false;
        self.busy_until = SimTime::ZERO;
        self.flush_pending = false;
        self.backoff_wake = None;
        for counts in &mut self.parked_by_plugin {
            *counts = [0; MAX_PLUGINS];
        }
        self.moved.clear();
        self.released.clear();
        self.trace = AttemptTrace::default();
        record!(
            ctx.rec,
            ctx.now,
            SchedulerCrashed,
            Component,
            "kube-scheduler",
            "",
            "queued={queued} assumed={assumed} unsent_requests={unsent}"
        );
        Some(CrashLoss { queued, assumed, unsent })
    }

    /// A new kube-scheduler process starts at `ctx.now`: a fresh API client (a full rate-limiter burst), then
    /// its informers LIST nodes, non-terminal pods and PodDisruptionBudgets
    /// ([`crate::apiserver::ApiServer::connect_scheduler`]), which arrive after the scheduler's watch latency,
    /// followed by live changes. Listed pods go through the same handlers as watched ones: bound pods fill the
    /// cache, unbound pods of one of its profiles go to activeQ (with their `status.nominatedNodeName`, as
    /// upstream's nominator reads it). Scheduling starts at the first cache-sync poll that finds the LIST
    /// delivered (a `SchedulerSynced` row). Records a `SchedulerStarted` row. Returns the number of listed
    /// objects, or `None` (and does nothing) if the process was not down.
    pub fn restart(&mut self, ctx: &mut Ctx) -> Option<usize> {
        if self.lifecycle != Lifecycle::Down {
            return None;
        }
        ctx.api.reset_limiter(Client::Scheduler);
        let listed = ctx.api.connect_scheduler(ctx.now, ctx.queue);
        self.lifecycle = Lifecycle::Syncing { listed_remaining: listed };
        // PollImmediateUntil: the first check is at once (it succeeds only if the LIST took no time).
        self.timer(ctx.now, SchedEventKind::CacheSyncPoll, ctx);
        let incarnation = self.incarnation;
        record!(
            ctx.rec,
            ctx.now,
            SchedulerStarted,
            Component,
            "kube-scheduler",
            "",
            "listed={listed} incarnation={incarnation}"
        );
        Some(listed)
    }

    fn timer(&self, at: SimTime, kind: SchedEventKind, ctx: &mut Ctx) {
        ctx.queue.push(at, Event::Scheduler(SchedEvent { incarnation: self.incarnation, kind }));
    }

    /// Sends a request of this process, tagged with its incarnation.
    fn send(&self, request: Request, at: SimTime, ctx: &mut Ctx) {
        ctx.api.submit_with_tag(Client::Scheduler, request, false, u64::from(self.incarnation), at, ctx.queue);
    }

    /// Turns on decision traces for the pods `explainer` selects.
    pub fn set_explain(&mut self, explainer: Explainer) {
        self.explain = Some(explainer);
    }

    /// Takes the trace writer back (to flush it and report errors).
    pub fn take_explain(&mut self) -> Option<Explainer> {
        self.explain.take()
    }

    /// The scheduler's view of the nodes (invariant checks).
    pub fn cache(&self) -> &Cache {
        &self.alg.cache
    }

    /// The spec of a pod the scheduler knows.
    pub fn pod_spec(&self, id: PodId) -> Option<&Arc<PodSpec>> {
        self.pods.get(id).map(|p| &p.spec)
    }

    /// Whether the scheduler has seen this pod.
    pub fn knows(&self, id: PodId) -> bool {
        self.pods.contains_key(id)
    }

    /// The node a pod is nominated to, if any.
    pub fn nominated_node(&self, id: PodId) -> Option<NodeId> {
        self.pods.get(id).and_then(|p| p.nominated)
    }

    /// Pods waiting to be scheduled, counted by the message of their last failed attempt ("waiting for a
    /// scheduling attempt" for pods not yet tried).
    pub fn pending_reasons(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for p in self.pods.values().filter(|p| p.node.is_none()) {
            let reason = p.last_failure.as_deref().unwrap_or("waiting for a scheduling attempt");
            *out.entry(reason.to_string()).or_insert(0) += 1;
        }
        out
    }

    /// Pods waiting in the queue (active, backoff or unschedulable).
    pub fn pending(&self) -> usize {
        self.pods.values().filter(|p| p.queue != QueueState::None).count()
    }

    pub fn handle(&mut self, ev: SchedEvent, ctx: &mut Ctx) {
        if ev.incarnation != self.incarnation || self.lifecycle == Lifecycle::Down {
            // Set by a process that has crashed since.
            return;
        }
        match ev.kind {
            SchedEventKind::CacheSyncPoll => {
                if self.lifecycle != (Lifecycle::Syncing { listed_remaining: 0 }) {
                    self.timer(ctx.now.add(CACHE_SYNC_POLL_PERIOD), SchedEventKind::CacheSyncPoll, ctx);
                    return;
                }
                self.lifecycle = Lifecycle::Running;
                record!(
                    ctx.rec,
                    ctx.now,
                    SchedulerSynced,
                    Component,
                    "kube-scheduler",
                    "",
                    "queued={} nodes={}",
                    self.pending(),
                    self.alg.cache.len()
                );
                if self.queue.active_entries() > 0 {
                    self.ensure_cycle(ctx);
                }
            }
            SchedEventKind::Cycle => {
                self.cycle_pending = false;
                self.run_cycle(ctx);
            }
            SchedEventKind::BackoffFlush => {
                if self.backoff_wake == Some(ctx.now) {
                    self.backoff_wake = None;
                }
                let mut released = std::mem::take(&mut self.released);
                let pods = &self.pods;
                self.queue.release_due(
                    ctx.now,
                    |pod, generation| {
                        pods.get(pod).is_some_and(|p| p.generation == generation && p.queue == QueueState::Backoff)
                    },
                    &mut released,
                );
                for pod in released.drain(..) {
                    self.activate(pod, ctx);
                }
                self.released = released;
                self.schedule_backoff_wake(ctx);
            }
            SchedEventKind::FlushUnschedulable => {
                self.flush_pending = false;
                let mut old = std::mem::take(&mut self.moved);
                old.clear();
                old.extend(self.queue.unschedulable().filter(|(_, p)| {
                    self.pods.get(*p).is_some_and(|r| ctx.now.since(r.timestamp) > self.max_in_unschedulable)
                }));
                for &(key, pod) in &old {
                    self.unpark(key, pod);
                    self.requeue_after_backoff(pod, false, ctx);
                }
                self.moved = old;
                self.ensure_flush(ctx);
            }
        }
    }

    // ----- watch handling -----

    pub fn on_change(&mut self, change: &Change, ctx: &mut Ctx) {
        match &mut self.lifecycle {
            // The watch is closed while the process is down; nothing reaches it.
            Lifecycle::Down => return,
            Lifecycle::Syncing { listed_remaining } => *listed_remaining = listed_remaining.saturating_sub(1),
            Lifecycle::Running => {}
        }
        match change {
            Change::Pod { id, spec, state, op } => {
                // The scheduler's informer selects non-terminal pods: leaving that set is a deletion.
                if *op == Op::Deleted || state.phase.is_terminal() {
                    self.forget_pod(*id, ctx);
                    return;
                }
                let preempted = state.reason == PodReason::Preempted;
                match self.pods.get_mut(*id) {
                    Some(p) => match (state.node, p.node) {
                        (Some(n), Some(cached)) if n == cached => {
                            let confirmed = std::mem::replace(&mut p.assumed, false);
                            if state.deletion.is_some() {
                                self.alg.cache.set_terminating(n, *id, preempted);
                            }
                            if confirmed {
                                // The binding is visible: upstream's AssignedPodAdded.
                                self.pod_event(spec.clone(), n, true, ctx);
                            }
                        }
                        (Some(n), _) => {
                            // Bound by someone else (or our assumption was wrong): move it to that node.
                            self.dequeue(*id);
                            self.alg.nominator.remove(*id);
                            let p = &mut self.pods[*id];
                            let spec = p.spec.clone();
                            let old = p.node.replace(n);
                            p.assumed = false;
                            p.nominated = None;
                            if let Some(old) = old {
                                self.alg.cache.remove_pod(old, *id);
                            }
                            let entry = PodEntry::new(*id, spec.clone(), ctx.now);
                            if self.alg.cache.add_pod(n, entry) {
                                if state.deletion.is_some() {
                                    self.alg.cache.set_terminating(n, *id, preempted);
                                }
                                self.pod_event(spec.clone(), n, true, ctx);
                            }
                        }
                        (None, _) => {}
                    },
                    None => {
                        let profile =
                            self.alg.profiles.iter().position(|p| p.scheduler_name == spec.template.scheduler_name);
                        let sort_key = profile.map(|i| self.alg.profiles[i].sort_key(spec)).unwrap_or(0);
                        // A pod first seen with `status.nominatedNodeName` was nominated by a process that has
                        // crashed since; upstream's queue adds it to the nominator from its status.
                        let nominated = if state.node.is_none() { state.nominated_node } else { None };
                        let rec = SchedPod {
                            spec: spec.clone(),
                            node: state.node,
                            assumed: false,
                            queue: QueueState::None,
                            generation: 0,
                            timestamp: ctx.now,
                            attempts: 0,
                            unschedulable_count: 0,
                            error_count: 0,
                            profile: profile.unwrap_or(usize::MAX),
                            sort_key,
                            rejectors: 0,
                            nominated,
                            last_failure: None,
                        };
                        if let Some(n) = state.node {
                            self.pods.insert(*id, rec);
                            if self.alg.cache.add_pod(n, PodEntry::new(*id, spec.clone(), ctx.now)) {
                                if state.deletion.is_some() {
                                    self.alg.cache.set_terminating(n, *id, preempted);
                                }
                                self.pod_event(spec.clone(), n, true, ctx);
                            }
                        } else if profile.is_some() && state.deletion.is_none() {
                            self.pods.insert(*id, rec);
                            if let Some(n) = nominated {
                                self.alg.nominator.add(n, PodEntry::new(*id, spec.clone(), ctx.now));
                            }
                            self.activate(*id, ctx);
                        }
                    }
                }
            }
            Change::Node { id, node, op, .. } => {
                if *op == Op::Deleted {
                    self.alg.cache.remove_node(*id);
                    return;
                }
                let old = self.alg.cache.node(*id).map(|info| info.node.clone());
                self.alg.cache.upsert_node(*id, node.clone());
                match old {
                    None => self.node_event(*id, None, ctx),
                    Some(old) if scheduling_properties_changed(&old, node) => self.node_event(*id, Some(old), ctx),
                    Some(_) => {}
                }
            }
            Change::Pdb { id, obj, op, .. } => {
                if *op == Op::Deleted {
                    self.pdbs.remove(id);
                } else {
                    self.pdbs.insert(*id, obj.clone());
                }
                self.alg.pdbs.clear();
                self.alg.pdbs.extend(self.pdbs.values().cloned());
            }
            Change::ReplicaSet { .. } | Change::Deployment { .. } | Change::Job { .. } | Change::DaemonSet { .. } => {}
        }
    }

    /// A scheduler request finished. A failed binding forgets the assumption and retries after the error
    /// backoff; other failures (victim deletions, nomination patches) need nothing: the watch tells the truth.
    ///
    /// Answers to a process that has crashed since are dropped (its rejected bindings still count in
    /// `bind_errors`: the apiserver did reject them).
    pub fn on_response(&mut self, resp: Response, ctx: &mut Ctx) {
        let Request::BindPod { pod, node } = resp.request else { return };
        let Err(err) = resp.result else { return };
        self.stats.bind_errors += 1;
        if resp.tag != Some(u64::from(self.incarnation)) || self.lifecycle == Lifecycle::Down {
            return;
        }
        let Some(p) = self.pods.get_mut(pod) else { return };
        if !(p.assumed && p.node == Some(node)) {
            return;
        }
        p.assumed = false;
        p.node = None;
        self.alg.cache.remove_pod(node, pod);
        match err {
            // The pod is gone or was bound elsewhere: the watch will say so.
            ApiError::NotFound => {
                self.pods.remove(pod);
            }
            ApiError::Conflict(_) => {}
            _ => {
                let p = &mut self.pods[pod];
                p.error_count += 1;
                p.rejectors = 0;
                p.timestamp = ctx.now;
                self.requeue_after_backoff(pod, true, ctx);
            }
        }
        // The assumed pod's room is free again.
        if let Some(spec) = self.pods.get(pod).map(|p| p.spec.clone()) {
            self.pod_event(spec, node, false, ctx);
        }
    }

    fn forget_pod(&mut self, id: PodId, ctx: &mut Ctx) {
        self.failed_before.remove(id);
        self.dequeue(id);
        self.alg.nominator.remove(id);
        let Some(p) = self.pods.remove(id) else { return };
        if let Some(n) = p.node
            && self.alg.cache.remove_pod(n, id).is_some()
        {
            self.pod_event(p.spec, n, false, ctx);
        }
    }

    // ----- cluster events and queueing hints -----

    /// A pod appeared on node `n` (`added`: upstream AssignedPodAdded) or left it (AssignedPodDeleted).
    fn pod_event(&mut self, spec: Arc<PodSpec>, n: NodeId, added: bool, ctx: &mut Ctx) {
        let kind = if added { framework::event_kind::POD_ADD } else { framework::event_kind::POD_DELETE };
        if !self.anyone_cares(kind) {
            return;
        }
        let Some(info) = self.alg.cache.node(n) else { return };
        let ev = if added {
            ClusterEvent::AssignedPodAdd { pod: &spec, node: info }
        } else {
            ClusterEvent::AssignedPodDelete { pod: &spec, node: info }
        };
        let mut moved = std::mem::take(&mut self.moved);
        collect_moves(&self.alg.profiles, &self.pods, &self.queue, &self.plugin_events, &ev, &mut moved);
        self.apply_moves(moved, ctx);
    }

    /// A node was added (`old` None) or its scheduling properties changed.
    fn node_event(&mut self, id: NodeId, old: Option<Arc<Node>>, ctx: &mut Ctx) {
        let kind = if old.is_none() { framework::event_kind::NODE_ADD } else { framework::event_kind::NODE_UPDATE };
        if !self.anyone_cares(kind) {
            return;
        }
        let Some(info) = self.alg.cache.node(id) else { return };
        let ev = match &old {
            None => ClusterEvent::NodeAdd(info),
            Some(old) => ClusterEvent::NodeUpdate { old, new: info },
        };
        let mut moved = std::mem::take(&mut self.moved);
        collect_moves(&self.alg.profiles, &self.pods, &self.queue, &self.plugin_events, &ev, &mut moved);
        self.apply_moves(moved, ctx);
    }

    /// Whether some parked pod was rejected by a plugin registered for events of `kind`.
    fn anyone_cares(&self, kind: u8) -> bool {
        if self.queue.unschedulable_len() == 0 {
            return false;
        }
        self.parked_by_plugin
            .iter()
            .zip(&self.plugin_events)
            .any(|(counts, events)| events.iter().zip(counts.iter()).any(|(e, c)| *c > 0 && e & kind != 0))
    }

    fn apply_moves(&mut self, mut moved: Vec<(u64, PodId)>, ctx: &mut Ctx) {
        for &(key, pod) in &moved {
            self.unpark(key, pod);
            self.requeue_after_backoff(pod, false, ctx);
        }
        moved.clear();
        self.moved = moved;
    }

    // ----- queue moves -----

    fn dequeue(&mut self, id: PodId) {
        let Some(p) = self.pods.get(id) else { return };
        if let QueueState::Unschedulable(key) = p.queue {
            self.unpark(key, id);
        }
        let p = &mut self.pods[id];
        p.queue = QueueState::None;
        p.generation = p.generation.wrapping_add(1);
    }

    fn activate(&mut self, id: PodId, ctx: &mut Ctx) {
        let Some(p) = self.pods.get_mut(id) else { return };
        p.generation = p.generation.wrapping_add(1);
        p.queue = QueueState::Active;
        self.queue.push_active(id, p.sort_key, p.timestamp, p.generation);
        self.ensure_cycle(ctx);
    }

    /// Upstream `calculateBackoffDuration` (v1.34): `initial << (count-1)` capped at max, where count is the
    /// consecutive errors if any, else the unschedulable attempts.
    fn backoff_duration(&self, p: &SchedPod) -> SimDuration {
        let count = if p.error_count > 0 { p.error_count } else { p.unschedulable_count };
        if count == 0 {
            return SimDuration::ZERO;
        }
        let shift = (count - 1).min(32);
        self.initial_backoff.saturating_mul(1u64 << shift).min(self.max_backoff)
    }

    /// To activeQ if the pod's backoff window has passed, else to backoffQ (`error`: errorBackoffQ).
    fn requeue_after_backoff(&mut self, id: PodId, error: bool, ctx: &mut Ctx) {
        let Some(p) = self.pods.get(id) else { return };
        let backoff = self.backoff_duration(p);
        let release = backoff_release(p.timestamp, backoff);
        if backoff == SimDuration::ZERO || ctx.now >= release {
            self.activate(id, ctx);
            return;
        }
        let p = &mut self.pods[id];
        p.generation = p.generation.wrapping_add(1);
        p.queue = QueueState::Backoff;
        self.queue.push_backoff(id, release, p.sort_key, p.timestamp, p.generation, error);
        if self.backoff_wake.is_none_or(|w| release < w) {
            self.backoff_wake = Some(release);
            self.timer(release, SchedEventKind::BackoffFlush, ctx);
        }
        if !error {
            // PopFromBackoffQ: an idle scheduler takes it at once.
            self.ensure_cycle(ctx);
        }
    }

    fn schedule_backoff_wake(&mut self, ctx: &mut Ctx) {
        if let Some(next) = self.queue.next_release()
            && self.backoff_wake.is_none_or(|w| next < w)
        {
            let at = next.max(ctx.now);
            self.backoff_wake = Some(at);
            self.timer(at, SchedEventKind::BackoffFlush, ctx);
        }
    }

    fn park(&mut self, id: PodId, ctx: &mut Ctx) {
        let key = self.queue.park(id);
        let p = &mut self.pods[id];
        p.generation = p.generation.wrapping_add(1);
        p.queue = QueueState::Unschedulable(key);
        let (profile, mut m) = (p.profile, p.rejectors);
        while m != 0 {
            self.parked_by_plugin[profile][m.trailing_zeros() as usize] += 1;
            m &= m - 1;
        }
        self.ensure_flush(ctx);
    }

    fn unpark(&mut self, key: u64, id: PodId) {
        self.queue.unpark(key);
        let Some(p) = self.pods.get_mut(id) else { return };
        p.queue = QueueState::None;
        let (profile, mut m) = (p.profile, p.rejectors);
        while m != 0 {
            let c = &mut self.parked_by_plugin[profile][m.trailing_zeros() as usize];
            *c = c.saturating_sub(1);
            m &= m - 1;
        }
    }

    /// Makes sure a cycle is coming, once the process is scheduling (not while its caches sync).
    fn ensure_cycle(&mut self, ctx: &mut Ctx) {
        if !self.cycle_pending && self.lifecycle == Lifecycle::Running {
            self.cycle_pending = true;
            self.timer(ctx.now.max(self.busy_until), SchedEventKind::Cycle, ctx);
        }
    }

    fn ensure_flush(&mut self, ctx: &mut Ctx) {
        if !self.flush_pending && self.queue.unschedulable_len() > 0 {
            self.flush_pending = true;
            self.timer(ctx.now.add(self.flush_period), SchedEventKind::FlushUnschedulable, ctx);
        }
    }

    // ----- the scheduling cycle -----

    fn run_cycle(&mut self, ctx: &mut Ctx) {
        let pods = &self.pods;
        let current = |pod: PodId, generation: u32, want: QueueState| {
            pods.get(pod).is_some_and(|p| p.generation == generation && p.queue == want)
        };
        let id = match self.queue.pop_active(|p, g| current(p, g, QueueState::Active)) {
            Some(id) => id,
            None => match self.queue.pop_backoff(|p, g| current(p, g, QueueState::Backoff)) {
                Some(id) => id,
                None => return,
            },
        };
        self.stats.cycles += 1;
        ctx.rec.metrics.scheduling_attempts += 1;
        let p = &mut self.pods[id];
        p.queue = QueueState::None;
        p.generation = p.generation.wrapping_add(1);
        p.attempts += 1;
        let (spec, profile, nominated, attempt) = (p.spec.clone(), p.profile, p.nominated, p.attempts);
        let done = ctx.now.add(self.cycle);
        self.busy_until = done;
        let pod = PodCtx { id, spec: &spec, nominated };
        let traced = self.explain.as_ref().is_some_and(|e| e.filter.matches(&spec.namespace, &spec.name));
        if traced {
            self.trace = AttemptTrace::default();
        }
        let outcome = self.alg.schedule(profile, &pod, nominated, traced.then_some(&mut self.trace));
        if traced {
            self.write_trace(&spec, attempt, profile, &outcome, ctx.now);
        }
        match outcome {
            Outcome::Feasible(node) => {
                let p = &mut self.pods[id];
                p.node = Some(node);
                p.assumed = true;
                p.nominated = None;
                p.rejectors = 0;
                self.alg.nominator.remove(id);
                let gpus = self.alg.reserved_gpus();
                self.alg.cache.add_pod(node, PodEntry::new(id, spec.clone(), ctx.now).with_gpus(gpus));
                self.stats.scheduled += 1;
                match self.alg.binding(profile, &pod, node) {
                    Binding::Api => {
                        self.send(Request::BindPod { pod: id, node }, done, ctx);
                    }
                }
            }
            Outcome::Failed(failure) => {
                self.stats.failed_attempts += 1;
                let p = &mut self.pods[id];
                let first = p.unschedulable_count == 0 && p.error_count == 0 && self.failed_before.remove(id).is_none();
                p.timestamp = ctx.now;
                p.rejectors = failure.rejectors;
                if failure.rejectors == 0 {
                    p.error_count += 1;
                } else {
                    p.unschedulable_count += 1;
                    p.error_count = 0;
                }
                ctx.rec.metrics.pod_unschedulable(first);
                record!(ctx.rec, ctx.now, PodUnschedulable, Pod, &spec.name, "", "{}", failure.message);
                if p.last_failure.as_deref() != Some(failure.message.as_str()) {
                    p.last_failure = Some(Arc::from(failure.message.as_str()));
                }
                *ctx.rec.metrics.unschedulable_reasons.entry(failure.message).or_insert(0) += 1;
                if let Some((node, victims)) = failure.nominate {
                    self.preempt(id, &spec, node, victims, done, ctx);
                }
                if failure.rejectors == 0 {
                    self.requeue_after_backoff(id, true, ctx);
                } else {
                    self.park(id, ctx);
                }
            }
        }
        if (self.queue.active_entries() > 0 || self.queue.backoff_entries() > 0) && !self.cycle_pending {
            self.cycle_pending = true;
            self.timer(done, SchedEventKind::Cycle, ctx);
        }
    }

    /// Carries out preemption's choice: delete the victims, nominate the pod to the node, and take the
    /// nomination away from lower-priority pods nominated there.
    fn preempt(
        &mut self,
        id: PodId,
        spec: &Arc<PodSpec>,
        node: NodeId,
        victims: Vec<PodId>,
        at: SimTime,
        ctx: &mut Ctx,
    ) {
        self.stats.preemptions += 1;
        ctx.rec.metrics.preemptions += 1;
        ctx.rec.metrics.preemption_victims += victims.len() as u64;
        let node_name = self.alg.cache.node(node).map(|n| n.node.name.clone()).unwrap_or_default();
        for v in &victims {
            if let Some(vp) = self.pods.get(*v) {
                record!(ctx.rec, ctx.now, PodPreempted, Pod, &vp.spec.name, &node_name, "by={}", spec.name);
            }
            let req = Request::DeletePod { pod: *v, grace: None, reason: PodReason::Preempted };
            self.send(req, at, ctx);
        }
        record!(ctx.rec, ctx.now, PodNominated, Pod, &spec.name, &node_name, "victims={}", victims.len());
        let priority = spec.template.priority;
        let lower: Vec<PodId> = self
            .alg
            .nominator
            .on(node)
            .iter()
            .filter(|e| e.id != id && e.spec.template.priority < priority)
            .map(|e| e.id)
            .collect();
        for other in lower {
            self.alg.nominator.remove(other);
            if let Some(op) = self.pods.get_mut(other) {
                op.nominated = None;
            }
            let patch = PodStatusPatch { nominated_node: Some(None), ..Default::default() };
            self.send(Request::PodStatus { pod: other, patch, rv: None }, at, ctx);
        }
        self.alg.nominator.add(node, PodEntry::new(id, spec.clone(), ctx.now));
        self.pods[id].nominated = Some(node);
        let patch = PodStatusPatch { nominated_node: Some(Some(node)), ..Default::default() };
        self.send(Request::PodStatus { pod: id, patch, rv: None }, at, ctx);
    }

    fn write_trace(&mut self, spec: &PodSpec, attempt: u32, profile: usize, outcome: &Outcome, now: SimTime) {
        let Some(explain) = self.explain.as_mut() else { return };
        let cache = &self.alg.cache;
        let name_of = |id: NodeId| cache.node(id).map(|n| n.node.name.clone()).unwrap_or_default();
        let bound_name;
        let traced = match outcome {
            Outcome::Feasible(n) => {
                bound_name = name_of(*n);
                TracedOutcome::Bound(&bound_name)
            }
            Outcome::Failed(f) => TracedOutcome::Unschedulable(&f.message),
        };
        let profile_name = &self.alg.profiles[profile].scheduler_name;
        explain.write(
            now.as_secs_f64(),
            &spec.namespace,
            &spec.name,
            attempt,
            profile_name,
            &self.trace,
            traced,
            &name_of,
        );
    }
}

/// Parked pods whose rejecting plugins' hints say `ev` may help, in park order.
fn collect_moves(
    profiles: &[Profile],
    pods: &SecondaryMap<PodId, SchedPod>,
    queue: &SchedulingQueue,
    plugin_events: &[Vec<u8>],
    ev: &ClusterEvent,
    out: &mut Vec<(u64, PodId)>,
) {
    let kind = ev.kind();
    out.clear();
    for (key, pod) in queue.unschedulable() {
        let Some(p) = pods.get(pod) else { continue };
        let profile = &profiles[p.profile];
        let events = &plugin_events[p.profile];
        let mut m = p.rejectors;
        while m != 0 {
            let i = m.trailing_zeros() as usize;
            m &= m - 1;
            if events[i] & kind != 0 && profile.plugins[i].queueing_hint(&p.spec, ev) == QueueingHint::Queue {
                out.push((key, pod));
                break;
            }
        }
    }
}

/// Upstream `NodeSchedulingPropertiesChange`: only these changes are node-update events.
fn scheduling_properties_changed(old: &Node, new: &Node) -> bool {
    old.unschedulable != new.unschedulable
        || old.allocatable != new.allocatable
        || old.allocatable_pods != new.allocatable_pods
        || old.labels != new.labels
        || old.taints != new.taints
        || old.ready != new.ready
}

#[cfg(test)]
mod restart_tests {
    use super::*;
    use crate::apiserver::ApiServer;
    use crate::engine::EventQueue;
    use crate::model::PodState;
    use crate::recorder::{EventSink, Recorder};
    use crate::rng::Stream;
    use crate::scheduler::plugins::testutil::{node_info, pod_spec};

    /// A scheduler with its apiserver and event queue, driven by hand: changes are fed to it directly and only
    /// its own timers run (requests never commit).
    struct Bench {
        sched: Scheduler,
        api: ApiServer,
        q: EventQueue<Event>,
        rec: Recorder,
        images: BTreeMap<crate::model::Str, u64>,
    }

    impl Bench {
        fn new() -> Bench {
            let timings = Timings::default();
            Bench {
                sched: Scheduler::new(&[ProfileConfig::default()], &timings, SimRng::new(1, Stream::TieBreak))
                    .expect("scheduler"),
                api: ApiServer::new(timings, vec![], SimRng::new(1, Stream::Naming)),
                q: EventQueue::new(),
                rec: Recorder::new(EventSink::Memory(Vec::new())),
                images: BTreeMap::new(),
            }
        }

        fn with_ctx<R>(&mut self, f: impl FnOnce(&mut Scheduler, &mut Ctx) -> R) -> R {
            let now = self.q.now();
            let mut ctx = Ctx {
                now,
                queue: &mut self.q,
                api: &mut self.api,
                rec: &mut self.rec,
                images: &self.images,
                registry: Default::default(),
            };
            f(&mut self.sched, &mut ctx)
        }

        /// Runs the scheduler's timers due by `until`.
        fn run(&mut self, until: SimTime) {
            while self.q.peek_time().is_some_and(|t| t <= until) {
                let Some((t, ev)) = self.q.pop() else { break };
                if let Event::Scheduler(e) = ev {
                    let mut ctx = Ctx {
                        now: t,
                        queue: &mut self.q,
                        api: &mut self.api,
                        rec: &mut self.rec,
                        images: &self.images,
                        registry: Default::default(),
                    };
                    self.sched.handle(e, &mut ctx);
                }
            }
        }

        fn change(&mut self, change: Change) {
            self.with_ctx(|s, ctx| s.on_change(&change, ctx));
        }

        /// A node and an unbound pod arrive; the pod is scheduled and assumed on the node.
        fn assume_one(&mut self) -> (PodId, NodeId) {
            let node = NodeId(0);
            let info = node_info("n0", 4000, 1 << 32);
            self.change(Change::Node { id: node, node: info.node.clone(), rv: 1, op: Op::Added });
            let mut ids = slotmap::SlotMap::<PodId, ()>::with_key();
            let pod = ids.insert(());
            let spec = Arc::new(pod_spec(500, 1 << 20, |_| {}));
            self.change(Change::Pod { id: pod, spec, state: PodState::new_pending(), op: Op::Added });
            let now = self.q.now();
            self.run(now.add(SimDuration::from_millis(10)));
            assert!(self.sched.cache().node(node).is_some_and(|n| n.has_pod(pod)), "assumed");
            (pod, node)
        }

        fn bind_failed(&mut self, pod: PodId, node: NodeId, tag: u32) {
            let resp = Response {
                client: Client::Scheduler,
                request: Request::BindPod { pod, node },
                result: Err(ApiError::Timeout),
                tag: Some(u64::from(tag)),
            };
            self.with_ctx(|s, ctx| s.on_response(resp, ctx));
        }

        fn crash_and_restart(&mut self) {
            assert!(self.with_ctx(|s, ctx| s.crash(ctx)).is_some());
            assert_eq!(self.with_ctx(|s, ctx| s.restart(ctx)), Some(0), "the store is empty");
            let now = self.q.now();
            self.run(now);
            assert_eq!(self.sched.lifecycle(), Lifecycle::Running, "an empty LIST syncs at the first poll");
        }
    }

    #[test]
    fn a_failed_binding_of_this_process_frees_the_node() {
        let mut b = Bench::new();
        b.crash_and_restart();
        let (pod, node) = b.assume_one();
        b.bind_failed(pod, node, b.sched.incarnation());
        assert!(!b.sched.cache().node(node).is_some_and(|n| n.has_pod(pod)), "the assumption is forgotten");
        assert_eq!(b.sched.pending(), 1, "the pod waits out its error backoff");
        assert_eq!(b.sched.stats.bind_errors, 1);
    }

    #[test]
    fn answers_to_a_crashed_process_are_ignored() {
        let mut b = Bench::new();
        b.crash_and_restart();
        let (pod, node) = b.assume_one();
        // The same pod and node, but the request came from incarnation 0, which is dead.
        b.bind_failed(pod, node, 0);
        assert!(b.sched.cache().node(node).is_some_and(|n| n.has_pod(pod)), "still assumed by this process");
        assert_eq!(b.sched.pending(), 0);
        assert_eq!(b.sched.stats.bind_errors, 1, "the apiserver did refuse it");
    }

    #[test]
    fn a_crash_forgets_everything_but_the_counters() {
        let mut b = Bench::new();
        let (pod, _) = b.assume_one();
        let cycles = b.sched.stats.cycles;
        assert_eq!(cycles, 1);
        let lost = b.with_ctx(|s, ctx| s.crash(ctx)).expect("was running");
        assert_eq!(lost.assumed, 1);
        assert_eq!(lost.queued, 0);
        assert_eq!(lost.unsent, 0, "the binding left at the end of its cycle, before the crash");
        assert!(!b.sched.knows(pod));
        assert!(b.sched.cache().is_empty());
        assert_eq!(b.sched.pending(), 0);
        assert_eq!(b.sched.stats.cycles, cycles, "cumulative counters survive");
        // While down, changes and timers reach no one.
        let info = node_info("n1", 1000, 1 << 30);
        b.change(Change::Node { id: NodeId(1), node: info.node.clone(), rv: 2, op: Op::Added });
        assert!(b.sched.cache().is_empty());
        assert!(b.with_ctx(|s, ctx| s.crash(ctx)).is_none(), "already down");
    }

    #[test]
    fn a_crash_mid_cycle_drops_the_unsent_binding() {
        let mut b = Bench::new();
        let node = NodeId(0);
        let info = node_info("n0", 4000, 1 << 32);
        b.change(Change::Node { id: node, node: info.node.clone(), rv: 1, op: Op::Added });
        let mut ids = slotmap::SlotMap::<PodId, ()>::with_key();
        let pod = ids.insert(());
        let spec = Arc::new(pod_spec(500, 1 << 20, |_| {}));
        b.change(Change::Pod { id: pod, spec, state: PodState::new_pending(), op: Op::Added });
        // Run the cycle (at t = 0) but crash before it ends (its binding would leave at 1 ms).
        b.run(SimTime::ZERO);
        assert!(b.sched.cache().node(node).is_some_and(|n| n.has_pod(pod)));
        let lost = b.with_ctx(|s, ctx| s.crash(ctx)).expect("was running");
        assert_eq!((lost.assumed, lost.unsent), (1, 1));
    }
}
