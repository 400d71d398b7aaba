//! Labels, label selectors (ReplicaSets, topology spread, affinity) and node selector terms (node affinity).

use super::{Str, s};

/// A set of labels, sorted by key for binary search and deterministic iteration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Labels(Vec<(Str, Str)>);

impl Labels {
    pub fn new() -> Labels {
        Labels(Vec::new())
    }

    /// Builds from pairs; a later duplicate key overrides an earlier one.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (Str, Str)>) -> Labels {
        let mut labels = Labels::new();
        for (k, v) in pairs {
            labels.insert(k, v);
        }
        labels
    }

    pub fn get(&self, key: &str) -> Option<&Str> {
        self.0.binary_search_by(|(k, _)| (**k).cmp(key)).ok().map(|i| &self.0[i].1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn insert(&mut self, key: Str, value: Str) {
        match self.0.binary_search_by(|(k, _)| k.cmp(&key)) {
            Ok(i) => self.0[i].1 = value,
            Err(i) => self.0.insert(i, (key, value)),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Str, &Str)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// True when every pair of `subset` is present in `self` with the same value (nodeSelector, matchLabels).
    pub fn contains_all(&self, subset: &Labels) -> bool {
        subset.iter().all(|(k, v)| self.get(k) == Some(v))
    }
}

/// Operators of a label selector's `matchExpressions`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SelectorOp {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

/// One `matchExpressions` entry of a label selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectorRequirement {
    pub key: Str,
    pub op: SelectorOp,
    pub values: Vec<Str>,
}

impl SelectorRequirement {
    pub fn matches(&self, labels: &Labels) -> bool {
        let value = labels.get(&self.key);
        match self.op {
            SelectorOp::In => value.is_some_and(|v| self.values.contains(v)),
            SelectorOp::NotIn => value.is_none_or(|v| !self.values.contains(v)),
            SelectorOp::Exists => value.is_some(),
            SelectorOp::DoesNotExist => value.is_none(),
        }
    }
}

/// A `metav1.LabelSelector`: `matchLabels` AND all `matchExpressions`. An empty selector matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector {
    pub match_labels: Labels,
    pub match_expressions: Vec<SelectorRequirement>,
}

impl LabelSelector {
    pub fn from_labels(labels: Labels) -> LabelSelector {
        LabelSelector { match_labels: labels, match_expressions: Vec::new() }
    }

    pub fn matches(&self, labels: &Labels) -> bool {
        labels.contains_all(&self.match_labels) && self.match_expressions.iter().all(|r| r.matches(labels))
    }

    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.match_expressions.is_empty()
    }
}

/// Operators of a node selector requirement (node affinity): label selector operators plus `Gt` and `Lt`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeSelectorOp {
    In,
    NotIn,
    Exists,
    DoesNotExist,
    Gt,
    Lt,
}

/// One `matchExpressions` entry of a node selector term.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeSelectorRequirement {
    pub key: Str,
    pub op: NodeSelectorOp,
    pub values: Vec<Str>,
}

impl NodeSelectorRequirement {
    /// Upstream semantics: `Gt`/`Lt` take exactly one integer value and compare it with the label parsed as an
    /// integer; a missing or non-integer label does not match.
    pub fn matches(&self, labels: &Labels) -> bool {
        let value = labels.get(&self.key);
        match self.op {
            NodeSelectorOp::In => value.is_some_and(|v| self.values.contains(v)),
            NodeSelectorOp::NotIn => value.is_none_or(|v| !self.values.contains(v)),
            NodeSelectorOp::Exists => value.is_some(),
            NodeSelectorOp::DoesNotExist => value.is_none(),
            NodeSelectorOp::Gt | NodeSelectorOp::Lt => {
                let (Some(v), Some(bound)) = (value, self.values.first()) else { return false };
                let (Ok(v), Ok(bound)) = (v.parse::<i64>(), bound.parse::<i64>()) else { return false };
                if self.op == NodeSelectorOp::Gt { v > bound } else { v < bound }
            }
        }
    }
}

