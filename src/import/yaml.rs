//! The subset of the Kubernetes object types the importer reads, as serde structs.
//!
//! Why our own subset rather than k8s-openapi: it is 150 lines instead of 41 MB of generated source, and unknown
//! fields are ignored (serde's default), so manifests from any Kubernetes version parse. One union `Spec` serves
//! every kind (a Node's taints, a Deployment's template, a Pod's containers, a PodDisruptionBudget's
//! minAvailable): the kind decides which fields are read, and a document never fails to parse because a field
//! the importer does not care about has an unexpected shape. Values that warnings or errors point at are
//! [`Spanned`] so messages can name their line. Scalars arrive as the text YAML holds (`cpu: 1`, `0.5`, `250m`
//! all become strings), which keeps quantities exactly as Kubernetes wrote them.

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;

pub type Sp<T> = Spanned<T>;
/// String-to-string maps (labels, nodeSelector, matchLabels).
pub type StrMap = BTreeMap<String, String>;
/// Resource name to quantity text, each with its line.
pub type ResourceMap = BTreeMap<String, Sp<String>>;

/// Any top-level object, or a `kind: List` with `items`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Object {
    pub kind: String,
    pub metadata: Metadata,
    pub spec: Option<Sp<Spec>>,
    pub status: Option<Status>,
    pub items: Option<Vec<Sp<Object>>>,
    /// PriorityClass fields (at the top level, not under `spec`).
    pub value: Option<Sp<i64>>,
    pub global_default: Option<bool>,
    pub preemption_policy: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Metadata {
    pub name: Option<String>,
    pub generate_name: Option<String>,
    pub namespace: Option<String>,
    pub labels: Option<StrMap>,
    pub owner_references: Option<Vec<OwnerReference>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OwnerReference {
    pub kind: String,
    pub name: String,
    pub controller: Option<bool>,
}

/// The union of the `spec` fields of every kind the importer reads (and of a pod template's `spec`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Spec {
    // Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, PodDisruptionBudget.
    pub replicas: Option<Sp<i64>>,
    pub selector: Option<Sp<LabelSelector>>,
    pub template: Option<Box<Sp<Template>>>,
    pub strategy: Option<Sp<Strategy>>,
    pub completions: Option<Sp<i64>>,
    pub parallelism: Option<Sp<i64>>,
    pub backoff_limit: Option<Sp<i64>>,
    pub active_deadline_seconds: Option<Sp<i64>>,
    pub completion_mode: Option<Sp<String>>,
    pub suspend: Option<Sp<bool>>,
    pub volume_claim_templates: Option<Sp<IgnoredAny>>,
    pub min_available: Option<Sp<String>>,
    pub max_unavailable: Option<Sp<String>>,
    // Node.
    pub taints: Option<Vec<Sp<Taint>>>,
    pub unschedulable: Option<bool>,
    // Pod.
    pub containers: Option<Vec<Sp<Container>>>,
    pub init_containers: Option<Vec<Sp<Container>>>,
    pub node_selector: Option<StrMap>,
    pub node_name: Option<Sp<String>>,
    pub affinity: Option<Affinity>,
    pub tolerations: Option<Vec<Toleration>>,
    pub topology_spread_constraints: Option<Vec<Sp<SpreadConstraint>>>,
    pub priority_class_name: Option<Sp<String>>,
    pub priority: Option<i64>,
    pub preemption_policy: Option<String>,
    pub scheduler_name: Option<Sp<String>>,
    pub restart_policy: Option<String>,
    pub termination_grace_period_seconds: Option<i64>,
    // Pod fields kubesim does not model (warned about).
    pub volumes: Option<Vec<Sp<Volume>>>,
    pub host_network: Option<Sp<bool>>,
    pub runtime_class_name: Option<Sp<String>>,
    pub overhead: Option<Sp<IgnoredAny>>,
    pub resource_claims: Option<Sp<IgnoredAny>>,
    pub scheduling_gates: Option<Sp<IgnoredAny>>,
    pub resources: Option<Sp<IgnoredAny>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Template {
    pub metadata: Metadata,
    pub spec: Option<Sp<Spec>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Strategy {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub rolling_update: Option<RollingUpdate>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RollingUpdate {
    pub max_surge: Option<String>,
    pub max_unavailable: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LabelSelector {
    pub match_labels: Option<StrMap>,
    pub match_expressions: Option<Vec<Requirement>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Requirement {
    pub key: String,
    pub operator: String,
    pub values: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Taint {
    pub key: String,
    pub value: Option<String>,
    pub effect: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Toleration {
    pub key: Option<String>,
    pub operator: Option<String>,
    pub value: Option<String>,
    pub effect: Option<String>,
    pub toleration_seconds: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Container {
    pub name: String,
    pub image: Option<String>,
    pub resources: Option<Resources>,
    pub ports: Option<Vec<ContainerPort>>,
    /// `Always` on an init container makes it a sidecar.
    pub restart_policy: Option<Sp<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Resources {
    pub requests: Option<ResourceMap>,
    pub limits: Option<ResourceMap>,
    pub claims: Option<Sp<IgnoredAny>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ContainerPort {
    pub host_port: Option<i64>,
    pub protocol: Option<String>,
    #[serde(rename = "hostIP")]
    pub host_ip: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Volume {
    pub name: String,
    pub persistent_volume_claim: Option<IgnoredAny>,
    pub ephemeral: Option<IgnoredAny>,
    pub host_path: Option<IgnoredAny>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Affinity {
    pub node_affinity: Option<NodeAffinity>,
    pub pod_affinity: Option<PodAffinity>,
    pub pod_anti_affinity: Option<PodAffinity>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NodeAffinity {
    pub required_during_scheduling_ignored_during_execution: Option<NodeSelector>,
    pub preferred_during_scheduling_ignored_during_execution: Option<Vec<PreferredNodeTerm>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NodeSelector {
    pub node_selector_terms: Vec<NodeSelectorTerm>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NodeSelectorTerm {
    pub match_expressions: Option<Vec<Requirement>>,
    pub match_fields: Option<Vec<Requirement>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PreferredNodeTerm {
    pub weight: i64,
    pub preference: NodeSelectorTerm,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PodAffinity {
    pub required_during_scheduling_ignored_during_execution: Option<Vec<Sp<PodAffinityTerm>>>,
    pub preferred_during_scheduling_ignored_during_execution: Option<Vec<WeightedPodAffinityTerm>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WeightedPodAffinityTerm {
    pub weight: i64,
    pub pod_affinity_term: Option<Sp<PodAffinityTerm>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PodAffinityTerm {
    pub label_selector: Option<LabelSelector>,
    pub namespaces: Option<Vec<String>>,
    pub topology_key: String,
    pub namespace_selector: Option<Sp<IgnoredAny>>,
    pub match_label_keys: Option<Sp<IgnoredAny>>,
    pub mismatch_label_keys: Option<Sp<IgnoredAny>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SpreadConstraint {
    pub max_skew: i64,
    pub topology_key: String,
    pub when_unsatisfiable: Option<String>,
    pub label_selector: Option<LabelSelector>,
    pub min_domains: Option<i64>,
    pub node_affinity_policy: Option<String>,
    pub node_taints_policy: Option<String>,
    pub match_label_keys: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Status {
    pub allocatable: Option<Sp<ResourceMap>>,
    pub capacity: Option<Sp<ResourceMap>>,
    pub phase: Option<String>,
}
