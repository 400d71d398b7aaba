//! Workload controllers end to end: Jobs complete or fail with their back-off, Deployments keep their replicas.

use kubesim::recorder::{EventRow, EventType};
use kubesim::run::run_in_memory;
use kubesim::scenario::Scenario;

fn run(text: &str) -> kubesim::run::RunOutcome {
    let scenario = Scenario::from_str(text, "test.toml").unwrap_or_else(|e| panic!("{e}"));
    run_in_memory(&scenario, None).expect("run")
}

const CLUSTER: &str = r#"
[scenario]
name = "t"
duration = "2h"
[[cluster.node_pools]]
name = "n"
count = 2
cpu = "4"
memory = "8Gi"
"#;

fn created_times(events: &[EventRow], prefix: &str) -> Vec<f64> {
    events
        .iter()
        .filter(|r| r.event == EventType::PodCreated && r.name.starts_with(prefix))
        .map(|r| r.time.as_secs_f64())
        .collect()
}

#[test]
fn job_completes_with_parallelism() {
    let out = run(&format!(
        "{CLUSTER}
[[workloads.jobs]]
name = \"etl\"
completions = 5
parallelism = 2
template = {{ requests = {{ cpu = \"1\" }}, run = {{ dist = \"fixed\", value = \"60s\" }} }}
"
    ));
    let complete: Vec<&EventRow> = out.events.iter().filter(|r| r.event == EventType::JobComplete).collect();
    assert_eq!(complete.len(), 1);
    assert!(complete[0].detail.starts_with("succeeded=5 failed=0"), "{}", complete[0].detail);
    assert_eq!(created_times(&out.events, "etl-").len(), 5);
    assert_eq!(out.summary.pods["Succeeded"], 5);
    // Never more than 2 running at once: 3 waves of 60 s.
    assert!(complete[0].time.as_secs_f64() > 180.0 && complete[0].time.as_secs_f64() < 200.0);
}

#[test]
fn job_fails_after_backoff_limit_with_growing_delays() {
    let out = run(&format!(
        "{CLUSTER}
[timings]
image_pull_latency = \"0s\"
[images]
\"flaky:latest\" = 0
[[workloads.jobs]]
name = \"flaky\"
backoff_limit = 3
template = {{ requests = {{ cpu = \"1\" }}, run = {{ dist = \"fixed\", value = \"5s\" }}, failure_probability = 1.0 }}
"
    ));
    let failed: Vec<&EventRow> = out.events.iter().filter(|r| r.event == EventType::JobFailed).collect();
    assert_eq!(failed.len(), 1, "one JobFailed");
    assert!(failed[0].detail.starts_with("reason=BackoffLimitExceeded"), "{}", failed[0].detail);
    // backoffLimit 3: the 4th failure fails the Job; replacements wait 10 s, 20 s, 40 s after each failure.
    let created = created_times(&out.events, "flaky-");
    assert_eq!(created.len(), 4, "{created:?}");
    let gaps: Vec<f64> = created.windows(2).map(|w| w[1] - w[0]).collect();
    // Each gap = back-off + start latency (1 s) + run (5 s) + request and watch latencies (images are free here).
    for (gap, backoff) in gaps.iter().zip([10.0, 20.0, 40.0]) {
        assert!(*gap > backoff + 6.0 && *gap < backoff + 6.1, "gaps {gaps:?}");
    }
}

#[test]
fn deployment_keeps_replicas_and_reports_them() {
    let out = run(&format!(
        "{CLUSTER}
[[workloads.deployments]]
name = \"web\"
replicas = 6
template = {{ requests = {{ cpu = \"500m\", memory = \"256Mi\" }} }}
"
    ));
    assert_eq!(out.summary.pods["Running"], 6);
    assert_eq!(out.summary.metrics["pods_created"], 6);
    let rs = out.events.iter().filter(|r| r.event == EventType::ReplicaSetCreated).count();
    assert_eq!(rs, 1);
}

#[test]
fn oversized_pods_are_unschedulable_with_kube_message() {
    let out = run(&format!(
        "{CLUSTER}
[[workloads.deployments]]
name = \"huge\"
replicas = 1
template = {{ requests = {{ cpu = \"6\" }} }}
"
    ));
    let row = out.events.iter().find(|r| r.event == EventType::PodUnschedulable).expect("unschedulable");
    assert_eq!(row.detail, "0/2 nodes are available: 2 Insufficient cpu.");
    assert_eq!(out.summary.metrics["pods_unschedulable"], 1);
    assert_eq!(out.summary.pods["Pending"], 1);
}
