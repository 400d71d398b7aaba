//! The simulated kube-scheduler.
//!
//! It watches pods and nodes, keeps its own cache (never reading etcd), pops pods from its queue one
//! scheduling cycle at a time, runs the profile's plugins over the nodes in node-tree order starting at a
//! round-robin index, picks the best-scoring node (ties broken uniformly by the seeded tie-break stream),
//! assumes the pod on that node, and sends the Binding through the apiserver. A failed pod is parked until a
//! cluster event (a node added or changed, a pod leaving a node) or the periodic flush makes it worth retrying,
//! with per-pod exponential backoff.

pub mod cache;
pub mod framework;
pub mod plugins;
pub mod profile;
pub mod queue;
pub mod registry;

use crate::apiserver::{ApiError, Client, Request, Response};
use crate::etcd::{Change, Op};
use crate::model::{NodeId, PodId, PodSpec};
use crate::record;
use crate::rng::SimRng;
use crate::sim::{Ctx, Event};
use crate::time::{SimDuration, SimTime};
use crate::timings::Timings;
use cache::Cache;
use framework::{CycleState, NodeList, PodCtx, PreResult, Reason, Verdict};
use profile::{Profile, ProfileConfig, num_feasible_nodes_to_find};
use queue::{QueueState, SchedulingQueue};
use slotmap::SecondaryMap;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Scheduler events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchedEvent {
    /// Run one scheduling cycle.
    Cycle,
    /// A pod's backoff expired (stale unless `generation` matches).
    BackoffDone { pod: PodId, generation: u32 },
    /// Periodic flush of pods unschedulable for too long.
    FlushUnschedulable,
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
    unschedulable_count: u32,
    error_count: u32,
    profile: usize,
}

/// Counters for the summary.
#[derive(Clone, Copy, Debug, Default)]
pub struct SchedulerStats {
    pub cycles: u64,
    pub scheduled: u64,
    pub failed_attempts: u64,
    pub bind_errors: u64,
}

pub struct Scheduler {
    profiles: Vec<Profile>,
    cache: Cache,
    pods: SecondaryMap<PodId, SchedPod>,
    queue: SchedulingQueue,
    state: CycleState,
    tiebreak: SimRng,
    next_start: usize,
    cycle_pending: bool,
    busy_until: SimTime,
    flush_pending: bool,
    cycle: SimDuration,
    initial_backoff: SimDuration,
    max_backoff: SimDuration,
    max_in_unschedulable: SimDuration,
    flush_period: SimDuration,
    feasible: Vec<NodeId>,
    raw: Vec<i64>,
    totals: Vec<i64>,
    skip: Vec<bool>,
    why: Vec<Reason>,
    pub stats: SchedulerStats,
}

/// Why a cycle found no node.
struct FitFailure {
    message: String,
}

impl Scheduler {
    pub fn new(profiles: &[ProfileConfig], timings: &Timings, tiebreak: SimRng) -> Result<Scheduler, String> {
        let profiles = profiles.iter().map(Profile::build).collect::<Result<Vec<_>, _>>()?;
        Ok(Scheduler {
            profiles,
            cache: Cache::default(),
            pods: SecondaryMap::new(),
            queue: SchedulingQueue::default(),
            state: CycleState::default(),
            tiebreak,
            next_start: 0,
            cycle_pending: false,
            busy_until: SimTime::ZERO,
            flush_pending: false,
            cycle: timings.scheduler_cycle,
            initial_backoff: timings.pod_initial_backoff,
            max_backoff: timings.pod_max_backoff,
            max_in_unschedulable: timings.pod_max_in_unschedulable_pods,
            flush_period: timings.unschedulable_flush_period,
            feasible: Vec::new(),
            raw: Vec::new(),
            totals: Vec::new(),
            skip: Vec::new(),
            why: Vec::new(),
            stats: SchedulerStats::default(),
        })
    }

    /// The scheduler's view of the nodes (invariant checks).
    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// The spec of a pod the scheduler knows.
    pub fn pod_spec(&self, id: PodId) -> Option<&Arc<PodSpec>> {
        self.pods.get(id).map(|p| &p.spec)
    }

    /// Whether the scheduler has seen this pod.
    pub fn knows(&self, id: PodId) -> bool {
        self.pods.contains_key(id)
    }

    /// Pods waiting in the queue (active, backoff or unschedulable).
    pub fn pending(&self) -> usize {
        self.pods.values().filter(|p| p.queue != QueueState::None).count()
    }

