//! Compiling `[[job_traces]]`: a batch trace's task rows into [`TraceTask`]s, with the replay's modelling choices
//! (README "Batch trace replay"):
//!
//! - a task becomes a Job with `completions = parallelism = instances`, created at the task's creation time
//!   (minus `offset`; earlier tasks at 0), its pods `restartPolicy: Never`;
//! - each instance runs `run_fraction` x the task's span (creation to last modification; at least 1 s): the
//!   trace has no instance times, and the span bounds the longest instance;
//! - tasks whose span is not positive cannot be modelled and are skipped, as are statuses not in `statuses`
//!   (default: Terminated, Failed, Running: a Waiting task never ran);
//! - requests: `plan_cpu` hundredths of a core; `plan_mem` / 0.69 of the pool's memory (0.69 is a machine on
//!   the trace's scale); empty requests get the instance-weighted medians of the file (or the task is skipped).

use super::Compiler;
use crate::batch2017::{self, MACHINE_NORM_MEMORY, TaskStatus};
use crate::jobtrace::{JobTraceSpec, SkipCounts, TraceTask, creation_time};
use crate::scenario::limits;
use crate::scenario::schema::{self, Sp};
use crate::sim::NodePool;
use crate::time::SimDuration;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Largest batch trace read (the Alibaba 2017 `batch_task.csv` is 4 MB).
const MAX_TRACE_BYTES: u64 = 256 << 20;
/// Most tasks per trace.
const MAX_TASKS: usize = 10_000_000;

