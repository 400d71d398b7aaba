//! Simulated kubelets, one per node, with fake containers.
//!
//! A kubelet learns of the pods bound to its node through its own watch (`spec.nodeName=<node>`), admits them
//! against the node's allocatable (rejecting as `OutOfcpu`/`OutOfmemory`/`OutOfpods` where the real kubelet
//! would), pulls missing images one at a time into the node's image cache, starts the containers, reports
//! `Running` (and `Ready` once the template's readiness delay has passed), and when the run modelled for the pod
//! ends, reports the exit and applies `restartPolicy`: a terminal phase with the exit code and finish time, or a
//! restart after the CrashLoopBackOff wait ([`backoff`]). Deleted pods are stopped and finally removed.
//!
//! Each transition is one status write: Running, Ready, an exit (not ready, with its exit code), a restart
//! (the new restart count), a terminal phase.
//!
//! Pulled images reach the node's `status.images` as upstream: the image manager's list is refreshed every
//! 30 s, and the node status (computed every 10 s) is written when that list changed, keeping the 50 largest
//! images. The kubelet schedules a status check only for the status tick after an image becomes visible, so a
//! node that pulls nothing costs nothing, and each change is one write.
//!
//! A crashed kubelet loses its containers (and its in-memory back-off entries) and stops heartbeating; when it
//! comes back it relists its pods.

pub mod backoff;

use crate::apiserver::{Client, PodStatusPatch, Request};
use crate::etcd::{Change, Op};
use crate::model::{
    Node, NodeId, PodId, PodPhase, PodReason, PodSpec, PodState, Resources, RestartPolicy, RunModel, Str,
    normalized_image_name,
};
use crate::record;
use crate::rng::{SimRng, Stream};
use crate::sim::{Ctx, Event};
use crate::time::{Secs, SimDuration, SimTime};
use backoff::CrashLoopBackOff;
use std::sync::Arc;

/// Kubelet events. `token` identifies the step a timer was set for; a mismatch means the timer is stale.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KubeletEvent {
    /// Images are present: start the containers.
    ImagesReady { pod: PodId, token: u32 },
    /// Containers started: report Running.
    Started { pod: PodId, token: u32 },
    /// The readiness delay after the start passed: report Ready.
    Ready { pod: PodId, token: u32 },
    /// The run ended: report the exit.
    Exited { pod: PodId, token: u32 },
    /// The back-off after a crash ended: start again.
    Restart { pod: PodId, token: u32 },
    /// The containers of a deleted pod stopped: remove the pod.
    Stopped { pod: PodId, token: u32 },
    /// A node status update that may report newly pulled images (see [`Kubelet::report_images`]).
    ReportImages { token: u32 },
    /// The image pull back-off after a failed pull ended: pull again.
    RetryPull { pod: PodId, token: u32 },
}

/// The kubelet's connection to the control plane.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    Online,
    /// The kubelet process hangs: it does nothing (its timers wait) but its containers keep running.
    Hung,
    /// The node is cut off from the control plane: the kubelet works locally, its writes wait in an outbox.
    Partitioned,
}

/// The image registry's health as the kubelets see it (fault injection).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Registry {
    /// Pull times are multiplied by this / 1000.
    pub slow_factor_milli: u32,
    /// Pulls fail (`ErrImagePull`).
    pub down: bool,
}

impl Default for Registry {
    fn default() -> Registry {
        Registry { slow_factor_milli: 1000, down: false }
    }
}

/// The kubelet's image pull back-off (`flowcontrol.NewBackOff(10s, 300s)` keyed by pod and image): 10 s after
/// the first failure, doubling, at most 300 s.
pub fn image_pull_backoff(failures: u32) -> SimDuration {
    let base = SimDuration::from_secs(10);
    base.saturating_mul(1u64 << failures.saturating_sub(1).min(20)).min(SimDuration::from_secs(300))
}

