//! Mutating and validating admission: what the apiserver adds to or checks on every pod before it is stored.
//!
//! - **Priority** (`plugin/pkg/admission/priority`): a pod naming a PriorityClass gets its value as
//!   `spec.priority` and its `preemptionPolicy`; a pod naming an unknown class is rejected; a pod naming none
//!   gets the global default class, if one exists. The built-in `system-cluster-critical` (2,000,000,000) and
//!   `system-node-critical` (2,000,001,000) classes always exist. (kubesim also lets a template set `priority`
//!   directly when it names no class, as a shorthand.)
//! - **DefaultTolerationSeconds** (`plugin/pkg/admission/defaulttolerationseconds`): every pod that does not
//!   already tolerate them gets `node.kubernetes.io/not-ready:NoExecute` and
//!   `node.kubernetes.io/unreachable:NoExecute` tolerations (`Exists`) with `tolerationSeconds=300`. This is why
//!   pods on a failed node are evicted 300 s after the node is tainted rather than at once.
//!
//! - **matchLabelKeys** of topology spread constraints (`MatchLabelKeysInPodTopologySpreadSelectorMerge`, beta and
//!   on in v1.34): the pod's values for those keys are merged into the constraint's selector at creation, so
//!   e.g. `matchLabelKeys: [pod-template-hash]` spreads each ReplicaSet of a rolling update on its own. A key the
//!   pod does not carry is ignored.
//!
//! All pods of a workload share one template, so admission runs once per template and the admitted template is
//! shared too (memoized by the source template's address; the source is kept alive so the address cannot be
//! reused).

use crate::model::taints::keys;
use crate::model::{PodTemplate, PreemptionPolicy, Str, TaintEffect, Toleration, TolerationOp, s};
use rustc_hash::FxHashMap;
use std::sync::Arc;

/// A PriorityClass.
#[derive(Clone, Debug, PartialEq)]
pub struct PriorityClass {
    pub name: Str,
    pub value: i32,
    pub global_default: bool,
    pub preemption_policy: PreemptionPolicy,
}

impl PriorityClass {
    /// The classes every cluster has.
    pub fn builtin() -> Vec<PriorityClass> {
        let class = |name: &str, value| PriorityClass {
            name: s(name),
            value,
            global_default: false,
            preemption_policy: PreemptionPolicy::PreemptLowerPriority,
        };
        vec![class("system-cluster-critical", 2_000_000_000), class("system-node-critical", 2_000_001_000)]
    }
}

type Admitted = Result<Arc<PodTemplate>, String>;

pub struct Admission {
    default_toleration_seconds: i64,
    classes: Vec<PriorityClass>,
    /// Source template address -> (source kept alive, admission result). Lookups only, never iterated.
    memo: FxHashMap<usize, (Arc<PodTemplate>, Admitted)>,
}

impl Admission {
    /// `classes` are the scenario's PriorityClasses; the built-in ones are added.
    pub fn new(default_toleration_seconds: i64, mut classes: Vec<PriorityClass>) -> Admission {
        for b in PriorityClass::builtin() {
            if !classes.iter().any(|c| c.name == b.name) {
                classes.push(b);
            }
        }
        Admission { default_toleration_seconds, classes, memo: FxHashMap::default() }
    }

    /// The admitted version of `template` (shared between all pods created from it), or why it is rejected.
    pub fn admit_pod(&mut self, template: &Arc<PodTemplate>) -> Admitted {
        let key = Arc::as_ptr(template) as usize;
        if let Some((_, admitted)) = self.memo.get(&key) {
            return admitted.clone();
        }
        let admitted = self.admit(template);
        self.memo.insert(key, (template.clone(), admitted.clone()));
        admitted
    }

    fn admit(&self, template: &Arc<PodTemplate>) -> Admitted {
        let mut out: Option<PodTemplate> = None;
        // Priority.
        let class = match &template.priority_class_name {
            Some(name) => Some(
                self.classes
                    .iter()
                    .find(|c| c.name == *name)
                    .ok_or_else(|| format!("pods are forbidden: no PriorityClass with name {name} was found"))?,
            ),
            None => self.classes.iter().find(|c| c.global_default),
        };
        if let Some(c) = class {
            let t = out.get_or_insert_with(|| (**template).clone());
            t.priority_class_name = Some(c.name.clone());
            t.priority = c.value;
            t.preemption_policy = c.preemption_policy;
        }
        // DefaultTolerationSeconds.
        let current = out.as_ref().unwrap_or(template);
        if let Some(tolerations) = self.default_tolerations(&current.tolerations) {
            out.get_or_insert_with(|| (**template).clone()).tolerations = tolerations;
        }
        // matchLabelKeys.
        let current = out.as_ref().unwrap_or(template);
        if current.topology_spread.iter().any(|c| !c.match_label_keys.is_empty()) {
            let t = out.get_or_insert_with(|| (**template).clone());
            let labels = t.labels.clone();
            for c in &mut t.topology_spread {
                for key in &c.match_label_keys {
                    if let Some(v) = labels.get(key) {
                        c.selector.match_labels.insert(key.clone(), v.clone());
                    }
                }
            }
        }
        Ok(match out {
            Some(t) => Arc::new(t),
            None => template.clone(),
        })
    }

    /// The tolerations with the defaults added, or `None` when the pod already tolerates both taints.
    fn default_tolerations(&self, tolerations: &[Toleration]) -> Option<Vec<Toleration>> {
        let covers = |key: &str, t: &Toleration| {
            (t.key.is_empty() || &*t.key == key) && t.effect.is_none_or(|e| e == TaintEffect::NoExecute)
        };
        let has_not_ready = tolerations.iter().any(|t| covers(keys::NOT_READY, t));
        let has_unreachable = tolerations.iter().any(|t| covers(keys::UNREACHABLE, t));
        if has_not_ready && has_unreachable {
            return None;
        }
        let add = |key: &str| Toleration {
            key: s(key),
            op: TolerationOp::Exists,
            value: s(""),
            effect: Some(TaintEffect::NoExecute),
            toleration_seconds: Some(self.default_toleration_seconds),
        };
        let mut out = tolerations.to_vec();
        if !has_not_ready {
            out.push(add(keys::NOT_READY));
        }
        if !has_unreachable {
            out.push(add(keys::UNREACHABLE));
        }
        Some(out)
    }
}
