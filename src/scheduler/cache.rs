//! The scheduler's cache: one [`NodeInfo`] per node with incrementally maintained aggregates, and the node
//! order of upstream's zone-interleaving node tree.
//!
//! Aggregates (requested resources, pod counts) change by one pod's request on each assume, bind, termination
//! or deletion, so no decision ever sums over a node's pods. The [`topology_index`] keeps pod counts per topology
//! domain and the existing pods' (anti-)affinity terms for PodTopologySpread and InterPodAffinity the same way.

pub mod gpu_frag;
pub mod gpus;
pub mod topology_index;

use crate::model::node::{REGION_LABEL, ZONE_LABEL};
use crate::model::{HostPort, Node, NodeId, PodId, PodSpec, Resources, Str};
use crate::time::SimTime;
use gpus::NodeGpus;
use std::cell::{RefCell, RefMut};
use std::collections::BTreeMap;
use std::sync::Arc;
use topology_index::TopologyIndex;

/// The beta zone label, preferred by upstream's `GetZoneKey` when present.
const BETA_ZONE_LABEL: &str = "failure-domain.beta.kubernetes.io/zone";
const BETA_REGION_LABEL: &str = "failure-domain.beta.kubernetes.io/region";

/// A pod placed on a node in the cache (bound, or assumed by this scheduler).
#[derive(Clone, Debug)]
pub struct PodEntry {
    pub id: PodId,
    pub spec: Arc<PodSpec>,
    /// When the scheduler first saw the pod on this node: its stand-in for `status.startTime`, which preemption
    /// uses to prefer evicting the most recently started pods (the kubelet sets the real one moments later).
    pub since: SimTime,
    /// `metadata.deletionTimestamp` is set: the pod is shutting down but still holds its resources.
    pub terminating: bool,
    /// Terminating because preemption deleted it (upstream: the `DisruptionTarget` condition with reason
    /// `PreemptionByScheduler`).
    pub preempted: bool,
    /// The GPUs the pod holds on the node (bit i = GPU i); 0 for pods without GPUs. Set by the scheduler's
    /// choice at Reserve, or by [`NodeInfo::add_pod`]'s default rule when left 0.
    pub gpus: u64,
}

impl PodEntry {
    pub fn new(id: PodId, spec: Arc<PodSpec>, since: SimTime) -> PodEntry {
        PodEntry { id, spec, since, terminating: false, preempted: false, gpus: 0 }
    }

    /// The same with a GPU placement decided by the scheduler (0: let the default rule decide).
    pub fn with_gpus(mut self, gpus: u64) -> PodEntry {
        self.gpus = gpus;
        self
    }
}

/// A node as the scheduler sees it.
#[derive(Clone, Debug)]
pub struct NodeInfo {
    pub id: NodeId,
    /// The node object. Replace it with [`NodeInfo::set_node`], which keeps the copies below current.
    pub node: Arc<Node>,
    /// Copies of the node's fields every filter reads, kept inline so the filter loop does not follow the
    /// `node` pointer for the common case: `status.allocatable`, its pod slots, `spec.unschedulable`, and
    /// whether it has any taint.
    pub allocatable: Resources,
    pub allocatable_pods: i64,
    pub unschedulable: bool,
    pub has_taints: bool,
    /// Interned ids of the node's `status.images`, sorted (set by the cache).
    pub image_ids: Vec<u32>,
    /// Sum of the (actual) requests of pods on the node, assumed ones included.
    pub requested: Resources,
    /// Sum of requests with the scheduler's non-zero defaults (for scoring).
    pub nonzero_cpu_millis: i64,
    pub nonzero_memory_bytes: i64,
    /// Pods on the node, in the order they arrived.
    pub pods: Vec<PodEntry>,
    /// Pods on the node with any pod affinity or anti-affinity (upstream `PodsWithAffinity`).
    pub pods_with_affinity: u32,
    /// Pods on the node with required anti-affinity (upstream `PodsWithRequiredAntiAffinity`).
    pub pods_with_required_anti_affinity: u32,
    /// Host ports in use by the node's pods (upstream `UsedPorts`), with an empty host IP stored as `0.0.0.0`.
    /// A set, as upstream: removing a pod removes its ports even if another pod on the node declared the same one.
    pub used_ports: Vec<HostPort>,
    /// Per-GPU free milli and the GPU model (see [`gpus`]).
    pub gpus: NodeGpus,
}

