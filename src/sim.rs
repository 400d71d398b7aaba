//! The simulation: assembles the components from a scenario and runs the single event loop.
//!
//! ```text
//!   users/driver ──┐                       ┌──> scheduler ──(Binding)──┐
//!   kubelets ──────┼─(requests)─> apiserver ─> etcd ─(watches)─> controller-manager
//!   controllers ───┘        ^                └──> kubelets (their node's pods)
//!   scheduler ─────────────┘
//! ```
//!
//! Every arrow with latency is an event in the one queue. [`Sim::step`] pops the earliest event, dispatches it
//! to its component with a [`Ctx`] (the clock, the queue, the apiserver client and the recorder), and returns.

use crate::apiserver::{ApiServer, Client, ReqId, WatcherId};
use crate::controllers::{ControllerManager, CtrlEvent};
use crate::engine::EventQueue;
use crate::faults::runtime::FaultRuntime;
use crate::faults::{FaultEvent, FaultSpec};
use crate::kubelet::Registry;
use crate::kubelet::{Kubelet, KubeletEvent};
use crate::metrics::sample::{OutputConfig, SampleWorld, Sampler};
use crate::model::{Node, NodeId, PodPhase, Str};
use crate::recorder::{EventSink, Recorder};
use crate::rng::{SimRng, Stream};
use crate::scheduler::profile::ProfileConfig;
use crate::scheduler::{SchedEvent, Scheduler};
use crate::time::{SimDuration, SimTime};
use crate::timings::Timings;
use crate::workload::{Driver, DriverEvent, Workloads};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Every event of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A request reaches etcd.
    ApiCommit(ReqId),
    /// A failed (or notify) request's response reaches its client.
    ApiResponse(ReqId),
    /// A request is sent again (after a conflict's re-read, or a timeout's back-off).
    ApiRetry(ReqId),
    /// The next change on a watch stream reaches its client.
    Watch(WatcherId),
    Scheduler(SchedEvent),
    Kubelet(NodeId, KubeletEvent),
    Controller(CtrlEvent),
    Driver(DriverEvent),
    Fault(FaultEvent),
    /// End of the simulated duration.
    End,
}

/// What a component handler may touch.
pub struct Ctx<'a> {
    pub now: SimTime,
    pub queue: &'a mut EventQueue<Event>,
    pub api: &'a mut ApiServer,
    pub rec: &'a mut Recorder,
    pub images: &'a BTreeMap<Str, u64>,
    /// The image registry's health (fault injection).
    pub registry: crate::kubelet::Registry,
}

impl Ctx<'_> {
    /// Size of `image` in bytes: the scenario's value or the default.
    pub fn image_size(&self, image: &str) -> u64 {
        self.images.get(image).copied().unwrap_or(self.api.timings().default_image_size_bytes)
    }
}

/// A node pool: `count` nodes made from one template, named `<prefix>-<index>`.
#[derive(Clone, Debug)]
pub struct NodePool {
    pub name: Str,
    pub prefix: Str,
    /// Allocatable, labels (without the hostname) and taints of every node of the pool.
    pub template: Node,
    /// Nodes at the start of the run (scale-up adds more, continuing the indexes).
    pub count: u32,
}

impl NodePool {
    pub fn node_name(&self, index: u32) -> String {
        format!("{}-{index}", self.prefix)
    }

    /// Node `index` of the pool.
    pub fn node(&self, index: u32) -> Node {
        let mut node = self.template.clone();
        node.name = Str::from(self.node_name(index).as_str());
        node.labels.insert(crate::model::s(crate::model::node::HOSTNAME_LABEL), node.name.clone());
        node
    }
}

/// Everything a run needs, resolved and validated. Built by [`crate::scenario`] from a file, or directly.
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub name: String,
    pub seed: u64,
    pub duration: SimDuration,
    pub timings: Timings,
    pub profiles: Vec<ProfileConfig>,
    pub pools: Vec<NodePool>,
    pub images: BTreeMap<Str, u64>,
    pub workloads: Arc<Workloads>,
    pub faults: Vec<FaultSpec>,
    pub priority_classes: Vec<crate::apiserver::PriorityClass>,
    /// Sampling of `timeseries.csv` and `placements.csv`.
    pub output: OutputConfig,
    /// The FGD fragmentation measure against the scenario's own workload, for `gpu_fragmentation_mean` (set when
    /// the cluster has GPUs).
    pub gpu_frag: Option<Arc<crate::scheduler::cache::gpu_frag::FragModel>>,
}

