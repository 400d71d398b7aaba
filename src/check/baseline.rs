//! Baseline files: `<DIR>/<scenario name>.json`, the full metrics of a run, committed next to the code.
//!
//! The whole `metrics` map is kept (not only the checked metrics) so that adding a check later needs no
//! `--update`, and so that every other change can be reported. Bytes are deterministic (sorted keys, pretty
//! JSON, trailing newline) so that a baseline only shows up in a diff when a number changed; files are written
//! to a temporary name and renamed, so an interrupted update never leaves half a baseline.

use crate::run::Summary;
use serde::{Deserialize, Serialize};
use serde_json::Number;
use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    pub scenario: String,
    pub seed: u64,
    pub kubesim_version: String,
    /// A number per metric; anything else is rejected when reading, with its line.
    pub metrics: BTreeMap<String, Number>,
}

impl Baseline {
    /// The baseline a run's summary would write.
    pub fn from_summary(s: &Summary) -> Baseline {
        let metrics = s
            .metrics
            .iter()
            .filter_map(|(k, v)| match v {
                serde_json::Value::Number(n) => Some((k.clone(), n.clone())),
                _ => None,
            })
            .collect();
        Baseline { scenario: s.scenario.clone(), seed: s.seed, kubesim_version: s.kubesim_version.clone(), metrics }
    }

    /// The file's exact bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text.into_bytes()
    }
}

/// The baseline file of a scenario.
pub fn path_for(dir: &Path, scenario: &str) -> PathBuf {
    dir.join(format!("{scenario}.json"))
}

/// Reads a baseline: `Ok(None)` when the file does not exist; an error naming the file, line and column when it
/// is not a baseline.
pub fn read(path: &Path) -> Result<Option<Baseline>, String> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("error: cannot read baseline {}: {e}", path.display())),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| format!("error: malformed baseline: {e}\n  --> {}:{}:{}", path.display(), e.line(), e.column()))
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&dir)?;
    let leaf = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| "out".into());
    let tmp = dir.join(format!(".{leaf}.kubesim-tmp-{}", std::process::id()));
    let result = fs::write(&tmp, bytes).and_then(|()| fs::rename(&tmp, path));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_non_numbers_with_a_line() {
        let dir = std::env::temp_dir().join(format!("kubesim-baseline-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let path = path_for(&dir, "s");
        assert_eq!(read(&path), Ok(None));
        let mut metrics = BTreeMap::new();
        metrics.insert("b".to_string(), Number::from(3));
        metrics.insert("a".to_string(), Number::from_f64(0.25).unwrap_or(Number::from(0)));
        let b = Baseline { scenario: "s".into(), seed: 1, kubesim_version: "0".into(), metrics };
        write_atomic(&path, &b.to_bytes()).unwrap();
        assert_eq!(read(&path), Ok(Some(b.clone())));
        let text = String::from_utf8(b.to_bytes()).unwrap();
        assert!(text.find("\"a\"") < text.find("\"b\"") && text.ends_with("}\n"), "{text}");
        fs::write(
            &path,
            "{\n \"scenario\": \"s\", \"seed\": 1, \"kubesim_version\": \"0\",\n \"metrics\": {\"a\": \"x\"}}",
        )
        .unwrap();
        let err = read(&path).unwrap_err();
        assert!(err.contains(&format!("{}:3:", path.display())), "{err}");
        let _ = fs::remove_dir_all(&dir);
    }
}
