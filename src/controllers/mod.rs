//! The simulated kube-controller-manager.
//!
//! As upstream, all controllers share one set of informers (one watch per kind) and each controller keeps a
//! work queue of object keys: a watch event marks keys dirty, and the controller's sync for a key runs as a
//! separate event at the same instant, once however many events marked it. Controllers see the cluster only
//! through these informers and change it only through the apiserver.
//!
//! Controllers: ReplicaSet, Deployment, Job, node lifecycle (heartbeat monitoring, NotReady, NoExecute
//! taints rate-limited per zone by the zone's health), taint eviction and pod garbage collection (terminated and
//! orphaned pods); and, from cloud-controller-manager, the cloud node lifecycle controller (deletes the Nodes of
//! terminated machines).

pub mod cloud_node_lifecycle;
pub mod daemonset;
pub mod deployment;
pub mod disruption;
pub mod job;
pub mod node_lifecycle;
pub mod podgc;
pub mod replicaset;
pub mod taint_eviction;

use crate::apiserver::{Ctl, Response};
use crate::etcd::{Change, Op};
use crate::model::{
    DaemonSet, DaemonSetId, Deployment, DeploymentId, Job, JobId, Node, NodeId, OwnerRef, PdbId, PodDisruptionBudget,
    PodId, PodPhase, PodSpec, PodState, ReplicaSet, ReplicaSetId,
};
use crate::sim::{Ctx, Event};
use crate::time::{SimDuration, SimTime};
use slotmap::SecondaryMap;
use std::sync::Arc;

/// Controller events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CtrlEvent {
    SyncReplicaSet(ReplicaSetId),
    SyncDeployment(DeploymentId),
    SyncJob(JobId),
    SyncDaemonSet(DaemonSetId),
    SyncPdb(PdbId),
    /// Node lifecycle: a monitor pass evaluates `node` (scheduled only where a pass can change something).
    NodeHealth {
        node: NodeId,
        token: u32,
    },
    /// Node lifecycle: the NoExecute tainter's 100 ms tick has work. `settled`: already deferred behind the
    /// monitor pass of the same instant.
    TainterTick {
        settled: bool,
    },
    /// Node lifecycle: the end of a monitor pass, where zone states are evaluated. `settled`: already
    /// re-queued behind the pass's per-node checks.
    ZonePass {
        settled: bool,
    },
    /// Taint eviction: a pod's toleration expired.
    Evict {
        pod: PodId,
        token: u32,
    },
    /// Pod GC pass.
    PodGc,
    /// Cloud node lifecycle pass (scheduled only when a terminated machine's node can be deleted).
    CloudNodePass,
}

/// A pod as the informer caches it.
#[derive(Clone, Debug)]
pub struct CachedPod {
    pub spec: Arc<PodSpec>,
    pub state: PodState,
    /// When the informer first saw the pod terminal.
    pub terminal_seen: Option<SimTime>,
}

/// The shared informer caches, with the indexes controllers need.
#[derive(Default)]
pub struct Informers {
    pub pods: SecondaryMap<PodId, CachedPod>,
    pub pods_by_rs: SecondaryMap<ReplicaSetId, Vec<PodId>>,
    pub pods_by_job: SecondaryMap<JobId, Vec<PodId>>,
    pub pods_by_ds: SecondaryMap<DaemonSetId, Vec<PodId>>,
    /// Per-owner tallies of `pods_by_rs` and `pods_by_job`, kept as pods change so that a sync does not walk
    /// every pod of its owner (a 400,000-replica ReplicaSet synced once per pod change was quadratic).
    pub counts_by_rs: SecondaryMap<ReplicaSetId, OwnerCounts>,
    pub counts_by_job: SecondaryMap<JobId, OwnerCounts>,
    pub pods_by_node: Vec<Vec<PodId>>,
    /// Objects with the `resourceVersion` the informer last saw (for optimistic-concurrency preconditions).
    pub nodes: Vec<Option<(Arc<Node>, u64)>>,
    pub replicasets: SecondaryMap<ReplicaSetId, (Arc<ReplicaSet>, u64)>,
    pub deployments: SecondaryMap<DeploymentId, (Arc<Deployment>, u64)>,
    pub jobs: SecondaryMap<JobId, (Arc<Job>, u64)>,
    pub daemonsets: SecondaryMap<DaemonSetId, (Arc<DaemonSet>, u64)>,
    pub pdbs: SecondaryMap<PdbId, (Arc<PodDisruptionBudget>, u64)>,
    /// Terminal pods currently cached (for pod GC).
    pub terminal_pods: u64,
}