impl NodeInfo {
    pub fn new(id: NodeId, node: Arc<Node>) -> NodeInfo {
        NodeInfo {
            id,
            allocatable: node.allocatable.clone(),
            allocatable_pods: node.allocatable_pods,
            unschedulable: node.unschedulable,
            has_taints: !node.taints.is_empty(),
            image_ids: Vec::new(),
            gpus: NodeGpus::of(&node),
            node,
            requested: Resources::default(),
            nonzero_cpu_millis: 0,
            nonzero_memory_bytes: 0,
            pods: Vec::new(),
            pods_with_affinity: 0,
            pods_with_required_anti_affinity: 0,
            used_ports: Vec::new(),
        }
    }

    /// Replaces the node object; returns the old one.
    pub fn set_node(&mut self, node: Arc<Node>) -> Arc<Node> {
        self.allocatable.clone_from(&node.allocatable);
        self.allocatable_pods = node.allocatable_pods;
        self.unschedulable = node.unschedulable;
        self.has_taints = !node.taints.is_empty();
        let gpus = NodeGpus::of(&node);
        if gpus.count() != self.gpus.count() {
            // The GPU count changed: the pods keep what fits of their placement on the new GPUs.
            self.gpus = gpus;
            for p in &mut self.pods {
                let d = p.spec.template.gpu_demand();
                if !d.is_none() && p.gpus.count_ones() == d.count && self.gpus.fits_mask(p.gpus, d.milli) {
                    self.gpus.apply(p.gpus, d.milli, -1);
                } else {
                    p.gpus = 0;
                }
            }
        } else {
            self.gpus.model = gpus.model;
        }
        std::mem::replace(&mut self.node, node)
    }

    pub fn pod_count(&self) -> i64 {
        self.pods.len() as i64
    }

    pub fn has_pod(&self, id: PodId) -> bool {
        self.pods.iter().any(|p| p.id == id)
    }

    /// Adds a pod and its requests to the node's aggregates. Plugins' dry runs (preemption, nominated pods) call
    /// this on a clone; the live cache goes through [`Cache::add_pod`].
    pub fn add_pod(&mut self, entry: PodEntry) {
        let t = &entry.spec.template;
        self.requested.add(&t.requests);
        self.nonzero_cpu_millis += t.nonzero_cpu_millis;
        self.nonzero_memory_bytes += t.nonzero_memory_bytes;
        if !t.pod_affinity.is_empty() || !t.pod_anti_affinity.is_empty() {
            self.pods_with_affinity += 1;
        }
        if !t.pod_anti_affinity.required.is_empty() {
            self.pods_with_required_anti_affinity += 1;
        }
        for port in &t.host_ports {
            let port = port.sanitized();
            if !self.used_ports.contains(&port) {
                self.used_ports.push(port);
            }
        }
        let d = t.gpu_demand();
        let mut entry = entry;
        if !d.is_none() {
            // A decided placement is kept if it still fits; otherwise the default rule decides. A pod whose
            // GPUs cannot be found (bound past the scheduler's view) holds no GPU here: 0.
            if entry.gpus.count_ones() != d.count || !self.gpus.fits_mask(entry.gpus, d.milli) {
                entry.gpus = self.gpus.best_fit(d);
            }
            self.gpus.apply(entry.gpus, d.milli, -1);
        }
        self.pods.push(entry);
    }

