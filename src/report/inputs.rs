//! Readers for a run directory's output files (the issue-6 contract: summary.json, events.csv, timeseries.csv,
//! placements.csv, pods.csv). Columns are read by header name, extra columns and keys are ignored, and every
//! problem is a [`ReportError`] naming the file (and line), so that older or newer runs fail clearly, not by panic.

use super::csvread::CsvFile;
use super::error::ReportError;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// One entry of summary.json's `fault_recovery`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct FaultRecovery {
    pub time_s: f64,
    pub verb: String,
    #[serde(default)]
    pub targets: String,
    /// `None`: never recovered before the next fault or the end.
    #[serde(default)]
    pub recovery_s: Option<f64>,
}

/// summary.json, with every field optional except that it must be a JSON object: the report shows what is there.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Summary {
    #[serde(default)]
    pub scenario: String,
    #[serde(default)]
    pub seed: Option<u64>,
    #[serde(default)]
    pub kubesim_version: String,
    #[serde(default)]
    pub sim_duration_s: Option<f64>,
    #[serde(default)]
    pub events_processed: Option<u64>,
    #[serde(default)]
    pub nodes: Option<u64>,
    #[serde(default)]
    pub pods: BTreeMap<String, u64>,
    /// Raw values: numbers are kept by [`Summary::numeric_metrics`], anything else is ignored.
    #[serde(default)]
    pub metrics: BTreeMap<String, Value>,
    #[serde(default)]
    pub pending_reasons: BTreeMap<String, u64>,
    #[serde(default)]
    pub unschedulable_reasons: BTreeMap<String, u64>,
    #[serde(default)]
    pub fault_recovery: Option<Vec<FaultRecovery>>,
}

impl Summary {
    /// The metrics that are numbers.
    pub fn numeric_metrics(&self) -> BTreeMap<String, f64> {
        self.metrics.iter().filter_map(|(k, v)| v.as_f64().map(|x| (k.clone(), x))).collect()
    }

    pub fn metric(&self, name: &str) -> Option<f64> {
        self.metrics.get(name).and_then(Value::as_f64)
    }
}

pub fn read_summary(path: &Path) -> Result<Summary, ReportError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| ReportError::input(path, None, format!("cannot read: {e}")))?;
    serde_json::from_str(&text).map_err(|e| {
        let line = u64::try_from(e.line()).ok().filter(|l| *l > 0);
        ReportError::input(path, line, format!("malformed summary: {e}"))
    })
}

/// A FaultInjected or FaultHealed row of events.csv.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultEvent {
    pub time_s: f64,
    /// True for FaultInjected, false for FaultHealed.
    pub injected: bool,
    pub verb: String,
    pub target: String,
    pub detail: String,
}

/// The fault rows of events.csv (other rows are only checked for CSV shape).
pub fn read_fault_events(path: &Path) -> Result<Vec<FaultEvent>, ReportError> {
    let file = CsvFile::open(path)?;
    let c = file.columns(&["time_s", "event", "name", "node", "detail"])?;
    let mut out = Vec::new();
    file.for_each(|r| {
        let injected = match r.str(&c, 1) {
            "FaultInjected" => true,
            "FaultHealed" => false,
            _ => return Ok(()),
        };
        out.push(FaultEvent {
            time_s: r.f64(&c, 0)?,
            injected,
            verb: r.str(&c, 2).to_string(),
            target: r.str(&c, 3).to_string(),
            detail: r.str(&c, 4).to_string(),
        });
        Ok(())
    })?;
    Ok(out)
}

/// One row of timeseries.csv (the columns the report draws).
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub time_s: f64,
    pub nodes: u64,
    pub pods_pending: u64,
    pub cpu_allocation: f64,
    pub memory_allocation: f64,
    pub gpu_allocation: f64,
}

