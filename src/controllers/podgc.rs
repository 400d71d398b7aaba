//! Pod garbage collector (`pkg/controller/podgc`): every 20 s, if more terminated pods exist than
//! `--terminated-pod-gc-threshold` (12,500), deletes the excess, evicted pods first, then the oldest.
//! This is also what keeps a long run's memory bounded when bare pods finish and are never deleted.

use super::{CtrlEvent, Informers};
use crate::apiserver::{Client, Ctl, Request};
use crate::model::{PodId, PodReason};
use crate::sim::{Ctx, Event};
use crate::time::{SimDuration, SimTime};
use crate::timings::Timings;

pub struct PodGcController {
    period: SimDuration,
    threshold: u64,
    pending: bool,
}

impl PodGcController {
    pub fn new(t: &Timings) -> PodGcController {
        PodGcController { period: t.pod_gc_period, threshold: t.terminated_pod_gc_threshold, pending: false }
    }

    /// A pod became terminal: make sure a pass is coming if the threshold is exceeded. Passes run on the
    /// controller's 20 s grid; a pass with nothing to do changes nothing, so only useful ones are simulated.
    pub fn pod_terminated(&mut self, inf: &Informers, ctx: &mut Ctx) {
        if self.threshold > 0 && inf.terminal_pods > self.threshold && !self.pending {
            self.pending = true;
            let at = SimTime(ctx.now.micros() + 1).ceil_to_period(SimTime::ZERO, self.period);
            ctx.queue.push(at, Event::Controller(CtrlEvent::PodGc));
        }
    }

    pub fn run(&mut self, inf: &Informers, ctx: &mut Ctx) {
        self.pending = false;
        if inf.terminal_pods <= self.threshold {
            return;
        }
        let excess = (inf.terminal_pods - self.threshold) as usize;
        let mut terminated: Vec<(bool, u64, PodId)> = inf
            .pods
            .iter()
            .filter(|(_, c)| c.state.phase.is_terminal() && c.state.deletion.is_none())
            .map(|(id, c)| (c.state.reason != PodReason::TaintEviction, c.spec.uid, id))
            .collect();
        terminated.sort_unstable();
        for (_, _, pod) in terminated.into_iter().take(excess) {
            let req = Request::DeletePod { pod, grace: Some(SimDuration::ZERO), reason: PodReason::GarbageCollected };
            ctx.api.submit(Client::Controller(Ctl::PodGc), req, false, ctx.now, ctx.queue);
        }
    }
}
