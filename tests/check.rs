//! `kubesim check` end to end, through the built binary: the scenario library passes against the committed
//! baselines (this is how CI runs it: `cargo test --release` is `.ci/run`), a worse configuration fails naming the
//! regressed metric, `--update` round-trips, and bad check declarations and baselines are rejected with their
//! position and exit code 2. The tolerance arithmetic is tested as tables in `src/check/rule.rs`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const TINY: &str = "tests/fixtures/ok/tiny.toml";

fn kubesim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubesim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cannot start the kubesim binary")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// A fresh empty directory under the system temp dir, unique to this process and test; removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("kubesim-check-{}-{test}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        TempDir(dir)
    }

    fn file(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }

    fn write(&self, name: &str, contents: &str) -> String {
        let path = self.0.join(name);
        fs::write(&path, contents).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        path.display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// `scenarios/*.toml`, sorted as a shell would expand it.
fn library() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<String> = fs::read_dir(&dir)
        .expect("scenarios/")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".toml"))
        .map(|n| format!("scenarios/{n}"))
        .collect();
    files.sort();
    files
}

#[test]
fn the_scenario_library_matches_its_baselines() {
    let tmp = TempDir::new("library");
    let junit = tmp.file("junit.xml");
    let files = library();
    let mut args = vec!["check"];
    args.extend(files.iter().map(String::as_str));
    args.extend(["--baseline", "results/baselines", "--junit", &junit]);
    let out = kubesim(&args);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(text(&out).contains("check passed: "), "{}", text(&out));
    let xml = fs::read_to_string(&junit).expect("the JUnit file");
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites "), "{xml}");
    assert!(xml.ends_with("</testsuites>\n"), "{xml}");
    assert_eq!(xml.matches("<testsuite ").count(), files.len(), "{xml}");
    assert_eq!(xml.matches("<testsuite ").count(), xml.matches("</testsuite>").count());
    assert_eq!(xml.matches("<testcase ").count(), xml.matches("</testcase>").count());
    assert!(!xml.contains("<failure") && !xml.contains("<error"), "{xml}");
    assert!(xml.contains("failures=\"0\" errors=\"0\""), "{xml}");
    assert!(!tmp.0.read_dir().expect("tmp").any(|e| e.is_ok_and(|e| e.file_name() != "junit.xml")));
}

