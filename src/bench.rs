//! `kubesim bench`: the scaling table (wall time, speed-up, events/s, pods/s, peak memory) over cluster and
//! workload sizes.
//!
//! Each size is a generated scenario (see [`scenario_text`]): `nodes` nodes of 16 CPUs / 64 GiB in three zones,
//! and one of two workloads ([`Workload`]):
//! - `churn` (the default): `pods` bare pods of 1 CPU / 2 GiB arriving as a Poisson process over the run, each
//!   running for an exponential time sized so that the cluster is about half full in steady state;
//! - `steady`: one Deployment of `pods` replicas of 100m CPU / 128 MiB that run until the end, created as fast as
//!   the control plane allows (client rate limits raised to 5,000 QPS): every pod stays stored, so peak memory
//!   over pod counts gives the memory per pod.
//!
//! Every size runs in its own
//! child process (`kubesim bench --one`), so that its peak memory (`VmHWM`) is its own; events are discarded and
//! no file is written, as in the criterion benchmarks. Wall-clock time is measured around the run only (never
//! inside it).

use crate::recorder::EventSink;
use crate::run::thousands;
use crate::scenario::Scenario;
use crate::sim::Sim;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

/// One measured size.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Point {
    pub nodes: u64,
    pub pods: u64,
    pub sim_duration_s: f64,
    pub wall_s: f64,
    pub events: u64,
    pub pods_created: u64,
    pub pods_scheduled: u64,
    /// Peak resident memory of the process that ran it (Linux `VmHWM`), if known.
    pub peak_rss_bytes: Option<u64>,
}

impl Point {
    pub fn speedup(&self) -> f64 {
        self.sim_duration_s / self.wall_s.max(1e-9)
    }

    pub fn events_per_s(&self) -> f64 {
        self.events as f64 / self.wall_s.max(1e-9)
    }

    pub fn pods_per_s(&self) -> f64 {
        self.pods_scheduled as f64 / self.wall_s.max(1e-9)
    }
}

/// The generated workload of each size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Workload {
    /// Poisson arrivals of bare pods that finish (the cluster about half full).
    Churn,
    /// One Deployment whose pods all run to the end.
    Steady,
}

impl Workload {
    pub fn as_str(self) -> &'static str {
        match self {
            Workload::Churn => "churn",
            Workload::Steady => "steady",
        }
    }
}

/// The generated scenario of one size.
pub fn scenario_text(nodes: u64, pods: u64, duration_s: u64, workload: Workload) -> String {
    let per_zone = nodes.div_ceil(3);
    let mut pools = String::new();
    let mut left = nodes;
    for zone in ["a", "b", "c"] {
        let count = per_zone.min(left);
        left -= count;
        if count == 0 {
            continue;
        }
        let _ = write!(
            pools,
            "[[cluster.node_pools]]\nname = \"zone-{zone}\"\ncount = {count}\ncpu = \"16\"\nmemory = \"64Gi\"\nzone = \"zone-{zone}\"\n\n"
        );
    }
    if workload == Workload::Steady {
        return format!(
            "[scenario]\nname = \"bench-steady-{nodes}n-{pods}p\"\nseed = 1\nduration = \"{duration_s}s\"\n\n\
             [output]\nplacements = false\npods = false\n\n\
             # Raised so that the pods are created and bound within minutes (defaults: 20 and 50 QPS).\n\
             [timings]\ncontroller_manager_qps = 5000\ncontroller_manager_burst = 5000\n\
             scheduler_qps = 5000\nscheduler_burst = 5000\n\n{pools}\
             [[workloads.deployments]]\nname = \"steady\"\nreplicas = {pods}\n\
             template = {{ requests = {{ cpu = \"100m\", memory = \"128Mi\" }} }}\n"
        );
    }
    // Steady state: rate x mean run time = half the cluster's CPUs (1 CPU per pod).
    let rate_per_s = pods as f64 / duration_s as f64;
    let mean_run_s = (8.0 * nodes as f64 / rate_per_s).max(1.0);
    format!(
        "[scenario]\nname = \"bench-{nodes}n-{pods}p\"\nseed = 1\nduration = \"{duration_s}s\"\n\n\
         [output]\nplacements = false\n\n{pools}\
         [[workloads.arrivals]]\nname = \"load\"\nrate_per_s = {rate_per_s}\nmax_pods = {pods}\n\
         [workloads.arrivals.template]\nrequests = {{ cpu = \"1\", memory = \"2Gi\" }}\n\
         run = {{ dist = \"exponential\", mean = \"{mean_run_s:.0}s\" }}\n"
    )
}

