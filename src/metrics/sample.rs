//! Fixed-interval samples of the cluster: `timeseries.csv`, `placements.csv`, and the sample-based summary
//! metrics (imbalance, fragmentation, topology skew).
//!
//! Samples are taken at 0, I, 2I, ... up to the end of the run. The simulator takes the sample at `s` just
//! before it processes the first event later than `s`, so a sample shows the state after every event at times
//! `<= s`. Sampling only reads state: it adds no event to the queue, so turning it on or changing its interval
//! changes nothing else in a run.

use super::Collector;
use super::nodes::{Amounts, gpu_milli};
use crate::etcd::Versioned;
use crate::model::{Node, Str, TaintEffect};
use crate::sim::NodePool;
use crate::time::{SimDuration, SimTime, write_secs};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};

pub const TIMESERIES_HEADER: &str = "time_s,nodes,nodes_ready,nodes_schedulable,pods_pending,pods_bound,pods_running,\
cpu_allocation,memory_allocation,gpu_allocation,cpu_allocation_stdev,memory_allocation_stdev,cpu_fragmentation,\
memory_fragmentation,evictions,preemptions,container_restarts,workloads_degraded";

pub const PLACEMENTS_HEADER: &str = "time_s,node,pool,zone,cpu_millis_allocatable,memory_bytes_allocatable,\
gpu_milli_allocatable,workload,pods,cpu_millis,memory_bytes,gpu_milli";

/// The `[output]` section of a scenario, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputConfig {
    pub sample_interval: SimDuration,
    /// The pod shape fragmentation is measured against.
    pub reference_pod: Amounts,
    /// Write `placements.csv` (one row per sample, node and workload).
    pub placements: bool,
    /// Keep every pod's timestamps for `pods.csv` (about 100 bytes per pod ever created); `false` leaves the
    /// file with only its header.
    pub pods: bool,
}

impl OutputConfig {
    /// The default interval: about 200 samples per run, on a 1-2-5 step of whole seconds.
    pub fn default_interval(duration: SimDuration) -> SimDuration {
        let target_s = duration.as_secs_f64() / 200.0;
        let mut step = 1u64;
        loop {
            for m in [1, 2, 5] {
                if (step * m) as f64 >= target_s {
                    return SimDuration::from_secs(step * m);
                }
            }
            step *= 10;
        }
    }
}

/// Where samples go while a run writes files.
pub struct SampleWriters {
    pub timeseries: Box<dyn Write>,
    pub placements: Option<Box<dyn Write>>,
}

/// Per-workload topology figures (Deployments only).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SkewStat {
    pub zone_skew_max: i64,
    pub zone_skew_end: i64,
    pub pods_per_node_max_end: i64,
}

/// Sample-based summary accumulators.
#[derive(Clone, Debug, Default)]
pub struct SampleStats {
    pub samples: u64,
    /// Sums over samples of the stdev across nodes of the per-node allocation ratio: cpu, memory, gpu.
    pub imbalance_sum: [f64; 3],
    /// Sums over samples of the fragmentation share: cpu, memory.
    pub fragmentation_sum: [f64; 2],
    /// Samples where the cluster had free capacity (denominators of the fragmentation means).
    pub fragmentation_samples: [u64; 2],
    /// Sum over samples of the GPU fragmentation share, and the samples that had one.
    pub gpu_frag_sum: f64,
    pub gpu_frag_samples: u64,
    pub skew: BTreeMap<Str, SkewStat>,
}

/// Takes samples on the simulator's behalf.
pub struct Sampler {
    pub cfg: OutputConfig,
    next: SimTime,
    end: SimTime,
    writers: Option<SampleWriters>,
    io_error: Option<io::Error>,
    pub stats: SampleStats,
    /// Zone names seen so far, and each node's zone index (by node index).
    zone_names: Vec<Str>,
    node_zone: Vec<Option<u32>>,
    line: String,
    /// Each node's fixed `placements.csv` columns, by node index.
    prefixes: Vec<Option<String>>,
}

