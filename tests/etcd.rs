//! etcd faults: an outage delays writes (requests wait, time out after the request timeout and are retried by
//! their clients) but loses nothing; a slowdown adds latency to every write.

use kubesim::recorder::{EventRow, EventType};
use kubesim::run::{RunOutcome, run_in_memory};
use kubesim::scenario::Scenario;
use std::collections::BTreeSet;

const BASE: &str = r#"
[scenario]
name = "etcd"
seed = 5
duration = "10m"

[[cluster.node_pools]]
name = "n"
count = 6
cpu = "8"
memory = "16Gi"

[[workloads.deployments]]
name = "web"
replicas = 12
template = { requests = { cpu = "500m", memory = "256Mi" } }

[[workloads.arrivals]]
name = "batch"
interval = "5s"
max_pods = 60
[workloads.arrivals.template]
requests = { cpu = "100m", memory = "64Mi" }
run = { dist = "fixed", value = "20s" }
"#;

fn run(faults: &str) -> RunOutcome {
    let text = format!("{BASE}\n{faults}");
    let scenario = Scenario::from_str(&text, "etcd.toml").unwrap_or_else(|e| panic!("{e}"));
    run_in_memory(&scenario, None).expect("run")
}

fn names(events: &[EventRow], event: EventType, prefix: &str) -> BTreeSet<String> {
    events.iter().filter(|r| r.event == event && r.name.starts_with(prefix)).map(|r| r.name.clone()).collect()
}

#[test]
fn an_outage_delays_but_loses_nothing() {
    let healthy = run("");
    // Down from 60 s for 90 s: longer than the 60 s request timeout, so some requests time out and are retried.
    let outage = run("[[faults]]\nverb = \"etcd-unavailable\"\nat = \"60s\"\nduration = \"90s\"");
    let m = &outage.summary.metrics;
    assert!(m["api_timeouts"].as_u64().unwrap() > 0, "some requests timed out: {m:?}");
    assert!(m["api_retries"].as_u64().unwrap() > 0);
    // Nothing commits while etcd is down.
    let committed_during: Vec<&EventRow> = outage
        .events
        .iter()
        .filter(|r| r.time.as_secs_f64() > 60.0 && r.time.as_secs_f64() < 150.0 && r.event != EventType::FaultInjected)
        .filter(|r| r.event != EventType::PodUnschedulable)
        .collect();
    assert!(
        committed_during.is_empty(),
        "writes committed during the outage: {:?}",
        &committed_during[..3.min(committed_during.len())]
    );
    // Every arrival pod exists in both runs and every one ran to completion: nothing was lost.
    for event in [EventType::PodCreated, EventType::PodSucceeded] {
        let a = names(&healthy.events, event, "batch-");
        let b = names(&outage.events, event, "batch-");
        assert_eq!(a.len(), 60, "{event:?} in the healthy run");
        assert_eq!(a, b, "{event:?}: the outage lost or invented objects");
    }
    assert_eq!(outage.summary.pods.get("Running"), Some(&12));
    // Writes waiting for etcd commit as soon as it is back (150 s + 3 ms write); a write whose 60 s timeout came
    // first failed and its client (the user: 1 s back-off) sent it again.
    let first_after = outage.events.iter().find(|r| r.time.as_secs_f64() >= 150.0 && r.event != EventType::FaultHealed);
    assert_eq!(first_after.map(|r| r.time.micros()), Some(150_003_000));
    let batch_17 = outage.events.iter().find(|r| r.event == EventType::PodCreated && r.name == "batch-17");
    // Sent at 90 s, timed out at 150.002 s, answered 2 ms later, resent after 1 s: 151.004 + 5 ms.
    assert_eq!(batch_17.map(|r| r.time.micros()), Some(151_009_000));
}

#[test]
fn a_slowdown_adds_latency_to_every_write() {
    let healthy = run("");
    let slow = run("[[faults]]\nverb = \"etcd-slow\"\nat = \"0s\"\nextra_latency = \"200ms\"");
    let p50 = |o: &RunOutcome| o.summary.metrics["scheduling_latency_p50_s"].as_f64().unwrap();
    // Creation to binding spans one write (the binding) after the pod's own: 200 ms more per write.
    assert!(p50(&slow) >= p50(&healthy) + 0.19, "{} vs {}", p50(&slow), p50(&healthy));
    let rows: Vec<&EventRow> = slow.events.iter().filter(|r| r.event == EventType::FaultInjected).collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].detail, "verb=etcd-slow targets=etcd");
}
