//! Running a scenario and writing its results.
//!
//! Outputs go to a hidden temporary directory next to the destination and are renamed into place only when the
//! run and every file succeeded, so a failed or interrupted run never leaves a half-written result directory.
//! Wall-clock figures are printed on the terminal only; files hold simulated quantities, so they are
//! byte-identical for the same scenario, seed and kubesim version.

use crate::metrics::quantile_s;
use crate::metrics::recovery::FaultRecovery;
use crate::metrics::sample::SampleWriters;
use crate::recorder::{EventRow, EventSink};
use crate::scenario::Scenario;
use crate::scheduler::explain::{Explainer, PodFilter};
use crate::sim::Sim;
use crate::time::SimTime;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fs;
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The version written into every summary.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `summary.json`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Summary {
    pub scenario: String,
    pub seed: u64,
    pub kubesim_version: String,
    pub sim_duration_s: f64,
    pub events_processed: u64,
    pub nodes: u64,
    /// Pods in the store at the end, per phase.
    pub pods: BTreeMap<String, u64>,
    /// Flat named metrics (see the README's "Outputs" section for definitions).
    pub metrics: BTreeMap<String, Value>,
    /// Pods the scheduler still has to place at the end, by the FailedScheduling message of their last attempt.
    pub pending_reasons: BTreeMap<String, u64>,
    /// Every failed scheduling attempt of the run, by its FailedScheduling message.
    pub unschedulable_reasons: BTreeMap<String, u64>,
    /// Each fault and the time until every workload was back at its desired ready replicas.
    pub fault_recovery: Vec<FaultRecovery>,
}

