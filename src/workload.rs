//! The scenario's users: they create Deployments and Jobs at their start times and submit the pods of arrival
//! processes, all through the apiserver like `kubectl` would.
//!
//! Arrival times come from one random stream per arrival process (keyed by its index), so a policy change can
//! never move an arrival (common random numbers).

use crate::apiserver::{ApiError, Client, NewPod, Request, Response};
use crate::model::workload::{DaemonSetStatus, DeploymentStatus, JobStatus, RollingUpdate};
use crate::model::{DaemonSet, Deployment, Job, LabelSelector, NodeId, OwnerRef, PodId, PodTemplate, Str};
use crate::record;
use crate::rng::{SimRng, Stream};
use crate::sim::{Ctx, Event};
use crate::time::{SimDuration, SimTime};
use std::sync::Arc;

/// How pods of an arrival process arrive.
#[derive(Clone, Debug, PartialEq)]
pub enum ArrivalProcess {
    /// Exponential inter-arrival times with this rate.
    Poisson { rate_per_s: f64 },
    /// One pod every `interval`.
    Uniform { interval: SimDuration },
}

/// A Deployment the scenario creates.
#[derive(Clone, Debug)]
pub struct DeploymentSpec {
    pub name: Str,
    pub namespace: Str,
    pub at: SimTime,
    pub replicas: i32,
    pub selector: LabelSelector,
    pub template: Arc<PodTemplate>,
    pub strategy: RollingUpdate,
}

/// A Job the scenario creates.
#[derive(Clone, Debug)]
pub struct JobSpec {
    pub name: Str,
    pub namespace: Str,
    pub at: SimTime,
    pub completions: i32,
    pub parallelism: i32,
    pub backoff_limit: i32,
    pub active_deadline: Option<SimDuration>,
    pub template: Arc<PodTemplate>,
}

/// A DaemonSet the scenario creates.
#[derive(Clone, Debug)]
pub struct DaemonSetSpec {
    pub name: Str,
    pub namespace: Str,
    pub at: SimTime,
    pub selector: LabelSelector,
    pub template: Arc<PodTemplate>,
}

/// A stream of bare pods.
#[derive(Clone, Debug)]
pub struct ArrivalSpec {
    pub name: Str,
    pub namespace: Str,
    pub process: ArrivalProcess,
    pub start: SimTime,
    pub stop: Option<SimTime>,
    pub max_pods: Option<u64>,
    pub template: Arc<PodTemplate>,
}

/// A user's change to a Deployment.
#[derive(Clone, Debug, PartialEq)]
pub enum DeploymentPatch {
    /// `kubectl set image`: a new template, hence a rolling update.
    SetImage { container: Option<Str>, image: Str },
    /// `kubectl scale`.
    Scale { replicas: i32 },
}

/// What a user does.
#[derive(Clone, Debug, PartialEq)]
pub enum ActionKind {
    Patch {
        namespace: Str,
        deployment: Str,
        patch: DeploymentPatch,
    },
    /// `kubectl cordon` (`unschedulable: true`) or `uncordon`.
    Cordon {
        node: NodeId,
        unschedulable: bool,
    },
    /// `kubectl drain`: cordon, then evict every pod but DaemonSet pods through the Eviction API, retrying
    /// evictions refused by a PodDisruptionBudget every 5 s.
    Drain {
        node: NodeId,
    },
}

/// A scheduled user action.
#[derive(Clone, Debug, PartialEq)]
pub struct ActionSpec {
    pub at: SimTime,
    pub kind: ActionKind,
}

/// The workloads of a scenario. Indices (`workload_index`): deployments, then jobs, arrivals, DaemonSets.
#[derive(Clone, Debug, Default)]
pub struct Workloads {
    pub deployments: Vec<DeploymentSpec>,
    pub jobs: Vec<JobSpec>,
    pub arrivals: Vec<ArrivalSpec>,
    pub daemonsets: Vec<DaemonSetSpec>,
    pub actions: Vec<ActionSpec>,
    /// PodDisruptionBudgets, created at the start.
    pub pdbs: Vec<crate::model::PodDisruptionBudget>,
    /// Batch traces replayed as Jobs (`[[job_traces]]`); their tasks' workload indices follow the DaemonSets'.
    pub job_traces: Vec<crate::jobtrace::JobTraceSpec>,
}

