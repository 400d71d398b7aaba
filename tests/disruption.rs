//! PodDisruptionBudgets and drains: `kubectl drain` evicts through the Eviction API, which refuses (429) any
//! eviction that would take a budget's healthy pods below its minimum; the drain retries every 5 s and
//! finishes once replacements are ready elsewhere. A budget that allows nothing blocks the drain for good.

use kubesim::model::PodPhase;
use kubesim::recorder::{EventSink, EventType};
use kubesim::scenario::Scenario;
use kubesim::sim::Sim;
use std::sync::Arc;

fn scenario(pdb: &str) -> Scenario {
    let text = format!(
        r#"
[scenario]
name = "drain"
seed = 3
duration = "10m"

[[cluster.node_pools]]
name = "n"
count = 2
cpu = "4"
memory = "8Gi"

[[workloads.deployments]]
name = "web"
replicas = 4
template = {{ requests = {{ cpu = "1", memory = "512Mi" }}, labels = {{ app = "web" }}, readiness_delay = "20s" }}

{pdb}

[[actions]]
verb = "drain"
at = "2m"
node = "n-0"
"#
    );
    Scenario::from_str(&text, "drain.toml").unwrap_or_else(|e| panic!("{e}"))
}

/// Runs, checking after every event that at least `min_ready` web pods are ready once all were; returns the
/// events and the number of refused evictions.
fn run_checking(s: &Scenario, min_ready: i64) -> (Vec<kubesim::recorder::EventRow>, u64) {
    let mut sim = Sim::new(Arc::new(s.config.clone()), EventSink::Memory(Vec::new())).expect("sim");
    let mut settled = false;
    while sim.step() {
        let ready = sim
            .api
            .etcd
            .pods
            .iter()
            .filter(|(_, r)| r.state.ready && r.state.phase == PodPhase::Running && r.state.deletion.is_none())
            .count() as i64;
        settled |= ready == 4;
        if settled {
            assert!(ready >= min_ready, "{ready} ready pods < {min_ready} at {}", sim.now());
        }
    }
    let blocked = sim.rec.metrics.evictions_blocked;
    (sim.rec.finish().expect("events"), blocked)
}

#[test]
fn a_pdb_slows_a_drain_but_never_lets_it_violate_the_budget() {
    // 2 nodes of 4 CPU, 4 pods of 1 CPU: LeastAllocated spreads them 2 and 2, so n-0 holds two.
    let s = scenario("[[pdbs]]\nname = \"web\"\nselector = { app = \"web\" }\nmin_available = 3");
    let (events, blocked) = run_checking(&s, 3);
    let on_node = events.iter().filter(|r| r.event == EventType::PodScheduled && r.node == "n-0").count();
    assert_eq!(on_node, 2);
    let evicted: Vec<_> = events.iter().filter(|r| r.event == EventType::PodEvicted).collect();
    assert_eq!(evicted.len(), 2, "both pods on n-0 are evicted");
    assert!(evicted.iter().all(|r| r.detail == "reason=EvictionByEvictionAPI"));
    // Both evictions are sent at 2m: the first uses the budget's one disruption (commit at 120.005 s), the
    // second is refused (429, answered 2 ms later) and resent 5 s after each refusal, committing 5 ms after it is
    // sent: attempts commit every 5.007 s, until the first pod's replacement is Ready (20 s readiness delay)
    // and the disruption controller allows one again.
    assert_eq!(evicted[0].time.micros(), 120_005_000);
    let second = evicted[1].time.micros();
    assert_eq!((second - 120_005_000) % 5_007_000, 0, "on a retry: {second}");
    assert!(second > 120_005_000 + 20_000_000, "only after a replacement is ready: {second}");
    assert!(blocked >= 4, "refused {blocked} times");
    let replacement_ready = events
        .iter()
        .filter(|r| r.event == EventType::PodReady && r.node == "n-1" && r.time.micros() > 120_000_000)
        .map(|r| r.time.micros())
        .next()
        .expect("a replacement becomes ready");
    assert!(second > replacement_ready && second - replacement_ready <= 5_007_000, "the first retry after it");
    let drained = events.iter().find(|r| r.event == EventType::NodeDrained).expect("the drain finishes");
    assert!(drained.time >= evicted[1].time);
    // The node is cordoned: nothing is scheduled there after the drain started.
    assert!(
        !events.iter().any(|r| r.event == EventType::PodScheduled && r.node == "n-0" && r.time.micros() > 120_000_000)
    );
}

#[test]
fn a_budget_allowing_nothing_blocks_the_drain() {
    let s = scenario("[[pdbs]]\nname = \"web\"\nselector = { app = \"web\" }\nmax_unavailable = 0");
    let (events, blocked) = run_checking(&s, 4);
    assert!(events.iter().all(|r| r.event != EventType::PodEvicted), "no eviction goes through");
    assert!(events.iter().all(|r| r.event != EventType::NodeDrained), "the drain never finishes");
    // Retried every 5 s from 2m to 10m: about 96 refusals per pod on the node.
    assert!(blocked > 90, "{blocked} refusals");
}

#[test]
fn without_a_budget_the_drain_evicts_at_once() {
    let s = scenario("");
    let (events, blocked) = run_checking(&s, 0);
    assert_eq!(blocked, 0);
    let evicted: Vec<_> = events.iter().filter(|r| r.event == EventType::PodEvicted).collect();
    assert!(!evicted.is_empty());
    assert!(evicted.iter().all(|r| (r.time.as_secs_f64() - evicted[0].time.as_secs_f64()).abs() < 0.01));
}
