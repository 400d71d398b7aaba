//! `kubesim sweep` and `kubesim merge` end to end: override errors point into the sweep file, output does not
//! depend on `--jobs`, shards merged equal one unsharded sweep byte for byte, and merge refuses incomplete or
//! mixed shard sets.

use kubesim::sweep;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SCENARIO: &str = r#"
[scenario]
name = "tiny-sweep"
duration = "3m"

[[cluster.node_pools]]
name = "pool"
count = 3
cpu = "4"
memory = "8Gi"

[[workloads.deployments]]
name = "web"
replicas = 8
template = { requests = { cpu = "1", memory = "1Gi" } }
"#;

const SWEEP: &str = r#"[sweep]
name = "tiny"
scenario = "base.toml"
seeds = 3

[[parameters]]
path = "cluster.node_pools.0.count"
name = "nodes"
values = [2, 3]

[[parameters]]
path = "scheduler.preset"
values = ["default", "binpack"]
"#;

/// A fresh directory holding the tiny scenario and a sweep file; removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str, sweep: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("kubesim-sweep-{}-{test}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("base.toml"), SCENARIO).unwrap();
        fs::write(dir.join("s.toml"), sweep).unwrap();
        TempDir(dir)
    }
    fn path(&self, p: &str) -> String {
        self.0.join(p).display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn kubesim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubesim")).args(args).output().expect("cannot start the kubesim binary")
}

