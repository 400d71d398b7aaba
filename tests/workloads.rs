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
    // The pod asks for more than a node's whole allocatable: unresolvable, so preemption cannot help either.
    assert_eq!(
        row.detail,
        "0/2 nodes are available: 2 Insufficient cpu. \
         preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
    );
    assert_eq!(out.summary.metrics["pods_unschedulable"], 1);
    assert_eq!(out.summary.pods["Pending"], 1);
}

#[test]
fn pods_naming_their_node_bypass_the_scheduler_and_meet_kubelet_admission() {
    let out = run(&format!(
        "{CLUSTER}
[[workloads.arrivals]]
name = \"pinned\"
interval = \"10s\"
max_pods = 3
template = {{ requests = {{ cpu = \"3\" }}, node_name = \"n-0\", run = {{ dist = \"forever\" }} }}
"
    ));
    // n-0 has 4 CPU: the first 3-CPU pod is admitted, the next two are rejected by the kubelet (OutOfcpu).
    let failed: Vec<&EventRow> = out.events.iter().filter(|r| r.event == EventType::PodFailed).collect();
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert!(failed.iter().all(|r| r.detail.starts_with("reason=OutOfcpu") && r.node == "n-0"));
    assert_eq!(out.summary.pods["Running"], 1);
    // They were bound at creation, never scheduled.
    assert_eq!(out.summary.metrics["scheduling_attempts"], 0);
    assert!(out.events.iter().filter(|r| r.event == EventType::PodScheduled).all(|r| r.detail == "nodeName"));
}

#[test]
fn controller_creations_are_rate_limited_like_kube_controller_manager() {
    let out = run(&format!(
        "{CLUSTER}
[[workloads.deployments]]
name = \"big\"
replicas = 130
template = {{ requests = {{ cpu = \"10m\", memory = \"1Mi\" }} }}
"
    ));
    let created = created_times(&out.events, "big-");
    assert_eq!(created.len(), 130);
    // The ReplicaSet controller's client: burst 30, then 20 requests/s. (Its status writes share the bucket.)
    let first_30 = created[29] - created[0];
    assert!(first_30 < 0.1, "the burst goes out at once: {first_30} s");
    let rest = created[129] - created[29];
    assert!((4.9..6.0).contains(&rest), "100 more at 20/s take about 5 s: {rest} s");
}

#[test]
fn priority_classes_set_pod_priority() {
    let out = run(&format!(
        "{CLUSTER}
[[priority_classes]]
name = \"high\"
value = 1000
[[workloads.deployments]]
name = \"vip\"
replicas = 1
template = {{ requests = {{ cpu = \"100m\" }}, priority_class = \"high\" }}
"
    ));
    assert_eq!(out.summary.pods["Running"], 1);
    // The admitted pod carries the class's value and name.
    let text = format!(
        "{CLUSTER}\n[[priority_classes]]\nname = \"high\"\nvalue = 1000\n[[workloads.deployments]]\nname = \"vip\"\n\
         replicas = 1\ntemplate = {{ requests = {{ cpu = \"100m\" }}, priority_class = \"high\" }}"
    );
    let s = Scenario::from_str(&text, "pc.toml").expect("valid");
    let mut sim = kubesim::sim::Sim::new(std::sync::Arc::new(s.config), kubesim::recorder::EventSink::Discard).unwrap();
    sim.run();
    let (_, pod) = sim.api.etcd.pods.iter().next().expect("a pod");
    assert_eq!(pod.spec.template.priority, 1000);
    assert_eq!(pod.spec.template.priority_class_name.as_deref(), Some("high"));
    let scenario = Scenario::from_str(
        &format!(
            "{CLUSTER}\n[[workloads.deployments]]\nname = \"x\"\nreplicas = 1\ntemplate = {{ priority_class = \"nope\" }}"
        ),
        "bad.toml",
    );
    let err = scenario.expect_err("unknown class").to_string();
    assert!(err.contains("no PriorityClass named \"nope\""), "{err}");
}
