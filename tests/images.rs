//! Pulled images reach the node's `status.images` as upstream (image list refreshed every 30 s, node status every
//! 10 s, one write per change), the scheduler counts them per image, and ImageLocality then steers a later pod
//! with the same image to the node that has it.

use kubesim::model::{NodeId, PodPhase};
use kubesim::recorder::EventSink;
use kubesim::scenario::Scenario;
use kubesim::sim::Sim;
use kubesim::time::{SimDuration, SimTime};
use std::sync::Arc;

const SCENARIO: &str = r#"
[scenario]
name = "images"
duration = "3m"

[images]
"big:v1" = "500Mi"

[[cluster.node_pools]]
name = "n"
count = 3
cpu = "4"
memory = "8Gi"

[[workloads.deployments]]
name = "first"
replicas = 1
template = { image = "big:v1", requests = { cpu = "100m", memory = "128Mi" } }

[[workloads.deployments]]
name = "second"
replicas = 1
at = "2m"
template = { image = "big:v1", requests = { cpu = "100m", memory = "128Mi" } }
"#;

fn sim() -> Sim {
    let scenario = Scenario::from_str(SCENARIO, "images.toml").unwrap_or_else(|e| panic!("{e}"));
    Sim::new(Arc::new(scenario.config.clone()), EventSink::Discard).expect("sim")
}

fn node_of(sim: &Sim, prefix: &str) -> Option<NodeId> {
    sim.api.etcd.pods.iter().find(|(_, r)| r.spec.name.starts_with(prefix)).and_then(|(_, r)| r.state.node)
}

#[test]
fn pulled_images_are_reported_once_at_the_next_status_update_after_the_list_refresh() {
    let mut sim = sim();
    let mut first_pull_done: Option<(NodeId, SimTime)> = None;
    let mut reported: Vec<(NodeId, SimTime)> = Vec::new();
    let mut seen = [0usize; 3];
    while sim.step() {
        if first_pull_done.is_none()
            && let Some(n) = node_of(&sim, "first")
            && sim
                .api
                .etcd
                .pods
                .iter()
                .any(|(_, r)| r.spec.name.starts_with("first") && r.state.phase == PodPhase::Running)
        {
            // Running is sent 1 s (container start) after the pull ends and commits 5 ms later.
            first_pull_done = Some((n, SimTime(sim.now().micros() - 1_005_000)));
        }
        for i in 0..3 {
            let count = sim.api.etcd.node(NodeId(i)).map_or(0, |n| n.images.len());
            if count != seen[i as usize] {
                seen[i as usize] = count;
                reported.push((NodeId(i), sim.now()));
            }
        }
    }
    let (node, pulled) = first_pull_done.expect("the first pod ran");
    assert_eq!(reported.len(), 1, "one image-list write in the whole run: {reported:?}");
    assert_eq!(reported[0].0, node, "on the node that pulled");
    let images = &sim.api.etcd.node(node).expect("node").images;
    assert_eq!(images, &vec![(kubesim::model::s("big:v1"), 500 * 1024 * 1024)]);
    // Due at the first status tick (10 s) at or after the first image-list refresh (30 s) at or after the pull's
    // end, both loops running from the kubelet's start; the write commits 5 ms after it is sent.
    let origin = sim.api.lease(node).and_then(|l| l.origin).expect("kubelet started");
    let refreshed = pulled.ceil_to_period(origin, SimDuration::from_secs(30));
    let due = refreshed.ceil_to_period(origin, SimDuration::from_secs(10));
    assert!(due > pulled);
    assert_eq!(reported[0].1, due.add(SimDuration::from_millis(5)), "pulled at {pulled:?}, kubelet origin {origin:?}");
}

#[test]
fn the_scheduler_counts_reported_images_and_image_locality_prefers_their_node() {
    let mut sim = sim();
    sim.run();
    let first = node_of(&sim, "first").expect("first placed");
    let second = node_of(&sim, "second").expect("second placed");
    let state = sim.scheduler.cache().image_state("big:v1").expect("the scheduler saw the report");
    assert_eq!(state.num_nodes, 1);
    assert_eq!(state.size_bytes, 500 * 1024 * 1024);
    // LeastAllocated costs the busier node 2 points; ImageLocality gives it 100 * (500/3 - 23) / 977 = 14.
    assert_eq!(second, first, "the second pod joins the node that has its image");
}