impl Workloads {
    /// The workload index of the first trace task: pods whose `rng_key >> 40` is at least this belong to a trace.
    pub fn trace_base(&self) -> u32 {
        (self.deployments.len() + self.jobs.len() + self.arrivals.len() + self.daemonsets.len()) as u32
    }
}

/// Driver events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DriverEvent {
    CreateDeployment(u32),
    CreateJob(u32),
    Arrival(u32),
    Action(u32),
    CreateDaemonSet(u32),
    /// Retry an eviction refused by a disruption budget (drain number, pod).
    RetryEviction(u32, PodId),
    /// Create the Job of the next task of job trace `i`.
    TraceTask(u32),
}

pub struct Driver {
    workloads: Arc<Workloads>,
    arrival_rngs: Vec<SimRng>,
    arrival_counts: Vec<u64>,
    /// Drains in progress: (node, evictions not yet accepted).
    drains: Vec<(NodeId, u32)>,
    /// Cordon (`true`) and uncordon requests per node, sent one at a time as a user runs `kubectl`: the first is
    /// in flight. Without this an uncordon could overtake a cordon that the client is still retrying (the
    /// apiserver was down) and leave the node cordoned.
    cordons: Vec<(NodeId, std::collections::VecDeque<bool>)>,
    /// Per job trace: the next task to create, and the workload index of its first task.
    trace_cursors: Vec<(usize, u32)>,
}

/// How often `kubectl drain` retries an eviction refused by a disruption budget.
pub const DRAIN_RETRY: SimDuration = SimDuration::from_secs(5);

impl Driver {
    pub fn new(workloads: Arc<Workloads>, seed: u64) -> Driver {
        let arrival_rngs =
            (0..workloads.arrivals.len()).map(|i| SimRng::keyed(seed, Stream::Arrivals, i as u64)).collect();
        let arrival_counts = vec![0; workloads.arrivals.len()];
        let mut base = workloads.trace_base();
        let trace_cursors = workloads
            .job_traces
            .iter()
            .map(|t| {
                let first = base;
                base = base.saturating_add(t.tasks.len() as u32);
                (0, first)
            })
            .collect();
        Driver { workloads, arrival_rngs, arrival_counts, drains: Vec::new(), cordons: Vec::new(), trace_cursors }
    }

    /// True when the last drain of `node` had every eviction accepted (or none was started).
    pub fn drain_finished(&self, node: NodeId) -> bool {
        self.drains.iter().rev().find(|(n, _)| *n == node).is_none_or(|(_, left)| *left == 0)
    }

    /// `kubectl cordon` (`unschedulable`) or `kubectl uncordon`, after the user's earlier ones for that node.
    pub fn cordon(&mut self, node: NodeId, unschedulable: bool, ctx: &mut Ctx) {
        let i = match self.cordons.iter().position(|(n, _)| *n == node) {
            Some(i) => i,
            None => {
                self.cordons.push((node, Default::default()));
                self.cordons.len() - 1
            }
        };
        let queue = &mut self.cordons[i].1;
        queue.push_back(unschedulable);
        if queue.len() == 1 {
            ctx.api.submit_tagged(Client::User, Request::Cordon { node, unschedulable }, 0, ctx.now, ctx.queue);
        }
    }

    /// `kubectl drain`: cordon the node, then evict its pods (not DaemonSet pods, not finished ones).
    pub fn drain(&mut self, node: NodeId, ctx: &mut Ctx) {
        self.cordon(node, true, ctx);
        let drain = self.drains.len() as u32;
        let pods: Vec<PodId> = ctx.api.list_pods_on_node(node, |spec, state| {
            !matches!(spec.owner, Some(OwnerRef::DaemonSet(_)))
                && !state.phase.is_terminal()
                && state.deletion.is_none()
        });
        self.drains.push((node, pods.len() as u32));
        for pod in pods {
            ctx.api.submit_tagged(Client::User, Request::EvictPod { pod }, u64::from(drain), ctx.now, ctx.queue);
        }
    }

