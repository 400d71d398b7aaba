//! Controllers, bare Pods, PriorityClasses and PodDisruptionBudgets to workloads.
//!
//! Deployments, ReplicaSets that no Deployment of the input owns, and StatefulSets (kubesim has none) become
//! `[[workloads.deployments]]`; DaemonSets and Jobs map one to one; a Pod becomes a one-pod arrival process
//! unless its controller is in the input (the controller recreates it). Names are unique per workload kind in
//! kubesim but per namespace in Kubernetes, so a repeated name gets `-<namespace>` (and a warning).

use super::emit::{
    ArrivalOut, ContainerOut, DaemonSetOut, DeploymentOut, JobOut, PdbOut, PortOut, PriorityClassOut, ProfileOut,
    RunOut, ScenarioFile, TemplateOut, TolerationOut,
};
use super::nodes::quantity;
use super::yaml::{Container, ResourceMap, Sp, Spec, Template};
use super::{ImportError, Item, Origin, Warnings};
use std::collections::{BTreeMap, BTreeSet};

mod placement;

/// PriorityClasses every cluster (and kubesim) has.
const SYSTEM_PRIORITY_CLASSES: [&str; 2] = ["system-cluster-critical", "system-node-critical"];
const DEFAULT_SCHEDULER: &str = "default-scheduler";
/// How long a Job pod runs: manifests do not say, so a fixed placeholder (documented in the header).
const JOB_RUN: &str = "5m";

/// The workload part of the scenario.
#[derive(Debug, Default)]
pub struct WorkloadsOut {
    deployments: Vec<DeploymentOut>,
    daemonsets: Vec<DaemonSetOut>,
    jobs: Vec<JobOut>,
    arrivals: Vec<ArrivalOut>,
    priority_classes: Vec<PriorityClassOut>,
    pdbs: Vec<PdbOut>,
    schedulers: BTreeSet<String>,
}

impl WorkloadsOut {
    pub fn fill(self, f: &mut ScenarioFile) {
        f.deployments = self.deployments;
        f.daemonsets = self.daemonsets;
        f.jobs = self.jobs;
        f.arrivals = self.arrivals;
        f.priority_classes = self.priority_classes;
        f.pdbs = self.pdbs;
        if !self.schedulers.is_empty() {
            f.profiles.push(ProfileOut { scheduler_name: DEFAULT_SCHEDULER.into() });
            f.profiles.extend(self.schedulers.into_iter().map(|s| ProfileOut { scheduler_name: s }));
        }
    }
}

/// What templates need to know about the rest of the input.
struct Ctx<'a> {
    renamed: &'a BTreeMap<String, String>,
    priority_classes: BTreeSet<String>,
    /// (kind, namespace, name) of every object.
    objects: BTreeSet<(String, String, String)>,
    /// Used names per workload kind.
    names: BTreeMap<(&'static str, String), ()>,
}

pub fn import(
    items: &[Item],
    renamed: &BTreeMap<String, String>,
    w: &mut Warnings,
) -> Result<WorkloadsOut, ImportError> {
    let mut cx = Ctx {
        renamed,
        priority_classes: SYSTEM_PRIORITY_CLASSES.iter().map(|s| s.to_string()).collect(),
        objects: items
            .iter()
            .map(|i| (i.origin.kind.clone(), i.origin.namespace.clone(), i.origin.name.clone()))
            .collect(),
        names: BTreeMap::new(),
    };
    let mut out = WorkloadsOut::default();
    for item in items.iter().filter(|i| i.origin.kind == "PriorityClass") {
        priority_class(item, &mut cx, &mut out)?;
    }
    for item in items {
        match item.origin.kind.as_str() {
            "Deployment" => deployment(item, &mut cx, &mut out, w)?,
            // A ReplicaSet whose Deployment is in the input is that Deployment's business.
            "ReplicaSet" if owned_by(item, &cx).is_some() => {}
            "ReplicaSet" => {
                w.field(&item.origin, 0, "imported as a Deployment (no Deployment of the input owns it)");
                deployment(item, &mut cx, &mut out, w)?;
            }
            "StatefulSet" => {
                w.field(
                    &item.origin,
                    0,
                    "kubesim has no StatefulSet: imported as a Deployment (no ordinal names, no ordered start)",
                );
                if let Some(v) = item.object.spec.as_ref().and_then(|s| s.value.volume_claim_templates.as_ref()) {
                    w.field(
                        &item.origin,
                        v.referenced.line(),
                        "volumeClaimTemplates: volumes are not modeled, ignored",
                    );
                }
                deployment(item, &mut cx, &mut out, w)?;
            }
            "DaemonSet" => daemonset(item, &mut cx, &mut out, w)?,
            "Job" => job(item, &mut cx, &mut out, w)?,
            "Pod" => pod(item, &mut cx, &mut out, w)?,
            "PodDisruptionBudget" => pdb(item, &mut out, w),
            _ => {}
        }
    }
    Ok(out)
}

