//! The virtual kube-apiserver: the only door to etcd.
//!
//! A request travels like this: the client's rate limiter (client-go's token bucket, with the upstream QPS and
//! burst of each component) decides when it leaves; it reaches the apiserver after the request latency; the
//! apiserver validates, defaults and admits it and writes it to [`Etcd`], which commits after its write latency;
//! the resulting [`Change`] is recorded in the watch history and fanned out to every interested watcher after
//! that watcher's latency. Components never read etcd: they learn of the cluster only through their watches, so
//! every decision is made on information that is as stale as it would be in a real cluster.
//!
//! Failures are modelled as well:
//! - **etcd slow or unavailable** (fault hooks in [`crate::etcd::Health`]): writes take longer, or wait for etcd
//!   to come back; a write that would wait past the request timeout fails with a timeout, and the client retries
//!   with its back-off. Nothing is lost.
//! - **optimistic concurrency**: updates carry the `resourceVersion` the client based them on; if the object
//!   changed meanwhile the write fails with a conflict, and the client re-reads it (a GET round trip) and
//!   retries, as `RetryOnConflict` does upstream.
//!
//! Responses travel back to the client only when it asked for one or when the request failed for good; a
//! successful write is observed through the client's own watch, as controllers do upstream.
//!
//! The apiserver also writes the pod and node lifecycle rows of `events.csv` and feeds the metric collector,
//! because it is the one place that sees every committed transition exactly once.

mod admission;
mod client;
mod nodes;
mod pods;
mod validation;
mod workloads;

pub use admission::{Admission, PriorityClass};
pub use client::{Client, Ctl, RetryPolicy, TokenBucket};
pub use validation::dns_subdomain as validate_name;

use crate::engine::EventQueue;
use crate::etcd::{Change, Etcd, Op};
use crate::model::workload::{DaemonSetStatus, DeploymentStatus, PdbStatus, ReplicaSetStatus};
use crate::model::{
    ConditionStatus, DaemonSet, DaemonSetId, Deployment, DeploymentId, Job, JobId, Kind, Node, NodeId, OwnerRef, PdbId,
    PodDisruptionBudget, PodId, PodPhase, PodReason, PodTemplate, ReplicaSet, ReplicaSetId, Str, Taint, TaintEffect,
};
use crate::recorder::{EventType, Recorder};
use crate::rng::SimRng;
use crate::sim::Event;
use crate::time::{SimDuration, SimTime};
use crate::timings::Timings;
use client::Limiters;
use slotmap::SlotMap;
use std::collections::VecDeque;
use std::sync::Arc;

slotmap::new_key_type! {
    /// An in-flight request.
    pub struct ReqId;
}

/// The clock, the queue and the recorder: what a committing write touches besides the store.
pub struct Io<'a> {
    pub now: SimTime,
    pub q: &'a mut EventQueue<Event>,
    pub rec: &'a mut Recorder,
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
    /// `status.nominatedNodeName`: `Some(None)` clears it.
    pub nominated_node: Option<Option<NodeId>>,
}

impl PodStatusPatch {
    /// Folds a later patch into this one: every field the later patch sets wins.
    pub fn merge(&mut self, later: &PodStatusPatch) {
        let PodStatusPatch { phase, ready, restart_count, reason, exit_code, finished_at, nominated_node } = *later;
        self.phase = phase.or(self.phase);
        self.ready = ready.or(self.ready);
        self.restart_count = restart_count.or(self.restart_count);
        self.reason = reason.or(self.reason);
        self.exit_code = exit_code.or(self.exit_code);
        self.finished_at = finished_at.or(self.finished_at);
        self.nominated_node = nominated_node.or(self.nominated_node);
    }
}

/// A write request. `rv` fields are optimistic-concurrency preconditions: the `resourceVersion` the client
/// based the update on (`None` for patches that do not check it).
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
        rv: Option<u64>,
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
    /// A kubelet registers its node; `id` is the machine's index, fixed by the simulator.
    CreateNode {
        id: NodeId,
        node: Box<Node>,
    },
    NodeReady {
        node: NodeId,
        status: ConditionStatus,
        rv: Option<u64>,
    },
    /// `DELETE node` (the cloud node lifecycle controller, the cluster autoscaler or an operator). The node's pods
    /// stay bound to it: PodGC deletes them once it has confirmed the node is gone.
    DeleteNode {
        node: NodeId,
    },
    /// The kubelet's node status update carrying a changed image list (`status.images`: name and size in bytes).
    /// Heartbeats are virtual; this is the only node status write a healthy kubelet makes after registering.
    NodeImages {
        node: NodeId,
        images: Vec<(Str, u64)>,
    },
    /// Adds and removes node taints in one write (upstream `SwapNodeControllerTaint`, `PatchNodeTaints`).
    NodeTaints {
        node: NodeId,
        add: Vec<Taint>,
        remove: Vec<(Str, TaintEffect)>,
        rv: Option<u64>,
    },
    CreateReplicaSet(Box<ReplicaSet>),
    ScaleReplicaSet {
        id: ReplicaSetId,
        replicas: i32,
        rv: Option<u64>,
    },
    ReplicaSetStatus {
        id: ReplicaSetId,
        status: ReplicaSetStatus,
        rv: Option<u64>,
    },
    CreateDeployment(Box<Deployment>),
    UpdateDeployment {
        id: DeploymentId,
        deployment: Box<Deployment>,
        rv: Option<u64>,
    },
    /// A user's patch of a Deployment by name (`kubectl set image`, `kubectl scale`).
    PatchDeployment {
        namespace: Str,
        name: Str,
        patch: crate::workload::DeploymentPatch,
    },
    DeploymentStatus {
        id: DeploymentId,
        status: DeploymentStatus,
        rv: Option<u64>,
    },
    CreateJob(Box<Job>),
    UpdateJob {
        id: JobId,
        job: Box<Job>,
        rv: Option<u64>,
    },
    /// `POST pods/eviction`: a deletion that respects the pod's PodDisruptionBudget (429 when it would not).
    EvictPod {
        pod: PodId,
    },
    /// `kubectl cordon` / `uncordon`: set `spec.unschedulable`.
    Cordon {
        node: NodeId,
        unschedulable: bool,
    },
    CreatePdb(Box<PodDisruptionBudget>),
    PdbStatus {
        id: PdbId,
        status: PdbStatus,
        rv: Option<u64>,
    },
    CreateDaemonSet(Box<DaemonSet>),
    DaemonSetStatus {
        id: DaemonSetId,
        status: DaemonSetStatus,
        rv: Option<u64>,
    },
}

