//! Scheduling throughput of the default profile on 5,000 nodes in 3 zones: 50,000 pods of 500 ReplicaSets
//! (100 replicas each, every pod gets system default spreading), submitted in a shuffled order and assumed on
//! their nodes at once (the harness, no control plane).
//!
//! `cargo run --release --example sched_throughput [mixed|plain|noowner]`
//! - `mixed` (default): every tenth workload has required hostname anti-affinity against itself, another tenth
//!   a zone `DoNotSchedule` spread constraint (maxSkew 1), another tenth preferred hostname anti-affinity;
//! - `plain`: none of those;
//! - `noowner`: `mixed` without owners (no default spreading).
//!
//! `WORKLOADS=n` changes the number of workloads (100 pods each).

use kubesim::model::{
    InclusionPolicy, LabelSelector, Labels, OwnerRef, PodAffinityTerm, PodSpec, ReplicaSetId, TopologySpreadConstraint,
    WeightedPodAffinityTerm, WhenUnsatisfiable, s,
};
use kubesim::scheduler::cycle::Outcome;
use kubesim::scheduler::harness::{Harness, node, template};
use kubesim::time::SimTime;
use std::sync::Arc;
use std::time::Instant;

const GI: i64 = 1 << 30;

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "mixed".to_string());
    let workloads: i64 = std::env::var("WORKLOADS").ok().and_then(|v| v.parse().ok()).unwrap_or(500);
    let mut h = Harness::default_profile(1);
    for i in 0..5000 {
        let mut n = node(&format!("n{i}"), 32_000, 128 * GI);
        n.labels.insert(s("topology.kubernetes.io/zone"), s(format!("z{}", i % 3)));
        h.add_node(n);
    }
    let mut owners = slotmap::SlotMap::<ReplicaSetId, ()>::with_key();
    let mut specs = Vec::new();
    let mut uid = 0;
    for w in 0..workloads {
        let app = format!("a{w}");
        let selector = LabelSelector::from_labels(Labels::from_pairs([(s("app"), s(&app))]));
        let hostname_term = PodAffinityTerm {
            selector: selector.clone(),
            namespaces: vec![],
            topology_key: s("kubernetes.io/hostname"),
        };
        let t = template(100 + (w % 7) * 50, GI / 4, |t| {
            t.labels = Labels::from_pairs([(s("app"), s(&app))]);
            if mode == "plain" {
                return;
            }
            match w % 10 {
                1 => t.pod_anti_affinity.required.push(hostname_term.clone()),
                2 => t.topology_spread.push(TopologySpreadConstraint {
                    max_skew: 1,
                    topology_key: s("topology.kubernetes.io/zone"),
                    when_unsatisfiable: WhenUnsatisfiable::DoNotSchedule,
                    selector: selector.clone(),
                    min_domains: None,
                    node_affinity_policy: InclusionPolicy::Honor,
                    node_taints_policy: InclusionPolicy::Ignore,
                    match_label_keys: vec![],
                }),
                3 => t.pod_anti_affinity.preferred.push(WeightedPodAffinityTerm { weight: 100, term: hostname_term }),
                _ => {}
            }
        });
        let owner = (mode != "noowner").then(|| OwnerRef::ReplicaSet(owners.insert(())));
        for _ in 0..100 {
            uid += 1;
            specs.push(Arc::new(PodSpec {
                name: s(format!("{app}-{uid}")),
                namespace: s("default"),
                uid,
                owner,
                workload: s(&app),
                rng_key: uid,
                created: SimTime::ZERO,
                template: t.clone(),
            }));
        }
    }
    // Interleave the workloads (xorshift Fisher-Yates, fixed seed).
    let mut x: u64 = 12345;
    for i in (1..specs.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        specs.swap(i, (x % (i as u64 + 1)) as usize);
    }
    let n = specs.len();
    let start = Instant::now();
    let failed = specs.into_iter().filter(|p| matches!(h.schedule(p.clone()).1, Outcome::Failed(_))).count();
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "{n} pods in {elapsed:.2} s: {:.2} us/pod, {:.0} pods/s, {failed} unschedulable",
        elapsed * 1e6 / n as f64,
        n as f64 / elapsed
    );
}