/// Upstream `nodestatus.Images` over the image manager's list: images named as the runtime reports them
/// (`:latest` added when untagged, duplicates merged), the `max` largest (ties by name, descending, standing in
/// for the image ID), then sorted by name as the node object keeps them.
fn status_images<'a>(images: impl Iterator<Item = (&'a Str, u64)>, max: u64) -> Vec<(Str, u64)> {
    let mut list: Vec<(Str, u64)> = Vec::new();
    for (name, size) in images {
        let name = match normalized_image_name(name) {
            std::borrow::Cow::Borrowed(_) => name.clone(),
            std::borrow::Cow::Owned(n) => Str::from(n),
        };
        if !list.iter().any(|(n, _)| *n == name) {
            list.push((name, size));
        }
    }
    list.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| b.0.cmp(&a.0)));
    list.truncate(usize::try_from(max).unwrap_or(usize::MAX));
    list.sort();
    list
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Pulling,
    Starting,
    Running,
    BackingOff,
    Stopping,
    Done,
}

struct KubePod {
    id: PodId,
    spec: Arc<PodSpec>,
    phase: Phase,
    token: u32,
    /// Runs started so far (the first run is 0).
    runs: u32,
    restarts: u32,
    /// When the last run exited, and with which code (for the restart that follows).
    exited_at: SimTime,
    exit_code: i32,
    backoff: CrashLoopBackOff,
    holds_resources: bool,
    /// Failed image pulls in a row (the image back-off).
    pull_failures: u32,
    /// Readiness as the kubelet's probes see it (what it last reported, or is about to).
    ready: bool,
}

/// One node's kubelet.
pub struct Kubelet {
    pub node_id: NodeId,
    node: Arc<Node>,
    pub alive: bool,
    /// Whether the kubelet reaches the control plane (see [`Link`]).
    pub link: Link,
    /// Writes made while partitioned, sent in order when the network heals.
    outbox: Vec<Request>,
    /// Timers that fired while the kubelet hung, handled when it resumes.
    deferred: Vec<KubeletEvent>,
    pods: Vec<KubePod>,
    /// `pods[i].id` at `pod_ids[i]`: the ids packed together, so that finding a pod reads a few cache lines
    /// instead of one per pod (terminated pods stay on the list until they are deleted).
    pod_ids: Vec<PodId>,
    /// Images on the node: name as the pod gives it, when it is (or will be) available, size in bytes.
    images: Vec<(Str, SimTime, u64)>,
    /// The serialized image puller is busy until this time.
    pull_busy_until: SimTime,
    /// When the kubelet's periodic loops (status updates, image list refresh) started.
    status_origin: SimTime,
    /// The image list last written to `status.images`.
    reported_images: Vec<(Str, u64)>,
    /// The pending [`KubeletEvent::ReportImages`], with its token.
    image_report: Option<(SimTime, u32)>,
    /// Requests of admitted, non-terminal pods.
    admitted: Resources,
    admitted_pods: i64,
    /// GPU milli held by admitted pods (whole and shared). The kubelet checks only this node-level sum: which
    /// GPU a share uses is the scheduler's decision (as in the FGD paper's simulator, no device plugin).
    admitted_gpu_milli: i64,
    next_token: u32,
    seed: u64,
    /// The machine was terminated for good (see [`Kubelet::terminate`]).
    terminated: bool,
}

impl Kubelet {
    pub fn new(node_id: NodeId, node: Arc<Node>, seed: u64) -> Kubelet {
        // Images preloaded on the machine (the pool's `preloaded_images`) need no pull.
        let images = node.images.iter().map(|(name, size)| (name.clone(), SimTime::ZERO, *size)).collect();
        Kubelet {
            node_id,
            node,
            alive: false,
            link: Link::Online,
            outbox: Vec::new(),
            deferred: Vec::new(),
            pods: Vec::new(),
            pod_ids: Vec::new(),
            images,
            pull_busy_until: SimTime::ZERO,
            status_origin: SimTime::ZERO,
            reported_images: Vec::new(),
            image_report: None,
            admitted: Resources::default(),
            admitted_pods: 0,
            admitted_gpu_milli: 0,
            next_token: 0,
            seed,
            terminated: false,
        }
    }

    pub fn node(&self) -> &Arc<Node> {
        &self.node
    }

    /// Number of pods the kubelet is running or starting.
    pub fn active_pods(&self) -> usize {
        self.pods.iter().filter(|p| p.phase != Phase::Done).count()
    }

    fn token(&mut self) -> u32 {
        self.next_token = self.next_token.wrapping_add(1);
        self.next_token
    }

    fn client(&self) -> Client {
        Client::Kubelet(self.node_id)
    }