    /// A user request's answer: drains retry refused evictions after 5 s.
    pub fn on_response(&mut self, resp: Response, ctx: &mut Ctx) {
        if let Request::Cordon { node, .. } = resp.request {
            // Answered (the client retried transient failures): send the user's next one for that node.
            let Some(i) = self.cordons.iter().position(|(n, _)| *n == node) else { return };
            let queue = &mut self.cordons[i].1;
            queue.pop_front();
            if let Some(&unschedulable) = queue.front() {
                ctx.api.submit_tagged(Client::User, Request::Cordon { node, unschedulable }, 0, ctx.now, ctx.queue);
            }
            return;
        }
        let (Request::EvictPod { pod }, Some(drain)) = (&resp.request, resp.tag) else { return };
        match &resp.result {
            Err(ApiError::TooManyRequests(_)) => {
                let at = ctx.now.add(DRAIN_RETRY);
                ctx.queue.push(at, Event::Driver(DriverEvent::RetryEviction(drain as u32, *pod)));
            }
            _ => {
                let Some((node, left)) = self.drains.get_mut(drain as usize) else { return };
                *left = left.saturating_sub(1);
                if *left == 0 {
                    let name = ctx.api.etcd.node(*node).map(|n| n.name.clone()).unwrap_or_else(|| Str::from(""));
                    record!(ctx.rec, ctx.now, NodeDrained, Node, &name, &name);
                }
            }
        }
    }

    /// Schedules the first events of every workload.
    pub fn start(&mut self, ctx: &mut Ctx) {
        for (i, d) in self.workloads.deployments.iter().enumerate() {
            ctx.queue.push(d.at, Event::Driver(DriverEvent::CreateDeployment(i as u32)));
        }
        for (i, j) in self.workloads.jobs.iter().enumerate() {
            ctx.queue.push(j.at, Event::Driver(DriverEvent::CreateJob(i as u32)));
        }
        for pdb in &self.workloads.pdbs {
            ctx.api.submit(Client::User, Request::CreatePdb(Box::new(pdb.clone())), false, ctx.now, ctx.queue);
        }
        for (i, d) in self.workloads.daemonsets.iter().enumerate() {
            ctx.queue.push(d.at, Event::Driver(DriverEvent::CreateDaemonSet(i as u32)));
        }
        for (i, a) in self.workloads.actions.iter().enumerate() {
            ctx.queue.push(a.at, Event::Driver(DriverEvent::Action(i as u32)));
        }
        for (i, t) in self.workloads.job_traces.iter().enumerate() {
            if let Some(task) = t.tasks.first() {
                ctx.queue.push(task.at, Event::Driver(DriverEvent::TraceTask(i as u32)));
            }
        }
        for i in 0..self.workloads.arrivals.len() {
            let start = self.workloads.arrivals[i].start;
            let first = start.add(self.interarrival(i));
            self.schedule_arrival(i, first, ctx);
        }
    }

    fn interarrival(&mut self, i: usize) -> SimDuration {
        match &self.workloads.arrivals[i].process {
            ArrivalProcess::Poisson { rate_per_s } => {
                SimDuration::from_secs_f64(self.arrival_rngs[i].exponential(1.0 / rate_per_s))
            }
            ArrivalProcess::Uniform { interval } => *interval,
        }
    }

    fn schedule_arrival(&mut self, i: usize, at: SimTime, ctx: &mut Ctx) {
        let a = &self.workloads.arrivals[i];
        if a.stop.is_some_and(|s| at >= s) || a.max_pods.is_some_and(|m| self.arrival_counts[i] >= m) {
            return;
        }
        ctx.queue.push(at, Event::Driver(DriverEvent::Arrival(i as u32)));
    }

    fn workload_index(&self, kind: DriverEvent) -> u32 {
        let w = &self.workloads;
        match kind {
            DriverEvent::CreateDeployment(i) => i,
            DriverEvent::CreateJob(i) => w.deployments.len() as u32 + i,
            DriverEvent::Arrival(i) => (w.deployments.len() + w.jobs.len()) as u32 + i,
            DriverEvent::CreateDaemonSet(i) => (w.deployments.len() + w.jobs.len() + w.arrivals.len()) as u32 + i,
            DriverEvent::TraceTask(i) => {
                let (next, first) = self.trace_cursors[i as usize];
                first.saturating_add(next as u32)
            }
            DriverEvent::Action(_) | DriverEvent::RetryEviction(..) => u32::MAX,
        }
    }

