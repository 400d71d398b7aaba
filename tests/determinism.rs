//! Same scenario + seed + version = byte-identical outputs; another seed gives another run.

use kubesim::run::run_to_dir;
use kubesim::scenario::Scenario;
use std::fs;
use std::path::{Path, PathBuf};

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kubesim-determinism-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn outputs(dir: &Path) -> (Vec<u8>, Vec<u8>) {
    (fs::read(dir.join("events.csv")).expect("events.csv"), fs::read(dir.join("summary.json")).expect("summary.json"))
}

/// Every file under `dir` (recursively) by relative path, with its bytes.
fn all_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).expect("read_dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).expect("prefix").to_string_lossy().to_string();
                out.push((rel, fs::read(&p).expect("read")));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn same_seed_is_byte_identical_and_another_seed_differs() {
    let base = tmp("seeds");
    let scenario = Scenario::load(Path::new("scenarios/node-failure.toml")).expect("scenario");
    run_to_dir(&scenario, &base.join("a")).expect("run a");
    run_to_dir(&scenario, &base.join("b")).expect("run b");
    let other = scenario.clone().with_seed(7);
    run_to_dir(&other, &base.join("c")).expect("run c");
    let (a_events, a_summary) = outputs(&base.join("a"));
    let (b_events, b_summary) = outputs(&base.join("b"));
    let (c_events, c_summary) = outputs(&base.join("c"));
    assert!(a_events.len() > 100_000, "a real run: {} bytes of events", a_events.len());
    assert!(a_events == b_events, "events.csv differs between two runs of the same seed");
    let (a_all, b_all) = (all_files(&base.join("a")), all_files(&base.join("b")));
    let names: Vec<&str> = a_all.iter().map(|(n, _)| n.as_str()).collect();
    for f in ["events.csv", "summary.json", "timeseries.csv", "placements.csv", "pods.csv"] {
        assert!(names.contains(&f), "{f} missing from {names:?}");
    }
    assert_eq!(names, b_all.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>());
    for ((name, a), (_, b)) in a_all.iter().zip(&b_all) {
        assert!(a == b, "{name} differs between two runs of the same seed");
    }
    assert!(a_summary == b_summary, "summary.json differs between two runs of the same seed");
    assert!(a_events != c_events, "another seed must change the run");
    assert!(c_summary != a_summary);
    let _ = fs::remove_dir_all(&base);
}

#[test]
fn in_memory_and_file_runs_agree() {
    let scenario = Scenario::load(Path::new("scenarios/node-failure.toml")).expect("scenario");
    let dir = tmp("agree");
    let written = run_to_dir(&scenario, &dir.join("out")).expect("run");
    let memory = kubesim::run::run_in_memory(&scenario, None).expect("run");
    assert_eq!(written.summary, memory.summary);
    let csv = fs::read_to_string(dir.join("out/events.csv")).expect("events");
    assert_eq!(csv.lines().count() - 1, memory.events.len());
    let _ = fs::remove_dir_all(&dir);
}
