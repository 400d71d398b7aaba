//! Disruption controller (`pkg/controller/disruption`): keeps each PodDisruptionBudget's status, above all
//! `disruptionsAllowed`, which the Eviction API consults and decrements.
//!
//! - *expected pods*: with an integer `minAvailable`, the number of selected pods; otherwise the scale of their
//!   controllers (a Deployment's or ReplicaSet's `replicas`; other pods count one each);
//! - *healthy*: selected pods that are Running, Ready and not being deleted;
//! - *desired healthy*: `minAvailable` (a percentage rounds up), or expected minus `maxUnavailable` (rounded up);
//! - `disruptionsAllowed = max(0, healthy - desired)`.

use super::{CtrlEvent, Informers, WorkQueue, key_of, now_event, tag_of, write_succeeded};
use crate::apiserver::{Client, Ctl, Request, Response};
use crate::model::workload::PdbStatus;
use crate::model::{IntOrPercent, OwnerRef, PdbId, PodPhase, PodSpec};
use crate::sim::{Ctx, Event};
use std::collections::BTreeSet;

#[derive(Default)]
pub struct DisruptionController {
    queue: WorkQueue<PdbId>,
}

impl DisruptionController {
    pub fn enqueue(&mut self, id: PdbId, ctx: &mut Ctx) {
        if self.queue.add(id) {
            now_event(ctx, CtrlEvent::SyncPdb(id));
        }
    }

    /// A pod changed: the budgets selecting it are resynced.
    pub fn pod_changed(&mut self, inf: &Informers, spec: &PodSpec, ctx: &mut Ctx) {
        let ids: Vec<PdbId> = inf
            .pdbs
            .iter()
            .filter(|(_, (p, _))| p.namespace == spec.namespace && p.selector.matches(&spec.template.labels))
            .map(|(id, _)| id)
            .collect();
        for id in ids {
            self.enqueue(id, ctx);
        }
    }

    /// A workload's scale changed: every budget is resynced (there are few).
    pub fn scale_changed(&mut self, inf: &Informers, ctx: &mut Ctx) {
        let ids: Vec<PdbId> = inf.pdbs.keys().collect();
        for id in ids {
            self.enqueue(id, ctx);
        }
    }

    fn send(&mut self, id: PdbId, req: Request, ctx: &mut Ctx) {
        self.queue.sent(id);
        ctx.api.submit_tagged(Client::Controller(Ctl::Disruption), req, tag_of(id), ctx.now, ctx.queue);
    }

    pub fn on_response(&mut self, resp: Response, ctx: &mut Ctx) {
        let Some(id) = key_of::<PdbId>(resp.tag) else { return };
        if let Some(delay) = self.queue.answered(id, write_succeeded(&resp)) {
            ctx.queue.push(ctx.now.add(delay), Event::Controller(CtrlEvent::SyncPdb(id)));
        }
    }

    pub fn sync(&mut self, inf: &Informers, id: PdbId, ctx: &mut Ctx) {
        if !self.queue.start(id) {
            return;
        }
        let Some((pdb, rv)) = inf.pdbs.get(id).map(|(p, rv)| (p.clone(), *rv)) else {
            self.queue.remove(id);
            return;
        };
        let mut selected = 0i32;
        let mut healthy = 0i32;
        let mut controllers: BTreeSet<(u8, u64)> = BTreeSet::new();
        let mut uncontrolled = 0i32;
        for (_, c) in inf.pods.iter() {
            if c.spec.namespace != pdb.namespace
                || c.state.phase.is_terminal()
                || !pdb.selector.matches(&c.spec.template.labels)
            {
                continue;
            }
            selected += 1;
            if c.state.ready && c.state.phase == PodPhase::Running && c.state.deletion.is_none() {
                healthy += 1;
            }
            match c.spec.owner {
                Some(OwnerRef::ReplicaSet(rs)) => match inf.replicaset(rs).and_then(|r| r.owner) {
                    Some(d) => {
                        controllers.insert((0, slotmap::Key::data(&d).as_ffi()));
                    }
                    None => {
                        controllers.insert((1, slotmap::Key::data(&rs).as_ffi()));
                    }
                },
                _ => uncontrolled += 1,
            }
        }
        let expected = match pdb.min_available {
            Some(IntOrPercent::Int(_)) => selected,
            _ => {
                let scale: i32 = controllers
                    .iter()
                    .map(|(kind, key)| {
                        let key = slotmap::KeyData::from_ffi(*key);
                        if *kind == 0 {
                            inf.deployment(key.into()).map(|d| d.replicas).unwrap_or(0)
                        } else {
                            inf.replicaset(key.into()).map(|r| r.replicas).unwrap_or(0)
                        }
                    })
                    .sum();
                scale + uncontrolled
            }
        };
        let desired = match (pdb.min_available, pdb.max_unavailable) {
            (Some(min), _) => min.scaled(expected, true),
            (None, Some(max)) => expected - max.scaled(expected, true),
            (None, None) => expected,
        };
        let status = PdbStatus {
            expected_pods: expected,
            current_healthy: healthy,
            desired_healthy: desired,
            disruptions_allowed: (healthy - desired).max(0),
        };
        if status != pdb.status {
            self.send(id, Request::PdbStatus { id, status, rv: Some(rv) }, ctx);
        }
    }
}
