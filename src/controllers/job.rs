//! Job controller (non-indexed Jobs), as upstream `pkg/controller/job` in v1.34:
//!
//! - runs pods until `completions` succeed, at most `parallelism` at once;
//! - counts each finished pod once, at the next sync (upstream holds finished pods with its tracking finalizer
//!   and lists them in `uncountedTerminatedPods` until counted, so pod GC can never make a Job forget them);
//! - pod events and the Job's own status updates sync the Job after `syncJobBatchPeriod` (1 s), a new Job at
//!   once;
//! - replaces failed pods only after the pod-failure back-off ([`backoff`]: 10 s doubling to 10 minutes,
//!   counted from the newest failed pod's finish time), requeueing itself for the remaining time but never
//!   sooner than the batch period;
//! - fails the Job with `BackoffLimitExceeded` once more than `backoffLimit` pods failed (or, for
//!   `restartPolicy: OnFailure`, once the restarts of its running and pending pods reach the limit), deleting
//!   its active pods; the Failed condition is written once none of its pods is active or terminating (the
//!   interim `FailureTarget` of `JobPodReplacementPolicy`/`JobManagedBy`), likewise Complete
//!   (`SuccessCriteriaMet`).
//!
//! Pods being deleted count as failed, as upstream's default `podReplacementPolicy` (TerminatingOrFailed) does.

pub mod backoff;

use super::replicaset::Expectations;
use super::{CtrlEvent, Informers, WorkQueue, key_of, now_event, tag_of, write_succeeded};
use crate::apiserver::{Client, Ctl, NewPod, Request, Response};
use crate::etcd::Op;
use crate::model::workload::{JobCondition, JobFailReason, JobStatus};
use crate::model::{JobId, OwnerRef, PodId, PodPhase, PodReason, PodSpec, PodState, RestartPolicy};
use crate::sim::{Ctx, Event};
use crate::time::{SimDuration, SimTime};
use backoff::BackoffRecord;
use slotmap::SecondaryMap;

/// `syncJobBatchPeriod`: pod events and status updates sync the Job this much later (batched).
pub const SYNC_BATCH_PERIOD: SimDuration = SimDuration::from_secs(1);
/// `MaxPodCreateDeletePerSync`.
pub const MAX_POD_CREATE_PER_SYNC: i32 = 500;

/// What a Job has counted, and the pods it saw finish but has not counted yet.
#[derive(Clone, Debug, Default)]
struct Tally {
    succeeded: i32,
    failed: i32,
    /// Finished pods not yet counted by a sync: (finish time, succeeded).
    uncounted: Vec<(SimTime, bool)>,
    backoff: BackoffRecord,
    /// The terminal condition the Job has met, written once its pods are gone (upstream's interim
    /// `FailureTarget` / `SuccessCriteriaMet` conditions, kept here rather than in the Job's status).
    target: Option<JobCondition>,
}

#[derive(Default)]
pub struct JobController {
    queue: WorkQueue<JobId>,
    /// The earliest delayed sync pending per Job (the work queue's `AddAfter`: a later request for a Job that
    /// already waits is dropped, an earlier one replaces it).
    waiting: SecondaryMap<JobId, SimTime>,
    expectations: SecondaryMap<JobId, Expectations>,
    created: SecondaryMap<JobId, u64>,
    tally: SecondaryMap<JobId, Tally>,
    /// Pods whose outcome has been recorded.
    counted: SecondaryMap<PodId, ()>,
    /// Scratch buffers for the finish times a sync counts (kept to avoid allocating per sync).
    succeeded_times: Vec<SimTime>,
    failed_times: Vec<SimTime>,
}

impl JobController {
    /// Syncs the Job at once (Job added or deleted, failed request).
    pub fn enqueue(&mut self, id: JobId, ctx: &mut Ctx) {
        if self.queue.add(id) {
            now_event(ctx, CtrlEvent::SyncJob(id));
        }
    }

    /// Syncs the Job at `at` (or earlier if a sync is already due before).
    fn add_after(&mut self, id: JobId, at: SimTime, ctx: &mut Ctx) {
        if at <= ctx.now {
            return self.enqueue(id, ctx);
        }
        if self.waiting.get(id).is_some_and(|t| *t <= at) {
            return;
        }
        self.waiting.insert(id, at);
        ctx.queue.push(at, Event::Controller(CtrlEvent::SyncJob(id)));
    }