impl Request {
    /// The request's optimistic-concurrency precondition, if it has one.
    fn precondition(&mut self) -> Option<&mut Option<u64>> {
        match self {
            Request::PodStatus { rv, .. }
            | Request::NodeReady { rv, .. }
            | Request::NodeTaints { rv, .. }
            | Request::ScaleReplicaSet { rv, .. }
            | Request::ReplicaSetStatus { rv, .. }
            | Request::UpdateDeployment { rv, .. }
            | Request::DeploymentStatus { rv, .. }
            | Request::UpdateJob { rv, .. }
            | Request::DaemonSetStatus { rv, .. }
            | Request::PdbStatus { rv, .. } => Some(rv),
            _ => None,
        }
    }

    /// How many times the client re-reads and retries this request after a conflict before reporting it, as
    /// upstream: taint patches and node status updates loop on conflicts (`RetryOnConflict`, 5 node-health
    /// retries), a ReplicaSet's status update retries once (`statusUpdateRetries`), and other updates report the
    /// conflict at once (the controller's sync fails and its key is requeued with back-off).
    fn conflict_retries(&self) -> u32 {
        match self {
            Request::NodeTaints { .. } | Request::NodeReady { .. } => 5,
            Request::ReplicaSetStatus { .. } => 1,
            _ => 0,
        }
    }

    /// The current `resourceVersion` of the request's target (what a GET would return).
    fn target_rv(&self, etcd: &Etcd) -> Option<u64> {
        match self {
            Request::PodStatus { pod, .. } => etcd.pods.get(*pod).map(|r| r.state.resource_version),
            Request::NodeReady { node, .. } | Request::NodeTaints { node, .. } => etcd.node_rv(*node),
            Request::ScaleReplicaSet { id, .. } | Request::ReplicaSetStatus { id, .. } => {
                etcd.replicasets.get(*id).map(|v| v.resource_version)
            }
            Request::UpdateDeployment { id, .. } | Request::DeploymentStatus { id, .. } => {
                etcd.deployments.get(*id).map(|v| v.resource_version)
            }
            Request::UpdateJob { id, .. } => etcd.jobs.get(*id).map(|v| v.resource_version),
            Request::DaemonSetStatus { id, .. } => etcd.daemonsets.get(*id).map(|v| v.resource_version),
            Request::PdbStatus { id, .. } => etcd.pdbs.get(*id).map(|v| v.resource_version),
            _ => None,
        }
    }
}

/// Why a request failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiError {
    NotFound,
    AlreadyExists,
    /// Validation or admission failed (`422 Invalid`, `403 Forbidden`), with the message.
    Invalid(String),
    /// A precondition no longer holds (a stale `resourceVersion`, binding an already bound pod).
    Conflict(String),
    /// etcd did not answer within the request timeout.
    Timeout,
    /// The apiserver refused the connection (it is down).
    Unavailable,
    /// `429 Too Many Requests`: an eviction that would violate a PodDisruptionBudget.
    TooManyRequests(String),
}

impl ApiError {
    fn is_transient(&self) -> bool {
        matches!(self, ApiError::Timeout | ApiError::Unavailable)
    }
}

/// A request's result, delivered to the client when it asked for it or on failure.
#[derive(Clone, Debug)]
pub struct Response {
    pub client: Client,
    pub request: Request,
    pub result: Result<(), ApiError>,
    /// The client's tag from [`ApiServer::submit_tagged`] (which object's sync sent it).
    pub tag: Option<u64>,
}

struct InFlight {
    client: Client,
    request: Request,
    notify: bool,
    tag: Option<u64>,
    /// Retries so far (timeouts and conflicts).
    attempt: u32,
    /// Conflicts so far: a request is re-read and retried after at most [`Request::conflict_retries`] of them,
    /// however many transient failures it retried before (`RetryOnConflict` runs inside the client's request).
    conflicts: u32,
    /// When the current attempt left the client (its rate limiter let it go).
    sent: SimTime,
    /// When the current attempt reached the apiserver.
    arrival: SimTime,
    /// Set while the attempt waits for an unavailable etcd past its request timeout: it fails then.
    times_out: bool,
    /// The last attempt conflicted: the retry re-reads the object's `resourceVersion`. A retry after a transient
    /// failure (timeout, apiserver down) resends the request as it was, with the version it was based on.
    reread: bool,
}

/// Request counters for the summary.
#[derive(Clone, Copy, Debug, Default)]
pub struct ApiStats {
    /// Requests committed or failed for good.
    pub requests: u64,
    /// Optimistic-concurrency conflicts (each retried after a re-read).
    pub conflicts: u64,
    /// Resends after a conflict or a timeout.
    pub retries: u64,
    /// Requests that timed out waiting for etcd.
    pub timeouts: u64,
    /// Attempts refused because the apiserver was down.
    pub refused: u64,
    /// Total time requests waited in client rate limiters, in microseconds.
    pub throttled_us: u64,
    /// Watchers that had to relist because their resume revision was gone.
    pub relists: u64,
}

/// A watch stream of one component. Deliveries are FIFO: a watch never reorders changes.
pub struct Watcher {
    pub client: Client,
    pub latency: SimDuration,
    queue: VecDeque<Change>,
    last_due: SimTime,
    /// False while the client is disconnected: changes for it are not queued.
    pub connected: bool,
    /// The revision of the last change queued for it (where a reconnect resumes).
    pub last_rv: u64,
    /// [`Event::Watch`] events still in the event queue for changes dropped when the connection closed. They
    /// come before any event of a later connection (they are due no later, and were queued first), so the next
    /// `stale` events are skipped rather than handing a new connection's changes out early.
    stale: usize,
}

/// Index of a watcher.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WatcherId(pub u32);

const SCHEDULER_WATCHER: WatcherId = WatcherId(0);
const CONTROLLER_MANAGER_WATCHER: WatcherId = WatcherId(1);

/// The apiserver's health, set by fault injection (`apiserver-slow`, `apiserver-unavailable`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ApiHealth {
    /// Added to every request's way to the apiserver while set.
    pub extra_latency: SimDuration,
    /// The apiserver refuses connections until this time (`SimTime::MAX`: until healed): requests fail at once
    /// and are retried by their clients, watch streams deliver nothing.
    pub unavailable_until: Option<SimTime>,
}

