//! The FGD paper's experiment on an openb node and pod list (Weng et al., ATC'23, §5 and the authors'
//! simulator; facts in the README's "GPU sharing: the openb experiment").
//!
//! Procedure, per seed:
//! 1. The pods are sorted by name and shuffled.
//! 2. The workload is tuned to a target GPU demand T = `tune_ratio` × the cluster's GPU milli (1.3 by default):
//!    while the requested GPU milli R is below T, a pod is drawn uniformly, with replacement, from the original
//!    list and a copy appended to the end; the first draw whose per-GPU milli would take R past T ends the
//!    tuning and is dropped (so multi-GPU draws may overshoot, as in the source). Above T, uniformly drawn pods
//!    are removed until R ≤ T.
//! 3. Nodes are sorted by name and each gets a random rank prefix (`0042-name`): the authors' scheduler breaks
//!    score ties by the lowest name, so the ranks make ties random per seed but fixed within a run.
//! 4. Pods are scheduled one at a time, in list order, with no departures. A pod that fits nowhere is dropped
//!    and never retried (all pods have the same priority, so preemption finds no victims).
//! 5. After every pod a row records the arrived GPU demand (every submitted pod's GPU milli, failed ones
//!    included), the allocated GPU milli and the cluster's GPU fragmentation Σ_n F(n) against the target
//!    workload (the popular task types of the *original* list, see [`TargetWorkload`]).
//!
//! Scheduling goes through the real [`Algorithm`](crate::scheduler::cycle::Algorithm) by way of the
//! [`Harness`]: the same plugins and decisions as in a full simulation, without the control plane (which the
//! paper's experiment does not model either). The workload and the node ranks come from their own seeded
//! streams, so every policy sees the same pods in the same order for a seed (common random numbers).

use super::{OpenbNode, OpenbPod};
use crate::model::gpu::{GPU_MODEL_LABEL, GPU_RESOURCE};
use crate::model::{Node, PodSpec, PodTemplate, Str};
use crate::rng::{SimRng, Stream};
use crate::scheduler::cache::gpu_frag::{FragModel, TargetWorkload};
use crate::scheduler::cycle::Outcome;
use crate::scheduler::harness::Harness;
use crate::scheduler::profile::{Profile, ProfileConfig, TieBreak};
use crate::time::SimTime;
use std::sync::Arc;

/// Pods a node may hold in the authors' node files.
pub const NODE_MAX_PODS: i64 = 1001;

/// An experiment: the lists, the policy and the tuning.
#[derive(Clone, Debug)]
pub struct Experiment {
    pub nodes: Vec<OpenbNode>,
    pub pods: Vec<OpenbPod>,
    /// Target GPU demand as a multiple of the cluster's GPU capacity.
    pub tune_ratio: f64,
    /// The scheduling profile (a preset such as `fgd`). Its tie-break is set to the lowest name, as in the
    /// authors' scheduler, unless it scores with `Random` (whose node choice is the uniform tie-break itself).
    pub profile: ProfileConfig,
}

/// The state after one pod.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Row {
    /// GPU milli requested by all pods submitted so far (failed ones included).
    pub arrived_gpu_milli: i64,
    /// GPU milli allocated.
    pub used_gpu_milli: i64,
    /// Σ_n F(n): free GPU milli the target workload cannot use.
    pub frag_milli: f64,
    /// Whether this pod was placed.
    pub placed: bool,
}

/// What a run produced.
#[derive(Clone, Debug)]
pub struct RunResult {
    pub rows: Vec<Row>,
    /// GPUs in the cluster.
    pub total_gpus: i64,
    /// The pods in submission order, with the node each went to (by list index; `None`: failed).
    pub placements: Vec<(Str, Option<u32>)>,
    /// Node names with their rank prefix, by list index.
    pub node_names: Vec<Str>,
    /// Pods of the original list.
    pub pods_original: usize,
    /// The submitted pods, as indices into the experiment's pod list, in order.
    pub order: Vec<usize>,
    /// Task types in the target workload.
    pub target_types: usize,
}

fn node_of(n: &OpenbNode, name: Str) -> Node {
    let mut node = crate::scheduler::harness::node(&name, n.cpu_millis, n.memory_mib << 20);
    node.allocatable_pods = NODE_MAX_PODS;
    if n.gpus > 0 {
        node.allocatable.set_scalar(Str::from(GPU_RESOURCE), i64::from(n.gpus));
        node.labels.insert(Str::from(GPU_MODEL_LABEL), n.model.clone());
    }
    node
}