    fn enqueue_batched(&mut self, id: JobId, ctx: &mut Ctx) {
        self.add_after(id, ctx.now.add(SYNC_BATCH_PERIOD), ctx);
    }

    /// A Job changed: a new or deleted Job syncs at once, a status update after the batch period.
    pub fn job_changed(&mut self, id: JobId, op: Op, ctx: &mut Ctx) {
        match op {
            Op::Modified => self.enqueue_batched(id, ctx),
            Op::Added | Op::Deleted => self.enqueue(id, ctx),
        }
    }

    /// A pod of `job` changed. Its outcome is recorded once: Succeeded, or failed (Failed, or being deleted
    /// before finishing), with its finish time, to be counted by the next sync.
    pub fn pod_changed(&mut self, job: JobId, pod: PodId, op: Op, spec: &PodSpec, state: &PodState, ctx: &mut Ctx) {
        if op == Op::Added
            && let Some(e) = self.expectations.get_mut(job)
        {
            e.adds -= 1;
        }
        let finished = state.phase.is_terminal() || state.deletion.is_some() || op == Op::Deleted;
        if finished && !self.counted.contains_key(pod) {
            self.counted.insert(pod, ());
            if let Some(tally) = self.tally.entry(job).map(|e| e.or_default()) {
                let at = backoff::finished_time(spec, state, ctx.now);
                tally.uncounted.push((at, state.phase == PodPhase::Succeeded));
            }
        }
        if op == Op::Deleted {
            self.counted.remove(pod);
        }
        self.enqueue_batched(job, ctx);
    }

    /// Sends a write of `id`'s sync; its answer comes back to [`Self::on_response`].
    fn send(&mut self, id: JobId, req: Request, ctx: &mut Ctx) {
        self.queue.sent(id);
        ctx.api.submit_tagged(Client::Controller(Ctl::Job), req, tag_of(id), ctx.now, ctx.queue);
    }

    /// The answer to one of a sync's writes. A failed creation will never be observed: un-expect it.
    pub fn on_response(&mut self, resp: Response, ctx: &mut Ctx) {
        let Some(id) = key_of::<JobId>(resp.tag) else { return };
        let ok = write_succeeded(&resp);
        if let (Request::CreatePod(_), false) = (&resp.request, ok)
            && let Some(e) = self.expectations.get_mut(id)
        {
            e.adds -= 1;
        }
        if let Some(delay) = self.queue.answered(id, ok) {
            ctx.queue.push(ctx.now.add(delay), Event::Controller(CtrlEvent::SyncJob(id)));
        }
    }

    /// A `SyncJob` event fired: sync if the Job is queued now or its delayed sync is due (a superseded delayed
    /// sync is dropped); a Job whose previous sync's writes are still in flight syncs when they are answered.
    pub fn sync_event(&mut self, inf: &Informers, id: JobId, ctx: &mut Ctx) {
        if self.waiting.get(id).is_some_and(|t| *t == ctx.now) {
            self.waiting.remove(id);
            self.queue.mark(id);
        }
        if self.queue.start(id) {
            self.sync(inf, id, ctx);
        }
    }