/// The owner of an object if that owner is in the input. A Pod of a Deployment names a ReplicaSet
/// `<deployment>-<pod-template-hash>`, which `kubectl get deployments,pods` does not list: the Deployment counts.
fn owned_by(item: &Item, cx: &Ctx) -> Option<String> {
    let ns = &item.origin.namespace;
    let hash = item.object.metadata.labels.as_ref().and_then(|l| l.get("pod-template-hash"));
    for r in item.object.metadata.owner_references.iter().flatten() {
        if cx.objects.contains(&(r.kind.clone(), ns.clone(), r.name.clone())) {
            return Some(format!("{}/{}", r.kind, r.name));
        }
        if r.kind == "ReplicaSet"
            && let Some(d) = hash.and_then(|h| r.name.strip_suffix(&format!("-{h}")))
            && cx.objects.contains(&("Deployment".to_string(), ns.clone(), d.to_string()))
        {
            return Some(format!("Deployment/{d}"));
        }
    }
    None
}

fn namespace(o: &Origin) -> Option<String> {
    (o.namespace != "default").then(|| o.namespace.clone())
}

/// The object's name, or `<name>-<namespace>` (then `-2`, ...) if a workload of this kind already has it.
fn unique_name(kind: &'static str, o: &Origin, cx: &mut Ctx, w: &mut Warnings) -> String {
    let mut name = o.name.clone();
    let mut n = 2;
    while cx.names.contains_key(&(kind, name.clone())) {
        name = if n == 2 { format!("{}-{}", o.name, o.namespace) } else { format!("{}-{}-{n}", o.name, o.namespace) };
        n += 1;
    }
    if name != o.name {
        w.field(o, 0, format!("another {kind} is named {:?}: renamed {name:?}", o.name));
    }
    cx.names.insert((kind, name.clone()), ());
    name
}

fn spec(item: &Item) -> Result<&Sp<Spec>, ImportError> {
    item.object.spec.as_ref().ok_or_else(|| ImportError(format!("{}: no spec", item.origin.at(0))))
}

fn template_of(item: &Item) -> Result<&Sp<Template>, ImportError> {
    let s = spec(item)?;
    s.value
        .template
        .as_deref()
        .ok_or_else(|| ImportError(format!("{}: no spec.template", item.origin.at(s.referenced.line()))))
}

fn int(v: &Option<Sp<i64>>) -> Option<i64> {
    v.as_ref().map(|v| v.value)
}

fn deployment(item: &Item, cx: &mut Ctx, out: &mut WorkloadsOut, w: &mut Warnings) -> Result<(), ImportError> {
    let o = &item.origin;
    let s = &spec(item)?.value;
    let t = template_of(item)?;
    let mut d = DeploymentOut {
        name: unique_name("Deployment", o, cx, w),
        namespace: namespace(o),
        replicas: int(&s.replicas).unwrap_or(1),
        ..Default::default()
    };
    if let Some(strategy) = &s.strategy {
        if strategy.value.kind.as_deref() == Some("Recreate") {
            w.field(o, strategy.referenced.line(), "strategy Recreate: imported as maxSurge 0, maxUnavailable 100%");
            d.max_surge = Some("0".into());
            d.max_unavailable = Some("100%".into());
        } else if let Some(ru) = &strategy.value.rolling_update {
            d.max_surge = ru.max_surge.clone();
            d.max_unavailable = ru.max_unavailable.clone();
        }
    }
    selector_warning(o, s, w);
    d.template = template(o, t, cx, out, w)?;
    out.deployments.push(d);
    Ok(())
}

