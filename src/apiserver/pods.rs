//! Pod handlers: create (with admission), bind, status, graceful delete and final removal.

use super::{ApiError, ApiServer, Client, Io, NewPod, PodStatusPatch, name_suffix, validation};
use crate::etcd::Change;
use crate::model::PdbId;
use crate::model::{NodeId, PodId, PodPhase, PodReason, PodSpec, PodState, Str};
use crate::record;
use crate::time::SimDuration;
use std::sync::Arc;

impl ApiServer {
    pub(super) fn create_pod(&mut self, new: &NewPod, io: &mut Io) -> Result<(), ApiError> {
        let name: Str = match &new.name {
            Some(n) => n.clone(),
            None => Arc::from(format!("{}{}", new.generate_name, name_suffix(&mut self.naming))),
        };
        let template = self.admission.admit_pod(&new.template).map_err(ApiError::Invalid)?;
        validation::pod(&name, &template).map_err(ApiError::Invalid)?;
        let spec = Arc::new(PodSpec {
            name,
            namespace: new.namespace.clone(),
            uid: self.uid(),
            owner: new.owner,
            workload: new.workload.clone(),
            rng_key: new.rng_key,
            created: io.now,
            template,
        });
        // A pod naming its node (`spec.nodeName`) is bound from the start: the scheduler never sees it, and the
        // node's kubelet alone decides (its admission may reject it).
        let mut state = PodState::new_pending();
        let node = match &spec.template.node_name {
            Some(name) => {
                let id = self.etcd.nodes.iter().position(|n| n.as_ref().is_some_and(|v| v.obj.name == *name));
                Some(NodeId(
                    id.ok_or_else(|| ApiError::Invalid(format!("spec.nodeName: node {name:?} not found")))? as u32
                ))
            }
            None => None,
        };
        state.node = node;
        let (id, change) = self.etcd.create_pod(spec.clone(), state);
        record!(io.rec, io.now, PodCreated, Pod, &spec.name, "", "workload={}", spec.workload);
        io.rec.metrics.pod_created(&spec, io.now);
        if let Some(n) = node {
            self.index_pod_on_node(id, n);
            let node_name = self.node_name(Some(n));
            record!(io.rec, io.now, PodScheduled, Pod, &spec.name, &node_name, "nodeName");
            io.rec.metrics.pod_bound(&spec, n, io.now);
        }
        self.fanout(change, io);
        Ok(())
    }

    /// `POST pods/binding`. As upstream (`BindingREST`, `setPodNodeAndMetadata`), the node's existence is not
    /// checked: a binding racing the node's deletion succeeds, and PodGC later deletes the pod as an orphan.
    /// (A `NodeId` that never was a node is refused: the scheduler only binds to nodes it has seen.)
    pub(super) fn bind_pod(&mut self, pod: PodId, node: NodeId, io: &mut Io) -> Result<(), ApiError> {
        let node_obj = self.etcd.node_or_deleted(node).ok_or(ApiError::NotFound)?.clone();
        let cur = self.etcd.pods.get(pod).ok_or(ApiError::NotFound)?;
        if let Some(bound) = cur.state.node {
            let on = self.etcd.node_or_deleted(bound).map(|n| n.name.clone()).unwrap_or_else(|| Arc::from("?"));
            return Err(ApiError::Conflict(format!("pod is already assigned to node {on}")));
        }
        if cur.state.deletion.is_some() {
            return Err(ApiError::Conflict("pod is being deleted".into()));
        }
        let spec = cur.spec.clone();
        let mut state = cur.state;
        state.node = Some(node);
        state.nominated_node = None;
        let change = self.etcd.update_pod(pod, state).ok_or(ApiError::NotFound)?;
        self.index_pod_on_node(pod, node);
        record!(io.rec, io.now, PodScheduled, Pod, &spec.name, &node_obj.name);
        io.rec.metrics.pod_bound(&spec, node, io.now);
        self.fanout(change, io);
        Ok(())
    }