    /// Sends a write, or keeps it for later while the node is cut off.
    fn send(&mut self, req: Request, ctx: &mut Ctx) {
        if self.link == Link::Online {
            ctx.api.submit(self.client(), req, false, ctx.now, ctx.queue);
            return;
        }
        // The status manager sends the latest status per pod, not every intermediate one: merge patches.
        if let Request::PodStatus { pod, patch, .. } = &req
            && let Some(Request::PodStatus { patch: queued, .. }) =
                self.outbox.iter_mut().rev().find(|r| matches!(r, Request::PodStatus { pod: p, .. } if p == pod))
        {
            queued.merge(patch);
            return;
        }
        self.outbox.push(req);
    }

    /// The pods whose containers are running, with their specs (targets of container faults).
    pub fn running_pods(&self) -> impl Iterator<Item = (PodId, &Arc<PodSpec>)> {
        self.pods.iter().filter(|p| p.phase == Phase::Running).map(|p| (p.id, &p.spec))
    }

    fn at(&self, ctx: &mut Ctx, t: SimTime, ev: KubeletEvent) {
        ctx.queue.push(t, Event::Kubelet(self.node_id, ev));
    }

    /// First start: register the node object, then watch pods and start heartbeating.
    pub fn boot(&mut self, ctx: &mut Ctx, heartbeat_phase: SimDuration) {
        self.alive = true;
        let register = Request::CreateNode { id: self.node_id, node: Box::new((*self.node).clone()) };
        ctx.api.submit(self.client(), register, false, ctx.now, ctx.queue);
        ctx.api.connect_kubelet(self.node_id, ctx.now, ctx.queue);
        self.status_origin = ctx.now.add(heartbeat_phase);
        ctx.api.lease_start(self.node_id, self.status_origin);
        self.reported_images = self.node.images.clone();
    }

    /// The machine or the kubelet process died: containers are gone, heartbeats stop.
    /// Returns the commit time of the last Lease renewal, or `None` when the kubelet was already not renewing
    /// (hung or cut off: the node lifecycle controller already knows).
    pub fn crash(&mut self, ctx: &mut Ctx) -> Option<Option<SimTime>> {
        let was_online = self.alive && self.link == Link::Online;
        self.alive = false;
        self.link = Link::Online;
        self.outbox.clear();
        self.deferred.clear();
        self.pods.clear();
        self.pod_ids.clear();
        self.admitted = Resources::default();
        self.admitted_pods = 0;
        self.admitted_gpu_milli = 0;
        self.next_token = self.next_token.wrapping_add(1 << 16);
        self.image_report = None;
        ctx.api.disconnect_kubelet(self.node_id);
        let last = ctx.api.lease_stop(self.node_id, ctx.now);
        was_online.then_some(last)
    }

    /// The kubelet hangs or the node loses the network (`link`): heartbeats stop and the watch closes; the
    /// containers keep running. Returns the commit time of the last Lease renewal when the kubelet was online
    /// (`None` when it was already cut off).
    pub fn go_offline(&mut self, link: Link, ctx: &mut Ctx) -> Option<Option<SimTime>> {
        debug_assert!(link != Link::Online);
        let was = self.link;
        self.link = link;
        if was == Link::Online {
            self.image_report = None;
            ctx.api.disconnect_kubelet(self.node_id);
            return Some(ctx.api.lease_stop(self.node_id, ctx.now));
        }
        if was == Link::Hung && link == Link::Partitioned {
            // The process resumed but the network is still down: the timers it missed fire now.
            for ev in std::mem::take(&mut self.deferred) {
                self.at(ctx, ctx.now, ev);
            }
        }
        None
    }

    /// The kubelet is back in touch with the control plane: the timers it missed while hung fire, the writes
    /// it queued while cut off are sent in order, it renews its Lease and posts Ready, and it relists its pods.
    /// Pods that vanished from the store meanwhile (force-deleted) have their containers killed.
    pub fn reconnect(&mut self, ctx: &mut Ctx) {
        if self.link == Link::Online || !self.alive {
            self.link = Link::Online;
            return;
        }
        self.link = Link::Online;
        for ev in std::mem::take(&mut self.deferred) {
            self.at(ctx, ctx.now, ev);
        }
        for req in std::mem::take(&mut self.outbox) {
            ctx.api.submit(self.client(), req, false, ctx.now, ctx.queue);
        }
        let mut i = 0;
        while i < self.pods.len() {
            if ctx.api.etcd.pods.get(self.pods[i].id).is_none() {
                self.release(i);
                self.forget(i);
            } else {
                i += 1;
            }
        }
        self.rejoin(ctx);
    }

