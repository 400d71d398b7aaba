//! The scenario library: every `scenarios/*.toml` runs to its end with the invariants holding after every
//! event, and each scenario's header claims ("what it shows") are checked on its own output.

use kubesim::recorder::{EventRow, EventSink, EventType};
use kubesim::run::run_in_memory;
use kubesim::scenario::Scenario;
use kubesim::sim::Sim;
use kubesim::time::SimTime;
use std::path::Path;
use std::sync::Arc;

fn load(name: &str) -> Scenario {
    Scenario::load(Path::new(&format!("scenarios/{name}.toml"))).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn secs(r: &EventRow) -> f64 {
    r.time.micros() as f64 / 1e6
}

fn of(ev: &[EventRow], t: EventType) -> impl Iterator<Item = &EventRow> {
    ev.iter().filter(move |r| r.event == t)
}

#[test]
fn every_library_scenario_runs_with_invariants_holding() {
    let mut names: Vec<String> = std::fs::read_dir("scenarios")
        .expect("scenarios/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter_map(|n| n.strip_suffix(".toml").map(str::to_string))
        .collect();
    names.sort();
    let required = [
        "node-failure",
        "zone-outage",
        "rolling-update",
        "crashloop",
        "job-backoff",
        "batch-burst",
        "spot-interruptions",
        "priority-preemption",
        "binpack-vs-spread",
        "kubelet-partition",
        "etcd-slowdown",
        "alibaba-2017-failures",
        "openb-default",
    ];
    for r in required {
        assert!(names.iter().any(|n| n == r), "scenario {r} is missing from scenarios/");
    }
    for name in &names {
        let text = std::fs::read_to_string(format!("scenarios/{name}.toml")).expect("read");
        assert!(text.starts_with(&format!("# {name}: ")), "{name}: the header comment names the scenario");
        assert!(text.contains("What it shows") && text.contains("What to look at"), "{name}: header sections");
        let scenario = load(name);
        if scenario.openb.is_some() {
            // An experiment, not a simulation: no events or invariants; it must run and report its curve.
            let out = run_in_memory(&scenario, None).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(out.summary.metrics.contains_key("gpu_alloc_pct_at_100"), "{name}: no allocation at 100%");
            continue;
        }
        let mut sim = Sim::new(Arc::new(scenario.config), EventSink::Discard).expect("sim");
        let mut last = SimTime::ZERO;
        // Checking every invariant after every event is O(pods) each: check every event on small scenarios
        // and every 997th on the large ones.
        let stride = if sim.kubelets.len() > 200 { 997 } else { 1 };
        let mut n = 0u64;
        while sim.step() {
            assert!(sim.now() >= last, "{name}: time went backwards");
            last = sim.now();
            n += 1;
            if n.is_multiple_of(stride) {
                kubesim::invariants::check(&sim).unwrap_or_else(|e| panic!("{name} at {:?}: {e}", sim.now()));
            }
        }
        kubesim::invariants::check(&sim).unwrap_or_else(|e| panic!("{name} at the end: {e}"));
        assert_eq!(sim.now(), sim.end(), "{name} ran to its end");
    }
}

#[test]
fn kubelet_partition_keeps_containers_running_and_a_crash_does_not() {
    let out = run_in_memory(&load("kubelet-partition"), None).expect("run");
    let ev = &out.events;
    let during = |r: &&EventRow| (300.0..1200.0).contains(&secs(r));
    let restarts = |node: &str| of(ev, EventType::ContainerRestarted).filter(during).filter(|r| r.node == node).count();
    assert!(restarts("n-0") >= 3, "the crash-looping pod keeps restarting on the partitioned node");
    assert_eq!(restarts("n-1"), 0, "nothing runs on the crashed node");
    for node in ["n-0", "n-1"] {
        let nr: Vec<_> = of(ev, EventType::NodeNotReady).filter(|r| r.node == node).collect();
        assert!(nr.len() == 1 && (340.0..=360.0).contains(&secs(nr[0])), "{node} NotReady 40-60 s after 5m");
        assert!(of(ev, EventType::PodEvicted).filter(|r| r.node == node).count() >= 2, "{node}'s pods evicted");
    }
    // The Job pod on n-0 finished while cut off: its success arrives with the heal (one request latency later).
    let done: Vec<_> =
        of(ev, EventType::PodSucceeded).filter(|r| r.node == "n-0" && r.name.starts_with("report-")).collect();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].time, SimTime::from_secs(1200).add(kubesim::time::SimDuration::from_millis(5)));
    assert_eq!(of(ev, EventType::PodSucceeded).filter(|r| r.node == "n-1" && secs(r) < 1300.0).count(), 0);
}

