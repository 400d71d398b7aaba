//! The outputs of a fixed set of scenarios, digested and compared with a committed value
//! (`results/outputs.digest`): an optimisation must keep every output byte-identical, and any change of
//! behaviour shows up here as a deliberate edit of that file.
//!
//! After an intended change: `KUBESIM_UPDATE_DIGEST=1 cargo test --release --test digest`, then commit the file
//! with the change that explains it.

use kubesim::run::{RunOptions, run_to_dir_with};
use kubesim::scenario::Scenario;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

/// Scenarios covering the scheduler, controllers, faults and every data file.
const SCENARIOS: &[&str] = &["node-failure", "zone-outage", "binpack-vs-spread", "crashloop", "spot-interruptions"];
/// The data files (plots are left out: their bytes belong to the plotting library as much as to kubesim).
const FILES: &[&str] = &["summary.json", "events.csv", "timeseries.csv", "placements.csv", "pods.csv"];
const DIGEST_FILE: &str = "results/outputs.digest";

/// 64-bit FNV-1a: tiny, dependency-free and stable across platforms and Rust versions.
fn fnv1a(bytes: &[u8], mut h: u64) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn digests() -> String {
    let tmp = std::env::temp_dir().join(format!("kubesim-digest-{}", std::process::id()));
    let mut out = String::from("# FNV-1a 64 of each output file of each scenario (tests/digest.rs)\n");
    for name in SCENARIOS {
        let sc = Scenario::load(Path::new(&format!("scenarios/{name}.toml"))).expect("library scenario");
        let dir = tmp.join(name);
        run_to_dir_with(&sc, &dir, &RunOptions { explain: None, no_report: true }).expect("run");
        for f in FILES {
            let bytes = fs::read(dir.join(f)).unwrap_or_else(|e| panic!("{name}/{f}: {e}"));
            let _ = writeln!(out, "{name}/{f} {:016x} {}", fnv1a(&bytes, 0xcbf2_9ce4_8422_2325), bytes.len());
        }
    }
    let _ = fs::remove_dir_all(&tmp);
    out
}

#[test]
fn outputs_match_the_committed_digest() {
    let now = digests();
    if std::env::var_os("KUBESIM_UPDATE_DIGEST").is_some() {
        fs::write(DIGEST_FILE, &now).expect("write the digest file");
        return;
    }
    let committed = fs::read_to_string(DIGEST_FILE).unwrap_or_default();
    if committed != now {
        let changed: Vec<&str> = now
            .lines()
            .filter(|l| !committed.lines().any(|c| c == *l))
            .map(|l| l.split(' ').next().unwrap_or(l))
            .collect();
        panic!(
            "outputs changed: {changed:?}\nIf the change is intended, run `KUBESIM_UPDATE_DIGEST=1 cargo test --release \
             --test digest` and commit {DIGEST_FILE}.\nnow:\n{now}"
        );
    }
}

#[test]
fn fnv1a_reference_values() {
    // Published FNV-1a 64 test vectors.
    assert_eq!(fnv1a(b"", 0xcbf2_9ce4_8422_2325), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fnv1a(b"a", 0xcbf2_9ce4_8422_2325), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(fnv1a(b"foobar", 0xcbf2_9ce4_8422_2325), 0x8594_4171_f739_67e8);
}