    /// Back in touch with the control plane (after a crash or a cut-off): the status loops restart now, the Lease
    /// is renewed, Ready posted, the pods relisted, and the image manager's list reported at the first status
    /// update (which schedules the next one for images still being pulled).
    fn rejoin(&mut self, ctx: &mut Ctx) {
        self.status_origin = ctx.now;
        ctx.api.lease_start(self.node_id, ctx.now);
        let ready = Request::NodeReady { node: self.node_id, status: crate::model::ConditionStatus::True, rv: None };
        ctx.api.submit(self.client(), ready, false, ctx.now, ctx.queue);
        ctx.api.connect_kubelet(self.node_id, ctx.now, ctx.queue);
        self.schedule_image_report(ctx.now, ctx);
    }

    /// A container fault: the running containers of `pod` exit with `exit_code` (an OOM kill when `oom`), and
    /// `restartPolicy` applies as for any exit. Returns false when the pod has no running container here.
    pub fn kill_container(&mut self, pod: PodId, exit_code: i32, oom: bool, ctx: &mut Ctx) -> bool {
        let Some(i) = self.find(pod) else { return false };
        if self.pods[i].phase != Phase::Running || !self.alive || self.link == Link::Hung {
            return false;
        }
        let reason = if oom { PodReason::OomKilled } else { PodReason::Error };
        record!(
            ctx.rec,
            ctx.now,
            ContainerKilled,
            Pod,
            &self.pods[i].spec.name,
            &self.node.name,
            "reason={} exit_code={exit_code}",
            reason.as_str()
        );
        self.finish_run(i, true, exit_code, reason, ctx);
        true
    }

    /// The kubelet starts again after a crash: it posts Ready, resumes heartbeats and relists its pods.
    pub fn restart(&mut self, ctx: &mut Ctx) {
        if self.terminated {
            // A terminated machine never comes back (a fault healing on it changes nothing).
            return;
        }
        self.alive = true;
        self.link = Link::Online;
        self.pull_busy_until = ctx.now;
        self.rejoin(ctx);
    }

    fn find(&self, id: PodId) -> Option<usize> {
        debug_assert_eq!(self.pods.len(), self.pod_ids.len());
        self.pod_ids.iter().position(|&p| p == id)
    }

    /// Takes the pod at `i` off the kubelet's list (and its id off `pod_ids`), keeping the others' order.
    fn forget(&mut self, i: usize) {
        self.pods.remove(i);
        self.pod_ids.remove(i);
    }

    /// A change on the kubelet's pod watch.
    pub fn on_change(&mut self, change: &Change, ctx: &mut Ctx) {
        if !self.alive {
            return;
        }
        let Change::Pod { id, spec, state, op } = change else { return };
        if state.node != Some(self.node_id) {
            return;
        }
        match (self.find(*id), op) {
            (Some(i), Op::Deleted) => {
                self.release(i);
                self.forget(i);
            }
            (None, Op::Deleted) => {}
            (Some(i), _) => match self.pods[i].phase {
                _ if state.deletion.is_none() => {
                    // The status manager reconciles the stored status with its own (`needsReconcile`, checked
                    // every 10 s upstream): readiness that another component changed, as the node lifecycle
                    // controller marks the pods of a NotReady node not ready, is set back to what the probes say
                    // once the kubelet sees it (live, or in the relist after it was cut off or hung).
                    if self.pods[i].ready && !state.ready && state.phase == PodPhase::Running {
                        let patch = PodStatusPatch { ready: Some(true), ..Default::default() };
                        self.send(Request::PodStatus { pod: *id, patch, rv: None }, ctx);
                    }
                }
                Phase::Stopping => {}
                // Finished before the deletion reached the kubelet (e.g. while cut off): nothing to stop.
                Phase::Done => {
                    self.forget(i);
                    self.send(Request::RemovePod { pod: *id }, ctx);
                }
                _ => self.stop(i, ctx),
            },
            (None, _) => self.admit(*id, spec, state, ctx),
        }
    }

