//! The virtual kube-apiserver: the only door to etcd.
//!
//! Components submit [`Request`]s; each commits after the client's request latency, is validated, defaulted
//! and admitted, is written to [`Etcd`], and the resulting [`Change`] is fanned out by the watch cache to every
//! interested watcher after its watch latency. Components never read etcd: they learn of the cluster only
//! through their watches, so every decision is made on information that is as stale as it would be in a real
//! cluster.
//!
//! Responses travel back to the client only when it asked for one or when the request failed; a successful
//! write is observed through the client's own watch, as controllers do upstream.
//!
//! The apiserver also writes the pod and node lifecycle rows of `events.csv` and feeds the metric collector,
//! because it is the one place that sees every committed transition exactly once.

mod admission;
mod validation;

pub use admission::Admission;
pub use validation::dns_subdomain as validate_name;

use crate::engine::EventQueue;
use crate::etcd::{Change, Etcd, Op};
use crate::model::{
    ConditionStatus, Deployment, Job, JobId, Kind, Node, NodeId, OwnerRef, PodId, PodPhase, PodReason, PodSpec,
    PodState, PodTemplate, ReplicaSet, ReplicaSetId, Str, Taint, TaintEffect,
};
use crate::record;
use crate::recorder::{EventType, Recorder};
use crate::rng::SimRng;
use crate::sim::Event;
use crate::time::{SimDuration, SimTime};
use crate::timings::Timings;
use slotmap::SlotMap;
use std::collections::VecDeque;
use std::sync::Arc;

slotmap::new_key_type! {
    /// An in-flight request.
    pub struct ReqId;
}

/// Who sent a request (for latency, rate limits and routing responses).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Client {
    Scheduler,
    ControllerManager,
    Kubelet(NodeId),
    /// The scenario's users and CI systems (creating workloads, scaling, deleting).
    User,
}

/// A pod to create.
#[derive(Clone, Debug)]
pub struct NewPod {
    /// Full name; `None` asks the apiserver to generate one from `generate_name` (a 5-character suffix).
    pub name: Option<Str>,
    pub generate_name: Str,
    pub namespace: Str,
    pub owner: Option<OwnerRef>,
    pub workload: Str,
    pub rng_key: u64,
    pub template: Arc<PodTemplate>,
}

/// A partial update of a pod's status (`PATCH pods/status`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PodStatusPatch {
    pub phase: Option<PodPhase>,
    pub ready: Option<bool>,
    pub restart_count: Option<u32>,
    pub reason: Option<PodReason>,
    pub exit_code: Option<i32>,
    pub finished_at: Option<SimTime>,
}

/// A write request.
#[derive(Clone, Debug)]
pub enum Request {
    CreatePod(NewPod),
    /// `POST pods/binding`: sets `spec.nodeName` of an unbound pod.
    BindPod {
        pod: PodId,
        node: NodeId,
    },
    PodStatus {
        pod: PodId,
        patch: PodStatusPatch,
    },
    /// `DELETE pod`: graceful unless the pod is unbound or terminal (then immediate, as upstream).
    /// `grace: None` uses the pod's `terminationGracePeriodSeconds`.
    DeletePod {
        pod: PodId,
        grace: Option<SimDuration>,
        reason: PodReason,
    },
    /// The kubelet's final `DELETE` with grace 0 once the pod's containers have stopped.
    RemovePod {
        pod: PodId,
    },
    CreateNode(Box<Node>),
    NodeReady {
        node: NodeId,
        status: ConditionStatus,
    },
    AddNodeTaint {
        node: NodeId,
        taint: Taint,
    },
    RemoveNodeTaint {
        node: NodeId,
        key: Str,
        effect: TaintEffect,
    },
    CreateReplicaSet(Box<ReplicaSet>),
    ScaleReplicaSet {
        id: ReplicaSetId,
        replicas: i32,
    },
    CreateDeployment(Box<Deployment>),
    CreateJob(Box<Job>),
    UpdateJob {
        id: JobId,
        job: Box<Job>,
    },
}