/// What the ReplicaSet and Job controllers' syncs count over their pods.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OwnerCounts {
    /// Not terminal and not being deleted ([`PodState::is_active`]).
    pub active: i32,
    /// Active and Ready.
    pub ready: i32,
    /// Being deleted and not terminal yet.
    pub terminating: i32,
    /// Container restarts of the Running and Pending pods.
    pub restarts: u64,
}

impl OwnerCounts {
    fn of(s: &PodState) -> OwnerCounts {
        let active = s.is_active();
        OwnerCounts {
            active: i32::from(active),
            ready: i32::from(active && s.ready),
            terminating: i32::from(s.deletion.is_some() && !s.phase.is_terminal()),
            restarts: if matches!(s.phase, PodPhase::Running | PodPhase::Pending) {
                u64::from(s.restart_count)
            } else {
                0
            },
        }
    }

    /// Adds (`sign` 1) or removes (`sign` -1) one pod in state `s`.
    fn apply(&mut self, s: &PodState, sign: i32) {
        let c = OwnerCounts::of(s);
        self.active += sign * c.active;
        self.ready += sign * c.ready;
        self.terminating += sign * c.terminating;
        self.restarts = if sign > 0 { self.restarts + c.restarts } else { self.restarts - c.restarts };
    }
}

fn remove_from(list: Option<&mut Vec<PodId>>, id: PodId) {
    if let Some(list) = list
        && let Some(i) = list.iter().position(|p| *p == id)
    {
        list.remove(i);
    }
}

impl Informers {
    pub fn node(&self, id: NodeId) -> Option<&Arc<Node>> {
        self.nodes.get(id.index()).and_then(|n| n.as_ref()).map(|(n, _)| n)
    }

    pub fn node_rv(&self, id: NodeId) -> Option<u64> {
        self.nodes.get(id.index()).and_then(|n| n.as_ref()).map(|(_, rv)| *rv)
    }

    pub fn replicaset(&self, id: ReplicaSetId) -> Option<&Arc<ReplicaSet>> {
        self.replicasets.get(id).map(|(o, _)| o)
    }

    pub fn deployment(&self, id: DeploymentId) -> Option<&Arc<Deployment>> {
        self.deployments.get(id).map(|(o, _)| o)
    }

    pub fn job(&self, id: JobId) -> Option<&Arc<Job>> {
        self.jobs.get(id).map(|(o, _)| o)
    }

    pub fn pods_on_node(&self, id: NodeId) -> &[PodId] {
        self.pods_by_node.get(id.index()).map(|v| v.as_slice()).unwrap_or(&[])
    }

    fn index_pod(&mut self, id: PodId, spec: &PodSpec, node: Option<NodeId>) {
        match spec.owner {
            Some(OwnerRef::ReplicaSet(rs)) => {
                if let Some(entry) = self.pods_by_rs.entry(rs) {
                    entry.or_default().push(id);
                }
            }
            Some(OwnerRef::Job(job)) => {
                if let Some(entry) = self.pods_by_job.entry(job) {
                    entry.or_default().push(id);
                }
            }
            Some(OwnerRef::DaemonSet(ds)) => {
                if let Some(entry) = self.pods_by_ds.entry(ds) {
                    entry.or_default().push(id);
                }
            }
            None => {}
        }
        if let Some(n) = node {
            self.index_node(id, n);
        }
    }

    fn index_node(&mut self, id: PodId, n: NodeId) {
        if self.pods_by_node.len() <= n.index() {
            self.pods_by_node.resize_with(n.index() + 1, Vec::new);
        }
        self.pods_by_node[n.index()].push(id);
    }

