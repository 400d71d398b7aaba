//! The scheduler end to end through the control plane: preemption with its events and messages, several
//! profiles chosen by `schedulerName`, and decision traces that answer "why did pod X land on node Y".

use kubesim::recorder::{EventRow, EventType};
use kubesim::run::{RunOptions, run_in_memory, run_to_dir_with};
use kubesim::scenario::Scenario;
use kubesim::scheduler::explain::PodFilter;
use std::collections::BTreeMap;

fn run(text: &str) -> kubesim::run::RunOutcome {
    let scenario = Scenario::from_str(text, "test.toml").unwrap_or_else(|e| panic!("{e}"));
    run_in_memory(&scenario, None).expect("run")
}

fn rows<'a>(events: &'a [EventRow], ty: EventType, prefix: &'a str) -> impl Iterator<Item = &'a EventRow> + 'a {
    events.iter().filter(move |r| r.event == ty && r.name.starts_with(prefix))
}

#[test]
fn high_priority_pods_preempt_the_fewest_low_priority_pods_and_land_on_their_nodes() {
    let scenario = Scenario::load(std::path::Path::new("scenarios/priority-preemption.toml")).expect("scenario");
    let out = run_in_memory(&scenario, None).expect("run");
    let ev = &out.events;
    // 6 checkout pods of 2 CPUs on full 4-CPU nodes: two 1-CPU batch victims each, never more.
    let preempted: Vec<&EventRow> = rows(ev, EventType::PodPreempted, "batch-").collect();
    assert_eq!(preempted.len(), 12);
    assert_eq!(out.summary.metrics["preemptions"], 6);
    assert_eq!(out.summary.metrics["preemption_victims"], 12);
    // Each preemptor binds to the node it was nominated to, where its victims were.
    let nominated: BTreeMap<&str, &str> =
        rows(ev, EventType::PodNominated, "checkout-").map(|r| (r.name.as_str(), r.node.as_str())).collect();
    assert_eq!(nominated.len(), 6);
    for r in rows(ev, EventType::PodScheduled, "checkout-") {
        assert_eq!(nominated[r.name.as_str()], r.node, "{} bound off its nominated node", r.name);
    }
    for p in &preempted {
        let by = p.detail.strip_prefix("by=").expect("detail names the preemptor");
        assert_eq!(nominated[by], p.node, "victims are on the preemptor's node");
    }
    assert_eq!(rows(ev, EventType::PodRunning, "checkout-").count(), 6);
    // preemptionPolicy Never: reports waits, with upstream's wording.
    assert!(rows(ev, EventType::PodScheduled, "reports-").next().is_none());
    let never = rows(ev, EventType::PodUnschedulable, "reports-").last().expect("reports is unschedulable");
    assert_eq!(
        never.detail,
        "0/8 nodes are available: 8 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never."
    );
    // The victims' replacements cannot preempt anyone.
    let replacement = rows(ev, EventType::PodUnschedulable, "batch-").last().expect("replacements pend");
    assert_eq!(
        replacement.detail,
        "0/8 nodes are available: 8 Insufficient cpu. \
         preemption: 0/8 nodes are available: 8 No preemption victims found for incoming pod."
    );
    assert_eq!(out.summary.pods["Pending"], 12 + 2);
    // summary.json says why the pending pods wait.
    assert_eq!(out.summary.pending_reasons.get(&replacement.detail), Some(&12));
    assert_eq!(out.summary.pending_reasons.get(&never.detail), Some(&2));
    assert_eq!(out.summary.pending_reasons.len(), 2);
}