/// The result of a run.
pub struct RunOutcome {
    pub summary: Summary,
    /// Decision-trace lines written to `explain.jsonl` (0 without `--explain`).
    pub explain_lines: u64,
    /// Rows kept in memory ([`run_in_memory`] only).
    pub events: Vec<EventRow>,
    /// Wall-clock time of the simulation loop (never written to files).
    pub wall: Duration,
    /// It was an `[openb]` experiment rather than a simulation.
    pub experiment: bool,
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// Builds the summary of a finished run.
pub fn summarize(sim: &mut Sim) -> Summary {
    let end = sim.end().min(sim.now().max(sim.end()));
    let pods_by_phase = sim.pods_by_phase();
    let terminating = sim.api.etcd.pods.iter().filter(|(_, r)| r.state.deletion.is_some()).count() as u64;
    let nodes_not_ready = sim.api.etcd.nodes.iter().flatten().filter(|n| !n.obj.is_ready()).count() as u64;
    let nodes = sim.api.etcd.nodes.iter().flatten().count() as u64;
    let revision = sim.api.etcd.revision();
    let api = sim.api.stats;
    let stats = sim.scheduler.stats;
    let pending_reasons = pending_reasons(sim);
    let m = &mut sim.rec.metrics;
    let mut metrics: BTreeMap<String, Value> = BTreeMap::new();
    let mut int = |k: &str, v: u64| {
        metrics.insert(k.to_string(), Value::from(v));
    };
    int("pods_created", m.pods_created);
    int("pods_deleted", m.pods_deleted);
    int("pods_scheduled", m.pods_scheduled);
    int("pods_unschedulable", m.pods_unschedulable);
    int("pods_pending_at_end", pods_by_phase.get(&crate::model::PodPhase::Pending).copied().unwrap_or(0));
    int("pods_terminating_at_end", terminating);
    int("scheduling_attempts", m.scheduling_attempts);
    int("scheduling_failed_attempts", stats.failed_attempts);
    int("bind_errors", stats.bind_errors);
    int("evictions", m.evictions);
    int("evictions_blocked", m.evictions_blocked);
    int("preemptions", m.preemptions);
    int("preemption_victims", m.preemption_victims);
    int("nodes_not_ready_at_end", nodes_not_ready);
    int("api_requests", api.requests);
    int("api_conflicts", api.conflicts);
    int("api_retries", api.retries);
    int("api_timeouts", api.timeouts);
    int("watch_relists", api.relists);
    int("etcd_revision", revision);
    let mut float = |k: &str, v: f64| {
        metrics.insert(k.to_string(), Value::from(round6(v)));
    };
    let sched = &mut m.scheduling_latency_us;
    float("scheduling_latency_p50_s", quantile_s(sched, 0.50));
    float("scheduling_latency_p90_s", quantile_s(sched, 0.90));
    float("scheduling_latency_p99_s", quantile_s(sched, 0.99));
    float("scheduling_latency_max_s", quantile_s(sched, 1.0));
    let startup = &mut m.startup_latency_us;
    float("pod_startup_latency_p50_s", quantile_s(startup, 0.50));
    float("pod_startup_latency_p99_s", quantile_s(startup, 0.99));
    float("pod_startup_latency_max_s", quantile_s(startup, 1.0));
    float("pod_startup_latency_p90_s", quantile_s(startup, 0.90));
    float("cpu_allocation_mean", m.cpu_allocation_mean(SimTime::ZERO, end));
    float("memory_allocation_mean", m.memory_allocation_mean(SimTime::ZERO, end));
    float("gpu_allocation_mean", m.gpu_allocation_mean(SimTime::ZERO, end));
    float("pending_pod_seconds", m.pending.integral_s(end));
    let st = &sim.sampler.stats;
    let per_sample = |sum: f64, n: u64| if n == 0 { 0.0 } else { sum / n as f64 };
    float("cpu_allocation_imbalance", per_sample(st.imbalance_sum[0], st.samples));
    float("memory_allocation_imbalance", per_sample(st.imbalance_sum[1], st.samples));
    float("gpu_allocation_imbalance", per_sample(st.imbalance_sum[2], st.samples));
    float("cpu_fragmentation_mean", per_sample(st.fragmentation_sum[0], st.fragmentation_samples[0]));
    float("memory_fragmentation_mean", per_sample(st.fragmentation_sum[1], st.fragmentation_samples[1]));
    if st.gpu_frag_samples > 0 {
        float("gpu_fragmentation_mean", per_sample(st.gpu_frag_sum, st.gpu_frag_samples));
    }
    let fault_recovery = m.recovery.results(end);
    let recovered: Vec<f64> = fault_recovery.iter().filter_map(|f| f.recovery_s).collect();
    float("fault_recovery_max_s", recovered.iter().copied().fold(0.0, f64::max));
    float("fault_recovery_mean_s", per_sample(recovered.iter().sum(), recovered.len() as u64));
    let mut int = |k: &str, v: u64| {
        metrics.insert(k.to_string(), Value::from(v));
    };
    int("pods_pending_max", m.pending.max.max(0) as u64);
    int("container_restarts", m.container_restarts);
    int("pods_failed", m.pods_failed);
    int("pods_lost", m.evictions + m.preemption_victims + m.pods_orphaned);
    int("nodes_added", m.nodes_added);
    int("nodes_deleted", m.nodes_deleted);
    int("faults_injected", fault_recovery.len() as u64);
    int("faults_unrecovered", (fault_recovery.len() - recovered.len()) as u64);
    for (name, sk) in &st.skew {
        int(&format!("workload.{name}.zone_skew_max"), sk.zone_skew_max.max(0) as u64);
        int(&format!("workload.{name}.zone_skew_end"), sk.zone_skew_end.max(0) as u64);
        int(&format!("workload.{name}.pods_per_node_max_end"), sk.pods_per_node_max_end.max(0) as u64);
    }
    let unschedulable_reasons = m.unschedulable_reasons.clone();
    crate::metrics::trace::summarize(sim, &mut metrics);
    let cfg = sim.config();
    Summary {
        scenario: cfg.name.clone(),
        seed: cfg.seed,
        kubesim_version: VERSION.to_string(),
        sim_duration_s: cfg.duration.as_secs_f64(),
        events_processed: sim.events_processed(),
        nodes,
        pods: pods_by_phase.into_iter().map(|(p, n)| (p.as_str().to_string(), n)).collect(),
        metrics,
        pending_reasons,
        unschedulable_reasons,
        fault_recovery,
    }
}

/// The scheduler's pending reasons; while it is down (crashed, not restarted), nothing holds them, so the unbound
/// pods waiting for one of its profiles are counted under `kube-scheduler is not running`.
fn pending_reasons(sim: &Sim) -> BTreeMap<String, u64> {
    if sim.scheduler.lifecycle() != crate::scheduler::Lifecycle::Down {
        return sim.scheduler.pending_reasons();
    }
    let profiles = &sim.config().profiles;
    let waiting = sim
        .api
        .etcd
        .pods
        .iter()
        .filter(|(_, r)| r.state.node.is_none() && r.state.deletion.is_none() && !r.state.phase.is_terminal())
        .filter(|(_, r)| profiles.iter().any(|p| *p.scheduler_name == *r.spec.template.scheduler_name))
        .count() as u64;
    let mut out = BTreeMap::new();
    if waiting > 0 {
        out.insert("kube-scheduler is not running".to_string(), waiting);
    }
    out
}

/// Runs a scenario keeping the events in memory (tests, library users).
pub fn run_in_memory(scenario: &Scenario, seed: Option<u64>) -> Result<RunOutcome, String> {
    if let Some(e) = &scenario.openb {
        let seed = seed.unwrap_or(scenario.config.seed);
        let started = Instant::now();
        let r = crate::openb::experiment::run(e, seed)?;
        let wall = started.elapsed();
        let points = crate::openb::output::run_curve(e, &r);
        let summary = crate::openb::output::summary(&scenario.config.name, seed, e, &r, &points);
        return Ok(RunOutcome { summary, events: Vec::new(), wall, explain_lines: 0, experiment: true });
    }
    let mut cfg = scenario.config.clone();
    if let Some(s) = seed {
        cfg.seed = s;
    }
    let mut sim = Sim::new(Arc::new(cfg), EventSink::Memory(Vec::new()))?;
    let started = Instant::now();
    sim.run();
    let wall = started.elapsed();
    let events = sim.rec.finish().map_err(|e| e.to_string())?;
    let summary = summarize(&mut sim);
    Ok(RunOutcome { summary, events, wall, explain_lines: 0, experiment: false })
}

/// Options of a run written to a directory.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Write decision traces of the pods this filter selects to `explain.jsonl`.
    pub explain: Option<PodFilter>,
    /// Skip `report.html` and `plots/` (they can be made later with `kubesim report DIR`).
    pub no_report: bool,
}

