//! The command line: `kubesim run`, `validate`, `check`, `report`, `compare`, `sweep`, `merge` and `import`.
//!
//! Exit codes: 0 success; 1 a run or write failed (for `check`: something regressed); 2 bad input (usage,
//! scenario errors).

use crate::report;
use crate::run::{self, terminal_report};
use crate::scenario::Scenario;
use crate::scheduler::explain::PodFilter;
use crate::sweep;
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

#[derive(Parser, Debug)]
#[command(name = "kubesim", version, about = "A deterministic discrete-event Kubernetes cluster simulator")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a scenario and write summary.json and events.csv.
    Run {
        /// The scenario file (TOML).
        scenario: PathBuf,
        /// Override the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Output directory [default: results/<scenario name>].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print nothing on success.
        #[arg(long, short)]
        quiet: bool,
        /// Write a decision trace of every scheduling attempt of the pods whose name (or namespace/name)
        /// matches the glob (default: all pods) to explain.jsonl: `--explain` or `--explain='web-*'`.
        #[arg(long, value_name = "POD-FILTER", num_args = 0..=1, require_equals = true, default_missing_value = "*")]
        explain: Option<String>,
        /// Do not write report.html and plots/ (make them later with `kubesim report DIR`).
        #[arg(long)]
        no_report: bool,
    },
    /// Check scenario files without running them.
    Validate {
        /// Scenario files (TOML).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Run scenarios and compare their metrics with committed baselines (exit 1 on a regression).
    Check {
        /// Scenario files (TOML).
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
        /// The directory of baselines, one `<scenario name>.json` each.
        #[arg(long, value_name = "DIR")]
        baseline: PathBuf,
        /// Write the baselines from these runs instead of comparing (prints what changed).
        #[arg(long)]
        update: bool,
        /// Also write the results as JUnit XML.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// A TOML file of `[[checks]]` (each may name the `scenario` it applies to).
        #[arg(long, value_name = "FILE")]
        checks: Option<PathBuf>,
    },
    /// Rebuild report.html and plots/ from a run directory's output files.
    Report {
        /// A run directory (holding summary.json, events.csv, timeseries.csv, placements.csv, pods.csv).
        dir: PathBuf,
    },
    /// Compare two runs metric by metric (e.g. two profiles with the same seed).
    Compare {
        /// The baseline run directory (A).
        run_a: PathBuf,
        /// The run directory compared with it (B).
        run_b: PathBuf,
        /// Also write compare.html and overlay plots into this directory.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Measure wall time, speed-up, events/s, pods/s and peak memory over cluster and workload sizes.
    Bench {
        /// Node counts, comma-separated (`100,1k,5k`).
        #[arg(long, default_value = "100,1000")]
        nodes: String,
        /// Pod counts (pods created over the run), comma-separated (`1k,10k,100k`).
        #[arg(long, default_value = "1000,10000")]
        pods: String,
        /// Simulated duration of each run.
        #[arg(long, default_value = "1h")]
        duration: String,
        /// The generated workload: `churn`, pods that arrive and finish (the cluster half full), or `steady`, one
        /// Deployment whose pods all stay (memory per stored pod).
        #[arg(long, value_enum, default_value = "churn")]
        workload: crate::bench::Workload,
        /// Also write the table (with the machine and the command) to this Markdown file, and its plot (wall
        /// time and peak memory against pods) next to it as .svg and .png.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Run one size in this process and print it as JSON (used by `bench` for each size).
        #[arg(long, hide = true)]
        one: bool,
        /// Print the generated scenario of the first size instead of running (to run it with `kubesim run`).
        #[arg(long)]
        print_scenario: bool,
    },
    /// Run a parameter sweep: every point of a matrix of scenario overrides, times several seeds.
    Sweep {
        /// The sweep file (TOML; see the README's "Sweeps").
        sweep: PathBuf,
        /// Worker threads [default: the available cores]. Never changes the output.
        #[arg(long, short)]
        jobs: Option<usize>,
        /// Output directory [default: results/sweeps/<sweep name>, or
        /// results/sweeps/<sweep name>-shard-I-of-N with --shard].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Run only shard I of N (runs whose index % N == I; 0 <= I < N) and write a shard directory for
        /// `kubesim merge`. `auto/N` takes I from $JOB_COMPLETION_INDEX (a Kubernetes Indexed Job).
        #[arg(long, value_name = "I/N")]
        shard: Option<String>,
        /// Print nothing on success (and no progress bar).
        #[arg(long, short)]
        quiet: bool,
    },
    /// Turn Kubernetes manifests (multi-document YAML, `kubectl get ... -o yaml` lists) into a scenario.
    Import {
        /// Manifest files (YAML).
        #[arg(required = true)]
        manifests: Vec<PathBuf>,
        /// Write the scenario here (atomically) instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
        /// The scenario name [default: the first file's stem].
        #[arg(long)]
        name: Option<String>,
        /// The scenario duration.
        #[arg(long, default_value = "1h")]
        duration: String,
        /// Read an openb node list and pod list (CSV, in that order) instead of manifests.
        #[arg(long)]
        openb: bool,
    },
    /// Merge the shard directories of one sweep into the outputs an unsharded sweep writes.
    Merge {
        /// Shard directories written by `kubesim sweep --shard`.
        #[arg(required = true)]
        shards: Vec<PathBuf>,
        /// Output directory [default: results/sweeps/<sweep name>].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print nothing on success.
        #[arg(long, short)]
        quiet: bool,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run { scenario, seed, out, quiet, explain, no_report } => {
            let loaded = match Scenario::load(&scenario) {
                Ok(s) => s,
                Err(d) => {
                    eprintln!("{d}");
                    return ExitCode::from(2);
                }
            };
            let loaded = match seed {
                Some(s) => loaded.with_seed(s),
                None => loaded,
            };
            let out = out.unwrap_or_else(|| PathBuf::from("results").join(loaded.name()));
            let opts = run::RunOptions { explain: explain.as_deref().map(PodFilter::new), no_report };
            match run::run_to_dir_with(&loaded, &out, &opts) {
                Ok(outcome) => {
                    if !quiet {
                        say_part!("{}", terminal_report(&outcome, Some(&out)));
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Check { scenarios, baseline, update, junit, checks } => {
            ExitCode::from(crate::check::run(&crate::check::Options {
                scenarios,
                baseline_dir: baseline,
                update,
                junit,
                checks,
            }))
        }
        Command::Validate { files } => {
            let mut failed = false;
            for f in &files {
                match Scenario::load(f) {
                    Ok(s) if s.openb.is_some() => {
                        let e = s.openb.as_deref().map(|e| (e.nodes.len(), e.pods.len())).unwrap_or_default();
                        say!("{}: ok (openb experiment: {} nodes, {} pods)", f.display(), e.0, e.1);
                    }
                    Ok(s) => {
                        let nodes: usize = s.config.pools.iter().map(|p| p.count as usize).sum();
                        let w = &s.config.workloads;
                        let plural =
                            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
                        say!(
                            "{}: ok ({}, {}, {}, {}, {})",
                            f.display(),
                            plural(nodes, "node", "nodes"),
                            plural(w.deployments.len(), "deployment", "deployments"),
                            plural(w.jobs.len(), "job", "jobs"),
                            plural(w.arrivals.len(), "arrival process", "arrival processes"),
                            plural(s.config.faults.len(), "fault", "faults"),
                        );
                    }
                    Err(d) => {
                        eprintln!("{d}");
                        failed = true;
                    }
                }
            }
            if failed { ExitCode::from(2) } else { ExitCode::SUCCESS }
        }
        Command::Report { dir } => match report::write_report(&dir) {
            Ok(files) => {
                say!(
                    "wrote {} and {} plot files in {}",
                    files.html.display(),
                    files.plots.len(),
                    dir.join("plots").display()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(e.exit_code())
            }
        },
        Command::Compare { run_a, run_b, out } => {
            let result = report::compare::compare(&run_a, &run_b).and_then(|cmp| {
                say_part!("{}", cmp.table_text());
                match &out {
                    Some(dir) => report::compare::write_compare(&cmp, dir).map(Some),
                    None => Ok(None),
                }
            });
            match result {
                Ok(files) => {
                    if let Some(f) = files {
                        say!("\nwrote {} and {} plot files", f.html.display(), f.plots.len());
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::from(e.exit_code())
                }
            }
        }
        Command::Bench { nodes, pods, duration, workload, out, one, print_scenario } => {
            bench_command(&nodes, &pods, &duration, workload, out, one, print_scenario)
        }
        Command::Sweep { sweep, jobs, out, shard, quiet } => sweep_command(&sweep, jobs, out, shard, quiet),
        Command::Merge { shards, out, quiet } => merge_command(&shards, out, quiet),
        Command::Import { manifests, out, name, duration, openb } => {
            let opts = crate::import::Options { name, duration };
            if openb {
                crate::import::openb_command(&manifests, out.as_deref(), &opts)
            } else {
                crate::import::command(&manifests, out.as_deref(), &opts)
            }
        }
    }
}

/// The files of a complete sweep's output, for the terminal.
fn sweep_files(plotted: usize, curves: bool) -> String {
    let curves = if curves { "curves.csv, curves_summary.csv, " } else { "" };
    format!("runs.csv, aggregate.csv, {curves}sweep.json, plots/: {plotted} metrics")
}

fn sweep_command(
    path: &Path,
    jobs: Option<usize>,
    out: Option<PathBuf>,
    shard: Option<String>,
    quiet: bool,
) -> ExitCode {
    let shard =
        match shard.as_deref().map(|s| sweep::Shard::parse(s, std::env::var(sweep::SHARD_INDEX_ENV).ok().as_deref())) {
            Some(Err(e)) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
            Some(Ok(s)) => Some(s),
            None => None,
        };
    let jobs = match jobs {
        Some(0) => {
            eprintln!("error: --jobs must be at least 1");
            return ExitCode::from(2);
        }
        Some(j) => j,
        None => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
    };
    let (matrix, src) = match sweep::load(path) {
        Ok(m) => m,
        Err(d) => {
            eprintln!("{d}");
            return ExitCode::from(2);
        }
    };
    let out = out.unwrap_or_else(|| {
        let dir = PathBuf::from("results").join("sweeps");
        match shard {
            Some(s) => dir.join(format!("{}-shard-{}-of-{}", matrix.name, s.index, s.count)),
            None => dir.join(&matrix.name),
        }
    });
    let indices: Vec<usize> = (0..matrix.runs()).filter(|&i| shard.is_none_or(|s| s.contains(i))).collect();
    let started = Instant::now();
    let rows = match sweep::exec::execute(&matrix, &indices, jobs, !quiet) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let wall = started.elapsed().as_secs_f64();
    if let Err(d) = sweep::check_metrics(&src, &matrix, &sweep::output::metric_columns(&rows)) {
        eprintln!("{d}");
        return ExitCode::from(2);
    }
    let design = matrix.design(shard);
    let written = sweep::output::write_atomically(&out, |dir| match shard {
        Some(_) => sweep::output::write_shard(dir, &design, &rows).map(|()| 0),
        None => sweep::output::write_full(dir, &design, &rows),
    });
    match written {
        Ok(plotted) => {
            if !quiet {
                let what = match shard {
                    Some(s) => format!("shard {}/{}: {} of {} runs", s.index, s.count, rows.len(), matrix.runs()),
                    None => format!("{} runs", rows.len()),
                };
                say!(
                    "kubesim {}: sweep {} ({} points x {} seeds; {what}) in {wall:.2} s wall on {jobs} threads",
                    run::VERSION,
                    matrix.name,
                    matrix.points.len(),
                    matrix.seeds.len(),
                );
                let curves = sweep::curves::any(&rows);
                match shard {
                    Some(_) => say!(
                        "  wrote {}/ (runs.csv, {}sweep.json); combine the shards with kubesim merge",
                        out.display(),
                        if curves { "curves.csv, " } else { "" }
                    ),
                    None => say!("  wrote {}/ ({})", out.display(), sweep_files(plotted, curves)),
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}

fn merge_command(shards: &[PathBuf], out: Option<PathBuf>, quiet: bool) -> ExitCode {
    let (design, rows) = match sweep::merge::read_shards(shards) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if let Some(wanted) = &design.metrics {
        let present = sweep::output::metric_columns(&rows);
        let missing: Vec<&String> = wanted.iter().filter(|m| !present.contains(m)).collect();
        if !missing.is_empty() {
            eprintln!("error: no run reported the metric(s) {missing:?} the sweep aggregates");
            return ExitCode::from(2);
        }
    }
    let out = out.unwrap_or_else(|| PathBuf::from("results").join("sweeps").join(&design.sweep));
    match sweep::output::write_atomically(&out, |dir| sweep::output::write_full(dir, &design, &rows)) {
        Ok(plotted) => {
            if !quiet {
                say!(
                    "kubesim {}: merged {} shard(s) of sweep {} ({} runs)\n  wrote {}/ ({})",
                    run::VERSION,
                    shards.len(),
                    design.sweep,
                    rows.len(),
                    out.display(),
                    sweep_files(plotted, sweep::curves::any(&rows))
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}

fn bench_command(
    nodes: &str,
    pods: &str,
    duration: &str,
    workload: crate::bench::Workload,
    out: Option<PathBuf>,
    one: bool,
    print_scenario: bool,
) -> ExitCode {
    use crate::bench;
    let parsed = (|| {
        let d = crate::time::parse_duration(duration).map_err(|e| e.message)?;
        let secs = (d.micros() / 1_000_000).max(1);
        Ok::<_, String>((bench::parse_sizes(nodes)?, bench::parse_sizes(pods)?, secs))
    })();
    let (node_sizes, pod_sizes, secs) = match parsed {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if print_scenario {
        say_part!("{}", bench::scenario_text(node_sizes[0], pod_sizes[0], secs, workload));
        return ExitCode::SUCCESS;
    }
    if one {
        return match bench::run_one(node_sizes[0], pod_sizes[0], secs, workload) {
            Ok(p) => {
                say!("{}", serde_json::to_string(&p).unwrap_or_default());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(1)
            }
        };
    }
    let Ok(exe) = std::env::current_exe() else {
        eprintln!("error: cannot find the kubesim executable to run each size");
        return ExitCode::from(1);
    };
    let mut points = Vec::new();
    for &n in &node_sizes {
        for &p in &pod_sizes {
            let child = std::process::Command::new(&exe)
                .args(["bench", "--one", "--nodes", &n.to_string(), "--pods", &p.to_string(), "--duration"])
                .arg(format!("{secs}s"))
                .args(["--workload", workload.as_str()])
                .output();
            let point = child.map_err(|e| e.to_string()).and_then(|o| {
                if o.status.success() {
                    serde_json::from_slice::<bench::Point>(&o.stdout).map_err(|e| e.to_string())
                } else {
                    Err(String::from_utf8_lossy(&o.stderr).trim().to_string())
                }
            });
            match point {
                Ok(pt) => {
                    eprintln!("  {n} nodes, {p} pods: {:.3} s", pt.wall_s);
                    points.push(pt);
                }
                Err(e) => {
                    eprintln!("error: {n} nodes, {p} pods: {e}");
                    return ExitCode::from(1);
                }
            }
        }
    }
    let table = bench::table(&points);
    say_part!("{table}");
    if let Some(path) = out {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|c| {
                c.lines()
                    .find(|l| l.starts_with("model name"))
                    .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
            })
            .unwrap_or_else(|| "unknown CPU".into());
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let text = format!(
            "# kubesim scaling table\n\nkubesim {}, {cpu}, {cores} cores available; each size in its own process \
             (one core).\n\nCommand: `kubesim bench --nodes {nodes} --pods {pods} --duration {duration} --workload {}`\n\n{table}",
            crate::run::VERSION,
            workload.as_str()
        );
        let tmp = path.with_extension("md.kubesim-tmp");
        if let Err(e) = std::fs::write(&tmp, text).and_then(|_| std::fs::rename(&tmp, &path)) {
            let _ = std::fs::remove_file(&tmp);
            eprintln!("error: {}: {e}", path.display());
            return ExitCode::from(1);
        }
        if let Err(e) = crate::bench_plot::plot(&points, &path) {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    }
    ExitCode::SUCCESS
}