    pub fn handle(&mut self, ev: SchedEvent, ctx: &mut Ctx) {
        match ev {
            SchedEvent::Cycle => {
                self.cycle_pending = false;
                self.run_cycle(ctx);
            }
            SchedEvent::BackoffDone { pod, generation } => {
                if let Some(p) = self.pods.get(pod)
                    && p.generation == generation
                    && p.queue == QueueState::Backoff
                {
                    self.activate(pod, ctx);
                }
            }
            SchedEvent::FlushUnschedulable => {
                self.flush_pending = false;
                let old: Vec<(u64, PodId)> = self
                    .queue
                    .unschedulable()
                    .filter(|(_, p)| {
                        self.pods.get(*p).is_some_and(|r| ctx.now.since(r.timestamp) > self.max_in_unschedulable)
                    })
                    .collect();
                for (key, pod) in old {
                    self.queue.unpark(key);
                    self.requeue_after_backoff(pod, ctx);
                }
                self.ensure_flush(ctx);
            }
        }
    }

    // ----- watch handling -----

    pub fn on_change(&mut self, change: &Change, ctx: &mut Ctx) {
        match change {
            Change::Pod { id, spec, state, op } => {
                // The scheduler's informer selects non-terminal pods: leaving that set is a deletion.
                if *op == Op::Deleted || state.phase.is_terminal() {
                    self.forget_pod(*id, ctx);
                    return;
                }
                match self.pods.get_mut(*id) {
                    Some(p) => match (state.node, p.node) {
                        (Some(n), Some(cached)) if n == cached => p.assumed = false,
                        (Some(n), _) => {
                            // Bound by someone else (or our assumption was wrong): move it to that node.
                            let spec = p.spec.clone();
                            self.dequeue(*id);
                            if let Some(old) = self.pods[*id].node
                                && let Some(info) = self.cache.node_mut(old)
                            {
                                info.remove_pod(*id, &spec);
                            }
                            let p = &mut self.pods[*id];
                            p.node = Some(n);
                            p.assumed = false;
                            if let Some(info) = self.cache.node_mut(n) {
                                info.add_pod(*id, &spec);
                            }
                        }
                        (None, _) => {}
                    },
                    None => {
                        let profile =
                            self.profiles.iter().position(|p| p.scheduler_name == spec.template.scheduler_name);
                        let mut rec = SchedPod {
                            spec: spec.clone(),
                            node: None,
                            assumed: false,
                            queue: QueueState::None,
                            generation: 0,
                            timestamp: ctx.now,
                            unschedulable_count: 0,
                            error_count: 0,
                            profile: profile.unwrap_or(usize::MAX),
                        };
                        if let Some(n) = state.node {
                            rec.node = Some(n);
                            if let Some(info) = self.cache.node_mut(n) {
                                info.add_pod(*id, spec);
                            }
                            self.pods.insert(*id, rec);
                        } else if profile.is_some() && state.deletion.is_none() {
                            self.pods.insert(*id, rec);
                            self.activate(*id, ctx);
                        }
                    }
                }
            }
            Change::Node { id, node, op, .. } => {
                if *op == Op::Deleted {
                    self.cache.remove_node(*id);
                } else {
                    self.cache.upsert_node(*id, node.clone());
                }
                self.move_all_unschedulable(ctx);
            }
            Change::ReplicaSet { .. }
            | Change::Deployment { .. }
            | Change::Job { .. }
            | Change::DaemonSet { .. }
            | Change::Pdb { .. } => {}
        }
    }

    /// A bind failed: forget the assumption and retry after an error backoff.
    pub fn on_response(&mut self, resp: Response, ctx: &mut Ctx) {
        let Request::BindPod { pod, node } = resp.request else { return };
        let Err(err) = resp.result else { return };
        self.stats.bind_errors += 1;
        let Some(p) = self.pods.get_mut(pod) else { return };
        if !(p.assumed && p.node == Some(node)) {
            return;
        }
        p.assumed = false;
        p.node = None;
        let spec = p.spec.clone();
        if let Some(info) = self.cache.node_mut(node) {
            info.remove_pod(pod, &spec);
        }
        match err {
            // The pod is gone or was bound elsewhere: the watch will say so.
            ApiError::NotFound | ApiError::Conflict(_) => {
                if err == ApiError::NotFound {
                    self.pods.remove(pod);
                }
            }
            _ => {
                let p = &mut self.pods[pod];
                p.error_count += 1;
                p.timestamp = ctx.now;
                self.requeue_after_backoff(pod, ctx);
            }
        }
    }

    fn forget_pod(&mut self, id: PodId, ctx: &mut Ctx) {
        self.dequeue(id);
        let Some(p) = self.pods.remove(id) else { return };
        if let Some(n) = p.node
            && let Some(info) = self.cache.node_mut(n)
            && info.remove_pod(id, &p.spec)
        {
            // AssignedPodDelete: resources were freed.
            self.move_all_unschedulable(ctx);
        }
    }

    // ----- queue moves -----