    /// A pod newly seen on this node (bound to it, or relisted after a restart).
    fn admit(&mut self, id: PodId, spec: &Arc<PodSpec>, state: &PodState, ctx: &mut Ctx) {
        if state.phase.is_terminal() {
            return;
        }
        if state.deletion.is_some() {
            // Deleted while this kubelet was away: its containers are gone, finish the deletion.
            self.send(Request::RemovePod { pod: id }, ctx);
            return;
        }
        if state.phase == PodPhase::Running && spec.template.restart_policy == RestartPolicy::Never {
            // The node went down under a running pod that may not restart: its containers are lost.
            let patch = PodStatusPatch {
                phase: Some(PodPhase::Failed),
                ready: Some(false),
                reason: Some(PodReason::Error),
                exit_code: Some(137),
                finished_at: Some(ctx.now),
                ..Default::default()
            };
            self.send(Request::PodStatus { pod: id, patch, rv: None }, ctx);
            return;
        }
        // Admission (the kubelet's predicate admit handler): the pod must fit next to the admitted pods.
        let req = &spec.template.requests;
        let alloc = &self.node.allocatable;
        let gpu_milli = spec.template.gpu_demand().total_milli();
        let reject = if self.admitted_pods + 1 > self.node.allocatable_pods {
            Some(PodReason::OutOfPods)
        } else if req.cpu_millis > 0 && req.cpu_millis > alloc.cpu_millis - self.admitted.cpu_millis {
            Some(PodReason::OutOfCpu)
        } else if req.memory_bytes > 0 && req.memory_bytes > alloc.memory_bytes - self.admitted.memory_bytes {
            Some(PodReason::OutOfMemory)
        } else if req.scalars.iter().any(|(n, r)| *r > 0 && *r > alloc.scalar(n) - self.admitted.scalar(n))
            || (gpu_milli > 0 && gpu_milli > crate::metrics::nodes::gpu_milli(alloc) - self.admitted_gpu_milli)
        {
            Some(PodReason::OutOfExtended)
        } else {
            None
        };
        if let Some(reason) = reject {
            // No container ran; upstream's finish-time lookup falls back to the Ready=False transition, now.
            let patch = PodStatusPatch {
                phase: Some(PodPhase::Failed),
                reason: Some(reason),
                finished_at: Some(ctx.now),
                ..Default::default()
            };
            self.send(Request::PodStatus { pod: id, patch, rv: None }, ctx);
            return;
        }
        self.admitted.add(req);
        self.admitted_pods += 1;
        self.admitted_gpu_milli += gpu_milli;
        let restarts = state.restart_count + u32::from(state.phase == PodPhase::Running);
        self.pod_ids.push(id);
        self.pods.push(KubePod {
            id,
            spec: spec.clone(),
            phase: Phase::Pulling,
            token: 0,
            runs: restarts,
            restarts,
            exited_at: ctx.now,
            exit_code: 0,
            backoff: CrashLoopBackOff::default(),
            holds_resources: true,
            pull_failures: 0,
            ready: false,
        });
        let i = self.pods.len() - 1;
        self.pull_images(i, ctx);
    }

