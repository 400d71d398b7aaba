//! Decision traces (`kubesim run --explain [POD-FILTER]`): one JSON line per scheduling attempt of the selected
//! pods, with every evaluated node's filter verdict and reasons, every score plugin's raw, normalized and
//! weighted score per feasible node, the totals and the outcome. Written to `explain.jsonl`.
//!
//! Answering "why did pod X land on node Y": the line with `"result":"bound"` for X lists Y's scores beside its
//! rivals'. "Why is pod Z pending": its last line's `message` is the FailedScheduling message, and `filter`
//! says which plugin rejected each node.

use super::framework::Code;
use crate::model::{NodeId, Str};
use serde::Serialize;
use std::io::Write;

/// A pod selector for traces: a glob over `name` or `namespace/name` (`*` any run, `?` one character).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodFilter {
    pattern: String,
}

impl PodFilter {
    pub fn new(pattern: &str) -> PodFilter {
        PodFilter { pattern: pattern.to_string() }
    }

    /// Every pod.
    pub fn all() -> PodFilter {
        PodFilter::new("*")
    }

    pub fn matches(&self, namespace: &str, name: &str) -> bool {
        if self.pattern.contains('/') {
            glob(self.pattern.as_bytes(), format!("{namespace}/{name}").as_bytes())
        } else {
            glob(self.pattern.as_bytes(), name.as_bytes())
        }
    }
}

/// Iterative glob match with backtracking on the last `*`.
fn glob(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, si));
            pi += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

/// One node's filter verdict.
#[derive(Clone, Debug, Default)]
pub struct NodeVerdict {
    pub node: Str,
    /// `None`: the node passed every filter.
    pub code: Option<Code>,
    pub plugin: Option<&'static str>,
    pub reasons: Vec<String>,
}

/// One score plugin's scores over the feasible nodes (in `AttemptTrace::scored` order).
#[derive(Clone, Debug, Default)]
pub struct ScoreTrace {
    pub plugin: &'static str,
    pub weight: i64,
    /// PreScore returned Skip: the plugin did not score this pod.
    pub skipped: bool,
    pub raw: Vec<i64>,
    pub normalized: Vec<i64>,
}

impl ScoreTrace {
    pub fn skipped(plugin: &'static str, weight: i64) -> ScoreTrace {
        ScoreTrace { plugin, weight, skipped: true, ..ScoreTrace::default() }
    }
}

/// Everything the algorithm did in one attempt, filled in as it goes.
#[derive(Clone, Debug, Default)]
pub struct AttemptTrace {
    pub nodes_total: usize,
    pub pre_filter: Vec<(&'static str, String)>,
    /// The verdict on the pod's nominated node, tried first.
    pub nominated_node: Option<NodeVerdict>,
    /// Nodes evaluated by the filter loop, in visiting order.
    pub nodes: Vec<NodeVerdict>,
    pub feasible: usize,
    /// Nodes scored (empty when at most one node was feasible).
    pub scored: Vec<NodeId>,
    pub scores: Vec<ScoreTrace>,
    pub totals: Vec<i64>,
    /// What PostFilter (preemption) did or why it could not help.
    pub post_filter: Option<String>,
}

#[derive(Serialize)]
struct PreFilterLine<'a> {
    plugin: &'a str,
    result: &'a str,
}

#[derive(Serialize)]
struct FilterLine<'a> {
    node: &'a str,
    passed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    plugin: Option<&'a str>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    reasons: &'a [String],
}

#[derive(Serialize)]
struct PluginScore<'a> {
    plugin: &'a str,
    raw: i64,
    normalized: i64,
    weighted: i64,
}

#[derive(Serialize)]
struct NodeScore<'a> {
    node: &'a str,
    total: i64,
    plugins: Vec<PluginScore<'a>>,
}

#[derive(Serialize)]
struct Line<'a> {
    time_s: f64,
    pod: String,
    attempt: u32,
    profile: &'a str,
    nodes_total: usize,
    pre_filter: Vec<PreFilterLine<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nominated_node: Option<FilterLine<'a>>,
    filter: Vec<FilterLine<'a>>,
    feasible: usize,
    #[serde(skip_serializing_if = "<[&str]>::is_empty")]
    skipped_score_plugins: Vec<&'a str>,
    scores: Vec<NodeScore<'a>>,
    result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    node: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    post_filter: Option<&'a str>,
}