/// Why writing results failed.
#[derive(Debug)]
pub enum RunError {
    Io {
        path: PathBuf,
        error: io::Error,
    },
    /// The output location cannot or must not be used.
    Refused {
        path: PathBuf,
        why: String,
    },
    Sim(String),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Io { path, error } => write!(f, "error: {}: {error}", path.display()),
            RunError::Refused { path, why } => write!(f, "error: output directory {}: {why}", path.display()),
            RunError::Sim(msg) => write!(f, "error: {msg}"),
        }
    }
}

impl std::error::Error for RunError {}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> RunError + '_ {
    move |error| RunError::Io { path: path.to_path_buf(), error }
}

/// Every file and directory a run may write. An existing output directory is replaced only if it holds nothing
/// else, so a mistyped `--out` can never delete a user's files.
pub const OUTPUT_ENTRIES: &[&str] = &[
    "report.html",
    "plots",
    "summary.json",
    "events.csv",
    "explain.jsonl",
    "timeseries.csv",
    "placements.csv",
    "pods.csv",
    "queueing_delay.csv",
    "openb_curve.csv",
    "openb_pods.csv",
];

/// Checks that `out` is absent, or a directory kubesim may replace.
fn check_replaceable(out: &Path) -> Result<(), RunError> {
    let refuse = |why: String| RunError::Refused { path: out.to_path_buf(), why };
    let Ok(meta) = fs::symlink_metadata(out) else { return Ok(()) };
    if !meta.is_dir() {
        return Err(refuse("it exists and is not a directory; choose another --out".into()));
    }
    let entries = fs::read_dir(out).map_err(io_err(out))?;
    for entry in entries {
        let entry = entry.map_err(io_err(out))?;
        let name = entry.file_name().to_string_lossy().to_string();
        if !OUTPUT_ENTRIES.contains(&name.as_str()) {
            return Err(refuse(format!(
                "it contains {name:?}, which kubesim did not write; refusing to replace it (choose another --out)"
            )));
        }
    }
    Ok(())
}

/// Creates `dir` and its parents, explaining which ancestor is in the way when that fails.
fn create_parent(dir: &Path) -> Result<(), RunError> {
    if let Err(error) = fs::create_dir_all(dir) {
        let blocker = dir.ancestors().find(|a| a.exists() && !a.is_dir());
        return Err(match blocker {
            Some(b) => RunError::Refused {
                path: dir.to_path_buf(),
                why: format!("cannot create it: {} is not a directory", b.display()),
            },
            None => RunError::Io { path: dir.to_path_buf(), error },
        });
    }
    Ok(())
}

