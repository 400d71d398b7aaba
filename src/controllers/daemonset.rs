//! DaemonSet controller (`pkg/controller/daemon`): one pod on every node the DaemonSet's template fits, new
//! nodes included.
//!
//! As upstream:
//! - a node should run the daemon pod when it matches the template's node selector and required node affinity
//!   and the pod tolerates every `NoSchedule`/`NoExecute` taint on it (`nodeShouldRunDaemonPod`);
//! - daemon pods get tolerations for the node lifecycle taints (`not-ready` and `unreachable` NoExecute,
//!   forever; `disk-pressure`, `memory-pressure`, `pid-pressure` and `unschedulable` NoSchedule), so they keep
//!   running on failed and cordoned nodes;
//! - each pod is pinned to its node with required node affinity `matchFields metadata.name In [node]` and placed
//!   by the default scheduler;
//! - at most 250 pods are created or deleted per sync (`BurstReplicas`), with expectations like ReplicaSets.

use super::replicaset::Expectations;
use super::{CtrlEvent, Informers, WorkQueue, key_of, now_event, tag_of, write_succeeded};
use crate::apiserver::{Client, Ctl, NewPod, Request, Response};
use crate::etcd::Op;
use crate::model::taints::{keys, tolerated};
use crate::model::workload::DaemonSetStatus;
use crate::model::{
    DaemonSetId, Node, NodeAffinity, NodeId, OwnerRef, PodId, PodReason, PodState, PodTemplate, TaintEffect,
    Toleration, TolerationOp, s,
};
use crate::sim::{Ctx, Event};
use slotmap::{Key, SecondaryMap};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Upstream `BurstReplicas` for DaemonSets.
pub const BURST_REPLICAS: usize = 250;

#[derive(Default)]
pub struct DaemonSetController {
    queue: WorkQueue<DaemonSetId>,
    expectations: SecondaryMap<DaemonSetId, Expectations>,
    /// The DaemonSet's template with the daemon tolerations added (built once per template).
    base: SecondaryMap<DaemonSetId, (Arc<PodTemplate>, Arc<PodTemplate>)>,
    /// Per-node templates (the base pinned to a node), shared by every pod created for that node.
    pinned: BTreeMap<(u64, NodeId), Arc<PodTemplate>>,
    created: SecondaryMap<DaemonSetId, u64>,
}

/// The tolerations the DaemonSet controller adds to daemon pods (`AddOrUpdateDaemonPodTolerations`).
fn daemon_tolerations() -> Vec<Toleration> {
    let t = |key: &str, effect| Toleration {
        key: s(key),
        op: TolerationOp::Exists,
        value: s(""),
        effect: Some(effect),
        toleration_seconds: None,
    };
    vec![
        t(keys::NOT_READY, TaintEffect::NoExecute),
        t(keys::UNREACHABLE, TaintEffect::NoExecute),
        t("node.kubernetes.io/disk-pressure", TaintEffect::NoSchedule),
        t("node.kubernetes.io/memory-pressure", TaintEffect::NoSchedule),
        t("node.kubernetes.io/pid-pressure", TaintEffect::NoSchedule),
        t(keys::UNSCHEDULABLE, TaintEffect::NoSchedule),
    ]
}

/// Upstream `NodeShouldRunDaemonPod`: (should run, should continue running). Selector and required affinity
/// decide both; an untolerated `NoSchedule` taint stops new daemon pods but lets a running one continue, only
/// an untolerated `NoExecute` taint removes it.
pub fn should_run(template: &PodTemplate, node: &Node) -> (bool, bool) {
    if !node.labels.contains_all(&template.node_selector)
        || !template.node_affinity.required_matches(&node.name, &node.labels)
    {
        return (false, false);
    }
    let untolerated =
        |effect: TaintEffect| node.taints.iter().any(|t| t.effect == effect && !tolerated(&template.tolerations, t));
    let no_execute = untolerated(TaintEffect::NoExecute);
    (!no_execute && !untolerated(TaintEffect::NoSchedule), !no_execute)
}

/// The node a daemon pod is pinned to, from its node affinity.
fn pinned_node(template: &PodTemplate) -> Option<&str> {
    let term = template.node_affinity.required.as_ref()?.first()?;
    term.match_fields.first()?.values.first().map(|v| &**v)
}

impl DaemonSetController {
    pub fn enqueue(&mut self, id: DaemonSetId, ctx: &mut Ctx) {
        if self.queue.add(id) {
            now_event(ctx, CtrlEvent::SyncDaemonSet(id));
        }
    }

    /// A node was added or changed: every DaemonSet may need a pod there (or no longer).
    pub fn node_changed(&mut self, inf: &Informers, ctx: &mut Ctx) {
        let ids: Vec<DaemonSetId> = inf.daemonsets.keys().collect();
        for id in ids {
            self.enqueue(id, ctx);
        }
    }

    pub fn pod_changed(&mut self, ds: DaemonSetId, op: Op, old: Option<PodState>, new: &PodState, ctx: &mut Ctx) {
        if let Some(exp) = self.expectations.get_mut(ds) {
            match op {
                Op::Added => exp.adds -= 1,
                Op::Deleted if old.is_none_or(|o| o.deletion.is_none()) => exp.dels -= 1,
                Op::Modified if old.is_some_and(|o| o.deletion.is_none()) && new.deletion.is_some() => exp.dels -= 1,
                _ => {}
            }
        }
        self.enqueue(ds, ctx);
    }

    fn send(&mut self, id: DaemonSetId, req: Request, ctx: &mut Ctx) {
        self.queue.sent(id);
        ctx.api.submit_tagged(Client::Controller(Ctl::DaemonSet), req, tag_of(id), ctx.now, ctx.queue);
    }