    /// Removes a pod; `None` if it was not on the node.
    pub fn remove_pod(&mut self, id: PodId) -> Option<PodEntry> {
        let i = self.pods.iter().position(|p| p.id == id)?;
        let entry = self.pods.remove(i);
        let t = &entry.spec.template;
        let d = t.gpu_demand();
        self.gpus.apply(entry.gpus, d.milli, 1);
        self.requested.sub(&t.requests);
        self.nonzero_cpu_millis -= t.nonzero_cpu_millis;
        self.nonzero_memory_bytes -= t.nonzero_memory_bytes;
        if !t.pod_affinity.is_empty() || !t.pod_anti_affinity.is_empty() {
            self.pods_with_affinity -= 1;
        }
        if !t.pod_anti_affinity.required.is_empty() {
            self.pods_with_required_anti_affinity -= 1;
        }
        for port in &t.host_ports {
            let port = port.sanitized();
            self.used_ports.retain(|p| *p != port);
        }
        Some(entry)
    }
}

/// Upstream `GetZoneKey`: region and zone (beta labels first); empty when neither is set.
fn zone_key(node: &Node) -> String {
    let get = |beta: &str, ga: &str| node.labels.get(beta).or_else(|| node.labels.get(ga)).cloned();
    let zone = get(BETA_ZONE_LABEL, ZONE_LABEL);
    let region = get(BETA_REGION_LABEL, REGION_LABEL);
    match (region, zone) {
        (None, None) => String::new(),
        (r, z) => format!("{}:\u{0}:{}", r.as_deref().unwrap_or(""), z.as_deref().unwrap_or("")),
    }
}

/// An image some node reports (upstream `imageState`): its size and how many nodes have it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageState {
    /// Size reported by the first node that listed the image (upstream keeps the first size too).
    pub size_bytes: u64,
    pub num_nodes: u32,
    /// The image's interned id (see [`NodeInfo::image_ids`]).
    pub id: u32,
}

/// Nodes by id plus the upstream node-tree order.
pub struct Cache {
    nodes: Vec<Option<NodeInfo>>,
    /// Per node index: the value of `clock` at the node's last change (its info, its pods or their state), so
    /// that a verdict computed against an unchanged node can be reused ([`Cache::node_version`]).
    versions: Vec<u64>,
    /// Ticks at every change of any node, and of the node set.
    clock: u64,
    /// The node touched at each tick of `clock` after `journal_base`: `journal[k]` at tick `journal_base + k + 1`.
    journal: Vec<NodeId>,
    journal_base: u64,
    /// `clock` at the last node addition or removal (when [`Cache::order`] changed).
    order_version: u64,
    /// Distinguishes caches within a process: versions of one cache mean nothing for another.
    epoch: u64,
    /// Zones in first-seen order, each with its nodes in insertion order.
    zones: Vec<(String, Vec<NodeId>)>,
    /// Round-robin interleaving of `zones` (upstream `nodeTree.list()`), rebuilt on add/remove.
    /// Built on first use after a change (`OnceCell`), so that adding 50,000 nodes one by one does not rebuild
    /// it 50,000 times.
    order: std::cell::OnceCell<Vec<NodeId>>,
    /// Nodes in the cache.
    live: usize,
    /// Node names to ids (NodeAffinity's `matchFields metadata.name` narrowing).
    by_name: BTreeMap<Str, NodeId>,
    /// Every image in some node's `status.images`, with the number of nodes listing it (ImageLocality's spread).
    images: BTreeMap<Str, ImageState>,
    /// Every image name ever seen, with its id (never reused), so nodes list images as sorted integers and
    /// ImageLocality compares integers rather than names.
    image_ids: BTreeMap<Str, u32>,
    /// Pod counts per topology domain and carried affinity terms. Plugins register what they need on first
    /// use from PreFilter/PreScore (which see the cache shared), hence the cell; the scheduler is
    /// single-threaded.
    topology: RefCell<TopologyIndex>,
    /// Nodes with at least one `PreferNoSchedule` taint (when none has, TaintToleration scores every node 0).
    prefer_no_schedule_nodes: usize,
    /// Pods on nodes per priority, so that preemption knows at once when no pod anywhere has a lower priority
    /// than the preemptor (every node then fails with "No preemption victims found", as a full scan would say).
    priorities: BTreeMap<i32, u32>,
}

