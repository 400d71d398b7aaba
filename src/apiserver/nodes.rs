//! Node handlers (registration, status and taint updates) and the virtual node Leases.

use super::{ApiError, ApiServer, Io, LeaseState, validation};
use crate::model::{ConditionStatus, Node, NodeId, Str};
use crate::record;
use crate::time::SimTime;
use std::sync::Arc;

impl ApiServer {
    pub(super) fn create_node(&mut self, id: NodeId, node: &Node, io: &mut Io) -> Result<(), ApiError> {
        validation::node(node).map_err(ApiError::Invalid)?;
        if self.etcd.node_name_taken(&node.name) {
            return Err(ApiError::AlreadyExists);
        }
        let mut node = node.clone();
        node.uid = self.uid();
        node.ready_transition = io.now;
        let change = self.etcd.create_node(id, node).ok_or(ApiError::AlreadyExists)?;
        if let Some(n) = self.etcd.node(id).cloned() {
            let zone = n.zone().map(|z| &**z).unwrap_or("");
            record!(io.rec, io.now, NodeAdded, Node, &n.name, &n.name, "ready={} zone={zone}", n.ready.as_str());
            io.rec.metrics.node_added(&n, io.now);
        }
        self.grow_node_tables(self.etcd.nodes.len());
        self.fanout(change, io);
        Ok(())
    }

    /// `DELETE node`. A node that does not exist (never registered, or already deleted) is `NotFound`, as
    /// upstream. The per-node tables keep their entries, since they describe more than the object:
    /// - the `spec.nodeName` index still lists the pods bound to the node, which stay bound (and in its kubelet's
    ///   watch, a field selector on the name) until PodGC deletes them as orphans;
    /// - the kubelet's watcher stays: a kubelet still running keeps watching its pods, as upstream's does;
    /// - the Lease renewal schedule stays: upstream the Lease is garbage-collected with its Node (owner
    ///   reference), and a kubelet still running recreates it; only the node lifecycle controller reads it, and
    ///   it forgets deleted nodes.
    pub(super) fn delete_node(&mut self, id: NodeId, io: &mut Io) -> Result<(), ApiError> {
        let change = self.etcd.delete_node(id).ok_or(ApiError::NotFound)?;
        if let Some(n) = self.etcd.node_or_deleted(id).cloned() {
            let pods = self.pods_on_node(id).len();
            record!(io.rec, io.now, NodeDeleted, Node, &n.name, &n.name, "pods={pods}");
            io.rec.metrics.node_deleted(&n, io.now);
        }
        self.fanout(change, io);
        Ok(())
    }

    /// Applies `mutate` to a node. `rv` is the resource version the client based its change on: a mismatch is a
    /// conflict (optimistic concurrency). `mutate` returns false when it changed nothing (no write).
    pub(super) fn update_node(
        &mut self,
        id: NodeId,
        rv: Option<u64>,
        io: &mut Io,
        mutate: impl FnOnce(&mut Node) -> bool,
    ) -> Result<(), ApiError> {
        let current_rv = self.etcd.node_rv(id).ok_or(ApiError::NotFound)?;
        if rv.is_some_and(|rv| rv != current_rv) {
            return Err(ApiError::Conflict("the object has been modified".into()));
        }
        let old = self.etcd.node(id).ok_or(ApiError::NotFound)?.clone();
        let mut node = (*old).clone();
        if !mutate(&mut node) {
            return Ok(());
        }
        if node.ready != old.ready {
            node.ready_transition = io.now;
            match node.ready {
                ConditionStatus::True => record!(io.rec, io.now, NodeReady, Node, &node.name, &node.name),
                s => record!(io.rec, io.now, NodeNotReady, Node, &node.name, &node.name, "ready={}", s.as_str()),
            }
        }
        for t in node.taints.iter().filter(|t| !old.taints.contains(t)) {
            record!(io.rec, io.now, NodeTainted, Node, &node.name, &node.name, "{}:{}", t.key, t.effect.as_str());
        }
        for t in old.taints.iter().filter(|t| !node.taints.contains(t)) {
            record!(io.rec, io.now, NodeUntainted, Node, &node.name, &node.name, "{}:{}", t.key, t.effect.as_str());
        }
        let change = self.etcd.update_node(id, node).ok_or(ApiError::NotFound)?;
        self.fanout(change, io);
        Ok(())
    }

    /// Grows (never shrinks) the per-node tables to `len` entries.
    pub(super) fn grow_node_tables(&mut self, len: usize) {
        if self.pods_by_node.len() < len {
            self.pods_by_node.resize(len, Vec::new());
        }
        if self.kubelet_watchers.len() < len {
            self.kubelet_watchers.resize(len, None);
        }
        if self.leases.len() < len {
            self.leases.resize(len, LeaseState::default());
        }
    }

    /// The name of `node` for `events.csv`; a deleted node keeps its name (pods still bound to it name it).
    pub(super) fn node_name(&self, node: Option<NodeId>) -> Str {
        node.and_then(|n| self.etcd.node_or_deleted(n)).map(|n| n.name.clone()).unwrap_or_else(|| Arc::from(""))
    }

    /// The kubelet of `node` starts renewing its Lease: the first renewal is sent at `first`, then every
    /// `lease_renew_interval`.
    ///
    /// Heartbeats stay cheap: a renewal changes nothing but the Lease's `renewTime`, and the only reader that
    /// acts on it is the node lifecycle controller, which acts only when renewals *stop*. So renewals are not
    /// materialised as writes and events; the apiserver keeps the renewal schedule, and when the kubelet stops
    /// the simulator computes the last renewal the controller saw ([`ApiServer::lease_stop`]) and schedules the
    /// controller's check at exactly the pass where a per-heartbeat model would have fired.
    pub fn lease_start(&mut self, node: NodeId, first: SimTime) {
        self.grow_node_tables(node.index() + 1);
        if let Some(l) = self.leases.get_mut(node.index()) {
            *l = LeaseState { origin: Some(first), stopped_at: None };
        }
    }

    /// The kubelet stopped renewing at `now`. Returns the commit time of the last renewal, if any was sent.
    pub fn lease_stop(&mut self, node: NodeId, now: SimTime) -> Option<SimTime> {
        let interval = self.timings.lease_renew_interval;
        let latency = self.timings.write_latency();
        let lease = self.leases.get_mut(node.index())?;
        let origin = lease.origin?;
        lease.stopped_at = Some(now);
        // The last renewal sent at or before `now`; it commits after the write latency even if the kubelet dies
        // in between (the request is already on the wire).
        now.floor_to_period(origin, interval).map(|sent| sent.add(latency))
    }

    pub fn lease(&self, node: NodeId) -> Option<&LeaseState> {
        self.leases.get(node.index())
    }
}