/// A running simulation.
pub struct Sim {
    cfg: Arc<SimConfig>,
    queue: EventQueue<Event>,
    pub api: ApiServer,
    pub scheduler: Scheduler,
    pub kubelets: Vec<Kubelet>,
    pub cm: ControllerManager,
    driver: Driver,
    /// Nodes made so far per pool (the next scale-up index).
    pool_sizes: Vec<u32>,
    /// Fault injection state.
    pub faults: FaultRuntime,
    /// The image registry's health.
    registry: Registry,
    pub rec: Recorder,
    /// Fixed-interval samples (`timeseries.csv`, `placements.csv`, sample-based metrics).
    pub sampler: Sampler,
    now: SimTime,
    end: SimTime,
    events_processed: u64,
    finished: bool,
}

impl Sim {
    /// Assembles a run. `sink` receives the `events.csv` rows.
    pub fn new(cfg: Arc<SimConfig>, sink: EventSink) -> Result<Sim, String> {
        let seed = cfg.seed;
        let api = ApiServer::new(cfg.timings.clone(), cfg.priority_classes.clone(), SimRng::new(seed, Stream::Naming));
        let scheduler = Scheduler::new(&cfg.profiles, &cfg.timings, SimRng::new(seed, Stream::TieBreak))?;
        let mut kubelets = Vec::new();
        for pool in &cfg.pools {
            for i in 0..pool.count {
                kubelets.push(Kubelet::new(NodeId(kubelets.len() as u32), Arc::new(pool.node(i)), seed));
            }
        }
        let pool_sizes = cfg.pools.iter().map(|p| p.count).collect();
        let node_pools =
            cfg.pools.iter().enumerate().flat_map(|(i, p)| std::iter::repeat_n(i as u32, p.count as usize));
        let faults = FaultRuntime::new(seed, node_pools);
        let cm = ControllerManager::new(&cfg.timings);
        let driver = Driver::new(cfg.workloads.clone(), seed);
        let end = SimTime::ZERO.add(cfg.duration);
        let sampler = Sampler::new(cfg.output.clone(), end);
        let mut sim = Sim {
            queue: EventQueue::with_capacity(4096),
            api,
            scheduler,
            kubelets,
            cm,
            driver,
            pool_sizes,
            faults,
            registry: Registry::default(),
            rec: Recorder::new(sink),
            sampler,
            now: SimTime::ZERO,
            end,
            events_processed: 0,
            finished: false,
            cfg,
        };
        let mut deployments: Vec<Str> = sim.cfg.workloads.deployments.iter().map(|d| d.name.clone()).collect();
        deployments.sort();
        deployments.dedup();
        sim.rec.metrics.nodes.deployments = deployments;
        sim.rec.metrics.pod_log.disabled = !sim.cfg.output.pods;
        if !sim.cfg.workloads.job_traces.is_empty() {
            sim.rec.metrics.trace.base = sim.cfg.workloads.trace_base();
        }
        sim.boot();
        Ok(sim)
    }

    fn boot(&mut self) {
        self.queue.push(self.end, Event::End);
        let cfg = self.cfg.clone();
        let interval = cfg.timings.lease_renew_interval;
        let Sim { queue, api, rec, kubelets, driver, registry, .. } = self;
        let mut ctx = Ctx { now: SimTime::ZERO, queue, api, rec, images: &cfg.images, registry: *registry };
        for k in kubelets.iter_mut() {
            // A seeded heartbeat phase per node: kubelets did not all start at the same instant.
            let phase =
                SimRng::keyed(cfg.seed, Stream::Kubelet, u64::from(k.node_id.0)).below(interval.micros().max(1));
            k.boot(&mut ctx, SimDuration(phase));
        }
        driver.start(&mut ctx);
        crate::faults::apply::boot(&cfg, &mut ctx);
    }

    pub fn config(&self) -> &SimConfig {
        &self.cfg
    }

    pub fn now(&self) -> SimTime {
        self.now
    }

    pub fn end(&self) -> SimTime {
        self.end
    }

