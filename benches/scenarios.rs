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

/// Scenarios under `scenarios/` to time (later work may add more).
const SCENARIOS: &[&str] = &["node-failure"];

fn load(name: &str) -> Arc<SimConfig> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(format!("{name}.toml"));
    let scenario = Scenario::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Arc::new(scenario.config)
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
