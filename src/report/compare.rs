//! `kubesim compare RUN_A RUN_B`: a paired comparison of two run directories.
//!
//! Typical use: two scheduling profiles run with the same seed (common random numbers), so that the arrivals and
//! faults are identical and the difference in each metric is the profile's effect, not noise. The comparison says
//! whether the runs are paired that way, and for the metrics whose good direction is known, which run is better.

use super::cdf::{Curve, LatencyCdf};
use super::error::write_err;
use super::format::{self, html_escape};
use super::html::{self, Cell, num, text};
use super::inputs::{self, Summary};
use super::timeline::{Series, Timeline};
use super::{ReportError, ReportFiles, draw};
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// Which way a metric should move.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    Lower,
    Higher,
}

/// The known good direction of a metric, from its name (see the output contract): allocation means and
/// bindings up; latencies, pending, imbalance, fragmentation, restarts, failures, losses, recovery times, skew,
/// evictions and preemptions down. Anything else (API traffic, counts of created pods, ...) has none.
pub fn direction(name: &str) -> Option<Better> {
    let n = name.to_ascii_lowercase();
    if n.ends_with("_allocation_mean") || n == "pods_scheduled" {
        return Some(Better::Higher);
    }
    const LOWER: [&str; 12] = [
        "latency",
        "pending",
        "imbalance",
        "fragmentation",
        "restarts",
        "failed",
        "lost",
        "recover",
        "skew",
        "eviction",
        "preemption",
        "unschedulable",
    ];
    LOWER.iter().any(|w| n.contains(w)).then_some(Better::Lower)
}

/// One compared metric.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub name: String,
    pub a: Option<f64>,
    pub b: Option<f64>,
}

impl Row {
    pub fn delta(&self) -> Option<f64> {
        Some(self.b? - self.a?)
    }

    /// (B - A) / |A|; `None` when A is 0 and B is not (no meaningful ratio) or either is missing.
    pub fn relative(&self) -> Option<f64> {
        let (a, d) = (self.a?, self.delta()?);
        if d == 0.0 {
            Some(0.0)
        } else if a == 0.0 {
            None
        } else {
            Some(d / a.abs())
        }
    }

    /// "A", "B", "same", or "" when the direction is unknown or a value is missing.
    pub fn verdict(&self) -> &'static str {
        let (Some(dir), Some(d)) = (direction(&self.name), self.delta()) else { return "" };
        if d == 0.0 {
            return "same";
        }
        match (dir, d < 0.0) {
            (Better::Lower, true) | (Better::Higher, false) => "B",
            _ => "A",
        }
    }
}

/// Two runs' summaries, side by side.
pub struct Comparison {
    pub a_dir: PathBuf,
    pub b_dir: PathBuf,
    pub a: Summary,
    pub b: Summary,
    pub rows: Vec<Row>,
}

/// Numeric metrics plus pods by phase (as `pods.<Phase>`).
fn numbers(s: &Summary) -> std::collections::BTreeMap<String, f64> {
    let mut m = s.numeric_metrics();
    for (phase, n) in &s.pods {
        m.insert(format!("pods.{phase}"), *n as f64);
    }
    m
}

/// Reads both runs' summary.json and lines up every numeric metric present in either.
pub fn compare(a_dir: &Path, b_dir: &Path) -> Result<Comparison, ReportError> {
    let a = inputs::read_summary(&a_dir.join("summary.json"))?;
    let b = inputs::read_summary(&b_dir.join("summary.json"))?;
    let (ma, mb) = (numbers(&a), numbers(&b));
    let names: BTreeSet<&String> = ma.keys().chain(mb.keys()).collect();
    let rows =
        names.into_iter().map(|n| Row { name: n.clone(), a: ma.get(n).copied(), b: mb.get(n).copied() }).collect();
    Ok(Comparison { a_dir: a_dir.to_path_buf(), b_dir: b_dir.to_path_buf(), a, b, rows })
}