/// A node selector term: `matchExpressions` on labels AND `matchFields` (only `metadata.name` exists) all hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeSelectorTerm {
    pub match_expressions: Vec<NodeSelectorRequirement>,
    /// Requirements on fields; the key is `metadata.name`.
    pub match_fields: Vec<NodeSelectorRequirement>,
}

impl NodeSelectorTerm {
    /// Upstream: a term with no requirements matches nothing.
    pub fn matches(&self, node_name: &str, labels: &Labels) -> bool {
        if self.match_expressions.is_empty() && self.match_fields.is_empty() {
            return false;
        }
        self.match_expressions.iter().all(|r| r.matches(labels))
            && self.match_fields.iter().all(|r| r.matches_node_name(node_name))
    }
}

/// The only field a node selector may name (`metav1.ObjectNameField`).
pub const NODE_NAME_FIELD: &str = "metadata.name";

impl NodeSelectorRequirement {
    /// A `matchFields` requirement against the node's name. Upstream (component-helpers `nodeaffinity`) accepts
    /// only `metadata.name` with `In` or `NotIn` and exactly one value; anything else is a parse error, and a
    /// term with a parse error matches no node.
    pub fn matches_node_name(&self, node_name: &str) -> bool {
        if &*self.key != NODE_NAME_FIELD || self.values.len() != 1 {
            return false;
        }
        match self.op {
            NodeSelectorOp::In => &*self.values[0] == node_name,
            NodeSelectorOp::NotIn => &*self.values[0] != node_name,
            _ => false,
        }
    }
}

/// Node affinity. `required` (`requiredDuringSchedulingIgnoredDuringExecution`): the terms are ORed; `None`
/// requires nothing. `preferred`: weighted terms the NodeAffinity score adds up.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeAffinity {
    pub required: Option<Vec<NodeSelectorTerm>>,
    pub preferred: Vec<super::PreferredSchedulingTerm>,
}

impl NodeAffinity {
    pub fn required_matches(&self, node_name: &str, labels: &Labels) -> bool {
        match &self.required {
            None => true,
            Some(terms) => terms.iter().any(|t| t.matches(node_name, labels)),
        }
    }

    /// The affinity pinning a pod to one node (how DaemonSet pods are placed: `matchFields metadata.name In`).
    pub fn to_node(name: super::Str) -> NodeAffinity {
        NodeAffinity {
            required: Some(vec![NodeSelectorTerm {
                match_expressions: vec![],
                match_fields: vec![NodeSelectorRequirement {
                    key: super::s(NODE_NAME_FIELD),
                    op: NodeSelectorOp::In,
                    values: vec![name],
                }],
            }]),
            preferred: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::s;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs.iter().map(|(k, v)| (s(k), s(v))))
    }

    #[test]
    fn selector_operators() {
        let l = labels(&[("app", "web"), ("tier", "front"), ("gen", "5")]);
        let req = |key: &str, op, values: &[&str]| SelectorRequirement {
            key: s(key),
            op,
            values: values.iter().map(s).collect(),
        };
        assert!(req("app", SelectorOp::In, &["web", "api"]).matches(&l));
        assert!(!req("app", SelectorOp::In, &["api"]).matches(&l));
        assert!(req("app", SelectorOp::NotIn, &["api"]).matches(&l));
        assert!(req("missing", SelectorOp::NotIn, &["api"]).matches(&l));
        assert!(req("tier", SelectorOp::Exists, &[]).matches(&l));
        assert!(req("missing", SelectorOp::DoesNotExist, &[]).matches(&l));
        let sel = LabelSelector {
            match_labels: labels(&[("app", "web")]),
            match_expressions: vec![req("tier", SelectorOp::In, &["front"])],
        };
        assert!(sel.matches(&l));
        assert!(LabelSelector::default().matches(&Labels::new()));
    }

