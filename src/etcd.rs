//! The virtual etcd: the cluster's key-value store, with one global revision and a change stream.
//!
//! Every successful write bumps the global revision by one and stamps it on the object as its
//! `resourceVersion`, exactly like etcd's `mod_revision`. Each write produces a [`Change`], which the apiserver's
//! watch cache fans out to watchers. Objects live in typed tables (the keyspace `/registry/<kind>/...` of a real
//! cluster) so that lookups are array indexing rather than string keys.
//!
//! Only the apiserver writes here: components hold their own informer caches, filled by watches.
//!
//! Also modelled: the history a watcher can resume from (the apiserver's watch cache, bounded by capacity and
//! by compaction, which runs every `--etcd-compaction-interval` and compacts to the revision seen one interval
//! earlier), and etcd's health (slow: extra latency per write; unavailable: writes wait or time out).

use crate::model::{
    DaemonSet, DaemonSetId, Deployment, DeploymentId, Job, JobId, Node, NodeId, PdbId, PodDisruptionBudget, PodId,
    PodSpec, PodState, ReplicaSet, ReplicaSetId, Str,
};
use crate::time::{SimDuration, SimTime};
use slotmap::SlotMap;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

/// What happened to an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Added,
    Modified,
    Deleted,
}

/// One committed write, as watchers see it: the object's new state (or last state, for deletions).
#[derive(Clone, Debug)]
pub enum Change {
    Pod { id: PodId, spec: Arc<PodSpec>, state: PodState, op: Op },
    Node { id: NodeId, node: Arc<Node>, rv: u64, op: Op },
    ReplicaSet { id: ReplicaSetId, obj: Arc<ReplicaSet>, rv: u64, op: Op },
    Deployment { id: DeploymentId, obj: Arc<Deployment>, rv: u64, op: Op },
    Job { id: JobId, obj: Arc<Job>, rv: u64, op: Op },
    DaemonSet { id: DaemonSetId, obj: Arc<DaemonSet>, rv: u64, op: Op },
    Pdb { id: PdbId, obj: Arc<PodDisruptionBudget>, rv: u64, op: Op },
}

impl Change {
    /// The revision of the write that produced this change.
    pub fn revision(&self) -> u64 {
        match self {
            Change::Pod { state, .. } => state.resource_version,
            Change::Node { rv, .. }
            | Change::ReplicaSet { rv, .. }
            | Change::Deployment { rv, .. }
            | Change::Job { rv, .. }
            | Change::DaemonSet { rv, .. }
            | Change::Pdb { rv, .. } => *rv,
        }
    }
}

/// etcd's health, set by fault injection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Health {
    /// Added to every write while set.
    pub extra_write_latency: SimDuration,
    /// etcd answers nothing until this time (`SimTime::MAX`: until healed).
    pub unavailable_until: Option<SimTime>,
}

/// A stored pod.
#[derive(Clone, Debug)]
pub struct PodRecord {
    pub spec: Arc<PodSpec>,
    pub state: PodState,
}

/// A stored cluster-scoped or workload object with its `resourceVersion`.
#[derive(Clone, Debug)]
pub struct Versioned<T> {
    pub obj: Arc<T>,
    pub resource_version: u64,
}

/// The workload kinds whose names [`Etcd::workload_name_taken`] checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum WorkloadKind {
    ReplicaSet,
    Deployment,
    Job,
    DaemonSet,
    Pdb,
}