    pub(super) fn patch_pod_status(
        &mut self,
        client: Client,
        pod: PodId,
        patch: &PodStatusPatch,
        rv: Option<u64>,
        io: &mut Io,
    ) -> Result<(), ApiError> {
        let cur = self.etcd.pods.get(pod).ok_or(ApiError::NotFound)?;
        let old = cur.state;
        let spec = cur.spec.clone();
        if rv.is_some_and(|rv| rv != old.resource_version) {
            return Err(ApiError::Conflict("the object has been modified".into()));
        }
        // A kubelet only writes status for pods bound to its node (NodeRestriction admission).
        if let Client::Kubelet(n) = client
            && old.node != Some(n)
        {
            return Err(ApiError::Conflict("pod is not bound to this kubelet's node".into()));
        }
        if old.phase.is_terminal() && patch.phase.is_some_and(|p| p != old.phase) {
            return Err(ApiError::Invalid(format!(
                "status.phase: may not transition from terminal phase {}",
                old.phase.as_str()
            )));
        }
        let mut state = old;
        if let Some(p) = patch.phase {
            state.phase = p;
        }
        if let Some(r) = patch.ready {
            state.ready = r;
        }
        if let Some(c) = patch.restart_count {
            state.restart_count = c;
        }
        if let Some(r) = patch.reason {
            state.reason = r;
        }
        if let Some(c) = patch.exit_code {
            state.exit_code = c;
        }
        if let Some(t) = patch.finished_at {
            state.finished_at = t;
        }
        if let Some(n) = patch.nominated_node {
            // Only a pending pod waits for a node; once bound the field is meaningless.
            if state.node.is_none() {
                state.nominated_node = n;
            }
        }
        if state == old {
            return Ok(());
        }
        let change = self.etcd.update_pod(pod, state).ok_or(ApiError::NotFound)?;
        let node_name = self.node_name(state.node);
        if state.phase != old.phase {
            let (rec, now) = (&mut *io.rec, io.now);
            match state.phase {
                PodPhase::Running => {
                    record!(rec, now, PodRunning, Pod, &spec.name, &node_name);
                    rec.metrics.pod_running(&spec, now);
                }
                PodPhase::Succeeded => record!(rec, now, PodSucceeded, Pod, &spec.name, &node_name),
                PodPhase::Failed => record!(
                    rec,
                    now,
                    PodFailed,
                    Pod,
                    &spec.name,
                    &node_name,
                    "reason={} exit_code={}",
                    state.reason.as_str(),
                    state.exit_code
                ),
                PodPhase::Pending => {}
            }
            if state.phase.is_terminal() {
                rec.metrics.pod_finished(&spec, old, state.phase, now);
            }
        }
        if state.ready && !old.ready {
            record!(io.rec, io.now, PodReady, Pod, &spec.name, &node_name);
        }
        self.fanout(change, io);
        Ok(())
    }

    pub(super) fn delete_pod(
        &mut self,
        pod: PodId,
        grace: Option<SimDuration>,
        reason: PodReason,
        io: &mut Io,
    ) -> Result<(), ApiError> {
        let cur = self.etcd.pods.get(pod).ok_or(ApiError::NotFound)?;
        let old = cur.state;
        let spec = cur.spec.clone();
        let grace = grace.unwrap_or(spec.template.termination_grace_period);
        // Upstream CheckGracefulDelete: unbound and terminal pods are deleted at once.
        let immediate = old.node.is_none() || old.phase.is_terminal() || grace == SimDuration::ZERO;
        let node_name = self.node_name(old.node);
        if matches!(reason, PodReason::TaintEviction | PodReason::EvictionApi) {
            io.rec.metrics.evictions += 1;
            record!(io.rec, io.now, PodEvicted, Pod, &spec.name, &node_name, "reason={}", reason.as_str());
        }
        if immediate {
            self.remove_pod_for(pod, reason, io);
            return Ok(());
        }
        if let Some(deadline) = old.deletion {
            // Already terminating: a second delete may only shorten the grace period.
            if io.now.add(grace) >= deadline {
                return Ok(());
            }
        }
        let mut state = old;
        state.deletion = Some(io.now.add(grace));
        if state.reason == PodReason::None {
            state.reason = reason;
        }
        let change = self.etcd.update_pod(pod, state).ok_or(ApiError::NotFound)?;
        if !matches!(reason, PodReason::TaintEviction | PodReason::EvictionApi) {
            record!(
                io.rec,
                io.now,
                PodTerminating,
                Pod,
                &spec.name,
                &node_name,
                "reason={} grace_s={}",
                reason.as_str(),
                grace.micros() / 1_000_000
            );
        }
        self.fanout(change, io);
        Ok(())
    }