    fn unindex_pod(&mut self, id: PodId, spec: &PodSpec, node: Option<NodeId>) {
        match spec.owner {
            Some(OwnerRef::ReplicaSet(rs)) => remove_from(self.pods_by_rs.get_mut(rs), id),
            Some(OwnerRef::Job(job)) => remove_from(self.pods_by_job.get_mut(job), id),
            Some(OwnerRef::DaemonSet(ds)) => remove_from(self.pods_by_ds.get_mut(ds), id),
            None => {}
        }
        if let Some(n) = node {
            remove_from(self.pods_by_node.get_mut(n.index()), id);
        }
    }

    /// Moves one pod of `owner` from state `old` to `new` in the owner's counts.
    fn count(&mut self, owner: Option<OwnerRef>, old: Option<&PodState>, new: Option<&PodState>) {
        let counts = match owner {
            Some(OwnerRef::ReplicaSet(rs)) => self.counts_by_rs.entry(rs).map(|e| e.or_default()),
            Some(OwnerRef::Job(job)) => self.counts_by_job.entry(job).map(|e| e.or_default()),
            _ => None,
        };
        if let Some(counts) = counts {
            if let Some(old) = old {
                counts.apply(old, -1);
            }
            if let Some(new) = new {
                counts.apply(new, 1);
            }
        }
    }

    /// Applies a change; returns the pod's previous state for pod changes.
    fn apply(&mut self, change: &Change, now: SimTime) -> Option<PodState> {
        match change {
            Change::Pod { id, spec, state, op } => {
                let old = self.pods.get(*id).map(|p| p.state);
                let new = (*op != Op::Deleted).then_some(state);
                self.count(spec.owner, old.as_ref(), new);
                if *op == Op::Deleted {
                    if let Some(p) = self.pods.remove(*id) {
                        if p.state.phase.is_terminal() {
                            self.terminal_pods -= 1;
                        }
                        self.unindex_pod(*id, &p.spec, p.state.node);
                    }
                    return old;
                }
                match self.pods.get_mut(*id) {
                    Some(p) => {
                        if p.state.node.is_none()
                            && let Some(n) = state.node
                        {
                            self.index_node(*id, n);
                        }
                        let p = &mut self.pods[*id];
                        if state.phase.is_terminal() && !p.state.phase.is_terminal() {
                            p.terminal_seen = Some(now);
                            self.terminal_pods += 1;
                        }
                        p.state = *state;
                    }
                    None => {
                        let terminal = state.phase.is_terminal();
                        self.pods.insert(
                            *id,
                            CachedPod { spec: spec.clone(), state: *state, terminal_seen: terminal.then_some(now) },
                        );
                        if terminal {
                            self.terminal_pods += 1;
                        }
                        self.index_pod(*id, spec, state.node);
                    }
                }
                old
            }
            Change::Node { id, node, rv, op } => {
                if self.nodes.len() <= id.index() {
                    self.nodes.resize(id.index() + 1, None);
                }
                self.nodes[id.index()] = if *op == Op::Deleted { None } else { Some((node.clone(), *rv)) };
                None
            }
            Change::ReplicaSet { id, obj, rv, op } => {
                if *op == Op::Deleted {
                    self.replicasets.remove(*id);
                } else {
                    self.replicasets.insert(*id, (obj.clone(), *rv));
                }
                None
            }
            Change::Deployment { id, obj, rv, op } => {
                if *op == Op::Deleted {
                    self.deployments.remove(*id);
                } else {
                    self.deployments.insert(*id, (obj.clone(), *rv));
                }
                None
            }
            Change::Job { id, obj, rv, op } => {
                if *op == Op::Deleted {
                    self.jobs.remove(*id);
                } else {
                    self.jobs.insert(*id, (obj.clone(), *rv));
                }
                None
            }
            Change::DaemonSet { id, obj, rv, op } => {
                if *op == Op::Deleted {
                    self.daemonsets.remove(*id);
                } else {
                    self.daemonsets.insert(*id, (obj.clone(), *rv));
                }
                None
            }
            Change::Pdb { id, obj, rv, op } => {
                if *op == Op::Deleted {
                    self.pdbs.remove(*id);
                } else {
                    self.pdbs.insert(*id, (obj.clone(), *rv));
                }
                None
            }
        }
    }
}

