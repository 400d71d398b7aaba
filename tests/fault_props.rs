//! Property test: a random set of healing faults on a small cluster running Deployments. Every fault has healed by
//! `H`; after a convergence bound the cluster is back where it started: every Deployment has its desired number of
//! Ready pods, every node is Ready, schedulable and untainted, nothing is Pending or stuck Terminating. Throughout
//! the run the invariants of `kubesim::invariants` hold after every event (no node over-allocated, phases
//! consistent with bindings, pods conserved) and time never goes back.
//!
//! On failure proptest prints the generated scenario TOML; paste it into a file to replay with `kubesim run`.

use kubesim::invariants;
use kubesim::model::{ConditionStatus, PodPhase};
use kubesim::recorder::EventSink;
use kubesim::scenario::Scenario;
use kubesim::sim::Sim;
use kubesim::time::SimTime;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;

/// Every fault has healed by this time (seconds).
const H: u32 = 900;

/// How long after `H` the cluster has to converge (seconds). Once every fault has healed, what can still be
/// pending at `H` is, each on its own rather than one after the other:
/// - a request whose client is backing off after the apiserver or etcd refused or timed out: controllers double
///   their delay from 5 ms (cap 1000 s), so a request that first failed at `t0` and last failed before `H` is
///   retried before `2 H - t0 <= 2 H`, i.e. less than `H` after `H` (with repeated outages the failures can span
///   most of `[0, H]`). Such a late write is resent as it was: the node lifecycle controller's NoExecute taint
///   that lands on a node Ready again is removed at the next 5 s pass, a pod marked not ready is reported ready
///   again by its kubelet at once; users retry every 30 s at most, kubelets every 10 s;
/// - a replacement pod the scheduler found no room for while nodes were down or cordoned: the node updates of the
///   recoveries requeue it at once, and at worst `podMaxInUnschedulablePodsDuration` (300 s) plus the leftover
///   flush period (30 s) brings it back;
/// - a container in CrashLoopBackOff after container crashes (windows double to at most 300 s), or an image pull
///   in its back-off after the registry was down (also at most 300 s);
/// - pods evicted from a node that was down (its grace 50 s + toleration 300 s elapsed before `H`) stay
///   Terminating until its kubelet is back, by `H`, and finish then.
///
/// So everything has happened by `2 H` plus a pod start (scheduling, a 2.5 s pull, a 1 s start, a readiness delay
/// of at most 10 s) or a 5 s pass: `H + 100 s` after `H` leaves room. (Over 40,000 generated cases the last
/// recorded change came 636 s after `H`: a late retried write.)
const CONVERGE: u32 = H + 100;

#[derive(Clone, Debug)]
struct Pool {
    count: u32,
    cpus: u32,
    memory_gi: u32,
}

#[derive(Clone, Debug)]
struct Deployment {
    replicas: u32,
    cpu_millis: u32,
    memory_mi: u32,
    readiness_s: u32,
}

#[derive(Clone, Debug)]
enum Target {
    Node(usize),
    Zone(usize),
    Pool(usize),
    /// `count` of a pool's nodes, by selector.
    Some(usize, u32),
}