    /// The Eviction subresource (`pkg/registry/core/pod/storage/eviction.go`): a pod covered by a
    /// PodDisruptionBudget may be evicted only while the budget allows a disruption, which the eviction uses up
    /// (`disruptionsAllowed - 1`, written to the budget with the deletion); otherwise `429 Too Many Requests`.
    /// A pod that is not ready may be evicted if the budget is met (`unhealthyPodEvictionPolicy:
    /// IfHealthyBudget`, the default) without using a disruption. Terminal pods and pods covered by no budget are
    /// simply deleted; a pod covered by several budgets cannot be evicted (`500`, as upstream).
    pub(super) fn evict_pod(&mut self, pod: PodId, io: &mut Io) -> Result<(), ApiError> {
        let cur = self.etcd.pods.get(pod).ok_or(ApiError::NotFound)?;
        let (spec, state) = (cur.spec.clone(), cur.state);
        if state.deletion.is_some() {
            return Ok(());
        }
        if !state.phase.is_terminal() {
            let labels = &spec.template.labels;
            let covering: Vec<PdbId> = self
                .etcd
                .pdbs
                .iter()
                .filter(|(_, v)| v.obj.namespace == spec.namespace && v.obj.selector.matches(labels))
                .map(|(id, _)| id)
                .collect();
            match covering.as_slice() {
                [] => {}
                [id] => {
                    let v = &self.etcd.pdbs[*id];
                    let status = v.obj.status;
                    let healthy = state.ready && state.phase == PodPhase::Running;
                    if healthy {
                        if status.disruptions_allowed <= 0 {
                            io.rec.metrics.evictions_blocked += 1;
                            return Err(ApiError::TooManyRequests(format!(
                                "Cannot evict pod as it would violate the pod's disruption budget ({})",
                                v.obj.name
                            )));
                        }
                        let mut pdb = (*v.obj).clone();
                        pdb.status.disruptions_allowed -= 1;
                        let change = self.etcd.update_pdb(*id, pdb).ok_or(ApiError::NotFound)?;
                        self.fanout(change, io);
                    } else if status.current_healthy < status.desired_healthy {
                        io.rec.metrics.evictions_blocked += 1;
                        return Err(ApiError::TooManyRequests(format!(
                            "Cannot evict pod as it would violate the pod's disruption budget ({})",
                            v.obj.name
                        )));
                    }
                }
                _ => {
                    return Err(ApiError::Invalid(
                        "This pod has more than one PodDisruptionBudget, which the eviction subresource does not \
                         support."
                            .into(),
                    ));
                }
            }
        }
        self.delete_pod(pod, None, PodReason::EvictionApi, io)
    }

    pub(super) fn remove_pod(&mut self, pod: PodId, io: &mut Io) {
        self.remove_pod_for(pod, PodReason::None, io);
    }

    /// Removes a pod from the store. The `PodDeleted` row names the reason of PodGC's force deletions
    /// (`reason=DeletionByPodGC` for an orphan, `reason=PodGC` past the terminated-pod threshold); other removals
    /// follow a graceful deletion or a kubelet's final DELETE and carry no detail.
    fn remove_pod_for(&mut self, pod: PodId, reason: PodReason, io: &mut Io) {
        let Some(change) = self.etcd.delete_pod(pod) else { return };
        if let Change::Pod { spec, state, .. } = &change {
            if let Some(n) = state.node {
                self.unindex_pod_on_node(pod, n);
            }
            let node_name = self.node_name(state.node);
            match reason {
                PodReason::DeletionByPodGc | PodReason::GarbageCollected => {
                    record!(io.rec, io.now, PodDeleted, Pod, &spec.name, &node_name, "reason={}", reason.as_str())
                }
                _ => record!(io.rec, io.now, PodDeleted, Pod, &spec.name, &node_name),
            }
            if reason == PodReason::DeletionByPodGc {
                io.rec.metrics.pods_orphaned += 1;
            }
            io.rec.metrics.pod_deleted(spec, *state, io.now);
        }
        self.fanout(change, io);
    }

    fn index_pod_on_node(&mut self, pod: PodId, node: NodeId) {
        if let Some(list) = self.pods_by_node.get_mut(node.index()) {
            list.push(pod);
        }
    }

    fn unindex_pod_on_node(&mut self, pod: PodId, node: NodeId) {
        if let Some(list) = self.pods_by_node.get_mut(node.index())
            && let Some(i) = list.iter().position(|p| *p == pod)
        {
            list.swap_remove(i);
        }
    }

    /// Pods bound to `node`, in no particular order (tests and invariants).
    pub fn pods_on_node(&self, node: NodeId) -> &[PodId] {
        self.pods_by_node.get(node.index()).map(|v| v.as_slice()).unwrap_or(&[])
    }
}