#[test]
fn spot_interruptions_drain_at_the_notice_and_terminate_after_it() {
    let out = run_in_memory(&load("spot-interruptions"), None).expect("run");
    let ev = &out.events;
    let notices: Vec<&EventRow> =
        of(ev, EventType::FaultInjected).filter(|r| r.detail.contains("verb=spot-interruption")).collect();
    assert!(notices.len() >= 3, "several interruptions in 45 minutes at one per 8 minutes");
    let mut seen = std::collections::BTreeSet::new();
    for n in &notices {
        assert!(n.detail.contains("notice_s=120"));
        let targets: Vec<&str> =
            n.detail.split("targets=").nth(1).unwrap().split(" notice_s").next().unwrap().split(' ').collect();
        assert_eq!(targets.len(), 2);
        for t in targets {
            assert!(t.starts_with("spot-"), "only spot nodes are interrupted");
            assert!(seen.insert(t.to_string()), "{t} interrupted twice");
            let failed: Vec<_> = of(ev, EventType::NodeTerminated).filter(|r| r.node == t).collect();
            assert_eq!(failed.len(), 1, "{t} terminated once");
            assert_eq!(failed[0].time, n.time.add(kubesim::time::SimDuration::from_secs(120)), "{t} after the notice");
        }
    }
    assert!(of(ev, EventType::NodeDrained).count() >= notices.len(), "drains complete within the notice");
    assert_eq!(out.summary.metrics["pods_pending_at_end"].as_f64(), Some(0.0));
}

#[test]
fn binpack_packs_and_spread_spreads() {
    let out = run_in_memory(&load("binpack-vs-spread"), None).expect("run");
    let ev = &out.events;
    let nodes_used = |prefix: &str| {
        let mut nodes: Vec<&str> = of(ev, EventType::PodScheduled)
            .filter(|r| secs(r) < 300.0 && r.node.starts_with(prefix))
            .map(|r| r.node.as_str())
            .collect();
        nodes.sort();
        nodes.dedup();
        nodes.len()
    };
    assert_eq!(nodes_used("binpack-"), 5, "the first wave fits on half the binpack nodes");
    assert_eq!(nodes_used("spread-"), 10, "spread uses every node");
    let bound = |w: &str| of(ev, EventType::PodScheduled).filter(|r| r.name.starts_with(w)).count();
    assert_eq!(bound("big-binpack"), 4, "every large pod fits in the packed group");
    assert!(bound("big-spread") < 4, "a large pod finds no room in the spread group");
}

#[test]
fn batch_burst_queues_then_completes_every_job() {
    let out = run_in_memory(&load("batch-burst"), None).expect("run");
    assert_eq!(of(&out.events, EventType::JobComplete).count(), 12);
    let m = &out.summary.metrics;
    assert!(m["pods_unschedulable"].as_f64().unwrap() > 10.0, "the burst does not fit at once");
    assert!(m["scheduling_latency_max_s"].as_f64().unwrap() > 60.0, "some pods queue for minutes");
    assert!(m["scheduling_latency_p50_s"].as_f64().unwrap() < 0.1, "most are bound at once");
}

#[test]
fn etcd_slowdown_delays_bindings_only_while_slow() {
    let out = run_in_memory(&load("etcd-slowdown"), None).expect("run");
    let ev = &out.events;
    // Creation-to-bound per pod: ~7 ms normally, +250 ms while etcd is slow (the binding is one write).
    let created: std::collections::BTreeMap<&str, f64> =
        of(ev, EventType::PodCreated).map(|r| (r.name.as_str(), secs(r))).collect();
    let lat = |from: f64, to: f64| -> Vec<f64> {
        of(ev, EventType::PodScheduled)
            .filter_map(|r| created.get(r.name.as_str()).map(|c| (*c, secs(r) - c)))
            .filter(|(c, _)| (from..to).contains(c))
            .map(|(_, l)| l)
            .collect()
    };
    let before = lat(60.0, 300.0);
    let slow = lat(310.0, 590.0);
    assert!(!before.is_empty() && before.iter().all(|l| *l < 0.05), "fast before: {before:?}");
    assert!(!slow.is_empty() && slow.iter().all(|l| (0.25..0.3).contains(l)), "slow during: {slow:?}");
    assert_eq!(out.summary.metrics["nodes_not_ready_at_end"].as_f64(), Some(0.0));
}

#[test]
fn alibaba_2017_failures_replays_every_machine_event() {
    let out = run_in_memory(&load("alibaba-2017-failures"), None).expect("run");
    let ev = &out.events;
    let injected: Vec<_> = of(ev, EventType::FaultInjected).collect();
    assert_eq!(injected.len(), 39, "all 39 soft errors of the trace");
    // machine 930 (node machine-929) has 12 machine_fail events in the trace.
    assert_eq!(injected.iter().filter(|r| r.detail.contains("verb=node-crash targets=machine-929 ")).count(), 12);
    assert!(injected.iter().any(|r| r.detail.starts_with("verb=kubelet-stop targets=machine-1074 ")));
    assert!(out.summary.metrics["evictions"].as_f64().unwrap() > 0.0);
}
