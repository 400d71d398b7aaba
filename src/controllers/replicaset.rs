//! ReplicaSet controller: keeps `spec.replicas` active pods (not terminal, not being deleted).
//!
//! As upstream (`pkg/controller/replicaset`):
//! - creations go out in *slow-start batches* of 1, 2, 4, ... (each batch waits for the previous one's
//!   responses; a failure stops the remaining batches), at most 500 per sync (`burstReplicas`);
//! - *expectations*: after asking for N creations or deletions, the controller does not act on the RS again
//!   until its informer has observed them (or 5 minutes pass), so a stale cache never double-creates;
//! - scale-down deletes the least valuable pods first, in upstream's order (`ActivePodsWithRanks`): unscheduled,
//!   then Pending, then not ready, then on nodes crowded with the Deployment's pods, then more recently ready
//!   (log2 buckets), then restarted more, then newer (log2 buckets); ties by UID (upstream compares UID strings).
//! - status (`replicas`, `readyReplicas`, `availableReplicas`) is rewritten on every sync where it changed.

use super::{CtrlEvent, Informers, WorkQueue, key_of, now_event, tag_of, write_succeeded};
use crate::apiserver::{Client, Ctl, NewPod, Request, Response};
use crate::etcd::Op;
use crate::model::workload::ReplicaSetStatus;
use crate::model::{NodeId, OwnerRef, PodId, PodPhase, PodReason, PodState, ReplicaSet, ReplicaSetId};
use crate::sim::{Ctx, Event};
use crate::time::{SimDuration, SimTime};
use slotmap::SecondaryMap;
use std::collections::BTreeMap;

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

    /// Sends a write of `id`'s sync; its answer comes back to [`Self::on_response`].
    fn send(&mut self, id: ReplicaSetId, req: Request, ctx: &mut Ctx) {
        self.queue.sent(id);
        ctx.api.submit_tagged(Client::Controller(Ctl::ReplicaSet), req, tag_of(id), ctx.now, ctx.queue);
    }

    pub fn sync(&mut self, inf: &Informers, id: ReplicaSetId, ctx: &mut Ctx) {
        if !self.queue.start(id) {
            return;
        }
        let Some((rs, rs_rv)) = inf.replicasets.get(id).map(|(r, rv)| (r.clone(), *rv)) else {
            self.expectations.remove(id);
            self.creating.remove(id);
            self.queue.remove(id);
            return;
        };
        let counts = inf.counts_by_rs.get(id).copied().unwrap_or_default();
        let satisfied = self.expectations.get(id).is_none_or(|e| e.satisfied(ctx.now));
        if !self.creating.contains_key(id) && satisfied {
            self.manage_replicas(inf, id, &rs, counts.active, ctx);
        }
        // Status, recomputed on every sync (upstream `calculateStatus`). Available = ready (minReadySeconds 0).
        let status = ReplicaSetStatus {
            replicas: counts.active,
            ready_replicas: counts.ready,
            available_replicas: counts.ready,
        };
        if status != rs.status {
            self.send(id, Request::ReplicaSetStatus { id, status, rv: Some(rs_rv) }, ctx);
        }
    }

    /// Upstream `manageReplicas`, with `active` the number of active pods (the informer's counts: the pods
    /// themselves are listed only to choose victims).
    fn manage_replicas(&mut self, inf: &Informers, id: ReplicaSetId, rs: &ReplicaSet, active: i32, ctx: &mut Ctx) {
        let diff = i64::from(active) - i64::from(rs.replicas);
        if diff < 0 {
            let n = (-diff).min(BURST_REPLICAS);
            self.expectations.insert(id, Expectations { adds: n, dels: 0, set_at: ctx.now });
            self.creating.insert(id, SlowStart { remaining: n, in_flight: 0, batch: 1, failed: false });
            self.next_batch(inf, id, ctx);
        } else if diff > 0 {
            let n = diff.min(BURST_REPLICAS) as usize;
            let pods: &[PodId] = inf.pods_by_rs.get(id).map(|v| v.as_slice()).unwrap_or(&[]);
            let active: Vec<PodId> =
                pods.iter().copied().filter(|p| inf.pods.get(*p).is_some_and(|c| c.state.is_active())).collect();
            let victims = pods_to_delete(inf, rs, &active, n, ctx.now);
            self.expectations.insert(id, Expectations { adds: 0, dels: n as i64, set_at: ctx.now });
            for pod in victims {
                self.send(id, Request::DeletePod { pod, grace: None, reason: PodReason::Deleted }, ctx);
            }
        }
    }

    fn next_batch(&mut self, inf: &Informers, id: ReplicaSetId, ctx: &mut Ctx) {
        let Some(rs) = inf.replicaset(id).cloned() else { return };
        let Some(ss) = self.creating.get_mut(id) else { return };
        let n = ss.batch.min(ss.remaining);
        ss.remaining -= n;
        ss.in_flight = n;
        for _ in 0..n {
            let Some(created) = self.created.entry(id).map(|e| e.or_insert(0)) else { return };
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
            self.send(id, Request::CreatePod(new), ctx);
        }
    }

    /// The answer to one of a sync's writes.
    pub fn on_response(&mut self, inf: &Informers, resp: Response, ctx: &mut Ctx) {
        let Some(id) = key_of::<ReplicaSetId>(resp.tag) else { return };
        let ok = write_succeeded(&resp);
        match &resp.request {
            Request::CreatePod(_) => {
                if let Some(ss) = self.creating.get_mut(id) {
                    ss.in_flight -= 1;
                    if !ok {
                        ss.failed = true;
                        if let Some(e) = self.expectations.get_mut(id) {
                            e.adds -= 1;
                        }
                    }
                    if ss.in_flight == 0 {
                        if ss.failed || ss.remaining == 0 {
                            // Every pod not created is un-expected; the key is resynced below.
                            let skipped = ss.remaining;
                            self.creating.remove(id);
                            if let Some(e) = self.expectations.get_mut(id) {
                                e.adds -= skipped;
                            }
                        } else {
                            ss.batch = (ss.batch * 2).min(ss.remaining);
                            self.next_batch(inf, id, ctx);
                        }
                    }
                }
            }
            Request::DeletePod { .. } if !ok => {
                if let Some(e) = self.expectations.get_mut(id) {
                    e.dels -= 1;
                }
            }
            _ => {}
        }
        if let Some(delay) = self.queue.answered(id, ok) {
            ctx.queue.push(ctx.now.add(delay), Event::Controller(CtrlEvent::SyncReplicaSet(id)));
        }
    }
}