/// client-go's work queue for one controller, with its workers' synchronous API calls.
///
/// - A watch event marks a key *dirty*; the key is synced once per burst of events that marked it.
/// - A sync's writes are sent tagged with the key; until every answer is back the key is *in flight* and is not
///   synced again (upstream, the worker is blocked in those calls), so two syncs of one object never race.
/// - A sync whose writes failed (a conflict, a timeout) is retried after the rate limiter's per-item back-off,
///   5 ms doubling to 1000 s (`DefaultControllerRateLimiter`); a sync that succeeded resets it (`Forget`).
pub struct WorkQueue<K: slotmap::Key> {
    dirty: SecondaryMap<K, ()>,
    scheduled: SecondaryMap<K, ()>,
    in_flight: SecondaryMap<K, (u32, bool)>,
    failures: SecondaryMap<K, u32>,
}

impl<K: slotmap::Key> Default for WorkQueue<K> {
    fn default() -> Self {
        WorkQueue {
            dirty: SecondaryMap::new(),
            scheduled: SecondaryMap::new(),
            in_flight: SecondaryMap::new(),
            failures: SecondaryMap::new(),
        }
    }
}

/// The rate limiter's per-item back-off after `failures` failed syncs.
pub fn requeue_backoff(failures: u32) -> SimDuration {
    SimDuration::from_millis(5)
        .saturating_mul(1u64 << failures.saturating_sub(1).min(40))
        .min(SimDuration::from_secs(1000))
}

impl<K: slotmap::Key> WorkQueue<K> {
    /// Marks `key` dirty without scheduling (a delayed sync is firing).
    pub fn mark(&mut self, key: K) {
        self.dirty.insert(key, ());
    }

    /// Marks `key` dirty; returns true when the caller must schedule a sync now.
    pub fn add(&mut self, key: K) -> bool {
        self.dirty.insert(key, ());
        if self.in_flight.get(key).is_some_and(|(n, _)| *n > 0) || self.scheduled.contains_key(key) {
            return false;
        }
        self.scheduled.insert(key, ());
        true
    }

    /// A scheduled sync fires: returns whether to run it (the key is dirty and has nothing in flight).
    pub fn start(&mut self, key: K) -> bool {
        self.scheduled.remove(key);
        if self.in_flight.get(key).is_some_and(|(n, _)| *n > 0) {
            return false;
        }
        self.dirty.remove(key).is_some()
    }

    /// A write of the key's sync was sent (tagged with the key).
    pub fn sent(&mut self, key: K) {
        if let Some(entry) = self.in_flight.entry(key) {
            entry.or_insert((0, false)).0 += 1;
        }
    }

    /// A tagged answer came back. Returns the delay after which to schedule the next sync, when one is due.
    pub fn answered(&mut self, key: K, ok: bool) -> Option<SimDuration> {
        let entry = self.in_flight.get_mut(key)?;
        entry.0 = entry.0.saturating_sub(1);
        entry.1 |= !ok;
        if entry.0 > 0 {
            return None;
        }
        let failed = entry.1;
        self.in_flight.remove(key);
        let delay = if failed {
            let f = self.failures.entry(key).map(|e| e.or_insert(0));
            let n = f.map(|n| {
                *n += 1;
                *n
            });
            self.dirty.insert(key, ());
            requeue_backoff(n.unwrap_or(1))
        } else {
            self.failures.remove(key);
            SimDuration::ZERO
        };
        if self.dirty.contains_key(key) && !self.scheduled.contains_key(key) {
            self.scheduled.insert(key, ());
            return Some(delay);
        }
        None
    }

    /// Forgets a deleted object.
    pub fn remove(&mut self, key: K) {
        self.dirty.remove(key);
        self.in_flight.remove(key);
        self.failures.remove(key);
    }
}

/// Whether a sync's write succeeded; deleting a pod that is already gone counts as success, as upstream.
pub(crate) fn write_succeeded(resp: &Response) -> bool {
    use crate::apiserver::{ApiError, Request};
    resp.result.is_ok() || matches!((&resp.request, &resp.result), (Request::DeletePod { .. }, Err(ApiError::NotFound)))
}