fn ok(o: Output) -> Output {
    assert!(o.status.success(), "exit {:?}\n{}", o.status.code(), String::from_utf8_lossy(&o.stderr));
    o
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Every file under `dir`, relative path and bytes, sorted.
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                out.push((rel, fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn assert_same_tree(a: &Path, b: &Path) {
    let (ta, tb) = (tree(a), tree(b));
    let names = |t: &[(String, Vec<u8>)]| t.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&ta), names(&tb));
    for ((name, x), (_, y)) in ta.iter().zip(&tb) {
        assert!(x == y, "{name} differs between {} and {}", a.display(), b.display());
    }
}

#[test]
fn jobs_do_not_change_a_byte() {
    let t = TempDir::new("jobs", SWEEP);
    ok(kubesim(&["sweep", &t.path("s.toml"), "--jobs", "1", "--out", &t.path("j1"), "-q"]));
    ok(kubesim(&["sweep", &t.path("s.toml"), "--jobs", "2", "--out", &t.path("j2"), "-q"]));
    assert_same_tree(&t.0.join("j1"), &t.0.join("j2"));
    let files = tree(&t.0.join("j1"));
    assert!(files.iter().any(|(n, _)| n == "plots/cpu_allocation_mean.png"));
    assert!(files.iter().any(|(n, _)| n == "plots/cpu_allocation_mean.svg"));
    let runs = fs::read_to_string(t.0.join("j1/runs.csv")).unwrap();
    assert!(runs.starts_with("run,point,seed,nodes,preset,"), "{runs}");
    assert_eq!(runs.lines().count(), 1 + 4 * 3);
    assert!(runs.contains("\n0,\"nodes=2,preset=default\",1,2,default,"), "{runs}");
    let agg = fs::read_to_string(t.0.join("j1/aggregate.csv")).unwrap();
    assert!(agg.starts_with("point,nodes,preset,metric,n,mean,stdev,ci95,min,max\n"), "{agg}");
    // 2 nodes of 4 CPUs hold 8 one-CPU pods; 3 nodes hold them too: nothing pending at any point.
    assert!(agg.contains("\"nodes=2,preset=default\",2,default,pods_pending_at_end,3,0,0,0,0,0\n"), "{agg}");
}

#[test]
fn shards_merged_equal_one_unsharded_sweep() {
    let t = TempDir::new("shards", SWEEP);
    ok(kubesim(&["sweep", &t.path("s.toml"), "--out", &t.path("whole"), "-q"]));
    for i in 0..3 {
        ok(kubesim(&[
            "sweep",
            &t.path("s.toml"),
            "--shard",
            &format!("{i}/3"),
            "--out",
            &t.path(&format!("shard{i}")),
            "-q",
        ]));
    }
    let shard0 = fs::read_to_string(t.0.join("shard0/sweep.json")).unwrap();
    assert!(shard0.contains("\"shard\": {\n    \"index\": 0,\n    \"count\": 3\n  }"), "{shard0}");
    assert!(shard0.contains("\"runs\": 12"), "{shard0}");
    // Given in any order.
    ok(kubesim(&["merge", &t.path("shard2"), &t.path("shard0"), &t.path("shard1"), "--out", &t.path("merged"), "-q"]));
    assert_same_tree(&t.0.join("whole"), &t.0.join("merged"));
}

#[test]
fn merge_names_missing_and_duplicate_runs_and_foreign_shards() {
    let t = TempDir::new("merge-errors", SWEEP);
    for i in 0..2 {
        ok(kubesim(&[
            "sweep",
            &t.path("s.toml"),
            "--shard",
            &format!("{i}/2"),
            "--out",
            &t.path(&format!("s{i}")),
            "-q",
        ]));
    }
    let o = kubesim(&["merge", &t.path("s0"), "--out", &t.path("m")]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("6 of the sweep's 12 runs are missing (shard 1/2 not given?): 1 (nodes=2,preset=default, seed 2)"),
        "{e}"
    );
    assert!(!t.0.join("m").exists());

    let o = kubesim(&["merge", &t.path("s0"), &t.path("s1"), &t.path("s1"), "--out", &t.path("m")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("6 run(s) appear twice: run 1 (nodes=2,preset=default, seed 2) is in both"),
        "{}",
        stderr(&o)
    );

    let other = SWEEP.replace("seeds = 3", "seeds = [5, 6]");
    fs::write(t.0.join("other.toml"), other).unwrap();
    ok(kubesim(&["sweep", &t.path("other.toml"), "--shard", "1/2", "--out", &t.path("o1"), "-q"]));
    let o = kubesim(&["merge", &t.path("s0"), &t.path("o1"), "--out", &t.path("m")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("come from different sweeps: their sweep.json differ in `seeds` ([1,2,3] vs [5,6])"),
        "{}",
        stderr(&o)
    );

    let o = kubesim(&["merge", &t.path("nowhere"), "--out", &t.path("m")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("sweep.json"), "{}", stderr(&o));
}

/// Loads a sweep file written into a temp dir; returns the first diagnostic's (line, column, text).
fn load_error(test: &str, sweep_text: &str) -> (usize, usize, String) {
    let t = TempDir::new(test, sweep_text);
    match sweep::load(&t.0.join("s.toml")) {
        Ok(_) => panic!("{test}: expected an error"),
        Err(d) => (d.0[0].line, d.0[0].column, d.to_string()),
    }
}

#[test]
fn override_errors_point_into_the_sweep_file() {
    let base = "[sweep]\nscenario = \"base.toml\"\nseeds = 2\n[[parameters]]\n";
    // A path through a missing array element: at the path.
    let (l, c, e) = load_error("index", &format!("{base}path = \"cluster.node_pools.4.count\"\nvalues = [1]\n"));
    assert_eq!((l, c), (5, 8), "{e}");
    assert!(e.contains("index 4 is out of range: cluster.node_pools has 1 element"), "{e}");
    // A value of the wrong type: at the value, with the scenario's own error after it.
    let (l, c, e) =
        load_error("type", &format!("{base}path = \"cluster.node_pools.0.count\"\nvalues = [2, \"three\"]\n"));
    assert_eq!((l, c), (6, 14), "{e}");
    assert!(e.contains("count = three (cluster.node_pools.0.count) makes the scenario invalid: invalid type: string \"three\", expected"), "{e}");
    assert!(e.contains("base.toml [count=three]:"), "{e}");
    // A misspelt key: created, then rejected by the scenario compiler as an unknown field.
    let (l, c, e) = load_error("typo", &format!("{base}path = \"scheduler.presett\"\nvalues = [\"binpack\"]\n"));
    assert_eq!((l, c), (6, 11), "{e}");
    assert!(e.contains("unknown field `presett`"), "{e}");
    // A step into a scalar.
    let (l, _, e) = load_error("scalar", &format!("{base}path = \"scenario.name.x\"\nvalues = [1]\n"));
    assert_eq!(l, 5, "{e}");
    assert!(e.contains("scenario.name is the string \"tiny-sweep\""), "{e}");
    // Sweep file problems.
    let (l, _, e) = load_error("seeds", "[sweep]\nscenario = \"base.toml\"\nseeds = 0\n");
    assert!(l == 3 && e.contains("expected a count from 1"), "{e}");
    let (l, _, e) = load_error("missing-base", "[sweep]\nscenario = \"nope.toml\"\nseeds = 2\n");
    assert!(l == 2 && e.contains("cannot read the base scenario"), "{e}");
    let (l, _, e) = load_error("dup", &format!("{base}path = \"cluster.node_pools.0.count\"\nvalues = [2, 2]\n"));
    assert!(l == 6 && e.contains("appears twice"), "{e}");
    let (l, _, e) = load_error("unknown-key", "[sweep]\nscenario = \"base.toml\"\nseeds = 2\nseed = 3\n");
    assert!(l == 4 && e.contains("unknown field `seed`"), "{e}");
}

#[test]
fn points_cross_the_product_and_unknown_metrics_are_errors() {
    let text = r#"[sweep]
scenario = "base.toml"
seeds = [7, 9]
metrics = ["pods_pending_at_end", "no_such_metric"]

[[parameters]]
path = "cluster.node_pools.0.count"
name = "nodes"

[[parameters]]
path = "scheduler.preset"
values = ["default", "spread"]

[[points]]
name = "small"
set = { nodes = 2 }

[[points]]
set = { nodes = 4 }
"#;
    let t = TempDir::new("points", text);
    let (m, _) = sweep::load(&t.0.join("s.toml")).unwrap();
    let labels: Vec<&str> = m.points.iter().map(|p| p.label.as_str()).collect();
    assert_eq!(
        labels,
        ["small,preset=default", "small,preset=spread", "nodes=4,preset=default", "nodes=4,preset=spread"]
    );
    assert_eq!(m.seeds, [7, 9]);
    assert_eq!(m.run(3), (1, 9));
    let o = kubesim(&["sweep", &t.path("s.toml"), "--out", &t.path("out"), "-q"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no run reported a metric named \"no_such_metric\""), "{}", stderr(&o));
    assert!(stderr(&o).contains("s.toml:4:"), "{}", stderr(&o));
    assert!(!t.0.join("out").exists());
}

#[test]
fn the_example_sweeps_load() {
    for f in ["scenarios/sweeps/binpack-weights.toml", "scenarios/sweeps/batch-burst-presets.toml"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(f);
        let (m, _) = sweep::load(&path).unwrap_or_else(|d| panic!("{f}: {d}"));
        assert!(m.runs() >= 10, "{f}");
    }
}