/// kubesim selects a controller's pods by its template's labels; matchExpressions are not carried over.
fn selector_warning(o: &Origin, s: &Spec, w: &mut Warnings) {
    if let Some(sel) = &s.selector
        && sel.value.match_expressions.as_ref().is_some_and(|e| !e.is_empty())
    {
        w.field(
            o,
            sel.referenced.line(),
            "selector.matchExpressions: kubesim selects by the template's labels, ignored",
        );
    }
}

fn daemonset(item: &Item, cx: &mut Ctx, out: &mut WorkloadsOut, w: &mut Warnings) -> Result<(), ImportError> {
    let o = &item.origin;
    selector_warning(o, &spec(item)?.value, w);
    let t = template_of(item)?;
    let name = unique_name("DaemonSet", o, cx, w);
    let template = template(o, t, cx, out, w)?;
    out.daemonsets.push(DaemonSetOut { name, namespace: namespace(o), template });
    Ok(())
}

fn job(item: &Item, cx: &mut Ctx, out: &mut WorkloadsOut, w: &mut Warnings) -> Result<(), ImportError> {
    let o = &item.origin;
    let s = &spec(item)?.value;
    let t = template_of(item)?;
    if let Some(m) = s.completion_mode.as_ref().filter(|m| m.value != "NonIndexed") {
        w.field(o, m.referenced.line(), format!("completionMode {}: not modeled, imported as NonIndexed", m.value));
    }
    if let Some(sus) = s.suspend.as_ref().filter(|v| v.value) {
        w.field(o, sus.referenced.line(), "suspend: true is not modeled: the Job starts at once");
    }
    let mut template = template(o, t, cx, out, w)?;
    let restart = t.value.spec.as_ref().and_then(|s| s.value.restart_policy.clone());
    template.restart_policy = restart.filter(|r| r != "Never");
    template.run = Some(RunOut { dist: "fixed".into(), value: JOB_RUN.into() });
    out.jobs.push(JobOut {
        name: unique_name("Job", o, cx, w),
        namespace: namespace(o),
        completions: int(&s.completions),
        parallelism: int(&s.parallelism),
        backoff_limit: int(&s.backoff_limit),
        active_deadline: int(&s.active_deadline_seconds).map(|s| format!("{s}s")),
        template,
    });
    Ok(())
}

fn pod(item: &Item, cx: &mut Ctx, out: &mut WorkloadsOut, w: &mut Warnings) -> Result<(), ImportError> {
    let o = &item.origin;
    if owned_by(item, cx).is_some() {
        return Ok(()); // its controller is imported and recreates it
    }
    let phase = item.object.status.as_ref().and_then(|s| s.phase.as_deref());
    if let Some(p @ ("Succeeded" | "Failed")) = phase {
        w.field(o, 0, format!("pod has finished ({p}): not imported"));
        return Ok(());
    }
    let static_pod = match item.object.metadata.owner_references.iter().flatten().next() {
        Some(r) if r.kind == "Node" => {
            w.field(o, 0, "static (mirror) pod: imported as a bare pod bound to its node");
            true
        }
        Some(r) => {
            w.field(o, 0, format!("owner {}/{} is not in the input: imported as a bare pod", r.kind, r.name));
            false
        }
        None => false,
    };
    let s = spec(item)?;
    let mut template = pod_template(o, item.object.metadata.labels.clone().unwrap_or_default(), s, cx, out, w)?;
    template.restart_policy = s.value.restart_policy.clone().filter(|r| r != "Never");
    if template.restart_policy.is_none() && s.value.restart_policy.is_none() {
        template.restart_policy = Some("Always".into()); // a Pod's default, unlike an arrival's
    }
    if let Some(n) = &s.value.node_name {
        match cx.renamed.get(&n.value) {
            Some(sim) => template.node_name = Some(sim.clone()),
            None if static_pod => {
                w.field(o, n.referenced.line(), format!("node {} is not in the input: the pod is scheduled", n.value))
            }
            None => {} // the scheduler places it, as it did in the source cluster
        }
    }
    out.arrivals.push(ArrivalOut {
        name: unique_name("Pod", o, cx, w),
        namespace: namespace(o),
        interval: "1ms".into(),
        max_pods: 1,
        template,
    });
    Ok(())
}