    /// Pulls the pod's missing images (one pull at a time per node), then starts its containers.
    fn pull_images(&mut self, i: usize, ctx: &mut Ctx) {
        let timings = ctx.api.timings().clone();
        let mut ready = ctx.now;
        let images: Vec<Str> = self.pods[i].spec.template.images().cloned().collect();
        let have = |kubelet: &Kubelet, image: &Str| {
            // `nginx` and `nginx:latest` are the same image to the runtime.
            let normalized = crate::model::pod::normalized_image_name(image);
            kubelet
                .images
                .iter()
                .find(|(name, _, _)| name == image || crate::model::pod::normalized_image_name(name) == normalized)
                .map(|(_, at, _)| *at)
        };
        if ctx.registry.down
            && let Some(missing) = images.iter().find(|image| have(self, image).is_none())
        {
            // ErrImagePull, then ImagePullBackOff: the pod worker pulls again once the back-off has passed.
            let token = self.token();
            let p = &mut self.pods[i];
            p.pull_failures += 1;
            p.phase = Phase::Pulling;
            p.token = token;
            let backoff = image_pull_backoff(p.pull_failures);
            let (pod, name) = (p.id, p.spec.name.clone());
            record!(
                ctx.rec,
                ctx.now,
                ImagePullBackOff,
                Pod,
                &name,
                &self.node.name,
                "image={missing} backoff_s={}",
                Secs(backoff.micros())
            );
            self.at(ctx, ctx.now.add(backoff), KubeletEvent::RetryPull { pod, token });
            return;
        }
        for image in images {
            let available = match have(self, &image) {
                Some(at) => at,
                None => {
                    let size = ctx.image_size(&image);
                    let start = self.pull_busy_until.max(ready);
                    let pull = timings.image_pull_time(size);
                    // A slow registry stretches pulls that start while it is slow.
                    let pull = SimDuration(
                        (u128::from(pull.micros()) * u128::from(ctx.registry.slow_factor_milli) / 1000) as u64,
                    );
                    let done = start.add(pull);
                    self.pull_busy_until = done;
                    self.images.push((image, done, size));
                    let report = self.report_time(done, &timings);
                    self.schedule_image_report(report, ctx);
                    done
                }
            };
            ready = ready.max(available);
        }
        let token = self.token();
        let p = &mut self.pods[i];
        p.phase = Phase::Pulling;
        p.token = token;
        p.pull_failures = 0;
        let pod = p.id;
        self.at(ctx, ready, KubeletEvent::ImagesReady { pod, token });
    }

    /// The first node status update that shows an image pulled at `ready`: the first status tick at or after the
    /// first image-list refresh at or after `ready` (both loops run from `status_origin`).
    fn report_time(&self, ready: SimTime, timings: &crate::timings::Timings) -> SimTime {
        let refreshed = ready.ceil_to_period(self.status_origin, timings.image_list_refresh_period);
        refreshed.ceil_to_period(self.status_origin, timings.node_status_update_frequency)
    }

    /// Makes sure a status check runs at `at` (or earlier).
    fn schedule_image_report(&mut self, at: SimTime, ctx: &mut Ctx) {
        if self.image_report.is_some_and(|(pending, _)| pending <= at) {
            return;
        }
        let token = self.token();
        self.image_report = Some((at, token));
        self.at(ctx, at, KubeletEvent::ReportImages { token });
    }

    /// The image list node status shows at `now`: the images the last list refresh saw.
    fn visible_images(&self, now: SimTime, ctx: &Ctx) -> Vec<(Str, u64)> {
        let timings = ctx.api.timings();
        let seen = self.images.iter().filter(|(_, ready, _)| self.report_time(*ready, timings) <= now);
        status_images(seen.map(|(name, _, size)| (name, *size)), timings.node_status_max_images)
    }

    /// A node status update: write `status.images` if the list changed, then wait for the next image to show.
    fn report_images(&mut self, ctx: &mut Ctx) {
        self.image_report = None;
        let images = self.visible_images(ctx.now, ctx);
        if images != self.reported_images {
            self.reported_images = images.clone();
            let req = Request::NodeImages { node: self.node_id, images };
            self.send(req, ctx);
        }
        let timings = ctx.api.timings().clone();
        let next =
            self.images.iter().map(|(_, ready, _)| self.report_time(*ready, &timings)).filter(|t| *t > ctx.now).min();
        if let Some(at) = next {
            self.schedule_image_report(at, ctx);
        }
    }

