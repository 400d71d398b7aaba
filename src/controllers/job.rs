//! Job controller (non-indexed Jobs): runs pods until `completions` succeed, at most `parallelism` at once,
//! replacing failed pods after the upstream pod-failure back-off (10 s doubling, capped at 10 minutes, counted
//! from the newest failure since the last success), and fails the Job with `BackoffLimitExceeded` once more
//! than `backoffLimit` pods failed. Pods being deleted count as failed, as upstream's default
//! `podReplacementPolicy` does.

use super::replicaset::Expectations;
use super::{CtrlEvent, Informers, WorkQueue, key_of, now_event, tag_of, write_succeeded};
use crate::apiserver::{Client, Ctl, NewPod, Request, Response};
use crate::etcd::Op;
use crate::model::workload::{JobCondition, JobFailReason, JobStatus};
use crate::model::{JobId, OwnerRef, PodId, PodPhase, PodReason, PodState};
use crate::sim::{Ctx, Event};
use crate::time::{SimDuration, SimTime};
use slotmap::SecondaryMap;

/// `DefaultJobPodFailureBackOff`.
pub const POD_FAILURE_BACKOFF: SimDuration = SimDuration::from_secs(10);
/// `MaxJobPodFailureBackOff`.
pub const MAX_POD_FAILURE_BACKOFF: SimDuration = SimDuration::from_secs(600);

/// Terminal outcomes a Job has counted (upstream keeps them in the Job's status, using finalizers, so that
/// deleting finished pods, e.g. by pod GC, never makes a Job forget them).
#[derive(Clone, Debug, Default)]
struct Tally {
    succeeded: i32,
    failed: i32,
    /// When each failure since the last success was observed.
    failures_since_success: Vec<SimTime>,
}

#[derive(Default)]
pub struct JobController {
    queue: WorkQueue<JobId>,
    expectations: SecondaryMap<JobId, Expectations>,
    created: SecondaryMap<JobId, u64>,
    /// A delayed sync is pending at this time (back-off).
    timer: SecondaryMap<JobId, SimTime>,
    tally: SecondaryMap<JobId, Tally>,
    /// Pods whose outcome has been counted.
    counted: SecondaryMap<PodId, ()>,
}

/// The back-off before creating a replacement after `failures` consecutive failures.
pub fn failure_backoff(failures: u32) -> SimDuration {
    if failures == 0 {
        return SimDuration::ZERO;
    }
    let shift = (failures - 1).min(32);
    POD_FAILURE_BACKOFF.saturating_mul(1u64 << shift).min(MAX_POD_FAILURE_BACKOFF)
}

impl JobController {
    /// The pod-failure back-off of `id` ran out: sync again (`AddAfter` upstream).
    pub fn backoff_done(&mut self, id: JobId, ctx: &mut Ctx) {
        if self.timer.get(id).is_some_and(|t| *t <= ctx.now) {
            self.timer.remove(id);
            self.enqueue(id, ctx);
        }
    }

    pub fn enqueue(&mut self, id: JobId, ctx: &mut Ctx) {
        if self.queue.add(id) {
            now_event(ctx, CtrlEvent::SyncJob(id));
        }
    }

    /// A pod of `job` changed. Its outcome is counted once: Succeeded, or failed (Failed, or being deleted
    /// before finishing, as upstream's default `podReplacementPolicy` counts it).
    pub fn pod_changed(&mut self, job: JobId, pod: PodId, op: Op, state: &PodState, ctx: &mut Ctx) {
        if op == Op::Added
            && let Some(e) = self.expectations.get_mut(job)
        {
            e.adds -= 1;
        }
        let finished = state.phase.is_terminal() || state.deletion.is_some() || op == Op::Deleted;
        if finished && !self.counted.contains_key(pod) {
            self.counted.insert(pod, ());
            if let Some(tally) = self.tally.entry(job).map(|e| e.or_default()) {
                if state.phase == PodPhase::Succeeded {
                    tally.succeeded += 1;
                    tally.failures_since_success.clear();
                } else {
                    tally.failed += 1;
                    tally.failures_since_success.push(ctx.now);
                }
            }
        }
        if op == Op::Deleted {
            self.counted.remove(pod);
        }
        self.enqueue(job, ctx);
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

    pub fn sync(&mut self, inf: &Informers, id: JobId, ctx: &mut Ctx) {
        if !self.queue.start(id) {
            return;
        }

        let Some(&(ref job, job_rv)) = inf.jobs.get(id) else {
            self.expectations.remove(id);
            self.timer.remove(id);
            self.tally.remove(id);
            self.queue.remove(id);
            return;
        };
        let pods: &[PodId] = inf.pods_by_job.get(id).map(|v| v.as_slice()).unwrap_or(&[]);
        let active: Vec<PodId> =
            pods.iter().copied().filter(|p| inf.pods.get(*p).is_some_and(|c| c.state.is_active())).collect();
        let tally = self.tally.get(id).cloned().unwrap_or_default();
        let (succeeded, failed) = (tally.succeeded, tally.failed);
        let mut status = JobStatus { active: active.len() as i32, succeeded, failed, condition: job.status.condition };
        if status.condition.is_none() {
            if succeeded >= job.completions {
                status.condition = Some(JobCondition::Complete);
            } else if failed > job.backoff_limit {
                status.condition = Some(JobCondition::Failed(JobFailReason::BackoffLimitExceeded));
            }
        }
        if matches!(status.condition, Some(JobCondition::Failed(_))) {
            for pod in &active {
                self.send(id, Request::DeletePod { pod: *pod, grace: None, reason: PodReason::Deleted }, ctx);
            }
        } else if status.condition.is_none() && self.expectations.get(id).is_none_or(|e| e.satisfied(ctx.now)) {
            let want = job.parallelism.min(job.completions - succeeded) - active.len() as i32;
            if want > 0 {
                let consecutive = tally.failures_since_success.len() as u32;
                let last_failure = tally.failures_since_success.last().copied();
                let ready_at = last_failure.map(|f| f.add(failure_backoff(consecutive))).unwrap_or(ctx.now);
                if consecutive > 0 && ready_at > ctx.now {
                    if self.timer.get(id).is_none_or(|t| *t != ready_at) {
                        self.timer.insert(id, ready_at);
                        ctx.queue.push(ready_at, Event::Controller(CtrlEvent::JobBackoff(id)));
                    }
                } else {
                    self.create(inf, id, want, ctx);
                }
            }
        }
        if status != job.status {
            let mut updated = (**job).clone();
            updated.status = status;
            self.send(id, Request::UpdateJob { id, job: Box::new(updated), rv: Some(job_rv) }, ctx);
        }
    }

    fn create(&mut self, inf: &Informers, id: JobId, n: i32, ctx: &mut Ctx) {
        let Some(job) = inf.job(id) else { return };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_sequence() {
        let secs: Vec<u64> = (1..=8).map(|n| failure_backoff(n).micros() / 1_000_000).collect();
        assert_eq!(secs, vec![10, 20, 40, 80, 160, 320, 600, 600]);
        assert_eq!(failure_backoff(0), SimDuration::ZERO);
    }
}