    #[test]
    fn node_affinity_terms() {
        let l = labels(&[("zone", "a")]);
        let pinned = NodeAffinity::to_node(s("n1"));
        assert!(pinned.required_matches("n1", &l));
        assert!(!pinned.required_matches("n2", &l));
        assert!(NodeAffinity::default().required_matches("any", &l));
        let empty_term = NodeAffinity { required: Some(vec![NodeSelectorTerm::default()]), preferred: vec![] };
        assert!(!empty_term.required_matches("n1", &l), "an empty term matches nothing");
    }

    #[test]
    fn match_fields_take_one_name_with_in_or_not_in() {
        let field = |key: &str, op, values: &[&str]| NodeSelectorRequirement {
            key: s(key),
            op,
            values: values.iter().map(s).collect(),
        };
        assert!(field(NODE_NAME_FIELD, NodeSelectorOp::In, &["n1"]).matches_node_name("n1"));
        assert!(!field(NODE_NAME_FIELD, NodeSelectorOp::In, &["n1"]).matches_node_name("n2"));
        assert!(field(NODE_NAME_FIELD, NodeSelectorOp::NotIn, &["n1"]).matches_node_name("n2"));
        assert!(!field(NODE_NAME_FIELD, NodeSelectorOp::NotIn, &["n1"]).matches_node_name("n1"));
        // Parse errors upstream ("must have one element", unsupported operator or field): no match.
        assert!(!field(NODE_NAME_FIELD, NodeSelectorOp::In, &["n1", "n2"]).matches_node_name("n1"));
        assert!(!field(NODE_NAME_FIELD, NodeSelectorOp::Exists, &[]).matches_node_name("n1"));
        assert!(!field("metadata.uid", NodeSelectorOp::In, &["n1"]).matches_node_name("n1"));
    }

    #[test]
    fn node_selector_gt_lt() {
        let l = labels(&[("gen", "5"), ("name", "x")]);
        let req = |key: &str, op, v: &str| NodeSelectorRequirement { key: s(key), op, values: vec![s(v)] };
        assert!(req("gen", NodeSelectorOp::Gt, "4").matches(&l));
        assert!(!req("gen", NodeSelectorOp::Gt, "5").matches(&l));
        assert!(req("gen", NodeSelectorOp::Lt, "6").matches(&l));
        assert!(!req("name", NodeSelectorOp::Lt, "6").matches(&l));
        assert!(!req("missing", NodeSelectorOp::Gt, "0").matches(&l));
    }
}