    pub fn events_processed(&self) -> u64 {
        self.events_processed
    }

    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Processes one event. Returns false once the run is over.
    pub fn step(&mut self) -> bool {
        if self.finished {
            return false;
        }
        let Some((t, ev)) = self.queue.pop() else {
            self.finished = true;
            self.now = self.end;
            self.take_samples(self.end, true);
            return false;
        };
        debug_assert!(t >= self.now, "time went backwards");
        if t > self.sampler.next() {
            self.take_samples(t, false);
        }
        self.now = t;
        self.events_processed += 1;
        let cfg = self.cfg.clone();
        let Sim { queue, api, rec, scheduler, kubelets, cm, driver, pool_sizes, faults, registry, .. } = self;
        let reg = *registry;
        match ev {
            Event::End => {
                self.finished = true;
                self.take_samples(t, true);
                return false;
            }
            Event::ApiCommit(id) => api.commit(id, t, queue, rec),
            Event::ApiRetry(id) => api.retry(id, t, queue),
            Event::ApiResponse(id) => {
                let Some(resp) = api.take_response(id) else { return true };
                let mut ctx = Ctx { now: t, queue, api, rec, images: &cfg.images, registry: reg };
                match resp.client {
                    Client::Scheduler => scheduler.on_response(resp, &mut ctx),
                    Client::Controller(ctl) => cm.on_response(ctl, resp, &mut ctx),
                    Client::User => driver.on_response(resp, &mut ctx),
                    Client::Kubelet(_) => {}
                }
            }
            Event::Watch(w) => {
                let Some((client, change)) = api.take_watch(w, t, queue) else { return true };
                let mut ctx = Ctx { now: t, queue, api, rec, images: &cfg.images, registry: reg };
                match client {
                    Client::Scheduler => scheduler.on_change(&change, &mut ctx),
                    Client::Controller(_) => cm.on_change(&change, &mut ctx),
                    Client::Kubelet(n) => {
                        if let Some(k) = kubelets.get_mut(n.index()) {
                            k.on_change(&change, &mut ctx);
                        }
                    }
                    Client::User => {}
                }
            }
            Event::Scheduler(e) => {
                scheduler.handle(e, &mut Ctx { now: t, queue, api, rec, images: &cfg.images, registry: reg })
            }
            Event::Kubelet(n, e) => {
                if let Some(k) = kubelets.get_mut(n.index()) {
                    k.handle(e, &mut Ctx { now: t, queue, api, rec, images: &cfg.images, registry: reg });
                }
            }
            Event::Controller(e) => {
                cm.handle(e, &mut Ctx { now: t, queue, api, rec, images: &cfg.images, registry: reg })
            }
            Event::Driver(e) => {
                driver.handle(e, &mut Ctx { now: t, queue, api, rec, images: &cfg.images, registry: reg })
            }
            Event::Fault(e) => {
                let mut ctx = Ctx { now: t, queue, api, rec, images: &cfg.images, registry: reg };
                let mut world = crate::faults::apply::World {
                    cfg: &cfg,
                    kubelets,
                    cm,
                    scheduler,
                    driver,
                    pool_sizes,
                    registry,
                    rt: faults,
                };
                crate::faults::apply::handle(&mut world, e, &mut ctx);
            }
        }
        true
    }

    /// Takes the samples due before `t` (or at `t` too, with `inclusive`: the end of the run).
    fn take_samples(&mut self, t: SimTime, inclusive: bool) {
        if t <= self.sampler.next() && !(inclusive && t == self.sampler.next()) {
            return;
        }
        let gpu_frag = self.cfg.gpu_frag.as_deref().and_then(|m| gpu_fragmentation(m, self.scheduler.cache()));
        let world =
            SampleWorld { nodes: &self.api.etcd.nodes, metrics: &self.rec.metrics, pools: &self.cfg.pools, gpu_frag };
        self.sampler.take_until(t, inclusive, &world);
    }

    /// Runs to the end.
    pub fn run(&mut self) {
        while self.step() {}
    }

    /// The time of the next event, if any.
    pub fn next_event_time(&self) -> Option<SimTime> {
        self.queue.peek_time()
    }

    /// Processes every event before `t`, then moves the clock to `t` (unless the run is over first), so that
    /// what the caller does next (e.g. [`Sim::crash_scheduler`]) happens exactly at `t`, before the events due
    /// at `t`. Never moves the clock back.
    pub fn run_until(&mut self, t: SimTime) {
        while self.next_event_time().is_some_and(|next| next < t) {
            if !self.step() {
                return;
            }
        }
        if !self.finished {
            self.now = self.now.max(t.min(self.end));
        }
    }

