//! Property test: random small GPU-sharing scenarios (pools with GPUs of two models, Deployments, Jobs and
//! arrivals asking for GPU shares, whole GPUs or a GPU model, node crashes) keep every invariant after every
//! event, including the scheduler's per-GPU accounting: no GPU holds more than 1000 milli, and each GPU's free
//! milli is 1000 minus the shares of the pods placed on it.

use kubesim::invariants;
use kubesim::recorder::EventSink;
use kubesim::scenario::Scenario;
use kubesim::sim::Sim;
use proptest::prelude::*;
use std::fmt::Write;
use std::sync::Arc;

#[derive(Clone, Debug)]
struct Pool {
    count: u32,
    gpus: u32,
    model: bool,
}

#[derive(Clone, Debug)]
struct Gpu {
    /// Some(milli) share, or whole GPUs.
    share: Option<u32>,
    whole: u32,
    spec: Option<bool>,
}

#[derive(Clone, Debug)]
struct Spec {
    seed: u64,
    pools: Vec<Pool>,
    deployments: Vec<(u32, Gpu)>,
    arrivals: Vec<(u32, Gpu)>,
    crash: Option<(u32, usize)>,
}

fn gpu_lines(t: &mut String, g: &Gpu) {
    let cpu = "requests = { cpu = \"100m\", memory = \"64Mi\" }";
    match g.share {
        Some(m) => {
            let _ = writeln!(t, "{cpu}\ngpu_milli = {m}");
        }
        None => {
            let _ =
                writeln!(t, "requests = {{ cpu = \"100m\", memory = \"64Mi\", \"nvidia.com/gpu\" = \"{}\" }}", g.whole);
        }
    }
    if let Some(v100) = g.spec {
        let _ = writeln!(t, "gpu_spec = \"{}\"", if v100 { "V100M16|V100M32" } else { "T4" });
    }
}

impl Spec {
    fn toml(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(t, "[scenario]\nname = \"gpu-prop\"\nseed = {}\nduration = \"10m\"\n", self.seed);
        for (i, p) in self.pools.iter().enumerate() {
            let model = if p.model { "V100M16" } else { "T4" };
            let _ = writeln!(
                t,
                "[[cluster.node_pools]]\nname = \"p{i}\"\ncount = {}\ncpu = \"64\"\nmemory = \"256Gi\"\ngpus = {}\ngpu_model = \"{model}\"\n",
                p.count, p.gpus
            );
        }
        for (i, (replicas, g)) in self.deployments.iter().enumerate() {
            let _ = writeln!(t, "[[workloads.deployments]]\nname = \"d{i}\"\nreplicas = {replicas}");
            let _ = writeln!(t, "[workloads.deployments.template]");
            gpu_lines(&mut t, g);
            t.push('\n');
        }
        for (i, (mean_s, g)) in self.arrivals.iter().enumerate() {
            let _ = writeln!(t, "[[workloads.arrivals]]\nname = \"a{i}\"\nrate_per_s = 0.2");
            let _ = writeln!(t, "[workloads.arrivals.template]");
            gpu_lines(&mut t, g);
            let _ = writeln!(t, "run = {{ dist = \"exponential\", mean = \"{mean_s}s\" }}\n");
        }
        if let Some((at_s, pool)) = self.crash {
            let p = pool % self.pools.len();
            let _ = writeln!(
                t,
                "[[faults]]\nverb = \"node-crash\"\nat = \"{at_s}s\"\nnodes = [\"p{p}-0\"]\nduration = \"60s\"\n"
            );
        }
        t
    }
}