impl Compiler<'_> {
    pub(super) fn job_traces(
        &mut self,
        traces: &[Sp<schema::JobTraceEntry>],
        pools: &[NodePool],
        run: Option<(SimDuration, &str)>,
    ) -> Vec<JobTraceSpec> {
        let mut out = Vec::new();
        for t in traces {
            if let Some(spec) = self.job_trace(t.get_ref(), pools, run) {
                out.push(spec);
            }
        }
        out
    }

    fn job_trace(
        &mut self,
        e: &schema::JobTraceEntry,
        pools: &[NodePool],
        run: Option<(SimDuration, &str)>,
    ) -> Option<JobTraceSpec> {
        if e.format.get_ref() != "alibaba-2017" {
            return self.err(
                e.format.span(),
                format!("unknown job trace format {:?}; expected \"alibaba-2017\"", e.format.get_ref()),
            );
        }
        let Some(pool) = pools.iter().find(|p| &*p.name == e.pool.get_ref().as_str()) else {
            let names: Vec<&str> = pools.iter().map(|p| &*p.name).collect();
            return self.err(
                e.pool.span(),
                format!("no node pool named {:?}; the pools are {}", e.pool.get_ref(), names.join(", ")),
            );
        };
        let machine_memory = pool.template.allocatable.memory_bytes;
        let namespace = self.namespace(&e.namespace);
        let offset = match &e.offset {
            Some(o) => self.duration_within(o, limits::MAX_DURATION, "offset"),
            None => Some(SimDuration::ZERO),
        };
        let mut statuses = vec![TaskStatus::Terminated, TaskStatus::Failed, TaskStatus::Running];
        if let Some(list) = &e.statuses {
            statuses.clear();
            for st in list.get_ref() {
                match TaskStatus::parse(st.get_ref()) {
                    Some(x) => statuses.push(x),
                    None => {
                        self.err::<()>(
                            st.span(),
                            format!(
                                "unknown task status {:?}; expected \"Terminated\", \"Failed\", \"Running\" or \"Waiting\"",
                                st.get_ref()
                            ),
                        );
                    }
                }
            }
        }
        let fill = match e.missing_requests.as_ref().map(|m| m.get_ref().as_str()) {
            None | Some("median") => true,
            Some("skip") => false,
            Some(other) => {
                let span = e.missing_requests.as_ref().map(|m| m.span()).unwrap_or_default();
                return self.err(span, format!("missing_requests {other:?}: expected \"median\" or \"skip\""));
            }
        };
        let fraction = match &e.run_fraction {
            Some(f) if !(f.get_ref().is_finite() && *f.get_ref() > 0.0 && *f.get_ref() <= 1.0) => {
                return self.err(f.span(), "run_fraction must be greater than 0 and at most 1");
            }
            Some(f) => *f.get_ref(),
            None => 1.0,
        };
        let backoff_limit = match &e.backoff_limit {
            Some(b) if !(0..=i64::from(i32::MAX)).contains(b.get_ref()) => {
                return self.err(b.span(), "backoff_limit must be 0 or more");
            }
            Some(b) => *b.get_ref() as i32,
            None => 6,
        };
        let (namespace, offset) = (namespace?, offset?);
        let hint = "; the Alibaba 2017 batch_task.csv is not shipped with kubesim: get it from \
                    https://github.com/alibaba/clusterdata (cluster-trace-v2017) and put it there (see the README, \
                    \"Batch trace replay\")";
        let (shown, text) = self.read_data_file(&e.path, MAX_TRACE_BYTES, "trace", hint)?;
        let tasks = match batch2017::parse(&text) {
            Ok(t) => t,
            Err(err) => {
                self.err_in_data_file(
                    &shown,
                    &text,
                    err.line,
                    err.column,
                    format!("corrupt trace row: {}", err.message),
                );
                return None;
            }
        };
        if tasks.len() > MAX_TASKS {
            return self.err(e.path.span(), format!("the trace has {} tasks; the limit is {MAX_TASKS}", tasks.len()));
        }
        let (median_cpu, median_mem) = batch2017::median_requests(&tasks);
        let end_s = run.map_or(u64::MAX, |(d, _)| d.micros() / 1_000_000);
        let mut skipped = SkipCounts::default();
        let mut filled = 0;
        let mut out: Vec<TraceTask> = Vec::with_capacity(tasks.len());
        let mut seen: BTreeMap<(u32, u32), u32> = BTreeMap::new();
        for t in &tasks {
            if !statuses.contains(&t.status) {
                skipped.status += 1;
                continue;
            }
            if t.span_s() <= 0 {
                skipped.no_span += 1;
                continue;
            }
            if t.instances == 0 {
                skipped.no_instances += 1;
                continue;
            }
            let (cpu, mem) = match (t.plan_cpu, t.plan_mem) {
                (Some(c), Some(m)) => (c, m),
                (c, m) if fill => {
                    let (Some(c), Some(m)) = (c.or(median_cpu), m.or(median_mem)) else {
                        skipped.missing_requests += 1;
                        continue;
                    };
                    filled += 1;
                    (c, m)
                }
                _ => {
                    skipped.missing_requests += 1;
                    continue;
                }
            };
            let at = creation_time(t.create_s, offset);
            if at.micros() / 1_000_000 >= end_s {
                skipped.after_end += 1;
                continue;
            }
            let run_us = ((t.span_s() as f64 * fraction * 1e6).round() as u64).max(1_000_000);
            *seen.entry((t.job_id, t.task_id)).or_insert(0) += 1;
            out.push(TraceTask {
                at,
                job_id: t.job_id,
                task_id: t.task_id,
                line: t.line,
                duplicate: false,
                instances: t.instances.min(limits::MAX_COMPLETIONS as u32),
                cpu_millis: i64::from(cpu) * 10,
                memory_bytes: (mem / MACHINE_NORM_MEMORY * machine_memory as f64).ceil() as i64,
                run: SimDuration(run_us),
            });
        }
        for t in &mut out {
            t.duplicate = seen.get(&(t.job_id, t.task_id)).is_some_and(|n| *n > 1);
        }
        Some(JobTraceSpec { namespace, backoff_limit, tasks: Arc::new(out), filled, skipped })
    }
}
