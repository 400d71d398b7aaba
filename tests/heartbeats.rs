//! Heartbeats stay cheap: 5,000 kubelets renewing their Lease every 10 s for a simulated day would be 43 million
//! writes in a per-heartbeat model; kubesim simulates none of them, and still detects a dead node exactly when the
//! per-heartbeat model would (tests/node_failure.rs checks that timeline to the millisecond).

use kubesim::recorder::EventType;
use kubesim::run::run_in_memory;
use kubesim::scenario::Scenario;

#[test]
fn a_day_of_5000_idle_nodes_costs_a_few_events_per_node() {
    let text = r#"
[scenario]
name = "idle"
duration = "24h"

[[cluster.node_pools]]
name = "n"
count = 5000
cpu = "16"
memory = "64Gi"

[[faults]]
verb = "node-crash"
at = "12h"
nodes = ["n-4321"]
"#;
    let scenario = Scenario::from_str(text, "idle.toml").expect("valid");
    let out = run_in_memory(&scenario, None).expect("run");
    // Registration (request, commit, watch deliveries, zone bookkeeping) is a handful of events per node; no
    // heartbeat ever reaches the queue.
    let events = out.summary.events_processed;
    assert!(events < 10 * 5000, "{events} events for a day of 5,000 idle nodes");
    // The crash is still noticed.
    let not_ready: Vec<_> = out.events.iter().filter(|r| r.event == EventType::NodeNotReady).collect();
    assert_eq!(not_ready.len(), 1);
    assert_eq!(not_ready[0].node, "n-4321");
    let t = not_ready[0].time.as_secs_f64() - 12.0 * 3600.0;
    assert!((40.0..65.1).contains(&t), "NotReady {t} s after the crash");
}
