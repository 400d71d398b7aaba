//! Scheduling throughput of the algorithm alone (the [`Harness`]: no control plane, no queue; a feasible pod is
//! assumed on its node at once), in pods/s, at 500, 5,000 and 50,000 nodes.
//!
//! Profiles:
//! - `default`: upstream's default profile ([`ProfileConfig::default`], adaptive `percentageOfNodesToScore`:
//!   46% of 500 nodes, 10% of 5,000, 5% of 50,000), with whatever plugins `DEFAULT_PROFILE` holds;
//! - `resources_only`: PrioritySort, the trivial filters NodeUnschedulable, NodeName, TaintToleration and
//!   NodeAffinity (weight 0: filters only), NodeResourcesFit (filter, and the only score, LeastAllocated,
//!   weight 1) and DefaultBinder; no preemption; the same adaptive `percentageOfNodesToScore`.
//!
//! Cluster: nodes of 16, 32 or 64 CPU with 4 GiB per CPU and 110 pod slots (in turn), labelled with
//! `kubernetes.io/hostname` and one of 6 `topology.kubernetes.io/zone`s (round robin).
//!
//! Workload: 10 pods per node (50,000 at 5,000 nodes), except 1 per node at 50,000 nodes (50,000 pods, to keep a
//! sample within seconds), from 20 workloads taken in turn, each pod owned by its workload's ReplicaSet and
//! labelled `app=w<i>`. Requests by workload (i mod 7): 100m/128Mi, 250m/512Mi, 500m/1Gi, 1/2Gi, 2/4Gi,
//! 4 CPU/8Gi, or none (best effort). Workloads 0 and 1 (10% of pods) carry a `DoNotSchedule` zone topology
//! spread constraint (maxSkew 1, selector = own app label); workload 2 (5%) a required pod anti-affinity on
//! `kubernetes.io/hostname` against its own app label. (Those constraints count once the plugins evaluating
//! them are in the profile; until then the pods are placed on resources alone.) The cluster never fills:
//! every pod is placed and preemption never runs (checked in an untimed warm-up stream).
//!
//! Timing: each iteration schedules the whole stream into the empty cluster and is timed alone; then the pods
//! are removed again, untimed, so the cluster is reused (building 50,000 nodes takes about a second). Cluster and
//! pod specs are built once per benchmark, outside the timing.
//!
//! Run with `cargo bench --bench scheduler`; `cargo test --release` runs each benchmark once on a short stream
//! (1,000 pods) as a smoke test.

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use kubesim::model::node::{HOSTNAME_LABEL, ZONE_LABEL};
use kubesim::model::{
    InclusionPolicy, LabelSelector, Labels, OwnerRef, PodAffinityTerm, PodId, PodSpec, PodTemplate, ReplicaSetId,
    TopologySpreadConstraint, WhenUnsatisfiable, s,
};
use kubesim::scheduler::cycle::Outcome;
use kubesim::scheduler::harness::{Harness, node, template};
use kubesim::scheduler::profile::ProfileConfig;
use kubesim::time::SimTime;
use slotmap::SlotMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SIZES: [usize; 3] = [500, 5_000, 50_000];
const ZONES: usize = 6;
const WORKLOADS: usize = 20;
const GI: i64 = 1 << 30;
const MI: i64 = 1 << 20;
const SEED: u64 = 20261126;
/// Pods per stream in test mode (`cargo test`): enough to exercise every workload.
const SMOKE_PODS: usize = 1_000;

/// Pods in the stream for a cluster of `nodes` nodes.
fn pods_for(nodes: usize) -> usize {
    if nodes >= 50_000 { nodes } else { 10 * nodes }
}

/// Criterion runs benchmarks only with `--bench` (and without `--test`); otherwise it is `cargo test`'s smoke run.
fn bench_mode() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test")
}

fn resources_only() -> ProfileConfig {
    let plugins = [
        ("PrioritySort", 0),
        ("NodeUnschedulable", 0),
        ("NodeName", 0),
        ("TaintToleration", 0),
        ("NodeAffinity", 0),
        ("NodeResourcesFit", 1),
        ("DefaultBinder", 0),
    ];
    ProfileConfig { plugins: plugins.iter().map(|(n, w)| (n.to_string(), *w)).collect(), ..ProfileConfig::default() }
}

fn app(i: usize) -> Labels {
    let mut l = Labels::new();
    l.insert(s("app"), s(format!("w{i}")));
    l
}