fn template_of(p: &OpenbPod, scheduler_name: &Str) -> Arc<PodTemplate> {
    crate::scheduler::harness::template(p.cpu_millis, p.memory_mib << 20, |t| {
        t.scheduler_name = scheduler_name.clone();
        if p.gpu.is_share() {
            t.gpu_milli = p.gpu.milli;
        } else if !p.gpu.is_none() {
            t.containers[0].requests.set_scalar(Str::from(GPU_RESOURCE), i64::from(p.gpu.count));
        }
        t.gpu_spec = p.gpu_spec.clone();
    })
}

/// Fisher-Yates with the seeded stream.
fn shuffle<T>(v: &mut [T], rng: &mut SimRng) {
    for i in (1..v.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        v.swap(i, j);
    }
}

/// Draws beyond this many pods mean the tuning cannot reach its target (e.g. no pod asks for a GPU).
const MAX_TUNED_PODS: usize = 10_000_000;

/// Steps 1 and 2: the submission order, as indices into `pods` (sorted by name first).
pub fn workload(pods: &[OpenbPod], total_gpu_milli: i64, tune_ratio: f64, seed: u64) -> Result<Vec<usize>, String> {
    let mut by_name: Vec<usize> = (0..pods.len()).collect();
    by_name.sort_by(|&a, &b| pods[a].name.cmp(&pods[b].name));
    let mut rng = SimRng::new(seed, Stream::OpenbWorkload);
    let mut order = by_name.clone();
    shuffle(&mut order, &mut rng);
    let target = (tune_ratio * total_gpu_milli as f64).round() as i64;
    let mut requested: i64 = pods.iter().map(|p| p.gpu.total_milli()).sum();
    if requested < target {
        if pods.iter().all(|p| p.gpu.is_none()) {
            return Err("no pod asks for a GPU, so no number of pods reaches the target GPU demand".into());
        }
        loop {
            let i = by_name[rng.below(by_name.len() as u64) as usize];
            if requested + pods[i].gpu.milli > target {
                break;
            }
            order.push(i);
            requested += pods[i].gpu.total_milli();
            if order.len() > MAX_TUNED_PODS {
                return Err(format!("tuning needs more than {MAX_TUNED_PODS} pods to reach the target"));
            }
        }
    } else {
        while requested > target && !order.is_empty() {
            let k = rng.below(order.len() as u64) as usize;
            requested -= pods[order.remove(k)].gpu.total_milli();
        }
    }
    Ok(order)
}

/// Step 3: each node's rank (a random permutation of the name order), by list index.
pub fn node_ranks(nodes: &[OpenbNode], seed: u64) -> Vec<usize> {
    let mut by_name: Vec<usize> = (0..nodes.len()).collect();
    by_name.sort_by(|&a, &b| nodes[a].name.cmp(&nodes[b].name));
    let mut perm: Vec<usize> = (0..nodes.len()).collect();
    shuffle(&mut perm, &mut SimRng::new(seed, Stream::OpenbNodes));
    let mut rank = vec![0; nodes.len()];
    for (k, &i) in by_name.iter().enumerate() {
        rank[i] = perm[k];
    }
    rank
}