impl Default for Cache {
    fn default() -> Cache {
        static EPOCHS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        Cache {
            nodes: Vec::new(),
            versions: Vec::new(),
            clock: 0,
            journal: Vec::new(),
            journal_base: 0,
            order_version: 0,
            epoch: EPOCHS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            zones: Vec::new(),
            order: std::cell::OnceCell::new(),
            live: 0,
            by_name: BTreeMap::new(),
            images: BTreeMap::new(),
            image_ids: BTreeMap::new(),
            topology: RefCell::new(TopologyIndex::default()),
            prefer_no_schedule_nodes: 0,
            priorities: BTreeMap::new(),
        }
    }
}

fn has_prefer_no_schedule(node: &Node) -> bool {
    node.taints.iter().any(|t| t.effect == crate::model::TaintEffect::PreferNoSchedule)
}

impl Cache {
    pub fn node(&self, id: NodeId) -> Option<&NodeInfo> {
        self.nodes.get(id.index()).and_then(|n| n.as_ref())
    }

    /// Mutable access to a node's info. Pods must still come and go through [`Cache::add_pod`],
    /// [`Cache::remove_pod`] and [`Cache::set_terminating`], and node objects through [`Cache::upsert_node`]:
    /// the topology index follows only those.
    pub fn node_mut(&mut self, id: NodeId) -> Option<&mut NodeInfo> {
        self.touch(id);
        self.nodes.get_mut(id.index()).and_then(|n| n.as_mut())
    }

    /// Records a change of node `id` (see [`Cache::node_version`]).
    fn touch(&mut self, id: NodeId) {
        self.clock += 1;
        if self.versions.len() <= id.index() {
            self.versions.resize(id.index() + 1, 0);
        }
        self.versions[id.index()] = self.clock;
        // The journal keeps the last `cap`-`2 cap` touches; a reader further behind re-reads every node.
        let cap = self.nodes.len().max(4096);
        if self.journal.len() >= 2 * cap {
            let drop = self.journal.len() - cap;
            self.journal.drain(..drop);
            self.journal_base += drop as u64;
        }
        self.journal.push(id);
    }

    /// The current value of the change clock: [`Cache::touched_since`] with it later lists what changed since.
    pub fn clock(&self) -> u64 {
        self.clock
    }

    /// The nodes touched after `clock` (in touch order, repeats included), or `None` if the journal no longer
    /// reaches that far back (the caller then checks every node's [`Cache::node_version`]).
    pub fn touched_since(&self, clock: u64) -> Option<&[NodeId]> {
        let from = clock.checked_sub(self.journal_base)?;
        self.journal.get(from as usize..)
    }

    /// A number that changes whenever node `id`'s info changes: its node object, its pods, or their
    /// terminating state. Equal versions of one cache ([`Cache::epoch`]) mean an unchanged node.
    pub fn node_version(&self, id: NodeId) -> u64 {
        self.versions.get(id.index()).copied().unwrap_or(0)
    }

    /// A number that changes whenever a node is added or removed (and so [`Cache::order`] may change).
    pub fn order_version(&self) -> u64 {
        self.order_version
    }

    /// This cache's identity within the process (versions of different caches are not comparable).
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Nodes in scheduling order.
    pub fn order(&self) -> &[NodeId] {
        self.order.get_or_init(|| {
            let mut order = Vec::with_capacity(self.live);
            let longest = self.zones.iter().map(|(_, l)| l.len()).max().unwrap_or(0);
            for i in 0..longest {
                for (_, list) in &self.zones {
                    if let Some(id) = list.get(i) {
                        order.push(*id);
                    }
                }
            }
            order
        })
    }

    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The node named `name`, if the cache has it.
    pub fn node_by_name(&self, name: &str) -> Option<NodeId> {
        self.by_name.get(name).copied()
    }

    /// An image's size and the number of nodes reporting it, if any node does.
    pub fn image_state(&self, name: &str) -> Option<ImageState> {
        self.images.get(name).copied()
    }

    /// The lowest priority of a pod on some node (`None` with no pods).
    pub fn min_pod_priority(&self) -> Option<i32> {
        self.priorities.first_key_value().map(|(p, _)| *p)
    }

