//! ReplicaSet controller: keeps `spec.replicas` active pods (not terminal, not being deleted).
//!
//! As upstream (`pkg/controller/replicaset`):
//! - creations go out in *slow-start batches* of 1, 2, 4, ... (each batch waits for the previous one's
//!   responses; a failure stops the remaining batches), at most 500 per sync (`burstReplicas`);
//! - *expectations*: after asking for N creations or deletions, the controller does not act on the RS again
//!   until its informer has observed them (or 5 minutes pass), so a stale cache never double-creates;
//! - scale-down deletes the least valuable pods first (unscheduled, pending, not ready, restarted more, newer).

use super::{CtrlEvent, Informers, WorkQueue, now_event};
use crate::apiserver::{Client, Ctl, NewPod, Request, Response};
use crate::etcd::Op;
use crate::model::{OwnerRef, PodId, PodPhase, PodReason, PodState, ReplicaSetId};
use crate::sim::Ctx;
use crate::time::{SimDuration, SimTime};
use slotmap::SecondaryMap;

/// Upstream `burstReplicas`: most pods created or deleted in one sync.
pub const BURST_REPLICAS: i64 = 500;
/// Upstream `ExpectationsTimeout`.
pub const EXPECTATIONS_TIMEOUT: SimDuration = SimDuration::from_secs(300);

/// Creations and deletions a controller waits to observe (upstream `ControllerExpectations`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Expectations {
    pub adds: i64,
    pub dels: i64,
    pub set_at: SimTime,
}

impl Expectations {
    pub fn satisfied(&self, now: SimTime) -> bool {
        (self.adds <= 0 && self.dels <= 0) || now.since(self.set_at) > EXPECTATIONS_TIMEOUT
    }
}

/// A slow-start creation in progress.
#[derive(Clone, Copy, Debug)]
struct SlowStart {
    remaining: i64,
    in_flight: i64,
    batch: i64,
    failed: bool,
}

#[derive(Default)]
pub struct ReplicaSetController {
    queue: WorkQueue<ReplicaSetId>,
    expectations: SecondaryMap<ReplicaSetId, Expectations>,
    creating: SecondaryMap<ReplicaSetId, SlowStart>,
    /// Pods created so far per ReplicaSet: the next pod's ordinal (its random-stream key).
    created: SecondaryMap<ReplicaSetId, u64>,
}

impl ReplicaSetController {
    pub fn enqueue(&mut self, id: ReplicaSetId, ctx: &mut Ctx) {
        if self.queue.add(id) {
            now_event(ctx, CtrlEvent::SyncReplicaSet(id));
        }
    }

    /// A pod owned by `rs` changed: lower expectations as upstream's add/update/delete handlers do.
    pub fn pod_changed(&mut self, rs: ReplicaSetId, op: Op, old: Option<PodState>, new: &PodState, ctx: &mut Ctx) {
        if let Some(exp) = self.expectations.get_mut(rs) {
            match op {
                Op::Added => exp.adds -= 1,
                Op::Deleted if old.is_none_or(|o| o.deletion.is_none()) => exp.dels -= 1,
                Op::Modified if old.is_some_and(|o| o.deletion.is_none()) && new.deletion.is_some() => exp.dels -= 1,
                _ => {}
            }
        }
        self.enqueue(rs, ctx);
    }

