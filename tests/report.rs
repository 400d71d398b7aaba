//! Tests of the run report (`kubesim report`) and the comparison of two runs (`kubesim compare`), on the small
//! hand-written run directories in `tests/data/report/` (the issue-6 output formats) and on degenerate ones
//! generated here (headers only).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SMALL: &str = "tests/data/report/small";
const SINGLE: &str = "tests/data/report/single";
const FILES: [&str; 5] = ["summary.json", "events.csv", "timeseries.csv", "placements.csv", "pods.csv"];

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("kubesim-report-{}-{test}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// A copy of a fixture run directory (reports are written into the run directory).
    fn run_copy(&self, fixture: &str, name: &str) -> PathBuf {
        let dst = self.0.join(name);
        fs::create_dir_all(&dst).unwrap();
        for f in FILES {
            fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join(fixture).join(f), dst.join(f)).unwrap();
        }
        dst
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn kubesim(args: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubesim")).args(args).output().expect("cannot start kubesim")
}

/// Checks that `text` is well-formed XML: balanced, properly nested tags, quoted attributes, known entities.
/// Small on purpose (no dependency); enough for what plotters and our HTML writer produce.
fn check_xml(text: &str) -> Result<(), String> {
    let mut stack: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(['<', '&']) {
        check_text(&rest[..i])?;
        rest = &rest[i..];
        if rest.starts_with('&') {
            let end = rest.find(';').ok_or("unterminated entity")?;
            let name = &rest[1..end];
            let ok = ["amp", "lt", "gt", "quot", "apos"].contains(&name)
                || name.strip_prefix('#').is_some_and(|n| n.parse::<u32>().is_ok() || n.starts_with('x'));
            if !ok {
                return Err(format!("unknown entity &{name};"));
            }
            rest = &rest[end + 1..];
            continue;
        }
        if let Some(r) = rest.strip_prefix("<?") {
            rest = &r[r.find("?>").ok_or("unterminated <?")? + 2..];
        } else if let Some(r) = rest.strip_prefix("<!--") {
            rest = &r[r.find("-->").ok_or("unterminated comment")? + 3..];
        } else if let Some(r) = rest.strip_prefix("</") {
            let end = r.find('>').ok_or("unterminated end tag")?;
            let name = r[..end].trim();
            match stack.pop() {
                Some(open) if open == name => {}
                other => return Err(format!("</{name}> closes {other:?}")),
            }
            rest = &r[end + 1..];
        } else {
            let (tag, after) = parse_tag(&rest[1..])?;
            if let Some(name) = tag {
                stack.push(name);
            }
            rest = after;
        }
    }
    check_text(rest)?;
    if stack.is_empty() { Ok(()) } else { Err(format!("unclosed {stack:?}")) }
}

fn check_text(t: &str) -> Result<(), String> {
    if t.contains('>') { Err(format!("bare '>' in text {t:?}")) } else { Ok(()) }
}

/// Parses `name attr="v" ...>` or `.../>`; returns the name if the element stays open.
fn parse_tag(s: &str) -> Result<(Option<String>, &str), String> {
    let name_end = s.find(|c: char| c.is_whitespace() || c == '>' || c == '/').ok_or("unterminated tag")?;
    let name = &s[..name_end];
    if name.is_empty() {
        return Err("empty tag name".into());
    }
    let mut rest = &s[name_end..];
    loop {
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix("/>") {
            return Ok((None, r));
        }
        if let Some(r) = rest.strip_prefix('>') {
            return Ok((Some(name.to_string()), r));
        }
        let eq = rest.find('=').ok_or_else(|| format!("attribute without value in <{name}>"))?;
        let quote = rest[eq + 1..].chars().next().ok_or("truncated attribute")?;
        if quote != '"' && quote != '\'' {
            return Err(format!("unquoted attribute in <{name}>"));
        }
        let value = &rest[eq + 2..];
        let close = value.find(quote).ok_or("unterminated attribute")?;
        if value[..close].contains('<') {
            return Err(format!("'<' in an attribute of <{name}>"));
        }
        rest = &value[close + 1..];
    }
}

#[test]
fn xml_checker_rejects_broken_documents() {
    assert!(check_xml("<svg a=\"1\"><g><text>a &amp; b</text></g><rect/></svg>").is_ok());
    assert!(check_xml("<svg><g></svg>").is_err());
    assert!(check_xml("<svg a=1></svg>").is_err());
    assert!(check_xml("<svg>a & b</svg>").is_err());
    assert!(check_xml("<svg><g>").is_err());
}

/// What a report must never contain: any URL or external resource, or a script.
fn assert_self_contained(html: &str) {
    for bad in ["http://", "https://", "src=", "<script", "<link", "url("] {
        assert!(!html.contains(bad), "report contains {bad:?}");
    }
}

fn read(p: &Path) -> String {
    fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn report_of_a_small_run_has_every_plot_and_section() {
    let tmp = TempDir::new("small");
    let dir = tmp.run_copy(SMALL, "run");
    let files = kubesim::report::write_report(&dir).unwrap();
    assert_eq!(files.plots.len(), 8);
    for name in kubesim::report::PLOTS {
        let svg = read(&dir.join("plots").join(format!("{name}.svg")));
        check_xml(&svg).unwrap_or_else(|e| panic!("{name}.svg is not well-formed: {e}"));
        let png = fs::read(dir.join("plots").join(format!("{name}.png"))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{name}.png");
    }
    let html = read(&files.html);
    assert_self_contained(&html);
    check_xml(html.trim_start_matches("<!DOCTYPE html>\n").replace("<meta charset=\"utf-8\">", "").as_str())
        .unwrap_or_else(|e| panic!("report.html is not well-formed: {e}"));
    assert_eq!(html.matches("<svg").count(), 4);
    assert!(html.contains("small &lt;&amp;&gt; fixture"), "the scenario name is escaped");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "reasons are escaped");
    assert!(html.contains("note=&lt;b&gt;&amp;"), "fault details are escaped");
    assert!(html.contains("never recovered"));
    assert!(html.contains("12.5 s"));
    assert!(html.contains("45.0%"), "allocation as a percentage");
    for heading in ["Summary", "Plots", "Pending pods at the end", "Unschedulable reasons", "Faults", "All metrics"] {
        assert!(html.contains(&format!("<h2>{heading}</h2>")), "{heading}");
    }
}

#[test]
fn report_is_byte_identical_when_written_twice() {
    let tmp = TempDir::new("twice");
    let a = tmp.run_copy(SMALL, "a");
    let b = tmp.run_copy(SMALL, "b");
    kubesim::report::write_report(&a).unwrap();
    kubesim::report::write_report(&b).unwrap();
    assert_eq!(fs::read(a.join("report.html")).unwrap(), fs::read(b.join("report.html")).unwrap());
    for name in kubesim::report::PLOTS {
        for ext in ["svg", "png"] {
            let f = format!("plots/{name}.{ext}");
            assert!(fs::read(a.join(&f)).unwrap() == fs::read(b.join(&f)).unwrap(), "{f} differs");
        }
    }
}

#[test]
fn degenerate_runs_still_get_a_full_report() {
    let tmp = TempDir::new("degenerate");
    // One sample, one node, no faults, no fault_recovery.
    let single = tmp.run_copy(SINGLE, "single");
    let files = kubesim::report::write_report(&single).unwrap();
    assert!(read(&files.html).contains("No fault was injected."));
    // Headers only: zero nodes, zero pods, no samples.
    let empty = tmp.0.join("empty");
    fs::create_dir_all(&empty).unwrap();
    for f in FILES {
        let text = read(&Path::new(env!("CARGO_MANIFEST_DIR")).join(SMALL).join(f));
        let head =
            if f == "summary.json" { "{}\n".to_string() } else { text.lines().next().unwrap().to_string() + "\n" };
        fs::write(empty.join(f), head).unwrap();
    }
    let files = kubesim::report::write_report(&empty).unwrap();
    for p in &files.plots {
        if p.extension().is_some_and(|e| e == "svg") {
            check_xml(&read(p)).unwrap();
        }
    }
    assert_self_contained(&read(&files.html));
}

#[test]
fn kubesim_report_rebuilds_from_a_run_directory() {
    let tmp = TempDir::new("cli-ok");
    let dir = tmp.run_copy(SMALL, "run");
    let out = kubesim(&[Path::new("report"), &dir]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(dir.join("report.html").is_file());
    assert!(dir.join("plots/allocation-heatmap.png").is_file());
}

#[test]
fn kubesim_report_names_the_file_and_line_of_a_corrupt_row() {
    let tmp = TempDir::new("cli-bad");
    let dir = tmp.run_copy(SMALL, "run");
    let path = dir.join("placements.csv");
    let text = read(&path).replacen("0,node-b,pool,zone-a,4000", "0,node-b,pool,zone-a,lots", 1);
    fs::write(&path, text).unwrap();
    let out = kubesim(&[Path::new("report"), &dir]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("placements.csv:3:"), "{err}");
    assert!(err.contains("cpu_millis_allocatable"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    // A row with a missing field, and a missing file.
    fs::write(dir.join("pods.csv"), "pod,created_s,scheduled_s\na,1,2\nb,3\n").unwrap();
    fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join(SMALL).join("placements.csv"), &path).unwrap();
    let out = kubesim(&[Path::new("report"), &dir]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("pods.csv:3:"), "{err}");
    fs::remove_file(dir.join("timeseries.csv")).unwrap();
    let out = kubesim(&[Path::new("report"), &dir]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("timeseries.csv"), "{err}");
}

/// Writes a run directory holding only a summary.json with these metrics.
fn summary_dir(root: &Path, name: &str, seed: u64, metrics: &str) -> PathBuf {
    let dir = root.join(name);
    fs::create_dir_all(&dir).unwrap();
    let text = format!(
        "{{\"scenario\": \"s\", \"seed\": {seed}, \"sim_duration_s\": 600.0, \"pods\": {{\"Running\": 3}}, \"metrics\": {{{metrics}}}}}"
    );
    fs::write(dir.join("summary.json"), text).unwrap();
    dir
}

#[test]
fn compare_prints_deltas_and_which_run_is_better() {
    let tmp = TempDir::new("compare");
    let a = summary_dir(
        &tmp.0,
        "a",
        42,
        "\"scheduling_latency_p99_s\": 2.0, \"cpu_allocation_mean\": 0.5, \"api_requests\": 1000, \"evictions\": 4",
    );
    let b = summary_dir(
        &tmp.0,
        "b",
        42,
        "\"scheduling_latency_p99_s\": 1.5, \"cpu_allocation_mean\": 0.45, \"api_requests\": 1500, \"preemptions\": 2",
    );
    let out = kubesim(&[Path::new("compare"), &a, &b]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("paired: same seed (42) and duration (600 s)"), "{text}");
    let line = |name: &str| text.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{name}: {text}"));
    let words = |name: &str| line(name).split_whitespace().map(String::from).collect::<Vec<_>>();
    assert_eq!(
        words("scheduling_latency_p99_s"),
        ["scheduling_latency_p99_s", "2", "s", "1.5", "s", "-500", "ms", "-25.0%", "B", "better"]
    );
    assert_eq!(
        words("cpu_allocation_mean"),
        ["cpu_allocation_mean", "50.0%", "45.0%", "-5.0", "pp", "-10.0%", "A", "better"]
    );
    assert_eq!(words("api_requests"), ["api_requests", "1,000", "1,500", "+500", "+50.0%"]);
    assert_eq!(words("evictions"), ["evictions", "4", "-", "-", "-"]);
    assert_eq!(words("preemptions"), ["preemptions", "-", "2", "-", "-"]);
    assert_eq!(words("pods.Running"), ["pods.Running", "3", "3", "0", "+0.0%"]);

    let c = summary_dir(&tmp.0, "c", 7, "\"pods_scheduled\": 0");
    let out = kubesim(&[Path::new("compare"), &a, &c]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("NOT paired: seeds differ (42 vs 7)"));
}

#[test]
fn compare_with_out_writes_a_self_contained_page_and_overlays() {
    let tmp = TempDir::new("compare-out");
    let a = tmp.run_copy(SMALL, "a");
    let b = tmp.run_copy(SINGLE, "b");
    let out_dir = tmp.0.join("cmp");
    let out = kubesim(&[Path::new("compare"), &a, &b, Path::new("--out"), &out_dir]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let html = read(&out_dir.join("compare.html"));
    assert_self_contained(&html);
    assert_eq!(html.matches("<svg").count(), 2);
    for name in kubesim::report::compare::COMPARE_PLOTS {
        check_xml(&read(&out_dir.join("plots").join(format!("{name}.svg")))).unwrap();
        assert!(out_dir.join("plots").join(format!("{name}.png")).is_file());
    }
    // A missing run fails as bad input, naming the file.
    let out = kubesim(&[Path::new("compare"), &a, &tmp.0.join("nope")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope/summary.json"));
}

#[test]
fn a_run_without_placements_csv_still_gets_its_report() {
    // `[output] placements = false` (the shipped trace replays) writes no placements.csv; `kubesim run` used to
    // fail at the very end when its report looked for it.
    let tmp = TempDir::new("no_placements");
    let run = tmp.run_copy(SMALL, "run");
    fs::remove_file(run.join("placements.csv")).unwrap();
    let files = kubesim::report::write_report(&run).unwrap();
    let html = read(&files.html);
    assert_self_contained(&html);
    assert!(html.contains("[output] placements = false"), "the placement plots say why they are empty");
}
