//! The scenario the importer writes, as serde structs that mirror `scenario::schema`, and the TOML writer.
//!
//! Why not `toml::to_string`: it writes every nested map as its own `[a.b.c]` table, which turns a container's
//! `requests = { cpu = "1", memory = "1Gi" }` into five lines. The writer here prints each entry's keys as
//! `key = <inline value>` (values rendered, and escaped, by the `toml` crate) and expands only `template` and its
//! `containers` into tables, like the shipped scenarios.

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Resource name to quantity text.
pub type Quantities = BTreeMap<String, String>;

#[derive(Debug, Default, Serialize)]
pub struct ScenarioOut {
    pub name: String,
    pub description: String,
    pub seed: u64,
    pub duration: String,
}

#[derive(Debug, Default, Serialize)]
pub struct ProfileOut {
    pub scheduler_name: String,
}

#[derive(Debug, Default, Serialize)]
pub struct TaintOut {
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub effect: String,
}

#[derive(Debug, Default, Serialize)]
pub struct PoolOut {
    pub name: String,
    pub count: i64,
    pub cpu: String,
    pub memory: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pods: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ephemeral_storage: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub extended: Quantities,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub taints: Vec<TaintOut>,
}

#[derive(Debug, Default, Serialize)]
pub struct RequirementOut {
    pub key: String,
    pub operator: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct NodeTermOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<RequirementOut>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub match_fields: Vec<RequirementOut>,
}

#[derive(Debug, Default, Serialize)]
pub struct NodeAffinityOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required: Option<Vec<NodeTermOut>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub preferred: Vec<NodeTermOut>,
}

#[derive(Debug, Default, Serialize)]
pub struct PodTermOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<i64>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub selector: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<RequirementOut>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    pub topology_key: String,
}

#[derive(Debug, Default, Serialize)]
pub struct PodAffinityOut {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub required: Vec<PodTermOut>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub preferred: Vec<PodTermOut>,
}

impl PodAffinityOut {
    pub fn is_empty(&self) -> bool {
        self.required.is_empty() && self.preferred.is_empty()
    }
}

#[derive(Debug, Default, Serialize)]
pub struct SpreadOut {
    pub max_skew: i64,
    pub topology_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when_unsatisfiable: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selector: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<RequirementOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_domains: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_affinity_policy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_taints_policy: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub match_label_keys: Vec<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct TolerationOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effect: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub toleration_seconds: Option<i64>,
}