    fn sync(&mut self, inf: &Informers, id: JobId, ctx: &mut Ctx) {
        let Some((job, job_rv)) = inf.jobs.get(id).map(|(j, rv)| (j.clone(), *rv)) else {
            self.expectations.remove(id);
            self.waiting.remove(id);
            self.tally.remove(id);
            self.queue.remove(id);
            return;
        };
        let job = &job;
        if job.status.condition.is_some() {
            return;
        }
        let Some(tally) = self.tally.entry(id).map(|e| e.or_default()) else { return };
        // Count the pods that finished since the last sync.
        if !tally.uncounted.is_empty() {
            self.succeeded_times.clear();
            self.failed_times.clear();
            for (at, ok) in tally.uncounted.drain(..) {
                if ok { &mut self.succeeded_times } else { &mut self.failed_times }.push(at);
            }
            tally.succeeded += self.succeeded_times.len() as i32;
            tally.failed += self.failed_times.len() as i32;
            tally.backoff.update(&mut self.succeeded_times, &mut self.failed_times);
        }
        let (succeeded, failed, record) = (tally.succeeded, tally.failed, tally.backoff);
        let pods: &[PodId] = inf.pods_by_job.get(id).map(|v| v.as_slice()).unwrap_or(&[]);
        let counts = inf.counts_by_job.get(id).copied().unwrap_or_default();
        let (mut active, mut terminating) = (counts.active, counts.terminating);
        let restarts = u32::try_from(counts.restarts).unwrap_or(u32::MAX);
        let satisfied = self.expectations.get(id).is_none_or(|e| e.satisfied(ctx.now));
        if tally.target.is_none() && (failed > job.backoff_limit || past_backoff_limit_on_failure(job, restarts)) {
            tally.target = Some(JobCondition::Failed(JobFailReason::BackoffLimitExceeded));
        }
        if matches!(tally.target, Some(JobCondition::Failed(_))) {
            // `deleteActivePods`: a normal DELETE (the pods' own grace period) for every active pod.
            let victims: Vec<PodId> =
                pods.iter().copied().filter(|p| inf.pods.get(*p).is_some_and(|c| c.state.is_active())).collect();
            for p in victims {
                self.send(id, Request::DeletePod { pod: p, grace: None, reason: PodReason::Deleted }, ctx);
            }
            terminating += active;
            active = 0;
        } else {
            if satisfied {
                let want = job.parallelism.min(job.completions - succeeded).max(0);
                let diff = want - active;
                if diff > 0 {
                    let remaining = record.remaining(ctx.now);
                    if remaining > SimDuration::ZERO {
                        // `enqueueSyncJobWithDelay`: never sooner than the batch period.
                        let at = ctx.now.add(remaining.max(SYNC_BATCH_PERIOD));
                        self.add_after(id, at, ctx);
                    } else {
                        self.create(inf, id, diff.min(MAX_POD_CREATE_PER_SYNC), ctx);
                    }
                }
            }
            if succeeded >= job.completions
                && active == 0
                && let Some(tally) = self.tally.get_mut(id)
            {
                tally.target = Some(JobCondition::Complete);
            }
        }
        // The terminal condition waits for the Job's pods to be gone; a failure also for the pods it expects.
        let target = self.tally.get(id).and_then(|t| t.target);
        let settled = active == 0 && terminating == 0 && (satisfied || target == Some(JobCondition::Complete));
        let condition = if settled { target } else { None };
        let status = JobStatus { active, succeeded, failed, condition };
        if status != job.status {
            let mut updated = (**job).clone();
            updated.status = status;
            self.send(id, Request::UpdateJob { id, job: Box::new(updated), rv: Some(job_rv) }, ctx);
        }
    }

    fn create(&mut self, inf: &Informers, id: JobId, n: i32, ctx: &mut Ctx) {
        let Some(job) = inf.job(id).cloned() else { return };
        self.expectations.insert(id, Expectations { adds: i64::from(n), dels: 0, set_at: ctx.now });
        for _ in 0..n {
            let Some(created) = self.created.entry(id).map(|e| e.or_insert(0)) else { return };
            let ordinal = *created;
            *created += 1;
            let new = NewPod {
                name: None,
                generate_name: format!("{}-", job.name).into(),
                namespace: job.namespace.clone(),
                owner: Some(OwnerRef::Job(id)),
                workload: job.name.clone(),
                rng_key: (u64::from(job.workload_index) << 40) | ordinal,
                template: job.template.clone(),
            };
            self.send(id, Request::CreatePod(new), ctx);
        }
    }
}

/// `pastBackoffLimitOnFailure`: with `restartPolicy: OnFailure`, the restarts of the Job's running and pending
/// pods reach the back-off limit (any restart when the limit is 0).
fn past_backoff_limit_on_failure(job: &crate::model::Job, restarts: u32) -> bool {
    if job.template.restart_policy != RestartPolicy::OnFailure {
        return false;
    }
    let limit = u32::try_from(job.backoff_limit).unwrap_or(0);
    if limit == 0 { restarts > 0 } else { restarts >= limit }
}