/// The tag carrying a slotmap key through the apiserver.
pub(crate) fn tag_of<K: slotmap::Key>(key: K) -> u64 {
    key.data().as_ffi()
}

/// The key back from a response tag.
pub(crate) fn key_of<K: slotmap::Key>(tag: Option<u64>) -> Option<K> {
    tag.map(|t| slotmap::KeyData::from_ffi(t).into())
}

/// The controller manager.
pub struct ControllerManager {
    pub informers: Informers,
    pub replicaset: replicaset::ReplicaSetController,
    pub deployment: deployment::DeploymentController,
    pub job: job::JobController,
    pub daemonset: daemonset::DaemonSetController,
    pub disruption: disruption::DisruptionController,
    pub node_lifecycle: node_lifecycle::NodeLifecycleController,
    pub taint_eviction: taint_eviction::TaintEvictionController,
    pub podgc: podgc::PodGcController,
    pub cloud_node_lifecycle: cloud_node_lifecycle::CloudNodeLifecycleController,
}

impl ControllerManager {
    pub fn new(timings: &crate::timings::Timings) -> ControllerManager {
        ControllerManager {
            informers: Informers::default(),
            replicaset: replicaset::ReplicaSetController::default(),
            deployment: deployment::DeploymentController::default(),
            job: job::JobController::default(),
            daemonset: daemonset::DaemonSetController::default(),
            disruption: disruption::DisruptionController::default(),
            node_lifecycle: node_lifecycle::NodeLifecycleController::new(timings),
            taint_eviction: taint_eviction::TaintEvictionController::default(),
            podgc: podgc::PodGcController::new(timings),
            cloud_node_lifecycle: cloud_node_lifecycle::CloudNodeLifecycleController::new(timings),
        }
    }

    /// A change on the controller manager's watches: update the informers, then notify the controllers.
    pub fn on_change(&mut self, change: &Change, ctx: &mut Ctx) {
        // An update that only changes a node's image list (the kubelet reporting pulls) cannot change where
        // daemon pods should run: upstream's DaemonSet controller compares `NodeShouldRunDaemonPod` before and
        // after and enqueues nothing.
        let images_only = match change {
            Change::Node { id, node, op: Op::Modified, .. } => {
                self.informers.nodes.get(id.index()).and_then(|n| n.as_ref()).is_some_and(|(old, _)| {
                    old.images != node.images
                        && old.name == node.name
                        && old.labels == node.labels
                        && old.taints == node.taints
                        && old.unschedulable == node.unschedulable
                        && old.allocatable == node.allocatable
                        && old.allocatable_pods == node.allocatable_pods
                        && old.ready == node.ready
                })
            }
            _ => false,
        };
        let old = self.informers.apply(change, ctx.now);
        let inf = &self.informers;
        match change {
            Change::Pod { id, spec, state, op } => {
                match spec.owner {
                    Some(OwnerRef::ReplicaSet(rs)) => self.replicaset.pod_changed(rs, *op, old, state, ctx),
                    Some(OwnerRef::Job(job)) => self.job.pod_changed(job, *id, *op, spec, state, ctx),
                    Some(OwnerRef::DaemonSet(ds)) => self.daemonset.pod_changed(ds, *op, old, state, ctx),
                    None => {}
                }
                self.taint_eviction.pod_changed(inf, *id, spec, state, *op, ctx);
                self.disruption.pod_changed(inf, spec, ctx);
                if state.phase.is_terminal() && old.is_none_or(|o| !o.phase.is_terminal()) {
                    self.podgc.pod_terminated(inf, ctx);
                }
                // A pod bound to a node the informer does not have (deleted, or the binding raced the deletion).
                if *op != Op::Deleted
                    && let Some(n) = state.node
                    && inf.node(n).is_none()
                {
                    self.podgc.orphans_seen(inf, n, ctx);
                }
            }
            Change::Node { id, node, op, .. } => {
                self.node_lifecycle.node_changed(inf, *id, node, *op, ctx);
                if *op == Op::Deleted {
                    self.taint_eviction.node_deleted(*id);
                    self.podgc.orphans_seen(inf, *id, ctx);
                } else {
                    self.taint_eviction.node_changed(inf, *id, node, ctx);
                }
                self.cloud_node_lifecycle.node_changed(inf, *id, *op, ctx);
                if !images_only {
                    self.daemonset.node_changed(inf, ctx);
                }
            }
            Change::ReplicaSet { id, obj, .. } => {
                self.replicaset.enqueue(*id, ctx);
                if let Some(d) = obj.owner {
                    self.deployment.enqueue(d, ctx);
                }
                self.disruption.scale_changed(inf, ctx);
            }
            Change::Deployment { id, .. } => {
                self.deployment.enqueue(*id, ctx);
                self.disruption.scale_changed(inf, ctx);
            }
            Change::Job { id, op, .. } => self.job.job_changed(*id, *op, ctx),
            Change::DaemonSet { id, .. } => self.daemonset.enqueue(*id, ctx),
            Change::Pdb { id, .. } => self.disruption.enqueue(*id, ctx),
        }
    }

