//! **DefaultPreemption** (PostFilter): when no node fits, evict lower-priority pods to make room, honouring
//! PodDisruptionBudgets where it can; the pod is nominated to the chosen node and retried once the victims are
//! gone. The algorithm and its choices are in [`crate::scheduler::preemption`].

use crate::scheduler::args::DefaultPreemptionArgs;
use crate::scheduler::framework::{NodeStatus, Plugin, PodCtx, PostFilter, PostFilterEnv, PostFilterResult};
use crate::scheduler::preemption;

#[derive(Default)]
pub struct DefaultPreemption {
    pub args: DefaultPreemptionArgs,
}

impl Plugin for DefaultPreemption {
    fn name(&self) -> &'static str {
        "DefaultPreemption"
    }
    fn as_post_filter(&self) -> Option<&dyn PostFilter> {
        Some(self)
    }
}

impl PostFilter for DefaultPreemption {
    fn post_filter(&self, env: &mut PostFilterEnv, pod: &PodCtx, statuses: &[NodeStatus]) -> PostFilterResult {
        preemption::preempt(&self.args, env, pod, statuses)
    }
}