impl Comparison {
    /// Whether the runs are paired (same seed and same simulated duration), in one sentence.
    pub fn pairing(&self) -> String {
        let (a, b) = (&self.a, &self.b);
        let mut why = Vec::new();
        if a.seed != b.seed {
            why.push(format!("seeds differ ({} vs {})", opt(a.seed), opt(b.seed)));
        }
        if a.sim_duration_s != b.sim_duration_s {
            why.push(format!("durations differ ({} s vs {} s)", opt(a.sim_duration_s), opt(b.sim_duration_s)));
        }
        if why.is_empty() {
            let mut s = format!("paired: same seed ({}) and duration ({} s)", opt(a.seed), opt(a.sim_duration_s));
            if a.scenario != b.scenario {
                s += &format!("; scenarios {:?} and {:?}", a.scenario, b.scenario);
            }
            s
        } else {
            format!("NOT paired: {}; differences include sampling noise", why.join(", "))
        }
    }

    /// The cells of one row, as displayed (text and HTML alike).
    fn cells(r: &Row) -> [String; 6] {
        let v = |x: Option<f64>| x.map_or_else(|| "-".to_string(), |x| format::metric(&r.name, x));
        let d = r.delta().map_or_else(|| "-".to_string(), |d| format::delta(&r.name, d));
        let rel = match (r.relative(), r.delta()) {
            (Some(x), _) => format!("{:+.1}%", 100.0 * x),
            (None, Some(_)) => "n/a".to_string(),
            (None, None) => "-".to_string(),
        };
        let better = match r.verdict() {
            "A" => "A better",
            "B" => "B better",
            other => other,
        };
        [r.name.clone(), v(r.a), v(r.b), d, rel, better.to_string()]
    }

    /// The plain-text table printed by `kubesim compare`.
    pub fn table_text(&self) -> String {
        let mut out = format!("A: {}\nB: {}\n{}\n\n", self.a_dir.display(), self.b_dir.display(), self.pairing());
        let head = ["metric", "A", "B", "delta (B-A)", "rel", "better"].map(String::from);
        let rows: Vec<[String; 6]> = std::iter::once(head).chain(self.rows.iter().map(Self::cells)).collect();
        let mut widths = [0usize; 6];
        for r in &rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        for r in &rows {
            let mut line = format!("{:<w$}", r[0], w = widths[0]);
            for i in 1..5 {
                line += &format!("  {:>w$}", r[i], w = widths[i]);
            }
            line += &format!("  {}", r[5]);
            out += line.trim_end();
            out.push('\n');
        }
        out
    }
}

fn opt<T: std::fmt::Display>(x: Option<T>) -> String {
    x.map_or_else(|| "?".to_string(), |v| v.to_string())
}

/// The plots of `compare --out`.
pub const COMPARE_PLOTS: [&str; 2] = ["allocation-overlay", "latency-cdf-overlay"];

/// Writes `out/compare.html` and the overlay plots into `out/plots/`; reads both runs' timeseries.csv and pods.csv.
pub fn write_compare(cmp: &Comparison, out: &Path) -> Result<ReportFiles, ReportError> {
    let sa = inputs::read_timeseries(&cmp.a_dir.join("timeseries.csv"))?;
    let sb = inputs::read_timeseries(&cmp.b_dir.join("timeseries.csv"))?;
    let pa = inputs::read_pods(&cmp.a_dir.join("pods.csv"))?;
    let pb = inputs::read_pods(&cmp.b_dir.join("pods.csv"))?;
    let plots_dir = out.join("plots");
    fs::create_dir_all(&plots_dir).map_err(write_err(&plots_dir))?;
    let time = Timeline {
        caption: "Allocation and pending pods: A solid, B dashed".to_string(),
        runs: vec![Series { label: "A".into(), samples: &sa }, Series { label: "B".into(), samples: &sb }],
        faults: &[],
    };
    let cdf = LatencyCdf {
        caption: "Scheduling latency CDF: A solid, B dashed".to_string(),
        curves: vec![
            Curve { label: "A".into(), sorted_s: inputs::sorted_latencies_s(&pa) },
            Curve { label: "B".into(), sorted_s: inputs::sorted_latencies_s(&pb) },
        ],
    };
    let r = [draw(&time, &plots_dir, COMPARE_PLOTS[0])?, draw(&cdf, &plots_dir, COMPARE_PLOTS[1])?];
    let html_path = out.join("compare.html");
    fs::write(&html_path, compare_html(cmp, &r)).map_err(write_err(&html_path))?;
    Ok(ReportFiles { html: html_path, plots: r.iter().flat_map(|x| [x.png.clone(), x.svg_path.clone()]).collect() })
}

