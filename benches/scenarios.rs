//! Wall-clock cost of whole scenario runs.
//!
//! The scenario file is loaded and validated once, outside the timed loop; each iteration builds a fresh `Sim`
//! from the same configuration and runs it to the end with the recorder discarding its rows (no CSV writing).
//! Throughput is the run's `events_processed`, counted in an untimed warm-up run, so criterion reports events/s.
//!
//! Run with `cargo bench --bench scenarios`; `cargo test --release` runs each benchmark once as a smoke test.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kubesim::recorder::EventSink;
use kubesim::scenario::Scenario;
use kubesim::sim::{Sim, SimConfig};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Scenarios under `scenarios/` to time, as shipped and scaled to about 5,000 nodes.
const SCENARIOS: &[&str] = &["node-failure", "zone-outage"];
/// The scaled runs' cluster size (node pools and workload sizes multiplied alike).
const SCALED_NODES: i64 = 5_000;

fn load(name: &str) -> Arc<SimConfig> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(format!("{name}.toml"));
    let scenario = Scenario::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Arc::new(scenario.config)
}

/// The scenario with its node pools, Deployment replicas and arrival rates multiplied by the factor that brings
/// it to about [`SCALED_NODES`] nodes: the same shape and load per node, 40x the nodes for node-failure (120 ->
/// 4,800) and 167x for zone-outage (30 -> 5,010). Faults name the same nodes and zones.
fn load_scaled(name: &str) -> (Arc<SimConfig>, i64) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(format!("{name}.toml"));
    let text = std::fs::read_to_string(&path).expect("scenario file");
    let mut doc: toml::Table = text.parse().expect("TOML");
    let pools = doc["cluster"]["node_pools"].as_array().expect("pools").clone();
    let nodes: i64 = pools.iter().map(|p| p["count"].as_integer().unwrap_or(0)).sum();
    let k = (SCALED_NODES as f64 / nodes as f64).round().max(1.0) as i64;
    let scale_int = |t: &mut toml::Value, key: &str| {
        if let Some(v) = t.get(key).and_then(|v| v.as_integer()) {
            t[key] = toml::Value::Integer(v * k);
        }
    };
    if let Some(ps) = doc.get_mut("cluster").and_then(|c| c.get_mut("node_pools")).and_then(|p| p.as_array_mut()) {
        ps.iter_mut().for_each(|p| scale_int(p, "count"));
    }
    if let Some(w) = doc.get_mut("workloads") {
        if let Some(ds) = w.get_mut("deployments").and_then(|d| d.as_array_mut()) {
            ds.iter_mut().for_each(|d| scale_int(d, "replicas"));
        }
        if let Some(arr) = w.get_mut("arrivals").and_then(|a| a.as_array_mut()) {
            for a in arr.iter_mut() {
                if let Some(r) = a.get("rate_per_s").and_then(|v| v.as_float()) {
                    a["rate_per_s"] = toml::Value::Float(r * k as f64);
                }
                scale_int(a, "max_pods");
            }
        }
    }
    let scaled = toml::to_string(&doc).expect("TOML out");
    let scenario = Scenario::from_str(&scaled, &path.display().to_string()).unwrap_or_else(|e| panic!("{name}: {e}"));
    (Arc::new(scenario.config), nodes * k)
}

fn run(cfg: &Arc<SimConfig>) -> Sim {
    let mut sim = Sim::new(cfg.clone(), EventSink::Discard).expect("valid scenario");
    sim.run();
    sim
}

fn scenario_runs(c: &mut Criterion) {
    let mut group = c.benchmark_group("scenario");
    group.sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));
    for &name in SCENARIOS {
        let cfg = load(name);
        let events = run(&cfg).events_processed();
        assert!(events > 0, "{name}: no events processed");
        group.throughput(Throughput::Elements(events));
        // Dropping the finished `Sim` happens outside the timing.
        group.bench_function(name, |b| b.iter_with_large_drop(|| run(&cfg)));
    }
    group.finish();
    let mut group = c.benchmark_group("scenario_5k");
    group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(20));
    for &name in SCENARIOS {
        let (cfg, nodes) = load_scaled(name);
        let events = run(&cfg).events_processed();
        assert!(events > 0, "{name}: no events processed");
        group.throughput(Throughput::Elements(events));
        group.bench_function(format!("{name}-{nodes}"), |b| b.iter_with_large_drop(|| run(&cfg)));
    }
    group.finish();
}

/// One openb experiment (the FGD paper's, `scenarios/openb-default.toml`: about 10,700 pods on 1,213 nodes) per
/// policy; throughput is pods submitted per second. Target: under 0.5 s per run.
fn openb_runs(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/openb-default.toml");
    let scenario = Scenario::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let base = scenario.openb.clone().expect("an [openb] scenario");
    let mut group = c.benchmark_group("openb");
    group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(8));
    for preset in ["random", "gpu-packing", "fgd"] {
        let mut e = (*base).clone();
        e.profile = kubesim::scheduler::profile::ProfileConfig::preset(preset).expect("preset");
        let pods = kubesim::openb::experiment::run(&e, 42).expect("run").rows.len() as u64;
        group.throughput(Throughput::Elements(pods));
        group.bench_function(preset, |b| b.iter(|| kubesim::openb::experiment::run(&e, 42).expect("run")));
    }
    group.finish();
}

criterion_group!(benches, scenario_runs, openb_runs);
criterion_main!(benches);
