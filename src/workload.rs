//! The scenario's users: they create Deployments and Jobs at their start times and submit the pods of arrival
//! processes, all through the apiserver like `kubectl` would.
//!
//! Arrival times come from one random stream per arrival process (keyed by its index), so a policy change can
//! never move an arrival (common random numbers).

use crate::apiserver::{Client, NewPod, Request};
use crate::model::workload::{DaemonSetStatus, DeploymentStatus, JobStatus, RollingUpdate};
use crate::model::{DaemonSet, Deployment, Job, LabelSelector, PodTemplate, Str};
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

/// A user action on a Deployment.
#[derive(Clone, Debug, PartialEq)]
pub enum ActionKind {
    /// `kubectl set image`: a new template, hence a rolling update.
    SetImage { container: Option<Str>, image: Str },
    /// `kubectl scale`.
    Scale { replicas: i32 },
}

/// A scheduled user action.
#[derive(Clone, Debug, PartialEq)]
pub struct ActionSpec {
    pub at: SimTime,
    pub namespace: Str,
    pub deployment: Str,
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
}

/// Driver events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DriverEvent {
    CreateDeployment(u32),
    CreateJob(u32),
    Arrival(u32),
    Action(u32),
    CreateDaemonSet(u32),
}

pub struct Driver {
    workloads: Arc<Workloads>,
    arrival_rngs: Vec<SimRng>,
    arrival_counts: Vec<u64>,
}

impl Driver {
    pub fn new(workloads: Arc<Workloads>, seed: u64) -> Driver {
        let arrival_rngs =
            (0..workloads.arrivals.len()).map(|i| SimRng::keyed(seed, Stream::Arrivals, i as u64)).collect();
        let arrival_counts = vec![0; workloads.arrivals.len()];
        Driver { workloads, arrival_rngs, arrival_counts }
    }

    /// Schedules the first events of every workload.
    pub fn start(&mut self, ctx: &mut Ctx) {
        for (i, d) in self.workloads.deployments.iter().enumerate() {
            ctx.queue.push(d.at, Event::Driver(DriverEvent::CreateDeployment(i as u32)));
        }
        for (i, j) in self.workloads.jobs.iter().enumerate() {
            ctx.queue.push(j.at, Event::Driver(DriverEvent::CreateJob(i as u32)));
        }
        for (i, d) in self.workloads.daemonsets.iter().enumerate() {
            ctx.queue.push(d.at, Event::Driver(DriverEvent::CreateDaemonSet(i as u32)));
        }
        for (i, a) in self.workloads.actions.iter().enumerate() {
            ctx.queue.push(a.at, Event::Driver(DriverEvent::Action(i as u32)));
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
            DriverEvent::Action(_) => u32::MAX,
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
            DriverEvent::Action(i) => {
                let a = &self.workloads.actions[i as usize];
                let req = Request::PatchDeployment {
                    namespace: a.namespace.clone(),
                    name: a.deployment.clone(),
                    action: a.kind.clone(),
                };
                ctx.api.submit(Client::User, req, false, ctx.now, ctx.queue);
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