/// Runs a scenario and writes `summary.json` and `events.csv` into `out`, atomically.
pub fn run_to_dir(scenario: &Scenario, out: &Path) -> Result<RunOutcome, RunError> {
    run_to_dir_with(scenario, out, &RunOptions::default())
}

/// [`run_to_dir`] with options.
pub fn run_to_dir_with(scenario: &Scenario, out: &Path, opts: &RunOptions) -> Result<RunOutcome, RunError> {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    create_parent(&parent)?;
    check_replaceable(out)?;
    swap_into_place(
        &parent,
        out,
        |tmp| write_run(scenario, tmp, opts),
        |path, error| RunError::Io { path: path.to_path_buf(), error },
    )
}

/// Fills a hidden temporary directory in `parent` with `fill`, then renames it to `out` (moving a previous `out`
/// aside and deleting it only after the rename), so that a failure never leaves a half-written directory and a
/// success replaces the previous results. `io_err` reports an I/O error on a path. Shared by `kubesim run` and
/// `kubesim sweep`/`merge`; each checks first that `out` is one it may replace.
pub fn swap_into_place<T, E>(
    parent: &Path,
    out: &Path,
    fill: impl FnOnce(&Path) -> Result<T, E>,
    io_err: impl Fn(&Path, io::Error) -> E,
) -> Result<T, E> {
    let leaf = out.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| "out".into());
    let tmp = parent.join(format!(".{leaf}.kubesim-tmp-{}", std::process::id()));
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(|e| io_err(&tmp, e))?;
    }
    fs::create_dir(&tmp).map_err(|e| io_err(&tmp, e))?;
    let value = match fill(&tmp) {
        Ok(v) => v,
        Err(e) => {
            let _ = fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    let old = parent.join(format!(".{leaf}.kubesim-old-{}", std::process::id()));
    if out.exists()
        && let Err(e) = fs::rename(out, &old)
    {
        let _ = fs::remove_dir_all(&tmp);
        return Err(io_err(out, e));
    }
    if let Err(e) = fs::rename(&tmp, out) {
        let _ = fs::rename(&old, out);
        let _ = fs::remove_dir_all(&tmp);
        return Err(io_err(out, e));
    }
    if old.exists() {
        let _ = fs::remove_dir_all(&old);
    }
    Ok(value)
}

fn write_run(scenario: &Scenario, dir: &Path, opts: &RunOptions) -> Result<RunOutcome, RunError> {
    if let Some(e) = &scenario.openb {
        if opts.explain.is_some() {
            return Err(RunError::Sim("--explain does not apply to an [openb] experiment".into()));
        }
        let seed = scenario.config.seed;
        let started = Instant::now();
        let r = crate::openb::experiment::run(e, seed).map_err(RunError::Sim)?;
        let wall = started.elapsed();
        let summary =
            crate::openb::output::write_run(dir, &scenario.config.name, seed, e, &r).map_err(RunError::Sim)?;
        return Ok(RunOutcome { summary, events: Vec::new(), wall, explain_lines: 0, experiment: true });
    }
    let events_path = dir.join("events.csv");
    let file = fs::File::create(&events_path).map_err(io_err(&events_path))?;
    let sink = EventSink::Csv(Box::new(BufWriter::with_capacity(1 << 20, file)));
    let mut sim = Sim::new(Arc::new(scenario.config.clone()), sink).map_err(RunError::Sim)?;
    let timeseries_path = dir.join("timeseries.csv");
    let placements_path = dir.join("placements.csv");
    let timeseries = fs::File::create(&timeseries_path).map_err(io_err(&timeseries_path))?;
    let placements = if scenario.config.output.placements {
        let f = fs::File::create(&placements_path).map_err(io_err(&placements_path))?;
        Some(Box::new(BufWriter::with_capacity(1 << 20, f)) as Box<dyn io::Write>)
    } else {
        None
    };
    sim.sampler.set_writers(SampleWriters { timeseries: Box::new(BufWriter::new(timeseries)), placements });
    let explain_path = dir.join("explain.jsonl");
    if let Some(filter) = &opts.explain {
        let file = fs::File::create(&explain_path).map_err(io_err(&explain_path))?;
        let writer = Box::new(BufWriter::with_capacity(1 << 20, file));
        sim.scheduler.set_explain(Explainer::new(filter.clone(), writer));
    }
    let started = Instant::now();
    sim.run();
    let wall = started.elapsed();
    sim.rec.finish().map_err(io_err(&events_path))?;
    sim.sampler.finish().map_err(io_err(&timeseries_path))?;
    write_pods_csv(&sim, &dir.join("pods.csv"))?;
    if !scenario.config.workloads.job_traces.is_empty() {
        let path = dir.join("queueing_delay.csv");
        let mut w = BufWriter::new(fs::File::create(&path).map_err(io_err(&path))?);
        crate::metrics::trace::write_histogram(&sim.rec.metrics.trace, &mut w).map_err(io_err(&path))?;
        io::Write::flush(&mut w).map_err(io_err(&path))?;
    }
    let mut explain_lines = 0;
    if let Some(mut explainer) = sim.scheduler.take_explain() {
        explain_lines = explainer.lines;
        explainer.flush().map_err(io_err(&explain_path))?;
    }
    let summary = summarize(&mut sim);
    let summary_path = dir.join("summary.json");
    let mut text = serde_json::to_string_pretty(&summary).map_err(|e| RunError::Sim(e.to_string()))?;
    text.push('\n');
    fs::write(&summary_path, text).map_err(io_err(&summary_path))?;
    if !opts.no_report {
        crate::report::write_report(dir).map_err(|e| RunError::Sim(format!("report: {e}")))?;
    }
    Ok(RunOutcome { summary, events: Vec::new(), wall, explain_lines, experiment: false })
}

/// Writes `pods.csv` from the run's pod log.
fn write_pods_csv(sim: &Sim, path: &Path) -> Result<(), RunError> {
    let file = fs::File::create(path).map_err(io_err(path))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let etcd = &sim.api.etcd;
    let name = |n: crate::model::NodeId| etcd.node_or_deleted(n).map(|n| n.name.to_string()).unwrap_or_default();
    sim.rec.metrics.pod_log.write_csv(&mut w, &name).map_err(io_err(path))?;
    io::Write::flush(&mut w).map_err(io_err(path))
}

/// Groups digits: 1234567 -> "1,234,567".
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The short human summary printed after a run.
pub fn terminal_report(outcome: &RunOutcome, out: Option<&Path>) -> String {
    let s = &outcome.summary;
    if outcome.experiment {
        return crate::openb::output::terminal_report(s, outcome.wall.as_secs_f64(), out);
    }
    let wall = outcome.wall.as_secs_f64().max(1e-9);
    let metric = |k: &str| s.metrics.get(k).and_then(|v| v.as_f64()).unwrap_or(0.0);
    let count = |k: &str| s.metrics.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
    let phases: Vec<String> = s.pods.iter().map(|(p, n)| format!("{p} {}", thousands(*n))).collect();
    let mut text = format!(
        "kubesim {}: {} (seed {})\n  simulated {:.0} s in {:.3} s wall ({:.0}x real time), {} events ({:.2}M events/s)\n",
        s.kubesim_version,
        s.scenario,
        s.seed,
        s.sim_duration_s,
        wall,
        s.sim_duration_s / wall,
        thousands(s.events_processed),
        s.events_processed as f64 / wall / 1e6,
    );
    text += &format!(
        "  {} nodes ({} not ready at the end); pods created {}: {}\n",
        s.nodes,
        count("nodes_not_ready_at_end"),
        thousands(count("pods_created")),
        phases.join(", ")
    );
    text += &format!(
        "  scheduling latency p50 {:.3} s, p99 {:.3} s; {} unschedulable; {} evictions\n",
        metric("scheduling_latency_p50_s"),
        metric("scheduling_latency_p99_s"),
        count("pods_unschedulable"),
        count("evictions"),
    );
    text += &format!(
        "  allocation (time-weighted mean): cpu {:.1}%, memory {:.1}%\n",
        100.0 * metric("cpu_allocation_mean"),
        100.0 * metric("memory_allocation_mean"),
    );
    if let Some(dir) = out {
        // The files the run left, in `OUTPUT_ENTRIES` order (which depend on `[output]`, `--no-report`,
        // `--explain` and the scenario's kind).
        let written: Vec<String> = OUTPUT_ENTRIES
            .iter()
            .filter(|name| dir.join(name).exists())
            .map(|&name| match name {
                "plots" => "plots/".to_string(),
                "explain.jsonl" => format!("explain.jsonl: {} scheduling attempts", thousands(outcome.explain_lines)),
                other => other.to_string(),
            })
            .collect();
        text += &format!("  wrote {}/ ({})\n", dir.display(), written.join(", "));
    }
    text
}
