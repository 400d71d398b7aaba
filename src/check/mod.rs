//! `kubesim check`: regression checks of scenario metrics against committed baselines.
//!
//! Each scenario is run (in parallel; results are taken in input order, so the output is deterministic), its
//! summary metrics are compared with `<baseline dir>/<scenario name>.json` under its checks (declared in the
//! scenario's `[[checks]]`, in a `--checks` file, or [`default_checks`]), and a table per scenario is printed.
//! Exit codes: 0 nothing regressed, 1 something regressed, a baseline is missing, or a run failed, 2 bad input.
//! `--update` rewrites the baselines from the current runs instead.

mod baseline;
mod compare;
mod junit;
mod report;
mod rule;

pub use baseline::Baseline;
pub use compare::{Comparison, Row, checks_for, compare};
pub use rule::{Better, Check, ScopedCheck, Tolerance, Verdict, default_checks, number};

use crate::run::{RunOutcome, run_in_memory};
use crate::scenario::{self, Scenario};
use junit::{Case, Outcome, Suite};
use rayon::prelude::*;
use report::Totals;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What `kubesim check` was asked to do.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub scenarios: Vec<PathBuf>,
    pub baseline_dir: PathBuf,
    pub update: bool,
    pub junit: Option<PathBuf>,
    pub checks: Option<PathBuf>,
}

pub const EXIT_OK: u8 = 0;
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_BAD_INPUT: u8 = 2;

/// Everything read before running: scenarios, check-file entries, baselines.
struct Inputs {
    scenarios: Vec<Scenario>,
    file_checks: Vec<ScopedCheck>,
    baselines: Vec<Option<Baseline>>,
}

/// Runs `kubesim check`; returns the exit code. Tables go to stdout, errors to stderr.
pub fn run(opts: &Options) -> u8 {
    let Some(inputs) = load(opts) else { return EXIT_BAD_INPUT };
    let outcomes: Vec<Result<RunOutcome, String>> =
        inputs.scenarios.par_iter().map(|s| run_in_memory(s, None)).collect();
    let (suites, totals) = if opts.update { update(opts, &inputs, &outcomes) } else { check(opts, &inputs, &outcomes) };
    say!("{}", totals.line());
    let mut code = if totals.errors > 0 {
        EXIT_BAD_INPUT
    } else if totals.failed() {
        EXIT_FAILED
    } else {
        EXIT_OK
    };
    if let Some(path) = &opts.junit
        && let Err(e) = baseline::write_atomic(path, junit::render(&suites).as_bytes())
    {
        eprintln!("error: cannot write {}: {e}", path.display());
        code = code.max(EXIT_FAILED);
    }
    code
}

/// Reads every input, reporting all problems; `None` when any is bad.
fn load(opts: &Options) -> Option<Inputs> {
    let mut bad = false;
    let mut scenarios = Vec::new();
    for path in &opts.scenarios {
        match Scenario::load(path) {
            Ok(s) => scenarios.push(s),
            Err(d) => {
                eprintln!("{d}");
                bad = true;
            }
        }
    }
    let file_checks = match &opts.checks {
        Some(path) => scenario::load_checks(path).unwrap_or_else(|d| {
            eprintln!("{d}");
            bad = true;
            Vec::new()
        }),
        None => Vec::new(),
    };
    let mut names: BTreeMap<&str, &str> = BTreeMap::new();
    for s in &scenarios {
        if let Some(prev) = names.insert(s.name(), &s.path) {
            eprintln!(
                "error: {prev} and {} are both scenario {:?}; they would share one baseline file",
                s.path,
                s.name()
            );
            bad = true;
        }
    }
    for c in &file_checks {
        if let Some(name) = &c.scenario
            && !names.contains_key(name.as_str())
        {
            let at = c.check.at.as_ref().map(|d| format!("{}:{}:{}: ", d.file, d.line, d.column)).unwrap_or_default();
            eprintln!(
                "warning: {at}check of {:?} is for scenario {name:?}, which is not being checked",
                c.check.metric
            );
        }
    }
    let mut baselines = Vec::new();
    for s in &scenarios {
        let path = baseline::path_for(&opts.baseline_dir, s.name());
        match baseline::read(&path) {
            Ok(Some(b)) if b.scenario != s.name() && !opts.update => {
                eprintln!(
                    "error: baseline {} is for scenario {:?}, not {:?}; rewrite it with --update",
                    path.display(),
                    b.scenario,
                    s.name()
                );
                bad = true;
            }
            Ok(b) => baselines.push(b),
            Err(e) if opts.update => {
                say!("replacing unreadable baseline {} ({})", path.display(), e.replace('\n', " "));
                baselines.push(None);
            }
            Err(e) => {
                eprintln!("{e}");
                bad = true;
            }
        }
    }
    if bad { None } else { Some(Inputs { scenarios, file_checks, baselines }) }
}

