//! Quality metrics on tiny scenarios whose values can be worked out by hand (issue 6): allocation and
//! imbalance, fragmentation, pending pods, topology skew, time to recovery, restarts; and the files behind them
//! (`timeseries.csv`, `placements.csv`, `pods.csv`) agree with `summary.json` and `events.csv`.

use kubesim::recorder::EventType;
use kubesim::run::{RunOutcome, run_in_memory, run_to_dir};
use kubesim::scenario::Scenario;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn scenario(text: &str) -> Scenario {
    Scenario::from_str(text, "metrics.toml").unwrap_or_else(|e| panic!("{e}"))
}

fn out_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kubesim-metrics-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Rows of a CSV file as maps from header name to value.
fn read_csv(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let headers = r.headers().expect("header").clone();
    r.records()
        .map(|rec| {
            let rec = rec.expect("row");
            headers.iter().zip(rec.iter()).map(|(h, v)| (h.to_string(), v.to_string())).collect()
        })
        .collect()
}

fn metric(out: &RunOutcome, name: &str) -> f64 {
    out.summary.metrics.get(name).and_then(|v| v.as_f64()).unwrap_or_else(|| panic!("no metric {name}"))
}

fn num(row: &BTreeMap<String, String>, col: &str) -> f64 {
    row[col].parse().unwrap_or_else(|_| panic!("{col} = {:?}", row[col]))
}

/// Two nodes of 4 CPUs / 8 GiB, three pods of 1 CPU / 1 GiB, and a reference pod of 3 CPUs / 1 GiB.
const TWO_NODES: &str = r#"
[scenario]
name = "two-nodes"
seed = 1
duration = "1000s"

[output]
sample_interval = "100s"
reference_pod = { cpu = "3", memory = "1Gi" }

[[cluster.node_pools]]
name = "p"
count = 2
cpu = "4"
memory = "8Gi"

[[workloads.deployments]]
name = "a"
replicas = 3
template = { requests = { cpu = "1", memory = "1Gi" } }
"#;