/// The 20 workloads' templates and ReplicaSet owners.
fn workloads() -> Vec<(Arc<PodTemplate>, OwnerRef)> {
    let mut replica_sets = SlotMap::<ReplicaSetId, ()>::with_key();
    let shapes: [(i64, i64); 7] =
        [(100, 128 * MI), (250, 512 * MI), (500, GI), (1000, 2 * GI), (2000, 4 * GI), (4000, 8 * GI), (0, 0)];
    (0..WORKLOADS)
        .map(|i| {
            let (cpu, mem) = shapes[i % shapes.len()];
            let t = template(cpu, mem, |t| {
                t.labels = app(i);
                if cpu == 0 {
                    t.containers[0].has_cpu_request = false;
                    t.containers[0].has_memory_request = false;
                }
                if i < 2 {
                    t.topology_spread.push(TopologySpreadConstraint {
                        max_skew: 1,
                        topology_key: s(ZONE_LABEL),
                        when_unsatisfiable: WhenUnsatisfiable::DoNotSchedule,
                        selector: LabelSelector::from_labels(app(i)),
                        min_domains: None,
                        node_affinity_policy: InclusionPolicy::Honor,
                        node_taints_policy: InclusionPolicy::Ignore,
                        match_label_keys: Vec::new(),
                    });
                }
                if i == 2 {
                    t.pod_anti_affinity.required.push(PodAffinityTerm {
                        selector: LabelSelector::from_labels(app(i)),
                        namespaces: Vec::new(),
                        topology_key: s(HOSTNAME_LABEL),
                    });
                }
            });
            (t, OwnerRef::ReplicaSet(replica_sets.insert(())))
        })
        .collect()
}

/// The pod stream: pod k belongs to workload k mod 20.
fn stream(pods: usize) -> Vec<Arc<PodSpec>> {
    let w = workloads();
    (0..pods)
        .map(|k| {
            let (template, owner) = &w[k % WORKLOADS];
            Arc::new(PodSpec {
                name: s(format!("w{}-{k}", k % WORKLOADS)),
                namespace: s("default"),
                uid: k as u64 + 1,
                owner: Some(*owner),
                workload: s(format!("w{}", k % WORKLOADS)),
                rng_key: k as u64,
                created: SimTime::ZERO,
                template: template.clone(),
            })
        })
        .collect()
}

fn cluster(profile: &ProfileConfig, nodes: usize) -> Harness {
    let mut h = Harness::new(std::slice::from_ref(profile), SEED).expect("profile builds");
    for i in 0..nodes {
        let cpus = [16, 32, 64][i % 3];
        let mut n = node(&format!("node-{i}"), cpus * 1000, cpus * 4 * GI);
        n.labels.insert(s(ZONE_LABEL), s(format!("zone-{}", i % ZONES)));
        h.add_node(n);
    }
    h
}

/// Schedules the whole stream; returns the pods placed (all of them, or the caller complains).
#[inline(never)]
fn schedule_all(h: &mut Harness, pods: &[Arc<PodSpec>], placed: &mut Vec<PodId>) -> usize {
    let mut failed = 0;
    for spec in pods {
        match h.schedule(spec.clone()) {
            (id, Outcome::Feasible(n)) => {
                black_box(n);
                placed.push(id);
            }
            (id, Outcome::Failed(_)) => {
                failed += 1;
                h.remove(id);
            }
        }
    }
    failed
}

fn clear(h: &mut Harness, placed: &mut Vec<PodId>) {
    for id in placed.drain(..) {
        h.remove(id);
    }
}

fn throughput(c: &mut Criterion) {
    let bench = bench_mode();
    for (label, profile) in [("default", ProfileConfig::default()), ("resources_only", resources_only())] {
        let mut group = c.benchmark_group(format!("schedule/{label}"));
        // An iteration is one whole stream (0.02-4 s): few samples, with the same number of iterations each.
        group.sampling_mode(SamplingMode::Flat).sample_size(10).warm_up_time(Duration::from_millis(500));
        for nodes in SIZES {
            let pods = if bench { pods_for(nodes) } else { SMOKE_PODS };
            group.measurement_time(Duration::from_secs(if nodes >= 50_000 { 40 } else { 10 }));
            group.throughput(Throughput::Elements(pods as u64));
            // Built on the first call, only if this benchmark runs (criterion calls the closure once for the
            // warm-up and once per sample); never timed.
            let mut state: Option<(Vec<Arc<PodSpec>>, Harness, Vec<PodId>)> = None;
            group.bench_function(BenchmarkId::from_parameter(nodes), |b| {
                let (specs, h, placed) = state.get_or_insert_with(|| {
                    let specs = stream(pods);
                    let mut h = cluster(&profile, nodes);
                    let mut placed = Vec::with_capacity(pods);
                    let failed = schedule_all(&mut h, &specs, &mut placed);
                    assert_eq!(failed, 0, "{label}/{nodes}: {failed} of {pods} pods did not fit");
                    clear(&mut h, &mut placed);
                    (specs, h, placed)
                });
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let start = Instant::now();
                        let failed = schedule_all(h, specs, placed);
                        total += start.elapsed();
                        assert_eq!(failed, 0);
                        clear(h, placed);
                    }
                    total
                });
            });
        }
        group.finish();
    }
}

criterion_group!(benches, throughput);
criterion_main!(benches);
