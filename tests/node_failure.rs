//! The node-failure timeline, with exact times, on `scenarios/node-failure.toml`.
//!
//! With default timings (request latency 5 ms, watch latency 1 ms, monitor period 5 s, grace 50 s, tainter tick
//! 100 ms, toleration 300 s) the chain after the machine zone-b-7 dies at t = 600 s is:
//!
//! - last Lease renewal sent at `R` (the node's seeded heartbeat phase, every 10 s), committed at R + 5 ms and
//!   seen by the controller manager at R + 6 ms; the next monitor pass (5 s grid) sets the probe `P`;
//! - at pass P + 50 s the node lifecycle controller writes Ready=Unknown: NodeNotReady at P + 50.005;
//! - the Unknown update reaches the controller manager 1 ms later and the NoSchedule taint commits at P + 50.011;
//! - the next pass (P + 55) queues the node; the tainter's next 100 ms tick applies the NoExecute taint,
//!   committed at P + 55.105;
//! - the taint eviction controller sees it 1 ms later and evicts 300 s after that: PodEvicted at P + 355.111;
//! - the ReplicaSet controller sees each eviction 1 ms later and its replacement commits 5 ms after that.

use kubesim::model::NodeId;
use kubesim::recorder::{EventRow, EventType};
use kubesim::run::run_in_memory;
use kubesim::scenario::Scenario;
use kubesim::time::{SimDuration, SimTime};
use std::path::Path;

fn ms(t: SimTime) -> u64 {
    t.micros() / 1000
}

fn rows<'a>(events: &'a [EventRow], event: EventType, node: &str) -> Vec<&'a EventRow> {
    events.iter().filter(|r| r.event == event && r.node == node).collect()
}

