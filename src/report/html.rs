//! Self-contained HTML pages: inline CSS and inline SVG only, no scripts and no external URL, so a report can be
//! mailed or archived as one file and opened offline. Every piece of text from the input files is escaped.

use super::format::{self, html_escape};
use super::inputs::{FaultEvent, RunData};
use std::fmt::Write;

const CSS: &str = "body{font-family:sans-serif;margin:2em auto;max-width:1180px;padding:0 1em;color:#222}\
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;margin:.5em 0 1em}th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left;\
vertical-align:top}th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\
figure{margin:1em 0 2em}figure svg{max-width:100%;height:auto}figcaption{color:#555;font-size:.9em}\
.meta{color:#555}.better{color:#1a7f37}.worse{color:#b42318}code{font-size:.95em}";

/// A page: `<!DOCTYPE html>`, the inline style, the escaped title, and `body` (already HTML).
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{CSS}</style>\n\
         </head>\n<body>\n{body}</body>\n</html>\n",
        html_escape(title)
    )
}

/// A table cell: text (escaped on output) and an optional class (`n` right-aligns numbers).
pub struct Cell {
    pub text: String,
    pub class: &'static str,
}

pub fn text(s: impl Into<String>) -> Cell {
    Cell { text: s.into(), class: "" }
}

pub fn num(s: impl Into<String>) -> Cell {
    Cell { text: s.into(), class: "n" }
}