impl ApiHealth {
    pub fn available(&self, now: SimTime) -> bool {
        self.unavailable_until.is_none_or(|t| now >= t)
    }
}

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
    /// The apiserver's own health, set by fault injection.
    pub health: ApiHealth,
    in_flight: SlotMap<ReqId, InFlight>,
    responses: SlotMap<ReqId, Response>,
    watchers: Vec<Watcher>,
    kubelet_watchers: Vec<Option<WatcherId>>,
    /// Field index `spec.nodeName -> pods`, as the watch cache keeps for kubelets.
    pods_by_node: Vec<Vec<PodId>>,
    leases: Vec<LeaseState>,
    admission: Admission,
    timings: Timings,
    limiters: Limiters,
    naming: SimRng,
    next_uid: u64,
    pub stats: ApiStats,
}

impl ApiServer {
    pub fn new(timings: Timings, priority_classes: Vec<PriorityClass>, naming: SimRng) -> ApiServer {
        let watcher = |client, latency| Watcher {
            client,
            latency,
            queue: VecDeque::new(),
            last_due: SimTime::ZERO,
            connected: true,
            last_rv: 0,
            stale: 0,
        };
        ApiServer {
            etcd: Etcd::with_history(timings.watch_cache_capacity, timings.etcd_compaction_interval),
            health: ApiHealth::default(),
            in_flight: SlotMap::with_key(),
            responses: SlotMap::with_key(),
            watchers: vec![
                watcher(Client::Scheduler, timings.watch_latency_scheduler),
                watcher(Client::Controller(Ctl::ReplicaSet), timings.watch_latency_controller_manager),
            ],
            kubelet_watchers: Vec::new(),
            pods_by_node: Vec::new(),
            leases: Vec::new(),
            admission: Admission::new(timings.default_toleration_seconds, priority_classes),
            limiters: Limiters::new(&timings),
            timings,
            naming,
            next_uid: 1,
            stats: ApiStats::default(),
        }
    }

    pub fn timings(&self) -> &Timings {
        &self.timings
    }

    fn etcd_latency(&self) -> SimDuration {
        self.timings.etcd_write_latency.saturating_add(self.etcd.health.extra_write_latency)
    }

    /// Sends a request. It leaves when the client's rate limiter allows, reaches the apiserver after the
    /// request latency and commits after etcd's write latency. With `notify`, the client receives a
    /// [`Response`] even on success.
    /// Requests sent and not answered yet (waiting for a client's rate limiter, in transit or being retried).
    pub fn requests_in_flight(&self) -> usize {
        self.in_flight.len()
    }

    pub fn submit(&mut self, client: Client, request: Request, notify: bool, now: SimTime, q: &mut EventQueue<Event>) {
        self.send(client, request, notify, None, now, q);
    }

    /// Sends a request whose [`Response`] (success or failure) comes back with `tag`: controllers use it to know
    /// which object's sync the answer belongs to.
    pub fn submit_tagged(
        &mut self,
        client: Client,
        request: Request,
        tag: u64,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) {
        self.send(client, request, true, Some(tag), now, q);
    }

    /// Sends a request carrying `tag`, answered (with the tag) only on failure unless `notify`. The scheduler
    /// tags its requests with its incarnation, so that a restarted scheduler can tell answers to requests of
    /// the process that crashed (which it never sent) from its own.
    pub fn submit_with_tag(
        &mut self,
        client: Client,
        request: Request,
        notify: bool,
        tag: u64,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) {
        self.send(client, request, notify, Some(tag), now, q);
    }

    /// A client process died: its requests that have not left it yet (still waiting in its rate limiter, or to
    /// be sent at the end of the step that produced them) die with it and never reach the apiserver. Requests
    /// already sent are on the wire and still commit. Returns how many were dropped. (A request waiting for its
    /// client's retry after a failure is not dropped: the scheduler, the only client that crashes this way, never
    /// retries.)
    pub fn cancel_unsent(&mut self, client: Client, now: SimTime) -> usize {
        let before = self.in_flight.len();
        self.in_flight.retain(|_, f| !(f.client == client && f.sent > now));
        before - self.in_flight.len()
    }

    /// A client process started afresh: its rate limiter is new, with a full burst (client-go builds the token
    /// bucket full when the client is created).
    pub fn reset_limiter(&mut self, client: Client) {
        self.limiters.reset(client, &self.timings);
    }

    fn send(
        &mut self,
        client: Client,
        request: Request,
        notify: bool,
        tag: Option<u64>,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) {
        let send = self.limiters.reserve(client, now);
        self.stats.throttled_us += send.micros() - now.micros();
        let arrival = send.add(self.timings.api_request_latency).add(self.health.extra_latency);
        let id = self.in_flight.insert(InFlight {
            client,
            request,
            notify,
            tag,
            attempt: 0,
            conflicts: 0,
            sent: send,
            arrival,
            times_out: false,
            reread: false,
        });
        q.push(arrival.add(self.etcd_latency()), Event::ApiCommit(id));
    }

    /// Resends a request after a conflict (with the re-read `resourceVersion`) or a timeout.
    pub fn retry(&mut self, id: ReqId, now: SimTime, q: &mut EventQueue<Event>) {
        let rv_now = self.in_flight.get(id).and_then(|f| f.request.target_rv(&self.etcd));
        let Some(f) = self.in_flight.get_mut(id) else { return };
        if f.reread
            && let Some(pre) = f.request.precondition()
            && pre.is_some()
        {
            *pre = rv_now;
        }
        f.reread = false;
        f.attempt += 1;
        self.stats.retries += 1;
        let client = f.client;
        let send = self.limiters.reserve(client, now);
        self.stats.throttled_us += send.micros() - now.micros();
        let arrival = send.add(self.timings.api_request_latency).add(self.health.extra_latency);
        let latency = self.etcd_latency();
        if let Some(f) = self.in_flight.get_mut(id) {
            f.sent = send;
            f.arrival = arrival;
            f.times_out = false;
        }
        q.push(arrival.add(latency), Event::ApiCommit(id));
    }

    /// Takes a response delivered by [`Event::ApiResponse`].
    pub fn take_response(&mut self, id: ReqId) -> Option<Response> {
        self.responses.remove(id)
    }

