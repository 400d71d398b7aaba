//! Per-GPU free milli of one node, and the rules that pick which GPU(s) a pod takes.
//!
//! The scheduler decides a pod's GPUs when it reserves the node (the GpuShare plugin, or a policy with its own
//! rule) and records them in the pod's cache entry as a bitmask of GPU indices, so that removing the pod gives
//! back exactly what it took. A pod added without a decision (bound by another process, re-listed after a
//! restart) gets the default rule, [`NodeGpus::best_fit`].

use crate::model::gpu::{GPU_MILLI, GPU_MODEL_LABEL, GPU_RESOURCE, GpuDemand, MAX_GPUS_PER_NODE};
use crate::model::{Node, Str};

/// The cycle-state slot where Reserve plugins leave the GPUs the pod takes on the chosen node (bit i = GPU i).
/// The scheduler clears it before Reserve and records it in the pod's cache entry; the last Reserve plugin to
/// write wins (GpuShare writes the default rule, a policy with its own GPU choice runs later and overwrites).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GpuReservation {
    pub gpus: u64,
}

/// The GPUs of a node as the scheduler sees them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeGpus {
    /// Free milli of each GPU, by index (`0..=1000`).
    pub free_milli: Vec<i64>,
    /// The node's GPU model label (empty when unset).
    pub model: Str,
}

impl NodeGpus {
    /// A node's GPUs, all free.
    pub fn of(node: &Node) -> NodeGpus {
        let n = node.allocatable.scalar(GPU_RESOURCE).clamp(0, MAX_GPUS_PER_NODE as i64) as usize;
        let model = node.labels.get(GPU_MODEL_LABEL).cloned().unwrap_or_else(|| Str::from(""));
        NodeGpus { free_milli: vec![GPU_MILLI; n], model }
    }

    pub fn count(&self) -> usize {
        self.free_milli.len()
    }

    /// Σ free milli over the node's GPUs.
    pub fn free_total_milli(&self) -> i64 {
        self.free_milli.iter().sum()
    }

    /// Can `d` be placed here (ignoring the model)? A share needs one GPU with enough free milli; whole GPUs
    /// need `count` fully free GPUs.
    pub fn fits(&self, d: GpuDemand) -> bool {
        if d.is_none() {
            return true;
        }
        let n = self.free_milli.iter().filter(|&&f| f >= d.milli).count();
        n >= d.count as usize
    }

    /// The default rule: whole-GPU pods take the lowest-index fully free GPUs; a share takes the GPU with the
    /// least free milli that still holds it (tightest fit), ties to the lowest index. 0 when it does not fit.
    pub fn best_fit(&self, d: GpuDemand) -> u64 {
        if d.is_none() {
            return 0;
        }
        if !d.is_share() {
            return self.lowest_free(d);
        }
        let mut best: Option<(i64, usize)> = None;
        for (i, &f) in self.free_milli.iter().enumerate() {
            if f >= d.milli && best.is_none_or(|(bf, _)| f < bf) {
                best = Some((f, i));
            }
        }
        best.map_or(0, |(_, i)| 1u64 << i)
    }

    /// The lowest-index `d.count` GPUs with at least `d.milli` free; 0 when there are not enough.
    pub fn lowest_free(&self, d: GpuDemand) -> u64 {
        let mut mask = 0u64;
        let mut taken = 0u32;
        for (i, &f) in self.free_milli.iter().enumerate() {
            if taken == d.count {
                break;
            }
            if f >= d.milli {
                mask |= 1 << i;
                taken += 1;
            }
        }
        if taken == d.count { mask } else { 0 }
    }

    /// Does every GPU of `mask` exist and have at least `milli` free?
    pub fn fits_mask(&self, mask: u64, milli: i64) -> bool {
        let all = if self.count() >= 64 { u64::MAX } else { (1u64 << self.count()) - 1 };
        mask & !all == 0 && self.free_milli.iter().enumerate().all(|(i, &f)| mask & (1 << i) == 0 || f >= milli)
    }

    /// Takes (`sign` = -1) or gives back (`sign` = 1) `milli` on every GPU of `mask`.
    pub fn apply(&mut self, mask: u64, milli: i64, sign: i64) {
        for (i, f) in self.free_milli.iter_mut().enumerate() {
            if mask & (1 << i) != 0 {
                *f += sign * milli;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gpus(free: &[i64]) -> NodeGpus {
        NodeGpus { free_milli: free.to_vec(), model: Str::from("") }
    }

    #[test]
    fn best_fit_takes_the_tightest_gpu_then_the_lowest_index() {
        let g = gpus(&[1000, 300, 600, 300]);
        assert_eq!(g.best_fit(GpuDemand { count: 1, milli: 250 }), 1 << 1);
        assert_eq!(g.best_fit(GpuDemand { count: 1, milli: 500 }), 1 << 2);
        assert_eq!(g.best_fit(GpuDemand { count: 1, milli: 700 }), 1 << 0);
        assert_eq!(g.best_fit(GpuDemand { count: 1, milli: 1000 }), 1 << 0);
        assert_eq!(g.best_fit(GpuDemand { count: 2, milli: 1000 }), 0);
        let g = gpus(&[300, 1000, 1000, 1000]);
        assert_eq!(g.best_fit(GpuDemand { count: 2, milli: 1000 }), 0b0110);
        assert!(g.fits(GpuDemand { count: 3, milli: 1000 }));
        assert!(!g.fits(GpuDemand { count: 4, milli: 1000 }));
        assert!(!g.fits(GpuDemand { count: 1, milli: 1001 }));
    }

    #[test]
    fn apply_takes_and_gives_back() {
        let mut g = gpus(&[1000, 1000]);
        g.apply(0b10, 400, -1);
        assert_eq!(g.free_milli, vec![1000, 600]);
        g.apply(0b10, 400, 1);
        assert_eq!(g.free_total_milli(), 2000);
    }
}
