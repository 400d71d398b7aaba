//! `[[job_traces]]`: a batch trace replayed as Kubernetes Jobs, one Job per task, created at the task's creation
//! time by the workload driver.
//!
//! The trace's task rows are compiled once into [`TraceTask`]s (about 48 bytes each, sorted by creation time);
//! the driver keeps a cursor and schedules one event at a time, the next task's creation. A task's instances are
//! never materialised here: they are the pods its Job's controller creates, and finished pods leave the store
//! through PodGC's terminated-pod threshold, so memory follows the pods alive at once, not the trace's 11.9 M
//! instances. The modelling choices (run time, requests, statuses) are the compiler's, documented in the README
//! ("Batch trace replay").

use crate::dist::Dist;
use crate::model::workload::JobStatus;
use crate::model::{Container, Job, Labels, PodTemplate, PreemptionPolicy, Resources, RestartPolicy, RunModel, Str};
use crate::time::{SimDuration, SimTime};
use std::sync::Arc;

/// One task, ready to become a Job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceTask {
    /// Creation time in the run.
    pub at: SimTime,
    pub job_id: u32,
    pub task_id: u32,
    /// The trace line (names the Job when `job_id`/`task_id` repeat).
    pub line: u32,
    /// Set when another task has the same `job_id` and `task_id`: the Job's name gets the line.
    pub duplicate: bool,
    pub instances: u32,
    pub cpu_millis: i64,
    pub memory_bytes: i64,
    /// How long each instance runs.
    pub run: SimDuration,
}

impl TraceTask {
    /// The Job's name: `j<job>-t<task>` (with `-l<line>` for a repeated pair).
    pub fn job_name(&self) -> String {
        if self.duplicate {
            format!("j{}-t{}-l{}", self.job_id, self.task_id, self.line)
        } else {
            format!("j{}-t{}", self.job_id, self.task_id)
        }
    }

    /// CPU-seconds (millicore-microseconds) of all its instances.
    pub fn work_millicore_us(&self) -> u128 {
        u128::from(self.instances) * self.cpu_millis as u128 * u128::from(self.run.micros())
    }
}

/// Why tasks were left out (reported in `summary.json`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SkipCounts {
    /// Status not in `statuses`.
    pub status: u64,
    /// End not after creation (no run time to model).
    pub no_span: u64,
    /// No instances.
    pub no_instances: u64,
    /// Empty requests with `missing_requests = "skip"`.
    pub missing_requests: u64,
    /// Created at or after the end of the run.
    pub after_end: u64,
}

/// A compiled `[[job_traces]]` entry.
#[derive(Clone, Debug)]
pub struct JobTraceSpec {
    pub namespace: Str,
    pub backoff_limit: i32,
    pub tasks: Arc<Vec<TraceTask>>,
    /// Tasks whose empty requests were filled with the medians.
    pub filled: u64,
    pub skipped: SkipCounts,
}

impl JobTraceSpec {
    /// The Job for task `i`, with its own template (requests and run time are per task).
    pub fn job(&self, i: usize, workload_index: u32, now: SimTime) -> Option<Job> {
        let t = self.tasks.get(i)?;
        let name: Str = t.job_name().into();
        let requests = Resources::new(t.cpu_millis, t.memory_bytes);
        let container = Container {
            name: Str::from("main"),
            image: Str::from("alibaba-batch:latest"),
            requests: requests.clone(),
            limits: Resources::default(),
            host_ports: Vec::new(),
            has_cpu_request: true,
            has_memory_request: true,
        };
        let mut template = PodTemplate {
            labels: Labels::from_pairs([(Str::from("app"), name.clone())]),
            containers: vec![container],
            restart_policy: RestartPolicy::Never,
            // Every trace pod has priority 0, so preemption could never find a victim for one; `Never` skips
            // its dry run over every node (same placements; only the FailedScheduling message differs).
            preemption_policy: PreemptionPolicy::Never,
            run: RunModel::For(Dist::Fixed(t.run)),
            ..PodTemplate::default()
        };
        template.finalize();
        let n = i32::try_from(t.instances).unwrap_or(i32::MAX);
        Some(Job {
            name,
            namespace: self.namespace.clone(),
            uid: 0,
            workload_index,
            completions: n,
            parallelism: n,
            backoff_limit: self.backoff_limit,
            active_deadline: None,
            template: Arc::new(template),
            created: now,
            status: JobStatus::default(),
        })
    }
}

/// The run time of an instance of a pod template built by [`JobTraceSpec::job`] (its fixed run), for the
/// work-completed metric.
pub fn fixed_run(template: &PodTemplate) -> Option<SimDuration> {
    match &template.run {
        RunModel::For(Dist::Fixed(d)) => Some(*d),
        _ => None,
    }
}

/// Creation time of a task in the run: trace second `create_s` minus `offset`, and 0 for tasks created before.
pub fn creation_time(create_s: i64, offset: SimDuration) -> SimTime {
    let t = create_s.saturating_sub((offset.micros() / 1_000_000) as i64).max(0);
    SimTime::from_secs(t as u64)
}