    fn count_priority(&mut self, priority: i32, added: bool) {
        if added {
            *self.priorities.entry(priority).or_insert(0) += 1;
        } else if let Some(n) = self.priorities.get_mut(&priority) {
            *n -= 1;
            if *n == 0 {
                self.priorities.remove(&priority);
            }
        }
    }

    /// How many nodes carry a `PreferNoSchedule` taint.
    pub fn prefer_no_schedule_nodes(&self) -> usize {
        self.prefer_no_schedule_nodes
    }

    /// The topology index (PodTopologySpread, InterPodAffinity). Do not hold it across calls that take it again.
    pub fn topology(&self) -> RefMut<'_, TopologyIndex> {
        self.topology.borrow_mut()
    }

    /// Adds or updates a node. Returns true if it was new.
    pub fn upsert_node(&mut self, id: NodeId, node: Arc<Node>) -> bool {
        self.touch(id);
        if self.nodes.len() <= id.index() {
            self.nodes.resize_with(id.index() + 1, || None);
        }
        match &mut self.nodes[id.index()] {
            Some(info) => {
                // Upstream keeps the snapshot order on updates, even when the zone changes.
                if !Arc::ptr_eq(&info.node, &node) {
                    self.topology.get_mut().node_changed(info, &node);
                }
                let old = info.set_node(node);
                let new = &info.node;
                self.prefer_no_schedule_nodes += usize::from(has_prefer_no_schedule(new));
                self.prefer_no_schedule_nodes -= usize::from(has_prefer_no_schedule(&old));
                if old.name != new.name {
                    self.by_name.remove(&old.name);
                    self.by_name.insert(new.name.clone(), id);
                }
                if old.images != new.images {
                    remove_images(&mut self.images, &old.images);
                    add_images(&mut self.images, &mut self.image_ids, &new.images, &mut info.image_ids);
                }
                false
            }
            slot @ None => {
                self.topology.get_mut().node_added(id, &node);
                self.prefer_no_schedule_nodes += usize::from(has_prefer_no_schedule(&node));
                let key = zone_key(&node);
                self.by_name.insert(node.name.clone(), id);
                let mut info = NodeInfo::new(id, node);
                add_images(&mut self.images, &mut self.image_ids, &info.node.images, &mut info.image_ids);
                *slot = Some(info);
                match self.zones.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, list)) => list.push(id),
                    None => self.zones.push((key, vec![id])),
                }
                self.live += 1;
                self.invalidate_order();
                self.order_version = self.clock;
                true
            }
        }
    }

    /// Removes a node (its pods stay in the pod map; the caller handles them).
    pub fn remove_node(&mut self, id: NodeId) -> Option<NodeInfo> {
        let info = self.nodes.get_mut(id.index())?.take()?;
        self.touch(id);
        self.order_version = self.clock;
        if self.by_name.get(&info.node.name) == Some(&id) {
            self.by_name.remove(&info.node.name);
        }
        remove_images(&mut self.images, &info.node.images);
        for p in &info.pods {
            self.count_priority(p.spec.template.priority, false);
        }
        self.topology.get_mut().node_removed(&info);
        self.prefer_no_schedule_nodes -= usize::from(has_prefer_no_schedule(&info.node));
        for (_, list) in &mut self.zones {
            list.retain(|n| *n != id);
        }
        self.zones.retain(|(_, list)| !list.is_empty());
        self.live -= 1;
        self.invalidate_order();
        Some(info)
    }

    /// Drops [`Cache::order`], rebuilt on next use.
    fn invalidate_order(&mut self) {
        self.order.take();
    }

    /// Places a pod on a node (bound or assumed). Every change to the pods on a node goes through here or
    /// [`Cache::remove_pod`], so that indexes over pods stay in step with the nodes' aggregates.
    /// Returns false if the node is unknown (the pod is then not in the cache).
    pub fn add_pod(&mut self, node: NodeId, entry: PodEntry) -> bool {
        if self.node(node).is_none() {
            return false;
        }
        self.touch(node);
        let topology = self.topology.get_mut();
        topology.register_pod_keys(&entry.spec, self.nodes.iter().flatten());
        topology.pod_added(node, &entry);
        self.count_priority(entry.spec.template.priority, true);
        self.nodes[node.index()].as_mut().expect("node checked above").add_pod(entry);
        true
    }

    /// Takes a pod off a node; `None` if it was not there.
    pub fn remove_pod(&mut self, node: NodeId, id: PodId) -> Option<PodEntry> {
        let entry = self.nodes.get_mut(node.index())?.as_mut()?.remove_pod(id)?;
        self.touch(node);
        self.topology.get_mut().pod_removed(node, &entry);
        self.count_priority(entry.spec.template.priority, false);
        Some(entry)
    }

    /// Marks a pod on a node as terminating (`deletionTimestamp` set), by preemption or not; returns false if
    /// it was not there or already marked.
    pub fn set_terminating(&mut self, node: NodeId, id: PodId, preempted: bool) -> bool {
        let Some(entry) = self
            .nodes
            .get_mut(node.index())
            .and_then(|n| n.as_mut())
            .and_then(|n| n.pods.iter_mut().find(|p| p.id == id))
        else {
            return false;
        };
        entry.preempted |= preempted;
        let started = !std::mem::replace(&mut entry.terminating, true);
        if started {
            self.topology.get_mut().pod_terminating(node, &entry.spec);
        }
        self.touch(node);
        started
    }

    /// All node infos in id order (invariant checks).
    pub fn nodes(&self) -> impl Iterator<Item = &NodeInfo> {
        self.nodes.iter().flatten()
    }
}