#[test]
fn a_worse_configuration_regresses() {
    let tmp = TempDir::new("worse");
    let original = fs::read_to_string("scenarios/binpack-vs-spread.toml").expect("binpack-vs-spread.toml");
    // The same scenario (same name, so the same baseline) with 7 instead of 10 nodes per group: more pods stay
    // Pending at the end.
    let worse = original.replace("\ncount = 10\n", "\ncount = 7\n");
    assert_ne!(worse, original);
    let path = tmp.write("binpack-vs-spread.toml", &worse);
    let junit = tmp.file("junit.xml");
    let out = kubesim(&["check", &path, "--baseline", "results/baselines", "--junit", &junit]);
    let t = text(&out);
    assert_eq!(code(&out), 1, "{t}");
    let row = t.lines().find(|l| l.contains("pods_pending_at_end")).unwrap_or_default();
    assert!(row.ends_with("REGRESSED"), "{t}");
    assert!(t.contains("check FAILED: 1 scenario") && t.contains(" REGRESSED,"), "{t}");
    let xml = fs::read_to_string(&junit).expect("the JUnit file");
    assert!(xml.contains("<failure message=\"pods_pending_at_end regressed from 1 to 5"), "{xml}");

    // The unchanged copy passes.
    let same = tmp.write("binpack-vs-spread.toml", &original);
    let out = kubesim(&["check", &same, "--baseline", "results/baselines"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
}

#[test]
fn a_worse_scheduling_profile_regresses() {
    // zone-outage scheduled by the `random` preset instead of the default profile: the evicted pods' replacements
    // land anywhere, fewer of them fit on the surviving zones, and pods wait about half as long again.
    let tmp = TempDir::new("worse-profile");
    let original = fs::read_to_string("scenarios/zone-outage.toml").expect("zone-outage.toml");
    assert!(!original.contains("[scheduler]"), "the test adds the scenario's only [scheduler] section");
    let worse =
        original.replacen("[[cluster.node_pools]]", "[scheduler]\npreset = \"random\"\n\n[[cluster.node_pools]]", 1);
    let path = tmp.write("zone-outage.toml", &worse);
    let out = kubesim(&["check", &path, "--baseline", "results/baselines"]);
    let t = text(&out);
    assert_eq!(code(&out), 1, "{t}");
    let row = t.lines().find(|l| l.trim_start().starts_with("pending_pod_seconds")).unwrap_or_default();
    assert!(row.ends_with("REGRESSED"), "{t}");
    // The unchanged scenario passes against the same baseline.
    let same = tmp.write("zone-outage-same.toml", &original);
    let out = kubesim(&["check", &same, "--baseline", "results/baselines"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
}

#[test]
fn update_round_trips() {
    let tmp = TempDir::new("update");
    let dir = tmp.file("baselines");
    let out = kubesim(&["check", TINY, "--baseline", &dir]);
    let t = text(&out);
    assert_eq!(code(&out), 1, "{t}");
    assert!(t.contains("missing baseline") && t.contains("--update"), "{t}");

    let out = kubesim(&["check", TINY, "--baseline", &dir, "--update"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(text(&out).contains("created "), "{}", text(&out));
    let written = fs::read_to_string(format!("{dir}/tiny.json")).expect("tiny.json");
    assert!(written.starts_with("{\n  \"scenario\": \"tiny\",\n  \"seed\": 3,\n") && written.ends_with("}\n"));

    let out = kubesim(&["check", TINY, "--baseline", &dir]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let out = kubesim(&["check", TINY, "--baseline", &dir, "--update"]);
    assert!(text(&out).contains("unchanged "), "{}", text(&out));
    assert_eq!(fs::read_to_string(format!("{dir}/tiny.json")).expect("tiny.json"), written);

    // A changed metric is reported by --update, and an unchecked change is only "changed" when checking.
    let edited = written.replace("\"api_requests\": ", "\"api_requests\": 1");
    fs::write(format!("{dir}/tiny.json"), &edited).expect("write");
    let out = kubesim(&["check", TINY, "--baseline", &dir]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(text(&out).lines().any(|l| l.contains("api_requests") && l.ends_with("changed")), "{}", text(&out));
    let out = kubesim(&["check", TINY, "--baseline", &dir, "--update"]);
    assert!(text(&out).contains("1 metric changed") && text(&out).contains("  api_requests: 1"), "{}", text(&out));
}

/// The tiny scenario with `extra` appended.
fn tiny_with(extra: &str) -> String {
    fs::read_to_string(TINY).expect("tiny.toml") + extra
}

#[test]
fn declared_checks_replace_the_defaults_and_check_files_override_them() {
    let tmp = TempDir::new("declared");
    let dir = tmp.file("b");
    let checks = "\n[[checks]]\nmetric = \"pods_scheduled\"\nbetter = \"higher\"\ntolerance = \"10%\"\n";
    let scenario = tmp.write("tiny.toml", &tiny_with(checks));
    assert_eq!(code(&kubesim(&["check", &scenario, "--baseline", &dir, "--update"])), 0);
    let out = kubesim(&["check", &scenario, "--baseline", &dir]);
    let t = text(&out);
    assert!(t.contains("pods_scheduled") && !t.contains("scheduling_latency_p99_s"), "{t}");
    // Lower the baseline's api_requests: a check file entry for this scenario that checks it with 0 tolerance
    // fails; one for another scenario does not apply.
    let path = format!("{dir}/tiny.json");
    let b = fs::read_to_string(&path).expect("tiny.json");
    let start = b.find("\"api_requests\": ").expect("api_requests") + "\"api_requests\": ".len();
    let end = start + b[start..].find(',').expect(",");
    let n: u64 = b[start..end].parse().expect("a count");
    fs::write(&path, format!("{}{}{}", &b[..start], n - 1, &b[end..])).expect("write");
    let file = |scenario: &str| {
        format!("[[checks]]\nscenario = \"{scenario}\"\nmetric = \"api_requests\"\nbetter = \"lower\"\ntolerance = 0\n")
    };
    let other = tmp.write("other.toml", &file("other"));
    let out = kubesim(&["check", &scenario, "--baseline", &dir, "--checks", &other]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(text(&out).contains("warning: ") && text(&out).contains("\"other\""), "{}", text(&out));
    let mine = tmp.write("mine.toml", &file("tiny"));
    let out = kubesim(&["check", &scenario, "--baseline", &dir, "--checks", &mine]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(text(&out).lines().any(|l| l.starts_with("  api_requests") && l.ends_with("REGRESSED")));
}

#[test]
fn bad_checks_point_at_the_problem() {
    let tmp = TempDir::new("bad");
    let dir = tmp.file("b");
    // Line 21 is the first line of the appended table (tiny.toml has 19 lines, the table starts after a blank).
    let cases: &[(&str, &str, &str)] = &[
        (
            "[[checks]]\nmetric = \"pods_scheduled\"\nbetter = \"higher\"\nmargin = 1\n",
            "unknown field `margin`",
            ":24:1",
        ),
        (
            "[[checks]]\nmetric = \"pods_scheduled\"\nbetter = \"up\"\n",
            "better must be \"lower\" or \"higher\"",
            ":23:10",
        ),
        (
            "[[checks]]\nmetric = \"pods_scheduled\"\nbetter = \"higher\"\ntolerance = -1\n",
            "must not be negative",
            ":24:13",
        ),
        (
            "[[checks]]\nmetric = \"pods_scheduled\"\nbetter = \"higher\"\ntolerance = \"-5%\"\n",
            "must not be negative",
            ":24:13",
        ),
        (
            "[[checks]]\nmetric = \"pods_scheduled\"\nbetter = \"higher\"\ntolerance = \"5 pods\"\n",
            "invalid tolerance",
            ":24:13",
        ),
        (
            "[[checks]]\nmetric = \"pods_scheduled\"\nbetter = \"higher\"\nscenario = \"tiny\"\n",
            "belongs in a --checks file",
            ":24:12",
        ),
        (
            "[[checks]]\nmetric = \"pods_schedulled\"\nbetter = \"higher\"\n",
            "did you mean \"pods_scheduled\"",
            ":22:10",
        ),
    ];
    for (extra, message, at) in cases {
        let scenario = tmp.write("tiny.toml", &tiny_with(&format!("\n{extra}")));
        let out = kubesim(&["check", &scenario, "--baseline", &dir, "--update"]);
        let t = text(&out);
        assert_eq!(code(&out), 2, "{extra}: {t}");
        assert!(t.contains(message) && t.contains(&format!("{scenario}{at}")), "{extra}: want {message} at {at}: {t}");
        assert!(!t.contains("panicked"), "{t}");
    }
    // The same in a --checks file.
    let checks = tmp.write("checks.toml", "[[checks]]\nmetric = \"x\"\nbetter = \"worse\"\n");
    let out = kubesim(&["check", TINY, "--baseline", &dir, "--checks", &checks]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(text(&out).contains(&format!("{checks}:3:10")), "{}", text(&out));
}

#[test]
fn bad_baselines_and_scenarios_are_bad_input() {
    let tmp = TempDir::new("input");
    let dir = tmp.file("b");
    fs::create_dir_all(&dir).expect("mkdir");
    let path = tmp.write("b/tiny.json", "{\n  \"scenario\": \"tiny\",\n  \"seed\": 3,\n  \"metrics\": {\"a\": }\n}\n");
    let out = kubesim(&["check", TINY, "--baseline", &dir]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(text(&out).contains("malformed baseline") && text(&out).contains(&format!("{path}:4:")), "{}", text(&out));
    let out = kubesim(&["check", "no/such.toml", "--baseline", &dir]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(text(&out).contains("no/such.toml"), "{}", text(&out));
    // Two files of the same scenario would share a baseline.
    let out = kubesim(&["check", TINY, TINY, "--baseline", &dir, "--update"]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    // --update replaces an unreadable baseline.
    let out = kubesim(&["check", TINY, "--baseline", &dir, "--update"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(code(&kubesim(&["check", TINY, "--baseline", &dir])), 0);
}