    pub fn on_response(&mut self, resp: Response, ctx: &mut Ctx) {
        let Some(id) = key_of::<DaemonSetId>(resp.tag) else { return };
        let ok = write_succeeded(&resp);
        if !ok && let Some(e) = self.expectations.get_mut(id) {
            match resp.request {
                Request::CreatePod(_) => e.adds -= 1,
                Request::DeletePod { .. } => e.dels -= 1,
                _ => {}
            }
        }
        if let Some(delay) = self.queue.answered(id, ok) {
            ctx.queue.push(ctx.now.add(delay), Event::Controller(CtrlEvent::SyncDaemonSet(id)));
        }
    }

    fn base_template(&mut self, id: DaemonSetId, template: &Arc<PodTemplate>) -> Arc<PodTemplate> {
        if let Some((src, base)) = self.base.get(id)
            && Arc::ptr_eq(src, template)
        {
            return base.clone();
        }
        let mut t = (**template).clone();
        for tol in daemon_tolerations() {
            if !t.tolerations.contains(&tol) {
                t.tolerations.push(tol);
            }
        }
        let base = Arc::new(t);
        self.base.insert(id, (template.clone(), base.clone()));
        self.pinned.retain(|(ds, _), _| *ds != id.data().as_ffi());
        base
    }

    pub fn sync(&mut self, inf: &Informers, id: DaemonSetId, ctx: &mut Ctx) {
        if !self.queue.start(id) {
            return;
        }
        let Some((ds, rv)) = inf.daemonsets.get(id).map(|(d, rv)| (d.clone(), *rv)) else {
            self.queue.remove(id);
            self.expectations.remove(id);
            self.base.remove(id);
            return;
        };
        let base = self.base_template(id, &ds.template);
        let names: BTreeMap<&str, NodeId> = inf
            .nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| n.as_ref().map(|(n, _)| (&*n.name, NodeId(i as u32))))
            .collect();
        // Active daemon pods per node (bound, or pinned to the node and waiting for the scheduler).
        let mut by_node: BTreeMap<NodeId, Vec<(PodId, bool)>> = BTreeMap::new();
        let (mut create, mut delete) = (Vec::new(), Vec::new());
        for p in inf.pods_by_ds.get(id).map(|v| v.as_slice()).unwrap_or(&[]) {
            let Some(c) = inf.pods.get(*p) else { continue };
            if !c.state.is_active() {
                continue;
            }
            let node = match c.state.node {
                Some(n) => Some(n),
                None => match pinned_node(&c.spec.template) {
                    Some(name) => match names.get(name) {
                        Some(n) => Some(*n),
                        None => {
                            // Upstream `getUnscheduledPodsWithoutNode`: a pending pod pinned to a node that no longer
                            // exists can never be scheduled, and PodGC only collects bound pods.
                            delete.push(*p);
                            None
                        }
                    },
                    None => None,
                },
            };
            if let Some(node) = node {
                by_node.entry(node).or_default().push((*p, c.state.ready));
            }
        }
        let mut status = DaemonSetStatus::default();
        for (i, slot) in inf.nodes.iter().enumerate() {
            let Some((node, _)) = slot else { continue };
            let node_id = NodeId(i as u32);
            let pods = by_node.remove(&node_id).unwrap_or_default();
            let (run, keep) = should_run(&base, node);
            if run {
                status.desired += 1;
                if pods.is_empty() {
                    create.push((node_id, node.name.clone()));
                } else {
                    status.current += 1;
                    status.ready += i32::from(pods.iter().any(|(_, ready)| *ready));
                }
            }
            if keep {
                delete.extend(pods.iter().skip(1).map(|(p, _)| *p));
            } else {
                delete.extend(pods.iter().map(|(p, _)| *p));
            }
        }
        // What is left in `by_node` is bound to nodes that are gone: upstream's `manage` walks the node list only,
        // so it neither counts nor deletes them. PodGC deletes them as orphans.
        if self.expectations.get(id).is_none_or(|e| e.satisfied(ctx.now)) && !(create.is_empty() && delete.is_empty()) {
            create.truncate(BURST_REPLICAS);
            delete.truncate(BURST_REPLICAS);
            let exp = Expectations { adds: create.len() as i64, dels: delete.len() as i64, set_at: ctx.now };
            self.expectations.insert(id, exp);
            for (node_id, name) in create {
                let template = self
                    .pinned
                    .entry((id.data().as_ffi(), node_id))
                    .or_insert_with(|| {
                        let mut t = (*base).clone();
                        t.node_affinity = NodeAffinity::to_node(name);
                        Arc::new(t)
                    })
                    .clone();
                let Some(counter) = self.created.entry(id).map(|e| e.or_insert(0)) else { continue };
                let ordinal = *counter;
                *counter += 1;
                let new = NewPod {
                    name: None,
                    generate_name: format!("{}-", ds.name).into(),
                    namespace: ds.namespace.clone(),
                    owner: Some(OwnerRef::DaemonSet(id)),
                    workload: ds.name.clone(),
                    rng_key: (u64::from(ds.workload_index) << 40) | ordinal,
                    template,
                };
                self.send(id, Request::CreatePod(new), ctx);
            }
            for pod in delete {
                self.send(id, Request::DeletePod { pod, grace: None, reason: PodReason::Deleted }, ctx);
            }
        }
        if status != ds.status {
            self.send(id, Request::DaemonSetStatus { id, status, rv: Some(rv) }, ctx);
        }
    }
}