    /// Takes the next change of a watcher's stream (called when its [`Event::Watch`] fires). While the apiserver
    /// is down nothing is delivered: the event is put off until it is back (the stream resumes where it was).
    pub fn take_watch(&mut self, w: WatcherId, now: SimTime, q: &mut EventQueue<Event>) -> Option<(Client, Change)> {
        if !self.health.available(now) {
            q.push(self.health.unavailable_until.unwrap_or(SimTime::MAX), Event::Watch(w));
            return None;
        }
        let watcher = self.watchers.get_mut(w.0 as usize)?;
        if watcher.stale > 0 {
            watcher.stale -= 1;
            return None;
        }
        let change = watcher.queue.pop_front()?;
        Some((watcher.client, change))
    }

    /// Processes a request when it reaches etcd.
    pub fn commit(&mut self, id: ReqId, now: SimTime, q: &mut EventQueue<Event>, rec: &mut Recorder) {
        let etcd_latency = self.etcd_latency();
        let timeout = self.timings.api_request_timeout;
        let back = self.etcd.health.unavailable_until.unwrap_or(SimTime::MAX);
        let available = self.etcd.available(now);
        let Some(f) = self.in_flight.get_mut(id) else { return };
        let result = if !self.health.available(f.arrival) {
            // Connection refused: the request never reached the apiserver (hence no etcd write).
            self.stats.refused += 1;
            Err(ApiError::Unavailable)
        } else if f.times_out {
            self.stats.timeouts += 1;
            Err(ApiError::Timeout)
        } else if available {
            let (client, request) = (f.client, f.request.clone());
            let mut io = Io { now, q, rec };
            self.apply(client, &request, &mut io)
        } else {
            // etcd is down: the write waits in the etcd client until etcd answers or the request times out.
            let timeout_at = f.arrival.add(timeout);
            let retry_at = back.add(etcd_latency);
            if retry_at <= timeout_at {
                q.push(retry_at, Event::ApiCommit(id));
                return;
            }
            f.times_out = true;
            q.push(timeout_at.max(now), Event::ApiCommit(id));
            return;
        };
        let Some(f) = self.in_flight.get_mut(id) else { return };
        let back_to_client = now.add(self.timings.api_request_latency);
        match result {
            Err(ApiError::Conflict(_))
                if f.request.precondition().is_some_and(|p| p.is_some())
                    && f.conflicts < f.request.conflict_retries() =>
            {
                // Re-read the object (a GET round trip after the response) and retry the update.
                self.stats.conflicts += 1;
                f.conflicts += 1;
                f.reread = true;
                let at = back_to_client.add(self.timings.api_request_latency.saturating_mul(2));
                q.push(at, Event::ApiRetry(id));
            }
            Err(ref e) if e.is_transient() && RetryPolicy::of(f.client).delay(f.attempt).is_some() => {
                let delay = RetryPolicy::of(f.client).delay(f.attempt).unwrap_or_default();
                q.push(back_to_client.add(delay), Event::ApiRetry(id));
            }
            result => {
                let Some(mut f) = self.in_flight.remove(id) else { return };
                self.stats.requests += 1;
                if matches!(result, Err(ApiError::Conflict(_))) && f.request.precondition().is_some_and(|p| p.is_some())
                {
                    self.stats.conflicts += 1;
                }
                if let Err(err) = &result {
                    rejected(rec, now, &f.request, &self.etcd, err);
                }
                if f.notify || result.is_err() {
                    let rid =
                        self.responses.insert(Response { client: f.client, request: f.request, result, tag: f.tag });
                    q.push(back_to_client, Event::ApiResponse(rid));
                }
            }
        }
    }

    fn apply(&mut self, client: Client, request: &Request, io: &mut Io) -> Result<(), ApiError> {
        match request {
            Request::CreatePod(new) => self.create_pod(new, io),
            Request::BindPod { pod, node } => self.bind_pod(*pod, *node, io),
            Request::PodStatus { pod, patch, rv } => self.patch_pod_status(client, *pod, patch, *rv, io),
            Request::DeletePod { pod, grace, reason } => self.delete_pod(*pod, *grace, *reason, io),
            Request::RemovePod { pod } => {
                let cur = self.etcd.pods.get(*pod).ok_or(ApiError::NotFound)?;
                if cur.state.deletion.is_none() && !cur.state.phase.is_terminal() {
                    return Err(ApiError::Conflict("pod is neither terminating nor terminal".into()));
                }
                self.remove_pod(*pod, io);
                Ok(())
            }
            Request::CreateNode { id, node } => self.create_node(*id, node, io),
            Request::NodeReady { node, status, .. }
                if *status != ConditionStatus::True
                    && client == Client::Controller(Ctl::NodeLifecycle)
                    && self.leases.get(node.index()).is_some_and(|l| l.origin.is_some() && l.stopped_at.is_none()) =>
            {
                // The controller's verdict reaches etcd after the kubelet came back (it was delayed behind the
                // controller's rate limiter, or sent at the instant of the recovery). Upstream the kubelet's status
                // update on its return changed the node, so this update conflicts, and the controller's retry
                // re-evaluates the node with its fresh Lease and writes nothing.
                Ok(())
            }
            Request::DeleteNode { node } => self.delete_node(*node, io),
            Request::NodeReady { node, status, rv } => self.update_node(*node, *rv, io, |n| {
                let changed = n.ready != *status;
                n.ready = *status;
                changed
            }),
            Request::NodeImages { node, images } => self.update_node(*node, None, io, |n| {
                let mut images = images.clone();
                images.sort();
                let changed = n.images != images;
                n.images = images;
                changed
            }),
            Request::NodeTaints { node, add, remove, rv } => self.update_node(*node, *rv, io, |n| {
                let before = n.taints.clone();
                n.taints.retain(|t| !remove.iter().any(|(k, e)| t.key == *k && t.effect == *e));
                for taint in add {
                    if !n.taints.iter().any(|t| t.key == taint.key && t.effect == taint.effect) {
                        n.taints.push(taint.clone());
                    }
                }
                n.taints != before
            }),
            Request::CreateReplicaSet(rs) => self.create_replicaset(rs, io),
            Request::ScaleReplicaSet { id, replicas, rv } => self.scale_replicaset(*id, *replicas, *rv, io),
            Request::ReplicaSetStatus { id, status, rv } => self.replicaset_status(*id, *status, *rv, io),
            Request::CreateDeployment(d) => self.create_deployment(d, io),
            Request::UpdateDeployment { id, deployment, rv } => self.update_deployment(*id, deployment, *rv, io),
            Request::PatchDeployment { namespace, name, patch } => self.patch_deployment(namespace, name, patch, io),
            Request::DeploymentStatus { id, status, rv } => self.deployment_status(*id, *status, *rv, io),
            Request::CreateJob(job) => self.create_job(job, io),
            Request::UpdateJob { id, job, rv } => self.update_job(*id, job, *rv, io),
            Request::EvictPod { pod } => self.evict_pod(*pod, io),
            Request::Cordon { node, unschedulable } => self.update_node(*node, None, io, |n| {
                let changed = n.unschedulable != *unschedulable;
                n.unschedulable = *unschedulable;
                changed
            }),
            Request::CreatePdb(pdb) => self.create_pdb(pdb, io),
            Request::PdbStatus { id, status, rv } => self.pdb_status(*id, *status, *rv, io),
            Request::CreateDaemonSet(ds) => self.create_daemonset(ds, io),
            Request::DaemonSetStatus { id, status, rv } => self.daemonset_status(*id, *status, *rv, io),
        }
    }