    pub fn handle(&mut self, ev: DriverEvent, ctx: &mut Ctx) {
        let workload_index = self.workload_index(ev);
        match ev {
            DriverEvent::CreateDeployment(i) => {
                let d = &self.workloads.deployments[i as usize];
                let obj = Deployment {
                    name: d.name.clone(),
                    namespace: d.namespace.clone(),
                    uid: 0,
                    generation: 1,
                    workload_index,
                    replicas: d.replicas,
                    selector: d.selector.clone(),
                    template: d.template.clone(),
                    strategy: d.strategy,
                    created: ctx.now,
                    status: DeploymentStatus::default(),
                };
                ctx.api.submit(Client::User, Request::CreateDeployment(Box::new(obj)), false, ctx.now, ctx.queue);
            }
            DriverEvent::CreateJob(i) => {
                let j = &self.workloads.jobs[i as usize];
                let obj = Job {
                    name: j.name.clone(),
                    namespace: j.namespace.clone(),
                    uid: 0,
                    workload_index,
                    completions: j.completions,
                    parallelism: j.parallelism,
                    backoff_limit: j.backoff_limit,
                    active_deadline: j.active_deadline,
                    template: j.template.clone(),
                    created: ctx.now,
                    status: JobStatus::default(),
                };
                ctx.api.submit(Client::User, Request::CreateJob(Box::new(obj)), false, ctx.now, ctx.queue);
            }
            DriverEvent::CreateDaemonSet(i) => {
                let d = &self.workloads.daemonsets[i as usize];
                let obj = DaemonSet {
                    name: d.name.clone(),
                    namespace: d.namespace.clone(),
                    uid: 0,
                    workload_index,
                    selector: d.selector.clone(),
                    template: d.template.clone(),
                    created: ctx.now,
                    status: DaemonSetStatus::default(),
                };
                ctx.api.submit(Client::User, Request::CreateDaemonSet(Box::new(obj)), false, ctx.now, ctx.queue);
            }
            DriverEvent::Action(i) => match self.workloads.actions[i as usize].kind.clone() {
                ActionKind::Patch { namespace, deployment, patch } => {
                    let req = Request::PatchDeployment { namespace, name: deployment, patch };
                    ctx.api.submit(Client::User, req, false, ctx.now, ctx.queue);
                }
                ActionKind::Cordon { node, unschedulable } => self.cordon(node, unschedulable, ctx),
                ActionKind::Drain { node } => self.drain(node, ctx),
            },
            DriverEvent::TraceTask(i) => {
                let trace = &self.workloads.job_traces[i as usize];
                let cursor = &mut self.trace_cursors[i as usize].0;
                let Some(job) = trace.job(*cursor, workload_index, ctx.now) else { return };
                ctx.rec.metrics.trace.submitted(&trace.tasks[*cursor]);
                *cursor += 1;
                if let Some(next) = trace.tasks.get(*cursor) {
                    ctx.queue.push(next.at.max(ctx.now), Event::Driver(DriverEvent::TraceTask(i)));
                }
                ctx.api.submit(Client::User, Request::CreateJob(Box::new(job)), false, ctx.now, ctx.queue);
            }
            DriverEvent::RetryEviction(drain, pod) => {
                ctx.api.submit_tagged(Client::User, Request::EvictPod { pod }, u64::from(drain), ctx.now, ctx.queue);
            }
            DriverEvent::Arrival(i) => {
                let i = i as usize;
                let ordinal = self.arrival_counts[i];
                self.arrival_counts[i] += 1;
                let a = &self.workloads.arrivals[i];
                let new = NewPod {
                    name: Some(format!("{}-{}", a.name, ordinal).into()),
                    generate_name: a.name.clone(),
                    namespace: a.namespace.clone(),
                    owner: None,
                    workload: a.name.clone(),
                    rng_key: (u64::from(workload_index) << 40) | ordinal,
                    template: a.template.clone(),
                };
                ctx.api.submit(Client::User, Request::CreatePod(new), false, ctx.now, ctx.queue);
                let next = ctx.now.add(self.interarrival(i));
                self.schedule_arrival(i, next, ctx);
            }
        }
    }
}
