//! **FGD**, fragmentation gradient descent (score, reserve; the policy of Weng et al., "Beware of
//! Fragmentation: Scheduling GPU-Sharing Workloads with Fragmentation Gradient Descent", USENIX ATC 2023, after
//! the authors' `fgd_score.go` and `frag.go`): place each pod where the cluster's GPU fragmentation grows least.
//!
//! Fragmentation (see [`gpu_frag`](crate::scheduler::cache::gpu_frag)): F(n) is the free GPU milli of node n
//! that the *target workload* (the trace's popular task types, weighted by frequency) is expected not to be able
//! to use. For a pod and a node, n' is the node after placing the pod there, and the score is
//! ⌊100 · σ((F(n) − F(n')) / 1000)⌋ with σ the logistic function: 50 means no change, more means the
//! placement *reduces* fragmentation (it fills GPU milli that was fragmented anyway), less means it creates
//! fragmentation. For a sharing pod every GPU with room is tried and the node scores its best GPU; the Reserve
//! step then takes that GPU (the first, by index, reaching the node's score), overwriting GpuShare's default
//! choice. Whole-GPU pods take the lowest-index fully free GPUs; CPU-only pods only change the node's CPU left
//! (which can move a type from "fits" to "CPU short") and so score at most 50. No normalisation; memory is not
//! considered, as in the paper (NodeResourcesFit's filter still checks it).
//!
//! The target workload is a plugin argument (`PluginArgs::fgd`): a scenario sets it from its `[openb]` pod list
//! (the paper's definition) or from its own workload's pod templates. With none, the pod's own type stands in.
//!
//! Speed: a node's score depends only on its GPU model, CPU left and per-GPU free milli, and on the pod's task
//! type, so scores are memoised per node and type and reused until the node changes; GPUs with the same free
//! milli give the same n' and are evaluated once.

use crate::model::NodeId;
use crate::model::gpu::{GpuDemand, model_allowed};
use crate::scheduler::cache::gpu_frag::{FragModel, TargetWorkload, TaskType};
use crate::scheduler::cache::gpus::GpuReservation;
use crate::scheduler::cache::{Cache, NodeInfo};
use crate::scheduler::framework::{CycleState, NodeList, Plugin, PodCtx, Reason, Reserve, Score};
use std::cell::RefCell;
use std::collections::BTreeMap;

pub struct Fgd {
    model: FragModel,
    memo: RefCell<Memo>,
}

/// Memoised scores: per node (by id), the state they were computed for and one score per interned task type.
#[derive(Default)]
struct Memo {
    types: BTreeMap<TaskType, u32>,
    nodes: Vec<NodeMemo>,
}

#[derive(Default)]
struct NodeMemo {
    /// CPU left, then the per-GPU free milli; the model is compared separately.
    key: Vec<i64>,
    model: crate::model::Str,
    /// Score per type id; -1 = not computed for this state.
    scores: Vec<i16>,
}

impl Fgd {
    pub fn new(target: &TargetWorkload) -> Fgd {
        Fgd { model: FragModel::new(target), memo: RefCell::new(Memo::default()) }
    }
}

fn task_type(pod: &PodCtx) -> TaskType {
    TaskType::of(&pod.spec.template)
}

fn cpu_left(node: &NodeInfo) -> i64 {
    node.allocatable.cpu_millis - node.requested.cpu_millis
}

/// ⌊100 · σ(Δ/1000)⌋ for a fragmentation change Δ = F(n) − F(n') in milli.
fn sigmoid_score(delta_milli: f64) -> i64 {
    (100.0 / (1.0 + (-delta_milli / 1000.0).exp())).floor() as i64
}

/// The FGD score of placing a pod of `cpu_millis` and GPU demand `d` on `node`, and the GPUs it would take.
/// `None` when the GPUs do not fit (the filter removes such nodes).
pub fn choose(model: &FragModel, node: &NodeInfo, cpu_millis: i64, d: GpuDemand) -> Option<(i64, u64)> {
    let free = &node.gpus.free_milli;
    let gpu_model = &*node.gpus.model;
    let left = cpu_left(node);
    let before = model.node_frag_milli(left, free, gpu_model);
    let mut after = free.clone();
    if d.is_share() {
        let mut best: Option<(i64, u64)> = None;
        for (i, &f) in free.iter().enumerate() {
            // A GPU with the same free milli as an earlier one gives the same n'.
            if f < d.milli || free[..i].contains(&f) {
                continue;
            }
            after[i] = f - d.milli;
            let s = sigmoid_score(before - model.node_frag_milli(left - cpu_millis, &after, gpu_model));
            after[i] = f;
            if best.is_none_or(|(b, _)| s > b) {
                best = Some((s, 1u64 << i));
            }
        }
        return best;
    }
    let mask = node.gpus.best_fit(d);
    if !d.is_none() && mask == 0 {
        return None;
    }
    for (i, f) in after.iter_mut().enumerate() {
        if mask & (1 << i) != 0 {
            *f -= d.milli;
        }
    }
    Some((sigmoid_score(before - model.node_frag_milli(left - cpu_millis, &after, gpu_model)), mask))
}

impl Fgd {
    /// The model to score `pod` with: the target workload, or the pod's own type when there is none.
    fn with_model<R>(&self, pod: &PodCtx, f: impl FnOnce(&FragModel) -> R) -> R {
        if self.model.is_empty() {
            let own = TargetWorkload { types: vec![(task_type(pod), 1.0)] };
            f(&FragModel::new(&own))
        } else {
            f(&self.model)
        }
    }
}

impl Plugin for Fgd {
    fn name(&self) -> &'static str {
        "FGD"
    }
    fn as_score(&self) -> Option<&dyn Score> {
        Some(self)
    }
    fn as_reserve(&self) -> Option<&dyn Reserve> {
        Some(self)
    }
}

