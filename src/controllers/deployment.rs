//! Deployment controller: one ReplicaSet per pod template, named `<deployment>-<pod-template-hash>`, and the
//! RollingUpdate strategy between them (`pkg/controller/deployment`, see `docs/upstream/controllers-and-kubelet.md`).
//!
//! Each sync, in upstream's order:
//! 1. create the current template's ReplicaSet if it does not exist, sized by `NewRSNewReplicas`;
//! 2. scale the new ReplicaSet up as far as `maxSurge` allows (`replicas + maxSurge` pods in all ReplicaSets);
//!    if it scaled, stop here;
//! 3. scale old ReplicaSets down as far as `maxUnavailable` allows: first their unhealthy replicas
//!    (`cleanupUnhealthyReplicas`), then available ones while more than `replicas - maxUnavailable` stay
//!    available, oldest ReplicaSet first;
//! 4. write the status; when the new ReplicaSet has all replicas available and no old pods remain, the rollout
//!    is complete (`NewReplicaSetAvailable`), which the apiserver records as `RolloutComplete`.
//!
//! `maxSurge` rounds up and `maxUnavailable` down; if both come out 0, `maxUnavailable` is 1. Scaling a
//! Deployment goes through the same arithmetic (upstream scales all ReplicaSets proportionally; with one active
//! ReplicaSet the result is the same).

use super::{CtrlEvent, Informers, WorkQueue, key_of, now_event, tag_of};
use crate::apiserver::{Client, Ctl, Request, Response};
use crate::model::workload::{DeploymentStatus, ReplicaSetStatus};
use crate::model::{Deployment, DeploymentId, LabelSelector, PodTemplate, ReplicaSet, ReplicaSetId, Str, s};
use crate::sim::{Ctx, Event};
use slotmap::SecondaryMap;
use std::sync::Arc;

/// The label carrying the template hash on ReplicaSets and their pods.
pub const POD_TEMPLATE_HASH_LABEL: &str = "pod-template-hash";

#[derive(Default)]
pub struct DeploymentController {
    queue: WorkQueue<DeploymentId>,
    /// ReplicaSet names requested but not yet observed (an expectation of one creation).
    pending_rs: SecondaryMap<DeploymentId, Str>,
}

/// A stable hash of a template's content, encoded in upstream's `SafeEncodeString` alphabet. (Upstream hashes
/// Go's object dump, which cannot be reproduced; any stable content hash gives the same behaviour.)
pub fn template_hash(t: &PodTemplate) -> String {
    let text = format!("{:?}|{:?}|{:?}|{:?}", t.labels, t.containers, t.tolerations, t.node_selector);
    let mut h: u32 = 0x811c_9dc5;
    for b in text.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut out = String::new();
    let mut v = h;
    loop {
        out.push(ALPHABET[(v % ALPHABET.len() as u32) as usize] as char);
        v /= ALPHABET.len() as u32;
        if v == 0 {
            break;
        }
    }
    out
}

/// Upstream `ResolveFenceposts`: (maxSurge, maxUnavailable) in pods.
pub fn resolve_fenceposts(d: &Deployment) -> (i32, i32) {
    let surge = d.strategy.max_surge.scaled(d.replicas, true).max(0);
    let mut unavailable = d.strategy.max_unavailable.scaled(d.replicas, false).max(0);
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    (surge, unavailable.min(d.replicas))
}

/// A ReplicaSet of the Deployment as the controller reasons about it.
#[derive(Clone, Debug)]
struct Rs {
    id: ReplicaSetId,
    obj: Arc<ReplicaSet>,
    rv: u64,
    /// `spec.replicas` after this sync's decisions.
    spec: i32,
}

/// Upstream `NewRSNewReplicas` for RollingUpdate: how large the new ReplicaSet may be now.
fn new_rs_new_replicas(d: &Deployment, surge: i32, all_spec: i32, new_spec: i32) -> i32 {
    let max_total = d.replicas + surge;
    if all_spec >= max_total {
        return new_spec;
    }
    new_spec + (max_total - all_spec).min(d.replicas - new_spec).max(0)
}

impl DeploymentController {
    pub fn enqueue(&mut self, id: DeploymentId, ctx: &mut Ctx) {
        if self.queue.add(id) {
            now_event(ctx, CtrlEvent::SyncDeployment(id));
        }
    }