    pub fn handle(&mut self, ev: KubeletEvent, ctx: &mut Ctx) {
        if !self.alive {
            return;
        }
        if self.link == Link::Hung {
            self.deferred.push(ev);
            return;
        }
        let (pod, token) = match ev {
            KubeletEvent::ReportImages { token } => {
                if self.image_report.is_some_and(|(_, t)| t == token) {
                    self.report_images(ctx);
                }
                return;
            }
            KubeletEvent::ImagesReady { pod, token }
            | KubeletEvent::Started { pod, token }
            | KubeletEvent::Ready { pod, token }
            | KubeletEvent::Exited { pod, token }
            | KubeletEvent::Restart { pod, token }
            | KubeletEvent::Stopped { pod, token }
            | KubeletEvent::RetryPull { pod, token } => (pod, token),
        };
        let Some(i) = self.find(pod) else { return };
        if self.pods[i].token != token {
            return;
        }
        match ev {
            KubeletEvent::ImagesReady { .. } => self.start(i, ctx),
            KubeletEvent::Restart { .. } => self.restart_container(i, ctx),
            KubeletEvent::Started { .. } => self.started(i, ctx),
            KubeletEvent::Ready { .. } => {
                self.pods[i].ready = true;
                let patch = PodStatusPatch { ready: Some(true), ..Default::default() };
                self.send(Request::PodStatus { pod, patch, rv: None }, ctx);
            }
            KubeletEvent::Exited { .. } => self.exited(i, ctx),
            KubeletEvent::RetryPull { .. } => self.pull_images(i, ctx),
            KubeletEvent::ReportImages { .. } => {}
            KubeletEvent::Stopped { .. } => {
                self.pods[i].phase = Phase::Done;
                self.release(i);
                self.send(Request::RemovePod { pod }, ctx);
            }
        }
    }

    /// Creates and starts the pod's containers; they run after the start latency.
    fn start(&mut self, i: usize, ctx: &mut Ctx) {
        let start_latency = ctx.api.timings().container_start_latency;
        let token = self.token();
        let p = &mut self.pods[i];
        p.phase = Phase::Starting;
        p.token = token;
        let pod = p.id;
        self.at(ctx, ctx.now.add(start_latency), KubeletEvent::Started { pod, token });
    }

    /// The CrashLoopBackOff wait is over: the container is restarted (`Next` on its back-off entry), and the
    /// kubelet posts a `ContainerRestarted` event, as it posts `Started`/`BackOff` events upstream.
    fn restart_container(&mut self, i: usize, ctx: &mut Ctx) {
        let p = &mut self.pods[i];
        p.backoff.next(p.exited_at, ctx.now);
        p.runs += 1;
        p.restarts += 1;
        let waited = ctx.now.since(p.exited_at);
        record!(
            ctx.rec,
            ctx.now,
            ContainerRestarted,
            Pod,
            &p.spec.name,
            &self.node.name,
            "restart_count={} backoff_s={} exit_code={}",
            p.restarts,
            Secs(waited.micros()),
            p.exit_code
        );
        self.start(i, ctx);
    }

    fn started(&mut self, i: usize, ctx: &mut Ctx) {
        let token = self.token();
        let seed = self.seed;
        let p = &mut self.pods[i];
        p.phase = Phase::Running;
        p.token = token;
        let readiness_delay = p.spec.template.readiness_delay;
        p.ready = readiness_delay == SimDuration::ZERO;
        // A restart resets readiness: the pod is Ready again `readiness_delay` after each start.
        let patch = PodStatusPatch {
            phase: Some(PodPhase::Running),
            ready: Some(readiness_delay == SimDuration::ZERO),
            restart_count: Some(p.restarts),
            ..Default::default()
        };
        let pod = p.id;
        let run = match &p.spec.template.run {
            RunModel::Forever => None,
            RunModel::For(dist) => {
                // Keyed by (pod, run): the same pod runs as long under any policy (common random numbers).
                let mut rng = SimRng::keyed(seed, Stream::Durations, p.spec.rng_key ^ (u64::from(p.runs) << 48));
                Some(dist.sample(&mut rng))
            }
        };
        self.send(Request::PodStatus { pod, patch, rv: None }, ctx);
        if readiness_delay > SimDuration::ZERO {
            // Same token as the exit: an exit before the delay makes this timer stale.
            self.at(ctx, ctx.now.add(readiness_delay), KubeletEvent::Ready { pod, token });
        }
        if let Some(d) = run {
            self.at(ctx, ctx.now.add(d), KubeletEvent::Exited { pod, token });
        }
    }

    fn exited(&mut self, i: usize, ctx: &mut Ctx) {
        let p = &self.pods[i];
        let exit = p.spec.template.exit;
        let mut rng = SimRng::keyed(self.seed, Stream::Workload, p.spec.rng_key ^ (u64::from(p.runs) << 48));
        let failed = rng.chance(exit.failure_probability);
        let exit_code = if failed { exit.failure_exit_code } else { 0 };
        self.finish_run(i, failed, exit_code, PodReason::Error, ctx);
    }

