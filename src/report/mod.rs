//! Reports of a finished run: plots (PNG and SVG) and a self-contained `report.html`, built only from the run
//! directory's output files (summary.json, events.csv, timeseries.csv, placements.csv, pods.csv), so that
//! `kubesim report DIR` can rebuild them from any run, and [`compare`] can put two runs side by side.
//!
//! Everything is written inside the run directory (`report.html`, `plots/`), so a caller may build the report in
//! a temporary directory and rename it into place.

pub mod bars;
pub mod cdf;
pub mod compare;
mod csvread;
pub mod error;
pub mod format;
pub mod heatmap;
pub mod html;
pub mod inputs;
pub mod timeline;

pub use error::ReportError;

use crate::plot::render::{self, Chart, Rendered};
use error::write_err;
use inputs::RunData;
use std::fs;
use std::path::{Path, PathBuf};

/// The plots of a report, by file stem (each written as `.png` and `.svg`).
pub const PLOTS: [&str; 4] = ["allocation-heatmap", "allocation-timeline", "scheduling-latency-cdf", "placement-bars"];

/// The files a report wrote.
#[derive(Clone, Debug)]
pub struct ReportFiles {
    /// `report.html` (or `compare.html`).
    pub html: PathBuf,
    /// Every PNG and SVG, in drawing order.
    pub plots: Vec<PathBuf>,
}

/// Reads the outputs of the run in `dir` and writes `dir/report.html` and `dir/plots/*.{png,svg}`.
pub fn write_report(dir: &Path) -> Result<ReportFiles, ReportError> {
    let curve = dir.join("openb_curve.csv");
    if curve.exists() {
        return Err(ReportError::Input {
            path: curve,
            line: None,
            message: "this is an [openb] experiment's directory: it has no time series to report on; its plots \
                      are already in plots/ (openb_allocation, openb_fragmentation)"
                .into(),
        });
    }
    let run = inputs::read_run(dir)?;
    let plots_dir = dir.join("plots");
    fs::create_dir_all(&plots_dir).map_err(write_err(&plots_dir))?;
    let heat = heatmap::Heatmap::from_placements(&run.placements);
    let time = timeline::Timeline {
        caption: "Allocation and pending pods over time".to_string(),
        runs: vec![timeline::Series { label: String::new(), samples: &run.samples }],
        faults: &run.faults,
    };
    let cdf = cdf::LatencyCdf {
        caption: "Scheduling latency (creation to binding), CDF".to_string(),
        curves: vec![cdf::Curve { label: "bound pods".to_string(), sorted_s: inputs::sorted_latencies_s(&run.pods) }],
    };
    let bars = bars::PlacementBars::from_placements(&run.placements);
    let rendered = [
        draw(&heat, &plots_dir, PLOTS[0])?,
        draw(&time, &plots_dir, PLOTS[1])?,
        draw(&cdf, &plots_dir, PLOTS[2])?,
        draw(&bars, &plots_dir, PLOTS[3])?,
    ];
    let html_path = dir.join("report.html");
    fs::write(&html_path, report_html(&run, &rendered)).map_err(write_err(&html_path))?;
    Ok(ReportFiles {
        html: html_path,
        plots: rendered.iter().flat_map(|r| [r.png.clone(), r.svg_path.clone()]).collect(),
    })
}

/// Renders one chart, mapping its error to the plot's name.
pub(crate) fn draw(chart: &impl Chart, dir: &Path, name: &str) -> Result<Rendered, ReportError> {
    render::render(chart, dir, name).map_err(|e| ReportError::Plot { name: name.to_string(), message: e.0 })
}

const CAPTIONS: [&str; 4] = [
    "CPU allocation ratio (requests of bound pods / allocatable) per node over time; grey where the node did not exist.",
    "Cluster allocation (% of allocatable) and pending pods over time; dashed lines mark faults injected (red) and healed (green).",
    "Share of bound pods scheduled within a given latency (creation to binding).",
    "CPU requests per node at the last sample, stacked by workload; the black tick is the node's allocatable CPU.",
];

fn report_html(run: &RunData, plots: &[Rendered; 4]) -> String {
    let s = &run.summary;
    let title = format!("kubesim report: {}", s.scenario);
    let mut body = format!("<h1>{}</h1>\n", format::html_escape(&title));
    let mut meta = Vec::new();
    if let Some(seed) = s.seed {
        meta.push(format!("seed {seed}"));
    }
    if let Some(d) = s.sim_duration_s {
        meta.push(format!("{} simulated", format::duration(d)));
    }
    if let Some(n) = s.nodes {
        meta.push(format!("{} nodes at the end", format::number(n as f64)));
    }
    if let Some(e) = s.events_processed {
        meta.push(format!("{} events", format::number(e as f64)));
    }
    if !s.kubesim_version.is_empty() {
        meta.push(format!("kubesim {}", s.kubesim_version));
    }
    body += &format!("<p class=\"meta\">{}</p>\n", format::html_escape(&meta.join(" · ")));
    body += &html::summary_section(run);
    body += "<h2>Plots</h2>\n";
    for (i, p) in plots.iter().enumerate() {
        body += &html::figure(&p.svg, CAPTIONS[i], &format!("{}.png", PLOTS[i]));
    }
    body += &html::reasons_section("Pending pods at the end", "pods", &s.pending_reasons);
    body += &html::reasons_section("Unschedulable reasons", "attempts", &s.unschedulable_reasons);
    body += &html::faults_section(run);
    body += &html::all_metrics_section(run);
    html::page(&title, &body)
}
