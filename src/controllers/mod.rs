//! The simulated kube-controller-manager.
//!
//! As upstream, all controllers share one set of informers (one watch per kind) and each controller keeps a
//! work queue of object keys: a watch event marks keys dirty, and the controller's sync for a key runs as a
//! separate event at the same instant, once however many events marked it. Controllers see the cluster only
//! through these informers and change it only through the apiserver.
//!
//! Controllers: ReplicaSet, Deployment, Job, node lifecycle (heartbeat monitoring, NotReady, NoExecute
//! taints), taint eviction and pod garbage collection.

pub mod deployment;
pub mod job;
pub mod node_lifecycle;
pub mod podgc;
pub mod replicaset;
pub mod taint_eviction;

use crate::apiserver::Response;
use crate::etcd::{Change, Op};
use crate::model::{
    Deployment, DeploymentId, Job, JobId, Node, NodeId, OwnerRef, PodId, PodSpec, PodState, ReplicaSet, ReplicaSetId,
};
use crate::sim::{Ctx, Event};
use crate::time::SimTime;
use slotmap::SecondaryMap;
use std::sync::Arc;

/// Controller events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CtrlEvent {
    SyncReplicaSet(ReplicaSetId),
    SyncDeployment(DeploymentId),
    SyncJob(JobId),
    /// Node lifecycle: a monitor pass evaluates `node` (scheduled only where a pass can change something).
    NodeHealth {
        node: NodeId,
        token: u32,
    },
    /// Node lifecycle: the NoExecute tainter's 100 ms tick has work.
    TainterTick,
    /// Taint eviction: a pod's toleration expired.
    Evict {
        pod: PodId,
        token: u32,
    },
    /// Pod GC pass.
    PodGc,
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
    pub pods_by_node: Vec<Vec<PodId>>,
    pub nodes: Vec<Option<Arc<Node>>>,
    pub replicasets: SecondaryMap<ReplicaSetId, Arc<ReplicaSet>>,
    pub deployments: SecondaryMap<DeploymentId, Arc<Deployment>>,
    pub jobs: SecondaryMap<JobId, Arc<Job>>,
    /// Terminal pods currently cached (for pod GC).
    pub terminal_pods: u64,
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
        self.nodes.get(id.index()).and_then(|n| n.as_ref())
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
            None => {}
        }
        if let Some(n) = node {
            remove_from(self.pods_by_node.get_mut(n.index()), id);
        }
    }

    /// Applies a change; returns the pod's previous state for pod changes.
    fn apply(&mut self, change: &Change, now: SimTime) -> Option<PodState> {
        match change {
            Change::Pod { id, spec, state, op } => {
                let old = self.pods.get(*id).map(|p| p.state);
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
            Change::Node { id, node, op } => {
                if self.nodes.len() <= id.index() {
                    self.nodes.resize(id.index() + 1, None);
                }
                self.nodes[id.index()] = if *op == Op::Deleted { None } else { Some(node.clone()) };
                None
            }
            Change::ReplicaSet { id, obj, op } => {
                if *op == Op::Deleted {
                    self.replicasets.remove(*id);
                } else {
                    self.replicasets.insert(*id, obj.clone());
                }
                None
            }
            Change::Deployment { id, obj, op } => {
                if *op == Op::Deleted {
                    self.deployments.remove(*id);
                } else {
                    self.deployments.insert(*id, obj.clone());
                }
                None
            }
            Change::Job { id, obj, op } => {
                if *op == Op::Deleted {
                    self.jobs.remove(*id);
                } else {
                    self.jobs.insert(*id, obj.clone());
                }
                None
            }
        }
    }
}

/// A work queue of keys: a key is processed once per burst of events that marked it.
pub struct WorkQueue<K: slotmap::Key> {
    dirty: SecondaryMap<K, ()>,
}

impl<K: slotmap::Key> Default for WorkQueue<K> {
    fn default() -> Self {
        WorkQueue { dirty: SecondaryMap::new() }
    }
}