/// One node as a sample sees it.
struct NodeView<'a> {
    index: usize,
    node: &'a Node,
    agg: Option<&'a super::nodes::NodeAgg>,
    alloc: Amounts,
    used: Amounts,
    schedulable: bool,
}

impl Sampler {
    pub fn new(cfg: OutputConfig, end: SimTime) -> Sampler {
        Sampler {
            cfg,
            next: SimTime::ZERO,
            end,
            writers: None,
            io_error: None,
            stats: SampleStats::default(),
            zone_names: Vec::new(),
            node_zone: Vec::new(),
            line: String::with_capacity(256),
            prefixes: Vec::new(),
        }
    }

    /// Sends samples to files; writes the headers.
    pub fn set_writers(&mut self, mut w: SampleWriters) {
        let mut r = writeln!(w.timeseries, "{TIMESERIES_HEADER}");
        if let Some(p) = &mut w.placements {
            r = r.and_then(|_| writeln!(p, "{PLACEMENTS_HEADER}"));
        }
        if let Err(e) = r {
            self.io_error = Some(e);
        }
        self.writers = Some(w);
    }

    /// The time of the next sample due.
    #[inline]
    pub fn next(&self) -> SimTime {
        self.next
    }

    /// Takes every sample due at times `< t` (or `<= t` with `inclusive`), never past the end of the run.
    pub fn take_until(&mut self, t: SimTime, inclusive: bool, world: &SampleWorld) {
        while (self.next < t || (inclusive && self.next == t)) && self.next <= self.end {
            let at = self.next;
            self.take(at, world);
            self.next = at.add(self.cfg.sample_interval);
        }
    }

    /// Flushes the files and reports the first write error.
    pub fn finish(&mut self) -> io::Result<()> {
        if let Some(e) = self.io_error.take() {
            return Err(e);
        }
        if let Some(w) = &mut self.writers {
            w.timeseries.flush()?;
            if let Some(p) = &mut w.placements {
                p.flush()?;
            }
        }
        Ok(())
    }

    fn take(&mut self, at: SimTime, world: &SampleWorld) {
        let views = world.views();
        let c = world.metrics;
        let mut alloc = Amounts::default();
        let mut used = Amounts::default();
        let (mut ready, mut schedulable) = (0u64, 0u64);
        for v in &views {
            add(&mut alloc, &v.alloc);
            add(&mut used, &v.used);
            ready += u64::from(v.node.is_ready());
            schedulable += u64::from(v.schedulable);
        }
        let ratio = |u: i64, a: i64| if a > 0 { u as f64 / a as f64 } else { 0.0 };
        let stdev = [
            stdev_of(
                views.iter().filter(|v| v.alloc.cpu_millis > 0).map(|v| ratio(v.used.cpu_millis, v.alloc.cpu_millis)),
            ),
            stdev_of(
                views
                    .iter()
                    .filter(|v| v.alloc.memory_bytes > 0)
                    .map(|v| ratio(v.used.memory_bytes, v.alloc.memory_bytes)),
            ),
            stdev_of(
                views.iter().filter(|v| v.alloc.gpu_milli > 0).map(|v| ratio(v.used.gpu_milli, v.alloc.gpu_milli)),
            ),
        ];
        let frag = fragmentation(&views, &self.cfg.reference_pod);
        let s = &mut self.stats;
        s.samples += 1;
        if let Some(g) = world.gpu_frag {
            s.gpu_frag_sum += g;
            s.gpu_frag_samples += 1;
        }
        for (sum, x) in s.imbalance_sum.iter_mut().zip(stdev) {
            *sum += x;
        }
        for (i, f) in frag.iter().enumerate() {
            if let Some(f) = *f {
                s.fragmentation_sum[i] += f;
                s.fragmentation_samples[i] += 1;
            }
        }
        self.skew(&views, &c.nodes.deployments);
        if self.writers.is_none() || self.io_error.is_some() {
            return;
        }
        let line = &mut self.line;
        line.clear();
        write_secs(line, at.micros());
        let running = c.pods_running.max(0);
        let _ = write!(
            line,
            ",{},{ready},{schedulable},{},{},{running}",
            views.len(),
            c.pending.value.max(0),
            used.pods.max(0)
        );
        for x in [
            ratio(used.cpu_millis, alloc.cpu_millis),
            ratio(used.memory_bytes, alloc.memory_bytes),
            ratio(used.gpu_milli, alloc.gpu_milli),
            stdev[0],
            stdev[1],
            frag[0].unwrap_or(0.0),
            frag[1].unwrap_or(0.0),
        ] {
            let _ = write!(line, ",{}", fmt6(x));
        }
        let _ = writeln!(
            line,
            ",{},{},{},{}",
            c.evictions,
            c.preemptions,
            c.container_restarts,
            c.recovery.degraded_count()
        );
        let Some(w) = &mut self.writers else { return };
        let mut r = w.timeseries.write_all(line.as_bytes());
        if let Some(p) = &mut w.placements
            && r.is_ok()
        {
            r = write_placements(p.as_mut(), line, &mut self.prefixes, at, &views, world);
        }
        if let Err(e) = r {
            self.io_error = Some(e);
        }
    }