    /// Counts of pods per phase in the store at this moment.
    pub fn pods_by_phase(&self) -> BTreeMap<PodPhase, u64> {
        let mut counts: BTreeMap<PodPhase, u64> = PodPhase::ALL.iter().map(|p| (*p, 0)).collect();
        for (_, r) in self.api.etcd.pods.iter() {
            *counts.entry(r.state.phase).or_insert(0) += 1;
        }
        counts
    }

    /// Pending events in the queue.
    pub fn queue_len(&self) -> usize {
        self.queue.len()
    }

    /// Deletes the Node object of `node` now (`kubectl delete node`, or the cluster autoscaler deleting a
    /// scaled-down node). The request goes through the apiserver as the scenario's user (not rate limited); the
    /// machine is untouched: a kubelet still running keeps running its pods until PodGC deletes them as orphans.
    /// Deleting a node that does not exist fails with NotFound, which changes nothing.
    pub fn delete_node(&mut self, node: NodeId) {
        let req = crate::apiserver::Request::DeleteNode { node };
        self.api.submit(Client::User, req, false, self.now, &mut self.queue);
    }

    /// Terminates the machine behind `node` for good (node pool scale-down, spot interruption): its kubelet stops
    /// as in a crash and never comes back (`NodeTerminated`). The Node object is then deleted as upstream's cloud
    /// node lifecycle controller does it: once the node lifecycle controller has marked it `Ready=Unknown`
    /// (its grace period after the last heartbeat), the next 5 s pass finds its instance gone and deletes it
    /// (`NodeDeleted`). Terminating a machine twice changes nothing.
    pub fn terminate_node(&mut self, node: NodeId) {
        let cfg = self.cfg.clone();
        let Sim { queue, api, rec, kubelets, cm, now, registry, faults, .. } = self;
        let mut ctx = Ctx { now: *now, queue, api, rec, images: &cfg.images, registry: *registry };
        let Some(k) = kubelets.get_mut(node.index()) else { return };
        if let Some(f) = faults.nodes.get_mut(node.index()) {
            f.gone = true;
        }
        crate::faults::apply::terminate_machine(k, cm, &mut ctx);
    }

    /// The kube-scheduler process crashes now (see [`Scheduler::crash`], which records the `SchedulerCrashed`
    /// row). Nothing happens if it is already down.
    pub fn crash_scheduler(&mut self) {
        let cfg = self.cfg.clone();
        let Sim { queue, api, rec, scheduler, now, registry, .. } = self;
        scheduler.crash(&mut Ctx { now: *now, queue, api, rec, images: &cfg.images, registry: *registry });
    }

    /// A new kube-scheduler process starts now (see [`Scheduler::restart`]): a `SchedulerStarted` row, then a
    /// `SchedulerSynced` row when its caches have synced and it schedules again. Nothing happens if it is
    /// running.
    pub fn restart_scheduler(&mut self) {
        let cfg = self.cfg.clone();
        let Sim { queue, api, rec, scheduler, now, registry, .. } = self;
        scheduler.restart(&mut Ctx { now: *now, queue, api, rec, images: &cfg.images, registry: *registry });
    }
}

/// The cluster's GPU fragmentation as the FGD paper measures it: Σ F(n) over the scheduler's nodes, as a share of
/// their GPU milli. Per-GPU placement exists only in the scheduler's cache (no device plugin is modelled), so this
/// is the scheduler's view; `None` when it knows no GPU (e.g. while it is down after a crash).
fn gpu_fragmentation(
    model: &crate::scheduler::cache::gpu_frag::FragModel,
    cache: &crate::scheduler::cache::Cache,
) -> Option<f64> {
    let (mut frag, mut total) = (0.0, 0i64);
    for n in cache.nodes() {
        if n.gpus.count() == 0 {
            continue;
        }
        total += n.gpus.count() as i64 * crate::model::gpu::GPU_MILLI;
        frag +=
            model.node_frag_milli(n.allocatable.cpu_millis - n.requested.cpu_millis, &n.gpus.free_milli, &n.gpus.model);
    }
    (total > 0).then(|| frag / total as f64)
}