    pub fn handle(&mut self, ev: CtrlEvent, ctx: &mut Ctx) {
        let inf = &self.informers;
        match ev {
            CtrlEvent::SyncReplicaSet(id) => self.replicaset.sync(inf, id, ctx),
            CtrlEvent::SyncDeployment(id) => self.deployment.sync(inf, id, ctx),
            CtrlEvent::SyncJob(id) => self.job.sync_event(inf, id, ctx),
            CtrlEvent::SyncDaemonSet(id) => self.daemonset.sync(inf, id, ctx),
            CtrlEvent::SyncPdb(id) => self.disruption.sync(inf, id, ctx),
            CtrlEvent::NodeHealth { node, token } => self.node_lifecycle.health_check(inf, node, token, ctx),
            CtrlEvent::TainterTick { settled } => self.node_lifecycle.tainter_tick(inf, settled, ctx),
            CtrlEvent::ZonePass { settled } => self.node_lifecycle.zone_pass(inf, settled, ctx),
            CtrlEvent::Evict { pod, token } => self.taint_eviction.evict(inf, pod, token, ctx),
            CtrlEvent::PodGc => self.podgc.run(inf, ctx),
            CtrlEvent::CloudNodePass => self.cloud_node_lifecycle.pass(inf, ctx),
        }
    }

    /// A response for one of the controllers' clients.
    pub fn on_response(&mut self, ctl: Ctl, resp: Response, ctx: &mut Ctx) {
        match ctl {
            Ctl::Job => self.job.on_response(resp, ctx),
            Ctl::ReplicaSet => self.replicaset.on_response(&self.informers, resp, ctx),
            Ctl::Deployment => self.deployment.on_response(resp, ctx),
            Ctl::DaemonSet => self.daemonset.on_response(resp, ctx),
            Ctl::Disruption => self.disruption.on_response(resp, ctx),
            Ctl::PodGc => self.podgc.on_response(resp, ctx),
            Ctl::NodeLifecycle | Ctl::TaintEviction | Ctl::CloudNodeLifecycle => {}
        }
    }

    /// The machine behind `node` was terminated (its instance no longer exists in the cloud provider); see
    /// [`cloud_node_lifecycle::CloudNodeLifecycleController`].
    pub fn instance_terminated(&mut self, node: NodeId, ctx: &mut Ctx) {
        self.cloud_node_lifecycle.instance_terminated(&self.informers, node, ctx);
    }

    /// The kubelet of `node` stopped heartbeating; see [`node_lifecycle::NodeLifecycleController::lease_stopped`].
    pub fn lease_stopped(&mut self, node: NodeId, last_renewal_commit: Option<SimTime>, ctx: &mut Ctx) {
        self.node_lifecycle.lease_stopped(node, last_renewal_commit, ctx);
    }
}

/// Pushes a controller event at the current time.
pub(crate) fn now_event(ctx: &mut Ctx, ev: CtrlEvent) {
    ctx.queue.push(ctx.now, Event::Controller(ev));
}
