//! nodeSelector, affinity and topologySpreadConstraints to the template's placement keys.
//!
//! Node names in `kubernetes.io/hostname` selectors and `metadata.name` field selectors are rewritten to the
//! simulated node names so that a pinned pod still lands on "its" node.

use super::super::emit::{
    NodeAffinityOut, NodeTermOut, PodAffinityOut, PodTermOut, RequirementOut, SpreadOut, TemplateOut,
};
use super::super::yaml::{LabelSelector, NodeSelectorTerm, PodAffinity, PodAffinityTerm, Requirement, Sp, Spec};
use super::super::{Origin, Warnings};
use std::collections::BTreeMap;

const HOSTNAME_LABEL: &str = "kubernetes.io/hostname";

pub fn constraints(o: &Origin, spec: &Spec, renamed: &BTreeMap<String, String>, t: &mut TemplateOut, w: &mut Warnings) {
    let rename = |v: &String| renamed.get(v).cloned().unwrap_or_else(|| v.clone());
    t.node_selector = spec
        .node_selector
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), if k == HOSTNAME_LABEL { rename(v) } else { v.clone() }))
        .collect();
    if let Some(a) = &spec.affinity {
        if let Some(na) = &a.node_affinity {
            let mut out = NodeAffinityOut::default();
            if let Some(req) = &na.required_during_scheduling_ignored_during_execution {
                out.required =
                    Some(req.node_selector_terms.iter().map(|term| node_term(term, None, renamed)).collect());
            }
            for p in na.preferred_during_scheduling_ignored_during_execution.iter().flatten() {
                out.preferred.push(node_term(&p.preference, Some(p.weight), renamed));
            }
            if out.required.is_some() || !out.preferred.is_empty() {
                t.node_affinity = Some(out);
            }
        }
        t.pod_affinity = a.pod_affinity.as_ref().map(|pa| pod_affinity(o, pa, w)).filter(|p| !p.is_empty());
        t.pod_anti_affinity = a.pod_anti_affinity.as_ref().map(|pa| pod_affinity(o, pa, w)).filter(|p| !p.is_empty());
    }
    for c in spec.topology_spread_constraints.iter().flatten() {
        if let Some(s) = spread(o, c, w) {
            t.topology_spread.push(s);
        }
    }
}

fn requirements(
    reqs: Option<&Vec<Requirement>>,
    renamed: Option<&BTreeMap<String, String>>,
    field: bool,
) -> Vec<RequirementOut> {
    reqs.into_iter()
        .flatten()
        .map(|r| {
            let pinned = if field { r.key == "metadata.name" } else { r.key == HOSTNAME_LABEL };
            let values = r
                .values
                .iter()
                .flatten()
                .map(|v| match renamed.filter(|_| pinned).and_then(|m| m.get(v)) {
                    Some(n) => n.clone(),
                    None => v.clone(),
                })
                .collect();
            RequirementOut { key: r.key.clone(), operator: r.operator.clone(), values }
        })
        .collect()
}

fn node_term(term: &NodeSelectorTerm, weight: Option<i64>, renamed: &BTreeMap<String, String>) -> NodeTermOut {
    NodeTermOut {
        weight,
        match_expressions: requirements(term.match_expressions.as_ref(), Some(renamed), false),
        match_fields: requirements(term.match_fields.as_ref(), Some(renamed), true),
    }
}

fn selector_parts(sel: Option<&LabelSelector>) -> (BTreeMap<String, String>, Vec<RequirementOut>) {
    match sel {
        Some(s) => {
            (s.match_labels.clone().unwrap_or_default(), requirements(s.match_expressions.as_ref(), None, false))
        }
        None => (BTreeMap::new(), Vec::new()),
    }
}

fn pod_term(o: &Origin, term: &Sp<PodAffinityTerm>, weight: Option<i64>, w: &mut Warnings) -> PodTermOut {
    let v = &term.value;
    let unmodeled = [
        ("namespaceSelector", &v.namespace_selector),
        ("matchLabelKeys", &v.match_label_keys),
        ("mismatchLabelKeys", &v.mismatch_label_keys),
    ];
    for (what, field) in unmodeled {
        if let Some(f) = field {
            w.field(o, f.referenced.line(), format!("pod affinity term {what}: not modeled, ignored"));
        }
    }
    let (selector, match_expressions) = selector_parts(v.label_selector.as_ref());
    PodTermOut {
        weight,
        selector,
        match_expressions,
        namespaces: v.namespaces.clone().unwrap_or_default(),
        topology_key: v.topology_key.clone(),
    }
}

fn pod_affinity(o: &Origin, pa: &PodAffinity, w: &mut Warnings) -> PodAffinityOut {
    let mut out = PodAffinityOut::default();
    for term in pa.required_during_scheduling_ignored_during_execution.iter().flatten() {
        out.required.push(pod_term(o, term, None, w));
    }
    for p in pa.preferred_during_scheduling_ignored_during_execution.iter().flatten() {
        if let Some(term) = &p.pod_affinity_term {
            out.preferred.push(pod_term(o, term, Some(p.weight), w));
        }
    }
    out
}

fn spread(o: &Origin, c: &Sp<super::super::yaml::SpreadConstraint>, w: &mut Warnings) -> Option<SpreadOut> {
    let v = &c.value;
    // Kubernetes counts no pods for a constraint without a labelSelector; kubesim would count the pod's own
    // labels, which changes placement: drop it instead.
    let Some(sel) = &v.label_selector else {
        w.field(
            o,
            c.referenced.line(),
            format!("topology spread on {} has no labelSelector (it counts no pods): dropped", v.topology_key),
        );
        return None;
    };
    let (selector, match_expressions) = selector_parts(Some(sel));
    Some(SpreadOut {
        max_skew: v.max_skew,
        topology_key: v.topology_key.clone(),
        when_unsatisfiable: v.when_unsatisfiable.clone(),
        selector: Some(selector),
        match_expressions,
        min_domains: v.min_domains,
        node_affinity_policy: v.node_affinity_policy.clone(),
        node_taints_policy: v.node_taints_policy.clone(),
        match_label_keys: v.match_label_keys.clone().unwrap_or_default(),
    })
}