/// The store.
#[derive(Default)]
pub struct Etcd {
    revision: u64,
    /// Recent changes, oldest first, for watchers resuming from a revision.
    history: VecDeque<Change>,
    history_capacity: usize,
    /// Revisions at or below this are compacted: resuming from them requires a relist.
    compacted: u64,
    /// The revision at the last compaction tick, compacted at the next one.
    compaction_pending: u64,
    compaction_interval: SimDuration,
    next_compaction: SimTime,
    pub health: Health,
    pub pods: SlotMap<PodId, PodRecord>,
    /// Indexed by `NodeId`; `None` once a node is deleted (ids are never reused).
    pub nodes: Vec<Option<Versioned<Node>>>,
    /// The last object of every deleted node. Not part of the keyspace (a real etcd forgets the key): a `NodeId`
    /// is a machine's index, so its slot must never be taken by another node, and rows about pods still bound to
    /// a deleted node name it as their `spec.nodeName` does.
    pub deleted_nodes: BTreeMap<NodeId, Arc<Node>>,
    /// Names of the live nodes (the apiserver's uniqueness check; a scan of every node per creation was
    /// quadratic at 50,000 nodes).
    node_names: BTreeMap<Str, NodeId>,
    pub replicasets: SlotMap<ReplicaSetId, Versioned<ReplicaSet>>,
    pub deployments: SlotMap<DeploymentId, Versioned<Deployment>>,
    pub jobs: SlotMap<JobId, Versioned<Job>>,
    pub daemonsets: SlotMap<DaemonSetId, Versioned<DaemonSet>>,
    pub pdbs: SlotMap<PdbId, Versioned<PodDisruptionBudget>>,
    /// (kind, namespace, name) of every stored workload object: the apiserver's uniqueness check (a scan of
    /// every Job per creation was quadratic: 80,000 Jobs in the Alibaba 2017 replay). Workload objects are never
    /// deleted and their names never change, so entries are only added.
    workload_names: BTreeSet<(WorkloadKind, Str, Str)>,
    /// Writes per kind, for statistics.
    pub writes: u64,
}

impl Etcd {
    pub fn new() -> Etcd {
        Etcd::with_history(102_400, SimDuration::from_secs(300))
    }

    pub fn with_history(capacity: u64, compaction_interval: SimDuration) -> Etcd {
        Etcd {
            history_capacity: capacity.min(10_000_000) as usize,
            compaction_interval,
            next_compaction: SimTime::ZERO.add(compaction_interval),
            ..Etcd::default()
        }
    }

    /// Records a committed change in the history and runs compaction when its tick has passed.
    pub fn record(&mut self, change: &Change, now: SimTime) {
        while self.compaction_interval > SimDuration::ZERO && now >= self.next_compaction {
            self.compacted = self.compacted.max(self.compaction_pending);
            // `record` runs right after the write that crossed the tick, so the revision at the tick is one less.
            self.compaction_pending = self.revision.saturating_sub(1);
            self.next_compaction = self.next_compaction.add(self.compaction_interval);
        }
        if self.history_capacity == 0 {
            return;
        }
        if self.history.len() == self.history_capacity {
            self.history.pop_front();
        }
        self.history.push_back(change.clone());
    }

    /// The changes after revision `from`, if they are all still available (not compacted, not evicted from the
    /// watch cache); `None` means the watcher must relist.
    pub fn changes_since(&self, from: u64) -> Option<impl Iterator<Item = &Change>> {
        if from < self.compacted {
            return None;
        }
        let oldest = self.history.front().map(|c| c.revision()).unwrap_or(self.revision + 1);
        if from + 1 < oldest && from < self.revision {
            return None;
        }
        Some(self.history.iter().filter(move |c| c.revision() > from))
    }

    /// The compacted revision.
    pub fn compacted_revision(&self) -> u64 {
        self.compacted
    }

    /// True when etcd answers at `now`.
    pub fn available(&self, now: SimTime) -> bool {
        self.health.unavailable_until.is_none_or(|until| now >= until)
    }

    /// The resource version of an object, for optimistic concurrency checks.
    pub fn node_rv(&self, id: NodeId) -> Option<u64> {
        self.nodes.get(id.index()).and_then(|n| n.as_ref()).map(|v| v.resource_version)
    }

    /// The current global revision (the revision of the last write).
    pub fn revision(&self) -> u64 {
        self.revision
    }

    fn bump(&mut self) -> u64 {
        self.revision += 1;
        self.writes += 1;
        self.revision
    }

    /// Stores a new pod.
    pub fn create_pod(&mut self, spec: Arc<PodSpec>, mut state: PodState) -> (PodId, Change) {
        state.resource_version = self.bump();
        let id = self.pods.insert(PodRecord { spec: spec.clone(), state });
        (id, Change::Pod { id, spec, state, op: Op::Added })
    }

    /// Replaces a pod's state. The caller has checked that the pod exists.
    pub fn update_pod(&mut self, id: PodId, mut state: PodState) -> Option<Change> {
        let rev = self.revision + 1;
        let rec = self.pods.get_mut(id)?;
        state.resource_version = rev;
        rec.state = state;
        let change = Change::Pod { id, spec: rec.spec.clone(), state, op: Op::Modified };
        self.bump();
        Some(change)
    }