/// Runs the experiment with `seed`.
pub fn run(e: &Experiment, seed: u64) -> Result<RunResult, String> {
    let total_gpus: i64 = e.nodes.iter().map(|n| i64::from(n.gpus)).sum();
    if total_gpus == 0 {
        return Err("the node list has no GPU".into());
    }
    let target = Arc::new(TargetWorkload::from_types(e.pods.iter().map(OpenbPod::task_type)));
    let frag = FragModel::new(&target);
    let order = workload(&e.pods, total_gpus * 1000, e.tune_ratio, seed)?;

    // Nodes, added in rank order so that node ids follow names.
    let ranks = node_ranks(&e.nodes, seed);
    let width = e.nodes.len().saturating_sub(1).to_string().len().max(4);
    let node_names: Vec<Str> =
        e.nodes.iter().zip(&ranks).map(|(n, r)| Str::from(format!("{r:0width$}-{}", n.name).as_str())).collect();
    let mut by_rank: Vec<usize> = (0..e.nodes.len()).collect();
    by_rank.sort_by_key(|&i| ranks[i]);

    let mut cfg = e.profile.clone();
    cfg.args.fgd.target = target.clone();
    if !cfg.plugins.iter().any(|(n, w)| n == "Random" && *w > 0) {
        cfg.tie_break = TieBreak::LowestName;
    }
    // With one priority for every pod preemption can find no victim: leave it out (only its cost would show).
    cfg.plugins.retain(|(n, _)| n != "DefaultPreemption");
    let profile = Profile::build(&cfg)?;
    let scheduler_name = profile.scheduler_name.clone();
    let mut h = Harness::with_profiles(vec![profile], seed);
    h.set_terse_failures(true);
    let mut list_of = vec![0u32; e.nodes.len()];
    for &i in &by_rank {
        let id = h.add_node(node_of(&e.nodes[i], node_names[i].clone()));
        list_of[id.0 as usize] = i as u32;
    }

    // Per node F(n), kept current for the changed node only.
    let node_frag = |h: &Harness, id: crate::model::NodeId| {
        h.cache().node(id).map_or(0.0, |n| {
            frag.node_frag_milli(n.allocatable.cpu_millis - n.requested.cpu_millis, &n.gpus.free_milli, &n.gpus.model)
        })
    };
    let ids: Vec<crate::model::NodeId> = h.cache().order().to_vec();
    let mut frags: Vec<f64> = ids.iter().map(|&id| node_frag(&h, id)).collect();
    let mut frag_milli: f64 = frags.iter().sum();

    let templates: Vec<Arc<PodTemplate>> = e.pods.iter().map(|p| template_of(p, &scheduler_name)).collect();
    let mut keys = SimRng::keyed(seed, Stream::OpenbWorkload, 1);
    let (mut arrived, mut used) = (0i64, 0i64);
    let mut rows = Vec::with_capacity(order.len());
    let mut placements = Vec::with_capacity(order.len());
    for (k, &i) in order.iter().enumerate() {
        let p = &e.pods[i];
        let name = if k < e.pods.len() { p.name.clone() } else { Str::from(format!("{}-tuned-{k}", p.name).as_str()) };
        let spec = Arc::new(PodSpec {
            name: name.clone(),
            namespace: Str::from("default"),
            uid: k as u64 + 1,
            owner: None,
            workload: p.name.clone(),
            rng_key: keys.next_u64(),
            created: SimTime::ZERO,
            template: templates[i].clone(),
        });
        arrived += p.gpu.total_milli();
        let (id, out) = h.schedule(spec);
        let placed = match out {
            Outcome::Feasible(node) => {
                used += p.gpu.total_milli();
                let n = node.0 as usize;
                let f = node_frag(&h, node);
                frag_milli += f - frags[n];
                frags[n] = f;
                Some(list_of[n])
            }
            Outcome::Failed(_) => {
                h.remove(id);
                None
            }
        };
        rows.push(Row { arrived_gpu_milli: arrived, used_gpu_milli: used, frag_milli, placed: placed.is_some() });
        placements.push((name, placed));
    }
    Ok(RunResult {
        rows,
        total_gpus,
        placements,
        node_names,
        pods_original: e.pods.len(),
        target_types: target.types.len(),
        order,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[ignore]
    fn timing_all_policies() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/data/openb/");
        let read = |f: &str| std::fs::read_to_string(format!("{dir}{f}")).unwrap_or_default();
        let nodes = super::super::parse_nodes(&read("openb_node_list_gpu_node.csv"), "n").unwrap();
        let pods = super::super::parse_pods(&read("openb_pod_list_default.csv"), "p").unwrap();
        for preset in ["random", "dot-prod", "gpu-clustering", "gpu-packing", "gpu-best-fit", "fgd"] {
            let e = Experiment {
                nodes: nodes.clone(),
                pods: pods.clone(),
                tune_ratio: 1.3,
                profile: ProfileConfig::preset(preset).unwrap(),
            };
            let t = std::time::Instant::now();
            let r = run(&e, 42).unwrap();
            let c = super::super::curve::curve(&r.rows, r.total_gpus, 130);
            let at = |x: u32| c.iter().find(|p| p.arrived_pct == x).map(|p| (p.gpu_alloc_pct, p.gpu_frag_pct));
            eprintln!(
                "{preset}: {:?} pods {} failed {} alloc@100 {:?} @130 {:?}",
                t.elapsed(),
                r.order.len(),
                r.rows.iter().filter(|r| !r.placed).count(),
                at(100),
                at(130)
            );
        }
    }
}