fn priority_class(item: &Item, cx: &mut Ctx, out: &mut WorkloadsOut) -> Result<(), ImportError> {
    let o = &item.origin;
    if SYSTEM_PRIORITY_CLASSES.contains(&o.name.as_str()) {
        return Ok(()); // built in
    }
    let Some(value) = &item.object.value else {
        return Err(ImportError(format!("{}: PriorityClass without value", o.at(0))));
    };
    cx.priority_classes.insert(o.name.clone());
    out.priority_classes.push(PriorityClassOut {
        name: o.name.clone(),
        value: value.value,
        global_default: item.object.global_default.unwrap_or(false),
        preemption_policy: item.object.preemption_policy.clone(),
    });
    Ok(())
}

fn pdb(item: &Item, out: &mut WorkloadsOut, w: &mut Warnings) {
    let o = &item.origin;
    let Some(s) = item.object.spec.as_ref().map(|s| &s.value) else {
        w.field(o, 0, "no spec: not imported");
        return;
    };
    let sel = s.selector.as_ref();
    if let Some(sel) = sel
        && sel.value.match_expressions.as_ref().is_some_and(|e| !e.is_empty())
    {
        w.field(
            o,
            sel.referenced.line(),
            "selector.matchExpressions is not supported for PodDisruptionBudgets: ignored",
        );
    }
    let labels = sel.and_then(|s| s.value.match_labels.clone()).unwrap_or_default();
    if labels.is_empty() {
        w.field(o, 0, "no selector.matchLabels: not imported");
        return;
    }
    let min = s.min_available.as_ref().map(|v| v.value.clone());
    let max = s.max_unavailable.as_ref().map(|v| v.value.clone());
    if min.is_some() == max.is_some() {
        w.field(o, 0, "needs exactly one of minAvailable and maxUnavailable: not imported");
        return;
    }
    out.pdbs.push(PdbOut {
        name: o.name.clone(),
        namespace: namespace(o),
        selector: labels,
        min_available: min,
        max_unavailable: max,
    });
}

fn template(
    o: &Origin,
    t: &Sp<Template>,
    cx: &mut Ctx,
    out: &mut WorkloadsOut,
    w: &mut Warnings,
) -> Result<TemplateOut, ImportError> {
    let Some(s) = &t.value.spec else {
        return Err(ImportError(format!("{}: no spec.template.spec", o.at(t.referenced.line()))));
    };
    pod_template(o, t.value.metadata.labels.clone().unwrap_or_default(), s, cx, out, w)
}

/// A pod spec to a template (restart policy and run model are the caller's).
fn pod_template(
    o: &Origin,
    labels: BTreeMap<String, String>,
    s: &Sp<Spec>,
    cx: &mut Ctx,
    out: &mut WorkloadsOut,
    w: &mut Warnings,
) -> Result<TemplateOut, ImportError> {
    let spec = &s.value;
    let mut t = TemplateOut { labels, ..Default::default() };
    let containers = spec.containers.as_deref().unwrap_or_default();
    if containers.is_empty() {
        return Err(ImportError(format!("{}: pod spec without containers", o.at(s.referenced.line()))));
    }
    for c in containers {
        t.containers.push(container(o, c, w)?);
    }
    for c in spec.init_containers.iter().flatten() {
        if let Some(rp) = c.value.restart_policy.as_ref().filter(|r| r.value == "Always") {
            w.field(
                o,
                rp.referenced.line(),
                format!(
                    "init container {} is a sidecar (restartPolicy Always): imported as a plain init container",
                    c.value.name
                ),
            );
        }
        t.init_containers.push(container(o, c, w)?);
    }
    match (&spec.priority_class_name, spec.priority) {
        (Some(pc), _) if cx.priority_classes.contains(&pc.value) => t.priority_class = Some(pc.value.clone()),
        (Some(pc), Some(p)) => {
            w.field(
                o,
                pc.referenced.line(),
                format!("PriorityClass {} is not in the input: priority {p} used", pc.value),
            );
            t.priority = Some(p);
        }
        (Some(pc), None) => {
            w.field(o, pc.referenced.line(), format!("PriorityClass {} is not in the input: ignored", pc.value))
        }
        (None, p) => t.priority = p,
    }
    t.preemption_policy = spec.preemption_policy.clone();
    if let Some(name) = spec.scheduler_name.as_ref().filter(|n| n.value != DEFAULT_SCHEDULER) {
        if out.schedulers.insert(name.value.clone()) {
            w.field(
                o,
                name.referenced.line(),
                format!("schedulerName {}: imported as a scheduler profile with the default plugins", name.value),
            );
        }
        t.scheduler_name = Some(name.value.clone());
    }
    t.termination_grace_period = spec.termination_grace_period_seconds.map(|s| format!("{s}s"));
    t.tolerations = spec
        .tolerations
        .iter()
        .flatten()
        .map(|t| TolerationOut {
            key: t.key.clone().filter(|k| !k.is_empty()),
            operator: t.operator.clone(),
            value: t.value.clone().filter(|v| !v.is_empty()),
            effect: t.effect.clone().filter(|e| !e.is_empty()),
            toleration_seconds: t.toleration_seconds,
        })
        .collect();
    placement::constraints(o, spec, cx.renamed, &mut t, w);
    unmodeled(o, s, w);
    Ok(t)
}