    fn dequeue(&mut self, id: PodId) {
        if let Some(p) = self.pods.get_mut(id) {
            if let QueueState::Unschedulable(key) = p.queue {
                self.queue.unpark(key);
            }
            p.queue = QueueState::None;
            p.generation = p.generation.wrapping_add(1);
        }
    }

    fn activate(&mut self, id: PodId, ctx: &mut Ctx) {
        let Some(p) = self.pods.get_mut(id) else { return };
        p.generation = p.generation.wrapping_add(1);
        p.queue = QueueState::Active;
        let (priority, timestamp, generation) = (p.spec.template.priority, p.timestamp, p.generation);
        self.queue.push_active(id, priority, timestamp, generation);
        self.ensure_cycle(ctx);
    }

    fn backoff_duration(&self, p: &SchedPod) -> SimDuration {
        let count = if p.error_count > 0 { p.error_count } else { p.unschedulable_count };
        if count == 0 {
            return SimDuration::ZERO;
        }
        let shift = (count - 1).min(32);
        let d = self.initial_backoff.saturating_mul(1u64 << shift);
        d.min(self.max_backoff)
    }

    /// To activeQ if the pod's backoff has expired, else to backoff with a timer.
    fn requeue_after_backoff(&mut self, id: PodId, ctx: &mut Ctx) {
        let Some(p) = self.pods.get(id) else { return };
        let expiry = p.timestamp.add(self.backoff_duration(p));
        if expiry <= ctx.now {
            self.activate(id, ctx);
            return;
        }
        let p = &mut self.pods[id];
        p.generation = p.generation.wrapping_add(1);
        p.queue = QueueState::Backoff;
        let generation = p.generation;
        ctx.queue.push(expiry, Event::Scheduler(SchedEvent::BackoffDone { pod: id, generation }));
    }

    fn park(&mut self, id: PodId, ctx: &mut Ctx) {
        let key = self.queue.park(id);
        if let Some(p) = self.pods.get_mut(id) {
            p.generation = p.generation.wrapping_add(1);
            p.queue = QueueState::Unschedulable(key);
        }
        self.ensure_flush(ctx);
    }

    /// A cluster event may have made parked pods schedulable: move them all to backoff or activeQ.
    fn move_all_unschedulable(&mut self, ctx: &mut Ctx) {
        if self.queue.unschedulable_len() == 0 {
            return;
        }
        for pod in self.queue.take_unschedulable() {
            if let Some(p) = self.pods.get_mut(pod) {
                p.queue = QueueState::None;
            }
            self.requeue_after_backoff(pod, ctx);
        }
    }

    fn ensure_cycle(&mut self, ctx: &mut Ctx) {
        if !self.cycle_pending {
            self.cycle_pending = true;
            ctx.queue.push(ctx.now.max(self.busy_until), Event::Scheduler(SchedEvent::Cycle));
        }
    }

    fn ensure_flush(&mut self, ctx: &mut Ctx) {
        if !self.flush_pending && self.queue.unschedulable_len() > 0 {
            self.flush_pending = true;
            ctx.queue.push(ctx.now.add(self.flush_period), Event::Scheduler(SchedEvent::FlushUnschedulable));
        }
    }

    // ----- the scheduling cycle -----

    fn run_cycle(&mut self, ctx: &mut Ctx) {
        let pods = &self.pods;
        let Some(id) = self.queue.pop_active(|pod, generation| {
            pods.get(pod).is_some_and(|p| p.generation == generation && p.queue == QueueState::Active)
        }) else {
            return;
        };
        self.stats.cycles += 1;
        ctx.rec.metrics.scheduling_attempts += 1;
        let p = &mut self.pods[id];
        p.queue = QueueState::None;
        p.generation = p.generation.wrapping_add(1);
        let spec = p.spec.clone();
        let profile = p.profile;
        let done = ctx.now.add(self.cycle);
        self.busy_until = done;
        match self.schedule_pod(profile, id, &spec) {
            Ok(node) => {
                let p = &mut self.pods[id];
                p.node = Some(node);
                p.assumed = true;
                if let Some(info) = self.cache.node_mut(node) {
                    info.add_pod(id, &spec);
                }
                self.stats.scheduled += 1;
                ctx.api.submit(Client::Scheduler, Request::BindPod { pod: id, node }, false, done, ctx.queue);
            }
            Err(failure) => {
                self.stats.failed_attempts += 1;
                let p = &mut self.pods[id];
                let first = p.unschedulable_count == 0;
                p.unschedulable_count += 1;
                p.error_count = 0;
                p.timestamp = ctx.now;
                ctx.rec.metrics.pod_unschedulable(first);
                record!(ctx.rec, ctx.now, PodUnschedulable, Pod, &spec.name, "", "{}", failure.message);
                *ctx.rec.metrics.unschedulable_reasons.entry(failure.message).or_insert(0) += 1;
                self.park(id, ctx);
            }
        }
        if self.queue.active_entries() > 0 && !self.cycle_pending {
            self.cycle_pending = true;
            ctx.queue.push(done, Event::Scheduler(SchedEvent::Cycle));
        }
    }