    /// Zone skew (max - min pods over the zones of existing nodes) and the most pods on one node, per Deployment.
    fn skew(&mut self, views: &[NodeView], deployments: &[Str]) {
        if deployments.is_empty() {
            return;
        }
        // One pass over the (node, Deployment) entries, zones cached per node: no string comparison per sample.
        let node_zones: Vec<usize> = views.iter().map(|v| self.zone_of(v)).collect();
        let zones = self.zone_names.len().max(1);
        let mut per_zone = vec![0i64; deployments.len() * zones];
        let mut per_node_max = vec![0i64; deployments.len()];
        let mut present = vec![false; zones];
        for (v, &z) in views.iter().zip(&node_zones) {
            present[z] = true;
            let Some(agg) = v.agg else { continue };
            for &(d, pods) in &agg.by_deployment {
                let d = d as usize;
                per_zone[d * zones + z] += pods;
                per_node_max[d] = per_node_max[d].max(pods);
            }
        }
        for (d, name) in deployments.iter().enumerate() {
            // Over the zones of the nodes that exist now.
            let counts =
                per_zone[d * zones..(d + 1) * zones].iter().zip(&present).filter(|(_, p)| **p).map(|(c, _)| *c);
            let (lo, hi) = counts.fold((i64::MAX, i64::MIN), |(lo, hi), c| (lo.min(c), hi.max(c)));
            let skew = if hi >= lo { hi - lo } else { 0 };
            let st = self.stats.skew.entry(name.clone()).or_default();
            st.zone_skew_max = st.zone_skew_max.max(skew);
            st.zone_skew_end = skew;
            st.pods_per_node_max_end = per_node_max[d];
        }
    }

    /// The index of a node's zone, cached by node index (a node's labels never change its zone here).
    fn zone_of(&mut self, v: &NodeView) -> usize {
        if let Some(Some(z)) = self.node_zone.get(v.index) {
            return *z as usize;
        }
        let name = v.node.zone().cloned().unwrap_or_else(|| Str::from(""));
        let z = match self.zone_names.iter().position(|n| *n == name) {
            Some(z) => z,
            None => {
                self.zone_names.push(name);
                self.zone_names.len() - 1
            }
        };
        if self.node_zone.len() <= v.index {
            self.node_zone.resize(v.index + 1, None);
        }
        self.node_zone[v.index] = Some(z as u32);
        z
    }
}