fn container(o: &Origin, c: &Sp<Container>, w: &mut Warnings) -> Result<ContainerOut, ImportError> {
    let v = &c.value;
    let line = c.referenced.line();
    if v.name.is_empty() {
        return Err(ImportError(format!("{}: container without a name", o.at(line))));
    }
    let mut out = ContainerOut { name: v.name.clone(), image: v.image.clone(), ..Default::default() };
    if let Some(r) = &v.resources {
        out.requests = resources(o, &v.name, r.requests.as_ref(), w)?;
        out.limits = resources(o, &v.name, r.limits.as_ref(), w)?;
        if let Some(claims) = &r.claims {
            w.field(
                o,
                claims.referenced.line(),
                format!("container {}: resources.claims (DRA) are not modeled, ignored", v.name),
            );
        }
    }
    for p in v.ports.iter().flatten() {
        if let Some(hp) = p.host_port.filter(|p| *p > 0) {
            out.ports.push(PortOut { host_port: hp, protocol: p.protocol.clone(), host_ip: p.host_ip.clone() });
        }
    }
    Ok(out)
}

/// Requests or limits; resource names the scenario compiler does not accept are warned about and dropped.
fn resources(
    o: &Origin,
    container: &str,
    map: Option<&ResourceMap>,
    w: &mut Warnings,
) -> Result<BTreeMap<String, String>, ImportError> {
    let mut out = BTreeMap::new();
    for (name, q) in map.into_iter().flatten() {
        let text = quantity(o, name, q)?;
        if matches!(name.as_str(), "cpu" | "memory" | "ephemeral-storage") || name.contains('/') {
            out.insert(name.clone(), text);
        } else {
            w.field(o, q.referenced.line(), format!("container {container}: resource {name} is not modeled, ignored"));
        }
    }
    Ok(out)
}

/// Warnings for pod fields that change scheduling in Kubernetes but that kubesim does not model.
fn unmodeled(o: &Origin, s: &Sp<Spec>, w: &mut Warnings) {
    let spec = &s.value;
    for v in spec.volumes.iter().flatten() {
        let what = if v.value.persistent_volume_claim.is_some() {
            "a PersistentVolumeClaim"
        } else if v.value.ephemeral.is_some() {
            "a generic ephemeral volume"
        } else {
            continue; // emptyDir, configMap, secret, projected, hostPath: no scheduling effect
        };
        w.field(
            o,
            v.referenced.line(),
            format!(
                "volume {} is {what}: volumes are not modeled (no volume binding or zone constraint)",
                v.value.name
            ),
        );
    }
    if let Some(h) = spec.host_network.as_ref().filter(|h| h.value) {
        w.field(o, h.referenced.line(), "hostNetwork: not modeled (container ports are not reserved on the node)");
    }
    let others: [(&str, Option<u64>); 5] = [
        ("runtimeClassName (and its pod overhead)", spec.runtime_class_name.as_ref().map(|v| v.referenced.line())),
        ("overhead", spec.overhead.as_ref().map(|v| v.referenced.line())),
        ("resourceClaims (DRA)", spec.resource_claims.as_ref().map(|v| v.referenced.line())),
        ("schedulingGates (the pod is scheduled at once)", spec.scheduling_gates.as_ref().map(|v| v.referenced.line())),
        ("pod-level resources", spec.resources.as_ref().map(|v| v.referenced.line())),
    ];
    for (what, line) in others {
        if let Some(line) = line {
            w.field(o, line, format!("{what}: not modeled, ignored"));
        }
    }
}