/// Counts a node's images (upstream `addNodeImageStates`) and sets its sorted image ids.
fn add_images(
    index: &mut BTreeMap<Str, ImageState>,
    ids: &mut BTreeMap<Str, u32>,
    images: &[(Str, u64)],
    node_ids: &mut Vec<u32>,
) {
    node_ids.clear();
    for (name, size_bytes) in images {
        let next = ids.len() as u32;
        let id = *ids.entry(name.clone()).or_insert(next);
        // A name listed twice counts the node once (upstream keeps a set of node names per image).
        if node_ids.contains(&id) {
            continue;
        }
        node_ids.push(id);
        match index.get_mut(name) {
            Some(state) => state.num_nodes += 1,
            None => {
                index.insert(name.clone(), ImageState { size_bytes: *size_bytes, num_nodes: 1, id });
            }
        }
    }
    node_ids.sort_unstable();
}

/// Uncounts a node's images; an image no node has any more is forgotten (upstream `removeNodeImageStates`).
fn remove_images(index: &mut BTreeMap<Str, ImageState>, images: &[(Str, u64)]) {
    for (k, (name, _)) in images.iter().enumerate() {
        if images[..k].iter().any(|(earlier, _)| earlier == name) {
            continue;
        }
        if let Some(state) = index.get_mut(name) {
            state.num_nodes -= 1;
            if state.num_nodes == 0 {
                index.remove(name);
            }
        }
    }
}