    /// Sends a write of `id`'s sync; its answer comes back to [`Self::on_response`].
    fn send(&mut self, id: DeploymentId, req: Request, ctx: &mut Ctx) {
        self.queue.sent(id);
        ctx.api.submit_tagged(Client::Controller(Ctl::Deployment), req, tag_of(id), ctx.now, ctx.queue);
    }

    fn scale(&mut self, id: DeploymentId, rs: &mut Rs, replicas: i32, ctx: &mut Ctx) {
        if rs.spec == replicas {
            return;
        }
        rs.spec = replicas;
        self.send(id, Request::ScaleReplicaSet { id: rs.id, replicas, rv: Some(rs.rv) }, ctx);
    }

    /// The answer to one of a sync's writes: a failure requeues the Deployment with back-off.
    pub fn on_response(&mut self, resp: Response, ctx: &mut Ctx) {
        let Some(id) = key_of::<DeploymentId>(resp.tag) else { return };
        if let (Request::CreateReplicaSet(_), Err(_)) = (&resp.request, &resp.result) {
            self.pending_rs.remove(id);
        }
        if let Some(delay) = self.queue.answered(id, resp.result.is_ok()) {
            ctx.queue.push(ctx.now.add(delay), Event::Controller(CtrlEvent::SyncDeployment(id)));
        }
    }

    pub fn sync(&mut self, inf: &Informers, id: DeploymentId, ctx: &mut Ctx) {
        if !self.queue.start(id) {
            return;
        }
        let Some((d, d_rv)) = inf.deployments.get(id).map(|(d, rv)| (d.clone(), *rv)) else {
            self.pending_rs.remove(id);
            self.queue.remove(id);
            return;
        };
        let hash = template_hash(&d.template);
        let new_name: Str = format!("{}-{}", d.name, hash).into();
        // Owned ReplicaSets, oldest first (upstream `ReplicaSetsByCreationTimestamp`, ties by name).
        let mut owned: Vec<Rs> = inf
            .replicasets
            .iter()
            .filter(|(_, (rs, _))| rs.owner == Some(id))
            .map(|(rid, (rs, rv))| Rs { id: rid, obj: rs.clone(), rv: *rv, spec: rs.replicas })
            .collect();
        owned.sort_by(|a, b| (a.obj.created, &a.obj.name).cmp(&(b.obj.created, &b.obj.name)));
        let (surge, max_unavailable) = resolve_fenceposts(&d);
        let all_spec: i32 = owned.iter().map(|r| r.spec).sum();
        let Some(new_idx) = owned.iter().position(|r| r.obj.name == new_name) else {
            if self.pending_rs.get(id).is_some_and(|n| *n == new_name) {
                return;
            }
            let replicas = new_rs_new_replicas(&d, surge, all_spec, 0);
            self.create_rs(&d, id, new_name, &hash, replicas, ctx);
            return;
        };
        self.pending_rs.remove(id);

        // 2. Scale the new ReplicaSet up (or down to the Deployment's size).
        let new_spec = owned[new_idx].spec;
        let target =
            if new_spec > d.replicas { d.replicas } else { new_rs_new_replicas(&d, surge, all_spec, new_spec) };
        if target != new_spec {
            self.scale(id, &mut owned[new_idx], target, ctx);
            self.write_status(&d, id, d_rv, &owned, new_idx, ctx);
            return;
        }

        // 3. Scale old ReplicaSets down.
        let min_available = d.replicas - max_unavailable;
        let new_unavailable = owned[new_idx].spec - owned[new_idx].obj.status.available_replicas;
        let total_spec: i32 = owned.iter().map(|r| r.spec).sum();
        let max_scaled_down = total_spec - min_available - new_unavailable;
        if max_scaled_down > 0 {
            // cleanupUnhealthyReplicas: old ReplicaSets' unavailable replicas go first.
            let mut cleaned = 0;
            for (i, rs) in owned.iter_mut().enumerate() {
                if i == new_idx || cleaned >= max_scaled_down || rs.spec == 0 {
                    continue;
                }
                let unhealthy = rs.spec - rs.obj.status.available_replicas;
                if unhealthy <= 0 {
                    continue;
                }
                let n = (max_scaled_down - cleaned).min(unhealthy);
                cleaned += n;
                let to = rs.spec - n;
                let mut copy = rs.clone();
                self.scale(id, &mut copy, to, ctx);
                rs.spec = copy.spec;
            }
            // scaleDownOldReplicaSetsForRollingUpdate: available replicas above the minimum.
            let available: i32 = owned.iter().map(|r| r.obj.status.available_replicas.min(r.spec)).sum();
            if available > min_available {
                let total = available - min_available;
                let mut done = 0;
                for (i, rs) in owned.iter_mut().enumerate() {
                    if i == new_idx || done >= total || rs.spec == 0 {
                        continue;
                    }
                    let n = rs.spec.min(total - done);
                    done += n;
                    let to = rs.spec - n;
                    let mut copy = rs.clone();
                    self.scale(id, &mut copy, to, ctx);
                    rs.spec = copy.spec;
                }
            }
        }
        self.write_status(&d, id, d_rv, &owned, new_idx, ctx);
    }

