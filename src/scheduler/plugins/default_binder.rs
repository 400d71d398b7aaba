//! **DefaultBinder** (Bind): binds the pod with a `pods/binding` request to the apiserver, which sets
//! `spec.nodeName`; the kubelet of that node learns of the pod through its watch.

use crate::model::NodeId;
use crate::scheduler::framework::{Bind, Binding, Plugin, PodCtx};

#[derive(Default)]
pub struct DefaultBinder;

impl Plugin for DefaultBinder {
    fn name(&self) -> &'static str {
        "DefaultBinder"
    }
    fn as_bind(&self) -> Option<&dyn Bind> {
        Some(self)
    }
}

impl Bind for DefaultBinder {
    fn bind(&self, _: &PodCtx, _: NodeId) -> Binding {
        Binding::Api
    }
}
