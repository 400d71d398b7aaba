//! The command line: `kubesim run`, `kubesim validate`, `kubesim check`, `kubesim report`, `kubesim compare`.
//!
//! Exit codes: 0 success; 1 a run or write failed (for `check`: something regressed); 2 bad input (usage,
//! scenario errors).

use crate::report;
use crate::run::{self, terminal_report};
use crate::scenario::Scenario;
use crate::scheduler::explain::PodFilter;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

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
                        print!("{}", terminal_report(&outcome, Some(&out)));
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
                    Ok(s) => {
                        let nodes: usize = s.config.pools.iter().map(|p| p.count as usize).sum();
                        let w = &s.config.workloads;
                        let plural =
                            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
                        println!(
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
                println!(
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
                print!("{}", cmp.table_text());
                match &out {
                    Some(dir) => report::compare::write_compare(&cmp, dir).map(Some),
                    None => Ok(None),
                }
            });
            match result {
                Ok(files) => {
                    if let Some(f) = files {
                        println!("\nwrote {} and {} plot files", f.html.display(), f.plots.len());
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::from(e.exit_code())
                }
            }
        }
    }
}