/// What a sample reads: the committed nodes and the collector's incremental aggregates.
pub struct SampleWorld<'a> {
    pub nodes: &'a [Option<Versioned<Node>>],
    pub metrics: &'a Collector,
    pub pools: &'a [NodePool],
    /// The cluster's GPU fragmentation (FGD measure, share of GPU milli), when it has GPUs.
    pub gpu_frag: Option<f64>,
}

impl<'a> SampleWorld<'a> {
    fn views(&self) -> Vec<NodeView<'a>> {
        let mut out = Vec::with_capacity(self.nodes.len());
        for (i, n) in self.nodes.iter().enumerate() {
            let Some(n) = n else { continue };
            let node = &*n.obj;
            let agg = self.metrics.nodes.get(i);
            let used = agg.map(|a| a.total).unwrap_or_default();
            let alloc = Amounts {
                pods: node.allocatable_pods,
                cpu_millis: node.allocatable.cpu_millis,
                memory_bytes: node.allocatable.memory_bytes,
                gpu_milli: gpu_milli(&node.allocatable),
            };
            out.push(NodeView { index: i, node, agg, alloc, used, schedulable: schedulable(node) });
        }
        out
    }
}

/// Ready, not cordoned, and not tainted by the node lifecycle controller (user taints on a pool, such as a
/// dedicated GPU pool's, do not make it unschedulable for the pods that tolerate them).
fn schedulable(node: &Node) -> bool {
    node.is_ready()
        && !node.unschedulable
        && !node.taints.iter().any(|t| {
            matches!(t.effect, TaintEffect::NoSchedule | TaintEffect::NoExecute)
                && (t.key.starts_with("node.kubernetes.io/") || t.key.starts_with("node.cloudprovider.kubernetes.io/"))
        })
}

fn add(a: &mut Amounts, b: &Amounts) {
    a.pods += b.pods;
    a.cpu_millis += b.cpu_millis;
    a.memory_bytes += b.memory_bytes;
    a.gpu_milli += b.gpu_milli;
}

/// Population standard deviation; 0 for no values.
fn stdev_of(values: impl Iterator<Item = f64>) -> f64 {
    let (mut n, mut sum, mut sq) = (0u64, 0.0, 0.0);
    for x in values {
        n += 1;
        sum += x;
        sq += x * x;
    }
    if n == 0 {
        return 0.0;
    }
    let mean = sum / n as f64;
    (sq / n as f64 - mean * mean).max(0.0).sqrt()
}

/// The share of the free CPU and memory of schedulable nodes that no further reference pod can use: on each
/// node, `k` reference pods fit (limited by every requested resource and the pod slots); what is left after
/// them is stranded. `None` when no schedulable node has any of that resource free.
fn fragmentation(views: &[NodeView], reference: &Amounts) -> [Option<f64>; 2] {
    let (mut free, mut stranded) = ([0i128; 2], [0i128; 2]);
    for v in views.iter().filter(|v| v.schedulable) {
        let f = [
            (v.alloc.cpu_millis - v.used.cpu_millis).max(0),
            (v.alloc.memory_bytes - v.used.memory_bytes).max(0),
            (v.alloc.gpu_milli - v.used.gpu_milli).max(0),
            (v.alloc.pods - v.used.pods).max(0),
        ];
        let need = [reference.cpu_millis, reference.memory_bytes, reference.gpu_milli, 1];
        let k = f.iter().zip(need).filter(|(_, n)| *n > 0).map(|(f, n)| f / n).min().unwrap_or(0);
        for i in 0..2 {
            free[i] += i128::from(f[i]);
            stranded[i] += i128::from(f[i] - k * need[i]);
        }
    }
    [0, 1].map(|i| if free[i] > 0 { Some(stranded[i] as f64 / free[i] as f64) } else { None })
}