    pub fn sync(&mut self, inf: &Informers, id: ReplicaSetId, ctx: &mut Ctx) {
        self.queue.done(id);
        let Some(rs) = inf.replicaset(id) else {
            self.expectations.remove(id);
            self.creating.remove(id);
            return;
        };
        if self.creating.contains_key(id) {
            return;
        }
        if !self.expectations.get(id).is_none_or(|e| e.satisfied(ctx.now)) {
            return;
        }
        let pods: &[PodId] = inf.pods_by_rs.get(id).map(|v| v.as_slice()).unwrap_or(&[]);
        let active: Vec<PodId> =
            pods.iter().copied().filter(|p| inf.pods.get(*p).is_some_and(|c| c.state.is_active())).collect();
        let diff = active.len() as i64 - i64::from(rs.replicas);
        if diff < 0 {
            let n = (-diff).min(BURST_REPLICAS);
            self.expectations.insert(id, Expectations { adds: n, dels: 0, set_at: ctx.now });
            self.creating.insert(id, SlowStart { remaining: n, in_flight: 0, batch: 1, failed: false });
            self.next_batch(inf, id, ctx);
        } else if diff > 0 {
            let n = diff.min(BURST_REPLICAS);
            let mut ranked = active;
            ranked.sort_by_key(|p| {
                let c = &inf.pods[*p];
                let phase_rank = match c.state.phase {
                    PodPhase::Pending => 0,
                    PodPhase::Running => 2,
                    _ => 1,
                };
                (
                    c.state.node.is_some(),
                    phase_rank,
                    c.state.ready,
                    std::cmp::Reverse(c.state.restart_count),
                    std::cmp::Reverse(c.spec.uid),
                )
            });
            self.expectations.insert(id, Expectations { adds: 0, dels: n, set_at: ctx.now });
            for pod in ranked.into_iter().take(n as usize) {
                let req = Request::DeletePod { pod, grace: None, reason: PodReason::Deleted };
                ctx.api.submit(Client::Controller(Ctl::ReplicaSet), req, false, ctx.now, ctx.queue);
            }
        }
    }

    fn next_batch(&mut self, inf: &Informers, id: ReplicaSetId, ctx: &mut Ctx) {
        let Some(rs) = inf.replicaset(id) else { return };
        let Some(ss) = self.creating.get_mut(id) else { return };
        let n = ss.batch.min(ss.remaining);
        ss.remaining -= n;
        ss.in_flight = n;
        let created = self.created.entry(id).map(|e| e.or_insert(0));
        let Some(created) = created else { return };
        for _ in 0..n {
            let ordinal = *created;
            *created += 1;
            let new = NewPod {
                name: None,
                generate_name: format!("{}-", rs.name).into(),
                namespace: rs.namespace.clone(),
                owner: Some(OwnerRef::ReplicaSet(id)),
                workload: rs.workload.clone(),
                rng_key: (u64::from(rs.workload_index) << 40) | ordinal,
                template: rs.template.clone(),
            };
            ctx.api.submit(Client::Controller(Ctl::ReplicaSet), Request::CreatePod(new), true, ctx.now, ctx.queue);
        }
    }

    pub fn on_response(&mut self, inf: &Informers, resp: Response, ctx: &mut Ctx) {
        match &resp.request {
            Request::CreatePod(new) => {
                let Some(OwnerRef::ReplicaSet(id)) = new.owner else { return };
                let Some(ss) = self.creating.get_mut(id) else { return };
                ss.in_flight -= 1;
                if resp.result.is_err() {
                    ss.failed = true;
                    if let Some(e) = self.expectations.get_mut(id) {
                        e.adds -= 1;
                    }
                }
                if ss.in_flight > 0 {
                    return;
                }
                if ss.failed || ss.remaining == 0 {
                    let skipped = ss.remaining;
                    self.creating.remove(id);
                    if let Some(e) = self.expectations.get_mut(id) {
                        e.adds -= skipped;
                    }
                    self.enqueue(id, ctx);
                } else {
                    ss.batch = (ss.batch * 2).min(ss.remaining);
                    self.next_batch(inf, id, ctx);
                }
            }
            Request::DeletePod { pod, .. } => {
                // Only failures come back: the pod is already gone, so its deletion will not be observed.
                let owner = inf.pods.get(*pod).and_then(|c| c.spec.owner);
                if let Some(OwnerRef::ReplicaSet(id)) = owner
                    && let Some(e) = self.expectations.get_mut(id)
                {
                    e.dels -= 1;
                    self.enqueue(id, ctx);
                }
            }
            _ => {}
        }
    }
}