/// A JUnit suite for a scenario whose run failed.
fn run_failed(s: &Scenario, e: &str, totals: &mut Totals) -> Suite {
    eprintln!("error: scenario {:?} ({}): the run failed: {e}", s.name(), s.path);
    totals.run_failures += 1;
    Suite {
        name: s.name().to_string(),
        cases: vec![Case { name: "run".into(), outcome: Outcome::Error(e.to_string()), detail: String::new() }],
    }
}

/// Compares every run with its baseline and prints the tables.
fn check(opts: &Options, inputs: &Inputs, outcomes: &[Result<RunOutcome, String>]) -> (Vec<Suite>, Totals) {
    let mut totals = Totals { scenarios: inputs.scenarios.len(), ..Default::default() };
    let mut suites = Vec::new();
    for ((s, base), outcome) in inputs.scenarios.iter().zip(&inputs.baselines).zip(outcomes) {
        let summary = match outcome {
            Ok(o) => &o.summary,
            Err(e) => {
                suites.push(run_failed(s, e, &mut totals));
                continue;
            }
        };
        let path = baseline::path_for(&opts.baseline_dir, s.name());
        let checks = checks_for(s.name(), &s.checks, &inputs.file_checks);
        let cmp = compare(s.name(), &checks, base.as_ref(), &summary.metrics);
        say!("== {} ({}) vs {}", s.name(), s.path, path.display());
        if let Some(b) = base {
            if b.seed != summary.seed {
                say!("  note: the baseline was recorded with seed {}, this run used seed {}", b.seed, summary.seed);
            }
            if b.kubesim_version != summary.kubesim_version {
                say!(
                    "  note: the baseline was recorded by kubesim {}, this is {}",
                    b.kubesim_version,
                    summary.kubesim_version
                );
            }
        }
        say_part!("{}", report::table(&cmp));
        if base.is_none() {
            say!(
                "  no baseline {}: create it with `kubesim check {} --baseline {} --update`",
                path.display(),
                s.path,
                opts.baseline_dir.display()
            );
        }
        for e in &cmp.errors {
            eprintln!("{e}");
        }
        totals.add(&cmp);
        suites.push(suite(s.name(), &cmp, &path));
    }
    (suites, totals)
}

/// The JUnit suite of one comparison.
fn suite(name: &str, cmp: &Comparison, path: &Path) -> Suite {
    let mut cases: Vec<Case> = cmp
        .checked
        .iter()
        .map(|r| {
            let shown = |v: Option<f64>| v.map(number).unwrap_or_else(|| "-".into());
            let tolerance = r.tolerance.clone().unwrap_or_default();
            let detail = format!(
                "before {} after {} delta {} tolerance {} ({} is better): {}",
                shown(r.before),
                shown(r.after),
                report::delta(r.before, r.after),
                tolerance,
                r.better.unwrap_or("-"),
                r.verdict.as_str()
            );
            let outcome = match r.verdict {
                Verdict::Regressed => Outcome::Failure(format!(
                    "{} regressed from {} to {} ({}), beyond the tolerance {tolerance} ({} is better)",
                    r.metric,
                    shown(r.before),
                    shown(r.after),
                    report::delta(r.before, r.after),
                    r.better.unwrap_or("-")
                )),
                Verdict::MissingBaseline => {
                    Outcome::Failure(format!("no baseline {}; create it with kubesim check --update", path.display()))
                }
                _ => Outcome::Passed,
            };
            Case { name: r.metric.clone(), outcome, detail }
        })
        .collect();
    for e in &cmp.errors {
        cases.push(Case { name: "checks".into(), outcome: Outcome::Error(e.clone()), detail: String::new() });
    }
    Suite { name: name.to_string(), cases }
}