#[test]
fn node_failure_timeline_is_exact() {
    let scenario = Scenario::load(Path::new("scenarios/node-failure.toml")).expect("scenario loads");
    // The failed node's heartbeat phase, from a run of the same scenario (the Lease schedule is public state).
    let mut sim =
        kubesim::sim::Sim::new(std::sync::Arc::new(scenario.config.clone()), kubesim::recorder::EventSink::Discard)
            .expect("sim");
    let node = NodeId(scenario.config.pools[0].count + 7); // zone-b-7
    assert_eq!(&*sim.kubelets[node.index()].node().name, "zone-b-7");
    let origin = sim.api.lease(node).and_then(|l| l.origin).expect("lease started");
    sim.run();

    let out = run_in_memory(&scenario, None).expect("run");
    let ev = &out.events;
    let crash = SimTime::from_secs(600);
    let failed = rows(ev, EventType::NodeFailed, "zone-b-7");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].time, crash);

    // Derive the expected timeline from the heartbeat phase.
    let interval = SimDuration::from_secs(10);
    let last_sent = crash.floor_to_period(origin, interval).expect("renewed before the crash");
    let seen = last_sent.add(SimDuration::from_millis(6));
    let probe = seen.ceil_to_period(SimTime::ZERO, SimDuration::from_secs(5));
    let not_ready = probe.add(SimDuration::from_millis(50_005));

    let nr = rows(ev, EventType::NodeNotReady, "zone-b-7");
    assert_eq!(nr.len(), 1, "exactly one NotReady");
    assert_eq!(nr[0].time, not_ready);
    assert_eq!(nr[0].detail, "ready=Unknown");

    let tainted = rows(ev, EventType::NodeTainted, "zone-b-7");
    let details: Vec<(u64, &str)> = tainted.iter().map(|r| (ms(r.time), r.detail.as_str())).collect();
    assert_eq!(
        details,
        vec![
            (ms(probe) + 50_011, "node.kubernetes.io/unreachable:NoSchedule"),
            (ms(probe) + 55_105, "node.kubernetes.io/unreachable:NoExecute"),
        ]
    );

    let evicted = rows(ev, EventType::PodEvicted, "zone-b-7");
    assert!(!evicted.is_empty(), "the failed node's pods are evicted");
    for r in &evicted {
        assert_eq!(ms(r.time), ms(probe) + 355_111, "{} evicted 300 s after the NoExecute taint", r.name);
    }
    // Every evicted Deployment pod gets a replacement scheduled on another node.
    let replacements: Vec<&EventRow> = ev
        .iter()
        .filter(|r| r.event == EventType::PodScheduled && r.time > evicted[0].time && r.node != "zone-b-7")
        .collect();
    let evicted_deployment_pods = evicted.iter().filter(|r| !r.name.starts_with("batch-")).count();
    let replacement_names: Vec<&str> = ev
        .iter()
        .filter(|r| r.event == EventType::PodCreated && r.time > evicted[0].time && !r.name.starts_with("batch-"))
        .take(evicted_deployment_pods)
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(replacement_names.len(), evicted_deployment_pods);
    for name in &replacement_names {
        assert!(replacements.iter().any(|r| r.name == *name), "replacement {name} scheduled elsewhere");
    }
    // The first replacement commits 6 ms after the evictions (watch 1 ms + request 5 ms).
    let first = ev.iter().find(|r| r.event == EventType::PodCreated && r.time > evicted[0].time).expect("replacement");
    assert_eq!(ms(first.time), ms(probe) + 355_117);

    // Recovery at 30m: Ready at once, taints removed, the evicted pods (stuck Terminating) finally deleted.
    let recovered = SimTime::from_secs(1800);
    assert_eq!(rows(ev, EventType::NodeRecovered, "zone-b-7")[0].time, recovered);
    assert_eq!(rows(ev, EventType::NodeReady, "zone-b-7")[0].time, recovered.add(SimDuration::from_millis(5)));
    let untainted = rows(ev, EventType::NodeUntainted, "zone-b-7");
    let details: Vec<(u64, &str)> = untainted.iter().map(|r| (ms(r.time), r.detail.as_str())).collect();
    assert_eq!(
        details,
        vec![
            (1_800_011, "node.kubernetes.io/unreachable:NoSchedule"),
            (1_805_005, "node.kubernetes.io/unreachable:NoExecute"),
        ]
    );
    let deleted = rows(ev, EventType::PodDeleted, "zone-b-7");
    assert_eq!(deleted.len(), evicted.len());
    assert!(deleted.iter().all(|r| r.time > recovered));
    assert_eq!(out.summary.metrics["evictions"], evicted.len() as u64);
    assert_eq!(out.summary.metrics["nodes_not_ready_at_end"], 0);
}

/// The literal timeline of the shipped scenario at seed 42 (a regression guard for the example in the README).
#[test]
fn node_failure_seed_42_literal_times() {
    let scenario = Scenario::load(Path::new("scenarios/node-failure.toml")).expect("scenario loads");
    let out = run_in_memory(&scenario, Some(42)).expect("run");
    let time_of = |e: EventType| {
        out.events
            .iter()
            .find(|r| r.event == e && r.node == "zone-b-7")
            .map(|r| kubesim::time::format_secs(r.time.micros()))
    };
    assert_eq!(time_of(EventType::NodeFailed).as_deref(), Some("600"));
    assert_eq!(time_of(EventType::NodeNotReady).as_deref(), Some("645.005"));
    assert_eq!(time_of(EventType::PodEvicted).as_deref(), Some("950.111"));
    assert_eq!(time_of(EventType::NodeRecovered).as_deref(), Some("1800"));
}

/// A short outage (shorter than the grace period) is never noticed: no NotReady, no eviction.
#[test]
fn short_outage_goes_unnoticed() {
    let text = std::fs::read_to_string("scenarios/node-failure.toml").expect("read");
    let text = text.replace("duration = \"20m\"", "duration = \"30s\"");
    let scenario = Scenario::from_str(&text, "short.toml").expect("valid");
    let out = run_in_memory(&scenario, None).expect("run");
    assert!(rows(&out.events, EventType::NodeNotReady, "zone-b-7").is_empty());
    assert!(rows(&out.events, EventType::PodEvicted, "zone-b-7").is_empty());
    assert_eq!(out.summary.metrics["evictions"], 0);
}