/// Why a request failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiError {
    NotFound,
    AlreadyExists,
    /// Validation failed (`422 Invalid`), with the message.
    Invalid(String),
    /// A precondition no longer holds (e.g. binding an already bound pod).
    Conflict(String),
}

/// A request's result, delivered to the client when it asked for it or on failure.
#[derive(Clone, Debug)]
pub struct Response {
    pub client: Client,
    pub request: Request,
    pub result: Result<(), ApiError>,
}

struct InFlight {
    client: Client,
    request: Request,
    notify: bool,
}

/// A watch stream of one component. Deliveries are FIFO: a watch never reorders changes.
pub struct Watcher {
    pub client: Client,
    pub latency: SimDuration,
    queue: VecDeque<Change>,
    last_due: SimTime,
    /// False while the client is disconnected (crashed kubelet): changes for it are not queued.
    pub connected: bool,
}

/// Index of a watcher.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WatcherId(pub u32);

const SCHEDULER_WATCHER: WatcherId = WatcherId(0);
const CONTROLLER_MANAGER_WATCHER: WatcherId = WatcherId(1);

/// Virtual node Lease state. Lease renewals are not materialised as writes (see [`ApiServer::lease_start`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct LeaseState {
    /// When the renewing kubelet sent (or will send) its first renewal.
    pub origin: Option<SimTime>,
    pub stopped_at: Option<SimTime>,
}

/// The apiserver with its etcd.
pub struct ApiServer {
    pub etcd: Etcd,
    in_flight: SlotMap<ReqId, InFlight>,
    responses: SlotMap<ReqId, Response>,
    watchers: Vec<Watcher>,
    kubelet_watchers: Vec<Option<WatcherId>>,
    /// Field index `spec.nodeName -> pods`, as the watch cache keeps for kubelets.
    pods_by_node: Vec<Vec<PodId>>,
    leases: Vec<LeaseState>,
    admission: Admission,
    timings: Timings,
    naming: SimRng,
    next_uid: u64,
    /// Number of requests committed (successful or not).
    pub requests_total: u64,
}

impl ApiServer {
    pub fn new(timings: Timings, naming: SimRng) -> ApiServer {
        let watcher = |client| Watcher {
            client,
            latency: timings.watch_latency,
            queue: VecDeque::new(),
            last_due: SimTime::ZERO,
            connected: true,
        };
        ApiServer {
            etcd: Etcd::new(),
            in_flight: SlotMap::with_key(),
            responses: SlotMap::with_key(),
            watchers: vec![watcher(Client::Scheduler), watcher(Client::ControllerManager)],
            kubelet_watchers: Vec::new(),
            pods_by_node: Vec::new(),
            leases: Vec::new(),
            admission: Admission::new(timings.default_toleration_seconds),
            timings,
            naming,
            next_uid: 1,
            requests_total: 0,
        }
    }

    pub fn timings(&self) -> &Timings {
        &self.timings
    }

    /// Sends a request; it commits after the client's request latency. With `notify`, the client receives a
    /// [`Response`] even on success.
    pub fn submit(&mut self, client: Client, request: Request, notify: bool, now: SimTime, q: &mut EventQueue<Event>) {
        let id = self.in_flight.insert(InFlight { client, request, notify });
        q.push(now.add(self.timings.api_request_latency), Event::ApiCommit(id));
    }

    /// Takes a response delivered by [`Event::ApiResponse`].
    pub fn take_response(&mut self, id: ReqId) -> Option<Response> {
        self.responses.remove(id)
    }

    /// Takes the next change of a watcher's stream (called when its [`Event::Watch`] fires).
    pub fn take_watch(&mut self, w: WatcherId) -> Option<(Client, Change)> {
        let watcher = self.watchers.get_mut(w.0 as usize)?;
        let change = watcher.queue.pop_front()?;
        Some((watcher.client, change))
    }