#[test]
fn pods_choose_their_profile_by_scheduler_name() {
    // Two identical Deployments on identical nodes: the default profile spreads (LeastAllocated and the system
    // default topology spreading), the first-fit profile fills the first node before the next.
    let out = run(r#"
[scenario]
name = "profiles"
duration = "2m"
[[scheduler.profiles]]
scheduler_name = "default-scheduler"
[[scheduler.profiles]]
scheduler_name = "packer"
preset = "first-fit"
[[cluster.node_pools]]
name = "spread"
count = 4
cpu = "4"
memory = "16Gi"
labels = { role = "spread" }
[[cluster.node_pools]]
name = "pack"
count = 4
cpu = "4"
memory = "16Gi"
labels = { role = "pack" }
[[workloads.deployments]]
name = "a"
replicas = 4
template = { requests = { cpu = "1", memory = "1Gi" }, node_selector = { role = "spread" } }
[[workloads.deployments]]
name = "b"
replicas = 4
template = { requests = { cpu = "1", memory = "1Gi" }, node_selector = { role = "pack" }, scheduler_name = "packer" }
"#);
    let nodes_used = |prefix: &str| {
        let mut n: Vec<&str> = rows(&out.events, EventType::PodScheduled, prefix).map(|r| r.node.as_str()).collect();
        n.sort();
        n.dedup();
        n.len()
    };
    assert_eq!(nodes_used("a-"), 4, "LeastAllocated puts one pod on each empty node");
    assert_eq!(nodes_used("b-"), 1, "first-fit fills one node first");
}

#[test]
fn unknown_scheduler_name_is_an_error_naming_the_profiles() {
    let err = Scenario::from_str(
        r#"
[scenario]
name = "t"
duration = "1m"
[[cluster.node_pools]]
name = "n"
count = 1
cpu = "1"
memory = "1Gi"
[[workloads.deployments]]
name = "a"
replicas = 1
template = { scheduler_name = "nope" }
"#,
        "t.toml",
    )
    .map(|_| ())
    .expect_err("must fail")
    .to_string();
    assert!(err.contains("no scheduler profile is named \"nope\""), "{err}");
}

#[test]
fn explain_traces_say_why_a_pod_landed_where_it_did_and_why_another_is_pending() {
    let text = r#"
[scenario]
name = "explain"
duration = "1m"
[[cluster.node_pools]]
name = "small"
count = 2
cpu = "2"
memory = "4Gi"
[[cluster.node_pools]]
name = "big"
count = 1
cpu = "8"
memory = "16Gi"
[[workloads.deployments]]
name = "web"
replicas = 1
template = { requests = { cpu = "1", memory = "1Gi" } }
[[workloads.deployments]]
name = "huge"
replicas = 1
at = "10s"
template = { requests = { cpu = "6", memory = "1Gi" } }
[[workloads.deployments]]
name = "giant"
replicas = 1
at = "20s"
template = { requests = { cpu = "16", memory = "1Gi" } }
"#;
    let scenario = Scenario::from_str(text, "explain.toml").expect("scenario");
    let dir = std::env::temp_dir().join(format!("kubesim-explain-{}", std::process::id()));
    let out = dir.join("out");
    let opts = RunOptions { explain: Some(PodFilter::all()), no_report: true };
    let traced = run_to_dir_with(&scenario, &out, &opts).expect("run");
    let plain = run_to_dir_with(&scenario, &dir.join("plain"), &RunOptions::default()).expect("run");
    // Tracing observes, it never changes a decision.
    let read = |p: std::path::PathBuf| std::fs::read_to_string(p).expect("read");
    assert_eq!(read(out.join("events.csv")), read(dir.join("plain/events.csv")));
    assert_eq!(traced.summary.metrics, plain.summary.metrics);
    let text = read(out.join("explain.jsonl"));
    let _ = std::fs::remove_dir_all(&dir);
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect();
    let of = |prefix: &str| -> Vec<&serde_json::Value> {
        lines.iter().filter(|l| l["pod"].as_str().unwrap().starts_with(&format!("default/{prefix}"))).collect()
    };
    // web: every node evaluated and feasible; the winner has the highest total (LeastAllocated favours "big").
    let web = of("web-");
    assert_eq!(web.len(), 1);
    let w = web[0];
    assert_eq!(w["result"], "bound");
    assert_eq!(w["nodes_total"], 3);
    assert_eq!(w["feasible"], 3);
    let scores = w["scores"].as_array().unwrap();
    let best = scores.iter().map(|s| s["total"].as_i64().unwrap()).max().unwrap();
    let winner = scores.iter().find(|s| s["node"] == w["node"]).expect("winner was scored");
    assert_eq!(winner["total"].as_i64().unwrap(), best);
    assert_eq!(w["node"], "big-0");
    for s in scores {
        let sum: i64 = s["plugins"].as_array().unwrap().iter().map(|p| p["weighted"].as_i64().unwrap()).sum();
        assert_eq!(sum, s["total"].as_i64().unwrap(), "total = sum of weighted scores");
    }
    // huge fits only on big: the two small nodes are rejected by NodeResourcesFit as unresolvable.
    let h = of("huge-")[0];
    assert_eq!(h["result"], "bound");
    assert_eq!(h["node"], "big-0");
    let rejected: Vec<&serde_json::Value> =
        h["filter"].as_array().unwrap().iter().filter(|f| f["passed"] == false).collect();
    assert_eq!(rejected.len(), 2);
    for f in rejected {
        assert_eq!(f["plugin"], "NodeResourcesFit");
        assert_eq!(f["code"], "UnschedulableAndUnresolvable");
        assert_eq!(f["reasons"][0], "Insufficient cpu");
    }
    // giant fits nowhere: its last attempt carries the FailedScheduling message.
    let g = of("giant-");
    let last = g.last().expect("giant was attempted");
    assert_eq!(last["result"], "unschedulable");
    assert_eq!(
        last["message"],
        "0/3 nodes are available: 3 Insufficient cpu. \
         preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    );
    let pending =
        traced.summary.metrics.get("pods_pending_at_end").and_then(|v| v.as_u64()).expect("pods_pending_at_end");
    assert_eq!(pending, 1);
}

#[test]
fn an_unschedulable_pod_waits_for_an_event_its_rejecting_plugin_cares_about_or_the_five_minute_flush() {
    let out = run(r#"
[scenario]
name = "queue"
duration = "8m"
[[cluster.node_pools]]
name = "plain"
count = 1
cpu = "4"
memory = "8Gi"
[[cluster.node_pools]]
name = "gpu"
count = 0
cpu = "4"
memory = "8Gi"
labels = { gpu = "true" }
[[workloads.deployments]]
name = "needy"
replicas = 1
template = { requests = { cpu = "1" }, node_selector = { gpu = "true" } }
[[faults]]
verb = "add-nodes"
at = "60s"
pool = "plain"
count = 1
[[faults]]
verb = "add-nodes"
at = "400s"
pool = "gpu"
count = 1
"#);
    let attempts: Vec<f64> =
        rows(&out.events, EventType::PodUnschedulable, "needy-").map(|r| r.time.as_secs_f64()).collect();
    // First attempt at creation. The node added at 60 s does not match the selector: NodeAffinity's hint skips
    // it, so the pod is not retried then, only by the unschedulable flush, the first 30 s check more than 5 min
    // after its last attempt.
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert!(attempts[0] < 0.1);
    assert!(attempts[1] > attempts[0] + 300.0 && attempts[1] <= attempts[0] + 330.0, "{attempts:?}");
    // The matching node added at 400 s wakes it at once (its backoff has long expired).
    let bound = rows(&out.events, EventType::PodScheduled, "needy-").next().expect("bound");
    assert_eq!(bound.node, "gpu-0");
    assert!(bound.time.as_secs_f64() > 400.0 && bound.time.as_secs_f64() < 400.1, "{}", bound.time.as_secs_f64());
}

#[test]
fn an_idle_scheduler_takes_a_pod_from_backoff_at_once() {
    // v1.34 PopFromBackoffQ: "b" fails at 10 s; the pod holding the room is deleted half a second later, which
    // moves b to backoffQ (1 s backoff, released at the 12 s window), but the idle scheduler pops it right away.
    let out = run(r#"
[scenario]
name = "backoff"
duration = "1m"
[[cluster.node_pools]]
name = "n"
count = 1
cpu = "4"
memory = "8Gi"
[[workloads.deployments]]
name = "a"
replicas = 1
template = { requests = { cpu = "4" } }
[[workloads.deployments]]
name = "b"
replicas = 1
at = "10s"
template = { requests = { cpu = "2" } }
[[actions]]
verb = "scale"
at = "10500ms"
deployment = "a"
replicas = 0
"#);
    let failed = rows(&out.events, EventType::PodUnschedulable, "b-").map(|r| r.time.as_secs_f64()).collect::<Vec<_>>();
    assert_eq!(failed.len(), 1);
    let deleted = rows(&out.events, EventType::PodDeleted, "a-").next().expect("a's pod deleted").time.as_secs_f64();
    let bound = rows(&out.events, EventType::PodScheduled, "b-").next().expect("b bound").time.as_secs_f64();
    assert!(deleted < 11.0 && bound > deleted && bound < deleted + 0.01, "deleted {deleted}, bound {bound}");
}
