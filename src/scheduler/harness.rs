//! The scheduling algorithm without the control plane, for benchmarks, policy fixtures and property tests:
//! nodes are added directly, and a pod that fits is assumed on its node at once (as if its binding landed in
//! the same instant). Decisions are exactly those the full simulation's scheduler makes for the same cache.

use super::cache::{Cache, PodEntry};
use super::cycle::{Algorithm, Outcome};
use super::explain::AttemptTrace;
use super::framework::PodCtx;
use super::profile::{Profile, ProfileConfig};
use crate::model::{Node, NodeId, PodId, PodSpec, PodTemplate, Str};
use crate::rng::{SimRng, Stream};
use crate::time::SimTime;
use slotmap::SlotMap;
use std::sync::Arc;

pub struct Harness {
    alg: Algorithm,
    /// Every pod the harness knows, with the node it is on (placed or assumed).
    ids: SlotMap<PodId, Option<NodeId>>,
    next_node: u32,
    next_uid: u64,
}

impl Harness {
    /// A harness with these profiles (pods choose one by `schedulerName`) and a tie-break stream from `seed`.
    pub fn new(profiles: &[ProfileConfig], seed: u64) -> Result<Harness, String> {
        let profiles = profiles.iter().map(Profile::build).collect::<Result<Vec<_>, _>>()?;
        Ok(Harness::with_profiles(profiles, seed))
    }

    /// A harness with profiles built by the caller (e.g. with plugins of its own, see [`Profile::add`]).
    pub fn with_profiles(profiles: Vec<Profile>, seed: u64) -> Harness {
        Harness {
            alg: Algorithm::new(profiles, SimRng::new(seed, Stream::TieBreak)),
            ids: SlotMap::with_key(),
            next_node: 0,
            next_uid: 1,
        }
    }

    /// The default profile only.
    pub fn default_profile(seed: u64) -> Harness {
        Harness::new(&[ProfileConfig::default()], seed).expect("the default profile builds")
    }

    pub fn add_node(&mut self, node: Node) -> NodeId {
        let id = NodeId(self.next_node);
        self.next_node += 1;
        self.alg.cache.upsert_node(id, Arc::new(node));
        id
    }

    /// The PodDisruptionBudgets preemption honours.
    pub fn set_pdbs(&mut self, pdbs: Vec<Arc<crate::model::PodDisruptionBudget>>) {
        self.alg.pdbs = pdbs;
    }

    /// Failures without the per-node reasons in their message (faster; decisions are unchanged).
    pub fn set_terse_failures(&mut self, terse: bool) {
        self.alg.terse_failures = terse;
    }

    pub fn cache(&self) -> &Cache {
        &self.alg.cache
    }

    /// A pod with this template, named `name` in namespace `default`.
    pub fn pod(&mut self, name: &str, template: Arc<PodTemplate>) -> Arc<PodSpec> {
        let uid = self.next_uid;
        self.next_uid += 1;
        Arc::new(PodSpec {
            name: Str::from(name),
            namespace: Str::from("default"),
            uid,
            owner: None,
            workload: Str::from(name),
            rng_key: uid,
            created: SimTime::ZERO,
            template,
        })
    }

    /// Places a pod on a node without scheduling it (an existing pod).
    pub fn place(&mut self, spec: Arc<PodSpec>, node: NodeId, since: SimTime) -> PodId {
        let id = self.ids.insert(Some(node));
        self.alg.cache.add_pod(node, PodEntry::new(id, spec, since));
        id
    }

    /// Removes a pod from wherever it is (and its nomination).
    pub fn remove(&mut self, id: PodId) {
        self.alg.nominator.remove(id);
        let node = match self.ids.get(id) {
            Some(known) => *known,
            None => self.alg.cache.nodes().find(|n| n.has_pod(id)).map(|n| n.id),
        };
        if let Some(n) = node {
            self.alg.cache.remove_pod(n, id);
        }
        self.ids.remove(id);
    }

    /// One scheduling attempt for a new pod. A feasible pod is assumed on its node; a pod that preempts is
    /// nominated (its victims stay until [`Harness::remove`] takes them away).
    pub fn schedule(&mut self, spec: Arc<PodSpec>) -> (PodId, Outcome) {
        let id = self.ids.insert(None);
        let out = self.attempt(id, spec, None, None);
        (id, out)
    }

    /// An attempt for a pod already known (e.g. retried after preemption), with its nomination and an
    /// optional trace.
    pub fn attempt(
        &mut self,
        id: PodId,
        spec: Arc<PodSpec>,
        nominated: Option<NodeId>,
        trace: Option<&mut AttemptTrace>,
    ) -> Outcome {
        let profile =
            self.alg.profiles.iter().position(|p| p.scheduler_name == spec.template.scheduler_name).unwrap_or(0);
        let pod = PodCtx { id, spec: &spec, nominated };
        let out = self.alg.schedule(profile, &pod, nominated, trace);
        match &out {
            Outcome::Feasible(node) => {
                self.alg.nominator.remove(id);
                self.alg.cache.add_pod(*node, PodEntry::new(id, spec.clone(), SimTime::ZERO));
                if let Some(slot) = self.ids.get_mut(id) {
                    *slot = Some(*node);
                }
            }
            Outcome::Failed(f) => {
                if let Some((node, _)) = &f.nominate {
                    self.alg.nominator.add(*node, PodEntry::new(id, spec.clone(), SimTime::ZERO));
                }
            }
        }
        out
    }
}

/// A ready node with this capacity (110 pods) and the `kubernetes.io/hostname` label.
pub fn node(name: &str, cpu_millis: i64, memory_bytes: i64) -> Node {
    let mut labels = crate::model::Labels::new();
    labels.insert(Str::from(crate::model::node::HOSTNAME_LABEL), Str::from(name));
    Node {
        name: Str::from(name),
        labels,
        allocatable: crate::model::Resources::new(cpu_millis, memory_bytes),
        ..Node::default()
    }
}

/// A one-container template requesting `cpu_millis` and `memory_bytes`, edited by `f`, finalized.
pub fn template(cpu_millis: i64, memory_bytes: i64, f: impl FnOnce(&mut PodTemplate)) -> Arc<PodTemplate> {
    let c = crate::model::Container {
        name: Str::from("c"),
        image: Str::from("registry.k8s.io/pause:3.10"),
        requests: crate::model::Resources::new(cpu_millis, memory_bytes),
        has_cpu_request: true,
        has_memory_request: true,
        ..Default::default()
    };
    let mut t = PodTemplate { containers: vec![c], ..PodTemplate::default() };
    f(&mut t);
    t.finalize();
    Arc::new(t)
}