    /// Processes a request at its commit time.
    pub fn commit(&mut self, id: ReqId, now: SimTime, q: &mut EventQueue<Event>, rec: &mut Recorder) {
        let Some(InFlight { client, request, notify }) = self.in_flight.remove(id) else { return };
        self.requests_total += 1;
        let result = self.apply(client, &request, now, q, rec);
        if let Err(err) = &result {
            rejected(rec, now, &request, &self.etcd, err);
        }
        if notify || result.is_err() {
            let rid = self.responses.insert(Response { client, request, result });
            q.push(now, Event::ApiResponse(rid));
        }
    }

    fn apply(
        &mut self,
        client: Client,
        request: &Request,
        now: SimTime,
        q: &mut EventQueue<Event>,
        rec: &mut Recorder,
    ) -> Result<(), ApiError> {
        match request {
            Request::CreatePod(new) => self.create_pod(new, now, q, rec),
            Request::BindPod { pod, node } => self.bind_pod(*pod, *node, now, q, rec),
            Request::PodStatus { pod, patch } => self.patch_pod_status(client, *pod, patch, now, q, rec),
            Request::DeletePod { pod, grace, reason } => self.delete_pod(*pod, *grace, *reason, now, q, rec),
            Request::RemovePod { pod } => {
                let rec_ = self.etcd.pods.get(*pod).ok_or(ApiError::NotFound)?;
                if rec_.state.deletion.is_none() && !rec_.state.phase.is_terminal() {
                    return Err(ApiError::Conflict("pod is neither terminating nor terminal".into()));
                }
                self.remove_pod(*pod, now, q, rec);
                Ok(())
            }
            Request::CreateNode(node) => self.create_node(node, now, q, rec),
            Request::NodeReady { node, status } => self.update_node(*node, now, q, rec, |n| {
                if n.ready == *status {
                    return false;
                }
                n.ready = *status;
                n.ready_transition = now;
                true
            }),
            Request::AddNodeTaint { node, taint } => self.update_node(*node, now, q, rec, |n| {
                if n.taints.iter().any(|t| t.key == taint.key && t.effect == taint.effect) {
                    return false;
                }
                n.taints.push(taint.clone());
                true
            }),
            Request::RemoveNodeTaint { node, key, effect } => self.update_node(*node, now, q, rec, |n| {
                let before = n.taints.len();
                n.taints.retain(|t| !(t.key == *key && t.effect == *effect));
                n.taints.len() != before
            }),
            Request::CreateReplicaSet(rs) => {
                validation::replicaset(rs).map_err(ApiError::Invalid)?;
                let (_, change) = self.etcd.create_replicaset((**rs).clone());
                record!(rec, now, ReplicaSetCreated, ReplicaSet, &rs.name, "", "replicas={}", rs.replicas);
                self.fanout(change, now, q);
                Ok(())
            }
            Request::ScaleReplicaSet { id, replicas } => {
                let cur = self.etcd.replicasets.get(*id).ok_or(ApiError::NotFound)?;
                if *replicas < 0 {
                    return Err(ApiError::Invalid(format!("spec.replicas: must be >= 0, got {replicas}")));
                }
                let mut rs = (*cur.obj).clone();
                if rs.replicas == *replicas {
                    return Ok(());
                }
                record!(rec, now, ReplicaSetScaled, ReplicaSet, &rs.name, "", "replicas={}->{}", rs.replicas, replicas);
                rs.replicas = *replicas;
                let change = self.etcd.update_replicaset(*id, rs).ok_or(ApiError::NotFound)?;
                self.fanout(change, now, q);
                Ok(())
            }
            Request::CreateDeployment(d) => {
                validation::deployment(d).map_err(ApiError::Invalid)?;
                let (_, change) = self.etcd.create_deployment((**d).clone());
                record!(rec, now, DeploymentCreated, Deployment, &d.name, "", "replicas={}", d.replicas);
                self.fanout(change, now, q);
                Ok(())
            }
            Request::CreateJob(job) => {
                validation::job(job).map_err(ApiError::Invalid)?;
                let (_, change) = self.etcd.create_job((**job).clone());
                record!(
                    rec,
                    now,
                    JobCreated,
                    Job,
                    &job.name,
                    "",
                    "completions={} parallelism={}",
                    job.completions,
                    job.parallelism
                );
                self.fanout(change, now, q);
                Ok(())
            }
            Request::UpdateJob { id, job } => {
                let cur = self.etcd.jobs.get(*id).ok_or(ApiError::NotFound)?;
                let was = cur.obj.status.condition;
                if job.status.condition != was {
                    match job.status.condition {
                        Some(crate::model::workload::JobCondition::Complete) => record!(
                            rec,
                            now,
                            JobComplete,
                            Job,
                            &job.name,
                            "",
                            "succeeded={} failed={}",
                            job.status.succeeded,
                            job.status.failed
                        ),
                        Some(crate::model::workload::JobCondition::Failed(reason)) => record!(
                            rec,
                            now,
                            JobFailed,
                            Job,
                            &job.name,
                            "",
                            "reason={} succeeded={} failed={}",
                            reason.as_str(),
                            job.status.succeeded,
                            job.status.failed
                        ),
                        None => {}
                    }
                }
                let change = self.etcd.update_job(*id, (**job).clone()).ok_or(ApiError::NotFound)?;
                self.fanout(change, now, q);
                Ok(())
            }
        }
    }

