//! The life of every pod, for `pods.csv`: when it was created, bound, first Running, finished and deleted.
//!
//! One compact record per pod (about 70 bytes), appended at creation; the uid lookup is a hash map that is never
//! iterated, so its order cannot reach the output.

use crate::model::{NodeId, PodPhase, PodSpec, Str};
use crate::time::{SimTime, write_secs};
use rustc_hash::FxHashMap;
use std::io::{self, Write};

/// `pods.csv` header.
pub const PODS_HEADER: &str = "pod,workload,node,created_s,scheduled_s,running_s,finished_s,deleted_s,phase";

const NEVER: u64 = u64::MAX;

#[derive(Clone, Debug)]
struct PodLife {
    name: Str,
    namespace: Str,
    workload: Str,
    node: Option<NodeId>,
    created_us: u64,
    scheduled_us: u64,
    running_us: u64,
    finished_us: u64,
    deleted_us: u64,
    phase: PodPhase,
}

/// Per-pod timestamps in creation order.
#[derive(Debug, Default)]
pub struct PodLog {
    lives: Vec<PodLife>,
    by_uid: FxHashMap<u64, u32>,
    /// `[output] pods = false`: nothing is kept (a trace replay of millions of pods), `pods.csv` has only its
    /// header.
    pub disabled: bool,
}

impl PodLog {
    fn life(&mut self, spec: &PodSpec) -> Option<&mut PodLife> {
        let i = *self.by_uid.get(&spec.uid)?;
        self.lives.get_mut(i as usize)
    }

    pub fn created(&mut self, spec: &PodSpec) {
        if self.disabled {
            return;
        }
        self.by_uid.insert(spec.uid, self.lives.len() as u32);
        self.lives.push(PodLife {
            name: spec.name.clone(),
            namespace: spec.namespace.clone(),
            workload: spec.workload.clone(),
            node: None,
            created_us: spec.created.micros(),
            scheduled_us: NEVER,
            running_us: NEVER,
            finished_us: NEVER,
            deleted_us: NEVER,
            phase: PodPhase::Pending,
        });
    }

    pub fn bound(&mut self, spec: &PodSpec, node: NodeId, now: SimTime) {
        if let Some(l) = self.life(spec) {
            l.node = Some(node);
            l.scheduled_us = now.micros();
        }
    }

    pub fn phase(&mut self, spec: &PodSpec, phase: PodPhase, now: SimTime) {
        if let Some(l) = self.life(spec) {
            l.phase = phase;
            if phase == PodPhase::Running && l.running_us == NEVER {
                l.running_us = now.micros();
            }
            if phase.is_terminal() && l.finished_us == NEVER {
                l.finished_us = now.micros();
            }
        }
    }

    pub fn deleted(&mut self, spec: &PodSpec, now: SimTime) {
        if let Some(l) = self.life(spec) {
            l.deleted_us = now.micros();
        }
    }

    pub fn len(&self) -> usize {
        self.lives.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lives.is_empty()
    }

    /// Writes `pods.csv`; `node_name` names a node id (deleted nodes included).
    pub fn write_csv(&self, w: &mut dyn Write, node_name: &dyn Fn(NodeId) -> String) -> io::Result<()> {
        writeln!(w, "{PODS_HEADER}")?;
        let mut line = String::with_capacity(160);
        for l in &self.lives {
            line.clear();
            crate::recorder::push_csv_field(&mut line, &format!("{}/{}", l.namespace, l.name));
            line.push(',');
            crate::recorder::push_csv_field(&mut line, &l.workload);
            line.push(',');
            if let Some(n) = l.node {
                crate::recorder::push_csv_field(&mut line, &node_name(n));
            }
            for t in [l.created_us, l.scheduled_us, l.running_us, l.finished_us, l.deleted_us] {
                line.push(',');
                if t != NEVER {
                    write_secs(&mut line, t);
                }
            }
            line.push(',');
            line.push_str(l.phase.as_str());
            line.push('\n');
            w.write_all(line.as_bytes())?;
        }
        Ok(())
    }
}
