//! Node taints and pod tolerations, matched as upstream `Toleration.ToleratesTaint`.

use super::Str;

/// Effect of a taint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TaintEffect {
    /// New pods that do not tolerate it are not scheduled on the node.
    NoSchedule,
    /// The scheduler avoids the node for pods that do not tolerate it (a score, not a filter).
    PreferNoSchedule,
    /// Not scheduled, and running pods that do not tolerate it are evicted (after `tolerationSeconds`).
    NoExecute,
}

impl TaintEffect {
    pub fn as_str(self) -> &'static str {
        match self {
            TaintEffect::NoSchedule => "NoSchedule",
            TaintEffect::PreferNoSchedule => "PreferNoSchedule",
            TaintEffect::NoExecute => "NoExecute",
        }
    }

    pub fn parse(text: &str) -> Option<TaintEffect> {
        match text {
            "NoSchedule" => Some(TaintEffect::NoSchedule),
            "PreferNoSchedule" => Some(TaintEffect::PreferNoSchedule),
            "NoExecute" => Some(TaintEffect::NoExecute),
            _ => None,
        }
    }
}

/// A node taint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Taint {
    pub key: Str,
    pub value: Str,
    pub effect: TaintEffect,
}

/// Well-known taint keys set by the node lifecycle controller.
pub mod keys {
    pub const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
    pub const NOT_READY: &str = "node.kubernetes.io/not-ready";
    pub const UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";
}

/// Operator of a toleration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TolerationOp {
    /// The value must equal the taint's value (the default).
    Equal,
    /// Any value matches; with an empty key, any taint matches.
    Exists,
}

/// A pod toleration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Toleration {
    /// Empty matches every key (only valid with `Exists`).
    pub key: Str,
    pub op: TolerationOp,
    pub value: Str,
    /// `None` matches every effect.
    pub effect: Option<TaintEffect>,
    /// For `NoExecute`: how long the pod stays bound after the taint appears; `None` is forever.
    pub toleration_seconds: Option<i64>,
}

impl Toleration {
    /// Upstream `ToleratesTaint`: effect (if set) must match, key (if set) must match, then `Exists` matches any
    /// value and `Equal` compares values.
    pub fn tolerates(&self, taint: &Taint) -> bool {
        if self.effect.is_some_and(|e| e != taint.effect) {
            return false;
        }
        if !self.key.is_empty() && self.key != taint.key {
            return false;
        }
        match self.op {
            TolerationOp::Exists => true,
            TolerationOp::Equal => self.value == taint.value,
        }
    }
}

/// True when some toleration in `tolerations` tolerates `taint`.
pub fn tolerated(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| t.tolerates(taint))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::s;

    fn taint(key: &str, value: &str, effect: TaintEffect) -> Taint {
        Taint { key: s(key), value: s(value), effect }
    }

    fn tol(key: &str, op: TolerationOp, value: &str, effect: Option<TaintEffect>) -> Toleration {
        Toleration { key: s(key), op, value: s(value), effect, toleration_seconds: None }
    }

    #[test]
    fn toleration_matching_table() {
        use TaintEffect::*;
        use TolerationOp::*;
        let t = taint("dedicated", "gpu", NoSchedule);
        let cases = [
            (tol("dedicated", Equal, "gpu", Some(NoSchedule)), true),
            (tol("dedicated", Equal, "gpu", None), true),
            (tol("dedicated", Equal, "cpu", Some(NoSchedule)), false),
            (tol("dedicated", Exists, "", Some(NoSchedule)), true),
            (tol("dedicated", Exists, "", Some(NoExecute)), false),
            (tol("other", Exists, "", None), false),
            (tol("", Exists, "", None), true),
            (tol("", Exists, "", Some(NoExecute)), false),
        ];
        for (i, (toleration, expected)) in cases.iter().enumerate() {
            assert_eq!(toleration.tolerates(&t), *expected, "case {i}");
        }
    }
}