    fn uid(&mut self) -> u64 {
        let uid = self.next_uid;
        self.next_uid += 1;
        uid
    }

    fn create_pod(
        &mut self,
        new: &NewPod,
        now: SimTime,
        q: &mut EventQueue<Event>,
        rec: &mut Recorder,
    ) -> Result<(), ApiError> {
        let name: Str = match &new.name {
            Some(n) => n.clone(),
            None => Arc::from(format!("{}{}", new.generate_name, name_suffix(&mut self.naming))),
        };
        let template = self.admission.admit_pod(&new.template);
        validation::pod(&name, &template).map_err(ApiError::Invalid)?;
        let spec = Arc::new(PodSpec {
            name,
            namespace: new.namespace.clone(),
            uid: self.uid(),
            owner: new.owner,
            workload: new.workload.clone(),
            rng_key: new.rng_key,
            created: now,
            template,
        });
        let (_, change) = self.etcd.create_pod(spec.clone(), PodState::new_pending());
        record!(rec, now, PodCreated, Pod, &spec.name, "", "workload={}", spec.workload);
        rec.metrics.pod_created(&spec);
        self.fanout(change, now, q);
        Ok(())
    }

    fn bind_pod(
        &mut self,
        pod: PodId,
        node: NodeId,
        now: SimTime,
        q: &mut EventQueue<Event>,
        rec: &mut Recorder,
    ) -> Result<(), ApiError> {
        let node_obj = self.etcd.node(node).ok_or(ApiError::NotFound)?.clone();
        let cur = self.etcd.pods.get(pod).ok_or(ApiError::NotFound)?;
        if let Some(bound) = cur.state.node {
            let on = self.etcd.node(bound).map(|n| n.name.clone()).unwrap_or_else(|| Arc::from("?"));
            return Err(ApiError::Conflict(format!("pod is already assigned to node {on}")));
        }
        if cur.state.deletion.is_some() {
            return Err(ApiError::Conflict("pod is being deleted".into()));
        }
        let spec = cur.spec.clone();
        let mut state = cur.state;
        state.node = Some(node);
        state.nominated_node = None;
        let change = self.etcd.update_pod(pod, state).ok_or(ApiError::NotFound)?;
        self.index_pod_on_node(pod, node);
        record!(rec, now, PodScheduled, Pod, &spec.name, &node_obj.name);
        rec.metrics.pod_bound(&spec, node, now);
        self.fanout(change, now, q);
        Ok(())
    }