/// Parses a label selector in `kubectl -l` syntax: comma-separated requirements `key=value`, `key==value`,
/// `key!=value`, `key in (a,b)`, `key notin (a,b)`, `key` (exists) and `!key` (does not exist). As upstream's
/// `labels.Parse`, `key!=value` and `notin` also match objects without the key. The error says what was expected.
pub fn parse_label_selector(text: &str) -> Result<LabelSelector, String> {
    let mut sel = LabelSelector::default();
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err("an empty selector; expected e.g. \"topology.kubernetes.io/zone=zone-a\"".into());
    }
    let valid_key =
        |k: &str| !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    let valid_value = |v: &str| v.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    while !rest.is_empty() {
        // One requirement runs to the next comma outside parentheses.
        let mut depth = 0i32;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                c == ',' && depth == 0
            })
            .map_or(rest.len(), |(i, _)| i);
        let req = rest[..end].trim();
        rest = if end < rest.len() { rest[end + 1..].trim_start() } else { "" };
        if req.is_empty() {
            return Err(format!("an empty requirement in {text:?}"));
        }
        let set_op = |words: &[&str]| -> Option<(SelectorOp, usize)> {
            match words.get(1).map(|w| w.to_ascii_lowercase()) {
                Some(w) if w == "in" => Some((SelectorOp::In, 2)),
                Some(w) if w == "notin" => Some((SelectorOp::NotIn, 5)),
                _ => None,
            }
        };
        let words: Vec<&str> = req.split_whitespace().collect();
        if let Some(key) = req.strip_prefix('!') {
            let key = key.trim();
            if !valid_key(key) {
                return Err(format!("{req:?}: expected `!key` with a label key"));
            }
            sel.match_expressions.push(SelectorRequirement {
                key: s(key),
                op: SelectorOp::DoesNotExist,
                values: vec![],
            });
        } else if let Some((op, _)) = set_op(&words) {
            let key = words[0];
            let open = req.find('(').ok_or_else(|| format!("{req:?}: expected a value list in parentheses"))?;
            let close = req.rfind(')').filter(|c| *c > open && req[c + 1..].trim().is_empty());
            let close = close.ok_or_else(|| format!("{req:?}: expected `)` at the end of the value list"))?;
            let values: Vec<Str> = req[open + 1..close].split(',').map(|v| s(v.trim())).collect();
            if !valid_key(key) || values.iter().any(|v| v.is_empty() || !valid_value(v)) {
                return Err(format!("{req:?}: expected `key in (v1,v2)` with a label key and non-empty values"));
            }
            sel.match_expressions.push(SelectorRequirement { key: s(key), op, values });
        } else if let Some((key, value)) = req.split_once("!=") {
            let (key, value) = (key.trim(), value.trim());
            if !valid_key(key) || !valid_value(value) {
                return Err(format!("{req:?}: expected `key!=value`"));
            }
            sel.match_expressions.push(SelectorRequirement {
                key: s(key),
                op: SelectorOp::NotIn,
                values: vec![s(value)],
            });
        } else if let Some((key, value)) = req.split_once('=') {
            let value = value.strip_prefix('=').unwrap_or(value);
            let (key, value) = (key.trim(), value.trim());
            if !valid_key(key) || !valid_value(value) {
                return Err(format!("{req:?}: expected `key=value`"));
            }
            sel.match_labels.insert(s(key), s(value));
        } else if valid_key(req) {
            sel.match_expressions.push(SelectorRequirement { key: s(req), op: SelectorOp::Exists, values: vec![] });
        } else {
            return Err(format!(
                "{req:?}: expected `key=value`, `key!=value`, `key in (a,b)`, `key notin (a,b)`, `key` or `!key`"
            ));
        }
    }
    Ok(sel)
}

#[cfg(test)]
mod selector_parse_tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs.iter().map(|(k, v)| (s(k), s(v))))
    }

    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], bool);

    #[test]
    fn parses_kubectl_selector_syntax() {
        let cases: &[Case] = &[
            ("zone=a", &[("zone", "a")], true),
            ("zone==a", &[("zone", "b")], false),
            ("zone!=a", &[("pool", "x")], true),
            ("zone!=a", &[("zone", "a")], false),
            ("zone in (a, b),pool=x", &[("zone", "b"), ("pool", "x")], true),
            ("zone in (a,b),pool=x", &[("zone", "c"), ("pool", "x")], false),
            ("zone notin (a,b)", &[("zone", "c")], true),
            ("gpu", &[("gpu", "")], true),
            ("!gpu", &[("gpu", "")], false),
            ("!gpu, topology.kubernetes.io/zone=z1", &[("topology.kubernetes.io/zone", "z1")], true),
        ];
        for (text, l, want) in cases {
            let sel = parse_label_selector(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(sel.matches(&labels(l)), *want, "{text} on {l:?}");
        }
    }

    #[test]
    fn rejects_junk_with_a_reason() {
        for bad in ["", "a=b,,c", "zone in a,b", "zone in (a,", "=x", "a b c", "zone in (a,) "] {
            let err = parse_label_selector(bad).expect_err(bad);
            assert!(err.contains("expected") || err.contains("empty"), "{bad}: {err}");
        }
    }
}
