//! Compiling a template's placement constraints: node affinity, pod (anti-)affinity, topology spread and host
//! ports, with Kubernetes' validation rules (operators and their values, weights 1-100, `maxSkew` >= 1, ...).

use super::{Compiler, validate_label};
use crate::model::{
    HostPort, InclusionPolicy, LabelSelector, Labels, NodeAffinity, NodeSelectorOp, NodeSelectorRequirement,
    NodeSelectorTerm, PodAffinityRules, PodAffinityTerm, PreferredSchedulingTerm, Protocol, SelectorOp,
    SelectorRequirement, TopologySpreadConstraint, WeightedPodAffinityTerm, WhenUnsatisfiable, s,
};
use crate::scenario::schema::{self, Sp};
use std::collections::BTreeMap;

impl Compiler<'_> {
    /// A label-selector requirement: In/NotIn need values, Exists/DoesNotExist none.
    pub(super) fn selector_requirement(&mut self, r: &Sp<schema::RequirementEntry>) -> Option<SelectorRequirement> {
        let e = r.get_ref();
        let op = match e.operator.get_ref().as_str() {
            "In" => SelectorOp::In,
            "NotIn" => SelectorOp::NotIn,
            "Exists" => SelectorOp::Exists,
            "DoesNotExist" => SelectorOp::DoesNotExist,
            other => {
                return self.err(
                    e.operator.span(),
                    format!("unknown operator {other:?}; expected \"In\", \"NotIn\", \"Exists\" or \"DoesNotExist\""),
                );
            }
        };
        let values: Vec<_> = e.values.iter().map(|v| s(v.get_ref())).collect();
        match op {
            SelectorOp::In | SelectorOp::NotIn if values.is_empty() => {
                return self.err(r.span(), format!("operator {:?} needs at least one value", e.operator.get_ref()));
            }
            SelectorOp::Exists | SelectorOp::DoesNotExist if !values.is_empty() => {
                return self.err(r.span(), format!("operator {:?} takes no values", e.operator.get_ref()));
            }
            _ => {}
        }
        Some(SelectorRequirement { key: s(e.key.get_ref()), op, values })
    }

    /// A label selector from `matchLabels` and `matchExpressions`.
    pub(super) fn label_selector(
        &mut self,
        labels: &BTreeMap<String, Sp<String>>,
        exprs: &[Sp<schema::RequirementEntry>],
    ) -> LabelSelector {
        LabelSelector {
            match_labels: self.labels(labels),
            match_expressions: exprs.iter().filter_map(|r| self.selector_requirement(r)).collect(),
        }
    }

    /// A node-selector requirement; `field`: a `matchFields` entry (only `metadata.name`, In or NotIn).
    fn node_requirement(&mut self, r: &Sp<schema::RequirementEntry>, field: bool) -> Option<NodeSelectorRequirement> {
        let e = r.get_ref();
        let op = match e.operator.get_ref().as_str() {
            "In" => NodeSelectorOp::In,
            "NotIn" => NodeSelectorOp::NotIn,
            "Exists" if !field => NodeSelectorOp::Exists,
            "DoesNotExist" if !field => NodeSelectorOp::DoesNotExist,
            "Gt" if !field => NodeSelectorOp::Gt,
            "Lt" if !field => NodeSelectorOp::Lt,
            other => {
                let expected = if field {
                    "\"In\" or \"NotIn\" (match_fields)"
                } else {
                    "\"In\", \"NotIn\", \"Exists\", \"DoesNotExist\", \"Gt\" or \"Lt\""
                };
                return self.err(e.operator.span(), format!("unknown operator {other:?}; expected {expected}"));
            }
        };
        if field && e.key.get_ref() != "metadata.name" {
            return self.err(e.key.span(), "match_fields supports only the key \"metadata.name\"");
        }
        let values: Vec<_> = e.values.iter().map(|v| s(v.get_ref())).collect();
        let n = values.len();
        let problem = match op {
            NodeSelectorOp::In | NodeSelectorOp::NotIn if n == 0 => Some("needs at least one value".to_string()),
            NodeSelectorOp::In | NodeSelectorOp::NotIn if field && n != 1 => {
                Some("takes exactly one value in match_fields".to_string())
            }
            NodeSelectorOp::Exists | NodeSelectorOp::DoesNotExist if n != 0 => Some("takes no values".to_string()),
            NodeSelectorOp::Gt | NodeSelectorOp::Lt if n != 1 || values[0].parse::<i64>().is_err() => {
                Some("takes exactly one integer value".to_string())
            }
            _ => None,
        };
        if let Some(p) = problem {
            return self.err(r.span(), format!("operator {:?} {p}", e.operator.get_ref()));
        }
        Some(NodeSelectorRequirement { key: s(e.key.get_ref()), op, values })
    }

    fn node_term(
        &mut self,
        span: std::ops::Range<usize>,
        exprs: &[Sp<schema::RequirementEntry>],
        fields: &[Sp<schema::RequirementEntry>],
    ) -> Option<NodeSelectorTerm> {
        if exprs.is_empty() && fields.is_empty() {
            return self.err(
                span,
                "a node selector term needs match_expressions or match_fields (an empty term matches no node)",
            );
        }
        let match_expressions: Vec<_> = exprs.iter().filter_map(|r| self.node_requirement(r, false)).collect();
        let match_fields: Vec<_> = fields.iter().filter_map(|r| self.node_requirement(r, true)).collect();
        Some(NodeSelectorTerm { match_expressions, match_fields })
    }

    pub(super) fn node_affinity(&mut self, a: &Sp<schema::NodeAffinityEntry>) -> Option<NodeAffinity> {
        let e = a.get_ref();
        let required = match &e.required {
            None => None,
            Some(terms) if terms.is_empty() => {
                return self.err(a.span(), "node_affinity.required needs at least one term (terms are ORed)");
            }
            Some(terms) => Some(
                terms
                    .iter()
                    .filter_map(|t| self.node_term(t.span(), &t.get_ref().match_expressions, &t.get_ref().match_fields))
                    .collect(),
            ),
        };
        let mut preferred = Vec::new();
        for p in &e.preferred {
            let pe = p.get_ref();
            let weight = self.int_in(&pe.weight, 1, 100, "weight");
            let term = self.node_term(p.span(), &pe.match_expressions, &pe.match_fields);
            if let (Some(weight), Some(term)) = (weight, term) {
                preferred.push(PreferredSchedulingTerm { weight: weight as i32, term });
            }
        }
        Some(NodeAffinity { required, preferred })
    }

    fn pod_term(
        &mut self,
        selector: &BTreeMap<String, Sp<String>>,
        exprs: &[Sp<schema::RequirementEntry>],
        namespaces: &[Sp<String>],
        topology_key: &Sp<String>,
    ) -> Option<PodAffinityTerm> {
        if topology_key.get_ref().is_empty() {
            return self.err(topology_key.span(), "topology_key must not be empty");
        }
        if let Err(msg) = validate_label(topology_key.get_ref(), "") {
            return self.err(topology_key.span(), msg);
        }
        let namespaces = namespaces.iter().filter_map(|n| self.name(n, "namespace")).collect();
        Some(PodAffinityTerm {
            selector: self.label_selector(selector, exprs),
            namespaces,
            topology_key: s(topology_key.get_ref()),
        })
    }

    pub(super) fn pod_affinity(&mut self, a: &Sp<schema::PodAffinityEntry>) -> PodAffinityRules {
        let e = a.get_ref();
        let mut rules = PodAffinityRules::default();
        for t in &e.required {
            let te = t.get_ref();
            if let Some(term) = self.pod_term(&te.selector, &te.match_expressions, &te.namespaces, &te.topology_key) {
                rules.required.push(term);
            }
        }
        for t in &e.preferred {
            let te = t.get_ref();
            let weight = self.int_in(&te.weight, 1, 100, "weight");
            let term = self.pod_term(&te.selector, &te.match_expressions, &te.namespaces, &te.topology_key);
            if let (Some(weight), Some(term)) = (weight, term) {
                rules.preferred.push(WeightedPodAffinityTerm { weight: weight as i32, term });
            }
        }
        rules
    }

    /// A topology spread constraint; the selector defaults to `own_labels` (the pod's own).
    pub(super) fn spread(
        &mut self,
        c: &Sp<schema::SpreadEntry>,
        own_labels: &Labels,
    ) -> Option<TopologySpreadConstraint> {
        let e = c.get_ref();
        let max_skew = self.int_in(&e.max_skew, 1, i64::from(i32::MAX), "max_skew")? as i32;
        if e.topology_key.get_ref().is_empty() {
            return self.err(e.topology_key.span(), "topology_key must not be empty");
        }
        let when_unsatisfiable = match e.when_unsatisfiable.as_ref().map(|w| (w.get_ref().as_str(), w.span())) {
            Some(("DoNotSchedule", _)) => WhenUnsatisfiable::DoNotSchedule,
            Some(("ScheduleAnyway", _)) => WhenUnsatisfiable::ScheduleAnyway,
            Some((other, span)) => {
                return self.err(
                    span,
                    format!("unknown when_unsatisfiable {other:?}; expected \"DoNotSchedule\" or \"ScheduleAnyway\""),
                );
            }
            None => {
                return self.err(
                    c.span(),
                    "a topology spread constraint needs when_unsatisfiable (\"DoNotSchedule\" or \"ScheduleAnyway\")",
                );
            }
        };
        let min_domains = match &e.min_domains {
            Some(_) if when_unsatisfiable != WhenUnsatisfiable::DoNotSchedule => {
                let span = e.min_domains.as_ref().map(|m| m.span()).unwrap_or(c.span());
                return self.err(span, "min_domains applies only to when_unsatisfiable = \"DoNotSchedule\"");
            }
            Some(m) => Some(self.int_in(m, 1, i64::from(i32::MAX), "min_domains")? as i32),
            None => None,
        };
        let mut policy = |p: &Option<Sp<String>>, default: InclusionPolicy, what: &str| match p {
            None => Some(default),
            Some(v) => match v.get_ref().as_str() {
                "Honor" => Some(InclusionPolicy::Honor),
                "Ignore" => Some(InclusionPolicy::Ignore),
                other => self.err(v.span(), format!("unknown {what} {other:?}; expected \"Honor\" or \"Ignore\"")),
            },
        };
        let node_affinity_policy = policy(&e.node_affinity_policy, InclusionPolicy::Honor, "node_affinity_policy")?;
        let node_taints_policy = policy(&e.node_taints_policy, InclusionPolicy::Ignore, "node_taints_policy")?;
        let selector = match &e.selector {
            Some(map) => self.label_selector(map, &e.match_expressions),
            None => {
                let mut sel = LabelSelector::from_labels(own_labels.clone());
                sel.match_expressions =
                    e.match_expressions.iter().filter_map(|r| self.selector_requirement(r)).collect();
                sel
            }
        };
        Some(TopologySpreadConstraint {
            max_skew,
            topology_key: s(e.topology_key.get_ref()),
            when_unsatisfiable,
            selector,
            min_domains,
            node_affinity_policy,
            node_taints_policy,
            match_label_keys: e.match_label_keys.iter().map(|k| s(k.get_ref())).collect(),
        })
    }

    pub(super) fn ports(&mut self, ports: &[Sp<schema::PortEntry>]) -> Vec<HostPort> {
        let mut out = Vec::new();
        for p in ports {
            let e = p.get_ref();
            let Some(port) = self.int_in(&e.host_port, 1, 65535, "host_port") else { continue };
            let protocol = match e.protocol.as_ref().map(|x| (x.get_ref().as_str(), x.span())) {
                None | Some(("TCP", _)) => Protocol::Tcp,
                Some(("UDP", _)) => Protocol::Udp,
                Some(("SCTP", _)) => Protocol::Sctp,
                Some((other, span)) => {
                    self.err::<()>(span, format!("unknown protocol {other:?}; expected \"TCP\", \"UDP\" or \"SCTP\""));
                    continue;
                }
            };
            let host_ip = e.host_ip.as_ref().map(|h| s(h.get_ref())).unwrap_or_default();
            let hp = HostPort { port: port as i32, protocol, host_ip };
            if out.contains(&hp) {
                self.err::<()>(p.span(), format!("duplicate host port {port}/{}", protocol.as_str()));
                continue;
            }
            out.push(hp);
        }
        out
    }
}