    fn uid(&mut self) -> u64 {
        let uid = self.next_uid;
        self.next_uid += 1;
        uid
    }

    /// Records `change` in the watch history and queues it on every interested watcher.
    fn fanout(&mut self, change: Change, io: &mut Io) {
        self.etcd.record(&change, io.now);
        if matches!(change, Change::Deployment { .. } | Change::DaemonSet { .. }) {
            io.rec.metrics.workload_changed(&change, io.now);
        }
        match &change {
            Change::Pod { state, .. } => {
                let kubelet = state.node.and_then(|n| self.kubelet_watchers.get(n.index()).copied().flatten());
                self.deliver(SCHEDULER_WATCHER, change.clone(), io.now, io.q);
                if let Some(w) = kubelet {
                    self.deliver(w, change.clone(), io.now, io.q);
                }
                self.deliver(CONTROLLER_MANAGER_WATCHER, change, io.now, io.q);
            }
            Change::Node { .. } => {
                self.deliver(SCHEDULER_WATCHER, change.clone(), io.now, io.q);
                self.deliver(CONTROLLER_MANAGER_WATCHER, change, io.now, io.q);
            }
            Change::Pdb { .. } => {
                self.deliver(SCHEDULER_WATCHER, change.clone(), io.now, io.q);
                self.deliver(CONTROLLER_MANAGER_WATCHER, change, io.now, io.q);
            }
            Change::ReplicaSet { .. } | Change::Deployment { .. } | Change::Job { .. } | Change::DaemonSet { .. } => {
                self.deliver(CONTROLLER_MANAGER_WATCHER, change, io.now, io.q);
            }
        }
    }

    /// Whether watcher `w` wants `change` (its kinds and field selector).
    fn wants(&self, w: WatcherId, change: &Change) -> bool {
        match self.watchers[w.0 as usize].client {
            Client::Kubelet(node) => matches!(change, Change::Pod { state, .. } if state.node == Some(node)),
            Client::Scheduler => matches!(change, Change::Pod { .. } | Change::Node { .. } | Change::Pdb { .. }),
            _ => true,
        }
    }

    fn deliver(&mut self, w: WatcherId, change: Change, now: SimTime, q: &mut EventQueue<Event>) {
        let watcher = &mut self.watchers[w.0 as usize];
        if !watcher.connected {
            return;
        }
        let due = now.add(watcher.latency).max(watcher.last_due);
        watcher.last_due = due;
        watcher.last_rv = watcher.last_rv.max(change.revision());
        watcher.queue.push_back(change);
        q.push(due, Event::Watch(w));
    }

    /// Reconnects watcher `w`, resuming from the last revision it received: the changes it missed are replayed
    /// from the watch history. Returns false (and replays nothing) when that history is gone (compacted or
    /// evicted from the watch cache): the client must relist, as a reflector does on `410 Gone`.
    pub fn resume_watch(&mut self, w: WatcherId, now: SimTime, q: &mut EventQueue<Event>) -> bool {
        let from = self.watchers[w.0 as usize].last_rv;
        self.watchers[w.0 as usize].connected = true;
        let missed: Option<Vec<Change>> =
            self.etcd.changes_since(from).map(|it| it.filter(|c| self.wants(w, c)).cloned().collect());
        match missed {
            Some(changes) => {
                for c in changes {
                    self.deliver(w, c, now, q);
                }
                true
            }
            None => {
                self.stats.relists += 1;
                false
            }
        }
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
                    latency: self.timings.watch_latency_kubelet,
                    queue: VecDeque::new(),
                    last_due: SimTime::ZERO,
                    connected: true,
                    last_rv: 0,
                    stale: 0,
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
        let rev = self.etcd.revision();
        self.watchers[w.0 as usize].last_rv = rev;
    }

    /// Closes a kubelet's watch (the kubelet crashed or lost the network): changes in flight are dropped,
    /// nothing more is queued; [`ApiServer::resume_watch`] picks up where it left off.
    pub fn disconnect_kubelet(&mut self, node: NodeId) {
        if let Some(w) = self.kubelet_watchers.get(node.index()).copied().flatten() {
            self.close_watch(w);
        }
    }

    /// Closes watcher `w`: changes not yet delivered are lost with the connection, and the events that would
    /// have delivered them are marked stale.
    fn close_watch(&mut self, w: WatcherId) {
        let watcher = &mut self.watchers[w.0 as usize];
        watcher.connected = false;
        // Resume from the last delivered change.
        if let Some(first) = watcher.queue.front() {
            watcher.last_rv = first.revision().saturating_sub(1);
        }
        watcher.stale += watcher.queue.len();
        watcher.queue.clear();
    }

    /// Closes the scheduler's watch (the kube-scheduler process died): changes in flight are dropped and nothing
    /// more is queued until [`ApiServer::connect_scheduler`].
    pub fn disconnect_scheduler(&mut self) {
        self.close_watch(SCHEDULER_WATCHER);
    }

