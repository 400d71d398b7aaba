//! **GpuShare** (filter, reserve; not upstream, after Alibaba's open-gpu-share used by the FGD paper's
//! simulator): GPUs are accounted per GPU, not per node, so that pods may share one GPU.
//!
//! PreFilter: a pod without GPUs skips the Filter (no per-node cost). Filter: A GPU pod is rejected on nodes without GPUs and on nodes whose
//! GPU model (label `alibabacloud.com/gpu-card-model`) is not one of the pod's `gpu_spec` alternatives
//! (UnschedulableAndUnresolvable: evicting pods cannot change a node's hardware); and, as Unschedulable
//! (preemption may free room), on nodes where no single GPU has the share's milli free, or fewer than N GPUs
//! are fully free for a pod of N whole GPUs. The per-node sum check of `nvidia.com/gpu` stays with
//! NodeResourcesFit; it cannot see shared GPUs, which is why this filter exists.
//!
//! Reserve: writes the default GPU choice into the [`GpuReservation`] slot: the lowest-index fully free GPUs
//! for whole-GPU pods; for a share, the GPU with the least free milli that still holds it (tightest fit, ties
//! to the lowest index), which keeps emptier GPUs whole for later pods. A policy with its own rule (FGD)
//! reserves after this plugin and overwrites the slot.
//!
//! Queueing: a pod it rejected can fit after a node is added or changes, or a pod leaves a node.

use crate::model::NodeId;
use crate::model::gpu::model_allowed;
use crate::scheduler::cache::gpus::GpuReservation;
use crate::scheduler::cache::{Cache, NodeInfo};
use crate::scheduler::framework::{
    Code, CycleState, Filter, Plugin, PodCtx, PreFilter, PreFilterResult, Reason, Reserve, Verdict, event_kind,
};

#[derive(Default)]
pub struct GpuShare;

impl Plugin for GpuShare {
    fn name(&self) -> &'static str {
        "GpuShare"
    }
    fn as_pre_filter(&self) -> Option<&dyn PreFilter> {
        Some(self)
    }
    fn as_filter(&self) -> Option<&dyn Filter> {
        Some(self)
    }
    fn as_reserve(&self) -> Option<&dyn Reserve> {
        Some(self)
    }
    fn events_to_register(&self) -> u8 {
        event_kind::NODE_ADD | event_kind::NODE_UPDATE | event_kind::POD_DELETE
    }
}

fn fail(why: Option<&mut Vec<Reason>>, code: Code, reason: &'static str) -> Verdict {
    if let Some(why) = why {
        why.push(Reason::Text(reason));
    }
    Verdict::Fail(code)
}

/// PreFilter: a pod without GPUs skips the Filter, so clusters and pods without GPUs pay nothing per node.
impl PreFilter for GpuShare {
    fn pre_filter(&self, _: &mut CycleState, pod: &PodCtx, _: &Cache) -> PreFilterResult {
        if pod.spec.template.gpu_demand().is_none() { PreFilterResult::Skip } else { PreFilterResult::Proceed }
    }
}

impl Filter for GpuShare {
    fn filter(&self, _: &CycleState, pod: &PodCtx, node: &NodeInfo, why: Option<&mut Vec<Reason>>) -> Verdict {
        let t = &pod.spec.template;
        let d = t.gpu_demand();
        if d.is_none() {
            return Verdict::Pass;
        }
        if node.gpus.count() == 0 {
            return fail(why, Code::UnschedulableAndUnresolvable, "node(s) had no GPU");
        }
        if !model_allowed(&t.gpu_spec, &node.gpus.model) {
            return fail(why, Code::UnschedulableAndUnresolvable, "node(s) didn't match the pod's GPU model");
        }
        if !node.gpus.fits(d) {
            return fail(why, Code::Unschedulable, "Insufficient GPU");
        }
        Verdict::Pass
    }
}

impl Reserve for GpuShare {
    fn reserve(&self, state: &mut CycleState, pod: &PodCtx, node: NodeId, cache: &Cache) -> Result<(), Reason> {
        let d = pod.spec.template.gpu_demand();
        if d.is_none() {
            return Ok(());
        }
        let Some(info) = cache.node(node) else { return Ok(()) };
        state.slot::<GpuReservation>().gpus = info.gpus.best_fit(d);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PodId, PodSpec, s};
    use crate::scheduler::plugins::testutil::*;
    use std::sync::Arc;

    fn verdict(pod: &PodSpec, node: &NodeInfo) -> Verdict {
        GpuShare.filter(&CycleState::default(), &PodCtx::new(PodId::default(), pod), node, None)
    }

    #[test]
    fn shares_need_one_gpu_with_room_and_whole_pods_fully_free_gpus() {
        let mut n = gpu_node("g", 2, "V100M16");
        let first = place(&mut n, gpu_share_pod(100, 700));
        place(&mut n, gpu_share_pod(100, 700));
        assert_eq!(n.gpus.free_milli, vec![300, 300]);
        assert_eq!(verdict(&gpu_share_pod(100, 300), &n), Verdict::Pass);
        assert_eq!(verdict(&gpu_share_pod(100, 400), &n), Verdict::Fail(Code::Unschedulable));
        assert_eq!(verdict(&gpu_whole_pod(100, 1), &n), Verdict::Fail(Code::Unschedulable));
        let cpu_only = node_info("cpu", 1000, GI);
        assert_eq!(verdict(&pod_spec(100, GI, |_| {}), &cpu_only), Verdict::Pass);
        assert_eq!(verdict(&gpu_share_pod(100, 100), &cpu_only), Verdict::Fail(Code::UnschedulableAndUnresolvable));
        assert!(n.remove_pod(first).is_some());
        assert_eq!(n.gpus.free_milli, vec![1000, 300]);
        assert_eq!(verdict(&gpu_whole_pod(100, 1), &n), Verdict::Pass);
        assert_eq!(verdict(&gpu_whole_pod(100, 2), &n), Verdict::Fail(Code::Unschedulable));
    }

    #[test]
    fn gpu_spec_restricts_models() {
        let n = gpu_node("g", 1, "T4");
        let mut p = gpu_share_pod(100, 100);
        let mut t = (*p.template).clone();
        t.gpu_spec = vec![s("V100M16"), s("V100M32")];
        p.template = Arc::new(t.clone());
        assert_eq!(verdict(&p, &n), Verdict::Fail(Code::UnschedulableAndUnresolvable));
        t.gpu_spec.push(s("T4"));
        p.template = Arc::new(t);
        assert_eq!(verdict(&p, &n), Verdict::Pass);
    }

    #[test]
    fn reserve_picks_the_tightest_gpu() {
        let mut cache = Cache::default();
        cache.upsert_node(NodeId(0), gpu_node("g", 3, "T4").node.clone());
        place_in(&mut cache, NodeId(0), gpu_share_pod(100, 500));
        let free = cache.node(NodeId(0)).map(|n| n.gpus.free_milli.clone());
        assert_eq!(free, Some(vec![500, 1000, 1000]));
        let pod = gpu_share_pod(100, 400);
        let mut state = CycleState::default();
        assert!(GpuShare.reserve(&mut state, &PodCtx::new(PodId::default(), &pod), NodeId(0), &cache).is_ok());
        assert_eq!(state.get::<GpuReservation>().map(|r| r.gpus), Some(1));
        let pod = gpu_share_pod(100, 600);
        assert!(GpuShare.reserve(&mut state, &PodCtx::new(PodId::default(), &pod), NodeId(0), &cache).is_ok());
        assert_eq!(state.get::<GpuReservation>().map(|r| r.gpus), Some(1 << 1));
    }
}