    /// Removes a pod. The change carries its last state.
    pub fn delete_pod(&mut self, id: PodId) -> Option<Change> {
        let mut rec = self.pods.remove(id)?;
        rec.state.resource_version = self.bump();
        Some(Change::Pod { id, spec: rec.spec, state: rec.state, op: Op::Deleted })
    }

    /// Stores a new node under `id` (the machine's index, fixed by the simulator). The slot must be free and
    /// never used before: a deleted node's machine is gone for good.
    pub fn create_node(&mut self, id: NodeId, node: Node) -> Option<Change> {
        if self.nodes.get(id.index()).is_some_and(|n| n.is_some()) || self.deleted_nodes.contains_key(&id) {
            return None;
        }
        if self.nodes.len() <= id.index() {
            self.nodes.resize(id.index() + 1, None);
        }
        let rv = self.bump();
        let obj = Arc::new(node);
        self.node_names.insert(obj.name.clone(), id);
        self.nodes[id.index()] = Some(Versioned { obj: obj.clone(), resource_version: rv });
        Some(Change::Node { id, node: obj, rv, op: Op::Added })
    }

    pub fn node(&self, id: NodeId) -> Option<&Arc<Node>> {
        self.nodes.get(id.index()).and_then(|n| n.as_ref()).map(|v| &v.obj)
    }

    /// The node stored under `id`, or its last object if it was deleted.
    pub fn node_or_deleted(&self, id: NodeId) -> Option<&Arc<Node>> {
        self.node(id).or_else(|| self.deleted_nodes.get(&id))
    }

    /// Removes a node. The change carries its last object, stamped with the deletion's revision (as a watch's
    /// DELETED event carries the object at the deletion revision). Its slot stays empty for good.
    pub fn delete_node(&mut self, id: NodeId) -> Option<Change> {
        let v = self.nodes.get_mut(id.index())?.take()?;
        if self.node_names.get(&v.obj.name) == Some(&id) {
            self.node_names.remove(&v.obj.name);
        }
        let rv = self.bump();
        self.deleted_nodes.insert(id, v.obj.clone());
        Some(Change::Node { id, node: v.obj, rv, op: Op::Deleted })
    }

    /// Whether a workload object of `kind` with this namespace and name is stored.
    pub fn workload_name_taken(&self, kind: WorkloadKind, namespace: &Str, name: &Str) -> bool {
        self.workload_names.contains(&(kind, namespace.clone(), name.clone()))
    }

    /// Whether a live node has this name.
    pub fn node_name_taken(&self, name: &str) -> bool {
        self.node_names.contains_key(name)
    }

    /// Replaces a node object.
    pub fn update_node(&mut self, id: NodeId, node: Node) -> Option<Change> {
        let rv = self.revision + 1;
        let slot = self.nodes.get_mut(id.index())?.as_mut()?;
        let obj = Arc::new(node);
        if slot.obj.name != obj.name {
            if self.node_names.get(&slot.obj.name) == Some(&id) {
                self.node_names.remove(&slot.obj.name);
            }
            self.node_names.insert(obj.name.clone(), id);
        }
        *slot = Versioned { obj: obj.clone(), resource_version: rv };
        self.bump();
        Some(Change::Node { id, node: obj, rv, op: Op::Modified })
    }

    pub fn create_replicaset(&mut self, rs: ReplicaSet) -> (ReplicaSetId, Change) {
        self.workload_names.insert((WorkloadKind::ReplicaSet, rs.namespace.clone(), rs.name.clone()));
        let rv = self.bump();
        let obj = Arc::new(rs);
        let id = self.replicasets.insert(Versioned { obj: obj.clone(), resource_version: rv });
        (id, Change::ReplicaSet { id, obj, rv, op: Op::Added })
    }

    pub fn update_replicaset(&mut self, id: ReplicaSetId, rs: ReplicaSet) -> Option<Change> {
        let rv = self.revision + 1;
        let slot = self.replicasets.get_mut(id)?;
        let obj = Arc::new(rs);
        *slot = Versioned { obj: obj.clone(), resource_version: rv };
        self.bump();
        Some(Change::ReplicaSet { id, obj, rv, op: Op::Modified })
    }

