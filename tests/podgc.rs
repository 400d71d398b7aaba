//! PodGC's terminated-pod collection waits for its deletes before the next pass (upstream `gc()` blocks on
//! `wait.Wait()` and `wait.Until` sleeps a period after it returns). When pods finish faster than the
//! controller's 20 QPS client can delete them, a pass must not resend the deletes still waiting for the rate
//! limiter: the requests in flight stay bounded, and every rate-limited slot deletes a pod.

use kubesim::recorder::EventSink;
use kubesim::scenario::Scenario;
use kubesim::sim::Sim;
use std::sync::Arc;

#[test]
fn terminated_pods_are_deleted_once_even_when_deletes_queue_behind_the_rate_limit() {
    // About 50 pods/s are bound (the scheduler's 50 QPS) and finish 10 s later; above the threshold of 200
    // terminated pods PodGC can delete only 20/s, so its backlog grows all run long.
    let text = r#"
[scenario]
name = "podgc-backlog"
duration = "3m"

[timings]
terminated_pod_gc_threshold = 200

[[cluster.node_pools]]
name = "pool"
count = 100
cpu = "64"
memory = "256Gi"

[[workloads.arrivals]]
name = "short"
rate_per_s = 100
[workloads.arrivals.template]
requests = { cpu = "100m", memory = "128Mi" }
run = { dist = "fixed", value = "10s" }
"#;
    let sc = Scenario::from_str(text, "podgc.toml").unwrap_or_else(|e| panic!("{e}"));
    let mut sim = Sim::new(Arc::new(sc.config), EventSink::Memory(Vec::new())).unwrap_or_else(|e| panic!("{e}"));
    let mut peak = 0;
    while sim.step() {
        peak = peak.max(sim.api.requests_in_flight());
    }
    let events = sim.rec.finish().unwrap_or_default();
    let gc_deletes = events.iter().filter(|r| r.detail.contains("reason=PodGC")).count();
    // In flight: the creates and bindings queued behind their own limiters, plus one batch of deletes (10,245
    // here); passes that resent the deletes still queued behind the limiter grew it with every pass (27,458).
    assert!(peak < 15_000, "peak requests in flight {peak}");
    // The limiter's slots all go to pods that still exist: about 20 deletes per second from the first pass
    // (t = 20 s) on. Resent deletes wasted slots on pods already deleted (2,348 with resent deletes, 2,977 without).
    assert!(gc_deletes > 2_800, "{gc_deletes} PodGC deletions");
}