    fn patch_pod_status(
        &mut self,
        client: Client,
        pod: PodId,
        patch: &PodStatusPatch,
        now: SimTime,
        q: &mut EventQueue<Event>,
        rec: &mut Recorder,
    ) -> Result<(), ApiError> {
        let cur = self.etcd.pods.get(pod).ok_or(ApiError::NotFound)?;
        let old = cur.state;
        let spec = cur.spec.clone();
        // A kubelet only writes status for pods bound to its node (NodeRestriction admission).
        if let Client::Kubelet(n) = client
            && old.node != Some(n)
        {
            return Err(ApiError::Conflict("pod is not bound to this kubelet's node".into()));
        }
        if old.phase.is_terminal() && patch.phase.is_some_and(|p| p != old.phase) {
            return Err(ApiError::Invalid(format!(
                "status.phase: may not transition from terminal phase {}",
                old.phase.as_str()
            )));
        }
        let mut state = old;
        if let Some(p) = patch.phase {
            state.phase = p;
        }
        if let Some(r) = patch.ready {
            state.ready = r;
        }
        if let Some(c) = patch.restart_count {
            state.restart_count = c;
        }
        if let Some(r) = patch.reason {
            state.reason = r;
        }
        if let Some(c) = patch.exit_code {
            state.exit_code = c;
        }
        if let Some(t) = patch.finished_at {
            state.finished_at = t;
        }
        if state == old {
            return Ok(());
        }
        let change = self.etcd.update_pod(pod, state).ok_or(ApiError::NotFound)?;
        let node_name = self.node_name(state.node);
        if state.phase != old.phase {
            match state.phase {
                PodPhase::Running => {
                    record!(rec, now, PodRunning, Pod, &spec.name, &node_name);
                    rec.metrics.pod_running(&spec, now);
                }
                PodPhase::Succeeded => record!(rec, now, PodSucceeded, Pod, &spec.name, &node_name),
                PodPhase::Failed => record!(
                    rec,
                    now,
                    PodFailed,
                    Pod,
                    &spec.name,
                    &node_name,
                    "reason={} exit_code={}",
                    state.reason.as_str(),
                    state.exit_code
                ),
                PodPhase::Pending => {}
            }
            if state.phase.is_terminal() {
                rec.metrics.pod_released(&spec, old, now);
            }
        }
        if state.ready && !old.ready {
            record!(rec, now, PodReady, Pod, &spec.name, &node_name);
        }
        self.fanout(change, now, q);
        Ok(())
    }

    fn delete_pod(
        &mut self,
        pod: PodId,
        grace: Option<SimDuration>,
        reason: PodReason,
        now: SimTime,
        q: &mut EventQueue<Event>,
        rec: &mut Recorder,
    ) -> Result<(), ApiError> {
        let cur = self.etcd.pods.get(pod).ok_or(ApiError::NotFound)?;
        let old = cur.state;
        let spec = cur.spec.clone();
        let grace = grace.unwrap_or(spec.template.termination_grace_period);
        // Upstream CheckGracefulDelete: unbound and terminal pods are deleted at once.
        let immediate = old.node.is_none() || old.phase.is_terminal() || grace == SimDuration::ZERO;
        let node_name = self.node_name(old.node);
        if reason == PodReason::TaintEviction {
            rec.metrics.evictions += 1;
            record!(rec, now, PodEvicted, Pod, &spec.name, &node_name, "reason={}", reason.as_str());
        }
        if immediate {
            self.remove_pod(pod, now, q, rec);
            return Ok(());
        }
        if let Some(deadline) = old.deletion {
            // Already terminating: a second delete may only shorten the grace period.
            if now.add(grace) >= deadline {
                return Ok(());
            }
        }
        let mut state = old;
        state.deletion = Some(now.add(grace));
        if state.reason == PodReason::None {
            state.reason = reason;
        }
        let change = self.etcd.update_pod(pod, state).ok_or(ApiError::NotFound)?;
        if reason != PodReason::TaintEviction {
            record!(
                rec,
                now,
                PodTerminating,
                Pod,
                &spec.name,
                &node_name,
                "reason={} grace_s={}",
                reason.as_str(),
                grace.micros() / 1_000_000
            );
        }
        self.fanout(change, now, q);
        Ok(())
    }