    pub fn create_deployment(&mut self, d: Deployment) -> (DeploymentId, Change) {
        self.workload_names.insert((WorkloadKind::Deployment, d.namespace.clone(), d.name.clone()));
        let rv = self.bump();
        let obj = Arc::new(d);
        let id = self.deployments.insert(Versioned { obj: obj.clone(), resource_version: rv });
        (id, Change::Deployment { id, obj, rv, op: Op::Added })
    }

    pub fn update_deployment(&mut self, id: DeploymentId, d: Deployment) -> Option<Change> {
        let rv = self.revision + 1;
        let slot = self.deployments.get_mut(id)?;
        let obj = Arc::new(d);
        *slot = Versioned { obj: obj.clone(), resource_version: rv };
        self.bump();
        Some(Change::Deployment { id, obj, rv, op: Op::Modified })
    }

    pub fn create_job(&mut self, job: Job) -> (JobId, Change) {
        self.workload_names.insert((WorkloadKind::Job, job.namespace.clone(), job.name.clone()));
        let rv = self.bump();
        let obj = Arc::new(job);
        let id = self.jobs.insert(Versioned { obj: obj.clone(), resource_version: rv });
        (id, Change::Job { id, obj, rv, op: Op::Added })
    }

    pub fn create_daemonset(&mut self, ds: DaemonSet) -> (DaemonSetId, Change) {
        self.workload_names.insert((WorkloadKind::DaemonSet, ds.namespace.clone(), ds.name.clone()));
        let rv = self.bump();
        let obj = Arc::new(ds);
        let id = self.daemonsets.insert(Versioned { obj: obj.clone(), resource_version: rv });
        (id, Change::DaemonSet { id, obj, rv, op: Op::Added })
    }

    pub fn update_daemonset(&mut self, id: DaemonSetId, ds: DaemonSet) -> Option<Change> {
        let rv = self.revision + 1;
        let slot = self.daemonsets.get_mut(id)?;
        let obj = Arc::new(ds);
        *slot = Versioned { obj: obj.clone(), resource_version: rv };
        self.bump();
        Some(Change::DaemonSet { id, obj, rv, op: Op::Modified })
    }

    pub fn create_pdb(&mut self, pdb: PodDisruptionBudget) -> (PdbId, Change) {
        self.workload_names.insert((WorkloadKind::Pdb, pdb.namespace.clone(), pdb.name.clone()));
        let rv = self.bump();
        let obj = Arc::new(pdb);
        let id = self.pdbs.insert(Versioned { obj: obj.clone(), resource_version: rv });
        (id, Change::Pdb { id, obj, rv, op: Op::Added })
    }

    pub fn update_pdb(&mut self, id: PdbId, pdb: PodDisruptionBudget) -> Option<Change> {
        let rv = self.revision + 1;
        let slot = self.pdbs.get_mut(id)?;
        let obj = Arc::new(pdb);
        *slot = Versioned { obj: obj.clone(), resource_version: rv };
        self.bump();
        Some(Change::Pdb { id, obj, rv, op: Op::Modified })
    }

    pub fn update_job(&mut self, id: JobId, job: Job) -> Option<Change> {
        let rv = self.revision + 1;
        let slot = self.jobs.get_mut(id)?;
        let obj = Arc::new(job);
        *slot = Versioned { obj: obj.clone(), resource_version: rv };
        self.bump();
        Some(Change::Job { id, obj, rv, op: Op::Modified })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Labels, Resources, s};
    use crate::time::SimTime;

    fn node(name: &str) -> Node {
        Node {
            name: s(name),
            uid: 1,
            labels: Labels::new(),
            taints: vec![],
            unschedulable: false,
            allocatable: Resources::new(1000, 1000),
            allocatable_pods: 110,
            ready: crate::model::ConditionStatus::True,
            ready_transition: SimTime::ZERO,
            pool: 0,
            images: Vec::new(),
        }
    }