    /// Opens the watches of a (re)started kube-scheduler, as its informers do: a LIST of the nodes, the
    /// non-terminal pods (the scheduler's pod informer selects `status.phase!=Succeeded,status.phase!=Failed`)
    /// and the PodDisruptionBudgets, delivered as `Added` changes after the scheduler's watch latency, followed by
    /// the live changes from the listed revision on. Returns the number of listed objects.
    ///
    /// Each kind is listed in key order (namespace, then name), as the watch cache serves a LIST. Upstream's
    /// three informers list concurrently and their items interleave arbitrarily; kubesim delivers all nodes
    /// first, then pods, then budgets, so that every bound pod finds its node in the cache (upstream's cache
    /// holds a pod whose node it has not seen yet on a placeholder node; kubesim's cache has no placeholders).
    pub fn connect_scheduler(&mut self, now: SimTime, q: &mut EventQueue<Event>) -> usize {
        let w = SCHEDULER_WATCHER;
        self.watchers[w.0 as usize].connected = true;
        let mut listed: Vec<Change> = Vec::new();
        let mut nodes: Vec<(&str, Change)> = self
            .etcd
            .nodes
            .iter()
            .enumerate()
            .filter_map(|(i, slot)| slot.as_ref().map(|v| (i, v)))
            .map(|(i, v)| {
                let change =
                    Change::Node { id: NodeId(i as u32), node: v.obj.clone(), rv: v.resource_version, op: Op::Added };
                (&*v.obj.name, change)
            })
            .collect();
        nodes.sort_by(|a, b| a.0.cmp(b.0));
        listed.extend(nodes.into_iter().map(|(_, c)| c));
        let mut pods: Vec<(&str, &str, Change)> = self
            .etcd
            .pods
            .iter()
            .filter(|(_, r)| !r.state.phase.is_terminal())
            .map(|(id, r)| {
                let change = Change::Pod { id, spec: r.spec.clone(), state: r.state, op: Op::Added };
                (&*r.spec.namespace, &*r.spec.name, change)
            })
            .collect();
        pods.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        listed.extend(pods.into_iter().map(|(_, _, c)| c));
        let mut pdbs: Vec<(&str, &str, Change)> = self
            .etcd
            .pdbs
            .iter()
            .map(|(id, v)| {
                let change = Change::Pdb { id, obj: v.obj.clone(), rv: v.resource_version, op: Op::Added };
                (&*v.obj.namespace, &*v.obj.name, change)
            })
            .collect();
        pdbs.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        listed.extend(pdbs.into_iter().map(|(_, _, c)| c));
        let n = listed.len();
        for change in listed {
            self.deliver(w, change, now, q);
        }
        self.watchers[w.0 as usize].last_rv = self.etcd.revision();
        n
    }

    /// A LIST of the pods bound to `node` that pass `keep`, in creation order (what `kubectl drain` reads).
    pub fn list_pods_on_node(
        &self,
        node: NodeId,
        keep: impl Fn(&crate::model::PodSpec, &crate::model::PodState) -> bool,
    ) -> Vec<PodId> {
        let mut pods: Vec<(u64, PodId)> = self
            .pods_on_node(node)
            .iter()
            .filter_map(|p| self.etcd.pods.get(*p).map(|r| (r, *p)))
            .filter(|(r, _)| keep(&r.spec, &r.state))
            .map(|(r, p)| (r.spec.uid, p))
            .collect();
        pods.sort();
        pods.into_iter().map(|(_, p)| p).collect()
    }

    /// The watcher of `node`'s kubelet, if it ever connected.
    pub fn kubelet_watcher(&self, node: NodeId) -> Option<WatcherId> {
        self.kubelet_watchers.get(node.index()).copied().flatten()
    }

    /// The changes queued on the scheduler's watch and not yet delivered: what the scheduler cannot know yet.
    pub fn scheduler_watch_backlog(&self) -> impl Iterator<Item = &Change> {
        self.watchers[SCHEDULER_WATCHER.0 as usize].queue.iter()
    }