/// Six decimals, trailing zeros trimmed ("0.5", "0.333333", "0").
pub fn fmt6(x: f64) -> String {
    let r = (x * 1e6).round() / 1e6;
    let mut s = format!("{r:.6}");
    while s.ends_with('0') {
        s.pop();
    }
    if s.ends_with('.') {
        s.pop();
    }
    if s == "-0" { "0".to_string() } else { s }
}

/// Appends the decimal digits of `v` (itoa: several times cheaper than `write!`, which placements.csv would
/// otherwise spend most of a sample's time in).
#[inline]
pub fn push_i64(line: &mut String, v: i64) {
    line.push_str(itoa::Buffer::new().format(v));
}

/// `node,pool,zone,cpu_millis_allocatable,memory_bytes_allocatable,gpu_milli_allocatable,` of one node: fixed
/// for the node's life, so formatted once.
fn node_prefix(v: &NodeView, world: &SampleWorld) -> String {
    let node = v.node;
    let mut p = String::with_capacity(96);
    crate::recorder::push_csv_field(&mut p, &node.name);
    p.push(',');
    let pool = world.pools.get(node.pool as usize).map(|p| &*p.name).unwrap_or("");
    crate::recorder::push_csv_field(&mut p, pool);
    p.push(',');
    crate::recorder::push_csv_field(&mut p, node.zone().map(|z| &**z).unwrap_or(""));
    for x in [v.alloc.cpu_millis, v.alloc.memory_bytes, v.alloc.gpu_milli] {
        p.push(',');
        push_i64(&mut p, x);
    }
    p.push(',');
    p
}

fn write_placements(
    w: &mut dyn Write,
    line: &mut String,
    prefixes: &mut Vec<Option<String>>,
    at: SimTime,
    views: &[NodeView],
    world: &SampleWorld,
) -> io::Result<()> {
    let mut time = String::with_capacity(16);
    write_secs(&mut time, at.micros());
    time.push(',');
    line.clear();
    for v in views {
        if prefixes.len() <= v.index {
            prefixes.resize(v.index + 1, None);
        }
        let prefix = prefixes[v.index].get_or_insert_with(|| node_prefix(v, world));
        let rows = v.agg.map(|a| a.by_workload.len()).unwrap_or(0);
        if rows == 0 {
            line.push_str(&time);
            line.push_str(prefix);
            line.push_str(",0,0,0,0\n");
        }
        for (name, a) in v.agg.iter().flat_map(|a| a.by_workload.iter()) {
            line.push_str(&time);
            line.push_str(prefix);
            crate::recorder::push_csv_field(line, name);
            for x in [a.pods, a.cpu_millis, a.memory_bytes, a.gpu_milli] {
                line.push(',');
                push_i64(line, x);
            }
            line.push('\n');
        }
        if line.len() > 1 << 16 {
            w.write_all(line.as_bytes())?;
            line.clear();
        }
    }
    w.write_all(line.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_interval_is_a_1_2_5_step() {
        let s = |x| OutputConfig::default_interval(SimDuration::from_secs(x)).as_secs_f64();
        assert_eq!(s(2400), 20.0);
        assert_eq!(s(100), 1.0);
        assert_eq!(s(1000), 5.0);
        assert_eq!(s(86_400), 500.0);
        assert_eq!(s(1), 1.0);
    }

    #[test]
    fn stdev_and_format() {
        assert_eq!(stdev_of([0.0, 1.0].into_iter()), 0.5);
        assert_eq!(stdev_of(std::iter::empty()), 0.0);
        assert_eq!(fmt6(0.5), "0.5");
        assert_eq!(fmt6(1.0 / 3.0), "0.333333");
        assert_eq!(fmt6(0.0), "0");
        assert_eq!(fmt6(1.0), "1");
        for v in [0, 7, -7, 10, 1234567890, i64::MAX, i64::MIN] {
            let mut s = String::new();
            push_i64(&mut s, v);
            assert_eq!(s, v.to_string());
        }
    }
}