    /// A run ended (by itself or killed): a terminal phase, or CrashLoopBackOff then a restart.
    fn finish_run(&mut self, i: usize, failed: bool, exit_code: i32, reason: PodReason, ctx: &mut Ctx) {
        let p = &mut self.pods[i];
        // `getPhase`: Always restarts every exit, OnFailure only failed ones, Never none.
        let restart = match p.spec.template.restart_policy {
            RestartPolicy::Always => true,
            RestartPolicy::OnFailure => failed,
            RestartPolicy::Never => false,
        };
        let pod = p.id;
        if !restart {
            let phase = if failed { PodPhase::Failed } else { PodPhase::Succeeded };
            p.phase = Phase::Done;
            p.ready = false;
            let patch = PodStatusPatch {
                phase: Some(phase),
                ready: Some(false),
                reason: failed.then_some(reason),
                exit_code: Some(exit_code),
                finished_at: Some(ctx.now),
                ..Default::default()
            };
            self.send(Request::PodStatus { pod, patch, rv: None }, ctx);
            self.release(i);
            return;
        }
        // The container waits in CrashLoopBackOff (not ready) until the back-off lets it restart.
        p.exited_at = ctx.now;
        p.exit_code = exit_code;
        p.phase = Phase::BackingOff;
        p.ready = false;
        let restart_at = p.backoff.restart_at(ctx.now);
        let token = self.token();
        self.pods[i].token = token;
        let patch = PodStatusPatch { ready: Some(false), exit_code: Some(exit_code), ..Default::default() };
        self.send(Request::PodStatus { pod, patch, rv: None }, ctx);
        self.at(ctx, restart_at, KubeletEvent::Restart { pod, token });
    }

    /// Graceful termination: containers get SIGTERM, exit after their stop latency (at most the grace period),
    /// then the kubelet removes the pod.
    fn stop(&mut self, i: usize, ctx: &mut Ctx) {
        let stop = ctx.api.timings().container_stop_latency;
        let token = self.token();
        let p = &mut self.pods[i];
        let grace = p.spec.template.termination_grace_period;
        p.phase = Phase::Stopping;
        p.ready = false;
        p.token = token;
        let pod = p.id;
        self.at(ctx, ctx.now.add(stop.min(grace)), KubeletEvent::Stopped { pod, token });
    }

    fn release(&mut self, i: usize) {
        let p = &mut self.pods[i];
        if p.holds_resources {
            p.holds_resources = false;
            self.admitted.sub(&p.spec.template.requests);
            self.admitted_pods -= 1;
            self.admitted_gpu_milli -= p.spec.template.gpu_demand().total_milli();
        }
    }

    /// The machine is terminated for good (node pool scale-down, spot interruption): like a crash, its containers
    /// are gone and its heartbeats stop, but it never comes back ([`Kubelet::restart`] does nothing afterwards).
    /// The Node object stays until someone deletes it. Returns the commit time of the last Lease renewal when
    /// the kubelet was running and online (as [`Kubelet::crash`]); `None` if it was already down, cut off or
    /// terminated.
    pub fn terminate(&mut self, ctx: &mut Ctx) -> Option<Option<SimTime>> {
        if self.terminated {
            return None;
        }
        self.terminated = true;
        if !self.alive {
            return None;
        }
        self.crash(ctx)
    }

    /// Whether the machine was terminated for good.
    pub fn is_terminated(&self) -> bool {
        self.terminated
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::s;

    #[test]
    fn node_status_lists_the_largest_images_by_runtime_name() {
        let images: Vec<(Str, u64)> =
            vec![(s("a"), 5), (s("b:v1"), 50), (s("c@sha256:00"), 20), (s("a:latest"), 5), (s("d"), 20), (s("e"), 1)];
        let list = status_images(images.iter().map(|(n, sz)| (n, *sz)), 3);
        // b (50) then the 20s, tie broken by name descending (d before c); a:latest (5) and e (1) are cut.
        assert_eq!(list, vec![(s("b:v1"), 50), (s("c@sha256:00"), 20), (s("d:latest"), 20)]);
        let all = status_images(images.iter().map(|(n, sz)| (n, *sz)), 50);
        assert_eq!(all.len(), 5, "a and a:latest are one image");
        assert_eq!(all[0], (s("a:latest"), 5));
    }
}
