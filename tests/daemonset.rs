//! DaemonSets: one pod on every node their template fits, including nodes that join later; none on nodes they
//! do not tolerate; their pods survive node failures (they tolerate the node lifecycle taints forever).

use kubesim::recorder::{EventRow, EventType};
use kubesim::run::{RunOutcome, run_in_memory};
use kubesim::scenario::Scenario;
use std::collections::BTreeMap;

fn run(text: &str) -> RunOutcome {
    let scenario = Scenario::from_str(text, "ds.toml").unwrap_or_else(|e| panic!("{e}"));
    run_in_memory(&scenario, None).expect("run")
}

const SCENARIO: &str = r#"
[scenario]
name = "ds"
duration = "20m"

[[cluster.node_pools]]
name = "a"
count = 3
cpu = "4"
memory = "8Gi"

[[cluster.node_pools]]
name = "gpu"
count = 2
cpu = "8"
memory = "32Gi"
taints = [{ key = "dedicated", value = "gpu", effect = "NoSchedule" }]

[[workloads.daemonsets]]
name = "log-agent"
template = { requests = { cpu = "100m", memory = "128Mi" } }

[[workloads.daemonsets]]
name = "gpu-driver"
template = { requests = { cpu = "100m" }, node_selector = { "kubesim.io/pool" = "gpu" }, tolerations = [{ key = "dedicated", operator = "Exists" }] }

[[faults]]
verb = "add-nodes"
at = "5m"
pool = "a"
count = 2

[[faults]]
verb = "add-nodes"
at = "6m"
pool = "gpu"
count = 1

[[faults]]
verb = "node-crash"
at = "8m"
nodes = ["a-1"]
"#;

/// Running daemon pods per node at the end of the run.
fn placement(events: &[EventRow], prefix: &str) -> BTreeMap<String, usize> {
    let mut node_of: BTreeMap<&str, &str> = BTreeMap::new();
    let mut running: BTreeMap<&str, bool> = BTreeMap::new();
    for r in events.iter().filter(|r| r.name.starts_with(prefix)) {
        match r.event {
            EventType::PodScheduled => {
                node_of.insert(&r.name, &r.node);
            }
            EventType::PodRunning => {
                running.insert(&r.name, true);
            }
            EventType::PodDeleted | EventType::PodFailed | EventType::PodSucceeded => {
                running.insert(&r.name, false);
            }
            _ => {}
        }
    }
    let mut per_node = BTreeMap::new();
    for (pod, up) in running {
        if up && let Some(node) = node_of.get(pod) {
            *per_node.entry(node.to_string()).or_insert(0) += 1;
        }
    }
    per_node
}

#[test]
fn daemonsets_cover_fitting_nodes_including_new_ones() {
    let out = run(SCENARIO);
    let logs = placement(&out.events, "log-agent-");
    // The log agent does not tolerate the gpu taint: one pod on each of a-0..a-4, none on gpu nodes.
    let expected: Vec<String> = (0..5).map(|i| format!("a-{i}")).collect();
    assert_eq!(logs.keys().cloned().collect::<Vec<_>>(), expected, "{logs:?}");
    assert!(logs.values().all(|n| *n == 1));
    let drivers = placement(&out.events, "gpu-driver-");
    assert_eq!(drivers.keys().cloned().collect::<Vec<_>>(), vec!["gpu-0", "gpu-1", "gpu-2"]);
    // The joining nodes got their pod after registering.
    let added =
        |node: &str| out.events.iter().find(|r| r.event == EventType::NodeAdded && r.node == node).map(|r| r.time);
    let scheduled = |node: &str, prefix: &str| {
        out.events
            .iter()
            .find(|r| r.event == EventType::PodScheduled && r.node == node && r.name.starts_with(prefix))
            .map(|r| r.time)
    };
    for node in ["a-3", "a-4"] {
        let (a, s) = (added(node).expect("registered"), scheduled(node, "log-agent-").expect("daemon pod"));
        assert!(a.as_secs_f64() > 300.0 && s > a && s.as_secs_f64() < a.as_secs_f64() + 1.0, "{node}: {a} {s}");
    }
    // The crashed node's daemon pod is not evicted (it tolerates unreachable:NoExecute forever).
    assert!(!out.events.iter().any(|r| r.event == EventType::PodEvicted && r.name.starts_with("log-agent-")));
}