    #[test]
    fn every_write_bumps_the_revision() {
        let mut etcd = Etcd::new();
        assert_eq!(etcd.revision(), 0);
        let (a, b) = (NodeId(0), NodeId(1));
        etcd.create_node(a, node("a"));
        etcd.create_node(b, node("b"));
        assert_eq!(etcd.revision(), 2);
        let mut n = (**etcd.node(a).unwrap()).clone();
        n.unschedulable = true;
        let change = etcd.update_node(a, n).unwrap();
        assert_eq!(etcd.revision(), 3);
        assert!(matches!(change, Change::Node { op: Op::Modified, .. }));
        assert_eq!(etcd.nodes[a.index()].as_ref().unwrap().resource_version, 3);
        assert_eq!(etcd.nodes[b.index()].as_ref().unwrap().resource_version, 2);
        assert!(etcd.update_node(NodeId(99), node("x")).is_none());
        assert_eq!(etcd.revision(), 3, "failed writes do not bump the revision");
    }

    #[test]
    fn workload_names_are_unique_per_kind_and_namespace() {
        let job = |ns: &str, name: &str| crate::model::Job {
            name: s(name),
            namespace: s(ns),
            uid: 0,
            workload_index: 0,
            completions: 1,
            parallelism: 1,
            backoff_limit: 6,
            active_deadline: None,
            template: Arc::new(crate::model::PodTemplate::default()),
            created: SimTime::ZERO,
            status: Default::default(),
        };
        let mut etcd = Etcd::new();
        assert!(!etcd.workload_name_taken(WorkloadKind::Job, &s("default"), &s("a")));
        etcd.create_job(job("default", "a"));
        assert!(etcd.workload_name_taken(WorkloadKind::Job, &s("default"), &s("a")));
        assert!(!etcd.workload_name_taken(WorkloadKind::Job, &s("other"), &s("a")), "another namespace");
        assert!(!etcd.workload_name_taken(WorkloadKind::Deployment, &s("default"), &s("a")), "another kind");
        assert!(!etcd.workload_name_taken(WorkloadKind::Job, &s("default"), &s("b")));
    }

    #[test]
    fn a_deleted_node_slot_is_never_reused() {
        let mut etcd = Etcd::new();
        let a = NodeId(0);
        etcd.create_node(a, node("a"));
        let change = etcd.delete_node(a).expect("deleted");
        assert!(matches!(change, Change::Node { op: Op::Deleted, rv: 2, .. }));
        assert_eq!(etcd.revision(), 2);
        assert!(etcd.node(a).is_none());
        assert_eq!(etcd.node_or_deleted(a).map(|n| &*n.name), Some("a"));
        assert!(etcd.delete_node(a).is_none(), "already gone");
        assert!(etcd.create_node(a, node("a2")).is_none(), "the machine's slot is not reused");
        assert!(etcd.update_node(a, node("a")).is_none());
        assert_eq!(etcd.revision(), 2, "failed writes do not bump the revision");
        assert!(etcd.delete_node(NodeId(7)).is_none(), "never existed");
    }

    #[test]
    fn resuming_needs_history_and_no_compaction() {
        let mut etcd = Etcd::with_history(3, SimDuration::from_secs(300));
        for i in 0..5 {
            let change = etcd.create_node(NodeId(i as u32), node(&format!("n{i}"))).unwrap();
            etcd.record(&change, SimTime::from_secs(i));
        }
        // Revisions 1..=5 written; the cache holds 3, 4, 5.
        assert_eq!(etcd.changes_since(2).map(|c| c.count()), Some(3));
        assert_eq!(etcd.changes_since(4).map(|c| c.count()), Some(1));
        assert_eq!(etcd.changes_since(5).map(|c| c.count()), Some(0));
        assert!(etcd.changes_since(1).is_none(), "revision 2 fell out of the watch cache: relist");
        // Compaction: the tick at 300 s records revision 5; the tick at 600 s compacts to it.
        let c = etcd.create_node(NodeId(5), node("late")).unwrap();
        etcd.record(&c, SimTime::from_secs(301));
        assert_eq!(etcd.compacted_revision(), 0);
        let c = etcd.create_node(NodeId(6), node("later")).unwrap();
        etcd.record(&c, SimTime::from_secs(601));
        assert_eq!(etcd.compacted_revision(), 5);
        assert!(etcd.changes_since(4).is_none());
        assert!(etcd.changes_since(5).is_some());
    }
}