#[derive(Debug, Default, Serialize)]
pub struct PortOut {
    pub host_port: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_ip: Option<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct ContainerOut {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub requests: Quantities,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: Quantities,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortOut>,
}

/// `{ dist = "fixed", value = "5m" }`.
#[derive(Debug, Default, Serialize)]
pub struct RunOut {
    pub dist: String,
    pub value: String,
}

#[derive(Debug, Default, Serialize)]
pub struct TemplateOut {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority_class: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preemption_policy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduler_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub termination_grace_period: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<RunOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_name: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_affinity: Option<NodeAffinityOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_affinity: Option<PodAffinityOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_anti_affinity: Option<PodAffinityOut>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub topology_spread: Vec<SpreadOut>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<TolerationOut>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<ContainerOut>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub init_containers: Vec<ContainerOut>,
}

#[derive(Debug, Default, Serialize)]
pub struct DeploymentOut {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub replicas: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_surge: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<String>,
    pub template: TemplateOut,
}

#[derive(Debug, Default, Serialize)]
pub struct JobOut {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completions: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backoff_limit: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_deadline: Option<String>,
    pub template: TemplateOut,
}

#[derive(Debug, Default, Serialize)]
pub struct DaemonSetOut {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub template: TemplateOut,
}

/// A bare pod: an arrival process that creates exactly one pod, 1 ms into the run.
#[derive(Debug, Default, Serialize)]
pub struct ArrivalOut {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub interval: String,
    pub max_pods: i64,
    pub template: TemplateOut,
}

#[derive(Debug, Default, Serialize)]
pub struct ActionOut {
    pub verb: String,
    pub at: String,
    pub node: String,
}

#[derive(Debug, Default, Serialize)]
pub struct PriorityClassOut {
    pub name: String,
    pub value: i64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub global_default: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preemption_policy: Option<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct PdbOut {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub selector: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_available: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<String>,
}

/// Everything the importer writes.
#[derive(Debug, Default)]
pub struct ScenarioFile {
    pub header: Vec<String>,
    pub scenario: ScenarioOut,
    pub profiles: Vec<ProfileOut>,
    pub pools: Vec<PoolOut>,
    pub priority_classes: Vec<PriorityClassOut>,
    pub deployments: Vec<DeploymentOut>,
    pub daemonsets: Vec<DaemonSetOut>,
    pub jobs: Vec<JobOut>,
    pub arrivals: Vec<ArrivalOut>,
    pub pdbs: Vec<PdbOut>,
    pub actions: Vec<ActionOut>,
}

/// Keys written first, in this order (the rest follow alphabetically).
const LEADING_KEYS: [&str; 5] = ["name", "verb", "scheduler_name", "namespace", "count"];

/// Keys written as their own tables rather than inline values.
const EXPANDED_KEYS: [&str; 3] = ["template", "containers", "init_containers"];

impl ScenarioFile {
    /// The TOML text. Fails only if a value cannot be represented in TOML (which the types above rule out).
    pub fn to_toml(&self) -> Result<String, String> {
        let mut out = String::new();
        for line in &self.header {
            let _ = writeln!(out, "# {line}");
        }
        table(&mut out, "scenario", false, &self.scenario)?;
        if !self.profiles.is_empty() {
            for p in &self.profiles {
                table(&mut out, "scheduler.profiles", true, p)?;
            }
        }
        section(&mut out, "cluster.node_pools", &self.pools)?;
        section(&mut out, "priority_classes", &self.priority_classes)?;
        section(&mut out, "workloads.deployments", &self.deployments)?;
        section(&mut out, "workloads.daemonsets", &self.daemonsets)?;
        section(&mut out, "workloads.jobs", &self.jobs)?;
        section(&mut out, "workloads.arrivals", &self.arrivals)?;
        section(&mut out, "pdbs", &self.pdbs)?;
        section(&mut out, "actions", &self.actions)?;
        Ok(out)
    }
}

fn section<T: Serialize>(out: &mut String, path: &str, entries: &[T]) -> Result<(), String> {
    for e in entries {
        table(out, path, true, e)?;
    }
    Ok(())
}

fn table<T: Serialize>(out: &mut String, path: &str, array: bool, value: &T) -> Result<(), String> {
    let toml::Value::Table(t) = toml::Value::try_from(value).map_err(|e| e.to_string())? else {
        return Err(format!("{path} is not a table"));
    };
    write_table(out, path, array, &t);
    Ok(())
}

/// Writes `[path]` (or `[[path]]`) with its inline keys, then the expanded keys as sub-tables.
fn write_table(out: &mut String, path: &str, array: bool, t: &toml::Table) {
    let _ = if array { writeln!(out, "\n[[{path}]]") } else { writeln!(out, "\n[{path}]") };
    // toml::Table is a BTreeMap (the `preserve_order` feature is off), so keys come out sorted: deterministic.
    // The identifying keys go first so that each entry reads like the shipped scenarios.
    let leading = |k: &str| LEADING_KEYS.iter().position(|l| *l == k).unwrap_or(LEADING_KEYS.len());
    let mut keys: Vec<&String> = t.keys().filter(|k| !EXPANDED_KEYS.contains(&k.as_str())).collect();
    keys.sort_by_key(|k| leading(k));
    for k in keys {
        if let Some(v) = t.get(k) {
            let _ = writeln!(out, "{} = {}", key(k), inline(v));
        }
    }
    for (k, v) in t {
        if !EXPANDED_KEYS.contains(&k.as_str()) {
            continue;
        }
        let sub = format!("{path}.{}", key(k));
        match v {
            toml::Value::Table(st) => write_table(out, &sub, false, st),
            toml::Value::Array(items) => {
                for item in items {
                    if let toml::Value::Table(st) = item {
                        write_table(out, &sub, true, st);
                    }
                }
            }
            other => {
                let _ = writeln!(out, "{} = {}", key(k), inline(other));
            }
        }
    }
}

/// A key, quoted when it is not a bare key.
fn key(k: &str) -> String {
    let bare = !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare { k.to_string() } else { toml::Value::String(k.to_string()).to_string() }
}

/// A value on one line: strings escaped, tables inline (`{ a = 1 }`), arrays inline.
fn inline(v: &toml::Value) -> String {
    match v {
        toml::Value::Table(t) => {
            let parts: Vec<String> = t.iter().map(|(k, v)| format!("{} = {}", key(k), inline(v))).collect();
            if parts.is_empty() { "{}".to_string() } else { format!("{{ {} }}", parts.join(", ")) }
        }
        toml::Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(inline).collect();
            format!("[{}]", parts.join(", "))
        }
        other => other.to_string(),
    }
}