pub fn read_timeseries(path: &Path) -> Result<Vec<Sample>, ReportError> {
    let file = CsvFile::open(path)?;
    let c =
        file.columns(&["time_s", "nodes", "pods_pending", "cpu_allocation", "memory_allocation", "gpu_allocation"])?;
    let mut out = Vec::new();
    file.for_each(|r| {
        out.push(Sample {
            time_s: r.f64(&c, 0)?,
            nodes: r.u64(&c, 1)?,
            pods_pending: r.u64(&c, 2)?,
            cpu_allocation: r.f64(&c, 3)?,
            memory_allocation: r.f64(&c, 4)?,
            gpu_allocation: r.f64(&c, 5)?,
        });
        Ok(())
    })?;
    Ok(out)
}

/// One row of placements.csv: what one workload holds on one node at one sample (`workload` empty: nothing).
#[derive(Clone, Debug, PartialEq)]
pub struct Placement {
    pub time_s: f64,
    pub node: String,
    pub cpu_millis_allocatable: f64,
    pub workload: String,
    pub pods: u64,
    pub cpu_millis: f64,
}

pub fn read_placements(path: &Path) -> Result<Vec<Placement>, ReportError> {
    let file = CsvFile::open(path)?;
    let c = file.columns(&["time_s", "node", "cpu_millis_allocatable", "workload", "pods", "cpu_millis"])?;
    let mut out = Vec::new();
    file.for_each(|r| {
        out.push(Placement {
            time_s: r.f64(&c, 0)?,
            node: r.str(&c, 1).to_string(),
            cpu_millis_allocatable: r.f64(&c, 2)?,
            workload: r.str(&c, 3).to_string(),
            pods: r.u64(&c, 4)?,
            cpu_millis: r.f64(&c, 5)?,
        });
        Ok(())
    })?;
    Ok(out)
}

/// The times of one pod that the report uses (pods.csv).
#[derive(Clone, Debug, PartialEq)]
pub struct PodTimes {
    pub created_s: f64,
    pub scheduled_s: Option<f64>,
}

impl PodTimes {
    /// Creation to binding; `None` for a pod never bound.
    pub fn scheduling_latency_s(&self) -> Option<f64> {
        self.scheduled_s.map(|s| (s - self.created_s).max(0.0))
    }
}

pub fn read_pods(path: &Path) -> Result<Vec<PodTimes>, ReportError> {
    let file = CsvFile::open(path)?;
    let c = file.columns(&["created_s", "scheduled_s"])?;
    let mut out = Vec::new();
    file.for_each(|r| {
        out.push(PodTimes { created_s: r.f64(&c, 0)?, scheduled_s: r.opt_f64(&c, 1)? });
        Ok(())
    })?;
    Ok(out)
}

/// Everything the report of one run reads.
pub struct RunData {
    pub summary: Summary,
    pub faults: Vec<FaultEvent>,
    pub samples: Vec<Sample>,
    pub placements: Vec<Placement>,
    pub pods: Vec<PodTimes>,
}

/// Reads all five files of a run directory. `placements.csv` may be absent (a run with `[output] placements =
/// false` does not write it): its plots then say so.
pub fn read_run(dir: &Path) -> Result<RunData, ReportError> {
    let placements = dir.join("placements.csv");
    Ok(RunData {
        summary: read_summary(&dir.join("summary.json"))?,
        faults: read_fault_events(&dir.join("events.csv"))?,
        samples: read_timeseries(&dir.join("timeseries.csv"))?,
        placements: if placements.exists() { read_placements(&placements)? } else { Vec::new() },
        pods: read_pods(&dir.join("pods.csv"))?,
    })
}

/// The scheduling latencies of the bound pods, sorted ascending.
pub fn sorted_latencies_s(pods: &[PodTimes]) -> Vec<f64> {
    let mut v: Vec<f64> = pods.iter().filter_map(PodTimes::scheduling_latency_s).collect();
    v.sort_by(f64::total_cmp);
    v
}
