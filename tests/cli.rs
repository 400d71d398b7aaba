//! End-to-end tests of the `kubesim` binary against the "bad input" standard.
//!
//! Every bad input must be rejected with exit code 2 and, on stderr, `error: <what was expected>` followed by
//! `  --> file:line:column` (exact, computed by hand from the fixture), no panic, nothing on stdout, and no output
//! left behind: no `--out` directory and no hidden `.<leaf>.kubesim-tmp-<pid>` next to it. `kubesim validate`
//! must report exactly what `kubesim run` reports. Fixtures live in `tests/fixtures/{bad,ok}/`, each with a header
//! comment saying what it exercises; `tests/fixtures/bad/regressions/` holds reproductions of open bugs, used by
//! the `#[ignore]`d tests at the end (run them with `cargo test --release --test cli -- --ignored`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BAD: &str = "tests/fixtures/bad";
const TINY: &str = "tests/fixtures/ok/tiny.toml";

/// Runs the built binary from the package root, so fixture paths (and the paths in its messages) are relative.
fn kubesim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubesim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cannot start the kubesim binary")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A fresh empty directory under the system temp dir, unique to this process and test; removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("kubesim-cli-{}-{test}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        TempDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    /// Where the tests point `--out`.
    fn out(&self) -> PathBuf {
        self.0.join("out")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

/// The names in `dir`, hidden ones included, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A failed run left nothing behind: no `out`, and nothing else (e.g. `.out.kubesim-tmp-<pid>`) next to it.
fn assert_no_leftovers(tmp: &TempDir) {
    assert!(!tmp.out().exists(), "{} exists after a failed run", tmp.out().display());
    assert_eq!(entries(tmp.path()), Vec::<String>::new(), "leftovers in {} after a failed run", tmp.path().display());
}

fn assert_no_panic(o: &Output) {
    let err = stderr(o);
    assert!(!err.contains("panicked"), "kubesim panicked:\n{err}");
}

/// The `file[:line:column]` of every `  --> ` line, in order.
fn positions(stderr: &str) -> Vec<&str> {
    stderr.lines().filter_map(|l| l.strip_prefix("  --> ")).collect()
}

/// The 1-based column and width of the first caret run (`^^^`) in the snippet under an error.
fn caret(stderr: &str) -> (usize, usize) {
    let line = stderr.lines().find(|l| l.contains('^')).unwrap_or_else(|| panic!("no caret in:\n{stderr}"));
    let (_, marks) = line.split_once("| ").unwrap_or_else(|| panic!("no gutter in caret line {line:?}"));
    let column = marks.chars().take_while(|&c| c != '^').count() + 1;
    let width = marks.chars().skip(column - 1).take_while(|&c| c == '^').count();
    (column, width)
}

/// Asserts that `kubesim run <fixture> --out <tmp>/out` rejects the fixture as bad input: exit 2, exactly one
/// `error:` per expected position, the `-->` lines are exactly `at` in that order, stderr contains every phrase in
/// `says`, nothing on stdout, no panic, no output left. `kubesim validate <fixture>` must say the same, also with
/// exit 2. Returns stderr.
fn assert_bad_input(test: &str, fixture: &str, at: &[&str], says: &[&str]) -> String {
    let tmp = TempDir::new(test);
    let out = tmp.out();
    let run = kubesim(&["run", fixture, "--out", path_str(&out)]);
    let err = stderr(&run);
    assert_no_panic(&run);
    assert_eq!(run.status.code(), Some(2), "`kubesim run {fixture}` must exit 2 (bad input); stderr:\n{err}");
    assert_eq!(positions(&err), at, "positions reported for {fixture}; stderr:\n{err}");
    let errors = err.lines().filter(|l| l.starts_with("error: ")).count();
    assert_eq!(errors, at.len(), "number of `error:` lines for {fixture}; stderr:\n{err}");
    for phrase in says {
        assert!(err.contains(phrase), "stderr for {fixture} should say {phrase:?}:\n{err}");
    }
    assert_eq!(stdout(&run), "", "nothing on stdout when the input is bad");
    assert_no_leftovers(&tmp);

    let check = kubesim(&["validate", fixture]);
    assert_no_panic(&check);
    assert_eq!(check.status.code(), Some(2), "`kubesim validate {fixture}` must exit 2; stderr:\n{}", stderr(&check));
    assert_eq!(stderr(&check), err, "`validate` and `run` must report the same errors for {fixture}");
    assert_eq!(stdout(&check), "", "`validate` prints nothing on stdout for a bad file");
    err
}

// ----- 1. TOML syntax -----

#[test]
fn syntax_error_unclosed_string() {
    // Line 6 is `description = "never closed`: 27 characters, so the missing quote is at column 28.
    assert_bad_input(
        "syntax_unclosed_string",
        "tests/fixtures/bad/syntax_unclosed_string.toml",
        &["tests/fixtures/bad/syntax_unclosed_string.toml:6:28"],
        &["expected `\"`"],
    );
}

#[test]
fn syntax_error_double_equals() {
    // `count = = 3`: the second `=` is column 9.
    let err = assert_bad_input(
        "syntax_double_equals",
        "tests/fixtures/bad/syntax_double_equals.toml",
        &["tests/fixtures/bad/syntax_double_equals.toml:10:9"],
        &["extra `=`"],
    );
    assert!(err.contains("10 | count = = 3"), "the offending line is shown:\n{err}");
    assert_eq!(caret(&err), (9, 1));
}

// ----- 2. Unknown key -----

#[test]
fn unknown_key_names_it_and_lists_the_expected_ones() {
    let err = assert_bad_input(
        "unknown_key",
        "tests/fixtures/bad/unknown_key.toml",
        &["tests/fixtures/bad/unknown_key.toml:11:1"],
        &["unknown field `cpus`", "expected one of", "`cpu`", "`memory`", "`count`"],
    );
    assert_eq!(caret(&err), (1, 4), "the caret covers `cpus`:\n{err}");
}

// ----- 3. Quantities -----

#[test]
fn bad_memory_quantity_points_at_the_suffix() {
    // `memory = "1Gb"`: the quote is column 10, "1" column 11, the bad suffix "Gb" starts at column 12.
    let err = assert_bad_input(
        "bad_memory_quantity",
        "tests/fixtures/bad/bad_memory_quantity.toml",
        &["tests/fixtures/bad/bad_memory_quantity.toml:12:12"],
        &["invalid quantity \"1Gb\"", "unknown suffix \"Gb\"", "expected one of", "Gi"],
    );
    assert!(err.contains("12 | memory = \"1Gb\""), "the offending line is shown:\n{err}");
    assert_eq!(caret(&err), (12, 2), "the caret covers exactly \"Gb\":\n{err}");
}

#[test]
fn bad_cpu_quantity_points_inside_the_string() {
    // `cpu = "abc"`: the quote is column 7, the first bad character column 8.
    let err = assert_bad_input(
        "bad_cpu_quantity",
        "tests/fixtures/bad/bad_cpu_quantity.toml",
        &["tests/fixtures/bad/bad_cpu_quantity.toml:11:8"],
        &["invalid quantity \"abc\"", "expected a number"],
    );
    assert_eq!(caret(&err), (8, 3), "the caret covers exactly abc:\n{err}");
}

// ----- 4. Durations -----

#[test]
fn bad_duration_points_where_it_goes_wrong() {
    // `duration = "10 minutes"`: the quote is column 12, "10" columns 13-14, the space column 15.
    let err = assert_bad_input(
        "bad_duration",
        "tests/fixtures/bad/bad_duration.toml",
        &["tests/fixtures/bad/bad_duration.toml:6:15"],
        &["invalid duration \"10 minutes\"", "expected a duration such as", "\"10m\""],
    );
    assert_eq!(caret(&err), (15, 8), "the caret covers \" minutes\":\n{err}");
}

// ----- 5. Files that cannot be read -----

#[test]
fn missing_file_is_named_without_a_position() {
    let missing = "tests/fixtures/bad/does-not-exist.toml";
    assert!(!Path::new(env!("CARGO_MANIFEST_DIR")).join(missing).exists());
    // The `-->` line is exactly the path: no line or column.
    assert_bad_input("missing_file", missing, &[missing], &["cannot read scenario file", "does-not-exist.toml"]);
}

#[test]
fn directory_instead_of_file_is_rejected() {
    assert_bad_input("directory", BAD, &[BAD], &["is a directory, not a scenario file"]);
}

// ----- 6. Semantic errors and hard limits -----

#[test]
fn unknown_fault_target_node() {
    // `nodes = ["pool-3"]`: the string starts at column 10.
    assert_bad_input(
        "unknown_fault_node",
        "tests/fixtures/bad/unknown_fault_node.toml",
        &["tests/fixtures/bad/unknown_fault_node.toml:17:10"],
        &["no node is named \"pool-3\""],
    );
}

#[test]
fn unknown_taint_effect() {
    // `effect = "Noschedule"`: the string starts at column 10.
    assert_bad_input(
        "unknown_taint_effect",
        "tests/fixtures/bad/unknown_taint_effect.toml",
        &["tests/fixtures/bad/unknown_taint_effect.toml:17:10"],
        &["unknown taint effect \"Noschedule\"", "expected \"NoSchedule\", \"PreferNoSchedule\" or \"NoExecute\""],
    );
}

#[test]
fn scheduler_profile_and_constraint_mistakes_are_all_reported() {
    // preset = "bin-pack" (col 10); disable = ["ImageLocalty"] (the string at col 12); operator = "Is" (col 86);
    // the spread constraint's inline table (col 29).
    assert_bad_input(
        "scheduler_profiles",
        "tests/fixtures/bad/scheduler_profiles.toml",
        &[
            "tests/fixtures/bad/scheduler_profiles.toml:11:10",
            "tests/fixtures/bad/scheduler_profiles.toml:12:12",
            "tests/fixtures/bad/scheduler_profiles.toml:24:86",
            "tests/fixtures/bad/scheduler_profiles.toml:25:29",
        ],
        &[
            "unknown preset \"bin-pack\"; expected one of: default, binpack, random, first-fit, best-fit, spread",
            "plugin \"ImageLocalty\" is not enabled here",
            "unknown operator \"Is\"",
            "needs when_unsatisfiable",
        ],
    );
}

#[test]
fn job_without_run() {
    // `template = { ... }`: the inline table starts at column 12.
    assert_bad_input(
        "job_without_run",
        "tests/fixtures/bad/job_without_run.toml",
        &["tests/fixtures/bad/job_without_run.toml:17:12"],
        &["Job templates need `run`", "run = { dist = \"fixed\", value = \"5m\" }"],
    );
}

#[test]
fn negative_replicas() {
    assert_bad_input(
        "negative_replicas",
        "tests/fixtures/bad/negative_replicas.toml",
        &["tests/fixtures/bad/negative_replicas.toml:16:12"],
        &["replicas must be between 0 and 1000000, got -1"],
    );
}

#[test]
fn node_pool_beyond_the_hard_limit() {
    assert_bad_input(
        "too_many_nodes",
        "tests/fixtures/bad/too_many_nodes.toml",
        &["tests/fixtures/bad/too_many_nodes.toml:10:9"],
        &["count must be between 0 and 100000, got 200000"],
    );
}

#[test]
fn cluster_beyond_the_hard_limit_in_total() {
    // Each pool is allowed; the second one's `count` is where the total goes over.
    assert_bad_input(
        "too_many_nodes_total",
        "tests/fixtures/bad/too_many_nodes_total.toml",
        &["tests/fixtures/bad/too_many_nodes_total.toml:16:9"],
        &["the cluster would have 120000 nodes; the limit is 100000"],
    );
}

// ----- 7. Several errors at once -----

#[test]
fn several_errors_are_all_reported_in_file_order() {
    let file = "tests/fixtures/bad/several_errors.toml";
    let err = assert_bad_input(
        "several_errors",
        file,
        &[
            // nodes = ["pool-7"]
            "tests/fixtures/bad/several_errors.toml:12:10",
            // replicas = -3
            "tests/fixtures/bad/several_errors.toml:16:12",
            // memory = "8GB": at "GB"
            "tests/fixtures/bad/several_errors.toml:23:12",
            // taints = [{ key = "dedicated", effect = "NoSchedul" }]: at "NoSchedul"
            "tests/fixtures/bad/several_errors.toml:24:41",
        ],
        &["no node is named \"pool-7\"", "got -3", "unknown suffix \"GB\"", "unknown taint effect \"NoSchedul\""],
    );
    let messages: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert!(messages[0].contains("pool-7"), "first error is the fault (line 12):\n{err}");
    assert!(messages[1].contains("replicas"), "second error is the Deployment (line 16):\n{err}");
    assert!(messages[2].contains("8GB"), "third error is the memory (line 23):\n{err}");
    assert!(messages[3].contains("taint"), "fourth error is the taint (line 24):\n{err}");
    assert!(err.trim_end().ends_with("4 errors"), "a total closes the report:\n{err}");
}

// ----- 8. validate -----

#[test]
fn validate_accepts_every_shipped_scenario() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<String> = fs::read_dir(root.join("scenarios"))
        .expect("scenarios/ exists")
        .map(|e| e.expect("directory entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".toml"))
        .map(|name| format!("scenarios/{name}"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no scenarios/*.toml found");
    for file in &files {
        let o = kubesim(&["validate", file]);
        assert_no_panic(&o);
        assert_eq!(o.status.code(), Some(0), "`kubesim validate {file}` failed:\n{}", stderr(&o));
        assert!(stdout(&o).starts_with(&format!("{file}: ok")), "expected `{file}: ok`, got:\n{}", stdout(&o));
        assert_eq!(stderr(&o), "", "nothing on stderr for a valid file");
    }
    let mut all: Vec<&str> = vec!["validate"];
    all.extend(files.iter().map(String::as_str));
    let o = kubesim(&all);
    assert_eq!(o.status.code(), Some(0), "validating all scenarios at once failed:\n{}", stderr(&o));
    assert_eq!(stdout(&o).lines().filter(|l| l.contains(": ok")).count(), files.len());
}

#[test]
fn validate_fails_on_a_bad_file_but_still_checks_the_others() {
    let bad = "tests/fixtures/bad/unknown_key.toml";
    let o = kubesim(&["validate", TINY, bad, "scenarios/node-failure.toml"]);
    let (out, err) = (stdout(&o), stderr(&o));
    assert_no_panic(&o);
    assert_eq!(o.status.code(), Some(2), "one bad file makes validate exit 2:\n{err}");
    assert!(out.contains(&format!("{TINY}: ok")), "the good files are still reported ok:\n{out}");
    assert!(out.contains("scenarios/node-failure.toml: ok"), "the good files are still reported ok:\n{out}");
    assert_eq!(positions(&err), [format!("{bad}:11:1")], "only the bad file is reported:\n{err}");
}

#[test]
fn every_bad_fixture_is_rejected_cleanly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(BAD);
    let mut checked = 0;
    for entry in fs::read_dir(&dir).expect("tests/fixtures/bad exists") {
        let name = entry.expect("directory entry").file_name().to_string_lossy().into_owned();
        if !name.ends_with(".toml") {
            continue; // known-bugs/ has its own (ignored) tests
        }
        let file = format!("{BAD}/{name}");
        let o = kubesim(&["validate", &file]);
        let err = stderr(&o);
        assert_no_panic(&o);
        assert_eq!(o.status.code(), Some(2), "`kubesim validate {file}` must exit 2:\n{err}");
        assert!(err.starts_with("error: "), "{file}: stderr starts with `error: `:\n{err}");
        assert!(err.contains(&format!("  --> {file}:")), "{file}: the error has a position:\n{err}");
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} bad fixtures found");
}

#[test]
fn usage_errors_exit_2_without_output() {
    let tmp = TempDir::new("usage_errors");
    let out = tmp.out();
    for args in [
        vec!["run"],
        vec!["validate"],
        vec!["run", TINY, "--seed", "-1", "--out", path_str(&out)],
        vec!["run", TINY, "--seed", "seven", "--out", path_str(&out)],
        vec!["run", TINY, "--no-such-flag", "--out", path_str(&out)],
    ] {
        let o = kubesim(&args);
        assert_no_panic(&o);
        assert_eq!(o.status.code(), Some(2), "`kubesim {}` must exit 2:\n{}", args.join(" "), stderr(&o));
        assert!(stderr(&o).starts_with("error: "), "`kubesim {}` says what is wrong:\n{}", args.join(" "), stderr(&o));
        assert_no_leftovers(&tmp);
    }
}

// ----- 9. A successful run -----

#[test]
fn run_writes_results_and_a_rerun_replaces_them() {
    let tmp = TempDir::new("run_tiny");
    let out = tmp.out();
    let read = |name: &str| fs::read_to_string(out.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let expect_results = || {
        assert_eq!(entries(tmp.path()), ["out"], "only the result directory, no hidden temp dir");
        assert_eq!(
            entries(&out),
            ["events.csv", "placements.csv", "plots", "pods.csv", "report.html", "summary.json", "timeseries.csv"]
        );
    };

    let first = kubesim(&["run", TINY, "--out", path_str(&out), "--seed", "7"]);
    assert_no_panic(&first);
    assert_eq!(first.status.code(), Some(0), "run failed:\n{}", stderr(&first));
    assert_eq!(stderr(&first), "", "nothing on stderr for a successful run");
    assert!(stdout(&first).contains("tiny (seed 7)"), "the report names the scenario and seed:\n{}", stdout(&first));
    assert!(stdout(&first).contains(path_str(&out)), "the report names the output directory:\n{}", stdout(&first));
    expect_results();
    let summary = read("summary.json");
    assert!(summary.contains("\"seed\": 7"), "--seed 7 is recorded:\n{summary}");
    let json: serde_json::Value = serde_json::from_str(&summary).expect("summary.json is JSON");
    assert_eq!(json["seed"], 7);
    assert_eq!(json["scenario"], "tiny");
    let events = read("events.csv");
    assert!(events.starts_with("time_s,"), "events.csv has its header:\n{events}");
    assert!(events.lines().count() > 1, "events.csv has events");

    // Same --out again, with the scenario's own seed (3): replaced cleanly, still exactly the two files.
    let second = kubesim(&["run", TINY, "--out", path_str(&out), "--quiet"]);
    assert_no_panic(&second);
    assert_eq!(second.status.code(), Some(0), "second run failed:\n{}", stderr(&second));
    assert_eq!(stdout(&second), "", "--quiet prints nothing");
    expect_results();
    assert!(read("summary.json").contains("\"seed\": 3"), "the second run replaced the first");

    // And --seed 7 again reproduces the first run byte for byte.
    let third = kubesim(&["run", TINY, "--out", path_str(&out), "--seed", "7", "-q"]);
    assert_eq!(third.status.code(), Some(0), "third run failed:\n{}", stderr(&third));
    expect_results();
    assert_eq!(read("summary.json"), summary, "same scenario and seed, same summary.json");
    assert_eq!(read("events.csv"), events, "same scenario and seed, same events.csv");
}

// ----- 10. Output that cannot be written -----

#[test]
fn run_fails_cleanly_when_the_output_directory_cannot_be_created() {
    let tmp = TempDir::new("out_under_file");
    let file = tmp.path().join("file.txt");
    fs::write(&file, "not a directory\n").expect("write file.txt");
    let out = file.join("out");
    let o = kubesim(&["run", TINY, "--out", path_str(&out)]);
    let err = stderr(&o);
    assert_no_panic(&o);
    assert_eq!(o.status.code(), Some(1), "a write failure exits 1:\n{err}");
    assert!(err.starts_with("error: "), "stderr starts with `error: `:\n{err}");
    assert!(err.contains(path_str(&file)), "the message names the path:\n{err}");
    assert_eq!(stdout(&o), "", "no report when the run failed");
    assert_eq!(entries(tmp.path()), ["file.txt"], "nothing else was created");
    assert_eq!(fs::read_to_string(&file).expect("read file.txt"), "not a directory\n", "file.txt is untouched");
}

// ----- Regressions: bugs found while writing these tests, now fixed -----

#[test]
fn regression_escape_before_multibyte_char_does_not_panic() {
    let file = "tests/fixtures/bad/regressions/escaped_multibyte_quantity.toml";
    let o = kubesim(&["validate", file]);
    let err = stderr(&o);
    assert_no_panic(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("invalid quantity"), "{err}");
    assert!(err.contains(&format!("  --> {file}:15:")), "points at the `memory` line:\n{err}");
}

#[test]
fn regression_literal_string_column() {
    assert_bad_input(
        "literal_string_caret",
        "tests/fixtures/bad/regressions/literal_string_caret.toml",
        &["tests/fixtures/bad/regressions/literal_string_caret.toml:13:14"],
        &["unknown suffix \"Gb\""],
    );
}

#[test]
fn regression_invalid_duration_does_not_cascade() {
    assert_bad_input(
        "invalid_duration_cascade",
        "tests/fixtures/bad/regressions/invalid_duration_cascade.toml",
        &["tests/fixtures/bad/regressions/invalid_duration_cascade.toml:7:14"],
        &["invalid duration \"5 m\""],
    );
}

#[test]
fn regression_out_naming_a_regular_file_is_refused() {
    let tmp = TempDir::new("out_is_file");
    let file = tmp.path().join("file.txt");
    fs::write(&file, "precious\n").expect("write file.txt");
    let o = kubesim(&["run", TINY, "--out", path_str(&file), "-q"]);
    assert_no_panic(&o);
    assert_eq!(o.status.code(), Some(1), "refuses to replace a regular file:\n{}", stderr(&o));
    assert_eq!(entries(tmp.path()), ["file.txt"], "no hidden leftovers");
    assert_eq!(fs::read_to_string(&file).expect("file.txt is still a file"), "precious\n");
}

#[test]
fn out_directory_with_foreign_files_is_refused() {
    let tmp = TempDir::new("out_foreign");
    let out = tmp.path().join("out");
    fs::create_dir(&out).expect("mkdir out");
    fs::write(out.join("notes.txt"), "mine\n").expect("write notes.txt");
    let o = kubesim(&["run", TINY, "--out", path_str(&out), "-q"]);
    let err = stderr(&o);
    assert_no_panic(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("notes.txt") && err.contains("refusing to replace"), "{err}");
    assert_eq!(entries(&out), ["notes.txt"], "the user's directory is untouched");
    assert_eq!(entries(tmp.path()), ["out"], "no hidden leftovers");
}

#[test]
fn times_after_the_end_of_the_run_say_so() {
    let o = kubesim(&["validate", "tests/fixtures/bad/regressions/at_after_end.toml"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("at \"10m\" is after the end of the run (duration \"5m\")"), "{err}");
}

#[test]
fn a_closed_stdout_pipe_is_not_a_panic() {
    // `kubesim validate ... | head -1`: the reader goes away; kubesim must not panic on the broken pipe.
    let files: Vec<String> = fs::read_dir("scenarios")
        .expect("scenarios")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| p.display().to_string())
        .collect();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kubesim"))
        .arg("validate")
        .args(&files)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bench_prints_a_scaling_table() {
    let out = kubesim(&["bench", "--nodes", "3,6", "--pods", "20", "--duration", "60s"]);
    assert_no_panic(&out);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.starts_with("| nodes | pods | events | wall (s) |"), "{table}");
    assert_eq!(table.lines().count(), 4, "header, rule and two sizes:\n{table}");
    let bad = kubesim(&["bench", "--nodes", "ten"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("\"ten\" is not a size"), "{}", stderr(&bad));
}

#[test]
fn reruns_replace_the_outputs_of_trace_replays_and_openb_experiments() {
    // Every file a run can write must be recognised as kubesim's, or the next run into the same directory
    // refuses: queueing_delay.csv (job traces) and the openb files once were not.
    for (scenario, extra) in [
        ("scenarios/alibaba-2017-batch-excerpt.toml", "queueing_delay.csv"),
        ("scenarios/openb-default.toml", "openb_curve.csv"),
    ] {
        let tmp = TempDir::new("rerun_outputs");
        let out = tmp.out();
        for round in 0..2 {
            let o = kubesim(&["run", scenario, "--out", path_str(&out), "--quiet", "--no-report"]);
            assert_no_panic(&o);
            assert_eq!(o.status.code(), Some(0), "{scenario}, run {round}:\n{}", stderr(&o));
            assert!(entries(&out).iter().any(|e| e == extra), "{scenario} wrote {extra}: {:?}", entries(&out));
        }
    }
}