    fn remove_pod(&mut self, pod: PodId, now: SimTime, q: &mut EventQueue<Event>, rec: &mut Recorder) {
        let Some(change) = self.etcd.delete_pod(pod) else { return };
        if let Change::Pod { spec, state, .. } = &change {
            if let Some(n) = state.node {
                self.unindex_pod_on_node(pod, n);
            }
            let node_name = self.node_name(state.node);
            record!(rec, now, PodDeleted, Pod, &spec.name, &node_name);
            rec.metrics.pod_deleted(spec, *state, now);
        }
        self.fanout(change, now, q);
    }

    fn create_node(
        &mut self,
        node: &Node,
        now: SimTime,
        q: &mut EventQueue<Event>,
        rec: &mut Recorder,
    ) -> Result<(), ApiError> {
        validation::node(node).map_err(ApiError::Invalid)?;
        if self.etcd.nodes.iter().flatten().any(|n| n.obj.name == node.name) {
            return Err(ApiError::AlreadyExists);
        }
        let mut node = node.clone();
        node.uid = self.uid();
        node.ready_transition = now;
        let (id, change) = self.etcd.create_node(node);
        let n = self.etcd.node(id).cloned();
        if let Some(n) = n {
            record!(
                rec,
                now,
                NodeAdded,
                Node,
                &n.name,
                &n.name,
                "ready={} zone={}",
                n.ready.as_str(),
                n.zone().map(|z| &**z).unwrap_or("")
            );
            rec.metrics.node_added(&n, now);
        }
        self.grow_node_tables(self.etcd.nodes.len());
        self.fanout(change, now, q);
        Ok(())
    }

    fn update_node(
        &mut self,
        id: NodeId,
        now: SimTime,
        q: &mut EventQueue<Event>,
        rec: &mut Recorder,
        mutate: impl FnOnce(&mut Node) -> bool,
    ) -> Result<(), ApiError> {
        let old = self.etcd.node(id).ok_or(ApiError::NotFound)?.clone();
        let mut node = (*old).clone();
        if !mutate(&mut node) {
            return Ok(());
        }
        if node.ready != old.ready {
            match node.ready {
                ConditionStatus::True => record!(rec, now, NodeReady, Node, &node.name, &node.name),
                s => record!(rec, now, NodeNotReady, Node, &node.name, &node.name, "ready={}", s.as_str()),
            }
        }
        for t in node.taints.iter().filter(|t| !old.taints.contains(t)) {
            record!(rec, now, NodeTainted, Node, &node.name, &node.name, "{}:{}", t.key, t.effect.as_str());
        }
        for t in old.taints.iter().filter(|t| !node.taints.contains(t)) {
            record!(rec, now, NodeUntainted, Node, &node.name, &node.name, "{}:{}", t.key, t.effect.as_str());
        }
        let change = self.etcd.update_node(id, node).ok_or(ApiError::NotFound)?;
        self.fanout(change, now, q);
        Ok(())
    }

    /// Grows (never shrinks) the per-node tables to `len` entries.
    fn grow_node_tables(&mut self, len: usize) {
        if self.pods_by_node.len() < len {
            self.pods_by_node.resize(len, Vec::new());
        }
        if self.kubelet_watchers.len() < len {
            self.kubelet_watchers.resize(len, None);
        }
        if self.leases.len() < len {
            self.leases.resize(len, LeaseState::default());
        }
    }