impl Score for Fgd {
    fn score(&self, _: &CycleState, pod: &PodCtx, node: &NodeInfo) -> i64 {
        let t = &pod.spec.template;
        self.with_model(pod, |m| choose(m, node, t.requests.cpu_millis, t.gpu_demand()).map_or(0, |(s, _)| s))
    }

    fn score_nodes(&self, _: &CycleState, pod: &PodCtx, nodes: NodeList, out: &mut Vec<i64>) {
        let t = &pod.spec.template;
        let (cpu, d) = (t.requests.cpu_millis, t.gpu_demand());
        if self.model.is_empty() {
            self.with_model(pod, |m| out.extend(nodes.iter().map(|n| choose(m, n, cpu, d).map_or(0, |(s, _)| s))));
            return;
        }
        let mut memo = self.memo.borrow_mut();
        let next = memo.types.len() as u32;
        let ty = *memo.types.entry(task_type(pod)).or_insert(next) as usize;
        for node in nodes.iter() {
            let idx = node.id.0 as usize;
            if memo.nodes.len() <= idx {
                memo.nodes.resize_with(idx + 1, NodeMemo::default);
            }
            let m = &mut memo.nodes[idx];
            let left = cpu_left(node);
            let same =
                m.key.first() == Some(&left) && m.key[1..] == node.gpus.free_milli[..] && m.model == node.gpus.model;
            if !same {
                m.key.clear();
                m.key.push(left);
                m.key.extend_from_slice(&node.gpus.free_milli);
                m.model = node.gpus.model.clone();
                m.scores.clear();
            }
            if m.scores.len() <= ty {
                m.scores.resize(ty + 1, -1);
            }
            if m.scores[ty] < 0 {
                m.scores[ty] = choose(&self.model, node, cpu, d).map_or(0, |(s, _)| s) as i16;
            }
            out.push(i64::from(m.scores[ty]));
        }
    }
}

impl Reserve for Fgd {
    fn reserve(&self, state: &mut CycleState, pod: &PodCtx, node: NodeId, cache: &Cache) -> Result<(), Reason> {
        let t = &pod.spec.template;
        let d = t.gpu_demand();
        if d.is_none() || !model_allowed(&t.gpu_spec, cache.node(node).map_or("", |n| &*n.gpus.model)) {
            return Ok(());
        }
        let Some(info) = cache.node(node) else { return Ok(()) };
        if let Some((_, mask)) = self.with_model(pod, |m| choose(m, info, t.requests.cpu_millis, d)) {
            state.slot::<GpuReservation>().gpus = mask;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PodId;
    use crate::scheduler::plugins::testutil::*;

    fn ty(cpu: i64, count: u32, milli: i64) -> TaskType {
        TaskType { cpu_millis: cpu, gpu: GpuDemand { count, milli }, gpu_spec: Vec::new() }
    }

    /// Target: half shares of 500, half whole GPUs.
    fn fgd() -> Fgd {
        Fgd::new(&TargetWorkload { types: vec![(ty(1000, 1, 500), 0.5), (ty(1000, 1, 1000), 0.5)] })
    }

    #[test]
    fn a_share_goes_where_it_fills_fragmented_milli() {
        // Node a: GPUs [1000, 500 free]; node b: GPUs [1000, 1000].
        let mut a = gpu_node("a", 2, "T4");
        place(&mut a, gpu_share_pod(0, 500));
        let b = gpu_node("b", 2, "T4");
        assert_eq!(a.gpus.free_milli, vec![500, 1000]);
        // A 500 share on a's half-used GPU: before F(a) = 0.5*0 + 0.5*500 = 250 (the 500 is fragmented for whole
        // GPUs); after the GPU is full: F = 0.5*0 + 0.5*0 = 0 -> delta +250 -> floor(100*sigma(0.25)) = 56.
        // On b: before 0; after [500, 1000]: F = 250 -> delta -250 -> 43.
        let pod = gpu_share_pod(1000, 500);
        assert_eq!(scores(&fgd(), &pod, &[&a, &b]), vec![56, 43]);
        // A 300 share on a: GPU 0 (500 -> 200: F = 1200 - 0.5*1000 - 0.5*1000 = 200, delta +50 -> 51) beats
        // GPU 1 (1000 -> 700: the whole-GPU type no longer fits, F = 1200 - 0.5*1200 = 600, delta -350 -> 41).
        let small = gpu_share_pod(1000, 300);
        assert_eq!(scores(&fgd(), &small, &[&a]), vec![51]);
        let cache = cache_of(&[a]);
        let mut state = CycleState::default();
        let ctx = PodCtx::new(PodId::default(), &small);
        assert!(fgd().reserve(&mut state, &ctx, NodeId(0), &cache).is_ok());
        assert_eq!(state.get::<GpuReservation>().map(|r| r.gpus), Some(1));
    }

    #[test]
    fn memoised_scores_follow_node_changes() {
        let f = fgd();
        let mut cache = cache_of(&[gpu_node("a", 2, "T4"), gpu_node("b", 2, "T4")]);
        let pod = gpu_share_pod(1000, 500);
        assert_eq!(scores_in(&f, &pod, &cache), Some(vec![43, 43]));
        place_in(&mut cache, NodeId(0), gpu_share_pod(0, 500));
        assert_eq!(scores_in(&f, &pod, &cache), Some(vec![56, 43]));
        // A CPU-only pod cannot lower F: at most 50.
        let cpu = pod_spec(1000, GI, |_| {});
        assert!(scores_in(&f, &cpu, &cache).is_some_and(|s| s.iter().all(|&x| x <= 50)));
    }
}
