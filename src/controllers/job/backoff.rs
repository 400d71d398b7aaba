//! The Job controller's pod-failure back-off (`pkg/controller/job/backoff_utils.go`).
//!
//! Upstream keeps a record per Job: the number of failed pods that finished after the last success, and the
//! finish time of the newest of them. Each sync folds in the pods it counts for the first time, sorted by finish
//! time (`newBackoffRecord`): failures alone add up and move the last failure time to the newest one; a success
//! resets the count, after which only failures that finished *after* the newest success count. A replacement
//! pod is created only once `10 s x 2^(n-1)` (doubling stops at the 10 minute cap) has passed since the last
//! failure (`getRemainingTimeForFailuresCount`).
//!
//! A pod's finish time (`getFinishedTime`) is the latest `finishedAt` of its terminated containers; failing
//! that, the `lastTransitionTime` of its Ready=False condition; failing that, its `deletionTimestamp` minus its
//! grace period (the moment of the DELETE); failing that, its creation time.

use crate::model::{PodSpec, PodState};
use crate::time::{SimDuration, SimTime};

/// `DefaultJobPodFailureBackOff`.
pub const POD_FAILURE_BACKOFF: SimDuration = SimDuration::from_secs(10);
/// `MaxJobPodFailureBackOff`.
pub const MAX_POD_FAILURE_BACKOFF: SimDuration = SimDuration::from_secs(600);

/// The back-off before creating a replacement after `failures` failures since the last success.
pub fn failure_backoff(failures: u32) -> SimDuration {
    if failures == 0 {
        return SimDuration::ZERO;
    }
    let mut backoff = POD_FAILURE_BACKOFF;
    for _ in 1..failures {
        backoff = backoff.saturating_mul(2);
        if backoff >= MAX_POD_FAILURE_BACKOFF {
            return MAX_POD_FAILURE_BACKOFF;
        }
    }
    backoff
}

/// When a finished pod finished, as the Job controller sees it.
///
/// kubesim's kubelet sets `finished_at` with every terminal phase (its containers' exit, or the moment it
/// rejected the pod, when upstream would fall back to the Ready=False transition). A pod being deleted before it
/// finished counts from its DELETE (`deletion` minus the pod's grace period, which every graceful delete in
/// kubesim uses). A pod removed without a graceful deletion (unbound, deleted at once) counts from `observed`,
/// when the controller saw it go, where upstream's tracking finalizer would have kept a `deletionTimestamp`
/// one watch latency earlier.
pub fn finished_time(spec: &PodSpec, state: &PodState, observed: SimTime) -> SimTime {
    if let Some(t) = state.finished() {
        return t;
    }
    if let Some(deadline) = state.deletion {
        return SimTime(deadline.micros().saturating_sub(spec.template.termination_grace_period.micros()));
    }
    observed
}

/// Upstream's `backoffRecord` of one Job.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BackoffRecord {
    pub failures_after_last_success: u32,
    pub last_failure: Option<SimTime>,
}

impl BackoffRecord {
    /// Folds in the finish times of the pods a sync counts for the first time (`newBackoffRecord`). Sorts both
    /// slices.
    pub fn update(&mut self, succeeded: &mut [SimTime], failed: &mut [SimTime]) {
        succeeded.sort_unstable();
        failed.sort_unstable();
        let Some(&last_success) = succeeded.last() else {
            if let Some(&newest) = failed.last() {
                self.failures_after_last_success += failed.len() as u32;
                self.last_failure = Some(newest);
            }
            return;
        };
        self.failures_after_last_success = 0;
        self.last_failure = None;
        for &f in failed.iter().rev() {
            if f <= last_success {
                break;
            }
            if self.last_failure.is_none() {
                self.last_failure = Some(f);
            }
            self.failures_after_last_success += 1;
        }
    }

    /// How long to wait before creating pods (`getRemainingTimeForFailuresCount`): zero once the back-off has
    /// passed (a back-off exactly equal to the elapsed time has passed).
    pub fn remaining(&self, now: SimTime) -> SimDuration {
        let Some(last) = self.last_failure else { return SimDuration::ZERO };
        let backoff = failure_backoff(self.failures_after_last_success);
        let elapsed = now.since(last);
        if backoff < elapsed { SimDuration::ZERO } else { SimDuration(backoff.micros() - elapsed.micros()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: u64) -> SimTime {
        SimTime::from_secs(secs)
    }

    #[test]
    fn backoff_sequence() {
        let secs: Vec<u64> = (1..=9).map(|n| failure_backoff(n).micros() / 1_000_000).collect();
        assert_eq!(secs, vec![10, 20, 40, 80, 160, 320, 600, 600, 600]);
        assert_eq!(failure_backoff(0), SimDuration::ZERO);
        assert_eq!(failure_backoff(u32::MAX), MAX_POD_FAILURE_BACKOFF);
    }

    #[test]
    fn failures_accumulate_from_the_newest_finish_time() {
        let mut r = BackoffRecord::default();
        r.update(&mut [], &mut [t(50), t(30)]);
        assert_eq!(r, BackoffRecord { failures_after_last_success: 2, last_failure: Some(t(50)) });
        // Two failures: 20 s from the newest.
        assert_eq!(r.remaining(t(55)), SimDuration::from_secs(15));
        assert_eq!(r.remaining(t(70)), SimDuration::ZERO);
        assert_eq!(r.remaining(t(71)), SimDuration::ZERO);
        r.update(&mut [], &mut [t(80)]);
        assert_eq!(r.remaining(t(80)), SimDuration::from_secs(40));
    }

    #[test]
    fn a_success_resets_and_only_later_failures_count() {
        let mut r = BackoffRecord { failures_after_last_success: 4, last_failure: Some(t(10)) };
        r.update(&mut [t(100)], &mut [t(90), t(120), t(110)]);
        assert_eq!(r, BackoffRecord { failures_after_last_success: 2, last_failure: Some(t(120)) });
        r.update(&mut [t(130)], &mut []);
        assert_eq!(r, BackoffRecord::default());
        assert_eq!(r.remaining(t(130)), SimDuration::ZERO);
    }
}