#[test]
fn allocation_fragmentation_and_imbalance_by_hand() {
    let dir = out_dir("two-nodes");
    let out = run_to_dir(&scenario(TWO_NODES), &dir).expect("run");
    // 3 of 8 CPUs from a few ms after the start: the time-weighted mean is just under 0.375.
    let cpu = metric(&out, "cpu_allocation_mean");
    assert!(cpu > 0.374 && cpu <= 0.375, "{cpu}");
    let mem = metric(&out, "memory_allocation_mean");
    assert!(mem > 0.1870 && mem <= 0.1875, "{mem}");

    let ts = read_csv(&dir.join("timeseries.csv"));
    // Samples at 0, 100, ..., 1000 s.
    let times: Vec<f64> = ts.iter().map(|r| num(r, "time_s")).collect();
    assert_eq!(times, (0..=10).map(|i| f64::from(i) * 100.0).collect::<Vec<_>>());
    let last = ts.last().expect("rows");
    assert_eq!(num(last, "cpu_allocation"), 0.375);
    assert_eq!(num(last, "pods_bound"), 3.0);
    assert_eq!(num(last, "pods_running"), 3.0);
    assert_eq!(num(last, "nodes_schedulable"), 2.0);
    // Whatever the split (2+1 or 3+0), 2 of the 5 free CPUs cannot hold a 3-CPU pod, and 12 of the 13 free GiB
    // are stranded (only one reference pod fits, on the node with 3 or 4 CPUs free).
    assert_eq!(num(last, "cpu_fragmentation"), 0.4);
    assert_eq!(num(last, "memory_fragmentation"), 0.923077);

    // placements.csv: the split, and the stdev of the per-node ratios it implies.
    let pl = read_csv(&dir.join("placements.csv"));
    let at_end: Vec<_> = pl.iter().filter(|r| num(r, "time_s") == 1000.0).collect();
    assert_eq!(at_end.len(), 2, "one row per node (one workload each)");
    let mut split: Vec<f64> = at_end.iter().map(|r| num(r, "pods")).collect();
    split.sort_by(f64::total_cmp);
    assert_eq!(split, vec![1.0, 2.0], "the default profile spreads");
    assert!(at_end.iter().all(|r| r["workload"] == "a" && num(r, "cpu_millis_allocatable") == 4000.0));
    // Ratios 0.5 and 0.25: population stdev 0.125.
    assert_eq!(num(last, "cpu_allocation_stdev"), 0.125);
    // The first sample (t = 0) comes before the nodes' registrations commit (a few ms in): no rows, no nodes.
    assert!(pl.iter().all(|r| num(r, "time_s") > 0.0));
    assert_eq!(num(&ts[0], "nodes"), 0.0);
    // The stdev is 0.125 at every sample but the first (0 there: no nodes): mean over 11 samples.
    let imbalance = metric(&out, "cpu_allocation_imbalance");
    assert!((imbalance - 0.125 * 10.0 / 11.0).abs() < 1e-6, "{imbalance}");
    // The first sample has no free capacity at all (no nodes): the mean is over the other 10.
    let frag = metric(&out, "cpu_fragmentation_mean");
    assert!((frag - 0.4).abs() < 1e-6, "{frag}");
    // An empty cluster of the same nodes: one reference pod fits on each, leaving 1 of 4 CPUs each.
    let empty = TWO_NODES.replace("replicas = 3", "replicas = 0");
    let out = run_in_memory(&scenario(&empty), None).expect("run");
    assert!((metric(&out, "cpu_fragmentation_mean") - 0.25).abs() < 1e-6);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn pending_pods_and_unschedulable_reasons() {
    let text = r#"
[scenario]
name = "pending"
seed = 1
duration = "100s"

[[cluster.node_pools]]
name = "p"
count = 1
cpu = "2"
memory = "8Gi"

[[workloads.deployments]]
name = "a"
replicas = 3
template = { requests = { cpu = "1", memory = "1Gi" } }
"#;
    let dir = out_dir("pending");
    let out = run_to_dir(&scenario(text), &dir).expect("run");
    // One pod never fits: it is pending from its creation (a few ms in) to the end.
    let pods = read_csv(&dir.join("pods.csv"));
    assert_eq!(pods.len(), 3);
    let stuck: Vec<_> = pods.iter().filter(|r| r["scheduled_s"].is_empty()).collect();
    assert_eq!(stuck.len(), 1);
    assert_eq!(stuck[0]["node"], "");
    let created = num(stuck[0], "created_s");
    let bound_wait: f64 =
        pods.iter().filter(|r| !r["scheduled_s"].is_empty()).map(|r| num(r, "scheduled_s") - num(r, "created_s")).sum();
    let expected = (100.0 - created) + bound_wait;
    let got = metric(&out, "pending_pod_seconds");
    assert!((got - expected).abs() < 1e-6, "pending pod-seconds {got}, by hand {expected}");
    assert!(metric(&out, "pods_pending_max") >= 1.0);
    assert_eq!(out.summary.metrics["pods_unschedulable"], 1);
    let reasons: Vec<&String> = out.summary.unschedulable_reasons.keys().collect();
    assert!(reasons.iter().any(|r| r.contains("Insufficient cpu")), "{reasons:?}");
    let ts = read_csv(&dir.join("timeseries.csv"));
    assert_eq!(num(ts.last().expect("rows"), "pods_pending"), 1.0);
    assert_eq!(num(ts.last().expect("rows"), "workloads_degraded"), 1.0, "2 of 3 ready");
    // Scheduling latency from pods.csv is what the summary's quantiles are computed from.
    let max = metric(&out, "scheduling_latency_max_s");
    let by_hand = pods
        .iter()
        .filter(|r| !r["scheduled_s"].is_empty())
        .map(|r| num(r, "scheduled_s") - num(r, "created_s"))
        .fold(0.0, f64::max);
    assert!((max - by_hand).abs() < 1e-6, "{max} vs {by_hand}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn zone_skew_per_workload() {
    let text = r#"
[scenario]
name = "skew"
seed = 1
duration = "60s"

[[cluster.node_pools]]
name = "a"
count = 1
cpu = "8"
memory = "32Gi"
zone = "z1"

[[cluster.node_pools]]
name = "b"
count = 1
cpu = "8"
memory = "32Gi"
zone = "z2"

[[cluster.node_pools]]
name = "c"
count = 1
cpu = "8"
memory = "32Gi"
zone = "z3"

[[workloads.deployments]]
name = "web"
replicas = 4
template = { requests = { cpu = "1", memory = "1Gi" } }

[[workloads.deployments]]
name = "pinned"
replicas = 3
template = { node_selector = { "topology.kubernetes.io/zone" = "z1" }, requests = { cpu = "100m", memory = "128Mi" } }
"#;
    let out = run_in_memory(&scenario(text), None).expect("run");
    // 4 pods over 3 zones spread 2/1/1: skew 1; at most 2 on one node.
    assert_eq!(out.summary.metrics["workload.web.zone_skew_end"], 1);
    assert_eq!(out.summary.metrics["workload.web.pods_per_node_max_end"], 2);
    // All 3 pinned pods in z1: skew 3 - 0.
    assert_eq!(out.summary.metrics["workload.pinned.zone_skew_end"], 3);
    assert_eq!(out.summary.metrics["workload.pinned.zone_skew_max"], 3);
}

const CRASH: &str = r#"
[scenario]
name = "crash"
seed = 2
duration = "15m"

[[cluster.node_pools]]
name = "p"
count = 3
cpu = "4"
memory = "8Gi"

[[workloads.deployments]]
name = "web"
replicas = 3
template = { requests = { cpu = "1", memory = "1Gi" } }

[[faults]]
verb = "node-crash"
at = "100s"
nodes = ["p-0"]
"#;

#[test]
fn time_to_recovery_after_a_node_crash() {
    let out = run_in_memory(&scenario(CRASH), None).expect("run");
    let rec = &out.summary.fault_recovery;
    assert_eq!(rec.len(), 1);
    assert_eq!(rec[0].verb, "node-crash");
    assert_eq!(rec[0].time_s, 100.0);
    let recovery = rec[0].recovery_s.expect("recovered before the end");
    // The pod on p-0 is evicted after the node's 40 s grace and the 300 s toleration; its replacement is Ready
    // later; the Deployment's status shows it a few ms after that.
    let evicted = out.events.iter().find(|r| r.event == EventType::PodEvicted).expect("an eviction").time;
    let last_ready = out.events.iter().rev().find(|r| r.event == EventType::PodReady).expect("ready").time;
    assert!(recovery > evicted.as_secs_f64() - 100.0, "{recovery} vs eviction at {evicted:?}");
    assert!(recovery >= last_ready.as_secs_f64() - 100.0, "{recovery} vs last ready at {last_ready:?}");
    assert!(recovery < last_ready.as_secs_f64() - 100.0 + 1.0, "{recovery} vs last ready at {last_ready:?}");
    assert_eq!(metric(&out, "fault_recovery_max_s"), (recovery * 1e6).round() / 1e6);
    assert_eq!(out.summary.metrics["faults_unrecovered"], 0);
    assert_eq!(out.summary.metrics["pods_lost"], 1);
}

#[test]
fn a_fault_that_never_heals_is_unrecovered() {
    let text = CRASH.replace("duration = \"15m\"", "duration = \"3m\"");
    let out = run_in_memory(&scenario(&text), None).expect("run");
    assert_eq!(out.summary.fault_recovery[0].recovery_s, None, "still degraded at the end");
    assert_eq!(out.summary.metrics["faults_unrecovered"], 1);
}

#[test]
fn counters_match_the_event_rows() {
    let text = std::fs::read_to_string("scenarios/crashloop.toml").expect("library scenario");
    let out = run_in_memory(&scenario(&text), None).expect("run");
    let count = |e: EventType| out.events.iter().filter(|r| r.event == e).count() as u64;
    assert!(count(EventType::ContainerRestarted) > 0);
    assert_eq!(out.summary.metrics["container_restarts"], count(EventType::ContainerRestarted));
    assert_eq!(out.summary.metrics["pods_failed"], count(EventType::PodFailed));
    assert_eq!(out.summary.metrics["faults_injected"], count(EventType::FaultInjected));
}

#[test]
fn sampling_is_read_only() {
    // Changing the interval (or turning placements off) changes nothing else in the run.
    let base = run_in_memory(&scenario(CRASH), None).expect("run");
    let text = CRASH.replace(
        "[[cluster.node_pools]]",
        "[output]\nsample_interval = \"7s\"\nplacements = false\n\n[[cluster.node_pools]]",
    );
    let other = run_in_memory(&scenario(&text), None).expect("run");
    assert_eq!(base.events, other.events);
    assert_eq!(base.summary.events_processed, other.summary.events_processed);
    assert_eq!(base.summary.fault_recovery, other.summary.fault_recovery);
}

#[test]
fn bad_output_sections_are_errors() {
    for (bad, want) in [
        ("sample_interval = \"0s\"", "sample_interval must be positive"),
        ("sample_interval = \"1ms\"", "more than 100000 samples"),
        ("reference_pod = { cpu = \"0\" }", "reference_pod must request"),
        ("interval = \"1s\"", "unknown field"),
    ] {
        let text = TWO_NODES
            .replace("reference_pod = { cpu = \"3\", memory = \"1Gi\" }", "")
            .replace("sample_interval = \"100s\"", bad);
        let err = Scenario::from_str(&text, "metrics.toml").expect_err(bad).to_string();
        assert!(err.contains(want), "{bad}: {err}");
        assert!(err.contains("metrics.toml:"), "{err}");
    }
}

#[test]
fn binpack_vs_spread_placements_show_the_empty_nodes() {
    let dir = out_dir("binpack-vs-spread");
    let sc = Scenario::load(Path::new("scenarios/binpack-vs-spread.toml")).expect("library scenario");
    let out = run_to_dir(&sc, &dir).expect("run");
    let pl = read_csv(&dir.join("placements.csv"));
    // At 11 min (after the batch scale-down, before "big" arrives).
    let at: Vec<_> = pl.iter().filter(|r| num(r, "time_s") == 660.0).collect();
    let empty = |pool: &str| at.iter().filter(|r| r["pool"] == pool && r["workload"].is_empty()).count();
    assert_eq!(empty("binpack"), 5, "binpack leaves whole nodes empty");
    assert_eq!(empty("spread"), 0, "spread puts pods everywhere");
    let m = &out.summary.metrics;
    assert_eq!(m["workload.web-binpack.pods_per_node_max_end"], 6);
    assert_eq!(m["workload.web-spread.pods_per_node_max_end"], 3);
    let _ = std::fs::remove_dir_all(&dir);
}
