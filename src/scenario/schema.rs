//! The scenario file format, as serde structs. Every table rejects unknown keys, and values that need checking
//! beyond their type keep their position ([`Spanned`]) so errors can point at them.
//!
//! Field names are `snake_case`; durations are strings in Go syntax (`"90s"`, `"10m"`, `"1h30m"`); quantities
//! are Kubernetes quantities given as strings or numbers (`"500m"`, `2`, `1.5`, `"64Gi"`).

use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

/// A Kubernetes quantity as written: a string, an integer or a float (kept as text for exact parsing).
#[derive(Clone, Debug, PartialEq)]
pub struct QuantityText(pub String);

impl<'de> Deserialize<'de> for QuantityText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = QuantityText;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a quantity such as \"500m\", \"2\", \"1.5\" or \"64Gi\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<QuantityText, E> {
                Ok(QuantityText(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<QuantityText, E> {
                Ok(QuantityText(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<QuantityText, E> {
                Ok(QuantityText(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<QuantityText, E> {
                if v.is_finite() {
                    Ok(QuantityText(format!("{v}")))
                } else {
                    Err(E::custom("a quantity must be a finite number"))
                }
            }
        }
        d.deserialize_any(V)
    }
}

pub type Sp<T> = Spanned<T>;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    pub scenario: Sp<ScenarioSection>,
    #[serde(default)]
    pub scheduler: Option<Sp<SchedulerSection>>,
    #[serde(default)]
    pub timings: Option<Sp<BTreeMap<String, Sp<TimingValue>>>>,
    #[serde(default)]
    pub images: BTreeMap<String, Sp<QuantityText>>,
    /// Required unless the scenario is an `[openb]` experiment.
    #[serde(default)]
    pub cluster: Option<Sp<ClusterSection>>,
    /// The FGD paper's experiment on an openb node and pod list (instead of `[cluster]` and workloads).
    #[serde(default)]
    pub openb: Option<Sp<OpenbSection>>,
    #[serde(default)]
    pub workloads: WorkloadsSection,
    #[serde(default)]
    pub faults: Vec<Sp<FaultEntry>>,
    /// Fault timelines replayed from trace files.
    #[serde(default)]
    pub fault_traces: Vec<Sp<FaultTraceEntry>>,
    /// Batch traces replayed as Jobs.
    #[serde(default)]
    pub job_traces: Vec<Sp<JobTraceEntry>>,
    #[serde(default)]
    pub actions: Vec<Sp<ActionEntry>>,
    #[serde(default)]
    pub priority_classes: Vec<Sp<PriorityClassEntry>>,
    #[serde(default)]
    pub pdbs: Vec<Sp<PdbEntry>>,
    /// Sampling of the run's time series and placements.
    #[serde(default)]
    pub output: Option<Sp<OutputSection>>,
    /// Regression checks for `kubesim check` (never read by the run itself).
    #[serde(default)]
    pub checks: Vec<Sp<CheckEntry>>,
}

/// `[output]`: what the run samples.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSection {
    /// Interval of `timeseries.csv` and `placements.csv` rows (default: about 200 samples per run).
    #[serde(default)]
    pub sample_interval: Option<Sp<String>>,
    /// Write `placements.csv` (default true).
    #[serde(default)]
    pub placements: Option<bool>,
    /// Keep every pod's timestamps for `pods.csv` (default true; false leaves only the header).
    #[serde(default)]
    pub pods: Option<bool>,
    /// The pod shape fragmentation is measured against (default: the most common workload pod shape).
    #[serde(default)]
    pub reference_pod: Option<Sp<BTreeMap<String, Sp<QuantityText>>>>,
}

/// A `--checks FILE` for `kubesim check`: only `[[checks]]`, whose entries may name the scenario they apply to.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChecksFile {
    #[serde(default)]
    pub checks: Vec<Sp<CheckEntry>>,
}

/// One `[[checks]]` entry: a summary metric, which direction is better, and how much worse it may get.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckEntry {
    pub metric: Sp<String>,
    /// `"lower"` or `"higher"`.
    pub better: Sp<String>,
    /// `"10%"` (relative to the baseline) or a number (absolute, in the metric's unit); default 0.
    #[serde(default)]
    pub tolerance: Option<Sp<ToleranceText>>,
    /// With a relative tolerance: the smallest change that can count as a regression (a noise floor near zero).
    #[serde(default)]
    pub min_abs: Option<Sp<f64>>,
    /// Check files only: the scenario this entry applies to (default: every scenario).
    #[serde(default)]
    pub scenario: Option<Sp<String>>,
}

/// A tolerance as written: a string (`"10%"`) or a number.
#[derive(Clone, Debug, PartialEq)]
pub enum ToleranceText {
    Text(String),
    Number(f64),
}

impl<'de> Deserialize<'de> for ToleranceText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = ToleranceText;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a tolerance: a percentage such as \"10%\" or a number such as 0.5")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ToleranceText, E> {
                Ok(ToleranceText::Text(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ToleranceText, E> {
                Ok(ToleranceText::Number(v as f64))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ToleranceText, E> {
                Ok(ToleranceText::Number(v as f64))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<ToleranceText, E> {
                Ok(ToleranceText::Number(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// A user action at a time: `set-image` (a rolling update) or `scale` on a Deployment.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionEntry {
    pub verb: Sp<String>,
    pub at: Sp<String>,
    /// `set-image`, `scale`: the Deployment.
    #[serde(default)]
    pub deployment: Option<Sp<String>>,
    /// `cordon`, `uncordon`, `drain`: the node.
    #[serde(default)]
    pub node: Option<Sp<String>>,
    #[serde(default)]
    pub namespace: Option<Sp<String>>,
    #[serde(default)]
    pub image: Option<Sp<String>>,
    #[serde(default)]
    pub container: Option<Sp<String>>,
    #[serde(default)]
    pub replicas: Option<Sp<i64>>,
}

/// A PodDisruptionBudget: `selector` labels (matchLabels) and one of `min_available` / `max_unavailable`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PdbEntry {
    pub name: Sp<String>,
    #[serde(default)]
    pub namespace: Option<Sp<String>>,
    pub selector: BTreeMap<String, Sp<String>>,
    #[serde(default)]
    pub min_available: Option<Sp<QuantityText>>,
    #[serde(default)]
    pub max_unavailable: Option<Sp<QuantityText>>,
}

/// A PriorityClass (templates refer to it with `priority_class`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriorityClassEntry {
    pub name: Sp<String>,
    pub value: Sp<i64>,
    #[serde(default)]
    pub global_default: bool,
    #[serde(default)]
    pub preemption_policy: Option<Sp<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioSection {
    pub name: Sp<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub seed: Option<u64>,
    /// Required unless the scenario is an `[openb]` experiment.
    #[serde(default)]
    pub duration: Option<Sp<String>>,
}

/// `[openb]`: the FGD paper's experiment (see `openb::experiment`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenbSection {
    /// The node list (CSV), relative to the scenario file.
    pub nodes: Sp<String>,
    /// The pod list (CSV), relative to the scenario file.
    pub pods: Sp<String>,
    /// Target GPU demand as a multiple of the cluster's GPUs (default 1.3).
    #[serde(default)]
    pub tune_ratio: Option<Sp<f64>>,
    /// Keep this share (0 < x <= 1) of the nodes and of the pods, evenly spaced in name order (default 1).
    #[serde(default)]
    pub subsample: Option<Sp<f64>>,
}

/// `[scheduler]`: either the shorthand for the one default profile (`preset`, `scoring_strategy`), or
/// `[[scheduler.profiles]]`. `percentage_of_nodes_to_score` here is the global value profiles inherit.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulerSection {
    #[serde(default)]
    pub percentage_of_nodes_to_score: Option<Sp<i64>>,
    /// How `selectHost` breaks ties: `"random"` (upstream, the default) or `"lowest-name"`; profiles inherit it.
    #[serde(default)]
    pub tie_break: Option<Sp<String>>,
    /// `LeastAllocated` (default) or `MostAllocated`.
    #[serde(default)]
    pub scoring_strategy: Option<Sp<String>>,
    /// A preset for the default profile (`default`, `binpack`, `random`, ...).
    #[serde(default)]
    pub preset: Option<Sp<String>>,
    #[serde(default)]
    pub profiles: Vec<Sp<ProfileEntry>>,
}

/// One scheduling profile, as a KubeSchedulerConfiguration profile: a preset to start from, plugins disabled
/// and enabled, score weights, and plugin arguments.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileEntry {
    pub scheduler_name: Sp<String>,
    #[serde(default)]
    pub preset: Option<Sp<String>>,
    #[serde(default)]
    pub percentage_of_nodes_to_score: Option<Sp<i64>>,
    #[serde(default)]
    pub tie_break: Option<Sp<String>>,
    /// Plugin names to remove (`"*"`: every score plugin).
    #[serde(default)]
    pub disable: Vec<Sp<String>>,
    /// Plugins to add (after the preset's), by name or `{ name, weight }`.
    #[serde(default)]
    pub enable: Vec<Sp<EnableEntry>>,
    /// Score weights by plugin name (0 keeps a plugin's filter but does not score with it).
    #[serde(default)]
    pub weights: BTreeMap<String, Sp<i64>>,
    #[serde(default)]
    pub args: Option<Sp<PluginArgsEntry>>,
}

/// A plugin to enable: its name, or `{ name, weight }`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum EnableEntry {
    Name(String),
    Weighted { name: String, weight: i64 },
}

/// `args.<Plugin>` tables.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginArgsEntry {
    #[serde(default, rename = "NodeResourcesFit")]
    pub fit: Option<Sp<FitArgsEntry>>,
    #[serde(default, rename = "NodeResourcesBalancedAllocation")]
    pub balanced: Option<Sp<ResourcesArgsEntry>>,
    #[serde(default, rename = "PodTopologySpread")]
    pub topology_spread: Option<Sp<TopologySpreadArgsEntry>>,
    #[serde(default, rename = "InterPodAffinity")]
    pub inter_pod_affinity: Option<Sp<InterPodAffinityArgsEntry>>,
    #[serde(default, rename = "DefaultPreemption")]
    pub preemption: Option<Sp<PreemptionArgsEntry>>,
    #[serde(default, rename = "NodeAffinity")]
    pub node_affinity: Option<Sp<NodeAffinityArgsEntry>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceEntry {
    pub name: Sp<String>,
    #[serde(default)]
    pub weight: Option<Sp<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShapePointEntry {
    pub utilization: Sp<i64>,
    pub score: Sp<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FitArgsEntry {
    #[serde(default)]
    pub scoring_strategy: Option<Sp<String>>,
    #[serde(default)]
    pub resources: Option<Vec<Sp<ResourceEntry>>>,
    #[serde(default)]
    pub shape: Option<Vec<Sp<ShapePointEntry>>>,
    #[serde(default)]
    pub ignored_resources: Vec<Sp<String>>,
    #[serde(default)]
    pub ignored_resource_groups: Vec<Sp<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourcesArgsEntry {
    pub resources: Vec<Sp<ResourceEntry>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopologySpreadArgsEntry {
    #[serde(default)]
    pub defaulting_type: Option<Sp<String>>,
    #[serde(default)]
    pub default_constraints: Vec<Sp<SpreadEntry>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InterPodAffinityArgsEntry {
    #[serde(default)]
    pub hard_pod_affinity_weight: Option<Sp<i64>>,
    #[serde(default)]
    pub ignore_preferred_terms_of_existing_pods: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreemptionArgsEntry {
    #[serde(default)]
    pub min_candidate_nodes_percentage: Option<Sp<i64>>,
    #[serde(default)]
    pub min_candidate_nodes_absolute: Option<Sp<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeAffinityArgsEntry {
    pub added_affinity: Sp<NodeAffinityEntry>,
}

/// `requiredDuringScheduling...` terms (ORed) and weighted preferred terms.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeAffinityEntry {
    #[serde(default)]
    pub required: Option<Vec<Sp<NodeTermEntry>>>,
    #[serde(default)]
    pub preferred: Vec<Sp<PreferredNodeTermEntry>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeTermEntry {
    #[serde(default)]
    pub match_expressions: Vec<Sp<RequirementEntry>>,
    #[serde(default)]
    pub match_fields: Vec<Sp<RequirementEntry>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreferredNodeTermEntry {
    pub weight: Sp<i64>,
    #[serde(default)]
    pub match_expressions: Vec<Sp<RequirementEntry>>,
    #[serde(default)]
    pub match_fields: Vec<Sp<RequirementEntry>>,
}

/// `{ key, operator, values }`: In, NotIn, Exists, DoesNotExist (and Gt, Lt for node affinity).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequirementEntry {
    pub key: Sp<String>,
    pub operator: Sp<String>,
    #[serde(default)]
    pub values: Vec<Sp<String>>,
}

/// Pod affinity or anti-affinity: required terms (ANDed) and weighted preferred terms.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PodAffinityEntry {
    #[serde(default)]
    pub required: Vec<Sp<PodTermEntry>>,
    #[serde(default)]
    pub preferred: Vec<Sp<WeightedPodTermEntry>>,
}

/// Pods matching `selector` (matchLabels) and `match_expressions`, in `namespaces` (default: the pod's own),
/// counted per value of `topology_key`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PodTermEntry {
    #[serde(default)]
    pub selector: BTreeMap<String, Sp<String>>,
    #[serde(default)]
    pub match_expressions: Vec<Sp<RequirementEntry>>,
    #[serde(default)]
    pub namespaces: Vec<Sp<String>>,
    pub topology_key: Sp<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightedPodTermEntry {
    pub weight: Sp<i64>,
    #[serde(default)]
    pub selector: BTreeMap<String, Sp<String>>,
    #[serde(default)]
    pub match_expressions: Vec<Sp<RequirementEntry>>,
    #[serde(default)]
    pub namespaces: Vec<Sp<String>>,
    pub topology_key: Sp<String>,
}

/// A topology spread constraint. `selector` defaults to the pod's own labels.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpreadEntry {
    pub max_skew: Sp<i64>,
    pub topology_key: Sp<String>,
    #[serde(default)]
    pub when_unsatisfiable: Option<Sp<String>>,
    #[serde(default)]
    pub selector: Option<BTreeMap<String, Sp<String>>>,
    #[serde(default)]
    pub match_expressions: Vec<Sp<RequirementEntry>>,
    #[serde(default)]
    pub min_domains: Option<Sp<i64>>,
    #[serde(default)]
    pub node_affinity_policy: Option<Sp<String>>,
    #[serde(default)]
    pub node_taints_policy: Option<Sp<String>>,
    #[serde(default)]
    pub match_label_keys: Vec<Sp<String>>,
}

/// A container port bound on the node.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortEntry {
    pub host_port: Sp<i64>,
    #[serde(default)]
    pub protocol: Option<Sp<String>>,
    #[serde(default)]
    pub host_ip: Option<Sp<String>>,
}

/// A value in `[timings]`: a duration string or a number (rates, counts).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum TimingValue {
    Text(String),
    Integer(i64),
    Float(f64),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSection {
    pub node_pools: Vec<Sp<NodePoolEntry>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodePoolEntry {
    pub name: Sp<String>,
    pub count: Sp<i64>,
    pub cpu: Sp<QuantityText>,
    pub memory: Sp<QuantityText>,
    #[serde(default)]
    pub pods: Option<Sp<i64>>,
    #[serde(default)]
    pub ephemeral_storage: Option<Sp<QuantityText>>,
    #[serde(default)]
    pub extended: BTreeMap<String, Sp<QuantityText>>,
    #[serde(default)]
    pub zone: Option<Sp<String>>,
    #[serde(default)]
    pub region: Option<Sp<String>>,
    #[serde(default)]
    pub labels: BTreeMap<String, Sp<String>>,
    #[serde(default)]
    pub taints: Vec<Sp<TaintEntry>>,
    #[serde(default)]
    pub name_prefix: Option<Sp<String>>,
    /// Images already on the nodes when they join (sizes from `[images]`).
    #[serde(default)]
    pub preloaded_images: Vec<Sp<String>>,
    /// GPUs per node (allocatable `nvidia.com/gpu`), each shareable in milli.
    #[serde(default)]
    pub gpus: Option<Sp<i64>>,
    /// The GPU model (node label `alibabacloud.com/gpu-card-model`), e.g. `V100M16`.
    #[serde(default)]
    pub gpu_model: Option<Sp<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaintEntry {
    pub key: Sp<String>,
    #[serde(default)]
    pub value: Option<String>,
    pub effect: Sp<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadsSection {
    #[serde(default)]
    pub deployments: Vec<Sp<DeploymentEntry>>,
    #[serde(default)]
    pub jobs: Vec<Sp<JobEntry>>,
    #[serde(default)]
    pub arrivals: Vec<Sp<ArrivalEntry>>,
    #[serde(default)]
    pub daemonsets: Vec<Sp<DaemonSetEntry>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaemonSetEntry {
    pub name: Sp<String>,
    #[serde(default)]
    pub namespace: Option<Sp<String>>,
    #[serde(default)]
    pub at: Option<Sp<String>>,
    pub template: Sp<TemplateEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentEntry {
    pub name: Sp<String>,
    #[serde(default)]
    pub namespace: Option<Sp<String>>,
    pub replicas: Sp<i64>,
    /// RollingUpdate `maxSurge`: an integer or a percentage string (default "25%").
    #[serde(default)]
    pub max_surge: Option<Sp<QuantityText>>,
    /// RollingUpdate `maxUnavailable`: an integer or a percentage string (default "25%").
    #[serde(default)]
    pub max_unavailable: Option<Sp<QuantityText>>,
    #[serde(default)]
    pub at: Option<Sp<String>>,
    pub template: Sp<TemplateEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobEntry {
    pub name: Sp<String>,
    #[serde(default)]
    pub namespace: Option<Sp<String>>,
    #[serde(default)]
    pub at: Option<Sp<String>>,
    #[serde(default)]
    pub completions: Option<Sp<i64>>,
    #[serde(default)]
    pub parallelism: Option<Sp<i64>>,
    #[serde(default)]
    pub backoff_limit: Option<Sp<i64>>,
    #[serde(default)]
    pub active_deadline: Option<Sp<String>>,
    pub template: Sp<TemplateEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArrivalEntry {
    pub name: Sp<String>,
    #[serde(default)]
    pub namespace: Option<Sp<String>>,
    /// Poisson arrivals at this mean rate.
    #[serde(default)]
    pub rate_per_s: Option<Sp<f64>>,
    /// Or exactly one arrival per interval.
    #[serde(default)]
    pub interval: Option<Sp<String>>,
    #[serde(default)]
    pub start: Option<Sp<String>>,
    #[serde(default)]
    pub stop: Option<Sp<String>>,
    #[serde(default)]
    pub max_pods: Option<Sp<i64>>,
    pub template: Sp<TemplateEntry>,
}

/// A pod template. Either `containers`, or the one-container shorthand (`image`, `requests`, `limits`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateEntry {
    #[serde(default)]
    pub labels: BTreeMap<String, Sp<String>>,
    #[serde(default)]
    pub image: Option<Sp<String>>,
    #[serde(default)]
    pub requests: Option<Sp<BTreeMap<String, Sp<QuantityText>>>>,
    #[serde(default)]
    pub limits: Option<Sp<BTreeMap<String, Sp<QuantityText>>>>,
    #[serde(default)]
    pub containers: Vec<Sp<ContainerEntry>>,
    #[serde(default)]
    pub init_containers: Vec<Sp<ContainerEntry>>,
    #[serde(default)]
    pub priority: Option<Sp<i64>>,
    #[serde(default)]
    pub priority_class: Option<Sp<String>>,
    #[serde(default)]
    pub node_selector: BTreeMap<String, Sp<String>>,
    #[serde(default)]
    pub node_name: Option<Sp<String>>,
    #[serde(default)]
    pub tolerations: Vec<Sp<TolerationEntry>>,
    #[serde(default)]
    pub restart_policy: Option<Sp<String>>,
    #[serde(default)]
    pub termination_grace_period: Option<Sp<String>>,
    #[serde(default)]
    pub scheduler_name: Option<Sp<String>>,
    #[serde(default)]
    pub run: Option<Sp<RunEntry>>,
    #[serde(default)]
    pub failure_probability: Option<Sp<f64>>,
    #[serde(default)]
    pub exit_code: Option<Sp<i64>>,
    /// Time from the containers' start to the pod's Ready condition (a readiness-probe model), default `"0s"`.
    #[serde(default)]
    pub readiness_delay: Option<Sp<String>>,
    /// `PreemptLowerPriority` (default) or `Never` (a PriorityClass's policy overrides it).
    #[serde(default)]
    pub preemption_policy: Option<Sp<String>>,
    #[serde(default)]
    pub node_affinity: Option<Sp<NodeAffinityEntry>>,
    #[serde(default)]
    pub pod_affinity: Option<Sp<PodAffinityEntry>>,
    #[serde(default)]
    pub pod_anti_affinity: Option<Sp<PodAffinityEntry>>,
    #[serde(default)]
    pub topology_spread: Vec<Sp<SpreadEntry>>,
    /// Host ports of the one-container shorthand.
    #[serde(default)]
    pub ports: Vec<Sp<PortEntry>>,
    /// A share of ONE GPU in milli (1..=999; 1000 = one whole GPU).
    #[serde(default)]
    pub gpu_milli: Option<Sp<i64>>,
    /// GPU models the pod may use, `"A|B"` (any of them).
    #[serde(default)]
    pub gpu_spec: Option<Sp<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerEntry {
    pub name: Sp<String>,
    #[serde(default)]
    pub image: Option<Sp<String>>,
    #[serde(default)]
    pub requests: BTreeMap<String, Sp<QuantityText>>,
    #[serde(default)]
    pub limits: BTreeMap<String, Sp<QuantityText>>,
    #[serde(default)]
    pub ports: Vec<Sp<PortEntry>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TolerationEntry {
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub operator: Option<Sp<String>>,
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub effect: Option<Sp<String>>,
    #[serde(default)]
    pub toleration_seconds: Option<Sp<i64>>,
}

/// How long each run of the pod's containers lasts: `dist` is `forever`, `fixed` (`value`), `exponential`
/// (`mean`), `uniform` (`min`, `max`), `lognormal` (`median`, `sigma`) or `empirical` (`values`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunEntry {
    pub dist: Sp<String>,
    #[serde(default)]
    pub value: Option<Sp<String>>,
    #[serde(default)]
    pub mean: Option<Sp<String>>,
    #[serde(default)]
    pub min: Option<Sp<String>>,
    #[serde(default)]
    pub max: Option<Sp<String>>,
    #[serde(default)]
    pub median: Option<Sp<String>>,
    #[serde(default)]
    pub sigma: Option<Sp<f64>>,
    #[serde(default)]
    pub values: Option<Vec<Sp<String>>>,
}

/// One `[[faults]]` entry: a verb, its targets and when it happens. Which keys a verb accepts is checked when
/// compiling (see `compile/faults.rs`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultEntry {
    pub verb: Sp<String>,
    /// First occurrence (default: the start of the run).
    #[serde(default)]
    pub at: Option<Sp<String>>,
    /// Target nodes by name.
    #[serde(default)]
    pub nodes: Vec<Sp<String>>,
    /// Target nodes by label selector (`kubectl -l` syntax).
    #[serde(default)]
    pub selector: Option<Sp<String>>,
    /// Target nodes by zone (`zone-outage`, or any node verb).
    #[serde(default)]
    pub zone: Option<Sp<String>>,
    /// Target nodes by pool (`add-nodes`, `remove-nodes`: the pool to scale).
    #[serde(default)]
    pub pool: Option<Sp<String>>,
    /// A seeded random number of the matching targets (`add-nodes`: how many nodes to add).
    #[serde(default)]
    pub count: Option<Sp<i64>>,
    /// A seeded random share of the matching targets, in percent (rounded up).
    #[serde(default)]
    pub percent: Option<Sp<i64>>,
    /// Container verbs: the workload whose pods are hit.
    #[serde(default)]
    pub workload: Option<Sp<String>>,
    /// Heal after this long: a duration or a distribution table (per-node processes: the time to repair).
    #[serde(default)]
    pub duration: Option<Sp<DurationSpec>>,
    /// Occur again after this long: a duration or a distribution table (per-node processes: the time to
    /// failure).
    #[serde(default)]
    pub every: Option<Sp<DurationSpec>>,
    /// No occurrence at or after this time.
    #[serde(default)]
    pub until: Option<Sp<String>>,
    /// At most this many occurrences (per node for `per_node`).
    #[serde(default)]
    pub repeat: Option<Sp<i64>>,
    /// Each target node fails and is repaired independently.
    #[serde(default)]
    pub per_node: Option<Sp<bool>>,
    /// `etcd-slow`, `apiserver-slow`: added to every request.
    #[serde(default)]
    pub extra_latency: Option<Sp<String>>,
    /// `registry-slow`: pull-time multiplier.
    #[serde(default)]
    pub factor: Option<Sp<f64>>,
    /// `container-crash`: the exit code (default 1).
    #[serde(default)]
    pub exit_code: Option<Sp<i64>>,
    /// `spot-interruption`: the termination notice (default 2m).
    #[serde(default)]
    pub notice: Option<Sp<String>>,
    /// `remove-nodes`: how long the drain may take before the machine is terminated anyway (default 10m).
    #[serde(default)]
    pub drain_timeout: Option<Sp<String>>,
}

/// `[[fault_traces]]`: a trace's machine events replayed as faults.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultTraceEntry {
    /// The trace format: `"alibaba-2017"` (`server_event.csv`).
    pub format: Sp<String>,
    /// The trace file, relative to the scenario file.
    pub path: Sp<String>,
    /// The node pool the trace's machines map to, in ascending machine id order.
    pub pool: Sp<String>,
    /// How long a failed machine stays failed (the trace has no repair events): a duration or a distribution.
    pub repair: Sp<DurationSpec>,
    /// The trace second that becomes time 0 of the run (earlier events are skipped).
    #[serde(default)]
    pub offset: Option<Sp<String>>,
    /// Overrides of the verb each event detail becomes, e.g. `{ disk_full = "drain" }`.
    #[serde(default)]
    pub verbs: BTreeMap<String, Sp<String>>,
}

/// `[[job_traces]]`: a batch trace's tasks replayed as Jobs (README "Batch trace replay").
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobTraceEntry {
    /// The trace format: `"alibaba-2017"` (`batch_task.csv`).
    pub format: Sp<String>,
    /// The trace file, relative to the scenario file.
    pub path: Sp<String>,
    /// The node pool whose machines the trace's normalised memory refers to (a machine is 0.69).
    pub pool: Sp<String>,
    /// Namespace of the Jobs (default "default").
    #[serde(default)]
    pub namespace: Option<Sp<String>>,
    /// The trace second that becomes time 0 (tasks created earlier are created at 0).
    #[serde(default)]
    pub offset: Option<Sp<String>>,
    /// The task statuses replayed (default Terminated, Failed, Running).
    #[serde(default)]
    pub statuses: Option<Sp<Vec<Sp<String>>>>,
    /// Tasks with empty requests: "median" (default) or "skip".
    #[serde(default)]
    pub missing_requests: Option<Sp<String>>,
    /// Each instance runs this fraction of its task's span (default 1).
    #[serde(default)]
    pub run_fraction: Option<Sp<f64>>,
    /// The Jobs' `backoffLimit` (default 6).
    #[serde(default)]
    pub backoff_limit: Option<Sp<i64>>,
}

/// A duration (`"30m"`) or a distribution table (`{ dist = "exponential", mean = "1h" }`).
#[derive(Debug)]
pub enum DurationSpec {
    Text(String),
    Dist(Box<RunEntry>),
}

impl<'de> Deserialize<'de> for DurationSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<DurationSpec, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = DurationSpec;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(
                    "a duration such as \"30m\" or a distribution table such as { dist = \"exponential\", mean = \"1h\" }",
                )
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<DurationSpec, E> {
                Ok(DurationSpec::Text(v.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<DurationSpec, A::Error> {
                RunEntry::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(|e| DurationSpec::Dist(Box::new(e)))
            }
        }
        d.deserialize_any(V)
    }
}