fn gpu() -> impl Strategy<Value = Gpu> {
    (
        prop::option::weighted(0.6, 1u32..=999),
        prop::sample::select(vec![1u32, 2, 4]),
        prop::option::weighted(0.3, any::<bool>()),
    )
        .prop_map(|(share, whole, spec)| Gpu { share, whole, spec })
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        any::<u64>(),
        prop::collection::vec((1u32..=3, prop::sample::select(vec![1u32, 2, 4, 8]), any::<bool>()), 1..=3),
        prop::collection::vec((0u32..=6, gpu()), 0..=3),
        prop::collection::vec((5u32..=120, gpu()), 0..=3),
        prop::option::weighted(0.4, (10u32..400, 0usize..3)),
    )
        .prop_map(|(seed, pools, deployments, arrivals, crash)| Spec {
            seed,
            pools: pools.into_iter().map(|(count, gpus, model)| Pool { count, gpus, model }).collect(),
            deployments,
            arrivals,
            crash,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, max_shrink_iters: 100, ..ProptestConfig::default() })]

    #[test]
    fn gpu_accounting_holds_after_every_event(spec in spec()) {
        let toml = spec.toml();
        let scenario = Scenario::from_str(&toml, "gpu.toml").map_err(|e| TestCaseError::fail(format!("{e}\n{toml}")))?;
        let mut sim = Sim::new(Arc::new(scenario.config), EventSink::Discard).map_err(TestCaseError::fail)?;
        let mut steps = 0u64;
        while sim.step() {
            steps += 1;
            if let Err(e) = invariants::check(&sim) {
                return Err(TestCaseError::fail(format!("after event {steps} at {}: {e}\n{toml}", sim.now())));
            }
        }
        prop_assert!(sim.is_finished());
    }
}

/// A hand-made case: four 300-milli shares on one 1-GPU node: three fit, the fourth waits.
#[test]
fn shares_pack_onto_one_gpu_until_it_is_full() {
    let toml = "[scenario]\nname = \"g\"\nduration = \"1m\"\n\n[[cluster.node_pools]]\nname = \"p\"\ncount = 1\n\
                cpu = \"64\"\nmemory = \"64Gi\"\ngpus = 1\ngpu_model = \"T4\"\n\n[[workloads.deployments]]\n\
                name = \"d\"\nreplicas = 4\n[workloads.deployments.template]\n\
                requests = { cpu = \"100m\", memory = \"64Mi\" }\ngpu_milli = 300\ngpu_spec = \"T4\"\n";
    let scenario = Scenario::from_str(toml, "g.toml").expect("valid scenario");
    let mut sim = Sim::new(Arc::new(scenario.config), EventSink::Discard).expect("builds");
    while sim.step() {
        invariants::check(&sim).expect("invariants");
    }
    let info = sim.scheduler.cache().nodes().next().expect("one node");
    assert_eq!(info.gpus.free_milli, vec![100]);
    assert_eq!(info.pods.len(), 3);
    assert_eq!(sim.scheduler.pending(), 1);
}

fn error_of(extra_pool: &str, extra_template: &str) -> String {
    let toml = format!(
        "[scenario]\nname = \"g\"\nduration = \"1m\"\n\n[[cluster.node_pools]]\nname = \"p\"\ncount = 1\n\
         cpu = \"8\"\nmemory = \"8Gi\"\n{extra_pool}\n\n[[workloads.deployments]]\nname = \"d\"\nreplicas = 1\n\
         [workloads.deployments.template]\nrequests = {{ cpu = \"100m\" }}\n{extra_template}\n"
    );
    match Scenario::from_str(&toml, "g.toml") {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn gpu_fields_are_validated_with_positions() {
    assert_eq!(error_of("gpus = 2\ngpu_model = \"T4\"", "gpu_milli = 500\ngpu_spec = \"T4|A10\""), "");
    let e = error_of("gpus = 2", "gpu_milli = 1500");
    assert!(e.contains("g.toml:17:") && e.contains("gpu_milli"), "{e}");
    let e = error_of("gpu_model = \"T4\"", "");
    assert!(e.contains("g.toml:10:") && e.contains("needs `gpus`"), "{e}");
    let e = error_of("gpus = 65", "");
    assert!(e.contains("g.toml:10:") && e.contains("gpus"), "{e}");
    let e = error_of("gpus = 1", "gpu_spec = \"A||B\"");
    assert!(e.contains("g.toml:17:") && e.contains("gpu_spec"), "{e}");
    let e = error_of("gpus = 1", "gpu_spec = \"T4\"");
    assert!(e.contains("needs a GPU request"), "{e}");
}