fn code_str(c: Code) -> &'static str {
    match c {
        Code::Unschedulable => "Unschedulable",
        Code::UnschedulableAndUnresolvable => "UnschedulableAndUnresolvable",
        Code::Error => "Error",
    }
}

fn filter_line(v: &NodeVerdict) -> FilterLine<'_> {
    FilterLine {
        node: &v.node,
        passed: v.code.is_none(),
        code: v.code.map(code_str),
        plugin: if v.code.is_some() { v.plugin } else { None },
        reasons: &v.reasons,
    }
}

/// The outcome of a traced attempt.
pub enum TracedOutcome<'a> {
    Bound(&'a str),
    Unschedulable(&'a str),
}

/// Where traces go.
pub struct Explainer {
    pub filter: PodFilter,
    out: Box<dyn Write>,
    /// The first write error; later lines are dropped and the run reports it.
    pub error: Option<std::io::Error>,
    pub lines: u64,
}

impl Explainer {
    pub fn new(filter: PodFilter, out: Box<dyn Write>) -> Explainer {
        Explainer { filter, out, error: None, lines: 0 }
    }

    /// Writes one attempt. `node_name` resolves scored node ids.
    #[allow(clippy::too_many_arguments)]
    pub fn write(
        &mut self,
        time_s: f64,
        namespace: &str,
        pod: &str,
        attempt: u32,
        profile: &str,
        trace: &AttemptTrace,
        outcome: TracedOutcome,
        node_name: &dyn Fn(NodeId) -> Str,
    ) {
        if self.error.is_some() {
            return;
        }
        let names: Vec<Str> = trace.scored.iter().map(|id| node_name(*id)).collect();
        let active: Vec<&ScoreTrace> = trace.scores.iter().filter(|s| !s.skipped).collect();
        let scores = names
            .iter()
            .enumerate()
            .map(|(k, name)| NodeScore {
                node: name,
                total: trace.totals.get(k).copied().unwrap_or(0),
                plugins: active
                    .iter()
                    .map(|s| PluginScore {
                        plugin: s.plugin,
                        raw: s.raw.get(k).copied().unwrap_or(0),
                        normalized: s.normalized.get(k).copied().unwrap_or(0),
                        weighted: s.normalized.get(k).copied().unwrap_or(0) * s.weight,
                    })
                    .collect(),
            })
            .collect();
        let (result, node, message) = match outcome {
            TracedOutcome::Bound(n) => ("bound", Some(n), None),
            TracedOutcome::Unschedulable(m) => ("unschedulable", None, Some(m)),
        };
        let line = Line {
            time_s,
            pod: format!("{namespace}/{pod}"),
            attempt,
            profile,
            nodes_total: trace.nodes_total,
            pre_filter: trace.pre_filter.iter().map(|(p, r)| PreFilterLine { plugin: p, result: r }).collect(),
            nominated_node: trace.nominated_node.as_ref().map(filter_line),
            filter: trace.nodes.iter().map(filter_line).collect(),
            feasible: trace.feasible,
            skipped_score_plugins: trace.scores.iter().filter(|s| s.skipped).map(|s| s.plugin).collect(),
            scores,
            result,
            node,
            message,
            post_filter: trace.post_filter.as_deref(),
        };
        let res = serde_json::to_writer(&mut self.out, &line)
            .map_err(std::io::Error::other)
            .and_then(|_| self.out.write_all(b"\n"));
        match res {
            Ok(()) => self.lines += 1,
            Err(e) => self.error = Some(e),
        }
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_table() {
        let f = |p: &str, ns: &str, n: &str| PodFilter::new(p).matches(ns, n);
        assert!(f("*", "default", "web-1"));
        assert!(f("web-*", "default", "web-1"));
        assert!(!f("web-*", "default", "api-1"));
        assert!(f("w?b-1", "default", "web-1"));
        assert!(f("*-1", "default", "web-1"));
        assert!(!f("*-2", "default", "web-1"));
        assert!(f("default/web-*", "default", "web-1"));
        assert!(!f("kube-system/*", "default", "web-1"));
        assert!(f("web-1", "default", "web-1"));
        assert!(!f("web-", "default", "web-1"));
        assert!(f("a*b*c", "x", "aXbYc"));
        assert!(!f("a*b*c", "x", "aXbYd"));
    }
}
