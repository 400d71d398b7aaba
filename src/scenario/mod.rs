//! Scenario files: parsing, validation and compilation into a runnable [`SimConfig`].
//!
//! Errors name the file, line and column and say what was expected (see [`diag`]). The format is documented in
//! the README ("Scenario reference") and in [`schema`].

mod compile;
pub mod diag;
pub mod limits;
pub mod schema;

pub use compile::{POOL_LABEL, validate_label};
pub use diag::{Diagnostic, Diagnostics};

use crate::check::{Check, ScopedCheck};
use crate::sim::SimConfig;
use std::path::Path;
use std::sync::Arc;

/// A scenario file: its path, text, and compiled configuration.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub path: String,
    pub description: Option<String>,
    pub config: SimConfig,
    /// Its `[[checks]]` for `kubesim check` (kept out of `config`: a run never depends on them).
    pub checks: Vec<Check>,
    /// An `[openb]` experiment instead of a simulation (then `config` holds only its name, seed and profile).
    pub openb: Option<Arc<crate::openb::experiment::Experiment>>,
}

/// Reads an input file within the size limit; `what` names it in messages ("scenario file").
fn read_input(path: &Path, what: &str) -> Result<String, Diagnostics> {
    let shown = path.display().to_string();
    let fail = |msg: String| Diagnostics(vec![Diagnostic::whole_file(&shown, msg)]);
    let meta = std::fs::metadata(path).map_err(|e| fail(format!("cannot read {what}: {e}")))?;
    if meta.is_dir() {
        return Err(fail(format!("is a directory, not a {what}")));
    }
    if meta.len() > limits::MAX_FILE_BYTES {
        return Err(fail(format!("{what} is {} bytes; the limit is {}", meta.len(), limits::MAX_FILE_BYTES)));
    }
    std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read {what}: {e}")))
}

/// Reads a `--checks` file of `kubesim check`: `[[checks]]` entries, each for the scenario it names or for all.
pub fn load_checks(path: &Path) -> Result<Vec<ScopedCheck>, Diagnostics> {
    let text = read_input(path, "check file")?;
    checks_from_str(&text, &path.display().to_string())
}

/// Compiles the text of a `--checks` file; `file` is the name used in error messages.
pub fn checks_from_str(text: &str, file: &str) -> Result<Vec<ScopedCheck>, Diagnostics> {
    let parsed: schema::ChecksFile = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        Diagnostics(vec![Diagnostic::at(file, text, span, toml_message(&e))])
    })?;
    let mut c = compile::Compiler::new(file, text);
    let checks = c.checks(&parsed.checks, compile::ChecksIn::ChecksFile);
    if c.errors.is_empty() { Ok(checks) } else { Err(Diagnostics(c.errors)) }
}

impl Scenario {
    /// Reads and compiles a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, Diagnostics> {
        let text = read_input(path, "scenario file")?;
        Scenario::from_str(&text, &path.display().to_string())
    }

    /// Compiles scenario text; `file` is the name used in error messages.
    #[allow(clippy::should_implement_trait)]
    pub fn from_str(text: &str, file: &str) -> Result<Scenario, Diagnostics> {
        Scenario::compile(text, file, None)
    }

    /// Compiles scenario text with an optional seed override.
    pub fn compile(text: &str, file: &str, seed: Option<u64>) -> Result<Scenario, Diagnostics> {
        let parsed: schema::File = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            Diagnostics(vec![Diagnostic::at(file, text, span, toml_message(&e))])
        })?;
        let mut c = compile::Compiler::new(file, text);
        let config = c.compile(&parsed, seed);
        let checks = c.checks(&parsed.checks, compile::ChecksIn::Scenario);
        match config {
            Some(config) if c.errors.is_empty() => Ok(Scenario {
                path: file.to_string(),
                description: parsed.scenario.get_ref().description.clone(),
                config,
                checks: checks.into_iter().map(|c| c.check).collect(),
                openb: c.openb.take(),
            }),
            _ => {
                let mut errors = c.errors;
                errors.sort_by_key(|d| (d.line, d.column));
                errors.dedup();
                Err(Diagnostics(errors))
            }
        }
    }

    /// The same scenario with another seed.
    pub fn with_seed(mut self, seed: u64) -> Scenario {
        self.config.seed = seed;
        self
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }
}

/// The TOML parser's message, on one line, with Rust type names replaced by what a user writes.
fn toml_message(e: &toml::de::Error) -> String {
    let mut msg = e.message().trim().replace('\n', " ");
    for (rust, human) in [
        ("expected i64", "expected an integer"),
        ("expected u64", "expected a non-negative integer"),
        ("expected u32", "expected a non-negative integer"),
        ("expected f64", "expected a number"),
        ("expected a boolean", "expected true or false"),
        ("expected a string", "expected a string (in quotes)"),
    ] {
        msg = msg.replace(rust, human);
    }
    if msg.starts_with("missing field `cluster`") {
        return "missing table [cluster]: a scenario needs at least one [[cluster.node_pools]]".into();
    }
    if msg.starts_with("missing field `scenario`") {
        return "missing table [scenario]: a scenario needs [scenario] with `name` and `duration`".into();
    }
    if msg.starts_with("missing field") {
        msg.push_str(" (required here)");
    }
    msg
}
