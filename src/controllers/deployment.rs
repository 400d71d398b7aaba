//! Deployment controller: owns one ReplicaSet per pod template, named `<deployment>-<pod-template-hash>`, and
//! keeps its replicas equal to the Deployment's. (Rolling updates between templates are added with the
//! faithful control plane, issue 3.)

use super::{CtrlEvent, Informers, WorkQueue, now_event};
use crate::apiserver::{Client, Ctl, Request};
use crate::model::workload::ReplicaSetStatus;
use crate::model::{DeploymentId, LabelSelector, PodTemplate, ReplicaSet, Str, s};
use crate::sim::Ctx;
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

/// A stable hash of a template's content, encoded like upstream's `rand.SafeEncodeString` alphabet.
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

impl DeploymentController {
    pub fn enqueue(&mut self, id: DeploymentId, ctx: &mut Ctx) {
        if self.queue.add(id) {
            now_event(ctx, CtrlEvent::SyncDeployment(id));
        }
    }

    pub fn sync(&mut self, inf: &Informers, id: DeploymentId, ctx: &mut Ctx) {
        self.queue.done(id);
        let Some(d) = inf.deployment(id) else {
            self.pending_rs.remove(id);
            return;
        };
        let hash = template_hash(&d.template);
        let name: Str = format!("{}-{}", d.name, hash).into();
        let owned = inf.replicasets.iter().find(|(_, (rs, _))| rs.owner == Some(id) && rs.name == name);
        match owned {
            Some((rs_id, (rs, rs_rv))) => {
                self.pending_rs.remove(id);
                if rs.replicas != d.replicas {
                    let req = Request::ScaleReplicaSet { id: rs_id, replicas: d.replicas, rv: Some(*rs_rv) };
                    ctx.api.submit(Client::Controller(Ctl::Deployment), req, false, ctx.now, ctx.queue);
                }
            }
            None => {
                if self.pending_rs.get(id).is_some_and(|n| *n == name) {
                    return;
                }
                let mut template = (*d.template).clone();
                template.labels.insert(s(POD_TEMPLATE_HASH_LABEL), s(&hash));
                let mut selector: LabelSelector = d.selector.clone();
                selector.match_labels.insert(s(POD_TEMPLATE_HASH_LABEL), s(&hash));
                let rs = ReplicaSet {
                    name: name.clone(),
                    namespace: d.namespace.clone(),
                    uid: 0,
                    owner: Some(id),
                    workload: d.name.clone(),
                    workload_index: d.workload_index,
                    replicas: d.replicas,
                    selector,
                    template: Arc::new(template),
                    created: ctx.now,
                    status: ReplicaSetStatus::default(),
                };
                self.pending_rs.insert(id, name);
                ctx.api.submit(
                    Client::Controller(Ctl::Deployment),
                    Request::CreateReplicaSet(Box::new(rs)),
                    false,
                    ctx.now,
                    ctx.queue,
                );
            }
        }
    }
}