    fn node_name(&self, node: Option<NodeId>) -> Str {
        node.and_then(|n| self.etcd.node(n)).map(|n| n.name.clone()).unwrap_or_else(|| Arc::from(""))
    }

    fn index_pod_on_node(&mut self, pod: PodId, node: NodeId) {
        if let Some(list) = self.pods_by_node.get_mut(node.index()) {
            list.push(pod);
        }
    }

    fn unindex_pod_on_node(&mut self, pod: PodId, node: NodeId) {
        if let Some(list) = self.pods_by_node.get_mut(node.index())
            && let Some(i) = list.iter().position(|p| *p == pod)
        {
            list.swap_remove(i);
        }
    }

    /// Queues `change` on every interested watcher and schedules its delivery.
    fn fanout(&mut self, change: Change, now: SimTime, q: &mut EventQueue<Event>) {
        match &change {
            Change::Pod { state, .. } => {
                let kubelet = state.node.and_then(|n| self.kubelet_watchers.get(n.index()).copied().flatten());
                self.deliver(SCHEDULER_WATCHER, change.clone(), now, q);
                if let Some(w) = kubelet {
                    self.deliver(w, change.clone(), now, q);
                }
                self.deliver(CONTROLLER_MANAGER_WATCHER, change, now, q);
            }
            Change::Node { .. } => {
                self.deliver(SCHEDULER_WATCHER, change.clone(), now, q);
                self.deliver(CONTROLLER_MANAGER_WATCHER, change, now, q);
            }
            Change::ReplicaSet { .. } | Change::Deployment { .. } | Change::Job { .. } => {
                self.deliver(CONTROLLER_MANAGER_WATCHER, change, now, q);
            }
        }
    }

    fn deliver(&mut self, w: WatcherId, change: Change, now: SimTime, q: &mut EventQueue<Event>) {
        let watcher = &mut self.watchers[w.0 as usize];
        if !watcher.connected {
            return;
        }
        let due = now.add(watcher.latency).max(watcher.last_due);
        watcher.last_due = due;
        watcher.queue.push_back(change);
        q.push(due, Event::Watch(w));
    }

    /// Opens the watch of a (re)started kubelet: a LIST of the pods bound to its node, delivered as `Added`
    /// changes after the watch latency, followed by live changes.
    pub fn connect_kubelet(&mut self, node: NodeId, now: SimTime, q: &mut EventQueue<Event>) {
        let w = match self.kubelet_watchers.get(node.index()).copied().flatten() {
            Some(w) => w,
            None => {
                let w = WatcherId(self.watchers.len() as u32);
                self.watchers.push(Watcher {
                    client: Client::Kubelet(node),
                    latency: self.timings.watch_latency,
                    queue: VecDeque::new(),
                    last_due: SimTime::ZERO,
                    connected: true,
                });
                self.grow_node_tables(node.index() + 1);
                self.kubelet_watchers[node.index()] = Some(w);
                w
            }
        };
        self.watchers[w.0 as usize].connected = true;
        let mut pods = self.pods_by_node.get(node.index()).cloned().unwrap_or_default();
        // List in creation order for determinism (the index is unordered after removals).
        pods.sort_by_key(|p| self.etcd.pods.get(*p).map(|r| r.spec.uid));
        for pod in pods {
            if let Some(r) = self.etcd.pods.get(pod) {
                let change = Change::Pod { id: pod, spec: r.spec.clone(), state: r.state, op: Op::Added };
                self.deliver(w, change, now, q);
            }
        }
    }

    /// Closes a kubelet's watch (the kubelet crashed): changes in flight are dropped, nothing more is queued.
    pub fn disconnect_kubelet(&mut self, node: NodeId) {
        if let Some(w) = self.kubelet_watchers.get(node.index()).copied().flatten() {
            let watcher = &mut self.watchers[w.0 as usize];
            watcher.connected = false;
            watcher.queue.clear();
        }
    }