/// Writes the baselines of every run that succeeded and prints what changed.
fn update(opts: &Options, inputs: &Inputs, outcomes: &[Result<RunOutcome, String>]) -> (Vec<Suite>, Totals) {
    let mut totals = Totals { scenarios: inputs.scenarios.len(), updates: Some([0; 3]), ..Default::default() };
    let mut suites = Vec::new();
    for ((s, old), outcome) in inputs.scenarios.iter().zip(&inputs.baselines).zip(outcomes) {
        let summary = match outcome {
            Ok(o) => &o.summary,
            Err(e) => {
                suites.push(run_failed(s, e, &mut totals));
                continue;
            }
        };
        // Declared checks must still name real metrics, even though nothing is compared.
        let checks = checks_for(s.name(), &s.checks, &inputs.file_checks);
        let errors = compare(s.name(), &checks, None, &summary.metrics).errors;
        for e in &errors {
            eprintln!("{e}");
        }
        totals.errors += errors.len();
        let path = baseline::path_for(&opts.baseline_dir, s.name());
        let new = Baseline::from_summary(summary);
        let mut cases = Vec::new();
        match old {
            Some(old) if old.to_bytes() == new.to_bytes() => {
                totals.count_update(2);
                say!("unchanged {}", path.display());
            }
            _ => match baseline::write_atomic(&path, &new.to_bytes()) {
                Ok(()) => {
                    totals.count_update(usize::from(old.is_some()));
                    say_part!("{}", describe_update(&path, old.as_ref(), &new));
                }
                Err(e) => {
                    eprintln!("error: cannot write {}: {e}", path.display());
                    totals.run_failures += 1;
                    cases.push(Case {
                        name: "update".into(),
                        outcome: Outcome::Error(e.to_string()),
                        detail: String::new(),
                    });
                }
            },
        }
        if cases.is_empty() {
            cases.push(Case { name: "update".into(), outcome: Outcome::Passed, detail: String::new() });
        }
        for e in errors {
            cases.push(Case { name: "checks".into(), outcome: Outcome::Error(e), detail: String::new() });
        }
        suites.push(Suite { name: s.name().to_string(), cases });
    }
    (suites, totals)
}

/// `created X` or `updated X:` with one line per changed metric.
fn describe_update(path: &Path, old: Option<&Baseline>, new: &Baseline) -> String {
    let Some(old) = old else { return format!("created {} ({} metrics)\n", path.display(), new.metrics.len()) };
    let metrics = new.metrics.iter().map(|(k, v)| (k.clone(), serde_json::Value::Number(v.clone()))).collect();
    let cmp = compare(&new.scenario, &[], Some(old), &metrics);
    let mut text = format!("updated {}:", path.display());
    if old.seed != new.seed {
        text += &format!(" seed {} -> {};", old.seed, new.seed);
    }
    if old.kubesim_version != new.kubesim_version {
        text += &format!(" kubesim {} -> {};", old.kubesim_version, new.kubesim_version);
    }
    let n = cmp.changed.len();
    text += &format!(" {n} metric{} changed, {} added\n", if n == 1 { "" } else { "s" }, cmp.unrecorded.len());
    let shown = |v: Option<f64>| v.map(number).unwrap_or_else(|| "-".into());
    for r in &cmp.changed {
        text += &format!("  {}: {} -> {}\n", r.metric, shown(r.before), shown(r.after));
    }
    for m in &cmp.unrecorded {
        text += &format!("  {m}: added\n");
    }
    text
}