impl<K: slotmap::Key> WorkQueue<K> {
    /// Marks `key`; returns true if it was not already queued (the caller then schedules the sync).
    pub fn add(&mut self, key: K) -> bool {
        self.dirty.insert(key, ()).is_none()
    }

    /// Whether `key` is marked and its sync has not run yet.
    pub fn is_queued(&self, key: K) -> bool {
        self.dirty.contains_key(key)
    }

    /// Called when the sync runs.
    pub fn done(&mut self, key: K) {
        self.dirty.remove(key);
    }
}

/// The controller manager.
pub struct ControllerManager {
    pub informers: Informers,
    pub replicaset: replicaset::ReplicaSetController,
    pub deployment: deployment::DeploymentController,
    pub job: job::JobController,
    pub node_lifecycle: node_lifecycle::NodeLifecycleController,
    pub taint_eviction: taint_eviction::TaintEvictionController,
    pub podgc: podgc::PodGcController,
}

impl ControllerManager {
    pub fn new(timings: &crate::timings::Timings) -> ControllerManager {
        ControllerManager {
            informers: Informers::default(),
            replicaset: replicaset::ReplicaSetController::default(),
            deployment: deployment::DeploymentController::default(),
            job: job::JobController::default(),
            node_lifecycle: node_lifecycle::NodeLifecycleController::new(timings),
            taint_eviction: taint_eviction::TaintEvictionController::default(),
            podgc: podgc::PodGcController::new(timings),
        }
    }

    /// A change on the controller manager's watches: update the informers, then notify the controllers.
    pub fn on_change(&mut self, change: &Change, ctx: &mut Ctx) {
        let old = self.informers.apply(change, ctx.now);
        let inf = &self.informers;
        match change {
            Change::Pod { id, spec, state, op } => {
                match spec.owner {
                    Some(OwnerRef::ReplicaSet(rs)) => self.replicaset.pod_changed(rs, *op, old, state, ctx),
                    Some(OwnerRef::Job(job)) => self.job.pod_changed(job, *id, *op, spec, state, ctx),
                    None => {}
                }
                self.taint_eviction.pod_changed(inf, *id, spec, state, *op, ctx);
                if state.phase.is_terminal() && old.is_none_or(|o| !o.phase.is_terminal()) {
                    self.podgc.pod_terminated(inf, ctx);
                }
            }
            Change::Node { id, node, op } => {
                self.node_lifecycle.node_changed(inf, *id, node, *op, ctx);
                self.taint_eviction.node_changed(inf, *id, node, ctx);
            }
            Change::ReplicaSet { id, obj, .. } => {
                self.replicaset.enqueue(*id, ctx);
                if let Some(d) = obj.owner {
                    self.deployment.enqueue(d, ctx);
                }
            }
            Change::Deployment { id, .. } => self.deployment.enqueue(*id, ctx),
            Change::Job { id, op, .. } => self.job.job_changed(*id, *op, ctx),
        }
    }

    pub fn handle(&mut self, ev: CtrlEvent, ctx: &mut Ctx) {
        let inf = &self.informers;
        match ev {
            CtrlEvent::SyncReplicaSet(id) => self.replicaset.sync(inf, id, ctx),
            CtrlEvent::SyncDeployment(id) => self.deployment.sync(inf, id, ctx),
            CtrlEvent::SyncJob(id) => self.job.sync_event(inf, id, ctx),
            CtrlEvent::NodeHealth { node, token } => self.node_lifecycle.health_check(inf, node, token, ctx),
            CtrlEvent::TainterTick => self.node_lifecycle.tainter_tick(inf, ctx),
            CtrlEvent::Evict { pod, token } => self.taint_eviction.evict(inf, pod, token, ctx),
            CtrlEvent::PodGc => self.podgc.run(inf, ctx),
        }
    }

    pub fn on_response(&mut self, resp: Response, ctx: &mut Ctx) {
        if let crate::apiserver::Request::CreatePod(new) = &resp.request
            && let Some(OwnerRef::Job(job)) = new.owner
        {
            self.job.create_failed(job, ctx);
            return;
        }
        self.replicaset.on_response(&self.informers, resp, ctx);
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