fn compare_html(cmp: &Comparison, plots: &[crate::plot::render::Rendered; 2]) -> String {
    let mut body = String::from("<h1>kubesim comparison</h1>\n");
    let run = |label: &str, dir: &Path, s: &Summary| {
        format!(
            "<li><b>{label}</b>: <code>{}</code>, scenario {}, seed {}</li>\n",
            html_escape(&dir.display().to_string()),
            html_escape(&s.scenario),
            html_escape(&opt(s.seed))
        )
    };
    body += "<ul>\n";
    body += &run("A", &cmp.a_dir, &cmp.a);
    body += &run("B", &cmp.b_dir, &cmp.b);
    body += "</ul>\n";
    body += &format!("<p class=\"meta\">{}</p>\n<h2>Metrics</h2>\n", html_escape(&cmp.pairing()));
    let rows: Vec<Vec<Cell>> = cmp
        .rows
        .iter()
        .map(|r| {
            let [name, a, b, d, rel, better] = Comparison::cells(r);
            let class = match r.verdict() {
                "B" => "better",
                "A" => "worse",
                _ => "",
            };
            vec![text(name), num(a), num(b), num(d), num(rel), Cell { text: better, class }]
        })
        .collect();
    body += &html::table(&["metric", "A", "B", "delta (B-A)", "rel", "better"], &rows);
    body += "<h2>Plots</h2>\n";
    let captions =
        ["Allocation and pending pods over time, A solid and B dashed.", "Scheduling latency CDFs of A and B."];
    for (i, p) in plots.iter().enumerate() {
        body += &html::figure(&p.svg, captions[i], &format!("{}.png", COMPARE_PLOTS[i]));
    }
    html::page("kubesim comparison", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directions_follow_the_contract() {
        for lower in [
            "scheduling_latency_p99_s",
            "pods_pending_max",
            "pending_pod_seconds",
            "cpu_allocation_imbalance",
            "memory_fragmentation_mean",
            "container_restarts",
            "pods_failed",
            "pods_lost",
            "fault_recovery_max_s",
            "faults_unrecovered",
            "workload.web.zone_skew_max",
            "evictions",
            "preemptions",
            "pods.Pending",
        ] {
            assert_eq!(direction(lower), Some(Better::Lower), "{lower}");
        }
        for higher in ["cpu_allocation_mean", "gpu_allocation_mean", "pods_scheduled"] {
            assert_eq!(direction(higher), Some(Better::Higher), "{higher}");
        }
        for none in ["api_requests", "pods_created", "etcd_revision"] {
            assert_eq!(direction(none), None, "{none}");
        }
    }

    #[test]
    fn verdicts_and_relative_deltas() {
        let row = |name: &str, a, b| Row { name: name.into(), a, b };
        assert_eq!(row("evictions", Some(4.0), Some(2.0)).verdict(), "B");
        assert_eq!(row("cpu_allocation_mean", Some(0.5), Some(0.4)).verdict(), "A");
        assert_eq!(row("evictions", Some(4.0), Some(4.0)).verdict(), "same");
        assert_eq!(row("api_requests", Some(4.0), Some(5.0)).verdict(), "");
        assert_eq!(row("evictions", None, Some(5.0)).verdict(), "");
        assert_eq!(row("evictions", Some(4.0), Some(5.0)).relative(), Some(0.25));
        assert_eq!(row("evictions", Some(0.0), Some(5.0)).relative(), None);
        assert_eq!(row("evictions", Some(0.0), Some(0.0)).relative(), Some(0.0));
    }
}
