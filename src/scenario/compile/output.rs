//! Compiling `[output]`: the sampling interval and the fragmentation reference pod.

use super::Compiler;
use crate::metrics::nodes::Amounts;
use crate::metrics::sample::OutputConfig;
use crate::model::Resources;
use crate::scenario::schema::{self, Sp};
use crate::time::SimDuration;
use crate::workload::Workloads;
use std::collections::BTreeMap;

/// At most this many samples per run: a longer series belongs in a coarser interval.
pub const MAX_SAMPLES: u64 = 100_000;

impl Compiler<'_> {
    pub(super) fn output(
        &mut self,
        section: Option<&Sp<schema::OutputSection>>,
        duration: SimDuration,
        workloads: &Workloads,
    ) -> OutputConfig {
        let mut cfg = OutputConfig {
            sample_interval: OutputConfig::default_interval(duration),
            reference_pod: default_reference_pod(workloads),
            placements: true,
            pods: true,
        };
        let Some(section) = section else { return cfg };
        let o = section.get_ref();
        if let Some(v) = &o.sample_interval
            && let Some(d) = self.duration(v)
        {
            if d == SimDuration::ZERO {
                self.err::<()>(v.span(), "sample_interval must be positive");
            } else if duration.micros() / d.micros() > MAX_SAMPLES {
                self.err::<()>(
                    v.span(),
                    format!(
                        "sample_interval {:?} gives more than {MAX_SAMPLES} samples over the run; use a longer interval",
                        v.get_ref()
                    ),
                );
            } else {
                cfg.sample_interval = d;
            }
        }
        if let Some(p) = o.placements {
            cfg.placements = p;
        }
        if let Some(p) = o.pods {
            cfg.pods = p;
        }
        if let Some(r) = &o.reference_pod {
            let (res, _, _) = self.resources(r.get_ref());
            if res.is_zero() {
                self.err::<()>(r.span(), "reference_pod must request some cpu, memory or nvidia.com/gpu");
            } else {
                cfg.reference_pod = Amounts::of_requests(&res);
            }
        }
        cfg
    }
}

/// The most common pod shape among the workloads that compete for placement, each template weighted by the pods it
/// asks for (Deployment replicas, Job completions, an arrival process's `max_pods` or 1); ties go to the first
/// declared. DaemonSets are left out: their pods go to every node whatever the free space. With no workload,
/// 1 CPU and 1 GiB.
fn default_reference_pod(w: &Workloads) -> Amounts {
    let mut weights: BTreeMap<(i64, i64, i64), (i64, usize)> = BTreeMap::new();
    let shapes = w
        .deployments
        .iter()
        .map(|d| (&d.template.requests, i64::from(d.replicas)))
        .chain(w.jobs.iter().map(|j| (&j.template.requests, i64::from(j.completions))))
        .chain(w.arrivals.iter().map(|a| (&a.template.requests, a.max_pods.map_or(1, |m| m.min(1 << 40) as i64))));
    for (order, (r, weight)) in shapes.enumerate() {
        let a = Amounts::of_requests(r);
        let e = weights.entry((a.cpu_millis, a.memory_bytes, a.gpu_milli)).or_insert((0, order));
        e.0 += weight.max(0);
    }
    let best = weights.iter().max_by(|a, b| a.1.0.cmp(&b.1.0).then(b.1.1.cmp(&a.1.1)));
    match best {
        Some(((cpu, mem, gpu), _)) if cpu + mem + gpu > 0 => {
            Amounts { pods: 1, cpu_millis: *cpu, memory_bytes: *mem, gpu_milli: *gpu }
        }
        _ => Amounts::of_requests(&Resources::new(1000, 1 << 30)),
    }
}