    /// Filters, scores and selects a node for `spec` (upstream `schedulePod`).
    fn schedule_pod(&mut self, profile_idx: usize, id: PodId, spec: &PodSpec) -> Result<NodeId, FitFailure> {
        if self.cache.is_empty() {
            return Err(FitFailure { message: "no nodes available to schedule pods".into() });
        }
        match self.find_node(profile_idx, id, spec) {
            Some(node) => Ok(node),
            None => Err(self.diagnose(profile_idx, id, spec)),
        }
    }

    fn find_node(&mut self, profile_idx: usize, id: PodId, spec: &PodSpec) -> Option<NodeId> {
        let Scheduler { profiles, cache, state, feasible, raw, totals, skip, tiebreak, next_start, .. } = self;
        let profile = &profiles[profile_idx];
        let pod = PodCtx { id, spec };
        let n = cache.len();
        skip.clear();
        skip.resize(profile.plugins.len(), false);
        for &i in &profile.pre_filter {
            if let Some(pf) = profile.plugins[i].as_pre_filter()
                && pf.pre_filter(state, &pod) == PreResult::Skip
            {
                skip[i] = true;
            }
        }
        let to_find = num_feasible_nodes_to_find(profile.percentage_of_nodes_to_score, n, !profile.score.is_empty());
        feasible.clear();
        let order = cache.order();
        let start = *next_start % n;
        let mut processed = 0;
        for k in 0..n {
            let node_id = order[(start + k) % n];
            processed += 1;
            let Some(info) = cache.node(node_id) else { continue };
            let pass = profile.filter.iter().all(|&i| {
                skip[i]
                    || profile.plugins[i].as_filter().is_none_or(|f| f.filter(state, &pod, info, None) == Verdict::Pass)
            });
            if pass {
                feasible.push(node_id);
                if feasible.len() >= to_find {
                    break;
                }
            }
        }
        *next_start = (start + processed) % n;
        if feasible.len() <= 1 {
            return feasible.first().copied();
        }
        // PreScore and Score over the feasible nodes.
        let nodes = NodeList { cache, ids: feasible };
        for &i in &profile.pre_score {
            if let Some(ps) = profile.plugins[i].as_pre_score()
                && ps.pre_score(state, &pod, nodes) == PreResult::Skip
            {
                skip[i] = true;
            }
        }
        totals.clear();
        totals.resize(nodes.len(), 0);
        for &(i, weight) in &profile.score {
            if skip[i] {
                continue;
            }
            let Some(sc) = profile.plugins[i].as_score() else { continue };
            raw.clear();
            raw.extend(nodes.iter().map(|info| sc.score(state, &pod, info)));
            sc.normalize(state, &pod, raw);
            for (t, s) in totals.iter_mut().zip(raw.iter()) {
                *t += s * weight;
            }
        }
        // selectHost: uniform among the top scores (reservoir sampling with the seeded tie-break stream).
        let mut best = 0usize;
        let mut ties = 1u64;
        for k in 1..totals.len() {
            if totals[k] > totals[best] {
                best = k;
                ties = 1;
            } else if totals[k] == totals[best] {
                ties += 1;
                if tiebreak.below(ties) == 0 {
                    best = k;
                }
            }
        }
        Some(feasible[best])
    }

    /// Re-runs the filters on every node, collecting reasons, to build upstream's aggregated message.
    fn diagnose(&mut self, profile: usize, id: PodId, spec: &PodSpec) -> FitFailure {
        let Scheduler { profiles, cache, state, skip, why, .. } = self;
        let profile = &profiles[profile];
        let pod = PodCtx { id, spec };
        let mut histogram: BTreeMap<String, usize> = BTreeMap::new();
        for node_id in cache.order() {
            let Some(info) = cache.node(*node_id) else { continue };
            why.clear();
            for &i in &profile.filter {
                if skip[i] {
                    continue;
                }
                let Some(f) = profile.plugins[i].as_filter() else { continue };
                if f.filter(state, &pod, info, Some(why)) != Verdict::Pass {
                    break;
                }
            }
            for reason in why.iter() {
                *histogram.entry(reason.to_string()).or_insert(0) += 1;
            }
        }
        let mut items: Vec<String> = histogram.into_iter().map(|(r, c)| format!("{c} {r}")).collect();
        items.sort();
        FitFailure { message: format!("0/{} nodes are available: {}.", cache.len(), items.join(", ")) }
    }
}