/// `floor(log2(now - t))` with the duration in nanoseconds (upstream's LogarithmicScaleDown bucket); -1 if the
/// time is not in the past.
fn log_bucket(now: SimTime, t: SimTime) -> i64 {
    let ns = now.micros().saturating_sub(t.micros()).saturating_mul(1000);
    if ns == 0 { -1 } else { 63 - i64::from(ns.leading_zeros()) }
}

/// Upstream `getPodsToDelete`: all of them if every active pod goes, otherwise the first `n` by rank.
fn pods_to_delete(inf: &Informers, rs: &ReplicaSet, active: &[PodId], n: usize, now: SimTime) -> Vec<PodId> {
    if n >= active.len() {
        return active.to_vec();
    }
    // Rank = active pods of the same Deployment (all its ReplicaSets) on the same node.
    let mut per_node: BTreeMap<Option<NodeId>, i64> = BTreeMap::new();
    let related: Vec<PodId> = match rs.owner {
        Some(d) => inf
            .replicasets
            .iter()
            .filter(|(_, (r, _))| r.owner == Some(d))
            .flat_map(|(rid, _)| inf.pods_by_rs.get(rid).map(|v| v.as_slice()).unwrap_or(&[]).iter().copied())
            .collect(),
        None => active.to_vec(),
    };
    for p in related {
        if let Some(c) = inf.pods.get(p)
            && c.state.is_active()
        {
            *per_node.entry(c.state.node).or_insert(0) += 1;
        }
    }
    let mut ranked: Vec<PodId> = active.to_vec();
    let key = |p: &PodId| {
        let c = &inf.pods[*p];
        let phase = match c.state.phase {
            PodPhase::Pending => 0,
            PodPhase::Running => 2,
            _ => 0,
        };
        let rank = per_node.get(&c.state.node).copied().unwrap_or(0);
        (c.state.node.is_some(), phase, c.state.ready, std::cmp::Reverse(rank))
    };
    let uid = |p: &PodId| inf.pods[*p].spec.uid.to_string();
    ranked.sort_by(|a, b| {
        let (ca, cb) = (&inf.pods[*a], &inf.pods[*b]);
        key(a)
            .cmp(&key(b))
            // (Upstream step 6, the ready-time bucket of two ready pods, needs the Ready transition time, which
            // pods do not carry yet: skipped.)
            .then_with(|| cb.state.restart_count.cmp(&ca.state.restart_count))
            .then_with(|| {
                let (ba, bb) = (log_bucket(now, ca.spec.created), log_bucket(now, cb.spec.created));
                if ca.spec.created != cb.spec.created && ba != bb { ba.cmp(&bb) } else { uid(a).cmp(&uid(b)) }
            })
    });
    ranked.truncate(n);
    ranked
}
