//! Mutating admission: what the apiserver adds to every pod before it is stored.
//!
//! Implemented: **DefaultTolerationSeconds** (`plugin/pkg/admission/defaulttolerationseconds`): every pod that
//! does not already tolerate them gets `node.kubernetes.io/not-ready:NoExecute` and
//! `node.kubernetes.io/unreachable:NoExecute` tolerations (`Exists`) with `tolerationSeconds=300`. This is why
//! pods on a failed node are evicted 300 s after the node is tainted rather than at once.
//!
//! All pods of a workload share one template, so admission runs once per template and the admitted template is
//! shared too (memoized by the source template's address; the source is kept alive so the address cannot be
//! reused).

use crate::model::taints::keys;
use crate::model::{PodTemplate, TaintEffect, Toleration, TolerationOp, s};
use rustc_hash::FxHashMap;
use std::sync::Arc;

pub struct Admission {
    default_toleration_seconds: i64,
    /// Source template address -> (source kept alive, admitted template). Lookups only, never iterated.
    memo: FxHashMap<usize, (Arc<PodTemplate>, Arc<PodTemplate>)>,
}

impl Admission {
    pub fn new(default_toleration_seconds: i64) -> Admission {
        Admission { default_toleration_seconds, memo: FxHashMap::default() }
    }

    /// The admitted version of `template` (shared between all pods created from it).
    pub fn admit_pod(&mut self, template: &Arc<PodTemplate>) -> Arc<PodTemplate> {
        let key = Arc::as_ptr(template) as usize;
        if let Some((_, admitted)) = self.memo.get(&key) {
            return admitted.clone();
        }
        let admitted = match self.default_tolerations(template) {
            Some(t) => Arc::new(t),
            None => template.clone(),
        };
        self.memo.insert(key, (template.clone(), admitted.clone()));
        admitted
    }

    /// DefaultTolerationSeconds. `None` when the pod already tolerates both taints.
    fn default_tolerations(&self, template: &PodTemplate) -> Option<PodTemplate> {
        let covers = |key: &str, t: &Toleration| {
            (t.key.is_empty() || &*t.key == key) && t.effect.is_none_or(|e| e == TaintEffect::NoExecute)
        };
        let has_not_ready = template.tolerations.iter().any(|t| covers(keys::NOT_READY, t));
        let has_unreachable = template.tolerations.iter().any(|t| covers(keys::UNREACHABLE, t));
        if has_not_ready && has_unreachable {
            return None;
        }
        let mut admitted = template.clone();
        let add = |key: &str| Toleration {
            key: s(key),
            op: TolerationOp::Exists,
            value: s(""),
            effect: Some(TaintEffect::NoExecute),
            toleration_seconds: Some(self.default_toleration_seconds),
        };
        if !has_not_ready {
            admitted.tolerations.push(add(keys::NOT_READY));
        }
        if !has_unreachable {
            admitted.tolerations.push(add(keys::UNREACHABLE));
        }
        Some(admitted)
    }
}
