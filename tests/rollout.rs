//! Rolling updates stay within their bounds after every single event, and complete.
//!
//! For a Deployment with `replicas` R, surge S and unavailable U (resolved as upstream: surge rounds up,
//! unavailable down), once its first rollout is complete and while it rolls out a new template:
//! - pods that are active (not terminal, not being deleted) never exceed R + S;
//! - ready active pods never drop below R - U.

use kubesim::model::PodPhase;
use kubesim::recorder::{EventSink, EventType};
use kubesim::scenario::Scenario;
use kubesim::sim::Sim;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

struct Bounds {
    replicas: i64,
    surge: i64,
    unavailable: i64,
}

fn check_bounds(scenario: &Scenario, bounds: &BTreeMap<&str, Bounds>, settled_at_s: u64) -> (u64, u64) {
    let mut sim = Sim::new(Arc::new(scenario.config.clone()), EventSink::Memory(Vec::new())).expect("sim");
    let (mut max_seen, mut checked) = (0u64, 0u64);
    while sim.step() {
        if sim.now().micros() < settled_at_s * 1_000_000 {
            continue;
        }
        checked += 1;
        let mut active: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
        for (_, r) in sim.api.etcd.pods.iter() {
            let s = &r.state;
            if s.phase.is_terminal() || s.deletion.is_some() {
                continue;
            }
            if let Some((name, _)) = bounds.get_key_value(&*r.spec.workload) {
                let e = active.entry(name).or_default();
                e.0 += 1;
                if s.ready && s.phase == PodPhase::Running {
                    e.1 += 1;
                }
            }
        }
        for (name, b) in bounds {
            let (pods, ready) = active.get(name).copied().unwrap_or_default();
            assert!(
                pods <= b.replicas + b.surge,
                "{name}: {pods} active pods > {} + {} at {}",
                b.replicas,
                b.surge,
                sim.now()
            );
            assert!(
                ready >= b.replicas - b.unavailable,
                "{name}: {ready} ready pods < {} - {} at {}",
                b.replicas,
                b.unavailable,
                sim.now()
            );
            max_seen = max_seen.max(pods as u64);
        }
    }
    (max_seen, checked)
}

#[test]
fn rolling_updates_stay_within_surge_and_unavailability() {
    let text = std::fs::read_to_string("scenarios/rolling-update.toml").expect("scenario");
    // Keep the two rollouts; drop the later scale-up, which changes the bounds.
    let text = text.replace("verb = \"scale\"\nat = \"15m\"", "verb = \"scale\"\nat = \"24m\"");
    let scenario = Scenario::from_str(&text, "rolling-update.toml").expect("valid");
    let mut bounds = BTreeMap::new();
    // web: 24 replicas, 25%/25% -> surge 6, unavailable 6. api: 10 replicas, surge 0, unavailable 1.
    bounds.insert("web", Bounds { replicas: 24, surge: 6, unavailable: 6 });
    bounds.insert("api", Bounds { replicas: 10, surge: 0, unavailable: 1 });
    // From 2 minutes on the initial rollout is long complete; the updates start at 5m and 6m and end before 24m.
    let (max_seen, checked) = check_bounds(&scenario, &bounds, 120);
    assert!(checked > 500, "checked {checked} events");
    assert_eq!(max_seen, 30, "web does surge to its bound");
}

#[test]
fn rollouts_complete_with_a_new_replicaset() {
    let scenario = Scenario::load(Path::new("scenarios/rolling-update.toml")).expect("scenario");
    let out = kubesim::run::run_in_memory(&scenario, None).expect("run");
    let complete: Vec<(&str, &str)> = out
        .events
        .iter()
        .filter(|r| r.event == EventType::RolloutComplete)
        .map(|r| (r.name.as_str(), r.detail.split(' ').next().unwrap_or("")))
        .collect();
    for name in ["web", "api"] {
        assert!(complete.contains(&(name, "generation=1")), "{name} initial rollout: {complete:?}");
        assert!(complete.contains(&(name, "generation=2")), "{name} image rollout: {complete:?}");
    }
    let replicasets = out.events.iter().filter(|r| r.event == EventType::ReplicaSetCreated).count();
    assert_eq!(replicasets, 4, "one new ReplicaSet per rollout");
    // The scale-up to 30 at 15m (generation 3).
    assert!(complete.contains(&("web", "generation=3")), "{complete:?}");
    assert_eq!(out.summary.pods["Running"], 40);
    // Old ReplicaSets' pods were all deleted.
    let (created, deleted) =
        (out.summary.metrics["pods_created"].as_u64(), out.summary.metrics["pods_deleted"].as_u64());
    assert_eq!(deleted, created.map(|c| c - 40));
}