/// A zone's name for reports: the zone label or empty.
pub fn zone_of(node: &Node) -> Option<&Str> {
    node.labels.get(BETA_ZONE_LABEL).or_else(|| node.labels.get(ZONE_LABEL))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ConditionStatus, Labels, s};

    fn node(name: &str, zone: &str) -> Arc<Node> {
        let mut labels = Labels::new();
        if !zone.is_empty() {
            labels.insert(s(ZONE_LABEL), s(zone));
        }
        Arc::new(Node {
            name: s(name),
            uid: 0,
            labels,
            taints: vec![],
            unschedulable: false,
            allocatable: Resources::new(1000, 1000),
            allocatable_pods: 110,
            ready: ConditionStatus::True,
            ready_transition: SimTime::ZERO,
            pool: 0,
            images: Vec::new(),
        })
    }

    #[test]
    fn names_and_image_counts_follow_nodes() {
        let with_images = |name: &str, images: &[(&str, u64)]| {
            let mut n = (*node(name, "a")).clone();
            n.images = images.iter().map(|(i, sz)| (s(i), *sz)).collect();
            Arc::new(n)
        };
        let mut c = Cache::default();
        c.upsert_node(NodeId(0), with_images("a1", &[("x:1", 10), ("y:1", 20)]));
        c.upsert_node(NodeId(1), with_images("a2", &[("x:1", 10)]));
        assert_eq!(c.node_by_name("a2"), Some(NodeId(1)));
        assert_eq!(c.node_by_name("a3"), None);
        assert_eq!(c.image_state("x:1"), Some(ImageState { size_bytes: 10, num_nodes: 2, id: 0 }));
        assert_eq!(c.image_state("y:1"), Some(ImageState { size_bytes: 20, num_nodes: 1, id: 1 }));
        assert_eq!(c.node(NodeId(0)).map(|n| n.image_ids.clone()), Some(vec![0, 1]));
        // An update with another image list moves the counts.
        c.upsert_node(NodeId(0), with_images("a1", &[("y:1", 20), ("z:1", 30)]));
        assert_eq!(c.image_state("x:1").map(|st| st.num_nodes), Some(1));
        assert_eq!(c.image_state("z:1").map(|st| st.num_nodes), Some(1));
        assert_eq!(c.node(NodeId(0)).map(|n| n.image_ids.clone()), Some(vec![1, 2]), "ids stay with their names");
        c.remove_node(NodeId(1));
        assert_eq!(c.image_state("x:1"), None, "forgotten with the last node listing it");
        // A name listed twice counts its node once, and is forgotten with it.
        c.upsert_node(NodeId(2), with_images("a3", &[("w:1", 5), ("w:1", 5)]));
        assert_eq!(c.image_state("w:1").map(|st| st.num_nodes), Some(1));
        assert_eq!(c.node(NodeId(2)).map(|n| n.image_ids.len()), Some(1));
        c.remove_node(NodeId(2));
        assert_eq!(c.image_state("w:1"), None);
        assert_eq!(c.node_by_name("a2"), None);
        assert_eq!(c.node_by_name("a1"), Some(NodeId(0)));
    }

    #[test]
    fn the_journal_lists_touched_nodes_until_it_is_trimmed() {
        let mut c = Cache::default();
        c.upsert_node(NodeId(0), node("a1", "a"));
        c.upsert_node(NodeId(1), node("a2", "a"));
        let t = c.clock();
        assert_eq!(c.touched_since(t), Some(&[][..]));
        c.upsert_node(NodeId(1), node("a2", "b"));
        c.upsert_node(NodeId(0), node("a1", "b"));
        c.upsert_node(NodeId(1), node("a2", "c"));
        assert_eq!(c.touched_since(t), Some(&[NodeId(1), NodeId(0), NodeId(1)][..]));
        assert_eq!(c.touched_since(0).map(|j| j.len()), Some(5), "every touch since the start");
        // Past twice its capacity (4,096 with few nodes) the journal drops its oldest touches.
        for _ in 0..8192 {
            c.upsert_node(NodeId(0), node("a1", "b"));
        }
        assert_eq!(c.touched_since(t), None, "too far back: the reader must re-read every node");
        let recent = c.clock() - 10;
        assert_eq!(c.touched_since(recent).map(|j| j.len()), Some(10));
    }

    #[test]
    fn node_tree_interleaves_zones() {
        let mut c = Cache::default();
        let specs = [("a1", "a"), ("a2", "a"), ("b1", "b"), ("a3", "a"), ("c1", "c"), ("b2", "b")];
        for (i, (name, zone)) in specs.iter().enumerate() {
            c.upsert_node(NodeId(i as u32), node(name, zone));
        }
        let names: Vec<&str> = c.order().iter().map(|id| &*c.node(*id).unwrap().node.name).collect();
        assert_eq!(names, vec!["a1", "b1", "c1", "a2", "b2", "a3"]);
        c.remove_node(NodeId(2)); // b1
        let names: Vec<&str> = c.order().iter().map(|id| &*c.node(*id).unwrap().node.name).collect();
        assert_eq!(names, vec!["a1", "b2", "c1", "a2", "a3"]);
    }
}
