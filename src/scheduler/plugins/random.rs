//! **Random** (score; research policy, not upstream): every feasible node is equally likely.
//!
//! Definition: the score is the constant 0 for every node, so the plugin adds nothing to any node's total
//! and the choice falls to `selectHost`, which picks uniformly among the nodes with the highest total using the
//! scheduler's seeded tie-break stream (reservoir sampling: the k-th tied node replaces the pick with
//! probability 1/k). In the `random` preset Random is the only scoring plugin and `percentageOfNodesToScore`
//! is 100, so the filter loop collects *every* feasible node and the pick is uniform over all of them. Two
//! upstream short cuts still apply: a pod's nominated node (after preemption) is taken if it fits, and a single
//! feasible node is taken without scoring. With a lower `percentageOfNodesToScore` the pick is uniform only
//! over the feasible nodes the filter loop found, which depend on its round-robin start index.
//!
//! GPUs: as the FGD paper's Random baseline, a sharing pod takes a GPU chosen uniformly among the node's GPUs
//! with room for it (Reserve, overwriting GpuShare's tightest fit); whole-GPU pods keep the lowest-index free
//! GPUs. The choice is a hash of the pod's random key and the node, so it needs no stream of its own and a pod
//! placed on the same node picks the same GPU under any seed unless its key depends on the seed (the openb
//! experiment's pods do).
//!
//! When to pick it: as the baseline every placement policy should beat (utilization, fragmentation,
//! spread), and to see how much of a metric is due to the policy at all. It needs no randomness of its own:
//! the tie-break stream is the scheduler's only source of randomness, so runs stay reproducible per seed.

use crate::model::NodeId;
use crate::scheduler::cache::gpus::GpuReservation;
use crate::scheduler::cache::{Cache, NodeInfo};
use crate::scheduler::framework::{CycleState, Plugin, PodCtx, Reason, Reserve, Score};

#[derive(Default)]
pub struct Random;

impl Plugin for Random {
    fn name(&self) -> &'static str {
        "Random"
    }
    fn as_score(&self) -> Option<&dyn Score> {
        Some(self)
    }
    fn as_reserve(&self) -> Option<&dyn Reserve> {
        Some(self)
    }
}

/// SplitMix64's finaliser: a well-mixed 64-bit hash of `x`.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

impl Reserve for Random {
    fn reserve(&self, state: &mut CycleState, pod: &PodCtx, node: NodeId, cache: &Cache) -> Result<(), Reason> {
        let d = pod.spec.template.gpu_demand();
        if !d.is_share() {
            return Ok(());
        }
        let Some(info) = cache.node(node) else { return Ok(()) };
        let fits = info.gpus.free_milli.iter().filter(|&&f| f >= d.milli).count() as u64;
        if fits == 0 {
            return Ok(());
        }
        let pick = mix(pod.spec.rng_key ^ mix(u64::from(node.0))) % fits;
        if let Some((i, _)) = info.gpus.free_milli.iter().enumerate().filter(|(_, f)| **f >= d.milli).nth(pick as usize)
        {
            state.slot::<GpuReservation>().gpus = 1 << i;
        }
        Ok(())
    }
}

impl Score for Random {
    fn score(&self, _: &CycleState, _: &PodCtx, _: &NodeInfo) -> i64 {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::plugins::testutil::*;

    #[test]
    fn every_node_scores_the_same() {
        let empty = node_info("a", 4000, 8 * GI);
        let mut full = node_info("b", 4000, 8 * GI);
        place(&mut full, pod_spec(3500, 7 * GI, |_| {}));
        assert_eq!(scores(&Random, &pod_spec(100, GI, |_| {}), &[&empty, &full]), vec![0, 0]);
    }

    #[test]
    fn a_share_takes_a_random_gpu_with_room() {
        let mut cache = Cache::default();
        cache.upsert_node(NodeId(0), gpu_node("g", 4, "T4").node.clone());
        place_in(&mut cache, NodeId(0), gpu_share_pod(100, 800));
        let mut seen = [0u32; 4];
        for key in 0..400u64 {
            let mut pod = gpu_share_pod(100, 500);
            pod.rng_key = key;
            let mut state = CycleState::default();
            assert!(
                Random
                    .reserve(&mut state, &PodCtx::new(crate::model::PodId::default(), &pod), NodeId(0), &cache)
                    .is_ok()
            );
            let g = state.get::<GpuReservation>().map_or(0, |r| r.gpus);
            assert_eq!(g.count_ones(), 1);
            seen[g.trailing_zeros() as usize] += 1;
        }
        // GPU 0 has 200 free: never; the three free ones about equally.
        assert_eq!(seen[0], 0);
        assert!(seen[1..].iter().all(|&c| (100..=170).contains(&c)), "{seen:?}");
    }
}