#[derive(Clone, Debug)]
enum Verb {
    Node(&'static str, Target),
    ContainerCrash { workload: usize, count: Option<u32> },
    Shared(&'static str),
}

#[derive(Clone, Debug)]
struct Fault {
    verb: Verb,
    /// Fractions of the room left in [10 s, H] (so that every fault heals by H).
    at: f64,
    duration_s: u32,
    /// `every` (seconds, longer than the duration) and `repeat`.
    every: Option<(u32, u32)>,
}

#[derive(Clone, Debug)]
struct Spec {
    seed: u64,
    pools: Vec<Pool>,
    deployments: Vec<Deployment>,
    faults: Vec<Fault>,
}

impl Spec {
    fn node_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        for (i, p) in self.pools.iter().enumerate() {
            for n in 0..p.count {
                names.push(format!("p{i}-{n}"));
            }
        }
        names
    }

    /// Replicas after trimming so that the Deployments request at most half the cluster's CPU and memory. Each
    /// pod requests at most a quarter of the smallest node, so they always fit once every node is back: a pod
    /// that fits nowhere would mean every node more than 3/4 full, more than the half requested in all.
    fn replicas(&self) -> Vec<u32> {
        let cpu: u64 = self.pools.iter().map(|p| u64::from(p.count * p.cpus * 1000)).sum();
        let mem: u64 = self.pools.iter().map(|p| u64::from(p.count * p.memory_gi * 1024)).sum();
        let mut replicas: Vec<u32> = self.deployments.iter().map(|d| d.replicas).collect();
        loop {
            let (c, m) =
                self.deployments.iter().zip(&replicas).fold((0u64, 0u64), |(c, m), (d, r)| {
                    (c + u64::from(d.cpu_millis * r), m + u64::from(d.memory_mi * r))
                });
            if 2 * c <= cpu && 2 * m <= mem {
                return replicas;
            }
            let biggest = (0..replicas.len()).max_by_key(|i| replicas[*i]).expect("a deployment");
            replicas[biggest] -= 1;
        }
    }

    fn toml(&self) -> String {
        let mut t = String::new();
        let end = H + CONVERGE;
        let _ = writeln!(t, "[scenario]\nname = \"fault-prop\"\nseed = {}\nduration = \"{end}s\"\n", self.seed);
        for (i, p) in self.pools.iter().enumerate() {
            let _ = writeln!(
                t,
                "[[cluster.node_pools]]\nname = \"p{i}\"\ncount = {}\ncpu = \"{}\"\nmemory = \"{}Gi\"\nzone = \"z{i}\"\n",
                p.count, p.cpus, p.memory_gi
            );
        }
        for (i, (d, replicas)) in self.deployments.iter().zip(self.replicas()).enumerate() {
            let _ = writeln!(t, "[[workloads.deployments]]\nname = \"d{i}\"\nreplicas = {replicas}");
            let _ = writeln!(
                t,
                "template = {{ requests = {{ cpu = \"{}m\", memory = \"{}Mi\" }}, readiness_delay = \"{}s\" }}\n",
                d.cpu_millis, d.memory_mi, d.readiness_s
            );
        }
        let names = self.node_names();
        let pools = self.pools.len();
        for f in &self.faults {
            let (every, repeat) = f.every.unwrap_or((0, 1));
            // The last occurrence heals by H.
            let span = (repeat - 1) * every + f.duration_s;
            let room = H - 10 - span;
            let at = 10 + (f64::from(room) * f.at) as u32;
            let verb = match &f.verb {
                Verb::Node(v, _) => *v,
                Verb::ContainerCrash { .. } => "container-crash",
                Verb::Shared(v) => *v,
            };
            let _ = writeln!(t, "[[faults]]\nverb = \"{verb}\"\nat = \"{at}s\"");
            match &f.verb {
                Verb::Node(_, target) => {
                    let _ = match target {
                        Target::Node(n) => writeln!(t, "nodes = [\"{}\"]", names[n % names.len()]),
                        Target::Zone(z) => writeln!(t, "zone = \"z{}\"", z % pools),
                        Target::Pool(p) => writeln!(t, "pool = \"p{}\"", p % pools),
                        Target::Some(p, count) => {
                            writeln!(t, "selector = \"kubesim.io/pool=p{}\"\ncount = {count}", p % pools)
                        }
                    };
                    let _ = writeln!(t, "duration = \"{}s\"", f.duration_s);
                }
                Verb::ContainerCrash { workload, count } => {
                    let _ = writeln!(t, "workload = \"d{}\"", workload % self.deployments.len());
                    if let Some(c) = count {
                        let _ = writeln!(t, "count = {c}");
                    }
                }
                Verb::Shared(_) => {
                    let _ = writeln!(t, "duration = \"{}s\"", f.duration_s);
                }
            }
            if let Some((every, repeat)) = f.every {
                let _ = writeln!(t, "every = \"{every}s\"\nrepeat = {repeat}");
            }
            t.push('\n');
        }
        t
    }
}

fn pool() -> impl Strategy<Value = Pool> {
    (2u32..=4, 4u32..=8, 8u32..=16).prop_map(|(count, cpus, memory_gi)| Pool { count, cpus, memory_gi })
}

fn deployment() -> impl Strategy<Value = Deployment> {
    // At most 1 CPU and 2 Gi: a quarter of the smallest node.
    (1u32..=8, 1u32..=10, 1u32..=16, 0u32..=10).prop_map(|(replicas, cpu, mem, readiness_s)| Deployment {
        replicas,
        cpu_millis: cpu * 100,
        memory_mi: mem * 128,
        readiness_s,
    })
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        (0usize..16).prop_map(Target::Node),
        (0usize..2).prop_map(Target::Zone),
        (0usize..2).prop_map(Target::Pool),
        (0usize..2, 1u32..=3).prop_map(|(p, c)| Target::Some(p, c)),
    ]
}

fn verb() -> impl Strategy<Value = Verb> {
    prop_oneof![
        3 => (prop::sample::select(vec!["node-crash", "kubelet-stop", "network-partition", "drain", "cordon"]), target())
            .prop_map(|(v, t)| Verb::Node(v, t)),
        1 => (0usize..3, prop::option::of(1u32..=3)).prop_map(|(workload, count)| Verb::ContainerCrash { workload, count }),
        1 => prop::sample::select(vec!["registry-down", "apiserver-unavailable", "etcd-unavailable"]).prop_map(Verb::Shared),
    ]
}

