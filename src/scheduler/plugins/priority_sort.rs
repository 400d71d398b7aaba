//! **PrioritySort** (QueueSort): activeQ pops the pod with the highest `spec.priority` first; among equal
//! priorities, the one queued earliest (its queue timestamp, reset at every failed attempt), then first in.

use crate::model::PodSpec;
use crate::scheduler::framework::{Plugin, QueueSort};

#[derive(Default)]
pub struct PrioritySort;

impl Plugin for PrioritySort {
    fn name(&self) -> &'static str {
        "PrioritySort"
    }
    fn as_queue_sort(&self) -> Option<&dyn QueueSort> {
        Some(self)
    }
}

impl QueueSort for PrioritySort {
    fn key(&self, pod: &PodSpec) -> i64 {
        i64::from(pod.template.priority)
    }
}