    fn create_rs(&mut self, d: &Deployment, id: DeploymentId, name: Str, hash: &str, replicas: i32, ctx: &mut Ctx) {
        let mut template = (*d.template).clone();
        template.labels.insert(s(POD_TEMPLATE_HASH_LABEL), s(hash));
        let mut selector: LabelSelector = d.selector.clone();
        selector.match_labels.insert(s(POD_TEMPLATE_HASH_LABEL), s(hash));
        let rs = ReplicaSet {
            name: name.clone(),
            namespace: d.namespace.clone(),
            uid: 0,
            owner: Some(id),
            workload: d.name.clone(),
            workload_index: d.workload_index,
            replicas,
            selector,
            template: Arc::new(template),
            created: ctx.now,
            status: ReplicaSetStatus::default(),
        };
        self.pending_rs.insert(id, name);
        self.send(id, Request::CreateReplicaSet(Box::new(rs)), ctx);
    }

    fn write_status(&mut self, d: &Deployment, id: DeploymentId, rv: u64, owned: &[Rs], new_idx: usize, ctx: &mut Ctx) {
        let sum = |f: fn(&ReplicaSetStatus) -> i32| owned.iter().map(|r| f(&r.obj.status)).sum::<i32>();
        let new = &owned[new_idx];
        let mut status = DeploymentStatus {
            observed_generation: d.generation,
            replicas: sum(|s| s.replicas),
            updated_replicas: new.obj.status.replicas,
            ready_replicas: sum(|s| s.ready_replicas),
            available_replicas: sum(|s| s.available_replicas),
            complete: false,
        };
        status.complete = status.updated_replicas == d.replicas
            && status.replicas == d.replicas
            && status.available_replicas == d.replicas
            && new.spec == d.replicas;
        if status != d.status {
            self.send(id, Request::DeploymentStatus { id, status, rv: Some(rv) }, ctx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::workload::{IntOrPercent, RollingUpdate};

    fn deployment(replicas: i32, surge: IntOrPercent, unavailable: IntOrPercent) -> Deployment {
        let t = crate::scheduler::plugins::testutil::pod_spec(100, 100, |_| {}).template;
        Deployment {
            name: s("d"),
            namespace: s("default"),
            uid: 1,
            generation: 1,
            workload_index: 0,
            replicas,
            selector: LabelSelector::default(),
            template: t,
            strategy: RollingUpdate { max_surge: surge, max_unavailable: unavailable },
            created: crate::time::SimTime::ZERO,
            status: DeploymentStatus::default(),
        }
    }

    #[test]
    fn fenceposts() {
        use IntOrPercent::*;
        assert_eq!(resolve_fenceposts(&deployment(10, Percent(25), Percent(25))), (3, 2));
        assert_eq!(resolve_fenceposts(&deployment(1, Percent(25), Percent(25))), (1, 0));
        assert_eq!(resolve_fenceposts(&deployment(3, Int(0), Int(0))), (0, 1));
        assert_eq!(resolve_fenceposts(&deployment(2, Int(1), Int(5))), (1, 2));
        assert_eq!(resolve_fenceposts(&deployment(0, Percent(25), Percent(25))), (0, 0));
    }

    #[test]
    fn new_rs_sizes() {
        let d = deployment(10, IntOrPercent::Percent(25), IntOrPercent::Percent(25));
        // Fresh deployment: all 10 at once.
        assert_eq!(new_rs_new_replicas(&d, 3, 0, 0), 10);
        // Rollout start: old RS has 10, the new one may surge to 3.
        assert_eq!(new_rs_new_replicas(&d, 3, 10, 0), 3);
        // At the surge limit nothing changes.
        assert_eq!(new_rs_new_replicas(&d, 3, 13, 3), 3);
        // Old scaled down to 8: the new RS grows to 5.
        assert_eq!(new_rs_new_replicas(&d, 3, 11, 3), 5);
    }
}