fn fault() -> impl Strategy<Value = Fault> {
    // Node faults up to 500 s: long enough for NotReady (50 s grace) and taint-based evictions (300 s after the
    // NoExecute taint). Shared-service outages up to 200 s.
    (verb(), 0.0f64..1.0, 5u32..=500, prop::option::weighted(0.25, (1u32..=60, 2u32..=3)))
        .prop_map(|(verb, at, duration_s, every)| {
            let duration_s = if matches!(verb, Verb::Shared(_)) { duration_s.min(200) } else { duration_s };
            (verb, at, duration_s, every)
        })
        .prop_map(|(verb, at, duration_s, every)| Fault {
            verb,
            at,
            duration_s,
            // `every` longer than the duration: an occurrence heals before the next one.
            every: every
                .map(|(extra, repeat)| (duration_s + extra, repeat))
                .filter(|(e, r)| (r - 1) * e + duration_s <= H - 10),
        })
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        any::<u64>(),
        prop::collection::vec(pool(), 1..=2),
        prop::collection::vec(deployment(), 1..=3),
        prop::collection::vec(fault(), 1..=5),
    )
        .prop_map(|(seed, pools, deployments, faults)| Spec { seed, pools, deployments, faults })
}

/// Runs the scenario, checking the invariants after every event; then checks convergence.
fn check(toml: &str) -> Result<(), String> {
    let scenario = Scenario::from_str(toml, "prop.toml").map_err(|e| format!("{e}"))?;
    let want: BTreeMap<String, i32> =
        scenario.config.workloads.deployments.iter().map(|d| (d.name.to_string(), d.replicas)).collect();
    let mut sim = Sim::new(Arc::new(scenario.config), EventSink::Discard)?;
    let mut last = SimTime::ZERO;
    let mut steps = 0u64;
    while sim.step() {
        steps += 1;
        if sim.now() < last {
            return Err(format!("time went back from {last} to {}", sim.now()));
        }
        last = sim.now();
        invariants::check(&sim).map_err(|e| format!("after event {steps} at {}: {e}", sim.now()))?;
    }
    if !sim.is_finished() {
        return Err("the run did not finish".into());
    }
    let at = sim.now();
    // Conservation, stated on its own: every pod created is in the store or was deleted.
    let m = &sim.rec.metrics;
    let stored = sim.api.etcd.pods.len() as u64;
    if m.pods_created != stored + m.pods_deleted {
        return Err(format!("created {} != stored {stored} + deleted {}", m.pods_created, m.pods_deleted));
    }
    // Every Deployment has its replicas Running and Ready, and says so in its status.
    let mut ready: BTreeMap<String, i32> = want.keys().map(|k| (k.clone(), 0)).collect();
    for (_, r) in sim.api.etcd.pods.iter() {
        let s = &r.state;
        if s.deletion.is_some() {
            return Err(format!("at {at}: pod {} is stuck Terminating", r.spec.name));
        }
        if s.phase != PodPhase::Running {
            return Err(format!("at {at}: pod {} is {}", r.spec.name, s.phase.as_str()));
        }
        if s.ready {
            *ready.entry(r.spec.workload.to_string()).or_default() += 1;
        }
    }
    if ready != want {
        return Err(format!("at {at}: ready pods per Deployment {ready:?}, want {want:?}"));
    }
    for (_, d) in sim.api.etcd.deployments.iter() {
        let st = d.obj.status;
        if st.ready_replicas != d.obj.replicas || st.replicas != d.obj.replicas {
            return Err(format!("at {at}: Deployment {} status {st:?}, want {} ready", d.obj.name, d.obj.replicas));
        }
    }
    // Every node is back: Ready, schedulable, without taints.
    for n in sim.api.etcd.nodes.iter().flatten() {
        let n = &n.obj;
        if n.ready != ConditionStatus::True || n.unschedulable || !n.taints.is_empty() {
            return Err(format!(
                "at {at}: node {} ready={} unschedulable={} taints={:?}",
                n.name,
                n.ready.as_str(),
                n.unschedulable,
                n.taints
            ));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, max_shrink_iters: 300, ..ProptestConfig::default() })]

    #[test]
    fn healed_faults_leave_a_converged_cluster(spec in spec()) {
        let toml = spec.toml();
        if let Err(e) = check(&toml) {
            return Err(TestCaseError::fail(format!("{e}\n{toml}")));
        }
    }
}