/// A table with a header row; every cell's text is escaped.
pub fn table(head: &[&str], rows: &[Vec<Cell>]) -> String {
    let mut out = String::from("<table>\n<tr>");
    for h in head {
        let _ = write!(out, "<th>{}</th>", html_escape(h));
    }
    out.push_str("</tr>\n");
    for row in rows {
        out.push_str("<tr>");
        for c in row {
            if c.class.is_empty() {
                let _ = write!(out, "<td>{}</td>", html_escape(&c.text));
            } else {
                let _ = write!(out, "<td class=\"{}\">{}</td>", c.class, html_escape(&c.text));
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    out
}

/// Plotters' SVG made fit for inlining into HTML: no XML declaration, and no namespace URL (HTML5 gives inline
/// `<svg>` its namespace, and the page must not contain any URL).
pub fn inline_svg(svg: &str) -> String {
    let body = match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    };
    body.replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1).replacen(
        " xmlns:xlink=\"http://www.w3.org/1999/xlink\"",
        "",
        1,
    )
}

/// A figure with the inline SVG, a caption and a relative link to the PNG next to the report.
pub fn figure(svg: &str, caption: &str, png_name: &str) -> String {
    format!(
        "<figure>\n{}\n<figcaption>{} (<a href=\"plots/{}\">PNG</a>)</figcaption>\n</figure>\n",
        inline_svg(svg),
        html_escape(caption),
        html_escape(png_name)
    )
}

/// The most telling metrics first, with labels; absent ones are skipped.
const KEY_METRICS: &[(&str, &str)] = &[
    ("pods_created", "pods created"),
    ("pods_scheduled", "pods scheduled (bindings)"),
    ("pods_unschedulable", "pods that failed a scheduling attempt"),
    ("pods_pending_at_end", "pods pending at the end"),
    ("pods_pending_max", "pods pending at most"),
    ("pending_pod_seconds", "pending pod-seconds"),
    ("scheduling_latency_p50_s", "scheduling latency p50"),
    ("scheduling_latency_p90_s", "scheduling latency p90"),
    ("scheduling_latency_p99_s", "scheduling latency p99"),
    ("scheduling_latency_max_s", "scheduling latency max"),
    ("pod_startup_latency_p50_s", "pod startup latency p50"),
    ("pod_startup_latency_p99_s", "pod startup latency p99"),
    ("cpu_allocation_mean", "CPU allocation (time-weighted mean)"),
    ("memory_allocation_mean", "memory allocation (time-weighted mean)"),
    ("gpu_allocation_mean", "GPU allocation (time-weighted mean)"),
    ("cpu_allocation_imbalance", "CPU imbalance (stdev across nodes)"),
    ("cpu_fragmentation_mean", "CPU fragmentation (mean)"),
    ("evictions", "evictions"),
    ("preemptions", "preemptions"),
    ("container_restarts", "container restarts"),
    ("pods_failed", "pods failed"),
    ("pods_lost", "pods lost"),
    ("faults_injected", "faults injected"),
    ("fault_recovery_max_s", "fault recovery max"),
    ("fault_recovery_mean_s", "fault recovery mean"),
    ("faults_unrecovered", "faults never recovered"),
];

/// The summary section: run identity, key metrics and pods by phase.
pub fn summary_section(run: &RunData) -> String {
    let s = &run.summary;
    let mut out = String::from("<h2>Summary</h2>\n");
    let mut rows = Vec::new();
    for (name, label) in KEY_METRICS {
        if let Some(v) = s.metric(name) {
            rows.push(vec![text(*label), num(format::metric(name, v)), text(*name)]);
        }
    }
    out += &table(&["metric", "value", "name in summary.json"], &rows);
    if !s.pods.is_empty() {
        let rows: Vec<Vec<Cell>> =
            s.pods.iter().map(|(p, n)| vec![text(p.clone()), num(format::number(*n as f64))]).collect();
        out += "<p>Pods in the store at the end, by phase:</p>\n";
        out += &table(&["phase", "pods"], &rows);
    }
    out
}

/// A reasons table (message → count), largest first, or a sentence saying there is none.
pub fn reasons_section(title: &str, what: &str, reasons: &std::collections::BTreeMap<String, u64>) -> String {
    let mut out = format!("<h2>{}</h2>\n", html_escape(title));
    if reasons.is_empty() {
        return out + "<p>None.</p>\n";
    }
    let mut sorted: Vec<(&String, &u64)> = reasons.iter().collect();
    sorted.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let rows: Vec<Vec<Cell>> =
        sorted.iter().map(|(m, n)| vec![num(format::number(**n as f64)), text(m.as_str())]).collect();
    out += &table(&[what, "message"], &rows);
    out
}

/// The fault timeline from events.csv and, when present, summary.json's `fault_recovery`.
pub fn faults_section(run: &RunData) -> String {
    let mut out = String::from("<h2>Faults</h2>\n");
    if run.faults.is_empty() {
        out += "<p>No fault was injected.</p>\n";
    } else {
        let rows: Vec<Vec<Cell>> = run.faults.iter().map(fault_row).collect();
        out += &table(&["time", "event", "verb", "target", "detail"], &rows);
    }
    if let Some(rec) = &run.summary.fault_recovery {
        out += "<h3>Recovery</h3>\n";
        if rec.is_empty() {
            out += "<p>No fault recovery was measured.</p>\n";
        } else {
            let rows: Vec<Vec<Cell>> = rec
                .iter()
                .map(|r| {
                    let recovery = r.recovery_s.map_or_else(|| "never recovered".to_string(), format::duration);
                    vec![num(format::duration(r.time_s)), text(r.verb.clone()), text(r.targets.clone()), num(recovery)]
                })
                .collect();
            out += &table(&["injected at", "verb", "targets", "recovery"], &rows);
        }
    }
    out
}

fn fault_row(f: &FaultEvent) -> Vec<Cell> {
    let event = if f.injected { "FaultInjected" } else { "FaultHealed" };
    vec![
        num(format::duration(f.time_s)),
        text(event),
        text(f.verb.clone()),
        text(f.target.clone()),
        text(f.detail.clone()),
    ]
}

/// Every numeric metric of summary.json, by name.
pub fn all_metrics_section(run: &RunData) -> String {
    let rows: Vec<Vec<Cell>> = run
        .summary
        .numeric_metrics()
        .iter()
        .map(|(k, v)| vec![text(k.clone()), num(format::metric(k, *v)), num(format::number(*v))])
        .collect();
    String::from("<h2>All metrics</h2>\n") + &table(&["name", "value", "raw"], &rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_svg_drops_declaration_and_namespace() {
        let svg = "<?xml version=\"1.0\"?>\n<svg width=\"1\" xmlns=\"http://www.w3.org/2000/svg\"><text>a</text></svg>";
        assert_eq!(inline_svg(svg), "<svg width=\"1\"><text>a</text></svg>");
    }
}