    /// True when watcher `w` is connected (a stale [`Event::Watch`] for a disconnected watcher is ignored).
    pub fn watcher_connected(&self, w: WatcherId) -> bool {
        self.watchers.get(w.0 as usize).is_some_and(|w| w.connected)
    }

    /// The kubelet of `node` starts renewing its Lease now: the first renewal is sent at `first`, then every
    /// `lease_renew_interval`.
    ///
    /// Heartbeats stay cheap: a renewal changes nothing but the Lease's `renewTime`, and the only reader that
    /// acts on it is the node lifecycle controller, which acts only when renewals *stop*. So renewals are not
    /// materialised as writes and events; the apiserver keeps the renewal schedule, and when the kubelet stops
    /// the simulator computes the last renewal the controller saw ([`ApiServer::lease_stop`]) and schedules the
    /// controller's check at exactly the pass where a per-heartbeat model would have fired.
    pub fn lease_start(&mut self, node: NodeId, first: SimTime) {
        self.grow_node_tables(node.index() + 1);
        if let Some(l) = self.leases.get_mut(node.index()) {
            *l = LeaseState { origin: Some(first), stopped_at: None };
        }
    }

    /// The kubelet stopped renewing at `now`. Returns the commit time of the last renewal, if any was sent.
    pub fn lease_stop(&mut self, node: NodeId, now: SimTime) -> Option<SimTime> {
        let interval = self.timings.lease_renew_interval;
        let latency = self.timings.api_request_latency;
        let lease = self.leases.get_mut(node.index())?;
        let origin = lease.origin?;
        lease.stopped_at = Some(now);
        // The last renewal sent at or before `now`; it commits after the request latency even if the kubelet
        // dies in between (the request is already on the wire).
        now.floor_to_period(origin, interval).map(|sent| sent.add(latency))
    }

    pub fn lease(&self, node: NodeId) -> Option<&LeaseState> {
        self.leases.get(node.index())
    }

    /// Pods bound to `node`, in no particular order (tests and invariants).
    pub fn pods_on_node(&self, node: NodeId) -> &[PodId] {
        self.pods_by_node.get(node.index()).map(|v| v.as_slice()).unwrap_or(&[])
    }
}

/// A 5-character suffix from the apiserver's alphabet (consonants and digits without look-alikes).
fn name_suffix(rng: &mut SimRng) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..5).map(|_| ALPHABET[rng.below(ALPHABET.len() as u64) as usize] as char).collect()
}

fn rejected(rec: &mut Recorder, now: SimTime, request: &Request, etcd: &Etcd, err: &ApiError) {
    // Conflicts and not-found errors are normal races (a bind racing a delete); only invalid objects are
    // reported as rejections.
    let ApiError::Invalid(msg) = err else { return };
    let (kind, name): (Kind, Str) = match request {
        Request::CreatePod(p) => (Kind::Pod, p.name.clone().unwrap_or_else(|| p.generate_name.clone())),
        Request::CreateNode(n) => (Kind::Node, n.name.clone()),
        Request::CreateReplicaSet(r) => (Kind::ReplicaSet, r.name.clone()),
        Request::CreateDeployment(d) => (Kind::Deployment, d.name.clone()),
        Request::CreateJob(j) => (Kind::Job, j.name.clone()),
        Request::PodStatus { pod, .. } | Request::DeletePod { pod, .. } | Request::BindPod { pod, .. } => {
            (Kind::Pod, etcd.pods.get(*pod).map(|r| r.spec.name.clone()).unwrap_or_else(|| Arc::from("")))
        }
        _ => (Kind::Pod, Arc::from("")),
    };
    rec.event(now, EventType::Rejected, kind, &name, "", format_args!("{msg}"));
}