    /// True when watcher `w` is connected (a stale [`Event::Watch`] for a disconnected watcher is ignored).
    pub fn watcher_connected(&self, w: WatcherId) -> bool {
        self.watchers.get(w.0 as usize).is_some_and(|w| w.connected)
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
    let pod = |id: &PodId| etcd.pods.get(*id).map(|r| r.spec.name.clone());
    let node = |id: &NodeId| etcd.node(*id).map(|n| n.name.clone());
    let (kind, name): (Kind, Option<Str>) = match request {
        Request::CreatePod(p) => (Kind::Pod, Some(p.name.clone().unwrap_or_else(|| p.generate_name.clone()))),
        Request::BindPod { pod: p, .. }
        | Request::PodStatus { pod: p, .. }
        | Request::DeletePod { pod: p, .. }
        | Request::RemovePod { pod: p } => (Kind::Pod, pod(p)),
        Request::CreateNode { node: n, .. } => (Kind::Node, Some(n.name.clone())),
        Request::NodeReady { node: n, .. }
        | Request::DeleteNode { node: n }
        | Request::NodeTaints { node: n, .. }
        | Request::NodeImages { node: n, .. } => (Kind::Node, node(n)),
        Request::CreateReplicaSet(r) => (Kind::ReplicaSet, Some(r.name.clone())),
        Request::ScaleReplicaSet { id, .. } | Request::ReplicaSetStatus { id, .. } => {
            (Kind::ReplicaSet, etcd.replicasets.get(*id).map(|v| v.obj.name.clone()))
        }
        Request::CreateDeployment(d) => (Kind::Deployment, Some(d.name.clone())),
        Request::UpdateDeployment { deployment, .. } => (Kind::Deployment, Some(deployment.name.clone())),
        Request::PatchDeployment { name, .. } => (Kind::Deployment, Some(name.clone())),
        Request::DeploymentStatus { id, .. } => {
            (Kind::Deployment, etcd.deployments.get(*id).map(|v| v.obj.name.clone()))
        }
        Request::CreateJob(j) => (Kind::Job, Some(j.name.clone())),
        Request::UpdateJob { job, .. } => (Kind::Job, Some(job.name.clone())),
        Request::EvictPod { pod: p } => (Kind::Pod, pod(p)),
        Request::Cordon { node: n, .. } => (Kind::Node, node(n)),
        Request::CreatePdb(pdb) => (Kind::PodDisruptionBudget, Some(pdb.name.clone())),
        Request::PdbStatus { id, .. } => (Kind::PodDisruptionBudget, etcd.pdbs.get(*id).map(|v| v.obj.name.clone())),
        Request::CreateDaemonSet(ds) => (Kind::DaemonSet, Some(ds.name.clone())),
        Request::DaemonSetStatus { id, .. } => (Kind::DaemonSet, etcd.daemonsets.get(*id).map(|v| v.obj.name.clone())),
    };
    let name = name.unwrap_or_else(|| Arc::from(""));
    rec.event(now, EventType::Rejected, kind, &name, "", format_args!("{msg}"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recorder::EventSink;
    use crate::rng::Stream;
    use crate::scheduler::plugins::testutil::{node_info, pod_spec};

    struct Harness {
        api: ApiServer,
        q: EventQueue<Event>,
        rec: Recorder,
    }

    impl Harness {
        fn new(watch_cache_capacity: u64) -> Harness {
            let timings = Timings { watch_cache_capacity, ..Timings::default() };
            Harness {
                api: ApiServer::new(timings, vec![], SimRng::new(1, Stream::Naming)),
                q: EventQueue::new(),
                rec: Recorder::new(EventSink::Memory(Vec::new())),
            }
        }

        /// Sends a request and processes the apiserver's events until it settles.
        fn send(&mut self, client: Client, req: Request) {
            let now = self.q.now();
            self.api.submit(client, req, false, now, &mut self.q);
            while let Some((t, ev)) = self.q.pop() {
                match ev {
                    Event::ApiCommit(id) => self.api.commit(id, t, &mut self.q, &mut self.rec),
                    Event::ApiRetry(id) => self.api.retry(id, t, &mut self.q),
                    _ => {}
                }
            }
        }

        fn pod_on(&mut self, name: &str) {
            let mut template = (*pod_spec(100, 100, |_| {}).template).clone();
            template.node_name = Some(crate::model::s("n0"));
            let new = NewPod {
                name: Some(crate::model::s(name)),
                generate_name: crate::model::s(""),
                namespace: crate::model::s("default"),
                owner: None,
                workload: crate::model::s("w"),
                rng_key: 0,
                template: Arc::new(template),
            };
            self.send(Client::User, Request::CreatePod(new));
        }
    }

    fn setup(capacity: u64) -> (Harness, WatcherId) {
        let mut h = Harness::new(capacity);
        let node = (*node_info("n0", 4000, 1 << 30).node).clone();
        h.send(Client::Kubelet(NodeId(0)), Request::CreateNode { id: NodeId(0), node: Box::new(node) });
        let now = h.q.now();
        h.api.connect_kubelet(NodeId(0), now, &mut h.q);
        let w = h.api.kubelet_watcher(NodeId(0)).expect("watcher");
        (h, w)
    }

    #[test]
    fn a_watcher_resumes_from_the_watch_cache() {
        let (mut h, w) = setup(100);
        h.api.disconnect_kubelet(NodeId(0));
        h.pod_on("a");
        h.pod_on("b");
        let now = h.q.now();
        assert!(h.api.resume_watch(w, now, &mut h.q), "the missed changes are still in the cache");
        let mut seen = Vec::new();
        while let Some((_, change)) = h.api.take_watch(w, now, &mut h.q) {
            if let Change::Pod { spec, .. } = change {
                seen.push(spec.name.to_string());
            }
        }
        assert_eq!(seen, vec!["a", "b"]);
        assert_eq!(h.api.stats.relists, 0);
    }

    #[test]
    fn a_watcher_behind_the_watch_cache_must_relist() {
        let (mut h, w) = setup(3);
        h.api.disconnect_kubelet(NodeId(0));
        for i in 0..5 {
            h.pod_on(&format!("p{i}"));
        }
        let now = h.q.now();
        assert!(!h.api.resume_watch(w, now, &mut h.q), "5 changes missed, 3 kept: the watcher must relist");
        assert_eq!(h.api.stats.relists, 1);
        assert!(h.api.take_watch(w, now, &mut h.q).is_none(), "nothing replayed");
    }

    /// A node update sent with `rv` while the apiserver refuses connections until 10 s; returns the node's taints.
    fn taint_after_outage(rv: Option<u64>) -> Vec<crate::model::Taint> {
        let (mut h, _) = setup(100);
        h.api.health.unavailable_until = Some(SimTime::from_secs(10));
        let taint = crate::model::Taint {
            key: crate::model::s("example.com/t"),
            value: crate::model::s(""),
            effect: TaintEffect::NoSchedule,
        };
        let req = Request::NodeTaints { node: NodeId(0), add: vec![taint], remove: vec![], rv };
        h.send(Client::Controller(Ctl::NodeLifecycle), req);
        // Refused from 0 s to 10 s: the controller's client retried with its back-off, more than 5 times.
        assert!(h.api.stats.refused > 5, "{:?}", h.api.stats);
        h.api.etcd.node(NodeId(0)).expect("node").taints.clone()
    }

    #[test]
    fn conflict_retries_are_counted_apart_from_transient_retries() {
        let (h, _) = setup(100);
        let rv = h.api.etcd.node_rv(NodeId(0)).expect("rv");
        // Based on the current version: applied once the apiserver is back.
        assert_eq!(taint_after_outage(Some(rv)).len(), 1);
        // Based on a stale version: the first attempt that reaches etcd conflicts; the taint swap still has its
        // 5 re-read-and-retry rounds (`RetryOnConflict`), however many refused attempts came before.
        assert_eq!(taint_after_outage(Some(rv - 1)).len(), 1);
    }

    #[test]
    fn a_retry_after_a_transient_failure_keeps_the_version_it_was_based_on() {
        let (mut h, _) = setup(100);
        h.pod_on("a");
        let pod = h.api.etcd.pods.iter().next().map(|(id, _)| id).expect("pod");
        let stale = h.api.etcd.pods[pod].state.resource_version;
        // The pod changes, then a write based on the old version is sent while the apiserver is down.
        let patch = PodStatusPatch { restart_count: Some(1), ..Default::default() };
        h.send(Client::Kubelet(NodeId(0)), Request::PodStatus { pod, patch, rv: None });
        h.api.health.unavailable_until = Some(h.q.now().add(SimDuration::from_secs(5)));
        let stale_patch = PodStatusPatch { ready: Some(true), ..Default::default() };
        h.send(Client::Controller(Ctl::NodeLifecycle), Request::PodStatus { pod, patch: stale_patch, rv: Some(stale) });
        assert!(h.api.stats.refused > 0);
        // Resent as it was, it conflicts (a pod status update is not retried on conflict) instead of landing.
        assert!(!h.api.etcd.pods[pod].state.ready, "a stale write landed after its retries");
        assert_eq!(h.api.etcd.pods[pod].state.restart_count, 1);
    }

    #[test]
    fn a_restarted_scheduler_lists_in_key_order_and_skips_the_closed_connection() {
        let (mut h, _) = setup(100);
        for name in ["b", "c", "a"] {
            h.pod_on(name);
        }
        let c = h.api.etcd.pods.iter().find(|(_, r)| &*r.spec.name == "c").map(|(id, _)| id).expect("c");
        let patch = PodStatusPatch { phase: Some(PodPhase::Succeeded), ..Default::default() };
        h.send(Client::Kubelet(NodeId(0)), Request::PodStatus { pod: c, patch, rv: None });
        // The harness dropped the delivery events: deliver what is queued so far.
        let t0 = h.q.now();
        while h.api.take_watch(SCHEDULER_WATCHER, t0, &mut h.q).is_some() {}
        // One more pod: its change is on the scheduler's watch when the scheduler dies.
        let now = h.q.now();
        let mut template = (*pod_spec(100, 100, |_| {}).template).clone();
        template.node_name = Some(crate::model::s("n0"));
        let new = NewPod {
            name: Some(crate::model::s("d")),
            generate_name: crate::model::s(""),
            namespace: crate::model::s("default"),
            owner: None,
            workload: crate::model::s("w"),
            rng_key: 0,
            template: Arc::new(template),
        };
        h.api.submit(Client::User, Request::CreatePod(new), false, now, &mut h.q);
        let mut stale = Vec::new();
        while let Some((t, ev)) = h.q.pop() {
            match ev {
                Event::ApiCommit(id) => h.api.commit(id, t, &mut h.q, &mut h.rec),
                Event::Watch(w) if w == SCHEDULER_WATCHER => stale.push(w),
                _ => {}
            }
        }
        assert_eq!(stale.len(), 1, "d's change is in flight");
        h.api.disconnect_scheduler();
        let now = h.q.now();
        let listed = h.api.connect_scheduler(now, &mut h.q);
        assert_eq!(listed, 4, "the node and pods a, b, d; not the finished c");
        // The closed connection's delivery event fires first and finds nothing for it.
        for w in stale {
            assert!(h.api.take_watch(w, now, &mut h.q).is_none());
        }
        let mut seen = Vec::new();
        while let Some((_, ev)) = h.q.pop() {
            if let Event::Watch(w) = ev
                && let Some((_, change)) = h.api.take_watch(w, now, &mut h.q)
            {
                match change {
                    Change::Node { node, op, .. } => seen.push(format!("{op:?} node {}", node.name)),
                    Change::Pod { spec, op, .. } => seen.push(format!("{op:?} pod {}", spec.name)),
                    _ => {}
                }
            }
        }
        assert_eq!(seen, vec!["Added node n0", "Added pod a", "Added pod b", "Added pod d"]);
    }

    #[test]
    fn a_dead_clients_unsent_requests_are_dropped() {
        let (mut h, _) = setup(100);
        let now = h.q.now();
        // The scheduler's burst is 100: the 101st request waits 20 ms in its rate limiter.
        for _ in 0..101 {
            h.api.submit(
                Client::Scheduler,
                Request::Cordon { node: NodeId(0), unschedulable: true },
                false,
                now,
                &mut h.q,
            );
        }
        assert_eq!(h.api.cancel_unsent(Client::Scheduler, now), 1);
        assert_eq!(h.api.cancel_unsent(Client::User, now), 0);
        assert_eq!(h.api.in_flight.len(), 100, "the sent ones are on the wire");
        h.api.reset_limiter(Client::Scheduler);
        h.api.submit(Client::Scheduler, Request::Cordon { node: NodeId(0), unschedulable: true }, false, now, &mut h.q);
        assert_eq!(h.api.cancel_unsent(Client::Scheduler, now), 0, "a new client has a full burst");
    }

    #[test]
    fn deleting_a_node_keeps_its_pods_bound_and_a_second_delete_is_not_found() {
        let (mut h, w) = setup(100);
        h.pod_on("a");
        let t0 = h.q.now();
        while h.api.take_watch(w, t0, &mut h.q).is_some() {}
        let revision = h.api.etcd.revision();
        h.send(Client::User, Request::DeleteNode { node: NodeId(0) });
        assert_eq!(h.api.etcd.revision(), revision + 1);
        assert!(h.api.etcd.node(NodeId(0)).is_none());
        assert_eq!(h.api.pods_on_node(NodeId(0)).len(), 1, "the pod stays bound (PodGC collects it)");
        assert_eq!(h.api.kubelet_watcher(NodeId(0)), Some(w), "the kubelet still watches its pods");
        // Watchers of nodes get the deletion with the node's last object.
        let mut deleted = None;
        let t1 = h.q.now();
        while let Some((client, change)) = h.api.take_watch(WatcherId(1), t1, &mut h.q) {
            if let Change::Node { op: Op::Deleted, node, rv, .. } = change {
                deleted = Some((client, node.name.to_string(), rv));
            }
        }
        assert_eq!(deleted, Some((Client::Controller(Ctl::ReplicaSet), "n0".to_string(), revision + 1)));
        // Deleting it again: 404, no write, nothing recorded as a rejection.
        let now = h.q.now();
        h.api.submit(Client::User, Request::DeleteNode { node: NodeId(0) }, true, now, &mut h.q);
        let mut result = None;
        while let Some((t, ev)) = h.q.pop() {
            match ev {
                Event::ApiCommit(id) => h.api.commit(id, t, &mut h.q, &mut h.rec),
                Event::ApiResponse(id) => result = h.api.take_response(id).map(|r| r.result),
                _ => {}
            }
        }
        assert_eq!(result, Some(Err(ApiError::NotFound)));
        assert_eq!(h.api.etcd.revision(), revision + 1);
        // The machine's slot is never taken again, even by a node of the same name.
        let node = (*node_info("n0", 4000, 1 << 30).node).clone();
        h.send(Client::Kubelet(NodeId(0)), Request::CreateNode { id: NodeId(0), node: Box::new(node) });
        assert!(h.api.etcd.node(NodeId(0)).is_none());
        let rows = h.rec.finish().expect("rows");
        let of = |e: EventType| rows.iter().filter(|r| r.event == e).count();
        assert_eq!((of(EventType::NodeDeleted), of(EventType::Rejected)), (1, 0));
        let row = rows.iter().find(|r| r.event == EventType::NodeDeleted).expect("row");
        assert_eq!((row.name.as_str(), row.detail.as_str()), ("n0", "pods=1"));
    }

    #[test]
    fn invalid_objects_are_rejected_and_recorded() {
        let (mut h, _) = setup(100);
        h.pod_on("Bad_Name");
        let rows = h.rec.finish().expect("rows");
        let rejected: Vec<_> = rows.iter().filter(|r| r.event == EventType::Rejected).collect();
        assert_eq!(rejected.len(), 1);
        assert_eq!(rejected[0].name, "Bad_Name");
        assert!(rejected[0].detail.contains("RFC 1123"), "{}", rejected[0].detail);
        assert!(h.api.etcd.pods.is_empty());
    }
}