/// Runs one size in this process.
pub fn run_one(nodes: u64, pods: u64, duration_s: u64, workload: Workload) -> Result<Point, String> {
    let text = scenario_text(nodes, pods, duration_s, workload);
    let sc = Scenario::from_str(&text, "<bench>").map_err(|e| e.to_string())?;
    let mut sim = Sim::new(Arc::new(sc.config), EventSink::Discard)?;
    let started = Instant::now();
    sim.run();
    let wall_s = started.elapsed().as_secs_f64();
    let m = &sim.rec.metrics;
    Ok(Point {
        nodes,
        pods,
        sim_duration_s: duration_s as f64,
        wall_s,
        events: sim.events_processed(),
        pods_created: m.pods_created,
        pods_scheduled: m.pods_scheduled,
        peak_rss_bytes: peak_rss_bytes(),
    })
}

/// This process's peak resident set size, from `/proc/self/status` (`VmHWM`, in kB).
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Parses `100,1000,5000` (also `10k`, `1M`).
pub fn parse_sizes(text: &str) -> Result<Vec<u64>, String> {
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (digits, mult) = match part.as_bytes().last() {
            Some(b'k' | b'K') => (&part[..part.len() - 1], 1_000),
            Some(b'M') => (&part[..part.len() - 1], 1_000_000),
            _ => (part, 1),
        };
        let n: u64 = digits.parse().map_err(|_| format!("{part:?} is not a size (expected e.g. 100, 5k, 1M)"))?;
        if n == 0 {
            return Err(format!("{part:?}: sizes must be positive"));
        }
        out.push(n.saturating_mul(mult));
    }
    if out.is_empty() {
        return Err("expected a comma-separated list of sizes".into());
    }
    Ok(out)
}

fn mib(bytes: Option<u64>) -> String {
    bytes.map(|b| format!("{:.0}", b as f64 / (1 << 20) as f64)).unwrap_or_else(|| "-".into())
}

/// The table, as Markdown.
pub fn table(points: &[Point]) -> String {
    let mut t = String::from(
        "| nodes | pods | events | wall (s) | speed-up (x real time) | events/s | pods/s | peak memory (MiB) |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for p in points {
        let _ = writeln!(
            t,
            "| {} | {} | {} | {:.3} | {} | {} | {} | {} |",
            thousands(p.nodes),
            thousands(p.pods),
            thousands(p.events),
            p.wall_s,
            thousands(p.speedup().round() as u64),
            thousands(p.events_per_s().round() as u64),
            thousands(p.pods_per_s().round() as u64),
            mib(p.peak_rss_bytes)
        );
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_scenarios_compile_and_run() {
        let p = run_one(9, 200, 600, Workload::Churn).expect("runs");
        assert_eq!(p.nodes, 9);
        assert!(p.pods_created > 100 && p.pods_created <= 200, "{p:?}");
        assert_eq!(p.pods_scheduled, p.pods_created, "half-full cluster: every pod fits");
        assert!(p.events > p.pods_created);
        let p = run_one(9, 500, 600, Workload::Steady).expect("runs");
        assert_eq!((p.pods_created, p.pods_scheduled), (500, 500), "every replica created and bound: {p:?}");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_sizes("100, 5k,1M").expect("ok"), vec![100, 5000, 1_000_000]);
        assert!(parse_sizes("0").is_err());
        assert!(parse_sizes("ten").is_err());
        assert!(parse_sizes("").is_err());
    }
}
